//! The database's timeouts on PostgreSQL, end to end. First the audit lock's failure path: two
//! real `vouch-server` instances on a database whose sessions have a `lock_timeout`, while the
//! test's own session holds the audit lock (`LOCK TABLE vouch_audit_lock IN EXCLUSIVE MODE` in
//! an open transaction, as the server takes it). Audit-writing requests (a record sync, an
//! approval, an enrollment) answer `503 busy` and write nothing; the transactions whose lock
//! failed are rolled back, so no server session is left inside a transaction or holding the
//! lock; once the lock is free the same requests succeed without a restart, concurrent audit
//! writers go through, and the audit chain verifies. Then the same with a `statement_timeout`
//! while the test holds the store's table.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::time::Duration;

use common::pg::*;
use common::*;
use serde_json::Value;
use vouch_protocol::SignedScanRecord;
use vouch_testkit::PgCluster;

/// Every stored value as one digest: the same before and after, nothing was written.
const STORED: &str = "SELECT md5(string_agg(bucket || encode(key, 'hex') || encode(value, 'hex'), \
     ',' ORDER BY bucket, key)) FROM vouch_kv";

/// The other sessions on the database that hold or wait for the audit lock or sit inside a
/// transaction, but for the session with the pid given as `{holder}`.
const HOLDING: &str = "SELECT a.pid || ' ' || a.state FROM pg_stat_activity a \
     WHERE a.datname = current_database() AND a.pid NOT IN (pg_backend_pid(), {holder}) \
     AND (a.state LIKE 'idle in transaction%' OR EXISTS \
       (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid \
          AND l.relation = 'vouch_audit_lock'::regclass))";

/// Waits until no session but `holder` holds the audit lock or an open transaction: a request
/// that was refused may take a moment to roll back; a transaction left open never ends.
async fn no_session_holds_anything(url: &str, holder: i32) {
    let query = HOLDING.replace("{holder}", &holder.to_string());
    let mut holding = String::new();
    for _ in 0..100 {
        holding = sql(url, &query);
        if holding.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("server sessions still hold the lock or a transaction: {holding}");
}

/// A new database whose sessions get `setting` (`name = 'value'`), as an operator would set it
/// with `ALTER DATABASE`.
fn database_with(setting: &str) -> String {
    let url = PgCluster::shared().create_database();
    let name = sql(&url, "SELECT current_database()");
    sql(&url, &format!("ALTER DATABASE {name} SET {setting}"));
    url
}

/// The test's own session on `url`, inside a transaction that `lock` opened and keeps open,
/// and its backend pid.
async fn hold(url: &str, lock: &str) -> (tokio_postgres::Client, i32) {
    let (holder, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    holder.batch_execute(lock).await.unwrap();
    let pid: i32 = holder
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    (holder, pid)
}

/// A decision on `serial`, sent again while it answers `503 busy` (as the app does).
async fn approve(sup: &Staff, at: &Server, serial: &str) -> (u16, Value) {
    for _ in 0..50 {
        let (status, body) = sup.approve(at, serial).await;
        if assert_ok_or_busy(status, &body) {
            return (status, body);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{serial} was answered busy 50 times");
}

/// Two instances on a database whose sessions get `setting`, a technician at A and a
/// supervisor at B, and two scanned devices: `enrolling` (`{prefix}-E`, approved) and
/// `deciding` (`{prefix}-D`, waiting for a decision); the devices in `also` are scanned too.
struct Scene {
    url: String,
    pair: Pair,
    tech: Staff,
    sup: Staff,
    enrolling: Device,
    deciding: Device,
}

impl Scene {
    async fn set_up(setting: &str, prefix: &str, also: &[Device]) -> Scene {
        let url = database_with(setting);
        let pair = Pair::on_database(url.clone());
        let mut tech = register(&pair.a, "technician", "Tess").await;
        let sup = register(&pair.b, "supervisor", "Sam").await;
        let enrolling = Device::new(&format!("{prefix}-E"));
        let deciding = Device::new(&format!("{prefix}-D"));
        let scanned: Vec<_> = [&enrolling, &deciding]
            .into_iter()
            .chain(also)
            .map(|d| tech.record(&d.text()))
            .collect();
        let (status, body) = tech.upload(&pair.a, &scanned).await;
        assert_eq!(status, 200, "{body}");
        pair.b
            .admin_ok(&["device", "approve", enrolling.serial(), "--reason", "ok"]);
        Scene {
            url,
            pair,
            tech,
            sup,
            enrolling,
            deciding,
        }
    }
}

/// The three refused requests again, once the database lets them through: the record is
/// accepted, the decision on `deciding` and the enrollment of `enrolling` succeed, and the
/// device has one certificate.
async fn the_refused_requests_succeed(
    pair: &Pair,
    tech: &mut Staff,
    sup: &Staff,
    record: SignedScanRecord,
    deciding: &Device,
    enrolling: &Device,
) {
    let (status, body) = tech.upload(&pair.a, &[record]).await;
    assert_eq!(
        (status, body["results"][0]["outcome"].as_str()),
        (200, Some("accepted")),
        "{body}"
    );
    let (status, body) = approve(sup, &pair.b, deciding.serial()).await;
    assert_eq!(status, 200, "{body}");
    let (status, body, _) = enroll(&pair.a, enrolling, &EnrollOptions::default()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(device_certs(pair, enrolling.serial()), 1);
}

/// The audit chain verifies at both instances, and neither server logged a panic.
fn chains_verify_and_no_server_panicked(pair: &Pair) {
    audit_verifies(&pair.a);
    audit_verifies(&pair.b);
    let logs = pair.a.log() + &pair.b.log();
    assert!(!logs.contains("panicked"), "a server panicked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_audit_lock_answers_503_writes_nothing_and_leaves_no_transaction_open() {
    let later: Vec<Device> = (0..6).map(|i| Device::new(&format!("SN-L{i}"))).collect();
    // The operator's setting: a session waits at most this long for any lock.
    let Scene {
        url,
        pair,
        mut tech,
        sup,
        enrolling,
        deciding,
    } = Scene::set_up("lock_timeout = '500ms'", "SN-L", &later).await;

    // The test's own session takes the audit lock and keeps it.
    let (holder, holder_pid) =
        hold(&url, "BEGIN; LOCK TABLE vouch_audit_lock IN EXCLUSIVE MODE").await;
    let before = sql(&url, STORED);

    let record = tech.record(&Device::new("SN-L-S").text());
    let options = EnrollOptions::default();
    let (synced, decided, (enrolled, cert, _)) = tokio::join!(
        tech.upload(&pair.a, std::slice::from_ref(&record)),
        sup.approve(&pair.b, deciding.serial()),
        enroll(&pair.a, &enrolling, &options),
    );
    for (status, body) in [synced, decided, (enrolled, cert)] {
        assert!(
            !assert_ok_or_busy(status, &body),
            "answered while the audit lock was held: {body}"
        );
    }
    assert_eq!(sql(&url, STORED), before, "a refused request wrote");
    let logs = pair.a.log() + &pair.b.log();
    assert!(
        logs.contains("lock timeout"),
        "not refused for the lock: {logs}"
    );
    // The transactions whose lock failed were rolled back, not left open.
    no_session_holds_anything(&url, holder_pid).await;

    holder.batch_execute("COMMIT").await.unwrap();

    // The same requests now succeed, on the same server processes.
    the_refused_requests_succeed(&pair, &mut tech, &sup, record, &deciding, &enrolling).await;

    // Audit writers at both instances at once all get through: no pooled connection kept a
    // transaction or the lock (with the lock_timeout, each would be answered busy for ever).
    let decisions = later.iter().enumerate().map(|(i, d)| {
        let at = if i % 2 == 0 { &pair.a } else { &pair.b };
        approve(&sup, at, d.serial())
    });
    for (status, body) in futures::future::join_all(decisions).await {
        assert_eq!(status, 200, "{body}");
    }
    no_session_holds_anything(&url, holder_pid).await;
    chains_verify_and_no_server_panicked(&pair);
}

/// An enrollment's first step, the challenge (it reads the device before it stores one).
async fn challenge(at: &Server, device: &Device) -> (u16, Value) {
    let mut conn = Conn::open(at, None).await;
    conn.request(
        "POST",
        "/v1/enroll/challenge",
        &serde_json::json!({ "serial": device.serial() }),
    )
    .await
}

/// A `statement_timeout` the operator set, end to end: while the test's own session holds
/// every row of the store (`LOCK TABLE vouch_kv IN ACCESS EXCLUSIVE MODE` in an open
/// transaction), the server's statements wait until PostgreSQL cancels them (SQLSTATE `57014`):
/// a sync, an approval and an enrollment's challenge answer `503 busy` and write nothing, no
/// server session is left inside a transaction, and once the lock is released the same
/// requests succeed on the same processes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_timeout_answers_503_writes_nothing_and_leaves_no_transaction_open() {
    let Scene {
        url,
        pair,
        mut tech,
        sup,
        enrolling,
        deciding,
    } = Scene::set_up("statement_timeout = '500ms'", "SN-T", &[]).await;
    let before = sql(&url, STORED);

    let (holder, holder_pid) =
        hold(&url, "BEGIN; LOCK TABLE vouch_kv IN ACCESS EXCLUSIVE MODE").await;

    let record = tech.record(&Device::new("SN-T-S").text());
    let (synced, decided, challenged) = tokio::join!(
        tech.upload(&pair.a, std::slice::from_ref(&record)),
        sup.approve(&pair.b, deciding.serial()),
        challenge(&pair.a, &enrolling),
    );
    for (status, body) in [synced, decided, challenged] {
        assert!(
            !assert_ok_or_busy(status, &body),
            "answered while the store was locked: {body}"
        );
    }
    let logs = pair.a.log() + &pair.b.log();
    assert!(
        logs.contains("statement timeout"),
        "not refused for the statement timeout: {logs}"
    );
    no_session_holds_anything(&url, holder_pid).await;
    holder.batch_execute("COMMIT").await.unwrap();
    assert_eq!(sql(&url, STORED), before, "a refused request wrote");

    // The same requests now succeed, on the same server processes.
    the_refused_requests_succeed(&pair, &mut tech, &sup, record, &deciding, &enrolling).await;
    no_session_holds_anything(&url, holder_pid).await;
    chains_verify_and_no_server_panicked(&pair);
}

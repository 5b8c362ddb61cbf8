//! The store's conformance suite: every invariant of the contract, as one generic test
//! function each, run against every backend (after step-ca's `nosql/dbtest/suite.go`). A new
//! backend adds one line at the bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use vouch_protocol::wire::ErrorCode;

use super::memory::MemoryBackend;
use super::sled_store::SledBackend;
use super::*;
use crate::domain::audit::verify_audit;
use crate::domain::testing::{label, Scanner};
use crate::domain::{device, enroll, scan, staff, Decision, DeviceCertificate, DeviceState};

/// A store under test, and what must live as long as it.
struct Fixture {
    store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
}

impl Fixture {
    fn sled(challenge_limit: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let backend = SledBackend::open_with(dir.path(), Duration::ZERO).unwrap();
        let store = KvStore::new(Box::new(backend)).with_challenge_limit(challenge_limit);
        Self {
            store: Arc::new(store),
            _dir: Some(dir),
        }
    }

    /// A database of its own in the test process's throwaway cluster.
    fn postgres(challenge_limit: usize) -> Self {
        let url = vouch_testkit::PgCluster::shared().create_database();
        let backend = super::postgres::PgBackend::connect(&url, 8).unwrap();
        let store = KvStore::new(Box::new(backend)).with_challenge_limit(challenge_limit);
        Self {
            store: Arc::new(store),
            _dir: None,
        }
    }

    fn memory(challenge_limit: usize) -> Self {
        let store =
            KvStore::new(Box::new(MemoryBackend::default())).with_challenge_limit(challenge_limit);
        Self {
            store: Arc::new(store),
            _dir: None,
        }
    }
}

fn note(action: &'static str) -> AuditNote {
    AuditNote {
        actor: "operator".into(),
        action,
        subject: "x".into(),
        detail: serde_json::json!({}),
    }
}

fn challenge(serial: &str, expires_at_ms: u64) -> ChallengeRecord {
    ChallengeRecord {
        serial: serial.into(),
        expires_at_ms,
    }
}

fn invite(expires_at_ms: u64) -> InviteRecord {
    InviteRecord {
        role: Role::Technician,
        name: "Tess".into(),
        trusted: false,
        created_at_ms: 1,
        expires_at_ms,
        used_at_ms: None,
    }
}

fn cert_record(serial: &str) -> CertRecord {
    CertRecord {
        serial: serial.into(),
        subject: "https://vouch.invalid/x".into(),
        not_after_ms: 99,
        revoked_at_ms: None,
    }
}

/// Registers the scanner's install through an invite; returns the audit entries it made (2).
fn register(
    store: &dyn Store,
    scanner: &Scanner,
    code: &str,
) -> Result<Option<StaffMember>, ServerError> {
    store.put_invite(code, &invite(1_000), note("staff.invited"))?;
    let member = scanner.member(false);
    let cert = cert_record(&member.certificate_serial);
    store.redeem_invite(code, &|stored| {
        Ok(staff::redeem(code, stored, &member, &cert, 10))
    })
}

fn ingest(
    store: &dyn Store,
    records: &[vouch_protocol::SignedScanRecord],
    now: u64,
) -> Vec<ScanOutcome> {
    let rule = |r: &vouch_protocol::SignedScanRecord, v: &IngestView| {
        scan::ingest(r, v, crate::domain::ScanPolicy::default(), now)
    };
    store.ingest_scans(records, &rule).unwrap()
}

fn audit_len(store: &dyn Store) -> usize {
    verify_audit(&store.audit_entries().unwrap()).unwrap()
}

fn nonce_is_single_use(f: Fixture) {
    let s = f.store.as_ref();
    s.put_challenge("n1", &challenge("S", 100), 0).unwrap();
    assert_eq!(s.take_challenge("n1").unwrap(), Some(challenge("S", 100)));
    assert_eq!(
        s.take_challenge("n1").unwrap(),
        None,
        "a nonce is taken once"
    );
    assert_eq!(s.take_challenge("never").unwrap(), None);
    s.put_challenge("old", &challenge("S", 10), 0).unwrap();
    s.put_challenge("new", &challenge("S", 30), 0).unwrap();
    assert_eq!(s.purge_challenges(10).unwrap(), 1);
    assert_eq!(s.take_challenge("old").unwrap(), None);
    assert_eq!(s.take_challenge("new").unwrap(), Some(challenge("S", 30)));
}

/// The take with the device read: the challenge once, the device every time, as stored.
fn a_take_brings_the_device_along(f: Fixture) {
    let s = f.store.as_ref();
    let mut tech = Scanner::new(1);
    register(s, &tech, "c").unwrap();
    ingest(s, &[tech.record(&label("SN-1", 2))], 20);
    let device = s.device("SN-1").unwrap();
    assert!(device.is_some());
    s.put_challenge("n1", &challenge("SN-1", 100), 0).unwrap();
    assert_eq!(
        s.take_challenge_and_device("n1", "SN-1").unwrap(),
        (Some(challenge("SN-1", 100)), device.clone())
    );
    assert_eq!(
        s.take_challenge_and_device("n1", "SN-1").unwrap(),
        (None, device),
        "a nonce is taken once"
    );
    assert_eq!(
        s.take_challenge_and_device("never", "SN-2").unwrap(),
        (None, None)
    );
}

/// A challenge is stored for a device that passes the check, and for no other serial.
fn a_challenge_is_stored_only_for_a_device_that_passes(f: Fixture) {
    let s = f.store.as_ref();
    let mut tech = Scanner::new(1);
    register(s, &tech, "c").unwrap();
    ingest(s, &[tech.record(&label("SN-1", 2))], 20);
    let yes = |_: &Device| true;
    let no = |_: &Device| false;
    let put = |nonce: &str, serial: &str, check: &dyn Fn(&Device) -> bool| {
        s.put_challenge_for_device(nonce, &challenge(serial, 100), 0, check)
            .unwrap()
    };
    assert_eq!(put("n1", "SN-1", &yes), ChallengeStored::Stored);
    assert_eq!(put("n2", "SN-1", &no), ChallengeStored::UnknownSerial);
    assert_eq!(put("n3", "SN-9", &yes), ChallengeStored::UnknownSerial);
    assert_eq!(
        s.take_challenge("n1").unwrap(),
        Some(challenge("SN-1", 100))
    );
    assert_eq!(s.take_challenge("n2").unwrap(), None, "refused: not kept");
    assert_eq!(s.take_challenge("n3").unwrap(), None, "unknown: not stored");
}

/// The limit holds for challenges stored with the device check too.
fn a_challenge_for_a_device_is_bounded(f: Fixture) {
    let s = f.store.as_ref();
    let mut tech = Scanner::new(1);
    register(s, &tech, "c").unwrap();
    ingest(s, &[tech.record(&label("SN-1", 2))], 20);
    let put = |nonce: &str, expires_at_ms: u64, now_ms: u64| {
        let yes = |_: &Device| true;
        s.put_challenge_for_device(nonce, &challenge("SN-1", expires_at_ms), now_ms, &yes)
            .unwrap()
    };
    for n in ["a", "b", "c"] {
        assert_eq!(put(n, 10, 0), ChallengeStored::Stored);
    }
    assert_eq!(put("d", 50, 5), ChallengeStored::Full);
    assert_eq!(s.take_challenge("d").unwrap(), None);
    // Once the first three expired, they make room.
    assert_eq!(put("d", 50, 10), ChallengeStored::Stored);
    assert_eq!(s.take_challenge("a").unwrap(), None);
    assert_eq!(s.take_challenge("d").unwrap(), Some(challenge("SN-1", 50)));
}

fn a_nonce_is_taken_once_under_contention(f: Fixture) {
    f.store.put_challenge("n", &challenge("S", 100), 0).unwrap();
    // Half take it alone, half with the device read: the two calls race each other too.
    let takers: Vec<_> = (0..8)
        .map(|i| {
            let store = f.store.clone();
            std::thread::spawn(move || match i % 2 {
                0 => store.take_challenge("n").unwrap().is_some(),
                _ => store
                    .take_challenge_and_device("n", "S")
                    .unwrap()
                    .0
                    .is_some(),
            })
        })
        .collect();
    let won = takers
        .into_iter()
        .filter_map(|t| t.join().ok())
        .filter(|won| *won)
        .count();
    assert_eq!(won, 1);
}

fn challenges_are_bounded(f: Fixture) {
    let s = f.store.as_ref();
    for n in ["a", "b", "c"] {
        s.put_challenge(n, &challenge("S", 10), 0).unwrap();
    }
    let full = s.put_challenge("d", &challenge("S", 50), 5).unwrap_err();
    assert!(full.is(&ErrorCode::Busy), "{full}");
    // Once the three expire, a new challenge makes room by dropping them.
    s.put_challenge("d", &challenge("S", 50), 10).unwrap();
    assert_eq!(s.take_challenge("a").unwrap(), None);
    assert_eq!(s.take_challenge("d").unwrap(), Some(challenge("S", 50)));
}

fn an_invite_registers_one_key_once(f: Fixture) {
    let s = f.store.as_ref();
    let tech = Scanner::new(1);
    let member = register(s, &tech, "code1").unwrap().unwrap();
    assert_eq!(s.staff(&member.key_id).unwrap(), Some(member.clone()));
    assert_eq!(s.invite("code1").unwrap().unwrap().used_at_ms, Some(10));
    assert_eq!(
        s.certificate(&member.certificate_serial).unwrap(),
        Some(cert_record(&member.certificate_serial))
    );
    let before = audit_len(s);
    let again = register(s, &tech, "code2").unwrap_err();
    assert!(again.is(&ErrorCode::Conflict), "{again}");
    assert_eq!(
        s.invite("code2").unwrap().unwrap().used_at_ms,
        None,
        "nothing was written"
    );
    assert_eq!(
        audit_len(s),
        before + 1,
        "only the second invite's own entry"
    );
    let member = tech.member(false);
    let cert = cert_record("x");
    let used = s.redeem_invite("code1", &|stored| {
        Ok(staff::redeem("code1", stored, &member, &cert, 11))
    });
    assert_eq!(used.unwrap(), None, "a used invite registers nobody");
    assert_eq!(s.all_staff().unwrap().len(), 1);
}

fn record_ids_are_idempotent(f: Fixture) {
    let s = f.store.as_ref();
    let mut tech = Scanner::new(1);
    register(s, &tech, "c").unwrap();
    let record = tech.record(&label("SN-1", 2));
    assert!(matches!(
        ingest(s, std::slice::from_ref(&record), 20)[0],
        ScanOutcome::Accepted(_)
    ));
    let entries = audit_len(s);
    assert_eq!(
        ingest(s, std::slice::from_ref(&record), 21),
        vec![ScanOutcome::Duplicate]
    );
    assert_eq!(audit_len(s), entries, "a duplicate writes nothing");
    let id = record.record().record_id().to_hex();
    assert_eq!(s.scan(&id).unwrap().unwrap().received_at_ms, 20);
    let mut other = Scanner::new(1);
    other.chain = tech.chain;
    let clash = other.record(&label("SN-9", 3));
    assert!(matches!(
        &ingest(s, &[clash], 22)[0],
        ScanOutcome::Refused {
            code: ErrorCode::RecordIdReused,
            ..
        }
    ));
    assert_eq!(s.device("SN-9").unwrap(), None);
}

fn a_batch_sees_its_own_writes(f: Fixture) {
    let s = f.store.as_ref();
    let mut tech = Scanner::new(1);
    register(s, &tech, "c").unwrap();
    let batch = [
        tech.record(&label("SN-1", 2)),
        tech.record(&label("SN-2", 2)),
    ];
    let outcomes = ingest(s, &batch, 20);
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, ScanOutcome::Accepted(_))));
    for serial in ["SN-1", "SN-2"] {
        assert_eq!(
            s.device(serial).unwrap().unwrap().state,
            DeviceState::Conflict,
            "{serial}"
        );
    }
    let member = s.staff(&tech.member(false).key_id).unwrap().unwrap();
    assert_eq!(member.chain, tech.chain);
}

fn a_key_finds_every_serial_it_was_vouched_under(f: Fixture) {
    use vouch_protocol::key::{hex, public_key_of};
    let s = f.store.as_ref();
    let key_hex = |n| hex(&public_key_of(&crate::domain::testing::key(n)).to_sec1_compressed());
    assert!(s.serials_for_key(&key_hex(2)).unwrap().is_empty());
    let mut tech = Scanner::new(1);
    register(s, &tech, "c").unwrap();
    let first = tech.record(&label("SN-1", 2));
    ingest(s, &[first], 20);
    assert_eq!(s.serials_for_key(&key_hex(2)).unwrap(), vec!["SN-1"]);
    let again = tech.record(&label("SN-1", 2));
    ingest(s, &[again], 21);
    assert_eq!(s.serials_for_key(&key_hex(2)).unwrap(), vec!["SN-1"]);
    let clone = tech.record(&label("SN-2", 2));
    ingest(s, &[clone], 22);
    assert_eq!(
        s.serials_for_key(&key_hex(2)).unwrap(),
        vec!["SN-1", "SN-2"]
    );
    assert!(s.serials_for_key(&key_hex(3)).unwrap().is_empty());
}

fn chain_gaps_are_recorded_once_and_accepted(f: Fixture) {
    let s = f.store.as_ref();
    let mut tech = Scanner::new(1);
    let key_id = register(s, &tech, "c").unwrap().unwrap().key_id;
    tech.lose(1);
    let record = tech.record(&label("SN-1", 2));
    for now in [20, 21] {
        let outcome = &ingest(s, std::slice::from_ref(&record), now)[0];
        assert!(
            matches!(outcome, ScanOutcome::Refused { code, .. } if code.holds_record()),
            "{outcome:?}"
        );
    }
    let member = s.staff(&key_id).unwrap().unwrap();
    assert_eq!(member.gaps.len(), 1);
    assert_eq!(member.gaps[0].seen_at_ms, 20);
    let gaps_logged = s
        .audit_entries()
        .unwrap()
        .iter()
        .filter(|e| e.action == "staff.chain_gap")
        .count();
    assert_eq!(gaps_logged, 1);
    let acceptance = GapAcceptance {
        by: "operator".into(),
        at_ms: 30,
        reason: "lost".into(),
    };
    s.update_staff(&key_id, &|m| {
        staff::accept_gap_planned(m, 1, acceptance.clone())
            .map_err(|r| ServerError::refuse(ErrorCode::Conflict, r.0))
    })
    .unwrap();
    assert!(matches!(
        ingest(s, &[record], 31)[0],
        ScanOutcome::Accepted(_)
    ));
    assert_eq!(s.staff(&key_id).unwrap().unwrap().chain, tech.chain);
}

fn device_cert(serial: &str) -> DeviceCertificate {
    DeviceCertificate {
        serial: serial.into(),
        not_after_ms: 99,
        key: "02".into(),
        csr_sha256: "h".into(),
        pem: "PEM".into(),
        replaces: None,
    }
}

fn decide(
    s: &dyn Store,
    serial: &str,
    decision: Decision,
    now: u64,
) -> Result<Device, ServerError> {
    let (d, commit) = s.update_device(serial, &|d| {
        device::decide(d, decision, "sup", "why", now)
            .map_err(|r| ServerError::refuse(ErrorCode::Conflict, r.0))
    })?;
    s.wait(commit)?;
    Ok(d)
}

fn state_changes_revoke_with_the_change(f: Fixture) {
    let s = f.store.as_ref();
    let mut tech = Scanner::new(1);
    register(s, &tech, "c").unwrap();
    ingest(s, &[tech.record(&label("SN-1", 2))], 20);
    assert_eq!(
        decide(s, "SN-1", Decision::Approve, 21).unwrap().state,
        DeviceState::Approved
    );
    let (_, commit) = s
        .update_device("SN-1", &|d| {
            enroll::enrolled(d, device_cert("d1"), cert_record("d1"), false, 22)
                .map_err(|r| ServerError::refuse(ErrorCode::Conflict, r.0))
        })
        .unwrap();
    s.wait(commit).unwrap();
    assert_eq!(s.certificate("d1").unwrap(), Some(cert_record("d1")));
    let again = s.update_device("SN-1", &|d| {
        enroll::enrolled(d, device_cert("d2"), cert_record("d2"), false, 23)
            .map_err(|r| ServerError::refuse(ErrorCode::Conflict, r.0))
    });
    assert!(
        again.as_ref().is_err_and(|e| e.is(&ErrorCode::Conflict)),
        "issued twice"
    );
    assert_eq!(
        s.certificate("d2").unwrap(),
        None,
        "nothing of a refused change is written"
    );
    let (_, commit) = s
        .update_device("SN-1", &|d| {
            enroll::renewed(d, "d1", device_cert("d3"), cert_record("d3"), 24)
                .map_err(|r| ServerError::refuse(ErrorCode::Conflict, r.0))
        })
        .unwrap();
    s.wait(commit).unwrap();
    let revoked: Vec<_> = s
        .revoked_certificates()
        .unwrap()
        .into_iter()
        .map(|c| (c.serial, c.revoked_at_ms))
        .collect();
    assert_eq!(
        revoked,
        vec![("d1".to_string(), Some(24))],
        "a renewal revokes what it replaces"
    );
    let entries = audit_len(s);
    assert!(decide(s, "SN-1", Decision::Reject, 25).is_err());
    assert_eq!(audit_len(s), entries, "a refused decision writes nothing");
    assert_eq!(
        decide(s, "SN-1", Decision::Revoke, 26).unwrap().state,
        DeviceState::Revoked
    );
    assert_eq!(
        s.certificate("d3").unwrap().unwrap().revoked_at_ms,
        Some(26)
    );
    let missing = decide(s, "SN-404", Decision::Approve, 27).unwrap_err();
    assert!(missing.is(&ErrorCode::NotFound), "{missing}");
}

fn the_audit_chain_stays_unbroken(f: Fixture) {
    let s = f.store.as_ref();
    for (i, a) in ["a", "b", "c"].into_iter().enumerate() {
        let entry = s.append_audit(note(a), i as u64).unwrap();
        assert_eq!(entry.seq, i as u64 + 1);
    }
    let mut tech = Scanner::new(1);
    register(s, &tech, "c").unwrap();
    ingest(
        s,
        &[
            tech.record(&label("SN-1", 2)),
            tech.record(&label("SN-2", 3)),
        ],
        20,
    );
    let entries = s.audit_entries().unwrap();
    assert_eq!(verify_audit(&entries), Ok(7));
    assert_eq!(entries[6].action, "scan.accepted");
}

fn a_rotation_keeps_the_first_revocation(f: Fixture) {
    let s = f.store.as_ref();
    let old = CertRecord {
        revoked_at_ms: Some(3),
        ..cert_record("op1")
    };
    let rotate = |new: &str, now| {
        let new = cert_record(new);
        s.update_certificate("op1", &|stored| {
            Ok(crate::domain::cert::rotation(
                stored,
                &cert_record("op1"),
                &new,
                note("operator.rotated"),
                now,
            ))
        })
    };
    rotate("op2", 5).unwrap();
    assert_eq!(
        s.certificate("op1").unwrap().unwrap().revoked_at_ms,
        Some(5)
    );
    rotate("op3", 9).unwrap();
    assert_eq!(
        s.certificate("op1").unwrap().unwrap().revoked_at_ms,
        Some(5)
    );
    assert_eq!(s.certificate("op3").unwrap(), Some(cert_record("op3")));
    assert_eq!(old.revoked_at(1).revoked_at_ms, Some(3));
}

fn import_manifest(s: &dyn Store, text: &str, now: u64) -> Result<ImportCounts, ServerError> {
    use crate::domain::manifest::{import_id, parse_manifest, plan_import, ImportMeta};
    let entries = parse_manifest(text)
        .map_err(|e| ServerError::refuse(ErrorCode::BadRequest, e.to_string()))?;
    let meta = ImportMeta {
        id: import_id(text),
        sha256: String::new(),
        source: None,
        actor: "operator".into(),
        reason: "r".into(),
    };
    let serials: Vec<String> = entries.iter().map(|e| e.serial.clone()).collect();
    s.import_devices(&serials, &|stored| {
        plan_import(&entries, stored, &meta, now)
            .map_err(|e| ServerError::refuse(ErrorCode::BadRequest, e.to_string()))
    })
}

fn key_hex(n: u8) -> String {
    vouch_protocol::key::hex(
        &vouch_protocol::key::public_key_of(&crate::domain::testing::key(n)).to_sec1_compressed(),
    )
}

fn a_manifest_imports_whole_once_or_not_at_all(f: Fixture) {
    let s = f.store.as_ref();
    let text = format!("serial,key\nSN-1,{}\nSN-2,{}\n", key_hex(2), key_hex(3));
    let first = import_manifest(s, &text, 5).unwrap();
    assert_eq!((first.added, first.unchanged), (2, 0));
    let id = crate::domain::manifest::import_id(&text);
    assert_eq!(s.import(&id).unwrap().unwrap().added, 2);
    assert_eq!(
        s.device("SN-1").unwrap().unwrap().state,
        DeviceState::Expected
    );
    assert_eq!(audit_len(s), 1);
    let again = import_manifest(s, &text, 6).unwrap();
    assert_eq!((again.added, again.unchanged), (0, 2));
    assert_eq!(audit_len(s), 1, "a repeated import changes nothing");
    assert_eq!(s.device("SN-1").unwrap().unwrap().updated_at_ms, 5);
    // A new serial, then one already expected with another key: nothing of it is written.
    let clash = format!("serial,key\nSN-3,{}\nSN-1,{}\n", key_hex(4), key_hex(5));
    let refused = import_manifest(s, &clash, 7).unwrap_err();
    assert!(refused.to_string().contains("line 3"), "{refused}");
    assert_eq!(
        s.device("SN-3").unwrap(),
        None,
        "nothing of a refused import"
    );
    assert_eq!(audit_len(s), 1);
}

fn a_scan_of_an_expected_device_sees_the_manifest(f: Fixture) {
    let s = f.store.as_ref();
    let text = format!("serial,key\nSN-1,{}\nSN-2,{}\n", key_hex(2), key_hex(3));
    import_manifest(s, &text, 5).unwrap();
    let mut tech = Scanner::new(1);
    register(s, &tech, "c").unwrap();
    ingest(
        s,
        &[
            tech.record(&label("SN-1", 2)),
            tech.record(&label("SN-2", 9)),
        ],
        20,
    );
    let matching = s.device("SN-1").unwrap().unwrap();
    assert_eq!(matching.state, DeviceState::Scanned);
    assert_eq!(matching.expected.unwrap().matched, Some(true));
    let swapped = s.device("SN-2").unwrap().unwrap();
    assert_eq!(swapped.state, DeviceState::Conflict);
    assert_eq!(swapped.expected.unwrap().matched, Some(false));
}

/// A snapshot taken while changes commit holds each whole or not at all: the audit head it
/// holds (Meta) always names the last entry it holds (Audit), whatever the timing.
fn a_snapshot_is_consistent_while_changes_commit(f: Fixture) {
    use crate::domain::audit::AuditHead;
    let s = f.store.clone();
    let writer = std::thread::spawn(move || {
        for i in 0..200u64 {
            s.append_audit(note("a"), i).unwrap();
        }
    });
    let mut checked = 0;
    while !writer.is_finished() || checked == 0 {
        let dump = f.store.snapshot().unwrap();
        let bucket = |b: Bucket| {
            dump.iter()
                .find(|(x, _)| *x == b)
                .map(|(_, e)| e.clone())
                .unwrap_or_default()
        };
        let entries = bucket(Bucket::Audit);
        let head: Option<AuditHead> = bucket(Bucket::Meta)
            .iter()
            .find(|(k, _)| k.as_slice() == b"audit_head")
            .map(|(_, v)| serde_json::from_slice(v).unwrap());
        assert_eq!(
            head.map_or(0, |h| h.seq),
            entries.len() as u64,
            "torn snapshot"
        );
        checked += 1;
    }
    writer.join().unwrap();
    assert!(checked > 0);
}

/// A snapshot loads into an empty store as it was, and only into an empty one.
fn a_snapshot_loads_into_an_empty_store_only(f: Fixture) {
    let s = f.store.as_ref();
    let mut tech = Scanner::new(1);
    register(s, &tech, "c").unwrap();
    ingest(s, &[tech.record(&label("SN-1", 2))], 20);
    let dump = s.snapshot().unwrap();
    let copy = Fixture::memory(10);
    copy.store.load(&dump).unwrap();
    assert_eq!(copy.store.snapshot().unwrap(), dump);
    assert_eq!(verify_audit(&copy.store.audit_entries().unwrap()), Ok(3));
    assert_eq!(
        copy.store.device("SN-1").unwrap(),
        s.device("SN-1").unwrap()
    );
    let again = copy.store.load(&dump).unwrap_err();
    assert!(again.is(&ErrorCode::Conflict), "{again}");
    let into_same = Fixture::sled(10);
    into_same.store.load(&dump).unwrap();
    assert_eq!(into_same.store.snapshot().unwrap(), dump);
}

/// One `#[test]` per invariant for a backend.
macro_rules! conformance {
    ($backend:ident, $fixture:expr) => {
        mod $backend {
            use super::*;

            #[test]
            fn nonce_is_single_use() {
                super::nonce_is_single_use($fixture(10));
            }

            #[test]
            fn a_challenge_is_stored_only_for_a_device_that_passes() {
                super::a_challenge_is_stored_only_for_a_device_that_passes($fixture(10));
            }

            #[test]
            fn a_challenge_for_a_device_is_bounded() {
                super::a_challenge_for_a_device_is_bounded($fixture(3));
            }

            #[test]
            fn a_take_brings_the_device_along() {
                super::a_take_brings_the_device_along($fixture(10));
            }

            #[test]
            fn a_nonce_is_taken_once_under_contention() {
                super::a_nonce_is_taken_once_under_contention($fixture(10));
            }

            #[test]
            fn challenges_are_bounded() {
                super::challenges_are_bounded($fixture(3));
            }

            #[test]
            fn an_invite_registers_one_key_once() {
                super::an_invite_registers_one_key_once($fixture(10));
            }

            #[test]
            fn record_ids_are_idempotent() {
                super::record_ids_are_idempotent($fixture(10));
            }

            #[test]
            fn a_batch_sees_its_own_writes() {
                super::a_batch_sees_its_own_writes($fixture(10));
            }

            #[test]
            fn a_key_finds_every_serial_it_was_vouched_under() {
                super::a_key_finds_every_serial_it_was_vouched_under($fixture(10));
            }

            #[test]
            fn chain_gaps_are_recorded_once_and_accepted() {
                super::chain_gaps_are_recorded_once_and_accepted($fixture(10));
            }

            #[test]
            fn state_changes_revoke_with_the_change() {
                super::state_changes_revoke_with_the_change($fixture(10));
            }

            #[test]
            fn the_audit_chain_stays_unbroken() {
                super::the_audit_chain_stays_unbroken($fixture(10));
            }

            #[test]
            fn a_rotation_keeps_the_first_revocation() {
                super::a_rotation_keeps_the_first_revocation($fixture(10));
            }

            #[test]
            fn a_manifest_imports_whole_once_or_not_at_all() {
                super::a_manifest_imports_whole_once_or_not_at_all($fixture(10));
            }

            #[test]
            fn a_snapshot_is_consistent_while_changes_commit() {
                super::a_snapshot_is_consistent_while_changes_commit($fixture(10));
            }

            #[test]
            fn a_snapshot_loads_into_an_empty_store_only() {
                super::a_snapshot_loads_into_an_empty_store_only($fixture(10));
            }

            #[test]
            fn a_scan_of_an_expected_device_sees_the_manifest() {
                super::a_scan_of_an_expected_device_sees_the_manifest($fixture(10));
            }
        }
    };
}

conformance!(sled, Fixture::sled);
conformance!(memory, Fixture::memory);
conformance!(postgres, Fixture::postgres);

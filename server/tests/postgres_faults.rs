//! Faults with two `vouch-server` instances on one PostgreSQL: one instance SIGKILLed in the
//! middle of enrollments, again and again, while the other serves; PostgreSQL itself crashed
//! (immediate shutdown) and started again under load. Nothing a device or an app was told is lost, nothing is
//! stored twice, the audit chain verifies, and the instances recover without a restart.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use common::pg::*;
use common::*;
use futures::FutureExt;
use rand_core::RngCore;
use reqwest::Method;
use vouch_protocol::SignedScanRecord;
use vouch_testkit::PgCluster;

/// Kills, at random moments, in this many rounds.
const KILL_ROUNDS: usize = 30;
/// Devices enrolling at the instance that is killed, per round.
const AT_VICTIM: usize = 4;

/// The certificate serial (hex) of a PEM certificate.
fn serial_of(pem: &str) -> String {
    let der = pem_der(pem);
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    vouch_protocol::key::hex(cert.raw_serial())
}

/// An enrollment whose connection may be cut: the certificate if the device was told it
/// succeeded, `None` if it was not (the server died, or refused).
async fn enroll_or_cut(server: &Server, device: &Device) -> Option<String> {
    let options = EnrollOptions::default();
    let attempt = AssertUnwindSafe(enroll(server, device, &options));
    match attempt.catch_unwind().await {
        Ok((200, body, _)) => Some(body["certificate_pem"].as_str()?.to_string()),
        _ => None,
    }
}

/// Scans every device through `at` in one batch and approves each there.
async fn approve_all(at: &Server, devices: &[Device]) {
    let mut tech = register(at, "technician", "Tess").await;
    let sup = register(at, "supervisor", "Sam").await;
    let records: Vec<SignedScanRecord> = devices.iter().map(|d| tech.record(&d.text())).collect();
    let (status, answer) = tech.upload(at, &records).await;
    assert_eq!(status, 200, "{answer}");
    for d in devices {
        let (status, body) = sup.approve(at, d.serial()).await;
        assert_eq!(status, 200, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_mid_enrollment_loses_nothing_while_the_other_serves() {
    let mut pair = Pair::start();
    let devices: Vec<Device> = (0..KILL_ROUNDS * (AT_VICTIM + 1))
        .map(|i| Device::new(&format!("SN-K{i}")))
        .collect();
    approve_all(&pair.b, &devices).await;
    let mut told = Vec::new();
    let options = EnrollOptions::default();
    let mut cut = 0;
    for round in 0..KILL_ROUNDS {
        let batch = &devices[round * (AT_VICTIM + 1)..(round + 1) * (AT_VICTIM + 1)];
        let (at_victim, at_survivor) = batch.split_at(AT_VICTIM);
        let victim_pid = pair.a.pid();
        let delay = Duration::from_millis(rand_core::OsRng.next_u64() % 80);
        let killer = async move {
            tokio::time::sleep(delay).await;
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &victim_pid.to_string()])
                .status();
        };
        let victims =
            futures::future::join_all(at_victim.iter().map(|d| enroll_or_cut(&pair.a, d)));
        let survivor = enroll(&pair.b, &at_survivor[0], &options);
        let (results, (status, body, _), ()) = tokio::join!(victims, survivor, killer);
        // The other instance keeps serving through the kill.
        assert_eq!(status, 200, "round {round}: {body}");
        told.push((
            at_survivor[0].serial().to_string(),
            body["certificate_pem"].as_str().unwrap().to_string(),
        ));
        for (d, cert) in at_victim.iter().zip(results) {
            match cert {
                Some(cert) => told.push((d.serial().to_string(), cert)),
                None => cut += 1,
            }
        }
        pair.a.crash_and_restart();
    }
    // The kills fell both between and in the middle of enrollments.
    let at_victim_told = told.len() - KILL_ROUNDS;
    eprintln!("at the killed instance: {at_victim_told} told, {cut} cut off");
    assert!(
        at_victim_told > 0,
        "no enrollment at the killed instance ever succeeded"
    );
    assert!(cut > 0, "no kill ever cut an enrollment off");
    for (serial, pem) in &told {
        // Every certificate a device was told of is stored, and is its device's current one.
        let cert = serial_of(pem);
        assert!(
            certificate_stored(&pair, &cert),
            "{serial}: {cert} not stored"
        );
        assert_eq!(current_certificate(&pair, serial), cert, "{serial}");
    }
    for d in &devices {
        assert!(
            device_certs(&pair, d.serial()) <= 1,
            "{} has two certificates",
            d.serial()
        );
    }
    audit_verifies(&pair.a);
    audit_verifies(&pair.b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_crashed_under_load_gives_503_then_recovers_without_a_restart() {
    let cluster = PgCluster::start();
    let pair = Pair::start_on(&cluster);
    let (a_pid, b_pid) = (pair.a.pid(), pair.b.pid());
    let mut tech = register(&pair.a, "technician", "Tess").await;
    let sup = register(&pair.b, "supervisor", "Sam").await;
    let records: Vec<SignedScanRecord> = (0..400)
        .map(|i| tech.record(&Device::new(&format!("SN-R{i}")).text()))
        .collect();

    // The app's sync, as the field engine does it: the oldest unacknowledged record is sent
    // until an instance answers for it; a 503 means "send it again".
    let load = async {
        let (mut next, mut busy, mut sent) = (0, 0, 0);
        let started = Instant::now();
        while next < records.len() && started.elapsed() < Duration::from_secs(60) {
            let server = if sent % 2 == 0 { &pair.a } else { &pair.b };
            sent += 1;
            let (status, body) = tech.upload(server, &records[next..=next]).await;
            if assert_ok_or_busy(status, &body) {
                let outcome = body["results"][0]["outcome"].as_str().unwrap().to_string();
                assert!(
                    ["accepted", "duplicate"].contains(&outcome.as_str()),
                    "{body}"
                );
                next += 1;
            } else {
                busy += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        (next, busy)
    };
    let outage = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        // As a crash: what was not flushed is lost, so a record answered 200 that was not
        // durable would be missing and the next one would be a chain gap.
        cluster.crash();
        // While it is down, every front door answers 503 busy in JSON.
        for server in [&pair.a, &pair.b] {
            let (status, body) = call(&sup.client, server, Method::GET, "/v1/devices", None).await;
            assert_eq!(status, 503, "{body}");
            assert_eq!(body["code"], "busy", "{body}");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        cluster.restart();
    };
    let ((sent, busy), ()) = tokio::join!(load, outage);
    assert_eq!(
        sent,
        records.len(),
        "the sync did not finish after the database came back"
    );
    assert!(busy > 0, "the outage never showed in the load");

    // Both instances are the same processes, serving again.
    assert_eq!((pair.a.pid(), pair.b.pid()), (a_pid, b_pid));
    for server in [&pair.a, &pair.b] {
        let (status, body) = call(&sup.client, server, Method::GET, "/v1/devices", None).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(
        pair.sql("SELECT count(*) FROM vouch_kv WHERE bucket = 'scans'"),
        "400"
    );
    let device = Device::new("SN-R-AFTER");
    let (status, body) = tech.scan_and_upload(&pair.b, &device.text()).await;
    assert_eq!(
        (status, body["results"][0]["outcome"].as_str()),
        (200, Some("accepted")),
        "{body}"
    );
    pair.a
        .admin_ok(&["device", "approve", "SN-R-AFTER", "--reason", "ok"]);
    let (status, cert, _) = enroll(&pair.a, &device, &EnrollOptions::default()).await;
    assert_eq!(status, 200, "{cert}");
    audit_verifies(&pair.a);
    let panicked = pair.a.log() + &pair.b.log();
    assert!(!panicked.contains("panicked"), "a server panicked");
}

//! Online backup and restore against the real server: `vouch-server backup` while technicians
//! sync and devices enroll, `vouch-server restore` into a new folder, the restored server
//! started; its audit log verifies and every change acknowledged before the backup began is
//! in it. A truncated or altered backup, and a folder that is not empty, are refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use common::*;
use serde_json::Value;

/// A change a client was told about, and when.
#[derive(Clone, Debug)]
enum Told {
    /// A scan accepted: the device exists, approved by policy.
    Scanned(String),
    /// A certificate issued to the device.
    Enrolled(String),
}

type Log = Arc<Mutex<Vec<(Instant, Told)>>>;

/// Scans devices one after another, enrolling every `enroll_every`th, until `stop`.
async fn load(
    server: Arc<Server>,
    name: &str,
    enroll_every: usize,
    log: Log,
    stop: Arc<AtomicBool>,
) {
    let mut tech = register_with(&server, "technician", name, &["--trusted"]).await;
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        let device = Device::new(&format!("SN-{name}-{i}"));
        let (status, answer) = tech.scan_and_upload(&server, &device.text()).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["results"][0]["outcome"], "accepted", "{answer}");
        let serial = device.serial().to_string();
        log.lock()
            .unwrap()
            .push((Instant::now(), Told::Scanned(serial.clone())));
        if i % enroll_every == 0 {
            let (status, body, _) = enroll(&server, &device, &EnrollOptions::default()).await;
            assert_eq!(status, 200, "{body}");
            log.lock()
                .unwrap()
                .push((Instant::now(), Told::Enrolled(serial)));
        }
        i += 1;
    }
}

fn start() -> Server {
    Server::start_with_config(&[
        (
            "auto_approve_trusted = false",
            "auto_approve_trusted = true",
        ),
        (
            "rate_per_address_per_minute = 120",
            "rate_per_address_per_minute = 100000",
        ),
    ])
}

fn devices(server: &Server) -> Vec<Value> {
    let out = server.admin_ok(&["device", "list", "--json"]);
    let list: Value = serde_json::from_str(&out).unwrap();
    list["devices"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_under_load_restores_everything_acknowledged_before_it() {
    let server = Arc::new(start());
    let log: Log = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = [("A", 2), ("B", 3)]
        .into_iter()
        .map(|(name, every)| {
            tokio::spawn(load(server.clone(), name, every, log.clone(), stop.clone()))
        })
        .collect();
    while log.lock().unwrap().len() < 20 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let out_dir = tempfile::tempdir().unwrap();
    let file = out_dir.path().join("vouch.backup");
    let began = Instant::now();
    let backing_up = {
        let server = server.clone();
        let file = file.clone();
        tokio::task::spawn_blocking(move || {
            server.admin_ok(&["backup", "--out", file.to_str().unwrap()])
        })
    };
    let said = backing_up.await.unwrap();
    let finished = Instant::now();
    // The load goes on after the backup too: it never stopped serving.
    let told_before_end = log.lock().unwrap().len();
    while log.lock().unwrap().len() < told_before_end + 4 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    assert!(said.contains("backup written"), "{said}");
    let told = log.lock().unwrap().clone();
    let before: Vec<Told> = told
        .iter()
        .filter(|(at, _)| *at < began)
        .map(|(_, t)| t.clone())
        .collect();
    let during = told
        .iter()
        .filter(|(at, _)| *at >= began && *at < finished)
        .count();
    println!(
        "{} changes told before the backup, {during} while it ran",
        before.len()
    );
    assert!(before.iter().any(|t| matches!(t, Told::Enrolled(_))));

    // Restore into a new folder (an empty one: the temporary folder).
    let restored = tempfile::tempdir().unwrap();
    let target = restored.path().to_str().unwrap().to_string();
    let out = std::process::Command::new(bin())
        .args([
            "--data",
            &target,
            "restore",
            "--from",
            file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = Server::serve(restored);
    let verify = again.admin_ok(&["audit", "verify"]);
    assert!(verify.contains("hash chain intact"), "{verify}");
    let listed: Vec<Value> = devices(&again);
    for change in &before {
        match change {
            Told::Scanned(serial) => assert!(
                listed.iter().any(|d| d["serial"] == serial.as_str()),
                "{serial} was acknowledged before the backup and is missing"
            ),
            Told::Enrolled(serial) => {
                let d = listed
                    .iter()
                    .find(|d| d["serial"] == serial.as_str())
                    .unwrap();
                assert_eq!(d["state"], "enrolled", "{serial}: {d}");
            }
        }
    }
    // The restored server is the same CA, and serves: a new technician registers and scans.
    assert_eq!(again.ca_pem(), server.ca_pem());
    let mut tech = register(&again, "technician", "After").await;
    let (status, _) = tech
        .scan_and_upload(&again, &Device::new("SN-AFTER").text())
        .await;
    assert_eq!(status, 200);
}

fn restore(from: &std::path::Path, into: &std::path::Path) -> std::process::Output {
    std::process::Command::new(bin())
        .args([
            "--data",
            into.to_str().unwrap(),
            "restore",
            "--from",
            from.to_str().unwrap(),
        ])
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_altered_or_misplaced_restores_are_refused() {
    let server = start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("b");
    server.admin_ok(&["backup", "--out", file.to_str().unwrap()]);
    let exists = server.admin(&["backup", "--out", file.to_str().unwrap()]);
    assert!(
        !exists.status.success(),
        "a backup is never written over a file"
    );
    let bytes = std::fs::read(&file).unwrap();

    let cases: [(&str, Vec<u8>, &str); 3] = [
        (
            "truncated",
            bytes[..bytes.len() * 2 / 3].to_vec(),
            "truncated",
        ),
        (
            "altered",
            {
                let mut b = bytes.clone();
                let mid = b.len() / 2;
                b[mid] = if b[mid] == b'A' { b'B' } else { b'A' };
                b
            },
            "altered",
        ),
        ("empty", vec![], "not a Vouch backup"),
    ];
    for (name, content, words) in cases {
        let bad = dir.path().join(name);
        std::fs::write(&bad, content).unwrap();
        let target = dir.path().join(format!("restored-{name}"));
        let out = restore(&bad, &target);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name} restored");
        assert!(stderr.contains(words), "{name}: {stderr}");
        assert!(!target.exists(), "{name}: nothing is written");
    }

    // Not into a folder that holds anything.
    let full = dir.path().join("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("keep.txt"), "mine").unwrap();
    let out = restore(&file, &full);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    assert_eq!(
        std::fs::read_to_string(full.join("keep.txt")).unwrap(),
        "mine"
    );

    // The good file restores into a new folder, the CA key 0600 as it was.
    let fresh = dir.path().join("fresh");
    let out = restore(&file, &fresh);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(fresh.join("ca/ca.key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(!fresh.join("server.addr").exists());

    // Only the operator may take a snapshot: not even a supervisor.
    let sup = register(&server, "supervisor", "Sue").await;
    let (status, body) = call(
        &sup.client,
        &server,
        reqwest::Method::GET,
        "/v1/admin/backup",
        None,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
}

//! A device recovers alone when the answer to its enrollment or renewal is lost after the
//! server committed it (issue 13): the agent keeps its CSR until the answer is stored, and the
//! server answers the identical CSR with the certificate it already issued (PROTOCOL.md 11.7.4
//! and 11.8.3), with no duplicate-enrollment flag. A copy of the label key or of a superseded
//! key is still refused. The real `vouch-server` binary and the real `vouch-device` CLI.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use common::*;
use rand_core::RngCore;
use reqwest::Method;
use serde_json::{json, Value};

/// A device made by `vouch-device keygen`, scanned by `tech` and approved.
async fn approved_device(server: &Server, tech: &mut Staff, work: &Path, serial: &str) -> PathBuf {
    let dir = work.join(serial);
    let label = device_keygen(&dir, serial);
    let (status, body) = tech.scan_and_upload(server, &label).await;
    assert_eq!(status, 200, "{body}");
    server.admin_ok(&["device", "approve", serial, "--reason", "label checked"]);
    dir
}

/// The server's record of a device.
fn device_record(server: &Server, serial: &str) -> Value {
    let show = server.admin_ok(&["device", "show", serial, "--json"]);
    serde_json::from_str::<Value>(&show).unwrap()["device"].clone()
}

/// How many audit entries have this action.
fn audit_count(server: &Server, action: &str) -> usize {
    let needle = format!("\"action\":\"{action}\"");
    server
        .admin_ok(&["audit", "export"])
        .lines()
        .filter(|line| line.replace(' ', "").contains(&needle))
        .count()
}

fn has_event(device: &Value, event: &str) -> bool {
    device["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["event"] == event)
}

fn stored_cert(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("cert.pem")).unwrap()
}

fn pending_csr(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("pending.json")).unwrap();
    serde_json::from_str::<Value>(&text).unwrap()["csr"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_enrollment_answer_is_delivered_again_without_a_flag() {
    let server = Server::start();
    let mut tech = register(&server, "technician", "T").await;
    let work = tempfile::tempdir().unwrap();
    let cli = DeviceCli::new(&server);
    for (serial, extra) in [("SN-LOST1", &[][..]), ("SN-LOST2", &["--rekey"][..])] {
        let dir = approved_device(&server, &mut tech, work.path(), serial).await;
        let (code, out, err) = cli.run_losing_the_answer("enroll", &dir, extra);
        assert_eq!(
            code, 5,
            "the answer is lost like a dropped connection: {out}{err}"
        );
        // The server committed a certificate that the device does not have.
        let committed = device_record(&server, serial);
        assert_eq!(committed["state"], "enrolled", "{committed}");
        assert!(!dir.join("cert.pem").exists());
        assert!(dir.join("pending.json").exists());

        let (code, out, err) = cli.run("enroll", &dir, extra);
        assert_eq!(code, 0, "the retry recovers: {out}{err}");
        // The very certificate the lost answer carried, not a second one, and no flag.
        let after = device_record(&server, serial);
        assert_eq!(after["certificate"], committed["certificate"]);
        assert_eq!(
            Some(stored_cert(&dir).as_str()),
            committed["certificate"]["pem"].as_str()
        );
        assert!(!has_event(&after, "duplicate_enrollment"), "{after}");
        assert!(!dir.join("pending.json").exists());
        assert_eq!(dir.join("operational.key.pem").exists(), !extra.is_empty());
        let (code, out, err) = cli.run("hello", &dir, &[]);
        assert_eq!(code, 0, "{out}{err}");
    }
    assert_eq!(audit_count(&server, "device.enrolled"), 2);
    assert_eq!(audit_count(&server, "device.duplicate_enrollment"), 0);

    // A copy of a label key (the key and device.json, without the agent's pending request) is
    // still refused and flagged: only the identical CSR is delivered again.
    let clone = work.path().join("clone");
    std::fs::create_dir(&clone).unwrap();
    for file in ["label.key.pem", "device.json"] {
        std::fs::copy(work.path().join("SN-LOST1").join(file), clone.join(file)).unwrap();
    }
    let (code, out, err) = cli.run("enroll", &clone, &[]);
    assert_eq!(code, 4, "{out}{err}");
    assert!(err.contains("already_enrolled"), "{err}");
    assert_eq!(audit_count(&server, "device.duplicate_enrollment"), 1);
    assert!(has_event(
        &device_record(&server, "SN-LOST1"),
        "duplicate_enrollment"
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_renewal_answer_is_delivered_again_to_the_superseded_certificate() {
    let server = Server::start();
    let mut tech = register(&server, "technician", "T").await;
    let work = tempfile::tempdir().unwrap();
    let cli = DeviceCli::new(&server);
    let dir = approved_device(&server, &mut tech, work.path(), "SN-RENEW").await;
    let (code, out, err) = cli.run("enroll", &dir, &["--rekey"]);
    assert_eq!(code, 0, "{out}{err}");
    let old_cert = stored_cert(&dir);
    let old_key = std::fs::read_to_string(dir.join("operational.key.pem")).unwrap();

    let (code, out, err) = cli.run_losing_the_answer("renew", &dir, &[]);
    assert_eq!(code, 5, "{out}{err}");
    // The server renewed: the device's certificate is superseded (refused, on the CRL).
    let renewed = device_record(&server, "SN-RENEW")["certificate"].clone();
    assert_ne!(renewed["pem"].as_str(), Some(old_cert.as_str()));
    assert_eq!(stored_cert(&dir), old_cert);
    let (code, _, err) = cli.run("hello", &dir, &[]);
    assert_eq!(code, 4, "the superseded certificate is refused: {err}");
    let lost_csr = pending_csr(&dir);

    // The superseded certificate gets nothing for any other CSR (a copy of the old key).
    let old = http(&server, Some((&old_cert, &old_key)));
    let other = vouch_protocol::p256::ecdsa::SigningKey::random(&mut rand_core::OsRng);
    let body = json!({"csr": vouch_protocol::enroll::encode_base64(&csr_for(&other, "SN-RENEW"))});
    let (status, answer) = call(&old, &server, Method::POST, "/v1/device/renew", Some(body)).await;
    assert_eq!((status, answer["code"].as_str()), (403, Some("forbidden")));

    // The agent finishes its pending renewal at once, although its stored certificate is not
    // due (the server's window is 30 days of 365).
    let (code, out, err) = cli.run("renew", &dir, &["--when-due"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("renewed"), "{out}");
    assert_eq!(Some(stored_cert(&dir).as_str()), renewed["pem"].as_str());
    assert_eq!(device_record(&server, "SN-RENEW")["certificate"], renewed);
    assert!(!dir.join("pending.json").exists());
    let (code, out, err) = cli.run("hello", &dir, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        audit_count(&server, "device.renewed"),
        1,
        "delivered, not issued again"
    );

    // Once the device has renewed again, the first certificate fetches nothing any more.
    let (code, out, err) = cli.run("renew", &dir, &[]);
    assert_eq!(code, 0, "{out}{err}");
    let (status, _) = call(
        &old,
        &server,
        Method::POST,
        "/v1/device/renew",
        Some(json!({ "csr": lost_csr })),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(audit_count(&server, "device.duplicate_enrollment"), 0);
}

/// How many runs to kill, over all devices.
const KILLS: usize = 64;

/// `vouch-device enroll` (until the device has a certificate) and then `renew`, killed with
/// SIGKILL at random moments, over and over; then one run each to finish. Every device must
/// end up with the certificate the server considers current, and nothing may be flagged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enroll_and_renew_survive_sigkill_at_any_moment() {
    // Retries after kills come fast: the enrollment rate limits must not be what is tested.
    let server = Server::start_with_config(&[
        (
            "rate_per_serial_per_minute = 12",
            "rate_per_serial_per_minute = 60000",
        ),
        (
            "rate_per_address_per_minute = 120",
            "rate_per_address_per_minute = 60000",
        ),
    ]);
    let mut tech = register(&server, "technician", "T").await;
    let work = tempfile::tempdir().unwrap();
    let cli = DeviceCli::new(&server);
    let mut devices = Vec::new();
    for i in 0..4 {
        let serial = format!("SN-KILL{i}");
        let dir = approved_device(&server, &mut tech, work.path(), &serial).await;
        devices.push((serial, dir, i % 2 == 1));
    }

    let (mut kills, mut finished, mut lost) = (0, 0, 0);
    let mut run_times = RunTimes::default();
    let started = Instant::now();
    for round in 0.. {
        if kills >= KILLS {
            break;
        }
        assert!(round < 20 * KILLS, "{kills} kills in {round} rounds");
        let (serial, dir, rekey) = &devices[round % devices.len()];
        let errors = work.path().join(format!("{serial}.stderr"));
        let mut child = next_step(&cli, dir, *rekey)
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&errors).unwrap())
            .spawn()
            .unwrap();
        // Every fifth run is left to finish: it measures how long a whole run takes now (five,
        // not four, so that the measured runs go round the four devices).
        let measure = round % 5 == 0;
        let run = Instant::now();
        let outcome = if measure {
            Some(child.wait().unwrap().code())
        } else {
            kill_at(&mut child, millis_below(run_times.typical().mul_f64(1.2)))
        };
        if let Some(code) = outcome {
            let said = std::fs::read_to_string(&errors).unwrap_or_default();
            assert_eq!(code, Some(0), "{serial} after {kills} kills: {said}");
            finished += 1;
            if measure {
                run_times.record(run.elapsed());
            }
        } else {
            kills += 1;
            lost += usize::from(answer_lost(&server, serial, dir));
        }
    }
    eprintln!(
        "{kills} kills, {finished} runs finished, {lost} answers lost after the server's commit, \
         in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    for (serial, dir, rekey) in &devices {
        let out = next_step(&cli, dir, *rekey).output().unwrap();
        assert!(out.status.success(), "{serial}: {out:?}");
        let (code, hello, err) = cli.run("hello", dir, &[]);
        assert_eq!(code, 0, "{serial}: {err}");
        assert!(hello.contains("enrolled"), "{hello}");
        let record = device_record(&server, serial);
        assert_eq!(
            record["certificate"]["pem"].as_str(),
            Some(stored_cert(dir).as_str())
        );
        assert!(!has_event(&record, "duplicate_enrollment"), "{record}");
        assert!(!dir.join("pending.json").exists());
    }
    assert_eq!(audit_count(&server, "device.duplicate_enrollment"), 0);
    assert!(server
        .admin_ok(&["audit", "verify"])
        .contains("audit log OK"));
}

/// The durations of the last few runs that were left to finish. The kill moment is drawn below
/// their median, not their maximum: one run slowed by a loaded machine must not stretch the
/// window until almost every run finishes before its kill (CI once saw 60 kills in 1280 rounds).
#[derive(Default)]
struct RunTimes(std::collections::VecDeque<Duration>);

impl RunTimes {
    /// How many recent runs the median is taken over.
    const KEPT: usize = 9;

    fn record(&mut self, took: Duration) {
        if self.0.len() == Self::KEPT {
            self.0.pop_front();
        }
        self.0.push_back(took);
    }

    /// The median of the recent runs, or 300 ms before any run has been measured.
    fn typical(&self) -> Duration {
        let mut sorted: Vec<Duration> = self.0.iter().copied().collect();
        sorted.sort();
        sorted
            .get(sorted.len() / 2)
            .copied()
            .unwrap_or(Duration::from_millis(300))
    }
}

/// What a simple agent script would run next: `enroll` until `cert.pem` exists, then `renew`.
/// A run killed while it moved a committed certificate into place leaves it staged
/// (`cert.pem.new`, no `cert.pem`): the `enroll` that follows finishes the install and succeeds
/// (it used to find the device already enrolled and exit 2: CI's failure).
fn next_step(cli: &DeviceCli<'_>, dir: &Path, rekey: bool) -> std::process::Command {
    if dir.join("cert.pem").exists() {
        cli.command("renew", dir, &[])
    } else {
        cli.command("enroll", dir, if rekey { &["--rekey"][..] } else { &[] })
    }
}

/// A uniformly random duration below `limit`.
fn millis_below(limit: Duration) -> Duration {
    let ms = u64::try_from(limit.as_millis()).unwrap().max(1);
    Duration::from_millis(rand_core::OsRng.next_u64() % ms)
}

/// Waits `at`, then kills the child with SIGKILL if it is still running. `Some(exit code)` if
/// it finished first, `None` if it was killed.
fn kill_at(child: &mut Child, at: Duration) -> Option<Option<i32>> {
    let deadline = Instant::now() + at;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status.code());
        }
        if Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    // It may have finished between the last look and the kill.
    status.code().map(Some)
}

/// Whether the server holds a certificate for the device that the device has not stored: the
/// kill came after the server's commit and before the answer was stored.
fn answer_lost(server: &Server, serial: &str, dir: &Path) -> bool {
    let current = device_record(server, serial)["certificate"]["pem"].clone();
    // A certificate committed but not yet moved into place is stored: the next run installs it.
    let stored = std::fs::read_to_string(dir.join("cert.pem.new"))
        .or_else(|_| std::fs::read_to_string(dir.join("cert.pem")))
        .ok();
    current.as_str().is_some() && current.as_str() != stored.as_deref()
}

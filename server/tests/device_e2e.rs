//! The device agent (`vouch-device`, library and CLI) against the real `vouch-server` binary:
//! keygen to hello, refused before approval, a replayed answer refused, --rekey, renewal.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::process::Command;

use common::*;
use vouch_device::client::{answer_challenge, request_challenge, submit_answer, EnrollOptions};
use vouch_device::{EnrollMode, Session};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keygen_scan_enroll_after_approval_then_hello_and_renew() {
    let server = Server::start();
    let mut tech = register(&server, "technician", "T").await;
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("dev1");
    let label = device_keygen(&dir, "SN-DEV1");
    assert!(label.starts_with("VOUCH1:ACME-T1:SN-DEV1:"), "{label}");
    let cli = DeviceCli::new(&server);

    // Not vouched for yet: refused (4); vouched but not approved: try later (3).
    let (code, _, err) = cli.run("enroll", &dir, &[]);
    assert_eq!(code, 4, "{err}");
    tech.scan_and_upload(&server, &label).await;
    let (code, _, err) = cli.run("enroll", &dir, &[]);
    assert_eq!(code, 3, "{err}");

    server.admin_ok(&["device", "approve", "SN-DEV1", "--reason", "label checked"]);
    let (code, out, err) = cli.run("enroll", &dir, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(dir.join("cert.pem").exists());

    let (code, out, err) = cli.run("hello", &dir, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("SN-DEV1") && out.contains("enrolled"), "{out}");
    assert!(
        out.contains("renew_after_ms"),
        "the server's renewal window: {out}"
    );

    // A fresh 365-day certificate is not due in the server's 30-day window: nothing changes.
    let before = std::fs::read_to_string(dir.join("cert.pem")).unwrap();
    let (code, out, err) = cli.run("renew", &dir, &["--when-due"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("not due"), "{out}");
    assert_eq!(
        std::fs::read_to_string(dir.join("cert.pem")).unwrap(),
        before
    );

    let (code, out, err) = cli.run("renew", &dir, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert_ne!(
        std::fs::read_to_string(dir.join("cert.pem")).unwrap(),
        before
    );
    let (code, out, _) = cli.run("hello", &dir, &[]);
    assert_eq!(code, 0, "{out}");

    // A wrong CA is refused before anything is sent (6).
    let other = tempfile::tempdir().unwrap();
    let fake_ca = other.path().join("ca.pem");
    std::fs::write(
        &fake_ca,
        rcgen::generate_simple_self_signed(vec!["x".into()])
            .unwrap()
            .cert
            .pem(),
    )
    .unwrap();
    let out = Command::new(device_bin())
        .args(["hello", "--dir"])
        .arg(&dir)
        .args(["--server", &server.url(), "--ca"])
        .arg(&fake_ca)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    server.admin_ok(&["device", "revoke", "SN-DEV1", "--reason", "retired"]);
    let (code, _, _) = cli.run("hello", &dir, &[]);
    assert_ne!(code, 0, "a revoked device is refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rekey_enrollment_with_the_cli() {
    let server = Server::start();
    let mut tech = register(&server, "technician", "T").await;
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("dev2");
    let label = device_keygen(&dir, "SN-DEV2");
    tech.scan_and_upload(&server, &label).await;
    server.admin_ok(&["device", "approve", "SN-DEV2", "--reason", "ok"]);
    let cli = DeviceCli::new(&server);
    let (code, out, err) = cli.run("enroll", &dir, &["--rekey"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(dir.join("operational.key.pem").exists());
    let (code, out, _) = cli.run("hello", &dir, &[]);
    assert_eq!(code, 0, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_answer_is_refused() {
    let server = Server::start();
    let mut tech = register(&server, "technician", "T").await;
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("dev3");
    let device = vouch_device::keygen(
        &dir,
        &"ACME-T1".parse_model(),
        &vouch_protocol::Serial::new("SN-DEV3").unwrap(),
    )
    .unwrap();
    tech.scan_and_upload(&server, &device.label().to_compact().unwrap())
        .await;
    server.admin_ok(&["device", "approve", "SN-DEV3", "--reason", "ok"]);

    let target =
        vouch_device::Server::new(&server.url(), &server.data().join("ca/ca.pem")).unwrap();
    let mut session = Session::open(&target, None).await.unwrap();
    let challenge = request_challenge(&mut session, device.serial())
        .await
        .unwrap();
    let answer = answer_challenge(
        &device,
        &challenge,
        session.channel_binding(),
        &EnrollOptions {
            mode: EnrollMode::SameKey,
            ..Default::default()
        },
    )
    .unwrap();
    submit_answer(&mut session, &answer.request).await.unwrap();

    let mut second = Session::open(&target, None).await.unwrap();
    let replay = submit_answer(&mut second, &answer.request).await;
    assert!(
        matches!(replay, Err(vouch_device::Error::Refused { .. })),
        "{replay:?}"
    );
}

trait ParseModel {
    fn parse_model(&self) -> vouch_protocol::Model;
}

impl ParseModel for str {
    fn parse_model(&self) -> vouch_protocol::Model {
        vouch_protocol::Model::new(self).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renew_when_due_follows_the_servers_window() {
    // A window longer than the certificate's validity: due at once.
    let server =
        Server::start_with_config(&[("renew_before_days = 30", "renew_before_days = 400")]);
    let mut tech = register(&server, "technician", "T").await;
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("dev2");
    let label = device_keygen(&dir, "SN-DEV2");
    tech.scan_and_upload(&server, &label).await;
    server.admin_ok(&["device", "approve", "SN-DEV2", "--reason", "ok"]);
    let cli = DeviceCli::new(&server);
    let (code, out, err) = cli.run("enroll", &dir, &[]);
    assert_eq!(code, 0, "{out}{err}");
    let before = std::fs::read_to_string(dir.join("cert.pem")).unwrap();
    let (code, out, err) = cli.run("renew", &dir, &["--when-due"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("renewed"), "{out}");
    assert_ne!(
        std::fs::read_to_string(dir.join("cert.pem")).unwrap(),
        before
    );
}

//! The `vouch-device` binary: output and exit codes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::process::Command;

fn cli() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vouch-device"))
}

#[test]
fn keygen_prints_the_label_and_refuses_a_second_time() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dev");
    let out = cli()
        .args(["keygen", "--dir"])
        .arg(&dir)
        .args(["--model", "ACME-T1", "--serial", "SN-0001"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let label = String::from_utf8(out.stdout).unwrap();
    let parsed = vouch_protocol::Label::parse(label.trim()).unwrap();
    assert_eq!(parsed.serial().as_str(), "SN-0001");

    let again = cli()
        .args(["keygen", "--dir"])
        .arg(&dir)
        .args(["--model", "ACME-T1", "--serial", "SN-0001"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("refusing to overwrite"));

    let png = tmp.path().join("l.png");
    let svg = tmp.path().join("l.svg");
    let out = cli()
        .args(["label", "--dir"])
        .arg(&dir)
        .arg("--png")
        .arg(&png)
        .arg("--svg")
        .arg(&svg)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(png.exists() && svg.exists());
}

#[test]
fn argument_errors_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: Vec<Vec<String>> = vec![
        vec![
            "keygen".into(),
            "--dir".into(),
            tmp.path().join("x").display().to_string(),
            "--model".into(),
            "acme".into(),
            "--serial".into(),
            "SN-1".into(),
        ],
        vec![
            "label".into(),
            "--dir".into(),
            tmp.path().display().to_string(),
        ],
        vec!["enroll".into()],
        vec!["no-such-command".into()],
        vec![
            "enroll".into(),
            "--dir".into(),
            "d".into(),
            "--server".into(),
            "https://127.0.0.1:1".into(),
            "--ca".into(),
            "ca.pem".into(),
            "--deadline".into(),
            "5".into(),
        ],
    ];
    for args in cases {
        let out = cli()
            .args(&args)
            .env_remove("VOUCH_SERVER")
            .env_remove("VOUCH_CA")
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn help_lists_the_exit_codes() {
    let out = cli().args(["enroll", "--help"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    for line in [
        "3  not yet approved",
        "4  refused",
        "5  server unreachable",
        "6  bad CA",
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
}

#[test]
fn bad_ca_and_unreachable_exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dev");
    vouch_device::keygen(
        &dir,
        &vouch_protocol::Model::new("ACME-T1").unwrap(),
        &vouch_protocol::Serial::new("SN-0001").unwrap(),
    )
    .unwrap();
    let bad_ca = tmp.path().join("ca.pem");
    std::fs::write(&bad_ca, "nope").unwrap();
    let out = cli()
        .args(["enroll", "--dir"])
        .arg(&dir)
        .args(["--server", "https://127.0.0.1:1", "--ca"])
        .arg(&bad_ca)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A real CA file, nobody listening.
    let ca = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(&bad_ca, ca.cert.pem()).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = cli()
        .args(["enroll", "--dir"])
        .arg(&dir)
        .args(["--server", &format!("https://127.0.0.1:{port}"), "--ca"])
        .arg(&bad_ca)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

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
fn keygen_help_shows_the_whole_alphabets() {
    let out = cli().args(["keygen", "--help"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    // The '.' ends each alphabet; clap drops a trailing full stop, so it must not be last.
    assert!(
        text.contains("1 to 24 characters from 0-9 A-Z - . ("),
        "the model's alphabet lost its '.':\n{text}"
    );
    assert!(
        text.contains("1 to 32 characters from 0-9 A-Z - . ("),
        "the serial's alphabet lost its '.':\n{text}"
    );
    assert!(text.contains("not only dots"), "{text}");
}

#[test]
fn a_serial_of_dots_is_refused_by_keygen() {
    let tmp = tempfile::tempdir().unwrap();
    for serial in [".", ".."] {
        let dir = tmp.path().join(format!("d{}", serial.len()));
        let out = cli()
            .args(["keygen", "--dir"])
            .arg(&dir)
            .args(["--model", "ACME-T1", "--serial", serial])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{serial}: {stderr}");
        assert!(stderr.contains("only of dots"), "{serial}: {stderr}");
        assert!(!dir.join("label.key.pem").exists(), "no key for {serial:?}");
    }
}

#[test]
fn label_needs_png_svg_or_both() {
    let tmp = tempfile::tempdir().unwrap();
    let out = cli()
        .args(["label", "--dir"])
        .arg(tmp.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("required arguments were not provided")
            && stderr.contains("<--png <PNG>|--svg <SVG>>"),
        "the error must offer both outputs:\n{stderr}"
    );
    let help = cli().args(["label", "--help"]).output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(help.contains("give --png, --svg or both"), "{help}");
    assert!(help.contains("<--png <PNG>|--svg <SVG>>"), "{help}");
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

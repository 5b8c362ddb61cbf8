//! Issued certificates lint clean with pkilint and verify with `openssl verify -x509_strict
//! -purpose sslclient`; sslyze finds the TLS configuration compliant with Mozilla's
//! intermediate profile. The tools are installed by scripts/setup.sh; a missing tool fails the
//! test (it does not skip it), so CI always runs these checks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

fn run(tool: &str, args: &[&str]) -> (bool, String) {
    let program = vouch_testkit::external_tool(tool);
    let out = Command::new(&program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{} could not be run ({e})", program.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn lint(cert: &Path, ca: &Path, purpose: &str) {
    let (ok, text) = run(
        "lint_pkix_cert",
        &["lint", "-s", "NOTICE", cert.to_str().unwrap()],
    );
    assert!(
        ok && text.trim().is_empty(),
        "pkilint findings for {}:\n{text}",
        cert.display()
    );
    let (ok, text) = run(
        "lint_pkix_signer_signee_cert_chain",
        &[
            "lint",
            "-s",
            "NOTICE",
            ca.to_str().unwrap(),
            cert.to_str().unwrap(),
        ],
    );
    assert!(
        ok && text.trim().is_empty(),
        "pkilint chain findings for {}:\n{text}",
        cert.display()
    );
    let (ok, text) = run(
        "openssl",
        &[
            "verify",
            "-x509_strict",
            "-purpose",
            purpose,
            "-CAfile",
            ca.to_str().unwrap(),
            cert.to_str().unwrap(),
        ],
    );
    assert!(ok, "openssl verify {}:\n{text}", cert.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issued_certificates_lint_clean_and_verify_strictly() {
    let server = Server::start();
    let staff = register(&server, "technician", "Tess").await;
    let mut tech = register(&server, "technician", "T").await;
    let device = Device::new("SN-LINT");
    tech.scan_and_upload(&server, &device.text()).await;
    server.admin_ok(&["device", "approve", "SN-LINT", "--reason", "ok"]);
    let (status, cert, _) = enroll(&server, &device, &EnrollOptions::default()).await;
    assert_eq!(status, 200, "{cert}");

    let dir = tempfile::tempdir().unwrap();
    let ca = server.data().join("ca/ca.pem");
    let write = |name: &str, pem: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, pem).unwrap();
        path
    };
    lint(
        &write("device.pem", cert["certificate_pem"].as_str().unwrap()),
        &ca,
        "sslclient",
    );
    lint(&write("staff.pem", &staff.cert_pem), &ca, "sslclient");
    lint(
        &server.data().join("operator/operator.pem"),
        &ca,
        "sslclient",
    );
    // The server certificate names "localhost", which pkilint refuses as a single-label domain;
    // it is checked with openssl only.
    let (ok, text) = run(
        "openssl",
        &[
            "verify",
            "-x509_strict",
            "-purpose",
            "sslserver",
            "-CAfile",
            ca.to_str().unwrap(),
            server.data().join("tls/server.pem").to_str().unwrap(),
        ],
    );
    assert!(ok, "openssl verify server.pem:\n{text}");
    let (ok, text) = run(
        "lint_pkix_cert",
        &["lint", "-s", "NOTICE", ca.to_str().unwrap()],
    );
    assert!(
        ok && text.trim().is_empty(),
        "pkilint findings for the CA:\n{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sslyze_finds_the_server_mozilla_intermediate_compliant() {
    let server = Server::start();
    let staff = register(&server, "technician", "Tess").await;
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("staff.pem");
    let key = dir.path().join("staff.key.pem");
    std::fs::write(&cert, &staff.cert_pem).unwrap();
    std::fs::write(&key, &staff.key_pem).unwrap();
    let target = format!("localhost:{}", server.addr.port());
    let (ok, text) = run(
        "sslyze",
        &[
            "--mozilla_config=intermediate",
            "--certinfo_ca_file",
            server.data().join("ca/ca.pem").to_str().unwrap(),
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            &target,
        ],
    );
    assert!(
        ok,
        "sslyze: not compliant with Mozilla intermediate:\n{text}"
    );
    assert!(
        text.contains(&format!("{target}: OK - Compliant.")),
        "{text}"
    );
}

//! Issued certificates lint clean with pkilint and verify with `openssl verify -x509_strict
//! -purpose sslclient`; sslyze finds the TLS configuration compliant with Mozilla's
//! intermediate profile. The tools are installed by scripts/setup.sh; a missing tool fails the
//! test (it does not skip it), so CI always runs these checks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::lint::{lint, lint_ca, lint_crl, lint_server_certificate, run};
use common::*;

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
    lint_server_certificate(&server.data().join("tls/server.pem"), &ca);
    lint_ca(&ca);
}

/// The CRL, with revoked staff and device certificates in it, lints clean (pkilint's PKIX
/// profile) and verifies against the CA with openssl.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_crl_lints_clean() {
    let server = Server::start();
    let gone = register(&server, "technician", "Gone").await;
    server.admin_ok(&["staff", "revoke", &gone.key_id, "--reason", "tablet lost"]);
    let mut tech = register(&server, "technician", "T").await;
    let device = Device::new("SN-CRL");
    tech.scan_and_upload(&server, &device.text()).await;
    server.admin_ok(&["device", "approve", "SN-CRL", "--reason", "ok"]);
    let (status, cert, _) = enroll(&server, &device, &EnrollOptions::default()).await;
    assert_eq!(status, 200, "{cert}");
    server.admin_ok(&["device", "revoke", "SN-CRL", "--reason", "decommissioned"]);

    let resp = http(&server, None)
        .get(format!("{}/v1/crl", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let der = resp.bytes().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let crl = dir.path().join("vouch.crl");
    std::fs::write(&crl, &der).unwrap();
    let text = lint_crl(&crl, &server.ca_pem_path());
    assert_eq!(
        text.matches("Serial Number:").count(),
        2,
        "the staff and the device certificate are listed:\n{text}"
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

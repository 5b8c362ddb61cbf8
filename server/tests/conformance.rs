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
    lint_server_certificate(&server.data().join("tls/server.pem"), &ca);
    let (ok, text) = run(
        "lint_pkix_cert",
        &["lint", "-s", "NOTICE", ca.to_str().unwrap()],
    );
    assert!(
        ok && text.trim().is_empty(),
        "pkilint findings for the CA:\n{text}"
    );
}

/// pkilint's one accepted finding on the server certificate: the `localhost` DNS name that
/// `init` always adds (PROTOCOL.md 11.12.2). pkilint refuses single-label names; the admin
/// commands, the default invite URL and local clients connect to `https://localhost:PORT`, and
/// `localhost` (RFC 6761) never names another host, so the name stays (SECURITY.md 4.10).
const ACCEPTED_SERVER_FINDING: (&str, &str) = (
    "pkix.invalid_domain_name_syntax",
    "Invalid domain name syntax: \"localhost\"",
);

/// Lints the server certificate (pkilint, allowing exactly the accepted finding; the chain
/// with no finding) and verifies it for TLS servers with openssl.
fn lint_server_certificate(cert: &Path, ca: &Path) {
    let (_, text) = run(
        "lint_pkix_cert",
        &["lint", "-s", "NOTICE", "-f", "JSON", cert.to_str().unwrap()],
    );
    let report: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("pkilint's JSON for the server certificate ({e}):\n{text}"));
    let findings: Vec<(String, String)> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["finding_descriptions"].as_array().unwrap().iter())
        .map(|f| {
            let field = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            (field("code"), field("message"))
        })
        .collect();
    let accepted = (
        ACCEPTED_SERVER_FINDING.0.to_string(),
        ACCEPTED_SERVER_FINDING.1.to_string(),
    );
    assert_eq!(
        findings,
        vec![accepted],
        "pkilint findings for the server certificate:\n{text}"
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
        "pkilint chain findings for the server certificate:\n{text}"
    );
    let (ok, text) = run(
        "openssl",
        &[
            "verify",
            "-x509_strict",
            "-purpose",
            "sslserver",
            "-CAfile",
            ca.to_str().unwrap(),
            cert.to_str().unwrap(),
        ],
    );
    assert!(ok, "openssl verify {}:\n{text}", cert.display());
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
    let (ok, text) = run(
        "lint_crl",
        &[
            "lint",
            "-t",
            "CRL",
            "-p",
            "PKIX",
            "-s",
            "NOTICE",
            crl.to_str().unwrap(),
        ],
    );
    assert!(
        ok && text.trim().is_empty(),
        "pkilint CRL findings:\n{text}"
    );
    let (ok, text) = run(
        "openssl",
        &[
            "crl",
            "-inform",
            "DER",
            "-noout",
            "-text",
            "-CAfile",
            server.ca_pem_path().to_str().unwrap(),
            "-in",
            crl.to_str().unwrap(),
        ],
    );
    assert!(ok && text.contains("verify OK"), "openssl crl:\n{text}");
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

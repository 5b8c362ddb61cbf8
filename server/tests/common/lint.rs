//! The external checks of issued certificates (shared by conformance.rs and hsm.rs): pkilint and
//! `openssl verify -x509_strict`, found with `vouch_testkit::external_tool`; a missing tool
//! fails the test.

use std::path::Path;
use std::process::Command;

/// Runs an external tool; (success, stdout and stderr).
pub fn run(tool: &str, args: &[&str]) -> (bool, String) {
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

pub fn lint(cert: &Path, ca: &Path, purpose: &str) {
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
pub fn lint_server_certificate(cert: &Path, ca: &Path) {
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

/// Lints the CA certificate itself (pkilint's PKIX profile): no finding at all.
pub fn lint_ca(ca: &Path) {
    let (ok, text) = run(
        "lint_pkix_cert",
        &["lint", "-s", "NOTICE", ca.to_str().unwrap()],
    );
    assert!(
        ok && text.trim().is_empty(),
        "pkilint findings for the CA:\n{text}"
    );
}

/// Lints a CRL (pkilint's PKIX profile) and checks its signature against the CA with openssl;
/// returns openssl's text of it.
pub fn lint_crl(crl: &Path, ca: &Path) -> String {
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
            ca.to_str().unwrap(),
            "-in",
            crl.to_str().unwrap(),
        ],
    );
    assert!(ok && text.contains("verify OK"), "openssl crl:\n{text}");
    text
}

//! The CA key in a PKCS#11 token (issue 17), with SoftHSM2 as the token: each test makes its
//! own token in a temporary folder (`softhsm2-util --init-token`, `SOFTHSM2_CONF` pointing at a
//! config whose token folder is in there), runs the real `vouch-server` on it, and checks what a
//! person would: the certificates and the CRL the token signed lint clean and verify, the key's
//! attributes read back from the token say it cannot leave, refusals are clear and leave no data
//! folder, and a token pulled while serving gives 503s that end when it is back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::lint::{lint, lint_ca, lint_crl, lint_server_certificate};
use common::*;
use reqwest::Method;
use serde_json::json;
use vouch_testkit::ServerProcess;

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const PIN: &str = "pin-Vq7zX4";
const SO_PIN: &str = "90210";

/// A SoftHSM2 token in a temporary folder.
struct Token {
    dir: tempfile::TempDir,
    label: &'static str,
}

impl Token {
    fn new(label: &'static str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("tokens")).unwrap();
        std::fs::write(
            dir.path().join("softhsm2.conf"),
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                dir.path().join("tokens").display()
            ),
        )
        .unwrap();
        let token = Self { dir, label };
        let out = token
            .command("softhsm2-util")
            .args(["--init-token", "--free", "--label", label])
            .args(["--pin", PIN, "--so-pin", SO_PIN])
            .output()
            .unwrap();
        assert!(out.status.success(), "softhsm2-util: {out:?}");
        token
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("softhsm2.conf")
    }

    /// A command that sees this token (and only it).
    fn command(&self, tool: &str) -> Command {
        let mut cmd = Command::new(vouch_testkit::external_tool(tool));
        cmd.env("SOFTHSM2_CONF", self.conf());
        cmd
    }

    fn uri(&self, object: &str) -> String {
        format!("pkcs11:token={};object={object}", self.label)
    }

    /// `vouch-server init` through this token, the PIN in `VOUCH_PKCS11_PIN`.
    fn init(&self, data: &Path, pin: Option<&str>, uri: &str, new_key: bool) -> Output {
        let mut cmd = Command::new(bin());
        cmd.env("SOFTHSM2_CONF", self.conf())
            .env_remove("VOUCH_PKCS11_PIN")
            .arg("--data")
            .arg(data)
            .args(["init", "--hostname", "localhost", "--ca-key-uri", uri]);
        if new_key {
            cmd.arg("--new-ca-key");
        }
        if let Some(pin) = pin {
            cmd.env("VOUCH_PKCS11_PIN", pin);
        }
        cmd.output().unwrap()
    }

    /// A data folder initialised with a new key `object` in this token.
    fn init_new(&self, object: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let out = self.init(&data, Some(PIN), &self.uri(object), true);
        assert!(out.status.success(), "init: {}", stderr(&out));
        // The server's data folder is the temporary folder itself (as the testkit expects).
        for entry in std::fs::read_dir(&data).unwrap() {
            let entry = entry.unwrap();
            std::fs::rename(entry.path(), dir.path().join(entry.file_name())).unwrap();
        }
        std::fs::remove_dir(&data).unwrap();
        dir
    }

    fn serve(&self, dir: tempfile::TempDir, pin: &str) -> Result<Server, String> {
        let conf = self.conf();
        let env = [
            ("SOFTHSM2_CONF", conf.to_str().unwrap()),
            ("VOUCH_PKCS11_PIN", pin),
        ];
        ServerProcess::try_serve_with_env(Path::new(bin()), dir, "127.0.0.1:0", "info", &env)
            .map(Server::from_process)
    }

    /// pkcs11-tool's listing of the private keys (their attributes as it names them).
    fn private_keys(&self) -> String {
        let (ok, text) = self.tool(&["--list-objects", "--type", "privkey"]);
        assert!(ok, "pkcs11-tool: {text}");
        text
    }

    fn tool(&self, args: &[&str]) -> (bool, String) {
        let out = self
            .command("pkcs11-tool")
            .args([
                "--module",
                MODULE,
                "--token-label",
                self.label,
                "--login",
                "--pin",
                PIN,
            ])
            .args(args)
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        (out.status.success(), text)
    }

    /// Pulls the token: its folder goes away (as a USB token leaves its slot).
    fn pull(&self) {
        std::fs::rename(self.dir.path().join("tokens"), self.dir.path().join("away")).unwrap();
    }

    fn plug_back(&self) {
        std::fs::rename(self.dir.path().join("away"), self.dir.path().join("tokens")).unwrap();
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// A staff member scans `serial` and a supervisor approves it.
async fn vouch(server: &Server, tech: &mut Staff, device: &Device) {
    let (status, body) = tech.scan_and_upload(server, &device.text()).await;
    assert_eq!(status, 200, "{body}");
    server.admin_ok(&["device", "approve", device.serial(), "--reason", "ok"]);
}

async fn get(server: &Server, path: &str) -> (u16, Vec<u8>) {
    let resp = http(server, None)
        .get(format!("{}{path}", server.url()))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.bytes().await.unwrap().to_vec())
}

/// init makes the key in the token, every CA signature comes from it, everything lints clean
/// and verifies, and the key is sensitive and never extractable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_ca_signs_everything_and_its_key_stays_in_the_token() {
    let token = Token::new("vouch-a");
    let dir = token.init_new("vouch-ca");
    assert!(!dir.path().join("ca/ca.key.pem").exists(), "no key file");
    let uri = std::fs::read_to_string(dir.path().join("ca/ca.key.uri")).unwrap();
    assert_eq!(uri.trim(), token.uri("vouch-ca"));
    let server = token.serve(dir, PIN).unwrap();

    let staff = register(&server, "technician", "Tess").await;
    let mut tech = register(&server, "technician", "T").await;
    let device = Device::new("SN-HSM-1");
    vouch(&server, &mut tech, &device).await;
    let (status, cert, _) = enroll(&server, &device, &EnrollOptions::default()).await;
    assert_eq!(status, 200, "{cert}");
    let cert_pem = cert["certificate_pem"].as_str().unwrap();

    // A renewal, signed by the token too.
    let mtls = http(&server, Some((cert_pem, &key_pem(&device.key))));
    let next = vouch_protocol::p256::ecdsa::SigningKey::random(&mut rand_core::OsRng);
    let body = json!({"csr": vouch_protocol::enroll::encode_base64(&csr_for(&next, "SN-HSM-1"))});
    let (status, renewed) =
        call(&mtls, &server, Method::POST, "/v1/device/renew", Some(body)).await;
    assert_eq!(status, 200, "{renewed}");

    let out = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = out.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let ca = server.ca_pem_path();
    lint(&write("device.pem", cert_pem.as_bytes()), &ca, "sslclient");
    let renewed_pem = renewed["certificate_pem"].as_str().unwrap();
    lint(
        &write("renewed.pem", renewed_pem.as_bytes()),
        &ca,
        "sslclient",
    );
    lint(
        &write("staff.pem", staff.cert_pem.as_bytes()),
        &ca,
        "sslclient",
    );
    lint(
        &server.data().join("operator/operator.pem"),
        &ca,
        "sslclient",
    );
    lint_server_certificate(&server.data().join("tls/server.pem"), &ca);
    lint_ca(&ca);

    // The renewal revoked the first certificate: the token-signed CRL lists it.
    let (status, crl) = get(&server, "/v1/crl").await;
    assert_eq!(status, 200);
    let text = lint_crl(&write("vouch.crl", &crl), &ca);
    assert_eq!(text.matches("Serial Number:").count(), 1, "{text}");

    // The key's attributes, read back from the token: sensitive, not extractable.
    let keys = token.private_keys();
    assert_eq!(keys.matches("Private Key Object; EC").count(), 1, "{keys}");
    let access: Vec<&str> = keys
        .lines()
        .find_map(|l| l.trim().strip_prefix("Access:"))
        .unwrap_or_else(|| panic!("no Access line: {keys}"))
        .split(',')
        .map(str::trim)
        .collect();
    for wanted in ["sensitive", "always sensitive", "never extractable"] {
        assert!(access.contains(&wanted), "{wanted} missing: {keys}");
    }
    assert!(
        !access.contains(&"extractable"),
        "CKA_EXTRACTABLE is true: {keys}"
    );
    assert!(!server.log().contains(PIN), "the PIN is in the log");
}

/// Wrong PIN, missing token, missing key, a PIN in the URI, no PIN at all: each refused with a
/// message that says which, and no data folder is left behind.
#[test]
fn init_refusals_are_clear_and_leave_no_data_folder() {
    let token = Token::new("vouch-b");
    let made = token.init_new("vouch-ca");
    let base = tempfile::tempdir().unwrap();
    let data = base.path().join("data");
    let cases = [
        (
            Some("0000"),
            token.uri("vouch-ca"),
            false,
            "wrong PIN for token \"vouch-b\"",
        ),
        (
            Some(PIN),
            "pkcs11:token=nowhere;object=vouch-ca".to_string(),
            false,
            "no PKCS#11 token labelled \"nowhere\"",
        ),
        (
            Some(PIN),
            token.uri("other"),
            false,
            "no EC private key labelled \"other\" in token \"vouch-b\"",
        ),
        (
            Some(PIN),
            token.uri("vouch-ca"),
            true,
            "already holds a key labelled \"vouch-ca\"",
        ),
        (
            Some(PIN),
            format!("{}?pin-value={PIN}", token.uri("vouch-ca")),
            false,
            "the PIN never goes in the URI",
        ),
        (
            None,
            token.uri("vouch-ca"),
            false,
            "set the environment variable VOUCH_PKCS11_PIN",
        ),
    ];
    for (pin, uri, new_key, expected) in cases {
        let out = token.init(&data, pin, &uri, new_key);
        assert!(!out.status.success(), "{uri}: init succeeded");
        let err = stderr(&out);
        assert!(err.contains(expected), "{uri}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(!data.exists(), "{uri}: init left {}", data.display());
    }
    // serve refuses as clearly: a wrong PIN stops it before it listens.
    let err = token
        .serve(made, "0000")
        .err()
        .expect("serve with a wrong PIN");
    assert!(err.contains("wrong PIN"), "{err}");
}

/// The token pulled while serving: what needs a signature is 503 `ca_unavailable`, the rest
/// is served (health, the CA, the last CRL, hello); with the token back, signing resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_pulled_while_serving_gives_503_then_recovers() {
    let token = Token::new("vouch-c");
    let server = token.serve(token.init_new("vouch-ca"), PIN).unwrap();
    let mut tech = register(&server, "technician", "T").await;
    let (first, second) = (Device::new("SN-HSM-2"), Device::new("SN-HSM-3"));
    vouch(&server, &mut tech, &first).await;
    vouch(&server, &mut tech, &second).await;
    let (status, cert, _) = enroll(&server, &first, &EnrollOptions::default()).await;
    assert_eq!(status, 200, "{cert}");
    let (status, crl_before) = get(&server, "/v1/crl").await;
    assert_eq!(status, 200);

    token.pull();
    let (status, body, _) = enroll(&server, &second, &EnrollOptions::default()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("ca_unavailable")),
        "{body}"
    );
    assert!(
        body["message"].as_str().unwrap().contains("token"),
        "{body}"
    );
    assert_eq!(get(&server, "/healthz").await.0, 200);
    let (status, ca) = get(&server, "/v1/ca").await;
    assert_eq!(
        (status, String::from_utf8(ca).unwrap()),
        (200, server.ca_pem())
    );
    assert_eq!(
        get(&server, "/v1/crl").await,
        (200, crl_before),
        "the last CRL is served"
    );
    let mtls = http(
        &server,
        Some((
            cert["certificate_pem"].as_str().unwrap(),
            &key_pem(&first.key),
        )),
    );
    assert_eq!(
        call(&mtls, &server, Method::GET, "/v1/device/hello", None)
            .await
            .0,
        200
    );
    // A revocation needs no signature, but the old CRL no longer tells the truth: 503.
    server.admin_ok(&["device", "revoke", "SN-HSM-2", "--reason", "lost"]);
    let (status, body) = get(&server, "/v1/crl").await;
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));

    token.plug_back();
    let (status, cert, _) = enroll(&server, &second, &EnrollOptions::default()).await;
    assert_eq!(status, 200, "{cert}");
    let (status, crl) = get(&server, "/v1/crl").await;
    assert_eq!(status, 200);
    let out = tempfile::tempdir().unwrap();
    let path = out.path().join("after.crl");
    std::fs::write(&path, &crl).unwrap();
    let text = lint_crl(&path, &server.ca_pem_path());
    assert_eq!(text.matches("Serial Number:").count(), 1, "{text}");
    assert!(
        server.log().contains("CA signature failed"),
        "the failure is logged"
    );
}

//! The EST front door (RFC 7030, docs/PROTOCOL.md 12) against the real `vouch-server` binary,
//! with independent clients: strongSwan's `pki` (over TLS 1.3, `STRONGSWAN_CONF`), `curl` and
//! `openssl` (TLS 1.2 and 1.3), and a rustls client where the TLS channel's binding must go
//! into the CSR. Certificates are checked with pkilint and `openssl verify -x509_strict`, and
//! used for the device's mTLS hello.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cms::content_info::ContentInfo;
use cms::signed_data::{CertificateSet, SignedData};
use common::*;
use der::{Decode, Encode};
use reqwest::Method;
use serde_json::Value;
use vouch_protocol::key::public_key_of;
use vouch_protocol::p256::ecdsa::SigningKey;
use vouch_protocol::{Label, Model, Serial};

/// A folder of client files (keys, CSRs, certificates, strongSwan's configuration) and the
/// clients that use them.
struct Client<'a> {
    server: &'a Server,
    dir: tempfile::TempDir,
}

impl<'a> Client<'a> {
    fn new(server: &'a Server) -> Self {
        let dir = tempfile::tempdir().unwrap();
        // strongSwan 5.9.8 speaks TLS 1.2 without the extended master secret by default, which
        // the server refuses; TLS 1.3 it speaks when told.
        std::fs::write(
            dir.path().join("strongswan.conf"),
            "pki {\n  tls {\n    version_max = 1.3\n  }\n}\n",
        )
        .unwrap();
        Self { server, dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn ca(&self) -> PathBuf {
        self.server.ca_pem_path()
    }

    fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn pki_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(vouch_testkit::external_tool("pki"));
        command
            .env("STRONGSWAN_CONF", self.path("strongswan.conf"))
            .args(args);
        command
    }

    fn run(mut command: Command) -> Output {
        command.output().unwrap()
    }

    /// `pki --req`: a DER CSR for the key in `key_file`, subject `CN=<cn>`.
    fn pki_csr(&self, key_file: &Path, cn: &str, name: &str) -> PathBuf {
        let out = Self::run(self.pki_command(&[
            "--req",
            "--in",
            key_file.to_str().unwrap(),
            "--type",
            "priv",
            "--dn",
            &format!("CN={cn}"),
            "--outform",
            "der",
        ]));
        assert!(out.status.success(), "{}", stderr(&out));
        self.write(name, out.stdout)
    }

    /// `pki --est` (with `old`, a certificate and key: simplereenroll); polls every second
    /// or as Retry-After says.
    fn pki_enroll_command(&self, csr: &Path, old: Option<(&Path, &Path)>) -> Command {
        let url = self.server.url();
        let ca = self.ca();
        let mut args = vec![
            "--est",
            "--url",
            &url,
            "--in",
            csr.to_str().unwrap(),
            "--cacert",
            ca.to_str().unwrap(),
            "--outform",
            "pem",
            "--interval",
            "1",
            "--maxpolltime",
            "120",
        ];
        if let Some((cert, key)) = old {
            args.extend(["--cert", cert.to_str().unwrap()]);
            args.extend(["--key", key.to_str().unwrap()]);
        }
        self.pki_command(&args)
    }

    /// `pki --est`; the certificate (PEM) or pki's error output.
    fn pki_enroll(&self, csr: &Path, old: Option<(&Path, &Path)>) -> Result<String, String> {
        let out = Self::run(self.pki_enroll_command(csr, old));
        if out.status.success() {
            Ok(String::from_utf8(out.stdout).unwrap())
        } else {
            Err(stderr(&out))
        }
    }

    /// `curl` to the server with its CA; (status, body).
    fn curl(&self, path: &str, extra: &[&str]) -> (u16, Vec<u8>) {
        let body = self.path("curl.body");
        let _ = std::fs::remove_file(&body);
        let url = format!("{}{path}", self.server.url());
        let out = Command::new(vouch_testkit::external_tool("curl"))
            .args(["-s", "-o", body.to_str().unwrap(), "-w", "%{http_code}"])
            .args(["--cacert", self.ca().to_str().unwrap()])
            .args(extra)
            .arg(&url)
            .output()
            .unwrap();
        let status = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0);
        (status, std::fs::read(&body).unwrap_or_default())
    }

    /// POSTs the file `body` to an EST path with curl as `application/pkcs10`.
    fn curl_post(&self, path: &str, body: &Path, extra: &[&str]) -> (u16, Vec<u8>) {
        let data = format!("@{}", body.display());
        let mut args = vec![
            "-H",
            "Content-Type: application/pkcs10",
            "--data-binary",
            &data,
        ];
        args.extend_from_slice(extra);
        self.curl(path, &args)
    }

    /// `openssl` with these arguments; its stdout.
    fn openssl(&self, args: &[&str]) -> Vec<u8> {
        let out = Command::new(vouch_testkit::external_tool("openssl"))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", stderr(&out));
        out.stdout
    }

    /// An openssl CSR for the key in `key_file` from a request configuration (subject,
    /// attributes, extensions), as base64 with line breaks (`openssl base64`).
    fn openssl_csr(&self, key_file: &Path, config: &str, name: &str) -> PathBuf {
        let config = self.write(&format!("{name}.cnf"), config);
        let der = self.path(&format!("{name}.der"));
        self.openssl(&[
            "req",
            "-new",
            "-key",
            key_file.to_str().unwrap(),
            "-config",
            config.to_str().unwrap(),
            "-outform",
            "DER",
            "-out",
            der.to_str().unwrap(),
        ]);
        let b64 = self.path(&format!("{name}.b64"));
        self.openssl(&[
            "base64",
            "-in",
            der.to_str().unwrap(),
            "-out",
            b64.to_str().unwrap(),
        ]);
        b64
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// An openssl request configuration: subject `CN=<cn>`, optional attributes and extensions.
fn req_config(cn: &str, challenge_password: Option<&str>, extensions: Option<&str>) -> String {
    let mut text = String::from("[req]\nprompt = no\ndistinguished_name = dn\n");
    if challenge_password.is_some() {
        text.push_str("attributes = attrs\n");
    }
    if extensions.is_some() {
        text.push_str("req_extensions = ext\n");
    }
    text.push_str(&format!("[dn]\nCN = {cn}\n"));
    if let Some(password) = challenge_password {
        text.push_str(&format!("[attrs]\nchallengePassword = {password}\n"));
    }
    if let Some(ext) = extensions {
        text.push_str(&format!("[ext]\n{ext}\n"));
    }
    text
}

/// Scans the device's label as a technician; approves it when asked.
async fn vouch(server: &Server, tech: &mut Staff, device: &Device, approve: bool) {
    let (status, answer) = tech.scan_and_upload(server, &device.text()).await;
    assert_eq!(status, 200, "{answer}");
    if approve {
        server.admin_ok(&["device", "approve", device.serial(), "--reason", "ok"]);
    }
}

/// The device as `device show --json` has it.
fn shown(server: &Server, serial: &str) -> Value {
    let text = server.admin_ok(&["device", "show", serial, "--json"]);
    serde_json::from_str::<Value>(&text).unwrap()["device"].clone()
}

/// How many entries of this action the audit log holds.
fn audit_count(server: &Server, action: &str) -> usize {
    server
        .admin_ok(&["audit", "export"])
        .matches(&format!("\"{action}\""))
        .count()
}

async fn hello(server: &Server, cert_pem: &str, key_pem: &str) -> (u16, Value) {
    let mtls = http(server, Some((cert_pem, key_pem)));
    call(&mtls, server, Method::GET, "/v1/device/hello", None).await
}

/// The certificates of a base64 certs-only SignedData, DER.
fn certs_of(base64_body: &[u8]) -> Vec<Vec<u8>> {
    let text: Vec<u8> = base64_body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let der = data_encoding::BASE64.decode(&text).unwrap();
    let info = ContentInfo::from_der(&der).unwrap();
    assert_eq!(info.content_type.to_string(), "1.2.840.113549.1.7.2");
    let signed: SignedData = info.content.decode_as().unwrap();
    assert!(
        signed.signer_infos.0.is_empty(),
        "certs-only has no signers"
    );
    let CertificateSet(set) = signed.certificates.unwrap();
    set.iter()
        .map(|c| match c {
            cms::cert::CertificateChoices::Certificate(c) => c.to_der().unwrap(),
            other => panic!("not a certificate: {other:?}"),
        })
        .collect()
}

fn der_to_pem(der: &[u8]) -> String {
    let b64 = data_encoding::BASE64.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

fn certificate_key(cert_pem: &str) -> Vec<u8> {
    let der = pem_der(cert_pem);
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    cert.public_key().raw.to_vec()
}

fn certificate_serial(cert_pem: &str) -> Vec<u8> {
    let der = pem_der(cert_pem);
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    cert.raw_serial().to_vec()
}

/// pkilint and `openssl verify -x509_strict -purpose sslclient` on a device certificate.
fn lint_device_certificate(client: &Client<'_>, cert_pem: &str, name: &str) {
    let file = client.write(name, cert_pem);
    lint::lint(&file, &client.ca(), "sslclient");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pki_fetches_the_ca_enrolls_and_reenrolls_with_the_same_and_a_new_key() {
    let server = Server::start();
    let client = Client::new(&server);
    let mut tech = register(&server, "technician", "T").await;

    // cacerts: pki checks the answer against the TLS trust anchor and writes it out.
    let caout = client.path("ca-out.pem");
    let out = Client::run(client.pki_command(&[
        "--estca",
        "--url",
        &server.url(),
        "--cacert",
        client.ca().to_str().unwrap(),
        "--caout",
        caout.to_str().unwrap(),
    ]));
    assert!(out.status.success(), "{}", stderr(&out));
    // pki writes DER unless told otherwise.
    assert_eq!(std::fs::read(&caout).unwrap(), pem_der(&server.ca_pem()));

    let device = Device::new("SN-EST-1");
    vouch(&server, &mut tech, &device, true).await;
    let label_key = client.write("label.key", key_pem(&device.key));
    let csr = client.pki_csr(&label_key, device.serial(), "first.der");
    let cert = client.pki_enroll(&csr, None).unwrap();
    assert_eq!(certificate_key(&cert), spki_of(&device.key));
    lint_device_certificate(&client, &cert, "first.pem");
    let (status, hi) = hello(&server, &cert, &key_pem(&device.key)).await;
    assert_eq!(
        (status, hi["serial"].as_str()),
        (200, Some("SN-EST-1")),
        "{hi}"
    );
    assert_eq!(shown(&server, "SN-EST-1")["state"], "enrolled");
    assert_eq!(audit_count(&server, "device.enrolled"), 1);

    // The same CSR again (a lost answer): the same certificate, nothing new issued.
    let again = client.pki_enroll(&csr, None).unwrap();
    assert_eq!(pem_der(&again), pem_der(&cert));
    assert_eq!(audit_count(&server, "device.enrolled"), 1);

    // simplereenroll with the same key: a new certificate, the old one revoked with it.
    let cert_file = client.write("current.pem", &cert);
    let renewal_csr = client.pki_csr(&label_key, device.serial(), "same.der");
    let renewed = client
        .pki_enroll(&renewal_csr, Some((&cert_file, &label_key)))
        .unwrap();
    assert_ne!(certificate_serial(&renewed), certificate_serial(&cert));
    assert_eq!(certificate_key(&renewed), spki_of(&device.key));
    lint_device_certificate(&client, &renewed, "renewed.pem");
    assert_eq!(hello(&server, &cert, &key_pem(&device.key)).await.0, 403);
    assert_eq!(hello(&server, &renewed, &key_pem(&device.key)).await.0, 200);

    // simplereenroll with a new key (re-key): the certificate holds the new key.
    let new_key = SigningKey::random(&mut rand_core::OsRng);
    let new_key_file = client.write("new.key", key_pem(&new_key));
    let rekey_csr = client.pki_csr(&new_key_file, device.serial(), "rekey.der");
    let renewed_file = client.write("renewed-current.pem", &renewed);
    let rekeyed = client
        .pki_enroll(&rekey_csr, Some((&renewed_file, &label_key)))
        .unwrap();
    assert_eq!(certificate_key(&rekeyed), spki_of(&new_key));
    lint_device_certificate(&client, &rekeyed, "rekeyed.pem");
    let (status, hi) = hello(&server, &rekeyed, &key_pem(&new_key)).await;
    assert_eq!(
        (status, hi["serial"].as_str()),
        (200, Some("SN-EST-1")),
        "{hi}"
    );
    assert_eq!(hello(&server, &renewed, &key_pem(&device.key)).await.0, 403);
    assert_eq!(audit_count(&server, "device.renewed"), 2);

    let metrics = reqwest_get_metrics(&server).await;
    assert!(
        // Deliveries, as natively: the first and the re-delivery.
        metrics.contains("vouch_enrollments_total{front_door=\"est\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("vouch_renewals_total{front_door=\"est\"} 2"),
        "{metrics}"
    );
}

async fn reqwest_get_metrics(server: &Server) -> String {
    http(server, None)
        .get(format!("{}/metrics", server.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pki_polls_while_pending_and_completes_once_a_supervisor_approves() {
    let server = Server::start_with_config(&[
        ("retry_after_secs = 5", "retry_after_secs = 1"),
        (
            "rate_per_serial_per_minute = 12",
            "rate_per_serial_per_minute = 60",
        ),
    ]);
    let client = Client::new(&server);
    let mut tech = register(&server, "technician", "T").await;
    let device = Device::new("SN-EST-WAIT");
    vouch(&server, &mut tech, &device, false).await;
    let label_key = client.write("label.key", key_pem(&device.key));
    let csr = client.pki_csr(&label_key, device.serial(), "csr.der");

    let mut pki = client
        .pki_enroll_command(&csr, None)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it has been told to wait at least twice (it is polling), then approve.
    let deadline = Instant::now() + Duration::from_secs(60);
    while plain_log(&server)
        .matches("EST enrollment waits for approval")
        .count()
        < 2
    {
        assert!(
            Instant::now() < deadline,
            "pki never polled:\n{}",
            plain_log(&server)
        );
        assert!(
            pki.try_wait().unwrap().is_none(),
            "pki gave up while pending"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(shown(&server, "SN-EST-WAIT")["state"], "scanned");
    server.admin_ok(&["device", "approve", "SN-EST-WAIT", "--reason", "ok"]);
    let approved_at = Instant::now();
    let out = tokio::task::spawn_blocking(move || pki.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // Retry-After is 1 s here: the approval is seen within a few polls.
    assert!(approved_at.elapsed() < Duration::from_secs(20));
    let cert = String::from_utf8(out.stdout).unwrap();
    lint_device_certificate(&client, &cert, "cert.pem");
    assert_eq!(hello(&server, &cert, &key_pem(&device.key)).await.0, 200);
    assert!(plain_log(&server).contains("status=202"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_and_openssl_over_tls_1_2_and_csrattrs() {
    let server = Server::start();
    let client = Client::new(&server);
    let mut tech = register(&server, "technician", "T").await;

    let (status, body) = client.curl("/.well-known/est/cacerts", &["--tls-max", "1.2"]);
    assert_eq!(status, 200);
    assert!(!body.contains(&b'\n'), "base64 without line breaks");
    assert_eq!(certs_of(&body), vec![pem_der(&server.ca_pem())]);

    // csrattrs: a P-256 key, ecdsa-with-SHA256; no challengePassword unless required.
    let (status, body) = client.curl("/.well-known/est/csrattrs", &[]);
    assert_eq!(status, 200);
    let der = data_encoding::BASE64.decode(&body).unwrap();
    let der_file = client.write("attrs.der", der);
    let parsed = String::from_utf8(client.openssl(&[
        "asn1parse",
        "-inform",
        "DER",
        "-in",
        der_file.to_str().unwrap(),
    ]))
    .unwrap();
    for name in ["id-ecPublicKey", "prime256v1", "ecdsa-with-SHA256"] {
        assert!(parsed.contains(name), "{parsed}");
    }
    assert!(!parsed.contains("challengePassword"), "{parsed}");

    // simpleenroll over TLS 1.2 from curl, an openssl CSR in base64 with line breaks.
    let device = Device::new("SN-EST-12");
    vouch(&server, &mut tech, &device, true).await;
    let key = client.write("label.key", key_pem(&device.key));
    let csr = client.openssl_csr(&key, &req_config("SN-EST-12", None, None), "csr");
    assert!(std::fs::read_to_string(&csr).unwrap().trim().contains('\n'));
    let (status, body) =
        client.curl_post("/.well-known/est/simpleenroll", &csr, &["--tls-max", "1.2"]);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let certs = certs_of(&body);
    assert_eq!(certs.len(), 1);
    let cert = der_to_pem(&certs[0]);
    lint_device_certificate(&client, &cert, "cert.pem");

    // simplereenroll over TLS 1.2 with the certificate at the handshake.
    let cert_file = client.write("cert.pem", &cert);
    let (status, body) = client.curl_post(
        "/.well-known/est/simplereenroll",
        &csr,
        &[
            "--tls-max",
            "1.2",
            "--cert",
            cert_file.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let renewed = der_to_pem(&certs_of(&body)[0]);
    lint_device_certificate(&client, &renewed, "renewed.pem");
    assert_eq!(hello(&server, &renewed, &key_pem(&device.key)).await.0, 200);
    assert_eq!(hello(&server, &cert, &key_pem(&device.key)).await.0, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_required_channel_binding_is_the_challenge_password_on_tls_1_3_and_1_2() {
    let server = Server::start_with_config(&[(
        "require_channel_binding = false",
        "require_channel_binding = true",
    )]);
    let client = Client::new(&server);
    let mut tech = register(&server, "technician", "T").await;
    let (status, body) = client.curl("/.well-known/est/csrattrs", &[]);
    assert_eq!(status, 200);
    let der_file = client.write("attrs.der", data_encoding::BASE64.decode(&body).unwrap());
    let parsed = String::from_utf8(client.openssl(&[
        "asn1parse",
        "-inform",
        "DER",
        "-in",
        der_file.to_str().unwrap(),
    ]))
    .unwrap();
    assert!(parsed.contains("challengePassword"), "{parsed}");

    // Without a challengePassword: refused, nothing issued.
    let device = Device::new("SN-EST-CB");
    vouch(&server, &mut tech, &device, true).await;
    let key = client.write("label.key", key_pem(&device.key));
    let plain = client.openssl_csr(&key, &req_config("SN-EST-CB", None, None), "plain");
    let (status, body) = client.curl_post("/.well-known/est/simpleenroll", &plain, &[]);
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
    assert!(plain_log(&server).contains("reason=\"channel_binding_required\""));

    assert_eq!(shown(&server, "SN-EST-CB")["state"], "approved");
    let tls13 = Arc::new(tls_config(&server.ca_pem(), None));
    bound_enrollment(&server, &device, tls13).await;
    let over_tls12 = Device::new("SN-EST-CB12");
    vouch(&server, &mut tech, &over_tls12, true).await;
    let tls12 = Arc::new(tls12_config(&server.ca_pem(), None));
    bound_enrollment(&server, &over_tls12, tls12).await;
    assert_eq!(audit_count(&server, "device.enrolled"), 2);
}

/// Enrolls over one connection with the connection's binding (RFC 9266 tls-exporter, base64)
/// as the CSR's challengePassword; a CSR bound to another connection is refused first.
async fn bound_enrollment(server: &Server, device: &Device, config: Arc<rustls::ClientConfig>) {
    let first = Conn::open_with(server, config.clone()).await;
    let stale = bound_csr(device, &first.exporter());
    drop(first);
    let mut conn = Conn::open_with(server, config.clone()).await;
    let (status, head, _) = conn
        .send(
            "POST",
            "/.well-known/est/simpleenroll",
            "application/pkcs10",
            &stale,
        )
        .await;
    assert_eq!(status, 403, "a binding of another connection is refused");
    assert!(head.starts_with("http/1.1 403") && head.contains("\r\ncontent-length: "));
    let mut bound = Conn::open_with(server, config).await;
    let body = bound_csr(device, &bound.exporter());
    let (status, head, body) = bound
        .send(
            "POST",
            "/.well-known/est/simpleenroll",
            "application/pkcs10",
            &body,
        )
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(head.contains("content-type: application/pkcs7-mime; smime-type=certs-only"));
    assert!(head.contains(&format!("\r\ncontent-length: {}", body.len())));
    assert!(!head.contains("transfer-encoding: chunked"));
    assert_eq!(certs_of(&body).len(), 1);
}

/// A base64 CSR by the device's key whose challengePassword is `binding`, base64.
fn bound_csr(device: &Device, binding: &[u8; 32]) -> Vec<u8> {
    let password = data_encoding::BASE64.encode(binding);
    let mut value = vec![0x31, (password.len() + 2) as u8, 0x0c, password.len() as u8];
    value.extend_from_slice(password.as_bytes());
    let attribute = rcgen::Attribute {
        oid: &[1, 2, 840, 113549, 1, 9, 7],
        values: value,
    };
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, device.serial());
    let key = rcgen::KeyPair::from_pem(&key_pem(&device.key)).unwrap();
    let csr = params
        .serialize_request_with_attributes(&key, vec![attribute])
        .unwrap();
    data_encoding::BASE64.encode(csr.der()).into_bytes()
}

/// The server's log without its terminal colours.
fn plain_log(server: &Server) -> String {
    let log = server.log();
    let mut plain = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for end in chars.by_ref() {
                if end.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

fn code_of(body: &[u8]) -> String {
    let value: Value = serde_json::from_slice(body)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(body)));
    value["code"].as_str().unwrap().to_string()
}

/// A device under `serial` that carries `key` (a cloned or swapped label).
fn device_with_key(serial: &str, key: &SigningKey) -> Device {
    Device {
        key: key.clone(),
        label: Label::new(
            Model::new("ACME-T1").unwrap(),
            Serial::new(serial).unwrap(),
            public_key_of(key),
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_as_documented_and_issue_nothing() {
    let server =
        Server::start_with_config(&[("max_body_bytes = 1048576", "max_body_bytes = 8192")]);
    let client = Client::new(&server);
    let mut tech = register(&server, "technician", "T").await;
    let enroll_path = "/.well-known/est/simpleenroll";
    let csr_of = |device: &Device, name: &str, password: Option<&str>, ext: Option<&str>| {
        let key = client.write(&format!("{name}.key"), key_pem(&device.key));
        let config = req_config(device.serial(), password, ext);
        client.openssl_csr(&key, &config, name)
    };

    // Nobody vouched for the key: the uniform refusal, and nothing is stored.
    let stranger = Device::new("SN-NOBODY");
    let (status, body) =
        client.curl_post(enroll_path, &csr_of(&stranger, "nobody", None, None), &[]);
    assert_eq!((status, code_of(&body)), (403, "refused".into()));
    assert!(!server
        .admin_ok(&["device", "list", "--json"])
        .contains("SN-NOBODY"));

    // Vouched, waiting for a supervisor: 202 with Retry-After, an empty body, nothing issued.
    let pending = Device::new("SN-PEND");
    vouch(&server, &mut tech, &pending, false).await;
    let csr = data_encoding::BASE64.encode(&csr_for(&pending.key, pending.serial()));
    let mut conn = Conn::open(&server, None).await;
    let (status, head, body) = conn
        .send("POST", enroll_path, "application/pkcs10", csr.as_bytes())
        .await;
    assert_eq!(status, 202, "{head}");
    assert!(head.contains("\r\nretry-after: 5") && head.contains("\r\ncontent-length: 0"));
    assert!(body.is_empty());
    assert_eq!(shown(&server, "SN-PEND")["state"], "scanned");

    // Rejected by a supervisor: the same refusal.
    let rejected = Device::new("SN-REJ");
    vouch(&server, &mut tech, &rejected, false).await;
    server.admin_ok(&["device", "reject", "SN-REJ", "--reason", "not ours"]);
    let (status, body) = client.curl_post(enroll_path, &csr_of(&rejected, "rej", None, None), &[]);
    assert_eq!((status, code_of(&body)), (403, "refused".into()));

    // Conflicts: one key under two serials, and one serial seen with two keys.
    let cloned = Device::new("SN-CL-1");
    vouch(&server, &mut tech, &cloned, false).await;
    vouch(
        &server,
        &mut tech,
        &device_with_key("SN-CL-2", &cloned.key),
        false,
    )
    .await;
    let (status, body) = client.curl_post(enroll_path, &csr_of(&cloned, "cl", None, None), &[]);
    assert_eq!((status, code_of(&body)), (403, "refused".into()));
    let swapped = Device::new("SN-SW");
    vouch(&server, &mut tech, &swapped, false).await;
    vouch(&server, &mut tech, &Device::new("SN-SW"), false).await;
    assert_eq!(shown(&server, "SN-SW")["state"], "conflict");
    let (status, body) = client.curl_post(enroll_path, &csr_of(&swapped, "sw", None, None), &[]);
    assert_eq!((status, code_of(&body)), (403, "refused".into()));
    let log = plain_log(&server);
    for reason in [
        "key_not_vouched",
        "rejected",
        "key_under_several_serials",
        "device_in_conflict",
    ] {
        assert!(
            log.contains(&format!("reason=\"{reason}\"")),
            "{reason} not logged"
        );
    }

    // A CSR whose signature does not match its key: said to be a bad CSR.
    let approved = Device::new("SN-OK");
    vouch(&server, &mut tech, &approved, true).await;
    csr_of(&approved, "ok", None, None);
    let mut der = std::fs::read(client.path("ok.der")).unwrap();
    let last = der.len() - 1;
    der[last] ^= 0x01;
    let forged = client.write("forged.b64", data_encoding::BASE64.encode(&der));
    let (status, body) = client.curl_post(enroll_path, &forged, &[]);
    assert_eq!((status, code_of(&body)), (400, "bad_csr".into()));

    // A challengePassword that is not the channel's binding.
    let wrong = csr_of(&approved, "pw", Some("letmein"), None);
    let (status, body) = client.curl_post(enroll_path, &wrong, &[]);
    assert_eq!((status, code_of(&body)), (403, "refused".into()));
    assert!(plain_log(&server).contains("reason=\"challenge_password_not_the_channel_binding\""));

    // Malformed bodies, the wrong content type, an oversized body.
    let not_base64 = client.write("junk", "this is not base64!");
    let (status, body) = client.curl_post(enroll_path, &not_base64, &[]);
    assert_eq!((status, code_of(&body)), (400, "bad_csr".into()));
    let not_a_csr = client.write("notcsr", data_encoding::BASE64.encode(b"hello"));
    let (status, body) = client.curl_post(enroll_path, &not_a_csr, &[]);
    assert_eq!((status, code_of(&body)), (400, "bad_csr".into()));
    let empty = client.write("empty", "");
    let (status, body) = client.curl_post(enroll_path, &empty, &[]);
    assert_eq!((status, code_of(&body)), (400, "bad_csr".into()));
    let good = csr_of(&approved, "good", None, None);
    let data = format!("@{}", good.display());
    let (status, body) = client.curl(
        enroll_path,
        &[
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &data,
        ],
    );
    assert_eq!((status, code_of(&body)), (400, "bad_content_type".into()));
    let big = client.write("big", "A".repeat(9000));
    let (status, body) = client.curl_post(enroll_path, &big, &[]);
    assert_eq!((status, code_of(&body)), (413, "body_too_large".into()));

    // Nothing was issued or half-written by any of it.
    assert_eq!(audit_count(&server, "device.enrolled"), 0);
    for serial in ["SN-PEND", "SN-REJ", "SN-CL-1", "SN-CL-2", "SN-SW", "SN-OK"] {
        assert!(shown(&server, serial)["certificate"].is_null(), "{serial}");
    }
    assert_eq!(shown(&server, "SN-OK")["state"], "approved");
    assert_eq!(shown(&server, "SN-REJ")["state"], "rejected");

    // A CSR asking for CA:TRUE: issued, without it (the profile decides, never the CSR).
    let ca_csr = csr_of(
        &approved,
        "ca",
        None,
        Some("basicConstraints = critical,CA:TRUE"),
    );
    let (status, body) = client.curl_post(enroll_path, &ca_csr, &[]);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let cert = der_to_pem(&certs_of(&body)[0]);
    let der = pem_der(&cert);
    let (_, parsed) = x509_parser::parse_x509_certificate(&der).unwrap();
    let constraints = parsed.basic_constraints().unwrap().unwrap().value;
    assert!(!constraints.ca);
    lint_device_certificate(&client, &cert, "ca-true.pem");

    // simplereenroll: the subject must stay; a revoked certificate gets nothing.
    let cert_file = client.write("ok.pem", &cert);
    let key_file = client.path("ok.key");
    let mtls = [
        "--cert",
        cert_file.to_str().unwrap(),
        "--key",
        key_file.to_str().unwrap(),
    ];
    let other_subject = client.openssl_csr(&key_file, &req_config("SN-ELSE", None, None), "else");
    let (status, body) = client.curl_post("/.well-known/est/simplereenroll", &other_subject, &mtls);
    assert_eq!((status, code_of(&body)), (400, "bad_csr".into()));
    let (status, body) = client.curl_post("/.well-known/est/simplereenroll", &good, &[]);
    assert_eq!(
        (status, code_of(&body)),
        (401, "client_certificate_required".into())
    );
    server.admin_ok(&["device", "revoke", "SN-OK", "--reason", "stolen"]);
    let (status, body) = client.curl_post("/.well-known/est/simplereenroll", &good, &mtls);
    assert_eq!((status, code_of(&body)), (403, "forbidden".into()));
    assert_eq!(audit_count(&server, "device.renewed"), 0);
    assert_eq!(audit_count(&server, "device.enrolled"), 1);
    let (status, body) = client.curl_post(enroll_path, &good, &[]);
    assert_eq!((status, code_of(&body)), (403, "refused".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn native_and_est_at_once_for_one_device_issue_one_certificate() {
    let server = Server::start();
    let mut tech = register(&server, "technician", "T").await;
    let anon = http(&server, None);
    let rounds = 8;
    for round in 0..rounds {
        let device = Device::new(&format!("SN-RACE-{round}"));
        vouch(&server, &mut tech, &device, true).await;
        let csr = data_encoding::BASE64.encode(&csr_for(&device.key, device.serial()));
        let est = async {
            let answer = anon
                .post(format!("{}/.well-known/est/simpleenroll", server.url()))
                .header("content-type", "application/pkcs10")
                .body(csr)
                .send()
                .await
                .unwrap();
            (
                answer.status().as_u16(),
                answer.bytes().await.unwrap().to_vec(),
            )
        };
        let options = EnrollOptions::default();
        let native = enroll(&server, &device, &options);
        let ((est_status, est_body), (native_status, native_body, _)) = tokio::join!(est, native);
        let winner = match (est_status, native_status) {
            (200, 200) => panic!("two certificates for {}", device.serial()),
            (200, _) => certs_of(&est_body).remove(0),
            (_, 200) => pem_der(native_body["certificate_pem"].as_str().unwrap()),
            _ => panic!("no certificate: EST {est_status}, native {native_status} {native_body}"),
        };
        let stored = shown(&server, device.serial())["certificate"]["pem"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(pem_der(&stored), winner);
    }
    assert_eq!(audit_count(&server, "device.enrolled"), rounds);
}

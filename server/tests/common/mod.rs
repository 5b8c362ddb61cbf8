//! Test harness: the real `vouch-server` binary on a free loopback port with a temporary data
//! folder, a staff app install (real key, real invite, real mTLS), and a device that enrolls
//! over one real TLS connection with RFC 9266 channel binding.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs
)]

pub mod lint;
pub mod pg;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{CertificateParams, KeyPair, PublicKeyData};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vouch_protocol::enroll::{
    encode_base64, ChannelBinding, EnrollMode, EnrollRequest, EnrollmentMessage, Nonce,
};
use vouch_protocol::key::public_key_of;
use vouch_protocol::p256::ecdsa::SigningKey;
use vouch_protocol::p256::pkcs8::EncodePrivateKey;
use vouch_protocol::{
    ChainHead, Label, Model, NewScan, RecordId, ScanRecord, Serial, SignedScanRecord,
};
use vouch_testkit::ServerProcess;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_vouch-server")
}

/// A running server (the shared harness, `vouch-testkit`), logging at info; stopped with
/// SIGTERM when dropped.
pub struct Server(ServerProcess);

impl std::ops::Deref for Server {
    type Target = ServerProcess;

    fn deref(&self) -> &ServerProcess {
        &self.0
    }
}

impl Server {
    /// Wraps a server the test started itself (e.g. with extra environment variables).
    pub fn from_process(process: ServerProcess) -> Self {
        Self(process)
    }

    pub fn start() -> Self {
        Self::start_with_config(&[])
    }

    /// Starts with `(from, to)` text replacements applied to the example config.
    pub fn start_with_config(replacements: &[(&str, &str)]) -> Self {
        Self(ServerProcess::start(Path::new(bin()), replacements, "info"))
    }

    /// Serves an existing data folder on a free port.
    pub fn serve(dir: tempfile::TempDir) -> Self {
        Self(ServerProcess::serve(
            Path::new(bin()),
            dir,
            "127.0.0.1:0",
            "info",
        ))
    }

    pub fn pid(&self) -> u32 {
        self.0.pid().expect("the server is running")
    }

    /// Stops the server (SIGTERM) and returns its data folder.
    pub fn stop(self) -> tempfile::TempDir {
        self.0.into_data()
    }

    /// Kills the server (SIGKILL, a crash) and serves its data folder again on the same port.
    pub fn crash_and_restart(&mut self) {
        self.0.kill();
        self.0.restart();
    }
}

pub fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    data_encoding::BASE64.decode(body.as_bytes()).unwrap()
}

fn roots(ca_pem: &str) -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(pem_der(ca_pem))).unwrap();
    roots
}

pub fn tls_config(ca_pem: &str, identity: Option<(&str, &str)>) -> rustls::ClientConfig {
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots(ca_pem));
    match identity {
        None => builder.with_no_client_auth(),
        Some((cert_pem, key_pem)) => {
            let key = PrivateKeyDer::try_from(pem_der(key_pem)).unwrap();
            builder
                .with_client_auth_cert(vec![CertificateDer::from(pem_der(cert_pem))], key)
                .unwrap()
        }
    }
}

/// A client configuration that speaks TLS 1.2 only (with the extended master secret, which
/// rustls always sends).
pub fn tls12_config(ca_pem: &str, identity: Option<(&str, &str)>) -> rustls::ClientConfig {
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS12])
    .unwrap()
    .with_root_certificates(roots(ca_pem));
    match identity {
        None => builder.with_no_client_auth(),
        Some((cert_pem, key_pem)) => {
            let key = PrivateKeyDer::try_from(pem_der(key_pem)).unwrap();
            builder
                .with_client_auth_cert(vec![CertificateDer::from(pem_der(cert_pem))], key)
                .unwrap()
        }
    }
}

pub fn http(server: &Server, identity: Option<(&str, &str)>) -> reqwest::Client {
    reqwest::Client::builder()
        .use_preconfigured_tls(tls_config(&server.ca_pem(), identity))
        .resolve("localhost", server.addr)
        .build()
        .unwrap()
}

/// Sends a request; returns (status, JSON body or Null).
pub async fn call(
    client: &reqwest::Client,
    server: &Server,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = client.request(method, format!("{}{path}", server.url()));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A registered app install.
pub struct Staff {
    pub key: SigningKey,
    pub cert_pem: String,
    pub key_pem: String,
    pub key_id: String,
    pub chain: ChainHead,
    pub client: reqwest::Client,
    pub counter: u64,
}

pub fn csr_for(key: &SigningKey, cn: &str) -> Vec<u8> {
    let pem = key.to_pkcs8_pem(Default::default()).unwrap();
    let pair = KeyPair::from_pem(&pem).unwrap();
    let params = CertificateParams::new(vec![cn.to_string()]).unwrap();
    params.serialize_request(&pair).unwrap().der().to_vec()
}

pub async fn register(server: &Server, role: &str, name: &str) -> Staff {
    register_with(server, role, name, &[]).await
}

pub async fn register_with(server: &Server, role: &str, name: &str, extra: &[&str]) -> Staff {
    let invite = vouch_protocol::Invite::parse(&server.invite_with(role, name, extra)).unwrap();
    let key = SigningKey::random(&mut rand_core::OsRng);
    let anon = http(server, None);
    let body = json!({"code": invite.code(), "csr": encode_base64(&csr_for(&key, name))});
    let (status, answer) = call(
        &anon,
        server,
        reqwest::Method::POST,
        "/v1/staff/register",
        Some(body),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let cert_pem = answer["certificate_pem"].as_str().unwrap().to_string();
    let key_pem = key.to_pkcs8_pem(Default::default()).unwrap().to_string();
    let client = http(server, Some((&cert_pem, &key_pem)));
    Staff {
        key_id: answer["key_id"].as_str().unwrap().to_string(),
        key,
        cert_pem,
        key_pem,
        chain: ChainHead::GENESIS,
        client,
        counter: 0,
    }
}

impl Staff {
    /// Makes and signs the next record for a label text.
    pub fn record(&mut self, label_text: &str) -> SignedScanRecord {
        self.counter += 1;
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&self.counter.to_be_bytes());
        id[8..].copy_from_slice(&self.key_id.as_bytes()[..8]);
        let scan = NewScan {
            record_id: RecordId(id),
            chain: &self.chain,
            scanned_at_ms: 1_800_000_000_000,
            label_text,
            site: "WO-7",
            note: None,
        };
        let record = ScanRecord::new(public_key_of(&self.key).key_id(), &scan).unwrap();
        self.chain = ChainHead::after(&record);
        record.sign(&self.key).unwrap()
    }

    pub async fn scan_and_upload(&mut self, server: &Server, label_text: &str) -> (u16, Value) {
        let record = self.record(label_text);
        self.upload(server, &[record]).await
    }

    pub async fn upload(&self, server: &Server, records: &[SignedScanRecord]) -> (u16, Value) {
        let body = json!({"records": records});
        call(
            &self.client,
            server,
            reqwest::Method::POST,
            "/v1/records",
            Some(body),
        )
        .await
    }

    /// Approves the device `serial` at `server` (a supervisor's decision, reason "ok").
    pub async fn approve(&self, server: &Server, serial: &str) -> (u16, Value) {
        let path = format!("/v1/devices/{serial}/approve");
        let body = json!({"reason": "ok"});
        call(
            &self.client,
            server,
            reqwest::Method::POST,
            &path,
            Some(body),
        )
        .await
    }
}

/// A simulated device with a label key.
pub struct Device {
    pub key: SigningKey,
    pub label: Label,
}

impl Device {
    pub fn new(serial: &str) -> Self {
        let key = SigningKey::random(&mut rand_core::OsRng);
        let label = Label::new(
            Model::new("ACME-T1").unwrap(),
            Serial::new(serial).unwrap(),
            public_key_of(&key),
        );
        Self { key, label }
    }

    pub fn text(&self) -> String {
        self.label.to_compact().unwrap()
    }

    pub fn serial(&self) -> &str {
        self.label.serial().as_str()
    }
}

/// One HTTP/1.1 connection over TLS that exposes its channel-binding exporter.
pub struct Conn {
    stream: tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
}

impl Conn {
    pub async fn open(server: &Server, identity: Option<(&str, &str)>) -> Self {
        Self::open_with(server, Arc::new(tls_config(&server.ca_pem(), identity))).await
    }

    /// Opens a connection with a client configuration made once (as a device makes it once
    /// at boot); every connection is still a full handshake unless `config` resumes.
    pub async fn open_with(server: &Server, config: Arc<rustls::ClientConfig>) -> Self {
        let connector = tokio_rustls::TlsConnector::from(config);
        let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let stream = connector
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap();
        Self { stream }
    }

    pub fn exporter(&self) -> [u8; 32] {
        self.stream
            .get_ref()
            .1
            .export_keying_material([0u8; 32], b"EXPORTER-Channel-Binding", Some(&[]))
            .unwrap()
    }

    pub async fn request(&mut self, method: &str, path: &str, body: &Value) -> (u16, Value) {
        let body = body.to_string();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body.as_bytes());
        self.stream.write_all(&bytes).await.unwrap();
        self.read_response().await
    }

    /// Sends a request with any content type and body over this connection; returns (status,
    /// the answer's head in lowercase, its body).
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> (u16, String, Vec<u8>) {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body);
        self.stream.write_all(&bytes).await.unwrap();
        self.read_raw().await
    }

    async fn read_response(&mut self) -> (u16, Value) {
        let (status, _, body) = self.read_raw().await;
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    async fn read_raw(&mut self) -> (u16, String, Vec<u8>) {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = self.stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "connection closed");
            buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        l.strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                while buf.len() < end + 4 + len {
                    let n = self.stream.read(&mut chunk).await.unwrap();
                    assert!(n > 0, "connection closed mid-body");
                    buf.extend_from_slice(&chunk[..n]);
                }
                let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
                let body = buf[end + 4..end + 4 + len].to_vec();
                return (status, head, body);
            }
        }
    }
}

/// The knobs a refusal test turns.
#[derive(Clone)]
pub struct EnrollOptions {
    pub mode: EnrollMode,
    pub csr_key: Option<SigningKey>,
    pub csr_der: Option<Vec<u8>>,
    pub sign_with: Option<SigningKey>,
    pub bind_channel: bool,
    pub channel_binding_override: Option<[u8; 32]>,
    pub nonce_override: Option<String>,
}

impl Default for EnrollOptions {
    fn default() -> Self {
        Self {
            mode: EnrollMode::SameKey,
            csr_key: None,
            csr_der: None,
            sign_with: None,
            bind_channel: true,
            channel_binding_override: None,
            nonce_override: None,
        }
    }
}

/// Builds a signed completion request for `nonce`.
pub fn completion(
    device: &Device,
    nonce: &str,
    exporter: Option<[u8; 32]>,
    o: &EnrollOptions,
) -> EnrollRequest {
    let csr_key = o.csr_key.clone().unwrap_or_else(|| device.key.clone());
    let csr = o
        .csr_der
        .clone()
        .unwrap_or_else(|| csr_for(&csr_key, device.serial()));
    let cb = if o.bind_channel {
        o.channel_binding_override.or(exporter)
    } else {
        None
    };
    let message = EnrollmentMessage {
        mode: o.mode,
        nonce: Nonce::from_hex(nonce).unwrap(),
        serial: device.label.serial(),
        csr_der: &csr,
        channel_binding: cb,
    };
    let signature = message.sign(o.sign_with.as_ref().unwrap_or(&device.key));
    EnrollRequest {
        serial: device.serial().to_string(),
        nonce: nonce.to_string(),
        mode: o.mode,
        csr: encode_base64(&csr),
        channel_binding: if o.bind_channel {
            ChannelBinding::TlsExporter
        } else {
            ChannelBinding::None
        },
        signature: signature.to_hex(),
    }
}

/// Challenge and completion over one connection; returns (status, body, the request sent).
pub async fn enroll(
    server: &Server,
    device: &Device,
    o: &EnrollOptions,
) -> (u16, Value, EnrollRequest) {
    let mut conn = Conn::open(server, None).await;
    let (status, challenge) = conn
        .request(
            "POST",
            "/v1/enroll/challenge",
            &json!({"serial": device.serial()}),
        )
        .await;
    assert_eq!(status, 200, "{challenge}");
    let nonce = o
        .nonce_override
        .clone()
        .unwrap_or_else(|| challenge["nonce"].as_str().unwrap().to_string());
    let req = completion(device, &nonce, Some(conn.exporter()), o);
    let (status, body) = conn
        .request(
            "POST",
            "/v1/enroll/complete",
            &serde_json::to_value(&req).unwrap(),
        )
        .await;
    (status, body, req)
}

pub fn key_pem(key: &SigningKey) -> String {
    key.to_pkcs8_pem(Default::default()).unwrap().to_string()
}

pub fn spki_of(key: &SigningKey) -> Vec<u8> {
    KeyPair::from_pem(&key_pem(key))
        .unwrap()
        .subject_public_key_info()
}

pub fn temp_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

/// The `vouch-device` binary, built once per test process (`VOUCH_DEVICE_BIN` overrides).
pub fn device_bin() -> PathBuf {
    vouch_testkit::workspace_bin("vouch-device", "vouch-device", "VOUCH_DEVICE_BIN")
}

/// `vouch-device keygen` for model `ACME-T1`; returns the label text.
pub fn device_keygen(dir: &Path, serial: &str) -> String {
    let out = std::process::Command::new(device_bin())
        .args(["keygen", "--dir"])
        .arg(dir)
        .args(["--model", "ACME-T1", "--serial", serial])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The `vouch-device` CLI pointed at a test server.
pub struct DeviceCli<'a> {
    pub server: &'a Server,
    pub ca: PathBuf,
}

impl<'a> DeviceCli<'a> {
    pub fn new(server: &'a Server) -> Self {
        Self {
            server,
            ca: server.data().join("ca/ca.pem"),
        }
    }

    /// `vouch-device <verb> --dir DIR --server URL --ca CA [extra]`, not yet started.
    pub fn command(&self, verb: &str, dir: &Path, extra: &[&str]) -> std::process::Command {
        let mut command = std::process::Command::new(device_bin());
        command
            .arg(verb)
            .arg("--dir")
            .arg(dir)
            .args(["--server", &self.server.url(), "--ca"])
            .arg(&self.ca)
            .args(extra);
        command
    }

    /// Runs `vouch-device <verb> --dir DIR --server URL --ca CA [extra]`; returns (exit code, stdout, stderr).
    pub fn run(&self, verb: &str, dir: &Path, extra: &[&str]) -> (i32, String, String) {
        Self::finish(&mut self.command(verb, dir, extra))
    }

    /// [`DeviceCli::run`] with the agent's test fault that drops the server's answer after it
    /// arrived, before anything is stored (`VOUCH_DEVICE_TEST_LOSE_ANSWER=1`).
    pub fn run_losing_the_answer(
        &self,
        verb: &str,
        dir: &Path,
        extra: &[&str],
    ) -> (i32, String, String) {
        let mut command = self.command(verb, dir, extra);
        command.env(vouch_device::client::TEST_LOSE_ANSWER_ENV, "1");
        Self::finish(&mut command)
    }

    fn finish(command: &mut std::process::Command) -> (i32, String, String) {
        let out = command.output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into(),
            String::from_utf8_lossy(&out.stderr).into(),
        )
    }
}

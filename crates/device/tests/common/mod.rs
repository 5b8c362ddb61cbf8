//! A small stand-in for `vouch-server`, in process: a rustls server with a test CA that
//! implements the device endpoints of the HTTP contract (challenge, complete, hello, renew).
//! It verifies the device's signature against **its own** TLS exporter for the connection, so
//! a successful enrollment proves that the client signed the same channel-binding value.
//! Tests against the real server binary live elsewhere; this double checks the client alone.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs
)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rand_core::RngCore;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PublicKeyData,
};
use rustls::pki_types::{CertificateDer, CertificateSigningRequestDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use vouch_device::client::RenewRequest;
use vouch_protocol::enroll::{
    decode_base64, ChallengeRequest, ChannelBinding, EnrollMode, EnrollRequest, EnrollmentMessage,
    Nonce, CHANNEL_BINDING_LABEL,
};
use vouch_protocol::{PublicKey, Serial, Signature};

/// A self-made CA and a certificate signed by it.
pub struct TestPki {
    pub ca_pem: String,
    pub issuer: Issuer<'static, KeyPair>,
}

impl TestPki {
    pub fn new(name: &str) -> Self {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).unwrap();
        Self {
            ca_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A server certificate for `localhost` and 127.0.0.1.
    pub fn server_cert(&self) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
    }

    /// Issues a client certificate for a CSR (DER). Returns the PEM and the CSR's key.
    pub fn issue(&self, csr_der: &[u8], serial: &str) -> Result<(String, PublicKey), String> {
        let der = CertificateSigningRequestDer::from(csr_der.to_vec());
        let mut csr = CertificateSigningRequestParams::from_der(&der).map_err(|e| e.to_string())?;
        let key = PublicKey::from_sec1(csr.public_key.der_bytes()).map_err(|e| e.to_string())?;
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, serial);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2040, 1, 1);
        let mut serial_number = [0u8; 16];
        rand_core::OsRng.fill_bytes(&mut serial_number);
        serial_number[0] &= 0x7f;
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial_number));
        csr.params = params;
        let cert = csr.signed_by(&self.issuer).map_err(|e| e.to_string())?;
        Ok((cert.pem(), key))
    }
}

/// What the double saw of one request.
#[derive(Clone, Debug)]
pub struct Seen {
    pub connection: u64,
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub status: u16,
}

#[derive(Clone, Debug)]
pub struct DeviceEntry {
    pub key: PublicKey,
    pub approved: bool,
    pub enrolled: bool,
}

#[derive(Default)]
pub struct State {
    pub devices: HashMap<String, DeviceEntry>,
    /// nonce → (connection it was issued on, used)
    pub nonces: HashMap<[u8; 32], (u64, bool)>,
    pub seen: Vec<Seen>,
    /// connection → the server side's exporter value
    pub exporters: HashMap<u64, [u8; 32]>,
    /// connection → the channel binding a verified enrollment signature covered
    pub verified_bindings: Vec<(u64, Option<[u8; 32]>)>,
    /// certificate DER → serial
    pub issued: HashMap<Vec<u8>, String>,
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub url: String,
    pub ca_path: PathBuf,
    pub state: Arc<Mutex<State>>,
    pub pki: Arc<TestPki>,
    _dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    pub async fn start() -> Self {
        let pki = Arc::new(TestPki::new("Vouch Test CA"));
        let dir = tempfile::tempdir().unwrap();
        let ca_path = dir.path().join("ca.pem");
        std::fs::write(&ca_path, &pki.ca_pem).unwrap();

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter_compat(pki.ca_pem.as_bytes())
        {
            roots.add(cert).unwrap();
        }
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .allow_unauthenticated()
                .build()
                .unwrap();
        let (chain, key) = pki.server_cert();
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let counter = Arc::new(AtomicU64::new(0));
        let task = {
            let state = state.clone();
            let pki = pki.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        return;
                    };
                    let acceptor = acceptor.clone();
                    let state = state.clone();
                    let pki = pki.clone();
                    let id = counter.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(async move {
                        let Ok(tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let (_, conn) = tls.get_ref();
                        let exporter = conn
                            .export_keying_material([0u8; 32], CHANNEL_BINDING_LABEL, Some(&[]))
                            .unwrap();
                        let peer = conn
                            .peer_certificates()
                            .and_then(|c| c.first())
                            .map(|c| c.as_ref().to_vec());
                        state.lock().unwrap().exporters.insert(id, exporter);
                        let service = hyper::service::service_fn(move |req| {
                            let state = state.clone();
                            let pki = pki.clone();
                            let peer = peer.clone();
                            async move {
                                Ok::<_, Infallible>(
                                    handle(req, id, exporter, peer, &state, &pki).await,
                                )
                            }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(tls), service)
                            .await;
                    });
                }
            })
        };
        Self {
            addr,
            url: format!("https://127.0.0.1:{}", addr.port()),
            ca_path,
            state,
            pki,
            _dir: dir,
            task,
        }
    }

    pub fn server(&self) -> vouch_device::Server {
        vouch_device::Server::new(&self.url, &self.ca_path).unwrap()
    }

    pub fn register(&self, serial: &str, key: PublicKey, approved: bool) {
        self.state.lock().unwrap().devices.insert(
            serial.to_string(),
            DeviceEntry {
                key,
                approved,
                enrolled: false,
            },
        );
    }

    pub fn approve(&self, serial: &str) {
        if let Some(d) = self.state.lock().unwrap().devices.get_mut(serial) {
            d.approved = true;
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }
}

fn reply(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn error(status: StatusCode, code: &str, message: &str) -> Response<Full<Bytes>> {
    reply(status, json!({"code": code, "message": message}))
}

async fn handle(
    req: Request<Incoming>,
    connection: u64,
    exporter: [u8; 32],
    peer: Option<Vec<u8>>,
    state: &Mutex<State>,
    pki: &TestPki,
) -> Response<Full<Bytes>> {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = req.into_body().collect().await.unwrap().to_bytes().to_vec();
    let response = route(
        &method, &path, &body, connection, exporter, peer, state, pki,
    );
    state.lock().unwrap().seen.push(Seen {
        connection,
        method,
        path,
        headers,
        body,
        status: response.status().as_u16(),
    });
    response
}

#[allow(clippy::too_many_arguments)]
fn route(
    method: &str,
    path: &str,
    body: &[u8],
    connection: u64,
    exporter: [u8; 32],
    peer: Option<Vec<u8>>,
    state: &Mutex<State>,
    pki: &TestPki,
) -> Response<Full<Bytes>> {
    let refused = || error(StatusCode::FORBIDDEN, "refused", "enrollment refused");
    match (method, path) {
        ("POST", "/v1/enroll/challenge") => {
            let Ok(request) = serde_json::from_slice::<ChallengeRequest>(body) else {
                return error(StatusCode::BAD_REQUEST, "bad_json", "bad JSON");
            };
            let mut nonce = [0u8; 32];
            rand_core::OsRng.fill_bytes(&mut nonce);
            let mut state = state.lock().unwrap();
            if state.devices.contains_key(&request.serial) {
                state.nonces.insert(nonce, (connection, false));
            }
            reply(
                StatusCode::OK,
                json!({"nonce": Nonce(nonce).to_hex(), "expires_at_ms": 4_000_000_000_000u64}),
            )
        }
        ("POST", "/v1/enroll/complete") => {
            let Ok(request) = serde_json::from_slice::<EnrollRequest>(body) else {
                return error(StatusCode::BAD_REQUEST, "bad_json", "bad JSON");
            };
            let mut state = state.lock().unwrap();
            let Ok(nonce) = Nonce::from_hex(&request.nonce) else {
                return refused();
            };
            match state.nonces.get_mut(&nonce.0) {
                Some((conn, used)) if *conn == connection && !*used => *used = true,
                _ => return refused(),
            }
            let Some(device) = state.devices.get(&request.serial).cloned() else {
                return refused();
            };
            let (Ok(csr), Ok(signature), Ok(serial)) = (
                decode_base64(&request.csr, "csr"),
                Signature::from_hex(&request.signature),
                Serial::new(&request.serial),
            ) else {
                return refused();
            };
            let binding = match request.channel_binding {
                ChannelBinding::TlsExporter => Some(exporter),
                ChannelBinding::None => None,
            };
            let message = EnrollmentMessage {
                mode: request.mode,
                nonce,
                serial: &serial,
                csr_der: &csr,
                channel_binding: binding,
            };
            if message.verify(&device.key, &signature).is_err() {
                return refused();
            }
            state.verified_bindings.push((connection, binding));
            if !device.approved {
                return error(StatusCode::CONFLICT, "pending_approval", "not yet approved");
            }
            if device.enrolled {
                return error(StatusCode::CONFLICT, "already_enrolled", "already enrolled");
            }
            let Ok((pem, csr_key)) = pki.issue(&csr, &request.serial) else {
                return refused();
            };
            if request.mode == EnrollMode::SameKey && csr_key != device.key {
                return refused();
            }
            if let Some(d) = state.devices.get_mut(&request.serial) {
                d.enrolled = true;
            }
            issue_reply(&mut state, pki, &pem, &request.serial)
        }
        ("GET", "/v1/device/hello") => {
            let state = state.lock().unwrap();
            let Some(serial) = peer.as_ref().and_then(|p| state.issued.get(p)).cloned() else {
                return error(
                    StatusCode::UNAUTHORIZED,
                    "client_certificate_required",
                    "client certificate required",
                );
            };
            let device = state.devices.get(&serial).cloned();
            reply(
                StatusCode::OK,
                json!({
                    "serial": serial,
                    "model": null,
                    "state": "enrolled",
                    "key_fingerprint": device.map(|d| d.key.fingerprint().to_string()),
                    "certificate_serial": "00",
                    "not_after_ms": 2_208_988_800_000u64,
                    "connection": connection,
                }),
            )
        }
        ("POST", "/v1/device/renew") => {
            let mut state = state.lock().unwrap();
            let Some(serial) = peer.as_ref().and_then(|p| state.issued.get(p)).cloned() else {
                return error(
                    StatusCode::UNAUTHORIZED,
                    "client_certificate_required",
                    "client certificate required",
                );
            };
            let Ok(request) = serde_json::from_slice::<RenewRequest>(body) else {
                return error(StatusCode::BAD_REQUEST, "bad_json", "bad JSON");
            };
            let Ok(csr) = decode_base64(&request.csr, "csr") else {
                return error(StatusCode::BAD_REQUEST, "bad_csr", "bad CSR");
            };
            let Ok((pem, _)) = pki.issue(&csr, &serial) else {
                return error(StatusCode::BAD_REQUEST, "bad_csr", "bad CSR");
            };
            issue_reply(&mut state, pki, &pem, &serial)
        }
        ("GET", "/v1/unavailable") => error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "down"),
        _ => error(StatusCode::NOT_FOUND, "not_found", "no such endpoint"),
    }
}

fn issue_reply(state: &mut State, pki: &TestPki, pem: &str, serial: &str) -> Response<Full<Bytes>> {
    let der = rustls::pki_types::CertificateDer::pem_slice_iter_compat(pem.as_bytes())
        .next()
        .unwrap();
    state
        .issued
        .insert(der.as_ref().to_vec(), serial.to_string());
    reply(
        StatusCode::OK,
        json!({"certificate_pem": pem, "chain_pem": pki.ca_pem, "not_after_ms": 2_208_988_800_000u64}),
    )
}

/// `CertificateDer::pem_slice_iter` without the error plumbing (test-only helper).
trait PemCompat {
    fn pem_slice_iter_compat(pem: &[u8]) -> std::vec::IntoIter<CertificateDer<'static>>;
}

impl PemCompat for CertificateDer<'static> {
    fn pem_slice_iter_compat(pem: &[u8]) -> std::vec::IntoIter<CertificateDer<'static>> {
        use rustls::pki_types::pem::PemObject;
        CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
            .into_iter()
    }
}

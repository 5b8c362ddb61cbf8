//! HTTPS to the Vouch server: reqwest over rustls, configured by `vouch_support::tls` (ring,
//! TLS 1.3 or 1.2 with EMS), the server verified only against the CA pinned at registration,
//! the staff certificate as the client identity.
//!
//! The one exception is [`Api::bootstrap`], used once by registration to fetch `GET /v1/ca`
//! before any CA is trusted: it accepts any server certificate, and what it fetches is trusted
//! only if its SHA-256 equals the hash the invite carries. The invite code itself is sent only
//! over a connection verified against that pinned CA.

use std::sync::Arc;
use std::time::Duration;
use vouch_protocol::wire::ErrorBody;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde::de::DeserializeOwned;
use serde::Serialize;
use vouch_support::tls::find_rustls_error;

use crate::config::SyncConfig;
use crate::error::{Error, Result};

/// The crypto provider of every TLS connection and certificate check (ring).
pub(crate) fn provider() -> Arc<CryptoProvider> {
    vouch_support::tls::provider()
}

/// A client certificate and its key, as DER.
pub(crate) struct ClientIdentity {
    pub cert_chain: Vec<CertificateDer<'static>>,
    pub key_pkcs8: Vec<u8>,
}

/// The base URL and a configured client.
#[derive(Clone)]
pub(crate) struct Api {
    client: reqwest::Client,
    base: String,
}

/// A failed call, with the server's `retry-after` when it sent one.
pub(crate) struct Failure {
    pub error: Error,
    pub retry_after: Option<Duration>,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Self {
            error,
            retry_after: None,
        }
    }
}

impl Api {
    fn build(base: &str, tls: rustls::ClientConfig, sync: &SyncConfig) -> Result<Self> {
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .https_only(true)
            .connect_timeout(sync.connect_timeout())
            .timeout(sync.request_timeout())
            .build()
            .map_err(|e| Error::Tls {
                url: base.to_string(),
                detail: e.to_string(),
            })?;
        Ok(Self {
            client,
            base: base.trim_end_matches('/').to_string(),
        })
    }

    /// A client that trusts no server: only for fetching the CA, whose hash is then checked.
    pub fn bootstrap(base: &str, sync: &SyncConfig) -> Result<Self> {
        let tls = vouch_support::tls::client_with_verifier(Arc::new(HashCheckedLater(provider())))
            .map_err(|e| tls_error(base, e))?;
        Self::build(base, tls, sync)
    }

    /// A client that trusts only `ca_der`, with an optional client certificate.
    pub fn pinned(
        base: &str,
        ca_der: &[u8],
        identity: Option<ClientIdentity>,
        sync: &SyncConfig,
    ) -> Result<Self> {
        let roots = vouch_support::tls::pinned_roots([CertificateDer::from(ca_der.to_vec())])
            .map_err(|e| tls_error(base, e))?;
        let identity = identity.map(|id| vouch_support::tls::ClientIdentity {
            cert_chain: id.cert_chain,
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(id.key_pkcs8)),
        });
        let tls = vouch_support::tls::pinned_client(Arc::new(roots), identity)
            .map_err(|e| tls_error(base, e))?;
        Self::build(base, tls, sync)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, Failure> {
        let resp = req.send().await.map_err(|e| classify(&self.base, &e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| vouch_support::retry::parse_retry_after(v.as_bytes()));
        let text = resp.bytes().await.unwrap_or_default();
        let body = ErrorBody::from_answer(&text);
        let error = match status.as_u16() {
            401 | 403 => Error::Refused {
                code: body.code,
                message: body.message,
            },
            404 => Error::NotFound {
                message: body.message,
            },
            status => Error::Server {
                status,
                code: body.code,
                message: body.message,
            },
        };
        Err(Failure { error, retry_after })
    }

    async fn json<T: DeserializeOwned>(&self, resp: reqwest::Response) -> Result<T, Failure> {
        let bytes = resp.bytes().await.map_err(|e| classify(&self.base, &e))?;
        serde_json::from_slice(&bytes).map_err(|e| Failure::from(Error::Protocol(e.to_string())))
    }

    /// `GET path` → text.
    pub async fn get_text(&self, path: &str) -> Result<String, Failure> {
        let resp = self.send(self.client.get(self.url(path))).await?;
        resp.text().await.map_err(|e| classify(&self.base, &e))
    }

    /// `GET path` → JSON.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, Failure> {
        let resp = self.send(self.client.get(self.url(path))).await?;
        self.json(resp).await
    }

    /// `POST path` with a JSON body → JSON.
    pub async fn post_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, Failure> {
        let resp = self
            .send(self.client.post(self.url(path)).json(body))
            .await?;
        self.json(resp).await
    }
}

fn tls_error(url: &str, e: impl std::fmt::Display) -> Error {
    Error::Tls {
        url: url.to_string(),
        detail: e.to_string(),
    }
}

/// Sorts a reqwest error into TLS trouble, no network, or a bad answer.
fn classify(url: &str, e: &reqwest::Error) -> Failure {
    if let Some(tls) = find_rustls_error(e) {
        return Failure::from(tls_error(url, tls));
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut detail = e.to_string();
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            detail = io.to_string();
        }
        source = err.source();
    }
    if e.is_decode() {
        return Failure::from(Error::Protocol(detail));
    }
    if e.is_timeout() {
        detail = format!("no answer in time: {detail}");
    }
    Failure::from(Error::Offline {
        url: url.to_string(),
        detail,
    })
}

/// Accepts any server certificate (still checking the handshake signatures). Used only to fetch
/// the CA, which is trusted only if its hash matches the invite.
#[derive(Debug)]
struct HashCheckedLater(Arc<CryptoProvider>);

impl ServerCertVerifier for HashCheckedLater {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

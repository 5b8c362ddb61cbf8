//! The device's connection to the server: TLS verified against the Vouch CA only, and a small
//! HTTP/1.1 client (hyper) over it.
//!
//! One [`Session`] is one TLS connection; every request made with it goes over that
//! connection. That is what makes channel binding work: the challenge and the signed answer
//! travel on the same connection, and [`Session::channel_binding`] is that connection's
//! RFC 9266 `tls-exporter` value, which the device signs and the server recomputes on its side.
//!
//! TLS is the configuration every Vouch client shares (`vouch_support::tls`): rustls with the
//! *ring* provider, TLS 1.3 or TLS 1.2 with extended master secret (required, so the exporter
//! is safe to bind to). The server certificate is verified against the given CA file and
//! nothing else: no system or web PKI roots.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use p256::pkcs8::EncodePrivateKey;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use vouch_protocol::enroll::{CHANNEL_BINDING_LABEL, CHANNEL_BINDING_LEN};
use vouch_protocol::wire::{ErrorBody, ErrorCode};
use vouch_support::tls::{find_rustls_error, ClientIdentity};

use crate::error::{Error, Result};
use crate::store::Identity;

/// The largest response body the client reads.
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;
/// The default time allowed for connecting (TCP and TLS) and for each request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// Where the server is and how to trust it: the base URL and the CA certificate(s) that its
/// certificate must chain to.
#[derive(Clone)]
pub struct Server {
    url: String,
    host: String,
    port: u16,
    authority: String,
    base_path: String,
    server_name: ServerName<'static>,
    roots: Arc<RootCertStore>,
    timeout: Duration,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("url", &self.url)
            .field("server_name", &self.server_name)
            .field("roots", &self.roots.len())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Server {
    /// A server at `url` (`https://host[:port][/base]`, port 443 by default), trusted only
    /// through the CA certificate(s) in the PEM file `ca_pem_path`.
    pub fn new(url: &str, ca_pem_path: &Path) -> Result<Self> {
        let pem = std::fs::read(ca_pem_path).map_err(|e| Error::BadCa {
            path: ca_pem_path.to_path_buf(),
            reason: format!("cannot read it: {e}"),
        })?;
        Self::with_ca_pem(url, &pem, ca_pem_path)
    }

    /// Like [`Server::new`] with the CA PEM already in memory (`origin` names it in errors).
    pub fn with_ca_pem(url: &str, ca_pem: &[u8], origin: &Path) -> Result<Self> {
        let roots = load_roots(ca_pem, origin)?;
        let invalid = |reason: &str| Error::InvalidArgument {
            what: "server URL",
            reason: format!("{url:?}: {reason}"),
        };
        let uri: Uri = url
            .parse()
            .map_err(|e| invalid(&format!("not a URL ({e})")))?;
        if uri.scheme_str() != Some("https") {
            return Err(invalid("must start with https://"));
        }
        if uri.query().is_some() {
            return Err(invalid("must not have a query"));
        }
        let authority = uri
            .authority()
            .ok_or_else(|| invalid("has no host"))?
            .clone();
        if authority.as_str().contains('@') {
            return Err(invalid("must not carry user information"));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        if host.is_empty() {
            return Err(invalid("has no host"));
        }
        let port = authority.port_u16().unwrap_or(443);
        let server_name = server_name_for(&host).map_err(|reason| invalid(&reason))?;
        Ok(Self {
            url: url.to_string(),
            host,
            port,
            authority: authority.as_str().to_string(),
            base_path: uri.path().trim_end_matches('/').to_string(),
            server_name,
            roots: Arc::new(roots),
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Verifies the server certificate for `name` instead of the URL's host (for a server
    /// reached by an address its certificate does not name).
    pub fn with_server_name(mut self, name: &str) -> Result<Self> {
        self.server_name = server_name_for(name).map_err(|reason| Error::InvalidArgument {
            what: "server name",
            reason,
        })?;
        Ok(self)
    }

    /// Sets the time allowed for connecting and for each request.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The URL as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    fn client_config(&self, identity: Option<&Identity>) -> Result<ClientConfig> {
        let client_identity = match identity {
            None => None,
            Some(identity) => {
                let mut chain = certs_from_pem(identity.certificate_pem.as_bytes())
                    .map_err(|e| Error::Crypto(format!("cert.pem: {e}")))?;
                if chain.is_empty() {
                    return Err(Error::Crypto("cert.pem holds no certificate".into()));
                }
                // The chain's CA certificate is the server's own trust anchor: send only
                // the intermediates (if any) after the device certificate.
                let mut rest = certs_from_pem(identity.chain_pem.as_bytes())
                    .map_err(|e| Error::Crypto(format!("chain.pem: {e}")))?;
                rest.pop();
                chain.extend(rest);
                let key = identity
                    .key()
                    .to_pkcs8_der()
                    .map_err(|e| Error::Crypto(format!("cannot encode the key: {e}")))?;
                let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.as_bytes().to_vec()));
                Some(ClientIdentity {
                    cert_chain: chain,
                    key,
                })
            }
        };
        // The shared configuration requires extended master secret on TLS 1.2: without it the
        // exporter this agent signs is unsafe (RFC 9266 §3).
        let what = if client_identity.is_some() {
            "client certificate"
        } else {
            "TLS setup"
        };
        vouch_support::tls::pinned_client(self.roots.clone(), client_identity).map_err(
            |e| match e {
                vouch_support::Error::Tls(e) => Error::Crypto(format!("{what}: {e}")),
                other => Error::Crypto(other.to_string()),
            },
        )
    }
}

fn server_name_for(host: &str) -> std::result::Result<ServerName<'static>, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ServerName::IpAddress(ip.into()));
    }
    ServerName::try_from(host.to_string()).map_err(|e| format!("{host:?} is not a host name ({e})"))
}

fn certs_from_pem(pem: &[u8]) -> std::result::Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| format!("bad PEM: {e}"))
}

fn load_roots(pem: &[u8], origin: &Path) -> Result<RootCertStore> {
    let bad = |reason: String| Error::BadCa {
        path: origin.to_path_buf(),
        reason,
    };
    let certs = certs_from_pem(pem).map_err(bad)?;
    vouch_support::tls::pinned_roots(certs).map_err(|e| match e {
        vouch_support::Error::NoTrustAnchor => bad("no CERTIFICATE block in it".into()),
        vouch_support::Error::Tls(e) => bad(format!("not a usable CA certificate: {e}")),
        other => bad(other.to_string()),
    })
}

/// An HTTP answer: status, `retry-after` (seconds) and body.
#[derive(Clone, Debug)]
pub struct Reply {
    /// The server that answered (`host:port`).
    pub server: String,
    /// The HTTP status code.
    pub status: u16,
    /// The `retry-after` header, when it holds a number of seconds.
    pub retry_after: Option<Duration>,
    /// The body (at most [`MAX_RESPONSE_BYTES`]).
    pub body: Bytes,
}

impl Reply {
    /// Maps an error status to [`Error`] (see the table in the crate documentation); a 2xx
    /// reply is returned as is.
    pub fn ok(self) -> Result<Reply> {
        if (200..300).contains(&self.status) {
            return Ok(self);
        }
        let ErrorBody { code, message } = ErrorBody::from_answer(&self.body);
        // An answer without a code (a proxy's page) still needs one for the exit and the log.
        let code = match code {
            ErrorCode::Unknown(text) if text.is_empty() => ErrorCode::Unknown("unknown".into()),
            code => code,
        };
        Err(match (self.status, &code) {
            (409, ErrorCode::PendingApproval) => Error::PendingApproval,
            (429, _) => Error::RateLimited {
                retry_after: self.retry_after,
            },
            (401 | 403 | 409, _) => Error::Refused { code, message },
            (502..=504, _) => Error::Unreachable {
                server: self.server,
                reason: format!("the server answered {} ({code})", self.status),
            },
            (status, _) => Error::Server {
                status,
                code,
                message,
            },
        })
    }

    /// Parses a 2xx reply's JSON body (error statuses are mapped by [`Reply::ok`] first).
    pub fn json<T: DeserializeOwned>(self) -> Result<T> {
        let reply = self.ok()?;
        serde_json::from_slice(&reply.body).map_err(|e| Error::Protocol(format!("bad JSON: {e}")))
    }
}

/// One TLS connection to the server, with an HTTP/1.1 client on it.
pub struct Session {
    sender: SendRequest<Full<Bytes>>,
    exporter: Option<[u8; CHANNEL_BINDING_LEN]>,
    server: String,
    authority: String,
    base_path: String,
    timeout: Duration,
    driver: JoinHandle<()>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

impl Session {
    /// Connects: TCP, then TLS verified against the server's CA, presenting `identity` as the
    /// client certificate if given (mTLS).
    pub async fn open(server: &Server, identity: Option<&Identity>) -> Result<Self> {
        let address = server.address();
        let config = Arc::new(server.client_config(identity)?);
        let unreachable = |reason: String| Error::Unreachable {
            server: address.clone(),
            reason,
        };
        let connect = async {
            let tcp = TcpStream::connect((server.host.as_str(), server.port))
                .await
                .map_err(|e| unreachable(e.to_string()))?;
            let _ = tcp.set_nodelay(true);
            TlsConnector::from(config)
                .connect(server.server_name.clone(), tcp)
                .await
                .map_err(|e| match find_rustls_error(&e).cloned() {
                    Some(source) => Error::Tls {
                        server: address.clone(),
                        source,
                    },
                    None => unreachable(format!("TLS handshake: {e}")),
                })
        };
        let tls = tokio::time::timeout(server.timeout, connect)
            .await
            .map_err(|_| unreachable(format!("no connection within {:?}", server.timeout)))??;
        let exporter = tls
            .get_ref()
            .1
            .export_keying_material([0u8; CHANNEL_BINDING_LEN], CHANNEL_BINDING_LABEL, Some(&[]))
            .ok();
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| unreachable(format!("HTTP: {e}")))?;
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Self {
            sender,
            exporter,
            server: address,
            authority: server.authority.clone(),
            base_path: server.base_path.clone(),
            timeout: server.timeout,
            driver,
        })
    }

    /// This connection's RFC 9266 `tls-exporter` channel-binding value (label
    /// `EXPORTER-Channel-Binding`, empty context, 32 bytes); `None` only if the TLS stack
    /// refuses to export.
    pub fn channel_binding(&self) -> Option<[u8; CHANNEL_BINDING_LEN]> {
        self.exporter
    }

    /// `GET path` (relative to the server URL's path).
    pub async fn get(&mut self, path: &str) -> Result<Reply> {
        self.send(Method::GET, path, None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post_json<T: Serialize + ?Sized>(
        &mut self,
        path: &str,
        body: &T,
    ) -> Result<Reply> {
        let body = serde_json::to_vec(body)
            .map_err(|e| Error::Protocol(format!("cannot encode the request: {e}")))?;
        self.send(Method::POST, path, Some(body)).await
    }

    async fn send(&mut self, method: Method, path: &str, body: Option<Vec<u8>>) -> Result<Reply> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base_path, path))
            .header(hyper::header::HOST, &self.authority)
            .header(hyper::header::ACCEPT, "application/json")
            .header(
                hyper::header::USER_AGENT,
                concat!("vouch-device/", env!("CARGO_PKG_VERSION")),
            );
        if body.is_some() {
            request = request.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| Error::InvalidArgument {
                what: "request",
                reason: e.to_string(),
            })?;
        let server = self.server.clone();
        let timeout = self.timeout;
        let exchange = async {
            self.sender
                .ready()
                .await
                .map_err(|e| map_hyper(&server, &e))?;
            let response = self
                .sender
                .send_request(request)
                .await
                .map_err(|e| map_hyper(&server, &e))?;
            let status = response.status();
            let retry_after = response
                .headers()
                .get(hyper::header::RETRY_AFTER)
                .and_then(|v| vouch_support::retry::parse_retry_after(v.as_bytes()));
            let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| Error::Protocol(format!("reading the answer: {e}")))?
                .to_bytes();
            Ok::<_, Error>(Reply {
                server: server.clone(),
                status: status.as_u16(),
                retry_after,
                body,
            })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| Error::Unreachable {
                server: self.server.clone(),
                reason: format!("no answer within {timeout:?}"),
            })?
    }
}

fn map_hyper(server: &str, e: &hyper::Error) -> Error {
    if let Some(source) = find_rustls_error(e).cloned() {
        return Error::Tls {
            server: server.to_string(),
            source,
        };
    }
    Error::Unreachable {
        server: server.to_string(),
        reason: format!("the connection failed: {e}"),
    }
}

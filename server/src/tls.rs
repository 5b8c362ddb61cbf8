//! HTTPS serving: rustls (TLS 1.2 and 1.3, ring provider), client certificates optional at the
//! handshake and checked per endpoint, and per-connection facts (peer address, client
//! certificate, RFC 9266 channel-binding exporter) handed to handlers as a request extension.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::header::CONNECTION;
use axum::http::{HeaderValue, Version};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;
use vouch_protocol::enroll::{CHANNEL_BINDING_LABEL, CHANNEL_BINDING_LEN};

use crate::authority::files::pem_to_der;
use crate::conn::{
    AcceptBackoff, Activity, ConnLimits, QuietLog, Refusal, Ticket, TimedBody, Watched,
};
use crate::error::{Failure, ServerError};

/// What the handlers may know about the connection a request came on.
#[derive(Clone, Debug)]
pub struct ConnInfo {
    /// The peer's address.
    pub peer: SocketAddr,
    /// The client certificate (DER), if one was presented and verified against the CA.
    pub client_cert: Option<Arc<Vec<u8>>>,
    /// The RFC 9266 `tls-exporter` value of this connection.
    pub channel_binding: Option<[u8; CHANNEL_BINDING_LEN]>,
}

/// The crypto provider used for every TLS connection and signature (ring).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_err(e: impl std::error::Error + Send + Sync + 'static) -> ServerError {
    ServerError::Tls(Failure::of(e))
}

/// The server's certificate and key, replaceable while serving: a re-issued certificate is used
/// by the next handshake, without a restart.
#[derive(Debug)]
pub struct ServerCert {
    current: RwLock<Arc<CertifiedKey>>,
}

fn certified_key(cert_pem: &str, key_pem: &str) -> Result<Arc<CertifiedKey>, ServerError> {
    let cert = CertificateDer::from(pem_to_der(cert_pem, "CERTIFICATE")?);
    let key = PrivateKeyDer::try_from(pem_to_der(key_pem, "PRIVATE KEY")?)
        // rustls says what is wrong with the key in a fixed sentence, not an error type.
        .map_err(|why| ServerError::Tls(Failure::new(why)))?;
    let certified = CertifiedKey::from_der(vec![cert], key, &provider()).map_err(tls_err)?;
    Ok(Arc::new(certified))
}

impl ServerCert {
    /// The certificate (PEM) and its private key (PKCS#8 PEM); refused if they do not match.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Arc<Self>, ServerError> {
        Ok(Arc::new(Self {
            current: RwLock::new(certified_key(cert_pem, key_pem)?),
        }))
    }

    /// Serves `cert_pem` from the next handshake on (checked like [`ServerCert::from_pem`]).
    pub fn replace(&self, cert_pem: &str, key_pem: &str) -> Result<(), ServerError> {
        let next = certified_key(cert_pem, key_pem)?;
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        *current = next;
        Ok(())
    }

    /// The end-entity certificate now served (DER).
    pub fn end_entity(&self) -> Vec<u8> {
        let current = self.current.read().unwrap_or_else(|p| p.into_inner());
        current.cert.first().map(|c| c.to_vec()).unwrap_or_default()
    }
}

impl ResolvesServerCert for ServerCert {
    fn resolve(&self, _hello: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        )
    }
}

/// Builds the server TLS configuration: our certificate, TLS 1.2+ only, client certificates
/// from our CA optional.
pub fn server_config(
    ca_der: &[u8],
    cert_pem: &str,
    key_pem: &str,
) -> Result<Arc<ServerConfig>, ServerError> {
    server_config_with(ca_der, ServerCert::from_pem(cert_pem, key_pem)?)
}

/// [`server_config`] over a replaceable certificate.
pub fn server_config_with(
    ca_der: &[u8],
    cert: Arc<ServerCert>,
) -> Result<Arc<ServerConfig>, ServerError> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca_der.to_vec()))
        .map_err(tls_err)?;
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .allow_unauthenticated()
        .build()
        .map_err(tls_err)?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(tls_err)?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(cert);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    // TLS 1.2 without extended master secret has no safe exporter (RFC 9266 section 4.2).
    config.require_ems = true;
    Ok(Arc::new(config))
}

/// Serves `app` over TLS on `listener` until `shutdown` completes, then lets open connections
/// finish (up to 10 s). Every connection is held to `limits`.
pub async fn serve(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    app: Router,
    limits: ConnLimits,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(config);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let limits = Arc::new(limits);
    let mut backoff = AcceptBackoff::default();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (tcp, peer) = match accepted {
            Ok(v) => v,
            Err(e) => {
                let pause = backoff.after(&e);
                accept_failed(&e, pause);
                tokio::select! {
                    () = tokio::time::sleep(pause) => continue,
                    () = &mut shutdown => break,
                }
            }
        };
        backoff.reset();
        let ticket = match limits.admission.admit(peer.ip()) {
            Ok(ticket) => ticket,
            Err(why) => {
                refuse(tcp, peer, why);
                continue;
            }
        };
        let connection = Connection {
            peer,
            ticket,
            acceptor: acceptor.clone(),
            app: app.clone(),
            limits: limits.clone(),
        };
        tokio::spawn(connection.serve(tcp, graceful.watcher()));
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(Duration::from_secs(10)) => tracing::warn!("closing connections still open after 10 s"),
    }
}

/// Logs a failed accept, at most once per 10 s (out of descriptors it fails for every waiting
/// client, and a line each filled the disk).
fn accept_failed(error: &std::io::Error, pause: Duration) {
    static LOG: QuietLog = QuietLog::new(Duration::from_secs(10));
    if let Some(held_back) = LOG.allow() {
        tracing::warn!(error = %error, pause_ms = pause.as_millis(), held_back, "accept failed");
    }
}

/// Refused connections being closed now; past [`MAX_CLOSING`] they are dropped at once.
static CLOSING: AtomicUsize = AtomicUsize::new(0);
/// Part of [`crate::conn::RESERVED_DESCRIPTORS`].
const MAX_CLOSING: usize = 32;

/// Closes a connection over a limit, logging at most once per 10 s per limit. The server
/// sends its FIN and reads (and discards) the client's first bytes for up to a second before
/// closing: a socket closed with unread data sends a reset instead.
fn refuse(tcp: TcpStream, peer: SocketAddr, why: Refusal) {
    static PER_ADDRESS: QuietLog = QuietLog::new(Duration::from_secs(10));
    static GLOBAL: QuietLog = QuietLog::new(Duration::from_secs(10));
    let (log, limit) = match why {
        Refusal::PerAddress => (&PER_ADDRESS, "limits.max_connections_per_address"),
        Refusal::Global => (&GLOBAL, "limits.max_connections"),
    };
    if let Some(held_back) = log.allow() {
        tracing::warn!(%peer, limit, held_back, "connection refused: limit reached");
    }
    if CLOSING.fetch_add(1, Ordering::AcqRel) >= MAX_CLOSING {
        CLOSING.fetch_sub(1, Ordering::AcqRel);
        return;
    }
    tokio::spawn(async move {
        let mut tcp = tcp;
        let _ = tcp.shutdown().await;
        let mut sink = [0u8; 4096];
        let drain = async {
            let mut left = 16 * 1024usize;
            while left > 0 {
                match tcp.read(&mut sink).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => left = left.saturating_sub(n),
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
        CLOSING.fetch_sub(1, Ordering::AcqRel);
    });
}

/// One admitted connection, before its handshake.
struct Connection {
    peer: SocketAddr,
    ticket: Ticket,
    acceptor: TlsAcceptor,
    app: Router,
    limits: Arc<ConnLimits>,
}

impl Connection {
    /// Handshake, then HTTP until the client or a limit ends it.
    async fn serve(self, tcp: TcpStream, watcher: hyper_util::server::graceful::Watcher) {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(peer = %self.peer, error = %e, "cannot set TCP_NODELAY");
        }
        let Some(stream) = self.handshake(tcp).await else {
            return;
        };
        let peer = self.peer;
        let activity = Activity::new(self.ticket, self.limits.deadlines);
        let service = connection_service(
            conn_info(&stream, peer),
            self.app,
            activity.clone(),
            self.limits.body,
        );
        let io = TokioIo::new(Watched::new(stream, activity.clone()));
        let mut builder = Builder::new(TokioExecutor::new());
        // An answer's head and body go out in one buffer, so in one TLS record and one write:
        // strict clients (strongSwan's EST client) read the whole head in their first read.
        builder.http1().writev(false);
        let conn = builder
            .serve_connection_with_upgrades(io, service)
            .into_owned();
        tokio::select! {
            ended = watcher.watch(conn) => if let Err(e) = ended {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            },
            why = activity.expired() => closed_by_server(peer, why),
        }
    }

    async fn handshake(&self, tcp: TcpStream) -> Option<TlsStream<TcpStream>> {
        let peer = self.peer;
        tokio::select! {
            done = tokio::time::timeout(self.limits.handshake, self.acceptor.accept(tcp)) => match done {
                Ok(Ok(s)) => Some(s),
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    None
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    None
                }
            },
            () = self.ticket.evicted() => {
                closed_by_server(peer, "evicted to make room for another connection");
                None
            }
        }
    }
}

/// Logs a connection the server closed: timeouts at debug level (every slow client would
/// otherwise write a line), evictions at most once per 10 s.
fn closed_by_server(peer: SocketAddr, why: &'static str) {
    static EVICTIONS: QuietLog = QuietLog::new(Duration::from_secs(10));
    if why.starts_with("evicted") {
        if let Some(held_back) = EVICTIONS.allow() {
            tracing::warn!(%peer, held_back, "connection closed: {why}");
        }
    } else {
        tracing::debug!(%peer, "connection closed: {why}");
    }
}

/// The router for one connection: each request gets the connection's facts and a body with a
/// deadline; an HTTP/1 answer to a request whose body was not read to its end says
/// `Connection: close` (hyper then closes after it, and the rest of that body is never taken for
/// a next request).
fn connection_service(
    info: ConnInfo,
    app: Router,
    activity: Arc<Activity>,
    body_limit: Duration,
) -> impl hyper::service::Service<
    hyper::Request<hyper::body::Incoming>,
    Response = axum::response::Response,
    Error = Infallible,
    Future = impl std::future::Future<Output = Result<axum::response::Response, Infallible>>
                 + Send
                 + 'static,
> + Clone {
    let service = move |req: hyper::Request<hyper::body::Incoming>| {
        let in_progress = activity.request_started();
        let http1 = matches!(
            req.version(),
            Version::HTTP_09 | Version::HTTP_10 | Version::HTTP_11
        );
        let (parts, body) = req.into_parts();
        let (body, finished) = TimedBody::new(body, body_limit);
        let mut req = hyper::Request::from_parts(parts, axum::body::Body::new(body));
        req.extensions_mut().insert(info.clone());
        let (app, activity) = (app.clone(), activity.clone());
        async move {
            let Ok(mut response) = app.oneshot(req).await;
            if http1 && !finished.get() {
                response
                    .headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
                activity.close_after_answer();
            }
            drop(in_progress);
            Ok(response)
        }
    };
    hyper::service::service_fn(service)
}

fn conn_info(stream: &TlsStream<TcpStream>, peer: SocketAddr) -> ConnInfo {
    let (_, session) = stream.get_ref();
    let client_cert = session
        .peer_certificates()
        .and_then(|certs| certs.first())
        .map(|c| Arc::new(c.as_ref().to_vec()));
    let channel_binding = session
        .export_keying_material([0u8; CHANNEL_BINDING_LEN], CHANNEL_BINDING_LABEL, Some(&[]))
        .ok();
    ConnInfo {
        peer,
        client_cert,
        channel_binding,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::authority::files::{self, DataPaths};
    use crate::authority::Authority;

    /// The certificate a client sees in a real handshake with `config`.
    async fn served_certificate(config: Arc<ServerConfig>, ca_der: &[u8]) -> Vec<u8> {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let _ = TlsAcceptor::from(config).accept(tcp).await;
        });
        let mut roots = RootCertStore::empty();
        roots.add(CertificateDer::from(ca_der.to_vec())).unwrap();
        let client = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let tls = tokio_rustls::TlsConnector::from(Arc::new(client))
            .connect(name, tcp)
            .await
            .unwrap();
        let seen = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
        server.abort();
        seen
    }

    #[tokio::test]
    async fn a_reissued_certificate_is_served_without_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        crate::init(dir.path(), &["localhost".to_string()], None).unwrap();
        let paths = DataPaths::new(dir.path());
        let authority = Authority::load(dir.path()).unwrap();
        let read = |p: std::path::PathBuf| files::read_text(&p).unwrap();
        let (first, key) = (read(paths.server_cert()), read(paths.server_key()));
        let cert = ServerCert::from_pem(&first, &key).unwrap();
        let config = server_config_with(authority.ca_der(), cert.clone()).unwrap();
        let before = served_certificate(config.clone(), authority.ca_der()).await;
        assert_eq!(before, pem_to_der(&first, "CERTIFICATE").unwrap());

        // Not due with 30 days to go; due when asked for a window longer than its validity.
        assert!(!crate::renew_server_certificate_if_due(&paths, &authority, 30).unwrap());
        assert!(crate::renew_server_certificate_if_due(&paths, &authority, 400).unwrap());
        let second = read(paths.server_cert());
        assert_ne!(first, second);
        cert.replace(&second, &key).unwrap();
        let after = served_certificate(config, authority.ca_der()).await;
        assert_eq!(after, pem_to_der(&second, "CERTIFICATE").unwrap());

        // A key that does not belong to the certificate is refused and changes nothing.
        let other = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        assert!(cert.replace(&first, &other.serialize_pem()).is_err());
        assert_eq!(
            cert.end_entity(),
            pem_to_der(&second, "CERTIFICATE").unwrap()
        );
    }
}

//! HTTPS serving: rustls (TLS 1.2 and 1.3, ring provider), client certificates optional at the
//! handshake and checked per endpoint, and per-connection facts (peer address, client
//! certificate, RFC 9266 channel-binding exporter) handed to handlers as a request extension.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;
use vouch_protocol::enroll::{CHANNEL_BINDING_LABEL, CHANNEL_BINDING_LEN};

use crate::authority::files::pem_to_der;
use crate::error::ServerError;

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

fn tls_err(e: &dyn std::fmt::Display) -> ServerError {
    ServerError::Tls(e.to_string())
}

/// The server's certificate and key, replaceable while serving: a re-issued certificate is used
/// by the next handshake, without a restart.
#[derive(Debug)]
pub struct ServerCert {
    current: RwLock<Arc<CertifiedKey>>,
}

fn certified_key(cert_pem: &str, key_pem: &str) -> Result<Arc<CertifiedKey>, ServerError> {
    let cert = CertificateDer::from(pem_to_der(cert_pem, "CERTIFICATE")?);
    let key =
        PrivateKeyDer::try_from(pem_to_der(key_pem, "PRIVATE KEY")?).map_err(|e| tls_err(&e))?;
    let certified =
        CertifiedKey::from_der(vec![cert], key, &provider()).map_err(|e| tls_err(&e))?;
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
        .map_err(|e| tls_err(&e))?;
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .allow_unauthenticated()
        .build()
        .map_err(|e| tls_err(&e))?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| tls_err(&e))?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(cert);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    // TLS 1.2 without extended master secret has no safe exporter (RFC 9266 section 4.2).
    config.require_ems = true;
    Ok(Arc::new(config))
}

/// Serves `app` over TLS on `listener` until `shutdown` completes, then lets open connections
/// finish (up to 10 s).
pub async fn serve(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    app: Router,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(config);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(%peer, error = %e, "cannot set TCP_NODELAY");
        }
        let acceptor = acceptor.clone();
        let app = app.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let handshake =
                tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await;
            let stream = match handshake {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let info = conn_info(&stream, peer);
            let service = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(info.clone());
                    app.clone().oneshot(req)
                },
            );
            let builder = Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(conn.into_owned()).await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(Duration::from_secs(10)) => tracing::warn!("closing connections still open after 10 s"),
    }
}

fn conn_info(
    stream: &tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    peer: SocketAddr,
) -> ConnInfo {
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

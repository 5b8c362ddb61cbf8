//! The TLS client configuration of every Vouch client: rustls with the *ring* provider, the
//! server verified against a pinned CA and nothing else (no system or web PKI roots), TLS 1.3
//! or TLS 1.2 with extended master secret required.
//!
//! Extended master secret (RFC 7627) is required because without it a TLS 1.2 session's
//! exporter is unsafe to bind to (RFC 9266 §3), and the device agent signs that exporter value.
//! Every client gets the same rule: the Vouch server itself requires EMS of TLS 1.2 clients, so
//! no client loses a server it could reach, and one configuration means one behaviour to test.

use std::error::Error as StdError;
use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

use crate::error::{Error, Result};

/// The protocol versions offered: TLS 1.3, and TLS 1.2 (with EMS, see the module docs).
pub const PROTOCOL_VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// The crypto provider of every TLS connection and certificate check (ring).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client certificate chain (leaf first) and its private key, for mTLS.
#[derive(Debug)]
pub struct ClientIdentity {
    /// The client certificate, then any intermediates (not the CA itself).
    pub cert_chain: Vec<CertificateDer<'static>>,
    /// The certificate's private key.
    pub key: PrivateKeyDer<'static>,
}

/// A trust store holding exactly the given CA certificate(s). At least one is required: an
/// empty store would trust nothing, and is a caller's mistake better reported here.
pub fn pinned_roots(
    cas: impl IntoIterator<Item = CertificateDer<'static>>,
) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for ca in cas {
        roots.add(ca)?;
    }
    if roots.is_empty() {
        return Err(Error::NoTrustAnchor);
    }
    Ok(roots)
}

/// A client configuration that trusts only `roots`, presenting `identity` (mTLS) if given.
pub fn pinned_client(
    roots: Arc<RootCertStore>,
    identity: Option<ClientIdentity>,
) -> Result<ClientConfig> {
    if roots.is_empty() {
        return Err(Error::NoTrustAnchor);
    }
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(PROTOCOL_VERSIONS)?
        .with_root_certificates(roots);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some(id) => builder.with_client_auth_cert(id.cert_chain, id.key)?,
    };
    Ok(strict(config))
}

/// A client configuration whose server certificate is judged by `verifier` instead of a CA,
/// with no client certificate; otherwise as [`pinned_client`]. Only for a caller that checks
/// what it fetched some other way (the field engine's first fetch of the CA, whose hash the
/// invite pins).
pub fn client_with_verifier(verifier: Arc<dyn ServerCertVerifier>) -> Result<ClientConfig> {
    let config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(PROTOCOL_VERSIONS)?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(strict(config))
}

fn strict(mut config: ClientConfig) -> ClientConfig {
    config.require_ems = true;
    config
}

/// The rustls error behind an error from an HTTP or I/O stack, if there is one: it walks the
/// `source()` chain and looks inside `io::Error`s, whose `source()` skips the error they wrap
/// (tokio-rustls and hyper-util each add one).
pub fn find_rustls_error<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    // Bounded: a chain is a few errors long; a cycle must not hang the caller.
    for _ in 0..32 {
        let err = current?;
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(tls) = inside_io(err) {
            return Some(tls);
        }
        current = err.source();
    }
    None
}

/// A rustls error wrapped (possibly several times) inside an `io::Error`.
fn inside_io<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut io = err.downcast_ref::<std::io::Error>()?;
    for _ in 0..8 {
        let inner = io.get_ref()?;
        if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        io = inner.downcast_ref::<std::io::Error>()?;
    }
    None
}

//! TLS to PostgreSQL: the connection manager the PostgreSQL backend pools, and what a failed
//! handshake is told as.
//!
//! rustls, as everywhere else in the server (`tokio-postgres-rustls`; no OpenSSL). The URL's
//! `sslmode` decides whether TLS is used (`disable`, `prefer`, the default, or `require`; the
//! driver reads it). When it is, the server's certificate chain is verified against the CA
//! certificates in `store.ca_file`, or the system's trust store when that is empty, and the
//! host name the URL gives (`host`, whatever `hostaddr` the connection goes to) must be one the
//! certificate names. `prefer` falls back to plain text only when the server offers no TLS at
//! all: a certificate that fails verification is refused in every mode. A Unix socket has no
//! host name to check and the driver cannot do TLS on it: a URL whose hosts are all sockets
//! never uses TLS (as libpq; `postgres://USER@/DB?host=/path` names the socket alone), and one
//! that names a socket beside a TCP host (`postgres://USER@localhost/DB?host=/path`: the
//! driver tries localhost first, then the socket) uses it only with `require`, so that
//! `prefer` keeps working on a server with `ssl=on`.

use std::path::Path;

use std::time::Duration;

use super::postgres_conn::{Connector, PgManager};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{CertificateError, RootCertStore};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::{Failure, ServerError};

/// What the driver says when `sslmode=require` meets a server that answers the TLS request
/// with "no" (its errors have no kind of their own to match).
const NO_TLS_OFFERED: &str = "server does not support TLS";

/// What the driver says when TLS is asked for on a Unix socket.
const TLS_ON_A_SOCKET: &str = "no hostname provided for TLS handshake";

/// The connection manager for `config`: with TLS (verified against `ca_file`, or the system's
/// roots when it is `None`) unless `sslmode=disable`, every host is a Unix socket, or one is
/// and `sslmode` is `prefer`; each connection made within `timeout`.
pub(super) fn manager(
    mut config: tokio_postgres::Config,
    ca_file: Option<&Path>,
    timeout: Duration,
) -> Result<PgManager, ServerError> {
    let hosts = config.get_hosts();
    let any_tcp = hosts.iter().any(|h| matches!(h, Host::Tcp(_)));
    let any_socket = hosts.iter().any(|h| !matches!(h, Host::Tcp(_)));
    if !any_tcp {
        // libpq ignores sslmode on a Unix socket; the driver would ask for TLS there too.
        config.ssl_mode(SslMode::Disable);
    }
    // The driver cannot do TLS on a socket (no host name to check), and `prefer` must not fail
    // where plain text works: a URL that names a socket (`?host=/path`, beside the URL's own
    // host) uses TLS only when it says `require`.
    let plain = match config.get_ssl_mode() {
        SslMode::Disable => true,
        SslMode::Prefer => any_socket,
        _ => false,
    };
    if plain {
        return Ok(PgManager::new(config, Connector::Plain, timeout));
    }
    let tls = MakeRustlsConnect::new(client_config(roots(ca_file)?)?);
    Ok(PgManager::new(config, Connector::Rustls(tls), timeout))
}

/// A TLS client configuration that trusts `roots` and presents no certificate.
fn client_config(roots: RootCertStore) -> Result<rustls::ClientConfig, ServerError> {
    // ring, the server's one provider (`tls::provider`, which the store may not import: the
    // layering test keeps the store away from the front doors).
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Tls(Failure::caused("TLS to the database", e)))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// The CAs a database server's certificate must chain to.
fn roots(ca_file: Option<&Path>) -> Result<RootCertStore, ServerError> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            for cert in ca_certificates(path)? {
                roots.add(cert).map_err(|e| {
                    ServerError::Config(Failure::caused(
                        format!(
                            "store.ca_file {}: a CA certificate is unusable",
                            path.display()
                        ),
                        e,
                    ))
                })?;
            }
        }
        None => {
            // A certificate or folder of the platform's that cannot be read is logged and
            // skipped, so that one bad file does not stop the server; none at all is an
            // error below.
            let found = rustls_native_certs::load_native_certs();
            for e in &found.errors {
                tracing::warn!(error = %e, "reading the system's trust store");
            }
            roots.add_parsable_certificates(found.certs);
        }
    }
    if roots.is_empty() {
        return Err(ServerError::Config(Failure::new(
            "TLS to the database needs a CA to verify it against: the system's trust store \
             has none; set store.ca_file (or VOUCH_STORE_CA_FILE), or sslmode=disable in \
             store.url",
        )));
    }
    Ok(roots)
}

/// The PEM certificates in `path`; a file with none is refused.
fn ca_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, ServerError> {
    let pem = std::fs::read(path).map_err(|e| ServerError::io("reading store.ca_file", path, e))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            ServerError::Config(Failure::caused(
                format!("store.ca_file {} is not PEM", path.display()),
                e,
            ))
        })?;
    if certs.is_empty() {
        return Err(ServerError::Config(Failure::new(format!(
            "store.ca_file {} holds no certificate",
            path.display()
        ))));
    }
    Ok(certs)
}

/// A connection refused by TLS (a certificate that does not verify, a server that offers no
/// TLS where it is required) as the error to report, or `None` for any other failure. This is
/// the operator's configuration to fix, not an outage to wait out, so it is never `busy`.
pub(super) fn refusal(e: &tokio_postgres::Error) -> Option<ServerError> {
    if let Some(tls) = rustls_cause(e) {
        let what = match tls {
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
                "the database server's certificate is not signed by a CA this server trusts \
                 (store.ca_file, or the system's trust store when it is empty)"
            }
            rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            ) => "the database server's certificate is not valid for the host name in store.url",
            rustls::Error::InvalidCertificate(_) => "the database server's certificate is refused",
            _ => "the TLS handshake with the database server failed",
        };
        return Some(ServerError::Tls(Failure::new(format!("{what}: {tls}"))));
    }
    let said = std::error::Error::source(e).map(ToString::to_string);
    let what = match said.as_deref() {
        Some(NO_TLS_OFFERED) => {
            "the database server offers no TLS, and store.url requires it (sslmode=require)"
        }
        Some(TLS_ON_A_SOCKET) => {
            "store.url requires TLS (sslmode=require) on a Unix socket, which cannot use it: \
             name a TCP host only, or leave sslmode out"
        }
        _ => return None,
    };
    Some(ServerError::Tls(Failure::new(what)))
}

/// The rustls error under a driver error, if there is one: the TLS stream reports it inside
/// an `io::Error`, whose own `source` skips it, so each link is looked into.
fn rustls_cause(e: &tokio_postgres::Error) -> Option<&rustls::Error> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(err) = next {
        if let Some(found) = err.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        let inner = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        if inner.is_some() {
            return inner;
        }
        next = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn a_ca_file_that_is_missing_empty_or_not_pem_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let e = roots(Some(&missing)).unwrap_err().to_string();
        assert!(
            e.contains("store.ca_file") && e.contains("missing.pem"),
            "{e}"
        );

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap();
        let e = roots(Some(&empty)).unwrap_err().to_string();
        assert!(e.contains("holds no certificate"), "{e}");

        let broken = dir.path().join("broken.pem");
        std::fs::write(
            &broken,
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let e = roots(Some(&broken)).unwrap_err().to_string();
        assert!(e.contains("is not PEM"), "{e}");
    }

    #[test]
    fn a_ca_file_with_a_certificate_is_the_only_root() {
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = params.self_signed(&key).unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, ca.pem()).unwrap();
        assert_eq!(roots(Some(&path)).unwrap().len(), 1);
    }

    #[test]
    fn the_documented_socket_url_names_the_socket_alone() {
        let hosts = |url: &str| {
            url.parse::<tokio_postgres::Config>()
                .unwrap()
                .get_hosts()
                .to_vec()
        };
        // The form of the README, `scripts/pg-cluster.sh` and the tests: no host before the
        // path, the socket folder as `host`.
        assert_eq!(
            hosts("postgres://vouch@/vouch?host=/tmp/x"),
            [Host::Unix("/tmp/x".into())]
        );
        // Beside a host in the URL, `host` adds a second one, tried after it (libpq would
        // replace it): a database listening on localhost:5432 would be the one reached.
        assert_eq!(
            hosts("postgres://vouch@localhost/vouch?host=/tmp/x"),
            [Host::Tcp("localhost".into()), Host::Unix("/tmp/x".into())]
        );
    }

    #[test]
    fn a_socket_url_asks_for_tls_only_with_require() {
        // Which URLs look for a CA (a missing one is the error) and so would use TLS.
        let wants_tls = |url: &str| {
            let config: tokio_postgres::Config = url.parse().unwrap();
            let missing = Path::new("/nonexistent/ca.pem");
            manager(config, Some(missing), Duration::from_secs(1)).is_err()
        };
        // Only a socket: never TLS, as libpq.
        assert!(!wants_tls(
            "postgres://vouch@%2Ftmp%2Fx/vouch?sslmode=require"
        ));
        // A socket beside a TCP host (the URL's own): TLS only when required, so `prefer`
        // keeps working on a server with ssl=on.
        assert!(!wants_tls("postgres://vouch@localhost/vouch?host=/tmp/x"));
        assert!(wants_tls(
            "postgres://vouch@localhost/vouch?host=/tmp/x&sslmode=require"
        ));
        // TCP: TLS unless disabled.
        assert!(wants_tls("postgres://vouch@localhost/vouch"));
        assert!(wants_tls(
            "postgres://vouch@localhost/vouch?sslmode=require"
        ));
        assert!(!wants_tls(
            "postgres://vouch@localhost/vouch?sslmode=disable"
        ));
    }
}

//! # vouch-server
//!
//! The companion server: the CA, staff registration, scan ingestion and review, device
//! challenge and certificate issuance, the device mTLS endpoints, revocation and the audit log.
//! [`app`] builds the router over a store; [`launch`] serves it over TLS; [`init`] prepares a
//! data folder. See `docs/PROTOCOL.md` for the HTTP API and `docs/ARCHITECTURE.md` for the parts.

pub mod api;
pub mod authority;
pub mod backup;
pub mod client;
pub mod clock;
pub mod config;
pub mod conn;
pub mod domain;
pub mod error;
pub mod metrics;
pub mod store;
pub mod tls;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use authority::files::{self, DataPaths};
use authority::token::{KeyUri, TokenKey};
use authority::{Authority, CaKey, Profile};
use clock::Clock;
use rcgen::KeyPair;
use vouch_protocol::wire::ErrorCode;

pub use api::{router, AppState};
pub use config::Config;
pub use error::{Cause, Failure, ServerError};

/// An existing CA to import (as an intermediate) instead of generating one.
#[derive(Clone, Debug)]
pub struct ImportCa {
    /// CA certificate, PEM file.
    pub cert: PathBuf,
    /// CA private key, PEM file (PKCS#8).
    pub key: PathBuf,
}

/// Where `init` gets the CA key.
#[derive(Clone, Copy, Debug)]
pub enum CaKeySource<'a> {
    /// A new key in the file `ca/ca.key.pem` (the default).
    NewFile,
    /// An existing CA certificate and key file, imported.
    Import(&'a ImportCa),
    /// A key in a PKCS#11 token, named by an RFC 7512 URI; `new_key` makes it there first.
    Token {
        /// `pkcs11:token=...;object=...`
        uri: &'a str,
        /// Make the key in the token (refused if one exists) rather than use an existing one.
        new_key: bool,
    },
}

/// What `init` made (paths only; secrets are never returned or printed).
#[derive(Clone, Debug)]
pub struct InitReport {
    /// The CA certificate file.
    pub ca_cert: PathBuf,
    /// SHA-256 of the CA certificate, hex.
    pub ca_sha256: String,
    /// The configuration file.
    pub config: PathBuf,
}

/// Prepares a data folder: CA (new or imported), server TLS certificate, operator credential,
/// example configuration. Refuses to overwrite an existing CA.
pub fn init(
    data_dir: &Path,
    hostnames: &[String],
    import: Option<&ImportCa>,
) -> Result<InitReport, ServerError> {
    let source = import.map_or(CaKeySource::NewFile, CaKeySource::Import);
    init_with(data_dir, hostnames, source)
}

/// The CA key as the data folder keeps it: a PEM file, or the URI of a token key.
enum KeyRecord {
    Pem(String),
    Uri(String),
}

/// The authority `init` makes: its certificate (PEM) and how the data folder records its key.
/// Nothing is written here, so a refusal leaves no half-made data folder.
fn init_authority(
    data_dir: &Path,
    source: CaKeySource<'_>,
) -> Result<(Authority, String, KeyRecord), ServerError> {
    match source {
        CaKeySource::NewFile => {
            let (ca_pem, key_pem) =
                Authority::generate_ca("Vouch CA", clock::SystemClock.now_ms())?;
            let authority = Authority::from_pem(&ca_pem, &key_pem)?;
            Ok((authority, ca_pem, KeyRecord::Pem(key_pem)))
        }
        CaKeySource::Import(i) => {
            let (ca_pem, key_pem) = (files::read_text(&i.cert)?, files::read_text(&i.key)?);
            let authority = Authority::from_pem(&ca_pem, &key_pem)?;
            check_is_ca(&ca_pem)?;
            Ok((authority, ca_pem, KeyRecord::Pem(key_pem)))
        }
        CaKeySource::Token { uri, new_key } => {
            let parsed = KeyUri::parse(uri)?;
            // The folder's config.toml if the operator wrote one first, else the defaults.
            let config = Config::load(data_dir)?;
            let key = TokenKey::open(&config.pkcs11, parsed, new_key)?;
            let ca_pem = Authority::self_signed_ca("Vouch CA", &key, clock::SystemClock.now_ms())?;
            let authority = Authority::from_key(&ca_pem, CaKey::Token(key))?;
            Ok((authority, ca_pem, KeyRecord::Uri(uri.to_string())))
        }
    }
}

/// [`init`] with the CA key from `source` (a token among them).
pub fn init_with(
    data_dir: &Path,
    hostnames: &[String],
    source: CaKeySource<'_>,
) -> Result<InitReport, ServerError> {
    let paths = DataPaths::new(data_dir);
    if paths.ca_key().exists() || paths.ca_cert().exists() || paths.ca_key_uri().exists() {
        return Err(ServerError::refuse(
            ErrorCode::Conflict,
            format!(
                "{} already holds a CA: refusing to overwrite it (use another --data folder)",
                data_dir.display()
            ),
        ));
    }
    for name in hostnames {
        if name.is_empty()
            || name.len() > 253
            || name.chars().any(|c| c.is_whitespace() || c == '/')
        {
            return Err(ServerError::Config(Failure::new(format!(
                "{name:?} is not a host name or address"
            ))));
        }
    }
    prepare_shared_store(data_dir)?;
    let (authority, ca_pem, key_record) = init_authority(data_dir, source)?;
    let server_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| ServerError::Authority(Failure::of(e)))?;
    let server = authority.issue_server(&server_key, hostnames)?;
    let operator_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| ServerError::Authority(Failure::of(e)))?;
    let operator = authority.issue_client(
        &rcgen::PublicKeyData::subject_public_key_info(&operator_key),
        &Profile::Operator,
        authority::operator::OPERATOR_CERT_DAYS,
        300,
    )?;
    match &key_record {
        KeyRecord::Pem(pem) => files::write_secret(&paths.ca_key(), pem)?,
        KeyRecord::Uri(uri) => files::write_public(&paths.ca_key_uri(), &format!("{uri}\n"))?,
    }
    files::write_public(&paths.ca_cert(), &ca_pem)?;
    files::write_secret(&paths.server_key(), &server_key.serialize_pem())?;
    files::write_public(&paths.server_cert(), &server.pem)?;
    files::write_secret(&paths.operator_key(), &operator_key.serialize_pem())?;
    files::write_public(&paths.operator_cert(), &operator.pem)?;
    if !paths.config().exists() {
        files::write_public(&paths.config(), config::EXAMPLE_CONFIG)?;
    }
    Ok(InitReport {
        ca_cert: paths.ca_cert(),
        ca_sha256: vouch_protocol::key::hex(&authority.ca_sha256()),
        config: paths.config(),
    })
}

/// With a PostgreSQL store configured (`store.url` in a `config.toml` written first, or
/// `VOUCH_STORE_URL`), connects to it and brings its schema up to date, before anything is
/// written: a database that cannot be reached, or is newer than this server, leaves no data
/// folder behind. sled's database is made by the first `serve`.
fn prepare_shared_store(data_dir: &Path) -> Result<(), ServerError> {
    let config = Config::load(data_dir)?;
    if config.store.url.is_empty() {
        return Ok(());
    }
    store::open(&store::StoreConfig::from_config(
        &config,
        DataPaths::new(data_dir).database(),
    ))
    .map(drop)
}

/// Checks that an imported certificate is a CA certificate (that the key belongs to it is
/// checked by [`Authority::from_pem`], for every load).
fn check_is_ca(cert_pem: &str) -> Result<(), ServerError> {
    let der = files::pem_to_der(cert_pem, "CERTIFICATE")?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|e| ServerError::Authority(Failure::caused("CA certificate", e)))?;
    if !cert.is_ca() {
        return Err(ServerError::Authority(Failure::new(
            "the imported certificate is not a CA certificate",
        )));
    }
    Ok(())
}

/// Builds the application (router and state) over the data folder's CA and store, on the
/// system clock.
pub fn app(data_dir: &Path, config: Config) -> Result<(axum::Router, Arc<AppState>), ServerError> {
    let store = store::open(&store::StoreConfig::from_config(
        &config,
        DataPaths::new(data_dir).database(),
    ))?;
    app_with(data_dir, config, store, Arc::new(clock::SystemClock))
}

/// Builds the application over the data folder's CA and a store already open (several
/// applications may share one), on `clock`.
pub fn app_with(
    data_dir: &Path,
    config: Config,
    store: Arc<dyn store::Store>,
    clock: Arc<dyn Clock>,
) -> Result<(axum::Router, Arc<AppState>), ServerError> {
    let paths = DataPaths::new(data_dir);
    let authority = Authority::load_with(data_dir, &config.pkcs11)?.with_clock(clock.clone());
    if authority.key_in_token() {
        tracing::info!(module = %config.pkcs11.module, "the CA key is in a PKCS#11 token");
    }
    authority::operator::recover(&paths, store.as_ref())?;
    let operator = authority::operator::OperatorCredential::load(paths)?;
    let state = Arc::new(AppState::new(store, authority, config, operator).with_clock(clock));
    Ok((router(state.clone()), state))
}

/// Serves HTTPS until SIGINT or SIGTERM. Writes the bound address to `DATA/server.addr` so
/// admin commands (and tests that listen on port 0) find the server.
pub async fn launch(data_dir: &Path, listen: Option<SocketAddr>) -> Result<(), ServerError> {
    let mut config = Config::load(data_dir)?;
    if let Some(listen) = listen {
        config.listen = listen;
    }
    let paths = DataPaths::new(data_dir);
    let (app, state) = app(data_dir, config.clone())?;
    renew_server_certificate_if_due(&paths, &state.authority, authority::SERVER_CERT_RENEW_DAYS)?;
    let server_cert = tls::ServerCert::from_pem(
        &files::read_text(&paths.server_cert())?,
        &files::read_text(&paths.server_key())?,
    )?;
    let tls = tls::server_config_with(state.authority.ca_der(), server_cert.clone())?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| ServerError::io("listening on", config.listen.to_string(), e))?;
    let bound = listener
        .local_addr()
        .map_err(|e| ServerError::io("reading address of", "listener", e))?;
    files::write_file(
        &paths.address_file(),
        bound.to_string().as_bytes(),
        0o644,
        true,
    )?;
    tracing::info!(address = %bound, data = %data_dir.display(), "vouch-server listening");
    spawn_housekeeping(state.clone(), paths.clone(), server_cert);
    let limits = conn::ConnLimits::from_config(&config.limits);
    tls::serve(listener, tls, app, limits, shutdown_signal()).await;
    let _ = std::fs::remove_file(paths.address_file());
    tracing::info!("vouch-server stopped");
    Ok(())
}

/// Re-issues the server's TLS certificate (same key, same names) when it expires within
/// `within_days` days ([`authority::SERVER_CERT_RENEW_DAYS`] when serving); says whether it did.
pub fn renew_server_certificate_if_due(
    paths: &DataPaths,
    authority: &Authority,
    within_days: i64,
) -> Result<bool, ServerError> {
    let pem = files::read_text(&paths.server_cert())?;
    let der = files::pem_to_der(&pem, "CERTIFICATE")?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|e| ServerError::Tls(Failure::caused("server certificate", e)))?;
    let now_secs = i64::try_from(authority.clock().now_ms() / 1000).unwrap_or(i64::MAX);
    let remaining = cert.validity().not_after.timestamp() - now_secs;
    if remaining > within_days * 86_400 {
        return Ok(false);
    }
    let names = san_names(&cert);
    let key = KeyPair::from_pem(&files::read_text(&paths.server_key())?)
        .map_err(|e| ServerError::Tls(Failure::caused("server key", e)))?;
    let issued = authority.issue_server(&key, &names)?;
    files::write_file(&paths.server_cert(), issued.pem.as_bytes(), 0o644, true)?;
    tracing::info!(names = ?names, not_after_ms = issued.not_after_ms, "server TLS certificate re-issued");
    Ok(true)
}

/// Re-issues the server certificate when due and serves the new one from the next handshake.
fn refresh_server_certificate(
    paths: &DataPaths,
    authority: &Authority,
    cert: &tls::ServerCert,
) -> Result<(), ServerError> {
    if renew_server_certificate_if_due(paths, authority, authority::SERVER_CERT_RENEW_DAYS)? {
        cert.replace(
            &files::read_text(&paths.server_cert())?,
            &files::read_text(&paths.server_key())?,
        )?;
    }
    Ok(())
}

/// The DNS names and IP addresses in a certificate's SAN.
fn san_names(cert: &x509_parser::certificate::X509Certificate<'_>) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(d) => Some(d.to_string()),
            GeneralName::IPAddress(ip) => match ip.len() {
                4 => <[u8; 4]>::try_from(*ip)
                    .ok()
                    .map(|b| std::net::Ipv4Addr::from(b).to_string()),
                16 => <[u8; 16]>::try_from(*ip)
                    .ok()
                    .map(|b| std::net::Ipv6Addr::from(b).to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// Every minute: expired challenges go, quiet rate-limit keys are forgotten. Every hour: the
/// server certificate is re-issued and swapped in if it expires within 30 days.
fn spawn_housekeeping(state: Arc<AppState>, paths: DataPaths, cert: Arc<tls::ServerCert>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        let mut minutes = 0u64;
        loop {
            tick.tick().await;
            minutes += 1;
            if minutes.is_multiple_of(60) {
                let (state, paths, cert) = (state.clone(), paths.clone(), cert.clone());
                let refreshed = tokio::task::spawn_blocking(move || {
                    refresh_server_certificate(&paths, &state.authority, &cert)
                })
                .await;
                if let Ok(Err(e)) = refreshed {
                    tracing::error!(error = %e, "re-issuing the server certificate failed");
                }
            }
            let (store, now_ms) = (state.store.clone(), state.clock.now_ms());
            let purged = tokio::task::spawn_blocking(move || store.purge_challenges(now_ms)).await;
            if let Ok(Err(e)) = purged {
                tracing::warn!(error = %e, "purging expired challenges failed");
            }
            state.forget_quiet_clients();
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: no new connections, finishing open ones");
}

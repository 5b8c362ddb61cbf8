//! Configuration: the documented example below is compiled in and written by `init`; the file
//! in the data folder overrides its defaults, and `VOUCH_*` environment variables override the
//! file. No secret lives in the configuration: keys are files beside it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Failure, ServerError};

/// The documented example configuration (every key with its default).
pub const EXAMPLE_CONFIG: &str = r#"# Vouch server configuration. Every key is shown with its default value.
# Environment variables override this file: VOUCH_LISTEN, VOUCH_LOG_FORMAT, VOUCH_LOG_LEVEL,
# VOUCH_STORE_URL, VOUCH_STORE_CA_FILE.

# Address and port to serve HTTPS on.
listen = "127.0.0.1:8443"

[log]
# "human" or "json"
format = "human"
# tracing filter, e.g. "info" or "vouch_server=debug,info"
level = "info"

[enrollment]
# How long a device's challenge nonce is accepted, in seconds.
nonce_ttl_secs = 120
# Refuse enrollment answers that do not bind the TLS channel (RFC 9266 tls-exporter).
require_channel_binding = true
# Challenge and completion requests allowed per client address per minute.
rate_per_address_per_minute = 120
# Challenge and completion requests allowed per serial per minute.
rate_per_serial_per_minute = 12

[est]
# The EST front door (RFC 7030) under /.well-known/est/ (docs/PROTOCOL.md 12). It shares
# [enrollment]'s rate limits and [certificates]' profile with the native enrollment.
# Refuse an EST enrollment whose CSR carries no challengePassword equal to the TLS channel's
# binding (RFC 9266 tls-exporter, base64). A challengePassword that is present is always
# checked. Off by default: the CSR's signature already proves possession of the vouched key
# (docs/SECURITY.md 4.13 has the trade-off).
require_channel_binding = false
# Seconds a client waiting for a supervisor's approval is told to wait before asking again
# (Retry-After of the 202 answer): 1 to 3600, and at least 60 / [enrollment]
# rate_per_serial_per_minute, so that a client that follows it is never rate limited.
retry_after_secs = 5

[certificates]
# Validity of device certificates, in days.
device_validity_days = 365
# Validity of staff (app install) certificates, in days.
staff_validity_days = 365
# notBefore is set this many seconds in the past, for clocks that run slow.
backdate_secs = 300
# Devices are advised to renew when less than this many days remain (hello's renew_after_ms;
# `vouch-device renew --when-due` follows it). Renewal itself is allowed at any time.
renew_before_days = 30

[invites]
# How long a staff invite can be redeemed, in hours.
ttl_hours = 72

[policy]
# Approve a scan at once when a trusted staff member made it and it is in no conflict.
auto_approve_trusted = false
# Approve an expected device (one an imported manifest lists) at its first scan when the label's
# key is the manifest's. A key that differs is a conflict and is never approved by policy.
approve_on_manifest_match = false
# A scanned serial that no manifest lists: "allowed" (reviewed as any scan), "flagged" (marked
# not_in_manifest, never approved by policy) or "refused" (rejected by policy at once; a
# supervisor may still approve it after checking).
unlisted = "allowed"

[storage]
# Under load (commits arriving back to back), wait this many microseconds before each disk
# sync so that it covers more commits: fewer flushes and fsyncs per enrollment, a little
# latency. 0 syncs every commit at once. At most 10000.
commit_delay_us = 500

[store]
# Where the server keeps its state. Empty: the embedded sled database in the data folder
# (one server instance). A PostgreSQL URL, "postgres://USER@HOST/DB", or for a Unix socket
# "postgres://USER@/DB?host=/path" (no host before the path: beside one, "host" is a second
# host tried after it): several instances may share it (docs/ARCHITECTURE.md, "Several
# instances").
# A password is better given in VOUCH_STORE_URL than written here.
url = ""
# Most connections to PostgreSQL this instance opens for its requests (it opens one more, for
# the flush barriers that make commits durable).
pool_size = 16
# TLS to PostgreSQL: the URL's sslmode decides ("disable", "prefer", the default, or "require",
# e.g. "postgres://vouch@db.example:5432/vouch?sslmode=require"). With TLS, the database
# server's certificate must chain to a CA in this PEM file (empty: the system's trust store)
# and name the URL's host. A relative path is taken from the data folder (where this file is),
# as every file named here is, whatever the working folder.
# A URL whose only host is a Unix socket uses no TLS, whatever sslmode says (as libpq); one
# naming a socket beside a TCP host uses TLS only with sslmode=require, which the socket
# cannot meet.
ca_file = ""

[limits]
# Largest request body in bytes (record uploads get 8x this).
max_body_bytes = 1048576
# Most records in one upload.
max_records_per_batch = 1000
# Slow or silent clients. A TLS-terminating proxy cannot enforce these for Vouch, because
# channel binding and client certificates must end at this server; so it enforces them itself.
# Seconds a client has to finish the TLS handshake.
handshake_timeout_secs = 10
# Seconds a client has to send a whole request head (request line and headers), from its first
# byte.
header_timeout_secs = 10
# Seconds a client has to send a whole request body, from the end of its head; a request whose
# body is late is answered 408 request_timeout and its connection closed.
body_timeout_secs = 60
# Seconds a connection may wait for its next request (after the handshake or an answer) before
# the server closes it.
idle_timeout_secs = 30
# Most connections open at once. The server keeps it below its open-file limit (ulimit -n), less
# a reserve for its own files, whatever is set here.
max_connections = 4096
# Most connections open at once from one client IP address (clients behind one NAT share it).
max_connections_per_address = 64
# Largest manifest import request in bytes (POST /v1/manifests; about 130 bytes a device).
max_manifest_bytes = 67108864

[pkcs11]
# Used only when the CA key is in a PKCS#11 token (`init --ca-key-uri`); a CA whose key is the
# file ca/ca.key.pem (the default) ignores this section.
# The PKCS#11 module. The default is where Debian's softhsm2 package puts SoftHSM2; a hardware
# token or HSM names its vendor's module here.
module = "/usr/lib/softhsm/libsofthsm2.so"
# The token's user PIN is read from this environment variable when the server starts...
pin_env = "VOUCH_PKCS11_PIN"
# ...or, when this is set, from this file (its first line; keep it mode 0600; a relative path is
# taken from the data folder). The PIN is never a command-line argument and never logged.
pin_file = ""
"#;

/// The server configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Logging.
    pub log: LogConfig,
    /// Enrollment.
    pub enrollment: EnrollmentConfig,
    /// The EST front door.
    pub est: EstConfig,
    /// Certificate profile.
    pub certificates: CertificateConfig,
    /// Invites.
    pub invites: InviteConfig,
    /// Policy.
    pub policy: PolicyConfig,
    /// Storage.
    pub storage: StorageConfig,
    /// Which store: sled in the data folder, or PostgreSQL.
    pub store: StoreSection,
    /// Limits.
    pub limits: LimitConfig,
    /// How to reach a PKCS#11 token that holds the CA key.
    pub pkcs11: Pkcs11Config,
}

/// `[pkcs11]`: the module and the PIN's source, for a CA key held in a token.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pkcs11Config {
    /// Path of the PKCS#11 module (shared library), as the dynamic loader takes it: not
    /// resolved against the data folder, since a bare file name means the system's library
    /// folders there.
    pub module: String,
    /// The environment variable holding the user PIN.
    pub pin_env: String,
    /// A file holding the user PIN (first line); wins over `pin_env` when not empty. After
    /// [`Config::load`], a relative path is the data folder's ([`Config::resolve_files`]).
    pub pin_file: PathBuf,
}

/// `[storage]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// Group-commit delay under load, in microseconds.
    pub commit_delay_us: u64,
}

/// `[store]`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// Empty for sled in the data folder, else a `postgres://` URL.
    pub url: String,
    /// Most PostgreSQL connections for requests (one more is opened for flush barriers).
    pub pool_size: usize,
    /// The CA certificates (PEM) PostgreSQL's TLS certificate must chain to; empty: the
    /// system's trust store. After [`Config::load`], a relative path is the data folder's
    /// ([`Config::resolve_files`]).
    pub ca_file: PathBuf,
}

impl std::fmt::Debug for StoreSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: never printed.
        f.debug_struct("StoreSection")
            .field("url", &if self.url.is_empty() { "" } else { "<set>" })
            .field("pool_size", &self.pool_size)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// `[log]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `human` or `json`.
    pub format: String,
    /// tracing filter.
    pub level: String,
}

/// `[enrollment]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentConfig {
    /// Nonce lifetime.
    pub nonce_ttl_secs: u64,
    /// Require RFC 9266 channel binding.
    pub require_channel_binding: bool,
    /// Per-address rate.
    pub rate_per_address_per_minute: u32,
    /// Per-serial rate.
    pub rate_per_serial_per_minute: u32,
}

/// `[est]`: the EST front door (RFC 7030).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EstConfig {
    /// Require a challengePassword equal to the channel binding.
    pub require_channel_binding: bool,
    /// `Retry-After` of a 202 (approval pending), in seconds.
    pub retry_after_secs: u64,
}

impl EstConfig {
    /// `retry_after_secs` is 1 to 3600, and a client polling at that pace stays within the
    /// per-key rate limit (`enrollment.rate_per_serial_per_minute`), which EST shares.
    fn validate(&self, enrollment: &EnrollmentConfig) -> Result<(), ServerError> {
        if self.retry_after_secs == 0 || self.retry_after_secs > 3600 {
            return Err(ServerError::Config(Failure::new(
                "est.retry_after_secs must be 1 to 3600",
            )));
        }
        let per_minute = u64::from(enrollment.rate_per_serial_per_minute.max(1));
        let shortest = 60u64.div_ceil(per_minute);
        if self.retry_after_secs < shortest {
            return Err(ServerError::Config(Failure::new(format!(
                "est.retry_after_secs must be at least {shortest}: a client polling every {} s \
                 would exceed enrollment.rate_per_serial_per_minute = {per_minute}",
                self.retry_after_secs
            ))));
        }
        Ok(())
    }
}

/// `[certificates]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateConfig {
    /// Device certificate validity.
    pub device_validity_days: u32,
    /// Staff certificate validity.
    pub staff_validity_days: u32,
    /// notBefore backdate.
    pub backdate_secs: u32,
    /// Renewal window.
    pub renew_before_days: u32,
}

/// `[invites]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteConfig {
    /// Invite lifetime.
    pub ttl_hours: u32,
}

/// `[policy]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Approve trusted scans at once.
    pub auto_approve_trusted: bool,
    /// Approve an expected device at a first scan that matches its manifest.
    pub approve_on_manifest_match: bool,
    /// What becomes of a scanned serial no manifest lists.
    pub unlisted: crate::domain::UnlistedPolicy,
}

/// `[limits]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitConfig {
    /// Largest body.
    pub max_body_bytes: usize,
    /// Most records per upload.
    pub max_records_per_batch: usize,
    /// TLS handshake deadline, in seconds.
    pub handshake_timeout_secs: u64,
    /// Deadline for a whole request head from its first byte, in seconds.
    pub header_timeout_secs: u64,
    /// Deadline for a whole request body from the end of its head, in seconds.
    pub body_timeout_secs: u64,
    /// How long a connection may wait for its next request, in seconds.
    pub idle_timeout_secs: u64,
    /// Most connections open at once (also kept below the open-file limit).
    pub max_connections: usize,
    /// Most connections open at once from one IP address.
    pub max_connections_per_address: usize,
    /// Largest manifest import request.
    pub max_manifest_bytes: usize,
}

impl LimitConfig {
    fn validate(&self) -> Result<(), ServerError> {
        let timeouts = [
            ("handshake_timeout_secs", self.handshake_timeout_secs),
            ("header_timeout_secs", self.header_timeout_secs),
            ("body_timeout_secs", self.body_timeout_secs),
            ("idle_timeout_secs", self.idle_timeout_secs),
        ];
        for (name, secs) in timeouts {
            if secs == 0 || secs > 3600 {
                return Err(ServerError::Config(Failure::new(format!(
                    "limits.{name} must be 1 to 3600"
                ))));
            }
        }
        if self.max_connections == 0 || self.max_connections_per_address == 0 {
            return Err(ServerError::Config(Failure::new(
                "limits.max_connections and limits.max_connections_per_address must be at least 1",
            )));
        }
        Ok(())
    }
}

impl Config {
    /// The defaults (the example configuration).
    pub fn defaults() -> Result<Self, ServerError> {
        Self::parse(EXAMPLE_CONFIG)
    }

    /// Parses a configuration text (all keys required; use [`Config::load`] for a partial file).
    pub fn parse(text: &str) -> Result<Self, ServerError> {
        toml::from_str(text).map_err(|e| ServerError::Config(Failure::of(e)))
    }

    /// Loads `DATA/config.toml` over the defaults, then applies `VOUCH_*` variables.
    pub fn load(data_dir: &Path) -> Result<Self, ServerError> {
        let path = data_dir.join("config.toml");
        let mut merged: toml::Table =
            toml::from_str(EXAMPLE_CONFIG).map_err(|e| ServerError::Config(Failure::of(e)))?;
        if path.exists() {
            let text =
                std::fs::read_to_string(&path).map_err(|e| ServerError::io("reading", &path, e))?;
            let file: toml::Table = toml::from_str(&text)
                .map_err(|e| ServerError::Config(Failure::caused(path.display().to_string(), e)))?;
            merge(&mut merged, file);
        }
        let mut config: Config = merged.try_into().map_err(|e: toml::de::Error| {
            ServerError::Config(Failure::caused(path.display().to_string(), e))
        })?;
        config.apply_env(|name| std::env::var(name).ok())?;
        config.resolve_files(data_dir);
        config.validate()?;
        Ok(config)
    }

    /// The one rule for every file the configuration names (in `config.toml` or in a
    /// `VOUCH_*` variable): an absolute path is used as it is, a relative one is taken from the
    /// data folder, beside `config.toml` and the keys in `ca/`, `tls/` and `operator/`. The
    /// working folder is whatever a service manager or a shell chose, so a path read from it
    /// would name another file, or none, from one start to the next. Empty (not set) stays
    /// empty. `pkcs11.module` is not a file the server reads but a library the dynamic loader
    /// finds (a bare name in the system's library folders), so it is left as written.
    fn resolve_files(&mut self, data_dir: &Path) {
        for path in [&mut self.store.ca_file, &mut self.pkcs11.pin_file] {
            if !path.as_os_str().is_empty() && path.is_relative() {
                *path = data_dir.join(&*path);
            }
        }
    }

    fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), ServerError> {
        if let Some(listen) = var("VOUCH_LISTEN") {
            self.listen = listen.parse().map_err(|_| {
                ServerError::Config(Failure::new(format!(
                    "VOUCH_LISTEN={listen:?} is not an address:port"
                )))
            })?;
        }
        if let Some(format) = var("VOUCH_LOG_FORMAT") {
            self.log.format = format;
        }
        if let Some(level) = var("VOUCH_LOG_LEVEL") {
            self.log.level = level;
        }
        if let Some(url) = var("VOUCH_STORE_URL") {
            self.store.url = url;
        }
        if let Some(ca_file) = var("VOUCH_STORE_CA_FILE") {
            self.store.ca_file = PathBuf::from(ca_file);
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ServerError> {
        check_log_level(&self.log.level)?;
        if !matches!(self.log.format.as_str(), "human" | "json") {
            return Err(ServerError::Config(Failure::new(format!(
                "log.format must be \"human\" or \"json\", not {:?}",
                self.log.format
            ))));
        }
        if self.enrollment.nonce_ttl_secs == 0 || self.enrollment.nonce_ttl_secs > 3600 {
            return Err(ServerError::Config(Failure::new(
                "enrollment.nonce_ttl_secs must be 1 to 3600",
            )));
        }
        if self.certificates.device_validity_days == 0 || self.certificates.staff_validity_days == 0
        {
            return Err(ServerError::Config(Failure::new(
                "certificate validity must be at least one day",
            )));
        }
        if self.enrollment.rate_per_address_per_minute == 0
            || self.enrollment.rate_per_serial_per_minute == 0
        {
            return Err(ServerError::Config(Failure::new(
                "enrollment rates must be at least 1 per minute",
            )));
        }
        self.est.validate(&self.enrollment)?;
        if self.storage.commit_delay_us > 10_000 {
            return Err(ServerError::Config(Failure::new(
                "storage.commit_delay_us must be 0 to 10000",
            )));
        }
        let url = &self.store.url;
        if !url.is_empty() && !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
            return Err(ServerError::Config(Failure::new(
                "store.url must be empty (sled in the data folder) or a postgres:// URL",
            )));
        }
        if self.store.pool_size == 0 || self.store.pool_size > 1000 {
            return Err(ServerError::Config(Failure::new(
                "store.pool_size must be 1 to 1000",
            )));
        }
        self.limits.validate()
    }
}

/// The level names `log.level` takes, alone or after `target=`.
const LOG_LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

/// Checks `log.level`: a level name, or a comma-separated list of `target=level` directives
/// and level names (tracing's `EnvFilter` syntax). A bare word that is no level is refused:
/// `EnvFilter` would read it as a target name and silently log almost nothing.
fn check_log_level(text: &str) -> Result<(), ServerError> {
    let bad = |why: &str| {
        ServerError::Config(Failure::new(format!(
            "log.level {text:?} (config.toml or VOUCH_LOG_LEVEL) is not valid ({why}): use one of {} or directives such as \
             \"info,vouch_server=debug\"",
            LOG_LEVELS.join(", ")
        )))
    };
    for directive in text.split(',').map(str::trim) {
        let level = directive
            .rsplit_once('=')
            .map_or(directive, |(_, level)| level);
        if !LOG_LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
            return Err(bad(&format!("{level:?} is not a level")));
        }
    }
    tracing_subscriber::EnvFilter::try_new(text).map_err(|e| bad(&e.to_string()))?;
    Ok(())
}

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(key, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_is_the_default_and_valid() {
        let c = Config::defaults().unwrap();
        c.validate().unwrap();
        assert_eq!(c.enrollment.nonce_ttl_secs, 120);
        // A token CA's module defaults to Debian's SoftHSM2; the PIN comes from a variable.
        assert_eq!(c.pkcs11.module, "/usr/lib/softhsm/libsofthsm2.so");
        assert_eq!(c.pkcs11.pin_env, "VOUCH_PKCS11_PIN");
        assert_eq!(c.pkcs11.pin_file, Path::new(""));
    }

    #[test]
    fn a_partial_file_overrides_defaults_and_typos_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            "[policy]\nauto_approve_trusted = true\n",
        )
        .unwrap();
        assert!(
            Config::load(dir.path())
                .unwrap()
                .policy
                .auto_approve_trusted
        );
        std::fs::write(
            dir.path().join("config.toml"),
            "[policy]\nauto_aprove = true\n",
        )
        .unwrap();
        let err = Config::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("auto_aprove"), "{err}");
    }

    #[test]
    fn a_config_without_the_storage_section_still_loads_and_bad_delays_are_refused() {
        // Data folders made before `[storage]` existed keep working on the default.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.toml"), "[log]\nlevel = \"warn\"\n").unwrap();
        assert_eq!(
            Config::load(dir.path()).unwrap().storage.commit_delay_us,
            500
        );
        std::fs::write(
            dir.path().join("config.toml"),
            "[storage]\ncommit_delay_us = 20000\n",
        )
        .unwrap();
        let err = Config::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("commit_delay_us"), "{err}");
    }

    #[test]
    fn est_polling_must_fit_the_rate_limit() {
        let c = Config::defaults().unwrap();
        assert_eq!(
            (c.est.retry_after_secs, c.est.require_channel_binding),
            (5, false)
        );
        let dir = tempfile::tempdir().unwrap();
        let write = |text: &str| std::fs::write(dir.path().join("config.toml"), text).unwrap();
        write("[est]\nretry_after_secs = 2\n");
        let err = Config::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("at least 5"), "{err}");
        write("[est]\nretry_after_secs = 2\n[enrollment]\nrate_per_serial_per_minute = 30\n");
        assert_eq!(Config::load(dir.path()).unwrap().est.retry_after_secs, 2);
        write("[est]\nretry_after_secs = 0\n");
        let err = Config::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("1 to 3600"), "{err}");
    }

    #[test]
    fn connection_limits_default_and_zero_is_refused() {
        let c = Config::defaults().unwrap();
        assert_eq!(
            (
                c.limits.header_timeout_secs,
                c.limits.max_connections_per_address
            ),
            (10, 64)
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            "[limits]\nidle_timeout_secs = 0\n",
        )
        .unwrap();
        let err = Config::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("idle_timeout_secs"), "{err}");
    }

    #[test]
    fn log_levels_are_checked() {
        for good in [
            "info",
            "WARN",
            "vouch_server=debug,info",
            "off",
            "info,hyper=warn",
        ] {
            check_log_level(good).unwrap();
        }
        for bad in ["verbose", "inof", "", "vouch_server=loud", "info,"] {
            let err = check_log_level(bad).unwrap_err().to_string();
            assert!(
                err.contains("log.level") && err.contains("not valid"),
                "{err}"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            "[log]\nlevel = \"verbose\"\n",
        )
        .unwrap();
        let err = Config::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("\"verbose\" is not a level"), "{err}");
    }

    #[test]
    fn env_overrides_are_checked() {
        let mut c = Config::defaults().unwrap();
        let err = c
            .apply_env(|n| (n == "VOUCH_LISTEN").then(|| "nowhere".to_string()))
            .unwrap_err();
        assert!(err.to_string().contains("VOUCH_LISTEN"));
    }

    #[test]
    fn the_store_url_and_ca_file_come_from_the_file_or_the_environment() {
        let mut c = Config::defaults().unwrap();
        assert_eq!(c.store.url, "");
        assert_eq!(c.store.ca_file, Path::new(""));
        let env = |n: &str| match n {
            "VOUCH_STORE_URL" => Some("postgres://vouch@db/vouch?sslmode=require".to_string()),
            "VOUCH_STORE_CA_FILE" => Some("/etc/vouch/db-ca.pem".to_string()),
            _ => None,
        };
        c.apply_env(env).unwrap();
        assert_eq!(c.store.ca_file, Path::new("/etc/vouch/db-ca.pem"));
        assert!(c.store.url.ends_with("sslmode=require"));
        // The URL may hold a password and is hidden; the CA file's path is not a secret.
        let shown = format!("{:?}", c.store);
        assert!(
            shown.contains("<set>") && shown.contains("db-ca.pem"),
            "{shown}"
        );
    }

    #[test]
    fn relative_files_are_taken_from_the_data_folder_absolute_ones_as_written() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            "[store]\nca_file = \"pg/db-ca.pem\"\n[pkcs11]\npin_file = \"/run/vouch/pin\"\n\
             module = \"libsofthsm2.so\"\n",
        )
        .unwrap();
        let c = Config::load(dir.path()).unwrap();
        assert_eq!(c.store.ca_file, dir.path().join("pg/db-ca.pem"));
        assert_eq!(c.pkcs11.pin_file, Path::new("/run/vouch/pin"));
        // A library name is the dynamic loader's to find.
        assert_eq!(c.pkcs11.module, "libsofthsm2.so");

        // The same rule for a path given in the environment, and for the PIN file; empty
        // stays empty (not set).
        let mut c = Config::defaults().unwrap();
        let env = |n: &str| (n == "VOUCH_STORE_CA_FILE").then(|| "db-ca.pem".to_string());
        c.apply_env(env).unwrap();
        c.pkcs11.pin_file = PathBuf::from("secrets/pin");
        c.resolve_files(dir.path());
        assert_eq!(c.store.ca_file, dir.path().join("db-ca.pem"));
        assert_eq!(c.pkcs11.pin_file, dir.path().join("secrets/pin"));
        let mut c = Config::defaults().unwrap();
        c.resolve_files(dir.path());
        assert_eq!(c.store.ca_file, Path::new(""));
        assert_eq!(c.pkcs11.pin_file, Path::new(""));
    }
}

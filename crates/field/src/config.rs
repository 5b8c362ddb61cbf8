//! The field engine's settings: `config.toml` in the data folder.
//!
//! The documented example, [`EXAMPLE`], is compiled in; it is written to the data folder the
//! first time the folder is opened (an existing file is never overwritten). Every key is
//! optional: a missing key takes the default shown in the example.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};

/// The file name of the config in the data folder.
pub const FILE_NAME: &str = "config.toml";

/// The documented example config, with every default.
pub const EXAMPLE: &str = r#"# vouch-field settings. Every key is optional; the values shown are the defaults.

[queue]
# Synced records (answered "accepted" or "duplicate" by the server) are kept for history for
# this many days after they were synced, then removed. 0 keeps them forever.
# Unsynced records (queued, syncing) are never removed, and neither are refused ones: they are
# evidence for a supervisor.
retention_days = 90

[sync]
# Records per upload, 1 to 1000 (the server takes at most 1000).
batch_size = 500
# Attempts per batch before sync stops and reports the problem (1 means no retry).
max_attempts = 5
# Exponential backoff with full jitter: before retry n the wait is a random time between 0 and
# min(backoff_cap_ms, backoff_base_ms * 2^(n-1)); a server's retry-after is respected.
backoff_base_ms = 250
backoff_cap_ms = 10000
# Time allowed to open a connection, and for one whole request.
connect_timeout_ms = 5000
request_timeout_ms = 60000
"#;

/// All settings.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[queue]`.
    pub queue: QueueConfig,
    /// `[sync]`.
    pub sync: SyncConfig,
}

/// `[queue]`: retention of synced records.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Days a synced record is kept after it was synced; 0 keeps it forever.
    pub retention_days: u32,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self { retention_days: 90 }
    }
}

/// `[sync]`: batches, retries and timeouts.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct SyncConfig {
    /// Records per upload (1 to 1000).
    pub batch_size: usize,
    /// Attempts per batch (at least 1).
    pub max_attempts: u32,
    /// Base of the exponential backoff, in milliseconds.
    pub backoff_base_ms: u64,
    /// Ceiling of one backoff wait, in milliseconds.
    pub backoff_cap_ms: u64,
    /// Connect timeout, in milliseconds.
    pub connect_timeout_ms: u64,
    /// Whole-request timeout, in milliseconds.
    pub request_timeout_ms: u64,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            batch_size: 500,
            max_attempts: 5,
            backoff_base_ms: 250,
            backoff_cap_ms: 10_000,
            connect_timeout_ms: 5_000,
            request_timeout_ms: 60_000,
        }
    }
}

impl SyncConfig {
    /// The connect timeout.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    /// The whole-request timeout.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
}

/// The most records the server takes in one upload.
pub const MAX_BATCH: usize = 1000;

impl Config {
    /// Parses config text and checks the ranges.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let bad = |message: String| Error::Config {
            path: path.to_path_buf(),
            message,
        };
        let config: Config = toml::from_str(text).map_err(|e| bad(e.message().to_string()))?;
        if !(1..=MAX_BATCH).contains(&config.sync.batch_size) {
            return Err(bad(format!(
                "sync.batch_size must be 1 to {MAX_BATCH}, not {}",
                config.sync.batch_size
            )));
        }
        if config.sync.max_attempts == 0 {
            return Err(bad("sync.max_attempts must be at least 1".into()));
        }
        if config.sync.connect_timeout_ms == 0 || config.sync.request_timeout_ms == 0 {
            return Err(bad("sync timeouts must be above 0".into()));
        }
        Ok(config)
    }

    /// Reads `config.toml` from the data folder, writing the documented example first if the
    /// folder has none.
    pub fn load_or_init(data: &Path) -> Result<Self> {
        let path = data.join(FILE_NAME);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text, &path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                vouch_support::fs::write_atomic(&path, EXAMPLE.as_bytes(), 0o644)?;
                Self::parse(EXAMPLE, &path)
            }
            Err(e) => Err(Error::io(&path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_example_is_the_defaults() {
        assert_eq!(
            Config::parse(EXAMPLE, Path::new("x")).unwrap(),
            Config::default()
        );
        assert_eq!(
            Config::parse("", Path::new("x")).unwrap(),
            Config::default()
        );
    }

    #[test]
    fn bad_values_are_refused_with_the_key() {
        let e = Config::parse("[sync]\nbatch_size = 5000\n", Path::new("c")).unwrap_err();
        assert!(e.to_string().contains("sync.batch_size"), "{e}");
        let e = Config::parse("[sync]\nbatch = 5\n", Path::new("c")).unwrap_err();
        assert_eq!(e.code(), "config");
        let e = Config::parse("[queue]\nretention_days = -1\n", Path::new("c")).unwrap_err();
        assert_eq!(e.code(), "config");
    }
}

//! How the last sync ended, kept in the data folder (`last-sync.json`), so the queue screen's
//! "last sync" line survives a restart of the app.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::sync::SyncReport;

/// The file, in the data folder.
const FILE: &str = "last-sync.json";

/// How the last sync ended: its report, or its error.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastSync {
    /// When it ended, milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// Its report, when it finished.
    pub report: Option<SyncReport>,
    /// Its error code, when it failed (`offline`, `refused`, ...).
    pub error_code: Option<String>,
    /// Its error message, when it failed.
    pub error: Option<String>,
    /// Its error's facts, when it failed ([`crate::Error::facts`]); absent in files written
    /// before they were kept.
    #[serde(default)]
    pub error_facts: Option<String>,
}

impl LastSync {
    /// The outcome of a sync that ended at `at_ms`.
    pub fn of(result: &Result<SyncReport>, at_ms: u64) -> Self {
        match result {
            Ok(report) => Self {
                at_ms,
                report: Some(report.clone()),
                ..Self::default()
            },
            Err(e) => Self {
                at_ms,
                error_code: Some(e.code().to_string()),
                error: Some(e.to_string()),
                error_facts: e.facts(),
                ..Self::default()
            },
        }
    }
}

fn path(data: &Path) -> PathBuf {
    data.join(FILE)
}

/// Stores `last` in the data folder, atomically.
pub fn store(data: &Path, last: &LastSync) -> Result<()> {
    let bytes = serde_json::to_vec(last).map_err(|e| crate::Error::Protocol(e.to_string()))?;
    Ok(vouch_support::fs::write_atomic(&path(data), &bytes, 0o600)?)
}

/// The stored outcome; `None` before the first sync, and for a file that cannot be read (it
/// only feeds a status line, which must not stop the app).
pub fn load(data: &Path) -> Option<LastSync> {
    let bytes = std::fs::read(path(data)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

//! The shapes the shell's commands and events answer with (see `src-tauri/src/commands/` and
//! the field engine's types). Every optional or newer field has a default, so an older or
//! newer shell still decodes.

use serde::Deserialize;
use vouch_protocol::wire::{DeviceState, ErrorCode, QueueState, Role};

/// Event carrying [`SyncProgress`] while a sync runs.
pub const SYNC_EVENT: &str = "sync-progress";
/// Event carrying a [`PreviewFrame`] while the camera runs.
pub const PREVIEW_EVENT: &str = "camera-frame";
/// Event carrying a [`CodeRead`] when the camera reads a code.
pub const CODE_EVENT: &str = "camera-code";
/// Event carrying a [`CameraStopped`] when a camera session ends.
pub const STOPPED_EVENT: &str = "camera-stopped";
/// Tauri's event for files dropped on the window, carrying [`Dropped`].
pub const DROP_EVENT: &str = "tauri://drag-drop";

/// Who this install is.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Whoami {
    /// The staff member's name.
    pub name: String,
    /// `technician` or `supervisor`.
    pub role: String,
    /// The install key's id, hex.
    pub key_id: String,
    /// The install key's fingerprint, `XXXX-XXXX-XXXX-XXXX`.
    pub fingerprint: String,
    /// The server's URL.
    pub server_url: String,
    /// When the staff certificate expires.
    #[serde(default)]
    pub not_after_ms: u64,
    /// SHA-256 of the pinned CA, hex.
    #[serde(default)]
    pub ca_sha256: String,
}

impl Whoami {
    /// Whether this install may review devices.
    pub fn is_supervisor(&self) -> bool {
        Role::parse(&self.role) == Some(Role::Supervisor)
    }
}

/// A record of the queue.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct QueueEntry {
    /// Sequence number in this install's chain.
    pub sequence: u64,
    /// Record id, hex.
    pub record_id: String,
    /// Device serial.
    pub serial: String,
    /// Device model.
    #[serde(default)]
    pub model: Option<String>,
    /// The label key's fingerprint.
    #[serde(default)]
    pub key_fingerprint: String,
    /// The label as read.
    #[serde(default)]
    pub label_text: String,
    /// Site or work order.
    #[serde(default)]
    pub site: String,
    /// Note.
    #[serde(default)]
    pub note: Option<String>,
    /// When scanned.
    #[serde(default)]
    pub scanned_at_ms: u64,
    /// `queued`, `syncing`, `held`, `accepted`, `duplicate` or `refused`.
    pub state: QueueState,
    /// A refusal's (or a hold's) code, the server's.
    #[serde(default)]
    pub code: Option<ErrorCode>,
    /// A refusal's message.
    #[serde(default)]
    pub message: Option<String>,
    /// Last state change.
    #[serde(default)]
    pub updated_at_ms: u64,
    /// Uploads that carried it.
    #[serde(default)]
    pub attempts: u32,
}

/// Where a sync stands.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct SyncProgress {
    /// Records to send.
    pub total: usize,
    /// Records answered.
    pub done: usize,
    /// Accepted so far.
    #[serde(default)]
    pub accepted: usize,
    /// Already on the server.
    #[serde(default)]
    pub duplicate: usize,
    /// Refused so far.
    #[serde(default)]
    pub refused: usize,
    /// `started`, `sending`, `retrying`, `answered` or `finished`.
    pub event: String,
    /// Before a retry: the attempt that comes next.
    #[serde(default)]
    pub attempt: Option<u32>,
    /// Before a retry: the wait.
    #[serde(default)]
    pub wait_ms: Option<u64>,
    /// Before a retry: why the last attempt failed.
    #[serde(default)]
    pub reason: Option<String>,
}

/// A record the server refused during a sync.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Refusal {
    /// Its sequence number.
    pub sequence: u64,
    /// The server's code.
    pub code: ErrorCode,
    /// The server's message.
    #[serde(default)]
    pub message: String,
}

/// What a finished sync did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct SyncReport {
    /// Records answered.
    #[serde(default)]
    pub sent: usize,
    /// Accepted.
    #[serde(default)]
    pub accepted: usize,
    /// Already on the server.
    #[serde(default)]
    pub duplicate: usize,
    /// Held back by the server (an earlier record is missing); sent again at the next sync.
    #[serde(default)]
    pub held: usize,
    /// Refused, with reasons.
    #[serde(default)]
    pub refused: Vec<Refusal>,
    /// Unsynced records left.
    #[serde(default)]
    pub remaining: usize,
}

/// How the last sync of this run ended.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct LastSync {
    /// When it ended.
    pub at_ms: u64,
    /// Its report, when it finished.
    #[serde(default)]
    pub report: Option<SyncReport>,
    /// Its error code, when it failed.
    #[serde(default)]
    pub error_code: Option<String>,
    /// Its error message, when it failed.
    #[serde(default)]
    pub error: Option<String>,
    /// Its error's facts (an address, what the server or the system said), when it failed.
    #[serde(default)]
    pub error_facts: Option<String>,
}

/// A device as the review list shows it: the wire contract's.
pub use vouch_protocol::wire::{DeviceSummary, ImportAnswer};

/// A device with its evidence.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct DeviceDetail {
    /// The stored device.
    pub device: Device,
    /// Every scan naming it.
    #[serde(default)]
    pub scans: Vec<ScanEvidence>,
    /// Problems of the installs that scanned it (chain gaps, revoked).
    #[serde(default)]
    pub scanner_problems: Vec<serde_json::Value>,
}

/// The stored device.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Device {
    /// Serial.
    pub serial: String,
    /// Model.
    #[serde(default)]
    pub model: Option<String>,
    /// The vouched key, hex.
    #[serde(default)]
    pub key: String,
    /// Its fingerprint.
    #[serde(default)]
    pub key_fingerprint: String,
    /// State.
    pub state: DeviceState,
    /// Other keys seen under this serial, hex.
    #[serde(default)]
    pub other_keys: Vec<String>,
    /// Other serials seen with this key.
    #[serde(default)]
    pub other_serials: Vec<String>,
    /// The current certificate, if any.
    #[serde(default)]
    pub certificate: Option<serde_json::Value>,
    /// History.
    #[serde(default)]
    pub timeline: Vec<TimelineEvent>,
}

/// One event of a device's history.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct TimelineEvent {
    /// When.
    pub at_ms: u64,
    /// `scanned`, `approved`, `enrolled`, ...
    pub event: String,
    /// Who (`staff:<key id>`, `device:<serial>`, `operator`, `policy`, `server`).
    #[serde(default)]
    pub actor: String,
    /// Details (a reason).
    #[serde(default)]
    pub detail: Option<String>,
}

/// One scan of a device, as the server stored it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ScanEvidence {
    /// Record id.
    #[serde(default)]
    pub record_id: String,
    /// The tablet's clock.
    #[serde(default)]
    pub scanned_at_ms: u64,
    /// The server's clock.
    #[serde(default)]
    pub received_at_ms: u64,
    /// Site.
    #[serde(default)]
    pub site: String,
    /// Note.
    #[serde(default)]
    pub note: Option<String>,
    /// The technician's name.
    #[serde(default)]
    pub technician: String,
    /// The install's key id.
    #[serde(default)]
    pub installer: String,
    /// The serial read.
    #[serde(default)]
    pub serial: String,
    /// The key read.
    #[serde(default)]
    pub key_fingerprint: String,
}

/// What one photo holds (`vouch_field::PhotoRead`): every code's text, Vouch labels first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct PhotoRead {
    /// The file (or the pasted image's name).
    #[serde(default)]
    pub file: String,
    /// The codes' texts, labels first.
    #[serde(default)]
    pub codes: Vec<String>,
    /// How many of the first `codes` are Vouch labels.
    #[serde(default)]
    pub labels: usize,
    /// Why the photo could not be read.
    #[serde(default)]
    pub error: Option<String>,
}

/// Files dropped on the window (Tauri's drag-drop event).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Dropped {
    /// Their paths.
    #[serde(default)]
    pub paths: Vec<String>,
}

/// Version, data folder, settings, camera path.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct AppInfo {
    /// App version.
    pub version: String,
    /// Data folder.
    pub data_dir: String,
    /// Why it could not be opened (shown in the catalogue's words for its code).
    #[serde(default)]
    pub open_error: Option<ShellError>,
    /// Retention of synced records, days.
    #[serde(default)]
    pub retention_days: Option<u32>,
    /// Records per upload.
    #[serde(default)]
    pub batch_size: Option<usize>,
    /// Attempts per batch.
    #[serde(default)]
    pub max_attempts: Option<u32>,
    /// `native` or `plugin`.
    #[serde(default)]
    pub camera_backend: String,
    /// Whether the camera is simulated.
    #[serde(default)]
    pub simulated_camera: bool,
}

/// A line of the activity log: codes and numbers, which [`crate::words::activity_line`] says in
/// the app's language.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct LogLine {
    /// When.
    pub at_ms: u64,
    /// What was done: an [`vouch_protocol::wire::AppActivity`] (kept as text, so that one a
    /// newer shell adds still decodes).
    pub what: String,
    /// For the start line: milliseconds until the scan screen was interactive.
    #[serde(default)]
    pub after_ms: Option<u64>,
    /// Why it failed (`None`: done).
    #[serde(default)]
    pub error: Option<ShellError>,
}

/// An error the shell reports as data, not as a command's failure (a failed line of the
/// activity log, the data folder's problem): the shape of a command's error, `{"code",
/// "message", "detail"}`, turned into an [`crate::error::IpcError`] to be shown.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ShellError {
    /// The shell's stable code ([`vouch_protocol::wire::AppErrorCode`]).
    pub code: String,
    /// The shell's English text.
    #[serde(default)]
    pub message: String,
    /// The protocol code behind a refused label, if any.
    #[serde(default)]
    pub detail: Option<String>,
    /// The particulars without the advice (a path, an address, what the server or the system
    /// said), shown next to the catalogue's words.
    #[serde(default)]
    pub facts: Option<String>,
}

/// The camera session started.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct CameraStarted {
    /// The camera's description.
    pub name: String,
}

/// A code located in a frame.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Located {
    /// Its text.
    pub text: String,
    /// Corners in full-frame pixels.
    pub corners: [(f32, f32); 4],
}

/// A new preview picture: its frame number and size, and the codes in view. The picture
/// itself is loaded from the shell's preview protocol ([`super::preview_src`]).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct PreviewFrame {
    /// Frame number.
    pub seq: u64,
    /// Full-frame width.
    pub width: u32,
    /// Full-frame height.
    pub height: u32,
    /// Where the page loads the picture from (set by the camera hook, at the width shown).
    #[serde(default)]
    pub src: String,
    /// Codes in view.
    #[serde(default)]
    pub codes: Vec<Located>,
}

/// A code the camera read.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct CodeRead {
    /// Its text.
    pub text: String,
}

/// A camera session ended.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct CameraStopped {
    /// Error code, if it failed.
    #[serde(default)]
    pub code: Option<String>,
    /// What went wrong.
    #[serde(default)]
    pub message: Option<String>,
}

/// What the barcode-scanner plugin read (mobile).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct PluginScanned {
    /// The code's text.
    pub content: String,
}

/// A label queued in a batch.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct BatchItem {
    /// Its record's sequence number.
    pub sequence: u64,
    /// The device serial.
    pub serial: String,
}

/// A batch: its site and the labels queued so far, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Batch {
    /// The site every record of the batch gets.
    pub site: String,
    /// The labels queued so far.
    #[serde(default)]
    pub items: Vec<BatchItem>,
}

/// What became of a label read during a batch.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum BatchStep {
    /// Checked and durably queued.
    Queued {
        /// The record (boxed: it is much larger than the other answers).
        entry: Box<QueueEntry>,
        /// Labels queued in this batch so far.
        count: usize,
    },
    /// Already queued: nothing was written.
    AlreadyQueued {
        /// The device serial.
        serial: String,
    },
    /// Taken back earlier in this batch: skipped.
    Undone {
        /// The device serial.
        serial: String,
    },
}

//! # vouch-field
//!
//! The technician's engine, everything the app does without a window (docs/ARCHITECTURE.md §4):
//!
//! * [`scan`]: reading QR codes from image files, frames and the camera (the `vouch-scan`
//!   crate, re-exported);
//! * [`identity`]: this install's P-256 key, staff certificate and pinned server CA;
//! * [`queue`]: the offline queue in sled, each record durable before it is confirmed;
//! * [`sync`]: sending the queue to the server over mTLS, with batches, backoff and resume;
//! * [`review`]: the supervisor's list, show, approve, reject and revoke;
//! * [`photo`]: the codes in a picked, dropped or pasted photo, labels first, without queueing;
//! * [`last_sync`]: how the last sync ended, kept across restarts;
//! * [`batch`]: scanning a rack in one go, each new label queued on its own, and undo.
//!
//! [`Field`] ties them together on one data folder; the `vouch-field` CLI (cargo feature `cli`,
//! on by default) and the Tauri app (which turns the feature off) drive it. Every failure is one [`Error`], whose message says what happened and what to do.

pub use vouch_scan as scan;

pub mod batch;

// The field engine: identity, queue, sync, review.
pub mod config;
mod error;
mod field;
pub mod identity;
pub mod last_sync;
mod net;
pub mod photo;
pub mod queue;
pub mod review;
pub mod sync;

/// The mode of the folders the engine makes (data, identity, queue): as the umask allows, the
/// files in them carry their own modes (0600 for keys).
pub(crate) const DIR_MODE: u32 = 0o777;

pub use batch::{Batch, BatchItem, BatchSlot, BatchStep};
pub use config::Config;
pub use error::{Error, Result};
pub use field::{now_ms, Field, ScanOptions};
pub use identity::{Role, Whoami};
pub use last_sync::LastSync;
pub use photo::PhotoRead;
pub use queue::{Counts, QueueEntry, RecordState};
pub use review::{Decision, DeviceSummary};
pub use sync::{SyncEvent, SyncProgress, SyncReport};

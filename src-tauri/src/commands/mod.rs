//! Tauri commands exposed to the front end. Each one is two or three lines over the field
//! engine ([`vouch_field::Field`], held in [`crate::state::AppState`]); anything that needs an
//! `if` belongs in `crates/field`. Every command returns [`crate::error::Error`] on failure,
//! which reaches the page as `{"code", "message", "detail"}`.
//!
//! The handler names each command by its module path (`commands::scan::scan_text`): Tauri's
//! `generate_handler!` needs the path where the command is defined, not a re-export.
//!
//! Blocking work (disk, network, decoding) runs in `async` commands, on Tauri's async runtime,
//! never on the window's main thread.

pub mod batch;
pub mod camera;
pub mod identity;
pub mod queue;
pub mod review;
pub mod scan;
pub mod settings;

/// The event that carries sync progress ([`vouch_field::SyncProgress`]) while `sync` runs.
pub const SYNC_EVENT: &str = "sync-progress";

//! Reading labels and queueing scans.

use serde_json::Value;
use tauri::State;
use vouch_field::{QueueEntry, ScanOptions};

use crate::error::Result;
use crate::state::AppState;

/// Reads the first QR code in an image file, without queueing anything:
/// `{"file", "text", "label", "error"}` (`text` null when no code was found, `label` null when
/// the text is no Vouch label, `error` set when the file could not be read).
#[tauri::command]
pub async fn decode_image(path: String) -> Result<Value> {
    Ok(vouch_field::scan::decode_file_json(path.trim()))
}

/// Parses a label (compact, manual-entry line or DPP URI), signs the record and queues it;
/// answers once it is durably on disk. `again` records a second scan of the label scanned last
/// (otherwise refused with `repeat_scan`).
#[tauri::command]
pub async fn scan_text(
    state: State<'_, AppState>,
    text: String,
    site: String,
    note: Option<String>,
    again: bool,
) -> Result<QueueEntry> {
    let options = ScanOptions {
        site: site.trim(),
        note: note.as_deref(),
        allow_repeat: again,
    };
    state.track("scan", state.field()?.scan_text(&text, &options))
}

/// Reads the first label in an image file and queues it, as [`scan_text`] does.
#[tauri::command]
pub async fn scan_image(
    state: State<'_, AppState>,
    path: String,
    site: String,
    note: Option<String>,
    again: bool,
) -> Result<QueueEntry> {
    let options = ScanOptions {
        site: site.trim(),
        note: note.as_deref(),
        allow_repeat: again,
    };
    let path = std::path::PathBuf::from(path.trim());
    state.track("scan image", state.field()?.scan_image(&path, &options))
}

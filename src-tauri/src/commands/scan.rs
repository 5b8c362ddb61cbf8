//! Reading labels and queueing scans.

use std::path::PathBuf;

use serde_json::Value;
use tauri::{AppHandle, State};
use tauri_plugin_dialog::DialogExt;
use vouch_field::photo::{read_photo_bytes, read_photos as read_all};
use vouch_field::{PhotoRead, QueueEntry, ScanOptions};
use vouch_protocol::wire::AppActivity;

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
    state.track(AppActivity::Scan, state.field()?.scan_text(&text, &options))
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
    state.track(
        AppActivity::ScanImage,
        state.field()?.scan_image(&path, &options),
    )
}

/// Opens the platform's picker for photos (several at once) and reads each chosen one without
/// queueing: its codes, Vouch labels first. An empty list when the picker is cancelled.
#[tauri::command]
pub async fn choose_photos(app: AppHandle) -> Result<Vec<PhotoRead>> {
    let chosen = app
        .dialog()
        .file()
        .add_filter("Photos", PHOTO_TYPES)
        .blocking_pick_files();
    let paths = chosen
        .unwrap_or_default()
        .into_iter()
        .map(|p| PathBuf::from(p.to_string()));
    Ok(read_all(&paths.collect::<Vec<_>>()))
}

/// The file types the picker offers.
const PHOTO_TYPES: &[&str] = &["jpg", "jpeg", "png", "webp"];

/// Reads photo files given by path (dropped on the window, or typed) without queueing, as
/// [`choose_photos`] does.
#[tauri::command]
pub async fn read_photos(paths: Vec<String>) -> Result<Vec<PhotoRead>> {
    let paths: Vec<PathBuf> = paths.iter().map(|p| PathBuf::from(p.trim())).collect();
    Ok(read_all(&paths))
}

/// Reads an image pasted from the clipboard (its bytes; `name` names it) without queueing.
#[tauri::command]
pub async fn read_pasted_photo(name: String, bytes: Vec<u8>) -> Result<PhotoRead> {
    Ok(read_photo_bytes(&name, &bytes))
}

//! The offline queue and sync.

use tauri::{AppHandle, Emitter, State};
use vouch_field::{Counts, LastSync, QueueEntry, SyncReport};
use vouch_protocol::wire::AppActivity;

use super::SYNC_EVENT;
use crate::error::Result;
use crate::state::AppState;

/// Every record in the queue, oldest first, with its state (and a refused one's reason).
#[tauri::command]
pub async fn queue(state: State<'_, AppState>) -> Result<Vec<QueueEntry>> {
    Ok(state.field()?.queue()?)
}

/// How many records are in each state.
#[tauri::command]
pub async fn queue_counts(state: State<'_, AppState>) -> Result<Counts> {
    Ok(state.field()?.counts()?)
}

/// Writes the queue as JSON lines to a file (a backup); answers the number of records.
#[tauri::command]
pub async fn export_queue(state: State<'_, AppState>, path: String) -> Result<usize> {
    let path = std::path::PathBuf::from(path.trim());
    state.track(AppActivity::Export, state.field()?.export_to_file(&path))
}

/// Sends every unsynced record to the server, emitting [`SYNC_EVENT`] with the progress after
/// every step. Offline, it fails with `offline` and keeps everything queued.
#[tauri::command]
pub async fn sync(app: AppHandle, state: State<'_, AppState>) -> Result<SyncReport> {
    let progress = move |p: &vouch_field::SyncProgress| {
        let _ = app.emit(SYNC_EVENT, p);
    };
    state.track_sync(state.field()?.sync(&progress).await)
}

/// How the last sync ended (`null` before the first), kept by the engine across restarts.
#[tauri::command]
pub async fn last_sync(state: State<'_, AppState>) -> Result<Option<LastSync>> {
    Ok(state.field()?.last_sync())
}

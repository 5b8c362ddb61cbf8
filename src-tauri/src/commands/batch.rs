//! Batch scanning: the site set once, then every new label the camera reads queued on its own,
//! with undo before it is sent (the engine's [`vouch_field::BatchSlot`]).

use tauri::State;
use vouch_field::{Batch, BatchStep};
use vouch_protocol::wire::AppActivity;

use crate::error::Result;
use crate::state::AppState;

/// Starts a batch for `site` (replacing any batch that runs) and answers it.
#[tauri::command]
pub async fn batch_start(state: State<'_, AppState>, site: String) -> Result<Batch> {
    Ok(state.batch.start(&site)?)
}

/// Checks a label read during the batch and queues it with the batch's site:
/// `{"outcome": "queued", "entry", "count"}` or `{"outcome": "already_queued", "serial",
/// "sequence"}`; `bad_label` or `batch_conflict` stop the flow.
#[tauri::command]
pub async fn batch_scan(state: State<'_, AppState>, text: String) -> Result<BatchStep> {
    state.track(
        AppActivity::BatchScan,
        state.batch.scan(state.field()?, &text),
    )
}

/// Takes record `sequence` back out of the queue before it is sent (`undo_refused` once it
/// has been sent), and answers the batch as it now stands (`null` when none runs).
#[tauri::command]
pub async fn batch_undo(state: State<'_, AppState>, sequence: u64) -> Result<Option<Batch>> {
    state.track(
        AppActivity::Undo,
        state.batch.undo(state.field()?, sequence),
    )
}

/// Ends the batch, answering it as it ended (`null` when none ran).
#[tauri::command]
pub fn batch_end(state: State<'_, AppState>) -> Option<Batch> {
    state.batch.end()
}

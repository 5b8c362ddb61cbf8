//! Supervisor review. A technician's install is refused with `not_supervisor` before anything
//! is sent.

use serde_json::Value;
use tauri::State;
use vouch_field::review::ImportAnswer;
use vouch_field::{Decision, DeviceSummary};
use vouch_protocol::wire::AppActivity;

use crate::error::Result;
use crate::state::AppState;

/// Devices on the server, most recently changed first; `filter` is one state (`scanned`,
/// `conflict`, ...) or null for all.
#[tauri::command]
pub async fn review_list(
    state: State<'_, AppState>,
    filter: Option<String>,
) -> Result<Vec<DeviceSummary>> {
    Ok(state.field()?.review_list(filter.as_deref()).await?)
}

/// Imports a manifest of expected devices (the file's text and name), with a reason.
#[tauri::command]
pub async fn review_import(
    state: State<'_, AppState>,
    manifest: String,
    source: Option<String>,
    reason: String,
) -> Result<ImportAnswer> {
    Ok(state
        .field()?
        .review_import(&manifest, source.as_deref(), &reason)
        .await?)
}

/// One device with its evidence: the stored device (with its timeline), every scan naming it
/// (who, when, where, which key) and its scanners' problems.
#[tauri::command]
pub async fn review_show(state: State<'_, AppState>, serial: String) -> Result<Value> {
    Ok(state.field()?.review_show(&serial).await?)
}

/// Approves a device, with a reason.
#[tauri::command]
pub async fn review_approve(
    state: State<'_, AppState>,
    serial: String,
    reason: String,
) -> Result<Value> {
    decide(&state, &serial, Decision::Approve, &reason).await
}

/// Rejects a device, with a reason.
#[tauri::command]
pub async fn review_reject(
    state: State<'_, AppState>,
    serial: String,
    reason: String,
) -> Result<Value> {
    decide(&state, &serial, Decision::Reject, &reason).await
}

/// Revokes a device (and its certificate), with a reason.
#[tauri::command]
pub async fn review_revoke(
    state: State<'_, AppState>,
    serial: String,
    reason: String,
) -> Result<Value> {
    decide(&state, &serial, Decision::Revoke, &reason).await
}

/// Lets an enrolled device enroll again with its label key (its certificate is revoked), with
/// a reason.
#[tauri::command]
pub async fn review_reenroll(
    state: State<'_, AppState>,
    serial: String,
    reason: String,
) -> Result<Value> {
    decide(&state, &serial, Decision::Reenroll, &reason).await
}

/// Accepts a scanning tablet's chain gap (its missing records are lost), with a reason.
#[tauri::command]
pub async fn review_accept_gap(
    state: State<'_, AppState>,
    key_id: String,
    expected: u64,
    reason: String,
) -> Result<Value> {
    let field = state.field()?;
    state.track(
        AppActivity::AcceptGap,
        field.review_accept_gap(&key_id, expected, &reason).await,
    )
}

/// A review decision, recorded in the activity log.
async fn decide(
    state: &State<'_, AppState>,
    serial: &str,
    decision: Decision,
    reason: &str,
) -> Result<Value> {
    let field = state.field()?;
    state.track(
        AppActivity::from(decision),
        field.review_decide(serial, decision, reason).await,
    )
}

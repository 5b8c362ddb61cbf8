//! Joining a server and saying who this install is.

use serde_json::Value;
use tauri::State;
use vouch_field::Whoami;
use vouch_protocol::wire::AppActivity;

use crate::error::Result;
use crate::state::AppState;

/// Redeems an invite (`VOUCH-INVITE:1:...`, scanned or pasted): makes this install's key,
/// registers it, and answers who the install now is.
#[tauri::command]
pub async fn register(state: State<'_, AppState>, invite: String) -> Result<Whoami> {
    let field = state.field()?;
    state.track(AppActivity::Register, field.register(invite.trim()).await)
}

/// Who this install is (name, role, key fingerprint, server); `not_registered` before joining.
#[tauri::command]
pub async fn whoami(state: State<'_, AppState>) -> Result<Whoami> {
    Ok(state.field()?.whoami()?)
}

/// Asks the server who this install is (`GET /v1/me`): answers when the server is reachable
/// and still accepts this install's certificate, `offline` when it cannot be reached.
#[tauri::command]
pub async fn server_status(state: State<'_, AppState>) -> Result<Value> {
    Ok(state.field()?.whoami_online().await?)
}

/// The invite the app was launched with (`--invite TEXT` or `VOUCH_INVITE`), if any.
#[tauri::command]
pub fn launch_invite(state: State<'_, AppState>) -> Option<String> {
    state.launch_invite()
}

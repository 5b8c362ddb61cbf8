//! Settings and about: version, identity, server, data folder, retention, the activity log.

use tauri::State;

use crate::error::Result;
use crate::state::{AppInfo, AppState, LogLine};

/// The app version (the crate version, e.g. `0.1.0`).
#[tauri::command]
pub fn app_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// Version, data folder, settings in force and the camera path.
#[tauri::command]
pub async fn app_info(state: State<'_, AppState>) -> Result<AppInfo> {
    Ok(state.info(env!("CARGO_PKG_VERSION")))
}

/// The activity log of this run (registrations, scans, syncs, decisions and their errors),
/// newest last.
#[tauri::command]
pub fn activity_log(state: State<'_, AppState>) -> Vec<LogLine> {
    state.log()
}

/// The page reports that the scan screen is interactive (start-up timing; see
/// [`AppState::ui_ready`]). Answers the milliseconds since the shell started.
#[tauri::command]
pub fn ui_ready(state: State<'_, AppState>) -> u64 {
    state.ui_ready()
}

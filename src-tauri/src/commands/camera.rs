//! The camera session (desktop) or the name of the plugin path (mobile).

use tauri::{AppHandle, State};

use crate::camera::{CameraStarted, BACKEND};
use crate::error::Result;
use crate::state::AppState;

/// `native` (the shell reads the camera: call `camera_start`) or `plugin` (Android and iOS: call
/// the barcode-scanner plugin from the page).
#[tauri::command]
pub fn camera_backend() -> &'static str {
    BACKEND
}

/// Opens the camera and starts the scanning loop: preview frames, codes read and the end of the
/// session arrive as events. `no_camera` when there is none.
#[tauri::command]
pub async fn camera_start(app: AppHandle, state: State<'_, AppState>) -> Result<CameraStarted> {
    state.camera.start(app)
}

/// Stops the camera session, if one runs.
#[tauri::command]
pub async fn camera_stop(state: State<'_, AppState>) -> Result<()> {
    state.camera.stop();
    Ok(())
}

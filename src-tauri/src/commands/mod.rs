//! Tauri commands exposed to the front end. Each one is a thin call into the field engine.

/// Returns the app version (the crate version, e.g. `0.1.0`).
#[tauri::command]
pub fn app_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

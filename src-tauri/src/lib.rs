//! Vouch app shell: the Tauri side of the technician and supervisor app.
//!
//! This crate holds no business logic. Each command in [`commands`] is a thin wrapper over the
//! field engine, and the Yew front end in `ui/` calls them through `window.__TAURI__.core.invoke`.
//! The same [`run`] function is the desktop entry point (via `src/main.rs`) and the mobile entry
//! point (via `tauri::mobile_entry_point`).

pub mod commands;

/// Builds and runs the Tauri application until the last window closes.
///
/// Registers every command in [`commands`]. If Tauri fails to start (for example, no display or
/// no webview), the error is printed to stderr and the process exits with status 1.
#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    let result = tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![commands::app_version])
        .run(tauri::generate_context!());
    if let Err(err) = result {
        eprintln!("vouch: error while running the app: {err}");
        std::process::exit(1);
    }
}

//! Vouch app shell: the Tauri side of the technician and supervisor app.
//!
//! This crate holds no business logic. Each command in [`commands`] is a thin wrapper over the
//! field engine ([`vouch_field::Field`]), opened once on the app's data folder and kept in
//! [`state::AppState`]; the Yew front end in `ui/` calls them through
//! `window.__TAURI__.core.invoke`. Long work reports through Tauri events: sync progress
//! ([`commands::SYNC_EVENT`]) and the camera ([`camera`]). The same [`run`] function is the
//! desktop entry point (via `src/main.rs`) and the mobile entry point (via
//! `tauri::mobile_entry_point`).
//!
//! Options and environment: `--data DIR` or `VOUCH_FIELD_DATA` overrides the data folder
//! (default: the platform's app data folder for `com.vouch.field`); `--invite TEXT` or
//! `VOUCH_INVITE` gives an invite that the join screen redeems on first run;
//! `VOUCH_FAKE_CAMERA` (desktop) loops image files as a camera.

pub mod camera;
pub mod commands;
pub mod error;
pub mod memory;
pub mod state;

use std::path::PathBuf;

use tauri::Manager;

use crate::state::{data_dir_from, invite_from, AppState, DATA_ENV, INVITE_ENV};

/// The data folder: `--data DIR`, else `VOUCH_FIELD_DATA`, else the platform's app data folder.
fn data_dir<R: tauri::Runtime>(app: &tauri::App<R>, args: &[String]) -> tauri::Result<PathBuf> {
    match data_dir_from(args, std::env::var_os(DATA_ENV)) {
        Some(dir) => Ok(dir),
        None => app.path().app_data_dir(),
    }
}

/// Opens the field engine, then the windows (`"create": false` in `tauri.conf.json`), so no
/// command can arrive before the state it needs.
fn setup<R: tauri::Runtime>(app: &mut tauri::App<R>) -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let invite = invite_from(&args, std::env::var(INVITE_ENV).ok());
    let data = data_dir(app, &args)?;
    let webview_data = data.join("webview");
    app.manage(AppState::open(data, invite));
    // The WebView's storage (the remembered site) lives with the install's data, so two data
    // folders are two independent installs.
    for window in app.config().app.windows.clone() {
        let window = tauri::WebviewWindowBuilder::from_config(app.handle(), &window)?
            .data_directory(webview_data.clone())
            .build()?;
        memory::lighten_webview(&window)?;
    }
    Ok(())
}

/// Builds and runs the Tauri application until the last window closes.
///
/// Registers every command in [`commands`], the dialog plugin (the photo picker) and, on
/// Android and iOS, the barcode-scanner plugin. If Tauri fails to start (for example, no display or no webview), the error is
/// printed to stderr and the process exits with status 1.
#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    memory::prepare();
    let builder = tauri::Builder::default().plugin(tauri_plugin_dialog::init());
    #[cfg(mobile)]
    let builder = builder.plugin(tauri_plugin_barcode_scanner::init());
    let result = builder
        .register_uri_scheme_protocol(camera::PREVIEW_SCHEME, |ctx, request| {
            camera::preview_response(ctx.app_handle(), &request)
        })
        .setup(setup)
        .invoke_handler(tauri::generate_handler![
            commands::settings::activity_log,
            commands::settings::app_info,
            commands::settings::app_version,
            commands::settings::ui_ready,
            commands::batch::batch_end,
            commands::batch::batch_scan,
            commands::batch::batch_start,
            commands::batch::batch_undo,
            commands::camera::camera_backend,
            commands::camera::camera_start,
            commands::camera::camera_stop,
            commands::scan::choose_photos,
            commands::scan::decode_image,
            commands::scan::read_pasted_photo,
            commands::scan::read_photos,
            commands::queue::export_queue,
            commands::queue::last_sync,
            commands::identity::launch_invite,
            commands::queue::queue,
            commands::queue::queue_counts,
            commands::identity::register,
            commands::review::review_approve,
            commands::review::review_list,
            commands::review::review_import,
            commands::review::review_reject,
            commands::review::review_revoke,
            commands::review::review_accept_gap,
            commands::review::review_reenroll,
            commands::review::review_show,
            commands::scan::scan_image,
            commands::scan::scan_text,
            commands::identity::server_status,
            commands::queue::sync,
            commands::identity::whoami,
        ])
        .run(tauri::generate_context!());
    if let Err(err) = result {
        eprintln!("vouch: error while running the app: {err}");
        std::process::exit(1);
    }
}

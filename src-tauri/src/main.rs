//! Desktop entry point of the Vouch app; everything lives in the `vouch_app` library.

// Prevents an additional console window on Windows in release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    vouch_app::run()
}

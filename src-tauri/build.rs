//! Build script: generates the Tauri context (config, capabilities, icons, embedded assets).

fn main() {
    tauri_build::build()
}

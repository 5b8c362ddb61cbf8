//! Sets `cfg(mobile)` on Android and iOS, as tauri-build does for the app crate, so the scanner's
//! mobile path (Tauri's barcode-scanner plugin instead of nokhwa) is selected the same way here.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(mobile)");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "android" || os == "ios" {
        println!("cargo::rustc-cfg=mobile");
    }
}

//! The mobile camera path. On Android and iOS (`cfg(mobile)`) nokhwa has no backend; the app
//! uses Tauri's barcode-scanner plugin (`tauri-plugin-barcode-scanner`, mobile-only), whose
//! `scan` command returns the code's text (`content`) and no corners. The Tauri shell passes that
//! text here, so label parsing and the JSON shape are the same on every platform. No mobile
//! dependency is needed in this crate.

use vouch_protocol::Label;

use super::{Charset, Decoded, Method};

/// A code read by a platform scanner (the barcode-scanner plugin, the WebView's
/// `BarcodeDetector`): the text as given, the label parsed when it is one, no corners.
pub fn decoded_from_text(text: &str) -> Decoded {
    Decoded {
        text: text.to_string(),
        bytes: text.as_bytes().to_vec(),
        charset: if text.is_ascii() {
            Charset::Ascii
        } else {
            Charset::Utf8
        },
        corners: [(0.0, 0.0); 4],
        version: 0,
        ecc_level: 0,
        method: Method::Platform,
        label: Label::parse(text).ok(),
    }
}

/// On mobile there is no [`super::camera`] module; the camera is the plugin, driven from the
/// WebView. This marker keeps the cfg(mobile) path compiled and documented in the tree.
#[cfg(mobile)]
#[derive(Debug, Clone, Copy, Default)]
pub struct PluginCamera;

#[cfg(mobile)]
impl PluginCamera {
    /// The plugin's formats to request: QR only.
    pub const FORMATS: &'static [&'static str] = &["QR_CODE"];
}

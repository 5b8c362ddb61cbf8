//! Android and iOS: the camera is Tauri's barcode-scanner plugin, which the page calls itself
//! (`plugin:barcode-scanner|scan` with `formats: ["QR_CODE"]`, allowed by
//! `capabilities/mobile.json`). It hands back the code's text, which the page passes to
//! `scan_text` like a typed label, so everything below the camera is the same code. The shell has
//! no camera session of its own here.

use tauri::{AppHandle, Runtime};

use super::CameraStarted;
use crate::error::{Error, Result};

/// The (absent) shell camera session on mobile.
#[derive(Default)]
pub struct Camera;

impl Camera {
    /// Always [`Error::CameraIsPlugin`]: the page uses the barcode-scanner plugin.
    pub fn start<R: Runtime>(&self, _app: AppHandle<R>) -> Result<CameraStarted> {
        Err(Error::CameraIsPlugin)
    }

    /// Nothing to stop.
    pub fn stop(&self) {}

    /// No preview: the plugin shows its own.
    pub fn preview_jpeg(&self, _width: u32) -> Option<Vec<u8>> {
        None
    }
}

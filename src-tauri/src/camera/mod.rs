//! The camera, selected per platform like Tauri's own plugins (`desktop.rs` / `mobile.rs`).
//!
//! * Desktop: the field engine's scanning loop over a nokhwa camera (or, for demos, tests and
//!   benchmarks, image files named in `VOUCH_FAKE_CAMERA`). A worker thread pulls frames, hands
//!   each to the loop (latest frame wins, decoding never waits for the UI) and sends the page a
//!   downscaled JPEG preview at a steady rate with the corners of the codes in view
//!   ([`PREVIEW_EVENT`]); each code read is sent once ([`CODE_EVENT`]); the end of the session,
//!   with its error if any, is [`STOPPED_EVENT`].
//! * Android and iOS (`cfg(mobile)`): nokhwa has no backend there. The page calls Tauri's
//!   barcode-scanner plugin (`plugin:barcode-scanner|scan`, registered in [`crate::run`]) and
//!   passes the text it reads to the same commands as a typed label.

#[cfg(not(mobile))]
mod desktop;
#[cfg(mobile)]
mod mobile;

#[cfg(not(mobile))]
pub use desktop::Camera;
#[cfg(mobile)]
pub use mobile::Camera;

use serde::Serialize;

/// Event with a [`PreviewFrame`], a few times a second while the camera runs.
pub const PREVIEW_EVENT: &str = "camera-frame";
/// Event with a [`CodeRead`], once per code that comes into view.
pub const CODE_EVENT: &str = "camera-code";
/// Event with a [`CameraStopped`] when a session ends.
pub const STOPPED_EVENT: &str = "camera-stopped";

/// Which camera path this build uses: `native` (the shell's scanning loop) or `plugin` (the
/// barcode-scanner plugin, called from the page).
pub const BACKEND: &str = if cfg!(mobile) { "plugin" } else { "native" };

/// What `camera_start` answers.
#[derive(Clone, Debug, Serialize)]
pub struct CameraStarted {
    /// The camera's description (`camera 0: ...`).
    pub name: String,
}

/// A downscaled preview frame and the codes in view.
#[derive(Clone, Debug, Serialize)]
pub struct PreviewFrame {
    /// The source's frame number.
    pub seq: u64,
    /// Width of the full frame (the overlay's coordinate space).
    pub width: u32,
    /// Height of the full frame.
    pub height: u32,
    /// The preview as a `data:image/jpeg;base64,...` URL.
    pub image: String,
    /// Codes located in the last decoded frame, corners in full-frame pixels.
    pub codes: Vec<Located>,
}

/// A code located in a frame.
#[derive(Clone, Debug, Serialize)]
pub struct Located {
    /// Its text.
    pub text: String,
    /// Top-left, top-right, bottom-right, bottom-left, in full-frame pixels.
    pub corners: [(f32, f32); 4],
}

/// A code the scanning loop read.
#[derive(Clone, Debug, Serialize)]
pub struct CodeRead {
    /// The text.
    pub text: String,
    /// The parsed label's fields (`null` when the text is no Vouch label).
    pub label: serde_json::Value,
    /// Where it was, in full-frame pixels.
    pub corners: [(f32, f32); 4],
}

/// Why a camera session ended.
#[derive(Clone, Debug, Serialize)]
pub struct CameraStopped {
    /// An error code (`camera`), or `null` when it was stopped on purpose.
    pub code: Option<&'static str>,
    /// What went wrong, in words.
    pub message: Option<String>,
}

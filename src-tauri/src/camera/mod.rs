//! The camera, selected per platform like Tauri's own plugins (`desktop.rs` / `mobile.rs`).
//!
//! * Desktop: the field engine's scanning loop over a nokhwa camera (or, for demos, tests and
//!   benchmarks, image files named in `VOUCH_FAKE_CAMERA`). A worker thread pulls frames, hands
//!   each to the loop (latest frame wins, decoding never waits for the UI) and tells the page a
//!   few times a second that a new picture is there, with the corners of the codes in view
//!   ([`PREVIEW_EVENT`], a few hundred bytes); each code read is sent once ([`CODE_EVENT`]); the
//!   end of the session, with its error if any, is [`STOPPED_EVENT`]. The picture itself is
//!   binary: the page's `<img>` loads it from the [`PREVIEW_SCHEME`] protocol at the width it
//!   shows, and asks for the next one only once it has drawn the last, so a page that cannot
//!   keep up drops frames instead of queueing them ([`preview_response`]).
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

/// The URI scheme the preview picture is served on: `preview://localhost/frame?seq=N&w=PX`
/// (`http://preview.localhost/...` where the WebView maps custom schemes so, as on Windows and
/// Android). `w` is the width in device pixels the page shows it at.
pub const PREVIEW_SCHEME: &str = "preview";
/// The widest preview served, in pixels (a view wider than this gets this and scales it).
pub const PREVIEW_MAX_WIDTH: u32 = 1280;
/// The narrowest preview served, in pixels.
pub const PREVIEW_MIN_WIDTH: u32 = 64;

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

/// A new preview picture (served on [`PREVIEW_SCHEME`]) and the codes in view.
#[derive(Clone, Debug, Serialize)]
pub struct PreviewFrame {
    /// The source's frame number.
    pub seq: u64,
    /// Width of the full frame (the overlay's coordinate space).
    pub width: u32,
    /// Height of the full frame.
    pub height: u32,
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

/// The width a preview request asks for (`w=` in its query), clamped to what is served;
/// [`PREVIEW_MAX_WIDTH`] when it names none.
pub fn requested_width(query: Option<&str>) -> u32 {
    query
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("w="))
        .and_then(|w| w.parse::<u32>().ok())
        .unwrap_or(PREVIEW_MAX_WIDTH)
        .clamp(PREVIEW_MIN_WIDTH, PREVIEW_MAX_WIDTH)
}

/// Answers a request on [`PREVIEW_SCHEME`]: the latest frame as a JPEG scaled to the width the
/// page asks for (never upscaled), not to be cached; `404` when the camera shows nothing.
pub fn preview_response<R: tauri::Runtime>(
    app: &tauri::AppHandle<R>,
    request: &tauri::http::Request<Vec<u8>>,
) -> tauri::http::Response<Vec<u8>> {
    use tauri::Manager;
    let width = requested_width(request.uri().query());
    let jpeg = app
        .try_state::<crate::state::AppState>()
        .and_then(|state| state.camera.preview_jpeg(width));
    let builder = tauri::http::Response::builder().header("Cache-Control", "no-store");
    let response = match jpeg {
        Some(jpeg) => builder
            .status(200)
            .header("Content-Type", "image/jpeg")
            .body(jpeg),
        None => builder.status(404).body(Vec::new()),
    };
    response.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preview_width_comes_from_the_query_and_is_bounded() {
        assert_eq!(requested_width(Some("seq=4&w=480")), 480);
        assert_eq!(requested_width(Some("w=5")), PREVIEW_MIN_WIDTH);
        assert_eq!(requested_width(Some("w=99999")), PREVIEW_MAX_WIDTH);
        assert_eq!(requested_width(Some("w=x")), PREVIEW_MAX_WIDTH);
        assert_eq!(requested_width(None), PREVIEW_MAX_WIDTH);
    }
}

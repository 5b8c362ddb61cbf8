//! The desktop camera through nokhwa (V4L2 on Linux, AVFoundation on macOS, Media Foundation on
//! Windows). Not built on Android/iOS (`cfg(mobile)`): there the camera is Tauri's
//! barcode-scanner plugin, driven by the app shell (see the crate docs).
//!
//! Every nokhwa call is also wrapped in `catch_unwind`: a driver oddity becomes
//! [`ScanError::Camera`], as does an unplugged camera (the next `frame()` fails).

use nokhwa::pixel_format::LumaFormat;
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
    Resolution,
};
use nokhwa::Camera;

use super::rq::guarded;
use super::source::{Frame, FrameSource};
use super::ScanError;

/// The resolution asked for by default: 1280x720 is enough for labels at arm's length and keeps
/// decoding within the frame budget (nokhwa picks the closest the camera offers).
pub const PREFERRED_RESOLUTION: (u32, u32) = (1280, 720);

/// A camera as listed by the system.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CameraInfo {
    /// Index to open it with.
    pub index: u32,
    /// Its name.
    pub name: String,
    /// The backend's description.
    pub description: String,
}

fn camera_err(e: impl std::fmt::Display) -> ScanError {
    ScanError::Camera(e.to_string())
}

/// Lists the connected cameras (may be empty).
pub fn list_cameras() -> Result<Vec<CameraInfo>, ScanError> {
    let infos = guarded(|| nokhwa::query(ApiBackend::Auto))
        .ok_or_else(|| ScanError::Camera("camera query panicked".into()))?
        .map_err(camera_err)?;
    Ok(infos
        .iter()
        .enumerate()
        .map(|(i, info)| CameraInfo {
            index: match info.index() {
                CameraIndex::Index(n) => *n,
                CameraIndex::String(_) => i as u32,
            },
            name: info.human_name(),
            description: info.description().to_string(),
        })
        .collect())
}

/// Picks a camera: the one with `index` if given, else the first listed. [`ScanError::NoCamera`]
/// when there is none.
pub fn choose_camera(cameras: &[CameraInfo], index: Option<u32>) -> Result<CameraInfo, ScanError> {
    match index {
        Some(i) => cameras
            .iter()
            .find(|c| c.index == i)
            .cloned()
            .ok_or_else(|| ScanError::Camera(format!("no camera with index {i}"))),
        None => cameras.first().cloned().ok_or(ScanError::NoCamera),
    }
}

/// An open camera streaming grey frames.
pub struct CameraSource {
    camera: Camera,
    info: CameraInfo,
    seq: u64,
}

impl std::fmt::Debug for CameraSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CameraSource")
            .field("info", &self.info)
            .field("seq", &self.seq)
            .finish()
    }
}

impl CameraSource {
    /// Opens a camera (`None`: the first one) at the resolution closest to `resolution`
    /// (default [`PREFERRED_RESOLUTION`]) and starts streaming.
    pub fn open(index: Option<u32>, resolution: Option<(u32, u32)>) -> Result<Self, ScanError> {
        let info = choose_camera(&list_cameras()?, index)?;
        let (w, h) = resolution.unwrap_or(PREFERRED_RESOLUTION);
        let wanted = CameraFormat::new(Resolution::new(w, h), FrameFormat::MJPEG, 30);
        let request = RequestedFormat::new::<LumaFormat>(RequestedFormatType::Closest(wanted));
        let idx = CameraIndex::Index(info.index);
        let mut camera = guarded(|| Camera::new(idx, request))
            .ok_or_else(|| ScanError::Camera("camera open panicked".into()))?
            .map_err(camera_err)?;
        guarded(|| camera.open_stream())
            .ok_or_else(|| ScanError::Camera("stream open panicked".into()))?
            .map_err(camera_err)?;
        Ok(CameraSource {
            camera,
            info,
            seq: 0,
        })
    }

    /// The camera in use.
    pub fn info(&self) -> &CameraInfo {
        &self.info
    }

    /// The resolution the camera actually delivers.
    pub fn resolution(&self) -> (u32, u32) {
        let r = self.camera.resolution();
        (r.width(), r.height())
    }
}

impl FrameSource for CameraSource {
    fn next_frame(&mut self) -> Result<Frame, ScanError> {
        let camera = &mut self.camera;
        let buffer = guarded(|| camera.frame())
            .ok_or_else(|| ScanError::Camera("frame capture panicked".into()))?
            .map_err(|e| ScanError::Camera(format!("frame capture failed (unplugged?): {e}")))?;
        let img = guarded(|| buffer.decode_image::<LumaFormat>())
            .ok_or_else(|| ScanError::Camera("frame decode panicked".into()))?
            .map_err(camera_err)?;
        let (w, h) = img.dimensions();
        let mut frame = Frame::new(w as usize, h as usize, img.into_raw())?;
        self.seq += 1;
        frame.seq = self.seq;
        Ok(frame)
    }

    fn describe(&self) -> String {
        format!("camera {}: {}", self.info.index, self.info.name)
    }
}

impl Drop for CameraSource {
    fn drop(&mut self) {
        let camera = &mut self.camera;
        let _ = guarded(|| camera.stop_stream());
    }
}

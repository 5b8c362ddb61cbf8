//! The desktop camera session: a worker thread around the field engine's scanning loop.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use image::{ImageBuffer, Luma};
use tauri::{AppHandle, Emitter, Runtime};
use vouch_field::scan::camera::CameraSource;
use vouch_field::scan::{
    label_json, load_gray, DecodeOptions, Frame, FrameSource, ScanError, ScanEvent, Scanner,
    ScannerConfig,
};

use super::{
    CameraStarted, CameraStopped, CodeRead, Located, PreviewFrame, CODE_EVENT, PREVIEW_EVENT,
    STOPPED_EVENT,
};
use crate::error::{Error, Result};

/// Environment variable: image files (separated like `PATH`) to loop as if they were a camera,
/// for demos, end-to-end tests and benchmarks on machines without one.
pub const FAKE_ENV: &str = crate::state::FAKE_CAMERA_ENV;
/// Time between two preview frames (at most 8 per second).
const PREVIEW_INTERVAL: Duration = Duration::from_millis(125);
/// JPEG quality of a preview frame.
const PREVIEW_QUALITY: u8 = 60;
/// Frame rate of the fake camera.
const FAKE_INTERVAL: Duration = Duration::from_millis(66);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The camera session, if one runs, and the frame the preview shows.
#[derive(Default)]
pub struct Camera {
    session: Mutex<Option<Session>>,
    latest: Latest,
}

/// The frame the preview shows: the worker puts one in at the preview rate, the preview
/// protocol encodes it when the page asks (at the page's width), nothing in between.
type Latest = Arc<Mutex<Option<Frame>>>;

struct Session {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    started: CameraStarted,
}

impl Session {
    fn running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    fn end(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Camera {
    /// Opens the camera (or the fake one) and starts the scanning loop; a session that already
    /// runs is kept. [`Error::NoCamera`] when there is none.
    pub fn start<R: Runtime>(&self, app: AppHandle<R>) -> Result<CameraStarted> {
        let mut session = lock(&self.session);
        if let Some(s) = session.as_ref().filter(|s| s.running()) {
            return Ok(s.started.clone());
        }
        if let Some(old) = session.take() {
            old.end();
        }
        let stop = Arc::new(AtomicBool::new(false));
        let (ready, opened) = std::sync::mpsc::sync_channel(1);
        let worker_stop = stop.clone();
        let latest = self.latest.clone();
        let thread = std::thread::Builder::new()
            .name("vouch-camera".into())
            .spawn(move || run(&app, &worker_stop, &ready, &latest))
            .map_err(|e| Error::Camera(e.to_string()))?;
        let started = opened
            .recv_timeout(Duration::from_secs(15))
            .map_err(|_| Error::Camera("it did not start within 15 seconds".into()))??;
        *session = Some(Session {
            stop,
            thread: Some(thread),
            started: started.clone(),
        });
        Ok(started)
    }

    /// Stops the session, if one runs, and waits for its thread.
    pub fn stop(&self) {
        if let Some(session) = lock(&self.session).take() {
            session.end();
        }
        lock(&self.latest).take();
    }

    /// The frame in view as a JPEG at most `width` pixels wide (never upscaled); `None` when
    /// the camera shows nothing.
    pub fn preview_jpeg(&self, width: u32) -> Option<Vec<u8>> {
        let frame = lock(&self.latest).clone()?;
        preview_jpeg(&frame, width)
    }
}

fn camera_error(e: ScanError) -> Error {
    match e {
        ScanError::NoCamera => Error::NoCamera,
        other => Error::Camera(other.to_string()),
    }
}

/// The fake camera: image files shown in turn, over and over, at about 15 frames a second. A
/// path may repeat to hold an image longer (each file is loaded once).
struct LoopingImages {
    frames: Vec<Frame>,
    order: Vec<usize>,
    next: usize,
    seq: u64,
    due: Instant,
}

impl LoopingImages {
    fn open(paths: impl Iterator<Item = PathBuf>) -> std::result::Result<Self, ScanError> {
        let mut loaded: Vec<PathBuf> = Vec::new();
        let mut frames = Vec::new();
        let mut order = Vec::new();
        for path in paths {
            let index = match loaded.iter().position(|p| *p == path) {
                Some(index) => index,
                None => {
                    frames.push(Frame::from_gray(load_gray(&path)?));
                    loaded.push(path);
                    frames.len() - 1
                }
            };
            order.push(index);
        }
        if order.is_empty() {
            return Err(ScanError::NoCamera);
        }
        Ok(Self {
            frames,
            order,
            next: 0,
            seq: 0,
            due: Instant::now(),
        })
    }
}

impl FrameSource for LoopingImages {
    fn next_frame(&mut self) -> std::result::Result<Frame, ScanError> {
        std::thread::sleep(self.due.saturating_duration_since(Instant::now()));
        self.due = Instant::now() + FAKE_INTERVAL;
        let index = self.order[self.next % self.order.len()];
        self.next = (self.next + 1) % self.order.len();
        let mut frame = self.frames[index].clone();
        self.seq += 1;
        frame.seq = self.seq;
        Ok(frame)
    }

    fn describe(&self) -> String {
        format!(
            "simulated camera ({} image(s) from {FAKE_ENV})",
            self.frames.len()
        )
    }
}

/// How the loop decodes. The simulated camera's frames are still images shown at 15 frames a
/// second, decoded with the still-image budget: a debug build on a loaded machine (the
/// end-to-end tests) cannot read several labels in one frame within the camera's few
/// milliseconds, and the loop drops the frames it has no time for either way. A real camera
/// keeps the scanner's stream settings (`ScannerConfig::default`).
fn scanner_config(simulated: bool) -> ScannerConfig {
    let mut config = ScannerConfig::default();
    if simulated {
        let still = DecodeOptions::default();
        config.options.budget = still.budget;
        config.options.likely_code_budget = still.likely_code_budget;
    }
    config
}

fn open_source() -> std::result::Result<Box<dyn FrameSource>, ScanError> {
    match std::env::var_os(FAKE_ENV) {
        Some(paths) => Ok(Box::new(LoopingImages::open(std::env::split_paths(
            &paths,
        ))?)),
        None => Ok(Box::new(CameraSource::open(None, None)?)),
    }
}

/// The frame as a JPEG at most `width` pixels wide (never upscaled).
fn preview_jpeg(frame: &Frame, width: u32) -> Option<Vec<u8>> {
    let (w, h) = (
        u32::try_from(frame.width()).ok()?,
        u32::try_from(frame.height()).ok()?,
    );
    let view: ImageBuffer<Luma<u8>, &[u8]> = ImageBuffer::from_raw(w, h, frame.luma())?;
    let scale = f64::from(width.max(1)) / f64::from(w.max(1));
    let small = if scale < 1.0 {
        let (pw, ph) = (width.max(1), (f64::from(h) * scale).round().max(1.0) as u32);
        image::imageops::thumbnail(&view, pw, ph)
    } else {
        image::imageops::thumbnail(&view, w, h)
    };
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, PREVIEW_QUALITY)
        .encode_image(&small)
        .ok()?;
    Some(jpeg)
}

/// The worker: opens the source, reports that through `ready`, then loops until `stop`.
fn run<R: Runtime>(
    app: &AppHandle<R>,
    stop: &AtomicBool,
    ready: &SyncSender<Result<CameraStarted>>,
    latest: &Latest,
) {
    let mut source = match open_source() {
        Ok(source) => source,
        Err(e) => {
            let _ = ready.send(Err(camera_error(e)));
            return;
        }
    };
    let _ = ready.send(Ok(CameraStarted {
        name: source.describe(),
    }));
    let mut scanner = Scanner::start(scanner_config(std::env::var_os(FAKE_ENV).is_some()));
    let mut last_preview: Option<Instant> = None;
    let outcome = loop {
        if stop.load(Ordering::SeqCst) {
            break Ok(());
        }
        let frame = match source.next_frame() {
            Ok(frame) => frame,
            Err(e) => break Err(e),
        };
        if last_preview.is_none_or(|t| t.elapsed() >= PREVIEW_INTERVAL) {
            last_preview = Some(Instant::now());
            *lock(latest) = Some(frame.clone());
            send_preview(app, &frame, &scanner);
        }
        if let Err(e) = scanner.submit(frame) {
            break Err(e);
        }
        let mut reads = Vec::new();
        while let Some(event) = scanner.try_event() {
            if let ScanEvent::Code { decoded, .. } = event {
                reads.push(CodeRead {
                    label: label_json(decoded.label.as_ref()),
                    text: decoded.text,
                    corners: decoded.corners,
                });
            }
        }
        // Several codes that came into view together are sent in reading order, so a batch
        // queues a row of labels as it is laid out, not in the decoder's order.
        reading_order(&mut reads);
        for read in reads {
            let _ = app.emit(CODE_EVENT, read);
        }
    };
    scanner.stop();
    let stopped = match outcome {
        Ok(()) => CameraStopped {
            code: None,
            message: None,
        },
        Err(e) => {
            let e = camera_error(e);
            CameraStopped {
                code: Some(e.code()),
                message: Some(e.to_string()),
            }
        }
    };
    let _ = app.emit(STOPPED_EVENT, stopped);
}

/// Sorts codes top to bottom, then left to right: two codes whose centres lie less than half
/// a code's height apart vertically are on one line.
fn reading_order(reads: &mut [CodeRead]) {
    let centre = |c: &[(f32, f32); 4]| {
        let x = c.iter().map(|p| p.0).sum::<f32>() / 4.0;
        let y = c.iter().map(|p| p.1).sum::<f32>() / 4.0;
        (x, y)
    };
    let height = |c: &[(f32, f32); 4]| {
        let (lo, hi) = c.iter().fold((f32::MAX, f32::MIN), |(lo, hi), p| {
            (lo.min(p.1), hi.max(p.1))
        });
        hi - lo
    };
    reads.sort_by(|a, b| {
        let ((ax, ay), (bx, by)) = (centre(&a.corners), centre(&b.corners));
        let line = height(&a.corners).max(height(&b.corners)) / 2.0;
        if (ay - by).abs() < line {
            ax.total_cmp(&bx)
        } else {
            ay.total_cmp(&by)
        }
    });
}

fn send_preview<R: Runtime>(app: &AppHandle<R>, frame: &Frame, scanner: &Scanner) {
    let overlay = scanner.overlay();
    let preview = PreviewFrame {
        seq: frame.seq,
        width: u32::try_from(frame.width()).unwrap_or(0),
        height: u32::try_from(frame.height()).unwrap_or(0),
        codes: overlay
            .codes
            .into_iter()
            .map(|(text, corners)| Located { text, corners })
            .collect(),
    };
    let _ = app.emit(PREVIEW_EVENT, preview);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_preview_is_a_jpeg_at_the_width_asked_for_never_wider_than_the_frame() {
        let frame = Frame::new(1280, 720, vec![128; 1280 * 720]).unwrap();
        let size = |jpeg: Vec<u8>| {
            let img = image::load_from_memory(&jpeg).unwrap();
            (img.width(), img.height())
        };
        assert_eq!(size(preview_jpeg(&frame, 480).unwrap()), (480, 270));
        assert_eq!(size(preview_jpeg(&frame, 4000).unwrap()), (1280, 720));
        let camera = Camera::default();
        assert!(camera.preview_jpeg(480).is_none());
        *lock(&camera.latest) = Some(frame);
        assert_eq!(size(camera.preview_jpeg(640).unwrap()), (640, 360));
        camera.stop();
        assert!(camera.preview_jpeg(480).is_none());
    }

    #[test]
    fn only_the_simulated_camera_gets_the_still_image_budget() {
        // A real camera keeps the scanner's stream settings (the cheap pass every frame, the
        // expensive attempts spread over frames).
        let real = scanner_config(false);
        assert_eq!(real.options.budget, ScannerConfig::default().options.budget);
        assert!(real.options.budget < DecodeOptions::default().budget);
        let simulated = scanner_config(true);
        assert!(simulated.options.frame_mode);
        assert_eq!(simulated.options.budget, DecodeOptions::default().budget);
    }

    #[test]
    fn codes_read_together_go_out_in_reading_order() {
        let at = |text: &str, x: f32, y: f32| CodeRead {
            text: text.into(),
            label: serde_json::Value::Null,
            corners: [
                (x, y),
                (x + 100.0, y),
                (x + 100.0, y + 100.0),
                (x, y + 100.0),
            ],
        };
        let mut reads = vec![
            at("row2-left", 0.0, 300.0),
            at("row1-right", 400.0, 30.0),
            at("row1-left", 0.0, 0.0),
            at("row1-middle", 200.0, -20.0),
        ];
        reading_order(&mut reads);
        let order: Vec<_> = reads.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(
            order,
            ["row1-left", "row1-middle", "row1-right", "row2-left"]
        );
    }

    #[test]
    fn the_fake_camera_loops_its_images() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jpg");
        image::GrayImage::from_pixel(8, 4, Luma([200]))
            .save(&path)
            .unwrap();
        let other = dir.path().join("b.jpg");
        image::GrayImage::from_pixel(2, 2, Luma([10]))
            .save(&other)
            .unwrap();
        let order = [path.clone(), path, other];
        let mut source = LoopingImages::open(order.into_iter()).unwrap();
        assert_eq!(source.frames.len(), 2);
        let sizes: Vec<_> = (1..=4)
            .map(|seq| {
                let frame = source.next_frame().unwrap();
                assert_eq!(frame.seq, seq);
                (frame.width(), frame.height())
            })
            .collect();
        assert_eq!(sizes, [(8, 4), (8, 4), (2, 2), (8, 4)]);
        assert!(matches!(
            LoopingImages::open(std::iter::empty()),
            Err(ScanError::NoCamera)
        ));
    }
}

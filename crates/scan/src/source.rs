//! Frame sources behind one trait: image files, raw luma frames and (desktop) the camera.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::time::Duration;

use image::GrayImage;

use super::binarize::Gray;
use super::ScanError;

/// The largest frame accepted (pixels): 8K video. Larger buffers are refused, not decoded.
pub const MAX_FRAME_PIXELS: usize = 7680 * 4320;

/// One grey (luma) frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    width: usize,
    height: usize,
    luma: Vec<u8>,
    /// The source's frame number (set by the source; 0 when unknown).
    pub seq: u64,
}

impl Frame {
    /// A frame from a luma buffer of exactly `width * height` bytes.
    pub fn new(width: usize, height: usize, luma: Vec<u8>) -> Result<Self, ScanError> {
        let pixels = width
            .checked_mul(height)
            .filter(|&n| n <= MAX_FRAME_PIXELS)
            .ok_or_else(|| ScanError::BadFrame(format!("{width}x{height} is too large")))?;
        if luma.len() != pixels {
            return Err(ScanError::BadFrame(format!(
                "{width}x{height} needs {pixels} bytes, got {}",
                luma.len()
            )));
        }
        Ok(Frame {
            width,
            height,
            luma,
            seq: 0,
        })
    }

    /// A frame from packed 8-bit RGB (`width * height * 3` bytes), converted to luma (BT.601).
    pub fn from_rgb8(width: usize, height: usize, rgb: &[u8]) -> Result<Self, ScanError> {
        let pixels = width.saturating_mul(height);
        if pixels > MAX_FRAME_PIXELS || rgb.len() != pixels.saturating_mul(3) {
            return Err(ScanError::BadFrame(format!(
                "{width}x{height} RGB needs {} bytes, got {}",
                pixels.saturating_mul(3),
                rgb.len()
            )));
        }
        let luma = rgb
            .chunks_exact(3)
            .map(|p| {
                ((u32::from(p[0]) * 77 + u32::from(p[1]) * 150 + u32::from(p[2]) * 29) >> 8) as u8
            })
            .collect();
        Frame::new(width, height, luma)
    }

    /// A frame from a grey image.
    pub fn from_gray(img: GrayImage) -> Self {
        let (w, h) = img.dimensions();
        Frame {
            width: w as usize,
            height: h as usize,
            luma: img.into_raw(),
            seq: 0,
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The luma bytes, row-major.
    pub fn luma(&self) -> &[u8] {
        &self.luma
    }

    /// Borrowed view for the decoder.
    pub fn view(&self) -> Gray<'_> {
        Gray {
            width: self.width,
            height: self.height,
            data: &self.luma,
        }
    }
}

/// Anything that produces frames: a camera, a list of files, frames pushed by another part of
/// the app. `next_frame` blocks until a frame is there; [`ScanError::EndOfFrames`] ends a finite
/// source; other errors (an unplugged camera) are reported, never panics.
pub trait FrameSource {
    /// The next frame.
    fn next_frame(&mut self) -> Result<Frame, ScanError>;

    /// A short human-readable description ("camera 0: ...", "3 files").
    fn describe(&self) -> String;
}

/// Image files (JPEG, PNG, WebP), one frame each, in order.
#[derive(Debug, Clone)]
pub struct ImageFiles {
    paths: VecDeque<PathBuf>,
    seq: u64,
}

impl ImageFiles {
    /// A source over these files.
    pub fn new(paths: impl IntoIterator<Item = PathBuf>) -> Self {
        ImageFiles {
            paths: paths.into_iter().collect(),
            seq: 0,
        }
    }
}

impl FrameSource for ImageFiles {
    fn next_frame(&mut self) -> Result<Frame, ScanError> {
        let path = self.paths.pop_front().ok_or(ScanError::EndOfFrames)?;
        let mut frame = Frame::from_gray(super::load_gray(&path)?);
        self.seq += 1;
        frame.seq = self.seq;
        Ok(frame)
    }

    fn describe(&self) -> String {
        format!("{} image file(s) left", self.paths.len())
    }
}

/// Raw luma frames: a fixed list, or pushed through a channel by another producer (e.g. frames
/// the WebView captured).
#[derive(Debug)]
pub struct RawFrames {
    queue: VecDeque<Frame>,
    rx: Option<Receiver<Frame>>,
    timeout: Duration,
    seq: u64,
}

impl RawFrames {
    /// A source over these frames.
    pub fn from_frames(frames: impl IntoIterator<Item = Frame>) -> Self {
        RawFrames {
            queue: frames.into_iter().collect(),
            rx: None,
            timeout: Duration::ZERO,
            seq: 0,
        }
    }

    /// A source fed through a bounded channel; `next_frame` waits at most `timeout` for a frame
    /// and ends when every sender is dropped.
    pub fn channel(capacity: usize, timeout: Duration) -> (SyncSender<Frame>, Self) {
        let (tx, rx) = std::sync::mpsc::sync_channel(capacity.max(1));
        (
            tx,
            RawFrames {
                queue: VecDeque::new(),
                rx: Some(rx),
                timeout,
                seq: 0,
            },
        )
    }
}

impl FrameSource for RawFrames {
    fn next_frame(&mut self) -> Result<Frame, ScanError> {
        let mut frame = match self.queue.pop_front() {
            Some(f) => f,
            None => match &self.rx {
                None => return Err(ScanError::EndOfFrames),
                Some(rx) => match rx.recv_timeout(self.timeout) {
                    Ok(f) => f,
                    Err(RecvTimeoutError::Timeout) => {
                        return Err(ScanError::BadFrame("no frame within the timeout".into()))
                    }
                    Err(RecvTimeoutError::Disconnected) => return Err(ScanError::EndOfFrames),
                },
            },
        };
        self.seq += 1;
        if frame.seq == 0 {
            frame.seq = self.seq;
        }
        Ok(frame)
    }

    fn describe(&self) -> String {
        "raw frames".into()
    }
}

//! Every call into rqrr goes through here: each is wrapped in `catch_unwind` (rqrr can panic:
//! an assertion in its geometry code did on `qrcode-6/7.png` until the vendored copy's second
//! patch, and others may remain), panics are counted, never propagated, and input sizes are
//! bounded by the callers (see `MAX_RQRR_PIXELS`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};

use super::binarize::{BitImage, Gray};

/// Reads every grid of a prepared image (a macro: rqrr does not export its buffer type).
macro_rules! read_grids {
    ($img:expr) => {{
        let mut out = Vec::new();
        for grid in $img.detect_grids() {
            let mut bytes = Vec::new();
            if let Ok(meta) = grid.decode_to(&mut bytes) {
                let c = grid.bounds;
                out.push(RawCode {
                    bytes,
                    corners: c.map(|p| (p.x as f32, p.y as f32)),
                    version: meta.version.0.min(255) as u8,
                    ecc_level: meta.ecc_level.min(255) as u8,
                });
            }
        }
        out
    }};
}

/// The largest image (in pixels) handed to rqrr's own detector in one call. rqrr clones the whole
/// image for every candidate group of finder patterns it tests, so its time grows with the image
/// size times the number of candidates; bounding both keeps one call from running for seconds.
pub const MAX_RQRR_PIXELS: usize = 1280 * 720;

static PANICS: AtomicU64 = AtomicU64::new(0);

/// How many panics inside rqrr have been caught in this process so far.
pub fn panics_contained() -> u64 {
    PANICS.load(Ordering::Relaxed)
}

/// A code read by rqrr: payload bytes, corners and metadata.
#[derive(Clone, Debug)]
pub struct RawCode {
    /// The payload bytes (see `text::decode_payload`).
    pub bytes: Vec<u8>,
    /// Corners in the coordinates of the image rqrr saw: top-left, top-right, bottom-right,
    /// bottom-left of the symbol.
    pub corners: [(f32, f32); 4],
    /// QR version (1..=40).
    pub version: u8,
    /// Error-correction level as rqrr numbers it (0..=3).
    pub ecc_level: u8,
}

/// Runs `f`, turning a panic into `None` and counting it.
pub fn guarded<T>(f: impl FnOnce() -> T) -> Option<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => Some(v),
        Err(_) => {
            PANICS.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

/// rqrr's detector and decoder on a binarized image (1 = black). Returns the codes it read;
/// empty on a panic or when the image is larger than [`MAX_RQRR_PIXELS`].
pub fn detect_bitmap(bits: &BitImage) -> Vec<RawCode> {
    if bits.width.saturating_mul(bits.height) > MAX_RQRR_PIXELS || bits.bits.is_empty() {
        return Vec::new();
    }
    guarded(|| {
        let mut img = rqrr::PreparedImage::prepare_from_bitmap(bits.width, bits.height, |x, y| {
            bits.bits[y * bits.width + x] != 0
        });
        read_grids!(img)
    })
    .unwrap_or_default()
}

/// rqrr's own pipeline (its row-average binarizer, then detection), bounded like
/// [`detect_bitmap`].
pub fn detect_gray(img: Gray<'_>) -> Vec<RawCode> {
    if img.width.saturating_mul(img.height) > MAX_RQRR_PIXELS || img.data.is_empty() {
        return Vec::new();
    }
    guarded(|| {
        let mut prepared =
            rqrr::PreparedImage::prepare_from_greyscale(img.width, img.height, |x, y| {
                img.data[y * img.width + x]
            });
        read_grids!(prepared)
    })
    .unwrap_or_default()
}

/// Decodes a module grid sampled elsewhere (`size` x `size`, `bit(x, y)` true = dark) with rqrr's
/// decoder (format information, Reed-Solomon correction, segments; it also tries the mirror image).
pub fn decode_grid(size: usize, bit: impl Fn(usize, usize) -> bool) -> Option<(Vec<u8>, u8, u8)> {
    if !(21..=177).contains(&size) {
        return None;
    }
    guarded(|| {
        let grid = rqrr::Grid::new(rqrr::SimpleGrid::from_func(size, bit));
        let mut bytes = Vec::new();
        grid.decode_to(&mut bytes).ok().map(|meta| {
            (
                bytes,
                meta.version.0.min(255) as u8,
                meta.ecc_level.min(255) as u8,
            )
        })
    })
    .flatten()
}

/// rqrr 0.11 alone, exactly as its README uses it (`PreparedImage::prepare` on the whole image,
/// no size bound), panics contained. For measuring the baseline only: the pipeline never calls
/// this.
pub fn baseline(img: &image::GrayImage) -> Vec<RawCode> {
    guarded(|| {
        let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(
            img.width() as usize,
            img.height() as usize,
            |x, y| img.as_raw()[y * img.width() as usize + x],
        );
        read_grids!(prepared)
    })
    .unwrap_or_default()
}

//! # vouch-scan
//!
//! Reading QR codes: from image files, raw frames and the camera, on top of rqrr. This crate
//! knows nothing of the field engine (`vouch-field`), which uses it; it depends only on the
//! protocol core (to recognise a Vouch label among the codes read).
//!
//! # Pipeline
//!
//! rqrr alone reads about half of real photos: its binarizer is a per-row running average and its
//! finder detection flood-fills exact connected regions, so low contrast, glare, small modules,
//! blur and noise defeat it. [`decode_image`] runs a cascade of hypotheses, cheapest first, within
//! a time budget ([`DecodeOptions`]):
//!
//! 1. A block binarizer (ZXing's hybrid binarizer, except that flat blocks do not pull down
//!    the threshold of the edges beside them), our own run-length finder-pattern location
//!    (1:1:3:1:1 with tolerance plus half a pixel at 2-3 px per module; each row is cut into
//!    runs once and both polarities are tested on them), triples of finders whose corner and
//!    legs a symbol seen in perspective could draw (a corner of at most 120 degrees, clearly
//!    the largest angle, legs within 1.6 of each other; ranked by how near an isosceles right
//!    triangle they are), grid fitting (module size along the finder axes, dimension checked
//!    against the timing patterns, alignment pattern, perspective) and sampling; the sampled
//!    grid is decoded by rqrr's decoder (format, Reed-Solomon, segments). A triple's best fit
//!    that matches its timing patterns well and still does not decode is sampled again a
//!    quarter of a module off the module centres, one direction at a time. When the alignment pattern is not found where the parallelogram
//!    through the finders puts it and the finders are drawn at different sizes (a symbol seen
//!    in perspective), it is searched again at the size the far corner is drawn at, and
//!    further out: a large symbol tilted away from the camera is otherwise missed.
//! 2. Crops around located finder triples, and around pairs when the third finder was lost
//!    (or when their triple is one that only perspective could draw),
//!    rescaled to ~5 px per module and re-binarized (block, global, and on camera frames also
//!    unsharp-masked against defocus): our finders + sampler, then rqrr's detector. On camera
//!    frames the best-placed triple always gets a crop, the others only when their grid matched
//!    its timing patterns.
//! 3. Still images go on: low-contrast blocks kept, a 3x3 smoothing (noise), rqrr's detector on
//!    the whole image, the crops again unsharp-masked, a 2x upscale for small images, contrast
//!    stretch with a global threshold, rqrr's own pipeline. Camera frames
//!    ([`DecodeOptions::frame`]) instead try a cheap half-resolution pass and one global (Otsu)
//!    threshold of the whole frame, and stop: the next frame comes soon.
//! 4. With the cargo feature `rxing`, rxing (a pure-Rust ZXing port) is tried last
//!    (`fallback`). Off by default; the benchmark reports both.
//!
//! The budget is CPU time of the decoding thread, checked between hypotheses; each hypothesis is
//! bounded in size (crops, [`rq::MAX_RQRR_PIXELS`]). Once the first pass has located a triple
//! whose grid clearly matches its timing patterns (a likely code), the budget grows to
//! `likely_code_budget` (camera frames: 12 ms, 16 ms for a likely code; frames without a code
//! rarely show one, so they keep the shorter budget).
//!
//! Every rqrr call is wrapped in `catch_unwind` ([`panics_contained`] counts what was caught) and
//! gets a bounded input, so one image cannot take the process down or run for seconds.
//!
//! The payload's character set is guessed as ZXing does without an ECI (rqrr does not expose the
//! ECI designator): see [`text`].
//!
//! # Camera streams
//!
//! The scanning loop decodes a stream, not single frames: a [`FrameDecoder`] gives every frame
//! the first pass (the block binarizer, finders on every third row of a 720p frame, grid
//! sampling) and takes the costlier hypotheses (crops around triples and pairs in each
//! binarization, the half-resolution pass, the global threshold) as steps in rotation: the step
//! the stream has reached always runs, a further one only if it is expected to end within
//! [`DecodeOptions::stream`]'s 3 ms (each kind of step's cost is learnt from the frames that ran
//! it, so a whole-frame pass is not started late in a frame and left to overrun the budget).
//! The steps come in the order in which they paid on the corpus's images pasted into frames and
//! on synthetic frames (the best triple's block and sharpened crops, the global threshold, the
//! half-resolution pass, then the rest), and a crop around a likely code (a triple whose grid
//! matched its timing patterns) always reaches rqrr's detector, even when the frame's budget ran
//! out during our finder pass on it: what a still scene reads does not depend on the load.
//! A still scene goes through them over consecutive frames (all of them within ten frames when
//! a frame has time for two steps), no frame pays for all of them, and a step that read a code
//! is tried first on the next frame, so the code stays read while it is in view. Each round of
//! the rotation rescales its crops to another module size (5, 5.5, 4.5 px) and scans other
//! rows; in the 5.5 px round, crops around finders that scanned rows crossed over at least
//! 6 px (rarely texture's) may have 640 x 640 pixels instead of 400 x 400 (sharpened: 500 x
//! 500 instead of 300 x 300), so a dense symbol keeps its pixels. A single frame
//! ([`DecodeOptions::frame`]) and a photo still try everything.
//!
//! # Several codes in one image
//!
//! Every code in view is read, each once (same payload, one result), Vouch labels first, with
//! its corners in the image's pixels ([`decode_all`] for one frame, [`decode_image`] for a
//! photo). Each time a finder triple reads, the finders inside the symbol it read are set aside
//! and the triples are ranked again among the rest (in a rack of labels, triples across two
//! labels rank as well as a label's own); triples with a clear timing pattern that the first
//! pass did not read get a crop.
//!
//! # Sources and the scanning loop
//!
//! [`FrameSource`] is implemented by image files ([`ImageFiles`]), raw luma frames
//! ([`RawFrames`]) and, on desktop, the camera (`CameraSource` through nokhwa). [`Scanner`]
//! decodes on a worker thread, latest frame wins, and reports each code once until it has left the
//! view, or in a batch ([`Report::OncePerBatch`]) once for the whole batch. On Android and iOS
//! (`cfg(mobile)`, set by this crate's build script) nokhwa has no backend and there is no
//! `camera` module: the app's camera there is Tauri's barcode-scanner
//! plugin, which hands the shell text, parsed with the same `Label::parse`.

pub mod binarize;
#[cfg(not(mobile))]
pub mod camera;
pub mod detector;
#[cfg(feature = "rxing")]
pub mod fallback;
pub mod finder;
pub mod pipeline;
pub mod rq;
pub mod scanner;
pub mod source;
pub mod text;

use std::path::Path;

/// The image crate this scanner decodes with, for callers that build or save images (tests,
/// synthetic frames) without naming a second copy of it.
pub use image;
use image::GrayImage;
use serde_json::{json, Value};
use vouch_protocol::Label;

pub use pipeline::{DecodeOptions, Method};
pub use rq::panics_contained;
pub use scanner::{Overlay, Report, ScanEvent, ScanStats, Scanner, ScannerConfig};
pub use source::{Frame, FrameSource, ImageFiles, RawFrames};
pub use text::Charset;

/// Errors of the scanner. `#[non_exhaustive]`: match with a wildcard arm.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not an image this build can decode (JPEG, PNG, WebP).
    #[error("cannot decode image {path}: {message}")]
    Image {
        /// The file.
        path: String,
        /// The decoder's message.
        message: String,
    },
    /// An image file's header claims more pixels than [`MAX_IMAGE_PIXELS`]: refused before
    /// decoding (a decompression bomb, or a photo far larger than a label needs).
    #[error(
        "cannot decode image {path}: it is {width}x{height} pixels, more than the {max} \
         megapixels accepted; take a smaller photo or crop it to the label",
        max = MAX_IMAGE_PIXELS / (1024 * 1024)
    )]
    TooLarge {
        /// The file.
        path: String,
        /// Width in pixels, from the header.
        width: u32,
        /// Height in pixels, from the header.
        height: u32,
    },
    /// An image file ends early (an interrupted copy or download).
    #[error("cannot decode image {path}: the file is truncated (it ends early); copy it again")]
    Truncated {
        /// The file.
        path: String,
    },
    /// A raw frame's buffer does not match its dimensions.
    #[error("bad frame: {0}")]
    BadFrame(String),
    /// No camera is connected (or none can be listed).
    #[error("no camera found")]
    NoCamera,
    /// The camera failed, was unplugged, or refused the requested format.
    #[error("camera: {0}")]
    Camera(String),
    /// The source has no more frames.
    #[error("end of frames")]
    EndOfFrames,
    /// The scanning loop's worker is gone.
    #[error("scanner stopped")]
    Stopped,
}

/// One code read from an image.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    /// The payload as text (see [`Charset`]).
    pub text: String,
    /// The payload bytes as decoded from the symbol.
    pub bytes: Vec<u8>,
    /// How the bytes were read as text.
    pub charset: Charset,
    /// The symbol's corners in image pixels: top-left, top-right, bottom-right, bottom-left (for
    /// an overlay).
    pub corners: [(f32, f32); 4],
    /// QR version (1..=40).
    pub version: u8,
    /// Error-correction level as rqrr numbers it (0..=3).
    pub ecc_level: u8,
    /// Which hypothesis of the cascade read it.
    pub method: Method,
    /// The parsed Vouch label, when the text is one (compact, manual-entry or DPP form).
    pub label: Option<Label>,
}

impl Decoded {
    fn from_hit(hit: pipeline::Hit) -> Self {
        let (text, charset) = text::decode_payload(&hit.bytes);
        let label = Label::parse(&text).ok();
        Decoded {
            text,
            bytes: hit.bytes,
            charset,
            corners: hit.corners,
            version: hit.version,
            ecc_level: hit.ecc_level,
            method: hit.method,
            label,
        }
    }
}

/// Decodes every QR code found in a grey image (still-image budget): each code once, Vouch
/// labels first (see [`decode_luma`]). Never panics.
pub fn decode_image(img: &GrayImage) -> Vec<Decoded> {
    decode_image_with(img, &DecodeOptions::default())
}

/// [`decode_image`] with explicit options.
pub fn decode_image_with(img: &GrayImage, opts: &DecodeOptions) -> Vec<Decoded> {
    let (w, h) = img.dimensions();
    match binarize::Gray::new(w as usize, h as usize, img.as_raw()) {
        Some(g) => decode_luma(g, opts),
        None => Vec::new(),
    }
}

/// Decodes a borrowed luma buffer: every code found, each once (codes with the same payload
/// are one), Vouch labels first, then the other codes, each group in the order read. The
/// corners are in the buffer's pixels.
pub fn decode_luma(img: binarize::Gray<'_>, opts: &DecodeOptions) -> Vec<Decoded> {
    labels_first(
        pipeline::decode(img, opts)
            .into_iter()
            .map(Decoded::from_hit)
            .collect(),
    )
}

/// Decodes a camera stream frame by frame, keeping what the frames before tried: every frame
/// gets the cheap first pass, and the costlier hypotheses are spread over consecutive frames in
/// rotation (one or more per frame, within [`DecodeOptions::stream`]'s budget), so that a still
/// scene goes through all of them within a few frames and no frame pays for all of them. One
/// per camera stream; the scanning loop ([`Scanner`]) keeps one.
#[derive(Clone, Debug)]
pub struct FrameDecoder {
    options: DecodeOptions,
    state: pipeline::StreamState,
}

impl FrameDecoder {
    /// A decoder for one stream (usually with [`DecodeOptions::stream`]).
    pub fn new(options: DecodeOptions) -> Self {
        FrameDecoder {
            options,
            state: pipeline::StreamState::default(),
        }
    }

    /// Decodes the stream's next frame: as [`decode_luma`] (every code, each once, labels
    /// first), with the hypotheses this frame's turn of the rotation tries.
    pub fn decode(&mut self, frame: binarize::Gray<'_>) -> Vec<Decoded> {
        labels_first(
            pipeline::decode_stream(frame, &self.options, &mut self.state)
                .into_iter()
                .map(Decoded::from_hit)
                .collect(),
        )
    }
}

/// Sorts Vouch labels before the other codes, keeping the reading order within each group.
fn labels_first(mut found: Vec<Decoded>) -> Vec<Decoded> {
    found.sort_by_key(|d| d.label.is_none());
    found
}

/// Every QR code in one frame, with its corners in the frame's pixels: each code once, Vouch
/// labels first (a rack or a pallet shows several labels at once, and often other codes beside
/// them). Every hypothesis is tried, as for a still image (up to its 400 ms budget): for a
/// frame the user stopped on or a photo. The scanning loop ([`Scanner`]) decodes a stream with
/// the frame budget and reports the same results through its events and overlay.
pub fn decode_all(frame: &Frame) -> Vec<Decoded> {
    decode_luma(frame.view(), &DecodeOptions::default())
}

/// The largest image file decoded, in pixels: 64 megapixels, above the 48 to 50 MP of the
/// largest phone cameras. The dimensions are read from the header first, so a small file that
/// claims more (a decompression bomb) is refused before anything is allocated. The one limit
/// for every image file: the CLI's `decode` and `scan --image`, and the app's photo import.
pub const MAX_IMAGE_PIXELS: u64 = 64 * 1024 * 1024;

/// Reads an image file (JPEG, PNG, WebP) as grey: refused before decoding when its header
/// claims more than [`MAX_IMAGE_PIXELS`]; a file that ends early is [`ScanError::Truncated`].
pub fn load_gray(path: &Path) -> Result<GrayImage, ScanError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| ScanError::Io {
        path: name.clone(),
        source,
    })?;
    load_gray_bytes(&name, &bytes)
}

/// [`load_gray`] for an image already in memory (a pasted picture); `name` names it in errors.
pub fn load_gray_bytes(name: &str, bytes: &[u8]) -> Result<GrayImage, ScanError> {
    let name = name.to_string();
    let image_error = |e: image::ImageError| image_error(&name, e);
    let reader = || {
        image::ImageReader::new(std::io::Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| image_error(image::ImageError::IoError(e)))
    };
    let header = reader()?;
    let format = header.format();
    let (width, height) = header.into_dimensions().map_err(image_error)?;
    if u64::from(width) * u64::from(height) > MAX_IMAGE_PIXELS {
        return Err(ScanError::TooLarge {
            path: name,
            width,
            height,
        });
    }
    if format == Some(image::ImageFormat::Jpeg) && jpeg_is_truncated(bytes) {
        return Err(ScanError::Truncated { path: name });
    }
    Ok(reader()?.decode().map_err(image_error)?.to_luma8())
}

/// A decoder's error as a [`ScanError`]: an early end of the data is a truncated file.
fn image_error(path: &str, e: image::ImageError) -> ScanError {
    let ended_early = match &e {
        image::ImageError::IoError(io) => io.kind() == std::io::ErrorKind::UnexpectedEof,
        other => {
            let text = other.to_string().to_ascii_lowercase();
            [
                "end of file",
                "unexpected eof",
                "end of stream",
                "truncated",
            ]
            .iter()
            .any(|needle| text.contains(needle))
        }
    };
    if ended_early {
        return ScanError::Truncated {
            path: path.to_string(),
        };
    }
    ScanError::Image {
        path: path.to_string(),
        message: e.to_string(),
    }
}

/// Whether a JPEG lacks its end: no end-of-image marker (FF D9) after the last start-of-scan
/// (FF DA). The JPEG decoder fills a missing end with grey and reports success, so a cut-off
/// photo would read as "no code" without this check. Entropy-coded data escapes every FF byte,
/// so FF DA and FF D9 there are real markers; an embedded thumbnail's markers come before the
/// main image's scans.
fn jpeg_is_truncated(bytes: &[u8]) -> bool {
    let last_scan = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    match last_scan {
        None => true,
        Some(at) => !bytes[at..].windows(2).any(|w| w == [0xFF, 0xD9]),
    }
}

/// Reads an image file and decodes the codes in it.
pub fn decode_file(path: impl AsRef<Path>) -> Result<Vec<Decoded>, ScanError> {
    Ok(decode_image(&load_gray(path.as_ref())?))
}

/// Decodes the codes in an image held in memory (JPEG, PNG, WebP; same limits as
/// [`decode_file`]); `name` names it in errors.
pub fn decode_bytes(name: &str, bytes: &[u8]) -> Result<Vec<Decoded>, ScanError> {
    Ok(decode_image(&load_gray_bytes(name, bytes)?))
}

/// The JSON fields of a parsed label (`null` when the text is no label).
pub fn label_json(label: Option<&Label>) -> Value {
    match label {
        None => Value::Null,
        Some(l) => json!({
            "format": match l.format() {
                vouch_protocol::LabelFormat::Compact => "compact",
                vouch_protocol::LabelFormat::Manual => "manual",
                vouch_protocol::LabelFormat::Dpp => "dpp",
            },
            "model": l.model().map(|m| m.as_str().to_string()),
            "serial": l.serial().as_str(),
            "key": vouch_protocol::key::hex(&l.key().to_sec1_compressed()),
            "fingerprint": l.key().fingerprint().to_string(),
        }),
    }
}

/// What `vouch-field decode FILE` prints for one file: exactly
/// `{"file", "text", "label", "error"}`. `text` is the first code read (null if none), `label`
/// its parsed fields (null if it is no label), `error` a message when the file could not be read
/// (the CLI exits non-zero only then; a file without a code is not an error).
pub fn decode_file_json(path: impl AsRef<Path>) -> Value {
    let path = path.as_ref();
    let file = path.display().to_string();
    match decode_file(path) {
        Ok(codes) => {
            let first = codes.first();
            json!({
                "file": file,
                "text": first.map(|d| d.text.clone()),
                "label": label_json(first.and_then(|d| d.label.as_ref())),
                "error": Value::Null,
            })
        }
        Err(e) => json!({
            "file": file,
            "text": Value::Null,
            "label": Value::Null,
            "error": e.to_string(),
        }),
    }
}

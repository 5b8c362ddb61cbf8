//! The decoding cascade: several hypotheses (binarizations, polarities, scales, our own finder
//! location and grid sampling, rqrr's own detector on bounded images and crops), tried cheapest
//! first until one reads a code or the time budget runs out.

use std::time::Duration;

use cpu_time::ThreadTime;

use super::binarize::{self, BitImage, Gray, GrayBuf};
use super::detector;
use super::finder::{self, Finder, Triple};
use super::rq::{self, RawCode};

/// Which hypothesis read a code (for statistics and the benchmark).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[non_exhaustive]
pub enum Method {
    /// Our finder location + grid sampling on the block-binarized image.
    FinderGrid,
    /// rqrr's detector on the block-binarized image.
    RqrrBlock,
    /// Our finders + grid sampling after a block binarization that accepts faint blocks.
    LowContrast,
    /// Our finders + grid sampling on a crop around located finders, rescaled to ~5 px per
    /// module and re-binarized.
    Crop,
    /// rqrr's detector on such a crop.
    RqrrCrop,
    /// Either of the above after a 2x upscale (small images).
    Upscaled,
    /// After contrast stretch and a global (Otsu) threshold.
    Global,
    /// After smoothing (noise, halftone).
    Smoothed,
    /// rqrr's own binarizer and detector.
    RqrrOwn,
    /// Read by the optional rxing fallback (cargo feature `rxing`), not by rqrr.
    Rxing,
}

/// Options for one decode.
#[derive(Clone, Copy, Debug)]
pub struct DecodeOptions {
    /// Stop starting new hypotheses after this much CPU time of the decoding thread (one
    /// started hypothesis still finishes; each is bounded in size). CPU time, not wall time, so
    /// that a loaded machine does not cut the cascade short.
    pub budget: Duration,
    /// Skip the expensive full-image fallbacks when the fast pass found no finder-pattern
    /// candidate at all (camera frames: most frames have no code, and the next frame comes soon).
    pub frame_mode: bool,
    /// The budget once the first pass has located a finder triple whose grid matches its
    /// timing patterns well (a likely code): at least `budget`. Random texture rarely does, so
    /// frames without a code keep the shorter budget.
    pub likely_code_budget: Duration,
}

impl Default for DecodeOptions {
    /// Still images: a generous budget, every hypothesis.
    fn default() -> Self {
        DecodeOptions {
            budget: Duration::from_millis(400),
            frame_mode: false,
            likely_code_budget: Duration::from_millis(400),
        }
    }
}

impl DecodeOptions {
    /// One camera frame decoded on its own: a budget that keeps up with the camera.
    pub fn frame() -> Self {
        DecodeOptions {
            budget: Duration::from_millis(12),
            frame_mode: true,
            likely_code_budget: Duration::from_millis(16),
        }
    }

    /// A camera stream ([`crate::FrameDecoder`], the scanning loop): the cheap first pass every
    /// frame, then the costlier hypotheses in rotation, one per frame and more only while each
    /// is expected to end within this (`likely_code_budget` is not used).
    pub fn stream() -> Self {
        DecodeOptions {
            budget: Duration::from_millis(STREAM_BUDGET_MS),
            frame_mode: true,
            likely_code_budget: Duration::from_millis(STREAM_BUDGET_MS),
        }
    }
}

/// [`DecodeOptions::stream`]'s budget, milliseconds of CPU time.
const STREAM_BUDGET_MS: u64 = 3;

/// A code as read, before its text is interpreted.
#[derive(Clone, Debug)]
pub struct Hit {
    /// Payload bytes.
    pub bytes: Vec<u8>,
    /// Corners in the input image: top-left, top-right, bottom-right, bottom-left.
    pub corners: [(f32, f32); 4],
    /// QR version.
    pub version: u8,
    /// Error-correction level (rqrr's numbering).
    pub ecc_level: u8,
    /// Which hypothesis read it.
    pub method: Method,
}

/// The longest side the finder pass works on; larger images are shrunk by an integer factor.
const MAX_WORK_SIDE: usize = 1920;
/// Images whose longer side is at most this are also tried at twice the size.
const UPSCALE_BELOW: usize = 720;
/// Largest crop (pixels, after rescaling) handed on from a located triple: still images.
const STILL_CROP_PIXELS: usize = 800 * 800;
/// The same for camera frames (a label of version 5 at 5 px per module is ~250 px square).
const FRAME_CROP_PIXELS: usize = 400 * 400;
/// The same for a stream's sharpened crops, the costliest steps (a version 4 code with its
/// margin still fits at 5 px per module; larger ones are sampled finer).
const STREAM_SHARPENED_CROP_PIXELS: usize = 300 * 300;
/// The same for a stream's crops around a triple or a pair of finders each confirmed by several
/// scanned rows ([`confirmed`]), in the round of [`LARGE_CROP_ROUND`]: with its margin, a
/// symbol of version 14 and up no longer fits the usual bound at 5 px per module, and a blurred
/// dense symbol needs those pixels; with this bound, a crop of a symbol up to version 25 keeps
/// 5 px per module (a pair's crop, which spans both sides of the pair, keeps fewer).
const STREAM_LARGE_CROP_PIXELS: usize = 640 * 640;
/// The same for the sharpened crops around such a triple or pair (usually 300 x 300).
const STREAM_LARGE_SHARPENED_CROP_PIXELS: usize = 500 * 500;
/// A finder is taken as confirmed when the scanned rows that crossed it span at least this many
/// pixels (rows times the scan's row step): a finder pattern is 7 modules tall, so a scan of
/// every third row of a 1080p frame crosses a real one two to six times from about 2 px per
/// module. In the synthetic frames without a code, the best triple's finders were crossed by
/// one such row each.
const CONFIRMED_FINDER_PX: u32 = 6;
/// On camera frames, a located triple gets a crop only if a grid fit matched its timing
/// patterns at least this well (random texture scores about 0.5).
const FRAME_CROP_MIN_TIMING: f32 = 0.6;
/// A located triple whose grid matches its timing patterns at least this well is a likely code
/// (`DecodeOptions::likely_code_budget`).
const LIKELY_CODE_TIMING: f32 = 0.7;
/// A triple's best grid fit that did not decode is sampled again off the module centres
/// ([`detector::sample_shifted`]) when its timing patterns match at least this well: random
/// texture scores about 0.5, and four more decodes are worth it only for a likely symbol.
const SHIFTED_SAMPLING_TIMING: f32 = 0.8;
/// Grid fits whose timing patterns match less than this are not sampled.
const MIN_FIT_TIMING: f32 = 0.6;
/// The module size (pixels) a crop is rescaled to.
const CROP_MODULE_PX: f32 = 5.0;
/// The module sizes a camera stream's crops are rescaled to, one per round of its rotation
/// (see [`StreamState::round`]): a still scene gives the same crop every frame, and a crop
/// that misses at one scale often reads at another (resampling moves where module edges fall
/// between pixels). The first is the single-frame cascade's.
const STREAM_MODULE_PX: [f32; 3] = [CROP_MODULE_PX, 5.5, 4.5];
/// Unsharp masking of crops (about 5 px per module): box radius.
const SHARPEN_RADIUS: usize = 3;
/// Unsharp masking amount for crops.
const SHARPEN_AMOUNT: f32 = 2.0;
/// Minimum block contrast of the low-contrast pass (ZXing's default is 24).
const LOW_CONTRAST_RANGE: i32 = 6;
/// The same for the half-resolution pass on camera frames (the 2x2 mean halves the noise).
const HALF_RES_RANGE: i32 = 8;

/// How a crop is binarized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CropBin {
    /// The block binarizer.
    Block,
    /// A global (Otsu) threshold.
    Global,
    /// The block binarizer after unsharp masking at the module scale (defocus: restores the
    /// edges between modules that blur has merged).
    Sharpened,
}

/// Crops of camera frames: every binarization at once (the next frame comes soon).
const FRAME_CROP_BINS: &[CropBin] = &[CropBin::Block, CropBin::Global, CropBin::Sharpened];
/// Crops of still images: block and global first; sharpened crops are a later stage (they
/// would spend the budget that smoothing needs on noisy images).
const STILL_CROP_BINS: &[CropBin] = &[CropBin::Block, CropBin::Global];

struct Ctx {
    frame_mode: bool,
    /// The largest crop handed on (pixels after rescaling).
    crop_pixels: usize,
    /// The binarizations `region_pass` tries on each crop.
    crop_bins: &'static [CropBin],
    /// The module size (pixels) `region_pass` rescales a crop to.
    module_px: f32,
    /// The first row a finder scan that skips rows looks at (`None`: the middle of its step).
    row_phase: Option<usize>,
    /// Finder candidates of the first pass (both polarities), for [`pair_pass`].
    cands: Vec<(Finder, bool)>,
    /// The row step of the scan that found `cands` (see [`confirmed`]).
    cands_row_step: usize,
    /// A crop's first binarization goes to rqrr's detector even when the budget ran out during
    /// our finder pass on it. Set by a camera stream's steps around a likely code (a triple
    /// whose grid matched its timing patterns): each step is one crop and the step due runs
    /// whatever the time, so a still scene reaches every hypothesis about it within a few
    /// frames however loaded the machine; cut short, a step that starts late would skip its
    /// rqrr half on every frame.
    whole_crops: bool,
    start: ThreadTime,
    budget: Duration,
    hits: Vec<Hit>,
}

impl Ctx {
    fn new(opts: &DecodeOptions) -> Self {
        Ctx {
            crop_pixels: if opts.frame_mode {
                FRAME_CROP_PIXELS
            } else {
                STILL_CROP_PIXELS
            },
            frame_mode: opts.frame_mode,
            crop_bins: if opts.frame_mode {
                FRAME_CROP_BINS
            } else {
                STILL_CROP_BINS
            },
            module_px: CROP_MODULE_PX,
            row_phase: None,
            cands: Vec::new(),
            cands_row_step: 1,
            whole_crops: false,
            start: ThreadTime::now(),
            budget: opts.budget,
            hits: Vec::new(),
        }
    }

    fn expired(&self) -> bool {
        self.start.elapsed() >= self.budget
    }

    fn finish(self) -> (Vec<Hit>, Duration) {
        (self.hits, self.start.elapsed())
    }

    /// Whether a code already read covers this point (output pixels).
    fn covers(&self, p: (f32, f32)) -> bool {
        self.hits.iter().any(|h| inside(&h.corners, p))
    }

    fn add(&mut self, hit: Hit, scale: f32) {
        self.add_mapped(hit, &|p| (p.0 * scale, p.1 * scale));
    }

    fn add_mapped(&mut self, mut hit: Hit, map: &dyn Fn((f32, f32)) -> (f32, f32)) {
        hit.corners = hit.corners.map(map);
        if !self.hits.iter().any(|h| h.bytes == hit.bytes) {
            self.hits.push(hit);
        }
    }
}

fn raw_to_hit(raw: RawCode, method: Method, map: impl Fn((f32, f32)) -> (f32, f32)) -> Hit {
    Hit {
        bytes: raw.bytes,
        corners: raw.corners.map(map),
        version: raw.version,
        ecc_level: raw.ecc_level,
        method,
    }
}

/// A triple of finders located by a pass (decoded or not), for the crop stage.
#[derive(Clone, Copy, Debug)]
struct Located {
    triple: Triple,
    inverted: bool,
    /// Best timing-pattern match of its grid fits (0 when it had none).
    timing: f32,
    /// The row step of the finder scan that located it (see [`confirmed`]).
    row_step: usize,
}

impl Located {
    /// Whether its grid matched its timing patterns well enough (`FRAME_CROP_MIN_TIMING`,
    /// above random texture) to earn a crop on camera frames, and a stream's crops their rqrr
    /// half whatever the time.
    fn earns_frame_crop(&self) -> bool {
        self.timing >= FRAME_CROP_MIN_TIMING
    }

    /// Whether each of its finders was crossed by enough scanned rows ([`confirmed`]). Unlike
    /// the timing match, this holds for a dense symbol that blur or perspective has moved off
    /// its parallelogram, so it earns such a symbol's crops their larger bound.
    fn finders_confirmed(&self) -> bool {
        let t = &self.triple;
        [t.tl, t.tr, t.bl]
            .iter()
            .all(|f| confirmed(f, self.row_step))
    }
}

/// Whether the rows of a scan with `row_step` that crossed finder `f` span at least
/// [`CONFIRMED_FINDER_PX`] pixels: a real finder pattern, not texture that showed the
/// 1:1:3:1:1 run on one row.
fn confirmed(f: &Finder, row_step: usize) -> bool {
    let step = u32::try_from(row_step).unwrap_or(u32::MAX);
    f.count.saturating_mul(step) >= CONFIRMED_FINDER_PX
}

/// Finder location + grid sampling on one binarized image, both polarities. Returns the triples
/// it located (for the crop stage) and records what it read.
fn finder_pass(
    ctx: &mut Ctx,
    bits: &BitImage,
    row_step: usize,
    scale: f32,
    method: Method,
) -> Vec<Located> {
    finder_pass_mapped(ctx, bits, row_step, &|p| (p.0 * scale, p.1 * scale), method)
}

fn finder_pass_mapped(
    ctx: &mut Ctx,
    bits: &BitImage,
    row_step: usize,
    map: &dyn Fn((f32, f32)) -> (f32, f32),
    method: Method,
) -> Vec<Located> {
    let mut located = Vec::new();
    let rows = match ctx.row_phase {
        Some(phase) => finder::RowScan {
            step: row_step,
            first: phase,
        },
        None => finder::RowScan::every(row_step),
    };
    let both = finder::find_finders_both(bits, rows, true);
    if method == Method::FinderGrid {
        ctx.cands_row_step = rows.step;
    }
    for (inverted, found) in [false, true].into_iter().zip(both) {
        // the inverted image only when there is an inverted triple to fit
        let inv;
        let img = if inverted {
            if found.len() < 3 {
                if method == Method::FinderGrid {
                    ctx.cands.extend(found.iter().map(|f| (*f, inverted)));
                }
                continue;
            }
            inv = bits.inverted();
            &inv
        } else {
            bits
        };
        if method == Method::FinderGrid {
            ctx.cands.extend(found.iter().map(|f| (*f, inverted)));
        }
        let first_new = located.len();
        read_triples(ctx, img, &found, inverted, map, method, &mut located);
        for l in &mut located[first_new..] {
            l.row_step = rows.step;
        }
        if !ctx.hits.is_empty() {
            break;
        }
    }
    located
}

/// At most this many codes are read from one image (a rack of labels in view).
const MAX_CODES: usize = 64;

/// Fits, samples and decodes the best triples of `found` (one polarity). Each time a triple
/// reads, the finders inside the symbol it read are set aside and the triples are ranked again
/// among the rest: with several codes in view, triples across two codes can rank above a
/// code's own, and setting the read ones aside lets every code's triple come up.
fn read_triples(
    ctx: &mut Ctx,
    img: &BitImage,
    found: &[Finder],
    inverted: bool,
    map: &dyn Fn((f32, f32)) -> (f32, f32),
    method: Method,
    located: &mut Vec<Located>,
) {
    let mut pool: Vec<Finder> = found.to_vec();
    let mut tried: Vec<Triple> = Vec::new();
    for _ in 0..MAX_CODES {
        let mut read = None;
        for (k, t) in finder::triples(&pool, 6).into_iter().enumerate() {
            // the best triple is always tried, the others while the budget lasts
            if k > 0 && ctx.expired() {
                return;
            }
            if tried.contains(&t) {
                continue;
            }
            tried.push(t);
            let fits = detector::fits(img, &t);
            let timing = fits.iter().map(|f| f.timing).fold(0.0, f32::max);
            located.push(Located {
                triple: t,
                inverted,
                timing,
                // set by the finder pass, which knows its scan
                row_step: 0,
            });
            if let Some(corners) = read_fits(ctx, img, &fits, map, method) {
                read = Some(corners);
                break;
            }
        }
        let Some(corners) = read else {
            return;
        };
        pool.retain(|f| !inside(&corners, (f.x, f.y)));
        if ctx.hits.len() >= MAX_CODES || ctx.expired() {
            return;
        }
    }
}

/// Samples and decodes the grid fits of one triple, best first; the corners (in `img`'s
/// pixels) of the symbol read, if one was.
fn read_fits(
    ctx: &mut Ctx,
    img: &BitImage,
    fits: &[detector::GridFit],
    map: &dyn Fn((f32, f32)) -> (f32, f32),
    method: Method,
) -> Option<[(f32, f32); 4]> {
    for fit in fits {
        // a grid whose timing patterns hardly match is texture or noise: sampling and
        // decoding it costs the budget that later hypotheses need
        if fit.timing < MIN_FIT_TIMING || !detector::format_plausible(img, fit, ctx.frame_mode) {
            continue;
        }
        if let Some(read) = detector::sample_and_decode(img, fit) {
            return Some(add_read(ctx, fit, read, map, method));
        }
    }
    // the best fit again, sampled off the module centres, when its timing patterns leave no
    // doubt that it is a symbol: only a likely code pays for the extra decodes
    let best = fits.first()?;
    if best.timing < SHIFTED_SAMPLING_TIMING
        || !detector::format_plausible(img, best, ctx.frame_mode)
    {
        return None;
    }
    let read = detector::sample_shifted(img, best)?;
    Some(add_read(ctx, best, read, map, method))
}

/// Records what a fit read ([`read_fits`]); the symbol's corners in `img`'s pixels.
fn add_read(
    ctx: &mut Ctx,
    fit: &detector::GridFit,
    (bytes, version, ecc_level): (Vec<u8>, u8, u8),
    map: &dyn Fn((f32, f32)) -> (f32, f32),
    method: Method,
) -> [(f32, f32); 4] {
    let corners = fit.corners();
    ctx.add_mapped(
        Hit {
            bytes,
            corners,
            version,
            ecc_level,
            method,
        },
        map,
    );
    corners
}

/// Whether `p` lies inside the convex quadrilateral `q` (corners in order, either direction).
pub(crate) fn inside(q: &[(f32, f32); 4], p: (f32, f32)) -> bool {
    let side = |a: (f32, f32), b: (f32, f32)| (b.0 - a.0) * (p.1 - a.1) - (b.1 - a.1) * (p.0 - a.0);
    let s: [f32; 4] = std::array::from_fn(|i| side(q[i], q[(i + 1) % 4]));
    s.iter().all(|&v| v >= 0.0) || s.iter().all(|&v| v <= 0.0)
}

/// rqrr's detector on a binarized image (both polarities), shrunk to the size bound if needed.
fn rqrr_pass(ctx: &mut Ctx, bits: &BitImage, scale: f32, method: Method) {
    if bits.width * bits.height > rq::MAX_RQRR_PIXELS {
        return;
    }
    for inverted in [false, true] {
        if ctx.expired() {
            return;
        }
        let codes = if inverted {
            rq::detect_bitmap(&bits.inverted())
        } else {
            rq::detect_bitmap(bits)
        };
        for c in codes {
            ctx.add(raw_to_hit(c, method, |p| p), scale);
        }
        if !ctx.hits.is_empty() {
            return;
        }
    }
}

/// Crops around each located triple, rescales so a module is about 5 px, re-binarizes locally
/// and hands the crop to our finders and sampler, then to rqrr's detector.
fn crop_pass(ctx: &mut Ctx, gray: Gray<'_>, located: &[Located], scale: f32) {
    let max_crops = if ctx.frame_mode { 2 } else { 4 };
    // once a code is read, only likely codes that no symbol read covers (more labels in view)
    let centre = |t: &Triple| {
        (
            (t.tr.x + t.bl.x) / 2.0 * scale,
            (t.tr.y + t.bl.y) / 2.0 * scale,
        )
    };
    let wanted = |ctx: &Ctx, l: &Located| {
        !ctx.covers(centre(&l.triple)) && (ctx.hits.is_empty() || l.timing >= LIKELY_CODE_TIMING)
    };
    let pending: Vec<Located> = located
        .iter()
        .filter(|l| wanted(ctx, l))
        .take(max_crops)
        .copied()
        .collect();
    for (rank, loc) in pending.iter().enumerate() {
        if ctx.expired() {
            return;
        }
        // on camera frames, the best-placed triple always gets a crop; the others only if
        // their grid showed some timing pattern
        if (ctx.frame_mode && rank > 0 && !loc.earns_frame_crop()) || !wanted(ctx, loc) {
            continue;
        }
        let t = &loc.triple;
        let module = (t.tl.module + t.tr.module + t.bl.module) / 3.0;
        let br = (t.tr.x - t.tl.x + t.bl.x, t.tr.y - t.tl.y + t.bl.y);
        let pts = [(t.tl.x, t.tl.y), (t.tr.x, t.tr.y), (t.bl.x, t.bl.y), br];
        if region_pass(ctx, gray, &pts, module, loc.inverted, scale) && ctx.expired() {
            return;
        }
    }
}

/// When no triple read, pairs of finder candidates: the third finder may be the one the
/// binarization broke (a thin ring at 2-3 px per module, a flat surface beside the code). The
/// region that could hold the symbol (both sides of the pair) is cropped, rescaled and
/// re-binarized like a triple's.
fn pair_pass(ctx: &mut Ctx, gray: Gray<'_>, located: &[Located], scale: f32) {
    let max_pairs = if ctx.frame_mode { 2 } else { 4 };
    for pair in pair_regions(&ctx.cands, ctx.cands_row_step, located, max_pairs) {
        if ctx.expired() || !ctx.hits.is_empty() {
            return;
        }
        if region_pass(ctx, gray, &pair.pts, pair.module, pair.inverted, scale) {
            return;
        }
    }
}

/// The region that could hold a symbol beside a pair of finder candidates.
#[derive(Clone, Copy, Debug)]
struct PairRegion {
    /// Both finders and the points one leg away on either side.
    pts: [(f32, f32); 6],
    module: f32,
    inverted: bool,
    /// Both finders were crossed by enough scanned rows ([`confirmed`]).
    confirmed: bool,
}

/// Up to `max` pairs of finder candidates (of the first pass) that could be two corners of a
/// symbol whose third finder was lost, not both part of a located triple that is nearly an
/// isosceles right one ([`Triple::near_square`]).
fn pair_regions(
    cands: &[(Finder, bool)],
    row_step: usize,
    located: &[Located],
    max: usize,
) -> Vec<PairRegion> {
    let in_triple = |f: &Finder, inv: bool| {
        // a triple accepted only for perspective leaves its finders to the pairs too: its
        // crop is cut around where the parallelogram puts the symbol, which perspective moves,
        // and a pair's region spans both sides of it (without this, a corpus photo that a
        // pair's crop read was no longer read)
        located.iter().any(|l| {
            l.inverted == inv
                && l.triple.near_square()
                && [l.triple.tl, l.triple.tr, l.triple.bl]
                    .iter()
                    .any(|g| (g.x - f.x).abs() < g.module && (g.y - f.y).abs() < g.module)
        })
    };
    let mut out = Vec::new();
    for inverted in [false, true] {
        let pool: Vec<Finder> = cands
            .iter()
            .filter(|(_, inv)| *inv == inverted)
            .map(|(f, _)| *f)
            .take(6)
            .collect();
        for i in 0..pool.len() {
            for j in i + 1..pool.len() {
                if out.len() >= max {
                    return out;
                }
                let (a, b) = (pool[i], pool[j]);
                let (lo, hi) = (a.module.min(b.module), a.module.max(b.module));
                let module = (a.module + b.module) / 2.0;
                let (dx, dy) = (b.x - a.x, b.y - a.y);
                let d = (dx * dx + dy * dy).sqrt() / module;
                if lo <= 0.0 || hi / lo > 1.5 || !(12.0..=180.0).contains(&d) {
                    continue;
                }
                if in_triple(&a, inverted) && in_triple(&b, inverted) {
                    continue;
                }
                let pts = [
                    (a.x, a.y),
                    (b.x, b.y),
                    (a.x - dy, a.y + dx),
                    (b.x - dy, b.y + dx),
                    (a.x + dy, a.y - dx),
                    (b.x + dy, b.y - dx),
                ];
                out.push(PairRegion {
                    pts,
                    module,
                    inverted,
                    confirmed: confirmed(&a, row_step) && confirmed(&b, row_step),
                });
            }
        }
    }
    out
}

/// Crops the bounding box of `pts` (plus a quiet-zone margin), rescales it to about 5 px per
/// module (bounded in size), binarizes it (block and global) and runs our finders + sampler,
/// then rqrr's detector, on it. True when it read a new code or the budget ran out.
fn region_pass(
    ctx: &mut Ctx,
    gray: Gray<'_>,
    pts: &[(f32, f32)],
    module: f32,
    inverted: bool,
    scale: f32,
) -> bool {
    if module <= 0.0 || !module.is_finite() {
        return false;
    }
    let max_px = ctx.crop_pixels;
    let margin = 9.0 * module;
    let x0 = (pts.iter().map(|p| p.0).fold(f32::MAX, f32::min) - margin).max(0.0);
    let y0 = (pts.iter().map(|p| p.1).fold(f32::MAX, f32::min) - margin).max(0.0);
    let x1 = (pts.iter().map(|p| p.0).fold(0.0, f32::max) + margin).min(gray.width as f32);
    let y1 = (pts.iter().map(|p| p.1).fold(0.0, f32::max) + margin).min(gray.height as f32);
    if !(x1 > x0 && y1 > y0) {
        return false;
    }
    let factor = (ctx.module_px / module).clamp(0.25, 4.0);
    let (cw, ch) = ((x1 - x0) as usize, (y1 - y0) as usize);
    let out_px = (cw as f32 * factor) * (ch as f32 * factor);
    let factor = if out_px > max_px as f32 {
        factor * (max_px as f32 / out_px).sqrt()
    } else {
        factor
    };
    let crop = binarize::crop_scaled(gray, x0 as usize, y0 as usize, cw, ch, factor);
    if crop.width == 0 || crop.height == 0 {
        return false;
    }
    let sx = cw as f32 / crop.width as f32;
    let sy = ch as f32 / crop.height as f32;
    let map = |p: (f32, f32)| ((x0 + p.0 * sx) * scale, (y0 + p.1 * sy) * scale);
    let before = ctx.hits.len();
    for bin in ctx.crop_bins {
        let bits = match bin {
            CropBin::Block => binarize::hybrid(crop.view()),
            CropBin::Global => binarize::otsu(crop.view()),
            CropBin::Sharpened => binarize::hybrid(
                binarize::sharpen(crop.view(), SHARPEN_RADIUS, SHARPEN_AMOUNT).view(),
            ),
        };
        // our finders and sampler on the rescaled crop first, then rqrr's detector (in a
        // stream, whatever the time: see `Ctx::whole_crops`)
        finder_pass_mapped(ctx, &bits, 1, &map, Method::Crop);
        if ctx.hits.len() > before || (ctx.expired() && !ctx.whole_crops) {
            return true;
        }
        let bits = if inverted { bits.inverted() } else { bits };
        for c in rq::detect_bitmap(&bits) {
            ctx.add(raw_to_hit(c, Method::RqrrCrop, map), 1.0);
        }
        if ctx.hits.len() > before || ctx.expired() {
            return true;
        }
    }
    false
}

/// Camera frames, when the block passes read nothing: one global (Otsu) threshold of the whole
/// frame (a code on a clean label under even light binarizes well globally even where the block
/// binarizer breaks its small modules), our finders and crops around what they locate. Otsu's
/// level of a contrast-stretched image is the stretched level, so the stretch is skipped.
fn global_frame_pass(ctx: &mut Ctx, work: Gray<'_>, row_step: usize, scale: f32) {
    let gbits = binarize::otsu(work);
    let located = finder_pass(ctx, &gbits, row_step, scale, Method::Global);
    if ctx.hits.is_empty() && !ctx.expired() {
        crop_pass(ctx, work, &located, scale);
    }
}

/// The image the passes work on: shrunk by an integer factor when its long side exceeds
/// [`MAX_WORK_SIDE`] (`None`: the input itself).
fn working_image(img: Gray<'_>) -> Option<GrayBuf> {
    let shrink = img.width.max(img.height).div_ceil(MAX_WORK_SIDE).max(1);
    (shrink > 1).then(|| binarize::downscale(img, shrink))
}

/// The working image, the factor from its pixels to the input's, and the row step of the
/// finder scan on it.
fn work_params<'a>(img: Gray<'a>, shrunk: Option<&'a GrayBuf>) -> (Gray<'a>, f32, usize) {
    let (work, scale) = match shrunk {
        Some(s) => (s.view(), img.width as f32 / s.width.max(1) as f32),
        None => (img, 1.0),
    };
    let scale = scale.round().max(1.0);
    let row_step = if work.width.max(work.height) > 800 {
        2
    } else {
        1
    };
    (work, scale, row_step)
}

fn upscale2(img: Gray<'_>) -> GrayBuf {
    binarize::crop_scaled(img, 0, 0, img.width, img.height, 2.0)
}

/// Runs the cascade on a grey image; returns every distinct code read.
pub fn decode(img: Gray<'_>, opts: &DecodeOptions) -> Vec<Hit> {
    let (hits, _spent) = decode_rqrr(img, opts);
    #[cfg(feature = "rxing")]
    if hits.is_empty() && (!opts.frame_mode || _spent * 2 < opts.budget) {
        if let Some((bytes, corners)) = super::fallback::read(img) {
            return vec![Hit {
                bytes,
                corners,
                version: 0,
                ecc_level: 0,
                method: Method::Rxing,
            }];
        }
    }
    hits
}

/// The rqrr cascade alone; also returns the CPU time it used.
fn decode_rqrr(img: Gray<'_>, opts: &DecodeOptions) -> (Vec<Hit>, Duration) {
    let mut ctx = Ctx::new(opts);
    if img.width < 21 || img.height < 21 {
        return ctx.finish();
    }
    let shrunk = working_image(img);
    let (work, scale, row_step) = work_params(img, shrunk.as_ref());

    // 1. block binarizer + our finders + grid sampling (cheap, reads most codes)
    let bits = binarize::hybrid(work);
    let located = finder_pass(&mut ctx, &bits, row_step, scale, Method::FinderGrid);
    if located.iter().any(|l| l.timing >= LIKELY_CODE_TIMING) {
        ctx.budget = ctx.budget.max(opts.likely_code_budget);
    }
    if !ctx.hits.is_empty() {
        // more codes in view: crops around the likely ones that the first pass did not read
        if !ctx.expired() {
            crop_pass(&mut ctx, work, &located, scale);
        }
        return ctx.finish();
    }
    if ctx.expired() {
        return ctx.finish();
    }
    // 2. crops around what we located: triples, then pairs of finders
    crop_pass(&mut ctx, work, &located, scale);
    if !ctx.hits.is_empty() || ctx.expired() {
        return ctx.finish();
    }
    pair_pass(&mut ctx, work, &located, scale);
    if !ctx.hits.is_empty() || ctx.expired() {
        return ctx.finish();
    }
    if opts.frame_mode {
        // A camera stream: the next frame comes soon, so one more cheap hypothesis: half
        // resolution (a 2x2 mean, which also halves the noise) with a block binarizer that
        // keeps faint blocks, and crops around what it locates. (rqrr's whole-frame detector
        // read nothing on frames that this did not, at 10-20 ms a call: not run here.)
        let half = binarize::downscale(work, 2);
        let hbits = binarize::hybrid_with(half.view(), HALF_RES_RANGE);
        let hl = finder_pass(&mut ctx, &hbits, 1, scale * 2.0, Method::LowContrast);
        if ctx.hits.is_empty() && !ctx.expired() {
            crop_pass(&mut ctx, half.view(), &hl, scale * 2.0);
        }
        if ctx.hits.is_empty() && !ctx.expired() {
            global_frame_pass(&mut ctx, work, row_step, scale);
        }
        return ctx.finish();
    }
    // 3. faint codes: a block binarizer that does not treat low-contrast blocks as background
    let lbits = binarize::hybrid_with(work, LOW_CONTRAST_RANGE);
    finder_pass(&mut ctx, &lbits, row_step, scale, Method::LowContrast);
    if !ctx.hits.is_empty() || ctx.expired() {
        return ctx.finish();
    }
    // 4. noise: a 3x3 mean before binarizing
    let smooth = binarize::box_blur3(work);
    let sbits = binarize::hybrid(smooth.view());
    let slocated = finder_pass(&mut ctx, &sbits, row_step, scale, Method::Smoothed);
    if !ctx.hits.is_empty() || ctx.expired() {
        return ctx.finish();
    }
    // 5. rqrr's detector on the whole (bounded) image, then crops of the smoothed image
    rqrr_pass(&mut ctx, &bits, scale, Method::RqrrBlock);
    if !ctx.hits.is_empty() || ctx.expired() {
        return ctx.finish();
    }
    crop_pass(&mut ctx, smooth.view(), &slocated, scale);
    if !ctx.hits.is_empty() || ctx.expired() {
        return ctx.finish();
    }
    // 5b. defocus and small modules: the crops again, sharpened
    ctx.crop_bins = &[CropBin::Sharpened];
    crop_pass(&mut ctx, work, &located, scale);
    if !ctx.hits.is_empty() || ctx.expired() {
        return ctx.finish();
    }
    pair_pass(&mut ctx, work, &located, scale);
    ctx.crop_bins = STILL_CROP_BINS;
    if !ctx.hits.is_empty() || ctx.expired() {
        return ctx.finish();
    }
    // 6. small images: twice the size
    if work.width.max(work.height) <= UPSCALE_BELOW {
        let up = upscale2(work);
        let ubits = binarize::hybrid(up.view());
        let located = finder_pass(&mut ctx, &ubits, 1, scale / 2.0, Method::Upscaled);
        if !ctx.hits.is_empty() || ctx.expired() {
            return ctx.finish();
        }
        crop_pass(&mut ctx, up.view(), &located, scale / 2.0);
        if !ctx.hits.is_empty() || ctx.expired() {
            return ctx.finish();
        }
        rqrr_pass(&mut ctx, &ubits, scale / 2.0, Method::Upscaled);
        if !ctx.hits.is_empty() || ctx.expired() {
            return ctx.finish();
        }
    }
    // 7. contrast stretch + global threshold
    let stretched = binarize::stretch(work);
    let gbits = binarize::otsu(stretched.view());
    finder_pass(&mut ctx, &gbits, row_step, scale, Method::Global);
    if !ctx.hits.is_empty() || ctx.expired() {
        return ctx.finish();
    }
    rqrr_pass(&mut ctx, &gbits, scale, Method::Global);
    if !ctx.hits.is_empty() || ctx.expired() {
        return ctx.finish();
    }
    // 8. rqrr's own pipeline
    for c in rq::detect_gray(work) {
        ctx.add(raw_to_hit(c, Method::RqrrOwn, |p| p), scale);
    }
    ctx.finish()
}

/// Where a camera stream is in its rotation of the costlier hypotheses (see [`decode_stream`]).
#[derive(Clone, Debug, Default)]
pub struct StreamState {
    /// The step the next frame starts with (taken modulo the frame's number of steps).
    next: usize,
    /// How many times the rotation has gone through its last step without reading a code:
    /// picks the crops' scale ([`STREAM_MODULE_PX`]), so each round of a still scene samples
    /// its crops afresh. A step that reads keeps the round (the code stays in view, and the
    /// same step keeps reading it).
    round: usize,
    /// Frames decoded so far: picks the rows this frame's finder scans look at (the first
    /// pass's and the steps' alike).
    frames: usize,
    /// What each kind of step is expected to cost (CPU time), learnt from the frames that ran
    /// it: a step beyond the one due starts only if it is expected to end within the budget.
    cost: [Duration; StepKind::COUNT],
}

/// Steps whose cost is alike, for [`StreamState::cost`]: crops are bounded in size (the
/// larger bound of [`large_crop`] apart: a large crop's cost would otherwise hold back the
/// usual ones, and a usual crop's let a large one start late), unsharp masking costs more, the
/// whole-frame passes scale with the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StepKind {
    Crop,
    SharpenedCrop,
    HalfRes,
    Global,
    LargeCrop,
    LargeSharpenedCrop,
}

impl StepKind {
    const COUNT: usize = 6;

    /// The kind of `step`, whose crop has the larger bound when `large` ([`large_crop`]).
    fn of(step: Step, large: bool) -> StepKind {
        let sharpened = matches!(
            step,
            Step::Triple(_, CropBin::Sharpened) | Step::Pair(_, CropBin::Sharpened)
        );
        match (step, sharpened, large) {
            (Step::HalfRes, ..) => StepKind::HalfRes,
            (Step::Global, ..) => StepKind::Global,
            (_, true, true) => StepKind::LargeSharpenedCrop,
            (_, true, false) => StepKind::SharpenedCrop,
            (_, false, true) => StepKind::LargeCrop,
            (_, false, false) => StepKind::Crop,
        }
    }

    /// The bound on a crop of this kind, pixels after rescaling (the whole-frame passes crop
    /// around what they locate with the usual bound).
    fn crop_pixels(self) -> usize {
        match self {
            StepKind::LargeSharpenedCrop => STREAM_LARGE_SHARPENED_CROP_PIXELS,
            StepKind::SharpenedCrop => STREAM_SHARPENED_CROP_PIXELS,
            StepKind::LargeCrop => STREAM_LARGE_CROP_PIXELS,
            StepKind::Crop | StepKind::HalfRes | StepKind::Global => FRAME_CROP_PIXELS,
        }
    }
}

/// The round of a stream's rotation whose crops around confirmed finders have the larger bound
/// ([`StreamState::large_crops`]): the one that samples crops finer than the cascade (index
/// into [`STREAM_MODULE_PX`], 5.5 px).
const LARGE_CROP_ROUND: usize = 1;
// the larger bound goes with the finer sampling, whatever the order of the scales
const _: () = assert!(STREAM_MODULE_PX[LARGE_CROP_ROUND] > CROP_MODULE_PX);

/// Whether `step`'s crop gets the larger bound: in the round of [`LARGE_CROP_ROUND`], a crop
/// around a triple or a pair whose finders were each crossed by enough scanned rows
/// ([`confirmed`]), which may be a dense symbol.
fn large_crop(large_round: bool, located: &[Located], step: Step) -> bool {
    large_round
        && match step {
            Step::Triple(rank, _) => located.get(rank).is_some_and(Located::finders_confirmed),
            Step::Pair(pair, _) => pair.confirmed,
            Step::HalfRes | Step::Global => false,
        }
}

impl StreamState {
    /// The first row this frame's finder scans look at when they skip rows: a still scene's
    /// frames are scanned on each row in turn, the first frame on the single-frame cascade's
    /// (the middle of the step). Where a scanned row crosses a finder pattern moves its
    /// located centre and size, and with them every crop cut around it. Every third frame the
    /// phase skips one row: where all steps fit in one frame, the crops' scale (the round)
    /// advances with every frame too, and without the skip a still scene would see only 3 of
    /// the 9 pairs of row and scale; with it, 9 frames see them all.
    fn row_phase(&self) -> usize {
        // the middle row of a step of up to 3 first (`stream_row_step`)
        self.frames.wrapping_add(1).wrapping_add(self.frames / 3)
    }

    /// The module size this round's crops are rescaled to.
    fn crop_module_px(&self) -> f32 {
        STREAM_MODULE_PX[self.round % STREAM_MODULE_PX.len()]
    }

    /// Whether this round's crops around confirmed finders may be larger
    /// ([`STREAM_LARGE_CROP_PIXELS`]): the round that samples crops finer
    /// ([`LARGE_CROP_ROUND`]), where the larger bound lets a dense symbol have those pixels.
    /// The other rounds keep the usual bound, so a symbol the usual crop read is read as
    /// before: with the larger bound in every round, one of jsQR's images pasted into a 720p
    /// frame that had been read was no longer read (see BENCHMARKS, "Dense symbols").
    fn large_crops(&self) -> bool {
        self.round % STREAM_MODULE_PX.len() == LARGE_CROP_ROUND
    }

    fn expected(&self, kind: StepKind) -> Duration {
        self.cost[kind as usize]
    }

    /// Learns from one run of a step of `kind`: the estimate follows a costlier run at once and
    /// a cheaper one slowly (by a quarter per run), so one cheap run around texture does not
    /// let a step that usually costs more start late in a frame.
    fn learn(&mut self, kind: StepKind, spent: Duration) {
        let est = &mut self.cost[kind as usize];
        *est = spent.max(*est * 3 / 4);
    }
}

/// The rows a stream's finder scan looks at: every third on frames of more than 1000 px (as
/// ZXing's finder scan does: a finder pattern of 2 px per module is 14 rows tall), otherwise
/// `otherwise`.
fn stream_row_step(work: Gray<'_>, otherwise: usize) -> usize {
    if work.width.max(work.height) > 1000 {
        3
    } else {
        otherwise
    }
}

/// One of the costlier hypotheses a camera stream spreads over consecutive frames.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// A crop around the `n`th located triple, one binarization.
    Triple(usize, CropBin),
    /// A crop around a pair of finders (the third lost), one binarization.
    Pair(PairRegion, CropBin),
    /// Half resolution (a 2x2 mean halves the noise) with a block binarizer that keeps faint
    /// blocks, its finders, and a crop around the best triple it locates.
    HalfRes,
    /// One global (Otsu) threshold of the whole frame, its finders, and a crop around the best
    /// triple it locates.
    Global,
}

/// The costlier hypotheses for this frame, in the order a still scene tries them: by how often
/// each read a code that the first pass missed. On the corpus's images pasted into 720p and
/// 1080p frames and on the synthetic frames (2026-12-02; jsQR's images not looked at), 64 such
/// frames were read by some step: the best triple's sharpened crop read 37, the global
/// threshold 36, the half-resolution pass 24, the best triple's global and block crops 23 and
/// 21 (the block crop comes first all the same: it costs least around random texture), the
/// pairs' crops 4 to 11 each, the second triple's a few. With one step per frame (a 1080p
/// frame's first pass takes the whole budget) the steps that pay most are so reached first.
fn stream_steps(ctx: &Ctx, located: &[Located]) -> Vec<Step> {
    let mut steps = Vec::new();
    let pairs = pair_regions(&ctx.cands, ctx.cands_row_step, located, 2);
    if !located.is_empty() {
        steps.push(Step::Triple(0, CropBin::Block));
        steps.push(Step::Triple(0, CropBin::Sharpened));
    }
    steps.push(Step::Global);
    steps.push(Step::HalfRes);
    if !located.is_empty() {
        steps.push(Step::Triple(0, CropBin::Global));
    }
    for bin in [CropBin::Block, CropBin::Sharpened] {
        steps.extend(pairs.iter().map(|&pair| Step::Pair(pair, bin)));
    }
    // the next triple if its grid showed a timing pattern
    if located.get(1).is_some_and(Located::earns_frame_crop) {
        steps.extend(FRAME_CROP_BINS.iter().map(|&b| Step::Triple(1, b)));
    }
    steps.extend(pairs.iter().map(|&pair| Step::Pair(pair, CropBin::Global)));
    steps
}

/// The crop binarizations as one-element lists (what `region_pass` iterates over).
fn only(bin: CropBin) -> &'static [CropBin] {
    match bin {
        CropBin::Block => &[CropBin::Block],
        CropBin::Global => &[CropBin::Global],
        CropBin::Sharpened => &[CropBin::Sharpened],
    }
}

/// Runs one step of `kind` ([`StepKind::of`]); the codes it reads go to `ctx`.
fn run_step(
    ctx: &mut Ctx,
    work: Gray<'_>,
    located: &[Located],
    (step, kind): (Step, StepKind),
    scale: f32,
) {
    // unsharp masking costs more than the other binarizations: its crops are smaller; a dense
    // symbol's crops in one round larger
    ctx.crop_pixels = kind.crop_pixels();
    // crops around a likely code always reach rqrr's detector; crops around texture only
    // within the frame's budget (frames without a code keep their short time)
    ctx.whole_crops = false;
    match step {
        Step::Triple(rank, bin) => {
            let Some(loc) = located.get(rank) else {
                return;
            };
            ctx.whole_crops = loc.earns_frame_crop();
            ctx.crop_bins = only(bin);
            let t = &loc.triple;
            let module = (t.tl.module + t.tr.module + t.bl.module) / 3.0;
            let br = (t.tr.x - t.tl.x + t.bl.x, t.tr.y - t.tl.y + t.bl.y);
            let pts = [(t.tl.x, t.tl.y), (t.tr.x, t.tr.y), (t.bl.x, t.bl.y), br];
            region_pass(ctx, work, &pts, module, loc.inverted, scale);
        }
        Step::Pair(pair, bin) => {
            ctx.crop_bins = only(bin);
            region_pass(ctx, work, &pair.pts, pair.module, pair.inverted, scale);
        }
        Step::HalfRes => {
            let half = binarize::downscale(work, 2);
            let hbits = binarize::hybrid_with(half.view(), HALF_RES_RANGE);
            let hl = finder_pass(ctx, &hbits, 1, scale * 2.0, Method::LowContrast);
            ctx.crop_bins = located_bins(&hl);
            if ctx.hits.is_empty() {
                crop_best(ctx, half.view(), &hl, scale * 2.0);
            }
        }
        Step::Global => {
            let gbits = binarize::otsu(work);
            let row_step = stream_row_step(work, 1);
            let gl = finder_pass(ctx, &gbits, row_step, scale, Method::Global);
            ctx.crop_bins = located_bins(&gl);
            if ctx.hits.is_empty() {
                crop_best(ctx, work, &gl, scale);
            }
        }
    }
}

/// How a step's crop around the best triple a pass of its own located is binarized: every way
/// the crops around the first pass's triples are, when its grid matched its timing patterns
/// (as the single-frame cascade's crops); otherwise the block binarizer alone (random texture
/// rarely shows a timing pattern, and frames without a code keep their short time).
fn located_bins(located: &[Located]) -> &'static [CropBin] {
    match located.first() {
        Some(best) if best.earns_frame_crop() => FRAME_CROP_BINS,
        _ => only(CropBin::Block),
    }
}

/// A crop around the best triple of `located` (with `ctx.crop_bins`).
fn crop_best(ctx: &mut Ctx, gray: Gray<'_>, located: &[Located], scale: f32) {
    let Some(loc) = located.first() else {
        return;
    };
    ctx.whole_crops = loc.earns_frame_crop();
    let t = &loc.triple;
    let module = (t.tl.module + t.tr.module + t.bl.module) / 3.0;
    let br = (t.tr.x - t.tl.x + t.bl.x, t.tr.y - t.tl.y + t.bl.y);
    let pts = [(t.tl.x, t.tl.y), (t.tr.x, t.tr.y), (t.bl.x, t.bl.y), br];
    region_pass(ctx, gray, &pts, module, loc.inverted, scale);
}

/// A camera stream's decode of one frame: the cheap first pass every frame (block binarizer,
/// finders, grid sampling, and crops around likely codes it did not read when it read one),
/// then the costlier hypotheses of `stream_steps` in rotation: the step the stream has
/// reached always runs, a further step only if what that kind of step cost on earlier frames
/// still fits in the budget (a step started just before the budget ran out used to overrun it
/// by its whole cost: a frame without a code then paid two whole-frame passes; now the step
/// waits for the next frame, where it is the one due). A still scene so goes through
/// every hypothesis of the single-frame cascade within a few frames, and no frame pays for all
/// of them. When a step reads a code, the next frame starts with that step again (the code stays
/// in view: it keeps being read).
pub fn decode_stream(img: Gray<'_>, opts: &DecodeOptions, state: &mut StreamState) -> Vec<Hit> {
    let mut ctx = Ctx::new(opts);
    ctx.frame_mode = true;
    ctx.crop_bins = FRAME_CROP_BINS;
    ctx.crop_pixels = FRAME_CROP_PIXELS;
    ctx.module_px = state.crop_module_px();
    ctx.row_phase = Some(state.row_phase());
    state.frames = state.frames.wrapping_add(1);
    if img.width < 21 || img.height < 21 {
        return ctx.hits;
    }
    let shrunk = working_image(img);
    let (work, scale, row_step) = work_params(img, shrunk.as_ref());
    let row_step = stream_row_step(work, row_step);
    let bits = binarize::hybrid(work);
    let located = finder_pass(&mut ctx, &bits, row_step, scale, Method::FinderGrid);
    if !ctx.hits.is_empty() {
        if !ctx.expired() {
            crop_pass(&mut ctx, work, &located, scale);
        }
        return ctx.hits;
    }
    let steps = stream_steps(&ctx, &located);
    let large_round = state.large_crops();
    let kinds: Vec<StepKind> = steps
        .iter()
        .map(|&step| StepKind::of(step, large_crop(large_round, &located, step)))
        .collect();
    let first = state.next % steps.len().max(1);
    // the first step passed over for want of time: the next frame starts with it
    let mut waiting = None;
    for i in 0..steps.len() {
        let at = (first + i) % steps.len();
        // the step due always runs (a still scene reaches every step within a few frames);
        // a further one only if it is expected to end within the budget: started late, a
        // whole-frame pass overran it by its whole cost. One that does not fit waits for the
        // next frame, where it is due; cheaper ones after it may still run in this one.
        if i > 0 {
            if ctx.expired() {
                break;
            }
            if ctx.start.elapsed() + state.expected(kinds[at]) > ctx.budget {
                waiting.get_or_insert(at);
                continue;
            }
        }
        let started = ThreadTime::now();
        run_step(&mut ctx, work, &located, (steps[at], kinds[at]), scale);
        state.learn(kinds[at], started.elapsed());
        if !ctx.hits.is_empty() {
            state.next = at;
            return ctx.hits;
        }
        state.next = waiting.unwrap_or(at + 1);
        if state.next == steps.len() {
            state.round += 1;
        }
    }
    ctx.hits
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

    use super::*;

    /// A flat grey frame: no finder candidate, so its steps are the two whole-frame passes.
    fn flat() -> Vec<u8> {
        vec![128; 320 * 240]
    }

    fn generous() -> DecodeOptions {
        DecodeOptions {
            budget: Duration::from_secs(60),
            ..DecodeOptions::stream()
        }
    }

    #[test]
    fn a_frame_with_time_left_runs_every_step_and_learns_their_cost() {
        let data = flat();
        let img = Gray::new(320, 240, &data).unwrap();
        let mut state = StreamState::default();
        assert!(decode_stream(img, &generous(), &mut state).is_empty());
        // both whole-frame steps ran: the rotation moved past them, and each has a cost
        assert_eq!(state.next, 2);
        assert!(state.cost[StepKind::Global as usize] > Duration::ZERO);
        assert!(state.cost[StepKind::HalfRes as usize] > Duration::ZERO);
    }

    #[test]
    fn each_round_of_the_rotation_samples_its_crops_at_the_next_scale() {
        let data = flat();
        let img = Gray::new(320, 240, &data).unwrap();
        let mut state = StreamState::default();
        assert_eq!(
            state.crop_module_px(),
            CROP_MODULE_PX,
            "the first round is the cascade's"
        );
        let mut seen = Vec::new();
        for round in 1..=STREAM_MODULE_PX.len() {
            decode_stream(img, &generous(), &mut state);
            // every step ran and read nothing: the rotation went round once
            assert_eq!(state.round, round);
            seen.push(state.crop_module_px());
        }
        seen.sort_by(f32::total_cmp);
        let mut all = STREAM_MODULE_PX.to_vec();
        all.sort_by(f32::total_cmp);
        assert_eq!(
            seen, all,
            "a still scene gets every scale within as many rounds"
        );
    }

    #[test]
    fn a_still_scene_is_scanned_on_each_row_in_turn() {
        let data = flat();
        let img = Gray::new(320, 240, &data).unwrap();
        let mut state = StreamState::default();
        // the first frame on the single-frame cascade's rows (the middle of the step)
        assert_eq!(state.row_phase() % 3, finder::RowScan::every(3).first);
        assert_eq!(state.row_phase() % 2, finder::RowScan::every(2).first);
        let mut phases = Vec::new();
        for _ in 0..3 {
            phases.push(state.row_phase() % 3);
            decode_stream(img, &generous(), &mut state);
        }
        phases.sort_unstable();
        assert_eq!(phases, [0, 1, 2], "three frames, each row of a step of 3");
    }

    #[test]
    fn a_still_scene_whose_steps_fit_one_frame_sees_every_row_at_every_scale() {
        let data = flat();
        let img = Gray::new(320, 240, &data).unwrap();
        let mut state = StreamState::default();
        let mut pairs = std::collections::BTreeSet::new();
        for frame in 1..=9 {
            let pair = (state.row_phase() % 3, state.round % STREAM_MODULE_PX.len());
            decode_stream(img, &generous(), &mut state);
            assert_eq!(state.round, frame, "every step ran in each frame");
            pairs.insert(pair);
        }
        assert_eq!(pairs.len(), 9, "rows and scales seen together: {pairs:?}");
    }

    #[test]
    fn a_step_beyond_the_due_one_starts_only_if_it_is_expected_to_fit() {
        let data = flat();
        let img = Gray::new(320, 240, &data).unwrap();
        // every step expected to cost more than the (long) budget: the due one runs, no other
        let mut state = StreamState {
            cost: [Duration::from_secs(3600); StepKind::COUNT],
            ..StreamState::default()
        };
        decode_stream(img, &generous(), &mut state);
        assert_eq!(state.next, 1, "only the step due ran");
        assert_eq!(state.round, 0, "the round is not over");
        decode_stream(img, &generous(), &mut state);
        assert_eq!(state.next, 2, "the next frame ran the one left over");
        assert_eq!(state.round, 1, "its last step ran: the next round begins");
    }

    #[test]
    fn the_cost_estimate_follows_a_costlier_run_at_once_and_a_cheaper_one_slowly() {
        let mut state = StreamState::default();
        let ms = Duration::from_millis;
        state.learn(StepKind::Global, ms(4));
        assert_eq!(state.expected(StepKind::Global), ms(4));
        state.learn(StepKind::Global, ms(1));
        assert_eq!(state.expected(StepKind::Global), ms(3));
        state.learn(StepKind::Global, ms(8));
        assert_eq!(state.expected(StepKind::Global), ms(8));
        // kinds are apart: a crop's estimate is not a whole-frame pass's
        assert_eq!(state.expected(StepKind::HalfRes), Duration::ZERO);
    }

    /// A light frame holding two finder patterns side by side (5 px per module, 25 modules
    /// apart): a pair whose third finder is missing, so its steps are the two whole-frame
    /// passes and the pair's three crops.
    fn two_finders() -> Vec<u8> {
        let (w, h) = (320usize, 240usize);
        let mut data = vec![230u8; w * h];
        let mut fill = |x0: usize, y0: usize, n: usize, v: u8| {
            for y in y0..y0 + n {
                data[y * w + x0..y * w + x0 + n].fill(v);
            }
        };
        for x in [40, 40 + 25 * 5] {
            fill(x, 60, 35, 20);
            fill(x + 5, 65, 25, 230);
            fill(x + 10, 70, 15, 20);
        }
        data
    }

    #[test]
    fn a_step_that_does_not_fit_waits_while_cheaper_ones_after_it_run() {
        let data = two_finders();
        let img = Gray::new(320, 240, &data).unwrap();
        // the half-resolution pass is expected to cost more than the budget, crops nothing
        let mut state = StreamState::default();
        state.cost[StepKind::HalfRes as usize] = Duration::from_secs(3600);
        decode_stream(img, &generous(), &mut state);
        // the due step (global threshold) ran, the half-resolution pass was passed over, the
        // pair's crops after it ran (they learnt a cost), and the next frame starts with it
        assert!(state.cost[StepKind::Global as usize] > Duration::ZERO);
        assert!(state.cost[StepKind::Crop as usize] > Duration::ZERO);
        assert!(state.cost[StepKind::SharpenedCrop as usize] > Duration::ZERO);
        assert_eq!(state.next, 1, "the step passed over is due next");
    }

    fn located(count: u32, row_step: usize) -> Located {
        let f = |x: f32, y: f32| Finder {
            x,
            y,
            module: 3.0,
            count,
        };
        Located {
            triple: Triple {
                tl: f(0.0, 0.0),
                tr: f(300.0, 0.0),
                bl: f(0.0, 300.0),
                score: 0.0,
            },
            inverted: false,
            timing: 0.5,
            row_step,
        }
    }

    #[test]
    fn a_finder_is_confirmed_by_the_rows_that_crossed_it_not_by_their_number() {
        let f = |count| Finder {
            x: 0.0,
            y: 0.0,
            module: 3.0,
            count,
        };
        // a 1080p stream scans every third row: two rows span 6 px
        assert!(!confirmed(&f(1), 3));
        assert!(confirmed(&f(2), 3));
        // a scan of every row: two rows are texture's too
        assert!(!confirmed(&f(2), 1));
        assert!(!confirmed(&f(5), 1));
        assert!(confirmed(&f(6), 1));
        assert!(confirmed(&f(3), 2));
        assert!(confirmed(&f(u32::MAX), usize::MAX), "no overflow");
    }

    #[test]
    fn only_the_finer_round_gives_confirmed_finders_the_larger_crops() {
        let real = [located(3, 3)];
        let texture = [located(1, 3)];
        let crop = Step::Triple(0, CropBin::Block);
        let sharpened = Step::Triple(0, CropBin::Sharpened);
        for round in 0..6 {
            let state = StreamState {
                round,
                ..StreamState::default()
            };
            let large_round = state.large_crops();
            assert_eq!(large_round, round % 3 == LARGE_CROP_ROUND, "round {round}");
            assert_eq!(large_crop(large_round, &real, crop), large_round);
            assert!(!large_crop(large_round, &texture, crop), "round {round}");
            assert!(!large_crop(large_round, &real, Step::Global));
        }
        assert_eq!(
            StepKind::of(crop, true).crop_pixels(),
            STREAM_LARGE_CROP_PIXELS
        );
        assert_eq!(
            StepKind::of(sharpened, true).crop_pixels(),
            STREAM_LARGE_SHARPENED_CROP_PIXELS
        );
        assert_eq!(StepKind::of(crop, false).crop_pixels(), FRAME_CROP_PIXELS);
        assert_eq!(
            StepKind::of(sharpened, false).crop_pixels(),
            STREAM_SHARPENED_CROP_PIXELS
        );
        // large and usual crops learn their costs apart
        assert_ne!(StepKind::of(crop, true), StepKind::of(crop, false));
    }

    #[test]
    fn a_triple_accepted_only_for_perspective_leaves_its_finders_to_the_pairs() {
        let loc = located(3, 1);
        let t = loc.triple;
        let cands: Vec<(Finder, bool)> = [t.tl, t.tr, t.bl].iter().map(|&f| (f, false)).collect();
        let with_score = |score: f32| Located {
            triple: Triple { score, ..t },
            ..loc
        };
        // nearly an isosceles right triangle: its finders' pairs are its own crop's business
        assert!(pair_regions(&cands, 1, &[with_score(0.2)], 4).is_empty());
        // far from one (a keystoned symbol, or a wrong third finder): the pairs are cropped too
        let pairs = pair_regions(&cands, 1, &[with_score(0.7)], 4);
        assert!(!pairs.is_empty());
        assert!(!with_score(0.7).triple.near_square() && with_score(0.6).triple.near_square());
    }

    #[test]
    fn only_a_likely_symbol_is_sampled_again_off_the_module_centres() {
        // a fit moved 0.6 of a module: the plain sampling fails, the shifted one reads
        let text = "vouch:v1:site=plant-b;serial=VX-2026-000417";
        let read = |timing: f32| {
            let mut ctx = Ctx::new(&DecodeOptions::default());
            let (img, fit) = detector::test_support::moved_fit(text, 0.6, timing);
            let corners = read_fits(&mut ctx, &img, &[fit], &|p| p, Method::FinderGrid);
            (corners.is_some(), ctx.hits.len())
        };
        assert_eq!(read(0.9), (true, 1));
        // timing patterns matching like this are sampled, but not again
        assert_eq!(read(0.7), (false, 0));
    }
}

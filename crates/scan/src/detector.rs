//! From three finder patterns to a module grid (after ZXing's `Detector`): estimate the module
//! size along the lines between the finders, the symbol dimension, find the bottom-right
//! alignment pattern, fit a perspective transform and sample every module. The sampled grid is
//! then decoded by rqrr's decoder (format information, Reed-Solomon, segments).

use super::binarize::BitImage;
use super::finder::Triple;

/// A projective transform (ZXing `PerspectiveTransform`).
#[derive(Clone, Copy, Debug)]
pub struct Perspective {
    a11: f32,
    a12: f32,
    a13: f32,
    a21: f32,
    a22: f32,
    a23: f32,
    a31: f32,
    a32: f32,
    a33: f32,
}

impl Perspective {
    #[allow(clippy::too_many_arguments)]
    fn square_to_quad(
        x0: f32,
        y0: f32,
        x1: f32,
        y1: f32,
        x2: f32,
        y2: f32,
        x3: f32,
        y3: f32,
    ) -> Self {
        let dx3 = x0 - x1 + x2 - x3;
        let dy3 = y0 - y1 + y2 - y3;
        if dx3 == 0.0 && dy3 == 0.0 {
            Perspective {
                a11: x1 - x0,
                a21: x2 - x1,
                a31: x0,
                a12: y1 - y0,
                a22: y2 - y1,
                a32: y0,
                a13: 0.0,
                a23: 0.0,
                a33: 1.0,
            }
        } else {
            let dx1 = x1 - x2;
            let dx2 = x3 - x2;
            let dy1 = y1 - y2;
            let dy2 = y3 - y2;
            let den = dx1 * dy2 - dx2 * dy1;
            let a13 = (dx3 * dy2 - dx2 * dy3) / den;
            let a23 = (dx1 * dy3 - dx3 * dy1) / den;
            Perspective {
                a11: x1 - x0 + a13 * x1,
                a21: x3 - x0 + a23 * x3,
                a31: x0,
                a12: y1 - y0 + a13 * y1,
                a22: y3 - y0 + a23 * y3,
                a32: y0,
                a13,
                a23,
                a33: 1.0,
            }
        }
    }

    fn adjoint(&self) -> Self {
        Perspective {
            a11: self.a22 * self.a33 - self.a23 * self.a32,
            a21: self.a23 * self.a31 - self.a21 * self.a33,
            a31: self.a21 * self.a32 - self.a22 * self.a31,
            a12: self.a13 * self.a32 - self.a12 * self.a33,
            a22: self.a11 * self.a33 - self.a13 * self.a31,
            a32: self.a12 * self.a31 - self.a11 * self.a32,
            a13: self.a12 * self.a23 - self.a13 * self.a22,
            a23: self.a13 * self.a21 - self.a11 * self.a23,
            a33: self.a11 * self.a22 - self.a12 * self.a21,
        }
    }

    fn times(&self, o: &Self) -> Self {
        Perspective {
            a11: self.a11 * o.a11 + self.a21 * o.a12 + self.a31 * o.a13,
            a21: self.a11 * o.a21 + self.a21 * o.a22 + self.a31 * o.a23,
            a31: self.a11 * o.a31 + self.a21 * o.a32 + self.a31 * o.a33,
            a12: self.a12 * o.a11 + self.a22 * o.a12 + self.a32 * o.a13,
            a22: self.a12 * o.a21 + self.a22 * o.a22 + self.a32 * o.a23,
            a32: self.a12 * o.a31 + self.a22 * o.a32 + self.a32 * o.a33,
            a13: self.a13 * o.a11 + self.a23 * o.a12 + self.a33 * o.a13,
            a23: self.a13 * o.a21 + self.a23 * o.a22 + self.a33 * o.a23,
            a33: self.a13 * o.a31 + self.a23 * o.a32 + self.a33 * o.a33,
        }
    }

    /// The transform taking quadrilateral `from` onto quadrilateral `to` (corners in order).
    pub fn quad_to_quad(from: [(f32, f32); 4], to: [(f32, f32); 4]) -> Self {
        let q2s = Self::square_to_quad(
            from[0].0, from[0].1, from[1].0, from[1].1, from[2].0, from[2].1, from[3].0, from[3].1,
        )
        .adjoint();
        let s2q = Self::square_to_quad(
            to[0].0, to[0].1, to[1].0, to[1].1, to[2].0, to[2].1, to[3].0, to[3].1,
        );
        s2q.times(&q2s)
    }

    /// Maps one point.
    #[inline]
    pub fn map(&self, x: f32, y: f32) -> (f32, f32) {
        let den = self.a13 * x + self.a23 * y + self.a33;
        (
            (self.a11 * x + self.a21 * y + self.a31) / den,
            (self.a12 * x + self.a22 * y + self.a32) / den,
        )
    }
}

/// Length of a dark-light-dark run from `from` toward `to` (ZXing
/// `sizeOfBlackWhiteBlackRun`), by Bresenham steps. NaN when it leaves the image.
fn run_bwb(img: &BitImage, fx: i64, fy: i64, tx: i64, ty: i64) -> f32 {
    let steep = (ty - fy).abs() > (tx - fx).abs();
    let (fx, fy, tx, ty) = if steep {
        (fy, fx, ty, tx)
    } else {
        (fx, fy, tx, ty)
    };
    let dx = (tx - fx).abs();
    let dy = (ty - fy).abs();
    let mut error = -dx / 2;
    let xstep = if fx < tx { 1 } else { -1 };
    let ystep = if fy < ty { 1 } else { -1 };
    let mut state = 0;
    let x_limit = tx + xstep;
    let mut x = fx;
    let mut y = fy;
    while x != x_limit {
        let (rx, ry) = if steep { (y, x) } else { (x, y) };
        // state 1 is "in the light ring"; flip when the colour changes
        if (state == 1) == img.get_i(rx, ry) {
            if state == 2 {
                return (((x - fx).pow(2) + (y - fy).pow(2)) as f32).sqrt();
            }
            state += 1;
        }
        error += dy;
        if error > 0 {
            if y == ty {
                break;
            }
            y += ystep;
            error -= dx;
        }
        x += xstep;
    }
    if state == 2 {
        return (((x_limit - fx).pow(2) + (ty - fy).pow(2)) as f32).sqrt();
    }
    f32::NAN
}

fn run_bwb_both_ways(img: &BitImage, fx: f32, fy: f32, tx: f32, ty: f32) -> f32 {
    let (w, h) = (img.width as i64, img.height as i64);
    let (fxi, fyi, txi, tyi) = (fx as i64, fy as i64, tx as i64, ty as i64);
    let mut result = run_bwb(img, fxi, fyi, txi, tyi);
    // the other way, clipped to the image
    let mut scale = 1.0f32;
    let mut other_x = fxi - (txi - fxi);
    if other_x < 0 {
        scale = fxi as f32 / (fxi - other_x) as f32;
        other_x = 0;
    } else if other_x >= w {
        scale = (w - 1 - fxi) as f32 / (other_x - fxi) as f32;
        other_x = w - 1;
    }
    let mut other_y = (fyi as f32 - (tyi - fyi) as f32 * scale) as i64;
    scale = 1.0;
    if other_y < 0 {
        scale = fyi as f32 / (fyi - other_y) as f32;
        other_y = 0;
    } else if other_y >= h {
        scale = (h - 1 - fyi) as f32 / (other_y - fyi) as f32;
        other_y = h - 1;
    }
    other_x = (fxi as f32 + (other_x - fxi) as f32 * scale) as i64;
    result += run_bwb(img, fxi, fyi, other_x, other_y);
    result - 1.0
}

fn module_one_way(img: &BitImage, a: (f32, f32), b: (f32, f32)) -> f32 {
    let m1 = run_bwb_both_ways(img, a.0, a.1, b.0, b.1);
    let m2 = run_bwb_both_ways(img, b.0, b.1, a.0, a.1);
    match (m1.is_nan(), m2.is_nan()) {
        (true, true) => f32::NAN,
        (true, false) => m2 / 7.0,
        (false, true) => m1 / 7.0,
        (false, false) => (m1 + m2) / 14.0,
    }
}

/// Module size measured along the lines between the finders (robust to rotation), falling back
/// to the finders' own estimates.
pub fn module_size(img: &BitImage, t: &Triple) -> f32 {
    let tl = (t.tl.x, t.tl.y);
    let a = module_one_way(img, tl, (t.tr.x, t.tr.y));
    let b = module_one_way(img, tl, (t.bl.x, t.bl.y));
    let est = (t.tl.module + t.tr.module + t.bl.module) / 3.0;
    let m = match (a.is_nan(), b.is_nan()) {
        (true, true) => est,
        (true, false) => b,
        (false, true) => a,
        (false, false) => (a + b) / 2.0,
    };
    if m.is_finite() && m > 0.5 && m < est * 2.0 {
        m
    } else {
        est
    }
}

fn dist(a: (f32, f32), b: (f32, f32)) -> f32 {
    ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()
}

/// The symbol dimension implied by finder spacing, snapped to 4k+1 (ZXing `computeDimension`).
pub fn dimension(t: &Triple, module: f32) -> Option<usize> {
    let a = (dist((t.tl.x, t.tl.y), (t.tr.x, t.tr.y)) / module).round();
    let b = (dist((t.tl.x, t.tl.y), (t.bl.x, t.bl.y)) / module).round();
    let d = ((a + b) / 2.0).round() as i64 + 7;
    let d = match d & 3 {
        0 => d + 1,
        2 => d - 1,
        3 => d + 2,
        _ => d,
    };
    (21..=177).contains(&d).then_some(d as usize)
}

/// Looks for the alignment pattern (5x5 modules: dark ring, light ring, dark centre) near
/// `est`, scoring each position by sampling the pattern through the local module axes. Returns
/// the best position if at least 22 of 25 module samples match.
fn find_alignment(
    img: &BitImage,
    est: (f32, f32),
    ux: (f32, f32),
    uy: (f32, f32),
    radius: f32,
) -> Option<(f32, f32)> {
    // about 40x40 positions whatever the module size (up to 79x79 for a radius of 20 to 39 px,
    // scored at every pixel)
    find_alignment_stepped(img, est, ux, uy, radius, i64::MAX)
}

/// [`find_alignment`], scoring positions at most `finest` pixels apart.
fn find_alignment_stepped(
    img: &BitImage,
    est: (f32, f32),
    ux: (f32, f32),
    uy: (f32, f32),
    radius: f32,
    finest: i64,
) -> Option<(f32, f32)> {
    let r = radius.clamp(2.0, 160.0) as i64;
    let step = finest.min((r / 20).max(1));
    let (ex, ey) = (est.0 as i64, est.1 as i64);
    let mut best = (0u32, f32::MAX, (0.0f32, 0.0f32));
    // the light ring first: most positions miss it, and a position with more than
    // MAX_ALIGNMENT_MISSES wrong samples can never be returned, so it is left at once
    let ring = (-2i32..=2)
        .flat_map(|j| (-2i32..=2).map(move |i| (i, j)))
        .filter(|&(i, j)| i.abs().max(j.abs()) == 1);
    let others = (-2i32..=2)
        .flat_map(|j| (-2i32..=2).map(move |i| (i, j)))
        .filter(|&(i, j)| i.abs().max(j.abs()) != 1);
    let order: Vec<(i32, i32)> = ring.chain(others).collect();
    let mut dy = -r;
    while dy <= r {
        let mut dx = -r;
        while dx <= r {
            let cx = (ex + dx) as f32 + 0.5;
            let cy = (ey + dy) as f32 + 0.5;
            if img.get_i(ex + dx, ey + dy) {
                let mut misses = 0u32;
                for &(i, j) in &order {
                    let want_dark = i.abs().max(j.abs()) != 1;
                    let px = cx + ux.0 * i as f32 + uy.0 * j as f32;
                    let py = cy + ux.1 * i as f32 + uy.1 * j as f32;
                    if img.get_i(floor_i(px), floor_i(py)) != want_dark {
                        misses += 1;
                        if misses > MAX_ALIGNMENT_MISSES {
                            break;
                        }
                    }
                }
                let score = 25 - misses.min(25);
                let d = (dx * dx + dy * dy) as f32;
                if misses <= MAX_ALIGNMENT_MISSES
                    && (score > best.0 || (score == best.0 && d < best.1))
                {
                    best = (score, d, (cx, cy));
                }
            }
            dx += step;
        }
        dy += step;
    }
    (best.0 >= 25 - MAX_ALIGNMENT_MISSES).then_some(best.2)
}

/// An alignment pattern is accepted with at most this many of its 25 module samples wrong.
const MAX_ALIGNMENT_MISSES: u32 = 3;

/// `x.floor() as i64` without the libm call (a hot path: every module sample).
#[inline]
fn floor_i(x: f32) -> i64 {
    let i = x as i64;
    if (i as f32) > x {
        i - 1
    } else {
        i
    }
}

/// A grid hypothesis: the transform from module coordinates to image pixels and the dimension.
#[derive(Clone, Copy, Debug)]
pub struct GridFit {
    /// Module coordinates -> image.
    pub transform: Perspective,
    /// Modules per side.
    pub dim: usize,
    /// How well the timing patterns match under this fit (0..=1).
    pub timing: f32,
}

impl GridFit {
    /// The symbol's corners in the image: top-left, top-right, bottom-right, bottom-left.
    pub fn corners(&self) -> [(f32, f32); 4] {
        let d = self.dim as f32;
        [
            self.transform.map(0.0, 0.0),
            self.transform.map(d, 0.0),
            self.transform.map(d, d),
            self.transform.map(0.0, d),
        ]
    }
}

/// How well the two timing patterns (row 6 and column 6 between the finders: dark, light,
/// dark, ...) match under a transform; 0..=1. Cheap, and a strong check that a triple and a
/// dimension are right.
fn timing_score(img: &BitImage, t: &Perspective, dim: usize) -> f32 {
    if dim < 21 {
        return 0.0;
    }
    let (mut good, mut total) = (0u32, 0u32);
    for i in 8..dim - 8 {
        let want_dark = i % 2 == 0;
        for (x, y) in [(i, 6), (6, i)] {
            let (px, py) = t.map(x as f32 + 0.5, y as f32 + 0.5);
            if img.get_i(floor_i(px), floor_i(py)) == want_dark {
                good += 1;
            }
            total += 1;
        }
    }
    good as f32 / total.max(1) as f32
}

/// Where the fourth finder-like corner of a triple's symbol (its bottom-right, in the finders'
/// coordinates) lies if the symbol is drawn as a parallelogram: `tr + bl - tl`.
fn parallelogram_corner(t: &Triple) -> (f32, f32) {
    (t.tr.x - t.tl.x + t.bl.x, t.tr.y - t.tl.y + t.bl.y)
}

/// The grid of `dim` modules through the triple's three finder centres, drawn as a
/// parallelogram (exact along the lines between the finders when the symbol is not in
/// perspective).
fn parallelogram(t: &Triple, dim: usize) -> Perspective {
    let d = dim as f32;
    Perspective::quad_to_quad(
        [
            (3.5, 3.5),
            (d - 3.5, 3.5),
            (d - 3.5, d - 3.5),
            (3.5, d - 3.5),
        ],
        [
            (t.tl.x, t.tl.y),
            (t.tr.x, t.tr.y),
            parallelogram_corner(t),
            (t.bl.x, t.bl.y),
        ],
    )
}

/// Grid fits for one triple, most likely first: the estimated dimension and its neighbours
/// (plus the next ones out when their timing patterns match), each with the alignment pattern
/// when one is found and as a plain parallelogram, ordered by how well their timing patterns
/// match. A triple with no plausible timing pattern under any fit yields nothing.
pub fn fits(img: &BitImage, t: &Triple) -> Vec<GridFit> {
    let module = module_size(img, t);
    let Some(dim0) = dimension(t, module) else {
        return Vec::new();
    };
    let br = parallelogram_corner(t);
    // The parallelograms through the three finders first: they are exact along the lines
    // between the finders, where the timing patterns run, so a triple none of whose dimensions
    // shows a timing pattern is dropped before any alignment search (the costly part; most
    // triples of a scene without a code end here).
    let mut paras: Vec<(usize, Perspective, f32)> = Vec::new();
    let candidates = [
        dim0,
        dim0 + 4,
        dim0.saturating_sub(4),
        dim0 + 8,
        dim0.saturating_sub(8),
    ];
    for (k, dim) in candidates.into_iter().enumerate() {
        if !(21..=177).contains(&dim) {
            continue;
        }
        let parallelogram = parallelogram(t, dim);
        let p_score = timing_score(img, &parallelogram, dim);
        if k >= 3 && p_score < MIN_TIMING_SCORE {
            continue;
        }
        paras.push((dim, parallelogram, p_score));
    }
    if paras.iter().all(|p| p.2 < REJECT_TIMING_SCORE) {
        // no timing pattern under any fit: not a symbol (noise, texture)
        return Vec::new();
    }
    let mut scored: Vec<(f32, GridFit)> = Vec::new();
    // the far corner's wider search, once per triple (see `alignment_fit`)
    let mut far_corner = None;
    for (dim, parallelogram, p_score) in paras {
        // and the estimated dimension whatever its parallelogram scored (once any dimension
        // showed a timing pattern): in perspective the modules shrink along a leg towards the
        // far finder, the parallelogram's evenly spaced samples drift off the timing pattern,
        // and the right dimension may score below a wrong one
        if dim > 21 && (p_score >= REJECT_TIMING_SCORE || dim == dim0) {
            if let Some(fit) = alignment_fit(img, t, br, dim, module, &mut far_corner) {
                // slightly ahead of the parallelogram at equal timing scores
                scored.push((fit.timing + 0.01, fit));
            }
        }
        scored.push((
            p_score,
            GridFit {
                transform: parallelogram,
                dim,
                timing: p_score,
            },
        ));
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().map(|s| s.1).take(6).collect()
}

/// The grid fit through the three finders and the bottom-right alignment pattern, when one is
/// found near where the parallelogram puts it.
///
/// A symbol seen in perspective (its finders drawn at different sizes, see
/// [`far_corner_scale`]) whose pattern the search at the mean module size missed gets a second
/// search at the size its far corner is drawn at, further out: the pattern may lie further from
/// where the parallelogram puts it, and its 25 samples taken at the mean size miss its rings.
/// That search hardly depends on the dimension (the estimate moves by well under a module
/// between the dimensions tried), so it runs once per triple: `far_corner` keeps its outcome
/// for the triple's other dimensions.
fn alignment_fit(
    img: &BitImage,
    t: &Triple,
    br: (f32, f32),
    dim: usize,
    module: f32,
    far_corner: &mut Option<Option<(f32, f32)>>,
) -> Option<GridFit> {
    let (tl, tr, bl) = ((t.tl.x, t.tl.y), (t.tr.x, t.tr.y), (t.bl.x, t.bl.y));
    let d = dim as f32;
    let between = d - 7.0;
    let ux = ((tr.0 - tl.0) / between, (tr.1 - tl.1) / between);
    let uy = ((bl.0 - tl.0) / between, (bl.1 - tl.1) / between);
    let corr = 1.0 - 3.0 / between;
    let est = (tl.0 + corr * (br.0 - tl.0), tl.1 + corr * (br.1 - tl.1));
    let al = [4.0f32, 8.0]
        .into_iter()
        .find_map(|allowance| find_alignment(img, est, ux, uy, allowance * module))
        .or_else(|| {
            *far_corner.get_or_insert_with(|| far_corner_search(img, t, est, (ux, uy), dim, module))
        })?;
    let s = d - 6.5;
    let transform = Perspective::quad_to_quad(
        [(3.5, 3.5), (d - 3.5, 3.5), (s, s), (3.5, d - 3.5)],
        [tl, tr, al, bl],
    );
    Some(GridFit {
        transform,
        dim,
        timing: timing_score(img, &transform, dim),
    })
}

/// A triple whose far corner is drawn at a module size this much smaller or larger than its
/// finders' mean is searched again there (see [`far_corner_scale`]): below it, the 25 samples
/// of the pattern at the mean size still fall inside its rings.
const PERSPECTIVE_SCALE: f32 = 0.1;

/// Symbols of at least this many modules a side (version 7 and up, those with more than one
/// alignment pattern) are searched up to 16 modules out; smaller ones up to 8, since a window
/// of 16 modules would cover most of their data, where a pattern-like patch can score.
const WIDE_SEARCH_MIN_DIM: usize = 45;

/// The second search for the bottom-right alignment pattern of a symbol seen in perspective:
/// at the module size its far corner is drawn at ([`far_corner_scale`]), 4, 8 and (for large
/// symbols, [`WIDE_SEARCH_MIN_DIM`]) 16 modules around `est`, scoring positions at most 0.6 of
/// a far-corner module apart so that the pattern's centre module is not stepped over. `axes`
/// are the parallelogram's module vectors.
fn far_corner_search(
    img: &BitImage,
    t: &Triple,
    est: (f32, f32),
    axes: ((f32, f32), (f32, f32)),
    dim: usize,
    module: f32,
) -> Option<(f32, f32)> {
    let scale = far_corner_scale(t)?;
    let axis = |u: (f32, f32)| (u.0 * scale, u.1 * scale);
    let (ux, uy) = (axis(axes.0), axis(axes.1));
    let fine = ((module * scale * 0.6) as i64).max(1);
    let allowances: &[f32] = if dim >= WIDE_SEARCH_MIN_DIM {
        &[4.0, 8.0, 16.0]
    } else {
        &[4.0, 8.0]
    };
    allowances
        .iter()
        .find_map(|&allowance| find_alignment_stepped(img, est, ux, uy, allowance * module, fine))
}

/// In perspective, the module size the symbol's far corner (its bottom-right alignment
/// pattern) is drawn at, against its finders' mean, when it differs from it by more than
/// [`PERSPECTIVE_SCALE`] (clamped to 0.5..=2).
///
/// Seen through a camera, a plane's drawn size is inversely proportional to its depth, and the
/// depth is linear over the plane, so the inverse of the far corner's size is extrapolated from
/// the finders' (`1/br = 1/tr + 1/bl - 1/tl`). The finders' own sizes are compared with each
/// other only: each is measured across a row, which overstates it by the same factor for all
/// three when the symbol is turned in the image. In a synthetic dense frame the finders
/// measured 4.5, 3.1 and 4.5 px: the far corner 3.1 px, 0.78 of their mean, where the search
/// at the mean size had missed the pattern.
fn far_corner_scale(t: &Triple) -> Option<f32> {
    let (tl, tr, bl) = (t.tl.module, t.tr.module, t.bl.module);
    let mean = (tl + tr + bl) / 3.0;
    if !(tl > 0.0 && tr > 0.0 && bl > 0.0 && mean.is_finite()) {
        return None;
    }
    let inverse = 1.0 / tr + 1.0 / bl - 1.0 / tl;
    // a far corner nearer than the finders, or at infinity: bounded by the clamp
    let corner = if inverse > 0.0 {
        1.0 / inverse
    } else {
        f32::INFINITY
    };
    let scale = (corner / mean).clamp(0.5, 2.0);
    ((scale - 1.0).abs() > PERSPECTIVE_SCALE).then_some(scale)
}

/// Dimensions other than the estimate are tried only when their timing patterns match this well.
const MIN_TIMING_SCORE: f32 = 0.6;
/// A triple none of whose dimensions has timing patterns matching this well is dropped.
const REJECT_TIMING_SCORE: f32 = 0.5;

/// The 32 valid (masked) format-information words: BCH(15,5), generator 0x537, mask 0x5412.
fn format_words() -> [u16; 32] {
    let mut out = [0u16; 32];
    for (d, w) in out.iter_mut().enumerate() {
        let mut rem = (d as u32) << 10;
        for bit in (10..15).rev() {
            if rem & (1 << bit) != 0 {
                rem ^= 0x537 << (bit - 10);
            }
        }
        *w = ((((d as u32) << 10) | rem) ^ 0x5412) as u16;
    }
    out
}

/// (distance, data) of the nearest valid format word.
fn nearest_format(bits: u16) -> (u32, usize) {
    format_words()
        .iter()
        .enumerate()
        .map(|(d, &w)| ((bits ^ w).count_ones(), d))
        .min()
        .unwrap_or((15, 0))
}

/// Whether the two copies of the format information read under `fit` look like a QR code's
/// (in either reading order, as rqrr also tries the mirror image). `strict`: both copies decode
/// to the same word, or one is at most one bit off; otherwise one copy within the correction
/// capacity (3 bits) suffices, which is exactly what the decoder itself needs.
pub fn format_plausible(img: &BitImage, fit: &GridFit, strict: bool) -> bool {
    let dim = fit.dim;
    let bit = |x: usize, y: usize| -> bool {
        let (px, py) = fit.transform.map(x as f32 + 0.5, y as f32 + 0.5);
        img.get_i(floor_i(px), floor_i(py))
    };
    for mirror in [false, true] {
        let get = |i: usize, j: usize| if mirror { bit(j, i) } else { bit(i, j) };
        let mut f1 = 0u16;
        let mut f2 = 0u16;
        let push = |acc: &mut u16, b: bool| *acc = (*acc << 1) | u16::from(b);
        for i in 0..6 {
            push(&mut f1, get(i, 8));
        }
        push(&mut f1, get(7, 8));
        push(&mut f1, get(8, 8));
        push(&mut f1, get(8, 7));
        for j in (0..6).rev() {
            push(&mut f1, get(8, j));
        }
        for j in (dim - 7..dim).rev() {
            push(&mut f2, get(8, j));
        }
        for i in dim - 8..dim {
            push(&mut f2, get(i, 8));
        }
        let (d1, v1) = nearest_format(f1);
        let (d2, v2) = nearest_format(f2);
        let ok = if strict {
            (d1 <= 3 && d2 <= 3 && v1 == v2) || d1 <= 1 || d2 <= 1
        } else {
            d1 <= 3 || d2 <= 3
        };
        if ok {
            return true;
        }
    }
    false
}

/// Offsets, in modules, at which [`sample_shifted`] samples a grid again.
const SAMPLE_SHIFTS: [(f32, f32); 4] = [(-0.25, 0.0), (0.25, 0.0), (0.0, -0.25), (0.0, 0.25)];

/// [`sample_and_decode`]'s plain sampling again, every module sampled a quarter of a module
/// off its centre, one direction at a time: a fit through finder centres that a photo's
/// printing or perspective moved is off by a fraction of a module across the whole grid, and
/// a symbol that needs most of its error correction (a keystoned corpus photo: zxing-cpp reads
/// it with 77 % of it used) decodes only from samples nearer the module centres.
pub fn sample_shifted(img: &BitImage, fit: &GridFit) -> Option<(Vec<u8>, u8, u8)> {
    let dim = fit.dim;
    let mut cells = vec![false; dim * dim];
    SAMPLE_SHIFTS.iter().find_map(|&(dx, dy)| {
        for y in 0..dim {
            for x in 0..dim {
                let (px, py) = fit.transform.map(x as f32 + 0.5 + dx, y as f32 + 0.5 + dy);
                cells[y * dim + x] = img.get_i(floor_i(px), floor_i(py));
            }
        }
        super::rq::decode_grid(dim, |x, y| cells[y * dim + x])
    })
}

/// Samples the module grid of `fit` from the binarized image and decodes it with rqrr: first
/// one pixel per module centre (sharp images), then a majority of nine points spread over the
/// middle half of each module (noise).
pub fn sample_and_decode(img: &BitImage, fit: &GridFit) -> Option<(Vec<u8>, u8, u8)> {
    let dim = fit.dim;
    let (w, h) = (img.width as i64, img.height as i64);
    let mut cells = vec![false; dim * dim];
    let mut outside = 0usize;
    for y in 0..dim {
        for x in 0..dim {
            let (px, py) = fit.transform.map(x as f32 + 0.5, y as f32 + 0.5);
            if !px.is_finite() || !py.is_finite() {
                return None;
            }
            let (ix, iy) = (px.floor() as i64, py.floor() as i64);
            if ix < 0 || iy < 0 || ix >= w || iy >= h {
                outside += 1;
            }
            cells[y * dim + x] = img.get_i(ix, iy);
        }
    }
    // a symbol mostly outside the image cannot be read; a few clipped modules may be corrected
    if outside * 10 > dim * dim {
        return None;
    }
    if let Some(r) = super::rq::decode_grid(dim, |x, y| cells[y * dim + x]) {
        return Some(r);
    }
    for y in 0..dim {
        for x in 0..dim {
            let mut dark = 0;
            for dy in [0.25f32, 0.5, 0.75] {
                for dx in [0.25f32, 0.5, 0.75] {
                    let (px, py) = fit.transform.map(x as f32 + dx, y as f32 + dy);
                    if img.get_i(floor_i(px), floor_i(py)) {
                        dark += 1;
                    }
                }
            }
            cells[y * dim + x] = dark >= 5;
        }
    }
    super::rq::decode_grid(dim, |x, y| cells[y * dim + x])
}

/// Symbols drawn for the tests of this crate's modules.
#[cfg(test)]
pub(crate) mod test_support {
    #![allow(clippy::unwrap_used)] // test helpers

    use super::*;
    use crate::finder::Finder;

    /// `text` drawn square on at 4 px per module (240 x 240 pixels), and a grid fit of it
    /// moved `shift` modules to the right, its timing match set to `timing`.
    pub(crate) fn moved_fit(text: &str, shift: f32, timing: f32) -> (BitImage, GridFit) {
        let dim = qrcode::QrCode::new(text).unwrap().width();
        let d = dim as f32;
        let square = [(0.0, 0.0), (d, 0.0), (d, d), (0.0, d)];
        let px = |(u, v): (f32, f32)| (40.0 + 4.0 * u, 40.0 + 4.0 * v);
        let (img, _) = drawn(
            text,
            &Perspective::quad_to_quad(square, square.map(px)),
            240,
            240,
        );
        let moved = square.map(|(u, v)| px((u + shift, v)));
        let fit = GridFit {
            transform: Perspective::quad_to_quad(square, moved),
            dim,
            timing,
        };
        (img, fit)
    }

    /// A symbol's modules drawn through `to_image` (module space to pixels) on a `w` x `h`
    /// bit image, with its three finders as the first pass would locate them: centres mapped,
    /// module sizes measured across each finder.
    pub(crate) fn drawn(
        text: &str,
        to_image: &Perspective,
        w: usize,
        h: usize,
    ) -> (BitImage, Triple) {
        let code = qrcode::QrCode::new(text).unwrap();
        let dim = code.width();
        let colors = code.to_colors();
        let d = dim as f32;
        let square = [(0.0, 0.0), (d, 0.0), (d, d), (0.0, d)];
        let to_modules = Perspective::quad_to_quad(square.map(|(u, v)| to_image.map(u, v)), square);
        let mut bits = vec![0u8; w * h];
        for y in 0..h {
            for x in 0..w {
                let (u, v) = to_modules.map(x as f32 + 0.5, y as f32 + 0.5);
                if u >= 0.0 && v >= 0.0 && u < d && v < d {
                    let dark = colors[v as usize * dim + u as usize] == qrcode::Color::Dark;
                    bits[y * w + x] = u8::from(dark);
                }
            }
        }
        let finder_at = |u: f32, v: f32| {
            let (x, y) = to_image.map(u, v);
            let (l, r) = (to_image.map(u - 3.5, v), to_image.map(u + 3.5, v));
            Finder {
                x,
                y,
                module: dist(l, r) / 7.0,
                count: 3,
            }
        };
        let (tl, tr, bl) = (
            finder_at(3.5, 3.5),
            finder_at(d - 3.5, 3.5),
            finder_at(3.5, d - 3.5),
        );
        let img = BitImage {
            width: w,
            height: h,
            bits,
        };
        (
            img,
            Triple {
                tl,
                tr,
                bl,
                score: 1.0,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test helpers

    use super::test_support::{drawn, moved_fit};
    use super::*;
    use crate::finder::Finder;

    fn finder(x: f32, y: f32, module: f32) -> Finder {
        Finder {
            x,
            y,
            module,
            count: 3,
        }
    }

    fn triple(tl: f32, tr: f32, bl: f32) -> Triple {
        Triple {
            tl: finder(0.0, 0.0, tl),
            tr: finder(300.0, 0.0, tr),
            bl: finder(0.0, 300.0, bl),
            score: 1.0,
        }
    }

    #[test]
    fn a_symbol_seen_square_on_keeps_the_finders_module_size() {
        assert_eq!(far_corner_scale(&triple(4.0, 4.0, 4.0)), None);
        // within a tenth: the search at the mean size still hits the pattern's rings
        assert_eq!(far_corner_scale(&triple(4.0, 3.8, 4.0)), None);
    }

    #[test]
    fn a_symbol_turned_in_the_image_is_not_taken_for_one_in_perspective() {
        // turned by 40 degrees, each finder's row run is about 1.3 times its module: the same
        // factor for all three, so no second search (the symbol is not in perspective)
        let k = 1.0 / 40f32.to_radians().cos();
        assert_eq!(far_corner_scale(&triple(4.0 * k, 4.0 * k, 4.0 * k)), None);
        // and one in perspective keeps its scale when turned
        let plain = far_corner_scale(&triple(4.5, 3.15, 4.5)).unwrap();
        let turned = far_corner_scale(&triple(4.5 * k, 3.15 * k, 4.5 * k)).unwrap();
        assert!((plain - turned).abs() < 1e-4, "{plain} {turned}");
    }

    #[test]
    fn a_symbol_tilted_away_is_searched_smaller_at_its_far_corner() {
        // the finders of a synthetic dense frame: 4.5, 3.15 and 4.5 px (mean 4.05); the far
        // corner is as far as the top-right finder
        let scale = far_corner_scale(&triple(4.5, 3.15, 4.5)).unwrap();
        assert!((scale - 3.15 / 4.05).abs() < 0.01, "{scale}");
        // tilted along the diagonal: the inverse sizes add up (1/3.1 + 1/3.1 - 1/4.5)
        let scale = far_corner_scale(&triple(4.5, 3.1, 3.1)).unwrap();
        let corner = 1.0 / (2.0 / 3.1 - 1.0 / 4.5);
        assert!((scale - corner / (10.7 / 3.0)).abs() < 0.01, "{scale}");
        // tilted towards the camera: larger
        let scale = far_corner_scale(&triple(3.0, 4.0, 4.0)).unwrap();
        assert!(scale > 1.3, "{scale}");
    }

    #[test]
    fn an_extreme_or_empty_estimate_is_bounded() {
        // a far corner "beyond infinity" (1/tr + 1/bl < 1/tl) is bounded by the clamp
        assert_eq!(far_corner_scale(&triple(1.0, 9.0, 9.0)), Some(2.0));
        assert_eq!(far_corner_scale(&triple(9.0, 1.0, 1.0)), Some(0.5));
        assert_eq!(far_corner_scale(&triple(0.0, 0.0, 0.0)), None);
        assert_eq!(far_corner_scale(&triple(f32::NAN, 4.0, 4.0)), None);
    }

    #[test]
    fn the_estimated_dimension_is_fitted_with_its_alignment_pattern_when_its_timing_drifts() {
        // keystoned: the right side drawn about two thirds as tall as the left, so along the top
        // leg the modules shrink towards the top-right finder and the parallelogram's evenly
        // spaced samples drift off the timing pattern at the right dimension (version 5)
        let text = "https://example.com/rack/17/unit/04?serial=VX-2026-000417&site=b";
        let quads = [
            [(60.0, 40.0), (330.0, 90.0), (320.0, 320.0), (40.0, 390.0)],
            [(60.0, 40.0), (330.0, 80.0), (330.0, 330.0), (40.0, 390.0)],
        ];
        for quad in quads {
            let dim = qrcode::QrCode::new(text).unwrap().width();
            let d = dim as f32;
            let to_image =
                Perspective::quad_to_quad([(0.0, 0.0), (d, 0.0), (d, d), (0.0, d)], quad);
            let (img, t) = drawn(text, &to_image, 420, 420);
            assert_eq!(dimension(&t, module_size(&img, &t)), Some(dim));
            // what the case is about: the right dimension's parallelogram misses its timing
            assert!(timing_score(&img, &parallelogram(&t, dim), dim) < REJECT_TIMING_SCORE);
            let fits = fits(&img, &t);
            let best = fits.first().unwrap();
            assert_eq!((best.dim, best.timing), (dim, 1.0), "{quad:?}");
            let (bytes, ..) = sample_and_decode(&img, best).unwrap();
            assert_eq!(bytes, text.as_bytes());
        }
    }

    #[test]
    fn a_fit_off_by_more_than_half_a_module_reads_when_sampled_shifted() {
        // a fit through the symbol's corners moved 0.6 of a module to the right: every plain
        // sample (and most of the nine-point ones) falls in the next module; a quarter of a
        // module back brings them inside their own
        let text = "vouch:v1:site=plant-b;serial=VX-2026-000417";
        let (img, fit) = moved_fit(text, 0.6, 1.0);
        assert_eq!(sample_and_decode(&img, &fit), None);
        let (bytes, ..) = sample_shifted(&img, &fit).unwrap();
        assert_eq!(bytes, text.as_bytes());
        // moved by a whole module, no quarter brings the samples back
        let (img, fit) = moved_fit(text, 1.0, 1.0);
        assert_eq!(sample_shifted(&img, &fit), None);
    }
}

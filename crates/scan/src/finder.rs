//! Locating QR finder patterns ourselves, run-length style as ZXing's `FinderPatternFinder`
//! does: scan rows for dark/light/dark/light/dark runs in 1:1:3:1:1 proportion, confirm each hit
//! vertically, horizontally and diagonally, merge repeated hits, then pick triples that form the
//! right-angled corner of a symbol.
//!
//! Unlike rqrr's detector (which flood-fills exact connected regions, so one speck of noise or a
//! broken ring loses a finder) this tolerates 50 % variance in each run. It costs one pass over
//! every other row.

use super::binarize::BitImage;

/// A finder-pattern candidate: centre in pixels, module size estimate and how often it was hit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Finder {
    /// Centre, x.
    pub x: f32,
    /// Centre, y.
    pub y: f32,
    /// Estimated module size in pixels.
    pub module: f32,
    /// How many row scans confirmed it.
    pub count: u32,
}

/// At most this many candidates are kept per image (a noisy frame cannot make the triple search
/// explode).
const MAX_CANDIDATES: usize = 48;
/// Candidates combined into triples (the best confirmed ones).
const MAX_POOL: usize = 16;

/// The smallest finder pattern looked for, in pixels across (7 modules): 1 px per module. A
/// camera does not resolve such modules, but a generated symbol has them (a screenshot, a code
/// drawn at one pixel per module, as the corpus's version 40 symbols and a small one): its
/// runs are exact and it samples exactly. Noise makes such patterns too; the scan's list of
/// candidates is bounded ([`MAX_CANDIDATES`]), and since a pattern under [`SLACK_FROM`] px
/// gets no pixel slack, only exact runs pass. (The bound was 10 px, 1.4 px per module: those
/// symbols were read only by the still-image cascade's later passes, and not in camera
/// frames.)
const MIN_PATTERN: u32 = 7;

/// Slack in pixels added to the module tolerance of the run checks, for patterns of
/// [`SLACK_FROM`]..[`SLACK_TO`] pixels (below, noise speckles would pass as finders; above,
/// the slack only lets more of the scene through).
const PIXEL_SLACK: f32 = 0.5;
/// See [`PIXEL_SLACK`].
const SLACK_FROM: u32 = 13;
/// From 3 px per module on, half a module is slack enough.
const SLACK_TO: u32 = 21;

fn slack(total: u32) -> f32 {
    if (SLACK_FROM..SLACK_TO).contains(&total) {
        PIXEL_SLACK
    } else {
        0.0
    }
}

fn found_pattern_cross(s: &[u32; 5]) -> bool {
    let total: u32 = s.iter().sum();
    if total < MIN_PATTERN {
        return false;
    }
    // Each run within half a module (plus half a pixel of slack: at 2-3 px per module one
    // pixel of blur or noise is a third of a module; zxing-cpp's check has the same slack) of
    // 1, 1, 3, 1, 1 modules, a module being total / 7. In integers, scaled by 14: for a run of
    // n modules, |2n * total - 14 * run| < n * (total + 14 * slack). This is the hot test of
    // the finder scan (every window of five runs of every scanned row).
    let t = i64::from(total);
    let tol = t + if slack(total) > 0.0 { 7 } else { 0 };
    let off = |run: u32, n: i64| (2 * n * t - 14 * i64::from(run)).abs() < n * tol;
    off(s[0], 1) && off(s[1], 1) && off(s[2], 3) && off(s[3], 1) && off(s[4], 1)
}

fn found_pattern_diagonal(s: &[u32; 5]) -> bool {
    let total: u32 = s.iter().sum();
    if total < 7 {
        return false;
    }
    let module = total as f32 / 7.0;
    let max_var = module / 1.333;
    (module - s[0] as f32).abs() < max_var
        && (module - s[1] as f32).abs() < max_var
        && (3.0 * module - s[2] as f32).abs() < 3.0 * max_var
        && (module - s[3] as f32).abs() < max_var
        && (module - s[4] as f32).abs() < max_var
}

fn center_from_end(s: &[u32; 5], end: usize) -> f32 {
    end as f32 - s[4] as f32 - s[3] as f32 - s[2] as f32 / 2.0
}

struct Scanner<'a> {
    img: &'a BitImage,
    /// Looking for light-on-dark finders (the image read with black and white swapped).
    inv: bool,
    found: Vec<Finder>,
}

impl Scanner<'_> {
    /// Whether `(x, y)` is dark in this scanner's polarity (outside the image: light).
    #[inline]
    fn px(&self, x: i64, y: i64) -> bool {
        x >= 0
            && y >= 0
            && (x as usize) < self.img.width
            && (y as usize) < self.img.height
            && (self.img.bits[y as usize * self.img.width + x as usize] != 0) != self.inv
    }

    fn cross_check_vertical(&self, start_y: usize, x: usize, max_count: u32, total: u32) -> f32 {
        let img = self.img;
        let mut s = [0u32; 5];
        let mut y = start_y as i64;
        let xi = x as i64;
        while y >= 0 && self.px(xi, y) {
            s[2] += 1;
            y -= 1;
        }
        if y < 0 {
            return f32::NAN;
        }
        while y >= 0 && !self.px(xi, y) && s[1] <= max_count {
            s[1] += 1;
            y -= 1;
        }
        if y < 0 || s[1] > max_count {
            return f32::NAN;
        }
        while y >= 0 && self.px(xi, y) && s[0] <= max_count {
            s[0] += 1;
            y -= 1;
        }
        if s[0] > max_count {
            return f32::NAN;
        }
        let h = img.height as i64;
        let mut y = start_y as i64 + 1;
        while y < h && self.px(xi, y) {
            s[2] += 1;
            y += 1;
        }
        if y == h {
            return f32::NAN;
        }
        while y < h && !self.px(xi, y) && s[3] < max_count {
            s[3] += 1;
            y += 1;
        }
        if y == h || s[3] >= max_count {
            return f32::NAN;
        }
        while y < h && self.px(xi, y) && s[4] < max_count {
            s[4] += 1;
            y += 1;
        }
        if s[4] >= max_count {
            return f32::NAN;
        }
        let sum: u32 = s.iter().sum();
        if 5 * sum.abs_diff(total) >= 2 * total {
            return f32::NAN;
        }
        if found_pattern_cross(&s) {
            center_from_end(&s, y as usize)
        } else {
            f32::NAN
        }
    }

    fn cross_check_horizontal(&self, start_x: usize, y: usize, max_count: u32, total: u32) -> f32 {
        let img = self.img;
        let mut s = [0u32; 5];
        let yi = y as i64;
        let mut x = start_x as i64;
        while x >= 0 && self.px(x, yi) {
            s[2] += 1;
            x -= 1;
        }
        if x < 0 {
            return f32::NAN;
        }
        while x >= 0 && !self.px(x, yi) && s[1] <= max_count {
            s[1] += 1;
            x -= 1;
        }
        if x < 0 || s[1] > max_count {
            return f32::NAN;
        }
        while x >= 0 && self.px(x, yi) && s[0] <= max_count {
            s[0] += 1;
            x -= 1;
        }
        if s[0] > max_count {
            return f32::NAN;
        }
        let w = img.width as i64;
        let mut x = start_x as i64 + 1;
        while x < w && self.px(x, yi) {
            s[2] += 1;
            x += 1;
        }
        if x == w {
            return f32::NAN;
        }
        while x < w && !self.px(x, yi) && s[3] < max_count {
            s[3] += 1;
            x += 1;
        }
        if x == w || s[3] >= max_count {
            return f32::NAN;
        }
        while x < w && self.px(x, yi) && s[4] < max_count {
            s[4] += 1;
            x += 1;
        }
        if s[4] >= max_count {
            return f32::NAN;
        }
        let sum: u32 = s.iter().sum();
        if 5 * sum.abs_diff(total) >= total {
            return f32::NAN;
        }
        if found_pattern_cross(&s) {
            center_from_end(&s, x as usize)
        } else {
            f32::NAN
        }
    }

    fn cross_check_diagonal(&self, cy: usize, cx: usize) -> bool {
        let img = self.img;
        let (cx, cy) = (cx as i64, cy as i64);
        let mut s = [0u32; 5];
        let mut i = 0i64;
        while cy >= i && cx >= i && self.px(cx - i, cy - i) {
            s[2] += 1;
            i += 1;
        }
        if s[2] == 0 {
            return false;
        }
        while cy >= i && cx >= i && !self.px(cx - i, cy - i) {
            s[1] += 1;
            i += 1;
        }
        if s[1] == 0 {
            return false;
        }
        while cy >= i && cx >= i && self.px(cx - i, cy - i) {
            s[0] += 1;
            i += 1;
        }
        if s[0] == 0 {
            return false;
        }
        let (w, h) = (img.width as i64, img.height as i64);
        let mut i = 1i64;
        while cy + i < h && cx + i < w && self.px(cx + i, cy + i) {
            s[2] += 1;
            i += 1;
        }
        while cy + i < h && cx + i < w && !self.px(cx + i, cy + i) {
            s[3] += 1;
            i += 1;
        }
        if s[3] == 0 {
            return false;
        }
        while cy + i < h && cx + i < w && self.px(cx + i, cy + i) {
            s[4] += 1;
            i += 1;
        }
        if s[4] == 0 {
            return false;
        }
        found_pattern_diagonal(&s)
    }

    fn handle_possible_center(&mut self, s: &[u32; 5], y: usize, end_x: usize) -> bool {
        let total: u32 = s.iter().sum();
        let cx = center_from_end(s, end_x);
        if !cx.is_finite() || cx < 0.0 {
            return false;
        }
        let cy = self.cross_check_vertical(y, cx as usize, s[2], total);
        if !cy.is_finite() || cy < 0.0 {
            return false;
        }
        let cx = self.cross_check_horizontal(cx as usize, cy as usize, s[2], total);
        if !cx.is_finite() || cx < 0.0 || !self.cross_check_diagonal(cy as usize, cx as usize) {
            return false;
        }
        let module = total as f32 / 7.0;
        for f in self.found.iter_mut() {
            if (cy - f.y).abs() <= module && (cx - f.x).abs() <= module {
                let diff = (module - f.module).abs();
                if diff <= 1.0 || diff <= f.module {
                    let n = f.count as f32;
                    f.x = (n * f.x + cx) / (n + 1.0);
                    f.y = (n * f.y + cy) / (n + 1.0);
                    f.module = (n * f.module + module) / (n + 1.0);
                    f.count += 1;
                    return true;
                }
            }
        }
        if self.found.len() < MAX_CANDIDATES * 4 {
            self.found.push(Finder {
                x: cx,
                y: cy,
                module,
                count: 1,
            });
        }
        true
    }
}

/// Which rows a finder scan looks at: every `step`th, from row `first` (taken modulo `step`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowScan {
    /// The distance between scanned rows.
    pub step: usize,
    /// The first row scanned.
    pub first: usize,
}

impl RowScan {
    /// Every `step`th row, from the middle of the first step (a finder pattern is centred
    /// among the rows it spans).
    pub fn every(step: usize) -> Self {
        RowScan {
            step,
            first: step / 2,
        }
    }
}

/// Finds finder-pattern candidates in a binarized image (1 = dark). `row_step` is the distance
/// between scanned rows (1 for tiny images, 2 for camera frames).
pub fn find_finders(img: &BitImage, row_step: usize) -> Vec<Finder> {
    let [dark, _] = find_finders_both(img, RowScan::every(row_step), false);
    dark
}

/// [`find_finders`] for both polarities in one pass over the rows: dark-on-light finders, and
/// (when `light_too`) light-on-dark ones (an inverted code). Each row is cut into runs once
/// (flat stretches are skipped eight pixels at a time) and both polarities test windows of
/// five runs, as ZXing's pixel state machine would.
pub fn find_finders_both(img: &BitImage, rows: RowScan, light_too: bool) -> [Vec<Finder>; 2] {
    let mut scanners = [false, true].map(|inv| Scanner {
        img,
        inv,
        found: Vec::new(),
    });
    let (w, h) = (img.width, img.height);
    if w < 7 || h < 7 {
        return [Vec::new(), Vec::new()];
    }
    let step = rows.step.max(1);
    let (mut runs, mut ends) = (Vec::with_capacity(w / 4), Vec::with_capacity(w / 4));
    let mut y = rows.first % step;
    while y < h {
        let first = row_runs(&img.bits[y * w..(y + 1) * w], &mut runs);
        ends.clear();
        ends.extend(runs.iter().scan(0usize, |acc, &r| {
            *acc += r as usize;
            Some(*acc)
        }));
        for sc in scanners.iter_mut().take(if light_too { 2 } else { 1 }) {
            let dark = u8::from(!sc.inv);
            sc.scan_runs(&runs, &ends, usize::from(first != dark), y);
        }
        y += step;
    }
    scanners.map(|sc| {
        let mut found = sc.found;
        found.sort_by_key(|f| std::cmp::Reverse(f.count));
        found.truncate(MAX_CANDIDATES);
        found
    })
}

/// Cuts a row into run lengths (alternating colours, starting with the colour of the first
/// pixel, which is returned). Eight pixels are compared with their right neighbours at once
/// (pixels are 0 or 1, so each byte of the XOR of the row and the row shifted by one is 1
/// exactly where a run ends): flat stretches and noisy ones cost the same few operations.
fn row_runs(row: &[u8], runs: &mut Vec<u32>) -> u8 {
    runs.clear();
    let Some(&first) = row.first() else {
        return 0;
    };
    let n = row.len();
    let mut start = 0usize;
    let mut x = 0usize;
    let word = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&row[at..at + 8]);
        u64::from_le_bytes(b)
    };
    while x + 9 <= n {
        let mut edges = word(x) ^ word(x + 1);
        while edges != 0 {
            let end = x + (edges.trailing_zeros() / 8) as usize + 1;
            runs.push((end - start) as u32);
            start = end;
            edges &= edges - 1;
        }
        x += 8;
    }
    while x + 1 < n {
        if row[x] != row[x + 1] {
            runs.push((x + 1 - start) as u32);
            start = x + 1;
        }
        x += 1;
    }
    runs.push((n - start) as u32);
    first
}

impl Scanner<'_> {
    /// Tests every window of five runs that starts with a dark run (`start` is the index of the
    /// first dark run): after a hit the next window starts six runs on, otherwise two, which is
    /// where ZXing's state machine would look next.
    /// `ends[k]` is where run `k` ends (the prefix sums of `runs`).
    fn scan_runs(&mut self, runs: &[u32], ends: &[usize], start: usize, y: usize) {
        let mut k = start;
        while k + 5 <= runs.len() && k + 4 < ends.len() {
            let s = [runs[k], runs[k + 1], runs[k + 2], runs[k + 3], runs[k + 4]];
            if found_pattern_cross(&s) && self.handle_possible_center(&s, y, ends[k + 4]) {
                k += 6;
            } else {
                k += 2;
            }
        }
    }
}

/// Three finders in symbol order: top-left (the corner), top-right, bottom-left.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Triple {
    /// The finder at the corner (the triangle's largest angle, a right one seen square on).
    pub tl: Finder,
    /// Top-right finder.
    pub tr: Finder,
    /// Bottom-left finder.
    pub bl: Finder,
    /// How far from an isosceles right triangle (0 = perfect): ranks the triples.
    pub score: f32,
}

impl Triple {
    /// Whether the triple is nearly an isosceles right triangle (a symbol seen square on or
    /// turned in the image), rather than one [`triples`] accepts only because perspective
    /// could draw it.
    pub fn near_square(&self) -> bool {
        self.score <= NEAR_SQUARE_SCORE
    }
}

/// [`Triple::score`] up to which a triple is nearly an isosceles right triangle: legs within
/// about 1.37 of each other at a right angle, or equal legs at a corner of about 77 to 115
/// degrees (the bound every triple had to meet before perspective was allowed for).
const NEAR_SQUARE_SCORE: f32 = 0.6;

/// The most negative cosine of the angle at the corner finder: at most 120 degrees. A symbol
/// seen at an angle is drawn as a quadrilateral whose corner angles leave 90 degrees.
const MIN_CORNER_COS: f32 = -0.5;

/// How much longer (squared) the side opposite the corner must be than the longer leg: the
/// corner is the largest angle by a margin, so which finder is the corner is not left to
/// chance (equal legs: a corner of at least 66 degrees; legs 1.6 to 1: at least 81). An
/// equilateral triangle, whose corner could be any finder, is no triple.
const MIN_HYPOTENUSE_MARGIN: f32 = 1.2;

/// The largest ratio of the longer leg to the shorter: a symbol seen at an angle is
/// foreshortened along one axis (a keystoned photo of a printed code drew its legs at 115 and
/// 161 px, 1.4 to 1, where the isosceles bound alone dropped the triple).
const MAX_LEG_RATIO: f32 = 1.6;

/// Whether three finders, whose squared distances are `s1 <= s2 <= hyp`, could be the corners
/// of one symbol seen in perspective: the angle at the corner finder (opposite the longest
/// side, so never below 60 degrees) not too obtuse and clearly the largest, and the legs of
/// comparable length. How near an isosceles right triangle they are ranks the triples; this
/// only bounds what perspective can draw. NaN fails every comparison, so it is no triple.
fn plausible_corner(s1: f32, s2: f32, hyp: f32) -> bool {
    let cos = (s1 + s2 - hyp) / (2.0 * (s1 * s2).sqrt());
    cos >= MIN_CORNER_COS
        && hyp >= s2 * MIN_HYPOTENUSE_MARGIN
        && s2 <= s1 * MAX_LEG_RATIO * MAX_LEG_RATIO
}

fn dist2(a: &Finder, b: &Finder) -> f32 {
    (a.x - b.x).powi(2) + (a.y - b.y).powi(2)
}

/// Orders three finders (ZXing `orderBestPatterns`): the one opposite the longest side is the
/// top-left; the other two are ordered so that the symbol reads the right way round (y down).
pub fn order(a: Finder, b: Finder, c: Finder) -> (Finder, Finder, Finder) {
    let ab = dist2(&a, &b);
    let bc = dist2(&b, &c);
    let ac = dist2(&a, &c);
    let (mut p_a, p_b, mut p_c) = if bc >= ab && bc >= ac {
        (b, a, c)
    } else if ac >= bc && ac >= ab {
        (a, b, c)
    } else {
        (a, c, b)
    };
    // cross product: (c - b) x (a - b) < 0 means a and c are swapped
    let cross = (p_c.x - p_b.x) * (p_a.y - p_b.y) - (p_c.y - p_b.y) * (p_a.x - p_b.x);
    if cross < 0.0 {
        std::mem::swap(&mut p_a, &mut p_c);
    }
    // p_a: bottom-left, p_b: top-left, p_c: top-right
    (p_b, p_c, p_a)
}

/// Ranks the plausible triples among the candidates, best first, at most `max`.
pub fn triples(found: &[Finder], max: usize) -> Vec<Triple> {
    // candidates come sorted by how often they were confirmed; geometry decides among them
    // (preferring only repeatedly-confirmed ones, as ZXing does, loses small finders in a busy
    // frame when rows are skipped)
    let pool: Vec<Finder> = found.iter().copied().take(MAX_POOL).collect();
    let n = pool.len();
    let mut out = Vec::new();
    for i in 0..n {
        for j in i + 1..n {
            for k in j + 1..n {
                let (a, b, c) = (pool[i], pool[j], pool[k]);
                let mods = [a.module, b.module, c.module];
                let lo = mods.iter().copied().fold(f32::MAX, f32::min);
                let hi = mods.iter().copied().fold(0.0, f32::max);
                if lo <= 0.0 || (hi - lo) / lo > 0.5 {
                    continue;
                }
                let mut d = [dist2(&a, &b), dist2(&b, &c), dist2(&a, &c)];
                d.sort_by(f32::total_cmp);
                let (s1, s2, hyp) = (d[0], d[1], d[2]);
                if s1 <= 0.0 {
                    continue;
                }
                if !plausible_corner(s1, s2, hyp) {
                    continue;
                }
                let score = ((hyp - 2.0 * s1).abs() + (hyp - 2.0 * s2).abs()) / hyp;
                // leg length in modules: 14 (version 1) .. 170 (version 40), with slack
                let module = (a.module + b.module + c.module) / 3.0;
                let leg = s1.sqrt() / module;
                if !(9.0..=200.0).contains(&leg) {
                    continue;
                }
                let (tl, tr, bl) = order(a, b, c);
                out.push(Triple { tl, tr, bl, score });
            }
        }
    }
    out.sort_by(|a, b| a.score.total_cmp(&b.score));
    out.truncate(max);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A finder pattern (7x7 modules) of `module` px centred at `(cx, cy)` on a `w` x `w`
    /// image, dark on light or (`light`) light on dark.
    fn finder_image(w: usize, cx: f32, cy: f32, module: f32, light: bool) -> BitImage {
        let mut bits = vec![u8::from(light); w * w];
        for y in 0..w {
            for x in 0..w {
                let u = ((x as f32 + 0.5 - cx) / module + 3.5).floor();
                let v = ((y as f32 + 0.5 - cy) / module + 3.5).floor();
                if !(0.0..7.0).contains(&u) || !(0.0..7.0).contains(&v) {
                    continue;
                }
                let ring = (u - 3.0).abs().max((v - 3.0).abs());
                let dark = ring != 2.0;
                bits[y * w + x] = u8::from(dark != light);
            }
        }
        BitImage {
            width: w,
            height: w,
            bits,
        }
    }

    #[test]
    fn row_runs_alternate_colours() {
        let mut runs = Vec::new();
        let row = [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0];
        assert_eq!(row_runs(&row, &mut runs), 1);
        assert_eq!(runs, vec![2, 10, 1, 1]);
        assert_eq!(row_runs(&[], &mut runs), 0);
        assert!(runs.is_empty());
    }

    #[test]
    fn row_runs_match_a_pixel_by_pixel_count() {
        // every length around the 8-pixel words, rows flat, striped and noisy
        let mut seed = 0x1234_5678_u32;
        for n in 1..40usize {
            for kind in 0..3 {
                let row: Vec<u8> = (0..n)
                    .map(|x| {
                        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                        match kind {
                            0 => 1,
                            1 => u8::from(x % 5 < 2),
                            _ => u8::from(seed >> 31 == 1),
                        }
                    })
                    .collect();
                let mut want = vec![1u32];
                for x in 1..n {
                    if row[x] == row[x - 1] {
                        *want.last_mut().unwrap() += 1;
                    } else {
                        want.push(1);
                    }
                }
                let mut runs = Vec::new();
                assert_eq!(row_runs(&row, &mut runs), row[0]);
                assert_eq!(runs, want, "{row:?}");
            }
        }
    }

    #[test]
    fn both_polarities_in_one_pass() {
        for light in [false, true] {
            let img = finder_image(60, 30.0, 30.0, 4.0, light);
            let [dark, inv] = find_finders_both(&img, RowScan::every(1), true);
            let (hit, miss) = if light { (inv, dark) } else { (dark, inv) };
            assert!(miss.is_empty(), "{light}: {miss:?}");
            assert_eq!(hit.len(), 1, "{light}: {hit:?}");
            assert!((hit[0].x - 30.0).abs() < 1.0 && (hit[0].y - 30.0).abs() < 1.0);
            assert!((hit[0].module - 4.0).abs() < 0.5);
        }
    }

    #[test]
    fn a_scan_that_skips_rows_finds_the_pattern_from_any_first_row() {
        // 2 px per module: the pattern is 14 rows tall, every third row crosses it
        let img = finder_image(60, 30.0, 30.0, 2.0, false);
        for first in 0..6 {
            let [dark, _] = find_finders_both(&img, RowScan { step: 3, first }, false);
            assert_eq!(dark.len(), 1, "first row {first}: {dark:?}");
            assert!((dark[0].x - 30.0).abs() < 1.5 && (dark[0].y - 30.0).abs() < 1.5);
        }
        // a step longer than the image: only the first row is scanned, which misses it
        let [dark, _] = find_finders_both(&img, RowScan { step: 60, first: 3 }, false);
        assert!(dark.is_empty(), "{dark:?}");
    }

    #[test]
    fn small_modules_with_a_pixel_off() {
        // 2.3 px per module: some rings are 2 px, some 3, the centre 7; the pixel slack
        // accepts what half a module alone would reject
        let img = finder_image(40, 20.0, 20.0, 2.3, false);
        assert_eq!(find_finders(&img, 1).len(), 1);
        // a 1 px light ring at 2.3 px per module: only the slack accepts it
        assert!(found_pattern_cross(&[3, 1, 8, 2, 2]));
        assert!(!found_pattern_cross(&[4, 1, 5, 3, 2]));
        // no slack for tiny patterns (noise speckles)
        assert!(!found_pattern_cross(&[2, 1, 3, 1, 1]));
        assert!(found_pattern_cross(&[4, 4, 12, 4, 4]));
        assert!(!found_pattern_cross(&[7, 4, 12, 4, 4]));
    }

    #[test]
    fn the_integer_pattern_check_is_the_module_tolerance() {
        // the definition in real numbers: each run within half a module (plus the slack) of
        // 1, 1, 3, 1, 1 modules; compared on every run combination up to 12 px
        let reference = |s: &[u32; 5]| {
            let total: u32 = s.iter().sum();
            if total < MIN_PATTERN {
                return false;
            }
            let module = f64::from(total) / 7.0;
            let max_var = module / 2.0 + f64::from(slack(total));
            [1.0, 1.0, 3.0, 1.0, 1.0]
                .iter()
                .zip(s)
                .all(|(n, &run)| (n * module - f64::from(run)).abs() < n * max_var)
        };
        let mut accepted = 0;
        for i in 0..13u32.pow(5) {
            let s: [u32; 5] = std::array::from_fn(|k| i / 13u32.pow(k as u32) % 13);
            assert_eq!(found_pattern_cross(&s), reference(&s), "{s:?}");
            accepted += usize::from(reference(&s));
        }
        assert!(accepted > 1000, "{accepted}");
    }

    fn at(x: f32, y: f32) -> Finder {
        Finder {
            x,
            y,
            module: 4.0,
            count: 3,
        }
    }

    #[test]
    fn a_symbol_seen_at_an_angle_makes_a_triple() {
        // the keystoned corpus photo's finders: legs of 115 and 161 px at 84 degrees, 1.4 to 1,
        // which the isosceles bound alone dropped (its score is above the near-square bound)
        let found = [at(311.0, 257.0), at(422.0, 286.0), at(286.0, 416.0)];
        let t = triples(&found, 6);
        assert_eq!(t.len(), 1);
        assert_eq!((t[0].tl.x, t[0].tr.x, t[0].bl.x), (311.0, 422.0, 286.0));
        assert!(!t[0].near_square());
        // square on: near square
        let square = [at(0.0, 0.0), at(150.0, 0.0), at(0.0, 150.0)];
        let t = triples(&square, 6);
        assert!(t.len() == 1 && t[0].near_square() && t[0].score < 1e-6);
    }

    #[test]
    fn no_perspective_draws_a_flat_or_lopsided_triangle() {
        // a right angle with legs 2 to 1: beyond the leg ratio
        assert!(triples(&[at(0.0, 0.0), at(200.0, 0.0), at(0.0, 100.0)], 6).is_empty());
        // legs 1.5 to 1: within it
        assert_eq!(
            triples(&[at(0.0, 0.0), at(150.0, 0.0), at(0.0, 100.0)], 6).len(),
            1
        );
        // equal legs at 130 degrees: beyond the corner angle
        let leg_at = |deg: f32| {
            let r = deg.to_radians();
            [
                at(0.0, 0.0),
                at(150.0, 0.0),
                at(150.0 * r.cos(), 150.0 * r.sin()),
            ]
        };
        assert!(triples(&leg_at(130.0), 6).is_empty());
        // at 118 degrees: within it (and beyond the near-square bound)
        let t = triples(&leg_at(118.0), 6);
        assert!(t.len() == 1 && !t[0].near_square());
        // at 62 degrees, nearly equilateral: the corner would be any finder
        assert!(triples(&leg_at(62.0), 6).is_empty());
        assert!(triples(&leg_at(60.0), 6).is_empty());
        // at 70 degrees the corner is clearly the largest angle
        assert_eq!(triples(&leg_at(70.0), 6).len(), 1);
    }
}

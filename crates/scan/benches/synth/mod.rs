//! Deterministic synthetic test images for the scanner: rendered Vouch labels (the `qrcode`
//! crate) on a cluttered scene, degraded the ways field photos are (low contrast, uneven light
//! and glare, blur, noise, 2-3 px per module, a small code in a 1080p frame, tilt and rotation,
//! inverted). Shared by the bench (`benches/scan.rs`) and the tests (`tests/scan_*.rs`) through
//! `#[path]`; every image is a pure function of its category and index.
#![allow(dead_code)]
// test-data generation: a failure here is a bug in the generator, and should stop the test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use image::GrayImage;
use qrcode::{Color, EcLevel, QrCode};
use vouch_protocol::{key::public_key_of, Label, Model, Serial};
use vouch_scan::detector::Perspective;

/// splitmix64: small, deterministic, good enough for test images.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn f(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.f()
    }
    /// Roughly standard normal (sum of uniforms).
    pub fn normal(&mut self) -> f32 {
        (0..4).map(|_| self.f()).sum::<f32>() * 1.732 - 3.464
    }
}

/// The compact text of synthetic label `i` (model, serial and a key from a fixed seed).
pub fn label_text(i: u32) -> String {
    let mut seed = [0u8; 32];
    seed[0] = 1;
    seed[1..5].copy_from_slice(&i.to_le_bytes());
    let key = p256::ecdsa::SigningKey::from_slice(&seed).unwrap();
    Label::new(
        Model::new(&format!("ACME-T{}", i % 7)).unwrap(),
        Serial::new(&format!("SN-{:06}", 1000 + i * 37)).unwrap(),
        public_key_of(&key),
    )
    .to_compact()
    .unwrap()
}

/// The module matrix of a text (EC level M).
pub fn modules(text: &str) -> (usize, Vec<bool>) {
    let code = QrCode::with_error_correction_level(text, EcLevel::M).unwrap();
    let w = code.width();
    (
        w,
        code.to_colors()
            .into_iter()
            .map(|c| c == Color::Dark)
            .collect(),
    )
}

/// A float luminance canvas, 0 = black, 1 = white.
pub struct Canvas {
    pub w: usize,
    pub h: usize,
    pub px: Vec<f32>,
}

impl Canvas {
    /// A cluttered scene: gradient, rectangles, lines (no code).
    pub fn scene(w: usize, h: usize, rng: &mut Rng) -> Self {
        let (a, b) = (rng.range(0.3, 0.8), rng.range(0.3, 0.8));
        let mut px = vec![0f32; w * h];
        for y in 0..h {
            for x in 0..w {
                px[y * w + x] = a + (b - a) * (x + y) as f32 / (w + h) as f32;
            }
        }
        let mut c = Canvas { w, h, px };
        for _ in 0..40 {
            let rw = rng.range(0.02, 0.3) * w as f32;
            let rh = rng.range(0.02, 0.3) * h as f32;
            let x0 = rng.range(-0.1, 1.0) * w as f32;
            let y0 = rng.range(-0.1, 1.0) * h as f32;
            let v = rng.range(0.05, 0.95);
            c.fill_rect(x0, y0, rw, rh, v);
        }
        for _ in 0..30 {
            // thin stripes, like text lines
            let x0 = rng.range(0.0, 1.0) * w as f32;
            let y0 = rng.range(0.0, 1.0) * h as f32;
            let len = rng.range(0.05, 0.4) * w as f32;
            let v = rng.range(0.0, 0.4);
            c.fill_rect(x0, y0, len, rng.range(1.0, 4.0), v);
        }
        c.blur(1, 1);
        c
    }

    pub fn flat(w: usize, h: usize, v: f32) -> Self {
        Canvas {
            w,
            h,
            px: vec![v; w * h],
        }
    }

    fn fill_rect(&mut self, x0: f32, y0: f32, rw: f32, rh: f32, v: f32) {
        let xs = x0.max(0.0) as usize;
        let ys = y0.max(0.0) as usize;
        let xe = ((x0 + rw).max(0.0) as usize).min(self.w);
        let ye = ((y0 + rh).max(0.0) as usize).min(self.h);
        for y in ys..ye {
            for x in xs..xe {
                self.px[y * self.w + x] = v;
            }
        }
    }

    /// Pastes a code: `dim` x `dim` modules, `quiet` modules of paper around, the paper's
    /// corners at `quad` (image pixels, clockwise from top-left), dark modules `fg`, paper `bg`.
    /// 3x3 supersampling.
    #[allow(clippy::too_many_arguments)]
    pub fn paste_code(
        &mut self,
        dim: usize,
        cells: &[bool],
        quiet: f32,
        quad: [(f32, f32); 4],
        fg: f32,
        bg: f32,
    ) {
        let d = dim as f32;
        let paper = [
            (-quiet, -quiet),
            (d + quiet, -quiet),
            (d + quiet, d + quiet),
            (-quiet, d + quiet),
        ];
        let inv = Perspective::quad_to_quad(quad, paper);
        let xs = quad.iter().map(|p| p.0);
        let ys = quad.iter().map(|p| p.1);
        let x0 = xs.clone().fold(f32::MAX, f32::min).max(0.0) as usize;
        let x1 = (xs.fold(0.0, f32::max).ceil() as usize + 1).min(self.w);
        let y0 = ys.clone().fold(f32::MAX, f32::min).max(0.0) as usize;
        let y1 = (ys.fold(0.0, f32::max).ceil() as usize + 1).min(self.h);
        for y in y0..y1 {
            for x in x0..x1 {
                let mut acc = 0.0;
                let mut n = 0;
                for sy in 0..3 {
                    for sx in 0..3 {
                        let px = x as f32 + (sx as f32 + 0.5) / 3.0;
                        let py = y as f32 + (sy as f32 + 0.5) / 3.0;
                        let (u, v) = inv.map(px, py);
                        if u < -quiet || v < -quiet || u >= d + quiet || v >= d + quiet {
                            continue;
                        }
                        n += 1;
                        let dark = u >= 0.0
                            && v >= 0.0
                            && u < d
                            && v < d
                            && cells[(v as usize).min(dim - 1) * dim + (u as usize).min(dim - 1)];
                        acc += if dark { fg } else { bg };
                    }
                }
                if n > 0 {
                    let i = y * self.w + x;
                    self.px[i] = (self.px[i] * (9 - n) as f32 + acc) / 9.0;
                }
            }
        }
    }

    /// Box blur of radius `r`, `passes` times (3 passes ~ Gaussian).
    pub fn blur(&mut self, r: usize, passes: usize) {
        if r == 0 {
            return;
        }
        let (w, h) = (self.w, self.h);
        let mut tmp = vec![0f32; w * h];
        for _ in 0..passes {
            for y in 0..h {
                let row = &self.px[y * w..(y + 1) * w];
                for x in 0..w {
                    let a = x.saturating_sub(r);
                    let b = (x + r).min(w - 1);
                    tmp[y * w + x] = row[a..=b].iter().sum::<f32>() / (b - a + 1) as f32;
                }
            }
            for x in 0..w {
                for y in 0..h {
                    let a = y.saturating_sub(r);
                    let b = (y + r).min(h - 1);
                    let mut s = 0.0;
                    for yy in a..=b {
                        s += tmp[yy * w + x];
                    }
                    self.px[y * w + x] = s / (b - a + 1) as f32;
                }
            }
        }
    }

    pub fn noise(&mut self, sigma: f32, rng: &mut Rng) {
        for p in self.px.iter_mut() {
            *p += sigma * rng.normal();
        }
    }

    /// Uneven light: a brightness ramp from `lo` to 1 across the image, plus a glare spot (an
    /// additive bright blob that saturates) at `spot` with radius `r`.
    pub fn light(&mut self, lo: f32, angle: f32, spot: (f32, f32), r: f32, strength: f32) {
        let (c, s) = (angle.cos(), angle.sin());
        let diag = ((self.w * self.w + self.h * self.h) as f32).sqrt();
        for y in 0..self.h {
            for x in 0..self.w {
                let t = ((x as f32 * c + y as f32 * s) / diag).clamp(-1.0, 1.0) * 0.5 + 0.5;
                let gain = lo + (1.0 - lo) * t;
                let d2 = (x as f32 - spot.0).powi(2) + (y as f32 - spot.1).powi(2);
                let glare = strength * (-d2 / (2.0 * r * r)).exp();
                let i = y * self.w + x;
                self.px[i] = self.px[i] * gain + glare;
            }
        }
    }

    pub fn invert(&mut self) {
        for p in self.px.iter_mut() {
            *p = 1.0 - *p;
        }
    }

    pub fn to_gray(&self) -> GrayImage {
        let data = self
            .px
            .iter()
            .map(|&p| (p.clamp(0.0, 1.0) * 255.0 + 0.5) as u8)
            .collect();
        GrayImage::from_raw(self.w as u32, self.h as u32, data).unwrap()
    }
}

/// The paper quad for a code of `span` modules (code + quiet zone, per side) of `module` px,
/// centred at `c`, rotated by `angle` radians, with perspective `tilt` (0 = none: the right
/// edge is shortened by that fraction).
pub fn quad(c: (f32, f32), span: f32, module: f32, angle: f32, tilt: f32) -> [(f32, f32); 4] {
    let half = span * module / 2.0;
    let pts = [
        (-half, -half),
        (half, -half * (1.0 - tilt)),
        (half, half * (1.0 - tilt)),
        (-half, half),
    ];
    let (cs, sn) = (angle.cos(), angle.sin());
    pts.map(|(x, y)| (c.0 + x * cs - y * sn, c.1 + x * sn + y * cs))
}

/// The categories of synthetic cases.
pub const CATEGORIES: [&str; 9] = [
    "clean",
    "low_contrast",
    "glare",
    "small_modules",
    "small_in_1080p",
    "blur",
    "noise",
    "tilt_rotation",
    "inverted",
];

/// Synthetic case `i` of a category: the image and the expected text.
pub fn case(category: &str, i: u32) -> (GrayImage, String) {
    let seed = category.bytes().fold(1469598103934665603u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(1099511628211)
    });
    let mut rng = Rng::new(seed ^ u64::from(i).wrapping_mul(0x1000_0000_01b3));
    let text = label_text(i);
    let (dim, cells) = modules(&text);
    let quiet = 4.0;
    let span = dim as f32 + 2.0 * quiet;
    let small_angle = rng.range(-0.12, 0.12);
    let (w, h) = if category == "small_in_1080p" {
        (1920, 1080)
    } else {
        (640, 480)
    };
    let mut c = Canvas::scene(w, h, &mut rng);
    let (mut fg, mut bg) = (rng.range(0.02, 0.15), rng.range(0.85, 0.98));
    let mut module = rng.range(4.5, 7.0);
    let mut angle = small_angle;
    let mut tilt = 0.0;
    match category {
        "low_contrast" => {
            let mid = rng.range(0.35, 0.65);
            let diff = rng.range(0.06, 0.12);
            fg = mid - diff / 2.0;
            bg = mid + diff / 2.0;
        }
        "small_modules" => module = 2.0 + (i % 3) as f32 * 0.5,
        "small_in_1080p" => module = rng.range(2.8, 4.0),
        "tilt_rotation" => {
            angle = rng.range(0.0, std::f32::consts::TAU);
            tilt = rng.range(0.05, 0.3);
        }
        _ => {}
    }
    let margin = span * module / 2.0 * 1.5;
    let cx = rng.range(margin, (w as f32 - margin).max(margin + 1.0));
    let cy = rng.range(margin, (h as f32 - margin).max(margin + 1.0));
    let q = quad((cx, cy), span, module, angle, tilt);
    c.paste_code(dim, &cells, quiet, q, fg, bg);
    match category {
        "low_contrast" => c.noise(0.01, &mut rng),
        "glare" => {
            let spot = (
                cx + rng.range(-0.3, 0.3) * span * module,
                cy + rng.range(-0.3, 0.3) * span * module,
            );
            c.light(
                rng.range(0.25, 0.45),
                rng.range(0.0, std::f32::consts::TAU),
                spot,
                rng.range(0.12, 0.25) * span * module,
                rng.range(0.6, 0.9),
            );
        }
        "small_modules" => c.blur(1, 1),
        "small_in_1080p" => {
            c.blur(1, 1);
            c.noise(0.02, &mut rng);
        }
        "blur" => {
            module = module.max(5.0);
            let _ = module;
            c.blur(2 + (i % 2) as usize, 3);
        }
        "noise" => c.noise(rng.range(0.12, 0.2), &mut rng),
        "tilt_rotation" => c.blur(1, 1),
        "inverted" => {
            c.invert();
            c.blur(1, 1);
        }
        _ => {}
    }
    (c.to_gray(), text)
}

/// A scene of `w` x `h` with no code.
pub fn empty_frame(w: usize, h: usize, i: u32) -> GrayImage {
    let mut rng = Rng::new(0xF00D ^ u64::from(i));
    let mut c = Canvas::scene(w, h, &mut rng);
    c.noise(0.02, &mut rng);
    c.to_gray()
}

/// A scene of `w` x `h` with `code` (an image, e.g. a corpus photo) pasted at a deterministic
/// place; scaled down to fit if it is larger than the frame.
pub fn frame_with(code: &GrayImage, w: usize, h: usize, i: u32) -> GrayImage {
    let mut rng = Rng::new(0xBEEF ^ u64::from(i));
    let mut out = Canvas::scene(w, h, &mut rng).to_gray();
    let (cw, ch) = code.dimensions();
    let fit = (w as f32 * 0.9 / cw as f32)
        .min(h as f32 * 0.9 / ch as f32)
        .min(1.0);
    let code = if fit < 1.0 {
        image::imageops::resize(
            code,
            ((cw as f32 * fit) as u32).max(1),
            ((ch as f32 * fit) as u32).max(1),
            image::imageops::FilterType::Triangle,
        )
    } else {
        code.clone()
    };
    let (cw, ch) = code.dimensions();
    let x = (rng.f() * (w as u32 - cw) as f32) as i64;
    let y = (rng.f() * (h as u32 - ch) as f32) as i64;
    image::imageops::overlay(&mut out, &code, x, y);
    out
}

/// Categories of synthetic camera frames: a label in a 1280x720 or 1920x1080 scene, through a
/// camera's mild blur and sensor noise, plus what makes each category hard.
/// `dense` is not a Vouch label: a long text (a URL with its parameters, a vCard) makes a
/// symbol of version 9 to 18 (180 to 560 bytes at level M), whose modules are small for its size; `denseblur` is the same
/// through the `blur` category's defocus.
pub const FRAME_CATEGORIES: [&str; 7] = [
    "typical",
    "small",
    "blur",
    "dim",
    "glare",
    "dense",
    "denseblur",
];

/// A long text of `n` characters from a fixed alphabet (a URL's), for dense symbols.
fn long_text(n: usize, rng: &mut Rng) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789-_/?=&.";
    let mut s = String::from("https://example.com/");
    while s.len() < n {
        s.push(char::from(
            ALPHABET[rng.next_u64() as usize % ALPHABET.len()],
        ));
    }
    s
}

/// Synthetic camera frame `i` of a category (see [`FRAME_CATEGORIES`]), `w` x `h`: the frame
/// and the expected text. A pure function of its arguments, like [`case`].
pub fn frame_case(category: &str, i: u32, w: usize, h: usize) -> (GrayImage, String) {
    let seed = category.bytes().fold(0x51ED_F00D_u64 ^ (w as u64), |h, b| {
        (h ^ u64::from(b)).wrapping_mul(1099511628211)
    });
    let mut rng = Rng::new(seed ^ u64::from(i).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let text = if category.starts_with("dense") {
        let n = rng.range(180.0, 560.0) as usize;
        long_text(n, &mut rng)
    } else {
        label_text(500 + i)
    };
    let (dim, cells) = modules(&text);
    let quiet = rng.range(1.5, 4.0);
    let span = dim as f32 + 2.0 * quiet;
    let mut c = Canvas::scene(w, h, &mut rng);
    let (mut fg, mut bg) = (rng.range(0.05, 0.2), rng.range(0.75, 0.95));
    let big = h as f32 / span * 0.8;
    let module = match category {
        "small" => rng.range(2.0, 3.0),
        "blur" => rng.range(3.5, 6.0),
        "dense" | "denseblur" => rng.range(2.5, big.min(6.0)),
        _ => rng.range(3.0, big.min(9.0)),
    };
    if category == "dim" {
        let mid = rng.range(0.25, 0.5);
        let diff = rng.range(0.08, 0.16);
        fg = mid - diff / 2.0;
        bg = mid + diff / 2.0;
    }
    let angle = rng.range(-0.35, 0.35);
    let tilt = rng.range(0.0, 0.2);
    let margin = span * module / 2.0 * 1.5;
    let cx = rng.range(margin, (w as f32 - margin).max(margin + 1.0));
    let cy = rng.range(margin, (h as f32 - margin).max(margin + 1.0));
    c.paste_code(
        dim,
        &cells,
        quiet,
        quad((cx, cy), span, module, angle, tilt),
        fg,
        bg,
    );
    match category {
        "blur" | "denseblur" => c.blur(2, 2),
        "glare" => {
            let spot = (
                cx + rng.range(-0.3, 0.3) * span * module,
                cy + rng.range(-0.3, 0.3) * span * module,
            );
            c.light(
                rng.range(0.3, 0.5),
                rng.range(0.0, std::f32::consts::TAU),
                spot,
                rng.range(0.12, 0.25) * span * module,
                rng.range(0.5, 0.8),
            );
            c.blur(1, 1);
        }
        _ => c.blur(1, 1),
    }
    c.noise(if category == "dim" { 0.025 } else { 0.015 }, &mut rng);
    (c.to_gray(), text)
}

/// A code placed in a frame: its text and its symbol's corners in frame pixels.
pub type Placed = (String, [(f32, f32); 4]);

/// A frame (`w` x `h`) holding several codes side by side in `cols` columns (a rack of labels),
/// each slightly turned, on a cluttered scene with a camera's mild blur and noise: the frame
/// and, for each code, its text and the symbol's corners in frame pixels (top-left, top-right,
/// bottom-right, bottom-left of the symbol itself, quiet zone excluded), row by row.
pub fn multi_frame(
    texts: &[String],
    cols: usize,
    w: usize,
    h: usize,
    i: u32,
) -> (GrayImage, Vec<Placed>) {
    let mut rng = Rng::new(0x003C_0DE5 ^ u64::from(i));
    let mut c = Canvas::scene(w, h, &mut rng);
    let cols = cols.max(1);
    let rows = texts.len().div_ceil(cols).max(1);
    let (slot_w, slot_h) = (w as f32 / cols as f32, h as f32 / rows as f32);
    let mut out = Vec::new();
    for (k, text) in texts.iter().enumerate() {
        let (dim, cells) = modules(text);
        let quiet = 3.0;
        let span = dim as f32 + 2.0 * quiet;
        let module = (slot_w.min(slot_h) * 0.8 / span).min(6.0);
        let (col, row) = ((k % cols) as f32, (k / cols) as f32);
        let centre = (
            slot_w * (col + 0.5) + rng.range(-0.04, 0.04) * slot_w,
            slot_h * (row + 0.5) + rng.range(-0.04, 0.04) * slot_h,
        );
        let q = quad(centre, span, module, rng.range(-0.15, 0.15), 0.0);
        c.paste_code(dim, &cells, quiet, q, 0.1, 0.9);
        let d = dim as f32;
        let paper = [
            (-quiet, -quiet),
            (d + quiet, -quiet),
            (d + quiet, d + quiet),
            (-quiet, d + quiet),
        ];
        let to_frame = Perspective::quad_to_quad(paper, q);
        let corners = [(0.0, 0.0), (d, 0.0), (d, d), (0.0, d)].map(|(u, v)| to_frame.map(u, v));
        out.push((text.clone(), corners));
    }
    c.blur(1, 1);
    c.noise(0.015, &mut rng);
    (c.to_gray(), out)
}

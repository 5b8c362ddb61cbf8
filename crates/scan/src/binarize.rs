//! Turning grey pixels into black and white: the local block binarizer (a port of ZXing's
//! `HybridBinarizer`), a global Otsu threshold, and small grey-level helpers (resampling,
//! contrast stretch).
//!
//! Every function here works on plain slices, never panics on any size (0x0 included), and runs
//! in time linear in the pixel count.

/// A black/white image: one byte per pixel, 1 = black (a dark module), 0 = white.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BitImage {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Row-major pixels, `width * height` of them, each 0 or 1.
    pub bits: Vec<u8>,
}

impl BitImage {
    /// Whether the pixel at `(x, y)` is black; outside the image counts as white.
    #[inline]
    pub fn get(&self, x: usize, y: usize) -> bool {
        x < self.width && y < self.height && self.bits[y * self.width + x] != 0
    }

    /// Like [`BitImage::get`] for signed coordinates.
    #[inline]
    pub fn get_i(&self, x: i64, y: i64) -> bool {
        x >= 0 && y >= 0 && self.get(x as usize, y as usize)
    }

    /// The same image with black and white swapped (for light-on-dark codes).
    pub fn inverted(&self) -> BitImage {
        BitImage {
            width: self.width,
            height: self.height,
            bits: self.bits.iter().map(|b| b ^ 1).collect(),
        }
    }
}

/// A grey image borrowed as a slice (row-major, 0 = black, 255 = white).
#[derive(Clone, Copy, Debug)]
pub struct Gray<'a> {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width * height` luma bytes.
    pub data: &'a [u8],
}

impl<'a> Gray<'a> {
    /// Wraps a luma slice; `None` when the slice is shorter than `width * height`.
    pub fn new(width: usize, height: usize, data: &'a [u8]) -> Option<Self> {
        let needed = width.checked_mul(height)?;
        (data.len() >= needed).then_some(Gray {
            width,
            height,
            data: &data[..needed],
        })
    }
}

/// An owned grey image.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GrayBuf {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width * height` luma bytes.
    pub data: Vec<u8>,
}

impl GrayBuf {
    /// Borrows this image.
    pub fn view(&self) -> Gray<'_> {
        Gray {
            width: self.width,
            height: self.height,
            data: &self.data,
        }
    }
}

const BLOCK: usize = 8;
/// ZXing's minimum block contrast: flatter blocks count as background.
pub const MIN_DYNAMIC_RANGE: i32 = 24;

/// ZXing's hybrid binarizer: per 8x8 block a black point (the block mean, or for flat blocks a
/// value derived from the neighbours), then each block is thresholded at the average black point
/// of its 5x5 block neighbourhood. Images smaller than 40 px on a side use [`otsu`] instead.
pub fn hybrid(img: Gray<'_>) -> BitImage {
    hybrid_with(img, MIN_DYNAMIC_RANGE)
}

/// [`hybrid`] with another minimum block contrast (a low one reads low-contrast codes, at the
/// price of more noise in flat areas).
pub fn hybrid_with(img: Gray<'_>, min_range: i32) -> BitImage {
    let (w, h) = (img.width, img.height);
    if w < 5 * BLOCK || h < 5 * BLOCK {
        return otsu(img);
    }
    let sub_w = w.div_ceil(BLOCK);
    let sub_h = h.div_ceil(BLOCK);
    let max_x = w - BLOCK;
    let max_y = h - BLOCK;
    let mut black = vec![0i32; sub_w * sub_h];
    let mut flat = vec![false; sub_w * sub_h];
    for by in 0..sub_h {
        let yoff = (by * BLOCK).min(max_y);
        for bx in 0..sub_w {
            let xoff = (bx * BLOCK).min(max_x);
            let (sum, min, max) = block_stats(img.data, w, xoff, yoff);
            let mut average = sum >> 6;
            if max - min <= min_range {
                flat[by * sub_w + bx] = true;
                // A flat block: assume it is light background unless its neighbours say it is
                // inside something dark.
                average = min / 2;
                if by > 0 && bx > 0 {
                    let neighbour = (black[(by - 1) * sub_w + bx]
                        + 2 * black[by * sub_w + bx - 1]
                        + black[(by - 1) * sub_w + bx - 1])
                        / 4;
                    if min < neighbour {
                        average = neighbour;
                    }
                }
            }
            black[by * sub_w + bx] = average;
        }
    }
    let mut bits = vec![0u8; w * h];
    let cap = |v: usize, hi: usize| v.clamp(2, hi.saturating_sub(3).max(2));
    // Summed-area tables over the block grid (all black points; those of blocks with
    // contrast; how many have contrast), so each 5x5 neighbourhood costs four lookups.
    let stride = sub_w + 1;
    let mut sat = vec![[0i32; 3]; stride * (sub_h + 1)];
    for by in 0..sub_h {
        let mut row = [0i32; 3];
        for bx in 0..sub_w {
            let i = by * sub_w + bx;
            let contrast = i32::from(!flat[i]);
            row[0] += black[i];
            row[1] += black[i] * contrast;
            row[2] += contrast;
            let above = sat[by * stride + bx + 1];
            sat[(by + 1) * stride + bx + 1] =
                [above[0] + row[0], above[1] + row[1], above[2] + row[2]];
        }
    }
    let window = |y0: usize, x0: usize, y1: usize, x1: usize| -> [i32; 3] {
        let (a, b) = (sat[y0 * stride + x0], sat[y0 * stride + x1]);
        let (c, d) = (sat[y1 * stride + x0], sat[y1 * stride + x1]);
        [0, 1, 2].map(|k| d[k] - b[k] - c[k] + a[k])
    };
    for by in 0..sub_h {
        let yoff = (by * BLOCK).min(max_y);
        let top = cap(by, sub_h);
        for bx in 0..sub_w {
            let xoff = (bx * BLOCK).min(max_x);
            let left = cap(bx, sub_w);
            // The 5x5 neighbourhood's mean black point, over the blocks that have contrast:
            // flat blocks (background, or a flat grey surface next to the code) would drag the
            // threshold of the edges beside them down and thin out dark modules there. Only
            // where every neighbour is flat, and for flat blocks themselves, does ZXing's plain
            // mean apply.
            let [sum_all, sum, n] = window(top - 2, left - 2, top + 3, left + 3);
            let threshold = if n > 0 && !flat[by * sub_w + bx] {
                sum / n
            } else {
                sum_all / 25
            };
            for yy in 0..BLOCK {
                let base = (yoff + yy) * w + xoff;
                let src = &img.data[base..base + BLOCK];
                for (b, &p) in bits[base..base + BLOCK].iter_mut().zip(src) {
                    *b = u8::from(i32::from(p) <= threshold);
                }
            }
        }
    }
    BitImage {
        width: w,
        height: h,
        bits,
    }
}

/// Sum, minimum and maximum of the 8x8 block at `(xoff, yoff)` (inside the image). Written
/// over fixed-size rows so that the compiler keeps it in vector registers.
#[inline]
fn block_stats(data: &[u8], w: usize, xoff: usize, yoff: usize) -> (i32, i32, i32) {
    let (mut lo, mut hi, mut sum) = ([255u8; BLOCK], [0u8; BLOCK], [0u16; BLOCK]);
    for yy in 0..BLOCK {
        let start = (yoff + yy) * w + xoff;
        let Some(row) = data.get(start..start + BLOCK) else {
            continue;
        };
        for i in 0..BLOCK {
            lo[i] = lo[i].min(row[i]);
            hi[i] = hi[i].max(row[i]);
            sum[i] += u16::from(row[i]);
        }
    }
    let min = lo.iter().copied().min().unwrap_or(0);
    let max = hi.iter().copied().max().unwrap_or(0);
    let sum: u32 = sum.iter().map(|&v| u32::from(v)).sum();
    (sum as i32, i32::from(min), i32::from(max))
}

/// The Otsu threshold of a grey image (the level that best splits its histogram in two).
pub fn otsu_level(img: Gray<'_>) -> u8 {
    let mut hist = [0u64; 256];
    for &p in img.data {
        hist[usize::from(p)] += 1;
    }
    let total: u64 = hist.iter().sum();
    if total == 0 {
        return 128;
    }
    let sum_all: f64 = hist
        .iter()
        .enumerate()
        .map(|(i, &c)| i as f64 * c as f64)
        .sum();
    let (mut w_b, mut sum_b, mut best, mut level) = (0f64, 0f64, -1f64, 128u8);
    for (t, &count) in hist.iter().enumerate() {
        w_b += count as f64;
        if w_b == 0.0 {
            continue;
        }
        let w_f = total as f64 - w_b;
        if w_f == 0.0 {
            break;
        }
        sum_b += t as f64 * count as f64;
        let m_b = sum_b / w_b;
        let m_f = (sum_all - sum_b) / w_f;
        let between = w_b * w_f * (m_b - m_f) * (m_b - m_f);
        if between > best {
            best = between;
            level = t as u8;
        }
    }
    level
}

/// Global Otsu binarization.
pub fn otsu(img: Gray<'_>) -> BitImage {
    let level = otsu_level(img);
    threshold(img, level)
}

/// Every pixel at or below `level` is black.
pub fn threshold(img: Gray<'_>, level: u8) -> BitImage {
    BitImage {
        width: img.width,
        height: img.height,
        bits: img.data.iter().map(|&p| u8::from(p <= level)).collect(),
    }
}

/// Stretches the 1st..99th percentile of the grey levels to 0..255 (contrast normalisation).
pub fn stretch(img: Gray<'_>) -> GrayBuf {
    let mut hist = [0usize; 256];
    for &p in img.data {
        hist[usize::from(p)] += 1;
    }
    let n = img.data.len();
    let cut = n / 100;
    let (mut lo, mut acc) = (0usize, 0usize);
    for (i, &c) in hist.iter().enumerate() {
        acc += c;
        if acc > cut {
            lo = i;
            break;
        }
    }
    let (mut hi, mut acc) = (255usize, 0usize);
    for (i, &c) in hist.iter().enumerate().rev() {
        acc += c;
        if acc > cut {
            hi = i;
            break;
        }
    }
    let range = hi.saturating_sub(lo).max(1);
    let mut lut = [0u8; 256];
    for (i, v) in lut.iter_mut().enumerate() {
        *v = ((i.saturating_sub(lo)) * 255 / range).min(255) as u8;
    }
    GrayBuf {
        width: img.width,
        height: img.height,
        data: img.data.iter().map(|&p| lut[usize::from(p)]).collect(),
    }
}

/// Shrinks by an integer factor, averaging each `f x f` box.
pub fn downscale(img: Gray<'_>, f: usize) -> GrayBuf {
    let f = f.max(1);
    if f == 2 {
        return halve(img);
    }
    let (w, h) = (img.width / f, img.height / f);
    let mut data = vec![0u8; w * h];
    let area = (f * f) as u32;
    for y in 0..h {
        for x in 0..w {
            let mut sum = 0u32;
            for yy in 0..f {
                let row = (y * f + yy) * img.width + x * f;
                for &p in &img.data[row..row + f] {
                    sum += u32::from(p);
                }
            }
            data[y * w + x] = (sum / area) as u8;
        }
    }
    GrayBuf {
        width: w,
        height: h,
        data,
    }
}

/// [`downscale`] by 2: the mean of each 2x2 box, two rows at a time.
fn halve(img: Gray<'_>) -> GrayBuf {
    let (w, h) = (img.width / 2, img.height / 2);
    let mut data = vec![0u8; w * h];
    if w > 0 {
        for (y, out) in data.chunks_exact_mut(w).enumerate() {
            let a = &img.data[2 * y * img.width..][..2 * w];
            let b = &img.data[(2 * y + 1) * img.width..][..2 * w];
            for (x, o) in out.iter_mut().enumerate() {
                let s = u16::from(a[2 * x])
                    + u16::from(a[2 * x + 1])
                    + u16::from(b[2 * x])
                    + u16::from(b[2 * x + 1]);
                *o = (s / 4) as u8;
            }
        }
    }
    GrayBuf {
        width: w,
        height: h,
        data,
    }
}

/// Box blur of radius 1 (3x3 mean), separable with running sums; borders use the pixels that
/// exist.
pub fn box_blur3(img: Gray<'_>) -> GrayBuf {
    let (w, h) = (img.width, img.height);
    if w == 0 || h == 0 {
        return GrayBuf {
            width: w,
            height: h,
            data: Vec::new(),
        };
    }
    // horizontal sums of 3 (edges: the pixel itself counted for the missing neighbour)
    let mut tmp = vec![0u16; w * h];
    for (src, dst) in img.data.chunks_exact(w).zip(tmp.chunks_exact_mut(w)) {
        for x in 0..w {
            let l = src[x.saturating_sub(1)];
            let r = src[(x + 1).min(w - 1)];
            dst[x] = u16::from(l) + u16::from(src[x]) + u16::from(r);
        }
    }
    let mut data = vec![0u8; w * h];
    for y in 0..h {
        let up = &tmp[y.saturating_sub(1) * w..][..w];
        let mid = &tmp[y * w..][..w];
        let down = &tmp[(y + 1).min(h - 1) * w..][..w];
        let out = &mut data[y * w..][..w];
        for x in 0..w {
            out[x] = ((u32::from(up[x]) + u32::from(mid[x]) + u32::from(down[x])) / 9) as u8;
        }
    }
    GrayBuf {
        width: w,
        height: h,
        data,
    }
}

/// Unsharp masking: `p + amount * (p - mean)` with the mean over a `(2r+1)^2` box (integral
/// image), clamped to 0..=255. Restores the edges between modules that defocus has merged.
pub fn sharpen(img: Gray<'_>, r: usize, amount: f32) -> GrayBuf {
    let (w, h) = (img.width, img.height);
    if w == 0 || h == 0 {
        return GrayBuf {
            width: w,
            height: h,
            data: Vec::new(),
        };
    }
    // box sums, separable: each row's horizontal sums over [x-r, x+r] (clipped), then the
    // vertical sums of those over [y-r, y+r]; the mean divides by the clipped box's area,
    // through a table of fixed-point reciprocals (no division per pixel)
    let mut rows = vec![0u32; w * h];
    for (src, dst) in img.data.chunks_exact(w).zip(rows.chunks_exact_mut(w)) {
        let mut acc: u32 = src[..r.min(w)].iter().map(|&p| u32::from(p)).sum();
        for x in 0..w {
            if x + r < w {
                acc += u32::from(src[x + r]);
            }
            if x > r {
                acc -= u32::from(src[x - r - 1]);
            }
            dst[x] = acc;
        }
    }
    let side = 2 * r + 1;
    let recip: Vec<u32> = (0..=side * side)
        .map(|a| if a == 0 { 0 } else { (1u32 << 20) / a as u32 })
        .collect();
    let width_of = |x: usize| (x + r + 1).min(w) - x.saturating_sub(r);
    let k = (amount * 256.0) as i32;
    let mut col = vec![0u32; w];
    for row in rows.chunks_exact(w).take(r.min(h)) {
        for (c, &v) in col.iter_mut().zip(row) {
            *c += v;
        }
    }
    let mut data = vec![0u8; w * h];
    for y in 0..h {
        if y + r < h {
            for (c, &v) in col.iter_mut().zip(&rows[(y + r) * w..(y + r + 1) * w]) {
                *c += v;
            }
        }
        if y > r {
            for (c, &v) in col.iter_mut().zip(&rows[(y - r - 1) * w..(y - r) * w]) {
                *c -= v;
            }
        }
        let height = (y + r + 1).min(h) - y.saturating_sub(r);
        let src = &img.data[y * w..(y + 1) * w];
        let out = &mut data[y * w..(y + 1) * w];
        for x in 0..w {
            let area = height * width_of(x);
            let mean = ((u64::from(col[x]) * u64::from(recip[area])) >> 20) as i32;
            let p = i32::from(src[x]);
            out[x] = (p + (((p - mean) * k) >> 8)).clamp(0, 255) as u8;
        }
    }
    GrayBuf {
        width: w,
        height: h,
        data,
    }
}

/// Bilinear sample at a real-valued position (pixel centres at integer + 0.5); clamps to the
/// border. Returns 255 for an empty image.
#[inline]
pub fn sample_bilinear(img: Gray<'_>, x: f32, y: f32) -> u8 {
    if img.width == 0 || img.height == 0 {
        return 255;
    }
    let fx = (x - 0.5).clamp(0.0, (img.width - 1) as f32);
    let fy = (y - 0.5).clamp(0.0, (img.height - 1) as f32);
    let x0 = fx as usize;
    let y0 = fy as usize;
    let x1 = (x0 + 1).min(img.width - 1);
    let y1 = (y0 + 1).min(img.height - 1);
    let ax = fx - x0 as f32;
    let ay = fy - y0 as f32;
    let p = |x: usize, y: usize| f32::from(img.data[y * img.width + x]);
    let top = p(x0, y0) * (1.0 - ax) + p(x1, y0) * ax;
    let bottom = p(x0, y1) * (1.0 - ax) + p(x1, y1) * ax;
    (top * (1.0 - ay) + bottom * ay + 0.5) as u8
}

/// Cuts the rectangle `x0..x0+w, y0..y0+h` (clipped to the image) and resamples it by `scale`
/// (bilinear; below 1 it averages with box filtering first so that thin modules are not lost).
pub fn crop_scaled(img: Gray<'_>, x0: usize, y0: usize, w: usize, h: usize, scale: f32) -> GrayBuf {
    let x0 = x0.min(img.width);
    let y0 = y0.min(img.height);
    let w = w.min(img.width - x0);
    let h = h.min(img.height - y0);
    let scale = if scale.is_finite() && scale > 0.0 {
        scale
    } else {
        1.0
    };
    let out_w = ((w as f32 * scale) as usize).max(1);
    let out_h = ((h as f32 * scale) as usize).max(1);
    if w == 0 || h == 0 {
        return GrayBuf::default();
    }
    // Pre-shrink by an integer factor when shrinking a lot, then bilinear.
    let f = if scale < 1.0 {
        ((1.0 / scale) as usize).max(1)
    } else {
        1
    };
    let mut cut = Vec::with_capacity(w * h);
    for y in y0..y0 + h {
        cut.extend_from_slice(&img.data[y * img.width + x0..y * img.width + x0 + w]);
    }
    let base = GrayBuf {
        width: w,
        height: h,
        data: cut,
    };
    let base = if f > 1 {
        downscale(base.view(), f)
    } else {
        base
    };
    if base.width == 0 || base.height == 0 {
        return GrayBuf::default();
    }
    resample(base.view(), out_w, out_h)
}

/// Where output coordinate `i` of `n` samples an axis of `len` pixels: the two source indices
/// and the weight of the second in 1/256 (the same positions as [`sample_bilinear`]).
fn taps(n: usize, len: usize) -> Vec<(usize, usize, u32)> {
    let s = len as f32 / n as f32;
    (0..n)
        .map(|i| {
            let f = ((i as f32 + 0.5) * s - 0.5).clamp(0.0, (len - 1) as f32);
            let i0 = f as usize;
            let w = ((f - i0 as f32) * 256.0 + 0.5) as u32;
            (i0, (i0 + 1).min(len - 1), w.min(256))
        })
        .collect()
}

/// Bilinear resampling of a whole (non-empty) image to `out_w` x `out_h`, in fixed point with
/// the taps of each column computed once.
fn resample(v: Gray<'_>, out_w: usize, out_h: usize) -> GrayBuf {
    let cols = taps(out_w, v.width);
    let rows = taps(out_h, v.height);
    let mut data = vec![0u8; out_w * out_h];
    for (out, &(y0, y1, wy)) in data.chunks_exact_mut(out_w).zip(&rows) {
        let r0 = &v.data[y0 * v.width..][..v.width];
        let r1 = &v.data[y1 * v.width..][..v.width];
        for (o, &(x0, x1, wx)) in out.iter_mut().zip(&cols) {
            let top = u32::from(r0[x0]) * (256 - wx) + u32::from(r0[x1]) * wx;
            let bottom = u32::from(r1[x0]) * (256 - wx) + u32::from(r1[x1]) * wx;
            *o = ((top * (256 - wy) + bottom * wy + (1 << 15)) >> 16) as u8;
        }
    }
    GrayBuf {
        width: out_w,
        height: out_h,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hybrid_handles_any_size() {
        for (w, h) in [(0, 0), (1, 1), (39, 200), (41, 41), (100, 7), (333, 129)] {
            let data = vec![128u8; w * h];
            let img = Gray::new(w, h, &data).unwrap();
            let bits = hybrid(img);
            assert_eq!(bits.bits.len(), w * h);
        }
    }

    #[test]
    fn hybrid_separates_dark_from_light() {
        let (w, h) = (64, 64);
        let data: Vec<u8> = (0..w * h)
            .map(|i| if (i % w) < 32 { 40 } else { 200 })
            .collect();
        let bits = hybrid(Gray::new(w, h, &data).unwrap());
        assert!(bits.get(30, 30));
        assert!(!bits.get(34, 30));
    }

    #[test]
    fn sharpen_matches_the_box_mean_definition() {
        // p + amount * (p - mean of the clipped (2r+1)^2 box), checked pixel by pixel against
        // a direct computation (the fixed-point mean may differ by one grey level)
        let (w, h, r, amount) = (23usize, 17usize, 3usize, 2.0f32);
        let data: Vec<u8> = (0..w * h)
            .map(|i| ((i * 37 + i / w * 11) % 256) as u8)
            .collect();
        let img = Gray::new(w, h, &data).unwrap();
        let out = sharpen(img, r, amount);
        for y in 0..h {
            for x in 0..w {
                let (y0, y1) = (y.saturating_sub(r), (y + r + 1).min(h));
                let (x0, x1) = (x.saturating_sub(r), (x + r + 1).min(w));
                let mut sum = 0u32;
                for yy in y0..y1 {
                    for xx in x0..x1 {
                        sum += u32::from(data[yy * w + xx]);
                    }
                }
                let mean = (sum / ((y1 - y0) * (x1 - x0)) as u32) as i32;
                let p = i32::from(data[y * w + x]);
                let k = (amount * 256.0) as i32;
                let want = (p + (((p - mean) * k) >> 8)).clamp(0, 255);
                let got = i32::from(out.data[y * w + x]);
                assert!((got - want).abs() <= 2, "({x}, {y}): {got} vs {want}");
            }
        }
        assert!(sharpen(Gray::new(0, 0, &[]).unwrap(), 3, 2.0)
            .data
            .is_empty());
    }

    #[test]
    fn crop_scaled_clips() {
        let data = vec![7u8; 100];
        let img = Gray::new(10, 10, &data).unwrap();
        let out = crop_scaled(img, 5, 5, 100, 100, 2.0);
        assert_eq!((out.width, out.height), (10, 10));
        let out = crop_scaled(img, 50, 50, 10, 10, 2.0);
        assert_eq!(out.data.len(), 0);
    }
}

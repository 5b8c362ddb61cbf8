//! Printable labels: the QR code of the compact label text, the manual-entry line and the key
//! fingerprint, as PNG or SVG, and SVG sheets with one label per device for a production line.
//!
//! # The code
//!
//! The QR code holds exactly [`Label::to_compact`], encoded as **one alphanumeric segment**
//! (built with [`qrcode::bits::Bits`], never auto-segmented), in the smallest version that fits,
//! with error-correction level [`LABEL_EC_LEVEL`] and a quiet zone of [`QUIET_ZONE`] modules.
//! A typical label (`VOUCH1:ACME-T1:SN-0001:...`, 78 characters) is version 5 (37 × 37 modules).
//!
//! # What a label shows
//!
//! Under (PNG) or beside (SVG) the code: the serial, the key fingerprint (`FP XXXX-XXXX-XXXX-XXXX`,
//! what a supervisor compares by eye) and the manual-entry line ([`Label::to_manual`]) wrapped
//! at spaces. Type the wrapped lines back with a single space where each line breaks.
//!
//! # Sizes
//!
//! SVG is in millimetres, [`SVG_MODULE_MM`] per module (a version-5 code with its quiet zone is
//! 22.5 mm wide). The PNG is [`PNG_MODULE_PX`] pixels per module and declares 600 dpi, so it
//! prints at the same 0.42 mm per module; its text uses the public-domain 8×8 bitmap font of
//! the `font8x8` crate, drawn at twice its size.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use qrcode::bits::Bits;
use qrcode::{Color, EcLevel, QrCode, Version};
use vouch_protocol::{Label, Model, Serial};

use crate::error::{Error, Result};
use crate::store;

/// The error-correction level of label codes: **Q** (about 25 % of the code may be lost).
///
/// Labels live on devices: they get scratched, smudged, partly covered by a cable or a
/// thumb, and are read by tablet cameras at an angle. Q recovers from that much damage, where
/// M recovers 15 %. The cost is small: for a typical label Q needs version 5 (37 modules
/// across) where M would need version 4 (33), so at a fixed printed width each module is about
/// 10 % smaller. H (30 %) would need version 6 (41 modules) for little more robustness. Finder
/// patterns, not data, are what fails first on tiny prints, and they do not depend on the level.
pub const LABEL_EC_LEVEL: EcLevel = EcLevel::Q;
/// The quiet zone around the code, in modules (ISO/IEC 18004 asks for 4).
pub const QUIET_ZONE: usize = 4;
/// PNG pixels per module.
pub const PNG_MODULE_PX: usize = 10;
/// The PNG's declared resolution, in dots per inch.
pub const PNG_DPI: u32 = 600;
/// SVG millimetres per module.
pub const SVG_MODULE_MM: f64 = 0.5;

const PNG_TEXT_SCALE: usize = 2;
const GLYPH: usize = 8;

/// A QR code as a square grid of modules, without quiet zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QrGrid {
    width: usize,
    version: i16,
    dark: Vec<bool>,
}

impl QrGrid {
    /// Modules per side (without the quiet zone).
    pub fn width(&self) -> usize {
        self.width
    }

    /// The QR version (1 to 40).
    pub fn version(&self) -> i16 {
        self.version
    }

    /// Whether the module at column `x`, row `y` is dark (false outside the code).
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.width && y < self.width && self.dark.get(y * self.width + x) == Some(&true)
    }
}

/// Encodes `text` (QR alphanumeric characters only) as a single alphanumeric segment in the
/// smallest version that holds it at [`LABEL_EC_LEVEL`].
pub fn qr_alphanumeric(text: &str) -> Result<QrGrid> {
    const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
    if let Some((i, c)) = text.bytes().enumerate().find(|(_, c)| !ALNUM.contains(c)) {
        return Err(Error::Render(format!(
            "character {:?} at position {i} is not a QR alphanumeric character",
            char::from(c)
        )));
    }
    for version in 1..=40 {
        let mut bits = Bits::new(Version::Normal(version));
        if bits.push_alphanumeric_data(text.as_bytes()).is_err()
            || bits.push_terminator(LABEL_EC_LEVEL).is_err()
        {
            continue;
        }
        let code = QrCode::with_bits(bits, LABEL_EC_LEVEL)
            .map_err(|e| Error::Render(format!("QR encoding failed: {e}")))?;
        let width = code.width();
        let dark = code
            .to_colors()
            .into_iter()
            .map(|c| c == Color::Dark)
            .collect();
        return Ok(QrGrid {
            width,
            version,
            dark,
        });
    }
    Err(Error::Render(
        "the label text is too long for a QR code".into(),
    ))
}

/// The text lines printed with the code: the serial, the fingerprint, then the manual-entry
/// line wrapped at spaces to at most `max_chars` per line.
pub fn label_lines(label: &Label, max_chars: usize) -> Result<Vec<String>> {
    let mut lines = vec![
        label.serial().as_str().to_string(),
        format!("FP {}", label.key().fingerprint()),
    ];
    lines.extend(wrap(&label.to_manual()?, max_chars));
    Ok(lines)
}

/// Greedy word wrap; a word longer than a line is cut.
fn wrap(text: &str, max_chars: usize) -> Vec<String> {
    let max_chars = max_chars.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        while word.len() > max_chars {
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            lines.push(word.drain(..max_chars).collect());
        }
        let word: String = word.into_iter().collect();
        if line.is_empty() {
            line = word;
        } else if line.chars().count() + 1 + word.chars().count() <= max_chars {
            line.push(' ');
            line.push_str(&word);
        } else {
            lines.push(std::mem::replace(&mut line, word));
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

// ---------------------------------------------------------------------------------------------
// PNG

/// Renders a label as an 8-bit greyscale PNG: the code with its quiet zone, and under it the
/// serial, the fingerprint and the manual-entry line (see the module documentation).
pub fn label_png_bytes(label: &Label) -> Result<Vec<u8>> {
    let compact = label.to_compact()?;
    let grid = qr_alphanumeric(&compact)?;
    let side = (grid.width + 2 * QUIET_ZONE) * PNG_MODULE_PX;
    let margin = QUIET_ZONE * PNG_MODULE_PX;
    let cell = GLYPH * PNG_TEXT_SCALE;
    let line_height = cell + cell / 4;
    let max_chars = (side - 2 * margin) / cell;
    let lines = label_lines(label, max_chars)?;
    let width = side;
    let height = side + lines.len() * line_height + margin;
    let mut pixels = vec![255u8; width * height];

    for y in 0..grid.width {
        for x in 0..grid.width {
            if !grid.is_dark(x, y) {
                continue;
            }
            let (px, py) = (
                (x + QUIET_ZONE) * PNG_MODULE_PX,
                (y + QUIET_ZONE) * PNG_MODULE_PX,
            );
            for row in py..py + PNG_MODULE_PX {
                let start = row * width + px;
                if let Some(span) = pixels.get_mut(start..start + PNG_MODULE_PX) {
                    span.fill(0);
                }
            }
        }
    }
    for (i, line) in lines.iter().enumerate() {
        draw_text(&mut pixels, width, margin, side + i * line_height, line);
    }

    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(
            &mut out,
            u32::try_from(width).map_err(|_| Error::Render("image too wide".into()))?,
            u32::try_from(height).map_err(|_| Error::Render("image too tall".into()))?,
        );
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        // 600 dpi in pixels per metre.
        let ppm = (f64::from(PNG_DPI) / 0.0254).round() as u32;
        encoder.set_pixel_dims(Some(png::PixelDimensions {
            xppu: ppm,
            yppu: ppm,
            unit: png::Unit::Meter,
        }));
        encoder
            .add_text_chunk("Description".into(), compact)
            .map_err(|e| Error::Render(format!("PNG: {e}")))?;
        let mut writer = encoder
            .write_header()
            .map_err(|e| Error::Render(format!("PNG: {e}")))?;
        writer
            .write_image_data(&pixels)
            .map_err(|e| Error::Render(format!("PNG: {e}")))?;
        writer
            .finish()
            .map_err(|e| Error::Render(format!("PNG: {e}")))?;
    }
    Ok(out)
}

/// Draws `text` with the 8×8 font at [`PNG_TEXT_SCALE`], top-left at (`x`, `y`).
fn draw_text(pixels: &mut [u8], width: usize, x: usize, y: usize, text: &str) {
    let cell = GLYPH * PNG_TEXT_SCALE;
    for (i, ch) in text.chars().enumerate() {
        let glyph = font8x8::legacy::BASIC_LEGACY
            .get(ch as usize)
            .copied()
            .unwrap_or([0; 8]);
        for (gy, bits) in glyph.iter().enumerate() {
            for gx in 0..GLYPH {
                if bits >> gx & 1 == 0 {
                    continue;
                }
                for dy in 0..PNG_TEXT_SCALE {
                    for dx in 0..PNG_TEXT_SCALE {
                        let px = x + i * cell + gx * PNG_TEXT_SCALE + dx;
                        let py = y + gy * PNG_TEXT_SCALE + dy;
                        if px < width {
                            if let Some(p) = pixels.get_mut(py * width + px) {
                                *p = 0;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Writes [`label_png_bytes`] to `path`.
pub fn label_png(label: &Label, path: &Path) -> Result<()> {
    let bytes = label_png_bytes(label)?;
    fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

// ---------------------------------------------------------------------------------------------
// SVG

const FONT_MM: f64 = 2.0;
const LINE_MM: f64 = 2.6;
/// Characters per text line in SVG labels (monospace: about 0.6 em each).
const SVG_LINE_CHARS: usize = 24;
const TEXT_COLUMN_MM: f64 = SVG_LINE_CHARS as f64 * 0.6 * FONT_MM + 2.0;
const FONT_FAMILY: &str = "DejaVu Sans Mono, Menlo, Consolas, monospace";

/// One label laid out for SVG: its size in millimetres and its markup.
struct SvgLabel {
    width: f64,
    height: f64,
    serial: String,
    grid: QrGrid,
    lines: Vec<String>,
}

impl SvgLabel {
    fn new(label: &Label) -> Result<Self> {
        let grid = qr_alphanumeric(&label.to_compact()?)?;
        let lines = label_lines(label, SVG_LINE_CHARS)?;
        let code_mm = (grid.width + 2 * QUIET_ZONE) as f64 * SVG_MODULE_MM;
        let text_mm = QUIET_ZONE as f64 * SVG_MODULE_MM * 2.0 + lines.len() as f64 * LINE_MM;
        Ok(Self {
            width: code_mm + TEXT_COLUMN_MM,
            height: code_mm.max(text_mm),
            serial: label.serial().as_str().to_string(),
            grid,
            lines,
        })
    }

    /// A `<g class="vouch-label">` with exactly one `<path class="qr">`, at (`x`, `y`) mm.
    fn write(&self, out: &mut String, x: f64, y: f64, border: bool) {
        let code_mm = (self.grid.width + 2 * QUIET_ZONE) as f64 * SVG_MODULE_MM;
        let _ = writeln!(
            out,
            r#"<g class="vouch-label" data-serial="{}" transform="translate({} {})">"#,
            xml_escape(&self.serial),
            fmt_mm(x),
            fmt_mm(y)
        );
        let stroke = if border {
            r##" stroke="#bbbbbb" stroke-width="0.1""##
        } else {
            ""
        };
        let _ = writeln!(
            out,
            r#"<rect width="{}" height="{}" fill="white"{stroke}/>"#,
            fmt_mm(self.width),
            fmt_mm(self.height)
        );
        // The code in module units: each dark run is one sub-path.
        let _ = write!(
            out,
            r#"<path class="qr" transform="scale({})" fill="black" shape-rendering="crispEdges" d=""#,
            fmt_mm(SVG_MODULE_MM)
        );
        let mut first = true;
        for row in 0..self.grid.width {
            let mut col = 0;
            while col < self.grid.width {
                if !self.grid.is_dark(col, row) {
                    col += 1;
                    continue;
                }
                let start = col;
                while col < self.grid.width && self.grid.is_dark(col, row) {
                    col += 1;
                }
                if !first {
                    out.push(' ');
                }
                first = false;
                let _ = write!(
                    out,
                    "M{} {}h{}v1h-{}z",
                    start + QUIET_ZONE,
                    row + QUIET_ZONE,
                    col - start,
                    col - start
                );
            }
        }
        out.push_str("\"/>\n");
        let text_x = code_mm;
        let top = QUIET_ZONE as f64 * SVG_MODULE_MM;
        let _ = writeln!(
            out,
            r#"<text font-family="{FONT_FAMILY}" font-size="{}" fill="black" xml:space="preserve">"#,
            fmt_mm(FONT_MM)
        );
        for (i, line) in self.lines.iter().enumerate() {
            let weight = if i == 0 { r#" font-weight="bold""# } else { "" };
            let _ = writeln!(
                out,
                r#"<tspan x="{}" y="{}"{weight}>{}</tspan>"#,
                fmt_mm(text_x),
                fmt_mm(top + FONT_MM + i as f64 * LINE_MM),
                xml_escape(line)
            );
        }
        out.push_str("</text>\n</g>\n");
    }
}

fn fmt_mm(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn svg_document(width: f64, height: f64, body: &str, title: &str) -> String {
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            "\n",
            r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{w}mm" height="{h}mm" viewBox="0 0 {w} {h}">"#,
            "\n<title>{title}</title>\n{body}</svg>\n"
        ),
        w = fmt_mm(width),
        h = fmt_mm(height),
        title = xml_escape(title),
        body = body
    )
}

/// One label as an SVG document (millimetre units): the code and, to its right, the serial,
/// the fingerprint and the manual-entry line.
pub fn label_svg_string(label: &Label) -> Result<String> {
    let laid = SvgLabel::new(label)?;
    let mut body = String::new();
    laid.write(&mut body, 0.0, 0.0, false);
    Ok(svg_document(
        laid.width,
        laid.height,
        &body,
        &format!("Vouch label {}", label.serial()),
    ))
}

/// Writes [`label_svg_string`] to `path`.
pub fn label_svg(label: &Label, path: &Path) -> Result<()> {
    let svg = label_svg_string(label)?;
    fs::write(path, svg).map_err(|e| Error::io(path, e))
}

const SHEET_WIDTH_MM: f64 = 210.0;
const SHEET_MARGIN_MM: f64 = 10.0;
const SHEET_GAP_MM: f64 = 2.0;

/// A sheet of labels, one per device, in a grid on an A4-wide page that grows as long as
/// needed; each label has a light grey cut line. Every label is a `<g class="vouch-label">`
/// with its serial in `data-serial` and exactly one `<path class="qr">`.
pub fn label_sheet_svg(labels: &[Label]) -> Result<String> {
    if labels.is_empty() {
        return Err(Error::InvalidArgument {
            what: "label sheet",
            reason: "no devices".into(),
        });
    }
    let laid = labels
        .iter()
        .map(SvgLabel::new)
        .collect::<Result<Vec<_>>>()?;
    let cell_w = laid.iter().map(|l| l.width).fold(0.0, f64::max);
    let cell_h = laid.iter().map(|l| l.height).fold(0.0, f64::max);
    let usable = SHEET_WIDTH_MM - 2.0 * SHEET_MARGIN_MM;
    let columns = (((usable + SHEET_GAP_MM) / (cell_w + SHEET_GAP_MM)).floor() as usize).max(1);
    let rows = laid.len().div_ceil(columns);
    let width = SHEET_WIDTH_MM.max(2.0 * SHEET_MARGIN_MM + cell_w);
    let height = 2.0 * SHEET_MARGIN_MM + rows as f64 * (cell_h + SHEET_GAP_MM) - SHEET_GAP_MM;
    let mut body = String::new();
    for (i, label) in laid.iter().enumerate() {
        let (col, row) = (i % columns, i / columns);
        let x = SHEET_MARGIN_MM + col as f64 * (cell_w + SHEET_GAP_MM);
        let y = SHEET_MARGIN_MM + row as f64 * (cell_h + SHEET_GAP_MM);
        label.write(&mut body, x, y, true);
    }
    Ok(svg_document(
        width,
        height,
        &body,
        &format!("Vouch labels ({} devices)", labels.len()),
    ))
}

/// Writes [`label_sheet_svg`] to `path`.
pub fn write_label_sheet(labels: &[Label], path: &Path) -> Result<()> {
    let svg = label_sheet_svg(labels)?;
    fs::write(path, svg).map_err(|e| Error::io(path, e))
}

/// One row of a production-line CSV.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SheetRow {
    /// The model column.
    pub model: Model,
    /// The serial column.
    pub serial: Serial,
    /// The key directory (relative paths are taken from the CSV file's directory).
    pub key_dir: PathBuf,
}

/// Reads a production-line CSV: `model,serial,key_dir` per line. A first line
/// `model,serial,key_dir` is a header and skipped; empty lines and lines starting with `#` are
/// skipped. Fields are trimmed; quoting is not supported (models and serials never need it).
pub fn read_sheet_csv(path: &Path) -> Result<Vec<SheetRow>> {
    let text = fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let base = path.parent().unwrap_or_else(|| Path::new("."));
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        let row_error = |reason: String| Error::InvalidArgument {
            what: "CSV",
            reason: format!("{} line {}: {reason}", path.display(), i + 1),
        };
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if i == 0
            && fields
                .first()
                .is_some_and(|f| f.eq_ignore_ascii_case("model"))
        {
            continue;
        }
        if line.contains('"') {
            return Err(row_error("quoted fields are not supported".into()));
        }
        let [model, serial, key_dir] = fields[..] else {
            return Err(row_error(format!(
                "expected 3 fields (model,serial,key_dir), found {}",
                fields.len()
            )));
        };
        let model = Model::new(model).map_err(|e| row_error(e.to_string()))?;
        let serial = Serial::new(serial).map_err(|e| row_error(e.to_string()))?;
        if key_dir.is_empty() {
            return Err(row_error("empty key_dir".into()));
        }
        rows.push(SheetRow {
            model,
            serial,
            key_dir: base.join(key_dir),
        });
    }
    Ok(rows)
}

/// The labels of the devices in a production-line CSV (see [`read_sheet_csv`]). Each row's
/// key directory must hold a device with that model and serial; with `keygen_missing`, a row
/// whose directory holds no key gets one made (as `vouch-device keygen` would).
pub fn labels_from_csv(path: &Path, keygen_missing: bool) -> Result<Vec<Label>> {
    let rows = read_sheet_csv(path)?;
    let mut labels = Vec::with_capacity(rows.len());
    for row in rows {
        let key = row.key_dir.join(store::LABEL_KEY_FILE);
        let device = if keygen_missing && !key.exists() {
            store::keygen(&row.key_dir, &row.model, &row.serial)?
        } else {
            store::load(&row.key_dir)?
        };
        if device.model() != &row.model || device.serial() != &row.serial {
            return Err(Error::InvalidArgument {
                what: "CSV",
                reason: format!(
                    "{}: the CSV says {} {}, the device directory says {} {}",
                    row.key_dir.display(),
                    row.model,
                    row.serial,
                    device.model(),
                    device.serial()
                ),
            });
        }
        labels.push(device.label());
    }
    Ok(labels)
}

/// The labels of every device directory directly inside `parent` (each subdirectory holding a
/// `device.json`), in name order.
pub fn labels_from_dirs(parent: &Path) -> Result<Vec<Label>> {
    let entries = fs::read_dir(parent).map_err(|e| Error::io(parent, e))?;
    let mut dirs = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(parent, e))?;
        let path = entry.path();
        if path.is_dir() && path.join(store::DEVICE_FILE).exists() {
            dirs.push(path);
        }
    }
    dirs.sort();
    dirs.iter()
        .map(|dir| store::load(dir).map(|d| d.label()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_keeps_words_and_cuts_long_ones() {
        assert_eq!(wrap("AB CD EF", 5), vec!["AB CD", "EF"]);
        assert_eq!(wrap("ABCDEFG H", 3), vec!["ABC", "DEF", "G H"]);
        assert_eq!(wrap("", 3), Vec::<String>::new());
    }

    #[test]
    fn non_alphanumeric_text_is_refused() {
        assert!(qr_alphanumeric("vouch1:abc").is_err());
        assert!(qr_alphanumeric("VOUCH1:ABC").is_ok());
    }

    #[test]
    fn mm_formatting() {
        assert_eq!(fmt_mm(22.5), "22.5");
        assert_eq!(fmt_mm(10.0), "10");
        assert_eq!(fmt_mm(0.0), "0");
    }
}

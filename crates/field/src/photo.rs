//! Reading photos without queueing anything: the codes a picked, dropped or pasted photo holds,
//! Vouch labels first, so the app can show each label for confirmation before it is queued.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::scan::{Decoded, ScanError};

/// The largest pasted image accepted, in bytes. A photo file is bounded by its pixel count
/// ([`crate::scan::MAX_IMAGE_PIXELS`]); a paste arrives whole over IPC, so its size is bounded
/// too, above any phone camera's JPEG.
pub const MAX_PASTED_BYTES: usize = 64 * 1024 * 1024;

/// What one photo holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PhotoRead {
    /// The file read (for a pasted image, the name the page gave it).
    pub file: String,
    /// The text of every code found, each once: Vouch labels first (in reading order), then the
    /// other codes.
    pub codes: Vec<String>,
    /// How many of the first `codes` are Vouch labels.
    pub labels: usize,
    /// Why the photo could not be read (then `codes` is empty).
    pub error: Option<String>,
}

impl PhotoRead {
    fn from_result(file: String, result: Result<Vec<Decoded>, ScanError>) -> Self {
        match result {
            Ok(decoded) => {
                let (codes, labels) = labels_first(decoded);
                Self {
                    file,
                    codes,
                    labels,
                    error: None,
                }
            }
            Err(e) => Self {
                file,
                error: Some(e.to_string()),
                ..Self::default()
            },
        }
    }
}

/// The texts of `decoded`, each once, Vouch labels first, and how many labels there are. A
/// photo of a label often shows other codes too (a shipping code, a datasheet link): the label
/// is what the technician means to scan.
pub fn labels_first(decoded: Vec<Decoded>) -> (Vec<String>, usize) {
    let (labels, others): (Vec<Decoded>, Vec<Decoded>) =
        decoded.into_iter().partition(|d| d.label.is_some());
    let mut codes: Vec<String> = Vec::new();
    let mut count = 0;
    for d in &labels {
        if !codes.contains(&d.text) {
            codes.push(d.text.clone());
            count += 1;
        }
    }
    for d in &others {
        if !codes.contains(&d.text) {
            codes.push(d.text.clone());
        }
    }
    (codes, count)
}

/// Reads one photo file.
pub fn read_photo(path: &Path) -> PhotoRead {
    PhotoRead::from_result(path.display().to_string(), crate::scan::decode_file(path))
}

/// Reads several photo files, each on its own: one that cannot be read does not hide the others.
pub fn read_photos(paths: &[PathBuf]) -> Vec<PhotoRead> {
    paths.iter().map(|p| read_photo(p)).collect()
}

/// Reads an image held in memory (pasted from the clipboard); `name` names it.
pub fn read_photo_bytes(name: &str, bytes: &[u8]) -> PhotoRead {
    if bytes.len() > MAX_PASTED_BYTES {
        return PhotoRead {
            file: name.to_string(),
            error: Some(format!(
                "the pasted image is {} bytes, more than the {MAX_PASTED_BYTES} accepted",
                bytes.len()
            )),
            ..PhotoRead::default()
        };
    }
    PhotoRead::from_result(name.to_string(), crate::scan::decode_bytes(name, bytes))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::scan::image::{GrayImage, Luma};
    use vouch_device::render::qr_alphanumeric;

    const MODULE: u32 = 6;
    const QUIET: u32 = 4;

    /// Paints the QR code of `text` into `img` with its top-left corner (quiet zone included)
    /// at `x0`.
    fn paint(img: &mut GrayImage, text: &str, x0: u32) {
        let grid = qr_alphanumeric(text).unwrap();
        let w = u32::try_from(grid.width()).unwrap();
        for y in 0..w {
            for x in 0..w {
                if grid.is_dark(x as usize, y as usize) {
                    for dy in 0..MODULE {
                        for dx in 0..MODULE {
                            let px = x0 + (QUIET + x) * MODULE + dx;
                            let py = (QUIET + y) * MODULE + dy;
                            img.put_pixel(px, py, Luma([0]));
                        }
                    }
                }
            }
        }
    }

    fn label_text() -> String {
        use vouch_protocol::p256::ecdsa::SigningKey;
        let key = SigningKey::from_slice(&[9u8; 32]).unwrap();
        vouch_protocol::Label::new(
            vouch_protocol::Model::new("ACME-T1").unwrap(),
            vouch_protocol::Serial::new("SN-PHOTO-1").unwrap(),
            vouch_protocol::key::public_key_of(&key),
        )
        .to_compact()
        .unwrap()
    }

    #[test]
    fn a_photo_with_another_code_beside_the_label_gives_the_label_first() {
        let label = label_text();
        let other = "HTTPS://EXAMPLE.COM/DATASHEET/T1";
        let side = (QUIET * 2 + 41) * MODULE;
        let mut img = GrayImage::from_pixel(side * 2, side, Luma([255]));
        // The other code on the left, where a reader meets it first.
        paint(&mut img, other, 0);
        paint(&mut img, &label, side);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("two-codes.png");
        img.save(&path).unwrap();

        let read = read_photo(&path);
        assert_eq!(read.error, None);
        assert_eq!(read.labels, 1, "{read:?}");
        assert_eq!(read.codes.first(), Some(&label), "{read:?}");
        assert!(read.codes.iter().any(|c| c == other), "{read:?}");

        let bytes = std::fs::read(&path).unwrap();
        let pasted = read_photo_bytes("pasted.png", &bytes);
        assert_eq!(pasted.codes, read.codes);
        assert_eq!(pasted.file, "pasted.png");
    }

    #[test]
    fn each_photo_is_read_on_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("not-a-photo.png");
        std::fs::write(&bad, b"no image").unwrap();
        let blank = dir.path().join("blank.png");
        GrayImage::from_pixel(64, 64, Luma([255]))
            .save(&blank)
            .unwrap();
        let reads = read_photos(&[bad, blank]);
        assert_eq!(reads.len(), 2);
        assert!(reads[0].error.is_some());
        assert_eq!((reads[1].error.as_deref(), reads[1].codes.len()), (None, 0));
    }
}

//! No input takes the scanner down: rqrr's panics are contained, garbage frames of any size
//! return nothing, bad buffers and files are errors, and the JSON for `vouch-field decode` has
//! exactly its four fields.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers

#[path = "../benches/synth/mod.rs"]
mod synth;

use std::path::PathBuf;
use std::time::Duration;

use image::GrayImage;
use vouch_scan::{
    decode_file, decode_file_json, decode_image, decode_image_with, panics_contained, rq,
    DecodeOptions, Frame, ScanError,
};

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/qr-corpus")
}

#[test]
fn a_panic_inside_rqrr_is_contained_and_counted() {
    let before = panics_contained();
    let got: Option<()> = rq::guarded(|| panic!("a panic inside rqrr, as an assertion would"));
    assert!(got.is_none());
    // `>`: other tests of this binary may count theirs meanwhile
    assert!(
        panics_contained() > before,
        "the panic was caught and counted"
    );
    assert_eq!(rq::guarded(|| 7), Some(7));
}

#[test]
fn the_pipeline_reads_the_image_whose_degenerate_grid_made_rqrr_panic() {
    let path = corpus().join("qrcode-6/7.png");
    if !path.exists() {
        eprintln!("skipped: {} not present", path.display());
        return;
    }
    let img = image::open(&path).unwrap().to_luma8();
    let got = decode_image(&img);
    let expected = std::fs::read_to_string(path.with_extension("txt")).unwrap();
    assert!(
        got.iter().any(|d| d.text.trim_end() == expected.trim_end()),
        "{got:?}"
    );
}

fn quick() -> DecodeOptions {
    DecodeOptions {
        budget: Duration::from_millis(200),
        frame_mode: false,
        likely_code_budget: Duration::from_millis(200),
    }
}

#[test]
fn garbage_frames() {
    let mut rng = synth::Rng::new(7);
    for (w, h) in [
        (0u32, 0u32),
        (1, 1),
        (1, 1000),
        (1000, 1),
        (21, 21),
        (64, 48),
        (640, 480),
    ] {
        let random: Vec<u8> = (0..w * h).map(|_| (rng.next_u64() & 0xFF) as u8).collect();
        for data in [
            random,
            vec![0; (w * h) as usize],
            vec![255; (w * h) as usize],
        ] {
            let img = GrayImage::from_raw(w, h, data).unwrap();
            assert!(decode_image_with(&img, &quick()).is_empty(), "{w}x{h}");
            assert!(
                decode_image_with(&img, &DecodeOptions::frame()).is_empty(),
                "{w}x{h}"
            );
        }
    }
    // salt-and-pepper stripes and checkerboards: many finder-like runs
    let checker = GrayImage::from_fn(800, 600, |x, y| {
        image::Luma([if (x / 3 + y / 3) % 2 == 0 { 0 } else { 255 }])
    });
    assert!(decode_image_with(&checker, &quick()).is_empty());
}

#[test]
fn huge_frame_is_bounded() {
    // 6000x4000 is shrunk for detection; the whole decode stays bounded
    let img = GrayImage::from_fn(6000, 4000, |x, y| image::Luma([((x ^ y) & 0xFF) as u8]));
    let started = std::time::Instant::now();
    assert!(decode_image_with(&img, &DecodeOptions::frame()).is_empty());
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn raw_frames_are_checked() {
    assert!(matches!(
        Frame::new(10, 10, vec![0; 99]),
        Err(ScanError::BadFrame(_))
    ));
    assert!(matches!(
        Frame::new(usize::MAX, 2, vec![]),
        Err(ScanError::BadFrame(_))
    ));
    assert!(matches!(
        Frame::new(100_000, 100_000, vec![]),
        Err(ScanError::BadFrame(_))
    ));
    assert!(Frame::new(0, 0, vec![]).is_ok());
    assert!(matches!(
        Frame::from_rgb8(2, 2, &[0; 11]),
        Err(ScanError::BadFrame(_))
    ));
    let f = Frame::from_rgb8(2, 1, &[255, 255, 255, 0, 0, 0]).unwrap();
    assert_eq!(f.luma(), &[255, 0]);
}

#[test]
fn files_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let (img, text) = synth::case("clean", 1);
    let label_png = dir.path().join("label.png");
    img.save(&label_png).unwrap();
    let blank_png = dir.path().join("blank.png");
    GrayImage::from_pixel(200, 100, image::Luma([255]))
        .save(&blank_png)
        .unwrap();
    let not_image = dir.path().join("notes.png");
    std::fs::write(&not_image, b"not a png").unwrap();
    let missing = dir.path().join("missing.jpg");

    let got = decode_file(&label_png).unwrap();
    assert_eq!(got[0].text, text);

    let v = decode_file_json(&label_png);
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 4, "{keys:?}");
    for k in ["file", "text", "label", "error"] {
        assert!(keys.contains(&k), "{k}");
    }
    assert_eq!(v["text"], text.as_str());
    assert!(v["error"].is_null());
    assert_eq!(v["label"]["format"], "compact");
    assert_eq!(v["label"]["serial"], "SN-001037");
    assert_eq!(v["label"]["model"], "ACME-T1");
    assert_eq!(v["label"]["key"].as_str().unwrap().len(), 66);

    let v = decode_file_json(&blank_png);
    assert!(v["text"].is_null() && v["label"].is_null() && v["error"].is_null());

    for bad in [&not_image, &missing] {
        let v = decode_file_json(bad);
        assert!(v["text"].is_null() && v["label"].is_null());
        assert!(v["error"]
            .as_str()
            .unwrap()
            .contains(bad.file_name().unwrap().to_str().unwrap()));
        assert!(decode_file(bad).is_err());
    }
}

#[test]
fn text_that_is_no_label_has_null_label() {
    // a QR code with a URL: text read, label null
    let (dim, cells) = synth::modules("https://example.com/x");
    let mut c = synth::Canvas::flat(300, 300, 0.9);
    c.paste_code(
        dim,
        &cells,
        4.0,
        synth::quad((150.0, 150.0), dim as f32 + 8.0, 6.0, 0.0, 0.0),
        0.05,
        0.95,
    );
    let got = decode_image(&c.to_gray());
    assert_eq!(got[0].text, "https://example.com/x");
    assert!(got[0].label.is_none());
}

/// CRC-32 (ISO-HDLC), for PNG chunks.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Deflate bits, least significant first.
#[derive(Default)]
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    /// `count` bits of `value`, least significant first (block headers).
    fn put(&mut self, value: u64, count: u32) {
        self.acc |= value << self.n;
        self.n += count;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    /// A Huffman code, most significant bit first.
    fn code(&mut self, code: u64, len: u32) {
        let reversed = (0..len).fold(0, |r, i| (r << 1) | ((code >> i) & 1));
        self.put(reversed, len);
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

/// A valid, small PNG (8-bit grey) of `side` x `side` black pixels: one fixed-Huffman deflate
/// block of back-references, 13 bits per 258 bytes: a decompression bomb.
fn png_bomb(side: u32) -> Vec<u8> {
    let total = u64::from(side) * (u64::from(side) + 1); // a filter byte per row
    let mut bits = Bits::default();
    bits.put(1, 1); // final block
    bits.put(1, 2); // fixed Huffman
    bits.code(0x30, 8); // literal 0
    let matches = (total - 1) / 258;
    for _ in 0..matches {
        bits.code(0xC5, 8); // length 258 (code 285)
        bits.code(0, 5); // distance 1
    }
    for _ in 0..(total - 1) % 258 {
        bits.code(0x30, 8);
    }
    bits.code(0, 7); // end of block
    let mut zlib = vec![0x78, 0x01];
    zlib.extend(bits.finish());
    let adler = ((total % 65521) << 16) | 1; // a = 1 + zeros, b = sum of a
    zlib.extend_from_slice(&(adler as u32).to_be_bytes());

    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        png.extend_from_slice(&body);
        png.extend_from_slice(&crc32(&body).to_be_bytes());
    };
    let mut ihdr = side.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit grey, no interlace
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &zlib);
    chunk(b"IEND", &[]);
    png
}

#[test]
fn the_bomb_generator_makes_a_valid_png() {
    // The same construction at a size that may be decoded: every pixel black.
    let img = image::load_from_memory(&png_bomb(300)).unwrap().to_luma8();
    assert_eq!(img.dimensions(), (300, 300));
    assert!(img.pixels().all(|p| p.0[0] == 0));
}

#[test]
fn an_image_with_huge_dimensions_is_refused_before_decoding() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bomb.png");
    let bomb = png_bomb(20_000);
    assert!(bomb.len() < 4 << 20, "a small file ({} bytes)", bomb.len());
    std::fs::write(&path, &bomb).unwrap();
    let started = std::time::Instant::now();
    let err = decode_file(&path).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, ScanError::TooLarge { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("20000x20000") && text.contains("megapixels"),
        "{text}"
    );
    let v = decode_file_json(&path);
    assert!(v["error"].as_str().unwrap().contains("20000x20000"), "{v}");
}

#[test]
fn a_truncated_jpeg_says_it_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let (img, _) = synth::case("clean", 1);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode_image(&img)
        .unwrap();
    let whole = dir.path().join("whole.jpg");
    std::fs::write(&whole, &jpeg).unwrap();
    assert!(decode_file(&whole).is_ok());
    for keep in [jpeg.len() * 2 / 3, jpeg.len() - 2] {
        let cut = dir.path().join(format!("cut-{keep}.jpg"));
        std::fs::write(&cut, &jpeg[..keep]).unwrap();
        let err = decode_file(&cut).unwrap_err();
        assert!(matches!(err, ScanError::Truncated { .. }), "{keep}: {err}");
        assert!(err.to_string().contains("truncated"), "{err}");
    }
}

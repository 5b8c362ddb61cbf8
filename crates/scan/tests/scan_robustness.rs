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
fn rqrr_panic_on_corpus_image_is_contained() {
    let path = corpus().join("qrcode-6/7.png");
    if !path.exists() {
        eprintln!("skipped: {} not present", path.display());
        return;
    }
    let img = image::open(&path).unwrap().to_luma8();
    let before = panics_contained();
    // rqrr alone panics on this image (an assertion in its geometry code) ...
    let codes = rq::baseline(&img);
    assert!(codes.is_empty());
    assert!(
        panics_contained() > before,
        "the panic was caught and counted"
    );
    // ... and the pipeline neither panics nor gives up on it
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

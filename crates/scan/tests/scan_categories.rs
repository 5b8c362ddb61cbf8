//! One test per failure category of rqrr alone, on images the tests render themselves
//! (`benches/synth`): low contrast, glare and uneven light, 2-3 px per module, a small code in a
//! 1080p frame, blur, noise, inverted, tilt and rotation. Each asserts the pipeline reads at least
//! as many of the cases as it is known to (see docs/BENCHMARKS.md for the full figures), that
//! what it reads is the exact label text, and that the label parses.
//!
//! Camera frames (`synth::frame_case`) are decoded in frame mode: blur at 3.5-6 px per module
//! and 2-3 px per module in a 720p frame, read by the unsharp-masked crops.
//!
//! A large budget keeps the results independent of build mode and machine load (the budget is
//! the only thing that makes the cascade's outcome depend on speed).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers

#[path = "../benches/synth/mod.rs"]
mod synth;

use std::time::Duration;

use vouch_scan::{decode_image_with, rq, DecodeOptions};

fn opts() -> DecodeOptions {
    DecodeOptions {
        budget: Duration::from_secs(30),
        frame_mode: false,
        likely_code_budget: Duration::from_secs(30),
    }
}

/// Decodes cases `0..n` of a category; returns how many the pipeline and rqrr alone read.
fn run(category: &str, n: u32) -> (u32, u32) {
    let (mut ours, mut base) = (0, 0);
    for i in 0..n {
        let (img, text) = synth::case(category, i);
        let got = decode_image_with(&img, &opts());
        if let Some(d) = got.first() {
            assert_eq!(d.text, text, "{category} {i}: wrong text");
            let label = d.label.as_ref().expect("a Vouch label parses");
            assert_eq!(label.to_compact().unwrap(), text);
            ours += 1;
        }
        if rq::baseline(&img)
            .iter()
            .any(|c| c.bytes == text.as_bytes())
        {
            base += 1;
        }
    }
    eprintln!("{category}: pipeline {ours}/{n}, rqrr alone {base}/{n}");
    (ours, base)
}

#[test]
fn clean_labels_and_corners() {
    assert_eq!(run("clean", 3).0, 3);
    // the corners returned for the overlay are where the code was drawn
    let (img, text) = synth::case("clean", 0);
    let d = decode_image_with(&img, &opts());
    let d = d.first().expect("read");
    assert_eq!(d.text, text);
    let (w, h) = img.dimensions();
    for (x, y) in d.corners {
        assert!(
            x > 0.0 && y > 0.0 && x < w as f32 && y < h as f32,
            "{x},{y}"
        );
    }
    let side = ((d.corners[0].0 - d.corners[1].0).powi(2)
        + (d.corners[0].1 - d.corners[1].1).powi(2))
    .sqrt();
    let dim = synth::modules(&text).0 as f32;
    // 4.5 .. 7 px per module
    assert!(
        side > dim * 4.0 && side < dim * 7.5,
        "side {side} for {dim} modules"
    );
}

#[test]
fn low_contrast() {
    let (ours, base) = run("low_contrast", 4);
    assert_eq!(ours, 4);
    assert!(base < ours);
}

#[test]
fn glare_and_uneven_light() {
    let (ours, base) = run("glare", 4);
    assert_eq!(ours, 4);
    assert!(base <= ours);
}

#[test]
fn small_modules() {
    // 2, 2.5 and 3 px per module; rqrr alone reads about one in six, zxing-cpp two in three
    let (ours, base) = run("small_modules", 6);
    // sharpened crops read all of them (before: 3-4 of 6)
    assert!(ours >= 5, "{ours}");
    assert!(base < ours);
}

#[test]
fn small_code_in_1080p_frame() {
    let (ours, base) = run("small_in_1080p", 2);
    assert_eq!(ours, 2);
    assert!(base <= ours);
}

#[test]
fn blur() {
    // a 2-3 px Gaussian-like blur at 4.5-7 px per module: zxing-cpp reads half of these
    let (ours, base) = run("blur", 4);
    assert!(ours >= 2, "{ours}");
    assert!(base < ours);
}

#[test]
fn noise() {
    let (ours, base) = run("noise", 4);
    assert_eq!(ours, 4);
    assert!(base < ours);
}

#[test]
fn inverted() {
    let (ours, base) = run("inverted", 3);
    assert_eq!(ours, 3);
    assert_eq!(base, 0, "rqrr alone does not read light-on-dark codes");
}

#[test]
fn tilt_and_rotation() {
    assert_eq!(run("tilt_rotation", 4).0, 4);
}

fn frame_opts() -> DecodeOptions {
    DecodeOptions {
        budget: Duration::from_secs(30),
        frame_mode: true,
        likely_code_budget: Duration::from_secs(30),
    }
}

/// Decodes camera frames `0..n` of a frame category in frame mode; returns how many it read.
fn run_frames(category: &str, n: u32) -> u32 {
    let mut ours = 0;
    for i in 0..n {
        let (img, text) = synth::frame_case(category, i, 1280, 720);
        if let Some(d) = decode_image_with(&img, &frame_opts()).first() {
            assert_eq!(d.text, text, "frame {category} {i}: wrong text");
            ours += 1;
        }
    }
    eprintln!("frame {category}: pipeline {ours}/{n}");
    ours
}

#[test]
fn blurred_camera_frame() {
    // defocus (Gaussian-like, sigma about 2 px) at 3.5-6 px per module: without sharpened crops
    // the frame pipeline read 2 of 12, zxing-cpp 4
    assert!(run_frames("blur", 6) >= 3);
}

#[test]
fn small_modules_in_camera_frame() {
    // 2-3 px per module in a 720p frame: the finder checks' pixel slack and sharpened crops
    assert!(run_frames("small", 6) >= 4);
}

#[test]
fn a_likely_code_gets_the_longer_frame_budget() {
    // A frame that only a crop reads (2-3 px per module): with no time after the first pass the
    // cascade stops there; once that pass has located a triple whose grid matches its timing
    // patterns, `likely_code_budget` lets the crops run.
    // (frame 2 served here until 2026-12-02; since grid fits drop a triple whose parallelograms
    // show no timing pattern before the alignment search, its triple no longer counts as a
    // likely code, and a stream reads it instead: tests/scan_stream.rs)
    let (img, text) = synth::frame_case("small", 1, 1280, 720);
    let no_time = DecodeOptions {
        budget: Duration::ZERO,
        frame_mode: true,
        likely_code_budget: Duration::ZERO,
    };
    assert!(decode_image_with(&img, &no_time).is_empty());
    let likely = DecodeOptions {
        likely_code_budget: Duration::from_secs(30),
        ..no_time
    };
    let read = decode_image_with(&img, &likely);
    assert_eq!(read.first().map(|d| d.text.as_str()), Some(text.as_str()));
}

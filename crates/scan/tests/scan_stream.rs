//! A camera stream ([`FrameDecoder`]): the costlier hypotheses are spread over consecutive frames,
//! so a still scene that only one of them reads is read within a few frames even when each frame
//! may run only one of them, keeps being read once it was, and a frame the cheap pass reads is
//! read at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers

#[path = "../benches/synth/mod.rs"]
mod synth;

use std::time::Duration;

use vouch_scan::binarize::Gray;
use vouch_scan::{DecodeOptions, FrameDecoder, Method};

/// No time beyond the cheap pass: each frame runs exactly the one costlier step it is due.
fn one_step_per_frame() -> DecodeOptions {
    DecodeOptions {
        budget: Duration::ZERO,
        likely_code_budget: Duration::ZERO,
        ..DecodeOptions::stream()
    }
}

fn view(img: &vouch_scan::image::GrayImage) -> Gray<'_> {
    Gray::new(img.width() as usize, img.height() as usize, img.as_raw()).unwrap()
}

/// Asserts that the first frame of a stream with no time beyond the first pass reads `text`
/// from `img`, and by the first pass (`case` names the case in a failure).
fn assert_first_pass_reads(img: &vouch_scan::image::GrayImage, text: &str, case: &str) {
    let mut decoder = FrameDecoder::new(one_step_per_frame());
    let read = decoder.decode(view(img));
    assert_eq!(read.first().map(|d| d.text.as_str()), Some(text), "{case}");
    assert_eq!(read[0].method, Method::FinderGrid, "{case}");
}

/// The 1-based frame of a still scene that first reads `text`, within `frames`, and what every
/// later frame read.
fn stream(img: &vouch_scan::image::GrayImage, text: &str, frames: usize) -> (usize, Vec<bool>) {
    let mut decoder = FrameDecoder::new(one_step_per_frame());
    let mut first = None;
    let mut after = Vec::new();
    for n in 1..=frames {
        let read = decoder.decode(view(img));
        assert!(
            read.iter().all(|d| d.text == text),
            "a wrong code: {read:?}"
        );
        let hit = !read.is_empty();
        match first {
            None if hit => first = Some(n),
            None => {}
            Some(_) => after.push(hit),
        }
    }
    (
        first.unwrap_or_else(|| panic!("not read in {frames} frames")),
        after,
    )
}

#[test]
fn a_code_only_a_crop_reads_is_read_within_a_few_frames_and_then_every_frame() {
    // 2-3 px per module: the cheap pass locates the finders but cannot sample the grid; a crop
    // rescaled to 5 px per module reads it (a_likely_code_gets_the_longer_frame_budget)
    let (img, text) = synth::frame_case("small", 2, 1280, 720);
    let (first, after) = stream(&img, &text, 16);
    assert!(first <= 8, "read at frame {first}");
    assert!(
        after.iter().all(|&hit| hit),
        "once read, the stream starts with the step that read it: {after:?}"
    );
}

#[test]
fn blurred_frames_are_read_over_the_stream() {
    // defocus: sharpened crops, one of the later steps
    let mut read = 0;
    for i in 0..6 {
        let (img, text) = synth::frame_case("blur", i, 1280, 720);
        let mut decoder = FrameDecoder::new(one_step_per_frame());
        if (0..16).any(|_| decoder.decode(view(&img)).iter().any(|d| d.text == text)) {
            read += 1;
        }
    }
    // the single-frame cascade with all the time it wants reads at least 3 of these 6
    assert!(read >= 3, "{read}");
}

#[test]
fn what_the_cheap_pass_reads_is_read_on_the_first_frame() {
    for i in 0..4 {
        let (img, text) = synth::frame_case("typical", i, 1280, 720);
        let mut decoder = FrameDecoder::new(one_step_per_frame());
        let read = decoder.decode(view(&img));
        assert_eq!(read.first().map(|d| d.text.as_str()), Some(text.as_str()));
        assert_eq!(read[0].method, Method::FinderGrid);
    }
}

#[test]
fn frames_without_a_code_read_nothing_however_long_the_stream() {
    let mut decoder = FrameDecoder::new(DecodeOptions::stream());
    for k in 0..4 {
        let img = synth::empty_frame(1280, 720, k);
        for _ in 0..12 {
            assert!(decoder.decode(view(&img)).is_empty());
        }
    }
}

#[test]
fn tiny_and_empty_frames_are_refused_quietly() {
    let mut decoder = FrameDecoder::new(DecodeOptions::stream());
    assert!(decoder.decode(Gray::new(0, 0, &[]).unwrap()).is_empty());
    assert!(decoder
        .decode(Gray::new(20, 20, &[0; 400]).unwrap())
        .is_empty());
}

#[test]
fn the_steps_that_pay_most_come_first() {
    // Small modules and defocus: the first pass locates the finders but cannot sample the grid,
    // and the sharpened crop of the best triple reads them. It is the second step (after the
    // block crop, which reads the most), so with one step per frame these are read by the
    // second frame; it used to come third, after the global crop of the same triple.
    for (category, i) in [
        ("small", 1),
        ("small", 2),
        ("small", 6),
        ("blur", 1),
        ("blur", 9),
    ] {
        let (img, text) = synth::frame_case(category, i, 1280, 720);
        let mut decoder = FrameDecoder::new(one_step_per_frame());
        let at = (1..=10).find(|_| decoder.decode(view(&img)).iter().any(|d| d.text == text));
        assert!(at.is_some_and(|n| n <= 2), "{category} {i}: read at {at:?}");
    }
}

#[test]
fn dense_symbols_seen_in_perspective_are_read_by_the_first_pass() {
    // version 17 and 18 symbols tilted by up to a fifth: their far corner is drawn at about 0.8
    // of the finders' module size, so the alignment pattern is searched again at that size and
    // further out (the search at the mean size missed it, and no step read them)
    for i in [0, 4] {
        let (img, text) = synth::frame_case("dense", i, 1280, 720);
        assert_first_pass_reads(&img, &text, &format!("dense {i}"));
    }
}

#[test]
fn a_blurred_dense_symbol_is_read_from_a_crop_large_enough_for_its_modules() {
    // defocused version 13 and 18 symbols at 1080p whose third finder the blur broke: in the
    // round that samples crops at 5.5 px per module, the crop around the pair of confirmed
    // finders may be 640 px square, not 400, so its modules keep about 5 px instead of 3 to 4
    // and it reads; one step per frame, so that round is reached after two dozen frames at most
    for i in [23, 27] {
        let (img, text) = synth::frame_case("denseblur", i, 1920, 1080);
        // `stream` fails the test when the code is not read within the frames given
        let (first, _) = stream(&img, &text, 30);
        assert!(first > 1, "denseblur {i}: the first pass alone read it");
    }
}

/// A printed code photographed at a steep angle from its left, as a keystoned photo in the
/// corpus: the paper's corners at `quad`, drawn on a flat grey frame.
fn keystoned(text: &str, quad: [(f32, f32); 4]) -> vouch_scan::image::GrayImage {
    let (dim, cells) = synth::modules(text);
    let mut canvas = synth::Canvas::flat(480, 440, 0.5);
    canvas.paste_code(dim, &cells, 2.0, quad, 0.1, 0.9);
    canvas.blur(1, 1);
    canvas.to_gray()
}

#[test]
fn a_symbol_seen_at_a_steep_angle_is_read_by_the_first_pass() {
    // its left edge drawn 1.4 times as long as its top, its right edge shorter than its left:
    // the finders make a triangle far from an isosceles right one (once dropped as no symbol),
    // and the parallelogram's evenly spaced samples drift off the timing pattern at the right
    // dimension (which then got no alignment pattern and no fit). Versions 4 and 5.
    let texts = [
        "https://example.com/rack/17/unit/04?serial=VX-2026-000417",
        "vouch:v1:site=plant-b;serial=VX-2026-000417;key=BNx0q8tW3mJp1cYy2Lr9s6Tg4Hv7Kd5Fz0Aa",
    ];
    let quads = [
        [
            (150.0, 80.0),
            (335.0, 130.0),
            (300.0, 349.0),
            (108.0, 345.0),
        ],
        // the same seen from its right
        [
            (330.0, 80.0),
            (370.0, 345.0),
            (178.0, 349.0),
            (145.0, 130.0),
        ],
    ];
    for text in texts {
        for (k, quad) in quads.into_iter().enumerate() {
            // no time beyond the first pass: only its best-ranked triple is fitted
            assert_first_pass_reads(&keystoned(text, quad), text, &format!("quad {k}"));
        }
    }
}

#[test]
fn a_symbol_drawn_at_one_pixel_per_module_is_read_by_the_first_pass() {
    // a generated symbol as a screenshot shows it: one pixel per module, on the pixel grid,
    // 29 and 49 modules a side (versions 3 and 8), on a light page and on a grey one
    let texts = [
        "vouch:v1:serial=VX-2026-000417",
        concat!(
            "https://example.com/field/rack-17/unit-04?serial=VX-2026-000417&site=plant-b",
            "&kind=meter&floor=2&row=C&slot=11&ts=1764&owner=ops-team-north&batch=2026-12"
        ),
    ];
    for text in texts {
        for page in [0.95, 0.6] {
            let (dim, cells) = synth::modules(text);
            let d = dim as f32;
            let (x, y) = (201.0, 117.0);
            let mut canvas = synth::Canvas::flat(640, 480, page);
            let quad = [
                (x, y),
                (x + d + 8.0, y),
                (x + d + 8.0, y + d + 8.0),
                (x, y + d + 8.0),
            ];
            canvas.paste_code(dim, &cells, 4.0, quad, 0.05, 0.95);
            let case = format!("{dim} modules, page {page}");
            assert_first_pass_reads(&canvas.to_gray(), text, &case);
        }
    }
}

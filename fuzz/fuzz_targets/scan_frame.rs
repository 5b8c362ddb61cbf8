//! The scanner on arbitrary raw frames: the first four bytes give the width and height (each
//! 0..=511), the rest is luma (repeated to fill the frame; too few bytes is also tried as a bad
//! buffer). Nothing may panic, whatever the frame: not the binarizers, not our finder location
//! and grid sampling, not rqrr (its panics must be contained, never escape), not the text
//! decoding or label parsing. Whatever is read must carry finite corners.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use vouch_scan::{binarize, decode_luma, finder, DecodeOptions, Frame};

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let w = usize::from(u16::from_le_bytes([data[0], data[1]]) & 0x1FF);
    let h = usize::from(u16::from_le_bytes([data[2], data[3]]) & 0x1FF);
    let body = &data[4..];
    // a buffer of the wrong size is an error, never a panic
    let _ = Frame::new(w, h, body.to_vec());
    if body.is_empty() {
        return;
    }
    let luma: Vec<u8> = body.iter().copied().cycle().take(w * h).collect();
    let Some(img) = binarize::Gray::new(w, h, &luma) else {
        return;
    };
    // the pieces on their own
    let bits = binarize::hybrid(img);
    let found = finder::find_finders(&bits, 1);
    let _ = finder::triples(&found, 6);
    let _ = binarize::otsu(img);
    let _ = binarize::box_blur3(img);
    let _ = binarize::crop_scaled(img, w / 3, h / 3, w, h, 2.5);
    // the whole cascade, as the scanning loop and `vouch-field decode` run it (small budgets)
    for opts in [
        DecodeOptions::frame(),
        DecodeOptions {
            budget: Duration::from_millis(50),
            frame_mode: false,
            likely_code_budget: Duration::from_millis(50),
        },
    ] {
        for d in decode_luma(img, &opts) {
            assert!(
                d.corners
                    .iter()
                    .all(|(x, y)| x.is_finite() && y.is_finite()),
                "corners {:?}",
                d.corners
            );
        }
    }
});

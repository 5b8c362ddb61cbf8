//! rqrr's geometry no longer panics on a degenerate perspective (`vendor/rqrr/VOUCH-PATCH.md`,
//! patch 2): the corpus image on which its assertion fired goes through rqrr alone with no
//! panic. Its own test binary, with this one test: the count of contained panics is the
//! process's, and no other test runs beside it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use std::path::PathBuf;

use vouch_scan::{panics_contained, rq};

#[test]
fn rqrr_alone_no_longer_panics_on_a_degenerate_grid() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/qr-corpus/qrcode-6/7.png");
    if !path.exists() {
        eprintln!("skipped: {} not present", path.display());
        return;
    }
    let img = image::open(&path).unwrap().to_luma8();
    assert_eq!(panics_contained(), 0);
    // upstream's assertion fired on a jiggled grid of this image, every time
    let _codes = rq::baseline(&img);
    assert_eq!(panics_contained(), 0, "rqrr panicked");
}

//! Several codes in one frame: each read once, with its corners where it is, Vouch labels first;
//! and the scanning loop in batch mode (each label reported once per batch, undo, a new batch).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers

#[path = "../benches/synth/mod.rs"]
mod synth;

use std::time::{Duration, Instant};

use vouch_scan::{
    decode_all, decode_luma, DecodeOptions, Decoded, Frame, Report, ScanEvent, Scanner,
    ScannerConfig,
};

type Corners = [(f32, f32); 4];

fn labels(range: std::ops::Range<u32>) -> Vec<String> {
    range.map(synth::label_text).collect()
}

/// The largest distance between a read symbol's corners and the expected ones.
fn corner_error(got: &Corners, want: &Corners) -> f32 {
    got.iter()
        .zip(want)
        .map(|(a, b)| ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt())
        .fold(0.0, f32::max)
}

/// Checks that `read` holds exactly the codes of `want`, each once, each at its place (within
/// two modules: the corners come from the fitted grid).
fn assert_found(read: &[Decoded], want: &[(String, Corners)]) {
    let mut texts: Vec<&str> = read.iter().map(|d| d.text.as_str()).collect();
    texts.sort_unstable();
    texts.dedup();
    assert_eq!(texts.len(), read.len(), "a code was reported twice");
    assert_eq!(read.len(), want.len(), "{texts:?}");
    for (text, corners) in want {
        let d = read
            .iter()
            .find(|d| &d.text == text)
            .unwrap_or_else(|| panic!("{text} not read"));
        let err = corner_error(&d.corners, corners);
        assert!(
            err < 12.0,
            "{text}: corners {:?}, want {corners:?}",
            d.corners
        );
    }
}

#[test]
fn three_labels_in_one_frame_give_three_results_at_their_places() {
    for i in 0..3 {
        let texts = labels(10 * i..10 * i + 3);
        let (img, want) = synth::multi_frame(&texts, texts.len(), 1280, 720, i);
        let read = decode_all(&Frame::from_gray(img));
        assert_found(&read, &want);
        assert!(read.iter().all(|d| d.label.is_some()));
    }
}

#[test]
fn a_rack_of_labels_in_rows_gives_every_label() {
    // 4 x 3 labels close together: finders of neighbouring labels form right angles too, and
    // twelve labels hold more finders than the triple search ranks at once
    for i in 0..2 {
        let texts = labels(100 + 20 * i..112 + 20 * i);
        let (img, want) = synth::multi_frame(&texts, 4, 1280, 720, i);
        assert_found(&decode_all(&Frame::from_gray(img)), &want);
    }
}

#[test]
fn the_frame_budget_also_reads_every_label_in_view() {
    // the scanning loop's options, with a budget a debug build on a shared machine can keep
    let opts = DecodeOptions {
        budget: Duration::from_secs(20),
        likely_code_budget: Duration::from_secs(20),
        ..DecodeOptions::frame()
    };
    let texts = labels(40..44);
    let (img, want) = synth::multi_frame(&texts, texts.len(), 1280, 720, 7);
    let frame = Frame::from_gray(img);
    assert_found(&decode_luma(frame.view(), &opts), &want);
}

#[test]
fn labels_come_before_other_codes() {
    let texts = vec![
        "https://example.com/datasheet/ACME-T1".to_string(),
        synth::label_text(60),
        "SHIP 0042 7781 PALLET 12".to_string(),
        synth::label_text(61),
    ];
    let (img, want) = synth::multi_frame(&texts, texts.len(), 1280, 720, 3);
    let read = decode_all(&Frame::from_gray(img));
    assert_found(&read, &want);
    let order: Vec<bool> = read.iter().map(|d| d.label.is_some()).collect();
    assert_eq!(order, vec![true, true, false, false], "labels first");
}

#[test]
fn the_same_code_twice_in_view_is_one_result() {
    let text = synth::label_text(70);
    let texts = vec![text.clone(), text.clone()];
    let (img, _) = synth::multi_frame(&texts, texts.len(), 1280, 720, 4);
    let read = decode_all(&Frame::from_gray(img));
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].text, text);
}

#[test]
fn a_frame_without_a_code_gives_nothing() {
    let img = synth::empty_frame(1280, 720, 5);
    assert!(decode_all(&Frame::from_gray(img)).is_empty());
}

fn batch_config(report: Report) -> ScannerConfig {
    ScannerConfig {
        options: DecodeOptions {
            budget: Duration::from_secs(20),
            frame_mode: true,
            likely_code_budget: Duration::from_secs(20),
        },
        lost_after_frames: 1,
        report,
        ..ScannerConfig::default()
    }
}

/// Submits one frame, waits until it is decoded and returns the texts reported for it.
fn scan(s: &mut Scanner, frame: Frame) -> Vec<String> {
    let before = s.stats().decoded;
    s.submit(frame).unwrap();
    let until = Instant::now() + Duration::from_secs(120);
    while s.stats().decoded <= before {
        assert!(Instant::now() < until, "worker stalled: {:?}", s.stats());
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut out = Vec::new();
    while let Some(e) = s.try_event() {
        if let ScanEvent::Code { decoded, .. } = e {
            out.push(decoded.text);
        }
    }
    out
}

fn frame_of(texts: &[String], i: u32) -> Frame {
    Frame::from_gray(synth::multi_frame(texts, texts.len(), 960, 540, i).0)
}

fn nothing(i: u32) -> Frame {
    Frame::from_gray(synth::empty_frame(640, 360, i))
}

#[test]
fn a_batch_reports_each_label_once() {
    let t = labels(80..83);
    let mut s = Scanner::start(batch_config(Report::OncePerBatch));
    assert_eq!(scan(&mut s, frame_of(&t[..1], 0)), vec![t[0].clone()]);
    // it leaves the view and comes back: still only once in a batch
    assert!(scan(&mut s, nothing(0)).is_empty());
    assert!(scan(&mut s, frame_of(&t[..1], 1)).is_empty());
    // three in view, one of them already reported: the two new ones, once each
    let mut got = scan(&mut s, frame_of(&t, 2));
    got.sort();
    let mut want = t[1..].to_vec();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(s.overlay().codes.len(), 3, "all three are outlined");
    assert!(scan(&mut s, nothing(1)).is_empty());
    assert!(scan(&mut s, frame_of(&t, 3)).is_empty());
    assert_eq!(s.batch_len(), 3);
    assert_eq!(s.stats().codes_reported, 3);
}

#[test]
fn an_undone_label_is_reported_again_once_it_comes_back() {
    let t = labels(90..91);
    let mut s = Scanner::start(batch_config(Report::OncePerBatch));
    assert_eq!(scan(&mut s, frame_of(&t, 0)), t);
    assert!(s.forget(&t[0]));
    assert!(!s.forget("not in the batch"));
    // still in front of the camera: not queued again at once
    assert!(scan(&mut s, frame_of(&t, 1)).is_empty());
    assert!(scan(&mut s, nothing(2)).is_empty());
    assert_eq!(scan(&mut s, frame_of(&t, 2)), t);
}

#[test]
fn single_mode_reports_a_label_each_time_it_comes_back_and_a_new_batch_forgets() {
    let t = labels(95..96);
    let mut s = Scanner::start(batch_config(Report::EachAppearance));
    assert_eq!(scan(&mut s, frame_of(&t, 0)), t);
    assert!(scan(&mut s, frame_of(&t, 1)).is_empty(), "still in view");
    assert!(scan(&mut s, nothing(3)).is_empty());
    assert_eq!(scan(&mut s, frame_of(&t, 2)), t, "came back");
    assert_eq!(s.batch_len(), 0);

    s.start_batch();
    // in view when the batch starts: new to this batch
    assert_eq!(scan(&mut s, frame_of(&t, 3)), t);
    assert!(scan(&mut s, nothing(4)).is_empty());
    assert!(scan(&mut s, frame_of(&t, 4)).is_empty());
    s.start_batch();
    assert_eq!(scan(&mut s, frame_of(&t, 5)), t, "a new batch forgot it");
    s.end_batch();
    assert!(scan(&mut s, nothing(5)).is_empty());
    assert_eq!(scan(&mut s, frame_of(&t, 6)), t);
}

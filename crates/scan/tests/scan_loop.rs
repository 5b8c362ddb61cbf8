//! The scanning loop: latest frame wins, a code is reported once until it leaves the view, the
//! overlay has its corners, sources end cleanly, and shutdown works. Plus the camera path on a
//! machine without a camera.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers

#[path = "../benches/synth/mod.rs"]
mod synth;

use std::time::{Duration, Instant};

use vouch_scan::{
    DecodeOptions, Frame, FrameSource, ImageFiles, RawFrames, ScanError, ScanEvent, Scanner,
    ScannerConfig,
};

fn config() -> ScannerConfig {
    ScannerConfig {
        // generous: tests run in debug builds on a shared machine
        options: DecodeOptions {
            budget: Duration::from_secs(20),
            frame_mode: true,
            likely_code_budget: Duration::from_secs(20),
        },
        lost_after_frames: 2,
        ..ScannerConfig::default()
    }
}

fn label_frame(i: u32) -> (Frame, String) {
    let (img, text) = synth::case("clean", i);
    (Frame::from_gray(img), text)
}

fn empty_frame() -> Frame {
    Frame::from_gray(image::GrayImage::from_pixel(320, 240, image::Luma([200])))
}

fn wait_decoded(s: &Scanner, n: u64) {
    let until = Instant::now() + Duration::from_secs(120);
    while s.stats().decoded < n {
        assert!(Instant::now() < until, "worker stalled: {:?}", s.stats());
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn codes(s: &Scanner) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(e) = s.try_event() {
        if let ScanEvent::Code { decoded, .. } = e {
            out.push(decoded.text);
        }
    }
    out
}

#[test]
fn latest_frame_wins() {
    let mut s = Scanner::start(config());
    s.pause();
    let (a, _) = label_frame(0);
    let (b, _) = label_frame(1);
    let (c, text_c) = label_frame(2);
    s.submit(a).unwrap();
    s.submit(b).unwrap();
    s.submit(c).unwrap();
    s.resume();
    wait_decoded(&s, 1);
    std::thread::sleep(Duration::from_millis(50));
    let stats = s.stats();
    assert_eq!(stats.submitted, 3);
    assert_eq!(stats.replaced, 2, "older frames were replaced, not queued");
    assert_eq!(stats.decoded, 1);
    assert_eq!(codes(&s), vec![text_c]);
    let overlay = s.overlay();
    assert_eq!(overlay.codes.len(), 1);
    assert!(overlay.codes[0].1.iter().all(|&(x, y)| x > 0.0 && y > 0.0));
    let final_stats = s.stop();
    assert_eq!(final_stats.decoded, 1);
}

#[test]
fn same_code_reported_once_until_it_leaves() {
    let mut s = Scanner::start(config());
    let (f, text) = label_frame(3);
    let mut n = 0;
    for _ in 0..3 {
        s.submit(f.clone()).unwrap();
        n += 1;
        wait_decoded(&s, n);
    }
    assert_eq!(codes(&s), vec![text.clone()], "three frames, one report");
    // two frames without it: it has left the view
    for _ in 0..2 {
        s.submit(empty_frame()).unwrap();
        n += 1;
        wait_decoded(&s, n);
    }
    let mut lost = false;
    while let Some(e) = s.try_event() {
        lost |= matches!(e, ScanEvent::Lost { text: t } if t == text);
    }
    assert!(lost);
    // back in view: reported again
    s.submit(f).unwrap();
    n += 1;
    wait_decoded(&s, n);
    assert_eq!(codes(&s), vec![text]);
    assert_eq!(s.stats().codes_reported, 2);
}

#[test]
fn run_source_until_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    let mut texts = Vec::new();
    for i in 0..2 {
        let (img, text) = synth::case("clean", 10 + i);
        let p = dir.path().join(format!("{i}.png"));
        img.save(&p).unwrap();
        paths.push(p);
        texts.push(text);
    }
    let mut files = ImageFiles::new(paths);
    assert!(files.describe().contains('2'));
    let mut s = Scanner::start(config());
    let mut seen = Vec::new();
    // the source is read as fast as it gives frames: the second may replace the first
    s.run_source(
        &mut files,
        |e| {
            if let ScanEvent::Code { decoded, .. } = e {
                seen.push(decoded.text)
            }
        },
        |_| true,
    )
    .unwrap();
    wait_decoded(&s, 1);
    std::thread::sleep(Duration::from_millis(50));
    seen.extend(codes(&s));
    let stats = s.stop();
    assert_eq!(stats.submitted, 2);
    assert_eq!(stats.decoded + stats.replaced, 2);
    assert!(
        !seen.is_empty() && seen.iter().all(|t| texts.contains(t)),
        "{seen:?}"
    );

    // a channel of raw frames ends when its sender is dropped
    let (tx, mut raw) = RawFrames::channel(1, Duration::from_secs(5));
    let (f, _) = label_frame(4);
    tx.send(f).unwrap();
    drop(tx);
    assert!(raw.next_frame().is_ok());
    assert!(matches!(raw.next_frame(), Err(ScanError::EndOfFrames)));
    let mut fixed = RawFrames::from_frames(vec![empty_frame()]);
    assert_eq!(fixed.next_frame().unwrap().seq, 1);
    assert!(matches!(fixed.next_frame(), Err(ScanError::EndOfFrames)));
}

#[test]
fn source_errors_end_the_loop() {
    struct Unplugged(u32);
    impl FrameSource for Unplugged {
        fn next_frame(&mut self) -> Result<Frame, ScanError> {
            self.0 += 1;
            if self.0 > 2 {
                Err(ScanError::Camera("device disconnected".into()))
            } else {
                Ok(empty_frame())
            }
        }
        fn describe(&self) -> String {
            "flaky".into()
        }
    }
    let mut s = Scanner::start(config());
    let r = s.run_source(&mut Unplugged(0), |_| {}, |_| true);
    assert!(matches!(r, Err(ScanError::Camera(_))));
    drop(s); // shutdown through Drop
}

#[test]
fn shutdown_while_busy_returns() {
    let mut s = Scanner::start(config());
    let (f, _) = label_frame(5);
    s.submit(f).unwrap();
    let started = Instant::now();
    let stats = s.stop();
    assert!(stats.submitted == 1);
    assert!(started.elapsed() < Duration::from_secs(120));
}

#[cfg(not(any(target_os = "android", target_os = "ios")))]
#[test]
fn camera_without_camera_is_a_clear_error() {
    use vouch_scan::camera::{choose_camera, list_cameras, CameraSource};
    match list_cameras() {
        Ok(cams) if cams.is_empty() => {
            assert!(matches!(
                choose_camera(&cams, None),
                Err(ScanError::NoCamera)
            ));
            let err = CameraSource::open(None, None).unwrap_err();
            assert!(matches!(err, ScanError::NoCamera), "{err}");
            assert_eq!(err.to_string(), "no camera found");
        }
        Ok(cams) => eprintln!(
            "{} camera(s) present; no-camera path not exercised",
            cams.len()
        ),
        Err(e) => eprintln!("camera query failed: {e}"),
    }
    assert!(matches!(
        choose_camera(&[], Some(3)),
        Err(ScanError::Camera(_))
    ));
}

#[test]
fn stuck_worker_is_abandoned_and_replaced() {
    // With a zero limit, a worker that is busy when the next frame arrives counts as stuck.
    // Whether it is still busy then depends on how fast the slow frame decodes (an optimised
    // build may finish it first), so a try in which it was not is made again; the test fails
    // unless some try abandons a worker, and in every try the new frame must be decoded.
    let mut abandoned = false;
    for attempt in 0..5 {
        let mut s = Scanner::start(ScannerConfig {
            abandon_after: Duration::ZERO,
            ..config()
        });
        let (slow, _) = synth::case("small_in_1080p", attempt);
        s.submit(Frame::from_gray(slow)).unwrap();
        // long enough for the worker to take it, short of any decode of a noisy 1080p frame
        std::thread::sleep(Duration::from_millis(2));
        let (f, text) = label_frame(6);
        s.submit(f).unwrap();
        let until = Instant::now() + Duration::from_secs(120);
        let mut got = Vec::new();
        while !got.contains(&text) && Instant::now() < until {
            got.extend(codes(&s));
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(got.contains(&text), "the new frame was decoded: {got:?}");
        if s.stats().abandoned_workers >= 1 {
            abandoned = true;
            break;
        }
    }
    assert!(abandoned, "no try abandoned the busy worker");
}

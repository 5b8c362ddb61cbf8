//! Scanner benchmark: detection rate and CPU time per image for rqrr alone, our pipeline and
//! zxing-cpp (through `scripts/zxing_bench.py`, same images, same run).
//!
//! ```text
//! cargo bench -p vouch-scan --bench scan
//! ```
//!
//! Sets (each reported separately):
//! - `corpus-dev` / `corpus-hold`: `../shared/qr-corpus` split by alternating files within each
//!   set (sorted by name; even positions are the development half, odd the hold-out half).
//! - `extra-hold`: optional, `VOUCH_QR_HOLDOUT=DIR` (same layout as the corpus; e.g. the
//!   corpus README's hold-out set).
//! - `unseen`: optional, `VOUCH_QR_UNSEEN=DIR` (same layout): a set never looked at while
//!   tuning, e.g. jsQR's end-to-end images (`scripts/qr_unseen.py` extracts them).
//! - `synth-*`: rendered Vouch labels per failure category (`benches/synth`).
//! - `frame720-code` / `frame1080-code`: every corpus image pasted into a 1280x720 / 1920x1080
//!   scene; `frame720-none` / `frame1080-none`: scenes without a code. Frames are decoded as
//!   the scanning loop decodes them: a still scene's stream, `STREAM_FRAMES` (10) decodes of the
//!   same frame by one `FrameDecoder` (`DecodeOptions::stream()`); read when one decode reads
//!   it, CPU figures over every decode.
//! - `frame720-synth-*` / `frame1080-synth-*`: synthetic camera frames per category
//!   (`synth::frame_case`: typical, small modules, blur, dim, glare, and two that are not Vouch
//!   labels: dense, a version 9 to 18 symbol in perspective, and denseblur, the same
//!   defocused), also decoded as frames.
//!
//! CPU time is the decoding thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), one core, all
//! preprocessing included; image loading is excluded on both sides.
//!
//! Environment: `VOUCH_QR_CORPUS` (default `../../../shared/qr-corpus` from this crate),
//! `VOUCH_QR_HOLDOUT`, `VOUCH_QR_UNSEEN`, `VOUCH_BENCH_NO_ZXING=1`, `VOUCH_BENCH_SYNTH_N` (cases per category, 12),
//! `VOUCH_BENCH_FILTER` (only sets whose name contains it), `VOUCH_BENCH_MISSES=1` (list misses),
//! `VOUCH_BENCH_KEEP=1` (keep the generated images), `VOUCH_BENCH_STILL_FRAMES=1` (decode frames
//! with the still-image options), `VOUCH_BENCH_SINGLE_FRAMES=1` (each frame once, with
//! `DecodeOptions::frame()`), `VOUCH_BENCH_STREAM_FRAMES` (decodes per still scene, 10), `VOUCH_BENCH_TRACE=1` (one line per image: hypothesis, CPU).

// a benchmark binary: failing to write its temp files ends it, with the reason
#![allow(clippy::expect_used)]

#[path = "synth/mod.rs"]
mod synth;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use cpu_time::ThreadTime;
use image::GrayImage;
use vouch_scan::{self as scan, rq, DecodeOptions, Method};

struct Item {
    id: String,
    set: String,
    path: PathBuf,
    img: GrayImage,
    expected: Option<String>,
}

#[derive(Default, Clone)]
struct Outcome {
    ok: bool,
    /// CPU time of each decode (one for an image; one per frame of a stream).
    cpu_ms: Vec<f64>,
    /// Streams: the frame (1-based) that first read the expected code.
    read_at: Option<usize>,
}

/// How many consecutive frames of a still scene a stream decodes (1/3 s at 30 frames a
/// second); `VOUCH_BENCH_STREAM_FRAMES` changes it.
const STREAM_FRAMES: usize = 10;

fn trim(s: &str) -> &str {
    s.trim_end_matches(['\r', '\n'])
}

fn matches(expected: &Option<String>, texts: &[String]) -> bool {
    match expected {
        Some(e) => texts.iter().any(|t| trim(t) == trim(e)),
        None => texts.is_empty(),
    }
}

fn load_dir(dir: &Path, split: bool, prefix: &str) -> Vec<Item> {
    let mut out = Vec::new();
    let Ok(sets) = std::fs::read_dir(dir) else {
        return out;
    };
    let mut sets: Vec<PathBuf> = sets
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    sets.sort();
    for set in sets {
        let mut imgs: Vec<PathBuf> = std::fs::read_dir(&set)
            .map(|r| r.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        imgs.retain(|p| {
            matches!(
                p.extension()
                    .and_then(|e| e.to_str())
                    .map(str::to_ascii_lowercase)
                    .as_deref(),
                Some("png" | "jpg" | "jpeg" | "webp" | "gif")
            ) && p.with_extension("txt").exists()
        });
        imgs.sort();
        for (k, p) in imgs.into_iter().enumerate() {
            let Ok(expected) = std::fs::read_to_string(p.with_extension("txt")) else {
                continue;
            };
            let Ok(img) = image::open(&p) else {
                eprintln!("cannot open {}", p.display());
                continue;
            };
            let set_name = if split {
                if k % 2 == 0 {
                    format!("{prefix}-dev")
                } else {
                    format!("{prefix}-hold")
                }
            } else {
                prefix.to_string()
            };
            let id = format!(
                "{}/{}",
                set.file_name().and_then(|s| s.to_str()).unwrap_or("?"),
                p.file_name().and_then(|s| s.to_str()).unwrap_or("?")
            );
            out.push(Item {
                id: format!("{prefix}:{id}"),
                set: set_name,
                path: p,
                img: img.to_luma8(),
                expected: Some(expected),
            });
        }
    }
    out
}

fn percentile(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let idx = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[idx.min(v.len() - 1)]
}

/// A still scene as a camera stream: `frames` decodes of the same frame by one
/// [`scan::FrameDecoder`] (the scanning loop's), each timed. Returns the codes read by the
/// first decode that read the expected one (else the last decode's), every decode's CPU time,
/// and the 1-based frame that first read the expected code.
fn decode_stream(
    img: &GrayImage,
    expected: &Option<String>,
    frames: usize,
) -> (Vec<scan::Decoded>, Vec<f64>, Option<usize>) {
    let gray = scan::binarize::Gray::new(img.width() as usize, img.height() as usize, img.as_raw())
        .expect("a frame's buffer matches its size");
    let mut decoder = scan::FrameDecoder::new(DecodeOptions::stream());
    let (mut times, mut kept, mut read_at) = (Vec::new(), Vec::new(), None);
    for n in 1..=frames {
        let (codes, ms) = timed(|| decoder.decode(gray));
        times.push(ms);
        let texts: Vec<String> = codes.iter().map(|c| c.text.clone()).collect();
        if read_at.is_none() {
            if expected.is_some() && matches(expected, &texts) {
                read_at = Some(n);
                kept = codes;
            } else if expected.is_none() && !codes.is_empty() {
                // a false read in a frame without a code counts against the pipeline
                kept = codes;
            }
        }
    }
    (kept, times, read_at)
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = ThreadTime::now();
    let r = f();
    (r, t.elapsed().as_secs_f64() * 1000.0)
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let corpus = std::env::var_os("VOUCH_QR_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../../shared/qr-corpus"));
    let filter = std::env::var("VOUCH_BENCH_FILTER").unwrap_or_default();
    let synth_n: u32 = std::env::var("VOUCH_BENCH_SYNTH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    // VOUCH_BENCH_KEEP=1 keeps the generated images (frames, synthetic cases) for a closer look.
    let keep = std::env::var_os("VOUCH_BENCH_KEEP").is_some();
    let tmp = tempfile::Builder::new()
        .disable_cleanup(keep)
        .tempdir()
        .expect("temp dir");
    if keep {
        eprintln!("keeping the generated images in {}", tmp.path().display());
    }

    let mut items = load_dir(&corpus, true, "corpus");
    if let Some(h) = std::env::var_os("VOUCH_QR_HOLDOUT") {
        items.extend(load_dir(Path::new(&h), false, "extra-hold"));
    }
    if let Some(u) = std::env::var_os("VOUCH_QR_UNSEEN") {
        items.extend(load_dir(Path::new(&u), false, "unseen"));
    }
    let corpus_imgs: Vec<GrayImage> = items.iter().map(|i| i.img.clone()).collect();
    let corpus_expected: Vec<String> = items
        .iter()
        .map(|i| i.expected.clone().unwrap_or_default())
        .collect();
    // frame ids name the set their code came from, so misses can be told apart by origin
    let corpus_sets: Vec<String> = items.iter().map(|i| i.set.clone()).collect();
    let save = |img: &GrayImage, name: &str| -> PathBuf {
        let p = tmp.path().join(format!("{name}.png"));
        img.save(&p).expect("write png");
        p
    };
    let want = |set: &str| filter.is_empty() || set.contains(&filter);
    for cat in synth::CATEGORIES {
        let set = format!("synth-{cat}");
        if !want(&set) {
            continue;
        }
        for i in 0..synth_n {
            let (img, text) = synth::case(cat, i);
            let path = save(&img, &format!("{set}-{i}"));
            items.push(Item {
                id: format!("{set}:{i}"),
                set: set.clone(),
                path,
                img,
                expected: Some(text),
            });
        }
    }
    for (w, h, name) in [(1280, 720, "frame720"), (1920, 1080, "frame1080")] {
        if want(&format!("{name}-code")) {
            for (k, (img, exp)) in corpus_imgs.iter().zip(&corpus_expected).enumerate() {
                let f = synth::frame_with(img, w, h, k as u32);
                let path = save(&f, &format!("{name}-code-{k}"));
                items.push(Item {
                    id: format!("{name}-code:{k}:{}", corpus_sets[k]),
                    set: format!("{name}-code"),
                    path,
                    img: f,
                    expected: Some(exp.clone()),
                });
            }
        }
        for cat in synth::FRAME_CATEGORIES {
            let set = format!("{name}-synth-{cat}");
            if !want(&set) {
                continue;
            }
            for i in 0..synth_n {
                let (f, text) = synth::frame_case(cat, i, w, h);
                let path = save(&f, &format!("{set}-{i}"));
                items.push(Item {
                    id: format!("{set}:{i}"),
                    set: set.clone(),
                    path,
                    img: f,
                    expected: Some(text),
                });
            }
        }
        if want(&format!("{name}-none")) {
            for k in 0..30u32 {
                let f = synth::empty_frame(w, h, k);
                let path = save(&f, &format!("{name}-none-{k}"));
                items.push(Item {
                    id: format!("{name}-none:{k}"),
                    set: format!("{name}-none"),
                    path,
                    img: f,
                    expected: None,
                });
            }
        }
    }
    items.retain(|i| want(&i.set));
    eprintln!("{} images", items.len());

    // our side
    // VOUCH_BENCH_STILL_FRAMES=1: frames get the still-image options (to see what the frame
    // budget costs); VOUCH_BENCH_TRACE=1: one line per image on stderr (hypothesis, CPU time).
    let still_frames = std::env::var_os("VOUCH_BENCH_STILL_FRAMES").is_some();
    // VOUCH_BENCH_SINGLE_FRAMES=1: each frame decoded once on its own with
    // DecodeOptions::frame() (the cascade before streams), instead of as a still scene's stream
    let single_frames = std::env::var_os("VOUCH_BENCH_SINGLE_FRAMES").is_some();
    let stream_frames: usize = std::env::var("VOUCH_BENCH_STREAM_FRAMES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(STREAM_FRAMES)
        .max(1);
    let trace = std::env::var_os("VOUCH_BENCH_TRACE").is_some();
    let mut base: HashMap<String, Outcome> = HashMap::new();
    let mut ours: HashMap<String, Outcome> = HashMap::new();
    let mut methods: BTreeMap<String, BTreeMap<Method, usize>> = BTreeMap::new();
    let mut misses: Vec<String> = Vec::new();
    for it in &items {
        let (codes, ms) = timed(|| rq::baseline(&it.img));
        // rqrr alone: its own text (UTF-8 or nothing), as `Grid::decode` returns it
        let texts: Vec<String> = codes
            .iter()
            .filter_map(|c| String::from_utf8(c.bytes.clone()).ok())
            .collect();
        base.insert(
            it.id.clone(),
            Outcome {
                ok: matches(&it.expected, &texts),
                cpu_ms: vec![ms],
                read_at: None,
            },
        );
        let is_frame = it.set.starts_with("frame");
        let (codes, times, read_at) = if is_frame && !still_frames && !single_frames {
            decode_stream(&it.img, &it.expected, stream_frames)
        } else {
            let opts = if is_frame && !still_frames {
                DecodeOptions::frame()
            } else {
                DecodeOptions::default()
            };
            let (codes, ms) = timed(|| scan::decode_image_with(&it.img, &opts));
            (codes, vec![ms], None)
        };
        let ms = times.iter().copied().fold(0.0, f64::max);
        let texts: Vec<String> = codes.iter().map(|c| c.text.clone()).collect();
        let ok = matches(&it.expected, &texts);
        if ok && it.expected.is_some() {
            if let Some(c) = codes.first() {
                *methods
                    .entry(it.set.clone())
                    .or_default()
                    .entry(c.method)
                    .or_default() += 1;
            }
        }
        if !ok {
            misses.push(format!("{} ({:.1} ms) got {:?}", it.id, ms, texts));
        }
        if trace {
            let method = codes.first().map(|c| format!("{:?}", c.method));
            eprintln!("{} {ok} {method:?} {ms:.1} ms", it.id);
        }
        ours.insert(
            it.id.clone(),
            Outcome {
                ok,
                cpu_ms: times,
                read_at,
            },
        );
    }

    // zxing-cpp side
    let mut zx: HashMap<String, Outcome> = HashMap::new();
    let mut zx_note = String::new();
    if std::env::var_os("VOUCH_BENCH_NO_ZXING").is_none() {
        let man = tmp.path().join("manifest.jsonl");
        let mut f = std::fs::File::create(&man).expect("manifest");
        for it in &items {
            let line = serde_json::json!({"id": it.id, "path": it.path});
            writeln!(f, "{line}").expect("manifest write");
        }
        drop(f);
        let script = manifest.join("../../scripts/zxing_bench.py");
        // the project venv's Python, where scripts/setup.sh installs zxing-cpp (pinned)
        let python = vouch_testkit::external_tool("python3");
        match Command::new(&python).arg(&script).arg(&man).output() {
            Ok(out) => {
                for line in String::from_utf8_lossy(&out.stdout).lines() {
                    let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                        continue;
                    };
                    if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
                        if v.get("id").is_none() {
                            zx_note = format!("zxing-cpp not measured: {e}");
                        }
                    }
                    let Some(id) = v.get("id").and_then(|s| s.as_str()) else {
                        continue;
                    };
                    let texts: Vec<String> = v
                        .get("texts")
                        .and_then(|t| t.as_array())
                        .map(|a| {
                            a.iter()
                                .filter_map(|s| s.as_str().map(String::from))
                                .collect()
                        })
                        .unwrap_or_default();
                    let cpu = v.get("cpu_ms").and_then(|c| c.as_f64()).unwrap_or(f64::NAN);
                    let exp = items
                        .iter()
                        .find(|i| i.id == id)
                        .and_then(|i| i.expected.clone());
                    zx.insert(
                        id.to_string(),
                        Outcome {
                            ok: matches(&exp, &texts),
                            cpu_ms: vec![cpu],
                            read_at: None,
                        },
                    );
                }
                if !out.status.success() {
                    zx_note = format!(
                        "zxing script failed: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            }
            Err(e) => zx_note = format!("zxing-cpp not measured: {e}"),
        }
    }

    // report
    let mut sets: Vec<String> = items.iter().map(|i| i.set.clone()).collect();
    sets.dedup();
    let mut seen = Vec::new();
    sets.retain(|s| {
        let new = !seen.contains(s);
        seen.push(s.clone());
        new
    });
    println!("\n## Scanner benchmark (one core, thread CPU time, ms)\n");
    println!(
        "| set | n | rqrr 0.11 alone | this pipeline | zxing-cpp | rqrr med / p95 | pipeline med / p95 | zxing med / p95 |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let row = |set: &str, ids: &[&Item]| {
        let stat = |m: &HashMap<String, Outcome>| -> (String, String) {
            let v: Vec<&Outcome> = ids.iter().filter_map(|i| m.get(&i.id)).collect();
            if v.is_empty() {
                return ("-".into(), "-".into());
            }
            let ok = v.iter().filter(|o| o.ok).count();
            let ms: Vec<f64> = v.iter().flat_map(|o| o.cpu_ms.iter().copied()).collect();
            (
                format!("{:.1} % ({ok})", 100.0 * ok as f64 / v.len() as f64),
                format!("{:.2} / {:.2}", percentile(&ms, 0.5), percentile(&ms, 0.95)),
            )
        };
        let (b, bt) = stat(&base);
        let (o, ot) = stat(&ours);
        let (z, zt) = stat(&zx);
        println!(
            "| {set} | {} | {b} | {o} | {z} | {bt} | {ot} | {zt} |",
            ids.len()
        );
    };
    for set in &sets {
        let ids: Vec<&Item> = items.iter().filter(|i| &i.set == set).collect();
        row(set, &ids);
    }
    let all_corpus: Vec<&Item> = items
        .iter()
        .filter(|i| i.set.starts_with("corpus"))
        .collect();
    if !all_corpus.is_empty() {
        row("corpus (all)", &all_corpus);
    }
    let all_synth: Vec<&Item> = items
        .iter()
        .filter(|i| i.set.starts_with("synth"))
        .collect();
    if !all_synth.is_empty() {
        row("synth (all)", &all_synth);
    }
    // frames with a pasted image, by where the image came from (the id ends with its set)
    for frames in ["frame720-code", "frame1080-code"] {
        for origin in ["corpus", "extra-hold", "unseen"] {
            let ids: Vec<&Item> = items
                .iter()
                .filter(|i| {
                    i.set == frames
                        && i.id
                            .rsplit(':')
                            .next()
                            .is_some_and(|o| o.starts_with(origin))
                })
                .collect();
            if !ids.is_empty() {
                row(&format!("{frames}, {origin} images"), &ids);
            }
        }
    }
    for (name, prefix) in [
        ("frame720 (all)", "frame720"),
        ("frame1080 (all)", "frame1080"),
    ] {
        let ids: Vec<&Item> = items.iter().filter(|i| i.set.starts_with(prefix)).collect();
        if !ids.is_empty() {
            row(name, &ids);
        }
    }
    if !single_frames && !still_frames {
        println!(
            "\nFrames are decoded as a still scene's stream: {stream_frames} decodes of the same \
             frame by one FrameDecoder (DecodeOptions::stream()); a code counts when one of them \
             reads it, and the CPU figures are over every decode. Codes read by frame 1 / 2 / 4 / \
             {stream_frames} (zxing-cpp: one decode):\n"
        );
        for set in sets.iter().filter(|s| s.starts_with("frame")) {
            let v: Vec<&Outcome> = items
                .iter()
                .filter(|i| &i.set == set && i.expected.is_some())
                .filter_map(|i| ours.get(&i.id))
                .collect();
            if v.is_empty() {
                continue;
            }
            let by = |n: usize| {
                v.iter()
                    .filter(|o| o.read_at.is_some_and(|r| r <= n))
                    .count()
            };
            println!(
                "- {set}: {} / {} / {} / {} of {}",
                by(1),
                by(2),
                by(4),
                by(stream_frames),
                v.len()
            );
        }
    }
    if !zx_note.is_empty() {
        // the reference is part of the measurement: without it the figures mean little
        println!("\n{zx_note}");
        eprintln!("{zx_note} (scripts/setup.sh installs it; VOUCH_BENCH_NO_ZXING=1 runs without)");
        std::process::exit(1);
    }
    println!(
        "\nFrames are decoded with DecodeOptions::frame() ({} ms CPU budget, {} ms once a likely \
         code is located), still images with DecodeOptions::default() ({} ms). rxing fallback: {}.",
        DecodeOptions::frame().budget.as_millis(),
        DecodeOptions::frame().likely_code_budget.as_millis(),
        DecodeOptions::default().budget.as_millis(),
        if cfg!(feature = "rxing") {
            "on"
        } else {
            "off (build with --features rxing)"
        }
    );
    println!("\nWhich hypothesis read each code (pipeline):\n");
    for (set, m) in &methods {
        let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k:?} {v}")).collect();
        println!("- {set}: {}", parts.join(", "));
    }
    println!(
        "\nrqrr panics contained in this run: {}",
        rq::panics_contained()
    );
    if std::env::var_os("VOUCH_BENCH_MISSES").is_some() {
        println!("\nPipeline misses:");
        for m in &misses {
            println!("- {m}");
        }
        println!("\nzxing-cpp reads, pipeline misses:");
        for it in &items {
            if zx.get(&it.id).is_some_and(|o| o.ok) && ours.get(&it.id).is_some_and(|o| !o.ok) {
                println!("- {}", it.id);
            }
        }
    }
}

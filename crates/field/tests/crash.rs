//! The crash test: a child process scanning and syncing is killed with SIGKILL at seeded random
//! moments, at least 100 times; then the queue is opened again and synced. The server must end
//! with every confirmed record exactly once, nothing twice, and nothing the install did not
//! make durable.
//!
//! The child is this test binary itself, re-run with `VOUCH_CRASH_CHILD` set (the test
//! `child` below then scans and syncs instead of returning at once). It prints `attempt N`
//! before scanning label N and `confirmed N` once `scan_text` has returned (the record is then
//! durable). Each label is scanned at most once, so a device on the server maps to one scan.
//!
//! A record can be durable without its confirmation having been printed (the kill fell between
//! the fsync and the print): the server may hold it, at most one per kill, and only once. A
//! confirmed record must always be there.
//!
//! `VOUCH_CRASH_SEED` (default 0x5eed) and `VOUCH_CRASH_KILLS` (default 120) can be set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{label_text, Server};
use vouch_field::{Field, RecordState, ScanOptions};

const PREFIX: &str = "CR";
const SYNC_EVERY: u64 = 3;

/// SplitMix64: a small seeded generator, so a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| {
            let v = v.trim();
            match v.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16).ok(),
                None => v.parse().ok(),
            }
        })
        .unwrap_or(default)
}

/// The child: scans labels from `VOUCH_CRASH_START` on, syncing every few scans, until killed.
#[test]
fn child() {
    let Ok(data) = std::env::var("VOUCH_CRASH_CHILD") else {
        return; // not a child: nothing to do
    };
    let start = env_u64("VOUCH_CRASH_START", 0);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let field = match Field::open(&data) {
        Ok(f) => f,
        Err(e) => {
            println!("error open: {e}");
            panic!("{e}");
        }
    };
    for i in start..start + 2_000 {
        println!("attempt {i}");
        let text = label_text(PREFIX, i);
        let options = ScanOptions {
            site: "WO-CRASH",
            ..Default::default()
        };
        if let Err(e) = field.scan_text(&text, &options) {
            println!("error {e}");
            panic!("{e}");
        }
        println!("confirmed {i}");
        if i % SYNC_EVERY == SYNC_EVERY - 1 {
            println!("sync");
            let result = rt.block_on(field.sync(&|_| {}));
            println!("synced {}", result.is_ok());
        }
    }
}

#[test]
fn sigkill_at_random_points_loses_nothing_and_duplicates_nothing() {
    if std::env::var_os("VOUCH_CRASH_CHILD").is_some() {
        return;
    }
    let seed = env_u64("VOUCH_CRASH_SEED", 0x5eed);
    let kills = env_u64("VOUCH_CRASH_KILLS", 120);
    let mut rng = Rng(seed);
    let server = Server::start();
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    // Small batches, so a sync is several uploads and a kill can fall between them.
    std::fs::write(
        d.join("config.toml"),
        "[sync]\nbatch_size = 2\nmax_attempts = 2\nbackoff_base_ms = 10\nbackoff_cap_ms = 50\n",
    )
    .unwrap();
    {
        let field = Field::open(d).unwrap();
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(field.register(&server.invite("technician", "Crash")))
            .unwrap();
    }

    let me = std::env::current_exe().unwrap();
    let run_child = |start: u64| {
        Command::new(&me)
            .args(["--exact", "child", "--nocapture", "--test-threads=1"])
            .env("VOUCH_CRASH_CHILD", d)
            .env("VOUCH_CRASH_START", start.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };

    let mut confirmed = BTreeSet::new();
    let mut in_flight = BTreeSet::new();
    let mut attempted = BTreeSet::new();
    // Reads a killed child's output: what it attempted, what it confirmed, where it was.
    let mut transcript = String::new();
    let mut absorb = |text: &str| {
        transcript.push_str("--- child\n");
        transcript.push_str(text);
        let tail = &transcript[transcript.len().saturating_sub(1500)..];
        assert!(
            !text.contains("FAILED"),
            "the child failed; the last children said:\n{tail}"
        );
        let mut last_attempt = None;
        let mut state = "start";
        for line in text.lines() {
            // libtest prints "test child ... " without a newline before the test's own output.
            let line = line.strip_prefix("test child ... ").unwrap_or(line);
            if let Some(i) = line.strip_prefix("attempt ") {
                let i: u64 = i.parse().unwrap();
                assert!(attempted.insert(i), "label {i} scanned twice");
                last_attempt = Some(i);
                state = "scan";
            } else if let Some(i) = line.strip_prefix("confirmed ") {
                confirmed.insert(i.parse::<u64>().unwrap());
                state = "between";
            } else if line == "sync" {
                state = "sync";
            } else if line.starts_with("synced") {
                state = "between";
            }
        }
        if let Some(i) = last_attempt {
            if !confirmed.contains(&i) {
                in_flight.insert(i);
            }
        }
        (state, last_attempt)
    };

    // How long a child takes to start, scan a few labels and sync once: the kill window.
    let t = Instant::now();
    let mut probe = run_child(0);
    let mut out = probe.stdout.take().unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    while !seen.contains("synced") {
        let n = out.read(&mut buf).unwrap();
        assert!(n > 0, "the child stopped early: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let window = t.elapsed().mul_f64(2.0).max(Duration::from_millis(50));
    probe.kill().unwrap();
    probe.wait().unwrap();
    out.read_to_string(&mut seen).unwrap();
    let mut next = absorb(&seen).1.map_or(0, |i| i + 1);

    let mut killed_in_sync = 0;
    let mut killed_in_scan = 0;
    for _ in 0..kills {
        let mut child = run_child(next);
        let delay =
            Duration::from_micros(rng.next() % u64::try_from(window.as_micros()).unwrap().max(1));
        std::thread::sleep(delay);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let mut text = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        let (state, last) = absorb(&text);
        match state {
            "sync" => killed_in_sync += 1,
            "scan" => killed_in_scan += 1,
            _ => {}
        }
        if let Some(i) = last {
            next = i + 1;
        }
    }

    // Restart and sync until everything is answered.
    let field = Field::open(d).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let report = rt.block_on(field.sync(&|_| {})).unwrap();
    assert_eq!(report.remaining, 0);
    assert!(report.refused.is_empty(), "{:?}", report.refused);

    // The queue: every confirmed label once, all synced; anything else was in flight.
    let mut queued: BTreeMap<u64, usize> = BTreeMap::new();
    let mut resent = 0;
    for e in field.queue().unwrap() {
        resent += usize::from(e.state == RecordState::Duplicate);
        assert!(
            matches!(e.state, RecordState::Accepted | RecordState::Duplicate),
            "{e:?}"
        );
        let i: u64 = e.serial.trim_start_matches("CR-").parse().unwrap();
        *queued.entry(i).or_default() += 1;
    }
    // The server: each device scanned exactly once, and the same set as the queue.
    let mut on_server: BTreeMap<u64, u64> = BTreeMap::new();
    for dev in server.devices() {
        let serial = dev["serial"].as_str().unwrap();
        let i: u64 = serial.trim_start_matches("CR-").parse().unwrap();
        on_server.insert(i, dev["scans"].as_u64().unwrap());
    }
    let lost: Vec<&u64> = confirmed
        .iter()
        .filter(|i| !on_server.contains_key(i))
        .collect();
    assert!(lost.is_empty(), "confirmed but not on the server: {lost:?}");
    let twice: Vec<(&u64, &u64)> = on_server.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        twice.is_empty(),
        "scanned more than once on the server: {twice:?}"
    );
    let extra: Vec<&u64> = on_server
        .keys()
        .filter(|i| !confirmed.contains(i) && !in_flight.contains(i))
        .collect();
    assert!(
        extra.is_empty(),
        "on the server but never scanned durably: {extra:?}"
    );
    assert!(queued.values().all(|n| *n == 1));
    assert_eq!(
        queued.keys().collect::<Vec<_>>(),
        on_server.keys().collect::<Vec<_>>(),
        "the queue and the server disagree"
    );
    let durable_unconfirmed = on_server.len() - confirmed.len();
    eprintln!(
        "seed {seed:#x}: {kills} kills (window {window:?}; {killed_in_scan} during a scan, \
         {killed_in_sync} during a sync); {} labels attempted, {} confirmed, {} on the server \
         ({durable_unconfirmed} durable but killed before the confirmation was printed, of {} \
         in flight); {resent} records were sent again after a kill during a sync and answered \
         duplicate; final sync: {} accepted, {} duplicate",
        attempted.len(),
        confirmed.len(),
        on_server.len(),
        in_flight.len(),
        report.accepted,
        report.duplicate
    );
    assert!(kills >= 100 || std::env::var_os("VOUCH_CRASH_KILLS").is_some());
}

//! App benchmarks (run only with `VOUCH_BENCH=1`, under `xvfb-run`; use the release app with
//! `APP_BIN=target/release/vouch-app`):
//!
//! 1. cold start to an interactive scan screen: the app binary started directly (no WebDriver)
//!    on an install that has joined, timed from `spawn` to the line the shell prints
//!    (`VOUCH_TIMING=1`) when the scan screen reports it is interactive; 5 runs, and 5 more
//!    after dropping the page cache when `VOUCH_BENCH_DROP_CACHES=1` (needs root);
//! 2. resident memory after a minute of scanning: a simulated camera shows six labels in turn
//!    (2 s each, 1 s of empty view between), at 1280×720 and 15 frames a second; the test
//!    confirms every label the camera reads, for 60 s, then sums the RSS of the app and its
//!    WebKit processes.
//!
//! Prints one JSON line per figure (`BENCH {...}`). RSS counts the shared WebKit libraries in
//! every process that maps them; PSS shares them out, so the PSS sum is the honest total.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use vouch_e2e::{app_bin, run_ok, App, DeviceFixture, Launch, Server};

fn enabled() -> bool {
    std::env::var("VOUCH_BENCH").is_ok_and(|v| v == "1")
}

/// Resident set size of a process, in KiB (`VmRSS` in `/proc/PID/status`).
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// A field of `/proc/PID/smaps_rollup` (`Pss`, `Private_Dirty`, ...), in KiB.
fn smaps_kib(pid: u32, field: &str) -> Option<u64> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    rollup
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// `(pid, parent pid, command name)` of every process.
fn processes() -> Vec<(u32, u32, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_string();
        let ppid = stat[close + 1..]
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        out.push((pid, ppid, comm));
    }
    out
}

/// The app's process (the one named like the binary, whose parent is not also the app) and
/// all its descendants.
fn app_tree(bin_name: &str) -> Vec<(u32, String)> {
    let all = processes();
    let short: String = bin_name.chars().take(15).collect();
    let Some(&(root, _, _)) = all.iter().find(|(_, _, comm)| *comm == short) else {
        return Vec::new();
    };
    let mut tree = vec![(root, short)];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i].0;
        for (pid, ppid, comm) in &all {
            if *ppid == parent {
                tree.push((*pid, comm.clone()));
            }
        }
        i += 1;
    }
    tree
}

fn frames(dir: &Path, labels: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let blank = dir.join("blank.png");
    run_ok(
        Command::new("convert")
            .args(["-size", "1280x720", "xc:gray70"])
            .arg(&blank),
    )?;
    let mut order = Vec::new();
    for (i, label) in labels.iter().enumerate() {
        let frame = dir.join(format!("frame{i}.png"));
        run_ok(
            Command::new("convert")
                .args(["-size", "1280x720", "xc:gray70"])
                .arg(label)
                .args([
                    "-gravity",
                    "center",
                    "-geometry",
                    "360x504+0+0",
                    "-composite",
                ])
                .arg(&frame),
        )?;
        order.extend(std::iter::repeat_n(frame, 30));
        order.extend(std::iter::repeat_n(blank.clone(), 15));
    }
    Ok(order)
}

#[tokio::test(flavor = "multi_thread")]
async fn cold_start_and_memory_after_a_minute_of_scanning() -> Result<()> {
    if !enabled() {
        eprintln!("skipped: set VOUCH_BENCH=1 and run under xvfb-run");
        return Ok(());
    }
    let bin = app_bin()?;
    let bin_name = bin
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("vouch-app")
        .to_string();
    let server = Server::start()?;
    let data = tempfile::tempdir()?;
    let work = tempfile::tempdir()?;
    let labels = (1..=6)
        .map(|i| DeviceFixture::new("BENCH", &format!("SN-BENCH-{i}")))
        .collect::<Result<Vec<_>>>()?;
    let order = frames(
        work.path(),
        &labels.iter().map(|l| l.png.clone()).collect::<Vec<_>>(),
    )?;
    let fake = std::env::join_paths(&order)?;

    // Join once (through the UI), so the starts below open the scan screen.
    let invite = server.invite("technician", "Bench Tech")?;
    let app = App::launch(
        Launch {
            data: Some(data.path()),
            invite: Some(&invite),
            ..Launch::default()
        },
        "bench",
    )
    .await?;
    let outcome = async {
        app.click("join-continue").await?;
        app.el("photo-path").await?;
        Ok(())
    }
    .await;
    app.finish(outcome).await?;

    // 1. Cold start.
    let drop_caches = std::env::var("VOUCH_BENCH_DROP_CACHES").is_ok_and(|v| v == "1");
    for cold in [false, true] {
        if cold && !drop_caches {
            continue;
        }
        let mut times = Vec::new();
        for _ in 0..5 {
            if cold {
                run_ok(&mut Command::new("sync"))?;
                std::fs::write("/proc/sys/vm/drop_caches", "3\n")
                    .context("dropping the page cache needs root")?;
            }
            times.push(start_once(&bin, data.path())?);
        }
        times.sort_unstable();
        println!(
            "BENCH {}",
            serde_json::json!({
                "figure": if cold { "cold_start_ms_after_drop_caches" } else { "start_ms_warm_cache" },
                "runs_ms": times,
                "median_ms": times[times.len() / 2],
            })
        );
    }

    // 2. A minute of scanning with the simulated camera.
    let app = App::launch(
        Launch {
            data: Some(data.path()),
            fake_camera: Some(Path::new(&fake)),
            ..Launch::default()
        },
        "bench",
    )
    .await?;
    let outcome = async {
        app.wait_attr("camera-status", "data-state", "running", 30)
            .await?;
        let before: u64 = app_tree(&bin_name)
            .iter()
            .filter_map(|(pid, _)| rss_kib(*pid))
            .sum();
        let started = Instant::now();
        let mut queued = 0u32;
        while started.elapsed() < Duration::from_secs(60) {
            if app.css("#confirm-scan", 5).await.is_err() {
                continue;
            }
            app.click("confirm-scan").await?;
            // A label coming into view just as the button is pressed replaces the card (and
            // the click may miss it): that scan simply is not counted.
            if app.css("#scan-result", 10).await.is_err() {
                continue;
            }
            queued += 1;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let tree = app_tree(&bin_name);
        let per_process: Vec<_> = tree
            .iter()
            .map(|(pid, comm)| {
                serde_json::json!({
                    "process": comm,
                    "rss_kib": rss_kib(*pid),
                    "pss_kib": smaps_kib(*pid, "Pss"),
                    "private_dirty_kib": smaps_kib(*pid, "Private_Dirty"),
                })
            })
            .collect();
        let total: u64 = tree.iter().filter_map(|(pid, _)| rss_kib(*pid)).sum();
        let pss: u64 = tree
            .iter()
            .filter_map(|(pid, _)| smaps_kib(*pid, "Pss"))
            .sum();
        let private: u64 = tree
            .iter()
            .filter_map(|(pid, _)| smaps_kib(*pid, "Private_Dirty"))
            .sum();
        let app_only = tree.first().and_then(|(pid, _)| rss_kib(*pid));
        if tree.is_empty() {
            bail!("the app's process was not found");
        }
        println!(
            "BENCH {}",
            serde_json::json!({
                "figure": "rss_after_60s_scanning",
                "scans_queued": queued,
                "app_rss_mib": app_only.map(|k| k / 1024),
                "app_and_webkit_rss_mib": total / 1024,
                "app_and_webkit_rss_mib_at_start": before / 1024,
                "app_and_webkit_pss_mib": pss / 1024,
                "app_and_webkit_private_dirty_mib": private / 1024,
                "processes": per_process,
            })
        );
        app.shot("scanning").await?;
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// Starts the app directly and returns the milliseconds until it reports the scan screen
/// interactive.
fn start_once(bin: &Path, data: &Path) -> Result<u64> {
    let t0 = Instant::now();
    let mut child = Command::new(bin)
        .arg("--data")
        .arg(data)
        .env("VOUCH_TIMING", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = child.stderr.take().context("stderr")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("scan screen interactive") {
                let _ = tx.send(t0.elapsed());
            }
        }
    });
    let ready = rx.recv_timeout(Duration::from_secs(60)).ok();
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    // Let the WebKit processes go before the next start.
    std::thread::sleep(Duration::from_millis(500));
    let ready = ready.context("the app never reported the scan screen")?;
    Ok(u64::try_from(ready.as_millis()).unwrap_or(u64::MAX))
}

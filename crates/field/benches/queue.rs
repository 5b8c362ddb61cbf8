//! The queue benchmark, against the real `vouch-server` on loopback and real sled on disk:
//!
//! 1. durable scan confirmation latency: `Field::scan_text` from the call to its return, which
//!    includes signing, the sled transaction, sled's flush and the fsync of the `db` file
//!    (p50, p90, p99, max over `VOUCH_BENCH_RECORDS` scans, default 10,000);
//! 2. those records synced end to end: `Field::sync` from the call to its return (TLS
//!    handshake, uploads, the server's checks and durable ingestion, the stored outcomes),
//!    with the default batch size (500) and with 1000.
//!
//! `cargo bench -p vouch-field --bench queue` (builds `vouch-server` in the same profile; set
//! `VOUCH_SERVER_BIN` to use another binary). The data folders are temporary folders under
//! `VOUCH_BENCH_DIR` (default: the system's temporary folder): put it on the disk you want to
//! measure, not on a tmpfs, or the fsync is free.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    missing_docs
)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{label_text, Server};
use vouch_field::{Field, ScanOptions};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// CPU time (user + system) a process has used so far, from `/proc/PID/stat` (Linux; clock
/// ticks of 1/100 s, the USER_HZ of every Linux build). `None` elsewhere.
fn cpu_time(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

fn cpu_delta(pid: &str, before: Option<Duration>) -> String {
    match (before, cpu_time(pid)) {
        (Some(a), Some(b)) => format!("{:.2} s", b.saturating_sub(a).as_secs_f64()),
        _ => "n/a".into(),
    }
}

fn install(server: &Server, rt: &tokio::runtime::Runtime, dir: &Path, batch: usize) -> Field {
    std::fs::write(
        dir.join("config.toml"),
        format!("[sync]\nbatch_size = {batch}\n"),
    )
    .unwrap();
    let field = Field::open(dir).unwrap();
    rt.block_on(field.register(&server.invite("technician", &format!("Bench {batch}"))))
        .unwrap();
    field
}

fn main() {
    let n: u64 = std::env::var("VOUCH_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let base = std::env::var_os("VOUCH_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = Server::start();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "queue benchmark: {n} records, data under {}; load average {}",
        base.display(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );

    for (round, batch) in [500usize, 1000].into_iter().enumerate() {
        let dir = tempfile::tempdir_in(&base).unwrap();
        let field = install(&server, &rt, dir.path(), batch);
        let prefix = format!("B{round}");
        let texts: Vec<String> = (0..n).map(|i| label_text(&prefix, i)).collect();
        let options = ScanOptions {
            site: "WO-BENCH",
            ..Default::default()
        };
        let mut latencies = Vec::with_capacity(texts.len());
        let all = Instant::now();
        for text in &texts {
            let t = Instant::now();
            field.scan_text(text, &options).unwrap();
            latencies.push(t.elapsed());
        }
        let scanning = all.elapsed();
        latencies.sort();
        if round == 0 {
            println!(
                "durable scan confirmation (sign + sled transaction + flush + fsync of db), {} scans in {:.2} s: p50 {}, p90 {}, p99 {}, max {}",
                latencies.len(),
                scanning.as_secs_f64(),
                ms(percentile(&latencies, 0.50)),
                ms(percentile(&latencies, 0.90)),
                ms(percentile(&latencies, 0.99)),
                ms(percentile(&latencies, 1.0)),
            );
        }
        let server_pid = server.pid().map(|p| p.to_string()).unwrap_or_default();
        let server_cpu = cpu_time(&server_pid);
        let client_cpu = cpu_time("self");
        let t = Instant::now();
        let report = rt.block_on(field.sync(&|_| {})).unwrap();
        let elapsed = t.elapsed();
        let server_cpu = cpu_delta(&server_pid, server_cpu);
        let client_cpu = cpu_delta("self", client_cpu);
        assert_eq!(report.accepted as u64, n, "{report:?}");
        assert_eq!(report.remaining, 0);
        println!(
            "sync of {n} queued records, batch size {batch} ({} uploads): {:.3} s end to end ({:.0} records/s); CPU time: server {server_cpu}, client {client_cpu}",
            report.batches,
            elapsed.as_secs_f64(),
            n as f64 / elapsed.as_secs_f64()
        );
    }
}

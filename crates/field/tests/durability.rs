//! Proof, with strace, that `vouch-field scan` confirms a record only after an fsync of sled's
//! `db` file has covered every write to it.
//!
//! sled 0.34.7's `flush()` ends in `sync_file_range`, which flushes neither the file's metadata
//! nor the disk's cache. The queue therefore fsyncs the `db` file after `flush()`; this test
//! traces the real binary and checks the order: last write to `db` → fsync of `db` completes →
//! the "queued" line is written to stdout. Skipped (with a message) where strace is missing;
//! `scripts/setup.sh` installs it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use common::{field_bin, label_text, Server};

fn strace_available() -> bool {
    Command::new("strace")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// One traced syscall, completed at line `done` of the trace.
#[derive(Debug)]
struct Call {
    name: String,
    fd_path: String,
    args: String,
    done: usize,
}

/// Parses `strace -f -y -o` output (lines `PID name(args) = ret`, with `<unfinished ...>` /
/// `<... name resumed>` pairs when threads interleave) into calls ordered by completion.
fn parse(trace: &str) -> Vec<Call> {
    let mut open: HashMap<String, (String, String)> = HashMap::new();
    let mut calls = Vec::new();
    for (n, line) in trace.lines().enumerate() {
        let Some((pid, rest)) = line.split_once(' ') else {
            continue;
        };
        let rest = rest.trim_start();
        if let Some(resumed) = rest.strip_prefix("<... ") {
            let name = resumed.split_whitespace().next().unwrap_or("").to_string();
            if let Some((name0, args)) = open.remove(pid) {
                if name0 == name {
                    let fd_path = fd_path(&args);
                    calls.push(Call {
                        name,
                        fd_path,
                        args,
                        done: n,
                    });
                }
            }
            continue;
        }
        let Some((name, args)) = rest.split_once('(') else {
            continue;
        };
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        if rest.ends_with("<unfinished ...>") {
            open.insert(pid.to_string(), (name.to_string(), args.to_string()));
            continue;
        }
        calls.push(Call {
            name: name.to_string(),
            fd_path: fd_path(args),
            args: args.to_string(),
            done: n,
        });
    }
    calls.sort_by_key(|c| c.done);
    calls
}

/// The path strace -y prints for the first argument: `5</tmp/x/queue/db>`.
fn fd_path(args: &str) -> String {
    args.split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(p, _)| p.to_string())
        .unwrap_or_default()
}

#[test]
fn a_scan_is_confirmed_only_after_an_fsync_of_the_db_file() {
    if !strace_available() {
        eprintln!("SKIPPED: strace is not on PATH (scripts/setup.sh installs it)");
        return;
    }
    let server = Server::start();
    let data = tempfile::tempdir().unwrap();
    let d = data.path().canonicalize().unwrap();
    let invite = server.invite("technician", "Traced");
    common::cli_ok(&d, &["register", "--invite", &invite]);
    common::cli_ok(
        &d,
        &["scan", "--text", &label_text("TRC", 0), "--site", "W"],
    );

    for i in 1..=3 {
        let trace_file = d.join(format!("trace-{i}.txt"));
        let out = Command::new("strace")
            .args(["-f", "-y", "-s", "64", "-o"])
            .arg(&trace_file)
            .args([
                "-e",
                "trace=fsync,fdatasync,sync_file_range,write,pwrite64,pwritev,pwritev2,writev",
            ])
            .arg(field_bin())
            .arg("--data")
            .arg(&d)
            .args([
                "scan",
                "--text",
                &label_text("TRC", i),
                "--site",
                "WO-STRACE",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("queued #"));
        let trace = std::fs::read_to_string(&trace_file).unwrap();
        check(&trace, &d.join("queue/db"), i);
    }
}

fn check(trace: &str, db: &Path, run: u64) {
    let db = db.to_string_lossy().to_string();
    let calls = parse(trace);
    let confirmed = calls
        .iter()
        .find(|c| c.name == "write" && c.args.contains("queued #"))
        .unwrap_or_else(|| panic!("no confirmation in the trace:\n{trace}"));
    let on_db = |c: &&Call| c.fd_path == db && c.done < confirmed.done;
    let writes: Vec<&Call> = calls
        .iter()
        .filter(on_db)
        .filter(|c| c.name.starts_with("write") || c.name.starts_with("pwrite"))
        .collect();
    let last_write = writes
        .last()
        .unwrap_or_else(|| panic!("no write to {db} before the confirmation:\n{trace}"));
    let fsync = calls
        .iter()
        .filter(on_db)
        .find(|c| (c.name == "fsync" || c.name == "fdatasync") && c.done > last_write.done)
        .unwrap_or_else(|| {
            panic!("no fsync of {db} between its last write and the confirmation:\n{trace}")
        });
    let ranges = calls
        .iter()
        .filter(on_db)
        .filter(|c| c.name == "sync_file_range")
        .count();
    eprintln!(
        "run {run}: {} writes to db, {ranges} sync_file_range (sled's flush), then {} of db \
         completed at trace line {}, confirmation written at line {}",
        writes.len(),
        fsync.name,
        fsync.done,
        confirmed.done
    );
    assert!(fsync.done < confirmed.done);
}

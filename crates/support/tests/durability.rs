//! Proof, with strace, of the order of the system calls of a durable write: the temporary file
//! is created exclusively, written and fsynced before it gets its name; the name is given by a
//! rename (replacing) or by a no-replace rename or hard link (create-new), and the folder is
//! fsynced after that. Skipped (with a message) where strace is missing; `scripts/setup.sh`
//! installs it.
//!
//! The test runs its own binary again under strace, with `child_writes` doing the writes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::Path;
use std::process::Command;

const CHILD_DIR: &str = "VOUCH_SUPPORT_DURABILITY_DIR";

/// The traced part: does nothing unless run by the test below.
#[test]
fn child_writes() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let dir = Path::new(&dir);
    vouch_support::fs::write_atomic(&dir.join("replaced.json"), b"new", 0o644).unwrap();
    vouch_support::fs::write_new(&dir.join("created.key"), b"key", 0o600).unwrap();
}

fn strace_available() -> bool {
    Command::new("strace")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The index of the first line at or after `from` that contains every one of `parts`.
fn find(lines: &[&str], from: usize, parts: &[&str]) -> usize {
    lines[from..]
        .iter()
        .position(|l| parts.iter().all(|p| l.contains(p)))
        .map(|i| i + from)
        .unwrap_or_else(|| {
            panic!(
                "no call with {parts:?} after line {from}:\n{}",
                lines.join("\n")
            )
        })
}

/// Checks the calls for one file: exclusive create of `.NAME.*.tmp`, write and fsync of it,
/// then `naming` (a call naming both the temporary and the final file), then an fsync of the
/// folder. Returns the line after.
fn check_one(lines: &[&str], from: usize, dir: &str, name: &str, naming: &[&str]) -> usize {
    let tmp = format!("{dir}/.{name}.");
    let create = find(lines, from, &["openat(", &tmp, "O_CREAT", "O_EXCL"]);
    let write = find(lines, create, &["write(", &tmp]);
    let fsync = find(lines, write, &["fsync(", &tmp]);
    let final_name = format!("{dir}/{name}\"");
    let mut rename_parts = naming.to_vec();
    rename_parts.push(&final_name);
    let rename = find(lines, fsync, &rename_parts);
    assert!(lines[rename].contains(&tmp), "{}", lines[rename]);
    let dir_fsync = find(lines, rename, &["fsync(", &format!("<{dir}>")]);
    dir_fsync + 1
}

#[test]
fn a_write_is_synced_before_its_rename_and_the_folder_after() {
    if !strace_available() {
        eprintln!("SKIPPED: strace is not installed (scripts/setup.sh installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dir_path = dir.path().canonicalize().unwrap();
    std::fs::write(dir_path.join("replaced.json"), b"old").unwrap();
    let trace = dir_path.join("trace");
    let work = dir_path.join("work");
    std::fs::create_dir(&work).unwrap();
    let status = Command::new("strace")
        .args(["-f", "-y", "-s", "256", "-o"])
        .arg(&trace)
        .args([
            "-e",
            "trace=openat,write,fsync,fdatasync,rename,renameat,renameat2,link,linkat",
        ])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "child_writes", "--test-threads=1"])
        .env(CHILD_DIR, &work)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(std::fs::read(work.join("created.key")).unwrap(), b"key");
    assert_eq!(std::fs::read(work.join("replaced.json")).unwrap(), b"new");

    let text = std::fs::read_to_string(&trace).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let work = work.to_string_lossy().into_owned();
    let next = check_one(&lines, 0, &work, "replaced.json", &["rename"]);
    // Create-new: renameat2 with RENAME_NOREPLACE, or a hard link where that is unsupported.
    let noreplace = lines[next..]
        .iter()
        .any(|l| l.contains("renameat2(") && l.contains("RENAME_NOREPLACE"));
    let naming: &[&str] = if noreplace {
        &["renameat2(", "RENAME_NOREPLACE"]
    } else {
        &["link"]
    };
    check_one(&lines, next, &work, "created.key", naming);
    // The create-new path never replaces by a plain rename.
    assert!(!lines[next..]
        .iter()
        .any(|l| l.contains("rename(") && l.contains("created.key\"")));
}

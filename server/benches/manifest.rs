//! Manifest import benchmark: `vouch-server device import` of a CSV manifest of LINES devices
//! (default 100,000) against the real server on its sled store, timed from the command's start
//! to its exit (reading the file, the HTTPS request, checking every line, one transaction,
//! durable on disk); then the same file again (nothing new: the idempotent path), and the
//! `GET /v1/devices?state=expected` listing of them all.
//!
//! Run: `cargo bench -p vouch-server --bench manifest` (env: LINES).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::fmt::Write as _;
use std::time::Instant;

use common::*;
use vouch_protocol::key::{hex, public_key_of};
use vouch_protocol::p256::ecdsa::SigningKey;

fn main() {
    let lines: usize = std::env::var("LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("serial,model,key,batch,order\n");
    for i in 0..lines {
        let key = SigningKey::random(&mut rand_core::OsRng);
        let key = hex(&public_key_of(&key).to_sec1_compressed());
        writeln!(
            csv,
            "SN-{i:08},ACME-T1,{key},B{},PO-{}",
            i / 1000,
            i / 10_000
        )
        .unwrap();
    }
    let file = dir.path().join("manifest.csv");
    std::fs::write(&file, &csv).unwrap();
    let file = file.to_str().unwrap();
    println!(
        "vouch-server manifest bench: {lines} lines, {:.1} MB",
        csv.len() as f64 / 1e6
    );
    let timed = |what: &str| {
        let started = Instant::now();
        let out = server.admin_ok(&["device", "import", file, "--reason", "bench"]);
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{what}: {secs:.2} s ({:.0} lines/s): {}",
            lines as f64 / secs,
            out.trim()
        );
    };
    timed("first import");
    timed("same file again");
    let started = Instant::now();
    let listed = server.admin_ok(&["device", "list", "--state", "expected", "--json"]);
    println!(
        "listing the expected devices: {:.2} s ({:.1} MB of JSON)",
        started.elapsed().as_secs_f64(),
        listed.len() as f64 / 1e6
    );
}

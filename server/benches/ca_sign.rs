//! CA signatures per second: the CA key in a PKCS#11 token (SoftHSM2, made in a temporary
//! folder by this bench) next to the file key, measured in one run. Two figures per key: bare
//! signatures (rcgen's `SigningKey::sign` over a certificate-sized message) and whole device
//! certificates issued (`Authority::issue_client`: building, DER, one signature).
//!
//! Run: `cargo bench -p vouch-server --bench ca_sign` (env: SIGNATURES, default 2000).
//! Needs `softhsm2-util` and the module /usr/lib/softhsm/libsofthsm2.so (scripts/setup.sh).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::process::Command;
use std::time::Instant;

use rcgen::SigningKey;
use vouch_server::authority::token::{KeyUri, TokenKey};
use vouch_server::authority::{Authority, CaKey, Profile};
use vouch_server::clock::{Clock, SystemClock};
use vouch_server::config::Pkcs11Config;

const PIN: &str = "bench-pin-1";

fn main() {
    let n: usize = std::env::var("SIGNATURES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let dir = tempfile::tempdir().unwrap();
    let conf = make_token(dir.path());
    // Set before any other thread exists: SoftHSM2 reads it when the module is initialised.
    std::env::set_var("SOFTHSM2_CONF", &conf);
    std::fs::write(dir.path().join("pin"), PIN).unwrap();
    let config = Pkcs11Config {
        module: "/usr/lib/softhsm/libsofthsm2.so".into(),
        pin_env: "UNUSED".into(),
        pin_file: dir.path().join("pin"),
    };
    let uri = KeyUri::parse("pkcs11:token=bench;object=ca").unwrap();
    let token_key = TokenKey::open(&config, uri, true).unwrap();
    let token_pem =
        Authority::self_signed_ca("Bench CA", &token_key, SystemClock.now_ms()).unwrap();
    let token = Authority::from_key(&token_pem, CaKey::Token(token_key)).unwrap();
    let (file_pem, file_key) = Authority::generate_ca("Bench CA", SystemClock.now_ms()).unwrap();
    let file = Authority::from_pem(&file_pem, &file_key).unwrap();

    let client = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let spki = rcgen::PublicKeyData::subject_public_key_info(&client);
    println!("CA signatures, {n} each, one thread, this run:");
    for (name, authority) in [("file key (ring)", &file), ("token (SoftHSM2)", &token)] {
        let signs = per_second(n, || {
            authority.ca_key().sign(&[0x5a; 400]).unwrap();
        });
        let certs = per_second(n, || device_certificate(authority, &spki));
        println!("  {name:<18} {signs:>8.0} signatures/s   {certs:>8.0} device certificates/s");
    }
}

/// A SoftHSM2 config whose token folder is under `dir`, with one token labelled `bench`.
fn make_token(dir: &std::path::Path) -> std::path::PathBuf {
    std::fs::create_dir(dir.join("tokens")).unwrap();
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            dir.join("tokens").display()
        ),
    )
    .unwrap();
    let status = Command::new("softhsm2-util")
        .env("SOFTHSM2_CONF", &conf)
        .args(["--init-token", "--free", "--label", "bench", "--pin", PIN])
        .args(["--so-pin", "bench-so-1"])
        .output()
        .unwrap()
        .status;
    assert!(status.success(), "softhsm2-util --init-token");
    conf
}

fn per_second(n: usize, mut f: impl FnMut()) -> f64 {
    f(); // warm-up
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn device_certificate(authority: &Authority, spki: &[u8]) {
    let profile = Profile::Device {
        serial: "SN-BENCH".into(),
    };
    authority.issue_client(spki, &profile, 365, 300).unwrap();
}

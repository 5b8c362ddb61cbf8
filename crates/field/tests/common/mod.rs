//! Test harness for the field engine: the real `vouch-server` binary on a loopback port with a
//! temporary data folder, the real `vouch-field` binary, and device labels.
//!
//! `vouch-server` is another package's binary, so it has no `CARGO_BIN_EXE_` here: the harness
//! builds it once per test process (`cargo build -p vouch-server`, a no-op when the workspace
//! tests already built it) and runs it from the same target folder. `VOUCH_SERVER_BIN=PATH`
//! uses that binary instead.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use vouch_protocol::key::{public_key_of, sha256};
use vouch_protocol::p256::ecdsa::SigningKey;
use vouch_protocol::{Label, Model, Serial};
use vouch_testkit::ServerProcess;

/// The `vouch-field` binary of this package.
pub fn field_bin() -> &'static str {
    env!("CARGO_BIN_EXE_vouch-field")
}

/// The target profile folder this test runs from (`target/debug`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/debug/deps/<test>-<hash>
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

/// The `vouch-server` binary, built once per process (`VOUCH_SERVER_BIN` overrides).
pub fn server_bin() -> PathBuf {
    vouch_testkit::workspace_bin("vouch-server", "vouch-server", "VOUCH_SERVER_BIN")
}

/// A running server (the shared harness, `vouch-testkit`), logging at warn; stopped with
/// SIGTERM when dropped. `stop` keeps the data folder and `restart` serves it again on the
/// same port.
pub struct Server(ServerProcess);

impl std::ops::Deref for Server {
    type Target = ServerProcess;

    fn deref(&self) -> &ServerProcess {
        &self.0
    }
}

impl std::ops::DerefMut for Server {
    fn deref_mut(&mut self) -> &mut ServerProcess {
        &mut self.0
    }
}

impl Server {
    pub fn start() -> Self {
        Self::start_with_config(&[])
    }

    /// Starts with `(from, to)` text replacements applied to the example config.
    pub fn start_with_config(replacements: &[(&str, &str)]) -> Self {
        Self(ServerProcess::start(&server_bin(), replacements, "warn"))
    }

    /// Every device the server holds (`vouch-server device list --json`: the operator's own mTLS
    /// client, independent of the field engine).
    pub fn devices(&self) -> Vec<Value> {
        let out = self.admin_ok(&["device", "list", "--json"]);
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        match v {
            Value::Array(a) => a,
            Value::Object(mut o) => match o.remove("devices") {
                Some(Value::Array(a)) => a,
                other => panic!("device list: {other:?}"),
            },
            other => panic!("device list: {other}"),
        }
    }
}

/// A deterministic device label: key from `SHA-256(seed || i)`, serial `<prefix>-<i>`.
pub fn label(prefix: &str, i: u64) -> (SigningKey, Label) {
    let mut seed = prefix.as_bytes().to_vec();
    seed.extend_from_slice(&i.to_be_bytes());
    let key = SigningKey::from_slice(&sha256(&seed)).unwrap();
    let label = Label::new(
        Model::new("ACME-T1").unwrap(),
        Serial::new(&format!("{prefix}-{i:05}")).unwrap(),
        public_key_of(&key),
    );
    (key, label)
}

/// The compact text of [`label`].
pub fn label_text(prefix: &str, i: u64) -> String {
    label(prefix, i).1.to_compact().unwrap()
}

/// Runs `vouch-field --data DATA args...`.
pub fn cli(data: &Path, args: &[&str]) -> Output {
    Command::new(field_bin())
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .unwrap()
}

/// Like [`cli`], asserting success; returns stdout.
pub fn cli_ok(data: &Path, args: &[&str]) -> String {
    let out = cli(data, args);
    assert!(
        out.status.success(),
        "vouch-field {args:?}: status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Writes a config with fast retries (tests should not wait seconds for backoff).
pub fn fast_retries(data: &Path, max_attempts: u32) {
    std::fs::create_dir_all(data).unwrap();
    std::fs::write(
        data.join("config.toml"),
        format!(
            "[sync]\nbatch_size = 500\nmax_attempts = {max_attempts}\nbackoff_base_ms = 20\nbackoff_cap_ms = 100\nconnect_timeout_ms = 2000\nrequest_timeout_ms = 30000\n"
        ),
    )
    .unwrap();
}

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

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use vouch_protocol::key::{public_key_of, sha256};
use vouch_protocol::p256::ecdsa::SigningKey;
use vouch_protocol::{Label, Model, Serial};

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

/// The `vouch-server` binary, built once per process.
pub fn server_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("VOUCH_SERVER_BIN") {
            return PathBuf::from(bin);
        }
        let profile = profile_dir();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args([
            "build",
            "--quiet",
            "-p",
            "vouch-server",
            "--bin",
            "vouch-server",
        ]);
        if profile.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        if let Some(target) = profile.parent() {
            cmd.env("CARGO_TARGET_DIR", target);
        }
        let status = cmd.status().expect("run cargo build -p vouch-server");
        assert!(status.success(), "cargo build -p vouch-server failed");
        let bin = profile.join(format!("vouch-server{}", std::env::consts::EXE_SUFFIX));
        assert!(bin.exists(), "no {}", bin.display());
        bin
    })
}

/// A running server; stopped with SIGTERM when dropped.
pub struct Server {
    pub dir: tempfile::TempDir,
    pub addr: SocketAddr,
    child: Option<Child>,
}

impl Server {
    pub fn start() -> Self {
        Self::start_with_config(&[])
    }

    /// Starts with `(from, to)` text replacements applied to the example config.
    pub fn start_with_config(replacements: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(server_bin())
            .arg("--data")
            .arg(dir.path())
            .args(["init", "--hostname", "localhost"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "init: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = dir.path().join("config.toml");
        let mut text = std::fs::read_to_string(&path).unwrap();
        for (from, to) in replacements {
            assert!(text.contains(from), "config has no {from:?}");
            text = text.replace(from, to);
        }
        std::fs::write(&path, text).unwrap();
        Self::serve(dir, "127.0.0.1:0")
    }

    /// Serves `dir` on `listen`.
    pub fn serve(dir: tempfile::TempDir, listen: &str) -> Self {
        let _ = std::fs::remove_file(dir.path().join("server.addr"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.path().join("server.log"))
            .unwrap();
        let child = Command::new(server_bin())
            .arg("--data")
            .arg(dir.path())
            .args(["serve", "--listen", listen])
            .env("VOUCH_LOG_LEVEL", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let started = Instant::now();
        let addr = loop {
            if let Ok(text) = std::fs::read_to_string(dir.path().join("server.addr")) {
                if let Ok(addr) = text.trim().parse() {
                    break addr;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        Self {
            dir,
            addr,
            child: Some(child),
        }
    }

    /// The server process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn data(&self) -> &Path {
        self.dir.path()
    }

    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    pub fn ca_pem_path(&self) -> PathBuf {
        self.dir.path().join("ca/ca.pem")
    }

    /// Runs an admin command against this server's data folder.
    pub fn admin(&self, args: &[&str]) -> Output {
        Command::new(server_bin())
            .arg("--data")
            .arg(self.data())
            .args(args)
            .output()
            .unwrap()
    }

    pub fn admin_ok(&self, args: &[&str]) -> String {
        let out = self.admin(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// A one-time invite for `role`.
    pub fn invite(&self, role: &str, name: &str) -> String {
        let url = self.url();
        let out = self.admin_ok(&[
            "invite",
            "--role",
            role,
            "--name",
            name,
            "--json",
            "--server-url",
            &url,
        ]);
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        v["invite"].as_str().unwrap().to_string()
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

    /// Stops the server (SIGTERM), keeping its data folder; `restart` serves it again on the
    /// same port.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(&mut child);
        }
    }

    /// Serves the same data folder on the same port again.
    pub fn restart(&mut self) {
        self.stop();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        let listen = self.addr.to_string();
        let started = Instant::now();
        loop {
            // The port may take a moment to be free again.
            if std::net::TcpListener::bind(self.addr).is_ok() || started.elapsed().as_secs() > 10 {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        *self = Self::serve(dir, &listen);
    }
}

fn terminate(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
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

//! A throwaway PostgreSQL cluster for tests: `scripts/pg-cluster.sh` (Debian's `initdb` and
//! `pg_ctl`, run as the unprivileged `postgres` user when the tests run as root) in a
//! temporary folder, reached on a Unix socket ([`PgCluster::start`]) or also on a loopback TCP
//! port, with TLS or without ([`PgCluster::start_tcp`]). A watchdog started with it removes it
//! once the test process has ended, however it ended.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// A running cluster; removed when dropped (and by its watchdog when the process ends).
pub struct PgCluster {
    dir: PathBuf,
    url: String,
    databases: AtomicU32,
}

/// `scripts/pg-cluster.sh` at the workspace root.
fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/pg-cluster.sh")
}

/// Runs the script; its output's last line (a URL), or a panic with what it said.
fn run_script(args: &[&str]) -> String {
    let out = Command::new(script())
        .args(args)
        .env("VOUCH_PG_OWNER_PID", std::process::id().to_string())
        .output()
        .expect("running scripts/pg-cluster.sh");
    assert!(
        out.status.success(),
        "scripts/pg-cluster.sh {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string()
}

impl PgCluster {
    /// Starts a new cluster of this test's own in a new temporary folder (a few seconds).
    pub fn start() -> Self {
        Self::start_with(&["start"], &[])
    }

    /// Starts a new cluster that also listens on a free port of 127.0.0.1, where the user
    /// `vouch` logs in with the password its URL carries. With `tls` (the server's certificate
    /// and key, PEM files) it has `ssl=on` and refuses TCP clients that do not use TLS; with
    /// `None` it offers no TLS. Its URL names the host `localhost` and connects to 127.0.0.1
    /// (`hostaddr`), and asks nothing of TLS: a test adds the `sslmode` it means.
    pub fn start_tcp(tls: Option<(&Path, &Path)>) -> Self {
        let port = free_port().to_string();
        let files: Vec<&str> = tls
            .map(|(cert, key)| [cert, key].map(|p| p.to_str().expect("a UTF-8 certificate path")))
            .into_iter()
            .flatten()
            .collect();
        Self::start_with(
            &["start-tcp"],
            &[&[port.as_str()], files.as_slice()].concat(),
        )
    }

    /// `scripts/pg-cluster.sh COMMAND DIR ARGS...` in a new temporary folder.
    fn start_with(command: &[&str], args: &[&str]) -> Self {
        for tool in ["initdb", "pg_ctl"] {
            crate::external_tool(tool);
        }
        // A short path: a Unix socket's path is limited to about 100 bytes.
        let parent = std::env::temp_dir();
        let dir = parent.join(format!(
            "vouch-pg-{}-{}",
            std::process::id(),
            NEXT_CLUSTER.fetch_add(1, Ordering::Relaxed)
        ));
        let dir_arg = [dir.to_str().expect("a UTF-8 temp folder")];
        let url = run_script(&[command, &dir_arg, args].concat());
        Self {
            dir,
            url,
            databases: AtomicU32::new(0),
        }
    }

    /// One cluster for the whole test process, started on first use; tests that only need a
    /// database of their own share it ([`PgCluster::create_database`]).
    pub fn shared() -> &'static PgCluster {
        static SHARED: OnceLock<PgCluster> = OnceLock::new();
        SHARED.get_or_init(PgCluster::start)
    }

    /// The URL of the cluster's `vouch` database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The folder the cluster (and its Unix socket) is in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A new empty database; its URL.
    pub fn create_database(&self) -> String {
        let name = format!("t_{}", self.databases.fetch_add(1, Ordering::Relaxed));
        run_script(&["createdb", self.dir_str(), &name])
    }

    /// Stops the server (fast shutdown: sessions are cut), keeping its data.
    pub fn stop(&self) {
        run_script(&["stop", self.dir_str()]);
    }

    /// Stops the server as a crash would (immediate shutdown: no checkpoint, and WAL that was
    /// not yet flushed is lost), keeping its data.
    pub fn crash(&self) {
        run_script(&["crash", self.dir_str()]);
    }

    /// Starts a stopped server again on the same data and socket.
    pub fn restart(&self) {
        run_script(&["restart", self.dir_str()]);
    }

    fn dir_str(&self) -> &str {
        self.dir.to_str().expect("a UTF-8 temp folder")
    }
}

static NEXT_CLUSTER: AtomicU32 = AtomicU32::new(0);

/// A loopback port nobody listens on right now (the cluster binds it a moment later).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .args(["remove", self.dir_str()])
            .status();
    }
}

//! A throwaway PostgreSQL cluster for tests: `scripts/pg-cluster.sh` (Debian's `initdb` and
//! `pg_ctl`, run as the unprivileged `postgres` user when the tests run as root) in a
//! temporary folder, reached on a Unix socket only. A watchdog started with it removes it once
//! the test process has ended, however it ended.

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
        let url = run_script(&["start", dir.to_str().expect("a UTF-8 temp folder")]);
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

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .args(["remove", self.dir_str()])
            .status();
    }
}

//! # vouch-testkit
//!
//! What the workspace's tests share: finding (and building once) the workspace's binaries, a
//! throwaway PostgreSQL cluster ([`PgCluster`]), and the real `vouch-server` process, `init`ed on a temporary data folder and serving on a free
//! loopback port, with its admin commands. Test code: the plain methods panic with what went
//! wrong; the `try_` ones return it, for harnesses that must not panic (a WebDriver session
//! left open by a panic outlives the test).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

mod postgres;
pub use postgres::PgCluster;

/// How long a server may take to start before a test gives up.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The profile folder (`target/debug` or `target/release`) the running test executable is in.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    // <target>/<profile>/deps/<test>-<hash>
    exe.parent()
        .and_then(Path::parent)
        .expect("a test executable under target/<profile>/deps")
        .to_path_buf()
}

/// A binary of this workspace: the path in `env_override` if that variable is set, else
/// `cargo build -p package --bin bin` once per process (a no-op when it is up to date), in the
/// profile and target folder of the running test, and that binary.
pub fn workspace_bin(package: &str, bin: &str, env_override: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    if let Some(path) = std::env::var_os(env_override) {
        return PathBuf::from(path);
    }
    let built = BUILT.get_or_init(|| Mutex::new(HashMap::new()));
    let mut built = built.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(path) = built.get(bin) {
        return path.clone();
    }
    let profile = profile_dir();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "-p", package, "--bin", bin]);
    if profile.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    if let Some(target) = profile.parent() {
        cmd.env("CARGO_TARGET_DIR", target);
    }
    let status = cmd.status().expect("running cargo build");
    assert!(
        status.success(),
        "cargo build -p {package} --bin {bin} failed"
    );
    let path = profile.join(format!("{bin}{}", std::env::consts::EXE_SUFFIX));
    assert!(path.exists(), "no {} after the build", path.display());
    built.insert(bin.to_string(), path.clone());
    path
}

/// The project's Python tools folder: `VOUCH_VENV` if set, else `.venv` at the workspace root
/// (where `scripts/setup.sh` installs pkilint, sslyze and schemathesis).
pub fn tools_venv() -> PathBuf {
    match std::env::var_os("VOUCH_VENV") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv"),
    }
}

/// An external program a test runs: from the project's Python tools folder ([`tools_venv`])
/// if it is there, else the name itself (found on `PATH`). Panics, naming the program and the
/// setup step, if it is in neither place: a test that needs a tool fails without it (it never
/// skips), so CI always runs the check.
pub fn external_tool(name: &str) -> PathBuf {
    let in_venv = tools_venv().join("bin").join(name);
    if in_venv.is_file() {
        return in_venv;
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    });
    on_path.unwrap_or_else(|| {
        panic!(
            "{name} is not installed (looked in {} and on PATH): run scripts/setup.sh",
            tools_venv().join("bin").display()
        )
    })
}

/// Stops a child process: SIGTERM, up to 15 s for it to exit, then SIGKILL.
pub fn terminate(child: &mut Child) {
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

/// A real `vouch-server` on a temporary data folder; stopped with SIGTERM when dropped.
pub struct ServerProcess {
    /// The data folder.
    pub dir: tempfile::TempDir,
    /// Where it listens.
    pub addr: SocketAddr,
    bin: PathBuf,
    log_level: &'static str,
    env: Vec<(String, String)>,
    child: Option<Child>,
}

/// `vouch-server init` on a new temporary folder, with `(from, to)` text replacements applied
/// to the example configuration it writes (each `from` must be there).
pub fn init_data(bin: &Path, replacements: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let out = Command::new(bin)
        .arg("--data")
        .arg(dir.path())
        .args(["init", "--hostname", "localhost"])
        .output()
        .expect("running vouch-server init");
    assert!(
        out.status.success(),
        "init: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = dir.path().join("config.toml");
    let mut text = std::fs::read_to_string(&path).expect("the example configuration");
    for (from, to) in replacements {
        assert!(text.contains(from), "config has no {from:?}");
        text = text.replace(from, to);
    }
    std::fs::write(&path, text).expect("writing the configuration");
    dir
}

impl ServerProcess {
    /// `init` a fresh data folder (with config replacements) and serve it on a free port,
    /// logging at `log_level` to `DATA/server.log`.
    pub fn start(bin: &Path, replacements: &[(&str, &str)], log_level: &'static str) -> Self {
        let dir = init_data(bin, replacements);
        Self::serve(bin, dir, "127.0.0.1:0", log_level)
    }

    /// Serves an existing data folder on `listen` (`127.0.0.1:0` for a free port) and waits
    /// for the address it writes.
    pub fn serve(
        bin: &Path,
        dir: tempfile::TempDir,
        listen: &str,
        log_level: &'static str,
    ) -> Self {
        Self::try_serve(bin, dir, listen, log_level).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`ServerProcess::serve`], saying what went wrong instead of panicking.
    pub fn try_serve(
        bin: &Path,
        dir: tempfile::TempDir,
        listen: &str,
        log_level: &'static str,
    ) -> Result<Self, String> {
        Self::try_serve_with_env(bin, dir, listen, log_level, &[])
    }

    /// [`ServerProcess::try_serve`] with extra environment variables for the server (and its
    /// restarts), e.g. where a PKCS#11 token is and its PIN.
    pub fn try_serve_with_env(
        bin: &Path,
        dir: tempfile::TempDir,
        listen: &str,
        log_level: &'static str,
        env: &[(&str, &str)],
    ) -> Result<Self, String> {
        let mut server = Self {
            dir,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            bin: bin.to_path_buf(),
            log_level,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            child: None,
        };
        server.spawn(listen)?;
        Ok(server)
    }

    fn spawn(&mut self, listen: &str) -> Result<(), String> {
        let addr_file = self.dir.path().join("server.addr");
        let _ = std::fs::remove_file(&addr_file);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .map_err(|e| format!("opening the server log: {e}"))?;
        let child = Command::new(&self.bin)
            .arg("--data")
            .arg(self.dir.path())
            .args(["serve", "--listen", listen])
            .env("VOUCH_LOG_LEVEL", self.log_level)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", self.bin.display()))?;
        self.child = Some(child);
        let started = Instant::now();
        loop {
            if let Ok(text) = std::fs::read_to_string(&addr_file) {
                if let Ok(addr) = text.trim().parse() {
                    self.addr = addr;
                    return Ok(());
                }
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(format!("vouch-server did not start: {}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The binary this server runs.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// The data folder.
    pub fn data(&self) -> &Path {
        self.dir.path()
    }

    /// `https://localhost:PORT`.
    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    /// The CA certificate file.
    pub fn ca_pem_path(&self) -> PathBuf {
        self.dir.path().join("ca/ca.pem")
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.ca_pem_path()).expect("the CA certificate")
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// The server process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Runs an admin command against this server's data folder.
    pub fn admin(&self, args: &[&str]) -> Output {
        Command::new(&self.bin)
            .arg("--data")
            .arg(self.data())
            .args(args)
            .output()
            .expect("running a vouch-server admin command")
    }

    /// Runs an admin command that must succeed; its standard output.
    pub fn admin_ok(&self, args: &[&str]) -> String {
        let out = self.admin(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8 output")
    }

    /// A one-time invite for `role` (extra `invite` arguments such as `--trusted` after).
    pub fn invite_with(&self, role: &str, name: &str, extra: &[&str]) -> String {
        self.try_invite_with(role, name, extra)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`ServerProcess::invite_with`], saying what went wrong instead of panicking.
    pub fn try_invite_with(
        &self,
        role: &str,
        name: &str,
        extra: &[&str],
    ) -> Result<String, String> {
        let url = self.url();
        let mut args = vec![
            "invite",
            "--role",
            role,
            "--name",
            name,
            "--json",
            "--server-url",
            &url,
        ];
        args.extend_from_slice(extra);
        let out = Command::new(&self.bin)
            .arg("--data")
            .arg(self.data())
            .args(&args)
            .output()
            .map_err(|e| format!("running {}: {e}", self.bin.display()))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(format!(
                "vouch-server invite: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let v: Value = serde_json::from_str(stdout.trim()).map_err(|e| format!("{e}: {stdout}"))?;
        v["invite"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("no invite in {stdout}"))
    }

    /// A one-time invite for `role`.
    pub fn invite(&self, role: &str, name: &str) -> String {
        self.invite_with(role, name, &[])
    }

    /// Stops the server (SIGTERM), keeping its data folder.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(&mut child);
        }
    }

    /// Kills the server at once (SIGKILL, a crash: no shutdown, nothing flushed on the way out),
    /// keeping its data folder.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server and hands over its data folder.
    pub fn into_data(mut self) -> tempfile::TempDir {
        self.stop();
        std::mem::replace(
            &mut self.dir,
            tempfile::tempdir().expect("a temporary folder"),
        )
    }

    /// Serves the same data folder on the same port again.
    pub fn restart(&mut self) {
        self.try_restart().unwrap_or_else(|e| panic!("{e}"));
    }

    /// [`ServerProcess::restart`], saying what went wrong instead of panicking.
    pub fn try_restart(&mut self) -> Result<(), String> {
        self.stop();
        let started = Instant::now();
        // The port may take a moment to be free again.
        while TcpListener::bind(self.addr).is_err() && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let listen = self.addr.to_string();
        self.spawn(&listen)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

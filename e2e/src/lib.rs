//! Harness for the end-to-end tests of the Vouch app: the real `vouch-server` on a free
//! loopback port, `vouch-device` for labels and enrollment, and the real app binary in a real
//! window, driven through `tauri-driver` and `WebKitWebDriver` (thirtyfour).
//!
//! The tests need an X display (`xvfb-run`), `tauri-driver` and `WebKitWebDriver` on `PATH`,
//! and built binaries: `target/debug/vouch-app` (built with `--features tauri/custom-protocol`
//! after `trunk build` of `ui/`), `vouch-server` and `vouch-device`. `scripts/test.sh` does all
//! of that. They run only when `VOUCH_E2E=1`, so `cargo test --workspace` without a display
//! skips them. Overrides: `APP_BIN`, `VOUCH_SERVER_BIN`, `VOUCH_DEVICE_BIN`; screenshots go to
//! `VOUCH_SCREENSHOTS` (default `target/screenshots`).
//!
//! Following `TOOLCHAIN.md` section 7: two ports chosen while both listeners are held, a wait
//! for both before the session, SIGTERM (never SIGKILL) for `tauri-driver`, and no panic while
//! a session is open (collect the outcome, quit, then assert).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use thirtyfour::prelude::*;
use vouch_testkit::{terminate, ServerProcess};

/// Whether the end-to-end tests were asked for (`VOUCH_E2E=1`).
pub fn enabled() -> bool {
    std::env::var("VOUCH_E2E").is_ok_and(|v| v == "1")
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Cargo's target folder: `CARGO_TARGET_DIR` if set, else the workspace's `target/`.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"))
}

fn binary(env: &str, name: &str) -> Result<PathBuf> {
    let path = std::env::var_os(env)
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("debug").join(name));
    path.canonicalize().with_context(|| {
        format!(
            "{} not found: build it first (scripts/test.sh does), or set {env}",
            path.display()
        )
    })
}

/// The app binary.
pub fn app_bin() -> Result<PathBuf> {
    binary("APP_BIN", "vouch-app")
}

/// The server binary.
pub fn server_bin() -> Result<PathBuf> {
    binary("VOUCH_SERVER_BIN", "vouch-server")
}

/// The device agent binary.
pub fn device_bin() -> Result<PathBuf> {
    binary("VOUCH_DEVICE_BIN", "vouch-device")
}

/// Where screenshots go.
pub fn screenshot_dir() -> PathBuf {
    std::env::var_os("VOUCH_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/screenshots"))
}

/// Runs a command and returns its output, failing with its stderr when it fails.
pub fn run_ok(cmd: &mut Command) -> Result<String> {
    let out: Output = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A running `vouch-server` on a temporary data folder (the shared harness, `vouch-testkit`);
/// stopped with SIGTERM when dropped. Its methods return errors rather than panic, since a
/// WebDriver session may be open when they run.
pub struct Server(ServerProcess);

impl std::ops::Deref for Server {
    type Target = ServerProcess;

    fn deref(&self) -> &ServerProcess {
        &self.0
    }
}

impl Server {
    /// `init` a fresh data folder and serve it on a free port.
    pub fn start() -> Result<Self> {
        let bin = server_bin()?;
        let dir = vouch_testkit::init_data(&bin, &[]);
        let server =
            ServerProcess::try_serve(&bin, dir, "127.0.0.1:0", "warn").map_err(|e| anyhow!(e))?;
        Ok(Self(server))
    }

    /// The CA certificate file.
    pub fn ca_pem(&self) -> PathBuf {
        self.0.ca_pem_path()
    }

    /// A one-time invite for `role` (`technician` or `supervisor`).
    pub fn invite(&self, role: &str, name: &str) -> Result<String> {
        self.0
            .try_invite_with(role, name, &[])
            .map_err(|e| anyhow!(e))
    }

    /// Stops the server (SIGTERM), keeping its data.
    pub fn stop(&mut self) {
        self.0.stop();
    }

    /// Serves the same data folder on the same port again.
    pub fn restart(&mut self) -> Result<()> {
        self.0.try_restart().map_err(|e| anyhow!(e))
    }
}

/// A device made by `vouch-device keygen`, with its printed label as a PNG.
pub struct DeviceFixture {
    /// The device folder.
    pub dir: tempfile::TempDir,
    /// The label image.
    pub png: PathBuf,
    /// The compact label text.
    pub label: String,
}

impl DeviceFixture {
    /// Makes a device's key and its label image.
    pub fn new(model: &str, serial: &str) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let out = run_ok(
            Command::new(device_bin()?)
                .args(["keygen", "--dir"])
                .arg(dir.path())
                .args(["--model", model, "--serial", serial]),
        )?;
        let label = out
            .lines()
            .find(|l| l.starts_with("VOUCH1:"))
            .unwrap_or_default()
            .trim()
            .to_string();
        let png = dir.path().join("label.png");
        run_ok(
            Command::new(device_bin()?)
                .args(["label", "--dir"])
                .arg(dir.path())
                .arg("--png")
                .arg(&png),
        )?;
        Ok(Self { dir, png, label })
    }

    /// `vouch-device enroll` against the server.
    pub fn enroll(&self, server: &Server) -> Result<String> {
        self.enroll_with(server, &[])
    }

    /// `vouch-device enroll` with extra arguments (`--again`).
    pub fn enroll_with(&self, server: &Server, extra: &[&str]) -> Result<String> {
        run_ok(
            Command::new(device_bin()?)
                .args(["enroll", "--dir"])
                .arg(self.dir.path())
                .args(["--server", &server.url(), "--ca"])
                .arg(server.ca_pem())
                .args(extra),
        )
    }
}

/// `tauri-driver` on two free ports; stopped with SIGTERM (so it stops `WebKitWebDriver`).
pub struct Driver {
    child: Child,
    /// The WebDriver port.
    pub port: u16,
}

impl Driver {
    /// Starts `tauri-driver` and waits until it and `WebKitWebDriver` accept connections.
    pub async fn start(env: &[(&str, &std::ffi::OsStr)]) -> Result<Self> {
        let (port, native_port) = {
            let a = TcpListener::bind("127.0.0.1:0")?;
            let b = TcpListener::bind("127.0.0.1:0")?;
            (a.local_addr()?.port(), b.local_addr()?.port())
        };
        let child = Command::new("tauri-driver")
            .args(["--port", &port.to_string()])
            .args(["--native-port", &native_port.to_string()])
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("tauri-driver on PATH (scripts/setup.sh app installs it)")?;
        let driver = Self { child, port };
        let started = Instant::now();
        for p in [port, native_port] {
            while TcpStream::connect(("127.0.0.1", p)).is_err() {
                if started.elapsed() > Duration::from_secs(20) {
                    bail!("driver port {p} did not open");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(driver)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

/// The app in a WebDriver session.
pub struct App {
    /// The session.
    pub driver: WebDriver,
    _tauri_driver: Driver,
    /// Screenshots are named `<prefix>-<name>.png`.
    pub prefix: String,
}

/// How to launch the app.
#[derive(Default)]
pub struct Launch<'a> {
    /// `--data DIR`.
    pub data: Option<&'a Path>,
    /// `--invite TEXT`.
    pub invite: Option<&'a str>,
    /// Images to loop as the camera, one path or several separated like `PATH`, a path
    /// repeated to hold its image longer (`VOUCH_FAKE_CAMERA`, passed down through
    /// `tauri-driver` and `WebKitWebDriver`, which start the app with their environment).
    pub fake_camera: Option<&'a Path>,
    /// Dark theme (`GTK_THEME=Adwaita:dark`, which WebKitGTK passes to the page as
    /// `prefers-color-scheme: dark`).
    pub dark: bool,
}

impl App {
    /// Starts `tauri-driver` and a session that launches the app with `launch`'s arguments.
    pub async fn launch(launch: Launch<'_>, prefix: &str) -> Result<Self> {
        let mut env = Vec::new();
        if let Some(image) = launch.fake_camera {
            env.push(("VOUCH_FAKE_CAMERA", image.as_os_str()));
        }
        if launch.dark {
            env.push(("GTK_THEME", std::ffi::OsStr::new("Adwaita:dark")));
        }
        let tauri_driver = Driver::start(&env).await?;
        let mut args = Vec::new();
        if let Some(data) = launch.data {
            args.push("--data".to_string());
            args.push(data.display().to_string());
        }
        if let Some(invite) = launch.invite {
            args.push("--invite".to_string());
            args.push(invite.to_string());
        }
        let mut caps = Capabilities::new();
        caps.set("browserName", "wry")?;
        caps.set(
            "tauri:options",
            serde_json::json!({ "application": app_bin()?, "args": args }),
        )?;
        let driver = WebDriver::new(format!("http://127.0.0.1:{}", tauri_driver.port), caps)
            .await
            .context("WebDriver session")?;
        Ok(Self {
            driver,
            _tauri_driver: tauri_driver,
            prefix: prefix.to_string(),
        })
    }

    /// Ends the session after a flow: a last screenshot if the flow failed, then `quit`, then
    /// the flow's outcome. Call it as `app.finish(flow(&app).await).await`, so nothing panics
    /// while the session is open.
    pub async fn finish(self, outcome: Result<()>) -> Result<()> {
        if outcome.is_err() {
            let _ = self.shot("failure").await;
        }
        let quit = self.driver.quit().await;
        outcome.and(quit.map_err(Into::into))
    }

    /// The element with this id, once it exists (up to 20 s).
    pub async fn el(&self, id: &str) -> Result<WebElement> {
        self.driver
            .query(By::Id(id))
            .wait(Duration::from_secs(20), Duration::from_millis(100))
            .first()
            .await
            .with_context(|| format!("no element #{id}"))
    }

    /// The first element matching a CSS selector, once it exists (up to `secs`).
    pub async fn css(&self, selector: &str, secs: u64) -> Result<WebElement> {
        self.driver
            .query(By::Css(selector))
            .wait(Duration::from_secs(secs), Duration::from_millis(100))
            .first()
            .await
            .with_context(|| format!("nothing matches {selector}"))
    }

    /// Clicks the element with this id once it exists and is enabled.
    pub async fn click(&self, id: &str) -> Result<()> {
        let el = self.el(id).await?;
        let started = Instant::now();
        while !el.is_enabled().await? {
            if started.elapsed() > Duration::from_secs(20) {
                bail!("#{id} stayed disabled");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Centre it first: the sticky header and navigation bar would otherwise cover an
        // element scrolled just into view.
        self.driver
            .execute(
                "arguments[0].scrollIntoView({ block: 'center' });",
                vec![el.to_json()?],
            )
            .await?;
        el.click().await.with_context(|| format!("click #{id}"))
    }

    /// Sets an input's value as typing would (an `input` event, which Yew listens to).
    pub async fn type_into(&self, id: &str, text: &str) -> Result<()> {
        let el = self.el(id).await?;
        self.driver
            .execute(
                "arguments[0].value = arguments[1]; \
                 arguments[0].dispatchEvent(new Event('input', { bubbles: true }));",
                vec![el.to_json()?, serde_json::Value::from(text)],
            )
            .await?;
        Ok(())
    }

    /// Waits (up to `secs`) until the element's text contains `needle`, ignoring case (the
    /// text is as rendered, after CSS `text-transform`); returns the text.
    pub async fn wait_text(&self, id: &str, needle: &str, secs: u64) -> Result<String> {
        let started = Instant::now();
        let mut last = String::new();
        let needle_lower = needle.to_lowercase();
        while started.elapsed() < Duration::from_secs(secs) {
            if let Ok(el) = self.driver.find(By::Id(id)).await {
                last = el.text().await.unwrap_or_default();
                if last.to_lowercase().contains(&needle_lower) {
                    return Ok(last);
                }
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        bail!("#{id} never contained {needle:?} (last text: {last:?})")
    }

    /// Waits (up to `secs`) until the element's attribute equals `value`.
    pub async fn wait_attr(&self, id: &str, attr: &str, value: &str, secs: u64) -> Result<()> {
        let started = Instant::now();
        let mut last = None;
        while started.elapsed() < Duration::from_secs(secs) {
            if let Ok(el) = self.driver.find(By::Id(id)).await {
                last = el.attr(attr).await.ok().flatten();
                if last.as_deref() == Some(value) {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        bail!("#{id}[{attr}] never became {value:?} (last: {last:?})")
    }

    /// Waits (up to `secs`) until the element exists and its attribute is not `value`.
    pub async fn wait_attr_not(&self, id: &str, attr: &str, value: &str, secs: u64) -> Result<()> {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(secs) {
            if let Ok(el) = self.driver.find(By::Id(id)).await {
                if el.attr(attr).await.ok().flatten().as_deref() != Some(value) {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        bail!("#{id}[{attr}] stayed {value:?}")
    }

    /// An input's current value.
    pub async fn value_of(&self, id: &str) -> Result<String> {
        Ok(self.el(id).await?.prop("value").await?.unwrap_or_default())
    }

    /// Runs a script that calls its last argument (`done`) with a result, and returns that
    /// result. For promises: `window.__TAURI__...then(done, e => done({ error: String(e) }))`.
    pub async fn run_async(
        &self,
        script: &str,
        args: Vec<serde_json::Value>,
    ) -> Result<serde_json::Value> {
        let ret = self.driver.execute_async(script, args).await?;
        Ok(ret.json().clone())
    }

    /// Files dropped on the window, as Tauri reports a drop (its `tauri://drag-drop` event with
    /// the paths): a native drag cannot be made through WebDriver, so the event is emitted as
    /// the shell emits it, and the page's own handler does the rest.
    pub async fn drop_files(&self, paths: &[&Path]) -> Result<()> {
        let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        let ret = self
            .run_async(
                "const [paths, done] = arguments; \
                 window.__TAURI__.event \
                   .emit('tauri://drag-drop', { paths, position: { x: 200, y: 200 } }) \
                   .then(() => done(null), e => done(String(e)));",
                vec![serde_json::json!(paths)],
            )
            .await?;
        if !ret.is_null() {
            bail!("the drop event was not emitted: {ret}");
        }
        Ok(())
    }

    /// An image file pasted into the page (Ctrl+V with an image on the clipboard): a `paste`
    /// event carrying the file, as the WebView makes one.
    pub async fn paste_image(&self, path: &Path) -> Result<()> {
        let bytes = std::fs::read(path)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let ret = self
            .run_async(
                "const [bytes, name, done] = arguments; \
                 try { \
                   const file = new File([new Uint8Array(bytes)], name, { type: 'image/png' }); \
                   const data = new DataTransfer(); \
                   data.items.add(file); \
                   const ev = new ClipboardEvent('paste', \
                     { clipboardData: data, bubbles: true, cancelable: true }); \
                   document.dispatchEvent(ev); \
                   done(ev.defaultPrevented ? null : 'the page did not take the image'); \
                 } catch (e) { done(String(e)); }",
                vec![serde_json::json!(bytes), serde_json::json!(name)],
            )
            .await?;
        if !ret.is_null() {
            bail!("paste: {ret}");
        }
        Ok(())
    }

    /// Scrolls the element into view, then saves a screenshot (see [`Self::shot`]).
    pub async fn shot_at(&self, name: &str, id: &str) -> Result<PathBuf> {
        self.el(id).await?.scroll_into_view().await?;
        self.shot(name).await
    }

    /// Saves a screenshot of the window as `<dir>/<prefix>-<name>.png`.
    pub async fn shot(&self, name: &str) -> Result<PathBuf> {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{}-{name}.png", self.prefix));
        // Let transitions and the last render settle.
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.driver.screenshot(&path).await?;
        Ok(path)
    }
}

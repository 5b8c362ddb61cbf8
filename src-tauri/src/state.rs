//! What the shell keeps while it runs: the field engine on the app's data folder, the invite the
//! app was launched with, the camera session and a short activity log.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use serde::Serialize;
use vouch_field::{now_ms, BatchSlot, Field, SyncReport};
use vouch_protocol::wire::AppActivity;

use crate::camera::Camera;
use crate::error::{Error, Report, Result};

/// Environment variable naming the data folder (tests, several installs on one machine).
pub const DATA_ENV: &str = "VOUCH_FIELD_DATA";
/// Command-line option naming the data folder (`--data DIR`).
pub const DATA_ARG: &str = "--data";
/// Environment variable carrying an invite to join with on first run.
pub const INVITE_ENV: &str = "VOUCH_INVITE";
/// Command-line option carrying an invite to join with on first run (`--invite TEXT`).
pub const INVITE_ARG: &str = "--invite";
/// Environment variable naming image files to use as a simulated camera (desktop).
pub const FAKE_CAMERA_ENV: &str = "VOUCH_FAKE_CAMERA";
/// Environment variable: `1` prints start-up timing to stderr.
pub const TIMING_ENV: &str = "VOUCH_TIMING";
/// Entries kept in the activity log.
const LOG_LINES: usize = 200;

/// One line of the activity log: codes and numbers, no words, so that the UI says it in the
/// chosen language (the message catalogue's `activity-*` entries).
#[derive(Clone, Debug, Serialize)]
pub struct LogLine {
    /// When, milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// What was done.
    pub what: AppActivity,
    /// For [`AppActivity::Start`]: milliseconds from the shell's start until the scan screen
    /// was interactive.
    pub after_ms: Option<u64>,
    /// Why it failed, as a command's error would have said (`None`: it was done).
    pub error: Option<Report>,
}

/// What the settings and about screens show.
#[derive(Clone, Debug, Serialize)]
pub struct AppInfo {
    /// The app version.
    pub version: String,
    /// The data folder (identity, queue, config).
    pub data_dir: String,
    /// Why the data folder could not be opened, if it could not (the UI says it in the
    /// catalogue's words for its code).
    pub open_error: Option<Report>,
    /// Days synced records are kept (0: forever).
    pub retention_days: Option<u32>,
    /// Records per upload.
    pub batch_size: Option<usize>,
    /// Attempts per batch before a sync gives up.
    pub max_attempts: Option<u32>,
    /// `native` or `plugin` (see [`crate::camera::BACKEND`]).
    pub camera_backend: &'static str,
    /// Whether the camera is simulated from image files (`VOUCH_FAKE_CAMERA`).
    pub simulated_camera: bool,
}

/// The shell's state, managed by Tauri and handed to every command.
pub struct AppState {
    started: std::time::Instant,
    field: std::result::Result<Field, Report>,
    data_dir: PathBuf,
    launch_invite: Option<String>,
    /// The camera session (desktop: nokhwa through the field engine's scanning loop).
    pub camera: Camera,
    /// The batch being scanned, if any.
    pub batch: BatchSlot,
    log: Mutex<VecDeque<LogLine>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl AppState {
    /// Opens the field engine on `data_dir`. A failure is kept and answered by every command
    /// that needs the engine, so the window still opens and says what is wrong.
    pub fn open(data_dir: PathBuf, launch_invite: Option<String>) -> Self {
        let field = Field::open(&data_dir).map_err(|e| Error::from(e).report());
        let state = Self {
            started: std::time::Instant::now(),
            field,
            data_dir,
            launch_invite,
            camera: Camera::default(),
            batch: BatchSlot::default(),
            log: Mutex::new(VecDeque::new()),
        };
        if let Err(report) = &state.field {
            state.note(AppActivity::Open, None, Some(report.clone()));
        }
        state
    }

    /// The field engine, or why it could not be opened.
    pub fn field(&self) -> Result<&Field> {
        self.field.as_ref().map_err(|report| Error::Unavailable {
            code: report.code,
            message: report.message.clone(),
            facts: report.facts.clone(),
        })
    }

    /// The data folder.
    pub fn data_dir(&self) -> &PathBuf {
        &self.data_dir
    }

    /// What the settings and about screens show.
    pub fn info(&self, version: &str) -> AppInfo {
        let config = self.field.as_ref().ok().map(Field::config);
        AppInfo {
            version: version.to_string(),
            data_dir: self.data_dir.display().to_string(),
            open_error: self.field.as_ref().err().cloned(),
            retention_days: config.map(|c| c.queue.retention_days),
            batch_size: config.map(|c| c.sync.batch_size),
            max_attempts: config.map(|c| c.sync.max_attempts),
            camera_backend: crate::camera::BACKEND,
            simulated_camera: cfg!(not(mobile)) && std::env::var_os(FAKE_CAMERA_ENV).is_some(),
        }
    }

    /// The invite given on the command line or in `VOUCH_INVITE`, if any.
    pub fn launch_invite(&self) -> Option<String> {
        self.launch_invite.clone()
    }

    /// Notes the outcome of `what` in the activity log and converts the error.
    pub fn track<T>(&self, what: AppActivity, result: vouch_field::Result<T>) -> Result<T> {
        let result = result.map_err(Error::from);
        self.note(what, None, result.as_ref().err().map(Error::report));
        result
    }

    /// Notes how a sync ended in the activity log (the engine keeps the outcome for the queue
    /// screen's "last sync" line: [`Field::last_sync`]).
    pub fn track_sync(&self, result: vouch_field::Result<SyncReport>) -> Result<SyncReport> {
        self.track(AppActivity::Sync, result)
    }

    /// Notes that the scan screen is interactive: in the activity log, and on stderr when
    /// `VOUCH_TIMING=1` (for the start-up benchmark). Answers the milliseconds since the shell
    /// started.
    pub fn ui_ready(&self) -> u64 {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.note(AppActivity::Start, Some(ms), None);
        if std::env::var_os(TIMING_ENV).is_some_and(|v| v == "1") {
            eprintln!("vouch: timing: scan screen interactive after {ms} ms");
        }
        ms
    }

    /// Adds a line to the activity log.
    fn note(&self, what: AppActivity, after_ms: Option<u64>, error: Option<Report>) {
        let mut log = lock(&self.log);
        if log.len() == LOG_LINES {
            log.pop_front();
        }
        log.push_back(LogLine {
            at_ms: now_ms(),
            what,
            after_ms,
            error,
        });
    }

    /// The activity log, newest last.
    pub fn log(&self) -> Vec<LogLine> {
        lock(&self.log).iter().cloned().collect()
    }
}

/// The value of the command-line option `name` (`--name VALUE` or `--name=VALUE`), if given.
pub fn arg_value(args: &[String], name: &str) -> Option<String> {
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == name {
            return it.next().cloned();
        }
        if let Some(value) = arg.strip_prefix(name).and_then(|v| v.strip_prefix('=')) {
            return Some(value.to_string());
        }
    }
    None
}

/// The invite passed as `--invite TEXT` or `--invite=TEXT`, else in `VOUCH_INVITE`.
pub fn invite_from(args: &[String], env: Option<String>) -> Option<String> {
    arg_value(args, INVITE_ARG).or(env.filter(|v| !v.trim().is_empty()))
}

/// The data folder passed as `--data DIR`, else in `VOUCH_FIELD_DATA`.
pub fn data_dir_from(args: &[String], env: Option<std::ffi::OsString>) -> Option<PathBuf> {
    arg_value(args, DATA_ARG)
        .map(PathBuf::from)
        .or(env.map(PathBuf::from))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use vouch_protocol::wire::AppErrorCode;

    use super::*;

    #[test]
    fn the_invite_comes_from_the_arguments_then_the_environment() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            invite_from(&args(&["app", "--invite", "X"]), Some("Y".into())),
            Some("X".into())
        );
        assert_eq!(
            invite_from(&args(&["app", "--invite=Z"]), None),
            Some("Z".into())
        );
        assert_eq!(
            invite_from(&args(&["app"]), Some("Y".into())),
            Some("Y".into())
        );
        assert_eq!(invite_from(&args(&["app"]), Some(" ".into())), None);
        assert_eq!(
            data_dir_from(&args(&["app", "--data", "/d"]), Some("/e".into())),
            Some(PathBuf::from("/d"))
        );
        assert_eq!(
            data_dir_from(&args(&["app", "--invite=x"]), Some("/e".into())),
            Some(PathBuf::from("/e"))
        );
        assert_eq!(data_dir_from(&args(&["app", "--database"]), None), None);
    }

    #[test]
    fn a_data_folder_that_cannot_be_opened_is_reported_by_every_command() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-folder");
        std::fs::write(&file, b"x").unwrap();
        let state = AppState::open(file.clone(), None);
        let err = state.field().unwrap_err();
        assert!(!err.code().is_empty());
        // The about screen gets the code (for the catalogue's words) and the engine's text.
        let problem = state.info("0").open_error.unwrap();
        assert_eq!(problem.code, err.code());
        assert!(problem.message.contains("not-a-folder"), "{problem:?}");
        let log = state.log();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].what, AppActivity::Open);
        assert_eq!(log[0].error.as_ref(), Some(&problem));
        let ok = AppState::open(dir.path().join("data"), None);
        assert!(ok.field().is_ok());
        assert_eq!(ok.info("0").open_error, None);
        assert_eq!(ok.track(AppActivity::Scan, Ok(1)).unwrap(), 1);
        assert_eq!(ok.log().last().unwrap().what, AppActivity::Scan);
    }

    /// A log line crosses the IPC as codes and numbers, never as English words: the UI says
    /// it in the chosen language.
    #[test]
    fn log_lines_carry_codes_not_words() {
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::open(dir.path().join("data"), None);
        state.track(AppActivity::Export, Ok(())).unwrap();
        let refused: vouch_field::Result<()> = Err(vouch_field::Error::BadLabel(
            vouch_protocol::Error::CheckMismatch,
        ));
        let err = state.track(AppActivity::Scan, refused).unwrap_err();
        assert_eq!(err.code(), AppErrorCode::BadLabel.as_str());
        let ms = state.ui_ready();
        let lines: Vec<serde_json::Value> = state
            .log()
            .iter()
            .map(|l| serde_json::to_value(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["what"], "export");
        assert!(lines[0]["error"].is_null());
        assert!(lines[0]["after_ms"].is_null());
        assert_eq!(lines[1]["what"], "scan");
        assert_eq!(lines[1]["error"]["code"], "bad_label");
        assert_eq!(lines[1]["error"]["detail"], "check_mismatch");
        assert_eq!(lines[1]["error"], serde_json::to_value(&err).unwrap());
        assert_eq!(lines[2]["what"], "start");
        assert_eq!(lines[2]["after_ms"], ms);
        for line in &lines {
            assert!(line["at_ms"].as_u64().unwrap() > 0, "{line}");
            assert!(line.get("message").is_none(), "{line}");
        }
    }
}

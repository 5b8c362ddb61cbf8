//! The bridge to the Tauri shell.
//!
//! This is the only module that calls `window.__TAURI__.core.invoke` and
//! `window.__TAURI__.event.listen` (present because `app.withGlobalTauri` is true in
//! `tauri.conf.json`). Arguments are serialised and replies deserialised with serde, and every
//! failure becomes an [`IpcError`]; no `JsValue` is ever unwrapped. Hooks call the typed
//! functions at the bottom of this module; pages never do.

pub mod types;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use wasm_bindgen::{prelude::*, JsCast};

use crate::error::IpcError;
pub use types::*;
use vouch_protocol::wire::AppErrorCode;

#[wasm_bindgen]
extern "C" {
    /// `window.__TAURI__.core.invoke(cmd, args)`: resolves with the command's value and
    /// rejects with its error.
    #[wasm_bindgen(js_namespace = ["window", "__TAURI__", "core"], js_name = invoke, catch)]
    async fn tauri_invoke(cmd: &str, args: JsValue) -> Result<JsValue, JsValue>;

    /// `window.__TAURI__.core.convertFileSrc(path, protocol)`: the URL of `path` on a custom
    /// protocol, spelled as this platform's WebView wants it.
    #[wasm_bindgen(js_namespace = ["window", "__TAURI__", "core"], js_name = convertFileSrc, catch)]
    fn tauri_convert_file_src(path: &str, protocol: &str) -> Result<JsValue, JsValue>;

    /// `window.__TAURI__.event.listen(event, handler)`: resolves with the function that stops
    /// listening.
    #[wasm_bindgen(js_namespace = ["window", "__TAURI__", "event"], js_name = listen, catch)]
    async fn tauri_listen(event: &str, handler: &js_sys::Function) -> Result<JsValue, JsValue>;
}

/// Calls the shell command `cmd` with `args` and decodes its reply as `T`.
///
/// `args` must serialise to a map or struct whose keys are the command's parameter names in
/// camelCase (Tauri's convention). Maps become plain objects, not `Map`s.
pub async fn invoke<A, T>(cmd: &str, args: &A) -> Result<T, IpcError>
where
    A: Serialize + ?Sized,
    T: DeserializeOwned,
{
    if !tauri_available() {
        return Err(IpcError::NotInTauri);
    }
    let args = args
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|err| IpcError::Encode {
            command: cmd.to_owned(),
            message: err.to_string(),
        })?;
    let reply = tauri_invoke(cmd, args)
        .await
        .map_err(|err| rejection(cmd, &err))?;
    serde_wasm_bindgen::from_value(reply).map_err(|err| IpcError::Decode {
        command: cmd.to_owned(),
        message: err.to_string(),
    })
}

/// Calls a shell command that takes no arguments and decodes its reply as `T`.
pub async fn invoke_no_args<T: DeserializeOwned>(cmd: &str) -> Result<T, IpcError> {
    /// Serialises to `{}`.
    #[derive(Serialize)]
    struct NoArgs {}
    invoke(cmd, &NoArgs {}).await
}

/// Whether the Tauri global bridge exists, so a plain browser gets [`IpcError::NotInTauri`]
/// instead of a `TypeError`.
fn tauri_available() -> bool {
    js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("__TAURI__"))
        .map(|bridge| !bridge.is_undefined() && !bridge.is_null())
        .unwrap_or(false)
}

/// A string field of a JS object, if it is one.
fn string_field(value: &JsValue, name: &str) -> Option<String> {
    if !value.is_object() {
        return None;
    }
    js_sys::Reflect::get(value, &JsValue::from_str(name))
        .ok()
        .and_then(|field| field.as_string())
}

/// Turns a rejection into an [`IpcError::Command`]: the shell's `{"code", "message",
/// "detail"}` as they are; anything else (a string from Tauri itself, an `Error`) with the code
/// `ipc`.
fn rejection(cmd: &str, value: &JsValue) -> IpcError {
    let command = cmd.to_owned();
    if let (Some(code), Some(message)) =
        (string_field(value, "code"), string_field(value, "message"))
    {
        return IpcError::Command {
            command,
            code,
            message,
            detail: string_field(value, "detail"),
            facts: string_field(value, "facts"),
        };
    }
    IpcError::Command {
        command,
        code: AppErrorCode::Ipc.as_str().into(),
        message: describe(value),
        detail: None,
        facts: None,
    }
}

/// Turns a rejection into text: a string as is, an `Error`'s or object's `message`, otherwise
/// its JSON.
fn describe(value: &JsValue) -> String {
    if let Some(text) = value.as_string() {
        return text;
    }
    if let Some(err) = value.dyn_ref::<js_sys::Error>() {
        return String::from(err.message());
    }
    if let Some(text) = string_field(value, "message") {
        return text;
    }
    js_sys::JSON::stringify(value)
        .ok()
        .and_then(|json| json.as_string())
        .unwrap_or_else(|| format!("{value:?}"))
}

/// A listener on a shell event; it stops listening when dropped.
pub struct Subscription {
    /// Set when dropped; the handler then ignores events still on their way.
    dropped: Rc<Cell<bool>>,
    /// The function `listen` resolved with.
    unlisten: Option<js_sys::Function>,
    /// The handler, kept alive while the shell may call it.
    _handler: Option<Handler>,
}

/// The JS function an event listener calls.
type Handler = Closure<dyn FnMut(JsValue)>;

impl Drop for Subscription {
    fn drop(&mut self) {
        self.dropped.set(true);
        if let Some(unlisten) = self.unlisten.take() {
            let _ = unlisten.call0(&JsValue::NULL);
        }
    }
}

/// Calls `on` with each payload of the shell event `event` that decodes as `T` (others are
/// ignored), until the returned [`Subscription`] is dropped. It resolves once the shell has
/// registered the listener, so a command started afterwards cannot emit before it is heard.
pub async fn listen<T, F>(event: &'static str, on: F) -> Result<Subscription, IpcError>
where
    T: DeserializeOwned + 'static,
    F: Fn(T) + 'static,
{
    if !tauri_available() {
        return Err(IpcError::NotInTauri);
    }
    let dropped = Rc::new(Cell::new(false));
    let ignored = dropped.clone();
    let handler = Handler::new(move |event: JsValue| {
        if ignored.get() {
            return;
        }
        let payload = js_sys::Reflect::get(&event, &JsValue::from_str("payload")).ok();
        if let Some(value) = payload.and_then(|p| serde_wasm_bindgen::from_value::<T>(p).ok()) {
            on(value);
        }
    });
    let function: &js_sys::Function = handler.as_ref().unchecked_ref();
    let unlisten = tauri_listen(event, function)
        .await
        .map_err(|err| rejection("listen", &err))?
        .dyn_into::<js_sys::Function>()
        .map_err(|_| IpcError::Decode {
            command: "listen".into(),
            message: "no unlisten function".into(),
        })?;
    Ok(Subscription {
        dropped,
        unlisten: Some(unlisten),
        _handler: Some(handler),
    })
}

/// Subscriptions made by an effect, dropped (so unlistened) when the effect is cleaned up,
/// even if that happens before they are all made.
#[derive(Clone, Default)]
pub struct Subscriptions {
    held: Rc<RefCell<Vec<Subscription>>>,
    closed: Rc<Cell<bool>>,
}

impl Subscriptions {
    /// Keeps a subscription (or drops it at once if already closed).
    pub fn keep(&self, subscription: Result<Subscription, IpcError>) {
        if let (Ok(s), false) = (subscription, self.closed.get()) {
            self.held.borrow_mut().push(s);
        }
    }

    /// Whether [`Self::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.closed.get()
    }

    /// Drops every subscription.
    pub fn close(&self) {
        self.closed.set(true);
        self.held.borrow_mut().clear();
    }
}

// ---- typed commands -----------------------------------------------------------------------

/// `{"path": ...}`.
#[derive(Serialize)]
struct PathArg<'a> {
    path: &'a str,
}

/// `{"serial": ...}`.
#[derive(Serialize)]
struct SerialArg<'a> {
    serial: &'a str,
}

/// `{"invite": ...}`.
#[derive(Serialize)]
struct InviteArg<'a> {
    invite: &'a str,
}

/// `{"serial", "reason"}`.
#[derive(Serialize)]
struct DecisionArgs<'a> {
    serial: &'a str,
    reason: &'a str,
}

/// `{"manifest", "source", "reason"}`.
#[derive(Serialize)]
struct ImportArgs<'a> {
    manifest: &'a str,
    source: Option<&'a str>,
    reason: &'a str,
}

/// `{"keyId", "expected", "reason"}` (Tauri passes command arguments in camelCase).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GapArgs<'a> {
    key_id: &'a str,
    expected: u64,
    reason: &'a str,
}

/// `{"filter": ...}`.
#[derive(Serialize)]
struct FilterArg<'a> {
    filter: Option<&'a str>,
}

/// Arguments of `scan_text`.
#[derive(Serialize)]
struct ScanArgs<'a> {
    text: &'a str,
    site: &'a str,
    note: Option<&'a str>,
    again: bool,
}

/// Tells the shell the scan screen is interactive (start-up timing).
pub async fn ui_ready() -> Result<u64, IpcError> {
    invoke_no_args("ui_ready").await
}

/// Version, data folder, settings and camera path.
pub async fn app_info() -> Result<AppInfo, IpcError> {
    invoke_no_args("app_info").await
}

/// The shell's activity log, newest last.
pub async fn activity_log() -> Result<Vec<LogLine>, IpcError> {
    invoke_no_args("activity_log").await
}

/// Who this install is; `not_registered` before joining.
pub async fn whoami() -> Result<Whoami, IpcError> {
    invoke_no_args("whoami").await
}

/// Redeems an invite.
pub async fn register(invite: &str) -> Result<Whoami, IpcError> {
    invoke("register", &InviteArg { invite }).await
}

/// The invite the app was launched with, if any.
pub async fn launch_invite() -> Result<Option<String>, IpcError> {
    invoke_no_args("launch_invite").await
}

/// What the server says about this install (fails with `offline` when it cannot be reached).
pub async fn server_status() -> Result<Value, IpcError> {
    invoke_no_args("server_status").await
}

/// Opens the platform's photo picker and reads each chosen photo (labels first); an empty list
/// when the picker is cancelled.
pub async fn choose_photos() -> Result<Vec<PhotoRead>, IpcError> {
    invoke_no_args("choose_photos").await
}

/// `{"paths": [...]}`.
#[derive(Serialize)]
struct PathsArg<'a> {
    paths: &'a [String],
}

/// Reads photo files by path (dropped on the window, or typed) without queueing.
pub async fn read_photos(paths: &[String]) -> Result<Vec<PhotoRead>, IpcError> {
    invoke("read_photos", &PathsArg { paths }).await
}

/// `{"name", "bytes"}`.
#[derive(Serialize)]
struct PastedArgs<'a> {
    name: &'a str,
    bytes: &'a [u8],
}

/// Reads an image pasted from the clipboard without queueing.
pub async fn read_pasted_photo(name: &str, bytes: &[u8]) -> Result<PhotoRead, IpcError> {
    invoke("read_pasted_photo", &PastedArgs { name, bytes }).await
}

/// Signs and queues a label read by any means; answers once it is on disk.
pub async fn scan_text(
    text: &str,
    site: &str,
    note: Option<&str>,
    again: bool,
) -> Result<QueueEntry, IpcError> {
    invoke(
        "scan_text",
        &ScanArgs {
            text,
            site,
            note,
            again,
        },
    )
    .await
}

/// Arguments of `batch_start`.
#[derive(Serialize)]
struct BatchStartArgs<'a> {
    site: &'a str,
}

/// Arguments of `batch_scan`.
#[derive(Serialize)]
struct BatchScanArgs<'a> {
    text: &'a str,
}

/// Arguments of `batch_undo`.
#[derive(Serialize)]
struct BatchUndoArgs {
    sequence: u64,
}

/// Starts a batch for `site`.
pub async fn batch_start(site: &str) -> Result<Batch, IpcError> {
    invoke("batch_start", &BatchStartArgs { site }).await
}

/// Checks and queues a label read during the batch.
pub async fn batch_scan(text: &str) -> Result<BatchStep, IpcError> {
    invoke("batch_scan", &BatchScanArgs { text }).await
}

/// Takes a queued record back before it is sent; answers the batch as it now stands.
pub async fn batch_undo(sequence: u64) -> Result<Option<Batch>, IpcError> {
    invoke("batch_undo", &BatchUndoArgs { sequence }).await
}

/// Ends the batch.
pub async fn batch_end() -> Result<Option<Batch>, IpcError> {
    invoke_no_args("batch_end").await
}

/// The URL of the camera's preview picture `seq` at `width` device pixels, on the shell's
/// `preview` protocol (empty outside the app).
pub fn preview_src(seq: u64, width: u32) -> String {
    if !tauri_available() {
        return String::new();
    }
    tauri_convert_file_src("frame", "preview")
        .ok()
        .and_then(|url| url.as_string())
        .map(|url| format!("{url}?seq={seq}&w={width}"))
        .unwrap_or_default()
}

/// Every record in the queue, oldest first.
pub async fn queue() -> Result<Vec<QueueEntry>, IpcError> {
    invoke_no_args("queue").await
}

/// Sends the queue; progress arrives as [`SYNC_EVENT`].
pub async fn sync() -> Result<SyncReport, IpcError> {
    invoke_no_args("sync").await
}

/// How the last sync of this run ended.
pub async fn last_sync() -> Result<Option<LastSync>, IpcError> {
    invoke_no_args("last_sync").await
}

/// Writes the queue as JSON lines to a file.
pub async fn export_queue(path: &str) -> Result<usize, IpcError> {
    invoke("export_queue", &PathArg { path }).await
}

/// Devices on the server, optionally in one state.
pub async fn review_list(filter: Option<&str>) -> Result<Vec<DeviceSummary>, IpcError> {
    invoke("review_list", &FilterArg { filter }).await
}

/// One device with its evidence and timeline.
pub async fn review_show(serial: &str) -> Result<DeviceDetail, IpcError> {
    invoke("review_show", &SerialArg { serial }).await
}

/// Approves or rejects a device with a reason (`review_approve` / `review_reject`).
pub async fn review_decide(
    command: &'static str,
    serial: &str,
    reason: &str,
) -> Result<Value, IpcError> {
    invoke(command, &DecisionArgs { serial, reason }).await
}

/// Imports a manifest of expected devices: its text, its file name, a reason (`review_import`).
pub async fn review_import(
    manifest: &str,
    source: Option<&str>,
    reason: &str,
) -> Result<ImportAnswer, IpcError> {
    invoke(
        "review_import",
        &ImportArgs {
            manifest,
            source,
            reason,
        },
    )
    .await
}

/// Accepts a scanning tablet's chain gap with a reason (`review_accept_gap`).
pub async fn review_accept_gap(
    key_id: &str,
    expected: u64,
    reason: &str,
) -> Result<Value, IpcError> {
    invoke(
        "review_accept_gap",
        &GapArgs {
            key_id,
            expected,
            reason,
        },
    )
    .await
}

/// `native` or `plugin`.
pub async fn camera_backend() -> Result<String, IpcError> {
    invoke_no_args("camera_backend").await
}

/// Starts the shell's camera session.
pub async fn camera_start() -> Result<CameraStarted, IpcError> {
    invoke_no_args("camera_start").await
}

/// Stops the shell's camera session.
pub async fn camera_stop() -> Result<(), IpcError> {
    invoke_no_args("camera_stop").await
}

/// Arguments of the barcode-scanner plugin's `scan`.
#[derive(Serialize)]
struct PluginScanArgs {
    formats: [&'static str; 1],
    windowed: bool,
}

/// Android and iOS: reads one code with Tauri's barcode-scanner plugin.
pub async fn plugin_scan() -> Result<PluginScanned, IpcError> {
    invoke(
        "plugin:barcode-scanner|scan",
        &PluginScanArgs {
            formats: ["QR_CODE"],
            windowed: false,
        },
    )
    .await
}

//! Named hooks over single commands, so pages never name an IPC function.

use serde_json::Value;
use yew::prelude::*;

use super::{use_action, use_remote, Action, Loaded};
use crate::ipc::{
    self, AppInfo, DeviceDetail, DeviceSummary, LogLine, PhotoRead, QueueEntry, Whoami,
};

/// A label to queue, with what goes with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanRequest {
    /// The label text as read (any form).
    pub text: String,
    /// Site or work order.
    pub site: String,
    /// Optional note.
    pub note: Option<String>,
    /// Record a second scan of the label scanned last.
    pub again: bool,
}

/// A supervisor's decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecisionRequest {
    /// `approve`, `reject`, `revoke` or `reenroll`.
    pub verb: &'static str,
    /// The device.
    pub serial: String,
    /// Why.
    pub reason: String,
}

/// A reviewer's acceptance of a scanning tablet's chain gap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GapRequest {
    /// The tablet's install (key id).
    pub key_id: String,
    /// The sequence the server expected.
    pub expected: u64,
    /// Why the missing scans are accepted as lost.
    pub reason: String,
}

/// Redeems an invite.
#[hook]
pub fn use_register() -> Action<String, Whoami> {
    use_action(|invite: String| async move { ipc::register(&invite).await })
}

/// The queue, oldest first.
#[hook]
pub fn use_queue() -> Loaded<Vec<QueueEntry>> {
    use_remote((), |()| ipc::queue())
}

/// Where photos to read come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Photos {
    /// The platform's picker, opened now.
    Chosen,
    /// Files by path: dropped on the window, or typed.
    Paths(Vec<String>),
    /// An image pasted from the clipboard: a name and its bytes.
    Pasted(String, Vec<u8>),
}

/// Reads photos without queueing: the codes in each, labels first.
#[hook]
pub fn use_photo_reader() -> Action<Photos, Vec<PhotoRead>> {
    use_action(|photos: Photos| async move {
        match photos {
            Photos::Chosen => ipc::choose_photos().await,
            Photos::Paths(paths) => ipc::read_photos(&paths).await,
            Photos::Pasted(name, bytes) => Ok(vec![ipc::read_pasted_photo(&name, &bytes).await?]),
        }
    })
}

/// Signs and queues a scan.
#[hook]
pub fn use_queue_scan() -> Action<ScanRequest, QueueEntry> {
    use_action(|r: ScanRequest| async move {
        ipc::scan_text(&r.text, &r.site, r.note.as_deref(), r.again).await
    })
}

/// Writes the queue to a file.
#[hook]
pub fn use_export() -> Action<String, usize> {
    use_action(|path: String| async move { ipc::export_queue(&path).await })
}

/// Devices on the server in one state (`None`: all).
#[hook]
pub fn use_devices(filter: Option<&'static str>) -> Loaded<Vec<DeviceSummary>> {
    use_remote(
        filter,
        |filter| async move { ipc::review_list(filter).await },
    )
}

/// One device with its evidence and timeline.
#[hook]
pub fn use_device(serial: String) -> Loaded<DeviceDetail> {
    use_remote(
        serial,
        |serial| async move { ipc::review_show(&serial).await },
    )
}

/// Approves, rejects, revokes or re-opens enrollment of a device.
#[hook]
pub fn use_decision() -> Action<DecisionRequest, Value> {
    use_action(|d: DecisionRequest| async move {
        let command = match d.verb {
            "approve" => "review_approve",
            "reject" => "review_reject",
            "revoke" => "review_revoke",
            _ => "review_reenroll",
        };
        ipc::review_decide(command, &d.serial, &d.reason).await
    })
}

/// Accepts a chain gap.
#[hook]
pub fn use_accept_gap() -> Action<GapRequest, Value> {
    use_action(|g: GapRequest| async move {
        ipc::review_accept_gap(&g.key_id, g.expected, &g.reason).await
    })
}

/// Version, data folder, settings.
#[hook]
pub fn use_app_info() -> Loaded<AppInfo> {
    use_remote((), |()| ipc::app_info())
}

/// The shell's activity log.
#[hook]
pub fn use_activity_log() -> Loaded<Vec<LogLine>> {
    use_remote((), |()| ipc::activity_log())
}

/// Tells the shell, once, that the scan screen is interactive (for the start-up benchmark and
/// the activity log).
#[hook]
pub fn use_report_ready() {
    use_effect_with((), |()| {
        wasm_bindgen_futures::spawn_local(async {
            let _ = ipc::ui_ready().await;
        });
    });
}

/// Reads a manifest file the supervisor chose and imports it with a reason
/// (`review_import`); a failure in words (the server's refusal names the bad line).
pub async fn import_manifest(
    file: web_sys::File,
    reason: String,
) -> Result<ipc::ImportAnswer, String> {
    let text = wasm_bindgen_futures::JsFuture::from(file.text())
        .await
        .ok()
        .and_then(|v| v.as_string())
        .ok_or_else(|| crate::i18n::t("review-import-unreadable"))?;
    ipc::review_import(&text, Some(&file.name()), &reason)
        .await
        .map_err(|e| e.to_string())
}

//! Sync: "Sync now", its progress (the shell's `sync-progress` events) and its outcome.

use std::rc::Rc;

use yew::prelude::*;

use super::{use_remote, Remote};
use crate::error::IpcError;
use crate::ipc::{self, LastSync, SyncProgress, SyncReport, SYNC_EVENT};

/// Where sync stands.
#[derive(Clone, PartialEq)]
pub struct SyncHandle {
    /// Whether a sync runs.
    pub running: bool,
    /// The last progress event of the current (or last) sync.
    pub progress: Option<SyncProgress>,
    /// How the last sync ended (this run of the app), as the shell remembers it.
    pub last: Option<LastSync>,
    /// The error of the last sync started here, if it failed.
    pub error: Option<IpcError>,
    /// Starts a sync.
    pub start: Callback<()>,
}

/// Sync state for the queue screen; `on_done` is called after every sync (to reload the
/// queue and check connectivity).
#[hook]
pub fn use_sync(on_done: Callback<()>) -> SyncHandle {
    let running = use_state(|| false);
    let progress = use_state(|| None::<SyncProgress>);
    let error = use_state(|| None::<IpcError>);
    let last = use_remote((), |()| ipc::last_sync());
    {
        let progress = progress.clone();
        use_effect_with((), move |()| {
            let subscriptions = ipc::Subscriptions::default();
            let held = subscriptions.clone();
            wasm_bindgen_futures::spawn_local(async move {
                held.keep(
                    ipc::listen(SYNC_EVENT, move |p: SyncProgress| progress.set(Some(p))).await,
                );
            });
            move || subscriptions.close()
        });
    }
    let start = {
        let running = running.clone();
        let progress = progress.clone();
        let error = error.clone();
        let reload_last = last.reload.clone();
        let on_done = Rc::new(on_done);
        Callback::from(move |()| {
            if *running {
                return;
            }
            running.set(true);
            progress.set(None);
            error.set(None);
            let (running, error) = (running.clone(), error.clone());
            let (reload_last, on_done) = (reload_last.clone(), on_done.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let result: Result<SyncReport, IpcError> = ipc::sync().await;
                error.set(result.err());
                running.set(false);
                reload_last.emit(());
                on_done.emit(());
            });
        })
    };
    SyncHandle {
        running: *running,
        progress: (*progress).clone(),
        last: match last.value {
            Remote::Ready(last) => last,
            _ => None,
        },
        error: (*error).clone(),
        start,
    }
}

//! The queue screen: every record with its state, "Sync now" with progress, the last sync,
//! whether the server can be reached, and each refusal's reason in plain words.

use vouch_protocol::wire::{AppErrorCode, QueueState};
use yew::prelude::*;

use crate::components::{Icon, Notice, NoticeKind, ProgressBar};
use crate::hooks::{use_queue, use_sync, Connectivity, Online, Remote, SyncHandle};
use crate::i18n::{t, tf};
use crate::ipc::{LastSync, QueueEntry};
use crate::{time, words};

/// The queue screen.
#[function_component(Queue)]
pub fn queue() -> Html {
    let queue = use_queue();
    let online = use_context::<Online>();
    let sync = use_sync({
        let reload = queue.reload.clone();
        let check = online.as_ref().map(|o| o.check.clone());
        Callback::from(move |()| {
            reload.emit(());
            if let Some(check) = &check {
                check.emit(());
            }
        })
    });
    // While a sync runs, the list follows its progress.
    {
        let reload = queue.reload.clone();
        let done = sync.progress.as_ref().map(|p| p.done);
        use_effect_with(done, move |done| {
            if done.is_some() {
                reload.emit(());
            }
        });
    }

    let entries: Vec<QueueEntry> = queue.value.ready().cloned().unwrap_or_default();
    let unsynced = entries
        .iter()
        .filter(|e| {
            matches!(
                e.state,
                QueueState::Queued | QueueState::Syncing | QueueState::Held
            )
        })
        .count();
    let refused = entries
        .iter()
        .filter(|e| e.state == QueueState::Refused)
        .count();
    // The oldest record not yet on the server: how long scans have waited for a sync.
    let waiting_since = entries
        .iter()
        .filter(|e| {
            matches!(
                e.state,
                QueueState::Queued | QueueState::Syncing | QueueState::Held
            )
        })
        .map(|e| e.scanned_at_ms)
        .min();
    let synced = entries.len() - unsynced - refused;
    let offline = matches!(
        online.as_ref().map(|o| &o.state),
        Some(Connectivity::Offline(_))
    );

    html! {
        <div class="page queue-page" id="queue-page">
            <section class="card sync-card">
                <div class="sync-head">
                    <div class="counts" id="queue-counts">
                        <div class="count"><span class="n" id="count-unsynced">{ unsynced }</span>
                            <span>{ t("queue-count-waiting") }</span></div>
                        <div class="count"><span class="n" id="count-synced">{ synced }</span>
                            <span>{ t("queue-count-synced") }</span></div>
                        <div class={classes!("count", (refused > 0).then_some("bad"))}>
                            <span class="n" id="count-refused">{ refused }</span>
                            <span>{ t("queue-count-refused") }</span></div>
                    </div>
                    { sync_button(&sync) }
                </div>
                if offline {
                    <Notice kind={NoticeKind::Warning} id="queue-offline" title={t("status-offline")}>
                        <p>{ t("queue-offline") }</p>
                    </Notice>
                }
                { waiting(unsynced, waiting_since) }
                { progress(&sync) }
                { last_sync(&sync) }
            </section>
            { list(&queue.value, &entries) }
        </div>
    }
}

/// How many records wait for a sync, and since when.
fn waiting(count: usize, since: Option<u64>) -> Html {
    let text = match since {
        Some(ms) if count > 0 => tf(
            "queue-waiting",
            &[
                ("count", count.into()),
                ("since", time::local(ms).into()),
                ("ago", time::ago(ms).into()),
            ],
        ),
        _ => t("queue-nothing-waiting"),
    };
    html! {
        <p class="muted" id="queue-waiting" data-count={count.to_string()}>{ text }</p>
    }
}

fn sync_button(sync: &SyncHandle) -> Html {
    let onclick = {
        let start = sync.start.clone();
        Callback::from(move |_: MouseEvent| start.emit(()))
    };
    html! {
        <button class="primary big" id="sync-btn" {onclick} disabled={sync.running}>
            <Icon name="sync" />
            { if sync.running { t("sync-running") } else { t("sync-now") } }
        </button>
    }
}

fn progress(sync: &SyncHandle) -> Html {
    let Some(p) = &sync.progress else {
        return html! {};
    };
    if sync.error.is_some() && !sync.running {
        // A failed sync says so below; a half-filled bar would only confuse.
        return html! {};
    }
    let mut label = tf(
        "sync-progress",
        &[
            ("step", words::sync_step(&p.event).into()),
            ("done", p.done.into()),
            ("total", p.total.into()),
            ("accepted", (p.accepted + p.duplicate).into()),
            ("refusals", p.refused.into()),
        ],
    );
    if let (Some(wait), Some(reason)) = (p.wait_ms, &p.reason) {
        label.push_str(&tf(
            "sync-retrying-in",
            &[
                ("seconds", time::seconds(wait).into()),
                ("reason", reason.clone().into()),
            ],
        ));
    }
    html! { <ProgressBar id="sync-progress" done={p.done} total={p.total} label={label} /> }
}

fn last_sync(sync: &SyncHandle) -> Html {
    if let Some(err) = &sync.error {
        let title = if err.is(AppErrorCode::Offline) {
            t("sync-failed-offline")
        } else {
            t("sync-failed")
        };
        return html! {
            <Notice kind={NoticeKind::Error} id="sync-error" title={title}>
                <p>{ err.to_string() }</p>
            </Notice>
        };
    }
    let text = match &sync.last {
        None => t("queue-not-synced"),
        Some(LastSync {
            at_ms,
            report: Some(r),
            ..
        }) => tf(
            "last-sync-report",
            &[
                ("ago", time::ago(*at_ms).into()),
                ("at", time::local(*at_ms).into()),
                ("sent", r.sent.into()),
                ("accepted", (r.accepted + r.duplicate).into()),
                ("held", r.held.into()),
                ("refusals", r.refused.len().into()),
                ("left", r.remaining.into()),
            ],
        ),
        Some(LastSync {
            at_ms,
            error: Some(e),
            error_code,
            error_facts,
            ..
        }) => {
            // The shell's code, in the catalogue's words; its facts as the detail.
            let error = crate::error::IpcError::Command {
                command: "sync".into(),
                code: error_code.clone().unwrap_or_default(),
                message: e.clone(),
                detail: None,
                facts: error_facts.clone(),
            };
            tf(
                "last-sync-failed",
                &[
                    ("ago", time::ago(*at_ms).into()),
                    ("at", time::local(*at_ms).into()),
                    ("error", error.to_string().into()),
                ],
            )
        }
        Some(LastSync { at_ms, .. }) => tf(
            "last-sync-at",
            &[
                ("ago", time::ago(*at_ms).into()),
                ("at", time::local(*at_ms).into()),
            ],
        ),
    };
    html! { <p class="muted" id="last-sync">{ text }</p> }
}

fn list(value: &Remote<Vec<QueueEntry>>, entries: &[QueueEntry]) -> Html {
    if let Remote::Failed(err) = value {
        return html! {
            <Notice kind={NoticeKind::Error} id="queue-error" title={t("queue-unreadable")}>
                <p>{ err.to_string() }</p>
            </Notice>
        };
    }
    if matches!(value, Remote::Loading) {
        return html! { <p class="muted">{ t("queue-loading") }</p> };
    }
    if entries.is_empty() {
        return html! {
            <section class="card empty" id="queue-empty">
                <Icon name="queue" />
                <h2>{ t("queue-empty-title") }</h2>
                <p>{ t("queue-empty") }</p>
            </section>
        };
    }
    html! {
        <ul class="records" id="queue-list">
            { for entries.iter().rev().map(row) }
        </ul>
    }
}

fn row(e: &QueueEntry) -> Html {
    let seq = e.sequence;
    let refusal = matches!(e.state, QueueState::Refused | QueueState::Held)
        .then(|| words::refusal(e.code.as_ref(), e.message.as_deref()));
    html! {
        <li class={classes!("record", e.state.as_str())} id={format!("queue-row-{seq}")}
            data-serial={e.serial.clone()} data-state={e.state.as_str()}>
            <div class="record-main">
                <span class="record-serial">{ &e.serial }</span>
                <span class="muted">
                    { format!("#{seq} · {} · {}", e.model.clone().unwrap_or_default(),
                              time::local(e.scanned_at_ms)) }
                </span>
                <span class="muted">{ tf("queue-site", &[("site", if e.site.is_empty() { "—" } else { &e.site }.into())]) }</span>
                if let Some(note) = &e.note {
                    <span class="muted">{ tf("queue-note", &[("note", note.clone().into())]) }</span>
                }
            </div>
            <span class={classes!("badge", e.state.as_str())} id={format!("queue-state-{seq}")}>
                { words::record_state(e.state) }
            </span>
            if let Some(refusal) = refusal {
                <p class="refusal" id={format!("queue-reason-{seq}")}>
                    { refusal.reason }
                    if let Some(server) = refusal.server {
                        <span class="muted small" id={format!("queue-server-{seq}")}>{ server }</span>
                    }
                </p>
            }
        </li>
    }
}

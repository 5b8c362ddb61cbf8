//! The review screen (supervisors): pending and conflicting devices, a device's scans side by
//! side, approve or reject with a reason, and the device's timeline.

use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::components::{Icon, Notice, NoticeKind};
use crate::hooks::{
    import_manifest, use_accept_gap, use_decision, use_device, use_devices, ActionState,
    DecisionRequest, GapRequest, Loaded, Remote, Session,
};
use vouch_protocol::wire::{AppErrorCode, DeviceState};

use crate::i18n::{t, tf};
use crate::ipc::{Device, DeviceDetail, DeviceSummary, ScanEvidence, TimelineEvent, Whoami};
use crate::{time, words};

/// The lists a supervisor can look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Filter {
    Pending,
    Conflicts,
    Approved,
    /// A manifest's devices that no one has scanned yet (the server lists them only when
    /// asked for by state).
    Expected,
    All,
}

impl Filter {
    const ALL: [Filter; 5] = [
        Filter::Pending,
        Filter::Conflicts,
        Filter::Approved,
        Filter::Expected,
        Filter::All,
    ];

    fn state(self) -> Option<DeviceState> {
        match self {
            Filter::Pending => Some(DeviceState::Scanned),
            Filter::Conflicts => Some(DeviceState::Conflict),
            Filter::Approved => Some(DeviceState::Approved),
            Filter::Expected => Some(DeviceState::Expected),
            Filter::All => None,
        }
    }

    fn name(self) -> String {
        match self {
            Filter::Pending => t("review-filter-pending"),
            Filter::Conflicts => t("review-filter-conflicts"),
            Filter::Approved => t("review-filter-approved"),
            Filter::Expected => t("review-filter-expected"),
            Filter::All => t("review-filter-all"),
        }
    }

    fn id(self) -> &'static str {
        match self {
            Filter::Pending => "filter-pending",
            Filter::Conflicts => "filter-conflicts",
            Filter::Approved => "filter-approved",
            Filter::Expected => "filter-expected",
            Filter::All => "filter-all",
        }
    }

    fn empty(self) -> String {
        match self {
            Filter::Pending => t("review-filter-pending-empty"),
            Filter::Conflicts => t("review-filter-conflicts-empty"),
            Filter::Approved => t("review-filter-approved-empty"),
            Filter::Expected => t("review-filter-expected-empty"),
            Filter::All => t("review-filter-all-empty"),
        }
    }
}

/// The review screen.
#[function_component(Review)]
pub fn review() -> Html {
    let filter = use_state(|| Filter::Pending);
    let selected = use_state(|| None::<String>);
    let devices = use_devices(filter.state().map(DeviceState::as_str));

    if let Remote::Failed(err) = &devices.value {
        if err.is(AppErrorCode::NotSupervisor) {
            return html! {
                <div class="page" id="review-page">
                    <Notice kind={NoticeKind::Warning} id="review-denied"
                        title={t("review-denied")}>
                        <p>{ err.to_string() }</p>
                    </Notice>
                </div>
            };
        }
    }

    let tabs = Filter::ALL.iter().map(|f| {
        let onclick = {
            let filter = filter.clone();
            let selected = selected.clone();
            let f = *f;
            Callback::from(move |_: MouseEvent| {
                filter.set(f);
                selected.set(None);
            })
        };
        html! {
            <button class={classes!("tab", (*filter == *f).then_some("active"))} id={f.id()}
                    {onclick} aria-pressed={(*filter == *f).to_string()}>
                { f.name() }
            </button>
        }
    });
    let refresh = {
        let reload = devices.reload.clone();
        Callback::from(move |_: MouseEvent| reload.emit(()))
    };
    let select = {
        let selected = selected.clone();
        Callback::from(move |serial: String| selected.set(Some(serial)))
    };
    let changed = devices.reload.clone();

    html! {
        <div class="page review-page" id="review-page">
            <div class="toolbar">
                <div class="tabs" role="group" aria-label={t("review-filters")}>{ for tabs }</div>
                <button class="secondary" id="review-refresh" onclick={refresh}>
                    <Icon name="sync" />{ t("refresh") }
                </button>
            </div>
            <ManifestImport on_imported={devices.reload.clone()} />
            <div class="review-grid">
                { device_list(*filter, &devices, selected.as_deref(), &select) }
                if let Some(serial) = (*selected).clone() {
                    <DeviceView serial={serial} on_changed={changed} />
                } else {
                    <section class="card empty muted" id="device-none">
                        <Icon name="review" />
                        <p>{ t("review-choose") }</p>
                    </section>
                }
            </div>
        </div>
    }
}

fn device_list(
    filter: Filter,
    devices: &Loaded<Vec<DeviceSummary>>,
    selected: Option<&str>,
    select: &Callback<String>,
) -> Html {
    let body = match &devices.value {
        Remote::Loading => html! { <p class="muted">{ t("review-loading") }</p> },
        Remote::Failed(err) => html! {
            <Notice kind={NoticeKind::Error} id="review-error" title={t("review-no-answer")}>
                <p>{ err.to_string() }</p>
            </Notice>
        },
        Remote::Ready(list) if list.is_empty() => html! {
            <p class="muted empty-line" id="review-empty">{ filter.empty() }</p>
        },
        Remote::Ready(list) => html! {
            <ul class="devices" id="review-list">
                { for list.iter().map(|d| {
                    let onclick = {
                        let select = select.clone();
                        let serial = d.serial.clone();
                        Callback::from(move |_: MouseEvent| select.emit(serial.clone()))
                    };
                    let active = selected == Some(d.serial.as_str());
                    html! {
                        <li>
                            <button class={classes!("device", d.state.as_str(), active.then_some("active"))}
                                    id={format!("device-{}", d.serial)} {onclick}>
                                <span class="record-serial">{ &d.serial }</span>
                                <span class="muted">
                                    { tf("review-device-line", &[
                                        ("model", d.model.clone().unwrap_or_default().into()),
                                        ("scans", d.scans.into()),
                                        ("ago", time::ago(d.updated_at_ms).into()),
                                    ]) }
                                </span>
                                <span class={classes!("badge", d.state.as_str())}>
                                    { words::device_state(d.state) }
                                </span>
                                <span class={classes!("muted", "manifest", (d.manifest_match == Some(false)).then_some("bad"))}
                                      id={format!("manifest-{}", d.serial)}>
                                    { manifest_line(d) }
                                </span>
                            </button>
                        </li>
                    }
                }) }
            </ul>
        },
    };
    html! { <section class="card device-list">{ body }</section> }
}

/// Properties of [`ManifestImport`].
#[derive(Properties, PartialEq)]
struct ImportProps {
    /// Called after an import, so the list follows.
    on_imported: Callback<()>,
}

/// What an import came to, for the line under the form.
#[derive(Clone, PartialEq)]
enum ImportState {
    Idle,
    Running,
    Done(String),
    Failed(String),
}

/// Import a manifest of expected devices: a file (CSV or JSON lines) and a reason.
#[function_component(ManifestImport)]
fn manifest_import(props: &ImportProps) -> Html {
    let file = use_node_ref();
    let reason = use_state(String::new);
    let state = use_state(|| ImportState::Idle);
    let on_reason = {
        let reason = reason.clone();
        Callback::from(move |e: InputEvent| {
            if let Some(input) = e.target_dyn_into::<HtmlInputElement>() {
                reason.set(input.value());
            }
        })
    };
    let onclick = {
        let (file, reason, state, done) = (
            file.clone(),
            reason.clone(),
            state.clone(),
            props.on_imported.clone(),
        );
        Callback::from(move |_: MouseEvent| {
            let chosen = file
                .cast::<HtmlInputElement>()
                .and_then(|input| input.files())
                .and_then(|files| files.get(0));
            let Some(chosen) = chosen else {
                state.set(ImportState::Failed(t("review-import-no-file")));
                return;
            };
            let (reason, state, done) = ((*reason).trim().to_string(), state.clone(), done.clone());
            state.set(ImportState::Running);
            wasm_bindgen_futures::spawn_local(async move {
                match import_manifest(chosen, reason).await {
                    Ok(a) => {
                        state.set(ImportState::Done(tf(
                            "review-import-done",
                            &[
                                ("import", a.import_id.into()),
                                ("added", a.added.into()),
                                ("updated", a.updated.into()),
                                ("unchanged", a.unchanged.into()),
                            ],
                        )));
                        done.emit(());
                    }
                    Err(e) => state.set(ImportState::Failed(e)),
                }
            });
        })
    };
    let running = *state == ImportState::Running;
    html! {
        <details class="card manifest-import" id="manifest-import">
            <summary id="manifest-import-open">{ t("review-import-title") }</summary>
            <p class="muted">{ t("review-import-help") }</p>
            <input type="file" id="manifest-file" accept=".csv,.jsonl,.json,.txt,text/csv" ref={file} />
            <input type="text" id="manifest-reason" placeholder={t("review-import-reason")}
                   value={(*reason).clone()} oninput={on_reason} />
            <button id="manifest-import-button" {onclick}
                    disabled={running || reason.trim().is_empty()}>
                { t("review-import-button") }
            </button>
            { match &*state {
                ImportState::Idle => html! {},
                ImportState::Running => html! { <p class="muted" id="manifest-result">{ t("review-import-running") }</p> },
                ImportState::Done(text) => html! { <p id="manifest-result">{ text }</p> },
                ImportState::Failed(text) => html! { <p class="bad" id="manifest-result">{ text }</p> },
            } }
        </details>
    }
}

/// Whether a manifest listed the device, which import, and whether its key matched.
fn manifest_line(d: &DeviceSummary) -> String {
    let Some(import) = d.expected_from.clone() else {
        return t("review-manifest-none");
    };
    let args = [("import", import.into())];
    match d.manifest_match {
        None => tf("review-manifest-expected", &args),
        Some(true) => tf("review-manifest-match", &args),
        Some(false) => tf("review-manifest-differs", &args),
    }
}

/// Properties of [`DeviceView`].
#[derive(Properties, PartialEq)]
struct DeviceProps {
    serial: String,
    /// Called after a decision, so the list follows.
    on_changed: Callback<()>,
}

/// One device: facts, scans side by side, decision, timeline.
#[function_component(DeviceView)]
fn device_view(props: &DeviceProps) -> Html {
    let device = use_device(props.serial.clone());
    let me = use_context::<Session>().and_then(|s| s.joined().cloned());
    let decision = use_decision();
    let reason = use_state(String::new);
    {
        let reload = device.reload.clone();
        let changed = props.on_changed.clone();
        let reason = reason.clone();
        use_effect_with(decision.state.clone(), move |state| {
            if let ActionState::Done(_) = state {
                reason.set(String::new());
                reload.emit(());
                changed.emit(());
            }
        });
    }
    let detail: DeviceDetail = match &device.value {
        Remote::Loading => {
            return html! { <section class="card" id="device-detail"><p class="muted">{ t("loading") }</p></section> }
        }
        Remote::Failed(err) => {
            return html! {
                <section class="card" id="device-detail">
                    <Notice kind={NoticeKind::Error} id="device-error"><p>{ err.to_string() }</p></Notice>
                </section>
            }
        }
        Remote::Ready(detail) => detail.clone(),
    };
    let d = &detail.device;
    let refresh = {
        let reload = device.reload.clone();
        Callback::from(move |_: MouseEvent| reload.emit(()))
    };
    let oninput = {
        let reason = reason.clone();
        Callback::from(move |e: InputEvent| {
            if let Some(input) = e.target_dyn_into::<HtmlInputElement>() {
                reason.set(input.value());
            }
        })
    };
    let decide = |verb: &'static str| {
        let run = decision.run.clone();
        let reason = reason.clone();
        let serial = d.serial.clone();
        Callback::from(move |_: MouseEvent| {
            run.emit(DecisionRequest {
                verb,
                serial: serial.clone(),
                reason: reason.trim().to_string(),
            })
        })
    };
    let running = decision.state.running();
    let no_reason = reason.trim().is_empty();
    use DeviceState::{Approved, Conflict, Enrolled, Expected, Rejected, Scanned};
    let can_approve = matches!(d.state, Scanned | Conflict | Rejected);
    let can_reject = matches!(d.state, Expected | Scanned | Conflict | Approved);
    let enrolled = d.state == Enrolled;

    html! {
        <section class="card device-detail" id="device-detail" data-serial={d.serial.clone()}
                 data-state={d.state.as_str()}>
            <div class="detail-head">
                <h2>{ &d.serial }</h2>
                <span class={classes!("badge", d.state.as_str())} id="device-state">
                    { words::device_state(d.state) }
                </span>
                <button class="secondary" id="device-refresh" onclick={refresh}>
                    <Icon name="sync" />{ t("refresh") }
                </button>
            </div>
            { facts(d) }
            <h3>{ tf("review-scans", &[("count", detail.scans.len().into())]) }</h3>
            <div class="scans" id="device-scans">
                { for detail.scans.iter().enumerate().map(|(i, s)| scan_card(i, s, d)) }
            </div>
            if !detail.scanner_problems.is_empty() {
                <ScannerProblems problems={detail.scanner_problems.clone()}
                    scans={detail.scans.clone()} me={me.clone()}
                    on_changed={device.reload.clone()} />
            }
            if d.state == Conflict {
                <Notice kind={NoticeKind::Warning} id="conflict-warning" title={t("conflict-title")}>
                    <p>{ tf("conflict-text", &[("key", d.key_fingerprint.clone().into())]) }</p>
                </Notice>
            }
            if can_approve || can_reject {
                <div class="decision">
                    <label for="reason-input">{ t("decision-reason") }</label>
                    <input id="reason-input" type="text" value={(*reason).clone()}
                        oninput={oninput.clone()}
                        placeholder={t("decision-reason-example")} maxlength="500" />
                    <div class="actions">
                        if can_approve {
                            <button class="primary big" id="approve-btn" onclick={decide("approve")}
                                disabled={running || no_reason}>
                                <Icon name="check" />{ t("decision-approve") }
                            </button>
                        }
                        if can_reject {
                            <button class="danger big" id="reject-btn" onclick={decide("reject")}
                                disabled={running || no_reason}>{ t("decision-reject") }</button>
                        }
                    </div>
                    if no_reason {
                        <p class="muted small">{ t("decision-reason-needed") }</p>
                    }
                </div>
            }
            if enrolled {
                <div class="decision" id="enrolled-actions">
                    <label for="reason-input">{ t("decision-reason") }</label>
                    <input id="reason-input" type="text" value={(*reason).clone()} {oninput}
                        placeholder={t("decision-reenroll-example")} maxlength="500" />
                    <div class="actions">
                        <button class="secondary big" id="reenroll-btn" onclick={decide("reenroll")}
                            disabled={running || no_reason}>{ t("decision-reenroll") }</button>
                        <button class="danger big" id="revoke-btn" onclick={decide("revoke")}
                            disabled={running || no_reason}>{ t("decision-revoke") }</button>
                    </div>
                    <p class="muted small">{ t("decision-enrolled-hint") }</p>
                </div>
            }
            if let ActionState::Failed(err) = &decision.state {
                <Notice kind={NoticeKind::Error} id="decision-error" title={t("decision-failed")}>
                    <p>{ err.to_string() }</p>
                </Notice>
            }
            if let ActionState::Done(_) = &decision.state {
                <Notice kind={NoticeKind::Success} id="decision-done"><p>{ t("decision-done") }</p></Notice>
            }
            <h3>{ t("timeline-title") }</h3>
            <ol class="timeline" id="timeline">
                { for d.timeline.iter().enumerate().map(|(i, t)| timeline_item(i, t, &detail.scans, me.as_ref())) }
            </ol>
        </section>
    }
}

fn facts(d: &Device) -> Html {
    html! {
        <dl class="facts">
            <dt>{ t("label-model") }</dt><dd>{ d.model.clone().unwrap_or_else(|| "—".into()) }</dd>
            <dt>{ t("facts-vouched-key") }</dt><dd class="mono" id="device-key">{ &d.key_fingerprint }</dd>
            if !d.other_keys.is_empty() {
                <dt>{ t("facts-other-keys") }</dt>
                <dd class="bad">{ tf("facts-other-keys-count", &[("count", d.other_keys.len().into())]) }</dd>
            }
            if !d.other_serials.is_empty() {
                <dt>{ t("facts-same-key-under") }</dt>
                <dd class="bad">{ d.other_serials.join(", ") }</dd>
            }
            <dt>{ t("facts-certificate") }</dt>
            <dd>{ if d.certificate.is_some() { t("facts-certificate-issued") } else { t("facts-certificate-none") } }</dd>
        </dl>
    }
}

fn scan_card(i: usize, s: &ScanEvidence, d: &Device) -> Html {
    let same_key = s.key_fingerprint == d.key_fingerprint;
    let same_serial = s.serial == d.serial;
    html! {
        <article class={classes!("scan", (!same_key || !same_serial).then_some("differs"))}
                 id={format!("scan-{i}")}>
            <dl class="facts">
                <dt>{ t("scan-who") }</dt><dd>{ &s.technician }</dd>
                <dt>{ t("scan-when") }</dt><dd>{ time::local(s.scanned_at_ms) }</dd>
                <dt>{ t("scan-where") }</dt><dd>{ if s.site.is_empty() { "—" } else { &s.site } }</dd>
                if let Some(note) = &s.note {
                    <dt>{ t("scan-note") }</dt><dd>{ note }</dd>
                }
                <dt>{ t("label-serial") }</dt>
                <dd class={classes!((!same_serial).then_some("bad"))}>{ &s.serial }</dd>
                <dt>{ t("scan-key") }</dt>
                <dd class={classes!("mono", (!same_key).then_some("bad"))}>
                    { &s.key_fingerprint }
                    { if same_key { String::new() } else { format!(" ({})", t("scan-other-key")) } }
                </dd>
                <dt>{ t("scan-received") }</dt><dd>{ time::local(s.received_at_ms) }</dd>
            </dl>
        </article>
    }
}

/// Who did it, in words: this install as "you", a staff member by name when one of the scans
/// names their key.
fn actor(actor: &str, scans: &[ScanEvidence], me: Option<&Whoami>) -> String {
    if let Some(key_id) = actor.strip_prefix("staff:") {
        if let Some(me) = me.filter(|me| me.key_id == key_id) {
            return tf("actor-you", &[("name", me.name.clone().into())]);
        }
        return scans
            .iter()
            .find(|s| s.installer == key_id)
            .map(|s| s.technician.clone())
            .unwrap_or_else(|| {
                let short = key_id.get(..8).unwrap_or(key_id).to_string();
                tf("actor-staff", &[("key", short.into())])
            });
    }
    if actor.starts_with("device:") {
        return t("actor-device");
    }
    actor.to_string()
}

fn timeline_item(i: usize, t: &TimelineEvent, scans: &[ScanEvidence], me: Option<&Whoami>) -> Html {
    html! {
        <li class={classes!("event", t.event.clone())} id={format!("timeline-{i}")}
            data-event={t.event.clone()}>
            <span class="event-name">{ words::timeline_event(&t.event) }</span>
            <span class="muted">{ format!(" · {} · {}", time::local(t.at_ms), actor(&t.actor, scans, me)) }</span>
            if let Some(detail) = &t.detail {
                <span class="event-detail">{ format!("“{detail}”") }</span>
            }
        </li>
    }
}

#[derive(Properties, PartialEq)]
struct ProblemsProps {
    /// `scanner_problems` of the device detail.
    problems: Vec<serde_json::Value>,
    /// The device's scans (to name who accepted a gap).
    scans: Vec<ScanEvidence>,
    /// This install.
    me: Option<Whoami>,
    /// Called after a gap is accepted, so the device reloads.
    on_changed: Callback<()>,
}

/// One open or accepted chain gap of a scanning tablet.
#[derive(Clone, Debug, PartialEq)]
struct GapView {
    key_id: String,
    name: String,
    expected: u64,
    found: u64,
    accepted_by: Option<String>,
}

fn gaps_of(problems: &[serde_json::Value]) -> Vec<GapView> {
    let mut out = Vec::new();
    for p in problems {
        let key_id = p["key_id"].as_str().unwrap_or_default().to_string();
        let name = p["name"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| t("gap-unnamed-tablet"));
        for g in p["gaps"].as_array().into_iter().flatten() {
            let (Some(expected), Some(found)) = (g["expected"].as_u64(), g["found"].as_u64())
            else {
                continue;
            };
            out.push(GapView {
                key_id: key_id.clone(),
                name: name.clone(),
                expected,
                found,
                accepted_by: g["accepted"]["by"].as_str().map(str::to_string),
            });
        }
    }
    out
}

/// The scanning tablets' problems: revoked installs and chain gaps, with "accept the gap" for
/// an open one (the missing scans are declared lost; the tablet's held scans then go through).
#[function_component(ScannerProblems)]
fn scanner_problems(props: &ProblemsProps) -> Html {
    let accept = use_accept_gap();
    let reason = use_state(String::new);
    {
        let changed = props.on_changed.clone();
        let reason = reason.clone();
        use_effect_with(accept.state.clone(), move |state| {
            if let ActionState::Done(_) = state {
                reason.set(String::new());
                changed.emit(());
            }
        });
    }
    let oninput = {
        let reason = reason.clone();
        Callback::from(move |e: InputEvent| {
            if let Some(input) = e.target_dyn_into::<HtmlInputElement>() {
                reason.set(input.value());
            }
        })
    };
    let gaps = gaps_of(&props.problems);
    let open = gaps.iter().any(|g| g.accepted_by.is_none());
    let no_reason = reason.trim().is_empty();
    let running = accept.state.running();
    let gap_item = |g: &GapView| {
        let lost = if g.found > g.expected + 1 {
            tf(
                "gap-scans",
                &[("first", g.expected.into()), ("last", (g.found - 1).into())],
            )
        } else {
            tf("gap-scan", &[("n", g.expected.into())])
        };
        let tablet = [("name", g.name.clone().into()), ("lost", lost.into())];
        let onclick = {
            let run = accept.run.clone();
            let (key_id, expected, reason) = (g.key_id.clone(), g.expected, reason.clone());
            Callback::from(move |_: MouseEvent| {
                run.emit(GapRequest {
                    key_id: key_id.clone(),
                    expected,
                    reason: reason.trim().to_string(),
                })
            })
        };
        html! {
            <li id={format!("gap-{}-{}", g.key_id, g.expected)}>
                if let Some(by) = &g.accepted_by {
                    { tf("gap-lost", &tablet) }{ " " }
                    <span class="muted">{ tf("gap-accepted", &[("by", actor(by, &props.scans, props.me.as_ref()).into())]) }</span>
                } else {
                    { tf("gap-open", &tablet) }{ " " }
                    <button class="secondary" id={format!("accept-gap-{}", g.expected)}
                        onclick={onclick} disabled={running || no_reason}>
                        { t("gap-accept") }
                    </button>
                }
            </li>
        }
    };
    html! {
        <Notice kind={NoticeKind::Warning} id="scanner-problems"
            title={t("problems-title")}>
            <p>{ t("problems-text") }</p>
            if !gaps.is_empty() {
                <ul class="gaps">{ for gaps.iter().map(gap_item) }</ul>
            }
            if open {
                <label for="gap-reason">{ t("gap-reason") }</label>
                <input id="gap-reason" type="text" value={(*reason).clone()} {oninput}
                    placeholder={t("gap-reason-example")} maxlength="500" />
            }
            if let ActionState::Failed(err) = &accept.state {
                <p class="refusal" id="gap-error">{ err.to_string() }</p>
            }
        </Notice>
    }
}

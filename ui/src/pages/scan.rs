//! The scan screen: read a label (camera, photo or typed line), check it on a card, add the
//! site and a note, confirm to queue; or, in batch mode, set the site once and let every new
//! label the camera reads be queued on its own.

use vouch_protocol::wire::AppErrorCode;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::components::{Icon, Notice, NoticeKind};
use crate::hooks::{
    beep, use_batch, use_camera, use_dropped_files, use_pasted_images, use_photo_reader, use_queue,
    use_queue_scan, use_report_ready, use_stored, vibrate_and_flash, Action, ActionState,
    BatchHandle, CameraHandle, CameraStatus, Photos, ScanRequest,
};
use crate::i18n::{t, tf};
use crate::ipc::{PhotoRead, PreviewFrame, QueueEntry};
use crate::label::{self, GroupState};
use crate::time;

/// Where a label being checked came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Camera,
    Photo,
    Typed,
}

impl Source {
    fn words(self) -> String {
        match self {
            Source::Camera => t("source-camera"),
            Source::Photo => t("source-photo"),
            Source::Typed => t("source-typed"),
        }
    }
}

/// How the camera's reads are used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Each label is checked on a card and confirmed (a tap on an outline picks among several).
    Single,
    /// A rack or a pallet: every new label is queued on its own with the batch's site.
    Batch,
}

/// A label read and waiting for confirmation.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Candidate {
    text: String,
    source: Source,
}

/// The labels to confirm, one card each, from photos read: every label of every photo; a photo
/// with codes but no label gives its first code (the card says why it is refused).
fn photo_candidates(reads: &[PhotoRead]) -> Vec<Candidate> {
    let photo = |text: &String| Candidate {
        text: text.clone(),
        source: Source::Photo,
    };
    reads
        .iter()
        .filter(|r| r.error.is_none())
        .flat_map(|r| r.codes.iter().take(r.labels.max(1)).map(photo))
        .collect()
}

/// The photos that gave nothing to confirm, each with why.
fn photo_problems(reads: &[PhotoRead]) -> Vec<(String, String)> {
    reads
        .iter()
        .filter_map(|r| match (&r.error, r.codes.is_empty()) {
            (Some(e), _) => Some((
                r.file.clone(),
                tf("photo-unreadable", &[("error", e.clone().into())]),
            )),
            (None, true) => Some((r.file.clone(), t("photo-no-code"))),
            _ => None,
        })
        .collect()
}

fn input_value(e: &InputEvent) -> Option<String> {
    e.target_dyn_into::<HtmlInputElement>().map(|i| i.value())
}

/// The scan screen.
#[function_component(Scan)]
pub fn scan() -> Html {
    // The labels waiting for confirmation; the card shows the first.
    let candidates = use_state(Vec::<Candidate>::new);
    let note = use_state(String::new);
    let (site, set_site) = use_stored("vouch.site");
    let photo_path = use_state(String::new);
    let manual = use_state(String::new);
    let queue = use_queue();
    let reader = use_photo_reader();
    let queue_scan = use_queue_scan();
    use_report_ready();

    let read = {
        let candidates = candidates.clone();
        let reset = queue_scan.reset.clone();
        Callback::from(move |(text, source): (String, Source)| {
            reset.emit(());
            candidates.set(vec![Candidate { text, source }]);
            if source != Source::Typed {
                // After the state change, in its own task: a platform without audio or
                // vibration must not lose the read.
                gloo_timers::callback::Timeout::new(0, || {
                    beep();
                    vibrate_and_flash();
                })
                .forget();
            }
        })
    };
    let mode = use_state(|| Mode::Single);
    // The camera's listener keeps the callback it was first given: it reads the mode from here.
    let batch_mode = use_mut_ref(|| false);
    *batch_mode.borrow_mut() = *mode == Mode::Batch;
    let batch = use_batch();
    let camera = use_camera({
        let read = read.clone();
        let to_batch = batch.read.clone();
        Callback::from(move |text: String| {
            if *batch_mode.borrow() {
                to_batch.emit(text);
            } else {
                read.emit((text, Source::Camera));
            }
        })
    });
    let set_mode = {
        let mode = mode.clone();
        let end = batch.end.clone();
        let active = batch.view.active;
        Callback::from(move |next: Mode| {
            if next == Mode::Single && active {
                end.emit(());
            }
            mode.set(next);
        })
    };

    // Dropped files and pasted images are read like picked photos.
    use_dropped_files({
        let run = reader.run.clone();
        Callback::from(move |paths: Vec<String>| run.emit(Photos::Paths(paths)))
    });
    use_pasted_images({
        let run = reader.run.clone();
        Callback::from(move |(name, bytes)| run.emit(Photos::Pasted(name, bytes)))
    });
    // The labels of the photos read become the cards to confirm, one after the other.
    {
        let candidates = candidates.clone();
        let reset = queue_scan.reset.clone();
        use_effect_with(reader.state.clone(), move |state| {
            if let ActionState::Done(reads) = state {
                let found = photo_candidates(reads);
                if !found.is_empty() {
                    reset.emit(());
                    candidates.set(found);
                    gloo_timers::callback::Timeout::new(0, beep).forget();
                }
            }
        });
    }
    // A queued scan shows the next label to confirm (if any) and refreshes the queue (for
    // repeat warnings). The site stays for the next scan; the note is per device.
    {
        let candidates = candidates.clone();
        let note = note.clone();
        let reload = queue.reload.clone();
        use_effect_with(queue_scan.state.clone(), move |state| {
            if let ActionState::Done(_) = state {
                candidates.set(candidates.iter().skip(1).cloned().collect());
                note.set(String::new());
                reload.emit(());
            }
        });
    }

    let confirm = {
        let candidates = candidates.clone();
        let note = note.clone();
        let site = site.clone();
        let run = queue_scan.run.clone();
        Callback::from(move |again: bool| {
            if let Some(c) = candidates.first() {
                let note = note.trim();
                run.emit(ScanRequest {
                    text: c.text.clone(),
                    site: site.trim().to_string(),
                    note: (!note.is_empty()).then(|| note.to_string()),
                    again,
                });
            }
        })
    };
    let discard = {
        let candidates = candidates.clone();
        let reset = queue_scan.reset.clone();
        Callback::from(move |_: MouseEvent| {
            candidates.set(candidates.iter().skip(1).cloned().collect());
            reset.emit(());
        })
    };

    let entries: Vec<QueueEntry> = queue.value.ready().cloned().unwrap_or_default();
    let card = candidates.first().map(|c| {
        label_card(
            c,
            candidates.len() - 1,
            &entries,
            &site,
            &note,
            &queue_scan.state,
            LabelCardActions {
                set_site: set_site.clone(),
                set_note: {
                    let note = note.clone();
                    Callback::from(move |text: String| note.set(text))
                },
                confirm: confirm.clone(),
                discard: discard.clone(),
            },
        )
    });

    let result = match &queue_scan.state {
        ActionState::Done(entry) => html! {
            <Notice kind={NoticeKind::Success} id="scan-result" title={t("scan-saved")}>
                <p>
                    { tf("scan-queued", &[("serial", entry.serial.clone().into()),
                                          ("sequence", entry.sequence.into())]) }
                </p>
                if !entry.site.is_empty() {
                    <p class="muted" id="site-kept">
                        { tf("site-kept", &[("site", entry.site.clone().into())]) }
                    </p>
                }
            </Notice>
        },
        _ => html! {},
    };

    let single = *mode == Mode::Single;
    html! {
        <div class="page scan-page" id="scan-page">
            { mode_switch(*mode, &set_mode) }
            if single {
                { result }
                { card.unwrap_or_default() }
            }
            <div class="scan-grid">
                { camera_card(&camera, &read, single) }
                <div class="scan-side">
                    if single {
                        { photo_card(&photo_path, &reader) }
                        { manual_card(&manual, &read) }
                    } else {
                        { batch_card(&batch, &site, &set_site) }
                    }
                </div>
            </div>
        </div>
    }
}

/// What the label card can do.
struct LabelCardActions {
    set_site: Callback<String>,
    set_note: Callback<String>,
    confirm: Callback<bool>,
    discard: Callback<MouseEvent>,
}

fn label_card(
    candidate: &Candidate,
    more: usize,
    entries: &[QueueEntry],
    site: &str,
    note: &str,
    state: &ActionState<QueueEntry>,
    actions: LabelCardActions,
) -> Html {
    let parsed = label::parse(&candidate.text);
    let running = state.running();
    let body = match &parsed {
        Err(reason) => html! {
            <Notice kind={NoticeKind::Error} id="label-error" title={t("label-invalid")}>
                <p>{ reason.clone() }</p>
                <p>{ t("label-invalid-hint") }</p>
            </Notice>
        },
        Ok(view) => {
            let earlier = entries.iter().rev().find(|e| e.serial == view.serial);
            let oninput_site = {
                let set = actions.set_site.clone();
                Callback::from(move |e: InputEvent| {
                    if let Some(v) = input_value(&e) {
                        set.emit(v);
                    }
                })
            };
            let oninput_note = {
                let set = actions.set_note.clone();
                Callback::from(move |e: InputEvent| {
                    if let Some(v) = input_value(&e) {
                        set.emit(v);
                    }
                })
            };
            let onsubmit = {
                let confirm = actions.confirm.clone();
                Callback::from(move |e: SubmitEvent| {
                    e.prevent_default();
                    confirm.emit(false);
                })
            };
            html! {
                <>
                    <dl class="facts label-facts">
                        <dt>{ t("label-serial") }</dt>
                        <dd class="big-value" id="label-serial">{ &view.serial }</dd>
                        <dt>{ t("label-model") }</dt>
                        <dd id="label-model">{ view.model.clone().unwrap_or_else(|| "—".into()) }</dd>
                        <dt>{ t("label-key") }</dt>
                        <dd class="mono" id="label-fingerprint">{ &view.fingerprint }</dd>
                        <dt>{ t("label-read-as") }</dt>
                        <dd>{ format!("{}, {}", view.format, candidate.source.words()) }</dd>
                    </dl>
                    if let Some(e) = earlier {
                        <Notice kind={NoticeKind::Warning} id="repeat-warning"
                            title={t("repeat-title")}>
                            <p>{ tf("repeat-warning", &[
                                ("serial", e.serial.clone().into()),
                                ("sequence", e.sequence.into()),
                                ("ago", time::ago(e.scanned_at_ms).into()),
                                ("site", e.site.clone().into()),
                            ]) }</p>
                        </Notice>
                    }
                    <form class="scan-form" {onsubmit}>
                        <label for="site-input">{ t("site-label") }</label>
                        <input id="site-input" type="text" value={site.to_string()}
                            placeholder={t("site-placeholder")} oninput={oninput_site}
                            maxlength="128" autocomplete="on" />
                        <label for="note-input">{ t("note-label") }</label>
                        <input id="note-input" type="text" value={note.to_string()}
                            placeholder={t("note-placeholder")} oninput={oninput_note}
                            maxlength="1024" />
                        <div class="actions">
                            <button class="primary big" id="confirm-scan" type="submit"
                                disabled={running}>
                                <Icon name="check" />
                                { if running { t("confirm-saving") } else { t("confirm-queue") } }
                            </button>
                            <button class="secondary big" id="discard-scan" type="button"
                                onclick={actions.discard.clone()}>{ t("discard") }</button>
                        </div>
                    </form>
                    { queue_error(state, &actions.confirm) }
                </>
            }
        }
    };
    html! {
        <section class={classes!("card", "label-card", parsed.is_err().then_some("invalid"))}
                 id="label-card">
            <h2>{ t("label-card-title") }</h2>
            if more > 0 {
                <p class="muted" id="labels-waiting" data-count={more.to_string()}>
                    { tf("labels-waiting", &[("count", more.into())]) }
                </p>
            }
            { body }
            if parsed.is_err() {
                <div class="actions">
                    <button class="secondary big" id="discard-scan" type="button"
                        onclick={actions.discard}>{ t("discard") }</button>
                </div>
            }
        </section>
    }
}

fn queue_error(state: &ActionState<QueueEntry>, confirm: &Callback<bool>) -> Html {
    let ActionState::Failed(err) = state else {
        return html! {};
    };
    if err.is(AppErrorCode::RepeatScan) {
        let again = {
            let confirm = confirm.clone();
            Callback::from(move |_: MouseEvent| confirm.emit(true))
        };
        return html! {
            <Notice kind={NoticeKind::Warning} id="repeat-refused" title={t("repeat-refused-title")}>
                <p>{ t("repeat-refused") }</p>
                <button class="secondary" id="confirm-again" onclick={again}>
                    { t("repeat-again") }
                </button>
            </Notice>
        };
    }
    // A refused label's reason is in the error's words (from its protocol code).
    html! {
        <Notice kind={NoticeKind::Error} id="scan-error" title={t("scan-not-queued")}>
            <p>{ err.to_string() }</p>
        </Notice>
    }
}

fn mode_switch(mode: Mode, set_mode: &Callback<Mode>) -> Html {
    let button = |id: &'static str, which: Mode, words: String| {
        let set = set_mode.clone();
        let onclick = Callback::from(move |_: MouseEvent| set.emit(which));
        let on = mode == which;
        html! {
            <button {id} type="button" class={classes!("mode", on.then_some("on"))}
                aria-pressed={on.to_string()} {onclick}>{ words }</button>
        }
    };
    html! {
        <div class="mode-switch" id="scan-mode" data-mode={if mode == Mode::Batch { "batch" } else { "single" }}>
            { button("mode-single", Mode::Single, t("mode-single")) }
            { button("mode-batch", Mode::Batch, t("mode-batch")) }
        </div>
    }
}

fn batch_card(batch: &BatchHandle, site: &str, set_site: &Callback<String>) -> Html {
    let view = &batch.view;
    let problem = view.problem.as_ref().map(|e| {
        html! {
            <Notice kind={NoticeKind::Warning} id="batch-problem"><p>{ e.to_string() }</p></Notice>
        }
    });
    if !view.active {
        let oninput = {
            let set = set_site.clone();
            Callback::from(move |e: InputEvent| {
                if let Some(v) = input_value(&e) {
                    set.emit(v);
                }
            })
        };
        let onsubmit = {
            let start = batch.start.clone();
            let site = site.to_string();
            Callback::from(move |e: SubmitEvent| {
                e.prevent_default();
                start.emit(site.clone());
            })
        };
        return html! {
            <section class="card batch-card" id="batch-card">
                <h2><Icon name="camera" />{ t("batch-title") }</h2>
                <p class="muted">{ t("batch-intro") }</p>
                <form class="scan-form" {onsubmit}>
                    <label for="batch-site">{ t("site-label") }</label>
                    <input id="batch-site" type="text" value={site.to_string()} {oninput}
                        placeholder={t("site-placeholder")} maxlength="128" />
                    <button class="primary big" id="batch-start" type="submit"
                        disabled={site.trim().is_empty()}>{ t("batch-start") }</button>
                </form>
                { problem.unwrap_or_default() }
            </section>
        };
    }
    let resume = {
        let resume = batch.resume.clone();
        Callback::from(move |_: MouseEvent| resume.emit(()))
    };
    let end = {
        let end = batch.end.clone();
        Callback::from(move |_: MouseEvent| end.emit(()))
    };
    html! {
        <section class="card batch-card running" id="batch-card">
            <h2><Icon name="camera" />{ t("batch-title") }</h2>
            <p class="muted" id="batch-site-shown">{ tf("batch-running", &[("site", view.site.clone().into())]) }</p>
            <p class="big-value" id="batch-count" data-count={view.count.to_string()}>
                { tf("batch-count", &[("count", view.count.into())]) }
            </p>
            if let Some(err) = &view.stopped {
                <Notice kind={NoticeKind::Error} id="batch-stopped" title={t("batch-stopped-title")}>
                    <p>{ err.to_string() }</p>
                    <button class="secondary" id="batch-resume" onclick={resume}>{ t("batch-resume") }</button>
                </Notice>
            }
            { problem.unwrap_or_default() }
            <ul class="batch-recent" id="batch-recent">
                { for view.recent.iter().map(|r| {
                    let undo = {
                        let undo = batch.undo.clone();
                        let sequence = r.sequence;
                        Callback::from(move |_: MouseEvent| undo.emit(sequence))
                    };
                    html! {
                        <li id={format!("batch-item-{}", r.serial)} data-sequence={r.sequence.to_string()}>
                            <span class="mono muted">{ format!("#{}", r.sequence) }</span>
                            <strong>{ &r.serial }</strong>
                            if r.undoable() {
                                <button class="secondary small" id={format!("undo-{}", r.serial)}
                                    onclick={undo}>{ t("batch-undo") }</button>
                            }
                        </li>
                    }
                }) }
            </ul>
            <div class="actions">
                <button class="secondary" id="batch-end" onclick={end}>{ t("batch-end") }</button>
            </div>
        </section>
    }
}

fn camera_card(camera: &CameraHandle, read: &Callback<(String, Source)>, single: bool) -> Html {
    // A code still in view after its card was discarded is not reported again: this takes it.
    let in_view = camera
        .frame
        .as_ref()
        .and_then(|f| f.codes.first())
        .map(|c| c.text.clone());
    let use_in_view = {
        let read = read.clone();
        let text = in_view.clone();
        Callback::from(move |_: MouseEvent| {
            if let Some(text) = &text {
                read.emit((text.clone(), Source::Camera));
            }
        })
    };
    let start = {
        let start = camera.start.clone();
        Callback::from(move |_: MouseEvent| start.emit(()))
    };
    let stop = {
        let stop = camera.stop.clone();
        Callback::from(move |_: MouseEvent| stop.emit(()))
    };
    let body = match &camera.status {
        CameraStatus::Checking | CameraStatus::Starting => html! {
            <p class="muted" id="camera-status" data-state="starting">{ t("camera-opening") }</p>
        },
        CameraStatus::Running(name) => html! {
            <>
                { preview(camera.frame.as_ref(), &camera.drawn, single.then_some(read)) }
                <div class="camera-bar">
                    <span class="muted" id="camera-status" data-state="running">
                        { tf("camera-point", &[("name", name.clone().into())]) }
                    </span>
                    <div class="row">
                        if single {
                            <button class="secondary" id="camera-use" onclick={use_in_view}
                                disabled={in_view.is_none()}>{ t("camera-use") }</button>
                        }
                        <button class="secondary" id="camera-stop" onclick={stop}>{ t("camera-stop") }</button>
                    </div>
                </div>
            </>
        },
        CameraStatus::Stopped => html! {
            <div class="camera-off">
                <p class="muted" id="camera-status" data-state="stopped">{ t("camera-off") }</p>
                <button class="primary big" id="camera-start" onclick={start}>
                    <Icon name="camera" />{ t("camera-start") }
                </button>
            </div>
        },
        CameraStatus::Plugin => html! {
            <div class="camera-off">
                <p class="muted" id="camera-status" data-state="plugin">
                    { t("camera-plugin") }
                </p>
                <button class="primary big" id="camera-start" onclick={start}>
                    <Icon name="camera" />{ t("camera-plugin-start") }
                </button>
            </div>
        },
        CameraStatus::Unavailable(code, message) => html! {
            <div class="camera-off">
                <Notice kind={NoticeKind::Info} id="camera-status"
                    title={if code == AppErrorCode::NoCamera.as_str() { t("camera-none") } else { t("camera-unavailable") }}>
                    <p>{ message.clone() }</p>
                </Notice>
                <button class="secondary" id="camera-start" onclick={start}>{ t("camera-retry") }</button>
            </div>
        },
    };
    html! {
        <section class="card camera-card" id="camera-card">
            <h2><Icon name="camera" />{ t("camera-title") }</h2>
            { body }
        </section>
    }
}

/// The camera's picture with each code in view outlined. In single mode (`pick` given) a tap
/// on an outline takes that code, for when several labels are in view.
fn preview(
    frame: Option<&PreviewFrame>,
    drawn: &Callback<()>,
    pick: Option<&Callback<(String, Source)>>,
) -> Html {
    let Some(frame) = frame else {
        return html! { <div class="preview waiting" id="camera-preview-wait">{ t("camera-waiting") }</div> };
    };
    let view_box = format!("0 0 {} {}", frame.width, frame.height);
    // Loaded (or failed): the next picture may come.
    let onload = {
        let drawn = drawn.clone();
        Callback::from(move |_: Event| drawn.emit(()))
    };
    let onerror = onload.clone();
    html! {
        <div class="preview">
            <img id="camera-preview" src={frame.src.clone()} alt={t("camera-preview")}
                 {onload} {onerror} />
            <svg class={classes!("overlay", pick.is_some().then_some("pickable"))} viewBox={view_box}
                 preserveAspectRatio="xMidYMid meet">
                { for frame.codes.iter().map(|code| {
                    let points = code.corners.iter()
                        .map(|(x, y)| format!("{x:.0},{y:.0}"))
                        .collect::<Vec<_>>()
                        .join(" ");
                    let serial = label::parse(&code.text).map(|v| v.serial).unwrap_or_default();
                    let onclick = pick.map(|pick| {
                        let pick = pick.clone();
                        let text = code.text.clone();
                        Callback::from(move |_: MouseEvent| pick.emit((text.clone(), Source::Camera)))
                    });
                    html! {
                        <polygon class="located" points={points} data-serial={serial} {onclick}>
                            <title>{ t("camera-pick") }</title>
                        </polygon>
                    }
                }) }
            </svg>
        </div>
    }
}

fn photo_card(path: &UseStateHandle<String>, reader: &Action<Photos, Vec<PhotoRead>>) -> Html {
    let oninput = {
        let path = path.clone();
        Callback::from(move |e: InputEvent| {
            if let Some(v) = input_value(&e) {
                path.set(v);
            }
        })
    };
    let onsubmit = {
        let path = path.clone();
        let run = reader.run.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            run.emit(Photos::Paths(vec![path.trim().to_string()]));
        })
    };
    let choose = {
        let run = reader.run.clone();
        Callback::from(move |_: MouseEvent| run.emit(Photos::Chosen))
    };
    let running = reader.state.running();
    let problems = match &reader.state {
        ActionState::Failed(err) => vec![(String::new(), err.to_string())],
        ActionState::Done(reads) => photo_problems(reads),
        _ => Vec::new(),
    };
    html! {
        <section class="card" id="photo-card">
            <h2><Icon name="photo" />{ t("photo-title") }</h2>
            <button class="primary big" id="photo-choose" type="button" onclick={choose}
                disabled={running}>
                <Icon name="photo" />
                { if running { t("photo-reading") } else { t("photo-choose") } }
            </button>
            <p class="muted small">{ t("photo-drop-paste") }</p>
            <form class="inline-form" {onsubmit}>
                <label for="photo-path">{ t("photo-path-label") }</label>
                <div class="row">
                    <input id="photo-path" type="text" value={(**path).clone()} {oninput}
                        placeholder="/home/me/Pictures/label.jpg" spellcheck="false" />
                    <button class="secondary" id="photo-read" type="submit"
                        disabled={running || path.trim().is_empty()}>{ t("photo-read") }</button>
                </div>
            </form>
            if !problems.is_empty() {
                <Notice kind={NoticeKind::Error} id="photo-error">
                    { for problems.iter().map(|(file, problem)| html! {
                        <p>{ if file.is_empty() { problem.clone() } else { format!("{file}: {problem}") } }</p>
                    }) }
                </Notice>
            }
        </section>
    }
}

fn manual_card(manual: &UseStateHandle<String>, read: &Callback<(String, Source)>) -> Html {
    let feedback = label::manual_feedback(manual);
    let complete = label::parse(manual).is_ok();
    let oninput = {
        let manual = manual.clone();
        Callback::from(move |e: InputEvent| {
            if let Some(v) = input_value(&e) {
                manual.set(v.to_ascii_uppercase());
            }
        })
    };
    let onsubmit = {
        let manual = manual.clone();
        let read = read.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            read.emit((manual.trim().to_string(), Source::Typed));
            manual.set(String::new());
        })
    };
    html! {
        <section class="card" id="manual-card">
            <h2><Icon name="keyboard" />{ t("manual-title") }</h2>
            <form class="inline-form" {onsubmit}>
                <label for="manual-input">{ t("manual-label") }</label>
                <input id="manual-input" type="text" value={(**manual).clone()} {oninput}
                    placeholder="VOUCH1 MODEL SERIAL ABCDx EFGHy …" spellcheck="false"
                    autocomplete="off" autocapitalize="characters" />
                <div class="groups" id="manual-groups" aria-hidden="true">
                    { for (0..label::GROUPS).map(|i| {
                        let state = feedback.groups.get(i).copied();
                        let class = match state {
                            Some(GroupState::Ok) => "group ok",
                            Some(GroupState::Bad) => "group bad",
                            Some(GroupState::Typing) => "group typing",
                            None => "group",
                        };
                        html! { <span class={class} id={format!("group-{}", i + 1)}>{ i + 1 }</span> }
                    }) }
                </div>
                <p class={classes!("feedback", feedback.problem.then_some("problem"))}
                   id="manual-feedback" aria-live="polite">{ feedback.message.clone() }</p>
                <button class="primary" id="manual-use" type="submit"
                    disabled={manual.trim().is_empty()}>
                    { if complete { t("manual-use") } else { t("manual-check") } }
                </button>
            </form>
        </section>
    }
}

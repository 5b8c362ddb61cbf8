//! The scan screen: read a label (camera, photo or typed line), check it on a card, add the
//! site and a note, confirm to queue.

use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::components::{Icon, Notice, NoticeKind};
use crate::hooks::{
    beep, use_camera, use_photo_reader, use_queue, use_queue_scan, use_report_ready, use_stored,
    vibrate_and_flash, ActionState, CameraHandle, CameraStatus, ScanRequest,
};
use crate::ipc::{PreviewFrame, QueueEntry};
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
    fn words(self) -> &'static str {
        match self {
            Source::Camera => "read by the camera",
            Source::Photo => "read from the photo",
            Source::Typed => "typed",
        }
    }
}

/// A label read and waiting for confirmation.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Candidate {
    text: String,
    source: Source,
}

fn input_value(e: &InputEvent) -> Option<String> {
    e.target_dyn_into::<HtmlInputElement>().map(|i| i.value())
}

/// The scan screen.
#[function_component(Scan)]
pub fn scan() -> Html {
    let candidate = use_state(|| None::<Candidate>);
    let note = use_state(String::new);
    let (site, set_site) = use_stored("vouch.site");
    let photo_path = use_state(String::new);
    let manual = use_state(String::new);
    let queue = use_queue();
    let reader = use_photo_reader();
    let queue_scan = use_queue_scan();
    use_report_ready();

    let read = {
        let candidate = candidate.clone();
        let reset = queue_scan.reset.clone();
        Callback::from(move |(text, source): (String, Source)| {
            reset.emit(());
            candidate.set(Some(Candidate { text, source }));
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
    let camera = use_camera({
        let read = read.clone();
        Callback::from(move |text: String| read.emit((text, Source::Camera)))
    });

    // A photo that was read becomes the candidate.
    {
        let read = read.clone();
        let reset = reader.reset.clone();
        use_effect_with(reader.state.clone(), move |state| {
            if let ActionState::Done(decoded) = state {
                if let (Some(text), None) = (&decoded.text, &decoded.error) {
                    read.emit((text.clone(), Source::Photo));
                    reset.emit(());
                }
            }
        });
    }
    // A queued scan clears the card and refreshes the queue (for repeat warnings).
    {
        let candidate = candidate.clone();
        let note = note.clone();
        let reload = queue.reload.clone();
        use_effect_with(queue_scan.state.clone(), move |state| {
            if let ActionState::Done(_) = state {
                candidate.set(None);
                note.set(String::new());
                reload.emit(());
            }
        });
    }

    let confirm = {
        let candidate = candidate.clone();
        let note = note.clone();
        let site = site.clone();
        let run = queue_scan.run.clone();
        Callback::from(move |again: bool| {
            if let Some(c) = candidate.as_ref() {
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
        let candidate = candidate.clone();
        let reset = queue_scan.reset.clone();
        Callback::from(move |_: MouseEvent| {
            candidate.set(None);
            reset.emit(());
        })
    };

    let entries: Vec<QueueEntry> = queue.value.ready().cloned().unwrap_or_default();
    let card = candidate.as_ref().map(|c| {
        label_card(
            c,
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
            <Notice kind={NoticeKind::Success} id="scan-result" title="Saved on this tablet">
                <p>
                    { format!("{} is queued as record #{}. It is sent to the server at the next \
                               sync.", entry.serial, entry.sequence) }
                </p>
            </Notice>
        },
        _ => html! {},
    };

    html! {
        <div class="page scan-page" id="scan-page">
            { result }
            { card.unwrap_or_default() }
            <div class="scan-grid">
                { camera_card(&camera, &read) }
                <div class="scan-side">
                    { photo_card(&photo_path, &reader) }
                    { manual_card(&manual, &read) }
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
            <Notice kind={NoticeKind::Error} id="label-error" title="This is not a valid label">
                <p>{ reason.clone() }</p>
                <p>{ "Nothing was queued. Scan it again, or type the line printed under the code." }</p>
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
                        <dt>{ "Serial" }</dt>
                        <dd class="big-value" id="label-serial">{ &view.serial }</dd>
                        <dt>{ "Model" }</dt>
                        <dd id="label-model">{ view.model.clone().unwrap_or_else(|| "—".into()) }</dd>
                        <dt>{ "Device key" }</dt>
                        <dd class="mono" id="label-fingerprint">{ &view.fingerprint }</dd>
                        <dt>{ "Read as" }</dt>
                        <dd>{ format!("{}, {}", view.format, candidate.source.words()) }</dd>
                    </dl>
                    if let Some(e) = earlier {
                        <Notice kind={NoticeKind::Warning} id="repeat-warning"
                            title="Already scanned">
                            <p>{ format!("{} is already in this tablet's queue (record #{}, {}, \
                                          site \u{201c}{}\u{201d}). Confirm only if you mean to \
                                          record it again.",
                                         e.serial, e.sequence, time::ago(e.scanned_at_ms), e.site) }</p>
                        </Notice>
                    }
                    <form class="scan-form" {onsubmit}>
                        <label for="site-input">{ "Site or work order" }</label>
                        <input id="site-input" type="text" value={site.to_string()}
                            placeholder="e.g. WO-1001, Plant 3 roof" oninput={oninput_site}
                            maxlength="128" autocomplete="on" />
                        <label for="note-input">{ "Note (optional)" }</label>
                        <input id="note-input" type="text" value={note.to_string()}
                            placeholder="e.g. left of the door" oninput={oninput_note}
                            maxlength="1024" />
                        <div class="actions">
                            <button class="primary big" id="confirm-scan" type="submit"
                                disabled={running}>
                                <Icon name="check" />
                                { if running { "Saving…" } else { "Confirm and queue" } }
                            </button>
                            <button class="secondary big" id="discard-scan" type="button"
                                onclick={actions.discard.clone()}>{ "Discard" }</button>
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
            <h2>{ "Check the label" }</h2>
            { body }
            if parsed.is_err() {
                <div class="actions">
                    <button class="secondary big" id="discard-scan" type="button"
                        onclick={actions.discard}>{ "Discard" }</button>
                </div>
            }
        </section>
    }
}

fn queue_error(state: &ActionState<QueueEntry>, confirm: &Callback<bool>) -> Html {
    let ActionState::Failed(err) = state else {
        return html! {};
    };
    if err.is("repeat_scan") {
        let again = {
            let confirm = confirm.clone();
            Callback::from(move |_: MouseEvent| confirm.emit(true))
        };
        return html! {
            <Notice kind={NoticeKind::Warning} id="repeat-refused" title="Same label as the last scan">
                <p>{ "This is the label you scanned last, so it was not queued twice by mistake." }</p>
                <button class="secondary" id="confirm-again" onclick={again}>
                    { "Record a second scan anyway" }
                </button>
            </Notice>
        };
    }
    let detail = err
        .detail()
        .map(|code| label::explain(code, ""))
        .unwrap_or_default();
    html! {
        <Notice kind={NoticeKind::Error} id="scan-error" title="Not queued">
            <p>{ err.to_string() }</p>
            if !detail.is_empty() {
                <p class="muted">{ detail }</p>
            }
        </Notice>
    }
}

fn camera_card(camera: &CameraHandle, read: &Callback<(String, Source)>) -> Html {
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
            <p class="muted" id="camera-status" data-state="starting">{ "Opening the camera…" }</p>
        },
        CameraStatus::Running(name) => html! {
            <>
                { preview(camera.frame.as_ref()) }
                <div class="camera-bar">
                    <span class="muted" id="camera-status" data-state="running">
                        { format!("Point the camera at the label ({name})") }
                    </span>
                    <div class="row">
                        <button class="secondary" id="camera-use" onclick={use_in_view}
                            disabled={in_view.is_none()}>{ "Use the code in view" }</button>
                        <button class="secondary" id="camera-stop" onclick={stop}>{ "Stop" }</button>
                    </div>
                </div>
            </>
        },
        CameraStatus::Stopped => html! {
            <div class="camera-off">
                <p class="muted" id="camera-status" data-state="stopped">{ "The camera is off." }</p>
                <button class="primary big" id="camera-start" onclick={start}>
                    <Icon name="camera" />{ "Start the camera" }
                </button>
            </div>
        },
        CameraStatus::Plugin => html! {
            <div class="camera-off">
                <p class="muted" id="camera-status" data-state="plugin">
                    { "The camera opens full screen; it closes by itself when it reads a code." }
                </p>
                <button class="primary big" id="camera-start" onclick={start}>
                    <Icon name="camera" />{ "Scan with the camera" }
                </button>
            </div>
        },
        CameraStatus::Unavailable(code, message) => html! {
            <div class="camera-off">
                <Notice kind={NoticeKind::Info} id="camera-status"
                    title={if code == "no_camera" { "No camera" } else { "Camera unavailable" }}>
                    <p>{ message.clone() }</p>
                </Notice>
                <button class="secondary" id="camera-start" onclick={start}>{ "Try again" }</button>
            </div>
        },
    };
    html! {
        <section class="card camera-card" id="camera-card">
            <h2><Icon name="camera" />{ "Camera" }</h2>
            { body }
        </section>
    }
}

fn preview(frame: Option<&PreviewFrame>) -> Html {
    let Some(frame) = frame else {
        return html! { <div class="preview waiting" id="camera-preview-wait">{ "Waiting for the first picture…" }</div> };
    };
    let view_box = format!("0 0 {} {}", frame.width, frame.height);
    html! {
        <div class="preview">
            <img id="camera-preview" src={frame.image.clone()} alt="Camera preview" />
            <svg class="overlay" viewBox={view_box} preserveAspectRatio="xMidYMid meet"
                 aria-hidden="true">
                { for frame.codes.iter().map(|code| {
                    let points = code.corners.iter()
                        .map(|(x, y)| format!("{x:.0},{y:.0}"))
                        .collect::<Vec<_>>()
                        .join(" ");
                    html! { <polygon class="located" points={points} /> }
                }) }
            </svg>
        </div>
    }
}

fn photo_card(
    path: &UseStateHandle<String>,
    reader: &crate::hooks::Action<String, crate::ipc::DecodedImage>,
) -> Html {
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
            run.emit(path.trim().to_string());
        })
    };
    let running = reader.state.running();
    let problem = match &reader.state {
        ActionState::Failed(err) => Some(err.to_string()),
        ActionState::Done(d) => match (&d.error, &d.text) {
            (Some(e), _) => Some(format!(
                "This file cannot be read as a photo ({e}). Check the path."
            )),
            (None, None) => Some(
                "No QR code could be found in this photo. Take a closer, sharper photo, or type \
                 the line printed under the code."
                    .to_string(),
            ),
            _ => None,
        },
        _ => None,
    };
    html! {
        <section class="card" id="photo-card">
            <h2><Icon name="photo" />{ "Import a photo" }</h2>
            <form class="inline-form" {onsubmit}>
                <label for="photo-path">{ "Photo file (JPEG, PNG or WebP)" }</label>
                <div class="row">
                    <input id="photo-path" type="text" value={(**path).clone()} {oninput}
                        placeholder="/home/me/Pictures/label.jpg" spellcheck="false" />
                    <button class="primary" id="photo-read" type="submit"
                        disabled={running || path.trim().is_empty()}>
                        { if running { "Reading…" } else { "Read" } }
                    </button>
                </div>
            </form>
            if let Some(problem) = problem {
                <Notice kind={NoticeKind::Error} id="photo-error"><p>{ problem }</p></Notice>
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
            <h2><Icon name="keyboard" />{ "Type the label" }</h2>
            <form class="inline-form" {onsubmit}>
                <label for="manual-input">{ "The line printed under the code" }</label>
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
                    { if complete { "Use this label" } else { "Check this label" } }
                </button>
            </form>
        </section>
    }
}

//! Settings and about: identity, server, data folder, retention, the activity log, version.

use vouch_protocol::wire::AppErrorCode;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::components::{IdentityCard, Notice, NoticeKind};
use crate::hooks::{use_activity_log, use_app_info, use_export, ActionState, Remote, Session};
use crate::i18n::{t, tf, Lang};
use crate::ipc::AppInfo;
use crate::time;
use crate::words;
use crate::LangHandle;

/// The language switch: the system's language until one is chosen here (kept).
fn language_card(handle: Option<&LangHandle>) -> Html {
    let Some(handle) = handle else {
        return html! {};
    };
    html! {
        <section class="card" id="language-card">
            <h2>{ t("settings-language") }</h2>
            <div class="row" role="group" aria-label={t("settings-language")}>
                { for Lang::ALL.iter().map(|&lang| {
                    let set = handle.set.clone();
                    let onclick = Callback::from(move |_: MouseEvent| set.emit(lang));
                    let current = handle.lang == lang;
                    html! {
                        <button id={format!("lang-{}", lang.tag())} {onclick}
                            class={if current { "primary" } else { "secondary" }}
                            aria-pressed={current.to_string()}>{ lang.name() }</button>
                    }
                }) }
            </div>
            <p class="muted small">{ t("settings-language-hint") }</p>
        </section>
    }
}

/// How this install reads labels with a camera.
fn camera_words(info: &AppInfo) -> String {
    match (info.camera_backend.as_str(), info.simulated_camera) {
        ("plugin", _) => t("about-camera-plugin"),
        (_, true) => t("about-camera-simulated"),
        _ => t("about-camera-app"),
    }
}

/// The settings and about screen.
#[function_component(Settings)]
pub fn settings() -> Html {
    let session = use_context::<Session>();
    let language = use_context::<LangHandle>();
    let info = use_app_info();
    let log = use_activity_log();
    let export = use_export();
    let export_path = use_state(String::new);

    let identity = match session.as_ref().map(|s| &s.who) {
        Some(Remote::Ready(who)) => html! { <IdentityCard who={who.clone()} full=true /> },
        Some(Remote::Failed(e)) if e.is(AppErrorCode::NotRegistered) => html! {
            <p class="muted" id="identity-none">{ t("settings-not-joined") }</p>
        },
        Some(Remote::Failed(e)) => html! {
            <Notice kind={NoticeKind::Error}><p>{ e.to_string() }</p></Notice>
        },
        _ => html! { <p class="muted">{ t("loading") }</p> },
    };

    let about = match &info.value {
        Remote::Ready(i) => html! {
            <dl class="facts">
                <dt>{ t("about-version") }</dt><dd id="app-version">{ &i.version }</dd>
                <dt>{ t("about-data-folder") }</dt><dd class="mono" id="data-dir">{ &i.data_dir }</dd>
                <dt>{ t("about-retention") }</dt>
                <dd id="retention">{ match i.retention_days {
                    Some(0) => t("about-retention-forever"),
                    Some(d) => tf("about-retention-days", &[("days", d.into())]),
                    None => "—".to_string(),
                } }</dd>
                <dt>{ t("about-sync") }</dt>
                <dd>{ tf("about-sync-batches", &[
                    ("batch", i.batch_size.map(|n| n.to_string()).unwrap_or_else(|| "—".into()).into()),
                    ("attempts", i.max_attempts.map(|n| n.to_string()).unwrap_or_else(|| "—".into()).into()),
                ]) }</dd>
                <dt>{ t("about-camera") }</dt>
                <dd>{ camera_words(i) }</dd>
                if let Some(e) = &i.open_error {
                    <dt>{ t("about-problem") }</dt>
                    <dd class="bad" id="open-problem">{ words::open_problem(e) }</dd>
                }
            </dl>
        },
        Remote::Failed(e) => html! {
            <Notice kind={NoticeKind::Error} id="app-version"><p>{ e.to_string() }</p></Notice>
        },
        Remote::Loading => html! { <p class="muted">{ t("loading") }</p> },
    };

    let oninput = {
        let path = export_path.clone();
        Callback::from(move |e: InputEvent| {
            if let Some(input) = e.target_dyn_into::<HtmlInputElement>() {
                path.set(input.value());
            }
        })
    };
    let onsubmit = {
        let path = export_path.clone();
        let run = export.run.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            run.emit(path.trim().to_string());
        })
    };
    let refresh_log = {
        let reload = log.reload.clone();
        Callback::from(move |_: MouseEvent| reload.emit(()))
    };

    html! {
        <div class="page settings-page" id="settings-page">
            { language_card(language.as_ref()) }
            <section class="card">
                <h2>{ t("settings-identity") }</h2>
                { identity }
            </section>
            <section class="card" id="about">
                <h2>{ t("about-title") }</h2>
                <p>
                    { t("about-text") }
                </p>
                { about }
            </section>
            <section class="card">
                <h2>{ t("export-title") }</h2>
                <form class="inline-form" {onsubmit}>
                    <label for="export-path">{ t("export-label") }</label>
                    <div class="row">
                        <input id="export-path" type="text" value={(*export_path).clone()} {oninput}
                            placeholder="/home/me/vouch-queue.jsonl" spellcheck="false" />
                        <button class="secondary" id="export-btn" type="submit"
                            disabled={export.state.running() || export_path.trim().is_empty()}>
                            { t("export-button") }
                        </button>
                    </div>
                </form>
                if let ActionState::Done(n) = &export.state {
                    <Notice kind={NoticeKind::Success} id="export-done"><p>{ tf("export-done", &[("count", (*n).into())]) }</p></Notice>
                }
                if let ActionState::Failed(e) = &export.state {
                    <Notice kind={NoticeKind::Error} id="export-error"><p>{ e.to_string() }</p></Notice>
                }
            </section>
            <section class="card">
                <div class="detail-head">
                    <h2>{ t("activity-title") }</h2>
                    <button class="secondary" id="log-refresh" onclick={refresh_log}>{ t("refresh") }</button>
                </div>
                { match &log.value {
                    Remote::Ready(lines) if lines.is_empty() => html! {
                        <p class="muted">{ t("activity-empty") }</p>
                    },
                    Remote::Ready(lines) => html! {
                        <ol class="log" id="activity-log">
                            { for lines.iter().rev().map(|l| {
                                let (what, outcome) = words::activity_line(l);
                                html! {
                                    <li class={classes!(if l.error.is_some() { "error" } else { "info" })}
                                        data-what={l.what.clone()}>
                                        <span class="mono small">{ time::local(l.at_ms) }</span>
                                        <strong>{ format!(" {what}: ") }</strong>
                                        <span>{ outcome }</span>
                                    </li>
                                }
                            }) }
                        </ol>
                    },
                    Remote::Failed(e) => html! { <p class="bad">{ e.to_string() }</p> },
                    Remote::Loading => html! {},
                } }
            </section>
        </div>
    }
}

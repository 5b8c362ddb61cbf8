//! Vouch front end: a Yew app compiled to wasm by trunk and shown in the Tauri window.
//!
//! Layers, from the bottom up:
//! - [`ipc`]: the only code that talks to the Tauri shell (typed `invoke` and `listen`,
//!   [`error::IpcError`]);
//! - [`hooks`]: Yew hooks that load data and run actions through `ipc`;
//! - [`components`]: plain pieces of the layout;
//! - [`pages`]: the screens, built from hooks and components.
//!
//! [`label`] parses labels for the card and the as-you-type checks (through `vouch_protocol`,
//! parsing only); [`words`] and [`time`] turn codes and timestamps into words; [`i18n`] holds
//! the message catalogue (English and German) and the language in use.

mod components;
mod error;
mod hooks;
mod i18n;
mod ipc;
mod label;
mod pages;
mod time;
mod words;

use yew::prelude::*;

use components::Icon;
use hooks::{use_connectivity, use_session, use_stored, Connectivity, Online, Remote, Session};
use i18n::{t, tf, Lang};

/// The language in use and a way to change it (the switch in Settings), given to every page.
#[derive(Clone, Debug, PartialEq)]
pub struct LangHandle {
    /// The language in use.
    pub lang: Lang,
    /// Switches to a language and keeps the choice.
    pub set: Callback<Lang>,
}

/// The system's language as the WebView reports it (`navigator.language`).
fn system_language() -> Option<String> {
    web_sys::window().and_then(|w| w.navigator().language())
}

/// Marks the page with its language (`<html lang>`), for screen readers and hyphenation.
fn mark_language(lang: Lang) {
    let root = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element());
    if let Some(root) = root {
        let _ = root.set_attribute("lang", lang.tag());
    }
}

/// The language: chosen in Settings (kept), else the system's; switching re-renders every page.
#[hook]
fn use_language() -> LangHandle {
    let (stored, store) = use_stored(i18n::STORAGE_KEY);
    let lang = use_state(|| {
        let lang = i18n::initial(Some(stored.as_str()), system_language().as_deref());
        i18n::set(lang);
        mark_language(lang);
        lang
    });
    let set = {
        let lang = lang.clone();
        Callback::from(move |chosen: Lang| {
            i18n::set(chosen);
            mark_language(chosen);
            store.emit(chosen.tag().to_string());
            lang.set(chosen);
        })
    };
    LangHandle { lang: *lang, set }
}

/// The screens reachable from the navigation bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Page {
    Scan,
    Queue,
    Review,
    Settings,
}

impl Page {
    const ALL: [Page; 4] = [Page::Scan, Page::Queue, Page::Review, Page::Settings];

    fn name(self) -> String {
        t(match self {
            Page::Scan => "nav-scan",
            Page::Queue => "nav-queue",
            Page::Review => "nav-review",
            Page::Settings => "nav-settings",
        })
    }

    fn icon(self) -> &'static str {
        match self {
            Page::Scan => "scan",
            Page::Queue => "queue",
            Page::Review => "review",
            Page::Settings => "settings",
        }
    }

    fn id(self) -> &'static str {
        match self {
            Page::Scan => "nav-scan",
            Page::Queue => "nav-queue",
            Page::Review => "nav-review",
            Page::Settings => "nav-settings",
        }
    }
}

/// The header's connectivity pill.
fn status_pill(session: &Session, online: &Online) -> Html {
    let (class, icon, text, title) = match (session.joined().is_some(), &online.state) {
        (true, Connectivity::Online) => ("pill online", "online", "status-online", String::new()),
        (true, Connectivity::Offline(m)) => {
            ("pill offline", "offline", "status-offline", m.clone())
        }
        (true, Connectivity::Refused(m)) => ("pill refused", "warn", "status-refused", m.clone()),
        (true, Connectivity::Unknown) => ("pill", "sync", "status-checking", String::new()),
        _ => ("pill", "user", "status-not-joined", String::new()),
    };
    let text = t(text);
    let onclick = {
        let check = online.check.clone();
        Callback::from(move |_: MouseEvent| check.emit(()))
    };
    html! {
        <button class={class} id="online-status" title={title} {onclick}
                aria-label={tf("status-check-again", &[("status", text.clone().into())])}>
            <Icon name={icon} /><span>{ text }</span>
        </button>
    }
}

/// The whole app: header, navigation and the current page.
#[function_component(App)]
fn app() -> Html {
    let session = use_session();
    let online = use_connectivity(session.joined().is_some());
    let page = use_state(|| Page::Scan);
    let language = use_language();

    let joined = session.joined().cloned();
    let body = match (&session.who, *page) {
        (Remote::Loading, _) => html! { <p class="muted" id="loading">{ t("app-starting") }</p> },
        (_, Page::Settings) => html! { <pages::Settings /> },
        _ if session.needs_join() => html! { <pages::Join /> },
        (Remote::Failed(err), _) => html! {
            <components::Notice kind={components::NoticeKind::Error} id="startup-error"
                title={t("app-cannot-start")}>
                <p>{ err.to_string() }</p>
            </components::Notice>
        },
        (Remote::Ready(_), Page::Scan) => html! { <pages::Scan /> },
        (Remote::Ready(_), Page::Queue) => html! { <pages::Queue /> },
        (Remote::Ready(_), Page::Review) => html! { <pages::Review /> },
    };

    let nav = Page::ALL.iter().map(|p| {
        let onclick = {
            let page = page.clone();
            let p = *p;
            Callback::from(move |_: MouseEvent| page.set(p))
        };
        let current = *page == *p;
        let locked = *p == Page::Review && joined.as_ref().is_some_and(|w| !w.is_supervisor());
        html! {
            <button class={classes!("nav-item", current.then_some("active"), locked.then_some("locked"))}
                    id={p.id()} {onclick} aria-current={current.then_some("page")}>
                <Icon name={p.icon()} />
                <span>{ p.name() }</span>
            </button>
        }
    });

    html! {
        <ContextProvider<Session> context={session.clone()}>
            <ContextProvider<Online> context={online.clone()}>
            <ContextProvider<LangHandle> context={language.clone()}>
                // Keyed by the language: a switch renders every page anew in the new words.
                <div class="shell" key={language.lang.tag()}>
                    <header class="app-header">
                        <div class="brand">
                            <img src="128x128.png" alt="" class="logo" />
                            <h1>{ "Vouch" }</h1>
                        </div>
                        if let Some(who) = &joined {
                            <span class="who" id="header-who">
                                { format!("{} · {}", who.name, components::role_name(&who.role)) }
                            </span>
                        }
                        { status_pill(&session, &online) }
                    </header>
                    <nav class="app-nav" aria-label={t("nav-label")}>{ for nav }</nav>
                    <main class="app-main" id="main">{ body }</main>
                </div>
            </ContextProvider<LangHandle>>
            </ContextProvider<Online>>
        </ContextProvider<Session>>
    }
}

fn main() {
    yew::Renderer::<App>::new().render();
}

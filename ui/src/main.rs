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
//! parsing only); [`words`] and [`time`] turn codes and timestamps into words.

mod components;
mod error;
mod hooks;
mod ipc;
mod label;
mod pages;
mod time;
mod words;

use yew::prelude::*;

use components::Icon;
use hooks::{use_connectivity, use_session, Connectivity, Online, Remote, Session};

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

    fn name(self) -> &'static str {
        match self {
            Page::Scan => "Scan",
            Page::Queue => "Queue",
            Page::Review => "Review",
            Page::Settings => "Settings",
        }
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
        (true, Connectivity::Online) => ("pill online", "online", "Online", String::new()),
        (true, Connectivity::Offline(m)) => ("pill offline", "offline", "Offline", m.clone()),
        (true, Connectivity::Refused(m)) => ("pill refused", "warn", "Refused", m.clone()),
        (true, Connectivity::Unknown) => ("pill", "sync", "Checking", String::new()),
        _ => ("pill", "user", "Not joined", String::new()),
    };
    let onclick = {
        let check = online.check.clone();
        Callback::from(move |_: MouseEvent| check.emit(()))
    };
    html! {
        <button class={class} id="online-status" title={title} {onclick}
                aria-label={format!("Server: {text}. Check again")}>
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

    let joined = session.joined().cloned();
    let body = match (&session.who, *page) {
        (Remote::Loading, _) => html! { <p class="muted" id="loading">{ "Starting…" }</p> },
        (_, Page::Settings) => html! { <pages::Settings /> },
        _ if session.needs_join() => html! { <pages::Join /> },
        (Remote::Failed(err), _) => html! {
            <components::Notice kind={components::NoticeKind::Error} id="startup-error"
                title="Vouch cannot start">
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
                <div class="shell">
                    <header class="app-header">
                        <div class="brand">
                            <img src="128x128.png" alt="" class="logo" />
                            <h1>{ "Vouch" }</h1>
                        </div>
                        if let Some(who) = &joined {
                            <span class="who" id="header-who">
                                { format!("{} · {}", who.name, who.role) }
                            </span>
                        }
                        { status_pill(&session, &online) }
                    </header>
                    <nav class="app-nav" aria-label="Screens">{ for nav }</nav>
                    <main class="app-main" id="main">{ body }</main>
                </div>
            </ContextProvider<Online>>
        </ContextProvider<Session>>
    }
}

fn main() {
    yew::Renderer::<App>::new().render();
}

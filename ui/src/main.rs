//! Vouch front end: a Yew app compiled to wasm by trunk and shown in the Tauri window.
//!
//! Layers, from the bottom up:
//! - [`ipc`]: the only code that talks to the Tauri shell (typed `invoke`, [`error::IpcError`]);
//! - [`hooks`]: Yew hooks that load data through `ipc`;
//! - [`pages`]: screens built from hooks and plain components.

mod error;
mod hooks;
mod ipc;
mod pages;

use yew::prelude::*;

/// The whole app: header and the current page.
#[function_component(App)]
fn app() -> Html {
    html! {
        <>
            <header class="app-header">
                <h1>{ "Vouch" }</h1>
            </header>
            <main class="app-main">
                <pages::About />
            </main>
        </>
    }
}

fn main() {
    yew::Renderer::<App>::new().render();
}

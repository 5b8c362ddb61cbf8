//! The About page: what Vouch is, which version runs, and how far the app is.

use yew::prelude::*;

use crate::hooks::{use_app_version, Remote};

/// The About page. Shows the version reported by the shell's `app_version` command.
#[function_component(About)]
pub fn about() -> Html {
    let version = match use_app_version() {
        Remote::Loading => html! { <span class="muted">{ "loading…" }</span> },
        Remote::Ready(version) => html! { <span>{ version }</span> },
        Remote::Failed(err) => html! {
            <span class="error">{ format!("unavailable: {err}") }</span>
        },
    };
    html! {
        <section class="card" id="about">
            <h2>{ "About Vouch" }</h2>
            <p>
                { "Vouch lets a trusted field technician vouch for a device that nobody could \
                   sign for at the factory: a scan of its label binds the device's key to its \
                   serial, and the server issues its certificate once the device proves it holds \
                   that key." }
            </p>
            <dl class="facts">
                <dt>{ "Version" }</dt>
                <dd id="app-version">{ version }</dd>
            </dl>
            <p class="muted" id="build-status">
                { "Vouch is being built: scanning, queue and review screens arrive with the app \
                   issue." }
            </p>
        </section>
    }
}

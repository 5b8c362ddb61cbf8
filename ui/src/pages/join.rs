//! First run: join a server with the invite a supervisor or operator made.

use web_sys::HtmlTextAreaElement;
use yew::prelude::*;

use crate::components::{IdentityCard, Notice, NoticeKind};
use crate::hooks::{use_register, ActionState, Session};
use crate::i18n::t;

/// The join screen: paste (or scan) the invite, then see who this install now is.
#[function_component(Join)]
pub fn join() -> Html {
    let session = use_context::<Session>();
    let launch_invite = session.as_ref().and_then(|s| s.launch_invite.clone());
    let invite = use_state(|| launch_invite.clone().unwrap_or_default());
    let register = use_register();

    // An invite given at launch (`--invite`, `VOUCH_INVITE`) is redeemed at once.
    {
        let run = register.run.clone();
        let invite = invite.clone();
        use_effect_with(launch_invite, move |launch| {
            if let Some(text) = launch {
                invite.set(text.clone());
                run.emit(text.clone());
            }
        });
    }

    let oninput = {
        let invite = invite.clone();
        Callback::from(move |e: InputEvent| {
            if let Some(area) = e.target_dyn_into::<HtmlTextAreaElement>() {
                invite.set(area.value());
            }
        })
    };
    let onsubmit = {
        let invite = invite.clone();
        let run = register.run.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            run.emit((*invite).trim().to_string());
        })
    };
    // The header shows who joined as soon as the server answers.
    {
        let announce = session.as_ref().map(|s| s.announce.clone());
        use_effect_with(register.state.clone(), move |state| {
            if let (ActionState::Done(who), Some(announce)) = (state, announce) {
                announce.emit(who.clone());
            }
        });
    }
    let on_continue = {
        let refresh = session.as_ref().map(|s| s.refresh.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(refresh) = &refresh {
                refresh.emit(());
            }
        })
    };

    if let ActionState::Done(who) = &register.state {
        return html! {
            <section class="card page" id="join-done">
                <h2>{ t("join-done-title") }</h2>
                <p class="muted">
                    { t("join-done-text") }
                </p>
                <IdentityCard who={who.clone()} full=true />
                <button class="primary big" id="join-continue" onclick={on_continue}>
                    { t("join-continue") }
                </button>
            </section>
        };
    }

    let running = register.state.running();
    html! {
        <section class="card page" id="join">
            <h2>{ t("join-title") }</h2>
            <p>
                { t("join-intro-before") }<code>{ "VOUCH-INVITE:" }</code>{ t("join-intro-after") }
            </p>
            <form {onsubmit}>
                <label for="invite-input">{ t("join-invite") }</label>
                <textarea id="invite-input" rows="3" spellcheck="false" autocomplete="off"
                    placeholder="VOUCH-INVITE:1:…" value={(*invite).clone()} {oninput}
                    disabled={running} />
                <button class="primary big" id="join-btn" type="submit"
                    disabled={running || invite.trim().is_empty()}>
                    { if running { t("join-running") } else { t("join-button") } }
                </button>
            </form>
            if let ActionState::Failed(err) = &register.state {
                <Notice kind={NoticeKind::Error} id="join-error" title={t("join-failed")}>
                    <p>{ err.to_string() }</p>
                </Notice>
            }
        </section>
    }
}

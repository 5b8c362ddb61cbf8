//! First run: join a server with the invite a supervisor or operator made.

use web_sys::HtmlTextAreaElement;
use yew::prelude::*;

use crate::components::{IdentityCard, Notice, NoticeKind};
use crate::hooks::{use_register, ActionState, Session};

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
                <h2>{ "You have joined" }</h2>
                <p class="muted">
                    { "This tablet now has its own key, registered with the server. Every scan \
                       you make is signed with it." }
                </p>
                <IdentityCard who={who.clone()} full=true />
                <button class="primary big" id="join-continue" onclick={on_continue}>
                    { "Start scanning" }
                </button>
            </section>
        };
    }

    let running = register.state.running();
    html! {
        <section class="card page" id="join">
            <h2>{ "Join your team's server" }</h2>
            <p>
                { "Ask your supervisor for an invite. It is a QR code and a line of text that \
                   starts with " }<code>{ "VOUCH-INVITE:" }</code>
                { ". Paste the text here; this tablet then makes its own key and registers it." }
            </p>
            <form {onsubmit}>
                <label for="invite-input">{ "Invite" }</label>
                <textarea id="invite-input" rows="3" spellcheck="false" autocomplete="off"
                    placeholder="VOUCH-INVITE:1:…" value={(*invite).clone()} {oninput}
                    disabled={running} />
                <button class="primary big" id="join-btn" type="submit"
                    disabled={running || invite.trim().is_empty()}>
                    { if running { "Joining…" } else { "Join" } }
                </button>
            </form>
            if let ActionState::Failed(err) = &register.state {
                <Notice kind={NoticeKind::Error} id="join-error" title="Could not join">
                    <p>{ err.to_string() }</p>
                </Notice>
            }
        </section>
    }
}

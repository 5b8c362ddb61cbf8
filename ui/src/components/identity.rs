//! The identity card: who this install is.

use vouch_protocol::wire::Role;
use yew::prelude::*;

use super::Icon;
use crate::i18n::t;
use crate::ipc::Whoami;
use crate::time;

/// Properties of [`IdentityCard`].
#[derive(Properties, PartialEq)]
pub struct IdentityProps {
    /// The identity.
    pub who: Whoami,
    /// Show the server and the certificate expiry too.
    #[prop_or_default]
    pub full: bool,
}

/// Name, role and key fingerprint (to compare by eye with what the supervisor sees).
#[function_component(IdentityCard)]
pub fn identity_card(props: &IdentityProps) -> Html {
    let who = &props.who;
    html! {
        <section class="identity-card" id="identity-card">
            <div class="identity-avatar"><Icon name="user" /></div>
            <div class="identity-facts">
                <div class="identity-name" id="identity-name">{ &who.name }</div>
                <div class={classes!("role-badge", who.role.clone())} id="identity-role"
                     data-role={who.role.clone()}>
                    { role_name(&who.role) }
                </div>
                <dl class="facts">
                    <dt>{ t("identity-fingerprint") }</dt>
                    <dd class="mono" id="identity-fingerprint">{ &who.fingerprint }</dd>
                    if props.full {
                        <dt>{ t("identity-server") }</dt>
                        <dd class="mono" id="identity-server">{ &who.server_url }</dd>
                        <dt>{ t("identity-valid-until") }</dt>
                        <dd>{ time::local(who.not_after_ms) }</dd>
                        <dt>{ t("identity-key-id") }</dt>
                        <dd class="mono small">{ &who.key_id }</dd>
                    }
                </dl>
            </div>
        </section>
    }
}

/// A role in words (a role a newer server may add shows as it is).
pub fn role_name(role: &str) -> String {
    match Role::parse(role) {
        Some(Role::Technician) => t("role-technician"),
        Some(Role::Supervisor) => t("role-supervisor"),
        None => role.to_string(),
    }
}

//! A coloured box with an icon: an error, a warning, a success or a hint.

use yew::prelude::*;

use super::Icon;

/// What a [`Notice`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeKind {
    /// Something failed; the text says what to do.
    Error,
    /// Something needs a second look.
    Warning,
    /// Something worked.
    Success,
    /// A hint.
    Info,
}

/// Properties of [`Notice`].
#[derive(Properties, PartialEq)]
pub struct NoticeProps {
    /// The kind.
    pub kind: NoticeKind,
    /// Element id, for tests.
    #[prop_or_default]
    pub id: Option<AttrValue>,
    /// A short title.
    #[prop_or_default]
    pub title: Option<AttrValue>,
    /// The text and any buttons.
    #[prop_or_default]
    pub children: Html,
}

/// A coloured box with an icon, announced to screen readers.
#[function_component(Notice)]
pub fn notice(props: &NoticeProps) -> Html {
    let (class, icon, role) = match props.kind {
        NoticeKind::Error => ("notice error", "warn", "alert"),
        NoticeKind::Warning => ("notice warning", "warn", "alert"),
        NoticeKind::Success => ("notice success", "check", "status"),
        NoticeKind::Info => ("notice info", "scan", "status"),
    };
    html! {
        <div class={class} id={props.id.clone()} role={role}>
            <Icon name={icon} />
            <div class="notice-body">
                if let Some(title) = &props.title {
                    <strong class="notice-title">{ title.clone() }</strong>
                }
                { props.children.clone() }
            </div>
        </div>
    }
}

//! Line icons (24×24, drawn with the current text colour).

use yew::prelude::*;

/// Properties of [`Icon`].
#[derive(Properties, PartialEq)]
pub struct IconProps {
    /// `scan`, `queue`, `review`, `settings`, `camera`, `photo`, `keyboard`, `sync`, `check`,
    /// `warn`, `offline`, `online`, `user`.
    pub name: &'static str,
}

fn paths(name: &str) -> &'static [&'static str] {
    match name {
        "scan" => &[
            "M4 8V4h4",
            "M16 4h4v4",
            "M20 16v4h-4",
            "M8 20H4v-4",
            "M7 12h10",
        ],
        "queue" => &[
            "M8 6h12",
            "M8 12h12",
            "M8 18h12",
            "M4 6h.01",
            "M4 12h.01",
            "M4 18h.01",
        ],
        "review" => &[
            "M12 3l8 3v6c0 4.5-3.4 8.3-8 9-4.6-.7-8-4.5-8-9V6z",
            "M8.5 12l2.5 2.5 4.5-5",
        ],
        "settings" => &[
            "M4 6h10", "M18 6h2", "M16 4v4", "M4 12h4", "M12 12h8", "M10 10v4", "M4 18h12",
            "M20 18h0", "M18 16v4",
        ],
        "camera" => &[
            "M4 8h3l2-3h6l2 3h3v11H4z",
            "M12 10.5a3 3 0 1 0 0 6 3 3 0 1 0 0-6",
        ],
        "photo" => &["M4 5h16v14H4z", "M4 16l5-5 4 4 3-3 4 4", "M15 9h.01"],
        "keyboard" => &[
            "M3 7h18v11H3z",
            "M7 11h.01",
            "M11 11h.01",
            "M15 11h.01",
            "M8 15h8",
        ],
        "sync" => &[
            "M20 11a8 8 0 0 0-14.7-3.5",
            "M4 4v4h4",
            "M4 13a8 8 0 0 0 14.7 3.5",
            "M20 20v-4h-4",
        ],
        "check" => &["M5 12.5l4.5 4.5L19 7.5"],
        "warn" => &["M12 4l9 16H3z", "M12 10v4", "M12 17h.01"],
        "offline" => &[
            "M3 3l18 18",
            "M8.5 16.5a5 5 0 0 1 7 0",
            "M5 12.5a10 10 0 0 1 4-2.3",
            "M12 20h.01",
        ],
        "online" => &[
            "M2 8.5a15 15 0 0 1 20 0",
            "M5 12.5a10 10 0 0 1 14 0",
            "M8.5 16.5a5 5 0 0 1 7 0",
            "M12 20h.01",
        ],
        "user" => &[
            "M12 4a4 4 0 1 0 0 8 4 4 0 1 0 0-8",
            "M4 20c1.5-4 4.5-6 8-6s6.5 2 8 6",
        ],
        _ => &[],
    }
}

/// An inline SVG icon, hidden from screen readers (the text next to it says what it is).
#[function_component(Icon)]
pub fn icon(props: &IconProps) -> Html {
    html! {
        <svg class={classes!("icon", format!("icon-{}", props.name))} viewBox="0 0 24 24"
             aria-hidden="true" focusable="false">
            { for paths(props.name).iter().map(|d| html! { <path d={*d} /> }) }
        </svg>
    }
}

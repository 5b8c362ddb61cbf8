//! A progress bar with its numbers written out.

use yew::prelude::*;

/// Properties of [`ProgressBar`].
#[derive(Properties, PartialEq)]
pub struct ProgressProps {
    /// Done so far.
    pub done: usize,
    /// Out of.
    pub total: usize,
    /// Element id, for tests.
    pub id: AttrValue,
    /// The line under the bar.
    #[prop_or_default]
    pub label: AttrValue,
}

/// A progress bar (`role="progressbar"` with its values) and a line of text.
#[function_component(ProgressBar)]
pub fn progress_bar(props: &ProgressProps) -> Html {
    let percent = (props.done.min(props.total) * 100)
        .checked_div(props.total)
        .unwrap_or(0);
    html! {
        <div class="progress" id={props.id.clone()} role="progressbar"
             aria-valuemin="0" aria-valuemax={props.total.to_string()}
             aria-valuenow={props.done.to_string()}
             data-done={props.done.to_string()} data-total={props.total.to_string()}>
            <div class="progress-track">
                <div class="progress-fill" style={format!("width: {percent}%")}></div>
            </div>
            <div class="progress-label">{ props.label.clone() }</div>
        </div>
    }
}

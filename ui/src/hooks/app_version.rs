//! The `use_app_version` hook.

use yew::prelude::*;

use super::Remote;
use crate::ipc;

/// Asks the shell for the app version once, when the component mounts.
///
/// Returns [`Remote::Loading`] until the `app_version` command answers.
#[hook]
pub fn use_app_version() -> Remote<String> {
    let version = use_state(|| Remote::Loading);
    {
        let version = version.clone();
        use_effect_with((), move |()| {
            wasm_bindgen_futures::spawn_local(async move {
                version.set(ipc::app_version().await.into());
            });
        });
    }
    (*version).clone()
}

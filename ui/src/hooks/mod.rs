//! Yew hooks: the only callers of [`crate::ipc`]. Pages get data and actions from here.
//!
//! * [`use_remote`]: load a value when the dependencies change, reload on demand;
//! * [`use_action`]: run a command on demand and keep its outcome;
//! * [`use_interval`], [`use_stored`]: timers and small settings kept in the WebView's storage;
//! * the session, connectivity, sync, camera, batch and review hooks in the submodules.

mod batch;
mod camera;
mod data;
mod feedback;
mod photos;
mod session;
mod sync;

pub use batch::{use_batch, BatchHandle};
pub use camera::{use_camera, CameraHandle, CameraStatus};
pub use data::{
    import_manifest, use_accept_gap, use_activity_log, use_app_info, use_decision, use_device,
    use_devices, use_export, use_photo_reader, use_queue, use_queue_scan, use_register,
    use_report_ready, DecisionRequest, GapRequest, Photos, ScanRequest,
};
pub use feedback::{beep, vibrate_and_flash};
pub use photos::{use_dropped_files, use_pasted_images};
pub use session::{use_connectivity, use_session, Connectivity, Online, Session};
pub use sync::{use_sync, SyncHandle};

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;

use yew::prelude::*;

use crate::error::IpcError;

/// A value that is fetched from the shell: still on its way, there, or failed.
#[derive(Clone, Debug, PartialEq)]
pub enum Remote<T> {
    /// The call has not answered yet.
    Loading,
    /// The call answered with this value.
    Ready(T),
    /// The call failed.
    Failed(IpcError),
}

impl<T> Remote<T> {
    /// The value, if it is there.
    pub fn ready(&self) -> Option<&T> {
        match self {
            Self::Ready(value) => Some(value),
            _ => None,
        }
    }
}

impl<T> From<Result<T, IpcError>> for Remote<T> {
    fn from(result: Result<T, IpcError>) -> Self {
        match result {
            Ok(value) => Self::Ready(value),
            Err(err) => Self::Failed(err),
        }
    }
}

/// A loaded value and a way to load it again.
#[derive(Clone, PartialEq)]
pub struct Loaded<T> {
    /// The value (the previous one stays while a reload runs).
    pub value: Remote<T>,
    /// Loads it again.
    pub reload: Callback<()>,
}

/// Loads a value with `load(deps)` when the component mounts and whenever `deps` change or
/// `reload` is called. An answer that arrives after a newer request was made is dropped.
#[hook]
pub fn use_remote<T, D, F, Fut>(deps: D, load: F) -> Loaded<T>
where
    T: Clone + 'static,
    D: PartialEq + Clone + 'static,
    F: FnOnce(D) -> Fut + 'static,
    Fut: Future<Output = Result<T, IpcError>> + 'static,
{
    let value = use_state(|| Remote::Loading);
    let generation = use_state(|| 0u32);
    let ticket = use_mut_ref(|| Rc::new(Cell::new(0u64)));
    {
        let value = value.clone();
        let ticket = ticket.borrow().clone();
        use_effect_with((deps, *generation), move |(deps, _)| {
            let mine = ticket.get() + 1;
            ticket.set(mine);
            let future = load(deps.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let result = future.await;
                if ticket.get() == mine {
                    value.set(result.into());
                }
            });
        });
    }
    let reload = {
        let generation = generation.clone();
        Callback::from(move |()| generation.set(generation.wrapping_add(1)))
    };
    Loaded {
        value: (*value).clone(),
        reload,
    }
}

/// Where an action stands.
#[derive(Clone, Debug, PartialEq)]
pub enum ActionState<T> {
    /// Not run yet (or reset).
    Idle,
    /// Running.
    Running,
    /// Finished with this value.
    Done(T),
    /// Failed.
    Failed(IpcError),
}

impl<T> ActionState<T> {
    /// Whether it runs.
    pub fn running(&self) -> bool {
        matches!(self, Self::Running)
    }
}

/// An action and its state.
#[derive(Clone, PartialEq)]
pub struct Action<A: 'static, T> {
    /// Where it stands.
    pub state: ActionState<T>,
    /// Runs it (ignored while it runs).
    pub run: Callback<A>,
    /// Back to [`ActionState::Idle`].
    pub reset: Callback<()>,
}

/// Runs `act(argument)` on demand and keeps the outcome.
#[hook]
pub fn use_action<A, T, F, Fut>(act: F) -> Action<A, T>
where
    A: 'static,
    T: Clone + 'static,
    F: Fn(A) -> Fut + 'static,
    Fut: Future<Output = Result<T, IpcError>> + 'static,
{
    let state = use_state(|| ActionState::Idle);
    let busy = use_mut_ref(|| false);
    let run = {
        let state = state.clone();
        let busy = busy.clone();
        Callback::from(move |argument: A| {
            if *busy.borrow() {
                return;
            }
            *busy.borrow_mut() = true;
            state.set(ActionState::Running);
            let future = act(argument);
            let state = state.clone();
            let busy = busy.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let result = future.await;
                *busy.borrow_mut() = false;
                state.set(match result {
                    Ok(value) => ActionState::Done(value),
                    Err(err) => ActionState::Failed(err),
                });
            });
        })
    };
    let reset = {
        let state = state.clone();
        Callback::from(move |()| state.set(ActionState::Idle))
    };
    Action {
        state: (*state).clone(),
        run,
        reset,
    }
}

/// Calls `tick` every `millis` milliseconds while the component is mounted.
#[hook]
pub fn use_interval(millis: u32, tick: Callback<()>) {
    use_effect_with(millis, move |millis| {
        let interval = gloo_timers::callback::Interval::new(*millis, move || tick.emit(()));
        move || drop(interval)
    });
}

/// A string kept in the WebView's local storage under `key` (empty when absent or when
/// storage is unavailable), and a callback that changes it.
#[hook]
pub fn use_stored(key: &'static str) -> (String, Callback<String>) {
    let storage = || web_sys::window().and_then(|w| w.local_storage().ok().flatten());
    let value = use_state(|| {
        storage()
            .and_then(|s| s.get_item(key).ok().flatten())
            .unwrap_or_default()
    });
    let set = {
        let value = value.clone();
        Callback::from(move |text: String| {
            if let Some(s) = storage() {
                let _ = s.set_item(key, &text);
            }
            value.set(text);
        })
    };
    ((*value).clone(), set)
}

//! Batch scanning on the scan screen: the site set once, then every label the camera reads
//! handed to the shell's batch (`batch_scan`) one after the other, in the order read; a beep
//! and a flash for each label queued, the last few shown with a one-tap undo for a few
//! seconds, and the flow stopped on a bad or clashing label until the technician goes on.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use yew::prelude::*;

use super::{beep, use_interval, vibrate_and_flash};
use crate::error::IpcError;
use crate::ipc::{self, Batch, BatchStep};
use crate::time::now_ms;

/// How long a queued label can be taken back with one tap, in milliseconds.
pub const UNDO_MS: f64 = 10_000.0;
/// How many of the latest labels the batch shows.
pub const RECENT: usize = 5;

/// A label queued in this batch, as the screen shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Recent {
    /// Its record's sequence number (it moves up when an earlier record is undone).
    pub sequence: u64,
    /// The device serial.
    pub serial: String,
    /// When it was queued (page clock, milliseconds).
    pub queued_at: f64,
}

impl Recent {
    /// Whether the one-tap undo is still offered.
    pub fn undoable(&self) -> bool {
        now_ms() - self.queued_at < UNDO_MS
    }
}

/// Where the batch stands.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BatchView {
    /// Whether a batch runs.
    pub active: bool,
    /// Its site.
    pub site: String,
    /// Labels queued in it.
    pub count: usize,
    /// The latest labels queued, newest first.
    pub recent: Vec<Recent>,
    /// Why the flow stopped (a bad or clashing label), until the technician goes on.
    pub stopped: Option<IpcError>,
    /// Why the batch could not start, or the last undo was refused.
    pub problem: Option<IpcError>,
}

#[derive(Default)]
struct Model {
    view: BatchView,
    /// Labels read and not yet handed to the shell, oldest first.
    pending: VecDeque<String>,
    /// Whether a task is handing them over.
    busy: bool,
}

type Shared = Rc<RefCell<Model>>;

/// The batch and its controls.
#[derive(Clone, PartialEq)]
pub struct BatchHandle {
    /// Where it stands.
    pub view: BatchView,
    /// Starts a batch for a site.
    pub start: Callback<String>,
    /// A label the camera read (ignored while no batch runs or the flow is stopped).
    pub read: Callback<String>,
    /// Takes a record back by its sequence number.
    pub undo: Callback<u64>,
    /// Goes on after a stop.
    pub resume: Callback<()>,
    /// Ends the batch.
    pub end: Callback<()>,
}

/// The batch of the scan screen. `read` stays valid across renders (the camera's listener
/// keeps the first one it is given).
#[hook]
pub fn use_batch() -> BatchHandle {
    let model: Shared = use_mut_ref(Model::default);
    let update = use_force_update();
    {
        // Redraw once a second while an undo button may have to go.
        let model = model.clone();
        let update = update.clone();
        use_interval(
            1000,
            Callback::from(move |()| {
                let now = now_ms();
                let fresh = model
                    .borrow()
                    .view
                    .recent
                    .iter()
                    .any(|r| now - r.queued_at < UNDO_MS + 2000.0);
                if fresh {
                    update.force_update();
                }
            }),
        );
    }
    let start = {
        let (model, update) = (model.clone(), update.clone());
        Callback::from(move |site: String| {
            let (model, update) = (model.clone(), update.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let started = ipc::batch_start(site.trim()).await;
                {
                    let mut m = model.borrow_mut();
                    m.pending.clear();
                    m.view = match started {
                        Ok(batch) => BatchView {
                            active: true,
                            site: batch.site,
                            ..BatchView::default()
                        },
                        Err(e) => BatchView {
                            problem: Some(e),
                            ..BatchView::default()
                        },
                    };
                }
                update.force_update();
            });
        })
    };
    let read = {
        let (model, update) = (model.clone(), update.clone());
        Callback::from(move |text: String| {
            {
                let mut m = model.borrow_mut();
                if !m.view.active || m.view.stopped.is_some() {
                    return;
                }
                m.pending.push_back(text);
                if m.busy {
                    return;
                }
                m.busy = true;
            }
            wasm_bindgen_futures::spawn_local(hand_over(model.clone(), update.clone()));
        })
    };
    let undo = {
        let (model, update) = (model.clone(), update.clone());
        Callback::from(move |sequence: u64| {
            let (model, update) = (model.clone(), update.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let answer = ipc::batch_undo(sequence).await;
                {
                    let mut m = model.borrow_mut();
                    match answer {
                        Ok(batch) => {
                            m.view.problem = None;
                            m.view.recent.retain(|r| r.sequence != sequence);
                            if let Some(batch) = batch {
                                renumber(&mut m.view, &batch);
                            }
                        }
                        Err(e) => m.view.problem = Some(e),
                    }
                }
                update.force_update();
            });
        })
    };
    let resume = {
        let (model, update) = (model.clone(), update.clone());
        Callback::from(move |()| {
            model.borrow_mut().view.stopped = None;
            update.force_update();
        })
    };
    let end = {
        let (model, update) = (model.clone(), update.clone());
        Callback::from(move |()| {
            {
                let mut m = model.borrow_mut();
                m.view = BatchView::default();
                m.pending.clear();
            }
            update.force_update();
            wasm_bindgen_futures::spawn_local(async {
                let _ = ipc::batch_end().await;
            });
        })
    };
    let view = model.borrow().view.clone();
    BatchHandle {
        view,
        start,
        read,
        undo,
        resume,
        end,
    }
}

/// Hands the labels read to the shell one at a time, so they are queued in the order read.
async fn hand_over(model: Shared, update: UseForceUpdateHandle) {
    loop {
        let next = {
            let mut m = model.borrow_mut();
            let next = m.pending.pop_front();
            if next.is_none() {
                m.busy = false;
            }
            next
        };
        let Some(text) = next else {
            return;
        };
        let step = ipc::batch_scan(&text).await;
        let queued = {
            let mut m = model.borrow_mut();
            if !m.view.active {
                // Ended meanwhile: what comes back no longer belongs on screen.
                m.pending.clear();
                false
            } else {
                apply(&mut m, step)
            }
        };
        if queued {
            beep();
            vibrate_and_flash();
        }
        update.force_update();
    }
}

/// Takes in the shell's answer for one label; answers whether it was queued.
fn apply(m: &mut Model, step: Result<BatchStep, IpcError>) -> bool {
    match step {
        Ok(BatchStep::Queued { entry, count }) => {
            m.view.count = count;
            m.view.recent.insert(
                0,
                Recent {
                    sequence: entry.sequence,
                    serial: entry.serial,
                    queued_at: now_ms(),
                },
            );
            m.view.recent.truncate(RECENT);
            true
        }
        Ok(BatchStep::AlreadyQueued { .. } | BatchStep::Undone { .. }) => false,
        Err(e) => {
            // A bad or clashing label: stop, drop what was read after it, and say why.
            m.view.stopped = Some(e);
            m.pending.clear();
            false
        }
    }
}

/// After an undo the records behind the undone one move up: take the shell's numbers.
fn renumber(view: &mut BatchView, batch: &Batch) {
    view.count = batch.items.len();
    for recent in &mut view.recent {
        if let Some(item) = batch.items.iter().find(|i| i.serial == recent.serial) {
            recent.sequence = item.sequence;
        }
    }
}

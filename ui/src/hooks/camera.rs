//! The camera on the scan screen: the shell's scanning loop on desktop (preview frames and
//! codes arrive as events), Tauri's barcode-scanner plugin on Android and iOS.

use yew::prelude::*;

use crate::ipc::{
    self, CameraStopped, CodeRead, PreviewFrame, CODE_EVENT, PREVIEW_EVENT, STOPPED_EVENT,
};

/// Where the camera stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CameraStatus {
    /// Asking the shell which camera path this build has.
    Checking,
    /// Opening the camera.
    Starting,
    /// Streaming from this camera.
    Running(String),
    /// Stopped on request.
    Stopped,
    /// Not usable: the code (`no_camera`, `camera`, ...) and a message that says what to do.
    Unavailable(String, String),
    /// Android and iOS: the camera opens on request through the barcode scanner.
    Plugin,
}

/// The camera and its controls.
#[derive(Clone, PartialEq)]
pub struct CameraHandle {
    /// Where it stands.
    pub status: CameraStatus,
    /// The preview frame shown (desktop).
    pub frame: Option<PreviewFrame>,
    /// The page has drawn the picture of `frame` (or failed to): the next one may come.
    pub drawn: Callback<()>,
    /// Starts it again (desktop) or opens the plugin's scanner (mobile).
    pub start: Callback<()>,
    /// Stops it.
    pub stop: Callback<()>,
}

/// The preview's flow control: while a picture is being loaded and drawn, newer frames wait
/// here, each replacing the one before (a page that cannot keep up drops frames rather than
/// queueing them).
#[derive(Default)]
struct Drawing {
    busy: bool,
    next: Option<PreviewFrame>,
}

/// The width, in device pixels, the preview is shown at (the camera card's inner width).
fn shown_width() -> u32 {
    let Some(window) = web_sys::window() else {
        return 0;
    };
    let css = window
        .document()
        .and_then(|d| d.get_element_by_id("camera-card"))
        .map_or(0, |card| card.client_width());
    (f64::from(css.max(0)) * window.device_pixel_ratio()).round() as u32
}

/// Starts the camera when the scan screen opens and stops it when it closes; each code read
/// is passed to `on_code`.
#[hook]
pub fn use_camera(on_code: Callback<String>) -> CameraHandle {
    let status = use_state(|| CameraStatus::Checking);
    let frame = use_state(|| None::<PreviewFrame>);
    let drawing = use_mut_ref(Drawing::default);
    let drawn = {
        let (frame, drawing) = (frame.clone(), drawing.clone());
        Callback::from(move |()| {
            let mut d = drawing.borrow_mut();
            match d.next.take() {
                Some(next) => frame.set(Some(next)),
                None => d.busy = false,
            }
        })
    };

    let start = {
        let status = status.clone();
        let on_code = on_code.clone();
        Callback::from(move |()| {
            let status = status.clone();
            let on_code = on_code.clone();
            wasm_bindgen_futures::spawn_local(async move {
                if *status == CameraStatus::Plugin {
                    match ipc::plugin_scan().await {
                        Ok(read) => on_code.emit(read.content),
                        Err(e) => status.set(CameraStatus::Unavailable(
                            e.code().to_string(),
                            e.to_string(),
                        )),
                    }
                    return;
                }
                status.set(CameraStatus::Starting);
                status.set(match ipc::camera_start().await {
                    Ok(started) => CameraStatus::Running(started.name),
                    Err(e) => CameraStatus::Unavailable(e.code().to_string(), e.to_string()),
                });
            });
        })
    };
    let stop = {
        let status = status.clone();
        let frame = frame.clone();
        let drawing = drawing.clone();
        Callback::from(move |()| {
            status.set(CameraStatus::Stopped);
            frame.set(None);
            *drawing.borrow_mut() = Drawing::default();
            wasm_bindgen_futures::spawn_local(async {
                let _ = ipc::camera_stop().await;
            });
        })
    };

    {
        let status = status.clone();
        let frame = frame.clone();
        let start = start.clone();
        use_effect_with((), move |()| {
            let subscriptions = ipc::Subscriptions::default();
            let held = subscriptions.clone();
            wasm_bindgen_futures::spawn_local(async move {
                // Listen first, then start: no frame or code can come before it is heard.
                let preview = frame.clone();
                held.keep(
                    ipc::listen(PREVIEW_EVENT, move |mut f: PreviewFrame| {
                        f.src = ipc::preview_src(f.seq, shown_width());
                        let mut d = drawing.borrow_mut();
                        if d.busy {
                            d.next = Some(f);
                        } else {
                            d.busy = true;
                            preview.set(Some(f));
                        }
                    })
                    .await,
                );
                held.keep(ipc::listen(CODE_EVENT, move |c: CodeRead| on_code.emit(c.text)).await);
                let stopped = status.clone();
                held.keep(
                    ipc::listen(STOPPED_EVENT, move |s: CameraStopped| {
                        if let (Some(code), Some(message)) = (s.code, s.message) {
                            stopped.set(CameraStatus::Unavailable(code, message));
                            frame.set(None);
                        }
                    })
                    .await,
                );
                if held.is_closed() {
                    return;
                }
                let backend = ipc::camera_backend().await;
                if held.is_closed() {
                    return;
                }
                match backend.as_deref() {
                    Ok("plugin") => status.set(CameraStatus::Plugin),
                    Ok(_) => start.emit(()),
                    Err(e) => status.set(CameraStatus::Unavailable(
                        e.code().to_string(),
                        e.to_string(),
                    )),
                }
            });
            move || {
                subscriptions.close();
                wasm_bindgen_futures::spawn_local(async {
                    let _ = ipc::camera_stop().await;
                });
            }
        });
    }

    CameraHandle {
        status: (*status).clone(),
        frame: (*frame).clone(),
        drawn,
        start,
        stop,
    }
}

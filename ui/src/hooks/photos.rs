//! Photos that arrive without a button: files dropped on the window and images pasted from the
//! clipboard. Both are read like picked photos ([`super::use_photo_reader`]).

use wasm_bindgen::{closure::Closure, JsCast};
use yew::prelude::*;

use crate::ipc::{self, Dropped, DROP_EVENT};

/// Calls `on` with the paths of files dropped on the window while the component is mounted.
#[hook]
pub fn use_dropped_files(on: Callback<Vec<String>>) {
    use_effect_with((), move |()| {
        let subscriptions = ipc::Subscriptions::default();
        let held = subscriptions.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let heard = ipc::listen(DROP_EVENT, move |d: Dropped| {
                if !d.paths.is_empty() {
                    on.emit(d.paths);
                }
            });
            held.keep(heard.await);
        });
        move || subscriptions.close()
    });
}

/// Calls `on` with the name and bytes of the first image in each paste (Ctrl+V) while the
/// component is mounted; a paste without an image is left to the text field it lands in.
#[hook]
pub fn use_pasted_images(on: Callback<(String, Vec<u8>)>) {
    use_effect_with((), move |()| {
        let document = web_sys::window().and_then(|w| w.document());
        let listener = Closure::<dyn Fn(web_sys::Event)>::new(move |event: web_sys::Event| {
            if let Some(file) = first_image(&event) {
                event.prevent_default();
                let on = on.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    if let Some(bytes) = bytes_of(&file).await {
                        on.emit((file.name(), bytes));
                    }
                });
            }
        });
        if let Some(d) = &document {
            let _ = d.add_event_listener_with_callback("paste", listener.as_ref().unchecked_ref());
        }
        move || {
            if let Some(d) = &document {
                let _ = d.remove_event_listener_with_callback(
                    "paste",
                    listener.as_ref().unchecked_ref(),
                );
            }
        }
    });
}

/// The first image file a paste event carries.
fn first_image(event: &web_sys::Event) -> Option<web_sys::File> {
    let files = event
        .dyn_ref::<web_sys::ClipboardEvent>()?
        .clipboard_data()?
        .files()?;
    (0..files.length())
        .filter_map(|i| files.get(i))
        .find(|f| f.type_().starts_with("image/"))
}

/// A file's bytes (`None` if the WebView cannot read it).
async fn bytes_of(file: &web_sys::File) -> Option<Vec<u8>> {
    let buffer = wasm_bindgen_futures::JsFuture::from(file.array_buffer())
        .await
        .ok()?;
    Some(js_sys::Uint8Array::new(&buffer).to_vec())
}

//! The bridge to the Tauri shell.
//!
//! This is the only module that calls `window.__TAURI__.core.invoke` (present because
//! `app.withGlobalTauri` is true in `tauri.conf.json`). Arguments are serialised and replies
//! deserialised with serde, and every failure becomes an [`IpcError`]; no `JsValue` is ever
//! unwrapped. Pages and hooks call the typed functions at the bottom of this module.

use serde::{de::DeserializeOwned, Serialize};
use wasm_bindgen::{prelude::*, JsCast};

use crate::error::IpcError;

#[wasm_bindgen]
extern "C" {
    /// `window.__TAURI__.core.invoke(cmd, args)`: resolves with the command's value and
    /// rejects with its error.
    #[wasm_bindgen(js_namespace = ["window", "__TAURI__", "core"], js_name = invoke, catch)]
    async fn tauri_invoke(cmd: &str, args: JsValue) -> Result<JsValue, JsValue>;
}

/// Calls the shell command `cmd` with `args` and decodes its reply as `T`.
///
/// `args` must serialise to a map or struct whose keys are the command's parameter names in
/// camelCase (Tauri's convention). Maps become plain objects, not `Map`s.
pub async fn invoke<A, T>(cmd: &str, args: &A) -> Result<T, IpcError>
where
    A: Serialize + ?Sized,
    T: DeserializeOwned,
{
    if !tauri_available() {
        return Err(IpcError::NotInTauri);
    }
    let args = args
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|err| IpcError::Encode {
            command: cmd.to_owned(),
            message: err.to_string(),
        })?;
    let reply = tauri_invoke(cmd, args)
        .await
        .map_err(|err| IpcError::Command {
            command: cmd.to_owned(),
            message: describe(&err),
        })?;
    serde_wasm_bindgen::from_value(reply).map_err(|err| IpcError::Decode {
        command: cmd.to_owned(),
        message: err.to_string(),
    })
}

/// Calls a shell command that takes no arguments and decodes its reply as `T`.
pub async fn invoke_no_args<T: DeserializeOwned>(cmd: &str) -> Result<T, IpcError> {
    /// Serialises to `{}`.
    #[derive(Serialize)]
    struct NoArgs {}
    invoke(cmd, &NoArgs {}).await
}

/// Whether the Tauri global bridge exists, so a plain browser gets [`IpcError::NotInTauri`]
/// instead of a `TypeError`.
fn tauri_available() -> bool {
    js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("__TAURI__"))
        .map(|bridge| !bridge.is_undefined() && !bridge.is_null())
        .unwrap_or(false)
}

/// Turns a rejection into text: a string as is, an `Error`'s or object's `message`, otherwise
/// its JSON.
fn describe(value: &JsValue) -> String {
    if let Some(text) = value.as_string() {
        return text;
    }
    if let Some(err) = value.dyn_ref::<js_sys::Error>() {
        return String::from(err.message());
    }
    if value.is_object() {
        if let Some(text) = js_sys::Reflect::get(value, &JsValue::from_str("message"))
            .ok()
            .and_then(|message| message.as_string())
        {
            return text;
        }
    }
    js_sys::JSON::stringify(value)
        .ok()
        .and_then(|json| json.as_string())
        .unwrap_or_else(|| format!("{value:?}"))
}

/// The `app_version` command: the app's version string, e.g. `0.1.0`.
pub async fn app_version() -> Result<String, IpcError> {
    invoke_no_args("app_version").await
}

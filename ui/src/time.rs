//! Times for people: local date and time, and "3 min ago".

use wasm_bindgen::JsValue;

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// A local date and time (`29/11/2026, 14:03:07` in the WebView's locale).
pub fn local(ms: u64) -> String {
    if ms == 0 {
        return "—".into();
    }
    let date = js_sys::Date::new(&JsValue::from_f64(ms as f64));
    String::from(date.to_locale_string("default", &JsValue::UNDEFINED))
}

/// How long ago, in words (`just now`, `5 min ago`, `2 h ago`, else the date).
pub fn ago(ms: u64) -> String {
    let seconds = ((now_ms() - ms as f64) / 1000.0).max(0.0);
    if seconds < 45.0 {
        "just now".into()
    } else if seconds < 3600.0 {
        format!("{} min ago", (seconds / 60.0).round().max(1.0))
    } else if seconds < 86_400.0 {
        format!("{} h ago", (seconds / 3600.0).round())
    } else {
        local(ms)
    }
}

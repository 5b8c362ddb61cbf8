//! Times for people, in the app's language: local date and time, and "3 min ago".

use wasm_bindgen::JsValue;

use crate::i18n::{t, tf};

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// A local date and time in the app's language (`11/29/2026, 2:03:07 PM` in English).
pub fn local(ms: u64) -> String {
    if ms == 0 {
        return "—".into();
    }
    let date = js_sys::Date::new(&JsValue::from_f64(ms as f64));
    // In the app's language, so a German screen shows German dates (`29.11.2026, 14:03:07`).
    String::from(date.to_locale_string(crate::i18n::current().tag(), &JsValue::UNDEFINED))
}

/// How long ago, in words (`just now`, `5 min ago`, `2 h ago`, else the date).
pub fn ago(ms: u64) -> String {
    let seconds = ((now_ms() - ms as f64) / 1000.0).max(0.0);
    if seconds < 45.0 {
        t("time-just-now")
    } else if seconds < 3600.0 {
        tf(
            "time-min-ago",
            &[("n", (seconds / 60.0).round().max(1.0).into())],
        )
    } else if seconds < 86_400.0 {
        tf("time-h-ago", &[("n", (seconds / 3600.0).round().into())])
    } else {
        local(ms)
    }
}

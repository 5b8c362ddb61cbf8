//! Times for people, in the app's language, formatted by the WebView's `Intl` (not by hand):
//! the local date and time, and how long ago (`3 minutes ago`, `vor 3 Minuten`).

use js_sys::{Array, Intl, Object, Reflect};
use wasm_bindgen::JsValue;

use crate::i18n::t;

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

/// A duration in seconds, to a tenth, in the app's language's number format (`1.5`, `1,5`).
pub fn seconds(ms: u64) -> String {
    let tenths = (ms as f64 / 100.0).round() / 10.0;
    String::from(js_sys::Number::from(tenths).to_locale_string(crate::i18n::current().tag()))
}

/// How long ago, in words (`just now`, `5 minutes ago`, `2 hours ago`, else the date).
pub fn ago(ms: u64) -> String {
    let seconds = ((now_ms() - ms as f64) / 1000.0).max(0.0);
    if seconds < 45.0 {
        t("time-just-now")
    } else if seconds < 3600.0 {
        relative(ms, (seconds / 60.0).round().max(1.0), "minute")
    } else if seconds < 86_400.0 {
        relative(ms, (seconds / 3600.0).round(), "hour")
    } else {
        local(ms)
    }
}

/// `amount` `unit`s ago, by `Intl.RelativeTimeFormat` in the app's language; a WebView too
/// old to have it shows the local time of `ms` instead of a hand-made phrase.
fn relative(ms: u64, amount: f64, unit: &str) -> String {
    let has_it = Reflect::get(&js_sys::global(), &"Intl".into())
        .and_then(|intl| Reflect::has(&intl, &"RelativeTimeFormat".into()))
        .unwrap_or(false);
    if !has_it {
        return local(ms);
    }
    let locales = Array::of1(&crate::i18n::current().tag().into());
    let format = Intl::RelativeTimeFormat::new(&locales, &Object::new());
    String::from(format.format(-amount, unit))
}

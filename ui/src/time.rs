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
    match span((now_ms() - ms as f64) / 1000.0) {
        Ago::JustNow => t("time-just-now"),
        Ago::Minutes(n) => relative(ms, n, "minute"),
        Ago::Hours(n) => relative(ms, n, "hour"),
        Ago::Date => local(ms),
    }
}

/// How a moment some seconds ago is said.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Ago {
    /// Under 45 seconds.
    JustNow,
    /// This many whole minutes (1 to 59).
    Minutes(f64),
    /// This many whole hours (1 to 23).
    Hours(f64),
    /// A day or more: the date itself.
    Date,
}

/// The unit and amount for a moment `seconds` ago, rounded to the nearest unit: a rounding
/// that reaches the next unit moves to it (59 min 40 s is "1 hour", not "60 minutes"). A
/// moment in the future (a clock set back) is "just now".
fn span(seconds: f64) -> Ago {
    let seconds = seconds.max(0.0);
    if seconds < 45.0 {
        return Ago::JustNow;
    }
    let minutes = (seconds / 60.0).round().max(1.0);
    if minutes < 60.0 {
        return Ago::Minutes(minutes);
    }
    let hours = (seconds / 3600.0).round();
    if hours < 24.0 {
        Ago::Hours(hours)
    } else {
        Ago::Date
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The unit and amount `Intl.RelativeTimeFormat` is given (its words, "vor 5 Minuten", are
    /// the WebView's own; the end-to-end tests see only "just now" and dates).
    #[test]
    fn the_unit_and_amount_follow_the_time_elapsed() {
        let cases = [
            (-30.0, Ago::JustNow),
            (0.0, Ago::JustNow),
            (44.9, Ago::JustNow),
            (45.0, Ago::Minutes(1.0)),
            (89.0, Ago::Minutes(1.0)),
            (90.0, Ago::Minutes(2.0)),
            (5.0 * 60.0 + 10.0, Ago::Minutes(5.0)),
            (59.0 * 60.0 + 29.0, Ago::Minutes(59.0)),
            (59.0 * 60.0 + 30.0, Ago::Hours(1.0)),
            (89.0 * 60.0, Ago::Hours(1.0)),
            (90.0 * 60.0, Ago::Hours(2.0)),
            (23.0 * 3600.0 + 29.0 * 60.0, Ago::Hours(23.0)),
            (23.0 * 3600.0 + 30.0 * 60.0, Ago::Date),
            (3.0 * 86_400.0, Ago::Date),
        ];
        for (seconds, expected) in cases {
            assert_eq!(span(seconds), expected, "{seconds} s");
        }
    }
}

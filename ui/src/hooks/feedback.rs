//! A short beep and a flash when a code is read, so a technician knows without looking.

use std::cell::RefCell;

use wasm_bindgen::JsValue;

thread_local! {
    /// One audio context for the whole page (browsers limit how many may exist).
    static AUDIO: RefCell<Option<web_sys::AudioContext>> = const { RefCell::new(None) };
}

/// Plays a short beep (880 Hz, 120 ms). Silently does nothing where audio is unavailable.
pub fn beep() {
    let _ = try_beep();
}

fn try_beep() -> Result<(), JsValue> {
    let context = AUDIO.with(|cell| -> Result<web_sys::AudioContext, JsValue> {
        let mut cell = cell.borrow_mut();
        if let Some(context) = cell.as_ref() {
            return Ok(context.clone());
        }
        let context = web_sys::AudioContext::new()?;
        *cell = Some(context.clone());
        Ok(context)
    })?;
    let oscillator = context.create_oscillator()?;
    let gain = context.create_gain()?;
    oscillator.set_type(web_sys::OscillatorType::Sine);
    oscillator.frequency().set_value(880.0);
    gain.gain().set_value(0.2);
    oscillator.connect_with_audio_node(&gain)?;
    gain.connect_with_audio_node(&context.destination())?;
    let now = context.current_time();
    oscillator.start()?;
    oscillator.stop_with_when(now + 0.12)?;
    Ok(())
}

/// Flashes the page (the `flash` class on `<body>` for a moment) and vibrates where the
/// platform can.
pub fn vibrate_and_flash() {
    let Some(window) = web_sys::window() else {
        return;
    };
    // WebKitGTK has no `navigator.vibrate`: calling it would throw, so look first.
    let navigator = window.navigator();
    if js_sys::Reflect::has(&navigator, &JsValue::from_str("vibrate")).unwrap_or(false) {
        let _ = navigator.vibrate_with_duration(80);
    }
    let Some(body) = window.document().and_then(|d| d.body()) else {
        return;
    };
    let _ = body.class_list().add_1("flash");
    gloo_timers::callback::Timeout::new(250, move || {
        let _ = body.class_list().remove_1("flash");
    })
    .forget();
}

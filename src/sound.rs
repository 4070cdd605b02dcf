//! The optional tone for critical alerts: two short beeps made with Web Audio (no sound file to
//! fetch). Browsers only let a page play sound after a user gesture, so the context is created
//! when the operator turns sound on, and reused.

use std::cell::RefCell;

use web_sys::{AudioContext, OscillatorType};

thread_local! {
    static CONTEXT: RefCell<Option<AudioContext>> = const { RefCell::new(None) };
}

/// Prepares sound (call from the click that turns it on).
pub fn enable() {
    CONTEXT.with(|context| {
        let mut context = context.borrow_mut();
        if context.is_none() {
            *context = AudioContext::new().ok();
        }
        if let Some(context) = context.as_ref() {
            let _ = context.resume();
        }
    });
}

/// Two beeps at 880 Hz, if sound was enabled.
pub fn alarm() {
    CONTEXT.with(|context| {
        let Some(context) = context.borrow().clone() else { return };
        let start = context.current_time();
        for offset in [0.0, 0.3] {
            let (Ok(oscillator), Ok(gain)) = (context.create_oscillator(), context.create_gain()) else { return };
            oscillator.set_type(OscillatorType::Square);
            oscillator.frequency().set_value(880.0);
            gain.gain().set_value(0.08);
            let _ = oscillator.connect_with_audio_node(&gain);
            let _ = gain.connect_with_audio_node(&context.destination());
            let _ = oscillator.start_with_when(start + offset);
            let _ = oscillator.stop_with_when(start + offset + 0.18);
        }
    });
}

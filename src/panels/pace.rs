//! Pacing for views that need not follow every frame: a version number that moves when its
//! source changes, at most once per interval. A view tracking it instead of the source
//! re-renders a few times a second however fast data arrives.

use std::time::Duration;

use leptos::prelude::*;

/// Follows what `track` tracks, at most once every `every`; the first change shows at once.
pub fn paced(track: impl Fn() + 'static, every: Duration) -> ReadSignal<u64> {
    let version = RwSignal::new(0u64);
    let pending = StoredValue::new(false);
    let last = StoredValue::new(f64::MIN);
    let every_ms = every.as_millis() as f64;
    let bump = move || {
        last.set_value(js_sys::Date::now());
        version.update(|v| *v += 1);
    };
    Effect::new(move |_| {
        track();
        if pending.get_value() {
            return;
        }
        let wait = last.get_value() + every_ms - js_sys::Date::now();
        if wait <= 0.0 {
            bump();
            return;
        }
        pending.set_value(true);
        set_timeout(
            move || {
                if pending.try_set_value(false).is_none() {
                    bump();
                }
            },
            Duration::from_millis(wait as u64),
        );
    });
    version.read_only()
}

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
        throttle(pending, last, every_ms, bump);
    });
    version.read_only()
}

/// Runs `action` now if `every_ms` have passed since `last` (which `action` or its caller keeps
/// up to date), otherwise once when they have; requests made while one waits are merged into it.
/// `pending` marks that wait. Safe after the view is gone (the stored values are then disposed
/// and the late timer does nothing).
pub fn throttle(pending: StoredValue<bool>, last: StoredValue<f64>, every_ms: f64, action: impl Fn() + 'static) {
    if pending.try_get_value() != Some(false) {
        return;
    }
    let wait = last.try_get_value().unwrap_or(f64::MIN) + every_ms - js_sys::Date::now();
    if wait <= 0.0 {
        action();
        return;
    }
    pending.set_value(true);
    set_timeout(
        move || {
            if pending.try_set_value(false).is_none() {
                action();
            }
        },
        Duration::from_millis(wait as u64),
    );
}

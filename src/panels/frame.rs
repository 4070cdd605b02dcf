//! When views redraw: the one place that decides it, for the canvas views (the fleet map and the
//! charts) and for the tables and counters that need not follow every batch.
//!
//! * [`use_frame_scheduler`]: a draw that runs at most once per animation frame however often
//!   it is asked for, or at most once per interval for data that arrives faster than anyone
//!   can read it; a pending frame or timer is cancelled when the view goes.
//! * [`paced`]: a version number that follows its source at most once per interval, for views
//!   that re-render rather than draw.
//! * [`fit_canvas`]: the canvas backing store at device-pixel resolution, so drawings stay
//!   sharp on high-density screens.

use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use web_sys::HtmlCanvasElement;

/// At most one run per interval: the first request runs at once, a later one when the interval
/// since the last run is up, and requests made while one waits are merged into it.
#[derive(Clone, Copy)]
struct Throttle {
    /// When the action last ran (`Date.now()` ms).
    last: StoredValue<f64>,
    /// The timer of the run that waits for its turn, if one does.
    timer: StoredValue<Option<TimeoutHandle>>,
}

impl Throttle {
    /// A throttle owned by the current view: its timer is cleared when the view goes.
    fn new() -> Self {
        let throttle = Self { last: StoredValue::new(f64::MIN), timer: StoredValue::new(None) };
        on_cleanup(move || {
            if let Some(Some(timer)) = throttle.timer.try_get_value() {
                timer.clear();
            }
        });
        throttle
    }

    /// Records that the action ran now (also when something else than the throttle ran it).
    fn ran(self) {
        self.last.set_value(js_sys::Date::now());
    }

    /// Runs `action` now if `every` has passed since the last run, otherwise once when it has.
    /// Safe after the view is gone: the stored values are then disposed and nothing runs.
    fn run(self, every: Duration, action: impl Fn() + 'static) {
        if self.timer.try_with_value(Option::is_some) != Some(false) {
            return;
        }
        let wait = self.last.get_value() + every.as_millis() as f64 - js_sys::Date::now();
        if wait <= 0.0 {
            action();
            return;
        }
        let fire = move || {
            if self.timer.try_set_value(None).is_none() {
                action();
            }
        };
        if let Ok(timer) = set_timeout_with_handle(fire, Duration::from_millis(wait as u64)) {
            self.timer.set_value(Some(timer));
        }
    }
}

/// Redraws of one view; `Copy`, so event handlers and effects take it freely.
#[derive(Clone, Copy)]
pub struct FrameScheduler {
    draw: StoredValue<Rc<dyn Fn()>, LocalStorage>,
    /// The animation frame the next draw waits for, if one is requested.
    frame: StoredValue<Option<AnimationFrameRequestHandle>>,
    throttle: Throttle,
}

impl FrameScheduler {
    /// Draws at the next animation frame; requests before it are merged into that one draw.
    /// For what the operator does (pan, zoom, hover, select): it shows at the next frame.
    pub fn now(self) {
        if self.frame.try_with_value(Option::is_some) != Some(false) {
            return;
        }
        if let Ok(frame) = request_animation_frame_with_handle(move || self.run()) {
            self.frame.set_value(Some(frame));
        }
    }

    /// Draws at the next animation frame, but no sooner than `every` after the last draw. For
    /// data that arrives faster than it can be seen: the frame budget stays with everything else.
    pub fn throttled(self, every: Duration) {
        self.throttle.run(every, move || self.now());
    }

    fn run(self) {
        // Disposed: the view went after the frame was requested (and before its cleanup ran).
        if self.frame.try_set_value(None).is_some() {
            return;
        }
        self.throttle.ran();
        if let Some(draw) = self.draw.try_get_value() {
            draw();
        }
    }
}

/// A scheduler for the current view's `draw`. Pending frames and timers are cancelled on the
/// view's cleanup, so `draw` never runs after its view is gone.
pub fn use_frame_scheduler(draw: impl Fn() + 'static) -> FrameScheduler {
    let scheduler = FrameScheduler {
        draw: StoredValue::new_local(Rc::new(draw)),
        frame: StoredValue::new(None),
        throttle: Throttle::new(),
    };
    on_cleanup(move || {
        if let Some(Some(frame)) = scheduler.frame.try_get_value() {
            frame.cancel();
        }
    });
    scheduler
}

/// Follows what `track` tracks, at most once every `every`; the first change shows at once.
pub fn paced(track: impl Fn() + 'static, every: Duration) -> ReadSignal<u64> {
    let version = RwSignal::new(0u64);
    let throttle = Throttle::new();
    let bump = move || {
        throttle.ran();
        version.update(|v| *v += 1);
    };
    Effect::new(move |_| {
        track();
        throttle.run(every, bump);
    });
    version.read_only()
}

/// Sizes `canvas`'s backing store for `css` (width, height in CSS pixels) at the device pixel
/// ratio, touching it only when the size changed (setting it clears the canvas). Returns the
/// ratio: drawings give their sizes in CSS pixels and scale them by it.
pub fn fit_canvas(canvas: &HtmlCanvasElement, (width, height): (f64, f64)) -> f64 {
    let scale = web_sys::window().map(|w| w.device_pixel_ratio()).unwrap_or(1.0).max(1.0);
    let (pixel_w, pixel_h) = device_size((width, height), scale);
    if canvas.width() != pixel_w || canvas.height() != pixel_h {
        canvas.set_width(pixel_w);
        canvas.set_height(pixel_h);
    }
    scale
}

/// A size in CSS pixels, in device pixels at `scale` (what [`fit_canvas`] gives the canvas).
pub fn device_size((width, height): (f64, f64), scale: f64) -> (u32, u32) {
    ((width * scale).round() as u32, (height * scale).round() as u32)
}

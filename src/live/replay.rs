//! The timeline's engine: while the page is not live, an animation-frame loop moves the play
//! head, reads the fleet's history ahead of it in chunks (`GET {apiBase}/history/fleet`), shows
//! the fleet as of the head ([`Replay::show`](crate::model::replay::Replay::show)), and a few
//! times a second moves the moment every other panel shows, the alerts as they stood then, and
//! the URL (`at=`, `speed=`). Live data goes on arriving into the live state underneath, so
//! going back to live is instant and nothing live is lost.

use std::cell::Cell;
use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::model::timeline::{with_time, Timeline};
use crate::store::Store;

/// Fleet cells (vehicles × frames) per second of playing at most: the frame step grows with the
/// fleet and the speed so that a replay reads about this much (about 2 MB of JSON a second).
const CELLS_PER_SECOND: f64 = 60_000.0;
/// Cells per request at most: an answer is decoded in one go on the main thread, so it stays
/// small enough not to cost a frame (about 1.5 MB of JSON).
const CHUNK_CELLS: usize = 40_000;
/// Frames asked for before the moment jumped to, for trails.
const TRAIL_FRAMES: i64 = 30;
/// Wall-clock time of play read ahead of the head.
const READ_AHEAD_MS: f64 = 4_000.0;
/// How often the other panels follow the play head (ms of wall clock).
const PANELS_EVERY_MS: f64 = 250.0;
/// How often the URL follows the play head.
const URL_EVERY_MS: f64 = 1_000.0;
/// How often the gaps in the backend's history are asked for again.
const COVERAGE_EVERY: std::time::Duration = std::time::Duration::from_secs(30);
/// At most this many vehicles are replayed frame by frame at 1 s steps; a larger fleet
/// replays the vehicles its filter passes when they are fewer, and says so.
pub const SMOOTH_VEHICLES: usize = 2_000;

/// The range of fleet history asked for since the last jump (answered, or on its way).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Asked {
    from: i64,
    to: i64,
    step: i64,
}

struct Inner {
    store: Store,
    running: Cell<bool>,
    in_flight: Cell<bool>,
    asked: Cell<Option<Asked>>,
    failures: Cell<u32>,
    retry_at: Cell<f64>,
    /// The backend has no fleet history (404).
    unavailable: Cell<bool>,
    panels_at: Cell<f64>,
    url_at: Cell<f64>,
    /// Which vehicles are asked for (empty: all).
    vehicles: std::cell::RefCell<Vec<String>>,
    /// The live fleet's size when the vehicles were chosen.
    fleet_size: Cell<usize>,
    /// The backend has no coverage route (404).
    no_coverage: Cell<bool>,
    /// Bumped whenever what was asked is forgotten: an answer to an older request is dropped.
    generation: Cell<u64>,
    /// The backend refused the question itself (a 4xx): not asked again until the timeline
    /// changes.
    refused: Cell<bool>,
}

/// The player; `Clone` shares it.
#[derive(Clone)]
pub struct Player {
    inner: Rc<Inner>,
}

impl Player {
    /// Starts following `store.timeline` for the life of the page.
    pub fn start(store: Store) -> Self {
        let player = Self {
            inner: Rc::new(Inner {
                store,
                running: Cell::new(false),
                in_flight: Cell::new(false),
                asked: Cell::new(None),
                failures: Cell::new(0),
                retry_at: Cell::new(0.0),
                unavailable: Cell::new(false),
                panels_at: Cell::new(f64::MIN),
                url_at: Cell::new(f64::MIN),
                vehicles: std::cell::RefCell::new(Vec::new()),
                fleet_size: Cell::new(0),
                no_coverage: Cell::new(false),
                generation: Cell::new(0),
                refused: Cell::new(false),
            }),
        };
        let this = player.clone();
        Effect::new(move |_| {
            let timeline = store.timeline.get();
            this.changed(timeline);
        });
        // The gaps in what the backend keeps, for the scrubber: soon after the page opens, then
        // every half minute (a backend without the route, 404, is not asked again).
        let this = player.clone();
        if let Ok(handle) = set_interval_with_handle(move || this.load_coverage(), COVERAGE_EVERY) {
            on_cleanup(move || handle.clear());
        }
        let this = player.clone();
        set_timeout(move || this.load_coverage(), std::time::Duration::from_secs(2));
        // A new filter during a replay of a large fleet may change which vehicles it carries.
        let this = player.clone();
        Effect::new(move |_| {
            store.fleet_filter.track();
            if !store.timeline.with_untracked(Timeline::is_live) {
                this.choose_vehicles();
            }
        });
        player
    }

    fn load_coverage(&self) {
        let store = self.inner.store;
        if self.inner.no_coverage.get() {
            return;
        }
        let Some(api) = store.api.get_value() else { return };
        let this = self.clone();
        spawn_local(async move {
            let from = js_sys::Date::now() as i64 - crate::panels::timeline::SPAN_MS;
            match api.coverage(from).await {
                Ok(Some(coverage)) => {
                    let gaps: Vec<(i64, i64)> =
                        coverage.gaps.iter().map(|g| (g.from, g.to + telemetry::history::RESOLUTION_MS)).collect();
                    if store.replay_gaps.with_untracked(|old| *old != gaps) {
                        store.replay_gaps.set(gaps);
                    }
                }
                Ok(None) => this.inner.no_coverage.set(true),
                Err(error) => web_sys::console::warn_1(&format!("history coverage: {}", error.message).into()),
            }
        });
    }

    /// Forgets what was asked (an answer on its way is dropped when it comes).
    fn forget(&self) {
        self.inner.asked.set(None);
        self.inner.generation.set(self.inner.generation.get() + 1);
        self.inner.refused.set(false);
    }

    /// The timeline changed (a click, a link, the URL).
    fn changed(&self, timeline: Timeline) {
        let store = self.inner.store;
        let now = js_sys::Date::now();
        self.inner.refused.set(false);
        if timeline.is_live() {
            self.forget();
            store.replay.update(|r| r.clear());
            crate::live::alerts::show_held(store);
            store.moment.set(None);
            store.alerts_then.set(Default::default());
            store.missed_alerts.set(0);
            store.replay_note.set(None);
            write_url(&timeline, now as i64);
            return;
        }
        // Panels and URL follow at once.
        self.inner.panels_at.set(f64::MIN);
        self.inner.url_at.set(f64::MIN);
        self.choose_vehicles();
        if !self.inner.running.replace(true) {
            let this = self.clone();
            request_animation_frame(move || this.tick());
        }
    }

    /// Which vehicles to replay: all of a fleet that replays smoothly; of a larger one, those
    /// its filter passes when they are few enough (and the note says so).
    fn choose_vehicles(&self) {
        let store = self.inner.store;
        let (total, matching) = store.fleet.with_untracked(|f| {
            self.inner.fleet_size.set(f.len());
            store.fleet_filter.with_untracked(|filter| {
                let matching: Vec<String> = f.filtered(filter).map(|p| p.id.clone()).collect();
                (f.len(), matching)
            })
        });
        let (vehicles, note) = if total <= SMOOTH_VEHICLES {
            (Vec::new(), None)
        } else if matching.len() <= SMOOTH_VEHICLES && !matching.is_empty() {
            let note = format!(
                "replaying the {} vehicles the filter passes, of {total}: a larger fleet replays in coarser steps",
                matching.len()
            );
            (matching, Some(note))
        } else {
            let note = format!(
                "replaying all {total} vehicles in coarse steps: filter to {SMOOTH_VEHICLES} or fewer for a smooth replay"
            );
            (Vec::new(), Some(note))
        };
        if *self.inner.vehicles.borrow() != vehicles {
            *self.inner.vehicles.borrow_mut() = vehicles;
            self.forget();
            store.replay.update_untracked(|r| r.clear());
        }
        if !self.inner.unavailable.get() {
            store.replay_note.set(note);
        }
    }

    fn tick(&self) {
        let store = self.inner.store;
        let Some(timeline) = store.timeline.try_get_untracked() else { return };
        let wall = js_sys::Date::now();
        let now = wall as i64;
        if timeline.is_live() {
            self.inner.running.set(false);
            return;
        }
        if timeline.caught_up(now) {
            self.inner.running.set(false);
            store.timeline.update(Timeline::go_live);
            return;
        }
        let at = timeline.moment(now).unwrap_or(now);
        // The live fleet arrived (or changed by a tenth) since the vehicles were chosen.
        let (size, chosen_at) = (store.fleet.with_untracked(|f| f.len()), self.inner.fleet_size.get());
        if size.abs_diff(chosen_at) > chosen_at / 10 {
            self.choose_vehicles();
        }
        self.read_ahead(at, timeline.speed(), now);
        let site_of = |id: &str| store.fleet.with_untracked(|f| f.get(id).map(|p| p.site.clone()));
        let selected = match store.route.with_untracked(Clone::clone) {
            crate::model::route::Route::Fleet { vehicle } => vehicle,
            _ => None,
        };
        let changed = store.replay.try_update_untracked(|r| {
            store.fleet.with_untracked(|live| r.adopt_kinds(live));
            r.follow_trip(selected.as_deref());
            r.show(at, site_of)
        });
        if changed == Some(true) {
            store.replay.notify();
        }
        // What `show` drops (behind the head, and far ahead of it) is no longer held: a jump
        // there asks again. Clamped to what is kept, not to the frames held, so a moment the
        // backend has no frame of is not asked for again and again.
        if let Some(asked) = self.inner.asked.get() {
            let kept = Asked {
                from: asked.from.max(at - crate::model::replay::KEEP_BEHIND_MS),
                to: asked.to.min(at + crate::model::replay::KEEP_AHEAD_MS),
                ..asked
            };
            if kept != asked {
                self.inner.asked.set((kept.from <= kept.to).then_some(kept));
            }
        }
        let every = if timeline.speed().is_some() { PANELS_EVERY_MS } else { 1_000.0 };
        if wall - self.inner.panels_at.get() >= every {
            self.inner.panels_at.set(wall);
            if store.moment.get_untracked() != Some(at) {
                store.moment.set(Some(at));
            }
            let then = store.alerts.with_untracked(|feed| feed.as_of(at));
            if store.alerts_then.with_untracked(|old| *old != then) {
                store.alerts_then.set(then);
            }
        }
        if wall - self.inner.url_at.get() >= URL_EVERY_MS {
            self.inner.url_at.set(wall);
            write_url(&timeline, now);
        }
        let this = self.clone();
        request_animation_frame(move || this.tick());
    }

    /// Asks for the fleet's frames around the head when they are not held yet, and ahead of it
    /// while playing; one request at a time, with a backoff after a failure.
    fn read_ahead(&self, at: i64, speed: Option<u32>, now: i64) {
        let (playing, speed) = (speed.is_some(), speed.unwrap_or(1));
        let inner = &self.inner;
        if inner.in_flight.get()
            || inner.unavailable.get()
            || inner.refused.get()
            || js_sys::Date::now() < inner.retry_at.get()
        {
            return;
        }
        let Some(api) = inner.store.api.get_value() else { return };
        // The chunks are sized by the fleet: not before the page knows how large it is.
        if inner.store.fleet.with_untracked(|f| f.is_empty()) {
            return;
        }
        let vehicles = {
            let named = inner.vehicles.borrow().len();
            if named > 0 {
                named
            } else {
                inner.store.fleet.with_untracked(|f| f.len()).max(1)
            }
        };
        let step = ((vehicles as f64 * f64::from(speed) / CELLS_PER_SECOND).ceil().max(1.0) as i64) * 1_000;
        let frames = (CHUNK_CELLS / vehicles).clamp(2, 120) as i64;
        let span = frames * step;
        // Playing: a few seconds of wall time ahead. Paused: the frame after the moment.
        let ahead = if playing { (READ_AHEAD_MS * f64::from(speed)) as i64 } else { step };
        let asked = inner.asked.get();
        let (from, to) = match asked {
            // A jump outside what was asked: the frames just before it (for trails), and ahead.
            // (Slower than asked for: a finer step from the head on, as after a jump.)
            Some(a) if at >= a.from && at <= a.to + a.step && step >= a.step => {
                if a.to >= (at + ahead).min(now - step) {
                    return;
                }
                (a.to + step, a.to + span)
            }
            _ => (at - TRAIL_FRAMES.min(frames) * step, at + span),
        };
        let to = to.min(now);
        if from > to {
            return;
        }
        let next = match asked {
            Some(a) if from > a.from && from <= a.to + a.step && step >= a.step => Asked { from: a.from, to, step },
            _ => Asked { from, to, step },
        };
        inner.asked.set(Some(next));
        inner.in_flight.set(true);
        inner.store.loading.update(|n| *n += 1);
        let this = self.clone();
        let ids = inner.vehicles.borrow().clone();
        let generation = inner.generation.get();
        spawn_local(async move {
            let answer = api.fleet_history(from, to, step, &ids).await;
            let inner = &this.inner;
            inner.in_flight.set(false);
            inner.store.loading.update(|n| *n = n.saturating_sub(1));
            // Asked for something since forgotten (live again, other vehicles): dropped.
            if inner.generation.get() != generation {
                return;
            }
            match answer {
                Ok(Some(history)) => {
                    inner.failures.set(0);
                    if inner.store.timeline.get_untracked().is_live() {
                        return;
                    }
                    inner.store.replay.update_untracked(|r| r.add(history));
                }
                Ok(None) => {
                    inner.unavailable.set(true);
                    inner
                        .store
                        .replay_note
                        .set(Some("this backend keeps no fleet history (404): the map cannot show the past".into()));
                }
                Err(error) if error.permanent => {
                    // The same question would get the same answer: say so, and wait for the
                    // timeline to change.
                    inner.refused.set(true);
                    // Not taken as asked: after the timeline changes it is asked again.
                    inner.asked.set(asked);
                    inner
                        .store
                        .replay_note
                        .set(Some(format!("the fleet history refused the replay: {}", error.message)));
                }
                Err(error) => {
                    let failures = inner.failures.get() + 1;
                    inner.failures.set(failures);
                    // Short: a replay waits on it (a 503 says another query is running).
                    inner.retry_at.set(js_sys::Date::now() + (500.0 * 2f64.powi(failures as i32 - 1)).min(4_000.0));
                    // Asked again from where it stood.
                    inner.asked.set(asked);
                    web_sys::console::warn_1(&format!("replay: {}", error.message).into());
                }
            }
        });
    }
}

/// Writes the timeline into the URL fragment without adding a history entry (the back button
/// leaves the screen, not each second of a replay).
fn write_url(timeline: &Timeline, now: i64) {
    let Some(window) = web_sys::window() else { return };
    let hash = window.location().hash().unwrap_or_default();
    let hash = if hash.is_empty() { "#/".to_string() } else { hash };
    let wanted = with_time(&hash, &timeline.query(now));
    if wanted != hash {
        if let Ok(history) = window.history() {
            let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&wanted));
        }
    }
}

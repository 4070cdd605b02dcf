//! History for what the page shows and live data does not cover yet: a device's last two minutes
//! when its card is shown and its hour when its charts are, a vehicle's recent track when it is selected, the alert log of
//! the last hour after the first catch-up. Each is asked for once per page (again after a
//! failure), at most [`CONCURRENT`] requests at a time, and joined in front of the live data
//! with no gap and no repeat at the seam. While any is on its way, `store.loading` counts it (a
//! thin bar). A backend that keeps no history (404) leaves the charts starting at page load and
//! says so once.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet, VecDeque};
use std::rc::Rc;

use leptos::prelude::{GetValue, Set, Update, UpdateUntracked, WithUntracked};
use leptos::task::spawn_local;

use super::api::{Api, HistoryError};
use crate::model::fleet::TrailPoint;
use crate::model::series::DEFAULT_CAPACITY;
use crate::store::Store;

/// Requests on their way at once at most (a grid of many devices queues the rest).
const CONCURRENT: usize = 4;

/// How far back a device's history goes: what its series hold (an hour at 2 Hz; the backend
/// keeps one point a second, so an hour is 3,600 buckets).
const DEVICE_SPAN_MS: i64 = 3_600_000;
/// Buckets asked for per metric: one a second over the hour, with room to spare (the backend's
/// now is a little later than the page's when it answers; with exactly 3,600 buckets each would
/// be 1,001 ms wide and every thousandth second would be lost), within the series' bound.
const DEVICE_POINTS: u32 = 3_700;
/// How far back a card's sparklines go (they show two minutes): a grid of thousands of devices
/// asks for this much of each, and a device's screen for its hour.
const RECENT_SPAN_MS: i64 = 120_000;
/// A device's seconds at the seam between history and live data are asked for again this long
/// after its history came: the backend writes its history behind the live data (never waiting
/// on it), so the seconds just before a first answer may not have been written yet.
const SEAM_AFTER: std::time::Duration = std::time::Duration::from_secs(5);
/// How far back the second look at the seam reaches.
const SEAM_SPAN_MS: i64 = 30_000;
/// How far back a selected vehicle's track goes.
const TRACK_SPAN_MS: i64 = 600_000;
/// How far back the alert log goes.
const ALERT_SPAN_MS: i64 = 3_600_000;

const _: () = assert!(DEVICE_POINTS as usize <= DEFAULT_CAPACITY);

/// Failures of one request after which it is given up for this page.
const MAX_FAILURES: u32 = 6;

/// Wait before asking again after `failures` failures: 1 s doubling, at most a minute.
fn backoff_ms(failures: u32) -> f64 {
    (1_000.0 * 2f64.powi(failures.saturating_sub(1) as i32)).min(60_000.0)
}

/// What to load.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Want {
    Device(String),
    Recent(String),
    /// The seconds at the seam of a device's history and its live data, looked at again.
    Seam(String),
    Track(String),
    Alerts,
}

impl Want {
    /// The route it is asked on: a backend may keep some history and not the rest.
    fn route(&self) -> &'static str {
        match self {
            Want::Device(_) | Want::Recent(_) | Want::Seam(_) => telemetry::history::SERIES_PATH,
            Want::Track(_) => telemetry::history::TRACK_PATH,
            Want::Alerts => telemetry::history::ALERTS_PATH,
        }
    }
}

/// The history loader; `Clone` shares it.
#[derive(Clone)]
pub struct History {
    inner: Rc<Inner>,
}

struct Inner {
    api: Api,
    store: Store,
    /// Asked for, or loaded, this page.
    asked: RefCell<HashSet<Want>>,
    queue: RefCell<VecDeque<Want>>,
    running: Cell<usize>,
    /// Routes the backend answered 404 on: it keeps no such history.
    unavailable: RefCell<HashSet<&'static str>>,
    /// Failures so far and when asking again is allowed (page ms), per request that failed.
    failed: RefCell<HashMap<Want, (u32, f64)>>,
}

impl History {
    pub fn new(api: Api, store: Store) -> Self {
        let inner = Inner {
            api,
            store,
            asked: RefCell::new(HashSet::new()),
            queue: RefCell::new(VecDeque::new()),
            running: Cell::new(0),
            unavailable: RefCell::new(HashSet::new()),
            failed: RefCell::new(HashMap::new()),
        };
        Self { inner: Rc::new(inner) }
    }

    /// The last hour of `device`'s metrics, once.
    pub fn device(&self, device: &str) {
        self.want(Want::Device(device.to_string()));
    }

    /// The last two minutes of `device`'s metrics (its card's sparklines), once.
    pub fn recent(&self, device: &str) {
        self.want(Want::Recent(device.to_string()));
    }

    /// The recent track of vehicle `id` for its trail, once.
    pub fn track(&self, id: &str) {
        self.want(Want::Track(id.to_string()));
    }

    /// The alert log of the last hour, once.
    pub fn alerts(&self) {
        self.want(Want::Alerts);
    }

    fn want(&self, want: Want) {
        if self.inner.unavailable.borrow().contains(want.route()) || self.inner.asked.borrow().contains(&want) {
            return;
        }
        // After a failure, not before its backoff has passed (views ask on every render).
        if self.inner.failed.borrow().get(&want).is_some_and(|(_, at)| js_sys::Date::now() < *at) {
            return;
        }
        self.inner.asked.borrow_mut().insert(want.clone());
        self.inner.queue.borrow_mut().push_back(want);
        // Started outside whatever is rendering now: the loader writes signals.
        let this = self.clone();
        spawn_local(async move { this.pump() });
    }

    /// Starts queued requests while there is room.
    fn pump(&self) {
        while self.inner.running.get() < CONCURRENT {
            let Some(want) = self.inner.queue.borrow_mut().pop_front() else { return };
            self.inner.running.set(self.inner.running.get() + 1);
            self.inner.store.loading.update(|n| *n += 1);
            let this = self.clone();
            spawn_local(async move {
                let result = this.load(&want).await;
                this.inner.running.set(this.inner.running.get() - 1);
                this.inner.store.loading.update(|n| *n = n.saturating_sub(1));
                match result {
                    Ok(true) => {
                        this.inner.failed.borrow_mut().remove(&want);
                        if let Want::Device(device) | Want::Recent(device) = &want {
                            let (again, seam) = (this.clone(), Want::Seam(device.clone()));
                            leptos::prelude::set_timeout(move || again.want(seam), SEAM_AFTER);
                        }
                    }
                    Ok(false) => this.no_history(want.route()),
                    Err(HistoryError { message, permanent }) => {
                        let failures = this.inner.failed.borrow().get(&want).map_or(0, |(n, _)| *n) + 1;
                        if permanent || failures >= MAX_FAILURES {
                            // Kept as asked: not asked again this page.
                            web_sys::console::warn_1(&format!("history: {message}; not asked again").into());
                        } else {
                            // Asked again next time it is needed, once its backoff has passed.
                            let at = js_sys::Date::now() + backoff_ms(failures);
                            this.inner.failed.borrow_mut().insert(want.clone(), (failures, at));
                            this.inner.asked.borrow_mut().remove(&want);
                            web_sys::console::warn_1(&format!("history: {message}").into());
                        }
                    }
                }
                this.pump();
            });
        }
    }

    /// The backend keeps no history on `route`: stop asking there, and say so once.
    fn no_history(&self, route: &'static str) {
        if !self.inner.unavailable.borrow_mut().insert(route) {
            return;
        }
        self.inner.queue.borrow_mut().retain(|w| w.route() != route);
        let note = match self.inner.api {
            Api::Hub(_) => "this hub offers no history: charts and trails start when the page opened",
            Api::Functions(_) => "this backend keeps no history (404): charts and trails start when the page opened",
        };
        if route == telemetry::history::SERIES_PATH || self.inner.store.history_note.with_untracked(Option::is_none) {
            self.inner.store.history_note.set(Some(note.into()));
        }
    }

    /// Loads one thing and joins it in; `Ok(false)` when the backend has no such history.
    async fn load(&self, want: &Want) -> Result<bool, HistoryError> {
        let store = self.inner.store;
        let now = js_sys::Date::now() as i64;
        match want {
            Want::Device(device) | Want::Recent(device) | Want::Seam(device) => {
                let (span, points) = match want {
                    Want::Recent(_) => (RECENT_SPAN_MS, (RECENT_SPAN_MS / 1000) as u32 + 60),
                    // Half-second buckets: every second the backend wrote is in one.
                    Want::Seam(_) => (SEAM_SPAN_MS, (2 * SEAM_SPAN_MS / 1000) as u32),
                    _ => (DEVICE_SPAN_MS, DEVICE_POINTS),
                };
                // Not on the page yet (a link opened before the snapshot): asked again later.
                if store.equipment.with_untracked(|e| e.get(device).is_none()) {
                    return Err(not_yet(device));
                }
                let Some(history) = self.inner.api.history(device, now - span, points).await? else {
                    return Ok(false);
                };
                // Views hear of it at the next frame, however many answers came in between.
                store.equipment.update_untracked(|e| {
                    e.prepend_history(&history);
                });
                super::frame::changed(store, super::frame::Part::Equipment);
            }
            Want::Track(id) => {
                if store.fleet.with_untracked(|f| f.get(id).is_none()) {
                    return Err(not_yet(id));
                }
                let points = store.fleet.with_untracked(|f| f.trail_length()) as u32;
                let Some(track) = self.inner.api.track(id, now - TRACK_SPAN_MS, points.max(2)).await? else {
                    return Ok(false);
                };
                let n = track.ts.len().min(track.lat.len()).min(track.lon.len()).min(track.speed.len());
                let points = (0..n).map(|i| TrailPoint {
                    ts: track.ts[i],
                    lat: track.lat[i],
                    lon: track.lon[i],
                    speed: track.speed[i],
                });
                store.fleet.update_untracked(|f| {
                    f.prepend_trail(id, points);
                });
                super::frame::changed(store, super::frame::Part::Fleet);
            }
            Want::Alerts => {
                let Some(log) = self.inner.api.alert_log(now - ALERT_SPAN_MS).await? else {
                    return Ok(false);
                };
                store.alerts.update(|feed| {
                    let snapshot_ts = feed.snapshot_ts;
                    feed.load_log(log.events, snapshot_ts);
                });
            }
        }
        Ok(true)
    }
}

/// A device or vehicle the page does not show yet: its history is asked for again later.
fn not_yet(id: &str) -> HistoryError {
    HistoryError { message: format!("{id} is not on the page yet"), permanent: false }
}

/// The page's loader, once the connection is set up.
pub fn loader(store: Store) -> Option<History> {
    store.history.get_value()
}

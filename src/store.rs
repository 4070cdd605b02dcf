//! The one reactive store, provided at the root; panels read slices of it.

use leptos::prelude::*;
use leptos::reactive::graph::Source;

use crate::model::alerts::{AlertFeed, AlertFilter};
use crate::model::equipment::EquipmentState;
use crate::model::fleet::{FleetFilter, FleetState};
use crate::model::route::Route;
use crate::model::status::LiveStatus;
use crate::model::toasts::Toasts;
use crate::model::traffic::Traffic;

/// Declares the store once: each signal with its doc, type and first value, and the handles
/// that are not signals apart. The struct, [`Store::new`] and [`Store::prune_subscriptions`] are
/// generated from that one list, so a new signal is pruned without anyone remembering to.
macro_rules! store {
    (
        signals { $( $(#[doc = $doc:literal])* $signal:ident: $ty:ty = $init:expr, )* }
        stored { $( $(#[doc = $sdoc:literal])* $stored:ident: $sty:ty = $sinit:expr, )* }
    ) => {
        /// Handles to the app's state. `Copy`, so closures and components take it freely.
        #[derive(Clone, Copy)]
        pub struct Store {
            $( $(#[doc = $doc])* pub $signal: RwSignal<$ty>, )*
            $( $(#[doc = $sdoc])* pub $stored: StoredValue<$sty, LocalStorage>, )*
        }

        impl Store {
            pub fn new() -> Self {
                Self {
                    $( $signal: RwSignal::new($init), )*
                    $( $stored: StoredValue::new_local($sinit), )*
                }
            }

            /// Drops what views gone from the screen left subscribed to the store. Leptos 0.8
            /// keeps each reader of a signal in its subscriber list until that reader runs
            /// again, and the effects of a view that has been replaced never run again: every
            /// screen change left 1 to 3 KB of wasm heap behind for good (measured,
            /// `wasmHeapInUseBytes`). Each signal is marked changed, so its live readers run on
            /// the next tick and subscribe afresh, and its list is emptied, the dead entries with
            /// it. Called when the screen changes. Stored values have no subscribers: they are
            /// read, never tracked.
            pub fn prune_subscriptions(&self) {
                $(
                    self.$signal.notify();
                    self.$signal.clear_subscribers();
                )*
            }
        }
    };
}

store! {
    signals {
        status: LiveStatus = LiveStatus::default(),
        fleet: FleetState = FleetState::default(),
        /// What the fleet map and the vehicle table show (site, state, id search).
        fleet_filter: FleetFilter = FleetFilter::default(),
        alerts: AlertFeed = AlertFeed::default(),
        /// Alerts that just fired, folded and bounded.
        toasts: Toasts = Toasts::default(),
        /// What the alert history shows.
        alert_filter: AlertFilter = AlertFilter::default(),
        /// The equipment screen's search and sort.
        equipment_view: crate::model::filters::EquipmentView = crate::model::filters::EquipmentView::default(),
        /// Who acknowledges, as sent to the functions API (kept in the browser's storage);
        /// unused when signed in (the functions record the name the token carries).
        operator: String = String::new(),
        /// Who is signed in and what they may do, as the functions say (`GET {apiBase}/me`);
        /// `None` when the page does not sign in.
        identity: Option<telemetry::auth::Identity> = None,
        /// What stands in the way of signing in, or what the functions refused, in words.
        auth_problem: Option<String> = None,
        /// Light, dark or the system's, as chosen in the header (kept in the browser's storage).
        theme_choice: crate::model::theme::ThemeChoice = crate::model::theme::ThemeChoice::Auto,
        /// The theme shown (the choice, or the system's scheme): what canvases draw with.
        theme: crate::model::theme::Theme = crate::model::theme::Theme::Dark,
        /// Play a tone when a critical alert fires (off by default; kept in the browser's storage).
        sound: bool = false,
        /// Why the last acknowledgement failed, if it did.
        ack_error: Option<String> = None,
        equipment: EquipmentState = EquipmentState::default(),
        /// The backend's description of its world: names, units, limits (from the snapshot,
        /// then merged with every `catalog` pushed).
        catalog: telemetry::Catalog = telemetry::Catalog::default(),
        traffic: Traffic = Traffic::default(),
        /// Wall clock (Unix ms), ticking once a second: drives stale detection and moving windows.
        clock: i64 = js_sys::Date::now() as i64,
        /// The screen shown, from the URL fragment.
        route: Route = Route::Overview,
        /// Devices silent for longer than this (ms) are shown offline (config `staleAfterSeconds`).
        stale_after_ms: i64 = 15_000,
        /// The map's tile server, from the config.
        tiles: Option<crate::config::Tiles> = None,
        /// Hub messages (batches) received since the page opened.
        messages: u64 = 0,
        /// Where the catch-up after the last connect stands (snapshot and group joins).
        sync: crate::model::sync::SyncState = crate::model::sync::SyncState::Idle,
        /// Items of otherwise good batches skipped as malformed or unknown (the rest applied).
        skipped_items: u64 = 0,
        /// Sites left unjoined because `maxSites` was reached.
        refused_sites: crate::model::limits::Refused = crate::model::limits::Refused::default(),
        /// History requests on their way (a thin bar shows while any is).
        loading: u32 = 0,
        /// Why charts start at page load, when the backend keeps no history.
        history_note: Option<String> = None,
        /// Why the last snapshot load or group subscription failed, if it did.
        sync_error: Option<String> = None,
        /// Live, paused at a moment, or playing (from the URL's `at` and `speed`).
        timeline: crate::model::timeline::Timeline = crate::model::timeline::Timeline::default(),
        /// The moment every panel shows, `None` when live. While a replay plays it follows the
        /// play head a few times a second (the map follows it every frame through `replay`).
        moment: Option<i64> = None,
        /// The fleet as of the moment shown, from the history API (empty when live).
        replay: crate::model::replay::Replay = crate::model::replay::Replay::default(),
        /// The alerts as they stood at the moment shown (empty when live).
        alerts_then: AlertFeed = AlertFeed::default(),
        /// Alerts raised live while the page was not live (the badge on *back to live*).
        missed_alerts: u32 = 0,
        /// Where the backend keeps no data within the timeline's span (from, to; Unix ms).
        replay_gaps: Vec<(i64, i64)> = Vec::new(),
        /// The backend's streets and sites, drawn under the vehicles (none: a plain background).
        basemap: Option<telemetry::basemap::Basemap> = None,
        /// What the replay cannot show, or shows only in part, in words.
        replay_note: Option<String> = None,
        /// Alarm points shelved or out of service now, and the backend's alarm policy.
        suppressions: crate::model::suppressions::Suppressions = crate::model::suppressions::Suppressions::default(),
        /// Floods of the alarms that notify on this page (ISA-18.2: more than 10 in 10 minutes).
        flood: crate::model::flood::FloodWatch = crate::model::flood::FloodWatch::default(),
        /// Why the last shelving (or ending one) failed, if it did.
        suppress_error: Option<String> = None,
        /// Desktop notifications for critical alarms while the tab is hidden (opted in or not).
        notifications: crate::live::notify::Choice = crate::live::notify::Choice::Off,
    }
    stored {
        /// Where snapshot, subscriptions and acknowledgements go, once connected. Not a signal:
        /// nothing renders from it, it holds JS objects, and it is not pruned.
        api: Option<crate::live::api::Api> = None,
        /// Loads history for what the page shows (see `live::history`).
        history: Option<crate::live::history::History> = None,
    }
}

impl Store {
    /// The time the panels show: the moment replayed, or the wall clock when live. Tracked.
    pub fn shown_now(&self) -> i64 {
        self.moment.get().unwrap_or_else(|| self.clock.get())
    }

    /// Whether the page follows the present. Tracked.
    pub fn is_live(&self) -> bool {
        self.moment.with(Option::is_none)
    }

    /// Subscribes to the fleet the panels show: the live one, or the one replayed.
    pub fn track_fleet(&self) {
        if self.is_live() {
            self.fleet.track();
        } else {
            self.replay.track();
        }
    }

    /// Reads the fleet the panels show, untracked.
    pub fn with_fleet_untracked<R>(&self, f: impl FnOnce(&FleetState) -> R) -> R {
        if self.moment.with_untracked(Option::is_none) {
            self.fleet.with_untracked(f)
        } else {
            self.replay.with_untracked(|r| f(r.fleet()))
        }
    }

    /// Reads the fleet the panels show, tracked.
    pub fn with_fleet<R>(&self, f: impl FnOnce(&FleetState) -> R) -> R {
        self.track_fleet();
        self.with_fleet_untracked(f)
    }

    /// Reads the alerts as they stand at the moment shown, tracked.
    pub fn with_alerts<R>(&self, f: impl FnOnce(&AlertFeed) -> R) -> R {
        if self.is_live() {
            self.alerts.with(f)
        } else {
            self.alerts_then.with(f)
        }
    }
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

/// The store provided by [`crate::app::App`].
pub fn use_store() -> Store {
    expect_context::<Store>()
}

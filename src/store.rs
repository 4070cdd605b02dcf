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

/// Handles to the app's state. `Copy`, so closures and components take it freely.
#[derive(Clone, Copy)]
pub struct Store {
    pub status: RwSignal<LiveStatus>,
    pub fleet: RwSignal<FleetState>,
    /// What the fleet map and the vehicle table show (site, state, id search).
    pub fleet_filter: RwSignal<FleetFilter>,
    pub alerts: RwSignal<AlertFeed>,
    /// Alerts that just fired, folded and bounded.
    pub toasts: RwSignal<Toasts>,
    /// What the alert history shows.
    pub alert_filter: RwSignal<AlertFilter>,
    /// Who acknowledges, as sent to the functions API (kept in the browser's storage).
    pub operator: RwSignal<String>,
    /// Play a tone when a critical alert fires (off by default; kept in the browser's storage).
    pub sound: RwSignal<bool>,
    /// Why the last acknowledgement failed, if it did.
    pub ack_error: RwSignal<Option<String>>,
    /// Where snapshot, subscriptions and acknowledgements go, once connected.
    pub api: StoredValue<Option<crate::live::api::Api>, LocalStorage>,
    pub equipment: RwSignal<EquipmentState>,
    pub traffic: RwSignal<Traffic>,
    /// Wall clock (Unix ms), ticking once a second: drives stale detection and moving windows.
    pub clock: RwSignal<i64>,
    /// The screen shown, from the URL fragment.
    pub route: RwSignal<Route>,
    /// Devices silent for longer than this (ms) are shown offline (config `staleAfterSeconds`).
    pub stale_after_ms: RwSignal<i64>,
    /// The map's tile server, from the config.
    pub tiles: RwSignal<Option<crate::config::Tiles>>,
    /// Hub messages (batches) received since the page opened.
    pub messages: RwSignal<u64>,
    /// Why the last snapshot load or group subscription failed, if it did.
    pub sync_error: RwSignal<Option<String>>,
}

impl Store {
    pub fn new() -> Self {
        Self {
            status: RwSignal::new(LiveStatus::default()),
            fleet: RwSignal::new(FleetState::default()),
            fleet_filter: RwSignal::new(FleetFilter::default()),
            alerts: RwSignal::new(AlertFeed::default()),
            toasts: RwSignal::new(Toasts::default()),
            alert_filter: RwSignal::new(AlertFilter::default()),
            operator: RwSignal::new(String::new()),
            sound: RwSignal::new(false),
            ack_error: RwSignal::new(None),
            api: StoredValue::new_local(None),
            equipment: RwSignal::new(EquipmentState::default()),
            traffic: RwSignal::new(Traffic::default()),
            clock: RwSignal::new(js_sys::Date::now() as i64),
            route: RwSignal::new(Route::Overview),
            stale_after_ms: RwSignal::new(15_000),
            tiles: RwSignal::new(None),
            messages: RwSignal::new(0),
            sync_error: RwSignal::new(None),
        }
    }
}

impl Store {
    /// Drops what views gone from the screen left subscribed to the store. Leptos 0.8 keeps each
    /// reader of a signal in its subscriber list until that reader runs again, and the effects of
    /// a view that has been replaced never run again: every screen change left 1 to 3 KB of wasm
    /// heap behind for good (measured, `wasmHeapInUseBytes`). Each signal is marked changed, so
    /// its live readers run on the next tick and subscribe afresh, and its list is emptied, the
    /// dead entries with it. Called when the screen changes.
    pub fn prune_subscriptions(&self) {
        fn prune<T: Send + Sync + 'static>(signal: RwSignal<T>) {
            signal.notify();
            signal.clear_subscribers();
        }
        prune(self.status);
        prune(self.fleet);
        prune(self.fleet_filter);
        prune(self.alerts);
        prune(self.toasts);
        prune(self.alert_filter);
        prune(self.operator);
        prune(self.sound);
        prune(self.ack_error);
        prune(self.equipment);
        prune(self.traffic);
        prune(self.clock);
        prune(self.route);
        prune(self.stale_after_ms);
        prune(self.tiles);
        prune(self.messages);
        prune(self.sync_error);
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

//! The one reactive store, provided at the root; panels read slices of it.

use leptos::prelude::*;

use crate::model::alerts::AlertFeed;
use crate::model::fleet::FleetState;
use crate::model::status::LiveStatus;

/// Handles to the app's state. `Copy`, so closures and components take it freely.
#[derive(Clone, Copy)]
pub struct Store {
    pub status: RwSignal<LiveStatus>,
    pub fleet: RwSignal<FleetState>,
    pub alerts: RwSignal<AlertFeed>,
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
            alerts: RwSignal::new(AlertFeed::default()),
            messages: RwSignal::new(0),
            sync_error: RwSignal::new(None),
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

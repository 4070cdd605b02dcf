//! The shell: provides the store, loads the configuration, starts the live connection and
//! lays out the panels.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::model::status::{LiveStatus, Phase};
use crate::panels::alert_list::AlertList;
use crate::panels::status_bar::StatusBar;
use crate::panels::vehicle_list::VehicleList;
use crate::store::Store;
use crate::{config, live};

#[component]
pub fn App() -> impl IntoView {
    let store = Store::new();
    provide_context(store);
    spawn_local(async move {
        match config::load().await {
            Ok(config) => {
                live::start(&config, store);
            }
            Err(error) => store.status.set(LiveStatus {
                phase: Phase::Disconnected,
                error: Some(error.to_string()),
                ..LiveStatus::default()
            }),
        }
    });
    view! {
        <header class="app-header">
            <h1>"IoT Live Dashboard"</h1>
            <StatusBar />
        </header>
        <main class="app-main">
            <AlertList />
            <VehicleList />
        </main>
    }
}

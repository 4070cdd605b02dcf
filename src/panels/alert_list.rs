//! The latest alerts: severity as an icon and a word (never colour alone), device, message,
//! and whether it was acknowledged or cleared. Every string from the wire is set as text.

use leptos::prelude::*;
use telemetry::Severity;

use crate::model::alerts::AlertEntry;
use crate::model::route::{Route, Window};
use crate::store::{use_store, Store};

/// How many alerts the panel lists.
const SHOWN: usize = 12;

/// Where an alert's device is shown: its vehicle on the map, or its charts.
pub fn device_href(store: Store, device: &str) -> String {
    let vehicle = store.fleet.with_untracked(|fleet| fleet.get(device).is_some());
    if vehicle {
        Route::Fleet { vehicle: Some(device.to_string()) }.href()
    } else {
        Route::Device { id: device.to_string(), window: Window::FiveMinutes }.href()
    }
}

/// Where an alarm's own timeline is.
pub fn alarm_href(id: &str) -> String {
    Route::Alarm { id: id.to_string() }.href()
}

/// A severity as an icon (inline SVG, its own shape) and a word: never colour alone.
pub fn severity_label(severity: Severity) -> (impl IntoView, &'static str) {
    (super::icons::severity_icon(severity), super::icons::severity_word(severity))
}

#[component]
pub fn AlertList() -> impl IntoView {
    let store = use_store();
    let rows = move || store.with_alerts(|feed| feed.iter().take(SHOWN).map(|e| alert_row(store, e)).collect_view());
    let open = move || store.with_alerts(|feed| feed.unacknowledged());
    view! {
        <section class="alert-list" aria-labelledby="alerts-heading">
            <h2 id="alerts-heading">
                "Latest alerts " <span class="count" data-testid="alert-open-count">{open}</span> " open"
            </h2>
            <Show
                when=move || store.with_alerts(|feed| !feed.is_empty())
                fallback=|| view! { <p class="empty">"No alerts."</p> }
            >
                <ul>{rows}</ul>
            </Show>
        </section>
    }
}

fn alert_row(store: Store, entry: &AlertEntry) -> impl IntoView + use<> {
    let (icon, severity) = severity_label(entry.alert.severity);
    let state = entry.state_text();
    view! {
        <li class=format!("alert severity-{severity}") data-testid="alert-row" data-alert-id=entry.alert.id.clone()>
            <span class="severity" aria-hidden="true">{icon}</span>
            <span class="severity-label">{severity}</span>
            <a class="device" href=device_href(store, &entry.alert.device)>{entry.alert.device.clone()}</a>
            <span class="message" data-testid="alert-message">{entry.alert.message.clone()}</span>
            <span class="state" data-testid="alert-state">{state}</span>
            {super::alarm_actions::alarm_state(store, entry)}
            <a class="timeline" href=alarm_href(&entry.alert.id)>"timeline"</a>
        </li>
    }
}

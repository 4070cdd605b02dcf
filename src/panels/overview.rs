//! The overview: KPI tiles for the fleet, the equipment, open alerts and traffic. Every number
//! has a word next to it; colour only repeats what the word says.

use leptos::prelude::*;
use telemetry::Severity;

use crate::model::equipment::Health;
use crate::model::fleet::Shown;
use crate::store::use_store;

/// One tile: a number and what it counts.
#[component]
fn Tile(
    /// What is counted.
    label: &'static str,
    /// CSS modifier for the accent colour.
    tone: &'static str,
    /// The figure.
    #[prop(into)]
    value: Signal<String>,
) -> impl IntoView {
    view! {
        <div class=format!("tile tone-{tone}") data-testid=format!("kpi-{}", label.replace(' ', "-"))>
            <span class="value">{value}</span>
            <span class="label">{label}</span>
        </div>
    }
}

#[component]
pub fn Overview() -> impl IntoView {
    let store = use_store();
    // Counting 10,000 vehicles per state every frame is wasted work: twice a second is enough.
    let fleet = super::frame::paced(move || store.track_fleet(), std::time::Duration::from_millis(500));
    // As the map draws them: a vehicle silent for `staleAfterSeconds` counts as stale, not by
    // the last state it reported.
    let vehicles = move |shown: Shown| {
        Signal::derive(move || {
            fleet.track();
            let (now, stale_after) = (store.shown_now(), store.stale_after_ms.get());
            store
                .with_fleet_untracked(|f| f.iter().filter(|p| Shown::of(p, now, stale_after) == shown).count())
                .to_string()
        })
    };
    let equipment = move |health: Health| {
        Signal::derive(move || {
            let stale_after = store.stale_after_ms.get();
            match store.moment.get() {
                Some(at) => store.equipment.with(|e| e.count_at(health, at, stale_after)),
                None => store.equipment.with(|e| e.count(health, store.clock.get(), stale_after)),
            }
            .to_string()
        })
    };
    let alerts = move |severity: Severity| {
        Signal::derive(move || {
            store
                .with_alerts(|f| {
                    f.iter()
                        .filter(|e| e.alert.severity == severity && e.acknowledged.is_none() && e.cleared_at.is_none())
                        .count()
                })
                .to_string()
        })
    };
    let rate = Signal::derive(move || format!("{:.0}", store.traffic.with(|t| t.per_second(store.clock.get(), 5))));
    view! {
        <section class="overview" aria-label="Overview">
            <div class="tiles">
                <Tile label="vehicles moving" tone="ok" value=vehicles(Shown::Moving) />
                <Tile label="vehicles idle" tone="warn" value=vehicles(Shown::Idle) />
                <Tile label="vehicles stopped" tone="muted" value=vehicles(Shown::Stopped) />
                <Tile label="vehicles stale" tone="muted" value=vehicles(Shown::Stale) />
                <Tile label="equipment running" tone="ok" value=equipment(Health::Running) />
                <Tile label="equipment stopped" tone="muted" value=equipment(Health::Stopped) />
                <Tile label="equipment fault" tone="bad" value=equipment(Health::Fault) />
                <Tile label="equipment offline" tone="bad" value=equipment(Health::Offline) />
                <Tile label="critical alerts" tone="bad" value=alerts(Severity::Critical) />
                <Tile label="warning alerts" tone="warn" value=alerts(Severity::Warning) />
                <Tile label="info alerts" tone="info" value=alerts(Severity::Info) />
                <Tile label="messages per second" tone="info" value=rate />
            </div>
        </section>
    }
}

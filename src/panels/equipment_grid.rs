//! The equipment grid: every process machine and drilling rig with its status (a word and a
//! colour), last values with units and a sparkline per metric. Search and sort live in the URL
//! query of the page's fragment-free state (kept simple: in memory).

use leptos::prelude::*;

use crate::model::equipment::{Device, SortKey};
use crate::model::route::{Route, Window};
use crate::model::series::Series;
use crate::store::use_store;

/// Sparkline window.
const SPARK_MS: i64 = 120_000;
const SPARK_W: f64 = 120.0;
const SPARK_H: f64 = 28.0;

/// An SVG polyline of the last two minutes, reduced to one point per horizontal pixel.
fn sparkline(series: &Series, now: i64) -> String {
    let columns = series.downsample(now - SPARK_MS, now, SPARK_W as usize);
    let (low, high) = columns.iter().fold((f64::MAX, f64::MIN), |(lo, hi), c| (lo.min(c.min), hi.max(c.max)));
    let span = (high - low).max(1e-9);
    columns
        .iter()
        .map(|c| format!("{:.1},{:.1}", c.x as f64, SPARK_H - 2.0 - (c.last - low) / span * (SPARK_H - 4.0)))
        .collect::<Vec<_>>()
        .join(" ")
}

#[component]
pub fn EquipmentGrid() -> impl IntoView {
    let store = use_store();
    let query = RwSignal::new(String::new());
    let sort = RwSignal::new(SortKey::Name);
    let cards = move || {
        let now = store.clock.get();
        let stale = store.stale_after_ms.get();
        store.equipment.with(|e| {
            e.list(&query.get(), sort.get(), now, stale).into_iter().map(|d| card(d, now, stale)).collect_view()
        })
    };
    view! {
        <section class="equipment" aria-label="Equipment">
            <div class="toolbar">
                <input
                    type="search"
                    placeholder="Search by name, id or site"
                    aria-label="Search equipment"
                    data-testid="equipment-search"
                    prop:value=move || query.get()
                    on:input=move |ev| query.set(event_target_value(&ev))
                />
                <label>
                    "Sort by "
                    <select
                        data-testid="equipment-sort"
                        on:change=move |ev| sort.set(SortKey::parse(&event_target_value(&ev)))
                    >
                        <option value="name">"name"</option>
                        <option value="status">"status"</option>
                        <option value="lastSeen">"last seen"</option>
                    </select>
                </label>
            </div>
            <div class="cards">{cards}</div>
        </section>
    }
}

fn card(device: &Device, now: i64, stale_after_ms: i64) -> impl IntoView + use<> {
    let health = device.health(now, stale_after_ms);
    let href = Route::Device { id: device.info.id.clone(), window: Window::FiveMinutes }.href();
    let seen = device.seen_at.map(|t| format!("{} s ago", ((now - t).max(0) / 1000))).unwrap_or_else(|| "never".into());
    let metrics = device
        .series
        .iter()
        .map(|(metric, series)| {
            let unit = telemetry::limits::unit(metric);
            let value = series.last().map(|p| format!("{:.1} {unit}", p.value)).unwrap_or_default();
            view! {
                <div class="metric">
                    <span class="name">{metric.clone()}</span>
                    <span class="value" data-testid="metric-value">{value}</span>
                    <svg class="spark" viewBox=format!("0 0 {SPARK_W} {SPARK_H}") aria-hidden="true">
                        <polyline points=sparkline(series, now) />
                    </svg>
                </div>
            }
        })
        .collect_view();
    view! {
        <a class=format!("card health-{}", health.label().replace(' ', "-")) href=href data-testid="equipment-card" data-device-id=device.info.id.clone()>
            <div class="head">
                <span class="name">{device.info.name.clone()}</span>
                <span class="badge" data-testid="equipment-status">{health.label()}</span>
            </div>
            <div class="meta">{format!("{} · {} · seen {seen}", device.info.id, device.info.site)}</div>
            {metrics}
        </a>
    }
}

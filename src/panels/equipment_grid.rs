//! The equipment grid: every device that is not a vehicle, grouped by its kind as the catalog
//! names it, with its status (a word and a colour), last values with the catalog's names, units
//! and decimals, and a sparkline per metric. Search and sort are in the store and the URL
//! (`#/equipment?q=…&sort=…`).

use leptos::prelude::*;

use telemetry::Catalog;

use crate::model::catalog::{kind_name, metric_look, ordered};
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
    let view_of = store.equipment_view;
    let query = move || view_of.with(|v| v.query.clone());
    let sort = move || view_of.with(|v| v.sort);
    let groups = move || {
        // The moment shown: cards say what they said then.
        let now = store.shown_now();
        let past = store.moment.get().is_some();
        let stale = store.stale_after_ms.get();
        store.equipment.with(|e| {
            store.catalog.with(|catalog| {
                let list = e.list(&query(), sort(), now, stale);
                // Kinds in the catalog's order, then the ones it does not name, by id; each
                // group in the chosen sort order.
                let mut kinds: Vec<&str> = list.iter().map(|d| d.info.kind.as_str()).collect();
                kinds.sort_by_key(|k| (catalog.kinds.iter().position(|c| c.id == *k).unwrap_or(usize::MAX), *k));
                kinds.dedup();
                kinds
                    .into_iter()
                    .map(|kind| {
                        let cards: Vec<&Device> = list.iter().copied().filter(|d| d.info.kind == kind).collect();
                        let count = cards.len();
                        let cards = cards.into_iter().map(|d| card(catalog, d, now, stale, past)).collect_view();
                        view! {
                            <section class="kind-group" data-testid="kind-group" data-kind=kind.to_string()>
                                <h3 data-testid="kind-heading">{kind_name(catalog, kind)}" "<span class="count">{count}</span></h3>
                                <div class="cards">{cards}</div>
                            </section>
                        }
                    })
                    .collect_view()
            })
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
                    prop:value=query
                    on:input=move |ev| view_of.update(|v| v.query = event_target_value(&ev))
                />
                <label>
                    "Sort by "
                    <select
                        data-testid="equipment-sort"
                        on:change=move |ev| view_of.update(|v| v.sort = SortKey::parse(&event_target_value(&ev)))
                    >
                        <option value="name" selected=move || sort() == SortKey::Name>"name"</option>
                        <option value="status" selected=move || sort() == SortKey::Status>"status"</option>
                        <option value="lastSeen" selected=move || sort() == SortKey::LastSeen>"last seen"</option>
                    </select>
                </label>
            </div>
            {groups}
        </section>
    }
}

fn card(catalog: &Catalog, device: &Device, now: i64, stale_after_ms: i64, past: bool) -> impl IntoView + use<> {
    // Its sparklines start full: the history before the page opened (asked for once a page);
    // shown as of a moment in the past, its hour.
    if let Some(history) = crate::live::history::loader(use_store()) {
        if past {
            history.device(&device.info.id);
        } else {
            history.recent(&device.info.id);
        }
    }
    let health = if past { device.health_at(now, stale_after_ms) } else { device.health(now, stale_after_ms) };
    let href = Route::Device { id: device.info.id.clone(), window: Window::FiveMinutes }.href();
    let seen = if past {
        // As of the moment: its newest sample by then.
        device.series.values().filter_map(|s| s.at(now)).map(|p| p.ts).max()
    } else {
        device.seen_at
    };
    let seen = seen.map(|t| format!("{} s ago", ((now - t).max(0) / 1000))).unwrap_or_else(|| "never".into());
    let kind = device.info.kind.as_str();
    let metrics = ordered(catalog, kind, device.series.keys().map(String::as_str))
        .into_iter()
        .filter_map(|metric| Some((metric, device.series.get(metric)?)))
        .map(|(metric, series)| {
            let look = metric_look(catalog, kind, metric);
            // Live: the newest reading (a device's clock may run ahead of the page's).
            let point = if past { series.at(now) } else { series.last() };
            let value = point.map(|p| look.format(p.value)).unwrap_or_default();
            view! {
                <div class="metric" data-metric=metric.to_string()>
                    <span class="name">{look.name}</span>
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

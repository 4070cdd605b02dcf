//! One device: a live chart per metric, the time window (in the URL, so a link reopens the same
//! view), and pause / resume.

use leptos::prelude::*;

use crate::model::catalog::ordered;
use crate::model::route::{Route, Window};
use crate::panels::chart::LiveChart;
use crate::store::use_store;

#[component]
pub fn DeviceDetail(
    /// Device id from the URL.
    id: String,
    /// Time window from the URL.
    window: Window,
) -> impl IntoView {
    let store = use_store();
    let paused = RwSignal::new(false);
    let device = id.clone();
    let title = move || store.equipment.with(|e| e.get(&device).map(|d| d.info.name.clone()));
    let device = id.clone();
    let status = move || {
        store.equipment.with(|e| {
            let stale_after = store.stale_after_ms.get();
            e.get(&device).map(|d| match store.moment.get() {
                Some(at) => d.health_at(at, stale_after).label(),
                None => d.health(store.clock.get(), stale_after).label(),
            })
        })
    };
    let device = id.clone();
    // What its kind declares (charts waiting for data), and whatever else it sends, in the
    // catalog's order.
    let metrics = Memo::new(move |_| {
        store.equipment.with(|e| {
            let Some(d) = e.get(&device) else { return Vec::new() };
            store.catalog.with(|c| {
                let declared = c.kind(&d.info.kind).into_iter().flat_map(|k| k.metrics.iter().map(|m| m.id.as_str()));
                let mut present: Vec<&str> = d.series.keys().map(String::as_str).chain(declared).collect();
                present.sort_unstable();
                present.dedup();
                ordered(c, &d.info.kind, present.into_iter()).into_iter().map(String::from).collect::<Vec<_>>()
            })
        })
    });
    let window_links = Window::ALL
        .into_iter()
        .map(|w| {
            let href = Route::Device { id: id.clone(), window: w }.href();
            let current = w == window;
            view! {
                <a href=href class:current=current aria-current=if current { Some("true") } else { None }>
                    {w.as_str()}
                </a>
            }
        })
        .collect_view();
    let maintenance = id.clone();
    let alarms_of = id.clone();
    // This device's alarms still standing, each with where it stands (ISA-18.2).
    let alarms = move || {
        store.with_alerts(|feed| {
            feed.iter()
                .filter(|e| e.alert.device == alarms_of && !e.over && e.isa() != crate::model::alerts::Isa::Normal)
                .take(20)
                .map(|e| view! {
                    <li data-testid="device-alarm" data-alert-id=e.alert.id.clone()>
                        <a href=super::alert_list::alarm_href(&e.alert.id)>{format!("{} · {}", e.alert.metric, e.alert.message)}</a>
                        " "
                        {super::alarm_actions::alarm_state(store, e)}
                    </li>
                })
                .collect_view()
        })
    };
    let device = id.clone();
    let charts = move || {
        metrics
            .get()
            .into_iter()
            .map(|metric| {
                view! { <LiveChart device=device.clone() metric=metric window_ms=window.millis() paused=paused /> }
            })
            .collect_view()
    };
    view! {
        <section class="device-detail" aria-label="Device detail">
            <div class="toolbar">
                <h2 data-testid="device-title">{move || title().unwrap_or_else(|| id.clone())}</h2>
                <span class="badge" data-testid="device-status">{move || status().unwrap_or("unknown")}</span>
                <nav class="windows" aria-label="Time window" data-testid="window-links">{window_links}</nav>
                <button data-testid="pause" on:click=move |_| paused.update(|p| *p = !*p)>
                    {move || if paused.get() { "Resume" } else { "Pause" }}
                </button>
            </div>
            <super::alarm_actions::Maintenance device=maintenance.clone() />
            <ul class="device-alarms" data-testid="device-alarms" aria-label="Alarms of this device">{alarms}</ul>
            <Show when=move || !metrics.with(|m| m.is_empty()) fallback=|| view! { <p class="empty">"No readings yet for this device."</p> }>
                <div class="charts">{charts.clone()}</div>
            </Show>
        </section>
    }
}

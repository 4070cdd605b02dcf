//! The selected vehicle's panel beside the map, and selecting: the selection lives in the URL
//! (`#/fleet?vehicle=<id>`), so it is shareable and the back button undoes it.

use leptos::prelude::*;

use crate::model::fleet::Shown;
use crate::model::geo::format_lat_lon;
use crate::model::route::Route;
use crate::store::use_store;

/// Selects a vehicle by putting it in the URL (so the selection is shareable).
pub(super) fn select(id: Option<&str>) {
    if let Some(window) = web_sys::window() {
        let _ = window.location().set_hash(&Route::Fleet { vehicle: id.map(str::to_string) }.href());
    }
}

/// Speed chart size in the selection panel.
const SPEED_W: f64 = 160.0;
const SPEED_H: f64 = 36.0;

/// The selected vehicle as text: id, site, state (a word, not only a colour), speed, heading,
/// position, when it last reported, and its speed over the trail.
#[component]
pub fn SelectionPanel(
    /// The selected vehicle id.
    #[prop(into)]
    selected: Signal<Option<String>>,
) -> impl IntoView {
    let store = use_store();
    let details = move || {
        let id = selected.get()?;
        let now = store.clock.get();
        let stale_after = store.stale_after_ms.get();
        let found = store.fleet.with(|fleet| {
            let p = fleet.get(&id).cloned()?;
            let speeds: Vec<f64> = fleet.trail(&id).map(|t| t.speed).collect();
            Some((p, speeds))
        });
        Some(match found {
            None => view! { <p data-testid="selection-missing">{format!("{id}: no position yet")}</p> }.into_any(),
            Some((p, speeds)) => {
                let date = js_sys::Date::new(&(p.ts as f64).into());
                let seen = format!("{:02}:{:02}:{:02}", date.get_hours(), date.get_minutes(), date.get_seconds());
                let shown = Shown::of(&p, now.max(p.ts), stale_after);
                let state = match shown {
                    Shown::Stale => format!("stale: silent {} s (last {})", (now - p.ts) / 1000, p.state.as_str()),
                    _ => shown.as_str().to_string(),
                };
                let top = speeds.iter().copied().fold(0.0, f64::max).max(1.0);
                let step = SPEED_W / (speeds.len().max(2) - 1) as f64;
                let points = speeds
                    .iter()
                    .enumerate()
                    .map(|(i, v)| format!("{:.1},{:.1}", i as f64 * step, SPEED_H - 2.0 - v / top * (SPEED_H - 4.0)))
                    .collect::<Vec<_>>()
                    .join(" ");
                view! {
                    <dl>
                        <dt>"vehicle"</dt><dd data-testid="selection-id">{p.id.clone()}</dd>
                        <dt>"site"</dt><dd>{p.site.clone()}</dd>
                        <dt>"state"</dt>
                        <dd data-testid="selection-state" class=format!("state-{}", shown.as_str())>{state}</dd>
                        <dt>"speed"</dt><dd data-testid="selection-speed">{format!("{:.1} km/h", p.speed)}</dd>
                        <dt>"heading"</dt><dd>{format!("{:.0}°", p.heading)}</dd>
                        <dt>"position"</dt><dd class="mono" data-testid="selection-position">{format_lat_lon(p.lat, p.lon)}</dd>
                        <dt>"last update"</dt><dd>{seen}</dd>
                    </dl>
                    <figure class="speed-chart">
                        <svg class="spark" viewBox=format!("0 0 {SPEED_W} {SPEED_H}") role="img" data-testid="selection-speed-chart"
                            aria-label=format!("speed over the last {} reports, up to {top:.0} km/h", speeds.len())>
                            <polyline points=points />
                        </svg>
                        <figcaption>{format!("speed, last {} reports (max {top:.0} km/h)", speeds.len())}</figcaption>
                    </figure>
                    <button data-testid="clear-selection" on:click=move |_| select(None)>"Clear selection"</button>
                }
                .into_any()
            }
        })
    };
    view! {
        <aside class="selection" aria-label="Selected vehicle" data-testid="selection-panel">
            {move || details().unwrap_or_else(|| view! { <p class="empty">"Click a vehicle to select it."</p> }.into_any())}
        </aside>
    }
}

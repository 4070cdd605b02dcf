//! The selected vehicle's panel beside the map, and selecting: the selection lives in the URL
//! (`#/fleet?vehicle=<id>`), so it is shareable and the back button undoes it.

use leptos::prelude::*;

use crate::model::fleet::Shown;
use crate::model::geo::format_lat_lon;
use crate::model::route::Route;
use crate::model::timeline::with_time;
use crate::store::{use_store, Store};

/// Selects a vehicle by putting it in the URL (so the selection is shareable), with the
/// moment shown when not live.
pub(super) fn select(store: Store, id: Option<&str>) {
    if let Some(window) = web_sys::window() {
        let href = Route::Fleet { vehicle: id.map(str::to_string) }.href();
        // The fleet's filters stay in the link (they are the store's too).
        let href = store
            .fleet_filter
            .with_untracked(|f| crate::model::filters::rewrite(&href, &crate::model::filters::fleet_params(f)));
        let time = store.timeline.with_untracked(|t| t.query(js_sys::Date::now() as i64));
        let _ = window.location().set_hash(&with_time(&href, &time));
    }
}

/// A distance in words: metres below a kilometre.
fn distance_text(metres: f64) -> String {
    if metres < 1_000.0 {
        format!("{metres:.0} m")
    } else {
        format!("{:.2} km", metres / 1_000.0)
    }
}

/// A duration in words: `1 h 02 min`, `3 min 05 s`, `12 s`.
fn duration_text(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, s) => format!("{s} s"),
        (0, m, s) => format!("{m} min {s:02} s"),
        (h, m, _) => format!("{h} h {m:02} min"),
    }
}

/// The selected vehicle's trip over the range replayed (only while not live).
fn trip_view(store: Store, data: ReadSignal<u64>) -> impl IntoView {
    move || {
        store.moment.get()?;
        data.track();
        let trip = store.replay.with_untracked(|r| r.trip().cloned())?;
        Some(view! {
            <section class="trip" data-testid="trip" aria-label="Trip over the range played">
                <h3>"Trip replayed"</h3>
                <dl>
                    <dt>"distance"</dt><dd data-testid="trip-distance" data-metres=format!("{:.0}", trip.distance_m)>{distance_text(trip.distance_m)}</dd>
                    <dt>"moving"</dt><dd data-testid="trip-moving" data-ms=trip.moving_ms.to_string()>{duration_text(trip.moving_ms)}</dd>
                    <dt>"stops"</dt><dd data-testid="trip-stops">{trip.stops}</dd>
                    <dt>"top speed"</dt><dd data-testid="trip-top-speed">{format!("{:.0} km/h", trip.top_speed)}</dd>
                    <dt>"over"</dt><dd data-testid="trip-span">{duration_text(trip.to - trip.from)}</dd>
                </dl>
            </section>
        })
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
    // Positions show at most four times a second (a replay moves the fleet every frame).
    let data = crate::panels::frame::paced(move || store.track_fleet(), std::time::Duration::from_millis(250));
    let details = move || {
        let id = selected.get()?;
        let now = store.shown_now();
        let stale_after = store.stale_after_ms.get();
        data.track();
        let found = store.with_fleet_untracked(|fleet| {
            let p = fleet.get(&id).cloned()?;
            let speeds: Vec<f64> = fleet.trail(&id).map(|t| t.speed).collect();
            let kind = fleet.kind(&id).map(|k| store.catalog.with_untracked(|c| super::kind_name(c, k)));
            Some((p, speeds, kind))
        });
        Some(match found {
            None => view! { <p data-testid="selection-missing">{format!("{id}: no position yet")}</p> }.into_any(),
            Some((p, speeds, kind)) => {
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
                        <dt>"kind"</dt><dd data-testid="selection-kind">{kind.unwrap_or_else(|| "–".into())}</dd>
                        <dt>"site"</dt><dd>{p.site.clone()}</dd>
                        <dt>"state"</dt>
                        <dd data-testid="selection-state" class=format!("state-{}", shown.as_str())>{state}</dd>
                        <dt>"speed"</dt><dd data-testid="selection-speed">{format!("{:.1} km/h", p.speed)}</dd>
                        <dt>"heading"</dt><dd>{format!("{:.0}°", p.heading)}</dd>
                        <dt>"position"</dt><dd class="mono" data-testid="selection-position">{format_lat_lon(p.lat, p.lon)}</dd>
                        <dt>"in fences"</dt>
                        <dd data-testid="selection-fences">{store.catalog.with(|c| {
                            let names: Vec<String> = c.geofences_at(p.lat, p.lon)
                                .map(|g| if g.name.is_empty() { g.id.clone() } else { g.name.clone() })
                                .collect();
                            if names.is_empty() { "none".to_string() } else { names.join(", ") }
                        })}</dd>
                        <dt>"last update"</dt><dd>{seen}</dd>
                        <dt>"alarms"</dt>
                        <dd>
                            <ul class="selection-alarms" data-testid="selection-alarms">
                                {store.with_alerts(|feed| {
                                    feed.iter()
                                        .filter(|e| e.alert.device == p.id && !e.over && e.isa() != crate::model::alerts::Isa::Normal)
                                        .take(10)
                                        .map(|e| view! {
                                            <li data-testid="selection-alarm" data-alert-id=e.alert.id.clone()>
                                                <a href=crate::panels::alert_list::alarm_href(&e.alert.id)>{e.alert.metric.clone()}</a>
                                                " "
                                                {crate::panels::alarm_actions::alarm_state(store, e)}
                                            </li>
                                        })
                                        .collect_view()
                                })}
                            </ul>
                        </dd>
                    </dl>
                    <figure class="speed-chart">
                        <svg class="spark" viewBox=format!("0 0 {SPEED_W} {SPEED_H}") role="img" data-testid="selection-speed-chart"
                            aria-label=format!("speed over the last {} reports, up to {top:.0} km/h", speeds.len())>
                            <polyline points=points />
                        </svg>
                        <figcaption>{format!("speed, last {} reports (max {top:.0} km/h)", speeds.len())}</figcaption>
                    </figure>
                    <button data-testid="clear-selection" on:click=move |_| select(store, None)>"Clear selection"</button>
                }
                .into_any()
            }
        })
    };
    view! {
        <aside class="selection" aria-label="Selected vehicle" data-testid="selection-panel">
            {move || details().unwrap_or_else(|| view! { <p class="empty">"Click a vehicle to select it."</p> }.into_any())}
            {trip_view(store, data)}
        </aside>
    }
}

//! A live table of vehicles: id, site, state, position, speed, heading. It lists what the map
//! shows (the same filter) and at most [`MAX_ROWS`] rows: a table of 10,000 rows rebuilt on
//! every batch would cost more than the whole map; the search finds the rest. New positions
//! show at most twice a second ([`paced`]); a change of filter shows at once.

use leptos::prelude::*;
use telemetry::Position;

use super::frame::paced;
use super::table::heading_row;
use crate::store::use_store;

/// Rows listed at most.
pub const MAX_ROWS: usize = 100;

#[component]
pub fn VehicleList() -> impl IntoView {
    let store = use_store();
    let data = paced(move || store.track_fleet(), std::time::Duration::from_millis(500));
    let count = move || {
        data.track();
        store.with_fleet_untracked(|f| f.len())
    };
    let matching = move || {
        data.track();
        store.with_fleet_untracked(|f| store.fleet_filter.with(|filter| f.filtered(filter).count()))
    };
    let rows = move || {
        data.track();
        store.with_fleet_untracked(|f| {
            store.fleet_filter.with(|filter| f.filtered(filter).take(MAX_ROWS).map(vehicle_row).collect_view())
        })
    };
    let shown_note = move || {
        let matching = matching();
        (matching > MAX_ROWS || matching < count())
            .then(|| format!("showing {} of {matching} matching the map's filter", matching.min(MAX_ROWS)))
    };
    view! {
        <section class="vehicle-list" aria-labelledby="vehicles-heading">
            <h2 id="vehicles-heading">
                "Vehicles " <span class="count" data-testid="vehicle-count">{count}</span>
            </h2>
            <p class="note" data-testid="vehicle-list-note">{shown_note}</p>
            <Show
                when=move || { count() > 0 }
                fallback=|| view! { <p class="empty">"Waiting for the first positions…"</p> }
            >
                <table>
                    <thead>{heading_row(&["Vehicle", "Site", "State", "Position"], &["Speed", "Heading"], None)}</thead>
                    <tbody>{rows}</tbody>
                </table>
            </Show>
        </section>
    }
}

/// One row; every value is set as text, never as HTML.
fn vehicle_row(p: &Position) -> impl IntoView + use<> {
    let state = p.state.as_str();
    view! {
        <tr data-testid="vehicle-row" data-vehicle-id=p.id.clone()>
            // A link: selecting a vehicle by keyboard too, and a new tab shows it selected.
            <th scope="row">
                <a href=crate::model::route::Route::Fleet { vehicle: Some(p.id.clone()) }.href() data-testid="vehicle-link">{p.id.clone()}</a>
            </th>
            <td>{p.site.clone()}</td>
            <td>
                <span class=format!("badge state-{state}")>{state}</span>
            </td>
            <td class="mono" data-testid="vehicle-position">{format!("{:.5}, {:.5}", p.lat, p.lon)}</td>
            <td class="num" data-testid="vehicle-speed">{format!("{:.1} km/h", p.speed)}</td>
            <td class="num">{format!("{:.0}°", p.heading)}</td>
        </tr>
    }
}

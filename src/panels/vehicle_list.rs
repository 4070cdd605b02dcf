//! A live table of vehicles: id, site, state, position, speed, heading.

use leptos::prelude::*;
use telemetry::Position;

use crate::store::use_store;

#[component]
pub fn VehicleList() -> impl IntoView {
    let store = use_store();
    let count = move || store.fleet.with(|f| f.len());
    let rows = move || store.fleet.with(|f| f.iter().map(vehicle_row).collect_view());
    view! {
        <section class="vehicle-list" aria-labelledby="vehicles-heading">
            <h2 id="vehicles-heading">
                "Vehicles " <span class="count" data-testid="vehicle-count">{count}</span>
            </h2>
            <Show
                when=move || { count() > 0 }
                fallback=|| view! { <p class="empty">"Waiting for the first positions…"</p> }
            >
                <table>
                    <thead>
                        <tr>
                            <th scope="col">"Vehicle"</th>
                            <th scope="col">"Site"</th>
                            <th scope="col">"State"</th>
                            <th scope="col">"Position"</th>
                            <th scope="col" class="num">"Speed"</th>
                            <th scope="col" class="num">"Heading"</th>
                        </tr>
                    </thead>
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
            <th scope="row">{p.id.clone()}</th>
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

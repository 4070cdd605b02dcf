//! The controls above the fleet map: fit, follow, trails, and the filter the map shares with the
//! vehicle table (site, state, id search), which lives in the store for that reason.

use leptos::prelude::*;
use telemetry::VehicleState;

use crate::model::catalog::site_name;
use crate::panels::choice::choice;
use crate::store::use_store;

/// Fit, follow, trails for all, and the fleet filter.
#[component]
pub fn MapToolbar(
    /// Moves the view to show every vehicle the filter passes.
    on_fit: Callback<()>,
    /// Whether the view keeps the selected vehicle in the centre.
    follow: RwSignal<bool>,
    /// Whether every vehicle's trail is drawn, not only the selected one's.
    trails_for_all: RwSignal<bool>,
    /// Whether vehicles close together gather into clusters at low zoom.
    clusters: RwSignal<bool>,
) -> impl IntoView {
    let store = use_store();
    // Each site the fleet reports from, by the name the catalog gives it (its id otherwise).
    let sites = Memo::new(move |_| {
        let ids = store.fleet.with(|fleet| fleet.sites());
        store.catalog.with(|catalog| ids.into_iter().map(|id| (site_name(catalog, &id), id)).collect::<Vec<_>>())
    });
    view! {
        <div class="map-toolbar">
            <button data-testid="fit-fleet" on:click=move |_| on_fit.run(())>"Fit fleet"</button>
            <label>
                <input type="checkbox" data-testid="follow" prop:checked=move || follow.get()
                    on:change=move |ev| follow.set(event_target_checked(&ev)) />
                " follow the selected vehicle"
            </label>
            <label>
                <input type="checkbox" data-testid="trails-all" prop:checked=move || trails_for_all.get()
                    on:change=move |ev| trails_for_all.set(event_target_checked(&ev)) />
                " trails for all"
            </label>
            <label title="below zoom 15, when more than 1,000 vehicles are in view">
                <input type="checkbox" data-testid="clusters" prop:checked=move || clusters.get()
                    on:change=move |ev| clusters.set(event_target_checked(&ev)) />
                " clusters"
            </label>
            <label>
                "site "
                <select data-testid="filter-site" on:change=move |ev| {
                    let value = event_target_value(&ev);
                    store.fleet_filter.update(|f| f.site = (!value.is_empty()).then_some(value));
                }>
                    <option value="">"all"</option>
                    {move || sites.get().into_iter().map(|(name, id)| {
                        let chosen = store.fleet_filter.with(|f| f.site.as_deref() == Some(id.as_str()));
                        view! { <option value=id selected=chosen>{name}</option> }
                    }).collect_view()}
                </select>
            </label>
            {choice("state", "filter-state", &["moving", "idle", "stopped"],
                move || store.fleet_filter.with(|f| f.state.map_or("", |s| s.as_str())), move |value| {
                let state = match value {
                    "moving" => Some(VehicleState::Moving),
                    "idle" => Some(VehicleState::Idle),
                    "stopped" => Some(VehicleState::Stopped),
                    _ => None,
                };
                store.fleet_filter.update(|f| f.state = state);
            })}
            <input type="search" placeholder="Vehicle id" aria-label="Search vehicles by id" data-testid="filter-query"
                prop:value=move || store.fleet_filter.with(|f| f.query.clone())
                on:input=move |ev| store.fleet_filter.update(|f| f.query = event_target_value(&ev)) />
        </div>
    }
}

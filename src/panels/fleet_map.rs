//! The live fleet map: one `FleetMap` driven by the fleet state (not a component per marker),
//! Leaflet with its canvas renderer, markers coloured by state, updated at most once per
//! animation frame. No tile server is needed: vehicles are drawn on a plain background with a
//! scale, and the map says that tiles are unavailable.

use std::collections::HashMap;

use leaflet::{CircleMarker, LatLng, LatLngBounds, Map, MapOptions};
use leptos::html::Div;
use leptos::prelude::*;
use telemetry::VehicleState;
use wasm_bindgen::{JsCast, JsValue};

use crate::model::fleet::FleetFilter;
use crate::store::use_store;

fn colour(state: VehicleState) -> &'static str {
    match state {
        VehicleState::Moving => "#3fb950",
        VehicleState::Idle => "#d29922",
        VehicleState::Stopped => "#8b98a5",
    }
}

/// Leaflet path options for a vehicle marker.
fn marker_options(state: VehicleState) -> JsValue {
    let options = js_sys::Object::new();
    let set = |key: &str, value: JsValue| {
        let _ = js_sys::Reflect::set(&options, &key.into(), &value);
    };
    set("radius", 5.0.into());
    set("weight", 1.0.into());
    set("color", "#0f1419".into());
    set("fillColor", colour(state).into());
    set("fillOpacity", 0.9.into());
    options.into()
}

/// The map and its markers, kept outside the reactive graph (they are JS objects).
struct MapState {
    map: Map,
    markers: HashMap<String, (CircleMarker, VehicleState)>,
}

#[component]
pub fn FleetMap() -> impl IntoView {
    let store = use_store();
    let node = NodeRef::<Div>::new();
    let state: StoredValue<Option<MapState>, LocalStorage> = StoredValue::new_local(None);
    let problem = RwSignal::new(None::<String>);
    let on_map = RwSignal::new(0usize);
    let fitted = StoredValue::new(false);

    // Create the map once its element exists.
    Effect::new(move |_| {
        let Some(element) = node.get() else { return };
        if state.with_value(|s| s.is_some()) {
            return;
        }
        let options = MapOptions::new();
        options.set_prefer_canvas(true);
        options.set_attribution_control(false);
        match Map::new_with_element(&element, &options) {
            Ok(map) => {
                map.set_view(&LatLng::new(47.3769, 8.5417), 13.0);
                state.set_value(Some(MapState { map, markers: HashMap::new() }));
            }
            Err(error) => problem.set(Some(format!(
                "the map could not start ({}); is vendor/leaflet/leaflet.js served?",
                error.as_string().unwrap_or_else(|| "Leaflet is missing".into())
            ))),
        }
    });
    on_cleanup(move || {
        state.update_value(|s| {
            if let Some(s) = s.take() {
                s.map.remove();
            }
        })
    });

    // Apply positions at most once per animation frame.
    let scheduled = StoredValue::new(false);
    Effect::new(move |_| {
        store.fleet.track();
        if scheduled.get_value() {
            return;
        }
        scheduled.set_value(true);
        request_animation_frame(move || {
            scheduled.set_value(false);
            let filter = FleetFilter::default();
            let count = store.fleet.with_untracked(|fleet| {
                state.update_value(|s| {
                    let Some(s) = s else { return };
                    let mut seen = 0;
                    for p in fleet.filtered(&filter) {
                        seen += 1;
                        let at = LatLng::new(p.lat, p.lon);
                        match s.markers.get_mut(&p.id) {
                            Some((marker, drawn)) => {
                                marker.set_lat_lng(&at);
                                if *drawn != p.state {
                                    marker.unchecked_ref::<leaflet::Path>().set_style(&marker_options(p.state).into());
                                    *drawn = p.state;
                                }
                            }
                            None => {
                                let marker = CircleMarker::new_with_options(&at, &marker_options(p.state));
                                marker.unchecked_ref::<leaflet::Layer>().add_to(&s.map);
                                s.markers.insert(p.id.clone(), (marker, p.state));
                            }
                        }
                    }
                    if !fitted.get_value() && seen > 0 {
                        if let Some(((south, west), (north, east))) = fleet.bounds(&filter) {
                            s.map.fit_bounds(&LatLngBounds::new(&LatLng::new(south, west), &LatLng::new(north, east)));
                            fitted.set_value(true);
                        }
                    }
                });
                state.with_value(|s| s.as_ref().map_or(0, |s| s.markers.len()))
            });
            on_map.set(count);
        });
    });

    view! {
        <section class="fleet-map-panel" aria-label="Fleet map">
            <div class="fleet-map" node_ref=node data-testid="fleet-map"></div>
            <p class="map-notes">
                <span data-testid="map-vehicle-count">{move || on_map.get()}</span>
                " vehicles on the map · map tiles unavailable: vehicles are drawn on a plain background"
                <span class="error" data-testid="map-problem">{move || problem.get()}</span>
            </p>
        </section>
    }
}

//! The live fleet map: one `FleetMap` driven by the fleet state (not a component per marker),
//! Leaflet with its canvas renderer, markers coloured by state, updated at most once per
//! animation frame. No tile server is needed: vehicles are drawn on a plain background with a
//! scale, and the map says that tiles are unavailable.

use std::collections::HashMap;

use leaflet::{CircleMarker, LatLng, LatLngBounds, Map, MapOptions, Polyline};
use leptos::html::Div;
use leptos::prelude::*;
use telemetry::VehicleState;
use wasm_bindgen::{JsCast, JsValue};

use crate::model::fleet::FleetFilter;
use crate::model::route::Route;
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

/// A vehicle's marker, the state it is drawn in, and its click handler (kept alive with it).
type MarkerEntry = (CircleMarker, VehicleState, wasm_bindgen::closure::Closure<dyn FnMut()>);

/// The map and its markers, kept outside the reactive graph (they are JS objects).
struct MapState {
    map: Map,
    markers: HashMap<String, MarkerEntry>,
    /// The selected vehicle's trail.
    trail: Option<Polyline>,
}

/// Selects a vehicle by putting it in the URL (so the selection is shareable).
fn select(id: &str) {
    if let Some(window) = web_sys::window() {
        let _ = window.location().set_hash(&Route::Fleet { vehicle: Some(id.to_string()) }.href());
    }
}

/// `<`, `>`, `&` and quotes as entities.
fn escape_html(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '&' => "&amp;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&#39;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// Adds Leaflet's scale control (`L.control.scale().addTo(map)`; leaflet-rs has no binding).
fn add_scale(map: &Map) -> Result<(), JsValue> {
    let leaflet = js_sys::Reflect::get(&js_sys::global(), &"L".into())?;
    let control = js_sys::Reflect::get(&leaflet, &"control".into())?;
    let scale: js_sys::Function = js_sys::Reflect::get(&control, &"scale".into())?.dyn_into()?;
    let options = js_sys::Object::new();
    js_sys::Reflect::set(&options, &"imperial".into(), &false.into())?;
    let instance = scale.call1(&control, &options)?;
    let add_to: js_sys::Function = js_sys::Reflect::get(&instance, &"addTo".into())?.dyn_into()?;
    add_to.call1(&instance, map)?;
    Ok(())
}

/// Drops Leaflet's own "Leaflet" link from the attribution control (only tile credits remain).
fn remove_attribution_prefix(map: &Map) {
    let control = js_sys::Reflect::get(map, &"attributionControl".into()).ok();
    let set_prefix = control
        .as_ref()
        .and_then(|c| js_sys::Reflect::get(c, &"setPrefix".into()).ok())
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
    if let (Some(control), Some(set_prefix)) = (control, set_prefix) {
        let _ = set_prefix.call1(&control, &false.into());
    }
}

fn lat_lngs(points: impl Iterator<Item = (f64, f64)>) -> js_sys::Array {
    points.map(|(lat, lon)| JsValue::from(LatLng::new(lat, lon))).collect()
}

#[component]
pub fn FleetMap() -> impl IntoView {
    let store = use_store();
    let node = NodeRef::<Div>::new();
    let state: StoredValue<Option<MapState>, LocalStorage> = StoredValue::new_local(None);
    let problem = RwSignal::new(None::<String>);
    // None: no tile layer yet; Some(true): tiles load; Some(false): a tile failed.
    let tiles_ok = RwSignal::new(None::<bool>);
    let tile_handlers: StoredValue<Vec<wasm_bindgen::closure::Closure<dyn FnMut()>>, LocalStorage> =
        StoredValue::new_local(Vec::new());
    let on_map = RwSignal::new(0usize);
    let fitted = StoredValue::new(false);
    let selected = Memo::new(move |_| match store.route.get() {
        Route::Fleet { vehicle } => vehicle,
        _ => None,
    });
    let follow = RwSignal::new(false);
    let filter = RwSignal::new(FleetFilter::default());

    // Create the map once its element exists.
    Effect::new(move |_| {
        let Some(element) = node.get() else { return };
        if state.with_value(|s| s.is_some()) {
            return;
        }
        let options = MapOptions::new();
        options.set_prefer_canvas(true);
        // Attribution is shown only for a configured tile layer (Leaflet's own prefix removed).
        options.set_attribution_control(true);
        match Map::new_with_element(&element, &options) {
            Ok(map) => {
                map.set_view(&LatLng::new(47.3769, 8.5417), 13.0);
                remove_attribution_prefix(&map);
                if add_scale(&map).is_err() {
                    web_sys::console::warn_1(&"fleet map: no scale control".into());
                }
                state.set_value(Some(MapState { map, markers: HashMap::new(), trail: None }));
            }
            Err(error) => problem.set(Some(format!(
                "the map could not start ({}); is vendor/leaflet/leaflet.js served?",
                error.as_string().unwrap_or_else(|| "Leaflet is missing".into())
            ))),
        }
    });
    // Add the configured tile layer once the map and the config are both there.
    Effect::new(move |added: Option<bool>| {
        let ready = state.with_value(|s| s.is_some());
        let tiles = store.tiles.get();
        node.track();
        if added == Some(true) || !ready {
            return added.unwrap_or(false);
        }
        let Some(tiles) = tiles else { return false };
        let options = leaflet::TileLayerOptions::new();
        // Leaflet renders attributions as HTML: escape it so the config's text stays text.
        options.set_attribution(escape_html(&tiles.attribution));
        let layer = leaflet::TileLayer::new_options(&tiles.url, &options);
        let on_error = wasm_bindgen::closure::Closure::<dyn FnMut()>::new(move || tiles_ok.set(Some(false)));
        let on_load = wasm_bindgen::closure::Closure::<dyn FnMut()>::new(move || tiles_ok.set(Some(true)));
        layer.unchecked_ref::<leaflet::Evented>().on("tileerror", on_error.as_ref());
        layer.unchecked_ref::<leaflet::Evented>().on("tileload", on_load.as_ref());
        tile_handlers.update_value(|h| h.extend([on_error, on_load]));
        state.with_value(|s| {
            if let Some(s) = s {
                layer.unchecked_ref::<leaflet::Layer>().add_to(&s.map);
            }
        });
        true
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
        selected.track();
        follow.track();
        filter.track();
        if scheduled.get_value() {
            return;
        }
        scheduled.set_value(true);
        request_animation_frame(move || {
            scheduled.set_value(false);
            let filter = filter.get_untracked();
            let count = store.fleet.with_untracked(|fleet| {
                state.update_value(|s| {
                    let Some(s) = s else { return };
                    let mut seen = 0;
                    let visible: std::collections::HashSet<&str> =
                        fleet.filtered(&filter).map(|p| p.id.as_str()).collect();
                    s.markers.retain(|id, (marker, _, _)| {
                        let keep = visible.contains(id.as_str());
                        if !keep {
                            marker.unchecked_ref::<leaflet::Layer>().remove();
                        }
                        keep
                    });
                    for p in fleet.filtered(&filter) {
                        seen += 1;
                        let at = LatLng::new(p.lat, p.lon);
                        match s.markers.get_mut(&p.id) {
                            Some((marker, drawn, _)) => {
                                marker.set_lat_lng(&at);
                                if *drawn != p.state {
                                    marker.unchecked_ref::<leaflet::Path>().set_style(&marker_options(p.state).into());
                                    *drawn = p.state;
                                }
                            }
                            None => {
                                let marker = CircleMarker::new_with_options(&at, &marker_options(p.state));
                                marker.unchecked_ref::<leaflet::Layer>().add_to(&s.map);
                                let id = p.id.clone();
                                let on_click = wasm_bindgen::closure::Closure::<dyn FnMut()>::new(move || select(&id));
                                marker.unchecked_ref::<leaflet::Evented>().on("click", on_click.as_ref());
                                s.markers.insert(p.id.clone(), (marker, p.state, on_click));
                            }
                        }
                    }
                    // The selected vehicle: its trail, and the view following it when asked.
                    if let Some(trail) = s.trail.take() {
                        trail.unchecked_ref::<leaflet::Layer>().remove();
                    }
                    if let Some(id) = selected.get_untracked() {
                        let points = lat_lngs(fleet.trail(&id));
                        if points.length() > 1 {
                            let options = js_sys::Object::new();
                            let _ = js_sys::Reflect::set(&options, &"color".into(), &"#58a6ff".into());
                            let _ = js_sys::Reflect::set(&options, &"weight".into(), &3.0.into());
                            let trail = Polyline::new_with_options(&points, &JsValue::from(options).into());
                            trail.unchecked_ref::<leaflet::Layer>().add_to(&s.map);
                            s.trail = Some(trail);
                        }
                        if follow.get_untracked() {
                            if let Some(p) = fleet.get(&id) {
                                s.map.set_view(&LatLng::new(p.lat, p.lon), s.map.get_zoom());
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

    let fit_fleet = move |_| {
        let bounds = store.fleet.with_untracked(|fleet| fleet.bounds(&filter.get_untracked()));
        state.with_value(|s| {
            if let (Some(s), Some(((south, west), (north, east)))) = (s, bounds) {
                s.map.fit_bounds(&LatLngBounds::new(&LatLng::new(south, west), &LatLng::new(north, east)));
            }
        });
        follow.set(false);
    };
    // Where the map looks (lags the last move by one update, which is once a second).
    let centre = move || {
        store.fleet.track();
        state.with_value(|s| {
            s.as_ref()
                .map(|s| {
                    let c = s.map.get_center();
                    format!("{:.5}, {:.5}", c.lat(), c.lng())
                })
                .unwrap_or_default()
        })
    };
    view! {
        <section class="fleet-map-panel" aria-label="Fleet map">
            <div class="map-toolbar">
                <button data-testid="fit-fleet" on:click=fit_fleet>"Fit fleet"</button>
                <label>
                    <input type="checkbox" data-testid="follow" prop:checked=move || follow.get()
                        on:change=move |ev| follow.set(event_target_checked(&ev)) />
                    " follow the selected vehicle"
                </label>
                <label>
                    "site "
                    <select data-testid="filter-site" on:change=move |ev| {
                        let value = event_target_value(&ev);
                        filter.update(|f| f.site = (!value.is_empty()).then_some(value));
                    }>
                        <option value="">"all"</option>
                        {move || store.fleet.with(|fleet| fleet.sites()).into_iter().map(|site| view! { <option value=site.clone()>{site.clone()}</option> }).collect_view()}
                    </select>
                </label>
                <label>
                    "state "
                    <select data-testid="filter-state" on:change=move |ev| {
                        let state = match event_target_value(&ev).as_str() {
                            "moving" => Some(VehicleState::Moving),
                            "idle" => Some(VehicleState::Idle),
                            "stopped" => Some(VehicleState::Stopped),
                            _ => None,
                        };
                        filter.update(|f| f.state = state);
                    }>
                        <option value="">"all"</option>
                        <option value="moving">"moving"</option>
                        <option value="idle">"idle"</option>
                        <option value="stopped">"stopped"</option>
                    </select>
                </label>
                <input type="search" placeholder="Vehicle id" aria-label="Search vehicles by id" data-testid="filter-query"
                    on:input=move |ev| filter.update(|f| f.query = event_target_value(&ev)) />
                <span class="centre">"map centre " <span data-testid="map-centre">{centre}</span></span>
            </div>
            <div class="fleet-map" node_ref=node data-testid="fleet-map"></div>
            <p class="map-notes">
                <span data-testid="map-vehicle-count">{move || on_map.get()}</span>
                " vehicles on the map"
                <span data-testid="tiles-note">
                    {move || match (store.tiles.with(|t| t.is_some()), tiles_ok.get()) {
                        (false, _) => " · no tile server configured: vehicles are drawn on a plain background",
                        (true, Some(false)) => " · map tiles unavailable: vehicles are drawn on a plain background",
                        (true, _) => "",
                    }}
                </span>
                <span class="error" data-testid="map-problem">{move || problem.get()}</span>
            </p>
            <SelectionPanel selected=selected />
        </section>
    }
}

/// The selected vehicle as text: id, site, state (a word, not only a colour), speed, heading,
/// position and when it last reported.
#[component]
fn SelectionPanel(
    /// The selected vehicle id.
    #[prop(into)]
    selected: Signal<Option<String>>,
) -> impl IntoView {
    let store = use_store();
    let details = move || {
        let id = selected.get()?;
        let p = store.fleet.with(|fleet| fleet.get(&id).cloned());
        Some(match p {
            None => view! { <p data-testid="selection-missing">{format!("{id}: no position yet")}</p> }.into_any(),
            Some(p) => {
                let date = js_sys::Date::new(&(p.ts as f64).into());
                let seen = format!("{:02}:{:02}:{:02}", date.get_hours(), date.get_minutes(), date.get_seconds());
                view! {
                    <dl>
                        <dt>"vehicle"</dt><dd data-testid="selection-id">{p.id.clone()}</dd>
                        <dt>"site"</dt><dd>{p.site.clone()}</dd>
                        <dt>"state"</dt><dd data-testid="selection-state">{p.state.as_str()}</dd>
                        <dt>"speed"</dt><dd>{format!("{:.1} km/h", p.speed)}</dd>
                        <dt>"heading"</dt><dd>{format!("{:.0}°", p.heading)}</dd>
                        <dt>"position"</dt><dd data-testid="selection-position">{format!("{:.5}, {:.5}", p.lat, p.lon)}</dd>
                        <dt>"last update"</dt><dd>{seen}</dd>
                    </dl>
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

//! The live fleet map: one `FleetMap` driven by the fleet state (not a component per marker).
//! Leaflet pans, zooms and shows tiles; the vehicles are drawn by [`fleet_canvas`] on one canvas
//! inside the map, at most once per animation frame and only when something changed. No tile
//! server is needed: vehicles are drawn on a plain background with a scale and coordinates, and
//! the map says that tiles are unavailable.

use leaflet::{LatLng, LatLngBounds, Map, MapOptions};
use leptos::html::Div;
use leptos::prelude::*;
use telemetry::VehicleState;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

use super::choice::choice;
use super::fleet_canvas::{self, Scene, PICK_RADIUS};
use super::pace::throttle;
use crate::model::fleet::{FleetState, Shown};
use crate::model::geo::{format_lat_lon, nearest, Viewport};
use crate::model::route::Route;
use crate::store::{use_store, Store};

/// Shortest time between two redraws caused by new positions (ms).
const DATA_REDRAW_MS: f64 = 100.0;

/// The map and the fleet canvas, kept outside the reactive graph (they are JS objects).
struct MapState {
    map: Map,
    canvas: HtmlCanvasElement,
    ctx: CanvasRenderingContext2d,
    layer: fleet_canvas::Layer,
}

/// Selects a vehicle by putting it in the URL (so the selection is shareable).
fn select(id: Option<&str>) {
    if let Some(window) = web_sys::window() {
        let _ = window.location().set_hash(&Route::Fleet { vehicle: id.map(str::to_string) }.href());
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

/// The canvas the fleet is drawn on, inside the map container: above the tiles and Leaflet's
/// panes, below its controls, and transparent to the pointer (the map handles clicks).
fn fleet_canvas(container: &web_sys::HtmlElement) -> Result<(HtmlCanvasElement, CanvasRenderingContext2d), JsValue> {
    let document = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let canvas: HtmlCanvasElement = document.create_element("canvas")?.dyn_into()?;
    canvas.set_class_name("fleet-canvas");
    canvas.set_attribute("data-testid", "fleet-canvas")?;
    canvas.set_attribute("aria-hidden", "true")?;
    container.append_child(&canvas)?;
    let ctx = canvas.get_context("2d")?.ok_or("no 2d context")?.dyn_into::<CanvasRenderingContext2d>()?;
    Ok((canvas, ctx))
}

fn viewport(map: &Map) -> Viewport {
    let centre = map.get_center();
    let size = map.get_size();
    Viewport { centre: (centre.lat(), centre.lng()), zoom: map.get_zoom(), width: size.x(), height: size.y() }
}

fn fit(map: &Map, ((south, west), (north, east)): ((f64, f64), (f64, f64))) {
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"padding".into(), &js_sys::Array::of2(&24.into(), &24.into()));
    let _ = js_sys::Reflect::set(&options, &"maxZoom".into(), &16.into());
    map.fit_bounds_with_options(&LatLngBounds::new(&LatLng::new(south, west), &LatLng::new(north, east)), &options);
}

/// The vehicle under a container point, of those the filter passes.
fn pick(store: Store, view: &Viewport, at: (f64, f64)) -> Option<String> {
    let to_screen = view.to_screen();
    store.fleet.with_untracked(|fleet| {
        store.fleet_filter.with_untracked(|filter| {
            nearest(fleet.filtered(filter).map(|p| (p, to_screen(p.lat, p.lon))), at, PICK_RADIUS).map(|p| p.id.clone())
        })
    })
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
    let centre = RwSignal::new(None::<(f64, f64)>);
    let zoom = RwSignal::new(None::<f64>);
    let cursor = RwSignal::new(None::<(f64, f64)>);
    let hovered = RwSignal::new(None::<String>);
    let fitted = StoredValue::new(false);
    // Where the followed vehicle was when the view last moved to it.
    let followed = StoredValue::new(None::<(f64, f64)>);
    let selected = Memo::new(move |_| match store.route.get() {
        Route::Fleet { vehicle } => vehicle,
        _ => None,
    });
    let follow = RwSignal::new(false);
    let trails_for_all = RwSignal::new(false);
    let scheduled = StoredValue::new(false);
    // When the last frame was drawn, and whether a data redraw is waiting for its turn.
    let last_draw = StoredValue::new(0.0f64);
    let data_pending = StoredValue::new(false);

    // One frame: follow, fit once, then draw the scene. Runs from requestAnimationFrame, so
    // it checks that the component still exists.
    let draw_frame = move || {
        if state.is_disposed() {
            return;
        }
        scheduled.set_value(false);
        last_draw.set_value(js_sys::Date::now());
        let drawn = state.try_update_value(|s| {
            let s = s.as_mut()?;
            let selected = selected.get_untracked();
            store.fleet.with_untracked(|fleet: &FleetState| {
                let filter = store.fleet_filter.get_untracked();
                if let Some(p) = selected.as_deref().and_then(|id| fleet.get(id)).filter(|_| follow.get_untracked()) {
                    if followed.get_value() != Some((p.lat, p.lon)) {
                        s.map.pan_to(&LatLng::new(p.lat, p.lon));
                        followed.set_value(Some((p.lat, p.lon)));
                    }
                }
                if !fitted.get_value() {
                    if let Some(bounds) = fleet.bounds(&filter) {
                        fit(&s.map, bounds);
                        fitted.set_value(true);
                    }
                }
                let view = viewport(&s.map);
                let scale = web_sys::window().map(|w| w.device_pixel_ratio()).unwrap_or(1.0).max(1.0);
                let (width, height) = ((view.width * scale).round() as u32, (view.height * scale).round() as u32);
                if s.canvas.width() != width || s.canvas.height() != height {
                    s.canvas.set_width(width);
                    s.canvas.set_height(height);
                }
                let hovered = hovered.get_untracked();
                let scene = Scene {
                    fleet,
                    filter: &filter,
                    selected: selected.as_deref(),
                    hovered: hovered.as_deref(),
                    trails_for_all: trails_for_all.get_untracked(),
                    now: js_sys::Date::now() as i64,
                    stale_after_ms: store.stale_after_ms.get_untracked(),
                };
                Some((fleet_canvas::draw(&s.ctx, &view, scale, &scene, &mut s.layer), view.centre, view.zoom))
            })
        });
        if let Some(Some((count, at, level))) = drawn {
            if zoom.get_untracked() != Some(level) {
                zoom.set(Some(level));
            }
            if on_map.get_untracked() != count {
                on_map.set(count);
            }
            if centre.get_untracked() != Some(at) {
                centre.set(Some(at));
            }
        }
    };
    let schedule = move || {
        if scheduled.try_get_value() != Some(false) {
            return;
        }
        scheduled.set_value(true);
        request_animation_frame(draw_frame);
    };
    // New positions redraw at most every DATA_REDRAW_MS: vehicles report once a second or so,
    // and drawing 10,000 of them every frame would take the frame budget from everything else.
    // Panning, zooming, hovering and selecting still redraw at the next frame.
    let schedule_data = move || throttle(data_pending, last_draw, DATA_REDRAW_MS, schedule);

    // Create the map once its element exists.
    Effect::new(move |_| {
        let Some(element) = node.get() else { return };
        if state.with_value(|s| s.is_some()) {
            return;
        }
        let options = MapOptions::new();
        // The fleet canvas is redrawn for the new view; Leaflet's zoom animation would scale
        // the tiles under it for a quarter second while the vehicles stay put.
        options.set_zoom_animation(false);
        options.set_attribution_control(true);
        let map = match Map::new_with_element(&element, &options) {
            Ok(map) => map,
            Err(error) => {
                problem.set(Some(format!(
                    "the map could not start ({}); is vendor/leaflet/leaflet.js served?",
                    error.as_string().unwrap_or_else(|| "Leaflet is missing".into())
                )));
                return;
            }
        };
        map.set_view(&LatLng::new(47.3769, 8.5417), 13.0);
        remove_attribution_prefix(&map);
        if add_scale(&map).is_err() {
            web_sys::console::warn_1(&"fleet map: no scale control".into());
        }
        let (canvas, ctx) = match fleet_canvas(&element) {
            Ok(parts) => parts,
            Err(_) => {
                problem.set(Some("the fleet canvas could not be created".into()));
                return;
            }
        };
        for redraw in ["move", "zoom", "resize", "viewreset"] {
            let closure = wasm_bindgen::closure::Closure::<dyn Fn()>::new(schedule);
            map.on(redraw, &closure.into_js_value());
        }
        map.on_mouse_click(Box::new(move |event| {
            let point = event.container_point();
            let view = state.with_value(|s| s.as_ref().map(|s| viewport(&s.map)));
            if let Some(view) = view {
                if let Some(id) = pick(store, &view, (point.x(), point.y())) {
                    select(Some(&id));
                }
            }
        }));
        // The closures handed to Leaflet must not hold the map's element: wasm-bindgen keeps
        // what a live closure captures as a GC root, the element reaches the map and the map
        // its handlers, so the closure would never be collected and every map ever mounted
        // (its whole DOM) would stay in memory. The element is looked up when needed instead.
        map.on_mouse_move(Box::new(move |event| {
            let at = event.lat_lng();
            cursor.set(Some((at.lat(), at.lng())));
            let point = event.container_point();
            let view = state.with_value(|s| s.as_ref().map(|s| viewport(&s.map)));
            let under = view.and_then(|view| pick(store, &view, (point.x(), point.y())));
            if hovered.get_untracked() != under {
                if let Some(container) = node.get_untracked() {
                    let html: &web_sys::HtmlElement = &container;
                    let _ = html.style().set_property("cursor", if under.is_some() { "pointer" } else { "" });
                }
                hovered.set(under);
            }
        }));
        map.on_mouse_out(Box::new(move |_| {
            cursor.set(None);
            hovered.set(None);
        }));
        state.set_value(Some(MapState { map, canvas, ctx, layer: fleet_canvas::Layer::default() }));
        schedule();
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

    // New data (and the clock: vehicles turn stale) redraws at a measured pace.
    Effect::new(move |_| {
        store.fleet.track();
        store.clock.track();
        schedule_data();
    });
    // What the operator does redraws at the next frame.
    Effect::new(move |_| {
        store.fleet_filter.track();
        store.stale_after_ms.track();
        // Read, not only tracked: a memo is recomputed (and so subscribed again) when read.
        selected.with(|_| ());
        follow.track();
        trails_for_all.track();
        hovered.track();
        schedule();
    });
    Effect::new(move |_| {
        if follow.get() {
            followed.set_value(None);
        }
    });

    let fit_fleet = move |_| {
        let bounds = store.fleet.with_untracked(|fleet| store.fleet_filter.with_untracked(|f| fleet.bounds(f)));
        state.with_value(|s| {
            if let (Some(s), Some(bounds)) = (s, bounds) {
                fit(&s.map, bounds);
            }
        });
        follow.set(false);
    };
    let sites = Memo::new(move |_| store.fleet.with(|fleet| fleet.sites()));
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
                    <input type="checkbox" data-testid="trails-all" prop:checked=move || trails_for_all.get()
                        on:change=move |ev| trails_for_all.set(event_target_checked(&ev)) />
                    " trails for all"
                </label>
                <label>
                    "site "
                    <select data-testid="filter-site" on:change=move |ev| {
                        let value = event_target_value(&ev);
                        store.fleet_filter.update(|f| f.site = (!value.is_empty()).then_some(value));
                    }>
                        <option value="">"all"</option>
                        {move || sites.get().into_iter().map(|site| view! { <option value=site.clone()>{site.clone()}</option> }).collect_view()}
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
            <div class="fleet-map" node_ref=node data-testid="fleet-map"></div>
            <p class="map-notes">
                <span data-testid="map-vehicle-count">{move || on_map.get()}</span>
                " vehicles on the map · centre "
                <span class="mono" data-testid="map-centre">{move || centre.get().map(|(lat, lon)| format_lat_lon(lat, lon))}</span>
                " · zoom "
                <span data-testid="map-zoom">{move || zoom.get().map(|z| format!("{z}"))}</span>
                " · pointer "
                <span class="mono" data-testid="map-cursor">
                    {move || cursor.get().map_or_else(|| "–".to_string(), |(lat, lon)| format_lat_lon(lat, lon))}
                </span>
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

/// Speed chart size in the selection panel.
const SPEED_W: f64 = 160.0;
const SPEED_H: f64 = 36.0;

/// The selected vehicle as text: id, site, state (a word, not only a colour), speed, heading,
/// position, when it last reported, and its speed over the trail.
#[component]
fn SelectionPanel(
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

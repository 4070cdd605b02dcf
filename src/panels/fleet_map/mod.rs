//! The live fleet map: one `FleetMap` driven by the fleet state (not a component per marker).
//! Leaflet pans, zooms and shows tiles ([`glue`]); the vehicles are drawn by [`fleet_canvas`] on
//! one canvas inside the map, at most once per animation frame and only when something changed.
//! No tile server is needed: vehicles are drawn on a plain background with a scale and
//! coordinates, and the map says that tiles are unavailable ([`notes`]).

mod basemap;
pub mod fleet_canvas;
mod glue;
pub mod legend;
pub mod notes;
pub mod raster;
pub mod selection;
pub mod toolbar;

use std::time::Duration;

use leaflet::LatLng;
use leptos::html::Div;
use leptos::prelude::*;
use wasm_bindgen::closure::Closure;

use self::fleet_canvas::{Scene, PICK_RADIUS};
use self::glue::{fit, viewport, MapState};
use self::legend::MapLegend;
use self::notes::{MapNotes, Readout};
use self::selection::{select, SelectionPanel};
use self::toolbar::MapToolbar;
use super::frame::{fit_canvas, use_frame_scheduler, FrameScheduler};
use crate::live::alerts::refusal;
use crate::model::fleet::{FleetState, Shape};
use crate::model::geo::{nearest, Viewport};
use crate::model::route::Route;
use crate::store::{use_store, Store};

thread_local! {
    /// The clusters of the last frame drawn (count, container x and y, the count per state), and
    /// how many vehicles in view were drawn as themselves; `window.dashboardClusters()` reads them.
    static DRAWN_CLUSTERS: std::cell::RefCell<Drawn> = const { std::cell::RefCell::new(Drawn { clusters: Vec::new(), singles: 0, selected_alone: false, selected: None }) };
}

/// What the last frame drew, for the probe.
struct Drawn {
    /// Count, x, y and the count per state of each cluster.
    clusters: Vec<(u32, f64, f64, [u32; 4])>,
    /// Vehicles in view drawn as themselves.
    singles: usize,
    /// Whether the selected vehicle was drawn as itself.
    selected_alone: bool,
    /// Where the selected vehicle was drawn (container pixels), its shape and heading.
    selected: Option<((f64, f64), Shape, f64)>,
}

/// `window.dashboardClusters()`: `{clusters: [[count, x, y, moving, idle, stopped, stale]],
/// singles, selectedAlone, selected}` of the last frame drawn (x and y in the map's container
/// pixels; whether the selected vehicle was drawn as itself; `selected`: `[x, y, shape,
/// heading]` where it was drawn and as what, or null).
fn install_cluster_probe() {
    use wasm_bindgen::JsValue;
    let Some(window) = web_sys::window() else { return };
    let probe = Closure::<dyn Fn() -> JsValue>::new(|| {
        let rows = js_sys::Array::new();
        let answer = js_sys::Object::new();
        DRAWN_CLUSTERS.with(|drawn| {
            let drawn = drawn.borrow();
            for (count, x, y, states) in drawn.clusters.iter() {
                let row = js_sys::Array::new();
                for value in [f64::from(*count), *x, *y].into_iter().chain(states.iter().map(|n| f64::from(*n))) {
                    row.push(&value.into());
                }
                rows.push(&row);
            }
            let _ = js_sys::Reflect::set(&answer, &"singles".into(), &(drawn.singles as f64).into());
            let _ = js_sys::Reflect::set(&answer, &"selectedAlone".into(), &drawn.selected_alone.into());
            let selected = drawn.selected.map_or(JsValue::NULL, |((x, y), shape, heading)| {
                js_sys::Array::of4(&x.into(), &y.into(), &shape.as_str().into(), &heading.into()).into()
            });
            let _ = js_sys::Reflect::set(&answer, &"selected".into(), &selected);
        });
        let _ = js_sys::Reflect::set(&answer, &"clusters".into(), &rows);
        answer.into()
    })
    .into_js_value();
    let _ = js_sys::Reflect::set(&window, &"dashboardClusters".into(), &probe);
}

/// Shortest time between two redraws caused by new positions.
const DATA_REDRAW: Duration = Duration::from_millis(100);

/// The vehicle under a container point, of those the filter passes.
fn pick(
    store: Store,
    state: StoredValue<Option<MapState>, LocalStorage>,
    view: &Viewport,
    at: (f64, f64),
) -> Option<String> {
    // While clusters gather, only a vehicle drawn as itself can be picked.
    let alone = state.with_value(|s| {
        let alone = s.as_ref()?.layer.alone.as_ref()?;
        Some(nearest(alone.iter().map(|(id, xy)| (id, *xy)), at, PICK_RADIUS).cloned())
    });
    if let Some(picked) = alone {
        return picked;
    }
    let to_screen = view.to_screen();
    store.with_fleet_untracked(|fleet| {
        store.fleet_filter.with_untracked(|filter| {
            nearest(fleet.filtered(filter).map(|p| (p, to_screen(p.lat, p.lon))), at, PICK_RADIUS).map(|p| p.id.clone())
        })
    })
}

/// What the operator set for the view, besides the store's fleet filter.
#[derive(Clone, Copy)]
struct ViewChoices {
    /// The selected vehicle, from the URL.
    selected: Memo<Option<String>>,
    follow: RwSignal<bool>,
    trails_for_all: RwSignal<bool>,
    /// The vehicle under the pointer, labelled.
    hovered: RwSignal<Option<String>>,
    /// Whether vehicles close together gather into clusters at low zoom.
    clusters: RwSignal<bool>,
    /// Where the pointer is, while it is over a cluster (that cluster is labelled).
    pointer_on_cluster: RwSignal<Option<(f64, f64)>>,
    /// The vertices of the fence being drawn (lat, lon); `None` when none is.
    drawing: RwSignal<Option<Vec<(f64, f64)>>>,
    /// Bumped when what is under the vehicles changes (basemap, fences, the fence drawn).
    under_version: StoredValue<u64>,
}

/// The cluster drawn under a container point in the last frame, if any.
fn cluster_under(
    state: StoredValue<Option<MapState>, LocalStorage>,
    at: (f64, f64),
) -> Option<crate::model::cluster::Cluster> {
    state.with_value(|s| fleet_canvas::cluster_under(&s.as_ref()?.layer.clusters, at))
}

/// A vehicle kind's name as shown: the catalog's, else its id.
pub fn kind_name(catalog: &telemetry::Catalog, kind: &str) -> String {
    catalog
        .vehicle_kinds
        .iter()
        .find(|k| k.id == kind && !k.name.is_empty())
        .map_or_else(|| kind.to_string(), |k| k.name.clone())
}

/// One frame: follow, fit once, then draw the scene; reports what it drew.
fn draw_frame(
    store: Store,
    state: StoredValue<Option<MapState>, LocalStorage>,
    choices: ViewChoices,
    // Whether the view was fitted to the fleet yet, and where the followed vehicle was when
    // the view last moved to it.
    (fitted, followed): (StoredValue<bool>, StoredValue<Option<(f64, f64)>>),
    readout: Readout,
) {
    let drawn = state.try_update_value(|s| {
        let s = s.as_mut()?;
        let selected = choices.selected.get_untracked();
        // The moment shown: the replay's, or now.
        let now = store.moment.get_untracked().unwrap_or_else(|| js_sys::Date::now() as i64);
        store.with_fleet_untracked(|fleet: &FleetState| {
            let filter = store.fleet_filter.get_untracked();
            let follow = choices.follow.get_untracked();
            if let Some(p) = selected.as_deref().and_then(|id| fleet.get(id)).filter(|_| follow) {
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
            let scale = fit_canvas(&s.canvas, (view.width, view.height));
            let palette = store.theme.get_untracked().palette();
            // Under the vehicles: drawn again only when the view or what is there changed.
            let version = choices.under_version.get_value();
            if s.under_drawn != Some((view, version)) {
                fit_canvas(&s.under, (view.width, view.height));
                store.basemap.with_untracked(|basemap| {
                    store.catalog.with_untracked(|catalog| {
                        choices.drawing.with_untracked(|drawing| {
                            let under = basemap::Under {
                                basemap: basemap.as_ref(),
                                fences: &catalog.geofences,
                                drawing: drawing.as_deref().unwrap_or(&[]),
                                palette,
                            };
                            basemap::draw(&s.under_ctx, &view, scale, &under);
                        });
                    });
                });
                s.under_drawn = Some((view, version));
            }
            let hovered = choices.hovered.get_untracked();
            let scene = Scene {
                fleet,
                filter: &filter,
                selected: selected.as_deref(),
                hovered: hovered.as_deref(),
                trails_for_all: choices.trails_for_all.get_untracked(),
                now,
                stale_after_ms: store.stale_after_ms.get_untracked(),
                cluster: choices.clusters.get_untracked() && view.zoom < fleet_canvas::CLUSTER_BELOW_ZOOM,
                pointer_on_cluster: choices.pointer_on_cluster.get_untracked(),
                kind_name: &|kind| store.catalog.with_untracked(|c| kind_name(c, kind)),
                palette,
            };
            let counted = fleet_canvas::draw(&s.ctx, &view, scale, &scene, &mut s.layer);
            DRAWN_CLUSTERS.with(|drawn| {
                let mut drawn = drawn.borrow_mut();
                drawn.clusters.clear();
                drawn.clusters.extend(s.layer.clusters.iter().map(|c| (c.count, c.x, c.y, c.states)));
                drawn.singles = s.layer.alone_in_view;
                drawn.selected = s.layer.selected;
                drawn.selected_alone = selected
                    .as_deref()
                    .is_some_and(|id| s.layer.alone.as_ref().is_none_or(|alone| alone.iter().any(|(a, _)| a == id)));
            });
            Some((counted, view.centre, view.zoom))
        })
    });
    if let Some(Some((count, centre, zoom))) = drawn {
        readout.drawn(count, centre, zoom);
    }
}

/// Redraws on the map's own moves, and follows the pointer: click selects, hover labels.
fn wire_events(
    mounted: &MapState,
    store: Store,
    frames: FrameScheduler,
    state: StoredValue<Option<MapState>, LocalStorage>,
    node: NodeRef<Div>,
    (readout, choices): (Readout, ViewChoices),
) {
    let (cursor, hovered) = (readout.cursor, choices.hovered);
    let map = &mounted.map;
    for redraw in ["move", "zoom", "resize", "viewreset"] {
        let closure = Closure::<dyn Fn()>::new(move || frames.now());
        map.on(redraw, &closure.into_js_value());
    }
    let pointer_on_cluster = choices.pointer_on_cluster;
    let drawing = choices.drawing;
    map.on_mouse_click(Box::new(move |event| {
        let point = event.container_point();
        // Drawing a fence: each click is a vertex.
        if drawing.with_untracked(Option::is_some) {
            let at = event.lat_lng();
            drawing.update(|d| d.iter_mut().for_each(|d| d.push((at.lat(), at.lng()))));
            return;
        }
        let view = state.with_value(|s| s.as_ref().map(|s| viewport(&s.map)));
        // A cluster zooms in on itself.
        if let (Some(view), Some(c)) = (view, cluster_under(state, (point.x(), point.y()))) {
            let (lat, lon) = view.to_lat_lon(c.x, c.y);
            state.with_value(|s| {
                if let Some(s) = s {
                    s.map.set_view(&LatLng::new(lat, lon), (view.zoom + 2.0).min(18.0));
                }
            });
            pointer_on_cluster.set(None);
            return;
        }
        if let Some(view) = view {
            if let Some(id) = pick(store, state, &view, (point.x(), point.y())) {
                select(store, Some(&id));
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
        let xy = (point.x(), point.y());
        let cluster = cluster_under(state, xy);
        let on_cluster = cluster.map(|_| xy);
        if pointer_on_cluster.get_untracked() != on_cluster {
            pointer_on_cluster.set(on_cluster);
        }
        let under = if cluster.is_some() { None } else { view.and_then(|view| pick(store, state, &view, xy)) };
        if let Some(container) = node.get_untracked() {
            let html: &web_sys::HtmlElement = &container;
            let pointer = under.is_some() || cluster.is_some();
            let _ = html.style().set_property("cursor", if pointer { "pointer" } else { "" });
        }
        if hovered.get_untracked() != under {
            hovered.set(under);
        }
    }));
    map.on_mouse_out(Box::new(move |_| {
        cursor.set(None);
        hovered.set(None);
        pointer_on_cluster.set(None);
    }));
}

/// Drawing a geofence: *Draw a fence*, then a click on the map per corner, a name, *Save*
/// (through the functions API, so every open dashboard gets it).
#[component]
fn FenceEditor(drawing: RwSignal<Option<Vec<(f64, f64)>>>) -> impl IntoView {
    let store = use_store();
    let name = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    // A save on its way: another click waits for it (a double click makes one fence).
    let saving = RwSignal::new(false);
    let corners = move || drawing.with(|d| d.as_ref().map_or(0, Vec::len));
    let save = move |_| {
        if saving.get_untracked() {
            return;
        }
        let Some(points) = drawing.get_untracked() else { return };
        let title = name.get_untracked().trim().to_string();
        let slug: String =
            title.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).take(40).collect();
        let fence = telemetry::catalog::Geofence {
            // A random suffix: fences merge by id, so a collision would replace another one.
            id: format!("{}-{:08x}", slug.trim_matches('-'), (js_sys::Math::random() * f64::from(u32::MAX)) as u32),
            name: title,
            polygon: Some(
                points.iter().map(|(lat, lon)| telemetry::catalog::LatLon { lat: *lat, lon: *lon }).collect(),
            ),
            ..Default::default()
        };
        let Some(api) = store.api.get_value() else {
            error.set(Some("not connected yet".into()));
            return;
        };
        saving.set(true);
        leptos::task::spawn_local(async move {
            let saved = api.save_geofence(&fence).await;
            saving.set(false);
            match saved {
                Ok(()) => {
                    drawing.set(None);
                    name.set(String::new());
                    error.set(None);
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    view! {
        <div class="fence-editor">
            <button data-testid="fence-draw" disabled=move || refusal(store).is_some() title=move || refusal(store) aria-pressed=move || drawing.with(Option::is_some).to_string()
                on:click=move |_| drawing.update(|d| *d = if d.is_some() { None } else { Some(Vec::new()) })>
                {move || if drawing.with(Option::is_some) { "Stop drawing" } else { "Draw a fence" }}
            </button>
            <Show when=move || drawing.with(Option::is_some)>
                <span data-testid="fence-corners">{move || format!("{} corners: click the map to add one", corners())}</span>
                <input type="text" data-testid="fence-name" placeholder="Fence name" aria-label="Fence name" maxlength="64"
                    prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
                <button data-testid="fence-save" disabled=move || corners() < 3 || name.with(|n| n.trim().is_empty()) || saving.get()
                    on:click=save>"Save fence"</button>
            </Show>
            <span class="error" data-testid="fence-error">{move || error.get()}</span>
        </div>
    }
}

/// The fleet map panel: toolbar, map, the read-out under it and the selected vehicle.
#[component]
pub fn FleetMap() -> impl IntoView {
    let store = use_store();
    let node = NodeRef::<Div>::new();
    let state: StoredValue<Option<MapState>, LocalStorage> = StoredValue::new_local(None);
    let readout = Readout::new();
    let tile_handlers: StoredValue<Vec<Closure<dyn FnMut()>>, LocalStorage> = StoredValue::new_local(Vec::new());
    let selected = Memo::new(move |_| match store.route.get() {
        Route::Fleet { vehicle } => vehicle,
        _ => None,
    });
    // A selected vehicle's trail starts with its recent track (asked for once a page).
    // Run again as the fleet changes: a link opened before the loader or the vehicle was there
    // asks once they are (the loader asks each request once, with a backoff after failures).
    Effect::new(move |_| {
        store.fleet.track();
        if let (Some(id), Some(history)) = (selected.get(), crate::live::history::loader(store)) {
            history.track(&id);
        }
    });
    let choices = ViewChoices {
        selected,
        follow: RwSignal::new(false),
        trails_for_all: RwSignal::new(false),
        hovered: RwSignal::new(None),
        clusters: RwSignal::new(true),
        pointer_on_cluster: RwSignal::new(None),
        drawing: RwSignal::new(None),
        under_version: StoredValue::new(0),
    };
    install_cluster_probe();
    let fitted = StoredValue::new(false);
    let followed = StoredValue::new(None::<(f64, f64)>);
    let frames = use_frame_scheduler(move || draw_frame(store, state, choices, (fitted, followed), readout));

    // Create the map once its element exists.
    Effect::new(move |_| {
        let Some(element) = node.get() else { return };
        if state.with_value(|s| s.is_some()) {
            return;
        }
        match glue::mount(&element) {
            Ok(mounted) => {
                wire_events(&mounted, store, frames, state, node, (readout, choices));
                state.set_value(Some(mounted));
                frames.now();
            }
            Err(problem) => readout.problem.set(Some(problem)),
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
        let handlers = state.with_value(|s| {
            s.as_ref().map(|s| glue::add_tiles(&s.map, &tiles, move |ok| readout.tiles_ok.set(Some(ok))))
        });
        tile_handlers.update_value(|h| h.extend(handlers.into_iter().flatten()));
        true
    });
    on_cleanup(move || {
        state.update_value(|s| {
            if let Some(s) = s.take() {
                s.map.remove();
            }
        });
    });

    // New data (and the clock: vehicles turn stale) redraws at a measured pace: vehicles report
    // once a second or so, and drawing 10,000 of them every frame would take the frame budget
    // from everything else.
    Effect::new(move |_| {
        store.fleet.track();
        store.clock.track();
        if store.moment.with_untracked(Option::is_none) {
            frames.throttled(DATA_REDRAW);
        }
    });
    // A replay moves the fleet every frame it plays, and a jump shows at the next frame.
    Effect::new(move |_| {
        store.replay.track();
        store.moment.track();
        frames.now();
    });
    // What the operator does (pan, zoom, hover, select, filter) redraws at the next frame.
    Effect::new(move |_| {
        store.fleet_filter.track();
        store.stale_after_ms.track();
        // Read, not only tracked: a memo is recomputed (and so subscribed again) when read.
        selected.with(|_| ());
        choices.follow.track();
        choices.trails_for_all.track();
        choices.hovered.track();
        choices.clusters.track();
        choices.pointer_on_cluster.track();
        frames.now();
    });
    // What is under the vehicles changed: drawn again at the next frame.
    Effect::new(move |_| {
        store.basemap.track();
        store.catalog.track();
        store.theme.track();
        choices.drawing.track();
        choices.under_version.update_value(|v| *v += 1);
        frames.now();
    });
    Effect::new(move |_| {
        if choices.follow.get() {
            followed.set_value(None);
        }
    });

    let fit_fleet = Callback::new(move |()| {
        let bounds = store.with_fleet_untracked(|fleet| store.fleet_filter.with_untracked(|f| fleet.bounds(f)));
        state.with_value(|s| {
            if let (Some(s), Some(bounds)) = (s, bounds) {
                fit(&s.map, bounds);
            }
        });
        choices.follow.set(false);
    });
    view! {
        <section class="fleet-map-panel" aria-label="Fleet map">
            <MapToolbar on_fit=fit_fleet follow=choices.follow trails_for_all=choices.trails_for_all clusters=choices.clusters />
            <FenceEditor drawing=choices.drawing />
            <div class="fleet-map" node_ref=node data-testid="fleet-map"></div>
            <MapNotes readout=readout />
            <MapLegend />
            <ul class="geofence-list" data-testid="geofence-list" aria-label="Geofences">
                {move || store.catalog.with(|c| c.geofences.iter().map(|g| {
                    let name = if g.name.is_empty() { g.id.clone() } else { g.name.clone() };
                    view! { <li data-testid="geofence" data-fence-id=g.id.clone()>{crate::panels::icons::diamond()} " " {name}</li> }
                }).collect_view())}
            </ul>
            <SelectionPanel selected=selected />
        </section>
    }
}

//! The fleet map's Leaflet glue: making the map and the canvas inside it, the controls
//! leaflet-rs has no binding for, the tile layer, and reading and setting the view. Nothing
//! here is reactive; the component decides when each runs.

use leaflet::{LatLng, LatLngBounds, Map, MapOptions};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, HtmlElement};

use super::fleet_canvas;
use crate::config::Tiles;
use crate::model::geo::Viewport;

/// The map and the fleet canvas, kept outside the reactive graph (they are JS objects).
pub(super) struct MapState {
    pub map: Map,
    pub canvas: HtmlCanvasElement,
    pub ctx: CanvasRenderingContext2d,
    pub layer: fleet_canvas::Layer,
    /// The canvas under the fleet's: the basemap and the geofences.
    pub under: HtmlCanvasElement,
    pub under_ctx: CanvasRenderingContext2d,
    /// The view and the version of what is under the vehicles when it was last drawn.
    pub under_drawn: Option<(Viewport, u64)>,
}

/// Makes the map in `element`, with its scale and the fleet canvas. The error is the sentence
/// the map shows instead.
pub(super) fn mount(element: &HtmlElement) -> Result<MapState, String> {
    let options = MapOptions::new();
    // The fleet canvas is redrawn for the new view; Leaflet's zoom animation would scale
    // the tiles under it for a quarter second while the vehicles stay put.
    options.set_zoom_animation(false);
    options.set_attribution_control(true);
    let map = Map::new_with_element(element, &options).map_err(|error| {
        format!(
            "the map could not start ({}); is vendor/leaflet/leaflet.js served?",
            error.as_string().unwrap_or_else(|| "Leaflet is missing".into())
        )
    })?;
    map.set_view(&LatLng::new(47.3769, 8.5417), 13.0);
    remove_attribution_prefix(&map);
    if add_scale(&map).is_err() {
        web_sys::console::warn_1(&"fleet map: no scale control".into());
    }
    let (under, under_ctx) =
        fleet_canvas(element, "basemap-canvas").map_err(|_| "the basemap canvas could not be created".to_string())?;
    let (canvas, ctx) =
        fleet_canvas(element, "fleet-canvas").map_err(|_| "the fleet canvas could not be created".to_string())?;
    Ok(MapState { map, canvas, ctx, layer: fleet_canvas::Layer::default(), under, under_ctx, under_drawn: None })
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

/// Adds the tile layer to `map`, calling `loaded(true)` when a tile loads and `loaded(false)`
/// when one fails. The returned handlers must live as long as the layer.
pub(super) fn add_tiles(map: &Map, tiles: &Tiles, loaded: impl Fn(bool) + Copy + 'static) -> [Closure<dyn FnMut()>; 2] {
    let options = leaflet::TileLayerOptions::new();
    // Leaflet renders attributions as HTML: escape it so the config's text stays text.
    options.set_attribution(escape_html(&tiles.attribution));
    let layer = leaflet::TileLayer::new_options(&tiles.url, &options);
    let on_error = Closure::<dyn FnMut()>::new(move || loaded(false));
    let on_load = Closure::<dyn FnMut()>::new(move || loaded(true));
    layer.unchecked_ref::<leaflet::Evented>().on("tileerror", on_error.as_ref());
    layer.unchecked_ref::<leaflet::Evented>().on("tileload", on_load.as_ref());
    layer.unchecked_ref::<leaflet::Layer>().add_to(map);
    [on_error, on_load]
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
fn fleet_canvas(container: &HtmlElement, name: &str) -> Result<(HtmlCanvasElement, CanvasRenderingContext2d), JsValue> {
    let document = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let canvas: HtmlCanvasElement = document.create_element("canvas")?.dyn_into()?;
    canvas.set_class_name(name);
    canvas.set_attribute("data-testid", name)?;
    canvas.set_attribute("aria-hidden", "true")?;
    container.append_child(&canvas)?;
    let ctx = canvas.get_context("2d")?.ok_or("no 2d context")?.dyn_into::<CanvasRenderingContext2d>()?;
    Ok((canvas, ctx))
}

/// What the map shows now: centre, zoom and size in CSS pixels.
pub(super) fn viewport(map: &Map) -> Viewport {
    let centre = map.get_center();
    let size = map.get_size();
    Viewport { centre: (centre.lat(), centre.lng()), zoom: map.get_zoom(), width: size.x(), height: size.y() }
}

/// Moves the view to show the box ((south, west), (north, east)), with a margin.
pub(super) fn fit(map: &Map, ((south, west), (north, east)): ((f64, f64), (f64, f64))) {
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"padding".into(), &js_sys::Array::of2(&24.into(), &24.into()));
    let _ = js_sys::Reflect::set(&options, &"maxZoom".into(), &16.into());
    map.fit_bounds_with_options(&LatLngBounds::new(&LatLng::new(south, west), &LatLng::new(north, east)), &options);
}

//! The line under the fleet map: what the map shows (vehicles, centre, zoom), where the pointer
//! is, and why tiles or the map itself are missing when they are. Tests and screen readers read
//! the map through it, since the vehicles are pixels on a canvas.

use leptos::prelude::*;

use super::fleet_canvas::Counted;
use crate::model::geo::format_lat_lon;
use crate::store::use_store;

/// What the map reports about itself; the map writes it, [`MapNotes`] shows it.
#[derive(Clone, Copy)]
pub struct Readout {
    /// Vehicles the filters pass (on screen or not).
    pub on_map: RwSignal<usize>,
    /// Of those, inside the map's view.
    pub in_view: RwSignal<usize>,
    pub centre: RwSignal<Option<(f64, f64)>>,
    pub zoom: RwSignal<Option<f64>>,
    /// The pointer's position, while it is over the map.
    pub cursor: RwSignal<Option<(f64, f64)>>,
    /// None: no tile layer yet; Some(true): tiles load; Some(false): a tile failed.
    pub tiles_ok: RwSignal<Option<bool>>,
    /// Why the map could not start, if it could not.
    pub problem: RwSignal<Option<String>>,
}

impl Readout {
    pub(super) fn new() -> Self {
        Self {
            on_map: RwSignal::new(0),
            in_view: RwSignal::new(0),
            centre: RwSignal::new(None),
            zoom: RwSignal::new(None),
            cursor: RwSignal::new(None),
            tiles_ok: RwSignal::new(None),
            problem: RwSignal::new(None),
        }
    }

    /// Sets what a frame drew, touching only what changed (each change re-renders its text).
    pub(super) fn drawn(self, count: Counted, centre: (f64, f64), zoom: f64) {
        if self.zoom.get_untracked() != Some(zoom) {
            self.zoom.set(Some(zoom));
        }
        if self.on_map.get_untracked() != count.matching {
            self.on_map.set(count.matching);
        }
        if self.in_view.get_untracked() != count.in_view {
            self.in_view.set(count.in_view);
        }
        if self.centre.get_untracked() != Some(centre) {
            self.centre.set(Some(centre));
        }
    }
}

impl Default for Readout {
    fn default() -> Self {
        Self::new()
    }
}

/// The map's read-out as text.
#[component]
pub fn MapNotes(
    /// What the map reports.
    readout: Readout,
) -> impl IntoView {
    let store = use_store();
    let Readout { on_map, in_view, centre, zoom, cursor, tiles_ok, problem } = readout;
    view! {
        <p class="map-notes">
            <span data-testid="map-vehicle-count">{move || on_map.get()}</span>
            {move || if on_map.get() == 1 { " vehicle matches the filters, " } else { " vehicles match the filters, " }}
            <span data-testid="map-in-view">{move || in_view.get()}</span>
            " in view · centre "
            <span class="mono" data-testid="map-centre">{move || centre.get().map(|(lat, lon)| format_lat_lon(lat, lon))}</span>
            " · zoom "
            <span data-testid="map-zoom">{move || zoom.get().map(|z| format!("{z}"))}</span>
            " · pointer "
            <span class="mono" data-testid="map-cursor">
                {move || cursor.get().map_or_else(|| "–".to_string(), |(lat, lon)| format_lat_lon(lat, lon))}
            </span>
            <span data-testid="tiles-note">
                {move || match (store.tiles.with(|t| t.is_some()), tiles_ok.get()) {
                    (false, _) if store.basemap.with(Option::is_some) => " · no tile server configured: the backend's streets and sites are drawn",
                    (false, _) => " · no tile server configured: vehicles are drawn on a plain background",
                    (true, Some(false)) => " · map tiles unavailable: vehicles are drawn on a plain background",
                    (true, _) => "",
                }}
            </span>
            <span class="error" data-testid="map-problem">{move || problem.get()}</span>
        </p>
    }
}

//! The key under the map: what each colour and each shape means. The shapes are the very
//! outlines the vehicle layer rasterizes ([`outline`]), drawn here as SVG so the key and the map
//! cannot disagree; a state is named in words beside its colour, never by colour alone.

use leptos::prelude::*;

use super::raster::outline;
use crate::model::fleet::{Shape, Shown};
use crate::store::use_store;

/// Colours per [`Shown::ALL`], as the map draws them.
const STATE_FILLS: [&str; 4] = ["#3fb950", "#d29922", "#8b98a5", "rgba(110,118,129,0.45)"];

/// An SVG path of `shape` pointing up in a 20 × 20 box.
fn path(shape: Shape) -> String {
    let points: Vec<String> = outline(shape)
        .iter()
        .map(|(forward, right)| format!("{:.2},{:.2}", 10.0 + right * 5.5, 10.0 - forward * 5.5))
        .collect();
    format!("M{}Z", points.join(" L"))
}

fn icon(shape: Shape, fill: &'static str) -> impl IntoView {
    view! {
        <svg class="legend-icon" viewBox="0 0 20 20" width="16" height="16" aria-hidden="true">
            <path d=path(shape) fill=fill stroke="#0d1117" stroke-width="1" />
        </svg>
    }
}

/// The map's key: the four states, and the shape of each kind of vehicle the catalog declares.
#[component]
pub fn MapLegend() -> impl IntoView {
    let store = use_store();
    let kinds = move || {
        store.catalog.with(|c| {
            c.vehicle_kinds
                .iter()
                .map(|k| {
                    let shape = Shape::of_kind(k);
                    let name = if k.name.is_empty() { k.id.clone() } else { k.name.clone() };
                    view! {
                        <li data-testid="legend-kind" data-kind=k.id.clone() data-shape=shape.as_str()>
                            {icon(shape, "#c9d1d9")}
                            {name}
                        </li>
                    }
                })
                .collect_view()
        })
    };
    view! {
        <ul class="map-legend" data-testid="map-legend" aria-label="Map key">
            {Shown::ALL
                .iter()
                .zip(STATE_FILLS)
                .map(|(shown, fill)| {
                    view! {
                        <li data-testid="legend-state" data-state=shown.as_str()>
                            {icon(Shape::Arrow, fill)}
                            {shown.as_str()}
                        </li>
                    }
                })
                .collect_view()}
            {kinds}
        </ul>
    }
}

//! The fleet drawn on one canvas laid over Leaflet's panes: every vehicle as an arrow turned to
//! its heading and coloured by state, trails, and text labels for the selected and hovered
//! vehicle. Arrows and trails are rasterized in wasm ([`raster`](super::raster)) and put on the canvas
//! in one call; only the selected trail, its ring and the labels use the canvas's own drawing.
//! Leaflet's layers (one object per marker) and even one canvas path per colour do not keep up
//! at 10,000 vehicles in a software-rendered browser.

use telemetry::Position;
use wasm_bindgen::Clamped;
use web_sys::CanvasRenderingContext2d;

use super::raster::{Frame, Rgba, SpriteSheet};
use crate::model::cluster::{Cluster, Grid, CELL_PX};
use crate::model::fleet::{FleetFilter, FleetState, Shape, Shown};
use crate::model::geo::Viewport;
use crate::panels::frame::device_size;

/// Arrow size in CSS pixels (centre to back corner; the tip is 1.5× further).
const SIZE: f64 = 6.0;
/// How near (CSS pixels) a pointer must be to pick a vehicle.
pub const PICK_RADIUS: f64 = 10.0;

/// Fill colour per [`Shown::ALL`] row: moving, idle, stopped, stale (faint).
const FILLS: [Rgba; 4] =
    [Rgba(63, 185, 80, 255), Rgba(210, 153, 34, 255), Rgba(139, 152, 165, 255), Rgba(110, 118, 129, 115)];
const OUTLINE: Rgba = Rgba(13, 17, 23, 255);
const TRAIL: Rgba = Rgba(139, 152, 165, 110);

fn row(shown: Shown) -> usize {
    Shown::ALL.iter().position(|s| *s == shown).unwrap_or(0)
}

/// Clusters gather below this zoom level...
pub const CLUSTER_BELOW_ZOOM: f64 = 15.0;
/// ...when more vehicles than this are in view (a smaller fleet is drawn as itself).
pub const CLUSTER_FROM: usize = 1_000;
/// CSS colours of the cluster ring per [`Shown::ALL`] row, as the arrows.
const RING: [&str; 4] = ["rgb(63,185,80)", "rgb(210,153,34)", "rgb(139,152,165)", "rgba(110,118,129,0.55)"];

/// What the fleet layer keeps between frames: the pixel buffer and the sprites, and the
/// clusters drawn last (for picking).
#[derive(Default)]
pub struct Layer {
    frame: Frame,
    bytes: Vec<u8>,
    sheet: Option<SpriteSheet>,
    grid: Grid,
    pub clusters: Vec<Cluster>,
    /// While clusters gather: the vehicles drawn as themselves and where (what a pointer can
    /// pick); `None` when every vehicle is drawn as itself.
    pub alone: Option<Vec<(String, (f64, f64))>>,
    /// Vehicles in view drawn as themselves in the last frame.
    pub alone_in_view: usize,
    /// Where the selected vehicle was drawn in the last frame (container pixels), as what
    /// shape and turned to which heading.
    pub selected: Option<((f64, f64), Shape, f64)>,
    /// The vehicles on screen, and those that may gather into clusters: kept between frames
    /// for their allocations.
    on_screen: Vec<OnScreen>,
    pool: Vec<OnScreen>,
}

/// A vehicle on screen in this frame: its slot in the fleet, where, how it is drawn.
#[derive(Debug, Clone, Copy)]
struct OnScreen {
    slot: u32,
    at: (f64, f64),
    shown: Shown,
    shape: Shape,
}

/// A cluster's radius in CSS pixels: grows with the count.
pub fn cluster_radius(count: u32) -> f64 {
    12.0 + 4.0 * f64::from(count.max(1)).log10()
}

/// The cluster drawn under a container point, if any.
pub fn cluster_under(clusters: &[Cluster], at: (f64, f64)) -> Option<Cluster> {
    clusters
        .iter()
        .map(|c| (c, (c.x - at.0).hypot(c.y - at.1)))
        .filter(|(c, d)| *d <= cluster_radius(c.count))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| *c)
}

/// A cluster's breakdown in words (the ring repeats it in colour).
pub fn cluster_text(c: &Cluster) -> String {
    let parts: Vec<String> = Shown::ALL
        .iter()
        .zip(c.states)
        .filter(|(_, n)| *n > 0)
        .map(|(shown, n)| format!("{n} {}", shown.as_str()))
        .collect();
    format!("{} vehicles: {}", c.count, parts.join(" · "))
}

/// What to draw besides the fleet itself.
pub struct Scene<'a> {
    pub fleet: &'a FleetState,
    pub filter: &'a FleetFilter,
    pub selected: Option<&'a str>,
    pub hovered: Option<&'a str>,
    pub trails_for_all: bool,
    pub now: i64,
    pub stale_after_ms: i64,
    /// Whether clusters may gather (the toggle, and a zoom below [`CLUSTER_BELOW_ZOOM`]).
    pub cluster: bool,
    /// Where the pointer is over a cluster (container pixels): that cluster is labelled with its
    /// breakdown, as drawn in this frame.
    pub pointer_on_cluster: Option<(f64, f64)>,
    /// A vehicle kind's name as shown (the catalog's, or the id).
    pub kind_name: &'a dyn Fn(&str) -> String,
    /// The theme's colours.
    pub palette: &'a crate::model::theme::Palette,
}

fn trail(ctx: &CanvasRenderingContext2d, fleet: &FleetState, id: &str, to_screen: &impl Fn(f64, f64) -> (f64, f64)) {
    let mut points = fleet.trail(id).map(|t| to_screen(t.lat, t.lon));
    if let Some((x, y)) = points.next() {
        ctx.move_to(x, y);
        points.for_each(|(x, y)| ctx.line_to(x, y));
    }
}

/// A label at a vehicle: its text on a dark plate (canvas text is text, never markup).
fn label(ctx: &CanvasRenderingContext2d, (x, y): (f64, f64), text: &str) {
    let width = ctx.measure_text(text).map(|m| m.width()).unwrap_or(text.len() as f64 * 7.0);
    let (left, top) = (x + 12.0, y - 22.0);
    ctx.set_fill_style_str("rgba(13, 17, 23, 0.85)");
    ctx.fill_rect(left - 4.0, top - 2.0, width + 8.0, 18.0);
    ctx.set_fill_style_str("#e6edf3");
    let _ = ctx.fill_text(text, left, top + 12.0);
}

/// A vehicle's label text: id, its kind (when the registry names one), what it is doing, its
/// speed and how old its last report is.
pub fn label_text(p: &Position, kind: Option<&str>, shown: Shown, now: i64) -> String {
    let kind = kind.map(|k| format!(" ({k})")).unwrap_or_default();
    format!("{}{kind} · {} · {:.0} km/h · {} s ago", p.id, shown.as_str(), p.speed, (now - p.ts).max(0) / 1000)
}

/// From this zoom on every vehicle on screen is labelled with its id (at most [`MAX_LABELS`]).
pub const LABELS_FROM_ZOOM: f64 = 17.0;
const MAX_LABELS: usize = 300;

/// How many vehicles a frame counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counted {
    /// Pass the filters, on screen or not.
    pub matching: usize,
    /// Of those, inside the map's view.
    pub in_view: usize,
}

/// Draws the scene for `view` on a canvas whose backing store is `scale` device pixels per
/// CSS pixel. Returns how many vehicles pass the filter, and how many of them are in view.
pub fn draw(ctx: &CanvasRenderingContext2d, view: &Viewport, scale: f64, scene: &Scene, layer: &mut Layer) -> Counted {
    let started = crate::bench::metrics::performance_now();
    if layer.sheet.as_ref().is_none_or(|sheet| sheet.scale != scale) {
        layer.sheet = Some(SpriteSheet::new(&FILLS, OUTLINE, SIZE, scale));
    }
    let (width, height) = device_size((view.width, view.height), scale);
    let (width, height) = (width as usize, height as usize);
    layer.frame.reset(width, height);
    let to_screen = view.to_screen();
    let world_to_screen = view.world_to_screen();
    let to_device = |lat, lon| {
        let (x, y) = to_screen(lat, lon);
        (x * scale, y * scale)
    };
    let mut counted = Counted::default();
    let fleet = scene.fleet;
    // The buffers of the frame before, emptied: a frame of 100,000 vehicles allocates nothing.
    let mut on_screen = std::mem::take(&mut layer.on_screen);
    on_screen.clear();
    for (slot, p, world, shape) in fleet.drawn(scene.filter) {
        counted.matching += 1;
        let at = world_to_screen(world);
        counted.in_view += usize::from(view.contains(at, 0.0));
        // A vehicle just outside still shows its edge.
        if view.contains(at, 2.5 * SIZE) {
            on_screen.push(OnScreen { slot, at, shown: Shown::of(p, scene.now, scene.stale_after_ms), shape });
        }
    }
    // Many vehicles at a low zoom: those close together on screen gather into clusters; a
    // vehicle alone in its cell stays itself.
    // The selected and the hovered vehicle are always drawn as themselves, and so are the ones
    // at the edge, just outside the view.
    layer.clusters.clear();
    layer.alone = None;
    let mut cluster_ms = None;
    if scene.cluster && counted.in_view > CLUSTER_FROM {
        let clustering = crate::bench::metrics::performance_now();
        let apart = |v: &OnScreen| {
            let id = fleet.at(v.slot).id.as_str();
            Some(id) == scene.selected || Some(id) == scene.hovered || !view.contains(v.at, 0.0)
        };
        let mut pool = std::mem::take(&mut layer.pool);
        pool.clear();
        let mut kept = 0;
        for i in 0..on_screen.len() {
            if apart(&on_screen[i]) {
                on_screen.swap(kept, i);
                kept += 1;
            }
        }
        pool.extend(on_screen.drain(kept..));
        let clustered =
            layer.grid.cluster(pool.iter().map(|v| (v.at.0, v.at.1, v.shown)), (view.width, view.height), CELL_PX);
        on_screen.extend(clustered.singles.iter().map(|i| pool[*i]));
        layer.pool = pool;
        layer.clusters = clustered.clusters;
        layer.alone = Some(on_screen.iter().map(|v| (fleet.at(v.slot).id.clone(), v.at)).collect());
        cluster_ms = Some(crate::bench::metrics::performance_now() - clustering);
    }
    layer.alone_in_view = on_screen.iter().filter(|v| view.contains(v.at, 0.0)).count();
    layer.selected = scene
        .selected
        .and_then(|id| on_screen.iter().find(|v| fleet.at(v.slot).id == id))
        .map(|v| (v.at, v.shape, fleet.at(v.slot).heading));
    if scene.trails_for_all {
        for v in &on_screen {
            let mut points = fleet.trail(&fleet.at(v.slot).id).map(|t| to_device(t.lat, t.lon));
            if let Some(mut from) = points.next() {
                for to in points {
                    layer.frame.line(from, to, TRAIL);
                    from = to;
                }
            }
        }
    }
    let Some(sheet) = layer.sheet.as_mut() else { return counted };
    for shape in Shape::ALL {
        if on_screen.iter().any(|v| v.shape == shape) {
            sheet.ensure(shape);
        }
    }
    // Stale ones first, so a live vehicle is never hidden under a silent one.
    for shown in [Shown::Stale, Shown::Stopped, Shown::Idle, Shown::Moving] {
        for v in on_screen.iter().filter(|v| v.shown == shown) {
            let heading = fleet.at(v.slot).heading;
            layer.frame.blit(sheet.shape(v.shape, row(shown), heading), (v.at.0 * scale, v.at.1 * scale));
        }
    }
    layer.frame.to_rgba(&mut layer.bytes);
    let _ = ctx.set_transform(1.0, 0.0, 0.0, 1.0, 0.0, 0.0);
    ctx.clear_rect(0.0, 0.0, width as f64, height as f64);
    if width > 0 && height > 0 {
        match web_sys::ImageData::new_with_u8_clamped_array_and_sh(Clamped(&layer.bytes), width as u32, height as u32) {
            Ok(image) => {
                let _ = ctx.put_image_data(&image, 0.0, 0.0);
            }
            Err(_) => web_sys::console::warn_1(&"fleet map: the vehicle layer could not be drawn".into()),
        }
    }
    let _ = ctx.set_transform(scale, 0.0, 0.0, scale, 0.0, 0.0);
    draw_clusters(ctx, &layer.clusters);
    ctx.set_line_join("round");
    if let Some(id) = scene.selected {
        ctx.begin_path();
        trail(ctx, scene.fleet, id, &to_screen);
        ctx.set_stroke_style_str("#58a6ff");
        ctx.set_line_width(3.0);
        ctx.stroke();
    }
    // Close in, every vehicle says which it is.
    if view.zoom >= LABELS_FROM_ZOOM {
        ctx.set_font("11px system-ui, sans-serif");
        ctx.set_fill_style_str(scene.palette.map_text);
        for v in on_screen.iter().take(MAX_LABELS) {
            let _ = ctx.fill_text(&fleet.at(v.slot).id, v.at.0 + 9.0, v.at.1 + 4.0);
        }
    }
    ctx.set_font("12px system-ui, sans-serif");
    for (id, ring) in [(scene.hovered, false), (scene.selected, true)] {
        let Some(v) = id.and_then(|id| on_screen.iter().find(|v| fleet.at(v.slot).id == id)) else {
            continue;
        };
        let (p, at, shown) = (fleet.at(v.slot), &v.at, &v.shown);
        if ring {
            ctx.begin_path();
            let _ = ctx.arc(at.0, at.1, 2.0 * SIZE, 0.0, std::f64::consts::TAU);
            ctx.set_stroke_style_str("#58a6ff");
            ctx.set_line_width(2.5);
            ctx.stroke();
        }
        let kind = scene.fleet.kind(&p.id).map(|k| (scene.kind_name)(k));
        label(ctx, *at, &label_text(p, kind.as_deref(), *shown, scene.now));
    }
    let hovered = scene.pointer_on_cluster.and_then(|at| cluster_under(&layer.clusters, at));
    if let Some(c) = hovered {
        label(ctx, (c.x, c.y), &cluster_text(&c));
    }
    layer.on_screen = on_screen;
    crate::bench::metrics::map_drawn(crate::bench::metrics::performance_now() - started, cluster_ms);
    counted
}

/// Each cluster: a dark disc with its count, in a ring split by state (moving, idle, stopped,
/// stale, clockwise from the top).
fn draw_clusters(ctx: &CanvasRenderingContext2d, clusters: &[Cluster]) {
    use std::f64::consts::{FRAC_PI_2, TAU};
    ctx.set_font("bold 11px system-ui, sans-serif");
    ctx.set_text_align("center");
    ctx.set_text_baseline("middle");
    for c in clusters {
        let r = cluster_radius(c.count);
        ctx.begin_path();
        let _ = ctx.arc(c.x, c.y, r, 0.0, TAU);
        ctx.set_fill_style_str("rgba(13,17,23,0.88)");
        ctx.fill();
        let mut start = -FRAC_PI_2;
        ctx.set_line_width(4.0);
        for (share, colour) in c.shares().iter().zip(RING) {
            if *share <= 0.0 {
                continue;
            }
            let end = start + share * TAU;
            ctx.begin_path();
            let _ = ctx.arc(c.x, c.y, r - 2.0, start, end);
            ctx.set_stroke_style_str(colour);
            ctx.stroke();
            start = end;
        }
        ctx.set_fill_style_str("#e6edf3");
        let _ = ctx.fill_text(&c.label(), c.x, c.y);
    }
    ctx.set_text_align("start");
    ctx.set_text_baseline("alphabetic");
}

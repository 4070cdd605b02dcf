//! The fleet drawn on one canvas laid over Leaflet's panes: every vehicle as an arrow turned to
//! its heading and coloured by state, trails, and text labels for the selected and hovered
//! vehicle. One path per colour keeps 10,000 vehicles to a handful of fills per frame; Leaflet's
//! own layers (one object per marker) do not keep up at that size.

use telemetry::Position;
use web_sys::CanvasRenderingContext2d;

use crate::model::fleet::{FleetFilter, FleetState, Shown};
use crate::model::geo::Viewport;

/// Arrow size in CSS pixels (tip to centre is 1.5×).
const SIZE: f64 = 6.0;
/// How near (CSS pixels) a pointer must be to pick a vehicle.
pub const PICK_RADIUS: f64 = 10.0;

fn fill(shown: Shown) -> &'static str {
    match shown {
        Shown::Moving => "#3fb950",
        Shown::Idle => "#d29922",
        Shown::Stopped => "#8b98a5",
        Shown::Stale => "rgba(110, 118, 129, 0.45)",
    }
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
}

/// Adds an arrow at (x, y) pointing to `heading` (degrees clockwise from north) to the path.
fn arrow(ctx: &CanvasRenderingContext2d, (x, y): (f64, f64), heading: f64) {
    let (sin, cos) = heading.to_radians().sin_cos();
    // Screen y grows downwards: north is -y.
    let at = |forward: f64, right: f64| (x + sin * forward + cos * right, y - cos * forward + sin * right);
    let points = [at(1.5 * SIZE, 0.0), at(-SIZE, SIZE), at(-0.4 * SIZE, 0.0), at(-SIZE, -SIZE)];
    // Closed by a line back to the tip, not `closePath`: Chromium's closePath walks the whole
    // path, which made one frame of 10,000 arrows take over half a second.
    ctx.move_to(points[0].0, points[0].1);
    for (px, py) in points[1..].iter().chain(&points[..1]) {
        ctx.line_to(*px, *py);
    }
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

/// A vehicle's label text: id, what it is doing and its speed.
pub fn label_text(p: &Position, shown: Shown) -> String {
    format!("{} · {} · {:.0} km/h", p.id, shown.as_str(), p.speed)
}

/// Draws the scene for `view` on a canvas whose backing store is `scale` device pixels per
/// CSS pixel. Returns how many vehicles pass the filter (on screen or not).
pub fn draw(ctx: &CanvasRenderingContext2d, view: &Viewport, scale: f64, scene: &Scene) -> usize {
    let _ = ctx.set_transform(scale, 0.0, 0.0, scale, 0.0, 0.0);
    ctx.clear_rect(0.0, 0.0, view.width, view.height);
    let to_screen = view.to_screen();
    let mut matching = 0;
    let mut on_screen: Vec<(&Position, (f64, f64), Shown)> = Vec::new();
    for p in scene.fleet.filtered(scene.filter) {
        matching += 1;
        let at = to_screen(p.lat, p.lon);
        if view.contains(at, 2.0 * SIZE) {
            on_screen.push((p, at, Shown::of(p, scene.now, scene.stale_after_ms)));
        }
    }
    ctx.set_line_join("round");
    if scene.trails_for_all {
        ctx.begin_path();
        for (p, _, _) in &on_screen {
            trail(ctx, scene.fleet, &p.id, &to_screen);
        }
        ctx.set_stroke_style_str("rgba(139, 152, 165, 0.5)");
        ctx.set_line_width(1.0);
        ctx.stroke();
    }
    if let Some(id) = scene.selected {
        ctx.begin_path();
        trail(ctx, scene.fleet, id, &to_screen);
        ctx.set_stroke_style_str("#58a6ff");
        ctx.set_line_width(3.0);
        ctx.stroke();
    }
    ctx.set_line_width(1.0);
    ctx.set_stroke_style_str("#0d1117");
    for shown in Shown::ALL {
        ctx.begin_path();
        let mut any = false;
        for (p, at, _) in on_screen.iter().filter(|(_, _, s)| *s == shown) {
            arrow(ctx, *at, p.heading);
            any = true;
        }
        if any {
            ctx.set_fill_style_str(fill(shown));
            ctx.fill();
            ctx.stroke();
        }
    }
    ctx.set_font("12px system-ui, sans-serif");
    for (id, ring) in [(scene.hovered, false), (scene.selected, true)] {
        let Some((p, at, shown)) = id.and_then(|id| on_screen.iter().find(|(p, _, _)| p.id == id)) else { continue };
        if ring {
            ctx.begin_path();
            let _ = ctx.arc(at.0, at.1, 2.0 * SIZE, 0.0, std::f64::consts::TAU);
            ctx.set_stroke_style_str("#58a6ff");
            ctx.set_line_width(2.5);
            ctx.stroke();
        }
        label(ctx, *at, &label_text(p, *shown));
    }
    matching
}

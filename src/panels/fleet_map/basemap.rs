//! What is drawn under the vehicles: the backend's own world (`GET {apiBase}/basemap`: the
//! streets its vehicles drive on and its sites' outlines with their names), the geofences of
//! the catalog with their names, and the fence being drawn. On a canvas of its own below the
//! fleet's, redrawn only when the view, the basemap or the fences change (not on every batch of
//! positions). With no basemap and no tile server the map is the plain background it was.

use telemetry::basemap::Basemap;
use telemetry::catalog::Geofence;
use web_sys::CanvasRenderingContext2d;

use crate::model::geo::Viewport;

/// What is drawn, and a stamp of it (to know when to draw again).
pub(super) struct Under<'a> {
    pub basemap: Option<&'a Basemap>,
    pub fences: &'a [Geofence],
    /// The vertices of a fence being drawn, (lat, lon).
    pub drawing: &'a [(f64, f64)],
    /// The theme's colours.
    pub palette: &'a crate::model::theme::Palette,
}

fn path(ctx: &CanvasRenderingContext2d, points: impl Iterator<Item = (f64, f64)>, close: bool) {
    ctx.begin_path();
    let mut first = true;
    for (x, y) in points {
        if first {
            ctx.move_to(x, y);
            first = false;
        } else {
            ctx.line_to(x, y);
        }
    }
    if close {
        ctx.close_path();
    }
}

/// Draws `under` for `view` on a canvas of `scale` device pixels per CSS pixel.
pub(super) fn draw(ctx: &CanvasRenderingContext2d, view: &Viewport, scale: f64, under: &Under) {
    let _ = ctx.set_transform(1.0, 0.0, 0.0, 1.0, 0.0, 0.0);
    ctx.clear_rect(0.0, 0.0, view.width * scale, view.height * scale);
    let _ = ctx.set_transform(scale, 0.0, 0.0, scale, 0.0, 0.0);
    let to_screen = view.to_screen();
    ctx.set_line_join("round");
    ctx.set_line_cap("round");
    if let Some(basemap) = under.basemap {
        // Sites: a faint area with a dashed outline, named at its top-left corner.
        ctx.set_font("600 12px system-ui, sans-serif");
        for site in &basemap.sites {
            path(ctx, site.outline.iter().map(|[lat, lon]| to_screen(*lat, *lon)), true);
            ctx.set_fill_style_str("rgba(88,166,255,0.05)");
            ctx.fill();
            let _ = ctx.set_line_dash(&js_sys::Array::of2(&6.into(), &4.into()));
            ctx.set_stroke_style_str("rgba(88,166,255,0.45)");
            ctx.set_line_width(1.0);
            ctx.stroke();
            let _ = ctx.set_line_dash(&js_sys::Array::new());
            if let Some((x, y)) = site
                .outline
                .iter()
                .map(|[lat, lon]| to_screen(*lat, *lon))
                .reduce(|(ax, ay), (bx, by)| (ax.min(bx), ay.min(by)))
            {
                ctx.set_fill_style_str(under.palette.site_label);
                let _ = ctx.fill_text(&site.name, x + 4.0, y + 14.0);
            }
        }
        // Streets: lines wider as the zoom grows, named along them when close enough.
        let width = ((view.zoom - 11.0) * 1.5).clamp(1.0, 8.0);
        ctx.set_stroke_style_str(under.palette.street);
        ctx.set_line_width(width);
        for street in &basemap.streets {
            path(ctx, street.points.iter().map(|[lat, lon]| to_screen(*lat, *lon)), false);
            ctx.stroke();
        }
        if view.zoom >= 15.0 {
            ctx.set_font("11px system-ui, sans-serif");
            ctx.set_fill_style_str(under.palette.street_label);
            for street in &basemap.streets {
                let on_screen: Vec<(f64, f64)> = street
                    .points
                    .iter()
                    .map(|[lat, lon]| to_screen(*lat, *lon))
                    .filter(|p| view.contains(*p, 0.0))
                    .collect();
                if let Some((x, y)) = on_screen.first().copied().or_else(|| midpoint(street, &to_screen, view)) {
                    let _ = ctx.fill_text(&street.name, x + 4.0, y - 4.0);
                }
            }
        }
    }
    // Geofences: a translucent area with a solid outline and the name in its middle.
    ctx.set_font("600 12px system-ui, sans-serif");
    ctx.set_text_align("center");
    for fence in under.fences {
        // Off screen: not drawn (a catalog may hold a thousand fences of 500 points).
        if let Some((sw, ne)) = fence.bounds() {
            let (x0, y0) = to_screen(ne.lat, sw.lon);
            let (x1, y1) = to_screen(sw.lat, ne.lon);
            if x1 < 0.0 || y1 < 0.0 || x0 > view.width || y0 > view.height {
                continue;
            }
        }
        let centre = if let Some(polygon) = &fence.polygon {
            path(ctx, polygon.iter().map(|p| to_screen(p.lat, p.lon)), true);
            let n = polygon.len().max(1) as f64;
            let (x, y) =
                polygon.iter().map(|p| to_screen(p.lat, p.lon)).fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
            (x / n, y / n)
        } else if let Some(circle) = &fence.circle {
            let (x, y) = to_screen(circle.centre.lat, circle.centre.lon);
            // Metres to pixels at that latitude: Web Mercator's scale.
            let metres_per_pixel =
                40_075_016.686 * circle.centre.lat.to_radians().cos() / (256.0 * 2f64.powf(view.zoom));
            ctx.begin_path();
            let _ = ctx.arc(x, y, circle.radius_m / metres_per_pixel.max(1e-9), 0.0, std::f64::consts::TAU);
            (x, y)
        } else {
            continue;
        };
        ctx.set_fill_style_str("rgba(163,113,247,0.14)");
        ctx.fill();
        ctx.set_stroke_style_str("rgba(163,113,247,0.9)");
        ctx.set_line_width(2.0);
        ctx.stroke();
        ctx.set_fill_style_str(under.palette.fence_label);
        let name = if fence.name.is_empty() { &fence.id } else { &fence.name };
        let _ = ctx.fill_text(name, centre.0, centre.1);
    }
    ctx.set_text_align("start");
    // The fence being drawn: its vertices and the edges between them.
    if !under.drawing.is_empty() {
        path(ctx, under.drawing.iter().map(|(lat, lon)| to_screen(*lat, *lon)), under.drawing.len() > 2);
        ctx.set_fill_style_str("rgba(88,166,255,0.15)");
        if under.drawing.len() > 2 {
            ctx.fill();
        }
        ctx.set_stroke_style_str("#58a6ff");
        ctx.set_line_width(2.0);
        ctx.stroke();
        ctx.set_fill_style_str("#58a6ff");
        for (lat, lon) in under.drawing {
            let (x, y) = to_screen(*lat, *lon);
            ctx.fill_rect(x - 3.0, y - 3.0, 6.0, 6.0);
        }
    }
}

/// A street's middle on screen, when neither end is.
fn midpoint(
    street: &telemetry::basemap::Street,
    to_screen: &impl Fn(f64, f64) -> (f64, f64),
    view: &Viewport,
) -> Option<(f64, f64)> {
    let [a, b] = [street.points.first()?, street.points.last()?];
    let (x, y) = to_screen((a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0);
    view.contains((x, y), 0.0).then_some((x, y))
}

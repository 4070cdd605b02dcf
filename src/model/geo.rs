//! Web Mercator (EPSG:3857, as Leaflet draws it) for the fleet canvas: where a latitude and
//! longitude land on the screen for a map centre and zoom, and back, without asking Leaflet
//! once per vehicle.

use std::f64::consts::PI;

/// Leaflet's spherical Mercator stops at this latitude.
const MAX_LATITUDE: f64 = 85.051_128_779_806_59;

/// World pixels at zoom 0 (one 256-pixel tile).
const TILE: f64 = 256.0;

/// A point on the Mercator square, both axes 0 to 1 (x grows east, y grows south): the
/// projection without the zoom, so a vehicle's is computed once per report and each frame only
/// scales and shifts it.
pub fn mercator(lat: f64, lon: f64) -> (f64, f64) {
    let lat = lat.clamp(-MAX_LATITUDE, MAX_LATITUDE).to_radians();
    let x = (lon + 180.0) / 360.0;
    let y = 0.5 - (lat.tan() + 1.0 / lat.cos()).ln() / (2.0 * PI);
    (x, y)
}

/// A point in world pixels at `zoom`: x grows east, y grows south.
pub fn project(lat: f64, lon: f64, zoom: f64) -> (f64, f64) {
    let scale = TILE * zoom.exp2();
    let (x, y) = mercator(lat, lon);
    (x * scale, y * scale)
}

/// The inverse of [`project`].
pub fn unproject(x: f64, y: f64, zoom: f64) -> (f64, f64) {
    let scale = TILE * zoom.exp2();
    let lon = x / scale * 360.0 - 180.0;
    let lat = (PI * (1.0 - 2.0 * y / scale)).sinh().atan().to_degrees();
    (lat, lon)
}

/// What the map shows: its centre, zoom and size in CSS pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Viewport {
    pub centre: (f64, f64),
    pub zoom: f64,
    pub width: f64,
    pub height: f64,
}

impl Viewport {
    fn origin(&self) -> (f64, f64) {
        let (cx, cy) = project(self.centre.0, self.centre.1, self.zoom);
        (cx - self.width / 2.0, cy - self.height / 2.0)
    }

    /// A function from (lat, lon) to screen pixels, the projection origin computed once.
    pub fn to_screen(&self) -> impl Fn(f64, f64) -> (f64, f64) {
        let (ox, oy) = self.origin();
        let zoom = self.zoom;
        move |lat, lon| {
            let (x, y) = project(lat, lon, zoom);
            (x - ox, y - oy)
        }
    }

    /// A function from a [`mercator`] point to screen pixels: a scale and a shift.
    pub fn world_to_screen(&self) -> impl Fn((f64, f64)) -> (f64, f64) {
        let (ox, oy) = self.origin();
        let scale = TILE * self.zoom.exp2();
        move |(x, y)| (x * scale - ox, y * scale - oy)
    }

    /// The (lat, lon) under a screen pixel.
    pub fn to_lat_lon(&self, x: f64, y: f64) -> (f64, f64) {
        let (ox, oy) = self.origin();
        unproject(x + ox, y + oy, self.zoom)
    }

    /// Whether a screen point is on screen, allowing `margin` pixels around it.
    pub fn contains(&self, (x, y): (f64, f64), margin: f64) -> bool {
        x >= -margin && y >= -margin && x <= self.width + margin && y <= self.height + margin
    }
}

/// The item nearest to `at` within `radius` pixels, of `(item, screen point)` pairs.
pub fn nearest<T>(items: impl Iterator<Item = (T, (f64, f64))>, at: (f64, f64), radius: f64) -> Option<T> {
    items
        .map(|(item, (x, y))| (item, (x - at.0).powi(2) + (y - at.1).powi(2)))
        .filter(|(_, d)| *d <= radius * radius)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(item, _)| item)
}

/// `lat, lon` as the map's read-outs show it.
pub fn format_lat_lon(lat: f64, lon: f64) -> String {
    format!("{lat:.5}, {lon:.5}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projection_matches_leaflet() {
        // Leaflet's way: SphericalMercator (R = 6378137, y = R·ln tan(π/4 + φ/2)) then the
        // transformation (0.5/πR, 0.5, -0.5/πR, 0.5) times 256·2^zoom. The origin lands at
        // (128, 128) at zoom 0; Zurich at zoom 13 at (1_098_335.01, 734_392.56).
        let (x, y) = project(0.0, 0.0, 0.0);
        assert!((x - 128.0).abs() < 1e-9 && (y - 128.0).abs() < 1e-9);
        let (x, y) = project(47.3769, 8.5417, 13.0);
        assert!((x - 1_098_335.01).abs() < 0.01, "{x}");
        assert!((y - 734_392.56).abs() < 0.01, "{y}");
    }

    #[test]
    fn unproject_inverts_project() {
        for (lat, lon) in [(47.3769, 8.5417), (-33.9, 151.2), (0.0, -179.9), (70.0, 20.0)] {
            for zoom in [0.0, 5.5, 13.0, 18.0] {
                let (x, y) = project(lat, lon, zoom);
                let (lat2, lon2) = unproject(x, y, zoom);
                assert!((lat - lat2).abs() < 1e-9 && (lon - lon2).abs() < 1e-9, "{lat},{lon} at {zoom}");
            }
        }
        let (lat, _) = unproject(0.0, 0.0, 0.0);
        assert!((lat - MAX_LATITUDE).abs() < 1e-9);
    }

    #[test]
    fn viewport_puts_the_centre_in_the_middle_and_back() {
        let view = Viewport { centre: (47.3769, 8.5417), zoom: 14.0, width: 800.0, height: 600.0 };
        let to_screen = view.to_screen();
        let (x, y) = to_screen(47.3769, 8.5417);
        assert!((x - 400.0).abs() < 1e-6 && (y - 300.0).abs() < 1e-6);
        let (wx, wy) = view.world_to_screen()(mercator(47.38, 8.55));
        let (ex, ey) = to_screen(47.38, 8.55);
        assert!((wx - ex).abs() < 1e-6 && (wy - ey).abs() < 1e-6, "the same point either way");
        let (east, north) = to_screen(47.38, 8.55);
        assert!(east > 400.0 && north < 300.0, "north-east is up and right");
        let (lat, lon) = view.to_lat_lon(east, north);
        assert!((lat - 47.38).abs() < 1e-9 && (lon - 8.55).abs() < 1e-9);
        assert!(view.contains((x, y), 0.0));
        assert!(!view.contains((-20.0, 5.0), 10.0));
        assert!(view.contains((-5.0, 5.0), 10.0));
    }

    #[test]
    fn nearest_is_the_closest_within_the_radius() {
        let items = [("a", (10.0, 10.0)), ("b", (14.0, 10.0)), ("c", (100.0, 100.0))];
        assert_eq!(nearest(items.into_iter(), (13.0, 10.0), 6.0), Some("b"));
        assert_eq!(nearest(items.into_iter(), (50.0, 50.0), 6.0), None);
        assert_eq!(nearest(std::iter::empty::<((), (f64, f64))>(), (0.0, 0.0), 6.0), None);
    }
}

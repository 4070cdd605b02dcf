//! A fleet of vehicles driving road-like loops around a centre point.
//!
//! Each vehicle follows a rectangular loop on a street grid (blocks of a few hundred metres),
//! accelerates and brakes smoothly, waits at some corners (idle) and now and then parks for a
//! while (stopped). Heading always follows the street it is on. Everything is deterministic for
//! a given seed, so a test or a demo sees the same fleet every time.
//!
//! The fleet also describes its world: the street grid its routes cover and the outlines of
//! its sites ([`Fleet::basemap`], served as `GET /api/basemap`), and the geofences of the
//! built-in catalog, placed where its vehicles drive ([`Fleet::geofences`]).

use telemetry::basemap::{Basemap, SiteOutline, Street};
use telemetry::catalog::{Circle, Geofence, LatLon};
use telemetry::{Position, VehicleState};

use crate::devices::rng::SplitMix64;

const METRES_PER_DEGREE_LAT: f64 = 111_320.0;
/// Street grid spacing in metres.
const BLOCK: f64 = 350.0;
const ACCELERATION: f64 = 2.0; // m/s²
/// How far a site's outline reaches past the routes of its vehicles, metres.
pub const SITE_MARGIN: f64 = 60.0;
/// Half the side of the built-in `depot` geofence, metres: a square around a junction.
pub const DEPOT_HALF_SIDE: f64 = 60.0;
/// The radius of the built-in `market` geofence, metres.
pub const MARKET_RADIUS: f64 = 80.0;

/// A point in metres east/north of the centre.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Xy {
    x: f64,
    y: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Activity {
    Driving,
    /// Waiting at a corner until this many seconds have passed.
    Waiting {
        remaining: f64,
        parked: bool,
    },
}

#[derive(Debug, Clone)]
struct Vehicle {
    id: String,
    site: String,
    route: Vec<Xy>,
    /// Index of the waypoint being driven towards.
    next: usize,
    at: Xy,
    heading: f64,
    speed: f64,  // m/s
    cruise: f64, // m/s
    activity: Activity,
    /// Reports made so far (the last report's `seq`).
    reports: u64,
}

/// The simulated fleet.
#[derive(Debug, Clone)]
pub struct Fleet {
    centre_lat: f64,
    centre_lon: f64,
    vehicles: Vec<Vehicle>,
    rng: SplitMix64,
}

/// Site names vehicles are spread over.
pub const SITES: [&str; 4] = ["harbour", "airport", "old-town", "industrial"];

/// The kinds of vehicle the fleet has (id, name), declared in the catalog; the map draws each
/// with its own shape (the id names it). Of every ten vehicles, six are vans, three trucks and
/// one a forklift ([`kind_of`]).
pub const KINDS: [(&str, &str); 3] = [("van", "Delivery van"), ("truck", "Truck"), ("forklift", "Forklift")];

/// The kind of the `index`th vehicle.
pub fn kind_of(index: usize) -> &'static str {
    match index % 10 {
        0..=5 => KINDS[0].0,
        6..=8 => KINDS[1].0,
        _ => KINDS[2].0,
    }
}

/// The catalog's entries for [`KINDS`].
pub fn vehicle_kinds() -> Vec<telemetry::catalog::VehicleKind> {
    KINDS
        .iter()
        .map(|(id, name)| telemetry::catalog::VehicleKind {
            id: id.to_string(),
            name: name.to_string(),
            ..Default::default()
        })
        .collect()
}

impl Fleet {
    /// `count` vehicles around (`centre_lat`, `centre_lon`), deterministic for `seed`.
    pub fn new(seed: u64, count: usize, centre_lat: f64, centre_lon: f64) -> Self {
        let mut rng = SplitMix64::new(seed);
        // The grid grows with the fleet so big fleets do not pile up on the same streets.
        let half_extent = (4.0 + (count as f64).sqrt() / 2.0).round() as i64;
        let vehicles = (0..count)
            .map(|i| {
                let x0 = rng.range_i64(-half_extent, half_extent);
                let y0 = rng.range_i64(-half_extent, half_extent);
                let w = rng.range_i64(1, 4);
                let h = rng.range_i64(1, 4);
                let corners = [(x0, y0), (x0 + w, y0), (x0 + w, y0 + h), (x0, y0 + h)];
                let mut route: Vec<Xy> =
                    corners.iter().map(|&(x, y)| Xy { x: x as f64 * BLOCK, y: y as f64 * BLOCK }).collect();
                if rng.next_f64() < 0.5 {
                    route.reverse();
                }
                // Start somewhere along a random street of the loop.
                let from = rng.range_i64(0, 3) as usize;
                let next = (from + 1) % route.len();
                let t = rng.next_f64();
                let at = Xy {
                    x: route[from].x + (route[next].x - route[from].x) * t,
                    y: route[from].y + (route[next].y - route[from].y) * t,
                };
                let cruise = rng.range_f64(30.0, 65.0) / 3.6;
                let site_index = if y0 >= 0 {
                    if x0 >= 0 {
                        2
                    } else {
                        0
                    }
                } else if x0 >= 0 {
                    1
                } else {
                    3
                };
                let mut v = Vehicle {
                    id: format!("veh-{:05}", i + 1),
                    site: SITES[site_index].to_string(),
                    route,
                    next,
                    at,
                    heading: 0.0,
                    speed: cruise * rng.next_f64(),
                    cruise,
                    activity: Activity::Driving,
                    reports: 0,
                };
                v.heading = bearing(v.at, v.route[v.next]);
                v
            })
            .collect();
        Self { centre_lat, centre_lon, vehicles, rng }
    }

    pub fn len(&self) -> usize {
        self.vehicles.len()
    }

    /// Registry entries of the vehicles.
    pub fn registry(&self) -> impl Iterator<Item = telemetry::DeviceInfo> + '_ {
        self.vehicles.iter().enumerate().map(|(i, v)| telemetry::DeviceInfo {
            id: v.id.clone(),
            name: format!("Vehicle {}", v.id.trim_start_matches("veh-").trim_start_matches('0')),
            kind: kind_of(i).into(),
            site: v.site.clone(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.vehicles.is_empty()
    }

    /// Advances every vehicle by `dt` seconds.
    pub fn step(&mut self, dt: f64) {
        for v in &mut self.vehicles {
            step_vehicle(v, dt, &mut self.rng);
        }
    }

    /// Current positions stamped with `ts` (Unix ms).
    pub fn positions(&self, ts: i64) -> Vec<Position> {
        self.vehicles.iter().map(|v| self.position(v, ts)).collect()
    }

    /// Advances the vehicles of one reporting slot (those whose index is `slot` modulo `slots`)
    /// by `dt` seconds and returns their positions stamped with `ts`.
    pub fn report_slot(&mut self, slot: usize, slots: usize, dt: f64, ts: i64) -> Vec<Position> {
        let slots = slots.max(1);
        let mut batch = Vec::with_capacity(self.vehicles.len() / slots + 1);
        for index in (slot % slots..self.vehicles.len()).step_by(slots) {
            let vehicle = &mut self.vehicles[index];
            step_vehicle(vehicle, dt, &mut self.rng);
            vehicle.reports += 1;
            batch.push(self.position(&self.vehicles[index], ts));
        }
        batch
    }

    /// The point `xy` metres from the centre, WGS 84 degrees rounded to 6 decimals.
    fn lat_lon(&self, xy: Xy) -> LatLon {
        let lon_scale = METRES_PER_DEGREE_LAT * self.centre_lat.to_radians().cos();
        LatLon {
            lat: round6(self.centre_lat + xy.y / METRES_PER_DEGREE_LAT),
            lon: round6(self.centre_lon + xy.x / lon_scale),
        }
    }

    fn point(&self, xy: Xy) -> [f64; 2] {
        let at = self.lat_lon(xy);
        [at.lat, at.lon]
    }

    /// The streets and the sites, as the dashboard draws them under the vehicles: one straight
    /// street per line of the grid across the box of every route (north–south ones named
    /// `1st Street`, `2nd Street`, … from west to east, east–west ones `A Avenue`, `B Avenue`,
    /// … from south to north), and per site with vehicles the box of its vehicles' routes
    /// widened by [`SITE_MARGIN`] (south-west, south-east, north-east, north-west). Every
    /// position the fleet reports lies on a street. No vehicles: nothing.
    pub fn basemap(&self) -> Basemap {
        let corners = || self.vehicles.iter().flat_map(|v| &v.route).map(|xy| grid(*xy));
        let (Some(west), Some(east)) = (corners().map(|g| g.0).min(), corners().map(|g| g.0).max()) else {
            return Basemap::default();
        };
        let south = corners().map(|g| g.1).min().unwrap_or(0);
        let north = corners().map(|g| g.1).max().unwrap_or(0);
        let at = |gx: i64, gy: i64| self.point(Xy { x: gx as f64 * BLOCK, y: gy as f64 * BLOCK });
        let mut streets = Vec::new();
        for gx in west..=east {
            let name = format!("{} Street", ordinal(gx - west + 1));
            streets.push(Street { name, points: vec![at(gx, south), at(gx, north)] });
        }
        for gy in south..=north {
            let name = format!("{} Avenue", letters(gy - south));
            streets.push(Street { name, points: vec![at(west, gy), at(east, gy)] });
        }
        let sites = SITES
            .iter()
            .filter_map(|site| {
                let mut routes = self.vehicles.iter().filter(|v| v.site == *site).flat_map(|v| &v.route).peekable();
                let first = **routes.peek()?;
                let (mut sw, mut ne) = (first, first);
                for xy in routes {
                    sw = Xy { x: sw.x.min(xy.x), y: sw.y.min(xy.y) };
                    ne = Xy { x: ne.x.max(xy.x), y: ne.y.max(xy.y) };
                }
                let (w, e, s, n) = (sw.x - SITE_MARGIN, ne.x + SITE_MARGIN, sw.y - SITE_MARGIN, ne.y + SITE_MARGIN);
                let outline = [(w, s), (e, s), (e, n), (w, n)].map(|(x, y)| self.point(Xy { x, y })).to_vec();
                Some(SiteOutline { id: site.to_string(), name: crate::devices::catalog::site_name(site), outline })
            })
            .collect();
        Basemap { streets, sites }
    }

    /// The geofences of the built-in catalog, where the vehicles drive (deterministic for the
    /// seed): `depot`, "Depot", a square of 2 × [`DEPOT_HALF_SIDE`] around the junction of the
    /// first vehicle's loop nearest the centre (so that vehicle drives through it on every
    /// round, and slows down and waits there at times), with a speed limit of 30 km/h and a
    /// longest stay of 3 minutes; and `market`, "Market square", a circle of
    /// [`MARKET_RADIUS`] around another junction, of the second vehicle's loop, enter and exit
    /// only. With no vehicles the depot is around the centre; with one, there is no market.
    pub fn geofences(&self) -> Vec<Geofence> {
        let nearest = |v: &Vehicle, except: Option<Xy>| {
            v.route
                .iter()
                .copied()
                .filter(|xy| Some(*xy) != except)
                .min_by(|a, b| (a.x.hypot(a.y)).total_cmp(&b.x.hypot(b.y)))
        };
        let first = self.vehicles.first();
        let depot = first.and_then(|v| nearest(v, None)).unwrap_or(Xy { x: 0.0, y: 0.0 });
        let d = DEPOT_HALF_SIDE;
        let square = [(-d, -d), (d, -d), (d, d), (-d, d)]
            .map(|(dx, dy)| self.lat_lon(Xy { x: depot.x + dx, y: depot.y + dy }))
            .to_vec();
        let mut fences = vec![Geofence {
            id: "depot".into(),
            name: "Depot".into(),
            polygon: Some(square),
            speed_limit: Some(30.0),
            dwell_minutes: Some(3.0),
            site: first.map(|v| v.site.clone()).unwrap_or_default(),
            ..Geofence::default()
        }];
        if let Some(second) = self.vehicles.get(1) {
            if let Some(market) = nearest(second, Some(depot)) {
                fences.push(Geofence {
                    id: "market".into(),
                    name: "Market square".into(),
                    circle: Some(Circle { centre: self.lat_lon(market), radius_m: MARKET_RADIUS }),
                    site: second.site.clone(),
                    ..Geofence::default()
                });
            }
        }
        fences
    }

    fn position(&self, v: &Vehicle, ts: i64) -> Position {
        let at = self.lat_lon(v.at);
        Position {
            id: v.id.clone(),
            ts,
            lat: at.lat,
            lon: at.lon,
            heading: (v.heading * 10.0).round() / 10.0,
            speed: (v.speed * 3.6 * 10.0).round() / 10.0,
            state: match v.activity {
                Activity::Waiting { parked: true, .. } => VehicleState::Stopped,
                _ if v.speed < 0.5 => VehicleState::Idle,
                _ => VehicleState::Moving,
            },
            site: v.site.clone(),
            seq: v.reports,
        }
    }
}

/// The grid junction a route corner is at, in blocks east and north of the centre.
fn grid(xy: Xy) -> (i64, i64) {
    ((xy.x / BLOCK).round() as i64, (xy.y / BLOCK).round() as i64)
}

/// `1st`, `2nd`, `3rd`, `4th`, … `11th`, `12th`, `13th`, … `21st`.
fn ordinal(n: i64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// `A`, `B`, … `Z`, `AA`, `AB`, … (as spreadsheet columns) for 0, 1, … 25, 26, 27, ….
fn letters(mut n: i64) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (n % 26) as u8);
        n = n / 26 - 1;
        if n < 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

fn round6(value: f64) -> f64 {
    (value * 1e6).round() / 1e6
}

/// Compass bearing from `a` to `b` in degrees (0 = north, 90 = east).
fn bearing(a: Xy, b: Xy) -> f64 {
    let deg = (b.x - a.x).atan2(b.y - a.y).to_degrees();
    (deg + 360.0) % 360.0
}

fn distance(a: Xy, b: Xy) -> f64 {
    ((b.x - a.x).powi(2) + (b.y - a.y).powi(2)).sqrt()
}

fn step_vehicle(v: &mut Vehicle, dt: f64, rng: &mut SplitMix64) {
    if let Activity::Waiting { remaining, parked } = v.activity {
        v.speed = 0.0;
        let remaining = remaining - dt;
        v.activity = if remaining <= 0.0 { Activity::Driving } else { Activity::Waiting { remaining, parked } };
        return;
    }
    let target = v.route[v.next];
    let to_corner = distance(v.at, target);
    // Brake so the vehicle can turn the corner slowly.
    let braking_speed = (2.0 * ACCELERATION * to_corner).sqrt().max(3.0);
    let wanted = v.cruise.min(braking_speed);
    v.speed = if v.speed < wanted {
        (v.speed + ACCELERATION * dt).min(wanted)
    } else {
        (v.speed - ACCELERATION * 1.5 * dt).max(wanted)
    };
    let mut travel = v.speed * dt;
    while travel > 0.0 {
        let target = v.route[v.next];
        let left = distance(v.at, target);
        if travel < left {
            let f = travel / left;
            v.at = Xy { x: v.at.x + (target.x - v.at.x) * f, y: v.at.y + (target.y - v.at.y) * f };
            v.heading = bearing(v.at, target);
            break;
        }
        v.at = target;
        travel -= left;
        v.next = (v.next + 1) % v.route.len();
        v.heading = bearing(v.at, v.route[v.next]);
        let roll = rng.next_f64();
        if roll < 0.04 {
            v.activity = Activity::Waiting { remaining: rng.range_f64(60.0, 180.0), parked: true };
            v.speed = 0.0;
            break;
        } else if roll < 0.25 {
            v.activity = Activity::Waiting { remaining: rng.range_f64(3.0, 25.0), parked: false };
            v.speed = 0.0;
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fleet_has_vans_trucks_and_a_forklift_in_ten_each_kind_declared() {
        let fleet = Fleet::new(7, 20, 47.37, 8.54);
        let kinds: Vec<String> = fleet.registry().map(|d| d.kind).collect();
        let count = |k: &str| kinds.iter().filter(|x| *x == k).count();
        assert_eq!((count("van"), count("truck"), count("forklift")), (12, 6, 2));
        let mut catalog = telemetry::Catalog { vehicle_kinds: vehicle_kinds(), ..Default::default() };
        assert!(catalog.problems().is_empty());
        assert!(kinds.iter().all(|k| catalog.is_vehicle_kind(k)), "every registry kind is a declared vehicle kind");
    }

    #[test]
    fn same_seed_same_fleet() {
        let mut a = Fleet::new(7, 20, 47.37, 8.54);
        let mut b = Fleet::new(7, 20, 47.37, 8.54);
        for _ in 0..30 {
            a.step(1.0);
            b.step(1.0);
        }
        assert_eq!(a.positions(0), b.positions(0));
        let c = Fleet::new(8, 20, 47.37, 8.54);
        assert_ne!(a.positions(0), c.positions(0));
    }

    #[test]
    fn reporting_slots_cover_every_vehicle_once_per_round() {
        let mut fleet = Fleet::new(3, 23, 47.37, 8.54);
        let start = fleet.positions(0);
        let mut seen = std::collections::HashMap::new();
        for slot in 0..10 {
            for p in fleet.report_slot(slot, 10, 1.0, 5) {
                assert_eq!(p.ts, 5);
                *seen.entry(p.id).or_insert(0) += 1;
            }
        }
        assert_eq!(seen.len(), 23);
        assert!(seen.values().all(|&n| n == 1), "each vehicle reports once per round: {seen:?}");

        // After one round the fleet has moved, each vehicle no further than its speed allows in
        // the one second it was stepped by.
        let after = fleet.positions(0);
        assert_ne!(after, start);
        for (p, q) in start.iter().zip(after) {
            let dy = (q.lat - p.lat) * METRES_PER_DEGREE_LAT;
            let dx = (q.lon - p.lon) * METRES_PER_DEGREE_LAT * 47.37f64.to_radians().cos();
            assert!((dx * dx + dy * dy).sqrt() <= q.speed.max(p.speed) / 3.6 + 1.0);
        }
        // Reports are numbered per vehicle: the second round's are all number 2.
        let second: Vec<u64> = (0..10).flat_map(|slot| fleet.report_slot(slot, 10, 1.0, 6)).map(|p| p.seq).collect();
        assert_eq!(second, vec![2; 23]);
    }

    #[test]
    fn vehicles_move_consistently_with_heading_and_speed() {
        let mut fleet = Fleet::new(1, 50, 47.37, 8.54);
        let mut moved = 0;
        for _ in 0..120 {
            let before = fleet.positions(0);
            fleet.step(1.0);
            let after = fleet.positions(0);
            for (p, q) in before.iter().zip(&after) {
                let dy = (q.lat - p.lat) * METRES_PER_DEGREE_LAT;
                let dx = (q.lon - p.lon) * METRES_PER_DEGREE_LAT * 47.37f64.to_radians().cos();
                let metres = (dx * dx + dy * dy).sqrt();
                // Never faster than the reported speed allows (plus rounding slack).
                assert!(metres <= q.speed.max(p.speed) / 3.6 + 1.0, "{} jumped {metres} m", q.id);
                assert!((0.0..360.0).contains(&q.heading));
                if metres > 5.0 {
                    moved += 1;
                    // Straight street segments: the movement is along the reported heading,
                    // unless the vehicle turned a corner within this step.
                    let travel = (dx.atan2(dy).to_degrees() + 360.0) % 360.0;
                    let diff = ((travel - q.heading + 540.0) % 360.0 - 180.0).abs();
                    let turned = ((p.heading - q.heading + 540.0) % 360.0 - 180.0).abs() > 1.0;
                    assert!(turned || diff < 2.0, "{} travels {travel} but heads {}", q.id, q.heading);
                }
            }
        }
        assert!(moved > 50 * 60, "most vehicles move most of the time: {moved}");
    }

    #[test]
    fn vehicles_stop_and_park_sometimes_and_stay_near_the_centre() {
        let mut fleet = Fleet::new(3, 50, 0.0, 0.0);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..600 {
            fleet.step(1.0);
            for p in fleet.positions(0) {
                seen.insert(p.state);
                assert!(p.lat.abs() < 0.2 && p.lon.abs() < 0.2);
            }
        }
        assert!(seen.contains(&VehicleState::Moving));
        assert!(seen.contains(&VehicleState::Idle));
        assert!(seen.contains(&VehicleState::Stopped));
    }

    /// Metres from `p` to the segment `a`–`b` (points `[lat, lon]`), locally flat.
    fn metres_to_segment(p: [f64; 2], a: [f64; 2], b: [f64; 2], lat: f64) -> f64 {
        let scale = |q: [f64; 2]| (q[1] * METRES_PER_DEGREE_LAT * lat.to_radians().cos(), q[0] * METRES_PER_DEGREE_LAT);
        let (p, a, b) = (scale(p), scale(a), scale(b));
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let t = (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / (dx * dx + dy * dy).max(1e-9)).clamp(0.0, 1.0);
        (p.0 - a.0 - t * dx).hypot(p.1 - a.1 - t * dy)
    }

    #[test]
    fn every_position_over_a_minute_is_on_a_street_and_inside_its_site() {
        for (seed, count) in [(7, 50), (42, 500)] {
            let mut fleet = Fleet::new(seed, count, 47.3769, 8.5417);
            let map = fleet.basemap();
            assert!(map.streets.iter().all(|s| s.points.len() >= 2));
            let names: std::collections::HashSet<&str> = map.streets.iter().map(|s| s.name.as_str()).collect();
            assert_eq!(names.len(), map.streets.len(), "each street once");
            assert!(names.contains("1st Street") && names.contains("A Avenue") && names.contains("3rd Street"));
            let outlines: Vec<(String, Geofence)> = map
                .sites
                .iter()
                .map(|s| {
                    let polygon = s.outline.iter().map(|p| LatLon { lat: p[0], lon: p[1] }).collect();
                    (s.id.clone(), Geofence { id: s.id.clone(), polygon: Some(polygon), ..Geofence::default() })
                })
                .collect();
            assert_eq!(outlines.len(), 4, "every site has vehicles");
            for _ in 0..60 {
                fleet.step(1.0);
                for p in fleet.positions(0) {
                    let nearest = map
                        .streets
                        .iter()
                        .flat_map(|s| s.points.windows(2).map(|w| metres_to_segment([p.lat, p.lon], w[0], w[1], p.lat)))
                        .fold(f64::INFINITY, f64::min);
                    assert!(nearest < 2.0, "{} is {nearest} m off every street", p.id);
                    let (_, site) = outlines.iter().find(|(id, _)| *id == p.site).expect("its site has an outline");
                    assert!(site.contains(p.lat, p.lon), "{} is outside {}", p.id, p.site);
                }
            }
        }
        assert_eq!(Fleet::new(1, 0, 47.0, 8.0).basemap(), Basemap::default());
        assert_eq!(Fleet::new(1, 50, 47.0, 8.0).basemap(), Fleet::new(1, 50, 47.0, 8.0).basemap(), "deterministic");
    }

    #[test]
    fn street_names_count_in_english_and_letters() {
        let ordinals: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111].into_iter().map(ordinal).collect();
        assert_eq!(ordinals, ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th"]);
        let letters: Vec<String> = [0, 1, 25, 26, 27, 51, 52, 701, 702].into_iter().map(letters).collect();
        assert_eq!(letters, ["A", "B", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA"]);
    }

    #[test]
    fn the_built_in_fences_are_where_the_first_vehicles_drive() {
        // The default seed and fleet, another, a tiny one and a big one.
        for (seed, count) in [(42, 50), (7, 50), (42, 2), (1, 500)] {
            let mut fleet = Fleet::new(seed, count, 47.3769, 8.5417);
            let fences = fleet.geofences();
            assert_eq!(fences.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(), ["depot", "market"]);
            assert!(fences.iter().all(|f| f.problem().is_none()));
            let mut inside = [false; 2];
            let mut crossings = [0; 2];
            for _ in 0..1200 {
                fleet.step(1.0);
                let positions = fleet.positions(0);
                for (n, fence) in fences.iter().enumerate() {
                    let now = fence.contains(positions[n].lat, positions[n].lon);
                    crossings[n] += usize::from(now != inside[n]);
                    inside[n] = now;
                }
            }
            assert!(crossings.iter().all(|&c| c >= 4), "seed {seed}: in and out, again and again: {crossings:?}");
        }
        let fleet = Fleet::new(7, 50, 47.3769, 8.5417);
        assert_eq!(fleet.geofences(), Fleet::new(7, 50, 47.3769, 8.5417).geofences(), "deterministic");
        let empty = Fleet::new(7, 0, 47.0, 8.0).geofences();
        assert_eq!(empty.len(), 1);
        assert!(empty[0].contains(47.0, 8.0), "the depot is at the centre");
    }

    #[test]
    fn headings_are_spread_over_the_compass() {
        let fleet = Fleet::new(5, 40, 47.0, 8.0);
        let headings: std::collections::HashSet<i64> = fleet.positions(0).iter().map(|p| p.heading as i64).collect();
        assert_eq!(headings.len(), 4, "four street directions: {headings:?}");
    }
}

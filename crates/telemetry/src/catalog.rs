//! The catalog: the backend's description of its world. Kinds of device with their metrics
//! (name, unit, decimals, expected range, alarm limits with hysteresis), the devices, the sites
//! and the kinds of vehicle. Served at `GET {apiBase}/catalog`, included in the snapshot, and
//! pushed as the hub target `catalog` whenever it changes: a pushed document is merged by id
//! into what the receiver has ([`Catalog::merge`]), and an entry with `"removed": true` removes
//! the entry of that id. An entry replaces the one of its id whole, except that **an empty
//! field in an update keeps what the receiver has**: an empty string (a name, a device's kind
//! or site) or an absent optional (a device's `lat`/`lon`, a site's `centre`) leaves the
//! receiver's value, so an update may name only what changes. Lists are replaced whole: a
//! kind's `metrics` are the update's (none, if it lists none). Everything the catalog does not
//! name is still shown, by its id.
//!
//! Geofences are entries too: an area (a `polygon` of 3 to [`MAX_POLYGON_POINTS`] points, or a
//! `circle`: exactly one of the two), with an optional speed limit inside it (km/h) and an
//! optional longest stay (`dwellMinutes`); the backend raises alerts when a vehicle enters,
//! leaves, stays too long or speeds inside ([`Geofence`]). A dashboard saves one with
//! `POST {apiBase}/geofences` ([`GEOFENCES_PATH`]) and every dashboard gets it as a `catalog`
//! push. A polygon's ring closes by itself (the last point is not repeated); polygons that
//! cross the antimeridian are not supported.
//! A geofence's shape is required in an update too; an absent `speedLimit` or `dwellMinutes`
//! keeps the receiver's, like every absent optional (remove the fence and add it again to drop
//! one).
//!
//! ```json
//! {
//!   "kinds": [{ "id": "pump", "name": "Pump", "metrics": [
//!     { "id": "flow", "name": "Flow", "unit": "m³/h", "decimals": 1, "min": 0, "max": 400,
//!       "limits": [{ "severity": "warning", "above": 300, "clear": 280 }] }] }],
//!   "devices": [{ "id": "pump-07", "name": "Pump 7", "kind": "pump", "site": "harbour" }],
//!   "sites": [{ "id": "harbour", "name": "Harbour", "centre": { "lat": 53.54, "lon": 9.98 } }],
//!   "vehicleKinds": [{ "id": "van", "name": "Delivery van" }, { "id": "hauler", "shape": "truck" }],
//!   "geofences": [
//!     { "id": "depot", "name": "Depot", "site": "harbour", "speedLimit": 30, "dwellMinutes": 3,
//!       "polygon": [{ "lat": 53.541, "lon": 9.981 }, { "lat": 53.541, "lon": 9.983 },
//!                   { "lat": 53.542, "lon": 9.983 }, { "lat": 53.542, "lon": 9.981 }] },
//!     { "id": "gate", "name": "Gate", "circle": { "centre": { "lat": 53.54, "lon": 9.98 }, "radiusM": 80 } }]
//! }
//! ```

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::Severity;

/// The kind id of a vehicle in the device registry when no vehicle kind is declared.
pub const VEHICLE: &str = "vehicle";

/// Entries a catalog holds at most of each sort, and metrics and limits per entry: a document
/// from the wire cannot grow the receiver without end.
pub const MAX_ENTRIES: usize = 10_000;
/// Metrics one kind declares at most.
pub const MAX_METRICS: usize = 64;
/// Limits one metric declares at most.
pub const MAX_LIMITS: usize = 8;
/// Geofences a catalog holds at most (each vehicle report is checked against every one).
pub const MAX_GEOFENCES: usize = 1_000;
/// Points a geofence polygon has at most (and 3 at least).
pub const MAX_POLYGON_POINTS: usize = 500;
/// The largest circle a geofence may be, in metres.
pub const MAX_RADIUS_M: f64 = 1_000_000.0;
/// Characters a geofence id has at most (and 1 at least).
pub const MAX_GEOFENCE_ID: usize = 64;
/// The functions API path (after `{apiBase}/`) a dashboard saves geofences at: `POST` one
/// [`Geofence`], or `{"geofences": [...]}`; a removal is `{"id": ..., "removed": true}`.
pub const GEOFENCES_PATH: &str = "geofences";
/// Mean Earth radius (IUGG), metres: the haversine distance of circle geofences.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// The whole description, or an update to merge into one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Catalog {
    /// Kinds of device and what they measure.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<Kind>,
    /// Devices declared (a device may also appear only through its readings).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<Device>,
    /// Sites.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sites: Vec<Site>,
    /// Kinds of vehicle: a registry entry of one of these kinds (or of [`VEHICLE`]) is a vehicle.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vehicle_kinds: Vec<VehicleKind>,
    /// Areas vehicles are watched in ([`Geofence`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub geofences: Vec<Geofence>,
}

/// A kind of device: what its readings carry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Kind {
    /// As in [`Reading::kind`](crate::Reading::kind).
    pub id: String,
    /// Shown on screen; the id when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The metrics of its readings, in the order they are shown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
    /// In an update: remove the kind of this id.
    #[serde(default, skip_serializing_if = "is_false")]
    pub removed: bool,
}

/// One metric of a kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metric {
    /// As in [`Reading::values`](crate::Reading::values).
    pub id: String,
    /// Shown on screen; the id when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Unit shown after values (`°C`, `m³/h`); none when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub unit: String,
    /// Decimals shown (0 to 6; 1 when absent).
    #[serde(default = "one_decimal")]
    pub decimals: u8,
    /// Expected lowest value, for axes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Expected highest value, for axes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Alarm limits on it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limits: Vec<Limit>,
}

/// An alarm limit: raised once the value goes past `above` (or below `below`), cleared once it
/// is back past `clear` (hysteresis, so a value hovering at the limit does not chatter).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Limit {
    /// Severity of the alarms it raises.
    pub severity: Severity,
    /// Raised above this value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub above: Option<f64>,
    /// Raised below this value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub below: Option<f64>,
    /// Cleared once the value is back below this (an `above` limit) or above it (a `below`
    /// one); the limit itself when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear: Option<f64>,
}

/// Which way a [`Limit`] looks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Direction {
    /// Raised when the value exceeds the threshold.
    Above,
    /// Raised when the value falls under the threshold.
    Below,
}

impl Limit {
    /// The threshold and its direction (`above` when both are given: [`Catalog::problems`]
    /// reports that as a mistake).
    pub fn threshold(&self) -> Option<(Direction, f64)> {
        match (self.above, self.below) {
            (Some(above), _) => Some((Direction::Above, above)),
            (None, Some(below)) => Some((Direction::Below, below)),
            (None, None) => None,
        }
    }

    /// Whether `value` is past the limit.
    pub fn raised_by(&self, value: f64) -> bool {
        match self.threshold() {
            Some((Direction::Above, t)) => value > t,
            Some((Direction::Below, t)) => value < t,
            None => false,
        }
    }

    /// Whether `value` is back on the right side of the clear level.
    pub fn cleared_by(&self, value: f64) -> bool {
        match self.threshold() {
            Some((Direction::Above, t)) => value < self.clear.unwrap_or(t),
            Some((Direction::Below, t)) => value > self.clear.unwrap_or(t),
            None => true,
        }
    }
}

/// A device of the registry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    /// As in [`Reading::device`](crate::Reading::device) or [`Position::id`](crate::Position::id).
    pub id: String,
    /// Shown on screen; the id when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// A [`Kind`] id, or a vehicle kind.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Where it stands.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub site: String,
    /// Where it is, for a device that does not move.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    /// See `lat`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
    /// In an update: remove the device of this id.
    #[serde(default, skip_serializing_if = "is_false")]
    pub removed: bool,
}

/// A site.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Site {
    /// As in `site:<id>` groups and the `site` fields of the wire.
    pub id: String,
    /// Shown on screen; the id when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Where the map centres for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub centre: Option<LatLon>,
    /// In an update: remove the site of this id.
    #[serde(default, skip_serializing_if = "is_false")]
    pub removed: bool,
}

/// A point on the globe.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatLon {
    /// WGS 84 degrees, north positive.
    pub lat: f64,
    /// WGS 84 degrees, east positive.
    pub lon: f64,
}

/// A kind of vehicle.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VehicleKind {
    /// As in a registry entry's `kind`.
    pub id: String,
    /// Shown on screen; the id when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// How the map draws it: `arrow`, `truck`, `van` or `forklift`. When empty (or not one of
    /// those), the shape the id names if it names one, else an arrow.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub shape: String,
    /// In an update: remove the vehicle kind of this id.
    #[serde(default, skip_serializing_if = "is_false")]
    pub removed: bool,
}

/// An area vehicles are watched in: the backend raises an alert (metric
/// `geofence:<id>:enter`, `:exit`, `:dwell`, `:speed`) when a vehicle enters it, leaves it,
/// stays longer than `dwell_minutes` or drives faster than `speed_limit` inside it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Geofence {
    /// 1 to [`MAX_GEOFENCE_ID`] characters.
    pub id: String,
    /// Shown on the map and in alerts; the id when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The area as a ring of 3 to [`MAX_POLYGON_POINTS`] points (closing by itself: the last
    /// point is not the first again). Exactly one of `polygon` and `circle`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polygon: Option<Vec<LatLon>>,
    /// The area as a circle. Exactly one of `polygon` and `circle`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circle: Option<Circle>,
    /// Fastest speed allowed inside, km/h (none when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed_limit: Option<f64>,
    /// Longest stay inside, minutes (fractions allowed; none when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dwell_minutes: Option<f64>,
    /// The site it belongs to, if any.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub site: String,
    /// In an update: remove the geofence of this id.
    #[serde(default, skip_serializing_if = "is_false")]
    pub removed: bool,
}

/// A circle on the globe.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Circle {
    /// Its centre.
    pub centre: LatLon,
    /// Its radius in metres, more than 0 and at most [`MAX_RADIUS_M`].
    pub radius_m: f64,
}

/// The great-circle distance between two points, metres (haversine, on a sphere of
/// [`EARTH_RADIUS_M`]).
pub fn distance_m(a: LatLon, b: LatLon) -> f64 {
    let (lat1, lat2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = lat2 - lat1;
    let dlon = (b.lon - a.lon).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// Whether (`lat`, `lon`) lies inside the ring `points` (ray casting in degrees: a point on an
/// edge may go either way; the ring closes by itself).
pub fn polygon_contains(points: &[LatLon], lat: f64, lon: f64) -> bool {
    let mut inside = false;
    let mut j = points.len().wrapping_sub(1);
    for (i, a) in points.iter().enumerate() {
        let b = points[j];
        if (a.lat > lat) != (b.lat > lat) && lon < (b.lon - a.lon) * (lat - a.lat) / (b.lat - a.lat) + a.lon {
            inside = !inside;
        }
        j = i;
    }
    inside
}

impl Geofence {
    /// Whether the point (WGS 84 degrees) is inside: ray casting for a polygon, the haversine
    /// distance for a circle. A fence with neither shape or both ([`Catalog::problems`] drops
    /// those), or a polygon of fewer than 3 points, contains nothing.
    pub fn contains(&self, lat: f64, lon: f64) -> bool {
        if !(lat.is_finite() && lon.is_finite()) {
            return false;
        }
        match (&self.polygon, &self.circle) {
            (Some(points), None) if points.len() >= 3 => polygon_contains(points, lat, lon),
            (None, Some(circle)) => distance_m(circle.centre, LatLon { lat, lon }) <= circle.radius_m,
            _ => false,
        }
    }

    /// The box around it: (south-west, north-east) corners; `None` without exactly one shape.
    /// A circle's box is its radius in each direction (the whole band of longitudes near a
    /// pole).
    pub fn bounds(&self) -> Option<(LatLon, LatLon)> {
        match (&self.polygon, &self.circle) {
            (Some(points), None) if !points.is_empty() => {
                let mut sw = points[0];
                let mut ne = points[0];
                for p in points {
                    sw = LatLon { lat: sw.lat.min(p.lat), lon: sw.lon.min(p.lon) };
                    ne = LatLon { lat: ne.lat.max(p.lat), lon: ne.lon.max(p.lon) };
                }
                Some((sw, ne))
            }
            (None, Some(circle)) => {
                let dlat = (circle.radius_m / EARTH_RADIUS_M).to_degrees();
                let c = circle.centre;
                let cos = (c.lat.abs() + dlat).min(90.0).to_radians().cos();
                let dlon = if cos < 1e-9 { 180.0 } else { (dlat / cos).min(180.0) };
                Some((LatLon { lat: c.lat - dlat, lon: c.lon - dlon }, LatLon { lat: c.lat + dlat, lon: c.lon + dlon }))
            }
            _ => None,
        }
    }

    /// What makes it unusable, if anything: an id empty or longer than [`MAX_GEOFENCE_ID`]
    /// characters; neither or both of `polygon` and `circle`; a polygon of fewer than 3 or more
    /// than [`MAX_POLYGON_POINTS`] points; a point not finite or off the globe; a radius not
    /// finite, not positive or past [`MAX_RADIUS_M`]; a speed limit or dwell not finite or not
    /// positive. A removal needs only its id.
    pub fn problem(&self) -> Option<String> {
        const MAX_GEOFENCE_NAME: usize = 100;
        let chars = self.id.chars().count();
        if chars == 0 || chars > MAX_GEOFENCE_ID {
            return Some(format!("an id of {chars} characters, 1 to {MAX_GEOFENCE_ID} allowed"));
        }
        if self.removed {
            return None;
        }
        // Names and sites are shown on every page and sent in every snapshot: bounded.
        if self.name.chars().count() > MAX_GEOFENCE_NAME {
            return Some(format!("a name of more than {MAX_GEOFENCE_NAME} characters"));
        }
        if self.site.chars().count() > MAX_GEOFENCE_ID {
            return Some(format!("a site id of more than {MAX_GEOFENCE_ID} characters"));
        }
        let on_globe =
            |p: &LatLon| p.lat.is_finite() && p.lon.is_finite() && p.lat.abs() <= 90.0 && p.lon.abs() <= 180.0;
        match (&self.polygon, &self.circle) {
            (Some(_), Some(_)) => return Some("both a polygon and a circle: give exactly one".into()),
            (None, None) => return Some("neither a polygon nor a circle: give exactly one".into()),
            (Some(points), None) => {
                if points.len() < 3 || points.len() > MAX_POLYGON_POINTS {
                    return Some(format!("a polygon of {} points, 3 to {MAX_POLYGON_POINTS} allowed", points.len()));
                }
                if let Some(index) = points.iter().position(|p| !on_globe(p)) {
                    return Some(format!("polygon point {index} is not finite or off the globe"));
                }
            }
            (None, Some(circle)) => {
                if !on_globe(&circle.centre) {
                    return Some("the circle's centre is not finite or off the globe".into());
                }
                if !(circle.radius_m.is_finite() && circle.radius_m > 0.0 && circle.radius_m <= MAX_RADIUS_M) {
                    return Some(format!(
                        "a radius of {} m, more than 0 and at most {MAX_RADIUS_M} allowed",
                        circle.radius_m
                    ));
                }
            }
        }
        if self.speed_limit.is_some_and(|v| !(v.is_finite() && v > 0.0)) {
            return Some("the speed limit must be a positive finite number (km/h)".into());
        }
        if self.dwell_minutes.is_some_and(|v| !(v.is_finite() && v > 0.0)) {
            return Some("dwell minutes must be a positive finite number".into());
        }
        None
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn one_decimal() -> u8 {
    1
}

/// An entry merged by its id.
trait Entry {
    /// Entries of this sort a catalog holds at most.
    const MAX: usize = MAX_ENTRIES;
    fn id(&self) -> &str;
    fn removed(&self) -> bool;
    /// Takes `old`'s value for each field this update leaves empty (the module docs).
    fn keep_from(&mut self, old: &Self);
}

/// `new` keeps `old` when empty.
fn keep(new: &mut String, old: &str) {
    if new.is_empty() {
        old.clone_into(new);
    }
}

macro_rules! entry {
    ($($ty:ty => |$new:ident, $old:ident| $keep:block),* $(,)?) => { $(
        impl Entry for $ty {
            fn id(&self) -> &str {
                &self.id
            }
            fn removed(&self) -> bool {
                self.removed
            }
            fn keep_from(&mut self, $old: &Self) {
                let $new = self;
                $keep
            }
        }
    )* };
}
entry!(
    Kind => |new, old| { keep(&mut new.name, &old.name) },
    Device => |new, old| {
        keep(&mut new.name, &old.name);
        keep(&mut new.kind, &old.kind);
        keep(&mut new.site, &old.site);
        new.lat = new.lat.or(old.lat);
        new.lon = new.lon.or(old.lon);
    },
    Site => |new, old| {
        keep(&mut new.name, &old.name);
        new.centre = new.centre.or(old.centre);
    },
    VehicleKind => |new, old| {
        keep(&mut new.name, &old.name);
        keep(&mut new.shape, &old.shape);
    },
);

impl Entry for Geofence {
    const MAX: usize = MAX_GEOFENCES;
    fn id(&self) -> &str {
        &self.id
    }
    fn removed(&self) -> bool {
        self.removed
    }
    fn keep_from(&mut self, old: &Self) {
        keep(&mut self.name, &old.name);
        keep(&mut self.site, &old.site);
        if self.polygon.is_none() && self.circle.is_none() {
            self.polygon.clone_from(&old.polygon);
            self.circle = old.circle;
        }
        self.speed_limit = self.speed_limit.or(old.speed_limit);
        self.dwell_minutes = self.dwell_minutes.or(old.dwell_minutes);
    }
}

/// Merges `update` into `into` by id: a removal drops the entry, any other entry replaces the
/// one of its id whole but for the fields it leaves empty (or is added at the end). Returns whether anything changed. Linear: the
/// entries are found through an id → index map (an update of 10,000 into 10,000 is on the
/// server's world lock), the removed ones left as holes until the end, so the order stays:
/// replaced in place, new appended, removed dropped.
fn merge<T: Entry + PartialEq>(into: &mut Vec<T>, update: Vec<T>) -> bool {
    let mut entries: Vec<Option<T>> = std::mem::take(into).into_iter().map(Some).collect();
    let mut at: HashMap<String, usize> = HashMap::with_capacity(entries.len() + update.len());
    for (index, entry) in entries.iter().enumerate() {
        if let Some(entry) = entry {
            // The first of an id, as a linear search would find it.
            at.entry(entry.id().to_string()).or_insert(index);
        }
    }
    let mut live = entries.len();
    let mut changed = false;
    for entry in update {
        match (at.get(entry.id()).copied(), entry.removed()) {
            (Some(index), true) => {
                entries[index] = None;
                at.remove(entry.id());
                live -= 1;
                changed = true;
            }
            (None, true) => {}
            (Some(index), false) => {
                let mut entry = entry;
                if let Some(old) = &entries[index] {
                    entry.keep_from(old);
                }
                if entries[index].as_ref() != Some(&entry) {
                    entries[index] = Some(entry);
                    changed = true;
                }
            }
            (None, false) if live < T::MAX => {
                at.insert(entry.id().to_string(), entries.len());
                entries.push(Some(entry));
                live += 1;
                changed = true;
            }
            (None, false) => {}
        }
    }
    *into = entries.into_iter().flatten().collect();
    changed
}

impl Catalog {
    /// Merges `update` into this catalog by id ([`Catalog`]'s module docs). Returns whether
    /// anything changed.
    pub fn merge(&mut self, update: Catalog) -> bool {
        let kinds = merge(&mut self.kinds, update.kinds);
        let devices = merge(&mut self.devices, update.devices);
        let sites = merge(&mut self.sites, update.sites);
        let vehicles = merge(&mut self.vehicle_kinds, update.vehicle_kinds);
        let geofences = merge(&mut self.geofences, update.geofences);
        kinds || devices || sites || vehicles || geofences
    }

    /// The kind of this id.
    pub fn kind(&self, id: &str) -> Option<&Kind> {
        self.kinds.iter().find(|k| k.id == id)
    }

    /// The metric `metric` of kind `kind`.
    pub fn metric(&self, kind: &str, metric: &str) -> Option<&Metric> {
        self.kind(kind)?.metrics.iter().find(|m| m.id == metric)
    }

    /// The device of this id.
    pub fn device(&self, id: &str) -> Option<&Device> {
        self.devices.iter().find(|d| d.id == id)
    }

    /// The site of this id.
    pub fn site(&self, id: &str) -> Option<&Site> {
        self.sites.iter().find(|s| s.id == id)
    }

    /// The geofence of this id.
    pub fn geofence(&self, id: &str) -> Option<&Geofence> {
        self.geofences.iter().find(|g| g.id == id)
    }

    /// The geofences (point, WGS 84 degrees) is inside, in catalog order.
    pub fn geofences_at(&self, lat: f64, lon: f64) -> impl Iterator<Item = &Geofence> {
        self.geofences.iter().filter(move |g| g.contains(lat, lon))
    }

    /// Whether a registry entry of `kind` is a vehicle.
    pub fn is_vehicle_kind(&self, kind: &str) -> bool {
        kind == VEHICLE || self.vehicle_kinds.iter().any(|v| v.id == kind)
    }

    /// Drops the entries that cannot be used and says why, one line each: an empty id, a
    /// number that is not finite, decimals past 6, a limit with neither or both of `above` and
    /// `below`, a clear level on the wrong side of its limit, more metrics or limits than
    /// [`MAX_METRICS`] / [`MAX_LIMITS`], a geofence [`Geofence::problem`] finds unusable; a
    /// removal is always fine. The rest stays, so one bad
    /// entry never takes its neighbours down.
    pub fn problems(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        self.kinds.retain(|kind| match kind_problem(kind) {
            Some(problem) => {
                problems.push(format!("kind {:?}: {problem}", kind.id));
                false
            }
            None => true,
        });
        self.devices.retain(|device| {
            let location = [device.lat, device.lon].into_iter().flatten().all(f64::is_finite)
                && device.lat.is_none_or(|lat| (-90.0..=90.0).contains(&lat))
                && device.lon.is_none_or(|lon| (-180.0..=180.0).contains(&lon));
            let problem = if device.id.is_empty() {
                Some("an empty id")
            } else if !location {
                Some("a location off the globe")
            } else {
                None
            };
            problem.map(|p| problems.push(format!("device {:?}: {p}", device.id))).is_none()
        });
        self.sites.retain(|site| {
            let centre = site
                .centre
                .is_none_or(|c| c.lat.is_finite() && c.lon.is_finite() && c.lat.abs() <= 90.0 && c.lon.abs() <= 180.0);
            let ok = !site.id.is_empty() && centre;
            if !ok {
                problems.push(format!("site {:?}: an empty id or a centre off the globe", site.id));
            }
            ok
        });
        self.vehicle_kinds.retain(|v| {
            if v.id.is_empty() {
                problems.push("vehicle kind: an empty id".into());
            }
            !v.id.is_empty()
        });
        self.geofences.retain(|fence| match fence.problem() {
            Some(problem) => {
                problems.push(format!("geofence {:?}: {problem}", fence.id));
                false
            }
            None => true,
        });
        problems
    }
}

fn kind_problem(kind: &Kind) -> Option<String> {
    if kind.id.is_empty() {
        return Some("an empty id".into());
    }
    if kind.removed {
        return None;
    }
    if kind.metrics.len() > MAX_METRICS {
        return Some(format!("{} metrics, at most {MAX_METRICS}", kind.metrics.len()));
    }
    for metric in &kind.metrics {
        let problem = metric_problem(metric);
        if let Some(problem) = problem {
            return Some(format!("metric {:?}: {problem}", metric.id));
        }
    }
    None
}

fn metric_problem(metric: &Metric) -> Option<String> {
    if metric.id.is_empty() {
        return Some("an empty id".into());
    }
    if metric.decimals > 6 {
        return Some(format!("{} decimals, at most 6", metric.decimals));
    }
    if [metric.min, metric.max].into_iter().flatten().any(|v| !v.is_finite()) {
        return Some("min and max must be finite".into());
    }
    if let (Some(min), Some(max)) = (metric.min, metric.max) {
        if min >= max {
            return Some(format!("min {min} is not below max {max}"));
        }
    }
    if metric.limits.len() > MAX_LIMITS {
        return Some(format!("{} limits, at most {MAX_LIMITS}", metric.limits.len()));
    }
    for limit in &metric.limits {
        let numbers = [limit.above, limit.below, limit.clear].into_iter().flatten();
        if numbers.clone().any(|v| !v.is_finite()) {
            return Some("limit values must be finite".into());
        }
        match (limit.above, limit.below, limit.clear) {
            (Some(_), Some(_), _) | (None, None, _) => {
                return Some("a limit needs one of `above` and `below`".into());
            }
            (Some(above), None, Some(clear)) if clear > above => {
                return Some(format!("clear {clear} is above its limit {above}"));
            }
            (None, Some(below), Some(clear)) if clear < below => {
                return Some(format!("clear {clear} is below its limit {below}"));
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pump() -> Catalog {
        serde_json::from_str(
            r#"{
              "kinds": [{ "id": "pump", "name": "Pump", "metrics": [
                { "id": "flow", "name": "Flow", "unit": "m³/h", "decimals": 1, "min": 0, "max": 400,
                  "limits": [{ "severity": "warning", "above": 300, "clear": 280 }] }] }],
              "devices": [{ "id": "pump-07", "name": "Pump 7", "kind": "pump", "site": "harbour" }],
              "sites": [{ "id": "harbour", "name": "Harbour", "centre": { "lat": 53.54, "lon": 9.98 } }],
              "vehicleKinds": [{ "id": "van", "name": "Delivery van" }]
            }"#,
        )
        .unwrap()
    }

    #[test]
    fn round_trips_through_json_with_defaults_filled() {
        let catalog = pump();
        let text = serde_json::to_string(&catalog).unwrap();
        assert_eq!(serde_json::from_str::<Catalog>(&text).unwrap(), catalog);
        let flow = catalog.metric("pump", "flow").unwrap();
        assert_eq!((flow.unit.as_str(), flow.decimals, flow.max), ("m³/h", 1, Some(400.0)));
        assert!(catalog.is_vehicle_kind("van") && catalog.is_vehicle_kind(VEHICLE) && !catalog.is_vehicle_kind("pump"));
        // The smallest document: an empty one; an entry needs only its id.
        assert_eq!(serde_json::from_str::<Catalog>("{}").unwrap(), Catalog::default());
        let bare: Catalog = serde_json::from_str(r#"{"kinds":[{"id":"chiller","metrics":[{"id":"t"}]}]}"#).unwrap();
        assert_eq!(bare.metric("chiller", "t").unwrap().decimals, 1);
    }

    #[test]
    fn an_update_merges_by_id_and_removes_what_it_marks_removed() {
        let mut catalog = pump();
        let update: Catalog = serde_json::from_str(
            r#"{ "devices": [{ "id": "pump-08", "name": "Pump 8", "kind": "pump", "site": "harbour" },
                             { "id": "pump-07", "name": "Pump seven", "kind": "pump", "site": "harbour" }],
                 "sites": [{ "id": "harbour", "removed": true }],
                 "kinds": [{ "id": "nobody", "removed": true }] }"#,
        )
        .unwrap();
        assert!(catalog.merge(update.clone()));
        assert_eq!(catalog.device("pump-07").unwrap().name, "Pump seven", "replaced in place");
        assert_eq!(catalog.devices.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), ["pump-07", "pump-08"]);
        assert!(catalog.site("harbour").is_none());
        assert!(catalog.kind("pump").is_some(), "what the update does not name stays");
        assert!(!catalog.merge(update), "the same update again changes nothing");
    }

    #[test]
    fn an_empty_field_in_an_update_keeps_what_the_receiver_has() {
        let mut catalog = pump();
        catalog.devices[0].lat = Some(53.5);
        let update: Catalog = serde_json::from_str(
            r#"{ "devices": [{ "id": "pump-07", "name": "Pump seven" }],
                 "sites": [{ "id": "harbour", "name": "Port" }],
                 "kinds": [{ "id": "pump", "metrics": [{ "id": "speed" }] }],
                 "vehicleKinds": [{ "id": "van" }] }"#,
        )
        .unwrap();
        assert!(catalog.merge(update.clone()));
        let pump = catalog.device("pump-07").unwrap();
        assert_eq!((pump.name.as_str(), pump.kind.as_str(), pump.site.as_str()), ("Pump seven", "pump", "harbour"));
        assert_eq!(pump.lat, Some(53.5), "an absent optional keeps the receiver's");
        let harbour = catalog.site("harbour").unwrap();
        assert_eq!((harbour.name.as_str(), harbour.centre), ("Port", Some(LatLon { lat: 53.54, lon: 9.98 })));
        let kind = catalog.kind("pump").unwrap();
        assert_eq!(kind.name, "Pump", "the name kept");
        assert_eq!(kind.metrics.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["speed"], "lists replaced whole");
        assert_eq!(catalog.vehicle_kinds[0].name, "Delivery van");
        assert!(!catalog.merge(update), "the same update again changes nothing");
    }

    #[test]
    fn ten_thousand_entries_merge_into_ten_thousand_in_order() {
        let device = |n: usize, name: &str| Device { id: format!("d{n}"), name: name.into(), ..Device::default() };
        let mut catalog = Catalog { devices: (0..10_000).map(|n| device(n, "old")).collect(), ..Catalog::default() };
        // Every other one renamed, every tenth removed, 5,000 new ones (past the bound: those
        // beyond MAX_ENTRIES are left out).
        let mut update = Catalog::default();
        for n in (0..10_000).step_by(2) {
            update.devices.push(device(n, "new"));
        }
        for n in (0..10_000).step_by(10) {
            update.devices.push(Device { id: format!("d{n}"), removed: true, ..Device::default() });
        }
        for n in 10_000..15_000 {
            update.devices.push(device(n, "added"));
        }
        assert!(catalog.merge(update));
        let kept: Vec<Device> = (0..10_000)
            .filter(|n| n % 10 != 0)
            .map(|n| device(n, if n % 2 == 0 { "new" } else { "old" }))
            .chain((10_000..11_000).map(|n| device(n, "added")))
            .collect();
        assert_eq!(catalog.devices.len(), MAX_ENTRIES);
        assert_eq!(catalog.devices, kept, "replaced in place, removed dropped, new appended up to the bound");
    }

    #[test]
    fn limits_raise_and_clear_with_hysteresis_both_ways() {
        let above = Limit { severity: Severity::Warning, above: Some(90.0), below: None, clear: Some(85.0) };
        assert!(above.raised_by(90.5) && !above.raised_by(90.0));
        assert!(!above.cleared_by(87.0) && above.cleared_by(84.9));
        let below = Limit { severity: Severity::Critical, above: None, below: Some(2.0), clear: None };
        assert!(below.raised_by(1.9) && below.cleared_by(2.1) && !below.cleared_by(1.95));
        assert_eq!(below.threshold(), Some((Direction::Below, 2.0)));
    }

    #[test]
    fn unusable_entries_are_dropped_alone_and_named() {
        let mut catalog: Catalog = serde_json::from_str(
            r#"{ "kinds": [
                   { "id": "ok", "metrics": [{ "id": "a", "limits": [{ "severity": "info", "below": 1, "clear": 2 }] }] },
                   { "id": "both", "metrics": [{ "id": "a", "limits": [{ "severity": "info", "above": 1, "below": 0 }] }] },
                   { "id": "wrong-clear", "metrics": [{ "id": "a", "limits": [{ "severity": "info", "above": 5, "clear": 6 }] }] },
                   { "id": "range", "metrics": [{ "id": "a", "min": 5, "max": 1 }] },
                   { "id": "", "metrics": [] } ],
                 "devices": [{ "id": "d", "lat": 95 }, { "id": "e", "lat": 1, "lon": 2 }],
                 "sites": [{ "id": "s", "centre": { "lat": 0, "lon": 190 } }] }"#,
        )
        .unwrap();
        let problems = catalog.problems();
        assert_eq!(problems.len(), 6, "{problems:#?}");
        assert_eq!(catalog.kinds.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(), ["ok"]);
        assert_eq!(catalog.devices.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), ["e"]);
        assert!(catalog.sites.is_empty());
        assert!(problems[0].contains("\"both\"") && problems[0].contains("one of `above` and `below`"));
    }

    fn square(id: &str) -> Geofence {
        // About 110 m by 75 m around (47.0005, 8.0005).
        let p = |lat, lon| LatLon { lat, lon };
        Geofence {
            id: id.into(),
            name: "Depot".into(),
            polygon: Some(vec![p(47.0, 8.0), p(47.0, 8.001), p(47.001, 8.001), p(47.001, 8.0)]),
            ..Geofence::default()
        }
    }

    #[test]
    fn a_polygon_contains_what_is_inside_its_ring() {
        let fence = square("depot");
        assert!(fence.contains(47.0005, 8.0005));
        assert!(!fence.contains(47.0015, 8.0005) && !fence.contains(47.0005, 7.9999) && !fence.contains(46.9, 8.0005));
        assert!(!fence.contains(f64::NAN, 8.0005));
        // A concave ring: an L whose notch is outside.
        let p = |lat, lon| LatLon { lat, lon };
        let l = Geofence {
            id: "l".into(),
            polygon: Some(vec![p(0.0, 0.0), p(0.0, 2.0), p(1.0, 2.0), p(1.0, 1.0), p(2.0, 1.0), p(2.0, 0.0)]),
            ..Geofence::default()
        };
        assert!(l.contains(0.5, 1.5) && l.contains(1.5, 0.5) && l.contains(0.5, 0.5));
        assert!(!l.contains(1.5, 1.5), "the notch");
        // The same ring given the other way round is the same area.
        let mut reversed = l.clone();
        reversed.polygon.as_mut().unwrap().reverse();
        for (lat, lon) in [(0.5, 1.5), (1.5, 1.5), (1.5, 0.5), (3.0, 3.0)] {
            assert_eq!(l.contains(lat, lon), reversed.contains(lat, lon));
        }
        let (sw, ne) = l.bounds().unwrap();
        assert_eq!((sw, ne), (p(0.0, 0.0), p(2.0, 2.0)));
    }

    #[test]
    fn a_circle_contains_what_is_within_its_radius_on_the_globe() {
        let centre = LatLon { lat: 47.0, lon: 8.0 };
        let fence =
            Geofence { id: "c".into(), circle: Some(Circle { centre, radius_m: 100.0 }), ..Geofence::default() };
        // 90 m and 110 m north (a degree of latitude is about 111.2 km on this sphere).
        let metre = 1.0 / (EARTH_RADIUS_M.to_radians());
        assert!(fence.contains(47.0 + 90.0 * metre, 8.0));
        assert!(!fence.contains(47.0 + 110.0 * metre, 8.0));
        // East, where a degree of longitude is shorter by cos(lat).
        let east = metre / 47f64.to_radians().cos();
        assert!(fence.contains(47.0, 8.0 + 95.0 * east) && !fence.contains(47.0, 8.0 + 105.0 * east));
        assert!((distance_m(centre, LatLon { lat: 48.0, lon: 8.0 }) - 111_195.0).abs() < 1.0);
        let (sw, ne) = fence.bounds().unwrap();
        assert!(sw.lat < 47.0 - 99.0 * metre && ne.lon > 8.0 + 99.0 * east);
        assert!(!fence.contains(sw.lat, sw.lon), "the box's corner is outside the circle");
    }

    #[test]
    fn geofences_merge_by_id_and_unusable_ones_are_named() {
        let mut catalog = pump();
        assert!(catalog.merge(Catalog { geofences: vec![square("depot")], ..Catalog::default() }));
        let text = serde_json::to_value(&catalog).unwrap();
        assert_eq!(text["geofences"][0]["polygon"][1], serde_json::json!({ "lat": 47.0, "lon": 8.001 }));
        let update: Catalog = serde_json::from_str(
            r#"{ "geofences": [{ "id": "depot", "speedLimit": 20, "circle": { "centre": { "lat": 47, "lon": 8 }, "radiusM": 50 } }] }"#,
        )
        .unwrap();
        assert!(catalog.merge(update));
        let depot = catalog.geofence("depot").unwrap();
        assert_eq!(depot.name, "Depot", "an empty name keeps the receiver's");
        assert_eq!(
            (depot.polygon.is_none(), depot.circle.unwrap().radius_m, depot.speed_limit),
            (true, 50.0, Some(20.0))
        );
        assert_eq!(catalog.geofences_at(47.0, 8.0).count(), 1);
        assert!(
            catalog.merge(serde_json::from_str(r#"{ "geofences": [{ "id": "depot", "removed": true }] }"#).unwrap())
        );
        assert!(catalog.geofences.is_empty());

        let mut bad: Catalog = serde_json::from_str(
            r#"{ "geofences": [
                 { "id": "both", "polygon": [{"lat":0,"lon":0},{"lat":0,"lon":1},{"lat":1,"lon":1}],
                   "circle": { "centre": { "lat": 0, "lon": 0 }, "radiusM": 5 } },
                 { "id": "neither" },
                 { "id": "two", "polygon": [{"lat":0,"lon":0},{"lat":0,"lon":1}] },
                 { "id": "off", "polygon": [{"lat":0,"lon":0},{"lat":0,"lon":181},{"lat":1,"lon":1}] },
                 { "id": "flat", "circle": { "centre": { "lat": 0, "lon": 0 }, "radiusM": 0 } },
                 { "id": "slow", "circle": { "centre": { "lat": 0, "lon": 0 }, "radiusM": 5 }, "speedLimit": -1 },
                 { "id": "", "circle": { "centre": { "lat": 0, "lon": 0 }, "radiusM": 5 } },
                 { "id": "gone", "removed": true },
                 { "id": "ok", "circle": { "centre": { "lat": 0, "lon": 0 }, "radiusM": 5 }, "dwellMinutes": 0.5 } ] }"#,
        )
        .unwrap();
        bad.geofences.push(Geofence { id: "x".repeat(65), ..square("") });
        let mut many = square("many");
        many.polygon = Some(vec![LatLon { lat: 0.0, lon: 0.0 }; MAX_POLYGON_POINTS + 1]);
        bad.geofences.push(many);
        // Names and sites are shown everywhere: bounded.
        bad.geofences.push(Geofence { name: "n".repeat(101), ..square("long-name") });
        bad.geofences.push(Geofence { site: "s".repeat(65), ..square("long-site") });
        let problems = bad.problems();
        assert_eq!(problems.len(), 11, "{problems:#?}");
        assert_eq!(bad.geofences.iter().map(|g| g.id.as_str()).collect::<Vec<_>>(), ["gone", "ok"]);
        assert!(problems[0].contains("\"both\"") && problems[0].contains("exactly one"), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("501 points")), "{problems:?}");
    }

    #[test]
    fn a_catalog_holds_a_bounded_number_of_geofences() {
        let mut catalog = Catalog::default();
        let update = (0..MAX_GEOFENCES + 10).map(|n| square(&format!("f{n}"))).collect();
        assert!(catalog.merge(Catalog { geofences: update, ..Catalog::default() }));
        assert_eq!(catalog.geofences.len(), MAX_GEOFENCES);
    }
}

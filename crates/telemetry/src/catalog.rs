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
//! ```json
//! {
//!   "kinds": [{ "id": "pump", "name": "Pump", "metrics": [
//!     { "id": "flow", "name": "Flow", "unit": "m³/h", "decimals": 1, "min": 0, "max": 400,
//!       "limits": [{ "severity": "warning", "above": 300, "clear": 280 }] }] }],
//!   "devices": [{ "id": "pump-07", "name": "Pump 7", "kind": "pump", "site": "harbour" }],
//!   "sites": [{ "id": "harbour", "name": "Harbour", "centre": { "lat": 53.54, "lon": 9.98 } }],
//!   "vehicleKinds": [{ "id": "van", "name": "Delivery van" }]
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
    /// In an update: remove the vehicle kind of this id.
    #[serde(default, skip_serializing_if = "is_false")]
    pub removed: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn one_decimal() -> u8 {
    1
}

/// An entry merged by its id.
trait Entry {
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
    VehicleKind => |new, old| { keep(&mut new.name, &old.name) },
);

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
            (None, false) if live < MAX_ENTRIES => {
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
        kinds || devices || sites || vehicles
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

    /// Whether a registry entry of `kind` is a vehicle.
    pub fn is_vehicle_kind(&self, kind: &str) -> bool {
        kind == VEHICLE || self.vehicle_kinds.iter().any(|v| v.id == kind)
    }

    /// Drops the entries that cannot be used and says why, one line each: an empty id, a
    /// number that is not finite, decimals past 6, a limit with neither or both of `above` and
    /// `below`, a clear level on the wrong side of its limit, more metrics or limits than
    /// [`MAX_METRICS`] / [`MAX_LIMITS`], a removal is always fine. The rest stays, so one bad
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
}

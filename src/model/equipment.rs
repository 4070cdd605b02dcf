//! Process machines and drilling rigs as the dashboard knows them: registry entry, last
//! reading, when it arrived, and a fixed-capacity series per metric. Derives the equipment
//! list (search, sort, stale detection) as plain data.

use std::collections::BTreeMap;

use telemetry::{catalog, DeviceInfo, DeviceStatus, Reading};

use super::limits::{Limits, Refused};
use super::series::Series;

/// Metrics kept per device (a machine has a handful; more is a malformed or hostile reading).
pub const MAX_METRICS_PER_DEVICE: usize = 32;

/// Health as shown: the device's status, or offline when it went quiet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Health {
    Fault,
    Offline,
    Stopped,
    Running,
    /// Registered but never heard from.
    Unknown,
}

impl Health {
    /// The word shown next to the colour (never colour alone).
    pub fn label(self) -> &'static str {
        match self {
            Health::Running => "running",
            Health::Stopped => "stopped",
            Health::Fault => "fault",
            Health::Offline => "offline",
            Health::Unknown => "no data yet",
        }
    }
}

/// How the equipment list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    #[default]
    Name,
    /// Worst first: fault, offline, stopped, running.
    Status,
    /// Most recently heard from first.
    LastSeen,
}

impl SortKey {
    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Name => "name",
            SortKey::Status => "status",
            SortKey::LastSeen => "lastSeen",
        }
    }

    pub fn parse(text: &str) -> Self {
        match text {
            "status" => SortKey::Status,
            "lastSeen" => SortKey::LastSeen,
            _ => SortKey::Name,
        }
    }
}

/// One piece of equipment.
#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    pub info: DeviceInfo,
    pub reading: Option<Reading>,
    /// Wall-clock ms when the last reading arrived.
    pub seen_at: Option<i64>,
    pub series: BTreeMap<String, Series>,
    /// Bumped whenever a reading is applied, so a view can redraw only when its device changed.
    pub version: u64,
}

impl Device {
    fn new(info: DeviceInfo) -> Self {
        Self { info, reading: None, seen_at: None, series: BTreeMap::new(), version: 0 }
    }

    pub fn health(&self, now_ms: i64, stale_after_ms: i64) -> Health {
        match (&self.reading, self.seen_at) {
            (Some(_), Some(seen)) if now_ms - seen > stale_after_ms => Health::Offline,
            (Some(reading), _) => match reading.status {
                DeviceStatus::Running => Health::Running,
                DeviceStatus::Stopped => Health::Stopped,
                DeviceStatus::Fault => Health::Fault,
            },
            _ => Health::Unknown,
        }
    }

    /// Its health as of a past moment `at`: offline if its newest sample by then is older than
    /// `stale_after_ms`, unknown before its first, otherwise the status it last reported (the
    /// history keeps metrics, not statuses).
    pub fn health_at(&self, at: i64, stale_after_ms: i64) -> Health {
        let newest = self.series.values().filter_map(|s| s.at(at)).map(|p| p.ts).max();
        match (newest, &self.reading) {
            (None, _) => Health::Unknown,
            (Some(ts), _) if at - ts > stale_after_ms => Health::Offline,
            (Some(_), Some(reading)) => match reading.status {
                DeviceStatus::Running => Health::Running,
                DeviceStatus::Stopped => Health::Stopped,
                DeviceStatus::Fault => Health::Fault,
            },
            (Some(_), None) => Health::Unknown,
        }
    }
}

/// All equipment by id, within bounds on devices and metric histories.
#[derive(Debug, Clone, PartialEq)]
pub struct EquipmentState {
    devices: BTreeMap<String, Device>,
    /// Devices kept at most.
    max_devices: usize,
    /// Metric histories kept at most, across all devices.
    max_series: usize,
    /// Metric histories held now.
    series: usize,
    /// Device ids, and `device/metric` names, ignored for those bounds.
    refused: Refused,
}

impl Default for EquipmentState {
    fn default() -> Self {
        let limits = Limits::default();
        Self {
            devices: BTreeMap::new(),
            max_devices: limits.devices,
            max_series: limits.series,
            series: 0,
            refused: Refused::default(),
        }
    }
}

impl EquipmentState {
    /// Keeps at most `devices` devices and `series` metric histories from now on (those held
    /// stay).
    pub fn set_limits(&mut self, devices: usize, series: usize) {
        self.max_devices = devices;
        self.max_series = series;
    }

    /// Device ids and metrics ignored because a bound was reached.
    pub fn refused(&self) -> &Refused {
        &self.refused
    }

    /// Keeps only the devices `known` says the server still has (after a snapshot).
    pub fn retain_known(&mut self, known: impl Fn(&str) -> bool) {
        self.devices.retain(|id, _| known(id));
        self.series = self.devices.values().map(|d| d.series.len()).sum();
    }

    /// Adds registry entries; vehicles (`is_vehicle` of their kind) are not equipment and are
    /// skipped. A new device beyond the bound is refused.
    pub fn register(&mut self, infos: &[DeviceInfo], is_vehicle: impl Fn(&str) -> bool) {
        for info in infos.iter().filter(|i| !is_vehicle(&i.kind)) {
            self.upsert(info.clone());
        }
    }

    /// Adds or renames the devices a catalog declares (shown as *no data yet* until they
    /// report) and drops the ones it removes that never reported here.
    pub fn declare(&mut self, devices: &[catalog::Device], is_vehicle: impl Fn(&str) -> bool) {
        for device in devices.iter().filter(|d| !is_vehicle(&d.kind)) {
            if device.removed {
                if self.devices.get(&device.id).is_some_and(|d| d.reading.is_none()) {
                    if let Some(gone) = self.devices.remove(&device.id) {
                        // Its histories (from history loads) give their room back.
                        self.series -= gone.series.len();
                    }
                }
                continue;
            }
            let name = if device.name.is_empty() { device.id.clone() } else { device.name.clone() };
            self.upsert(DeviceInfo {
                id: device.id.clone(),
                name,
                kind: device.kind.clone(),
                site: device.site.clone(),
            });
        }
    }

    fn upsert(&mut self, info: DeviceInfo) {
        if let Some(device) = self.devices.get_mut(&info.id) {
            if device.info != info {
                device.info = info;
                device.version += 1;
            }
        } else if self.devices.len() < self.max_devices {
            self.refused.admit(&info.id);
            self.devices.insert(info.id.clone(), Device::new(info));
        } else {
            self.refused.refuse(&info.id);
        }
    }

    /// Applies readings that arrived at `now_ms`. A reading older than the last one held for
    /// its device updates nothing. A device or a metric beyond its bound is refused and counted.
    pub fn apply(&mut self, readings: Vec<Reading>, now_ms: i64) {
        for reading in readings {
            if !self.devices.contains_key(&reading.device) {
                if self.devices.len() >= self.max_devices {
                    self.refused.refuse(&reading.device);
                    continue;
                }
                let info = DeviceInfo {
                    id: reading.device.clone(),
                    name: reading.device.clone(),
                    kind: reading.kind.clone(),
                    site: reading.site.clone(),
                };
                self.refused.admit(&reading.device);
                self.devices.insert(reading.device.clone(), Device::new(info));
            }
            let Some(device) = self.devices.get_mut(&reading.device) else { continue };
            if device.reading.as_ref().is_some_and(|r| r.ts >= reading.ts) {
                continue;
            }
            for (metric, value) in &reading.values {
                // Each history grows to an hour: a reading naming thousands of metrics, or
                // thousands of devices naming a few, must not claim that much memory.
                if let Some(series) = device.series.get_mut(metric) {
                    series.push(reading.ts, *value);
                } else if device.series.len() < MAX_METRICS_PER_DEVICE && self.series < self.max_series {
                    device.series.entry(metric.clone()).or_default().push(reading.ts, *value);
                    self.series += 1;
                } else {
                    self.refused.refuse(&format!("{}/{metric}", reading.device));
                }
            }
            device.seen_at = Some(now_ms);
            device.reading = Some(reading);
            device.version += 1;
        }
    }

    /// Joins a device's history in front of its live series (each bucket's last value at its
    /// time; only what is older than the live data, see [`Series::join_history`]). New metrics count
    /// against the same bounds as live ones. Returns the points taken.
    pub fn prepend_history(&mut self, history: &telemetry::history::SeriesHistory) -> usize {
        let Some(device) = self.devices.get_mut(&history.device) else { return 0 };
        let mut taken = 0;
        for metric in &history.series {
            if !device.series.contains_key(&metric.metric) {
                if device.series.len() >= MAX_METRICS_PER_DEVICE || self.series >= self.max_series {
                    self.refused.refuse(&format!("{}/{}", history.device, metric.metric));
                    continue;
                }
                device.series.insert(metric.metric.clone(), Series::default());
                self.series += 1;
            }
            if let Some(series) = device.series.get_mut(&metric.metric) {
                taken += series.join_history(metric.ts.iter().copied().zip(metric.last.iter().copied()));
            }
        }
        if taken > 0 {
            device.version += 1;
        }
        taken
    }

    pub fn get(&self, id: &str) -> Option<&Device> {
        self.devices.get(id)
    }

    pub fn len(&self) -> usize {
        self.devices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }

    /// Counts by health.
    pub fn count(&self, health: Health, now_ms: i64, stale_after_ms: i64) -> usize {
        self.devices.values().filter(|d| d.health(now_ms, stale_after_ms) == health).count()
    }

    /// Devices of each health as of a past moment ([`Device::health_at`]).
    pub fn count_at(&self, health: Health, at: i64, stale_after_ms: i64) -> usize {
        self.devices.values().filter(|d| d.health_at(at, stale_after_ms) == health).count()
    }

    /// Devices matching `query` (id, name or site, case-insensitive), in `sort` order.
    pub fn list(&self, query: &str, sort: SortKey, now_ms: i64, stale_after_ms: i64) -> Vec<&Device> {
        let query = query.trim().to_lowercase();
        let mut devices: Vec<&Device> = self
            .devices
            .values()
            .filter(|d| {
                query.is_empty()
                    || d.info.id.to_lowercase().contains(&query)
                    || d.info.name.to_lowercase().contains(&query)
                    || d.info.site.to_lowercase().contains(&query)
            })
            .collect();
        match sort {
            SortKey::Name => devices.sort_by(|a, b| a.info.name.cmp(&b.info.name).then(a.info.id.cmp(&b.info.id))),
            SortKey::Status => devices.sort_by(|a, b| {
                a.health(now_ms, stale_after_ms)
                    .cmp(&b.health(now_ms, stale_after_ms))
                    .then(a.info.name.cmp(&b.info.name))
            }),
            SortKey::LastSeen => devices.sort_by(|a, b| b.seen_at.cmp(&a.seen_at).then(a.info.name.cmp(&b.info.name))),
        }
        devices
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: &str, name: &str) -> DeviceInfo {
        DeviceInfo { id: id.into(), name: name.into(), kind: "process".into(), site: "harbour".into() }
    }

    fn reading(device: &str, ts: i64, status: DeviceStatus, temperature: f64) -> Reading {
        Reading {
            device: device.into(),
            kind: "process".into(),
            ts,
            site: "harbour".into(),
            status,
            values: [("temperature".to_string(), temperature)].into(),
        }
    }

    #[test]
    fn readings_feed_series_and_health_goes_offline_when_quiet() {
        let mut state = EquipmentState::default();
        state.register(&[info("press-01", "Press 1"), info("press-02", "Press 2")], no_vehicles);
        state.register(&[DeviceInfo { kind: "vehicle".into(), ..info("veh-1", "Van") }], |k| k == "vehicle");
        assert_eq!(state.len(), 2, "vehicles are not equipment");
        state.apply(vec![reading("press-01", 1_000, DeviceStatus::Running, 70.0)], 1_100);
        state.apply(vec![reading("press-01", 2_000, DeviceStatus::Running, 71.0)], 2_100);
        state.apply(vec![reading("press-01", 1_500, DeviceStatus::Fault, 99.0)], 2_200);
        let device = state.get("press-01").unwrap();
        assert_eq!(device.series["temperature"].len(), 2, "the late reading is ignored");
        assert_eq!(device.version, 2, "and does not count as a change");
        assert_eq!(device.health(2_200, 10_000), Health::Running);
        assert_eq!(device.health(20_000, 10_000), Health::Offline);
        assert_eq!(state.get("press-02").unwrap().health(0, 10_000), Health::Unknown);
    }

    #[test]
    fn list_searches_and_sorts() {
        let mut state = EquipmentState::default();
        state.register(&[info("a", "Alpha"), info("b", "Bravo"), info("c", "Charlie")], no_vehicles);
        state.apply(vec![reading("b", 1, DeviceStatus::Fault, 1.0)], 100);
        state.apply(vec![reading("c", 1, DeviceStatus::Running, 1.0)], 200);
        let names = |list: Vec<&Device>| list.iter().map(|d| d.info.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(state.list("", SortKey::Name, 300, 10_000)), ["Alpha", "Bravo", "Charlie"]);
        assert_eq!(names(state.list("", SortKey::Status, 300, 10_000)), ["Bravo", "Charlie", "Alpha"]);
        assert_eq!(names(state.list("", SortKey::LastSeen, 300, 10_000)), ["Charlie", "Bravo", "Alpha"]);
        assert_eq!(names(state.list("BRA", SortKey::Name, 300, 10_000)), ["Bravo"]);
        assert_eq!(state.count(Health::Fault, 300, 10_000), 1);
    }

    #[test]
    fn a_reading_naming_thousands_of_metrics_keeps_a_bounded_number() {
        let mut state = EquipmentState::default();
        let mut hostile = reading("press-01", 1, DeviceStatus::Running, 50.0);
        hostile.values.extend((0..5_000).map(|i| (format!("m{i:05}"), i as f64)));
        state.apply(vec![hostile], 2);
        assert_eq!(state.get("press-01").unwrap().series.len(), MAX_METRICS_PER_DEVICE);
        // Metrics already kept go on being recorded.
        state.apply(vec![reading("press-01", 3, DeviceStatus::Running, 51.0)], 4);
        let series = &state.get("press-01").unwrap().series;
        assert_eq!(series.len(), MAX_METRICS_PER_DEVICE);
        assert_eq!(series["m00000"].len(), 1);
        // Every metric left out is counted, up to the count's own bound.
        assert!(state.refused().len() == 1_000 && state.refused().more());
    }

    #[test]
    fn devices_and_histories_beyond_their_bounds_are_refused_and_counted() {
        let mut state = EquipmentState::default();
        state.set_limits(2, 3);
        state.register(&[info("a", "Alpha"), info("b", "Bravo"), info("c", "Charlie")], no_vehicles);
        assert_eq!(state.len(), 2);
        assert!(state.get("c").is_none());
        let mut two = reading("a", 1, DeviceStatus::Running, 1.0);
        two.values.insert("pressure".into(), 2.0);
        state.apply(
            vec![two, reading("b", 1, DeviceStatus::Running, 1.0), reading("made-up", 1, DeviceStatus::Running, 1.0)],
            2,
        );
        assert!(state.get("made-up").is_none());
        assert_eq!(state.get("b").unwrap().series.len(), 1);
        let mut more = reading("b", 2, DeviceStatus::Running, 1.0);
        more.values.insert("rpm".into(), 3.0);
        state.apply(vec![more], 3);
        assert_eq!(state.get("b").unwrap().series.len(), 1, "three histories in all, no fourth");
        assert_eq!(state.get("b").unwrap().reading.as_ref().unwrap().values.len(), 2, "the last values still show");
        assert_eq!(state.refused().len(), 3, "c, made-up and b/rpm");
        // A device gone from the server gives its histories back.
        state.retain_known(|id| id == "b");
        state.register(&[info("d", "Delta")], no_vehicles);
        state.apply(vec![reading("d", 1, DeviceStatus::Running, 1.0)], 4);
        assert_eq!(state.get("d").unwrap().series.len(), 1);
    }

    #[test]
    fn history_goes_in_front_of_the_live_points() {
        let mut state = EquipmentState::default();
        state.apply(vec![reading("press-01", 10_000, DeviceStatus::Running, 70.0)], 10_000);
        let history = telemetry::history::SeriesHistory {
            device: "press-01".into(),
            from: 0,
            to: 10_000,
            bucket_ms: 1_000,
            series: vec![
                telemetry::history::MetricHistory {
                    metric: "temperature".into(),
                    ts: vec![8_000, 9_000, 10_000],
                    min: vec![1.0; 3],
                    max: vec![1.0; 3],
                    last: vec![68.0, 69.0, 70.0],
                },
                telemetry::history::MetricHistory {
                    metric: "pressure".into(),
                    ts: vec![9_000],
                    min: vec![4.0],
                    max: vec![4.0],
                    last: vec![4.0],
                },
            ],
        };
        assert_eq!(state.prepend_history(&history), 3, "two temperatures before the live one, one pressure");
        let device = state.get("press-01").unwrap();
        let temperatures: Vec<f64> = device.series["temperature"].window(0, 20_000).map(|p| p.value).collect();
        assert_eq!(temperatures, [68.0, 69.0, 70.0]);
        assert_eq!(device.series["pressure"].len(), 1);
        assert_eq!(device.version, 2);
        assert_eq!(state.prepend_history(&telemetry::history::SeriesHistory { device: "nobody".into(), ..history }), 0);
    }

    fn no_vehicles(_: &str) -> bool {
        false
    }

    #[test]
    fn devices_a_catalog_declares_show_without_data_until_they_report() {
        let mut state = EquipmentState::default();
        let declared: Vec<catalog::Device> = serde_json::from_str(
            r#"[{ "id": "pump-07", "name": "Pump 7", "kind": "pump", "site": "harbour" },
                { "id": "van-1", "kind": "van" }]"#,
        )
        .unwrap();
        state.declare(&declared, |k| k == "van");
        assert_eq!(state.len(), 1, "the van is a vehicle");
        assert_eq!(state.get("pump-07").unwrap().health(0, 10_000).label(), "no data yet");
        assert_eq!(state.get("pump-07").unwrap().info.name, "Pump 7");
        // Removed before it ever reported: gone; once it has reported, its data stays.
        let removed: Vec<catalog::Device> = serde_json::from_str(r#"[{ "id": "pump-07", "removed": true }]"#).unwrap();
        state.declare(&removed, no_vehicles);
        assert!(state.get("pump-07").is_none());
        state.declare(&declared, no_vehicles);
        state.apply(
            vec![Reading {
                device: "pump-07".into(),
                kind: "pump".into(),
                ..reading("x", 1, DeviceStatus::Running, 1.0)
            }],
            2,
        );
        state.declare(&removed, no_vehicles);
        assert!(state.get("pump-07").is_some());
    }

    #[test]
    fn readings_of_unregistered_devices_are_kept() {
        let mut state = EquipmentState::default();
        state.apply(vec![reading("x-9", 1, DeviceStatus::Stopped, 20.0)], 5);
        assert_eq!(state.get("x-9").unwrap().info.name, "x-9");
    }
}

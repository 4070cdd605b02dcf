//! What the functions side knows about the devices: last position per vehicle, last reading
//! per device, the alert engine with open alerts (and the geofence rules), the suppressions of
//! alarm points (shelved, out of service) and the alarm policy, the device registry, the catalog
//! and the basemap. The pipeline writes it; `snapshot`, `ack` and `suppressions` read and update
//! it.

use std::collections::BTreeMap;

use telemetry::basemap::Basemap;
use telemetry::{AlarmPolicy, Catalog, DeviceInfo, Position, Reading, Snapshot};

use crate::devices::alerts::{default_rules, AlertEngine};
use crate::functions::alarms::Suppressions;

pub struct World {
    pub positions: BTreeMap<String, Position>,
    pub readings: BTreeMap<String, Reading>,
    pub alerts: AlertEngine,
    /// Shelved and out-of-service alarm points (`functions::alarms`).
    pub suppressions: Suppressions,
    /// Re-alarm and the longest suppressions: the settings' (`AppState::with_history`).
    pub alarm_policy: AlarmPolicy,
    pub devices: Vec<DeviceInfo>,
    pub sites: Vec<String>,
    /// What the backend declares about its world: the built-in scenarios and their devices, a
    /// `--catalog` file, catalogs published through the REST API (`World::adopt`).
    pub catalog: Catalog,
    /// The streets and site outlines of the simulated world (`GET /api/basemap`).
    pub basemap: Basemap,
}

impl Default for World {
    fn default() -> Self {
        // Alert ids carry the start time so ids of different runs never collide.
        let prefix = format!("alert-{:x}", crate::unix_millis());
        Self {
            positions: BTreeMap::new(),
            readings: BTreeMap::new(),
            alerts: AlertEngine::new(default_rules(), prefix),
            suppressions: Suppressions::default(),
            alarm_policy: AlarmPolicy::default(),
            devices: Vec::new(),
            sites: Vec::new(),
            catalog: Catalog::default(),
            basemap: Basemap::default(),
        }
    }
}

impl World {
    /// Everything a dashboard needs to draw the current state at once.
    pub fn snapshot(&self, ts: i64) -> Snapshot {
        Snapshot {
            positions: self.positions.values().cloned().collect(),
            readings: self.readings.values().cloned().collect(),
            alerts: self.alerts.open_alerts(),
            devices: self.devices.clone(),
            sites: self.sites.clone(),
            catalog: self.catalog.clone(),
            suppressions: self.suppressions.active(ts),
            alarm_policy: self.alarm_policy.clone(),
            ts,
        }
    }
}

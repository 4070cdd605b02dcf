//! What the functions side knows about the devices: last position per vehicle, last reading
//! per device, the alert engine with open alerts (and the geofence rules), the suppressions of
//! alarm points (shelved, out of service) and the alarm policy, the device registry, the catalog
//! and the basemap. The pipeline writes it; `snapshot`, `ack` and `suppressions` read and update
//! it.

use std::collections::{BTreeMap, HashMap};

use telemetry::basemap::Basemap;
use telemetry::{AlarmPolicy, Catalog, DeviceInfo, Position, Reading, Snapshot};

use crate::auth::Caller;
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

impl World {
    /// The site of each device of the registry.
    pub fn device_sites(&self) -> HashMap<&str, &str> {
        self.devices.iter().map(|d| (d.id.as_str(), d.site.as_str())).collect()
    }

    /// The site of `device`, if the registry has it.
    pub fn site_of_device(&self, device: &str) -> Option<&str> {
        self.devices.iter().find(|d| d.id == device).map(|d| d.site.as_str())
    }

    /// The snapshot as `caller` may see it: only what belongs to their sites (a suppression by
    /// its device's site: one of a device the registry lacks only for a caller of every site).
    pub fn snapshot_for(&self, caller: &Caller, ts: i64) -> Snapshot {
        let mut snapshot = self.snapshot(ts);
        if !caller.is_restricted() {
            return snapshot;
        }
        let sites = self.device_sites();
        snapshot.positions.retain(|p| caller.sees(&p.site));
        snapshot.readings.retain(|r| caller.sees(&r.site));
        snapshot.alerts.retain(|a| caller.sees(&a.alert.site));
        snapshot.devices.retain(|d| caller.sees(&d.site));
        snapshot.sites.retain(|s| caller.sees(s));
        snapshot.suppressions.retain(|s| sites.get(s.device.as_str()).is_some_and(|site| caller.sees(site)));
        snapshot.catalog = catalog_for(&self.catalog, caller);
        snapshot
    }
}

/// `catalog` as `caller` may see it: the kinds and vehicle kinds, and the devices, sites and
/// geofences of their sites (a geofence of no site stays: it belongs to none).
pub fn catalog_for(catalog: &Catalog, caller: &Caller) -> Catalog {
    if !caller.is_restricted() {
        return catalog.clone();
    }
    let mut seen = catalog.clone();
    seen.devices.retain(|d| caller.sees(&d.site));
    seen.sites.retain(|s| caller.sees(&s.id));
    seen.geofences.retain(|g| g.site.is_empty() || caller.sees(&g.site));
    seen
}

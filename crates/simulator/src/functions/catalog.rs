//! The functions' catalog: `GET /api/catalog` answers it, and [`World::adopt`] takes an update
//! in (a `--catalog` file at start, or a document another backend publishes through the
//! service's REST API), so the functions side knows what every dashboard was told and a
//! dashboard opened later gets it in its snapshot.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use telemetry::{groups, AlertCleared, Catalog, DeviceInfo, Millis};

use crate::devices::alerts::rules_for;
use crate::functions::world::World;
use crate::AppState;

/// What adopting a catalog update did.
#[derive(Debug, Default)]
pub struct Adopted {
    /// Whether the catalog changed (the same update again changes nothing).
    pub changed: bool,
    /// The entries dropped as unusable, one line each.
    pub problems: Vec<String>,
    /// Open alerts whose rule the update removed: they are over, and dashboards are told so.
    pub cleared: Vec<AlertCleared>,
}

impl World {
    /// Merges `update` into the catalog by id (unusable entries dropped first), and keeps the
    /// rest of the world in step with it: a device it declares joins the registry (declared
    /// only: nothing here makes it report; fields it leaves empty keep what the registry had),
    /// a removed one leaves the registry with its last reading; its sites, and the sites of its
    /// devices, join the sites dashboards subscribe to (a removed one leaves); and the alert
    /// rules are rebuilt from the merged catalog ([`AlertEngine::set_rules`] says which open
    /// alerts stay). `ts` stamps the clearings.
    ///
    /// [`AlertEngine::set_rules`]: crate::devices::alerts::AlertEngine::set_rules
    pub fn adopt(&mut self, mut update: Catalog, ts: Millis) -> Adopted {
        let problems = update.problems();
        let (devices, sites) = (update.devices.clone(), update.sites.clone());
        let changed = self.catalog.merge(update);
        for device in devices {
            if device.removed {
                self.devices.retain(|d| d.id != device.id);
                self.readings.remove(&device.id);
                continue;
            }
            // Only what the catalog took (it is bounded), as it took it.
            let Some(declared) = self.catalog.device(&device.id) else { continue };
            let pick = |new: &str, old: Option<&str>| match (new.is_empty(), old) {
                (false, _) => new.to_string(),
                (true, Some(old)) => old.to_string(),
                (true, None) => String::new(),
            };
            let at = self.devices.iter().position(|d| d.id == declared.id);
            let old = at.map(|at| &self.devices[at]);
            let entry = DeviceInfo {
                id: declared.id.clone(),
                name: pick(&declared.name, old.map(|d| d.name.as_str()).or(Some(&declared.id))),
                kind: pick(&declared.kind, old.map(|d| d.kind.as_str())),
                site: pick(&declared.site, old.map(|d| d.site.as_str())),
            };
            let site = entry.site.clone();
            match at {
                Some(at) => self.devices[at] = entry,
                None => self.devices.push(entry),
            }
            self.add_site(&site);
        }
        for site in sites {
            if site.removed {
                self.sites.retain(|s| *s != site.id);
            } else if self.catalog.site(&site.id).is_some() {
                self.add_site(&site.id);
            }
        }
        let cleared = if changed { self.alerts.set_rules(rules_for(&self.catalog), ts) } else { Vec::new() };
        Adopted { changed, problems, cleared }
    }

    /// A site dashboards subscribe to, once; only an id a `site:<id>` group may carry (the
    /// subscriptions refuse the others, and with them the whole call).
    fn add_site(&mut self, site: &str) {
        if groups::is_valid(&groups::site(site)) && !self.sites.iter().any(|s| s == site) {
            self.sites.push(site.to_string());
        }
    }
}

/// `GET /api/catalog`: the world's catalog.
pub(super) async fn serve(State(state): State<Arc<AppState>>) -> Json<Catalog> {
    Json(state.world.lock().expect("world lock").catalog.clone())
}

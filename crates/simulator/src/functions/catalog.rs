//! The functions' catalog: `GET /api/catalog` answers it, and [`World::adopt`] takes an update
//! in (a `--catalog` file at start, or a document another backend publishes through the
//! service's REST API), so the functions side knows what every dashboard was told and a
//! dashboard opened later gets it in its snapshot.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use telemetry::catalog::Device;
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
    /// only: nothing here makes it report; fields it leaves empty keep what the registry had, the
    /// catalog's rule: an empty field in an update keeps what the receiver has),
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
        // Linear, under the world lock: entries are found by id through maps, not searches.
        let declared: HashMap<&str, &Device> = self.catalog.devices.iter().map(|d| (d.id.as_str(), d)).collect();
        let declared_sites: HashSet<&str> = self.catalog.sites.iter().map(|s| s.id.as_str()).collect();
        let mut registry = Indexed::new(std::mem::take(&mut self.devices), |d| &d.id);
        let mut subscribed = Indexed::new(std::mem::take(&mut self.sites), |s| s);
        for device in devices {
            if device.removed {
                registry.remove(&device.id);
                self.readings.remove(&device.id);
                continue;
            }
            // Only what the catalog took (it is bounded), as it took it.
            let Some(declared) = declared.get(device.id.as_str()) else { continue };
            let pick = |new: &str, old: Option<&str>| match (new.is_empty(), old) {
                (false, _) => new.to_string(),
                (true, Some(old)) => old.to_string(),
                (true, None) => String::new(),
            };
            let old = registry.get(&declared.id);
            let entry = DeviceInfo {
                id: declared.id.clone(),
                name: pick(&declared.name, old.map(|d| d.name.as_str()).or(Some(&declared.id))),
                kind: pick(&declared.kind, old.map(|d| d.kind.as_str())),
                site: pick(&declared.site, old.map(|d| d.site.as_str())),
            };
            add_site(&mut subscribed, &entry.site);
            registry.put(&declared.id, entry);
        }
        for site in sites {
            if site.removed {
                subscribed.remove(&site.id);
            } else if declared_sites.contains(site.id.as_str()) {
                add_site(&mut subscribed, &site.id);
            }
        }
        self.devices = registry.finish();
        self.sites = subscribed.finish();
        let cleared = if changed { self.alerts.set_rules(rules_for(&self.catalog), ts) } else { Vec::new() };
        Adopted { changed, problems, cleared }
    }
}

/// A site dashboards subscribe to, once; only an id a `site:<id>` group may carry (the
/// subscriptions refuse the others, and with them the whole call).
fn add_site(sites: &mut Indexed<String>, site: &str) {
    if groups::is_valid(&groups::site(site)) && sites.get(site).is_none() {
        sites.put(site, site.to_string());
    }
}

/// A list in its order with its entries found by id: removed ones are holes until
/// [`Indexed::finish`], so replacing keeps an entry's place and adding appends.
struct Indexed<T> {
    entries: Vec<Option<T>>,
    at: HashMap<String, usize>,
}

impl<T> Indexed<T> {
    fn new(list: Vec<T>, id: impl Fn(&T) -> &str) -> Self {
        let mut at = HashMap::with_capacity(list.len());
        for (index, entry) in list.iter().enumerate() {
            at.entry(id(entry).to_string()).or_insert(index);
        }
        Indexed { entries: list.into_iter().map(Some).collect(), at }
    }

    fn get(&self, id: &str) -> Option<&T> {
        self.at.get(id).and_then(|&index| self.entries[index].as_ref())
    }

    /// Replaces the entry of `id` in place, or appends it.
    fn put(&mut self, id: &str, entry: T) {
        match self.at.get(id) {
            Some(&index) => self.entries[index] = Some(entry),
            None => {
                self.at.insert(id.to_string(), self.entries.len());
                self.entries.push(Some(entry));
            }
        }
    }

    fn remove(&mut self, id: &str) {
        if let Some(index) = self.at.remove(id) {
            self.entries[index] = None;
        }
    }

    fn finish(self) -> Vec<T> {
        self.entries.into_iter().flatten().collect()
    }
}

/// `GET /api/catalog`: the world's catalog.
pub(super) async fn serve(State(state): State<Arc<AppState>>) -> Json<Catalog> {
    Json(state.world.lock().expect("world lock").catalog.clone())
}

//! The functions' catalog: `GET /api/catalog` answers it, and [`World::adopt`] takes an update
//! in (a `--catalog` file at start, a document another backend publishes through the
//! service's REST API, or a geofence a dashboard saves with `POST /api/geofences`), so the
//! functions side knows what every dashboard was told and a dashboard opened later gets it in
//! its snapshot. `GET /api/basemap` answers the simulated world's streets and sites.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use telemetry::catalog::{Device, Geofence, MAX_GEOFENCES};
use telemetry::{groups, targets, AlertCleared, Catalog, DeviceInfo, Millis, HUB};

use crate::auth::Caller;
use crate::devices::alerts::rules_for;
use crate::error::ApiError;
use crate::functions::world::{catalog_for, World};
use crate::functions::JsonBody;
use crate::{unix_millis, AppState};

/// Geofences one `POST /api/geofences` saves at most.
pub const MAX_SAVED_GEOFENCES: usize = 100;

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
    /// alerts stay), its geofences watched from now on ([`AlertEngine::set_fences`]). `ts`
    /// stamps the clearings.
    ///
    /// [`AlertEngine::set_rules`]: crate::devices::alerts::AlertEngine::set_rules
    /// [`AlertEngine::set_fences`]: crate::devices::alerts::AlertEngine::set_fences
    pub fn adopt(&mut self, mut update: Catalog, ts: Millis) -> Adopted {
        let problems = update.problems();
        let fences_named = !update.geofences.is_empty();
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
        let mut cleared = if changed { self.alerts.set_rules(rules_for(&self.catalog), ts) } else { Vec::new() };
        if changed && fences_named {
            cleared.extend(self.alerts.set_fences(self.catalog.geofences.clone(), ts));
        }
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

/// `GET /api/basemap`: the streets and site outlines of the simulated world (with sign-in: the
/// outlines of the caller's sites).
pub(super) async fn basemap(State(state): State<Arc<AppState>>, caller: Caller) -> Json<telemetry::basemap::Basemap> {
    let mut basemap = state.world.lock().expect("world lock").basemap.clone();
    basemap.sites.retain(|site| caller.sees(&site.id));
    Json(basemap)
}

/// `GET /api/catalog`: the world's catalog (with sign-in: the part of the caller's sites,
/// [`catalog_for`]).
pub(super) async fn serve(State(state): State<Arc<AppState>>, caller: Caller) -> Json<Catalog> {
    Json(catalog_for(&state.world.lock().expect("world lock").catalog, &caller))
}

/// 403 unless `caller` may save `fences`: an operator, and each fence (as saved, and as it
/// was if it exists) of one of their sites; a fence of no site concerns every site, so only a
/// caller of every site may save it.
fn check_fences(caller: &Caller, world: &World, fences: &[Geofence]) -> Result<(), ApiError> {
    caller.require_operator("edit geofences")?;
    if !caller.is_restricted() {
        return Ok(());
    }
    for fence in fences {
        let before = world.catalog.geofences.iter().find(|g| g.id == fence.id).map(|g| g.site.as_str());
        for site in [Some(fence.site.as_str()).filter(|_| !fence.removed), before].into_iter().flatten() {
            if site.is_empty() {
                return Err(ApiError::forbidden(format!(
                    "geofence {:?} belongs to no site, so to all of them: only a user of every site may change it",
                    fence.id
                )));
            }
            caller.require_site(site)?;
        }
    }
    Ok(())
}

/// `POST /api/geofences`: saves one geofence (the body is a [`Geofence`]) or several
/// (`{"geofences": [...]}`, 1 to [`MAX_SAVED_GEOFENCES`]); `{"id": ..., "removed": true}`
/// removes one. Each is checked ([`Geofence::problem`]: 400 naming the fence and what is
/// wrong, and nothing is saved), adopted into the functions' catalog ([`World::adopt`]: the
/// rules watch it from the next position on, and a dashboard opened later has it in
/// `GET /api/catalog` and its snapshot), and pushed to every dashboard as the `catalog` target
/// `{"geofences": [...]}` (merged by id there), when it changed anything. Answers that
/// document. Past [`MAX_GEOFENCES`] in the catalog: 409.
pub(super) async fn save_geofences(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> Result<Json<Catalog>, ApiError> {
    let fences = parse_geofences(body)?;
    let update = Catalog { geofences: fences, ..Catalog::default() };
    let (adopted, sites_before) = {
        let mut world = state.world.lock().expect("world lock");
        check_fences(&caller, &world, &update.geofences)?;
        let sites_before: HashMap<String, String> =
            world.catalog.geofences.iter().map(|g| (g.id.clone(), g.site.clone())).collect();
        let known: HashSet<&str> = world.catalog.geofences.iter().map(|g| g.id.as_str()).collect();
        let new: HashSet<&str> = update
            .geofences
            .iter()
            .filter(|g| !g.removed && !known.contains(g.id.as_str()))
            .map(|g| g.id.as_str())
            .collect();
        if known.len() + new.len() > MAX_GEOFENCES {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("the catalog holds at most {MAX_GEOFENCES} geofences: remove some first"),
            ));
        }
        (world.adopt(update.clone(), unix_millis()), sites_before)
    };
    if !adopted.cleared.is_empty() {
        if let Some(history) = &state.history {
            history.cleared(&adopted.cleared);
        }
        state
            .send_site_bound(HUB, targets::ALERT_CLEARED, adopted.cleared, |w, c| {
                w.alerts.site_of(&c.id).map(str::to_string)
            })
            .await;
    }
    if adopted.changed {
        push_geofences(&state, &update, &sites_before).await;
    }
    Ok(Json(update))
}

/// Tells dashboards of saved geofences (the `catalog` target, `{geofences: [...]}`): every
/// dashboard in an open deployment; with sign-in, a fence of a site goes to that site's group
/// (and its removal to the group of the site it had before, if it moved), one of no site to
/// every dashboard.
async fn push_geofences(state: &AppState, update: &Catalog, sites_before: &HashMap<String, String>) {
    if state.auth.is_none() {
        return state.send_to_all(HUB, targets::CATALOG, [update.clone()]).await;
    }
    let mut by_site: BTreeMap<String, Vec<Geofence>> = BTreeMap::new();
    for fence in &update.geofences {
        let before = sites_before.get(&fence.id).filter(|site| !site.is_empty() && **site != fence.site);
        if let Some(before) = before {
            let removal = Geofence { id: fence.id.clone(), removed: true, ..Geofence::default() };
            by_site.entry(before.clone()).or_default().push(removal);
        }
        by_site.entry(fence.site.clone()).or_default().push(fence.clone());
    }
    for (site, geofences) in by_site {
        let catalog = Catalog { geofences, ..Catalog::default() };
        match site.is_empty() {
            true => state.send_to_all(HUB, targets::CATALOG, [catalog]).await,
            false => state.send_to_group(HUB, &groups::site(&site), targets::CATALOG, [catalog]).await,
        }
    }
}

/// The fences of a `POST /api/geofences` body, each usable, or a 400 saying what is wrong.
fn parse_geofences(body: serde_json::Value) -> Result<Vec<Geofence>, ApiError> {
    let bad = |e: serde_json::Error| ApiError::bad_request(format!("not a geofence: {e}"));
    let fences: Vec<Geofence> = match body {
        serde_json::Value::Object(mut object) if object.contains_key("geofences") => {
            serde_json::from_value(object.remove("geofences").unwrap_or_default()).map_err(bad)?
        }
        body => vec![serde_json::from_value(body).map_err(bad)?],
    };
    if fences.is_empty() || fences.len() > MAX_SAVED_GEOFENCES {
        return Err(ApiError::bad_request(format!("`geofences` must list 1 to {MAX_SAVED_GEOFENCES} geofences")));
    }
    for fence in &fences {
        if let Some(problem) = fence.problem() {
            return Err(ApiError::bad_request(format!("geofence {:?}: {problem}", fence.id)));
        }
    }
    Ok(fences)
}

//! Glue between the SignalR connection and the store: status changes and `positions`
//! batches in, store updates out. On every (re)connect the snapshot is loaded and the site
//! groups are joined again, because a new connection starts with no groups and the gap lost
//! whatever was published meanwhile.

pub mod alerts;
pub mod api;
pub mod frame;
pub mod history;
pub mod notify;
pub mod replay;
pub mod sync;

use std::collections::HashSet;
use std::time::Duration;

use leptos::prelude::{Set, SetValue, Update, UpdateUntracked, WithUntracked};
use signalr::web::{ClientOptions, ConnectionState, HubConnection, Lifecycle, Status};
use signalr::{Payload, ReconnectPolicy};
use telemetry::json::Batch;
use telemetry::{targets, Position, Reading};

use crate::bench::metrics::{self, Kind};
use crate::config::{Backend, Config};
use crate::model::alerts::AlertFeed;
use crate::model::fleet::Shape;
use crate::model::status::{LiveStatus, Phase};
use crate::model::sync::SyncState;
use crate::store::Store;
use alerts::{AlertEvent, AlertQueue};
use api::Api;
use frame::Part;
use sync::Syncer;

/// Opens the hub connection described by `config` and feeds `store` until the page closes.
pub fn start(config: &Config, store: Store) -> HubConnection {
    let mut options = ClientOptions::new(config.backend.negotiate_base());
    options.protocol = config.protocol;
    options.session.server_timeout = config.server_timeout_ms;
    if let Backend::Hub { .. } = config.backend {
        // The snapshot comes as one hub message there (over HTTP from the functions): a large
        // fleet's is several MB.
        options.session.max_record = 32 << 20;
    }
    if let Some(transport) = config.transport {
        options.transports = vec![transport];
    }
    if config.auth.is_some() {
        // Every negotiate (the first, and each after a connection was lost) carries a fresh
        // access token.
        options.access_token_factory = Some(std::rc::Rc::new(|| Box::pin(crate::auth::bearer())));
    }
    // A wall screen never gives up, its first start included.
    options.reconnect = ReconnectPolicy::forever();
    options.retry_first_start = true;
    let connection = HubConnection::new(options);
    let api = match &config.backend {
        Backend::Functions { api_base } => Api::Functions(api_base.clone()),
        Backend::Hub { .. } => Api::Hub(connection.clone()),
    };
    store.api.set_value(Some(api.clone()));
    store.history.set_value(Some(history::History::new(api.clone(), store)));
    load_basemap(api.clone(), store, 0);
    // The catch-up after every connect; the handlers tell it about sites it has not joined.
    let syncer = Syncer::new(api, store, config.limits.sites);
    let sites_seen = syncer.clone();
    connection.on(targets::POSITIONS, move |arguments| {
        if let Some(batch) = batch::<Position>(store, targets::POSITIONS, arguments) {
            sites_seen.saw_sites(batch.iter().map(|p| p.site.as_str()));
            let stamps: Vec<i64> = batch.iter().map(|p| p.ts).collect();
            // Report numbers are checked for the vehicles the fleet keeps (the others are refused).
            store.fleet.with_untracked(|fleet| {
                store.traffic.update_untracked(|t| {
                    batch.iter().filter(|p| fleet.would_take(&p.id)).for_each(|p| t.reports.report(&p.id, p.seq));
                });
            });
            store.fleet.update_untracked(|fleet| {
                fleet.apply(batch);
            });
            frame::changed(store, Part::Fleet);
            applied(store, Kind::Positions, &stamps);
        }
    });
    let readings_seen = syncer.clone();
    connection.on(targets::READINGS, move |arguments| {
        if let Some(batch) = batch::<Reading>(store, targets::READINGS, arguments) {
            readings_seen.saw_sites(batch.iter().map(|r| r.site.as_str()));
            let stamps: Vec<i64> = batch.iter().map(|r| r.ts).collect();
            store.equipment.update_untracked(|e| e.apply(batch, js_sys::Date::now() as i64));
            frame::changed(store, Part::Equipment);
            applied(store, Kind::Readings, &stamps);
        }
    });
    let queue = AlertQueue::default();
    let raised = queue.clone();
    connection.on(targets::ALERTS, move |arguments| {
        if let Some(batch) = batch(store, targets::ALERTS, arguments) {
            raised.push(store, AlertEvent::Raised(batch));
        }
    });
    let acknowledged = queue.clone();
    connection.on(targets::ALERT_ACKNOWLEDGED, move |arguments| {
        if let Some(batch) = batch(store, targets::ALERT_ACKNOWLEDGED, arguments) {
            acknowledged.push(store, AlertEvent::Acknowledged(batch));
        }
    });
    let cleared = queue.clone();
    connection.on(targets::ALERT_CLEARED, move |arguments| {
        if let Some(batch) = batch(store, targets::ALERT_CLEARED, arguments) {
            cleared.push(store, AlertEvent::Cleared(batch));
        }
    });
    let re_alarmed = queue.clone();
    connection.on(targets::ALERT_REALARMED, move |arguments| {
        if let Some(batch) = batch(store, targets::ALERT_REALARMED, arguments) {
            re_alarmed.push(store, AlertEvent::ReAlarmed(batch));
        }
    });
    let suppressed = queue.clone();
    connection.on(targets::SUPPRESSED, move |arguments| {
        if let Some(batch) = batch(store, targets::SUPPRESSED, arguments) {
            suppressed.push(store, AlertEvent::Suppressed(batch));
        }
    });
    connection.on(targets::SUPPRESSION_ENDED, move |arguments| {
        if let Some(batch) = batch(store, targets::SUPPRESSION_ENDED, arguments) {
            queue.push(store, AlertEvent::SuppressionEnded(batch));
        }
    });
    let catalog_sites = syncer.clone();
    connection.on(targets::CATALOG, move |arguments| {
        store.messages.update_untracked(|n| *n += 1);
        let Some(update) = arguments.first().and_then(|a| {
            a.decode::<telemetry::Catalog>()
                .map_err(|e| warn(&format!("catalog: skipped, it does not match the contract: {e}")))
                .ok()
        }) else {
            store.skipped_items.update(|n| *n += 1);
            return;
        };
        apply_catalog(store, update, false);
        catalog_sites.saw_sites(
            store
                .catalog
                .with_untracked(|c| c.sites.iter().map(|s| s.id.clone()).collect::<Vec<_>>())
                .iter()
                .map(String::as_str),
        );
    });
    connection.on_status(move |status| {
        let status = live_status(status);
        // A connection is not in sync until its catch-up says so: never a moment of plain
        // "connected" before the snapshot and the group joins (the catch-up starts just after).
        if status.phase == Phase::Connected && store.status.with_untracked(|s| s.phase != Phase::Connected) {
            store.sync.set(SyncState::started());
        }
        store.status.set(status);
    });
    connection.on_lifecycle(move |event| match event {
        Lifecycle::Connected { connection_id } | Lifecycle::Reconnected { connection_id } => {
            store.traffic.update_untracked(|t| t.reports.new_connection());
            syncer.connected(connection_id.clone());
        }
        Lifecycle::Resumed => syncer.resumed(),
        _ => {}
    });
    connection.start();
    connection
}

/// Groups the functions join in one subscriptions call at most.
const MAX_GROUPS_PER_CALL: usize = 1_000;

/// One catch-up attempt: loads the snapshot, joins the groups of its sites and of `seen` (sites
/// the live data named), and applies the snapshot even when the joins failed (what it brings is
/// true either way). Returns the sites joined, or why the attempt failed.
async fn resynchronise(
    api: &Api,
    connection_id: &str,
    store: Store,
    seen: Vec<String>,
    max_sites: usize,
) -> Result<Vec<String>, String> {
    let alerts_before = store.alerts.with_untracked(AlertFeed::ids);
    let Some(mut snapshot) = api.snapshot().await.map_err(|e| format!("snapshot: {e}"))? else {
        // A hub without a snapshot: nothing to join by site either; it sends what it sends.
        return Ok(Vec::new());
    };
    // The same checks as live items: an unusable one is refused alone and counted.
    snapshot.positions = usable(store, "snapshot positions", snapshot.positions, Batch::problem);
    snapshot.readings = usable(store, "snapshot readings", snapshot.readings, Batch::problem);
    snapshot.alerts = usable(store, "snapshot alerts", snapshot.alerts, |a| a.alert.problem());
    let mut sites = snapshot.sites.clone();
    sites.extend(seen.into_iter().filter(|site| !snapshot.sites.contains(site)));
    // Only the sites the functions let this user see (one refused group fails the whole call).
    store.identity.with_untracked(|i| sites.retain(|site| i.as_ref().is_none_or(|i| i.sees(site))));
    // Sites are joined up to their bound (a snapshot naming a million cannot make a million
    // group joins); the rest are counted as refused.
    if sites.len() > max_sites {
        store.refused_sites.update(|r| sites[max_sites..].iter().for_each(|site| r.refuse(site)));
        sites.truncate(max_sites);
    }
    let groups: Vec<String> = sites.iter().map(|site| telemetry::groups::site(site)).collect();
    // Nothing to join is success (a deployment without sites yet); the functions take at most
    // a thousand groups a call.
    let joined = subscribe_all(api, connection_id, &groups).await;
    metrics::snapshot_applied(snapshot.positions.len() + snapshot.readings.len());
    // The snapshot is the truth: what the server no longer has leaves the screen (the
    // updates below notify).
    {
        let devices = snapshot.devices.iter().map(|d| d.id.as_str());
        let declared = snapshot.catalog.devices.iter().filter(|d| !d.removed).map(|d| d.id.as_str());
        let known: HashSet<&str> =
            devices.chain(declared).chain(snapshot.positions.iter().map(|p| p.id.as_str())).collect();
        store.fleet.update_untracked(|fleet| fleet.retain_known(|id| known.contains(id)));
        store.equipment.update_untracked(|e| e.retain_known(|id| known.contains(id)));
    }
    store.fleet.update(|fleet| {
        // The registry says what kind each vehicle is (the catalog, below, how each kind looks).
        fleet.set_kinds(snapshot.devices.iter().map(|d| (d.id.clone(), d.kind.clone())));
        fleet.apply(snapshot.positions);
    });
    let now = js_sys::Date::now() as i64;
    // Before the alerts, so none of a suppressed point is taken for one that notifies. What
    // began or ended while the page was away is reconciled with the toasts below.
    let suppressed_before: Vec<telemetry::alarms::Suppression> =
        store.suppressions.with_untracked(|s| s.iter().cloned().collect());
    store.suppressions.update(|s| s.load(snapshot.suppressions, snapshot.alarm_policy, now));
    let (began, ended) = store.suppressions.with_untracked(|s| {
        let began: Vec<_> = s.iter().filter(|n| !suppressed_before.iter().any(|o| o.id == n.id)).cloned().collect();
        let ended: Vec<_> = suppressed_before.into_iter().filter(|o| !s.iter().any(|n| n.id == o.id)).collect();
        (began, ended)
    });
    let returned: Vec<String> =
        snapshot.alerts.iter().filter(|a| a.cleared.is_some()).map(|a| a.alert.id.clone()).collect();
    let snapshot_ts = snapshot.ts;
    let over = store
        .alerts
        .try_update(|feed| {
            feed.snapshot_ts = Some(snapshot_ts);
            feed.load_with_re_alarms(snapshot.alerts, now, &alerts_before)
        })
        .unwrap_or_default();
    let (over, re_alarmed) = over;
    store.toasts.update(|toasts| {
        // Over while the page was away: nothing is left to acknowledge.
        over.iter().for_each(|id| toasts.acknowledged(id));
        returned.iter().for_each(|id| toasts.cleared(id));
        // Shelved or taken out of service meanwhile: off the stack.
        for s in &began {
            toasts.retain(|t| !s.covers(&t.alert.device, &t.alert.metric));
        }
    });
    // Re-alarmed while the page was away: they notify again; a shelf that ended meanwhile
    // lets its alarms back.
    alerts::notify_again(store, re_alarmed, now);
    if !ended.is_empty() {
        alerts::unsuppressed(store, &ended, now);
    }
    apply_catalog(store, snapshot.catalog, true);
    // The alarms of the last hour behind the open ones (once a page).
    if let Some(history) = history::loader(store) {
        history.alerts();
    }
    store.equipment.update(|e| {
        store.catalog.with_untracked(|c| e.register(&snapshot.devices, |kind| c.is_vehicle_kind(kind)));
        e.apply(snapshot.readings, now);
    });
    joined.map(|()| sites)
}

/// Loads the backend's basemap once, asking again (10 s apart, at most 30 times) while the
/// backend cannot be reached; a backend without one (404) is drawn on the plain background.
fn load_basemap(api: Api, store: Store, tries: u32) {
    leptos::task::spawn_local(async move {
        match api.basemap().await {
            Ok(Some(basemap)) => store.basemap.set(Some(basemap)),
            Ok(None) => {}
            Err(error) if !error.permanent && tries < 30 => {
                web_sys::console::warn_1(&format!("basemap: {}", error.message).into());
                let again = api.clone();
                leptos::prelude::set_timeout(move || load_basemap(again, store, tries + 1), Duration::from_secs(10));
            }
            Err(error) => web_sys::console::warn_1(&format!("basemap: {}; not asked again", error.message).into()),
        }
    });
}

/// A catalog from the backend: the snapshot's replaces what the page has (`whole`), a pushed one
/// is merged into it by id. Unusable entries are dropped alone, with a console note each, and
/// counted as skipped; the devices it declares appear (as *no data yet* until they report).
fn apply_catalog(store: Store, mut catalog: telemetry::Catalog, whole: bool) {
    let problems = catalog.problems();
    if !problems.is_empty() {
        warn(&format!("catalog: {} entries skipped: {}", problems.len(), problems.join("; ")));
        store.skipped_items.update(|n| *n += problems.len() as u64);
    }
    // The devices the update names, as the merge leaves them (an empty field in an update keeps
    // what the page had), and those it removes.
    let named: Vec<(String, bool)> = catalog.devices.iter().map(|d| (d.id.clone(), d.removed)).collect();
    store.catalog.update(|current| {
        if whole {
            // Through the merge, so the snapshot's catalog gets its bounds too.
            *current = telemetry::Catalog::default();
        }
        current.merge(catalog);
    });
    let declared: Vec<telemetry::catalog::Device> = store.catalog.with_untracked(|c| {
        named
            .into_iter()
            .filter_map(|(id, removed)| match removed {
                true => Some(telemetry::catalog::Device { id, removed: true, ..Default::default() }),
                false => c.device(&id).cloned(),
            })
            .collect()
    });
    store.equipment.update(|e| store.catalog.with_untracked(|c| e.declare(&declared, |kind| c.is_vehicle_kind(kind))));
    // The shapes vehicles are drawn with: each kind's, and the kind of each vehicle it declares.
    store.catalog.with_untracked(|c| {
        let shapes: Vec<(String, Shape)> = c.vehicle_kinds.iter().map(|k| (k.id.clone(), Shape::of_kind(k))).collect();
        let vehicles: Vec<(String, String)> = declared
            .iter()
            .filter(|d| !d.removed && !d.kind.is_empty() && c.is_vehicle_kind(&d.kind))
            .map(|d| (d.id.clone(), d.kind.clone()))
            .collect();
        store.fleet.update(|fleet| {
            fleet.set_kind_shapes(shapes);
            fleet.set_kinds(vehicles);
        });
    });
}

/// Keeps the items `problem` finds nothing wrong with; returns how many it dropped and the
/// first reason. One place for the per-item checks of live batches and of the snapshot.
fn retain_usable<T>(items: &mut Vec<T>, problem: impl Fn(&T) -> Option<String>) -> (usize, Option<String>) {
    let before = items.len();
    let mut first = None;
    items.retain(|item| match problem(item) {
        Some(why) => {
            first.get_or_insert(why);
            false
        }
        None => true,
    });
    (before - items.len(), first)
}

/// `items` without those `problem` refuses, which are counted as skipped with a console note.
fn usable<T>(store: Store, what: &str, mut items: Vec<T>, problem: impl Fn(&T) -> Option<String>) -> Vec<T> {
    if let (bad @ 1.., Some(first)) = retain_usable(&mut items, problem) {
        warn(&format!("{what}: {bad} item(s) skipped: {first}"));
        store.skipped_items.update(|n| *n += bad as u64);
    }
    items
}

/// Joins `groups`, at most [`MAX_GROUPS_PER_CALL`] a call (the functions refuse more).
async fn subscribe_all(api: &Api, connection_id: &str, groups: &[String]) -> Result<(), String> {
    for chunk in groups.chunks(MAX_GROUPS_PER_CALL) {
        api.subscribe(connection_id, chunk.to_vec()).await.map_err(|e| format!("subscriptions: {e}"))?;
    }
    Ok(())
}

/// Latency from device timestamps to now, when the batch has been applied (the status bar's
/// recent median, and every sample for the benchmark's metrics).
fn applied(store: Store, kind: Kind, stamps: &[i64]) {
    let now = js_sys::Date::now() as i64;
    store.traffic.update_untracked(|t| stamps.iter().for_each(|&ts| t.latency(ts, now)));
    frame::changed(store, Part::Traffic);
    metrics::applied(kind, stamps.iter().copied(), now);
}

/// Counts the message and decodes its batch. An item that does not match the contract is
/// reported, counted and skipped, and its neighbours are applied; an argument that is not a
/// batch at all is skipped whole. Never a panic.
fn batch<T: Batch>(store: Store, target: &str, arguments: &[Payload]) -> Option<Vec<T>> {
    store.messages.update_untracked(|n| *n += 1);
    store.traffic.update_untracked(|t| t.message(js_sys::Date::now() as i64));
    frame::changed(store, Part::Traffic);
    match arguments.first().map(decode_items) {
        Some(Ok(Decoded { items, skipped, first_error })) => {
            if skipped > 0 {
                let why = first_error.unwrap_or_default();
                warn(&format!("{target}: {skipped} item(s) skipped, they do not match the contract: {why}"));
                store.skipped_items.update(|n| *n += skipped as u64);
            }
            Some(items)
        }
        Some(Err(error)) => {
            warn(&format!("{target}: batch skipped, it does not match the contract: {error}"));
            None
        }
        None => {
            warn(&format!("{target}: invocation without arguments"));
            None
        }
    }
}

/// One batch argument decoded; JSON through the contract's reader for `T` (a hand-written one
/// for positions), so the benchmark times exactly this.
pub fn decode_batch<T: Batch>(argument: &Payload) -> Result<Vec<T>, signalr::ProtocolError> {
    argument.decode_with(T::from_json)
}

/// A batch as far as it could be read.
#[derive(Debug)]
pub struct Decoded<T> {
    /// The items that match the contract, in order.
    pub items: Vec<T>,
    /// How many did not.
    pub skipped: usize,
    /// Why the first of those did not.
    pub first_error: Option<String>,
}

/// A batch decoded whole when it can be (the fast path), else item by item, so one bad item
/// costs only itself; then each item is checked ([`Batch::problem`]: numbers not finite,
/// coordinates out of range) and refused alone. `Err` when the argument is not an array at all.
pub fn decode_items<T: Batch>(argument: &Payload) -> Result<Decoded<T>, signalr::ProtocolError> {
    let mut decoded = match decode_batch(argument) {
        Ok(items) => Decoded { items, skipped: 0, first_error: None },
        Err(whole) => {
            let values: Vec<serde_json::Value> = argument.decode().map_err(|_| whole)?;
            let mut decoded = Decoded { items: Vec::with_capacity(values.len()), skipped: 0, first_error: None };
            for value in values {
                match serde_json::from_value::<T>(value) {
                    Ok(item) => decoded.items.push(item),
                    Err(error) => decoded.refuse(error.to_string()),
                }
            }
            decoded
        }
    };
    let (bad, first) = retain_usable(&mut decoded.items, Batch::problem);
    decoded.skipped += bad;
    if decoded.first_error.is_none() {
        decoded.first_error = first;
    }
    Ok(decoded)
}

impl<T> Decoded<T> {
    fn refuse(&mut self, why: String) {
        self.skipped += 1;
        self.first_error.get_or_insert(why);
    }
}

/// The status bar's view of the client's status.
pub fn live_status(status: &Status) -> LiveStatus {
    LiveStatus {
        phase: match status.state {
            ConnectionState::Connecting => Phase::Connecting,
            ConnectionState::Connected => Phase::Connected,
            ConnectionState::Reconnecting => Phase::Reconnecting,
            ConnectionState::Disconnected => Phase::Disconnected,
        },
        transport: status.transport.map(|t| t.as_str()),
        protocol: status.protocol.name(),
        error: status.last_error.clone(),
        retry_at: status.retry_at,
        skipped: status.skipped,
    }
}

fn warn(message: &str) {
    web_sys::console::warn_1(&message.into());
}

#[cfg(test)]
mod tests {
    use signalr::HubProtocol;
    use telemetry::Reading;

    use super::*;

    fn readings(protocol: HubProtocol, items: &serde_json::Value) -> Payload {
        protocol.payload(items).unwrap()
    }

    #[test]
    fn one_bad_item_costs_only_itself_in_both_protocols() {
        let good = serde_json::json!({
            "device": "press-01", "kind": "process", "ts": 1, "site": "north", "status": "running",
            "values": { "temperature": 71.5 }
        });
        // A kind nobody declared is fine (shown by its id); a status nobody knows is not.
        let mut pump = good.clone();
        pump["status"] = "on fire".into();
        pump["device"] = "pump-07".into();
        let mut broken = good.clone();
        broken["ts"] = "yesterday".into();
        for protocol in [HubProtocol::Json, HubProtocol::MessagePack] {
            let batch = readings(protocol, &serde_json::json!([pump, good, broken, good]));
            let decoded = decode_items::<Reading>(&batch).unwrap();
            assert_eq!(decoded.items.len(), 2, "{protocol:?}: both good readings applied");
            assert!(decoded.items.iter().all(|r| r.device == "press-01"));
            assert_eq!(decoded.skipped, 2, "{protocol:?}");
            assert!(decoded.first_error.unwrap().contains("on fire"), "{protocol:?}: the first reason is the pump's");
            let chiller = serde_json::json!([{ "device": "ch-1", "kind": "chiller", "ts": 1, "site": "north",
                "status": "running", "values": { "coolant": 4.5 } }]);
            assert_eq!(decode_items::<Reading>(&readings(protocol, &chiller)).unwrap().items[0].kind, "chiller");
            // Well formed but unusable: refused alone, in both protocols (MessagePack carries
            // NaN and infinities as floats; JSON writers make them null, a type error).
            let reading: Reading = serde_json::from_value(good.clone()).unwrap();
            let mut nan = reading.clone();
            nan.values.insert("temperature".into(), f64::NAN);
            let mut infinite = reading.clone();
            infinite.values.insert("pressure".into(), f64::INFINITY);
            let batch = protocol.payload(&vec![nan, reading.clone(), infinite]).unwrap();
            let decoded = decode_items::<Reading>(&batch).unwrap();
            assert_eq!(decoded.items, std::slice::from_ref(&reading), "{protocol:?}: the good reading applied");
            assert_eq!(decoded.skipped, 2, "{protocol:?}");
            // A position off the globe, beside a good one, on the hand-written fast path.
            let position = |lat: f64| {
                serde_json::json!({ "id": "veh-1", "ts": 1, "lat": lat, "lon": 8.5, "heading": 0.0, "speed": 1.0,
                    "state": "moving", "site": "north", "seq": 1 })
            };
            let batch = readings(protocol, &serde_json::json!([position(47.0), position(95.0)]));
            let decoded = decode_items::<Position>(&batch).unwrap();
            assert_eq!((decoded.items.len(), decoded.skipped), (1, 1), "{protocol:?}");
            assert!(decoded.first_error.unwrap().contains("latitude 95"), "{protocol:?}");
            // A whole good batch takes the fast path and skips nothing.
            let whole = decode_items::<Reading>(&readings(protocol, &serde_json::json!([good]))).unwrap();
            assert_eq!((whole.items.len(), whole.skipped), (1, 0));
            // Not a batch at all: skipped whole, with the contract's error.
            assert!(decode_items::<Reading>(&readings(protocol, &serde_json::json!({ "device": 1 }))).is_err());
        }
    }
}

//! The device pipeline: each tick, step the scenarios, record the state, evaluate the alert
//! rules (the geofence rules over the positions), and publish one batch per target per site group (and per device group for
//! readings), each serialized once per protocol for every listener.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use telemetry::{groups, targets, Alert, Position, Reading};
use tokio::time::{interval, MissedTickBehavior};

use crate::devices::equipment::Equipment;
use crate::devices::fleet::Fleet;
use crate::devices::generic::Generic;
use crate::{unix_millis, AppState};

fn ticker(rate: f64) -> (tokio::time::Interval, Duration) {
    let period = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let mut ticker = interval(period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    (ticker, period)
}

/// Splits items by site, keeping their order.
fn by_site<T>(items: Vec<T>, site: impl Fn(&T) -> &str) -> BTreeMap<String, Vec<T>> {
    let mut sites: BTreeMap<String, Vec<T>> = BTreeMap::new();
    for item in items {
        sites.entry(site(&item).to_string()).or_default().push(item);
    }
    sites
}

/// How often the fleet publishes at most: devices report at their own moments, not all at once.
const PUBLISH_EVERY_SECONDS: f64 = 0.1;

/// Reporting slots for vehicles that report `rate` times a second: one slot is published per
/// tick of about [`PUBLISH_EVERY_SECONDS`], so each vehicle still reports `rate` times a second.
pub fn reporting_slots(rate: f64) -> usize {
    (1.0 / (rate.max(0.001) * PUBLISH_EVERY_SECONDS)).round().max(1.0) as usize
}

/// Publishes vehicle positions at `rate` updates per vehicle per second until the task is dropped.
///
/// The fleet is spread over reporting slots (see [`reporting_slots`]): 5,000 vehicles at 1 Hz go
/// out as ten batches of 500 a second, not one burst of 5,000. Real devices report at their own
/// moments too, and a burst of that size took ~60 ms to reach the page over a browser WebSocket
/// (docs/performance-notes.md).
pub async fn run_fleet(state: Arc<AppState>, mut fleet: Fleet, rate: f64) {
    let slots = reporting_slots(rate);
    let (mut ticker, _) = ticker(rate * slots as f64);
    let dt = 1.0 / rate.max(0.001);
    let mut slot = 0;
    loop {
        ticker.tick().await;
        let batch = fleet.report_slot(slot, slots, dt, unix_millis());
        slot = (slot + 1) % slots;
        if batch.is_empty() {
            continue;
        }
        let changes = {
            let mut world = state.world.lock().expect("world lock");
            for position in &batch {
                world.positions.insert(position.id.clone(), position.clone());
            }
            world.alerts.evaluate_positions(&batch)
        };
        if let Some(history) = &state.history {
            history.positions(&batch);
            history.raised(&changes.raised);
            history.cleared(&changes.cleared);
        }
        publish_alerts(&state, changes.raised).await;
        publish_cleared(&state, changes.cleared).await;
        if !state.has_listeners(telemetry::HUB) {
            continue;
        }
        for (site, positions) in by_site(batch, |p: &Position| &p.site) {
            state.send_to_group(telemetry::HUB, &groups::site(&site), targets::POSITIONS, [positions]).await;
        }
    }
}

/// Devices that stand still and report readings: the built-in equipment, and the devices a
/// catalog file declares ([`Generic`]).
pub trait Stationary: Send + 'static {
    /// Advances every device by `dt` seconds.
    fn step(&mut self, dt: f64);
    /// Current readings stamped with `ts` (Unix ms).
    fn readings(&self, ts: i64) -> Vec<Reading>;
}

impl Stationary for Equipment {
    fn step(&mut self, dt: f64) {
        Equipment::step(self, dt);
    }
    fn readings(&self, ts: i64) -> Vec<Reading> {
        Equipment::readings(self, ts)
    }
}

impl Stationary for Generic {
    fn step(&mut self, dt: f64) {
        Generic::step(self, dt);
    }
    fn readings(&self, ts: i64) -> Vec<Reading> {
        Generic::readings(self, ts)
    }
}

/// The built-in equipment and the devices of a catalog file, stepped, read, backfilled and
/// published together.
pub struct Stations {
    /// The process machines and drilling rigs.
    pub equipment: Equipment,
    /// The devices of the `--catalog` file, if it declares any to simulate.
    pub declared: Option<Generic>,
}

impl Stationary for Stations {
    fn step(&mut self, dt: f64) {
        self.equipment.step(dt);
        if let Some(declared) = &mut self.declared {
            declared.step(dt);
        }
    }
    fn readings(&self, ts: i64) -> Vec<Reading> {
        let mut readings = self.equipment.readings(ts);
        if let Some(declared) = &self.declared {
            readings.extend(declared.readings(ts));
        }
        readings
    }
}

/// Publishes equipment readings, and the alerts they raise or clear, at `rate` per second.
pub async fn run_equipment(state: Arc<AppState>, mut equipment: impl Stationary, rate: f64) {
    let (mut ticker, period) = ticker(rate);
    loop {
        ticker.tick().await;
        equipment.step(period.as_secs_f64());
        let readings = equipment.readings(unix_millis());
        let changes = {
            let mut world = state.world.lock().expect("world lock");
            for reading in &readings {
                world.readings.insert(reading.device.clone(), reading.clone());
            }
            world.alerts.evaluate(&readings)
        };
        if let Some(history) = &state.history {
            history.readings(&readings);
            history.raised(&changes.raised);
            history.cleared(&changes.cleared);
        }
        publish_alerts(&state, changes.raised).await;
        publish_cleared(&state, changes.cleared).await;
        if !state.has_listeners(telemetry::HUB) {
            continue;
        }
        for reading in &readings {
            let group = groups::device(&reading.device);
            state.send_to_group(telemetry::HUB, &group, targets::READINGS, [[reading.clone()]]).await;
        }
        for (site, readings) in by_site(readings, |r: &Reading| &r.site) {
            state.send_to_group(telemetry::HUB, &groups::site(&site), targets::READINGS, [readings]).await;
        }
    }
}

/// Tells dashboards that alerts cleared: every dashboard in an open deployment, with sign-in
/// those of each alert's site.
pub async fn publish_cleared(state: &AppState, cleared: Vec<telemetry::AlertCleared>) {
    state
        .send_site_bound(telemetry::HUB, targets::ALERT_CLEARED, cleared, |world, c| {
            world.alerts.site_of(&c.id).map(str::to_string)
        })
        .await;
}

/// Sends alerts to their sites' groups.
pub async fn publish_alerts(state: &AppState, alerts: Vec<Alert>) {
    for (site, alerts) in by_site(alerts, |a: &Alert| &a.site) {
        state.send_to_group(telemetry::HUB, &groups::site(&site), targets::ALERTS, [alerts]).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_spread_reports_over_ticks_of_about_a_tenth_of_a_second() {
        assert_eq!(reporting_slots(1.0), 10);
        assert_eq!(reporting_slots(2.0), 5);
        assert_eq!(reporting_slots(0.5), 20);
        // Fast reporters publish every tick.
        assert_eq!(reporting_slots(10.0), 1);
        assert_eq!(reporting_slots(50.0), 1);
    }
}

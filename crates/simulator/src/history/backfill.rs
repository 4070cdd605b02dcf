//! The backfill: an empty store gets the last window of the devices' life at start, so a fresh
//! simulator shows full charts and a replayable hour.
//!
//! The same deterministic scenarios the pipeline runs (fleet and equipment, same seed and
//! counts) are stepped second by second from `now - window` up to the current second, their
//! samples stamped with those seconds, the alert rules run over the readings; then the live
//! pipeline continues from that very state, so nothing jumps at the seam. Readings are written
//! every second. Positions are written every `stride` seconds, chosen so the backfill writes at
//! most [`POSITION_BUDGET`] of them: every second up to 1,000 vehicles for an hour, every
//! 10 s for 10,000 (every vehicle still steps each second; docs/history-store.md has the figures).
//!
//! Alerts the backfilled hour raised and that returned to normal are in the log but not left
//! waiting for an acknowledgement: nobody was there to see them. Those still active are open.

use std::collections::VecDeque;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use telemetry::Position;

use crate::config::Config;
use crate::devices::fleet::Fleet;
use crate::devices::pipeline::{self, Stationary};
use crate::functions::world::World;
use crate::history::writer::Write;
use crate::history::{store, History, PositionRow};
use crate::{unix_millis, AppState};

/// Most position rows a backfill writes (see the module doc).
pub const POSITION_BUDGET: u64 = 3_600_000;

/// Rows per message to the writer, and messages in flight at most (bounds the memory).
const CHUNK_ROWS: usize = 50_000;
const IN_FLIGHT: usize = 8;

/// What a backfill did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Seconds stepped (the window, and the catch-up to the current second).
    pub seconds: i64,
    /// The last second stepped: the live pipeline's first tick belongs at the next one.
    pub last_second: i64,
    /// Positions written every this many seconds.
    pub stride: i64,
    pub positions: u64,
    pub samples: u64,
    pub alert_events: u64,
    pub elapsed: Duration,
}

/// The stride that keeps `vehicles` over `seconds` within [`POSITION_BUDGET`].
pub fn stride(vehicles: usize, seconds: i64) -> i64 {
    let rows = vehicles as u64 * seconds.max(0) as u64;
    rows.div_ceil(POSITION_BUDGET).max(1) as i64
}

/// What the stored rows must belong to for a restart to keep them: the seed, the counts, the
/// centre and the `--catalog` file's contents (a hash of them: an edited file declares other
/// devices or limits, whose past the stored rows are not; a file that cannot be read is named by
/// its path, and the start fails on it anyway).
pub fn scenario(config: &Config) -> String {
    let catalog = match &config.catalog {
        None => "none".to_string(),
        Some(path) => match std::fs::read(path) {
            Ok(contents) => {
                use sha2::Digest;
                let digest = sha2::Sha256::digest(&contents);
                format!("sha256:{}", digest.iter().map(|b| format!("{b:02x}")).collect::<String>())
            }
            Err(_) => format!("{path:?}"),
        },
    };
    format!(
        "seed={} vehicles={} machines={} rigs={} centre={},{} catalog={catalog}",
        config.seed, config.vehicles, config.machines, config.rigs, config.centre.0, config.centre.1
    )
}

/// Starts the pipelines: at once without history, after backfilling an empty store otherwise;
/// then says the history is ready ([`History::set_ready`]), which its routes wait for.
pub fn then_publish(state: Arc<AppState>, config: &Config, fleet: Fleet, equipment: impl Stationary) {
    let (rate, reading_rate, scenario) = (config.rate, config.reading_rate, scenario(config));
    tokio::spawn(async move {
        let (fleet, equipment) = match state.history.is_some() {
            false => (fleet, equipment),
            true => {
                let filling = state.clone();
                let prepared =
                    tokio::task::spawn_blocking(move || prepare_and_fill(&filling, &scenario, fleet, equipment, rate));
                let (fleet, equipment, last_second) = prepared.await.expect("the backfill does not panic");
                // Filled, or found full (or unreadable): the routes answer from now on.
                if let Some(history) = &state.history {
                    history.set_ready();
                }
                // Live readings a second after the last backfilled ones (stamped on the second).
                if let Some(last) = last_second {
                    let wait = (last + 1) * 1000 - unix_millis();
                    if wait > 0 {
                        tokio::time::sleep(Duration::from_millis(wait as u64)).await;
                    }
                }
                (fleet, equipment)
            }
        };
        tokio::spawn(pipeline::run_fleet(state.clone(), fleet, rate));
        tokio::spawn(pipeline::run_equipment(state, equipment, reading_rate));
    });
}

fn prepare_and_fill<E: Stationary>(
    state: &AppState,
    scenario: &str,
    mut fleet: Fleet,
    mut equipment: E,
    rate: f64,
) -> (Fleet, E, Option<i64>) {
    let Some(history) = &state.history else { return (fleet, equipment, None) };
    match history.prepare(scenario) {
        Ok(true) => {
            let report = fill(history, &state.world, &mut fleet, &mut equipment, pipeline::reporting_slots(rate));
            tracing::info!(
                minutes = history.window_ms() / 60_000,
                positions = report.positions,
                every_secs = report.stride,
                samples = report.samples,
                alert_events = report.alert_events,
                "history: backfilled in {:.2} s",
                report.elapsed.as_secs_f64()
            );
            return (fleet, equipment, Some(report.last_second));
        }
        Ok(false) => {
            let (positions, samples, events) = history.counts().unwrap_or_default();
            tracing::info!(
                positions,
                samples,
                alert_events = events,
                "history: kept what {} holds; no backfill",
                history.location()
            );
        }
        Err(error) => tracing::error!(%error, "history: cannot read the store; no backfill"),
    }
    (fleet, equipment, None)
}

/// Steps `fleet` and `equipment` second by second over the window up to the current second,
/// writing what they report (and what the alert rules of `world` make of it) to `history`.
/// Vehicles report at `slots` moments of each second, as the pipeline spreads them.
pub fn fill(
    history: &History,
    world: &Mutex<World>,
    fleet: &mut Fleet,
    equipment: &mut impl Stationary,
    slots: usize,
) -> Report {
    let started = Instant::now();
    let now_sec = unix_millis().div_euclid(1000);
    let window = history.window_ms() / 1000;
    let first = now_sec - window + 1;
    let stride = stride(fleet.len(), window);
    let slot_ms = 1000 / slots.max(1) as i64;
    let mut report = Report { stride, ..Report::default() };
    let mut out = Outbox::new(history);
    let mut ids: Vec<Arc<str>> = Vec::new();
    let (mut last_positions, mut last_readings) = (Vec::new(), Vec::new());
    let mut sec = first;
    let behind = |sec: i64| sec <= unix_millis().div_euclid(1000);
    // Catch up with the clock too, again after waiting for the writes: the live pipeline
    // starts at the second after the last.
    while behind(sec) {
        while behind(sec) {
            equipment.step(1.0);
            let readings = equipment.readings(sec * 1000);
            let changes = world.lock().expect("world lock").alerts.evaluate(&readings);
            report.samples += readings.iter().map(|r| r.values.len() as u64).sum::<u64>();
            let mut events = store::raised_events(&changes.raised);
            events.extend(store::cleared_events(&changes.cleared));
            report.alert_events += events.len() as u64;
            out.alerts(events);
            out.readings(readings.clone());
            last_readings = readings;

            fleet.step(1.0);
            if (sec - first) % stride == 0 {
                last_positions = stamped(fleet.positions(0), sec, slot_ms, slots);
                report.positions += last_positions.len() as u64;
                out.positions(rows(&mut ids, &last_positions));
            }
            sec += 1;
        }
        out.drain();
    }
    report.seconds = sec - first;
    report.last_second = sec - 1;
    // The fleet's last state, whatever the stride.
    if (sec - 1 - first) % stride != 0 && !fleet.is_empty() {
        last_positions = stamped(fleet.positions(0), sec - 1, slot_ms, slots);
        report.positions += last_positions.len() as u64;
        out.positions(rows(&mut ids, &last_positions));
    }
    out.drain();
    let mut world = world.lock().expect("world lock");
    world.alerts.forget_returned();
    for position in last_positions {
        world.positions.insert(position.id.clone(), position);
    }
    for reading in last_readings {
        world.readings.insert(reading.device.clone(), reading);
    }
    report.elapsed = started.elapsed();
    report
}

/// Positions stamped within second `sec` at their reporting slot's moment.
fn stamped(mut positions: Vec<Position>, sec: i64, slot_ms: i64, slots: usize) -> Vec<Position> {
    for (index, position) in positions.iter_mut().enumerate() {
        position.ts = sec * 1000 + (index % slots.max(1)) as i64 * slot_ms;
    }
    positions
}

fn rows(ids: &mut Vec<Arc<str>>, positions: &[Position]) -> Vec<PositionRow> {
    if ids.len() != positions.len() {
        *ids = positions.iter().map(|p| Arc::from(p.id.as_str())).collect();
    }
    positions.iter().zip(ids.iter()).map(|(p, id)| PositionRow::new(id.clone(), p)).collect()
}

/// Batches rows into chunks for the writer, with a few chunks in flight at most.
struct Outbox<'a> {
    history: &'a History,
    positions: Vec<PositionRow>,
    readings: Vec<telemetry::Reading>,
    alerts: Vec<crate::history::AlertEvent>,
    in_flight: VecDeque<mpsc::Receiver<()>>,
}

impl<'a> Outbox<'a> {
    fn new(history: &'a History) -> Self {
        Self { history, positions: Vec::new(), readings: Vec::new(), alerts: Vec::new(), in_flight: VecDeque::new() }
    }

    fn positions(&mut self, rows: Vec<PositionRow>) {
        self.positions.extend(rows);
        if self.positions.len() >= CHUNK_ROWS {
            self.send();
        }
    }

    fn readings(&mut self, readings: Vec<telemetry::Reading>) {
        self.readings.extend(readings);
        if self.readings.len() * 3 >= CHUNK_ROWS {
            self.send();
        }
    }

    fn alerts(&mut self, events: Vec<crate::history::AlertEvent>) {
        self.alerts.extend(events);
    }

    fn send(&mut self) {
        let history = self.history;
        for write in [
            Write::Positions(std::mem::take(&mut self.positions)),
            Write::Readings(std::mem::take(&mut self.readings)),
            Write::Alerts(std::mem::take(&mut self.alerts)),
        ] {
            if write.rows() > 0 {
                history.send(write);
            }
        }
        let (reply, done) = mpsc::channel();
        history.send(Write::Flush(reply));
        self.in_flight.push_back(done);
        while self.in_flight.len() > IN_FLIGHT {
            if let Some(done) = self.in_flight.pop_front() {
                let _ = done.recv();
            }
        }
    }

    /// Sends the rest and waits until all of it is written.
    fn drain(&mut self) {
        self.send();
        for done in self.in_flight.drain(..) {
            let _ = done.recv();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stride_keeps_the_backfill_within_its_budget() {
        assert_eq!(stride(50, 3_600), 1);
        assert_eq!(stride(1_000, 3_600), 1);
        assert_eq!(stride(1_001, 3_600), 2);
        assert_eq!(stride(10_000, 3_600), 10);
        assert_eq!(stride(0, 3_600), 1);
    }
}

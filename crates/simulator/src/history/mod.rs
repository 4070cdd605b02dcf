//! History: every position, reading and alert event the devices publish, kept for
//! `--history-minutes` at one-second resolution (the last sample of each second), and the
//! functions routes that answer ranges of it (`telemetry::history`).
//!
//! * `store`: the SQLite schema, writes and reads;
//! * `writer`: the one writing connection on its own thread, fed through a
//!   bounded channel: the publishing tick only ever tries to queue, and counts what it could not;
//! * [`query`]: the reductions (buckets, thinning, fleet frames);
//! * [`routes`]: `GET /api/history`, `/api/history/track`, `/api/history/alerts`,
//!   `/api/history/fleet`, `/api/history/coverage`;
//! * [`backfill`]: an empty store gets the last window of the devices' life at start, from the
//!   same deterministic scenarios the live pipeline then continues.
//!
//! In memory by default (an in-memory SQLite database shared by the writer and the readers);
//! under `--data-dir DIR` in `DIR/history.sqlite3` (write-ahead log), so a restart keeps it.

pub mod backfill;
pub mod query;
pub mod routes;
mod store;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};
use telemetry::history::{
    bucket_ms, AlertLog, Coverage, FleetHistory, SeriesHistory, TrackHistory, MAX_FLEET_CELLS, MAX_FRAMES,
    RESOLUTION_MS,
};
use telemetry::{
    Alert, AlertAcknowledged, AlertCleared, AlertReAlarmed, Millis, Position, Reading, Suppression, SuppressionEnded,
    VehicleState,
};

pub use telemetry::history::{AlertChange, AlertEvent};
pub use writer::Counters;

use crate::history::writer::{Write, Writer};

/// The most minutes `--history-minutes` may keep (a day).
pub const MAX_MINUTES: u64 = 24 * 60;

/// Batches the writer may have queued: the fleet sends ten a second, the equipment one.
const QUEUE: usize = 4_096;

/// Rows the writer may have queued before the publishing tick's new ones are dropped: 100 s of
/// 10,000 vehicles at 1 Hz, about 60 MB.
pub const MAX_QUEUED_ROWS: u64 = 1_000_000;

/// Where and how long history is kept.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistorySettings {
    /// Minutes kept; 0 turns history off.
    pub minutes: u64,
    /// Keep it in `DIR/history.sqlite3` rather than in memory.
    pub data_dir: Option<PathBuf>,
}

/// One vehicle's fix as stored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fix {
    pub lat: f64,
    pub lon: f64,
    pub speed: f64,
    pub heading: f64,
    pub state: VehicleState,
}

impl Default for Fix {
    fn default() -> Self {
        Fix { lat: 0.0, lon: 0.0, speed: 0.0, heading: 0.0, state: VehicleState::Moving }
    }
}

/// A position on its way to the store.
#[derive(Debug, Clone, PartialEq)]
pub struct PositionRow {
    /// The vehicle (shared, so the backfill does not copy it for every second).
    pub id: Arc<str>,
    pub ts: Millis,
    pub lat: f64,
    pub lon: f64,
    pub speed: f64,
    pub heading: f64,
    pub state: VehicleState,
}

impl PositionRow {
    /// `p` as stored, for vehicle `id` (its `p.id`, shared).
    pub fn new(id: Arc<str>, p: &Position) -> Self {
        PositionRow { id, ts: p.ts, lat: p.lat, lon: p.lon, speed: p.speed, heading: p.heading, state: p.state }
    }
}

impl From<&Position> for PositionRow {
    fn from(p: &Position) -> Self {
        PositionRow::new(p.id.as_str().into(), p)
    }
}

/// Why a history query was not answered.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The request asks for too much (the message says what would do).
    #[error("{0}")]
    TooLarge(String),
    /// The store failed.
    #[error("history store: {0}")]
    Store(#[from] rusqlite::Error),
}

/// The store: a handle on the writer thread and a few reading connections.
pub struct History {
    /// `None` only while dropping: the writer stops once it is gone.
    sender: Option<SyncSender<Write>>,
    writer: Option<std::thread::JoinHandle<()>>,
    readers: Readers,
    window_ms: i64,
    counters: Arc<Counters>,
    location: String,
    /// Whether the store holds what it will answer: set once the backfill is done, or found
    /// not needed ([`History::set_ready`]); until then the routes answer 503.
    ready: AtomicBool,
    /// Whether a fleet query is running ([`History::fleet_slot`]).
    fleet_busy: Arc<AtomicBool>,
}

/// The right to run the one fleet query at a time, given back when dropped.
pub struct FleetSlot(Arc<AtomicBool>);

impl Drop for FleetSlot {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl History {
    /// Opens (or creates) the store `settings` describe and starts its writer; `None` when
    /// history is off.
    pub fn open(settings: &HistorySettings) -> Result<Option<History>, String> {
        if settings.minutes == 0 {
            return Ok(None);
        }
        if settings.minutes > MAX_MINUTES {
            return Err(format!("--history-minutes is at most {MAX_MINUTES} (a day)"));
        }
        let readers = match &settings.data_dir {
            Some(dir) => Readers::file(dir)?,
            None => Readers::memory(),
        };
        let connection = readers.open_writer().map_err(|e| format!("cannot open {}: {e}", readers.location))?;
        store::create(&connection).map_err(|e| format!("cannot create the history tables: {e}"))?;
        let (sender, receiver) = mpsc::sync_channel(QUEUE);
        let counters = Arc::new(Counters::default());
        let window_ms = settings.minutes as i64 * 60_000;
        let writer = Writer { connection, receiver, window_ms, counters: counters.clone() };
        let writer = std::thread::Builder::new()
            .name("history-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| format!("cannot start the history writer: {e}"))?;
        let location = readers.location.clone();
        Ok(Some(History {
            sender: Some(sender),
            writer: Some(writer),
            readers,
            window_ms,
            counters,
            location,
            ready: AtomicBool::new(false),
            fleet_busy: Arc::new(AtomicBool::new(false)),
        }))
    }

    /// How far back the store keeps rows, in ms.
    pub fn window_ms(&self) -> i64 {
        self.window_ms
    }

    /// `in memory` or the file's path.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Says the store is filled: the backfill is done (or there was none to do), so a query
    /// gets the whole window rather than the part written so far.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    /// Whether [`History::set_ready`] was called: until then the routes answer 503.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// The slot of the one fleet query that may run at a time, if it is free. A fleet answer
    /// holds up to [`MAX_FLEET_CELLS`] cells, about 200 MB while it is made and serialized: two
    /// at once are twice that, and nothing else bounds how many a page (or a script) asks for.
    /// The route answers 503 with `Retry-After` while it is taken.
    pub fn fleet_slot(&self) -> Option<FleetSlot> {
        let taken = self.fleet_busy.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).is_err();
        (!taken).then(|| FleetSlot(self.fleet_busy.clone()))
    }

    /// The writer's counters (rows written, dropped, queued).
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Queues a write without waiting; counts its rows as dropped if the writer is behind.
    fn offer(&self, write: Write) {
        let rows = write.rows();
        let Some(sender) = &self.sender else { return };
        let queued = self.counters.queued.fetch_add(rows, Ordering::Relaxed);
        let refused = if queued + rows > MAX_QUEUED_ROWS {
            true
        } else {
            matches!(sender.try_send(write), Err(TrySendError::Full(_) | TrySendError::Disconnected(_)))
        };
        if refused {
            self.counters.queued.fetch_sub(rows, Ordering::Relaxed);
            self.counters.dropped.fetch_add(rows, Ordering::Relaxed);
        }
    }

    /// Queues a write, waiting for room (the backfill, which must not lose rows).
    fn send(&self, write: Write) {
        if let Some(sender) = &self.sender {
            self.counters.queued.fetch_add(write.rows(), Ordering::Relaxed);
            let _ = sender.send(write);
        }
    }

    /// Records positions as published.
    pub fn positions(&self, batch: &[Position]) {
        if !batch.is_empty() {
            self.offer(Write::Positions(batch.iter().map(PositionRow::from).collect()));
        }
    }

    /// Stores positions, waiting for room rather than dropping them (benchmarks, loads).
    pub fn store_positions(&self, rows: Vec<PositionRow>) {
        self.send(Write::Positions(rows));
    }

    /// Stores readings, waiting for room rather than dropping them (benchmarks, loads).
    pub fn store_readings(&self, readings: Vec<Reading>) {
        self.send(Write::Readings(readings));
    }

    /// Records readings as published (each value a sample of its metric).
    pub fn readings(&self, batch: &[Reading]) {
        if !batch.is_empty() {
            self.offer(Write::Readings(batch.to_vec()));
        }
    }

    /// Records alerts raised.
    pub fn raised(&self, alerts: &[Alert]) {
        if !alerts.is_empty() {
            self.offer(Write::Alerts(store::raised_events(alerts)));
        }
    }

    /// Records alerts cleared.
    pub fn cleared(&self, cleared: &[AlertCleared]) {
        if !cleared.is_empty() {
            self.offer(Write::Alerts(store::cleared_events(cleared)));
        }
    }

    /// Records acknowledgements.
    pub fn acknowledged(&self, acks: &[AlertAcknowledged]) {
        if !acks.is_empty() {
            self.offer(Write::Alerts(store::acknowledged_events(acks)));
        }
    }

    /// Records alerts re-alarmed (their acknowledgement ran out).
    pub fn re_alarmed(&self, again: &[AlertReAlarmed]) {
        if !again.is_empty() {
            self.offer(Write::Alerts(store::re_alarmed_events(again)));
        }
    }

    /// Records suppressions made (shelved, out of service).
    pub fn suppressed(&self, made: &[Suppression]) {
        if !made.is_empty() {
            self.offer(Write::Alerts(store::suppressed_events(made)));
        }
    }

    /// Records suppressions ended (ended, expired, replaced), with what each was.
    pub fn suppressions_ended(&self, ended: &[(Suppression, SuppressionEnded)]) {
        if !ended.is_empty() {
            self.offer(Write::Alerts(store::suppression_ended_events(ended)));
        }
    }

    /// Waits until everything queued before is written.
    pub fn flush(&self) {
        let (reply, done) = mpsc::channel();
        self.send(Write::Flush(reply));
        let _ = done.recv();
    }

    /// Drops rows older than the window, and every row if they belong to another `scenario`
    /// than this one; answers whether the store is empty then.
    pub fn prepare(&self, scenario: &str) -> Result<bool, String> {
        let (reply, answer) = mpsc::channel();
        self.send(Write::Prepare { scenario: scenario.to_string(), reply });
        match answer.recv() {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(_) => Err("the history writer stopped".into()),
        }
    }

    /// Rows stored: (positions, samples, alert events).
    pub fn counts(&self) -> Result<(u64, u64, u64), QueryError> {
        Ok(self.readers.with(store::counts)?)
    }

    /// `from..=to` clamped to the window kept (`now - window` to `now`), each defaulting to its
    /// end: every query's range. Nothing older than the window is kept, and a query must never
    /// walk the seconds before it (a `from` of 0 would be 1.7 billion of them). A range wholly
    /// before the window becomes the empty range at `to`; `from` later than `to` is left for
    /// the caller to refuse.
    pub fn range(&self, from: Option<Millis>, to: Option<Millis>, now: Millis) -> (Millis, Millis) {
        let start = now - self.window_ms;
        let to = to.map_or(now, |to| to.min(now));
        let from = match from {
            Some(from) if from > to => from,
            Some(from) => from.max(start).min(to),
            None => start.min(to),
        };
        (from, to)
    }

    /// A device's metrics (or one) from `from` to `to` in at most `points` buckets.
    pub fn series(
        &self,
        device: &str,
        metric: Option<&str>,
        from: Millis,
        to: Millis,
        points: u32,
    ) -> Result<SeriesHistory, QueryError> {
        let bucket_ms = bucket_ms(from, to, points);
        let series = self.readers.with(|c| {
            let mut answer = Vec::new();
            for (id, metric) in store::series_of(c, device, metric)? {
                let mut buckets = query::Buckets::new(&metric, from, bucket_ms, points);
                store::samples(c, id, from, to, |ts, value| buckets.push(ts, value))?;
                let history = buckets.finish();
                if !history.is_empty() {
                    answer.push(history);
                }
            }
            Ok(answer)
        })?;
        Ok(SeriesHistory { device: device.to_string(), from, to, bucket_ms, series })
    }

    /// A vehicle's fixes from `from` to `to`, at most `points`, evenly thinned.
    pub fn track(&self, vehicle: &str, from: Millis, to: Millis, points: u32) -> Result<TrackHistory, QueryError> {
        let fixes = self.readers.with(|c| match store::vehicle_id(c, vehicle)? {
            Some(id) => store::track(c, id, from, to),
            None => Ok(Vec::new()),
        })?;
        let mut track = TrackHistory { vehicle: vehicle.to_string(), ..TrackHistory::default() };
        for index in query::thin(fixes.len(), points as usize) {
            let (ts, fix) = fixes[index];
            track.ts.push(ts);
            track.lat.push(fix.lat);
            track.lon.push(fix.lon);
            track.speed.push(fix.speed);
            track.heading.push(fix.heading);
        }
        Ok(track)
    }

    /// The newest `limit` alert events from `from` to `to`, oldest first.
    pub fn alerts(&self, from: Millis, to: Millis, limit: u32) -> Result<AlertLog, QueryError> {
        Ok(AlertLog { events: self.readers.with(|c| store::alert_events(c, from, to, limit))? })
    }

    /// The newest `limit` alert events from `from` to `to` about `sites` (an alert's by its
    /// site, a suppression's by its device, among `devices`), oldest first.
    pub fn alerts_of_sites(
        &self,
        from: Millis,
        to: Millis,
        limit: u32,
        sites: &[String],
        devices: &[String],
    ) -> Result<AlertLog, QueryError> {
        let sites = serde_json::to_string(sites).unwrap_or_else(|_| "[]".into());
        let devices = serde_json::to_string(devices).unwrap_or_else(|_| "[]".into());
        let events = self.readers.with(|c| store::alert_events_of_sites(c, from, to, limit, &sites, &devices))?;
        Ok(AlertLog { events })
    }

    /// The timeline of alert `id` from `from` to `to`: its events and the suppression events of
    /// its point that overlap its life ([`query::timeline`]), the oldest `limit`.
    pub fn alert_timeline(&self, id: &str, from: Millis, to: Millis, limit: u32) -> Result<AlertLog, QueryError> {
        let events = self.readers.with(|c| {
            let own = store::events_of_alert(c, id, from, to)?;
            let point = match query::raised_alert(&own) {
                Some(alert) => store::suppression_events_of_device(c, &alert.device, from, to)?,
                None => Vec::new(),
            };
            Ok(query::timeline(own, point, to, limit as usize))
        })?;
        Ok(AlertLog { events })
    }

    /// Where the store has nothing from `from` to `to`: the gaps of two seconds or more between
    /// the first and the last second of the range that hold a position or a sample
    /// ([`telemetry::history::Coverage`]). One range of the `seconds` table, however large the
    /// fleet.
    pub fn coverage(&self, from: Millis, to: Millis) -> Result<Coverage, QueryError> {
        let mut stored = Vec::new();
        let (first, last) = (from.div_euclid(RESOLUTION_MS), to.div_euclid(RESOLUTION_MS));
        self.readers.with(|c| store::stored_seconds(c, first, last, |sec| stored.push(sec)))?;
        Ok(Coverage { from, to, gaps: query::gaps(stored) })
    }

    /// The fleet from `from` to `to` every `step_ms` (a whole number of seconds; `None`: the
    /// finest that fits [`MAX_FRAMES`] and [`MAX_FLEET_CELLS`]). Each frame holds every
    /// vehicle's last fix since the frame before (within [`LOOKBACK_MS`]), else the one it
    /// held then; the first frame looks [`LOOKBACK_MS`] back.
    pub fn fleet(&self, from: Millis, to: Millis, step_ms: Option<i64>) -> Result<FleetHistory, QueryError> {
        self.fleet_of(None, from, to, step_ms)
    }

    /// [`History::fleet`] of the vehicles named (`None`: the whole fleet): those the store
    /// knows, in the order named, each once; the caps and the default step count them only.
    /// A few of a large fleet are read by a point lookup per vehicle and second rather than
    /// every row of each second read ([`LOOKUP_SHARE`]).
    pub fn fleet_of(
        &self,
        names: Option<&[String]>,
        from: Millis,
        to: Millis,
        step_ms: Option<i64>,
    ) -> Result<FleetHistory, QueryError> {
        let (vehicles, lookups) = self.readers.with(|c| {
            let Some(names) = names else { return Ok((store::vehicles(c)?, false)) };
            let mut seen = std::collections::HashSet::new();
            let mut vehicles = Vec::new();
            for name in names {
                if seen.insert(name.as_str()) {
                    if let Some(id) = store::vehicle_id(c, name)? {
                        vehicles.push((id, name.clone()));
                    }
                }
            }
            let lookups = vehicles.len() * LOOKUP_SHARE <= store::vehicle_count(c)?;
            Ok((vehicles, lookups))
        })?;
        let span = (to - from).max(0);
        let finest = fleet_step(span, vehicles.len());
        let step_ms = match step_ms {
            Some(step) => {
                let step = whole_seconds(step);
                if step < finest {
                    return Err(QueryError::TooLarge(format!(
                        "{} frames of {} vehicles is more than {MAX_FRAMES} frames or {MAX_FLEET_CELLS} cells: \
                         ask for step={finest} or more, or a shorter range",
                        span / step + 1,
                        vehicles.len()
                    )));
                }
                step
            }
            None => finest,
        };
        let ids: Vec<i64> = vehicles.iter().map(|(id, _)| *id).collect();
        let mut frames = query::Frames::new(&ids);
        // Each frame takes every vehicle's newest fix since the frame before (the first frame:
        // within LOOKBACK_MS before it), reading seconds back from its time until it has them
        // all: a frame of a fleet at 1 Hz reads about two seconds of rows, however far apart.
        let window = step_ms.min(LOOKBACK_MS);
        self.readers.with(|c| {
            let mut pending = Vec::new();
            for k in 0..=span / step_ms {
                let t = from + k * step_ms;
                let after = t - if k == 0 { LOOKBACK_MS } else { window };
                for sec in (after.div_euclid(1000)..=t.div_euclid(1000)).rev() {
                    if lookups {
                        pending.clear();
                        pending.extend(frames.pending());
                        for &vehicle in &pending {
                            match store::fix_at(c, sec, vehicle)? {
                                Some((ts, fix)) if ts > after && ts <= t => frames.offer(vehicle, fix),
                                _ => {}
                            }
                        }
                    } else {
                        store::second(c, sec, |vehicle, ts, fix| {
                            if ts > after && ts <= t {
                                frames.offer(vehicle, fix);
                            }
                        })?;
                    }
                    if frames.complete() {
                        break;
                    }
                }
                frames.end_frame(t);
            }
            Ok(())
        })?;
        let (columns, frames) = frames.finish();
        let ids = columns.into_iter().map(|c| vehicles[c].1.clone()).collect();
        Ok(FleetHistory { from, step_ms, ids, frames })
    }
}

impl Drop for History {
    /// Lets the writer write what is queued, and waits for it.
    fn drop(&mut self) {
        self.sender = None;
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// Records the alerts (and clearings) another publisher sent through the service's REST API,
/// as the alert engine does (`service::rest`); a batch of something else is not history here.
pub fn record_published(state: &crate::AppState, target: &str, batch: Option<&serde_json::Value>) {
    use serde::Deserialize;
    let (Some(history), Some(batch)) = (&state.history, batch) else { return };
    if target == telemetry::targets::ALERTS {
        if let Ok(alerts) = Vec::<Alert>::deserialize(batch) {
            history.raised(&alerts);
        }
    } else if target == telemetry::targets::ALERT_CLEARED {
        if let Ok(cleared) = Vec::<AlertCleared>::deserialize(batch) {
            history.cleared(&cleared);
        }
    }
    // Suppressions published are recorded where they are adopted (`service::rest`): the end of
    // one needs what it was, which adopting it takes from the world.
}

/// How far back a fleet frame looks for each vehicle's fix when frames are further apart than
/// this: a vehicle silent for longer shows its fix of the frame before.
pub const LOOKBACK_MS: i64 = 10_000;

/// A fleet query of at most one vehicle in this many of the store's looks each of them up in
/// each second it reads (a point lookup); more read every row of each second, as the whole
/// fleet does. Measured (`examples/history.rs`, 10,000 vehicles): a lookup costs about as much
/// as reading 4.5 rows in order (1,250 vehicles looked up in 96 ms where the whole fleet's rows
/// took 169 ms, for the same 61 frames).
pub const LOOKUP_SHARE: usize = 4;

/// `step` rounded up to a whole number of seconds, at least one.
fn whole_seconds(step: i64) -> i64 {
    ((step.max(1) + RESOLUTION_MS - 1) / RESOLUTION_MS) * RESOLUTION_MS
}

/// The finest whole-second step that keeps a fleet answer over `span` ms of `vehicles` within
/// [`MAX_FRAMES`] frames and [`MAX_FLEET_CELLS`] cells.
pub fn fleet_step(span: i64, vehicles: usize) -> i64 {
    let frames = (MAX_FRAMES as i64).min((MAX_FLEET_CELLS / vehicles.max(1)) as i64).max(1);
    // span / step + 1 frames (rounded down) are at most `frames` once step > span / frames.
    whole_seconds((span.max(0) / frames + 1).max(RESOLUTION_MS))
}

/// The connections that read, and how to open them.
struct Readers {
    /// A path or a `file:` URI.
    target: String,
    memory: bool,
    location: String,
    idle: Mutex<Vec<Connection>>,
}

/// Readers kept open between queries.
const IDLE_READERS: usize = 4;

impl Readers {
    /// A fresh in-memory database, shared by name between this process's connections.
    fn memory() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let target = format!("file:simulator-history-{}-{n}?mode=memory&cache=shared", std::process::id());
        Readers { target, memory: true, location: "in memory".into(), idle: Mutex::new(Vec::new()) }
    }

    fn file(dir: &Path) -> Result<Self, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create --data-dir {}: {e}", dir.display()))?;
        let path = dir.join("history.sqlite3");
        let location = path.display().to_string();
        Ok(Readers { target: location.clone(), memory: false, location, idle: Mutex::new(Vec::new()) })
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(&self.target, flags)?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(connection)
    }

    fn open_writer(&self) -> rusqlite::Result<Connection> {
        let connection = self.open()?;
        if !self.memory {
            connection.pragma_update(None, "journal_mode", "WAL")?;
            connection.pragma_update(None, "synchronous", "NORMAL")?;
            connection.pragma_update(None, "cache_size", -16_384)?;
        }
        Ok(connection)
    }

    fn open_reader(&self) -> rusqlite::Result<Connection> {
        let connection = self.open()?;
        if self.memory {
            // Shared-cache readers would otherwise lock tables against the writer (and be
            // locked out by it); a chart may see a batch half written, never a blocked tick.
            connection.pragma_update(None, "read_uncommitted", true)?;
        } else {
            connection.pragma_update(None, "cache_size", -32_768)?;
        }
        Ok(connection)
    }

    /// Runs `read` on an idle reader, or a new one.
    fn with<T>(&self, read: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> rusqlite::Result<T> {
        let idle = self.idle.lock().expect("readers lock").pop();
        let connection = match idle {
            Some(connection) => connection,
            None => self.open_reader()?,
        };
        let result = read(&connection);
        let mut idle = self.idle.lock().expect("readers lock");
        if idle.len() < IDLE_READERS {
            idle.push(connection);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_fleet_step_fits_the_caps() {
        let hour = 3_600_000;
        assert_eq!(fleet_step(hour, 50), 1_000, "an hour of 50 vehicles, every second");
        let step = fleet_step(hour, 10_000);
        let frames = hour / step + 1;
        assert!(frames as usize * 10_000 <= MAX_FLEET_CELLS, "{step} ms: {frames} frames");
        assert_eq!(step, 19_000, "an hour of 10,000 vehicles: 190 frames, 1.9 million cells");
        assert_eq!(step % 1_000, 0);
        assert_eq!(fleet_step(0, 10), 1_000);
        assert_eq!(fleet_step(2 * hour + 50, 5), 2_000, "3,601 frames, the last one short of `to`");
        assert_eq!(whole_seconds(1), 1_000);
        assert_eq!(whole_seconds(1_001), 2_000);
    }
}

//! The SQLite side of the history: the schema, the writes, the retention and the reads, on a
//! connection the caller owns (the writer thread's, or one of the readers').
//!
//! Positions are the volume (10,000 vehicles at 1 Hz are 36 million rows an hour), so their
//! table is keyed `(sec, vehicle)`: each second's rows are appended at the end of the tree
//! (few pages dirty per commit, which keeps the write-ahead log small on disk), retention cuts
//! at its start, and a fleet frame is one range. A vehicle's track is one point lookup per
//! second, in one statement. The values are integers (microdegrees, tenths of km/h and of degrees, as precise as
//! the simulated devices report them), about 30 bytes a row instead of 60.
//!
//! `seconds` holds every second that has a position or a sample, written in the same
//! transaction as they are: the coverage of a range (where the store has a gap) is then one
//! short range of it, at most 3,600 rows an hour, rather than a lookup per second in positions
//! and per series and second in samples (keyed by series first, they have no index by second).
//! It is derived from the two tables, so a store it does not match (written before it existed,
//! or by an older simulator since) has it rebuilt at open ([`create`]).

use rusqlite::{params, Connection, OptionalExtension};
use telemetry::{
    Alert, AlertAcknowledged, AlertCleared, AlertReAlarmed, Millis, Reading, Suppression, SuppressionEndReason,
    SuppressionEnded, SuppressionKind, VehicleState,
};

use crate::history::{AlertChange, AlertEvent, Fix, PositionRow};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS vehicles (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS positions (
    sec INTEGER NOT NULL,
    vehicle INTEGER NOT NULL,
    ms INTEGER NOT NULL,
    lat INTEGER NOT NULL,
    lon INTEGER NOT NULL,
    speed INTEGER NOT NULL,
    heading INTEGER NOT NULL,
    state INTEGER NOT NULL,
    PRIMARY KEY (sec, vehicle)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    device TEXT NOT NULL,
    metric TEXT NOT NULL,
    UNIQUE (device, metric)
);
CREATE TABLE IF NOT EXISTS samples (
    series INTEGER NOT NULL,
    sec INTEGER NOT NULL,
    ms INTEGER NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (series, sec)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alert_events (
    seq INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    id TEXT NOT NULL,
    change INTEGER NOT NULL,
    alert TEXT,
    by TEXT,
    device TEXT,
    metric TEXT,
    suppression TEXT,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS alert_events_ts ON alert_events (ts, seq);
CREATE TABLE IF NOT EXISTS seconds (sec INTEGER PRIMARY KEY);
";

/// The columns `alert_events` gained with suppressions and timelines: the point an event is
/// about (`device`, `metric`: of the alert raised, or of the suppression), the suppression
/// (JSON) and why it ended (JSON). A store written before has them added at open, empty.
const ALERT_EVENT_COLUMNS: [&str; 4] = ["device", "metric", "suppression", "reason"];

/// The indexes over those columns: an alert's events by id (its timeline), the suppressions
/// of a device's points by device.
const ALERT_EVENT_INDEXES: &str = "
CREATE INDEX IF NOT EXISTS alert_events_id ON alert_events (id, seq);
CREATE INDEX IF NOT EXISTS alert_events_device ON alert_events (device, ts);
";

/// The key of the scenario the stored rows belong to, in `meta`.
const SCENARIO: &str = "scenario";

/// Adds to `alert_events` the [`ALERT_EVENT_COLUMNS`] it lacks (a store written by an older
/// simulator), then their indexes.
fn add_alert_event_columns(connection: &Connection) -> rusqlite::Result<()> {
    let present: Vec<String> = connection
        .prepare("SELECT name FROM pragma_table_info('alert_events')")?
        .query_map([], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    for column in ALERT_EVENT_COLUMNS {
        if !present.iter().any(|p| p == column) {
            connection.execute_batch(&format!("ALTER TABLE alert_events ADD COLUMN {column} TEXT"))?;
        }
    }
    connection.execute_batch(ALERT_EVENT_INDEXES)
}

/// Creates the tables a new store needs (an existing one keeps its rows, and gains the columns
/// it lacks), and rebuilds `seconds` if it does not match the rows stored (see
/// [`seconds_match`]).
pub(crate) fn create(connection: &Connection) -> rusqlite::Result<()> {
    connection.execute_batch(SCHEMA)?;
    add_alert_event_columns(connection)?;
    if !seconds_match(connection)? {
        let transaction = connection.unchecked_transaction()?;
        rebuild_seconds(connection)?;
        transaction.commit()?;
    }
    Ok(())
}

/// The first and last second that `seconds` holds, and that positions and samples hold.
type Ends = (Option<i64>, Option<i64>);

/// Whether `seconds` has the same first and last second as positions and samples together: a
/// store written before `seconds` existed has rows and none there; one written by an older
/// simulator since has later rows it lacks (written at the time) or earlier seconds it still
/// has (that one's retention left them). A few reads at the ends of each key.
fn seconds_match(connection: &Connection) -> rusqlite::Result<bool> {
    let ends = |sql: &str, params: &[&dyn rusqlite::ToSql]| -> rusqlite::Result<Ends> {
        connection.prepare_cached(sql)?.query_row(params, |row| Ok((row.get(0)?, row.get(1)?)))
    };
    // One aggregate per subquery: `SELECT min(x), max(x)` is a scan, each alone a seek.
    let recorded = ends("SELECT (SELECT min(sec) FROM seconds), (SELECT max(sec) FROM seconds)", &[])?;
    let mut stored = ends(POSITION_ENDS, &[])?;
    let series: Vec<i64> =
        connection.prepare_cached("SELECT id FROM series")?.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    for id in series {
        let (first, last) = ends(
            "SELECT (SELECT min(sec) FROM samples WHERE series = ?1), (SELECT max(sec) FROM samples WHERE series = ?1)",
            &[&id],
        )?;
        stored.0 = stored.0.into_iter().chain(first).min();
        stored.1 = stored.1.into_iter().chain(last).max();
    }
    Ok(recorded == stored)
}

/// The seconds positions hold, in order: one seek per second (the first one after the one
/// before), not a read of its rows (10,000 a second for 10,000 vehicles).
const POSITION_SECONDS: &str = "
    WITH RECURSIVE s(sec) AS (
        SELECT min(sec) FROM positions
        UNION ALL SELECT (SELECT min(p.sec) FROM positions p WHERE p.sec > s.sec) FROM s WHERE s.sec IS NOT NULL
    )
    SELECT sec FROM s WHERE sec IS NOT NULL";

/// Fills `seconds` afresh from positions ([`POSITION_SECONDS`]) and samples (all of them: a
/// small table).
fn rebuild_seconds(connection: &Connection) -> rusqlite::Result<()> {
    connection.execute_batch(&format!(
        "DELETE FROM seconds;
         INSERT INTO seconds (sec) {POSITION_SECONDS};
         INSERT OR IGNORE INTO seconds (sec) SELECT DISTINCT sec FROM samples;"
    ))
}

/// Records that second `sec` holds data, once per run of rows in the same second.
fn mark_second(connection: &Connection, last: &mut Option<i64>, sec: i64) -> rusqlite::Result<()> {
    if *last != Some(sec) {
        connection.prepare_cached("INSERT OR IGNORE INTO seconds (sec) VALUES (?1)")?.execute([sec])?;
        *last = Some(sec);
    }
    Ok(())
}

/// The second a time falls in, and its milliseconds within it.
fn split(ts: Millis) -> (i64, i64) {
    (ts.div_euclid(1000), ts.rem_euclid(1000))
}

fn state_code(state: VehicleState) -> i64 {
    match state {
        VehicleState::Moving => 0,
        VehicleState::Idle => 1,
        VehicleState::Stopped => 2,
    }
}

fn state_of(code: i64) -> VehicleState {
    match code {
        1 => VehicleState::Idle,
        2 => VehicleState::Stopped,
        _ => VehicleState::Moving,
    }
}

/// How each change is stored (its code, and so a stored event's change, never changes).
const CHANGE_CODES: [(AlertChange, i64); 9] = [
    (AlertChange::Raised, 0),
    (AlertChange::Acknowledged, 1),
    (AlertChange::Cleared, 2),
    (AlertChange::ReAlarmed, 3),
    (AlertChange::Shelved, 4),
    (AlertChange::Unshelved, 5),
    (AlertChange::OutOfService, 6),
    (AlertChange::ReturnedToService, 7),
    (AlertChange::Unknown, 255),
];

/// The codes of the suppression changes (`AlertChange::is_suppression`), for SQL.
const SUPPRESSION_CODES: &str = "4, 5, 6, 7";

fn change_code(change: AlertChange) -> i64 {
    CHANGE_CODES.iter().find(|(c, _)| *c == change).map_or(255, |(_, code)| *code)
}

fn change_of(code: i64) -> AlertChange {
    CHANGE_CODES.iter().find(|(_, c)| *c == code).map_or(AlertChange::Unknown, |(change, _)| *change)
}

/// The integer id of `name` in a dictionary table, added if new.
fn intern(connection: &Connection, insert: &str, select: &str, key: &[&dyn rusqlite::ToSql]) -> rusqlite::Result<i64> {
    if let Some(id) = connection.prepare_cached(select)?.query_row(key, |row| row.get(0)).optional()? {
        return Ok(id);
    }
    connection.prepare_cached(insert)?.execute(key)?;
    Ok(connection.last_insert_rowid())
}

/// The writer's view of the dictionaries: names to integer ids, cached.
#[derive(Default)]
pub(crate) struct Ids {
    vehicles: std::collections::HashMap<String, i64>,
    series: std::collections::HashMap<(String, String), i64>,
}

impl Ids {
    fn vehicle(&mut self, connection: &Connection, name: &str) -> rusqlite::Result<i64> {
        if let Some(&id) = self.vehicles.get(name) {
            return Ok(id);
        }
        let id = intern(
            connection,
            "INSERT INTO vehicles (name) VALUES (?1)",
            "SELECT id FROM vehicles WHERE name = ?1",
            &[&name],
        )?;
        self.vehicles.insert(name.to_string(), id);
        Ok(id)
    }

    fn series(&mut self, connection: &Connection, device: &str, metric: &str) -> rusqlite::Result<i64> {
        if let Some(&id) = self.series.get(&(device.to_string(), metric.to_string())) {
            return Ok(id);
        }
        let id = intern(
            connection,
            "INSERT INTO series (device, metric) VALUES (?1, ?2)",
            "SELECT id FROM series WHERE device = ?1 AND metric = ?2",
            &[&device, &metric],
        )?;
        self.series.insert((device.to_string(), metric.to_string()), id);
        Ok(id)
    }

    /// Forgets every id (after the tables were emptied).
    pub(crate) fn clear(&mut self) {
        self.vehicles.clear();
        self.series.clear();
    }
}

/// Writes positions: the last one of each vehicle in a second replaces the earlier ones.
pub(crate) fn insert_positions(connection: &Connection, ids: &mut Ids, rows: &[PositionRow]) -> rusqlite::Result<()> {
    let mut insert = connection.prepare_cached(
        "INSERT OR REPLACE INTO positions (sec, vehicle, ms, lat, lon, speed, heading, state)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let mut marked = None;
    for row in rows {
        let vehicle = ids.vehicle(connection, &row.id)?;
        let (sec, ms) = split(row.ts);
        mark_second(connection, &mut marked, sec)?;
        insert.execute(params![
            sec,
            vehicle,
            ms,
            (row.lat * 1e6).round() as i64,
            (row.lon * 1e6).round() as i64,
            (row.speed * 10.0).round() as i64,
            (row.heading * 10.0).round() as i64,
            state_code(row.state),
        ])?;
    }
    Ok(())
}

/// Writes every value of each reading as a sample of its (device, metric) series.
pub(crate) fn insert_readings(connection: &Connection, ids: &mut Ids, readings: &[Reading]) -> rusqlite::Result<usize> {
    let mut insert =
        connection.prepare_cached("INSERT OR REPLACE INTO samples (series, sec, ms, value) VALUES (?1, ?2, ?3, ?4)")?;
    let mut count = 0;
    let mut marked = None;
    for reading in readings {
        let (sec, ms) = split(reading.ts);
        for (metric, value) in &reading.values {
            if !value.is_finite() {
                continue;
            }
            mark_second(connection, &mut marked, sec)?;
            let series = ids.series(connection, &reading.device, metric)?;
            insert.execute(params![series, sec, ms, value])?;
            count += 1;
        }
    }
    Ok(count)
}

/// Appends alert events, each with the point it is about (the alert's or the suppression's
/// device and metric) for the timelines.
pub(crate) fn insert_alert_events(connection: &Connection, events: &[AlertEvent]) -> rusqlite::Result<()> {
    let mut insert = connection.prepare_cached(
        "INSERT INTO alert_events (ts, id, change, alert, by, device, metric, suppression, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    fn json<T: serde::Serialize>(value: &T) -> String {
        serde_json::to_string(value).unwrap_or_default()
    }
    for event in events {
        let alert = event.alert.as_ref().map(json);
        let suppression = event.suppression.as_ref().map(json);
        let reason = event.reason.as_ref().map(json);
        let (device, metric) = match (&event.alert, &event.suppression) {
            (Some(alert), _) => (Some(alert.device.as_str()), Some(alert.metric.as_str())),
            (None, Some(s)) => (Some(s.device.as_str()), s.metric.as_deref()),
            (None, None) => (None, None),
        };
        insert.execute(params![
            event.ts,
            event.id,
            change_code(event.change),
            alert,
            event.by,
            device,
            metric,
            suppression,
            reason
        ])?;
    }
    Ok(())
}

/// Drops everything older than `cutoff` (Unix ms).
pub(crate) fn retain(connection: &Connection, cutoff: Millis) -> rusqlite::Result<usize> {
    let (sec, _) = split(cutoff);
    let mut removed = connection.prepare_cached("DELETE FROM positions WHERE sec < ?1")?.execute([sec])?;
    // Samples are keyed by series first: one short range per series rather than a scan.
    let series: Vec<i64> =
        connection.prepare_cached("SELECT id FROM series")?.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    let mut samples = connection.prepare_cached("DELETE FROM samples WHERE series = ?1 AND sec < ?2")?;
    for id in series {
        removed += samples.execute([id, sec])?;
    }
    removed += connection.prepare_cached("DELETE FROM alert_events WHERE ts < ?1")?.execute([cutoff])?;
    connection.prepare_cached("DELETE FROM seconds WHERE sec < ?1")?.execute([sec])?;
    Ok(removed)
}

/// Whether no position and no reading is stored.
pub(crate) fn is_empty(connection: &Connection) -> rusqlite::Result<bool> {
    connection.query_row(
        "SELECT NOT EXISTS (SELECT 1 FROM positions) AND NOT EXISTS (SELECT 1 FROM samples)",
        [],
        |row| row.get(0),
    )
}

/// The scenario the rows belong to, if one was recorded.
pub(crate) fn scenario(connection: &Connection) -> rusqlite::Result<Option<String>> {
    connection.query_row("SELECT value FROM meta WHERE key = ?1", [SCENARIO], |row| row.get(0)).optional()
}

/// Empties the store and records that its rows will belong to `scenario`.
pub(crate) fn reset(connection: &Connection, scenario: &str) -> rusqlite::Result<()> {
    connection.execute_batch(
        "DELETE FROM positions; DELETE FROM samples; DELETE FROM alert_events; DELETE FROM vehicles; DELETE FROM series;
         DELETE FROM seconds;",
    )?;
    connection.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)", [SCENARIO, scenario])?;
    Ok(())
}

/// Rows stored: (positions, samples, alert events).
pub(crate) fn counts(connection: &Connection) -> rusqlite::Result<(u64, u64, u64)> {
    connection.query_row(
        "SELECT (SELECT count(*) FROM positions), (SELECT count(*) FROM samples), (SELECT count(*) FROM alert_events)",
        [],
        |row| Ok((row.get::<_, i64>(0)? as u64, row.get::<_, i64>(1)? as u64, row.get::<_, i64>(2)? as u64)),
    )
}

/// The metrics recorded for `device` (one if `metric` names it), with their series ids.
pub(crate) fn series_of(
    connection: &Connection,
    device: &str,
    metric: Option<&str>,
) -> rusqlite::Result<Vec<(i64, String)>> {
    let mut select = connection.prepare_cached(
        "SELECT id, metric FROM series WHERE device = ?1 AND (?2 IS NULL OR metric = ?2) ORDER BY metric",
    )?;
    let rows = select.query_map(params![device, metric], |row| Ok((row.get(0)?, row.get(1)?)))?;
    rows.collect()
}

/// Calls `each(ts, value)` for the samples of a series from `from` to `to`, in time order.
pub(crate) fn samples(
    connection: &Connection,
    series: i64,
    from: Millis,
    to: Millis,
    mut each: impl FnMut(Millis, f64),
) -> rusqlite::Result<()> {
    let mut select = connection.prepare_cached(
        "SELECT sec, ms, value FROM samples WHERE series = ?1 AND sec BETWEEN ?2 AND ?3 ORDER BY sec",
    )?;
    let mut rows = select.query(params![series, split(from).0, split(to).0])?;
    while let Some(row) = rows.next()? {
        let ts = row.get::<_, i64>(0)? * 1000 + row.get::<_, i64>(1)?;
        if (from..=to).contains(&ts) {
            each(ts, row.get(2)?);
        }
    }
    Ok(())
}

fn fix(row: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<Fix> {
    Ok(Fix {
        lat: row.get::<_, i64>(first)? as f64 / 1e6,
        lon: row.get::<_, i64>(first + 1)? as f64 / 1e6,
        speed: row.get::<_, i64>(first + 2)? as f64 / 10.0,
        heading: row.get::<_, i64>(first + 3)? as f64 / 10.0,
        state: state_of(row.get(first + 4)?),
    })
}

/// The integer id of a vehicle, if it ever reported.
pub(crate) fn vehicle_id(connection: &Connection, name: &str) -> rusqlite::Result<Option<i64>> {
    connection.prepare_cached("SELECT id FROM vehicles WHERE name = ?1")?.query_row([name], |r| r.get(0)).optional()
}

/// How many vehicles ever reported.
pub(crate) fn vehicle_count(connection: &Connection) -> rusqlite::Result<usize> {
    connection
        .prepare_cached("SELECT count(*) FROM vehicles")?
        .query_row([], |r| r.get::<_, i64>(0))
        .map(|n| n as usize)
}

/// Every vehicle that ever reported: (integer id, name), by id.
pub(crate) fn vehicles(connection: &Connection) -> rusqlite::Result<Vec<(i64, String)>> {
    let mut select = connection.prepare_cached("SELECT id, name FROM vehicles ORDER BY id")?;
    let rows = select.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    rows.collect()
}

/// The first and last second positions hold: a seek at each end of the key. Each aggregate in a
/// subquery of its own: SQLite answers `min` or `max` alone from the index, but
/// `SELECT min(sec), max(sec)` by reading every row (1.8 s for 36 million).
const POSITION_ENDS: &str = "SELECT (SELECT min(sec) FROM positions), (SELECT max(sec) FROM positions)";

/// A vehicle's fixes from `from` to `to`, in time order: one statement, a point lookup per
/// second inside SQLite (`CROSS JOIN` keeps the seconds the outer loop; the table is keyed by second first, for the writes and the fleet
/// frames; an index by vehicle would cost every write). The seconds walked are bounded by
/// what is stored (its first and last second, two reads at the ends of the key), however wide
/// the range asked.
pub(crate) fn track(
    connection: &Connection,
    vehicle: i64,
    from: Millis,
    to: Millis,
) -> rusqlite::Result<Vec<(Millis, Fix)>> {
    let stored: (Option<i64>, Option<i64>) =
        connection.prepare_cached(POSITION_ENDS)?.query_row([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    let (Some(first), Some(last)) = stored else { return Ok(Vec::new()) };
    let (start, end) = (split(from).0.max(first), split(to).0.min(last));
    if start > end {
        return Ok(Vec::new());
    }
    let mut select = connection.prepare_cached(
        "WITH RECURSIVE s(sec) AS (SELECT ?1 UNION ALL SELECT sec + 1 FROM s WHERE sec < ?2)
         SELECT p.sec, p.ms, p.lat, p.lon, p.speed, p.heading, p.state
         FROM s CROSS JOIN positions p ON p.sec = s.sec AND p.vehicle = ?3 ORDER BY p.sec",
    )?;
    let mut rows = select.query(params![start, end, vehicle])?;
    let mut fixes = Vec::new();
    while let Some(row) = rows.next()? {
        let ts = row.get::<_, i64>(0)? * 1000 + row.get::<_, i64>(1)?;
        if (from..=to).contains(&ts) {
            fixes.push((ts, fix(row, 2)?));
        }
    }
    Ok(fixes)
}

/// Calls `each(vehicle, ts, fix)` for every position in second `sec`.
pub(crate) fn second(
    connection: &Connection,
    sec: i64,
    mut each: impl FnMut(i64, Millis, Fix),
) -> rusqlite::Result<()> {
    let mut select = connection
        .prepare_cached("SELECT vehicle, ms, lat, lon, speed, heading, state FROM positions WHERE sec = ?1")?;
    let mut rows = select.query([sec])?;
    while let Some(row) = rows.next()? {
        each(row.get(0)?, sec * 1000 + row.get::<_, i64>(1)?, fix(row, 2)?);
    }
    Ok(())
}

/// A vehicle's fix in second `sec`, if it has one: a point lookup.
pub(crate) fn fix_at(connection: &Connection, sec: i64, vehicle: i64) -> rusqlite::Result<Option<(Millis, Fix)>> {
    let mut select = connection
        .prepare_cached("SELECT ms, lat, lon, speed, heading, state FROM positions WHERE sec = ?1 AND vehicle = ?2")?;
    select.query_row([sec, vehicle], |row| Ok((sec * 1000 + row.get::<_, i64>(0)?, fix(row, 1)?))).optional()
}

/// Calls `each(sec)` for every second from `first` to `last` (Unix seconds, inclusive) that
/// holds a position or a sample, in order.
pub(crate) fn stored_seconds(
    connection: &Connection,
    first: i64,
    last: i64,
    mut each: impl FnMut(i64),
) -> rusqlite::Result<()> {
    let mut select = connection.prepare_cached("SELECT sec FROM seconds WHERE sec BETWEEN ?1 AND ?2 ORDER BY sec")?;
    let mut rows = select.query([first, last])?;
    while let Some(row) = rows.next()? {
        each(row.get(0)?);
    }
    Ok(())
}

/// The columns an [`AlertEvent`] is read from, [`event_of`]'s order, then `seq`.
const EVENT_COLUMNS: &str = "ts, id, change, alert, by, suppression, reason, seq";

/// An event from a row of [`EVENT_COLUMNS`], with its `seq`.
fn event_of(row: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, AlertEvent)> {
    fn parsed<T: serde::de::DeserializeOwned>(text: Option<String>) -> Option<T> {
        text.and_then(|text| serde_json::from_str(&text).ok())
    }
    let event = AlertEvent {
        ts: row.get(0)?,
        id: row.get(1)?,
        change: change_of(row.get(2)?),
        alert: parsed::<Alert>(row.get(3)?),
        by: row.get(4)?,
        suppression: parsed::<Suppression>(row.get(5)?),
        reason: parsed::<SuppressionEndReason>(row.get(6)?),
    };
    Ok((row.get(7)?, event))
}

/// The newest `limit` alert events from `from` to `to`, oldest first.
pub(crate) fn alert_events(
    connection: &Connection,
    from: Millis,
    to: Millis,
    limit: u32,
) -> rusqlite::Result<Vec<AlertEvent>> {
    let mut select = connection.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS} FROM alert_events WHERE ts BETWEEN ?1 AND ?2 ORDER BY ts DESC, seq DESC LIMIT ?3"
    ))?;
    let rows = select.query_map(params![from, to, limit], |row| event_of(row).map(|(_, event)| event))?;
    let mut events = rows.collect::<Result<Vec<_>, _>>()?;
    events.reverse();
    Ok(events)
}

/// The newest `limit` alert events from `from` to `to` about the sites of the JSON array
/// `sites`, oldest first: an alert's events by the site of its raised event (one raised before
/// the store's window has none left, and goes), a suppression's by its device, among the JSON
/// array `devices`.
pub(crate) fn alert_events_of_sites(
    connection: &Connection,
    from: Millis,
    to: Millis,
    limit: u32,
    sites: &str,
    devices: &str,
) -> rusqlite::Result<Vec<AlertEvent>> {
    let mut select = connection.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS} FROM alert_events AS e WHERE ts BETWEEN ?1 AND ?2 AND CASE
             WHEN change IN ({SUPPRESSION_CODES}) THEN device IN (SELECT value FROM json_each(?5))
             ELSE (SELECT json_extract(r.alert, '$.site') FROM alert_events AS r INDEXED BY alert_events_id
                   WHERE r.id = e.id AND r.change = 0 LIMIT 1) IN (SELECT value FROM json_each(?4))
         END
         ORDER BY ts DESC, seq DESC LIMIT ?3"
    ))?;
    let rows =
        select.query_map(params![from, to, limit, sites, devices], |row| event_of(row).map(|(_, event)| event))?;
    let mut events = rows.collect::<Result<Vec<_>, _>>()?;
    events.reverse();
    Ok(events)
}

/// Every event of alert `id` from `from` to `to`, with its `seq`, in the order written (by the
/// id index: however long the log, only this alert's rows are read). At most
/// [`telemetry::history::MAX_ALERT_LIMIT`]: an alert has a handful.
pub(crate) fn events_of_alert(
    connection: &Connection,
    id: &str,
    from: Millis,
    to: Millis,
) -> rusqlite::Result<Vec<(i64, AlertEvent)>> {
    let mut select = connection.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS} FROM alert_events INDEXED BY alert_events_id
         WHERE id = ?1 AND ts BETWEEN ?2 AND ?3 ORDER BY seq LIMIT ?4"
    ))?;
    let limit = telemetry::history::MAX_ALERT_LIMIT;
    let rows = select.query_map(params![id, from, to, limit], event_of)?;
    rows.collect()
}

/// The suppression events (made, ended) of `device`'s points from `from` to `to`, with their
/// `seq`, in the order written: by the device index, a device's rows only.
pub(crate) fn suppression_events_of_device(
    connection: &Connection,
    device: &str,
    from: Millis,
    to: Millis,
) -> rusqlite::Result<Vec<(i64, AlertEvent)>> {
    let mut select = connection.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS} FROM alert_events INDEXED BY alert_events_device
         WHERE device = ?1 AND ts BETWEEN ?2 AND ?3 AND change IN ({SUPPRESSION_CODES}) ORDER BY seq LIMIT ?4"
    ))?;
    let limit = telemetry::history::MAX_ALERT_LIMIT;
    let rows = select.query_map(params![device, from, to, limit], event_of)?;
    rows.collect()
}

/// An event of `change` to `id` at `ts`, with nothing else.
fn event(ts: Millis, id: &str, change: AlertChange) -> AlertEvent {
    AlertEvent { ts, id: id.to_string(), change, alert: None, by: None, suppression: None, reason: None }
}

/// The log's events for alerts raised.
pub(crate) fn raised_events(alerts: &[Alert]) -> Vec<AlertEvent> {
    alerts.iter().map(|a| AlertEvent { alert: Some(a.clone()), ..event(a.ts, &a.id, AlertChange::Raised) }).collect()
}

/// The log's events for alerts cleared.
pub(crate) fn cleared_events(cleared: &[AlertCleared]) -> Vec<AlertEvent> {
    cleared.iter().map(|c| event(c.ts, &c.id, AlertChange::Cleared)).collect()
}

/// The log's events for acknowledgements.
pub(crate) fn acknowledged_events(acks: &[AlertAcknowledged]) -> Vec<AlertEvent> {
    acks.iter()
        .map(|a| AlertEvent { by: Some(a.by.clone()), ..event(a.ts, &a.id, AlertChange::Acknowledged) })
        .collect()
}

/// The log's events for alerts re-alarmed.
pub(crate) fn re_alarmed_events(again: &[AlertReAlarmed]) -> Vec<AlertEvent> {
    again.iter().map(|a| event(a.ts, &a.id, AlertChange::ReAlarmed)).collect()
}

/// The log's events for suppressions made: at their `ts`, by who made them.
pub(crate) fn suppressed_events(made: &[Suppression]) -> Vec<AlertEvent> {
    made.iter()
        .map(|s| {
            let change = match s.kind {
                SuppressionKind::Shelved => AlertChange::Shelved,
                SuppressionKind::OutOfService => AlertChange::OutOfService,
            };
            AlertEvent { by: Some(s.by.clone()), suppression: Some(s.clone()), ..event(s.ts, &s.id, change) }
        })
        .collect()
}

/// The log's events for suppressions ended: at the end's `ts`, by who ended them (none when
/// they expired), with why.
pub(crate) fn suppression_ended_events(ended: &[(Suppression, SuppressionEnded)]) -> Vec<AlertEvent> {
    ended
        .iter()
        .map(|(s, end)| {
            let change = match s.kind {
                SuppressionKind::Shelved => AlertChange::Unshelved,
                SuppressionKind::OutOfService => AlertChange::ReturnedToService,
            };
            AlertEvent {
                by: (!end.by.is_empty()).then(|| end.by.clone()),
                suppression: Some(s.clone()),
                reason: Some(end.reason),
                ..event(end.ts, &s.id, change)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (Connection, Ids) {
        let connection = Connection::open_in_memory().unwrap();
        create(&connection).unwrap();
        (connection, Ids::default())
    }

    fn row(id: &str, ts: Millis, lat: f64) -> PositionRow {
        PositionRow { id: id.into(), ts, lat, lon: 8.541_712, speed: 42.3, heading: 359.9, state: VehicleState::Idle }
    }

    #[test]
    fn positions_keep_the_last_fix_of_each_second_exactly_as_reported() {
        let (connection, mut ids) = store();
        insert_positions(&connection, &mut ids, &[row("a", 1_000, 47.1), row("a", 1_900, 47.376_912)]).unwrap();
        insert_positions(&connection, &mut ids, &[row("a", 2_100, 47.2), row("b", 2_200, 47.3)]).unwrap();
        let a = vehicle_id(&connection, "a").unwrap().unwrap();
        let track = track(&connection, a, 0, 10_000).unwrap();
        assert_eq!(track.iter().map(|(ts, _)| *ts).collect::<Vec<_>>(), [1_900, 2_100]);
        let fix = track[0].1;
        assert_eq!((fix.lat, fix.lon, fix.speed, fix.heading), (47.376_912, 8.541_712, 42.3, 359.9));
        assert_eq!(fix.state, VehicleState::Idle);
        assert_eq!(vehicles(&connection).unwrap().len(), 2);
        assert_eq!(counts(&connection).unwrap(), (3, 0, 0));
        // However wide the range, only the stored seconds are walked.
        let whole = super::track(&connection, a, 0, i64::MAX / 2).unwrap();
        assert_eq!(whole, track);
        assert!(super::track(&connection, a, 3_000, 9_000).unwrap().is_empty());
        assert!(super::track(&connection, a, 1_950, 2_050).unwrap().is_empty(), "within the range only");
    }

    fn seconds_of(connection: &Connection) -> Vec<i64> {
        let mut seconds = Vec::new();
        stored_seconds(connection, i64::MIN / 2, i64::MAX / 2, |sec| seconds.push(sec)).unwrap();
        seconds
    }

    fn reading(ts: Millis) -> Reading {
        Reading {
            device: "press-01".into(),
            kind: "process".into(),
            ts,
            site: "s".into(),
            status: telemetry::DeviceStatus::Running,
            values: [("temperature".to_string(), 70.0), ("pressure".to_string(), 1.0)].into(),
        }
    }

    #[test]
    fn seconds_follow_the_positions_and_samples_and_are_rebuilt_when_they_do_not_match() {
        let (connection, mut ids) = store();
        let rows = [row("a", 1_000, 1.0), row("b", 1_500, 1.0), row("a", 2_000, 1.0), row("a", 3_000, 1.0)];
        insert_positions(&connection, &mut ids, &rows).unwrap();
        insert_readings(&connection, &mut ids, &[reading(3_100), reading(5_000), reading(6_000)]).unwrap();
        assert_eq!(seconds_of(&connection), [1, 2, 3, 5, 6], "a position or a sample, each second once");
        let mut within = Vec::new();
        stored_seconds(&connection, 2, 5, |sec| within.push(sec)).unwrap();
        assert_eq!(within, [2, 3, 5]);
        assert!(seconds_match(&connection).unwrap());

        retain(&connection, 3_000).unwrap();
        assert_eq!(seconds_of(&connection), [3, 5, 6], "retention cuts them with the rows");
        assert!(seconds_match(&connection).unwrap());

        // A store written before `seconds` existed: none of them; one an older simulator wrote
        // to since: the last ones missing, or the first ones left after its retention.
        for stale in ["DELETE FROM seconds", "DELETE FROM seconds WHERE sec = 6", "INSERT INTO seconds VALUES (1)"] {
            connection.execute_batch(stale).unwrap();
            assert!(!seconds_match(&connection).unwrap(), "{stale}");
            create(&connection).unwrap();
            assert_eq!(seconds_of(&connection), [3, 5, 6], "rebuilt after {stale}");
        }
        // Samples alone count too.
        connection.execute_batch("DELETE FROM positions; DELETE FROM seconds").unwrap();
        create(&connection).unwrap();
        assert_eq!(seconds_of(&connection), [3, 5, 6]);

        reset(&connection, "seed 2").unwrap();
        assert!(seconds_of(&connection).is_empty());
        assert!(seconds_match(&connection).unwrap(), "an empty store matches");
    }

    #[test]
    fn the_ends_and_the_seconds_of_positions_are_seeks_rather_than_reads_of_every_row() {
        let (connection, mut ids) = store();
        let rows: Vec<PositionRow> = (0..50)
            .flat_map(|sec| {
                (0..200).map(move |v| row(&format!("v{v}"), sec * 1_000 + i64::from(sec > 25) * 40_000, 1.0))
            })
            .collect();
        insert_positions(&connection, &mut ids, &rows).unwrap();
        let expected = seconds_of(&connection);
        assert_eq!(expected.len(), 50);
        connection.execute_batch("DELETE FROM seconds").unwrap();
        let before = connection.query_row("SELECT count(*) FROM seconds", [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(before, 0);
        let plan = |sql: &str| -> Vec<String> {
            let mut explain = connection.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            explain.query_map([], |r| r.get(3)).unwrap().collect::<Result<_, _>>().unwrap()
        };
        let ends = plan(POSITION_ENDS);
        assert!(ends.iter().all(|step| !step.starts_with("SCAN positions")), "the ends are two seeks: {ends:?}");
        let steps = plan(POSITION_SECONDS);
        assert!(steps.iter().all(|step| !step.starts_with("SCAN p")), "no scan of positions: {steps:?}");
        assert!(steps.iter().any(|step| step.contains("USING PRIMARY KEY (sec>?)")), "{steps:?}");
        rebuild_seconds(&connection).unwrap();
        assert_eq!(seconds_of(&connection), expected);
    }

    #[test]
    fn a_fix_is_looked_up_by_second_and_vehicle() {
        let (connection, mut ids) = store();
        insert_positions(&connection, &mut ids, &[row("a", 1_250, 47.5), row("b", 1_300, 46.0)]).unwrap();
        let a = vehicle_id(&connection, "a").unwrap().unwrap();
        let (ts, fix) = fix_at(&connection, 1, a).unwrap().unwrap();
        assert_eq!((ts, fix.lat), (1_250, 47.5));
        assert_eq!(fix_at(&connection, 2, a).unwrap(), None);
        assert_eq!(vehicle_count(&connection).unwrap(), 2);
    }

    #[test]
    fn retention_drops_rows_before_the_cutoff_and_reset_empties_the_store() {
        let (connection, mut ids) = store();
        insert_positions(&connection, &mut ids, &[row("a", 1_000, 1.0), row("a", 5_000, 1.0)]).unwrap();
        let reading = Reading {
            device: "press-01".into(),
            kind: "process".into(),
            ts: 1_500,
            site: "s".into(),
            status: telemetry::DeviceStatus::Running,
            values: [("temperature".to_string(), 70.0), ("pressure".to_string(), f64::NAN)].into(),
        };
        assert_eq!(insert_readings(&connection, &mut ids, &[reading]).unwrap(), 1, "NaN is not stored");
        insert_alert_events(&connection, &cleared_events(&[AlertCleared { id: "x".into(), ts: 10 }])).unwrap();
        assert!(!is_empty(&connection).unwrap());
        assert_eq!(retain(&connection, 2_000).unwrap(), 3);
        assert_eq!(counts(&connection).unwrap(), (1, 0, 0));
        assert_eq!(scenario(&connection).unwrap(), None);
        reset(&connection, "seed 1").unwrap();
        ids.clear();
        assert!(is_empty(&connection).unwrap());
        assert_eq!(scenario(&connection).unwrap().as_deref(), Some("seed 1"));
    }

    #[test]
    fn a_store_written_before_suppressions_gains_their_columns_and_keeps_its_events() {
        let connection = Connection::open_in_memory().unwrap();
        connection
            .execute_batch(
                "CREATE TABLE alert_events (seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, id TEXT NOT NULL,
                 change INTEGER NOT NULL, alert TEXT, by TEXT);
                 INSERT INTO alert_events (ts, id, change, by) VALUES (5, 'old', 1, 'ann');",
            )
            .unwrap();
        create(&connection).unwrap();
        create(&connection).unwrap();
        let events = alert_events(&connection, 0, 10, 10).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!((events[0].change, events[0].by.as_deref()), (AlertChange::Acknowledged, Some("ann")));
        assert_eq!(events[0].suppression, None);
    }

    #[test]
    fn suppression_and_re_alarm_events_are_stored_with_their_point_and_read_back() {
        let (connection, _) = store();
        let shelf = Suppression {
            id: "sup-1".into(),
            kind: SuppressionKind::Shelved,
            device: "press-01".into(),
            metric: Some("temperature".into()),
            by: "ann".into(),
            reason: "chattering".into(),
            ts: 100,
            until: 1_000,
        };
        let expired = SuppressionEnded {
            id: "sup-1".into(),
            by: String::new(),
            ts: 1_000,
            reason: SuppressionEndReason::Expired,
        };
        let alert = Alert {
            id: "a1".into(),
            ts: 200,
            device: "press-01".into(),
            site: "harbour".into(),
            severity: telemetry::Severity::Warning,
            metric: "temperature".into(),
            value: 91.0,
            threshold: 90.0,
            message: "hot".into(),
        };
        let mut events = raised_events(&[alert]);
        events.extend(suppressed_events(std::slice::from_ref(&shelf)));
        events.extend(re_alarmed_events(&[AlertReAlarmed { id: "a1".into(), ts: 500 }]));
        events.extend(suppression_ended_events(&[(shelf.clone(), expired)]));
        insert_alert_events(&connection, &events).unwrap();
        let log = alert_events(&connection, 0, 2_000, 100).unwrap();
        let changes: Vec<AlertChange> = log.iter().map(|e| e.change).collect();
        assert_eq!(
            changes,
            [AlertChange::Shelved, AlertChange::Raised, AlertChange::ReAlarmed, AlertChange::Unshelved]
        );
        assert_eq!(log[0].suppression.as_ref(), Some(&shelf));
        assert_eq!(log[0].by.as_deref(), Some("ann"));
        assert_eq!(
            (log[3].by.as_deref(), log[3].reason),
            (None, Some(SuppressionEndReason::Expired)),
            "expired: by nobody"
        );
        assert_eq!(events_of_alert(&connection, "a1", 0, 2_000).unwrap().len(), 2);
        let point = suppression_events_of_device(&connection, "press-01", 0, 2_000).unwrap();
        assert_eq!(
            point.iter().map(|(_, e)| e.change).collect::<Vec<_>>(),
            [AlertChange::Shelved, AlertChange::Unshelved]
        );
        assert!(suppression_events_of_device(&connection, "press-02", 0, 2_000).unwrap().is_empty());
        assert_eq!(change_of(99), AlertChange::Unknown);
        let suppression_codes: Vec<String> =
            CHANGE_CODES.iter().filter(|(c, _)| c.is_suppression()).map(|(_, code)| code.to_string()).collect();
        assert_eq!(suppression_codes.join(", "), SUPPRESSION_CODES);
        assert!(CHANGE_CODES.iter().all(|(change, code)| change_of(*code) == *change));
    }
}

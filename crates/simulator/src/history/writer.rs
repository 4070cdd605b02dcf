//! The writer thread: the one connection that writes, fed through a bounded channel so the
//! publishing tick never waits on the disk. It takes whatever is queued, writes it in one
//! transaction, and every few seconds drops what is older than the window and says whether
//! writes were dropped because it fell behind.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use telemetry::Reading;

use crate::history::store::{self, Ids};
use crate::history::{AlertEvent, PositionRow};

/// What the writer is asked to do.
pub(crate) enum Write {
    Positions(Vec<PositionRow>),
    Readings(Vec<Reading>),
    Alerts(Vec<AlertEvent>),
    /// Answer once everything sent before is committed.
    Flush(Sender<()>),
    /// Drop what is older than the window; if the rows belong to another scenario than this
    /// one, empty the store first. Answers whether the store is empty then.
    Prepare {
        scenario: String,
        reply: Sender<rusqlite::Result<bool>>,
    },
}

impl Write {
    /// Rows it carries (for the count of those dropped).
    pub(crate) fn rows(&self) -> u64 {
        match self {
            Write::Positions(rows) => rows.len() as u64,
            Write::Readings(readings) => readings.iter().map(|r| r.values.len() as u64).sum(),
            Write::Alerts(events) => events.len() as u64,
            Write::Flush(_) | Write::Prepare { .. } => 0,
        }
    }
}

/// Most rows written in one transaction.
const MAX_BATCH_ROWS: u64 = 100_000;
/// How often retention runs and the dropped count is looked at.
const HOUSEKEEPING: Duration = Duration::from_secs(10);

/// Counters the writer keeps, read by the benchmark and the log.
#[derive(Debug, Default)]
pub struct Counters {
    /// Rows refused because the channel was full (the writer fell behind).
    pub dropped: AtomicU64,
    /// Rows written.
    pub written: AtomicU64,
    /// Rows queued and not yet taken by the writer.
    pub queued: AtomicU64,
}

pub(crate) struct Writer {
    pub(crate) connection: Connection,
    pub(crate) receiver: Receiver<Write>,
    pub(crate) window_ms: i64,
    pub(crate) counters: Arc<Counters>,
}

impl Writer {
    pub(crate) fn run(self) {
        let Writer { connection, receiver, window_ms, counters } = self;
        let mut ids = Ids::default();
        let mut housekeeping = Instant::now();
        let mut dropped_seen = 0;
        loop {
            let first = match receiver.recv_timeout(HOUSEKEEPING) {
                Ok(write) => Some(write),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let mut batch: Vec<Write> = first.into_iter().collect();
            let mut rows: u64 = batch.iter().map(Write::rows).sum();
            while rows < MAX_BATCH_ROWS {
                let Ok(write) = receiver.try_recv() else { break };
                rows += write.rows();
                batch.push(write);
            }
            counters.queued.fetch_sub(rows, Ordering::Relaxed);
            if !batch.is_empty() {
                commit(&connection, &mut ids, batch, window_ms, &counters);
            }
            if housekeeping.elapsed() >= HOUSEKEEPING {
                housekeeping = Instant::now();
                if let Err(error) = store::retain(&connection, crate::unix_millis() - window_ms) {
                    tracing::error!(%error, "history: dropping old rows failed");
                }
                let dropped = counters.dropped.load(Ordering::Relaxed);
                if dropped > dropped_seen {
                    tracing::warn!(
                        dropped = dropped - dropped_seen,
                        total = dropped,
                        "history: the writer fell behind and dropped rows"
                    );
                    dropped_seen = dropped;
                }
            }
        }
    }
}

/// Writes a batch (of `Write::rows` rows in all) and counts its rows written once committed. A
/// failed batch is rolled back whole: its rows are not counted, and the ids cached are
/// forgotten, since those it added name rows that are gone (SQLite hands their ids out again).
fn commit(connection: &Connection, ids: &mut Ids, batch: Vec<Write>, window_ms: i64, counters: &Counters) {
    let rows: u64 = batch.iter().map(Write::rows).sum();
    match write_batch(connection, ids, batch, window_ms) {
        Ok(()) => {
            counters.written.fetch_add(rows, Ordering::Relaxed);
        }
        Err(error) => {
            ids.clear();
            tracing::error!(%error, rows, "history: a write failed; its rows are lost");
        }
    }
}

/// Writes a batch in one transaction, then answers the flushes and preparations in it (once
/// what they are about is visible to the readers).
fn write_batch(connection: &Connection, ids: &mut Ids, batch: Vec<Write>, window_ms: i64) -> rusqlite::Result<()> {
    let mut flushes = Vec::new();
    let mut prepared = Vec::new();
    let transaction = connection.unchecked_transaction()?;
    for write in batch {
        match write {
            Write::Positions(rows) => store::insert_positions(connection, ids, &rows)?,
            Write::Readings(readings) => {
                store::insert_readings(connection, ids, &readings)?;
            }
            Write::Alerts(events) => store::insert_alert_events(connection, &events)?,
            Write::Flush(reply) => flushes.push(reply),
            Write::Prepare { scenario, reply } => {
                prepared.push((reply, prepare(connection, ids, &scenario, window_ms)));
            }
        }
    }
    transaction.commit()?;
    for (reply, result) in prepared {
        let _ = reply.send(result);
    }
    for reply in flushes {
        let _ = reply.send(());
    }
    Ok(())
}

fn prepare(connection: &Connection, ids: &mut Ids, scenario: &str, window_ms: i64) -> rusqlite::Result<bool> {
    if store::scenario(connection)?.as_deref() != Some(scenario) {
        if !store::is_empty(connection)? {
            tracing::info!("history: the stored rows are of another scenario (seed, devices); starting afresh");
        }
        store::reset(connection, scenario)?;
        ids.clear();
    }
    store::retain(connection, crate::unix_millis() - window_ms)?;
    store::is_empty(connection)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Fix;
    use telemetry::VehicleState;

    fn row(id: &str, ts: i64) -> PositionRow {
        PositionRow { id: id.into(), ts, lat: 1.0, lon: 2.0, speed: 3.0, heading: 4.0, state: VehicleState::Moving }
    }

    #[test]
    fn a_batch_rolled_back_leaves_no_cached_id_and_counts_no_row() {
        let connection = Connection::open_in_memory().unwrap();
        store::create(&connection).unwrap();
        let (mut ids, counters) = (Ids::default(), Counters::default());
        commit(&connection, &mut ids, vec![Write::Positions(vec![row("a", 1_000)])], 60_000, &counters);
        assert_eq!(counters.written.load(Ordering::Relaxed), 1);
        // A new vehicle, then a write that fails: the whole batch is rolled back.
        connection.execute_batch("DROP TABLE alert_events").unwrap();
        let failing = vec![
            Write::Positions(vec![row("b", 2_000)]),
            Write::Alerts(store::cleared_events(&[telemetry::AlertCleared { id: "x".into(), ts: 2_000 }])),
        ];
        commit(&connection, &mut ids, failing, 60_000, &counters);
        assert_eq!(counters.written.load(Ordering::Relaxed), 1, "the failed batch's rows are not written");
        assert_eq!(store::vehicle_id(&connection, "b").unwrap(), None, "rolled back");
        // "c" now gets the id "b" had; "b" must not reuse it from a cache.
        commit(
            &connection,
            &mut ids,
            vec![Write::Positions(vec![row("c", 3_000), row("b", 3_000)])],
            60_000,
            &counters,
        );
        let b = store::vehicle_id(&connection, "b").unwrap().expect("b stored");
        let c = store::vehicle_id(&connection, "c").unwrap().expect("c stored");
        assert_ne!(b, c);
        let track: Vec<(i64, Fix)> = store::track(&connection, b, 0, 10_000).unwrap();
        assert_eq!(track.iter().map(|(ts, _)| *ts).collect::<Vec<_>>(), [3_000]);
        assert_eq!(counters.written.load(Ordering::Relaxed), 3);
    }
}

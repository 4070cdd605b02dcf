//! How healthy the alarm system itself is, computed from the alarm log the way EEMUA 191 and
//! ISA-18.2 judge one: the alarm rate per ten minutes and per hour, the share of time in
//! flood, the most frequent alarms (bad actors), chattering alarms (three or more within a
//! minute), standing alarms (active longer than an hour), the time to acknowledge and the
//! split by priority. Each figure carries its target, so the screen can say met or not.

use std::collections::HashMap;

use telemetry::history::{AlertChange, AlertEvent};
use telemetry::Severity;

use super::flood::time_in_flood;

/// Ten minutes: the buckets of the rate chart and of the steady-state target.
pub const BUCKET_MS: i64 = 10 * 60 * 1_000;
const HOUR_MS: i64 = 60 * 60 * 1_000;
/// Raised this many times within [`CHATTER_WINDOW_MS`]: chattering.
pub const CHATTER_COUNT: usize = 3;
pub const CHATTER_WINDOW_MS: i64 = 60 * 1_000;
/// Active longer than this: a standing alarm.
pub const STANDING_MS: i64 = HOUR_MS;
/// Bad actors listed.
pub const BAD_ACTORS: usize = 10;

/// EEMUA 191's targets (and ISA-18.2's, where it sets one).
pub mod target {
    /// Steady state: about one alarm per ten minutes.
    pub const PER_10_MINUTES: f64 = 1.0;
    /// Average per hour: the steady state's one per ten minutes.
    pub const PER_HOUR: f64 = 6.0 * PER_10_MINUTES;
    /// The most in ten minutes before it is a flood (ISA-18.2).
    pub const PEAK_PER_10_MINUTES: usize = 10;
    /// Peak per hour.
    pub const PEAK_PER_HOUR: f64 = 15.0;
    /// Share of time in flood, at most.
    pub const FLOOD_SHARE: f64 = 0.01;
    /// Share of the load the ten most frequent alarms carry, at most (ISA-18.2: 1–5 %).
    pub const BAD_ACTOR_SHARE: f64 = 0.05;
    /// Priority split, high / medium / low (critical / warning / info).
    pub const SPLIT: [f64; 3] = [0.05, 0.15, 0.80];
    /// How far each share may be from [`SPLIT`] (absolute) and still be "about" it.
    pub const SPLIT_TOLERANCE: [f64; 3] = [0.05, 0.10, 0.15];

    /// Whether a split (shares critical / warning / info) is about the target one.
    pub fn split_met(split: [f64; 3]) -> bool {
        split.iter().zip(SPLIT).zip(SPLIT_TOLERANCE).all(|((share, goal), slack)| (share - goal).abs() <= slack)
    }
}

/// An alarm point: a device's metric (the rule that raises).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub device: String,
    pub metric: String,
}

/// One bad actor: an alarm point and how often it was raised.
#[derive(Debug, Clone, PartialEq)]
pub struct Actor {
    pub key: Key,
    pub count: usize,
    /// Of all alarms raised in the range.
    pub share: f64,
}

/// An alarm open now, for the standing count.
#[derive(Debug, Clone, PartialEq)]
pub struct Open {
    pub id: String,
    pub key: Key,
    pub raised: i64,
    /// Its condition returned to normal.
    pub cleared: bool,
}

/// The figures.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Health {
    pub from: i64,
    pub to: i64,
    /// Alarms raised.
    pub raised: usize,
    /// Per ten-minute bucket from `from` (the last may be partial).
    pub per_bucket: Vec<usize>,
    /// Averages over the range's length.
    pub per_10_minutes: f64,
    pub per_hour: f64,
    /// The most raised in any hour starting on a bucket boundary (the whole range when shorter).
    pub peak_per_hour: usize,
    /// The most in one ten-minute bucket.
    pub peak_per_10_minutes: usize,
    /// Share of the range spent in flood (ISA-18.2's >10 in 10 min, ending below 5).
    pub flood_share: f64,
    pub bad_actors: Vec<Actor>,
    /// Share of the load the bad actors carry.
    pub bad_actor_share: f64,
    /// Alarm points raised three or more times within a minute, with their most in a minute.
    pub chattering: Vec<(Key, usize)>,
    /// Active (not returned to normal) longer than an hour.
    pub standing: Vec<Open>,
    /// Milliseconds from raised to acknowledged, of the alarms acknowledged.
    pub ack_p50: Option<i64>,
    pub ack_p90: Option<i64>,
    pub acknowledged: usize,
    /// Shares critical / warning / info.
    pub split: [f64; 3],
}

fn key_of(alert: &telemetry::Alert) -> Key {
    Key { device: alert.device.clone(), metric: alert.metric.clone() }
}

/// The `q` quantile (nearest rank) of sorted `values`.
fn quantile(sorted: &[i64], q: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// The figures over `from..to` of `events` (the alarm log, any order), with `open` the alarms
/// open at `to`.
pub fn compute(events: &[AlertEvent], open: &[Open], from: i64, to: i64) -> Health {
    let to = to.max(from + 1);
    let mut raised: Vec<(i64, &telemetry::Alert)> = events
        .iter()
        .filter(|e| e.change == AlertChange::Raised && e.ts >= from && e.ts < to)
        .filter_map(|e| e.alert.as_ref().map(|a| (e.ts, a)))
        .collect();
    raised.sort_by_key(|(ts, _)| *ts);
    let span = (to - from) as f64;
    let buckets = ((to - from + BUCKET_MS - 1) / BUCKET_MS).max(1) as usize;
    let mut per_bucket = vec![0; buckets];
    for (ts, _) in &raised {
        per_bucket[(((ts - from) / BUCKET_MS) as usize).min(buckets - 1)] += 1;
    }
    let hour = (HOUR_MS / BUCKET_MS) as usize;
    let peak_per_hour = if buckets <= hour {
        raised.len()
    } else {
        per_bucket.windows(hour).map(|w| w.iter().sum()).max().unwrap_or(0)
    };
    let times: Vec<i64> = raised.iter().map(|(ts, _)| *ts).collect();
    let flood_share = time_in_flood(&times, from, to) as f64 / span;

    let mut by_key: HashMap<Key, Vec<i64>> = HashMap::new();
    for (ts, alert) in &raised {
        by_key.entry(key_of(alert)).or_default().push(*ts);
    }
    let total = raised.len().max(1) as f64;
    let mut actors: Vec<Actor> = by_key
        .iter()
        .map(|(key, ts)| Actor { key: key.clone(), count: ts.len(), share: ts.len() as f64 / total })
        .collect();
    actors.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    actors.truncate(BAD_ACTORS);
    let bad_actor_share = actors.iter().map(|a| a.share).sum();

    let mut chattering: Vec<(Key, usize)> = by_key
        .iter()
        .filter_map(|(key, ts)| {
            // The most raised within any minute (ts are sorted).
            let mut most = 0;
            let mut start = 0;
            for end in 0..ts.len() {
                while ts[end] - ts[start] >= CHATTER_WINDOW_MS {
                    start += 1;
                }
                most = most.max(end - start + 1);
            }
            (most >= CHATTER_COUNT).then(|| (key.clone(), most))
        })
        .collect();
    chattering.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));

    let mut standing: Vec<Open> = open.iter().filter(|o| !o.cleared && to - o.raised > STANDING_MS).cloned().collect();
    standing.sort_by_key(|o| o.raised);

    let raised_at: HashMap<&str, i64> =
        events.iter().filter(|e| e.change == AlertChange::Raised).map(|e| (e.id.as_str(), e.ts)).collect();
    let mut to_ack: Vec<i64> = events
        .iter()
        .filter(|e| e.change == AlertChange::Acknowledged && e.ts >= from && e.ts < to)
        .filter_map(|e| raised_at.get(e.id.as_str()).map(|r| (e.ts - r).max(0)))
        .collect();
    to_ack.sort_unstable();

    let count = |s: Severity| raised.iter().filter(|(_, a)| a.severity == s).count() as f64 / total;
    let split = if raised.is_empty() {
        [0.0; 3]
    } else {
        [count(Severity::Critical), count(Severity::Warning), count(Severity::Info)]
    };
    Health {
        from,
        to,
        raised: raised.len(),
        peak_per_10_minutes: per_bucket.iter().copied().max().unwrap_or(0),
        per_bucket,
        per_10_minutes: raised.len() as f64 / (span / BUCKET_MS as f64),
        per_hour: raised.len() as f64 / (span / HOUR_MS as f64),
        peak_per_hour,
        flood_share,
        bad_actors: actors,
        bad_actor_share,
        chattering,
        standing,
        ack_p50: quantile(&to_ack, 0.5),
        ack_p90: quantile(&to_ack, 0.9),
        acknowledged: to_ack.len(),
        split,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use telemetry::Alert;

    const T0: i64 = 1_700_000_000_000;
    const MIN: i64 = 60_000;

    fn raised(id: &str, ts: i64, device: &str, metric: &str, severity: Severity) -> AlertEvent {
        AlertEvent {
            ts,
            id: id.into(),
            change: AlertChange::Raised,
            alert: Some(Alert {
                id: id.into(),
                ts,
                device: device.into(),
                site: "north".into(),
                severity,
                metric: metric.into(),
                value: 1.0,
                threshold: 0.0,
                message: String::new(),
            }),
            by: None,
            suppression: None,
            reason: None,
        }
    }

    fn acked(id: &str, ts: i64) -> AlertEvent {
        AlertEvent {
            ts,
            id: id.into(),
            change: AlertChange::Acknowledged,
            alert: None,
            by: Some("op".into()),
            suppression: None,
            reason: None,
        }
    }

    /// A scripted hour with known answers: a chattering pump (4 within 40 s, then 2 more), a
    /// burst of 12 others in the 30th minute (a flood), and four ordinary alarms.
    fn hour() -> Vec<AlertEvent> {
        let mut events = Vec::new();
        for (i, at) in [0, 10, 25, 40, 20 * MIN, 45 * MIN].iter().enumerate() {
            let at = if *at < MIN { *at * 1_000 } else { *at };
            events.push(raised(&format!("p{i}"), T0 + 5 * MIN + at, "pump-1", "pressure", Severity::Warning));
        }
        for i in 0..12 {
            let device = format!("press-{i:02}");
            events.push(raised(
                &format!("b{i}"),
                T0 + 30 * MIN + i * 2_000,
                &device,
                "temperature",
                Severity::Critical,
            ));
        }
        for (i, at) in [2, 14, 52, 58].iter().enumerate() {
            events.push(raised(&format!("o{i}"), T0 + at * MIN, "rig-1", "rpm", Severity::Info));
        }
        // Acknowledged after 1, 2, 3, 4 and 10 minutes.
        for (id, after) in [("o0", 1), ("o1", 2), ("p0", 3), ("b0", 4), ("b1", 10)] {
            let at = events.iter().find(|e| e.id == id).unwrap().ts;
            events.push(acked(id, at + after * MIN));
        }
        events
    }

    #[test]
    fn the_figures_of_a_scripted_hour() {
        let open = vec![
            Open {
                id: "s".into(),
                key: Key { device: "tank".into(), metric: "level".into() },
                raised: T0 - 2 * MIN,
                cleared: false,
            },
            Open {
                id: "r".into(),
                key: Key { device: "tank".into(), metric: "flow".into() },
                raised: T0 - 2 * MIN,
                cleared: true,
            },
            Open {
                id: "n".into(),
                key: Key { device: "tank".into(), metric: "temp".into() },
                raised: T0 + 30 * MIN,
                cleared: false,
            },
        ];
        let health = compute(&hour(), &open, T0, T0 + 60 * MIN);
        assert_eq!(health.raised, 22);
        // Buckets: 0-10 min: o0, p0..p3 = 5; 10-20: o1; 20-30: p4 (at 25 min); 30-40: the burst;
        // 40-50: none; 50-60: p5 (at 50 min), o2, o3.
        assert_eq!(health.per_bucket, vec![5, 1, 1, 12, 0, 3]);
        assert_eq!(health.peak_per_10_minutes, 12);
        assert_eq!(health.peak_per_hour, 22, "the range is one hour");
        assert!((health.per_10_minutes - 22.0 / 6.0).abs() < 1e-9);
        assert!((health.per_hour - 22.0).abs() < 1e-9);
        // The flood: with p4 (25 min) in the window, the tenth of the burst (30 min 18 s) is the
        // eleventh alarm; it lasts until fewer than five are left: p4 falls out at 35 min, the
        // burst from 40 min, and when the eighth of it falls out (40 min 14 s) four are left.
        let flood_ms = health.flood_share * 60.0 * MIN as f64;
        assert!((flood_ms - (10.0 * MIN as f64 - 4_000.0)).abs() < 1.0, "{flood_ms}");
        assert_eq!(health.bad_actors[0].key, Key { device: "pump-1".into(), metric: "pressure".into() });
        assert_eq!(health.bad_actors[0].count, 6);
        assert_eq!(health.bad_actors[1].count, 4, "rig-1 rpm");
        assert_eq!(health.bad_actors.len(), 10);
        assert!((health.bad_actor_share - 18.0 / 22.0).abs() < 1e-9, "6 + 4 + eight of the burst");
        assert_eq!(health.chattering, vec![(Key { device: "pump-1".into(), metric: "pressure".into() }, 4)]);
        assert_eq!(health.standing.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(), ["s"]);
        assert_eq!(health.acknowledged, 5);
        assert_eq!(health.ack_p50, Some(3 * MIN));
        assert_eq!(health.ack_p90, Some(10 * MIN));
        assert!((health.split[0] - 12.0 / 22.0).abs() < 1e-9 && (health.split[2] - 4.0 / 22.0).abs() < 1e-9);
        assert!(!target::split_met(health.split));
        assert!(target::split_met([0.04, 0.2, 0.76]) && !target::split_met([0.0, 1.0, 0.0]));
    }

    #[test]
    fn an_empty_log_is_all_zero_and_a_long_range_finds_the_peak_hour() {
        let empty = compute(&[], &[], T0, T0 + 60 * MIN);
        assert_eq!((empty.raised, empty.peak_per_hour, empty.ack_p50), (0, 0, None));
        assert_eq!(empty.flood_share, 0.0);
        let events = hour();
        let long = compute(&events, &[], T0 - 120 * MIN, T0 + 60 * MIN);
        assert_eq!(long.per_bucket.len(), 18);
        assert_eq!(long.peak_per_hour, 22);
        assert!((long.per_hour - 22.0 / 3.0).abs() < 1e-9);
    }
}

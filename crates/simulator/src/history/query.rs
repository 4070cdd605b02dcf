//! The reductions the history answers are made of, apart from the store so they are tested on
//! plain data: buckets of min, max and last (what a chart draws per pixel), an evenly thinned
//! track, fleet frames where each vehicle holds its last fix, the gaps between the seconds
//! stored, and an alert's timeline.

use std::collections::HashMap;

use telemetry::history::{
    bucket_index, AlertChange, AlertEvent, FleetFrame, Gap, MetricHistory, MIN_GAP_SECONDS, RESOLUTION_MS,
};
use telemetry::{Alert, Millis};

use crate::history::Fix;

/// Reduces samples in time order to at most `points` buckets of `bucket_ms` from `from`, empty
/// ones left out. Each bucket's `ts` is its last sample's.
pub struct Buckets {
    from: Millis,
    bucket_ms: i64,
    points: u32,
    current: Option<usize>,
    history: MetricHistory,
}

impl Buckets {
    pub fn new(metric: &str, from: Millis, bucket_ms: i64, points: u32) -> Self {
        let history = MetricHistory { metric: metric.to_string(), ..MetricHistory::default() };
        Self { from, bucket_ms, points, current: None, history }
    }

    /// The next sample, no older than the one before.
    pub fn push(&mut self, ts: Millis, value: f64) {
        let index = bucket_index(ts, self.from, self.bucket_ms, self.points);
        let h = &mut self.history;
        if self.current == Some(index) {
            let last = h.ts.len() - 1;
            h.ts[last] = ts;
            h.min[last] = h.min[last].min(value);
            h.max[last] = h.max[last].max(value);
            h.last[last] = value;
        } else {
            self.current = Some(index);
            h.ts.push(ts);
            h.min.push(value);
            h.max.push(value);
            h.last.push(value);
        }
    }

    pub fn finish(self) -> MetricHistory {
        self.history
    }
}

/// The indices of at most `points` of `len` items, evenly spread, the first and the last among
/// them (only the last when `points` is 1).
pub fn thin(len: usize, points: usize) -> Vec<usize> {
    if len <= points {
        return (0..len).collect();
    }
    match points {
        0 => Vec::new(),
        1 => vec![len - 1],
        _ => (0..points).map(|k| (k * (len - 1) + (points - 1) / 2) / (points - 1)).collect(),
    }
}

/// The gaps between stored seconds (Unix seconds in increasing order, each once): a [`Gap`] for
/// every hole of at least [`MIN_GAP_SECONDS`] between two of them; nothing before the first or
/// after the last.
pub fn gaps(stored: impl IntoIterator<Item = i64>) -> Vec<Gap> {
    let mut gaps = Vec::new();
    let mut previous: Option<i64> = None;
    for sec in stored {
        if let Some(before) = previous {
            // `sec - before - 1` seconds are empty between them.
            if sec - before > MIN_GAP_SECONDS {
                gaps.push(Gap { from: (before + 1) * RESOLUTION_MS, to: (sec - 1) * RESOLUTION_MS });
            }
        }
        previous = Some(sec);
    }
    gaps
}

/// Fleet frames, one at a time: each frame is offered fixes newest first (a vehicle's first
/// offer in a frame is its fix there) and holds, for a vehicle offered none, the fix it held
/// in the frame before.
pub struct Frames {
    /// Vehicle (store id) → column.
    columns: HashMap<i64, usize>,
    /// Column → vehicle (store id).
    vehicles: Vec<i64>,
    current: Vec<Option<Fix>>,
    /// Per column, whether this frame has its fix yet; and how many do.
    found: Vec<bool>,
    found_count: usize,
    /// Per column, the first frame it had a fix in.
    first: Vec<Option<usize>>,
    frames: Vec<FleetFrame>,
}

impl Frames {
    /// `vehicles`: every vehicle that may appear (store id), in the order of the answer's ids.
    pub fn new(vehicles: &[i64]) -> Self {
        let columns = vehicles.iter().enumerate().map(|(column, &id)| (id, column)).collect();
        let n = vehicles.len();
        Self {
            columns,
            vehicles: vehicles.to_vec(),
            current: vec![None; n],
            found: vec![false; n],
            found_count: 0,
            first: vec![None; n],
            frames: Vec::new(),
        }
    }

    /// A fix of `vehicle` for the frame being made; only the first one offered counts.
    pub fn offer(&mut self, vehicle: i64, fix: Fix) {
        let Some(&column) = self.columns.get(&vehicle) else { return };
        if !self.found[column] {
            self.found[column] = true;
            self.found_count += 1;
            self.current[column] = Some(fix);
        }
    }

    /// Whether every vehicle has its fix in the frame being made (no need to look further back).
    pub fn complete(&self) -> bool {
        self.found_count == self.found.len()
    }

    /// The vehicles (store ids) with no fix yet in the frame being made, by column.
    pub fn pending(&self) -> impl Iterator<Item = i64> + '_ {
        self.vehicles.iter().zip(&self.found).filter(|(_, found)| !**found).map(|(&vehicle, _)| vehicle)
    }

    /// Ends the frame being made, at `ts`.
    pub fn end_frame(&mut self, ts: Millis) {
        let n = self.current.len();
        let mut frame = FleetFrame {
            ts,
            lat: Vec::with_capacity(n),
            lon: Vec::with_capacity(n),
            heading: Vec::with_capacity(n),
            speed: Vec::with_capacity(n),
            state: Vec::with_capacity(n),
        };
        let index = self.frames.len();
        for (column, fix) in self.current.iter().enumerate() {
            if fix.is_some() && self.first[column].is_none() {
                self.first[column] = Some(index);
            }
            let fix = fix.unwrap_or_default();
            frame.lat.push(fix.lat);
            frame.lon.push(fix.lon);
            frame.heading.push(fix.heading);
            frame.speed.push(fix.speed);
            frame.state.push(fix.state);
        }
        self.frames.push(frame);
        self.found.iter_mut().for_each(|found| *found = false);
        self.found_count = 0;
    }

    /// The frames, and which columns (vehicles) are in them: those with a fix in any frame.
    /// Before its first fix, a vehicle shows that first fix.
    pub fn finish(mut self) -> (Vec<usize>, Vec<FleetFrame>) {
        let keep: Vec<usize> = (0..self.first.len()).filter(|&c| self.first[c].is_some()).collect();
        for &column in &keep {
            let Some(first) = self.first[column] else { continue };
            let (lat, lon, heading, speed, state) = {
                let f = &self.frames[first];
                (f.lat[column], f.lon[column], f.heading[column], f.speed[column], f.state[column])
            };
            for frame in &mut self.frames[..first] {
                frame.lat[column] = lat;
                frame.lon[column] = lon;
                frame.heading[column] = heading;
                frame.speed[column] = speed;
                frame.state[column] = state;
            }
        }
        if keep.len() < self.first.len() {
            for frame in &mut self.frames {
                let pick = |values: &[f64]| keep.iter().map(|&c| values[c]).collect::<Vec<_>>();
                frame.lat = pick(&frame.lat);
                frame.lon = pick(&frame.lon);
                frame.heading = pick(&frame.heading);
                frame.speed = pick(&frame.speed);
                frame.state = keep.iter().map(|&c| frame.state[c]).collect();
            }
        }
        (keep, self.frames)
    }
}

/// The alert an alert's events say was raised, if they hold its raising.
pub fn raised_alert(events: &[(i64, AlertEvent)]) -> Option<&Alert> {
    events.iter().find(|(_, e)| e.change == AlertChange::Raised).and_then(|(_, e)| e.alert.as_ref())
}

/// An alert's timeline from its own events (`own`) and the suppression events of its device
/// (`point`), each with its `seq` (the order written): its events, and those of every
/// suppression of its point (`Suppression::covers` its device and metric) whose span overlaps
/// the alert's life, oldest first (by `ts`, then as written), the first `limit`.
///
/// The alert's life runs from its first event to its last once it is over (cleared, and
/// acknowledged since it last re-alarmed), else to `to` (or its last event, if later: device
/// clocks run ahead). A suppression spans its `ts` to its end event, or to its `until` when
/// it has none (an end not recorded, or not happened yet).
pub fn timeline(
    own: Vec<(i64, AlertEvent)>,
    point: Vec<(i64, AlertEvent)>,
    to: Millis,
    limit: usize,
) -> Vec<AlertEvent> {
    let Some(start) = own.iter().map(|(_, e)| e.ts).min() else { return Vec::new() };
    let last = own.iter().map(|(_, e)| e.ts).max().unwrap_or(start);
    let seq_of = |change: AlertChange| own.iter().filter(|(_, e)| e.change == change).map(|(seq, _)| *seq).max();
    let acknowledged = match (seq_of(AlertChange::Acknowledged), seq_of(AlertChange::ReAlarmed)) {
        (Some(ack), again) => again.is_none_or(|again| ack > again),
        (None, _) => false,
    };
    let over = acknowledged && seq_of(AlertChange::Cleared).is_some();
    let end = if over { last } else { to.max(last) };
    let mut events = Vec::new();
    if let Some(alert) = raised_alert(&own) {
        let (device, metric) = (alert.device.clone(), alert.metric.clone());
        let mut spans: HashMap<String, (Millis, Millis)> = HashMap::new();
        for (_, event) in &point {
            let Some(suppression) = event.suppression.as_ref().filter(|s| s.covers(&device, &metric)) else { continue };
            let span = spans.entry(suppression.id.clone()).or_insert((suppression.ts, suppression.until));
            if matches!(event.change, AlertChange::Unshelved | AlertChange::ReturnedToService) {
                span.1 = event.ts;
            }
        }
        let overlaps = |id: &str| spans.get(id).is_some_and(|&(from, until)| from <= end && until >= start);
        events.extend(point.into_iter().filter(|(_, e)| e.suppression.as_ref().is_some_and(|s| overlaps(&s.id))));
    }
    events.extend(own);
    events.sort_by_key(|(seq, e)| (e.ts, *seq));
    events.into_iter().take(limit).map(|(_, e)| e).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use telemetry::history::bucket_ms;
    use telemetry::VehicleState;

    #[test]
    fn buckets_hold_min_max_and_last_with_the_last_sample_time() {
        let (from, to, points) = (0, 10_000, 5);
        let bucket = bucket_ms(from, to, points);
        assert_eq!(bucket, 2_000);
        let mut buckets = Buckets::new("t", from, bucket, points);
        for (ts, value) in [(100, 5.0), (900, 1.0), (1_900, 3.0), (6_500, 7.0), (10_000, 2.0)] {
            buckets.push(ts, value);
        }
        let h = buckets.finish();
        assert_eq!(h.ts, [1_900, 6_500, 10_000], "the empty buckets are left out; `to` is in the last");
        assert_eq!(h.min, [1.0, 7.0, 2.0]);
        assert_eq!(h.max, [5.0, 7.0, 2.0]);
        assert_eq!(h.last, [3.0, 7.0, 2.0]);
    }

    #[test]
    fn thinning_spreads_evenly_and_keeps_the_last() {
        assert_eq!(thin(3, 10), [0, 1, 2]);
        assert_eq!(thin(10, 1), [9]);
        assert_eq!(thin(10, 0), Vec::<usize>::new());
        assert_eq!(thin(11, 3), [0, 5, 10]);
        let picked = thin(3_600, 1_000);
        assert_eq!(picked.len(), 1_000);
        assert_eq!((picked[0], picked[999]), (0, 3_599));
        assert!(picked.windows(2).all(|w| w[1] > w[0] && w[1] - w[0] <= 4));
    }

    #[test]
    fn gaps_are_the_holes_of_two_seconds_or_more_between_stored_seconds() {
        let none = Vec::<Gap>::new();
        assert_eq!(gaps([]), none);
        assert_eq!(gaps([7]), none);
        assert_eq!(gaps(0..=10), none, "continuous");
        assert_eq!(gaps([1, 2, 4, 5]), none, "one second missing is not a gap");
        assert_eq!(gaps([1, 2, 5, 6]), [Gap { from: 3_000, to: 4_000 }], "two are");
        let stored = (0..=10).chain(20..=30).chain(31..=40).chain([100]);
        assert_eq!(gaps(stored), [Gap { from: 11_000, to: 19_000 }, Gap { from: 41_000, to: 99_000 }]);
        assert_eq!(gaps([-3, 0]), [Gap { from: -2_000, to: -1_000 }], "before 1970 too");
    }

    fn fix(lat: f64) -> Fix {
        Fix { lat, lon: 8.0, speed: 10.0, heading: 90.0, state: VehicleState::Moving }
    }

    #[test]
    fn frames_take_the_newest_fix_offered_hold_the_last_and_start_from_the_first() {
        let mut frames = Frames::new(&[7, 8, 9]);
        frames.offer(7, fix(1.0));
        frames.end_frame(1_000);
        assert!(!frames.complete());
        assert_eq!(frames.pending().collect::<Vec<_>>(), [7, 8, 9], "a new frame has none yet");
        frames.offer(7, fix(2.0)); // newest first: the later offer of 7 does not count
        frames.offer(7, fix(1.5));
        frames.end_frame(2_000);
        frames.offer(8, fix(20.0));
        assert_eq!(frames.pending().collect::<Vec<_>>(), [7, 9], "by column");
        frames.end_frame(3_000); // 7 holds 2.0
        frames.offer(7, fix(3.0));
        frames.offer(8, fix(21.0));
        frames.offer(9, fix(30.0));
        assert!(frames.complete());
        frames.end_frame(4_000);
        let (columns, frames) = frames.finish();
        assert_eq!(columns, [0, 1, 2]);
        let lat = |k: usize| frames[k].lat.clone();
        assert_eq!(frames.iter().map(|f| f.ts).collect::<Vec<_>>(), [1_000, 2_000, 3_000, 4_000]);
        assert_eq!(lat(0), [1.0, 20.0, 30.0], "8 and 9 show their first fix before it");
        assert_eq!(lat(1), [2.0, 20.0, 30.0]);
        assert_eq!(lat(2), [2.0, 20.0, 30.0], "held");
        assert_eq!(lat(3), [3.0, 21.0, 30.0]);

        let mut frames = Frames::new(&[7, 8]);
        frames.offer(8, fix(5.0));
        frames.end_frame(0);
        let (columns, frames) = frames.finish();
        assert_eq!(columns, [1], "a vehicle never offered is left out");
        assert!(frames.iter().all(|f| f.lon.len() == 1 && f.state.len() == 1));
    }

    fn event(seq: i64, ts: Millis, id: &str, change: AlertChange) -> (i64, AlertEvent) {
        let alert = (change == AlertChange::Raised).then(|| Alert {
            id: id.into(),
            ts,
            device: "press-01".into(),
            site: "harbour".into(),
            severity: telemetry::Severity::Warning,
            metric: "temperature".into(),
            value: 91.0,
            threshold: 90.0,
            message: "hot".into(),
        });
        (seq, AlertEvent { ts, id: id.into(), change, alert, by: None, suppression: None, reason: None })
    }

    /// A suppression `id` of `metric` (`None`: the whole device, out of service) from `ts` to
    /// `until`: its start event, and its end at `ended` if any.
    fn suppression(
        seq: i64,
        id: &str,
        metric: Option<&str>,
        (ts, until): (Millis, Millis),
        ended: Option<Millis>,
    ) -> Vec<(i64, AlertEvent)> {
        let kind = if metric.is_some() {
            telemetry::SuppressionKind::Shelved
        } else {
            telemetry::SuppressionKind::OutOfService
        };
        let made = telemetry::Suppression {
            id: id.into(),
            kind,
            device: "press-01".into(),
            metric: metric.map(String::from),
            by: "ann".into(),
            reason: String::new(),
            ts,
            until,
        };
        let (start, end) = match kind {
            telemetry::SuppressionKind::Shelved => (AlertChange::Shelved, AlertChange::Unshelved),
            telemetry::SuppressionKind::OutOfService => (AlertChange::OutOfService, AlertChange::ReturnedToService),
        };
        let mut events = vec![(seq, AlertEvent { suppression: Some(made.clone()), ..event(seq, ts, id, start).1 })];
        if let Some(at) = ended {
            events.push((seq + 1, AlertEvent { suppression: Some(made), ..event(seq + 1, at, id, end).1 }));
        }
        events
    }

    #[test]
    fn a_timeline_holds_the_alert_and_the_suppressions_of_its_point_over_its_life() {
        let own = vec![
            event(10, 1_000, "a1", AlertChange::Raised),
            event(11, 2_000, "a1", AlertChange::Acknowledged),
            event(12, 5_000, "a1", AlertChange::ReAlarmed),
            event(13, 6_000, "a1", AlertChange::Acknowledged),
            event(14, 7_000, "a1", AlertChange::Cleared),
        ];
        let mut point = Vec::new();
        point.extend(suppression(1, "before", Some("temperature"), (0, 500), Some(400)));
        point.extend(suppression(3, "shelf", Some("temperature"), (500, 90_000), Some(3_000)));
        point.extend(suppression(5, "other-metric", Some("pressure"), (1_500, 90_000), None));
        point.extend(suppression(6, "device", None, (6_500, 60_000), None));
        point.extend(suppression(7, "after", Some("temperature"), (8_000, 9_000), None));
        let events = timeline(own.clone(), point.clone(), 100_000, 100);
        let seen: Vec<(&str, AlertChange)> = events.iter().map(|e| (e.id.as_str(), e.change)).collect();
        assert_eq!(
            seen,
            [
                ("shelf", AlertChange::Shelved),
                ("a1", AlertChange::Raised),
                ("a1", AlertChange::Acknowledged),
                ("shelf", AlertChange::Unshelved),
                ("a1", AlertChange::ReAlarmed),
                ("a1", AlertChange::Acknowledged),
                ("device", AlertChange::OutOfService),
                ("a1", AlertChange::Cleared),
            ],
            "over at 7 s: the shelf ended before the raise and the one made after are not in it"
        );
        assert_eq!(timeline(own.clone(), point.clone(), 100_000, 3).len(), 3, "the oldest `limit`");
        // Not acknowledged since it re-alarmed: not over, its life runs on to `to`.
        let open: Vec<_> = own.iter().filter(|(seq, _)| *seq != 13).cloned().collect();
        let events = timeline(open, point, 100_000, 100);
        assert!(events.iter().any(|e| e.id == "after"), "a shelf after the clear, while it waits for its ack");
        assert!(timeline(Vec::new(), Vec::new(), 1, 10).is_empty(), "an unknown alert");
    }
}

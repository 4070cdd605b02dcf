//! Fixed-capacity time series: memory stays flat however long a wall screen stays open, and
//! long windows are reduced to min/max per pixel column so drawing cost depends on pixels,
//! not points.

use std::collections::VecDeque;

/// Points kept per series: an hour at 2 Hz.
pub const DEFAULT_CAPACITY: usize = 7_200;

/// Points a series holds before it takes its whole bound (256 bytes).
const FIRST_ROOM: usize = 16;

/// One point: device timestamp (Unix ms) and value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub ts: i64,
    pub value: f64,
}

/// A ring buffer of points in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    points: VecDeque<Point>,
    capacity: usize,
}

impl Default for Series {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

/// Min, max and mean over a window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub count: usize,
}

/// One pixel column of a downsampled window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Column {
    /// Column index, 0 = window start.
    pub x: usize,
    pub min: f64,
    pub max: f64,
    /// First and last values in the column, so a line can be drawn through the columns.
    pub first: f64,
    pub last: f64,
}

impl Series {
    /// Room for `capacity` points: [`FIRST_ROOM`] at first, then the whole bound at once when
    /// they are full. A metric heard of once (a made-up id) costs 256 bytes, not the 113 KB of
    /// a full hour; one that keeps reporting takes its whole bound within seconds, so memory
    /// depends on how many series there are and never on how long the page has been open
    /// (a buffer grown step by step would show as growth for an hour).
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self { points: VecDeque::with_capacity(FIRST_ROOM.min(capacity)), capacity }
    }

    /// Appends a point. Points older than the newest are dropped (a late or replayed reading
    /// never rewrites history); non-finite values are ignored.
    pub fn push(&mut self, ts: i64, value: f64) -> bool {
        if !value.is_finite() || self.points.back().is_some_and(|last| ts <= last.ts) {
            return false;
        }
        if self.points.len() == self.capacity {
            self.points.pop_front();
        } else if self.points.len() == self.points.capacity() {
            self.points.reserve_exact(self.capacity - self.points.len());
        }
        self.points.push_back(Point { ts, value });
        true
    }

    /// Joins history (`points`, oldest first, one a second or fewer) into what is held: a history
    /// point is taken where the held data has no point in the same second and is older than the
    /// newest held point. So the history fills what came before the live data and any hole
    /// inside it (the seconds between a snapshot's reading and the first live one after the
    /// group joins), with no repeat: a second the live data covers keeps its live points. Non-
    /// finite values are skipped; the bound holds (the oldest go first). Returns how many were
    /// taken.
    pub fn join_history(&mut self, points: impl IntoIterator<Item = (i64, f64)>) -> usize {
        let newest = self.points.back().map_or(i64::MAX, |p| p.ts);
        let covered: std::collections::HashSet<i64> = self.points.iter().map(|p| p.ts.div_euclid(1000)).collect();
        let mut history: Vec<Point> = points
            .into_iter()
            .filter(|&(ts, value)| value.is_finite() && ts < newest && !covered.contains(&ts.div_euclid(1000)))
            .map(|(ts, value)| Point { ts, value })
            .collect();
        if history.is_empty() {
            return 0;
        }
        history.sort_by_key(|p| p.ts);
        history.dedup_by_key(|p| p.ts);
        let mut merged: Vec<Point> = Vec::with_capacity(self.points.len() + history.len());
        let (mut held, mut old) = (self.points.iter().copied().peekable(), history.iter().copied().peekable());
        loop {
            let next = match (held.peek(), old.peek()) {
                (Some(h), Some(o)) if o.ts < h.ts => old.next(),
                (Some(_), _) => held.next(),
                (None, Some(_)) => old.next(),
                (None, None) => break,
            };
            merged.extend(next);
        }
        let skip = merged.len().saturating_sub(self.capacity);
        let taken = history.len().saturating_sub(
            merged[..skip].iter().filter(|p| history.binary_search_by_key(&p.ts, |h| h.ts).is_ok()).count(),
        );
        let mut points = VecDeque::with_capacity(self.capacity);
        points.extend(merged.into_iter().skip(skip));
        self.points = points;
        taken
    }

    /// The oldest point held.
    pub fn first(&self) -> Option<Point> {
        self.points.front().copied()
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    pub fn last(&self) -> Option<Point> {
        self.points.back().copied()
    }

    /// The newest point at or before `at`: the value as it stood then.
    pub fn at(&self, at: i64) -> Option<Point> {
        let end = self.points.partition_point(|p| p.ts <= at);
        end.checked_sub(1).and_then(|i| self.points.get(i)).copied()
    }

    /// Points with `from <= ts <= to`, oldest first.
    pub fn window(&self, from: i64, to: i64) -> impl Iterator<Item = Point> + '_ {
        let start = self.points.partition_point(|p| p.ts < from);
        self.points.range(start..).take_while(move |p| p.ts <= to).copied()
    }

    /// Min, max and mean of the window, if it holds any point.
    pub fn stats(&self, from: i64, to: i64) -> Option<Stats> {
        let mut stats: Option<Stats> = None;
        let mut sum = 0.0;
        for p in self.window(from, to) {
            sum += p.value;
            stats = Some(match stats {
                None => Stats { min: p.value, max: p.value, mean: 0.0, count: 1 },
                Some(s) => Stats { min: s.min.min(p.value), max: s.max.max(p.value), mean: 0.0, count: s.count + 1 },
            });
        }
        stats.map(|s| Stats { mean: sum / s.count as f64, ..s })
    }

    /// The window reduced to at most `columns` columns (min/max/first/last each).
    pub fn downsample(&self, from: i64, to: i64, columns: usize) -> Vec<Column> {
        let columns = columns.max(1);
        let span = (to - from).max(1) as f64;
        let mut out: Vec<Column> = Vec::with_capacity(columns.min(self.points.len()));
        for p in self.window(from, to) {
            let x = (((p.ts - from) as f64 / span) * columns as f64).floor() as usize;
            let x = x.min(columns - 1);
            match out.last_mut() {
                Some(c) if c.x == x => {
                    c.min = c.min.min(p.value);
                    c.max = c.max.max(p.value);
                    c.last = p.value;
                }
                _ => out.push(Column { x, min: p.value, max: p.value, first: p.value, last: p.value }),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_is_fixed_and_order_enforced() {
        let mut s = Series::with_capacity(3);
        for ts in 1..=5 {
            assert!(s.push(ts, ts as f64));
        }
        assert_eq!(s.len(), 3);
        assert_eq!(s.window(0, 10).map(|p| p.ts).collect::<Vec<_>>(), [3, 4, 5]);
        assert!(!s.push(4, 9.0), "older than the newest");
        assert!(!s.push(6, f64::NAN));
        assert_eq!(s.last(), Some(Point { ts: 5, value: 5.0 }));
    }

    #[test]
    fn memory_is_small_for_a_point_then_the_whole_bound_at_once() {
        let mut s = Series::default();
        s.push(0, 1.0);
        assert!(s.points.capacity() < 64, "one point does not claim an hour");
        for ts in 1..=(FIRST_ROOM as i64) {
            s.push(ts, 1.0);
        }
        let full = s.points.capacity();
        assert!(full >= DEFAULT_CAPACITY, "the whole bound once the first room is full: {full}");
        for ts in 0..(DEFAULT_CAPACITY as i64) {
            s.push(FIRST_ROOM as i64 + 1 + ts, 1.0);
        }
        assert_eq!(s.points.capacity(), full, "filling it does not reallocate");
        for ts in 0..(2 * DEFAULT_CAPACITY as i64) {
            s.push(DEFAULT_CAPACITY as i64 + ts, 1.0);
        }
        assert_eq!(s.points.capacity(), full, "a full series no longer grows");
    }

    #[test]
    fn history_joins_in_front_with_no_repeat_and_no_gap_at_the_seam() {
        let mut s = Series::with_capacity(10);
        for ts in [5, 6, 7] {
            s.push(ts * 1000, ts as f64);
        }
        // History up to and past the first live point: only what is strictly older is taken.
        let history = (0..=6).map(|t| (t * 1000, t as f64)).chain([(3_500, f64::NAN)]);
        assert_eq!(s.join_history(history), 5);
        let stamps: Vec<i64> = s.window(i64::MIN, i64::MAX).map(|p| p.ts / 1000).collect();
        assert_eq!(stamps, [0, 1, 2, 3, 4, 5, 6, 7], "consecutive: no gap, no repeat");
        // The bound holds: the oldest history goes first.
        assert_eq!(s.join_history((-20..0).map(|t| (t * 1000, 0.0))), 2);
        assert_eq!(s.len(), 10);
        assert_eq!(s.first().unwrap().ts, -2_000);
        // Into an empty series: all of it, newest kept.
        let mut empty = Series::with_capacity(3);
        assert_eq!(empty.join_history([(1, 1.0), (2, 2.0), (3, 3.0), (4, 4.0)]), 3);
        assert_eq!(empty.first().unwrap().ts, 2);
        // Live points after it still append.
        assert!(empty.push(5, 5.0));
    }

    #[test]
    fn history_fills_a_hole_inside_the_live_data_but_never_a_second_it_covers() {
        let mut s = Series::with_capacity(100);
        // A snapshot's reading at 10 s, then live data from 13 s (the group joins came later).
        for ts in [10_000, 13_000, 13_500, 14_000] {
            s.push(ts, 1.0);
        }
        let history = (5..=15).map(|t| (t * 1000 + 200, 2.0));
        assert_eq!(s.join_history(history), 7, "5 to 9 before it, 11 and 12 in the hole");
        let seconds: Vec<i64> = s.window(i64::MIN, i64::MAX).map(|p| p.ts / 1000).collect();
        assert_eq!(seconds, [5, 6, 7, 8, 9, 10, 11, 12, 13, 13, 14]);
    }

    #[test]
    fn window_and_stats() {
        let mut s = Series::default();
        for (ts, v) in [(10, 1.0), (20, 5.0), (30, 3.0), (40, 7.0)] {
            s.push(ts, v);
        }
        assert_eq!(s.window(15, 35).map(|p| p.value).collect::<Vec<_>>(), [5.0, 3.0]);
        let stats = s.stats(15, 40).unwrap();
        assert_eq!((stats.min, stats.max, stats.count), (3.0, 7.0, 3));
        assert!((stats.mean - 5.0).abs() < 1e-9);
        assert!(s.stats(100, 200).is_none());
    }

    #[test]
    fn downsampling_keeps_extremes_and_bounds_the_output() {
        let mut s = Series::with_capacity(100_000);
        for i in 0..10_000 {
            // A spike hidden among many points must survive the reduction.
            let v = if i == 5_000 { 100.0 } else { (i % 7) as f64 };
            s.push(i, v);
        }
        let columns = s.downsample(0, 9_999, 300);
        assert!(columns.len() <= 300);
        assert_eq!(columns.iter().map(|c| c.max).fold(f64::MIN, f64::max), 100.0);
        assert_eq!(columns.iter().map(|c| c.min).fold(f64::MAX, f64::min), 0.0);
        assert!(columns.windows(2).all(|w| w[0].x < w[1].x));
        // Fewer points than columns: one column per point.
        let mut small = Series::default();
        small.push(0, 1.0);
        small.push(50, 2.0);
        assert_eq!(small.downsample(0, 100, 300).len(), 2);
    }
}

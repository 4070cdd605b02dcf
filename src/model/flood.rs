//! Alarm floods as ISA-18.2 defines them for one operator: more than [`FLOOD_ABOVE`] alarms
//! raised in the last ten minutes begins a flood, fewer than [`FLOOD_ENDS_BELOW`] ends it.
//! Counted in one-second buckets over the window, so memory is fixed however hard a storm
//! blows, and the count is exact to the second. The same detector runs live (the page's own
//! arrivals) and over the alarm log (the health screen's share of time in flood).

use std::collections::VecDeque;

/// The window floods are counted over.
pub const WINDOW_MS: i64 = 10 * 60 * 1_000;
/// More alarms than this in the window: a flood begins.
pub const FLOOD_ABOVE: u32 = 10;
/// Fewer than this in the window: the flood is over.
pub const FLOOD_ENDS_BELOW: u32 = 5;
/// Flood beginnings and ends remembered.
const MOMENTS_KEPT: usize = 100;

/// A flood beginning or ending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Began,
    Ended,
}

/// When a flood began or ended, and how many alarms were in the window then; for an end, how
/// many were raised over the whole flood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moment {
    pub change: Change,
    pub ts: i64,
    pub in_window: u32,
    pub raised_in_flood: u64,
}

/// The flood in progress.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ongoing {
    /// When it began (ms).
    pub since: i64,
    /// Alarms raised since it began (the ones that began it included).
    pub raised: u64,
    /// In the last ten minutes.
    pub in_window: u32,
}

impl Ongoing {
    /// Alarms per minute since the flood began (at least a minute counted).
    pub fn rate_per_minute(&self, now: i64) -> f64 {
        let minutes = ((now - self.since) as f64 / 60_000.0).max(1.0);
        self.raised as f64 / minutes
    }
}

/// The detector.
#[derive(Debug, Clone, PartialEq)]
pub struct Flood {
    /// Seconds in the window.
    seconds: usize,
    /// Alarms raised per second, the newest second last.
    buckets: VecDeque<u32>,
    /// The second of the newest bucket.
    newest: Option<i64>,
    in_window: u32,
    ongoing: Option<Ongoing>,
    moments: VecDeque<Moment>,
}

impl Default for Flood {
    fn default() -> Self {
        Self::with_window(WINDOW_MS)
    }
}

impl Flood {
    /// A detector counting over `window_ms` (at least a second) rather than ten minutes.
    pub fn with_window(window_ms: i64) -> Self {
        let seconds = (window_ms / 1_000).max(1) as usize;
        Self {
            seconds,
            buckets: VecDeque::with_capacity(seconds),
            newest: None,
            in_window: 0,
            ongoing: None,
            moments: VecDeque::new(),
        }
    }

    /// Moves the window to `now` (ms): the seconds that fall out stop counting, and a flood
    /// that fell below its end ends. Returns the change, if one happened.
    pub fn tick(&mut self, now: i64) -> Option<Change> {
        let second = now.div_euclid(1_000);
        match self.newest {
            None => {
                self.buckets.push_back(0);
                self.newest = Some(second);
            }
            Some(newest) if second > newest => {
                let steps = (second - newest).min(self.seconds as i64 + 1);
                for _ in 0..steps {
                    self.buckets.push_back(0);
                    while self.buckets.len() > self.seconds {
                        self.in_window -= self.buckets.pop_front().unwrap_or(0);
                    }
                }
                self.newest = Some(second);
            }
            // A clock that went back counts into the newest second.
            Some(_) => {}
        }
        if let Some(ongoing) = self.ongoing.as_mut() {
            ongoing.in_window = self.in_window;
        }
        if self.ongoing.is_some() && self.in_window < FLOOD_ENDS_BELOW {
            let ended = self.ongoing.take().map_or(0, |o| o.raised);
            self.remember(Moment { change: Change::Ended, ts: now, in_window: self.in_window, raised_in_flood: ended });
            return Some(Change::Ended);
        }
        None
    }

    /// `count` alarms were raised at `now` (ms). Returns the change, if one happened.
    pub fn raised(&mut self, now: i64, count: u32) -> Option<Change> {
        let ended = self.tick(now);
        if let Some(last) = self.buckets.back_mut() {
            *last += count;
        }
        self.in_window += count;
        match self.ongoing.as_mut() {
            Some(ongoing) => {
                ongoing.raised += u64::from(count);
                ongoing.in_window = self.in_window;
                ended
            }
            None if self.in_window > FLOOD_ABOVE => {
                self.ongoing =
                    Some(Ongoing { since: now, raised: u64::from(self.in_window), in_window: self.in_window });
                self.remember(Moment { change: Change::Began, ts: now, in_window: self.in_window, raised_in_flood: 0 });
                Some(Change::Began)
            }
            None => ended,
        }
    }

    fn remember(&mut self, moment: Moment) {
        if self.moments.len() == MOMENTS_KEPT {
            self.moments.pop_front();
        }
        self.moments.push_back(moment);
    }

    /// The window's length (ms).
    pub fn window_ms(&self) -> i64 {
        self.seconds as i64 * 1_000
    }

    /// Alarms raised in the last ten minutes (as of the last tick).
    pub fn in_window(&self) -> u32 {
        self.in_window
    }

    /// The flood in progress, if one is.
    pub fn ongoing(&self) -> Option<Ongoing> {
        self.ongoing
    }

    /// The floods' beginnings and ends, oldest first (the last hundred).
    pub fn moments(&self) -> impl DoubleEndedIterator<Item = &Moment> {
        self.moments.iter()
    }
}

/// The page's own flood watch: the detector fed with the alarms that notify here, and how many
/// of each severity were raised since the flood began (the summary toast's counts).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FloodWatch {
    pub flood: Flood,
    /// Critical, warning, info raised since the flood in progress began (the window's alarms
    /// that began it included, as the flood's own count has them).
    pub by_severity: [u64; 3],
    /// Critical, warning, info raised per second over the window, oldest first: the split of
    /// the alarms that begin a flood.
    recent: VecDeque<(i64, [u64; 3])>,
}

impl FloodWatch {
    /// A watch over `window_ms` (config `floodWindowSeconds`).
    pub fn with_window(window_ms: i64) -> Self {
        Self { flood: Flood::with_window(window_ms), by_severity: [0; 3], recent: VecDeque::new() }
    }

    /// Alarms of these severities were raised at `now`.
    pub fn raised(&mut self, now: i64, severities: impl IntoIterator<Item = telemetry::Severity>) -> Option<Change> {
        let mut counts = [0u64; 3];
        for severity in severities {
            counts[severity_index(severity)] += 1;
        }
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return self.tick(now);
        }
        let second = now.div_euclid(1_000);
        match self.recent.back_mut() {
            Some((at, held)) if *at >= second => held.iter_mut().zip(counts).for_each(|(h, n)| *h += n),
            _ => self.recent.push_back((second, counts)),
        }
        self.forget_before(second);
        let was = self.flood.ongoing().is_some();
        let change = self.flood.raised(now, total.min(u64::from(u32::MAX)) as u32);
        if self.flood.ongoing().is_some() {
            if was {
                self.by_severity.iter_mut().zip(counts).for_each(|(held, n)| *held += n);
            } else {
                // Begun by the whole window: its split, as the flood's count has it.
                self.by_severity = [0; 3];
                for (_, held) in &self.recent {
                    self.by_severity.iter_mut().zip(held).for_each(|(s, n)| *s += n);
                }
            }
        }
        change
    }

    /// Drops the seconds that fell out of the window ending at `second`.
    fn forget_before(&mut self, second: i64) {
        let window = self.flood.window_ms() / 1_000;
        while self.recent.front().is_some_and(|(at, _)| *at <= second - window) {
            self.recent.pop_front();
        }
    }

    /// The window moves on to `now`.
    pub fn tick(&mut self, now: i64) -> Option<Change> {
        self.forget_before(now.div_euclid(1_000));
        let change = self.flood.tick(now);
        if change == Some(Change::Ended) {
            self.by_severity = [0; 3];
        }
        change
    }
}

fn severity_index(severity: telemetry::Severity) -> usize {
    match severity {
        telemetry::Severity::Critical => 0,
        telemetry::Severity::Warning => 1,
        telemetry::Severity::Info => 2,
    }
}

/// Milliseconds in flood between `from` and `to` for alarms raised at `raised` (ms, any order),
/// stepping the detector through every second: the health screen's share of time in flood.
pub fn time_in_flood(raised: &[i64], from: i64, to: i64) -> i64 {
    let mut times: Vec<i64> = raised.to_vec();
    times.sort_unstable();
    let mut flood = Flood::default();
    // Alarms given from before the range still count in its first ten minutes.
    let start = times.first().map_or(from, |t| (*t).min(from)).div_euclid(1_000) * 1_000;
    let mut next = times.iter().peekable();
    let mut in_flood = 0;
    let mut second = start;
    while second <= to {
        flood.tick(second);
        let mut count = 0;
        while next.next_if(|t| **t < second + 1_000).is_some() {
            count += 1;
        }
        if count > 0 {
            flood.raised(second, count);
        }
        if flood.ongoing().is_some() && second >= from && second < to {
            in_flood += 1_000;
        }
        second += 1_000;
    }
    in_flood
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000_000;

    #[test]
    fn more_than_ten_in_ten_minutes_begin_a_flood_and_fewer_than_five_end_it() {
        let mut flood = Flood::default();
        for i in 0..10 {
            assert_eq!(flood.raised(T0 + i * 1_000, 1), None, "ten is not yet a flood");
        }
        assert_eq!(flood.raised(T0 + 10_000, 1), Some(Change::Began), "the eleventh");
        let ongoing = flood.ongoing().unwrap();
        assert_eq!((ongoing.since, ongoing.raised, ongoing.in_window), (T0 + 10_000, 11, 11));
        flood.raised(T0 + 20_000, 29);
        assert_eq!(flood.ongoing().unwrap().raised, 40);
        assert!((flood.ongoing().unwrap().rate_per_minute(T0 + 70_000) - 40.0).abs() < 1e-9);
        // Ten minutes on, the first eleven fell out but 29 are still in: still a flood.
        assert_eq!(flood.tick(T0 + WINDOW_MS + 15_000), None);
        assert_eq!(flood.in_window(), 29);
        // And once those fall out too, it ends.
        assert_eq!(flood.tick(T0 + WINDOW_MS + 21_000), Some(Change::Ended));
        assert_eq!(flood.in_window(), 0);
        let moments: Vec<_> = flood.moments().map(|m| (m.change, m.raised_in_flood)).collect();
        assert_eq!(moments, [(Change::Began, 0), (Change::Ended, 40)]);
        assert!(flood.ongoing().is_none());
    }

    #[test]
    fn the_flood_ends_below_five_not_at_ten() {
        let mut flood = Flood::default();
        flood.raised(T0, 11);
        assert!(flood.ongoing().is_some());
        // Eleven fall out at once, but five arrived meanwhile: five is not below five.
        flood.raised(T0 + 300_000, 5);
        assert_eq!(flood.tick(T0 + WINDOW_MS + 1_000), None);
        assert_eq!(flood.in_window(), 5);
        flood.tick(T0 + 300_000 + WINDOW_MS + 1_000);
        assert!(flood.ongoing().is_none());
    }

    #[test]
    fn a_long_silence_and_a_clock_going_back_keep_the_count_right() {
        let mut flood = Flood::default();
        flood.raised(T0, 3);
        flood.tick(T0 + 10 * WINDOW_MS);
        assert_eq!(flood.in_window(), 0);
        flood.raised(T0 + 10 * WINDOW_MS, 2);
        flood.raised(T0 + 10 * WINDOW_MS - 5_000, 1);
        assert_eq!(flood.in_window(), 3);
        assert!(flood.buckets.len() <= 600, "fixed memory");
        let mut short = Flood::with_window(20_000);
        short.raised(T0, 11);
        assert!(short.ongoing().is_some());
        assert_eq!(short.tick(T0 + 21_000), Some(Change::Ended), "a window of its own");
    }

    #[test]
    fn the_watch_counts_each_severity_in_the_flood() {
        use telemetry::Severity::{Critical, Info, Warning};
        let mut watch = FloodWatch::default();
        assert_eq!(watch.raised(T0, [Info; 10]), None);
        assert_eq!(watch.raised(T0 + 1_000, [Critical, Warning]), Some(Change::Began));
        assert_eq!(watch.by_severity, [1, 1, 10], "the whole window that began it");
        watch.raised(T0 + 2_000, [Critical, Info, Info]);
        assert_eq!(watch.by_severity, [2, 1, 12]);
        assert_eq!(watch.by_severity.iter().sum::<u64>(), watch.flood.ongoing().unwrap().raised, "as the flood counts");
        assert_eq!(watch.tick(T0 + WINDOW_MS + 3_000), Some(Change::Ended));
        assert_eq!(watch.by_severity, [0, 0, 0]);
    }

    #[test]
    fn time_in_flood_over_a_log() {
        // Twelve alarms in the first minute of an hour: a flood from the eleventh (at 10 s)
        // until the eighth falls out of the window at 10 min 7 s (four left).
        let raised: Vec<i64> = (0..12).map(|i| T0 + i * 1_000).collect();
        let ms = time_in_flood(&raised, T0, T0 + 3_600_000);
        assert_eq!(ms, WINDOW_MS + 7_000 - 10_000, "from 10 s to 10 min 7 s");
        assert_eq!(time_in_flood(&raised[..10], T0, T0 + 3_600_000), 0, "ten is no flood");
        assert_eq!(time_in_flood(&[], T0, T0 + 3_600_000), 0);
    }
}

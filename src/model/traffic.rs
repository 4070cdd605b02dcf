//! Live traffic figures for the status bar: messages per second over a sliding window and the
//! latency from device timestamp to arrival (p50 over recent samples), in bounded memory.

use std::collections::VecDeque;

/// Samples kept for the latency percentile.
const LATENCY_SAMPLES: usize = 1_024;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Traffic {
    /// (second, messages in that second) for the last few seconds.
    seconds: VecDeque<(i64, u64)>,
    latencies: VecDeque<f64>,
    /// Position report numbers, checked for loss and repeats.
    pub reports: crate::model::sequence::SequenceCheck,
}

impl Traffic {
    /// A message arrived at `now_ms` (wall clock).
    pub fn message(&mut self, now_ms: i64) {
        let second = now_ms.div_euclid(1000);
        match self.seconds.back_mut() {
            Some((s, n)) if *s == second => *n += 1,
            _ => self.seconds.push_back((second, 1)),
        }
        while self.seconds.front().is_some_and(|(s, _)| *s < second - 10) {
            self.seconds.pop_front();
        }
    }

    /// A device timestamp `ts_ms` arrived at `now_ms`.
    pub fn latency(&mut self, ts_ms: i64, now_ms: i64) {
        if self.latencies.len() == LATENCY_SAMPLES {
            self.latencies.pop_front();
        }
        self.latencies.push_back((now_ms - ts_ms) as f64);
    }

    /// Messages per second over the last `window` complete seconds before `now_ms`.
    pub fn per_second(&self, now_ms: i64, window: i64) -> f64 {
        let current = now_ms.div_euclid(1000);
        let total: u64 =
            self.seconds.iter().filter(|(s, _)| *s < current && *s >= current - window).map(|(_, n)| n).sum();
        total as f64 / window.max(1) as f64
    }

    /// Median latency (ms) of recent samples.
    pub fn latency_p50(&self) -> Option<f64> {
        if self.latencies.is_empty() {
            return None;
        }
        let mut sorted: Vec<f64> = self.latencies.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        Some(sorted[sorted.len() / 2])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_counts_complete_seconds_only() {
        let mut t = Traffic::default();
        for i in 0..30 {
            t.message(10_000 + i * 100); // 10 per second over 3 s
        }
        assert_eq!(t.per_second(13_500, 3), 10.0);
        assert_eq!(t.per_second(20_000, 3), 0.0, "old traffic drops out");
    }

    #[test]
    fn latency_median_is_bounded() {
        let mut t = Traffic::default();
        assert_eq!(t.latency_p50(), None);
        for i in 0..5_000 {
            t.latency(0, i % 100);
        }
        assert_eq!(t.latencies.len(), LATENCY_SAMPLES);
        let p50 = t.latency_p50().unwrap();
        assert!((40.0..=60.0).contains(&p50), "{p50}");
    }
}

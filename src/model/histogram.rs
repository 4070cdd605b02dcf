//! A latency histogram in fixed memory: 1 ms buckets up to 10 s, one overflow bucket. Every
//! sample counts (unlike a window of recent ones), so a benchmark can read exact percentiles
//! over however long it ran.

/// Buckets of 1 ms: 0..1 ms, 1..2 ms, … and one for everything from 10 s up.
const BUCKETS: usize = 10_001;

#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: f64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self { counts: vec![0; BUCKETS], total: 0, max: 0.0 }
    }
}

impl Histogram {
    /// Records one latency in ms (negative ones, from a device clock ahead of ours, count as 0).
    pub fn record(&mut self, ms: f64) {
        let ms = if ms.is_finite() { ms.max(0.0) } else { 0.0 };
        let bucket = (ms as usize).min(BUCKETS - 1);
        self.counts[bucket] += 1;
        self.total += 1;
        self.max = self.max.max(ms);
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    pub fn max(&self) -> f64 {
        self.max
    }

    /// The latency below which a fraction `q` (0..=1) of samples fall, as the upper edge of its
    /// bucket (so to 1 ms); `None` before any sample.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (bucket, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                if bucket == BUCKETS - 1 {
                    return Some(self.max);
                }
                return Some(((bucket + 1) as f64).min(self.max.max(bucket as f64)));
            }
        }
        Some(self.max)
    }

    /// Forgets every sample.
    pub fn reset(&mut self) {
        self.counts.iter_mut().for_each(|c| *c = 0);
        self.total = 0;
        self.max = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_to_the_millisecond() {
        let mut h = Histogram::default();
        assert_eq!(h.quantile(0.5), None);
        for ms in 0..100 {
            h.record(ms as f64 + 0.5);
        }
        assert_eq!(h.count(), 100);
        assert_eq!(h.quantile(0.5), Some(50.0));
        assert_eq!(h.quantile(0.99), Some(99.0));
        assert_eq!(h.quantile(1.0), Some(99.5), "never above the largest sample");
        assert_eq!(h.quantile(0.0), Some(1.0));
    }

    #[test]
    fn odd_samples_are_kept_in_range() {
        let mut h = Histogram::default();
        h.record(-5.0);
        h.record(f64::NAN);
        h.record(60_000.0);
        assert_eq!(h.count(), 3);
        assert_eq!(h.quantile(0.5), Some(1.0));
        assert_eq!(h.quantile(1.0), Some(60_000.0));
        assert_eq!(h.max(), 60_000.0);
        h.reset();
        assert_eq!((h.count(), h.quantile(0.5)), (0, None));
    }
}

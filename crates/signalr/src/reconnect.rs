//! When to try again after a connection is lost (or a first start fails, when asked).
//!
//! The default matches the official client: 0, 2, 10 and 30 seconds, then give up.
//! [`ReconnectPolicy::forever`] suits a wall-screen dashboard: after the listed delays it keeps
//! trying at the last one. Jitter spreads the retries of many screens after a server restart
//! so they do not all arrive in the same instant.

use crate::connection::Millis;

/// Delays between attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconnectPolicy {
    delays: Vec<Millis>,
    /// Used after `delays` run out; `None` gives up.
    then_every: Option<Millis>,
    /// Each delay varies by up to this fraction, up or down (0 = exact).
    jitter: f64,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        Self { delays: vec![0, 2_000, 10_000, 30_000], then_every: None, jitter: 0.0 }
    }
}

impl ReconnectPolicy {
    /// The given delays, then `then_every` forever (or give up with `None`).
    pub fn new(delays: Vec<Millis>, then_every: Option<Millis>) -> Self {
        Self { delays, then_every, jitter: 0.0 }
    }

    /// Never gives up: 0, 2, 10 s, then every 30 s, with 20% jitter.
    pub fn forever() -> Self {
        Self { delays: vec![0, 2_000, 10_000], then_every: Some(30_000), jitter: 0.2 }
    }

    /// Sets the jitter fraction (clamped to 0..=1).
    pub fn with_jitter(mut self, fraction: f64) -> Self {
        self.jitter = fraction.clamp(0.0, 1.0);
        self
    }

    /// The delay before attempt `previous_attempts + 1`, or `None` to give up. `entropy` is
    /// any varying number (the driver passes the clock); the same input gives the same delay.
    pub fn next_delay(&self, previous_attempts: u32, entropy: u64) -> Option<Millis> {
        let base = self.delays.get(previous_attempts as usize).copied().or(self.then_every)?;
        if self.jitter == 0.0 || base == 0 {
            return Some(base);
        }
        let unit = (mix(entropy ^ u64::from(previous_attempts)) >> 11) as f64 / (1u64 << 53) as f64;
        let factor = 1.0 + self.jitter * (2.0 * unit - 1.0);
        Some((base as f64 * factor).round() as Millis)
    }
}

/// SplitMix64's finaliser: spreads nearby inputs over the whole range.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_matches_the_official_client_and_gives_up() {
        let p = ReconnectPolicy::default();
        let delays: Vec<_> = (0..5).map(|n| p.next_delay(n, 0)).collect();
        assert_eq!(delays, [Some(0), Some(2_000), Some(10_000), Some(30_000), None]);
    }

    #[test]
    fn forever_never_gives_up_and_jitters_within_bounds() {
        let p = ReconnectPolicy::forever();
        assert_eq!(p.next_delay(0, 123), Some(0), "the first retry is immediate");
        let mut seen = std::collections::HashSet::new();
        for entropy in 0..1_000 {
            let d = p.next_delay(10, entropy).unwrap();
            assert!((24_000..=36_000).contains(&d), "{d}");
            seen.insert(d);
        }
        assert!(seen.len() > 100, "delays are spread out");
        assert_eq!(p.next_delay(3, 7), p.next_delay(3, 7), "deterministic for the same input");
    }

    #[test]
    fn custom_delays() {
        let p = ReconnectPolicy::new(vec![0, 1], None);
        assert_eq!(p.next_delay(1, 0), Some(1));
        assert_eq!(p.next_delay(2, 0), None);
        let p = ReconnectPolicy::new(vec![100], Some(500)).with_jitter(0.5);
        let d = p.next_delay(5, 42).unwrap();
        assert!((250..=750).contains(&d));
    }
}

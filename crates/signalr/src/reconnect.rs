//! When to try again after a connection is lost or a start fails.
//!
//! The official client gives up after four attempts (0, 2, 10, 30 s) and never retries a
//! failed first start. A wall-screen dashboard must not give up: after the listed delays it
//! keeps trying at the last delay, and the first start is retried the same way.

use crate::connection::Millis;

/// Delays between attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconnectPolicy {
    delays: Vec<Millis>,
    /// Used after `delays` run out; `None` gives up.
    then_every: Option<Millis>,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        Self {
            delays: vec![0, 2_000, 10_000],
            then_every: Some(30_000),
        }
    }
}

impl ReconnectPolicy {
    /// The given delays, then `then_every` forever (or give up with `None`).
    pub fn new(delays: Vec<Millis>, then_every: Option<Millis>) -> Self {
        Self { delays, then_every }
    }

    /// The delay before attempt number `previous_attempts + 1`, or `None` to give up.
    pub fn next_delay(&self, previous_attempts: u32) -> Option<Millis> {
        self.delays
            .get(previous_attempts as usize)
            .copied()
            .or(self.then_every)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_never_gives_up() {
        let p = ReconnectPolicy::default();
        let delays: Vec<_> = (0..6).map(|n| p.next_delay(n)).collect();
        assert_eq!(
            delays,
            [
                Some(0),
                Some(2_000),
                Some(10_000),
                Some(30_000),
                Some(30_000),
                Some(30_000)
            ]
        );
    }

    #[test]
    fn finite_policy_gives_up() {
        let p = ReconnectPolicy::new(vec![0, 1], None);
        assert_eq!(p.next_delay(1), Some(1));
        assert_eq!(p.next_delay(2), None);
    }
}

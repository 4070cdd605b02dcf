//! Catching up after a connect: the snapshot and the group joins are a state with retries,
//! not a one-off call. Until both succeed the page is connected but not in sync (all data flows
//! to `site:` groups, so a failed join means silence), and the status bar says so in words.

/// Where the catch-up after the last connect stands.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SyncState {
    /// Not connected yet (or a hub without a snapshot): nothing to catch up.
    #[default]
    Idle,
    /// Loading the snapshot and joining groups; after a failure, waiting to try again.
    Syncing {
        /// Failed attempts so far.
        failures: u32,
        /// Page clock (ms) of the next attempt, while waiting.
        retry_at: Option<u64>,
        /// Why the last attempt failed (`snapshot answered HTTP 503: ...`).
        problem: Option<String>,
    },
    /// Snapshot loaded and every group joined.
    Synced,
}

impl SyncState {
    /// A catch-up just started.
    pub fn started() -> Self {
        SyncState::Syncing { failures: 0, retry_at: None, problem: None }
    }

    /// Whether the page is still catching up.
    pub fn is_syncing(&self) -> bool {
        matches!(self, SyncState::Syncing { .. })
    }

    /// Whole seconds until the next attempt, while waiting for one.
    pub fn retry_in_seconds(&self, now: u64) -> Option<u64> {
        match self {
            SyncState::Syncing { retry_at: Some(at), .. } => Some(at.saturating_sub(now).div_ceil(1000)),
            _ => None,
        }
    }
}

/// First wait after a failure.
pub const FIRST_RETRY_MS: u64 = 1_000;
/// Longest wait between attempts.
pub const MAX_RETRY_MS: u64 = 30_000;

/// How long to wait after the `failures`-th failure (1 based): doubling from a second, capped
/// at thirty, then jittered by ±20 % with `jitter` in `[0, 1)` so many wall screens that failed
/// together do not come back together.
pub fn retry_delay(failures: u32, jitter: f64) -> u64 {
    let base = FIRST_RETRY_MS.saturating_mul(1 << failures.saturating_sub(1).min(5)).min(MAX_RETRY_MS);
    let factor = 0.8 + 0.4 * jitter.clamp(0.0, 1.0);
    (base as f64 * factor) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_from_a_second_to_thirty_jittered() {
        let middle: Vec<u64> = (1..=8).map(|n| retry_delay(n, 0.5)).collect();
        assert_eq!(middle, [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
        assert_eq!(retry_delay(1, 0.0), 800);
        assert_eq!(retry_delay(1, 0.999_999), 1_199);
        assert_eq!(retry_delay(40, 1.0), 36_000, "capped, then jittered");
        assert_eq!(retry_delay(0, 0.5), 1_000);
    }

    #[test]
    fn the_countdown_only_while_waiting() {
        let waiting = SyncState::Syncing { failures: 1, retry_at: Some(5_500), problem: None };
        assert_eq!(waiting.retry_in_seconds(1_000), Some(5));
        assert_eq!(SyncState::started().retry_in_seconds(0), None);
        assert_eq!(SyncState::Synced.retry_in_seconds(0), None);
        assert!(SyncState::started().is_syncing() && !SyncState::Synced.is_syncing());
    }
}

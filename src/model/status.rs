//! What the status bar shows about the live connection, derived from the client's status.

/// Connection phase as shown to users (and to tests through `data-testid="connection-state"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Connecting,
    Connected,
    Reconnecting,
    Disconnected,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Connecting => "connecting",
            Phase::Connected => "connected",
            Phase::Reconnecting => "reconnecting",
            Phase::Disconnected => "disconnected",
        }
    }
}

/// Everything the status bar needs.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveStatus {
    pub phase: Phase,
    pub transport: Option<&'static str>,
    /// Hub protocol name (`json`, `messagepack`).
    pub protocol: &'static str,
    /// The last problem (connection lost, negotiate failed, bad config), shown as text.
    pub error: Option<String>,
    /// Milliseconds (page clock) when the next attempt starts, while waiting to retry.
    pub retry_at: Option<u64>,
    /// Messages from the server skipped as malformed or unknown.
    pub skipped: u64,
}

impl Default for LiveStatus {
    fn default() -> Self {
        Self { phase: Phase::Connecting, transport: None, protocol: "json", error: None, retry_at: None, skipped: 0 }
    }
}

impl LiveStatus {
    /// Whole seconds until the next attempt, if one is scheduled.
    pub fn retry_in_seconds(&self, now: u64) -> Option<u64> {
        self.retry_at.map(|at| at.saturating_sub(now).div_ceil(1000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countdown_rounds_up_and_stops_at_zero() {
        let status = LiveStatus { retry_at: Some(10_500), ..LiveStatus::default() };
        assert_eq!(status.retry_in_seconds(9_000), Some(2));
        assert_eq!(status.retry_in_seconds(10_500), Some(0));
        assert_eq!(status.retry_in_seconds(20_000), Some(0));
        assert_eq!(LiveStatus::default().retry_in_seconds(0), None);
    }
}

//! Helpers shared by the simulator's integration tests.

use std::sync::Arc;
use std::time::Duration;

use simulator::{AppState, Settings};

/// The simulator's state for a service at `endpoint` signing with `key`, default timing,
/// transports and no faults.
pub(crate) fn state(endpoint: &str, key: &str) -> Arc<AppState> {
    let connection = format!("Endpoint={endpoint};AccessKey={key};Version=1.0;").parse().unwrap();
    AppState::new(Settings { token_lifetime: Duration::from_secs(120), ..Settings::for_connection(connection) })
}

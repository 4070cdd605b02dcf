//! The embedded SignalR service (Azure SignalR Service compatible, serverless mode): client
//! negotiate and the three transports under `/client/?hub=...`.
//!
//! * WebSockets: `GET /client/?hub&id&access_token` with an upgrade;
//! * Server-Sent Events: the same `GET` with `Accept: text/event-stream`, sends by `POST`;
//! * Long Polling: the same `GET` (first poll answers at once, later polls are held until
//!   data or the poll timeout; 204 once the connection is over), sends by `POST`, `DELETE`
//!   ends the connection.
//!
//! With `--plain-hub`, the same hubs are also served at `/hubs/{hub}` the way a plain ASP.NET
//! Core app serves a hub (`MapHub`): negotiate at `/hubs/{hub}/negotiate`, no token, no
//! redirect. Dashboards configured with a hub URL instead of `apiBase` connect there and call
//! the dashboard methods (see `methods::dashboard_method`) instead of the functions API.

//!
//! The protocol of each connection is `signalr::server::ServerSession`; [`connection`] drives
//! it. [`hub`] holds the connections, groups and broadcasts, [`rest`] the data-plane REST API
//! (`/api/v1/hubs/...`) a backend publishes with and manages connections, groups and users
//! through, [`jwt`] and [`connection_string`] the tokens.

mod client;
pub mod connection;
pub mod connection_string;
pub mod hub;
pub mod jwt;
mod methods;
pub mod rest;
mod transports;
mod user_groups;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;

use crate::AppState;

pub use connection::{MAX_BACKLOG, OUTBOUND_CAPACITY};

/// Timers of client connections on the service side.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub handshake_timeout: Duration,
    /// Send a Ping after this long without sending anything.
    pub keep_alive: Duration,
    /// Drop a client that sent nothing (or, on long polling, stopped polling) for this long.
    pub client_timeout: Duration,
    /// Hold a long poll this long before answering it empty.
    pub poll_timeout: Duration,
    /// Acknowledge a stateful client's messages this long after the first unacknowledged one.
    pub ack_delay: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(15),
            keep_alive: Duration::from_secs(15),
            client_timeout: Duration::from_secs(30),
            poll_timeout: Duration::from_secs(90),
            ack_delay: Duration::from_secs(1),
        }
    }
}

/// What the service grants beyond the basics (which transports it refuses is a fault:
/// `crate::faults::Faults::refused_transports`).
#[derive(Debug, Clone, Default)]
pub struct TransportPolicy {
    /// Grant stateful reconnect to clients that ask for it.
    pub stateful_reconnect: bool,
    /// Also serve the hubs at `/hubs/{hub}` with no token, as a plain ASP.NET Core hub.
    pub plain_hub: bool,
}

/// The service's routes: client negotiate and transports, and the REST API.
pub fn routes() -> Router<Arc<AppState>> {
    client::routes().without_v07_checks().merge(rest::routes())
}

//! A SignalR client for dashboards that run in the browser.
//!
//! The protocol lives in a sans-IO core ([`negotiate`], [`protocol`], [`connection`],
//! [`reconnect`], and the service side's [`server`]): plain data in, plain data out, time
//! passed in as an argument, tested natively. The browser adapters (fetch for negotiate, the WebSocket transport, timers and
//! the connection driver) sit behind the `web` feature in [`web`].

pub mod connection;
pub mod negotiate;
pub mod protocol;
pub mod reconnect;
pub mod server;
pub mod stateful;
pub mod url;

#[cfg(feature = "web")]
pub mod web;

pub use connection::{CloseReason, Millis, Session, SessionConfig, SessionEvent};
pub use negotiate::{Bearer, NegotiateError, NegotiateStep, Negotiated, Negotiator, TransportKind};
pub use protocol::{Frame, HubMessage, HubProtocol, Payload, ProtocolError};
pub use reconnect::ReconnectPolicy;
pub use server::{ServerCloseReason, ServerConfig, ServerEvent, ServerSession};

//! What the application sets and hears: the options of a [`super::HubConnection`], its status
//! and lifecycle events, and why an invocation failed.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use crate::connection::{Millis, SessionConfig};
use crate::negotiate::TransportKind;
use crate::protocol::{HubProtocol, Payload};
use crate::reconnect::ReconnectPolicy;

/// An async source of the application's access token, called before every negotiate.
pub type TokenFactory = Rc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<Option<String>, String>>>>>;

/// Called with the arguments of every invocation of a target.
pub type Handler = Rc<dyn Fn(&[Payload])>;

/// Called on every status change.
pub type StatusListener = Rc<dyn Fn(&Status)>;

/// Called on every lifecycle event.
pub type LifecycleListener = Rc<dyn Fn(&Lifecycle)>;

/// Settings of a hub connection.
#[derive(Clone)]
pub struct ClientOptions {
    /// The negotiate base URL, e.g. `http://127.0.0.1:7071/api` or a hub URL.
    pub url: String,
    /// Where the application's token comes from; `None` sends no token to the application's
    /// negotiate (a redirect's service token is still used onwards).
    pub access_token_factory: Option<TokenFactory>,
    /// The hub protocol; MessagePack needs a binary-capable transport (WebSockets).
    pub protocol: HubProtocol,
    /// Transports the client may use, tried in the server's order.
    pub transports: Vec<TransportKind>,
    /// Timeouts and limits of each session. Its `protocol` and `inherent_keep_alive` are set
    /// per connection, and `stateful_buffer` only sizes the buffer: negotiate decides if it is on.
    pub session: SessionConfig,
    /// When to try again after a connection is lost (and after a failed first start, with
    /// `retry_first_start`).
    pub reconnect: ReconnectPolicy,
    /// Retry a failing first start with the reconnect policy too (the official client does
    /// not: dotnet/aspnetcore#24957).
    pub retry_first_start: bool,
    /// Ask for stateful reconnect (used on WebSockets when the server grants it).
    pub stateful_reconnect: bool,
    /// Send cookies with HTTP requests (the official client's default).
    pub with_credentials: bool,
    /// Give up on negotiate, or on a transport that does not open, after this long.
    pub start_timeout: Millis,
}

impl ClientOptions {
    /// Defaults for the hub at `url`: JSON, every transport, stateful reconnect asked for,
    /// cookies sent, the default reconnect policy, 15 s to start.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            access_token_factory: None,
            protocol: HubProtocol::Json,
            transports: vec![TransportKind::WebSockets, TransportKind::ServerSentEvents, TransportKind::LongPolling],
            session: SessionConfig::default(),
            reconnect: ReconnectPolicy::default(),
            retry_first_start: false,
            stateful_reconnect: true,
            with_credentials: true,
            start_timeout: 15_000,
        }
    }
}

/// Coarse connection state, as shown to users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// Not started, stopped, or given up.
    Disconnected,
    /// Starting for the first time (negotiating, opening a transport, or waiting to retry).
    Connecting,
    /// Live: the handshake is done.
    Connected,
    /// Was connected and lost it: resuming, reconnecting, or waiting to.
    Reconnecting,
}

impl ConnectionState {
    /// Lower-case label for a status bar or a log line.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Disconnected => "disconnected",
            ConnectionState::Connecting => "connecting",
            ConnectionState::Connected => "connected",
            ConnectionState::Reconnecting => "reconnecting",
        }
    }
}

/// Everything a status bar needs to know about the connection.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    /// Where the connection stands.
    pub state: ConnectionState,
    /// The transport in use while connected.
    pub transport: Option<TransportKind>,
    /// The hub protocol of the connection.
    pub protocol: HubProtocol,
    /// The negotiated connection id while connected (what the service's groups API takes).
    pub connection_id: Option<String>,
    /// Why the last attempt or session ended, if it did.
    pub last_error: Option<String>,
    /// When the next attempt starts ([`now`] clock), while waiting to reconnect.
    pub retry_at: Option<Millis>,
    /// Attempts since the last successful connection.
    pub attempt: u32,
    /// Whether stateful reconnect is on for the current connection.
    pub stateful: bool,
    /// Messages from the server skipped since the client started (malformed, or of an unknown
    /// type); the last one's reason is in `last_error`.
    pub skipped: u64,
}

impl Default for Status {
    fn default() -> Self {
        Self {
            state: ConnectionState::Disconnected,
            transport: None,
            protocol: HubProtocol::Json,
            connection_id: None,
            last_error: None,
            retry_at: None,
            attempt: 0,
            stateful: false,
            skipped: 0,
        }
    }
}

/// A lifecycle event, for applications that must act on it (rejoin groups, reload state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lifecycle {
    /// Connected for the first time.
    Connected {
        /// The new connection's id.
        connection_id: String,
    },
    /// The connection was lost; reconnecting.
    Reconnecting {
        /// Why the connection was lost.
        error: String,
    },
    /// Connected again, as a new connection (groups and messages of the gap are gone).
    Reconnected {
        /// The new connection's id (not the old one's).
        connection_id: String,
    },
    /// A transport blip was bridged by stateful reconnect: nothing was lost.
    Resumed,
    /// Stopped for good (by `stop()`, a final server Close, or an exhausted policy).
    Closed {
        /// Why the last connection or attempt ended; `None` after `stop()`.
        error: Option<String>,
    },
}

/// Why an invocation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// The hub method threw, or the server refused the call; the text is the server's.
    #[error("the hub method failed: {0}")]
    Hub(String),
    /// The connection ended before the result (or the stream's end) arrived.
    #[error("invocation canceled because the connection closed")]
    ConnectionClosed,
    /// The connection is not started, stopped, or between attempts.
    #[error("the connection is not connected")]
    NotConnected,
    /// The call was not sent: its arguments did not encode, or the session refused it (see
    /// [`SendError`](crate::connection::SendError)).
    #[error("{0}")]
    Encode(String),
    /// The result, or a stream item, does not decode into the type asked for.
    #[error("the result could not be decoded: {0}")]
    Decode(String),
}

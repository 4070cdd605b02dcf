//! Browser adapters and the connection driver.
//!
//! [`HubConnection`] runs one async task that negotiates (following redirects), opens the
//! transport, and pumps bytes and timer ticks through the sans-IO [`Session`]. It reconnects
//! by itself, the first start included, and reports every state change to listeners.

mod http;
mod websocket;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use futures::channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use futures::{select_biased, FutureExt, StreamExt};
use gloo_timers::future::TimeoutFuture;
use serde_json::value::RawValue;

use crate::connection::{CloseReason, Millis, Session, SessionConfig, SessionEvent};
use crate::negotiate::{
    websocket_url, Bearer, NegotiateStep, Negotiated, Negotiator, TransportKind,
};
use crate::protocol::HubMessage;
use crate::reconnect::ReconnectPolicy;

pub use websocket::{TransportEvent, WebSocketTransport};

/// An async source of the application's access token, called before every negotiate.
pub type TokenFactory =
    Rc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<Option<String>, String>>>>>;

/// Called with the arguments of every invocation of a target.
pub type Handler = Rc<dyn Fn(&[Box<RawValue>])>;

/// Called on every status change.
pub type StatusListener = Rc<dyn Fn(&Status)>;

/// Settings of a hub connection.
#[derive(Clone)]
pub struct ClientOptions {
    /// The negotiate base URL, e.g. `http://127.0.0.1:7071/api` or a hub URL.
    pub url: String,
    pub access_token_factory: Option<TokenFactory>,
    pub session: SessionConfig,
    pub reconnect: ReconnectPolicy,
    /// Send cookies with negotiate (the official client's default).
    pub with_credentials: bool,
    /// Give up on a negotiate request after this long.
    pub negotiate_timeout: Millis,
}

impl ClientOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            access_token_factory: None,
            session: SessionConfig::default(),
            reconnect: ReconnectPolicy::default(),
            with_credentials: true,
            negotiate_timeout: 15_000,
        }
    }
}

/// Coarse connection state, as shown to users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    Disconnected,
    Connecting,
    Connected,
    Reconnecting,
}

impl ConnectionState {
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
    pub state: ConnectionState,
    pub transport: Option<TransportKind>,
    pub connection_id: Option<String>,
    /// Why the last attempt or session ended, if it did.
    pub last_error: Option<String>,
    /// When the next attempt starts ([`now`] clock), while waiting to reconnect.
    pub retry_at: Option<Millis>,
    /// Attempts since the last successful connection.
    pub attempt: u32,
}

impl Default for Status {
    fn default() -> Self {
        Self {
            state: ConnectionState::Disconnected,
            transport: None,
            connection_id: None,
            last_error: None,
            retry_at: None,
            attempt: 0,
        }
    }
}

/// The driver's clock: `performance.now()` in whole milliseconds.
pub fn now() -> Millis {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now() as Millis)
        .unwrap_or_else(|| js_sys::Date::now() as Millis)
}

enum Command {
    Send {
        target: String,
        arguments: Box<RawValue>,
    },
    Stop,
}

struct Inner {
    options: ClientOptions,
    handlers: RefCell<HashMap<String, Vec<Handler>>>,
    listeners: RefCell<Vec<StatusListener>>,
    status: RefCell<Status>,
    commands: RefCell<Option<UnboundedSender<Command>>>,
    running: Cell<bool>,
}

impl Inner {
    fn update(&self, change: impl FnOnce(&mut Status)) {
        let snapshot = {
            let mut status = self.status.borrow_mut();
            change(&mut status);
            status.clone()
        };
        let listeners: Vec<_> = self.listeners.borrow().clone();
        for listener in listeners {
            listener(&snapshot);
        }
    }

    fn dispatch(&self, target: &str, arguments: &[Box<RawValue>]) {
        let handlers = self
            .handlers
            .borrow()
            .get(&target.to_ascii_lowercase())
            .cloned();
        for handler in handlers.into_iter().flatten() {
            handler(arguments);
        }
    }
}

/// A SignalR hub connection in the browser. Cheap to clone; all clones share one connection.
#[derive(Clone)]
pub struct HubConnection {
    inner: Rc<Inner>,
}

impl HubConnection {
    pub fn new(options: ClientOptions) -> Self {
        Self {
            inner: Rc::new(Inner {
                options,
                handlers: RefCell::new(HashMap::new()),
                listeners: RefCell::new(Vec::new()),
                status: RefCell::new(Status::default()),
                commands: RefCell::new(None),
                running: Cell::new(false),
            }),
        }
    }

    /// Registers a handler for a target (case-insensitive, like the official client).
    pub fn on(&self, target: &str, handler: impl Fn(&[Box<RawValue>]) + 'static) {
        self.inner
            .handlers
            .borrow_mut()
            .entry(target.to_ascii_lowercase())
            .or_default()
            .push(Rc::new(handler));
    }

    /// Registers a status listener; it is called at once with the current status.
    pub fn on_status(&self, listener: impl Fn(&Status) + 'static) {
        let listener: StatusListener = Rc::new(listener);
        listener(&self.status());
        self.inner.listeners.borrow_mut().push(listener);
    }

    pub fn status(&self) -> Status {
        self.inner.status.borrow().clone()
    }

    /// Starts connecting in the background (no-op if already running). A failing first start
    /// is retried with the reconnect policy, like a lost connection.
    pub fn start(&self) {
        if self.inner.running.replace(true) {
            return;
        }
        let (tx, rx) = unbounded();
        *self.inner.commands.borrow_mut() = Some(tx);
        wasm_bindgen_futures::spawn_local(run(self.inner.clone(), rx));
    }

    /// Sends a fire-and-forget invocation if connected. `arguments` is the argument list
    /// (a tuple or an array), serialized as the JSON `arguments` array.
    pub fn send(&self, target: &str, arguments: &impl serde::Serialize) -> Result<(), String> {
        let arguments = serde_json::value::to_raw_value(arguments).map_err(|e| e.to_string())?;
        self.command(Command::Send {
            target: target.to_string(),
            arguments,
        })
    }

    /// Stops the connection; status becomes disconnected.
    pub fn stop(&self) {
        let _ = self.command(Command::Stop);
    }

    fn command(&self, command: Command) -> Result<(), String> {
        match self.inner.commands.borrow().as_ref() {
            Some(tx) => tx
                .unbounded_send(command)
                .map_err(|_| "the connection is stopped".to_string()),
            None => Err("the connection was never started".to_string()),
        }
    }
}

enum Outcome {
    Stopped,
    Ended {
        reason: CloseReason,
        was_connected: bool,
    },
}

async fn run(inner: Rc<Inner>, mut commands: UnboundedReceiver<Command>) {
    let mut attempts: u32 = 0;
    let mut ever_connected = false;
    loop {
        let state = if ever_connected {
            ConnectionState::Reconnecting
        } else {
            ConnectionState::Connecting
        };
        inner.update(|s| {
            s.state = state;
            s.retry_at = None;
        });
        match connect_once(&inner, &mut commands).await {
            Outcome::Stopped => break,
            Outcome::Ended {
                reason,
                was_connected,
            } => {
                if was_connected {
                    ever_connected = true;
                    attempts = 0;
                }
                let message = reason.to_string();
                inner.update(|s| {
                    s.last_error = Some(message);
                    s.transport = None;
                    s.connection_id = None;
                });
                if !reason.may_reconnect() {
                    break;
                }
            }
        }
        let Some(delay) = inner.options.reconnect.next_delay(attempts) else {
            break;
        };
        attempts += 1;
        let retry_at = now() + delay;
        let state = if ever_connected {
            ConnectionState::Reconnecting
        } else {
            ConnectionState::Connecting
        };
        inner.update(|s| {
            s.state = state;
            s.retry_at = Some(retry_at);
            s.attempt = attempts;
        });
        if wait_or_stop(delay, &mut commands).await {
            break;
        }
    }
    inner.running.set(false);
    inner.commands.borrow_mut().take();
    inner.update(|s| {
        s.state = ConnectionState::Disconnected;
        s.transport = None;
        s.connection_id = None;
        s.retry_at = None;
    });
}

/// Sleeps for `delay`; returns true if a Stop arrived meanwhile.
async fn wait_or_stop(delay: Millis, commands: &mut UnboundedReceiver<Command>) -> bool {
    let mut timer = TimeoutFuture::new(delay.min(u32::MAX as u64) as u32).fuse();
    loop {
        select_biased! {
            command = commands.next() => match command {
                Some(Command::Stop) | None => return true,
                Some(Command::Send { .. }) => {} // nothing to send on while disconnected
            },
            _ = timer => return false,
        }
    }
}

async fn negotiate(options: &ClientOptions) -> Result<Negotiated, String> {
    let mut negotiator = Negotiator::new(options.url.clone());
    let mut request = negotiator.first_request();
    loop {
        let token = match &request.bearer {
            Bearer::Service(token) => Some(token.clone()),
            Bearer::App => match &options.access_token_factory {
                Some(factory) => factory().await?,
                None => None,
            },
        };
        let (status, body) = {
            let mut call = Box::pin(
                http::post_negotiate(&request.url, token.as_deref(), options.with_credentials)
                    .fuse(),
            );
            let mut timeout = TimeoutFuture::new(options.negotiate_timeout as u32).fuse();
            select_biased! {
                answer = call => answer?,
                _ = timeout => return Err(format!("negotiate with {} timed out", request.url)),
            }
        };
        match negotiator
            .handle_response(status, &body)
            .map_err(|e| e.to_string())?
        {
            NegotiateStep::Request(next) => request = next,
            NegotiateStep::Done(done) => return Ok(done),
        }
    }
}

async fn connect_once(inner: &Rc<Inner>, commands: &mut UnboundedReceiver<Command>) -> Outcome {
    let options = &inner.options;
    let negotiated = {
        let mut attempt = Box::pin(negotiate(options).fuse());
        loop {
            select_biased! {
                command = commands.next() => match command {
                    Some(Command::Stop) | None => return Outcome::Stopped,
                    Some(Command::Send { .. }) => {}
                },
                result = attempt => match result {
                    Ok(negotiated) => break negotiated,
                    Err(error) => {
                        return Outcome::Ended { reason: CloseReason::TransportLost(error), was_connected: false }
                    }
                },
            }
        }
    };
    if !negotiated
        .offer
        .transports
        .iter()
        .any(|t| t.kind == TransportKind::WebSockets)
    {
        return Outcome::Ended {
            reason: CloseReason::TransportLost(
                "the server offers no transport this client supports".into(),
            ),
            was_connected: false,
        };
    }
    let token = match &negotiated.bearer {
        Bearer::Service(token) => Some(token.clone()),
        Bearer::App => match &options.access_token_factory {
            Some(factory) => factory().await.ok().flatten(),
            None => None,
        },
    };
    let url = websocket_url(&negotiated.connect_url(), token.as_deref());
    let (events_tx, mut events) = unbounded();
    let socket = match WebSocketTransport::open(&url, events_tx) {
        Ok(socket) => socket,
        Err(error) => {
            return Outcome::Ended {
                reason: CloseReason::TransportLost(error),
                was_connected: false,
            }
        }
    };
    let mut session = Session::new(options.session.clone());
    let mut was_connected = false;
    loop {
        while let Some(frame) = session.poll_transmit() {
            if let Err(error) = socket.send(&frame) {
                session.handle_transport_closed(error);
            }
        }
        while let Some(event) = session.poll_event() {
            match event {
                SessionEvent::Connected => {
                    was_connected = true;
                    let connection_id = negotiated.offer.connection_id.clone();
                    inner.update(|s| {
                        s.state = ConnectionState::Connected;
                        s.transport = Some(TransportKind::WebSockets);
                        s.connection_id = Some(connection_id);
                        s.last_error = None;
                        s.retry_at = None;
                        s.attempt = 0;
                    });
                }
                SessionEvent::Message(HubMessage::Invocation {
                    target, arguments, ..
                }) => {
                    inner.dispatch(&target, &arguments);
                }
                SessionEvent::Message(_) => {}
                SessionEvent::Skipped(error) => {
                    web_sys::console::warn_1(
                        &format!("signalr: skipped a message: {error}").into(),
                    );
                }
                SessionEvent::Closed(CloseReason::Stopped) => {
                    return Outcome::Stopped;
                }
                SessionEvent::Closed(reason) => {
                    return Outcome::Ended {
                        reason,
                        was_connected,
                    }
                }
            }
        }
        let wait = session
            .poll_timeout()
            .map(|deadline| deadline.saturating_sub(now()))
            .unwrap_or(60_000);
        let mut timer = TimeoutFuture::new(wait.min(u32::MAX as u64) as u32).fuse();
        select_biased! {
            event = events.next() => match event {
                Some(TransportEvent::Open) => session.handle_open(now()),
                Some(TransportEvent::Text(text)) => session.handle_text(&text, now()),
                Some(TransportEvent::Closed { code, reason, clean }) => {
                    let detail = if reason.is_empty() { String::new() } else { format!(" ({reason})") };
                    let how = if clean { "closed" } else { "failed" };
                    session.handle_transport_closed(format!("WebSocket {how} with status code {code}{detail}"));
                }
                None => session.handle_transport_closed("WebSocket event channel ended"),
            },
            command = commands.next() => match command {
                Some(Command::Send { target, arguments }) => {
                    if let Err(error) = session.send(&target, &arguments, now()) {
                        web_sys::console::warn_1(&format!("signalr: send to {target} dropped: {error}").into());
                    }
                }
                Some(Command::Stop) | None => session.stop(now()),
            },
            _ = timer => session.handle_timeout(now()),
        }
    }
}

//! The browser connection driver.
//!
//! [`HubConnection`] runs one async task that negotiates (following redirects), picks a
//! transport in the server's order among those allowed (falling back to the next when one
//! fails to start), and pumps bytes and timer ticks through the sans-IO [`Session`]. It
//! resumes stateful connections after a transport blip, reconnects by the policy otherwise,
//! and reports every change to the application.

mod http;
mod options;
mod transport;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures::channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use futures::channel::oneshot;
use futures::{select_biased, FutureExt, StreamExt};
use gloo_timers::future::TimeoutFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::connection::{CloseReason, Millis, Session, SessionConfig, SessionEvent};
use crate::negotiate::{Bearer, NegotiateStep, Negotiated, Negotiator, TransportKind};
use crate::protocol::{HubMessage, Payload};

pub use options::{
    ClientOptions, ConnectionState, Handler, InvokeError, Lifecycle, LifecycleListener, Status, StatusListener,
    TokenFactory,
};
pub use transport::{utf8_bytes, Endpoint, Transport, TransportEvent};

/// The driver's clock: `performance.now()` in whole milliseconds.
pub fn now() -> Millis {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now() as Millis)
        .unwrap_or_else(|| js_sys::Date::now() as Millis)
}

type Reply = oneshot::Sender<Result<Option<Payload>, InvokeError>>;
type StreamSink = UnboundedSender<Result<Payload, InvokeError>>;

enum Command {
    Send { target: String, arguments: Vec<Payload> },
    Invoke { target: String, arguments: Vec<Payload>, reply: Reply },
    Stream { target: String, arguments: Vec<Payload>, sink: StreamSink, id: Rc<RefCell<Option<String>>> },
    Cancel { id: Rc<RefCell<Option<String>>> },
    Stop,
}

struct Inner {
    options: ClientOptions,
    handlers: RefCell<HashMap<String, Vec<Handler>>>,
    listeners: RefCell<Vec<StatusListener>>,
    lifecycle: RefCell<Vec<LifecycleListener>>,
    status: RefCell<Status>,
    commands: RefCell<Option<UnboundedSender<Command>>>,
    running: Cell<bool>,
}

impl Inner {
    fn update(&self, change: impl FnOnce(&mut Status)) {
        let snapshot = {
            let mut status = self.status.borrow_mut();
            let before = status.clone();
            change(&mut status);
            if *status == before {
                return;
            }
            status.clone()
        };
        let listeners: Vec<_> = self.listeners.borrow().clone();
        for listener in listeners {
            listener(&snapshot);
        }
    }

    fn emit(&self, event: Lifecycle) {
        let listeners: Vec<_> = self.lifecycle.borrow().clone();
        for listener in listeners {
            listener(&event);
        }
    }

    fn dispatch(&self, target: &str, arguments: &[Payload]) {
        let handlers = self.handlers.borrow().get(&target.to_ascii_lowercase()).cloned();
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
    /// A connection with these options, not started yet: register handlers, then
    /// [`start`](Self::start).
    pub fn new(options: ClientOptions) -> Self {
        let status = Status { protocol: options.protocol, ..Status::default() };
        Self {
            inner: Rc::new(Inner {
                options,
                handlers: RefCell::new(HashMap::new()),
                listeners: RefCell::new(Vec::new()),
                lifecycle: RefCell::new(Vec::new()),
                status: RefCell::new(status),
                commands: RefCell::new(None),
                running: Cell::new(false),
            }),
        }
    }

    /// Registers a handler for a target (case-insensitive, like the official client).
    pub fn on(&self, target: &str, handler: impl Fn(&[Payload]) + 'static) {
        self.inner.handlers.borrow_mut().entry(target.to_ascii_lowercase()).or_default().push(Rc::new(handler));
    }

    /// Registers a status listener; it is called at once with the current status.
    pub fn on_status(&self, listener: impl Fn(&Status) + 'static) {
        let listener: StatusListener = Rc::new(listener);
        listener(&self.status());
        self.inner.listeners.borrow_mut().push(listener);
    }

    /// Registers a lifecycle listener (connected, reconnecting, reconnected, resumed, closed).
    pub fn on_lifecycle(&self, listener: impl Fn(&Lifecycle) + 'static) {
        self.inner.lifecycle.borrow_mut().push(Rc::new(listener));
    }

    /// The current status.
    pub fn status(&self) -> Status {
        self.inner.status.borrow().clone()
    }

    /// Starts connecting in the background (no-op if already running).
    pub fn start(&self) {
        if self.inner.running.replace(true) {
            return;
        }
        let (tx, rx) = unbounded();
        *self.inner.commands.borrow_mut() = Some(tx);
        wasm_bindgen_futures::spawn_local(run(self.inner.clone(), rx));
    }

    /// Encodes an argument list (a tuple, an array, or `()` for none) for this connection's
    /// protocol.
    pub fn arguments(&self, arguments: &impl Serialize) -> Result<Vec<Payload>, String> {
        let items = match serde_json::to_value(arguments).map_err(|e| e.to_string())? {
            serde_json::Value::Array(items) => items,
            // `()`: no arguments.
            serde_json::Value::Null => Vec::new(),
            _ => return Err("arguments must serialize as a list (use a tuple or an array)".into()),
        };
        let protocol = self.inner.options.protocol;
        items.iter().map(|item| protocol.payload(item).map_err(|e| e.to_string())).collect()
    }

    /// Sends a fire-and-forget invocation (dropped with a warning if not connected).
    pub fn send(&self, target: &str, arguments: &impl Serialize) -> Result<(), String> {
        let arguments = self.arguments(arguments)?;
        self.command(Command::Send { target: target.to_string(), arguments })
    }

    /// Invokes a hub method and waits for its result.
    pub async fn invoke<R: DeserializeOwned>(
        &self,
        target: &str,
        arguments: &impl Serialize,
    ) -> Result<R, InvokeError> {
        let arguments = self.arguments(arguments).map_err(InvokeError::Encode)?;
        let (reply, answer) = oneshot::channel();
        self.command(Command::Invoke { target: target.to_string(), arguments, reply })
            .map_err(|_| InvokeError::NotConnected)?;
        let result = answer.await.map_err(|_| InvokeError::ConnectionClosed)??;
        match result {
            Some(payload) => payload.decode().map_err(|e| InvokeError::Decode(e.to_string())),
            // A void method: decode `null` (works for `()` and `Option<_>`).
            None => serde_json::from_str("null").map_err(|e| InvokeError::Decode(e.to_string())),
        }
    }

    /// Starts a server-to-client stream. Dropping the returned stream cancels it on the server.
    pub fn stream<T: DeserializeOwned>(&self, target: &str, arguments: &impl Serialize) -> HubStream<T> {
        let (sink, items) = unbounded();
        let id = Rc::new(RefCell::new(None));
        let started = self.arguments(arguments).map_err(InvokeError::Encode).and_then(|arguments| {
            self.command(Command::Stream { target: target.to_string(), arguments, sink: sink.clone(), id: id.clone() })
                .map_err(|_| InvokeError::NotConnected)
        });
        if let Err(error) = started {
            let _ = sink.unbounded_send(Err(error));
        }
        HubStream { items, id, commands: self.inner.commands.borrow().clone(), _item: std::marker::PhantomData }
    }

    /// Stops the connection; status becomes disconnected.
    pub fn stop(&self) {
        let _ = self.command(Command::Stop);
    }

    fn command(&self, command: Command) -> Result<(), String> {
        match self.inner.commands.borrow().as_ref() {
            Some(tx) => tx.unbounded_send(command).map_err(|_| "the connection is stopped".to_string()),
            None => Err("the connection is not started".to_string()),
        }
    }
}

/// Items of a server-to-client stream; ends after the server's Completion. Dropping it
/// before the end cancels the stream on the server.
pub struct HubStream<T> {
    items: UnboundedReceiver<Result<Payload, InvokeError>>,
    id: Rc<RefCell<Option<String>>>,
    commands: Option<UnboundedSender<Command>>,
    _item: std::marker::PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> futures::Stream for HubStream<T> {
    type Item = Result<T, InvokeError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.items.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(payload))) => {
                Poll::Ready(Some(payload.decode().map_err(|e| InvokeError::Decode(e.to_string()))))
            }
            Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(error))),
            Poll::Ready(None) => {
                self.id.borrow_mut().take(); // completed: nothing to cancel
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T> Drop for HubStream<T> {
    fn drop(&mut self) {
        if let Some(commands) = &self.commands {
            let _ = commands.unbounded_send(Command::Cancel { id: self.id.clone() });
        }
    }
}

enum Outcome {
    Stopped,
    Ended { reason: CloseReason, was_connected: bool },
}

async fn run(inner: Rc<Inner>, mut commands: UnboundedReceiver<Command>) {
    let policy = inner.options.reconnect.clone();
    let mut attempts: u32 = 0;
    let mut ever_connected = false;
    let mut final_error = None;
    loop {
        let state = if ever_connected { ConnectionState::Reconnecting } else { ConnectionState::Connecting };
        inner.update(|s| {
            s.state = state;
            s.retry_at = None;
        });
        match connect_once(&inner, &mut commands, ever_connected).await {
            Outcome::Stopped => break,
            Outcome::Ended { reason, was_connected } => {
                if was_connected {
                    ever_connected = true;
                    attempts = 0;
                }
                let message = reason.to_string();
                final_error = Some(message.clone());
                inner.update(|s| {
                    s.last_error = Some(message.clone());
                    s.transport = None;
                    s.connection_id = None;
                    s.stateful = false;
                });
                let may_retry = reason.may_reconnect() && (ever_connected || inner.options.retry_first_start);
                if !may_retry {
                    break;
                }
                if was_connected {
                    inner.emit(Lifecycle::Reconnecting { error: message });
                }
            }
        }
        let Some(delay) = policy.next_delay(attempts, now()) else {
            break;
        };
        attempts += 1;
        let retry_at = now() + delay;
        let state = if ever_connected { ConnectionState::Reconnecting } else { ConnectionState::Connecting };
        inner.update(|s| {
            s.state = state;
            s.retry_at = Some(retry_at);
            s.attempt = attempts;
        });
        if wait_or_stop(delay, &mut commands).await {
            final_error = None;
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
    inner.emit(Lifecycle::Closed { error: final_error });
}

/// Sleeps for `delay`; returns true if a Stop arrived meanwhile. Other commands fail fast.
async fn wait_or_stop(delay: Millis, commands: &mut UnboundedReceiver<Command>) -> bool {
    let mut timer = TimeoutFuture::new(delay.min(u32::MAX as u64) as u32).fuse();
    loop {
        select_biased! {
            command = commands.next() => match command {
                Some(Command::Stop) | None => return true,
                Some(other) => refuse(other),
            },
            _ = timer => return false,
        }
    }
}

/// Answers a command that cannot run now (not connected).
fn refuse(command: Command) {
    match command {
        Command::Invoke { reply, .. } => {
            let _ = reply.send(Err(InvokeError::NotConnected));
        }
        Command::Stream { sink, .. } => {
            let _ = sink.unbounded_send(Err(InvokeError::NotConnected));
        }
        Command::Send { target, .. } => warn(&format!("signalr: send to {target} dropped: not connected")),
        Command::Cancel { .. } | Command::Stop => {}
    }
}

fn warn(message: &str) {
    web_sys::console::warn_1(&message.into());
}

async fn app_token(options: &ClientOptions) -> Result<Option<String>, String> {
    match &options.access_token_factory {
        Some(factory) => factory().await,
        None => Ok(None),
    }
}

async fn negotiate(options: &ClientOptions) -> Result<Negotiated, String> {
    let mut negotiator = Negotiator::new(options.url.clone()).with_stateful_reconnect(options.stateful_reconnect);
    let mut request = negotiator.first_request();
    loop {
        // The app's token goes only to the app's endpoint; a redirect's token only onwards.
        let token = match &request.bearer {
            Bearer::Service(token) => Some(token.clone()),
            Bearer::App => app_token(options).await?,
        };
        let (status, body) = {
            let mut call =
                Box::pin(http::post_negotiate(&request.url, token.as_deref(), options.with_credentials).fuse());
            let mut timeout = TimeoutFuture::new(options.start_timeout as u32).fuse();
            select_biased! {
                answer = call => answer?,
                _ = timeout => return Err(format!("negotiate with {} timed out", request.url)),
            }
        };
        match negotiator.handle_response(status, &body).map_err(|e| format!("negotiate failed: {e}"))? {
            NegotiateStep::Request(next) => request = next,
            NegotiateStep::Done(done) => return Ok(done),
        }
    }
}

/// Transports to try for an offer: the server's order, filtered by the allow-list and by the
/// protocol's transfer format.
pub fn candidates(options: &ClientOptions, offer: &crate::negotiate::ConnectionOffer) -> Vec<TransportKind> {
    let format = options.protocol.transfer_format().as_str();
    offer
        .transports
        .iter()
        .filter(|t| options.transports.contains(&t.kind))
        .filter(|t| t.transfer_formats.iter().any(|f| f == format))
        .map(|t| t.kind)
        .collect()
}

/// Opens `kind` and waits for it to open (or fail).
async fn open_transport(
    kind: TransportKind,
    endpoint: &Endpoint,
    timeout: Millis,
) -> Result<(Transport, UnboundedReceiver<TransportEvent>), String> {
    let (tx, mut events) = unbounded();
    let transport = Transport::start(kind, endpoint, tx)?;
    let mut timer = TimeoutFuture::new(timeout as u32).fuse();
    select_biased! {
        event = events.next() => match event {
            Some(TransportEvent::Open) => Ok((transport, events)),
            Some(TransportEvent::Closed(reason)) => Err(reason),
            Some(TransportEvent::Data(_)) | None => Err("the transport failed before opening".into()),
        },
        _ = timer => Err(format!("{} did not open within {timeout} ms", kind.as_str())),
    }
}

async fn connect_once(inner: &Rc<Inner>, commands: &mut UnboundedReceiver<Command>, reconnect: bool) -> Outcome {
    let options = &inner.options;
    let mut failures = Vec::new();
    let mut tried: Vec<TransportKind> = Vec::new();
    loop {
        // Every transport attempt gets a fresh negotiation (and connection id).
        let negotiated = {
            let mut attempt = Box::pin(negotiate(options).fuse());
            loop {
                select_biased! {
                    command = commands.next() => match command {
                        Some(Command::Stop) | None => return Outcome::Stopped,
                        Some(other) => refuse(other),
                    },
                    result = attempt => break result,
                }
            }
        };
        let negotiated = match negotiated {
            Ok(negotiated) => negotiated,
            Err(error) => return Outcome::Ended { reason: CloseReason::TransportLost(error), was_connected: false },
        };
        let all = candidates(options, &negotiated.offer);
        if all.is_empty() {
            let error = "none of the transports this client allows is offered by the server".to_string();
            return Outcome::Ended { reason: CloseReason::TransportLost(error), was_connected: false };
        }
        let Some(kind) = all.into_iter().find(|k| !tried.contains(k)) else {
            let error = format!("unable to connect with any transport: {}", failures.join("; "));
            return Outcome::Ended { reason: CloseReason::TransportLost(error), was_connected: false };
        };
        tried.push(kind);
        let token = match &negotiated.bearer {
            Bearer::Service(token) => Some(token.clone()),
            Bearer::App => app_token(options).await.ok().flatten(),
        };
        let endpoint = Endpoint {
            url: negotiated.connect_url(),
            access_token: token,
            with_credentials: options.with_credentials,
            format: options.protocol.transfer_format(),
        };
        match open_transport(kind, &endpoint, options.start_timeout).await {
            Ok((transport, events)) => {
                return run_session(inner, commands, negotiated, endpoint, transport, events, reconnect).await;
            }
            Err(error) => failures.push(format!("{} failed: {error}", kind.as_str())),
        }
    }
}

#[derive(Default)]
struct Pending {
    invocations: HashMap<String, Reply>,
    streams: HashMap<String, StreamSink>,
}

impl Pending {
    fn fail_all(&mut self) {
        for (_, reply) in self.invocations.drain() {
            let _ = reply.send(Err(InvokeError::ConnectionClosed));
        }
        for (_, sink) in self.streams.drain() {
            let _ = sink.unbounded_send(Err(InvokeError::ConnectionClosed));
        }
    }
}

async fn run_session(
    inner: &Rc<Inner>,
    commands: &mut UnboundedReceiver<Command>,
    negotiated: Negotiated,
    endpoint: Endpoint,
    mut transport: Transport,
    mut events: UnboundedReceiver<TransportEvent>,
    reconnect: bool,
) -> Outcome {
    let options = &inner.options;
    let kind = transport.kind();
    let stateful = negotiated.offer.use_stateful_reconnect && kind == TransportKind::WebSockets;
    let config = SessionConfig {
        protocol: options.protocol,
        inherent_keep_alive: kind == TransportKind::LongPolling,
        stateful_buffer: stateful
            .then_some(options.session.stateful_buffer.unwrap_or(crate::stateful::DEFAULT_BUFFER_BYTES)),
        ..options.session.clone()
    };
    let mut session = Session::new(config);
    session.handle_open(now());
    let mut pending = Pending::default();
    let mut was_connected = false;
    loop {
        while let Some(frame) = session.poll_transmit() {
            if let Err(error) = transport.send(frame) {
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
                        s.transport = Some(kind);
                        s.connection_id = Some(connection_id.clone());
                        s.last_error = None;
                        s.retry_at = None;
                        s.attempt = 0;
                        s.stateful = stateful;
                    });
                    inner.emit(if reconnect {
                        Lifecycle::Reconnected { connection_id }
                    } else {
                        Lifecycle::Connected { connection_id }
                    });
                }
                SessionEvent::Message(message) => handle_message(inner, &mut pending, message),
                SessionEvent::Skipped(error) => {
                    warn(&format!("signalr: skipped a message: {error}"));
                    inner.update(|s| {
                        s.skipped += 1;
                        s.last_error = Some(format!("skipped a message from the server: {error}"));
                    });
                }
                SessionEvent::TransportLost(error) => {
                    // Stateful reconnect: reopen the same connection; the session replays.
                    inner.update(|s| {
                        s.state = ConnectionState::Reconnecting;
                        s.last_error = Some(format!("connection lost: {error}; resuming"));
                    });
                    match open_transport(kind, &endpoint, options.start_timeout).await {
                        Ok((reopened, reopened_events)) => {
                            transport = reopened;
                            events = reopened_events;
                            session.handle_resumed_open(now());
                        }
                        Err(error) => session.handle_transport_closed(error),
                    }
                }
                SessionEvent::Resumed => {
                    inner.update(|s| {
                        s.state = ConnectionState::Connected;
                        s.last_error = None;
                    });
                    inner.emit(Lifecycle::Resumed);
                }
                SessionEvent::Closed(CloseReason::Stopped) => {
                    pending.fail_all();
                    return Outcome::Stopped;
                }
                SessionEvent::Closed(reason) => {
                    pending.fail_all();
                    return Outcome::Ended { reason, was_connected };
                }
            }
        }
        let wait = session.poll_timeout().map(|deadline| deadline.saturating_sub(now())).unwrap_or(60_000);
        let mut timer = TimeoutFuture::new(wait.min(u32::MAX as u64) as u32).fuse();
        select_biased! {
            event = events.next() => match event {
                Some(TransportEvent::Data(bytes)) => session.handle_data(&bytes, now()),
                Some(TransportEvent::Open) => {}
                Some(TransportEvent::Closed(reason)) => session.handle_transport_closed(reason),
                None => session.handle_transport_closed("the transport's event channel ended"),
            },
            command = commands.next() => match command {
                Some(command) => run_command(&mut session, &mut pending, command),
                None => session.stop(now()),
            },
            _ = timer => session.handle_timeout(now()),
        }
    }
}

fn run_command(session: &mut Session, pending: &mut Pending, command: Command) {
    let now = now();
    match command {
        Command::Send { target, arguments } => {
            if let Err(error) = session.send(&target, arguments, now) {
                warn(&format!("signalr: send to {target} dropped: {error}"));
            }
        }
        Command::Invoke { target, arguments, reply } => match session.invoke(&target, arguments, now) {
            Ok(id) => {
                pending.invocations.insert(id, reply);
            }
            Err(error) => {
                let _ = reply.send(Err(InvokeError::Encode(error.to_string())));
            }
        },
        Command::Stream { target, arguments, sink, id } => match session.stream(&target, arguments, now) {
            Ok(invocation_id) => {
                *id.borrow_mut() = Some(invocation_id.clone());
                pending.streams.insert(invocation_id, sink);
            }
            Err(error) => {
                let _ = sink.unbounded_send(Err(InvokeError::Encode(error.to_string())));
            }
        },
        Command::Cancel { id } => {
            if let Some(invocation_id) = id.borrow_mut().take() {
                if pending.streams.remove(&invocation_id).is_some() {
                    let _ = session.cancel(&invocation_id, now);
                }
            }
        }
        Command::Stop => session.stop(now),
    }
}

fn handle_message(inner: &Inner, pending: &mut Pending, message: HubMessage) {
    match message {
        HubMessage::Invocation { target, arguments, .. } => inner.dispatch(&target, &arguments),
        HubMessage::StreamItem { invocation_id, item, .. } => {
            if let Some(sink) = pending.streams.get(&invocation_id) {
                let _ = sink.unbounded_send(Ok(item));
            }
        }
        HubMessage::Completion { invocation_id, result, error, .. } => {
            let outcome = match error {
                Some(error) => Err(InvokeError::Hub(error)),
                None => Ok(result),
            };
            if let Some(reply) = pending.invocations.remove(&invocation_id) {
                let _ = reply.send(outcome);
            } else if let Some(sink) = pending.streams.remove(&invocation_id) {
                if let Err(error) = outcome {
                    let _ = sink.unbounded_send(Err(error));
                }
                // Dropping the sink ends the stream.
            }
        }
        _ => {}
    }
}

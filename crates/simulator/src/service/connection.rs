//! One client connection on the service side, independent of its transport: handshake,
//! broadcasts out, client messages in, hub methods, pings and timeouts, and stateful
//! reconnect. Transports only move bytes through [`LiveConnection`]'s channels.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use serde_json::json;
use signalr::protocol::{parse_handshake_request, split_handshake, Framer, HubMessage, HubProtocol};
use signalr::stateful::{ReceiveCounter, ReplayBuffer, DEFAULT_BUFFER_BYTES};
use signalr::TransportKind;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio::time::{interval, sleep_until, Instant, MissedTickBehavior};

use super::methods::{self, Action};
use super::Timing;
use crate::hub::{Hub, Inbound, LiveConnection, OutFrame};
use crate::AppState;

/// Sequenced frames a stateful client may fall behind (waiting for its acks) before it is
/// closed and told to reconnect.
pub const MAX_BACKLOG: usize = 4096;

/// Frames queued for a client before further broadcasts to it are dropped.
pub const OUTBOUND_CAPACITY: usize = 4096;

/// How long a stateful connection waits for its client to come back after a drop.
const RESUME_WINDOW: Duration = Duration::from_secs(30);

/// Everything a connection task needs.
pub struct Setup {
    pub state: Arc<AppState>,
    pub hub: Arc<Hub>,
    pub token: String,
    pub live: Arc<LiveConnection>,
    pub inbound: mpsc::UnboundedReceiver<Inbound>,
    pub outbound: mpsc::Sender<OutFrame>,
    pub timing: Timing,
}

/// Runs the connection until it ends, then unregisters it (which ends its transport).
pub async fn run(setup: Setup) {
    let Setup { state, hub, token, live, mut inbound, outbound, timing } = setup;
    let connection_id = live.connection_id.clone();
    match handshake(&live, &mut inbound, &outbound, timing).await {
        Some((protocol, stateful, rest)) => {
            tracing::debug!(%connection_id, ?protocol, stateful, transport = live.transport.as_str(), "client connected");
            let mut connection = Connection::new(&state, &hub, &live, protocol, stateful, outbound, timing);
            connection.handle_data(&rest);
            connection.serve(&mut inbound).await;
        }
        None => tracing::debug!(%connection_id, "handshake failed"),
    }
    hub.remove_live(&token);
    tracing::debug!(%connection_id, "client disconnected");
}

/// Reads the handshake request; answers it. Returns the protocol, whether stateful
/// reconnect is on, and any bytes that followed the handshake.
async fn handshake(
    live: &LiveConnection,
    inbound: &mut mpsc::UnboundedReceiver<Inbound>,
    outbound: &mpsc::Sender<OutFrame>,
    timing: Timing,
) -> Option<(HubProtocol, bool, Vec<u8>)> {
    let deadline = Instant::now() + timing.handshake_timeout;
    let mut buffer = Vec::new();
    loop {
        tokio::select! {
            message = inbound.recv() => match message {
                Some(Inbound::Data(bytes)) => buffer.extend_from_slice(&bytes),
                Some(Inbound::TransportResumed | Inbound::Deliver(_) | Inbound::BadFrame(_)) => {}
                Some(Inbound::TransportClosed | Inbound::Terminate | Inbound::Close { .. }) | None => return None,
            },
            _ = sleep_until(deadline) => return None,
        }
        let Some((record, rest)) = split_handshake(&buffer) else {
            if buffer.len() > 4096 {
                refuse(outbound, "The handshake request is too large.").await;
                return None;
            }
            continue;
        };
        let request = match parse_handshake_request(record) {
            Ok(request) => request,
            Err(error) => {
                refuse(outbound, &format!("Invalid handshake request: {error}")).await;
                return None;
            }
        };
        let Some(protocol) = HubProtocol::from_name(&request.protocol) else {
            refuse(outbound, &format!("Requested protocol '{}' is not available.", request.protocol)).await;
            return None;
        };
        if protocol == HubProtocol::MessagePack && live.transport == TransportKind::ServerSentEvents {
            refuse(outbound, "Cannot use the 'messagepack' protocol on the current transport. The transport does not support 'Binary' transfer format.").await;
            return None;
        }
        if !(1..=2).contains(&request.version) {
            let message = format!(
                "The server does not support version {} of the '{}' protocol.",
                request.version, request.protocol
            );
            refuse(outbound, &message).await;
            return None;
        }
        // Version 2 asks for Ack/Sequence; it only applies when negotiate granted it.
        let stateful = request.version == 2 && live.stateful;
        let answer = OutFrame::for_protocol(protocol, Bytes::from_static(b"{}\x1e"));
        outbound.send(answer).await.ok()?;
        return Some((protocol, stateful, rest.to_vec()));
    }
}

async fn refuse(outbound: &mpsc::Sender<OutFrame>, error: &str) {
    let _ = outbound.send(OutFrame::text(json!({ "error": error }).to_string() + "\u{1e}")).await;
}

struct Connection<'a> {
    state: &'a Arc<AppState>,
    hub: &'a Hub,
    live: &'a LiveConnection,
    protocol: HubProtocol,
    outbound: mpsc::Sender<OutFrame>,
    timing: Timing,
    framer: Framer,
    replay: Option<ReplayBuffer<OutFrame>>,
    /// Sequenced frames waiting for the client's acks to make room in `replay`.
    backlog: VecDeque<OutFrame>,
    received: ReceiveCounter,
    ack_due: Option<Instant>,
    transport_up: bool,
    resume_deadline: Option<Instant>,
    last_received: Instant,
    last_sent: Instant,
    streams: HashMap<String, tokio::task::JoinHandle<()>>,
    stream_tx: mpsc::UnboundedSender<HubMessage>,
    stream_rx: Option<mpsc::UnboundedReceiver<HubMessage>>,
    closing: bool,
    dropped: u64,
    /// The last deferred hub method, which the next one waits for.
    later: Option<tokio::task::JoinHandle<()>>,
}

impl<'a> Connection<'a> {
    fn new(
        state: &'a Arc<AppState>,
        hub: &'a Hub,
        live: &'a LiveConnection,
        protocol: HubProtocol,
        stateful: bool,
        outbound: mpsc::Sender<OutFrame>,
        timing: Timing,
    ) -> Self {
        let (stream_tx, stream_rx) = mpsc::unbounded_channel();
        Self {
            state,
            hub,
            live,
            protocol,
            outbound,
            timing,
            framer: protocol.framer(signalr::protocol::DEFAULT_MAX_RECORD),
            replay: stateful.then(|| ReplayBuffer::new(DEFAULT_BUFFER_BYTES)),
            backlog: VecDeque::new(),
            received: ReceiveCounter::default(),
            ack_due: None,
            transport_up: true,
            resume_deadline: None,
            last_received: Instant::now(),
            last_sent: Instant::now(),
            streams: HashMap::new(),
            stream_tx,
            stream_rx: Some(stream_rx),
            closing: false,
            dropped: 0,
            later: None,
        }
    }

    async fn serve(&mut self, inbound: &mut mpsc::UnboundedReceiver<Inbound>) {
        let mut broadcasts = self.hub.subscribe();
        let mut stream_rx = self.stream_rx.take().expect("served once");
        let mut ticker = interval(self.timing.keep_alive.min(Duration::from_millis(250)));
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        while !self.closing {
            tokio::select! {
                message = broadcasts.recv() => match message {
                    Ok(message) => {
                        if let Some(frame) = message.frame(self.protocol) {
                            self.send_sequenced(frame);
                        }
                    }
                    // A client too slow for the stream misses messages (delivery is best effort).
                    Err(RecvError::Lagged(missed)) => self.dropped += missed,
                    Err(RecvError::Closed) => break,
                },
                message = inbound.recv() => match message {
                    Some(Inbound::Data(bytes)) => {
                        self.last_received = Instant::now();
                        self.handle_data(&bytes);
                    }
                    Some(Inbound::TransportClosed) => self.transport_closed(),
                    Some(Inbound::TransportResumed) => self.transport_resumed(),
                    Some(Inbound::Deliver(message)) => {
                        if let Some(frame) = message.frame(self.protocol) {
                            self.send_sequenced(frame);
                        }
                    }
                    Some(Inbound::Close { error, allow_reconnect }) => {
                        self.send_message(&HubMessage::Close { error: Some(error), allow_reconnect });
                        self.closing = true;
                    }
                    Some(Inbound::BadFrame(kind)) => self.push(kind.frame(self.protocol)),
                    Some(Inbound::Terminate) | None => break,
                },
                Some(message) = stream_rx.recv() => self.send_message(&message),
                _ = ticker.tick() => self.tick(),
            }
        }
        for (_, stream) in self.streams.drain() {
            stream.abort();
        }
        if self.dropped > 0 {
            tracing::debug!(connection_id = %self.live.connection_id, dropped = self.dropped, "slow client missed messages");
        }
    }

    fn handle_data(&mut self, bytes: &[u8]) {
        let protocol = self.protocol;
        let mut messages = Vec::new();
        let framed = self.framer.push(bytes, |record| messages.push(protocol.parse(record)));
        for message in messages {
            match message {
                Ok(Some(message)) => self.handle_message(message),
                Ok(None) => {}
                Err(error) => {
                    self.close_with_error(&format!("Connection closed with an error. {error}"));
                    return;
                }
            }
        }
        if let Err(error) = framed {
            self.close_with_error(&format!("Connection closed with an error. {error}"));
        }
    }

    fn handle_message(&mut self, message: HubMessage) {
        if self.replay.is_some() && message.is_sequenced() {
            if !self.received.on_message() {
                return; // a duplicate replayed by the client
            }
            self.ack_due.get_or_insert(Instant::now() + Duration::from_secs(1));
        }
        match message {
            HubMessage::Ping => {}
            HubMessage::Close { .. } => self.closing = true,
            HubMessage::Ack { sequence_id } => {
                if let Some(replay) = &mut self.replay {
                    replay.ack(sequence_id);
                }
                self.drain_backlog();
            }
            HubMessage::Sequence { sequence_id } => {
                if !self.received.on_sequence(sequence_id) {
                    self.close_with_error("Sequence ID greater than amount of messages we've received.");
                }
            }
            HubMessage::Invocation { invocation_id, target, arguments, .. } => {
                let action = if methods::is_dashboard_method(&target) {
                    let id = &self.live.connection_id;
                    methods::dashboard_method(self.state, id, self.protocol, invocation_id, &target, arguments)
                } else {
                    methods::invoke(self.protocol, invocation_id, &target, arguments)
                };
                self.act(action);
            }
            HubMessage::StreamInvocation { invocation_id, target, arguments, .. } => {
                let action = methods::stream(invocation_id, &target, &arguments);
                self.act(action);
            }
            HubMessage::CancelInvocation { invocation_id, .. } => {
                if let Some(stream) = self.streams.remove(&invocation_id) {
                    stream.abort();
                    // The callee still completes the invocation.
                    self.send_message(&methods::stream_end(&invocation_id));
                }
            }
            HubMessage::StreamItem { .. } | HubMessage::Completion { .. } => {}
        }
    }

    fn act(&mut self, action: Action) {
        match action {
            Action::Reply(messages) => {
                for message in &messages {
                    self.send_message(message);
                }
            }
            Action::ReplyThenDropTransport(messages) => {
                for message in &messages {
                    self.send_message(message);
                }
                self.live.kick.notify_one();
            }
            Action::Stream { invocation_id, count, interval_ms } => {
                let tx = self.stream_tx.clone();
                let protocol = self.protocol;
                let id = invocation_id.clone();
                let task = tokio::spawn(async move {
                    for value in 0..count {
                        if let Some(item) = methods::stream_item(protocol, &id, value) {
                            if tx.send(item).is_err() {
                                return;
                            }
                        }
                        tokio::time::sleep(Duration::from_millis(interval_ms)).await;
                    }
                    let _ = tx.send(methods::stream_end(&id));
                });
                self.streams.retain(|_, t| !t.is_finished());
                self.streams.insert(invocation_id, task);
            }
            Action::Later(work) => {
                // One at a time, in the order called (as a hub runs a client's invocations).
                let tx = self.stream_tx.clone();
                let previous = self.later.take();
                self.later = Some(tokio::spawn(async move {
                    if let Some(previous) = previous {
                        let _ = previous.await;
                    }
                    for message in work.await {
                        let _ = tx.send(message);
                    }
                }));
            }
            Action::None => {}
        }
    }

    fn send_message(&mut self, message: &HubMessage) {
        match self.protocol.write(message) {
            Ok(frame) => {
                let frame = match frame {
                    signalr::Frame::Text(text) => OutFrame::text(text),
                    signalr::Frame::Binary(bytes) => OutFrame::binary(bytes),
                };
                if message.is_sequenced() {
                    self.send_sequenced(frame);
                } else {
                    self.push(frame);
                }
            }
            Err(error) => tracing::warn!(%error, "cannot encode a reply"),
        }
    }

    /// Sends a sequenced frame, keeping it for replay under stateful reconnect. When the replay
    /// buffer is full the frame waits for the client's acks (backpressure, as ASP.NET Core's
    /// message buffer does) instead of being lost; a client that falls [`MAX_BACKLOG`] frames
    /// behind is closed with `allowReconnect`, so it starts again from a snapshot rather than
    /// silently missing messages.
    fn send_sequenced(&mut self, frame: OutFrame) {
        if let Some(replay) = &mut self.replay {
            if replay.is_full() || !self.backlog.is_empty() {
                if self.backlog.len() >= MAX_BACKLOG {
                    self.dropped += self.backlog.len() as u64 + 1;
                    self.backlog.clear();
                    self.send_message(&HubMessage::Close {
                        error: Some("The client fell too far behind the messages sent to it.".into()),
                        allow_reconnect: true,
                    });
                    self.closing = true;
                    return;
                }
                self.backlog.push_back(frame);
                return;
            }
            replay.push(frame.clone());
        }
        self.push(frame);
    }

    /// Sends waiting frames while the replay buffer has room.
    fn drain_backlog(&mut self) {
        while let Some(replay) = &mut self.replay {
            if replay.is_full() {
                break;
            }
            let Some(frame) = self.backlog.pop_front() else { break };
            replay.push(frame.clone());
            self.push(frame);
        }
    }

    fn push(&mut self, frame: OutFrame) {
        // A stalled service (fault injection) sends nothing at all, pings included.
        if !self.transport_up || self.hub.is_stalled() {
            return;
        }
        if self.outbound.try_send(frame).is_err() {
            self.dropped += 1;
        }
        self.last_sent = Instant::now();
    }

    fn transport_closed(&mut self) {
        if self.replay.is_some() {
            self.transport_up = false;
            self.resume_deadline = Some(Instant::now() + RESUME_WINDOW);
        } else {
            self.closing = true;
        }
    }

    fn transport_resumed(&mut self) {
        let Some(replay) = &self.replay else { return };
        let first = replay.first_unacked();
        let frames: Vec<OutFrame> = replay.unacked().cloned().collect();
        self.transport_up = true;
        self.resume_deadline = None;
        self.last_received = Instant::now();
        self.framer = self.protocol.framer(signalr::protocol::DEFAULT_MAX_RECORD);
        self.send_message(&HubMessage::Sequence { sequence_id: first });
        for frame in frames {
            self.push(frame);
        }
    }

    fn tick(&mut self) {
        let now = Instant::now();
        if let Some(deadline) = self.resume_deadline {
            if now >= deadline {
                self.closing = true;
            }
            return;
        }
        if self.live.transport == TransportKind::LongPolling {
            // Long polling clients send no pings; a client that stops polling is gone.
            let last_poll = self.live.last_poll.load(Ordering::Relaxed);
            let silent = Duration::from_millis(self.hub.clock().saturating_sub(last_poll));
            if silent >= self.timing.client_timeout + self.timing.poll_timeout {
                self.closing = true;
                return;
            }
        } else if now.duration_since(self.last_received) >= self.timing.client_timeout {
            self.close_with_error("Connection closed: the client sent nothing within the timeout.");
            return;
        }
        if crate::jwt::unix_now() >= self.live.token_expires {
            // Like the service: an expired token ends the connection; the client renegotiates.
            self.close_with_error("The access token expired; reconnect with a new one.");
            return;
        }
        if self.ack_due.is_some_and(|due| now >= due) {
            self.ack_due = None;
            if let Some(sequence_id) = self.received.take_ack() {
                self.send_message(&HubMessage::Ack { sequence_id });
            }
        }
        if now.duration_since(self.last_sent) >= self.timing.keep_alive {
            self.send_message(&HubMessage::Ping);
        }
    }

    fn close_with_error(&mut self, error: &str) {
        self.send_message(&HubMessage::Close { error: Some(error.to_string()), allow_reconnect: true });
        self.closing = true;
    }
}

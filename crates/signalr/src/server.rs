//! The sans-IO server session: one client connection as a hub service sees it, from the
//! client's handshake request to close, across stateful-reconnect transport drops.
//!
//! It is the mirror of the client's [`Session`](crate::Session) and is driven the same way:
//! the driver feeds received bytes with [`ServerSession::handle_data`], runs
//! [`ServerSession::handle_timeout`] at [`ServerSession::poll_timeout`], writes what
//! [`ServerSession::poll_transmit`] returns and handles what [`ServerSession::poll_event`]
//! reports (the client's invocations). It owns no socket and no clock, so both sides of the
//! protocol run together in native tests on a simulated clock (see `tests/pair.rs`).
//!
//! The frame type is generic so a service can hand the session frames it encoded once for
//! many connections (a broadcast) without copying them: anything built from a [`Frame`] that
//! knows its size will do.

use std::collections::VecDeque;

use crate::connection::Millis;
use crate::protocol::{
    parse_handshake_request, Frame, Framer, Handshake, HandshakeBuffer, HubMessage, HubProtocol, ProtocolError,
};
use crate::stateful::{ByteLen, ReceiveCounter, ReplayBuffer, DEFAULT_BUFFER_BYTES};

/// A frame the session can queue: made from an encoded [`Frame`], sized for the replay buffer.
pub trait OutgoingFrame: From<Frame> + ByteLen + Clone {}

impl<F: From<Frame> + ByteLen + Clone> OutgoingFrame for F {}

/// Timing and protocol settings of a server session.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Close a connection whose handshake request takes longer.
    pub handshake_timeout: Millis,
    /// Send a Ping when nothing was sent for this long.
    pub keep_alive_interval: Millis,
    /// Close a connection that sent nothing for this long.
    pub client_timeout: Millis,
    /// The transport carries binary frames (Server-Sent Events does not: no MessagePack there).
    pub binary_transport: bool,
    /// Grant stateful reconnect to a client that asks for it (hub protocol version 2); only
    /// when negotiate offered it.
    pub stateful_reconnect: bool,
    /// Bytes of sent, unacknowledged messages kept for replay under stateful reconnect.
    pub replay_buffer: usize,
    /// Sequenced frames waiting for room in a full replay buffer before the client is closed
    /// (and told to reconnect) for falling too far behind.
    pub max_backlog: usize,
    /// Delay before acknowledging the client's sequenced messages.
    pub ack_delay: Millis,
    /// How long a stateful connection waits for its client to reopen a dropped transport.
    pub resume_window: Millis,
    /// Largest record buffered while waiting for the rest of it.
    pub max_record: usize,
    /// Largest handshake request.
    pub max_handshake: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            handshake_timeout: 15_000,
            keep_alive_interval: 15_000,
            client_timeout: 30_000,
            binary_transport: true,
            stateful_reconnect: false,
            replay_buffer: DEFAULT_BUFFER_BYTES,
            max_backlog: 4096,
            ack_delay: 1_000,
            resume_window: 30_000,
            max_record: crate::protocol::DEFAULT_MAX_RECORD,
            max_handshake: 4096,
        }
    }
}

/// Why a server session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerCloseReason {
    /// The handshake request was refused; the client was told why.
    HandshakeRefused(String),
    /// No complete handshake request within the handshake timeout.
    HandshakeTimeout,
    /// The client sent Close.
    ClientClosed,
    /// The client sent nothing within the client timeout.
    ClientTimeout,
    /// The client broke the protocol; it was sent a Close with the error.
    Protocol(String),
    /// The client fell [`ServerConfig::max_backlog`] frames behind; it was told to reconnect.
    FellBehind,
    /// The transport closed and the connection cannot resume (not stateful, or the client
    /// did not come back within the resume window).
    TransportLost,
    /// The service closed the connection ([`ServerSession::close`]).
    Closed(Option<String>),
}

impl std::fmt::Display for ServerCloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServerCloseReason::HandshakeRefused(e) => write!(f, "handshake refused: {e}"),
            ServerCloseReason::HandshakeTimeout => write!(f, "no handshake within the timeout"),
            ServerCloseReason::ClientClosed => write!(f, "the client closed the connection"),
            ServerCloseReason::ClientTimeout => write!(f, "the client sent nothing within the timeout"),
            ServerCloseReason::Protocol(e) => write!(f, "protocol error: {e}"),
            ServerCloseReason::FellBehind => write!(f, "the client fell too far behind"),
            ServerCloseReason::TransportLost => write!(f, "the transport closed"),
            ServerCloseReason::Closed(Some(e)) => write!(f, "closed by the service: {e}"),
            ServerCloseReason::Closed(None) => write!(f, "closed by the service"),
        }
    }
}

/// What the session reports to its driver.
#[derive(Debug, Clone)]
pub enum ServerEvent {
    /// The handshake succeeded.
    Connected {
        /// The hub protocol the client chose.
        protocol: HubProtocol,
        /// Whether stateful reconnect is on.
        stateful: bool,
    },
    /// A message from the client for the hub: Invocation, StreamInvocation, CancelInvocation,
    /// StreamItem or Completion (pings, acks, sequences and closes stay inside).
    Message(HubMessage),
    /// The session is over. Frames still queued (a Close for the client) should be written
    /// before the transport is closed.
    Closed(ServerCloseReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Handshaking {
        deadline: Millis,
    },
    Connected,
    /// Stateful reconnect: the transport is down until the client reopens it.
    Resuming {
        deadline: Millis,
    },
    Closed,
}

/// Ack/Sequence state of a stateful connection.
struct Stateful<F> {
    sent: ReplayBuffer<F>,
    /// Sequenced frames waiting for the client's acks to make room in `sent`.
    backlog: VecDeque<F>,
    received: ReceiveCounter,
    ack_deadline: Option<Millis>,
}

/// One client connection on the service side.
pub struct ServerSession<F = Frame> {
    config: ServerConfig,
    phase: Phase,
    protocol: HubProtocol,
    /// The handshake request, until it is complete.
    handshake: HandshakeBuffer,
    framer: Framer,
    transmit: VecDeque<F>,
    events: VecDeque<ServerEvent>,
    last_received: Millis,
    last_sent: Millis,
    stateful: Option<Stateful<F>>,
    /// Frames lost because the client fell too far behind.
    dropped: u64,
}

impl<F> std::fmt::Debug for ServerSession<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerSession").field("phase", &self.phase).field("protocol", &self.protocol).finish()
    }
}

impl<F: OutgoingFrame> ServerSession<F> {
    /// A session whose transport opened at `now`: it waits for the handshake request.
    pub fn new(config: ServerConfig, now: Millis) -> Self {
        let framer = HubProtocol::Json.framer(config.max_record);
        let handshake = HandshakeBuffer::new(config.max_handshake);
        let deadline = now + config.handshake_timeout;
        Self {
            config,
            phase: Phase::Handshaking { deadline },
            protocol: HubProtocol::Json,
            handshake,
            framer,
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            last_received: now,
            last_sent: now,
            stateful: None,
            dropped: 0,
        }
    }

    /// The hub protocol (JSON until the handshake says otherwise).
    pub fn protocol(&self) -> HubProtocol {
        self.protocol
    }

    /// Whether the handshake has completed and the transport is up.
    pub fn is_connected(&self) -> bool {
        self.phase == Phase::Connected
    }

    /// Whether the transport is down and the session waits for the client to resume.
    pub fn is_resuming(&self) -> bool {
        matches!(self.phase, Phase::Resuming { .. })
    }

    /// Whether the session is over.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Sequenced frames lost because the client fell too far behind.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Bytes received from the transport: the handshake request, then records, in chunks cut
    /// anywhere.
    pub fn handle_data(&mut self, chunk: &[u8], now: Millis) {
        if matches!(self.phase, Phase::Closed | Phase::Resuming { .. }) {
            return;
        }
        self.last_received = now;
        let rest;
        let mut chunk = chunk;
        if let Phase::Handshaking { .. } = self.phase {
            let record = match self.handshake.push(chunk) {
                Handshake::Incomplete => return,
                Handshake::TooLarge => return self.refuse("The handshake request is too large.".into(), now),
                Handshake::Complete { record, rest: after } => {
                    rest = after;
                    record
                }
            };
            match self.accept_handshake(&record) {
                Ok((protocol, stateful)) => self.connect(protocol, stateful, now),
                Err(error) => return self.refuse(error, now),
            }
            chunk = &rest;
        }
        let received = self.framer.messages(self.protocol, chunk);
        for message in received.messages {
            match message {
                Ok(Some(message)) => self.handle_message(message, now),
                // A type this service does not know: ignored, as the protocol says.
                Ok(None) => {}
                Err(error) => return self.fail(format!("Connection closed with an error. {error}"), now),
            }
            if self.phase == Phase::Closed {
                return;
            }
        }
        if let Some(error) = received.broken {
            self.fail(format!("Connection closed with an error. {error}"), now);
        }
    }

    /// Checks a handshake request; the protocol and whether stateful reconnect is granted, or
    /// the error to send back (worded as ASP.NET Core's service words it).
    fn accept_handshake(&self, record: &[u8]) -> Result<(HubProtocol, bool), String> {
        let request = parse_handshake_request(record).map_err(|error| format!("Invalid handshake request: {error}"))?;
        let protocol = HubProtocol::from_name(&request.protocol)
            .ok_or_else(|| format!("Requested protocol '{}' is not available.", request.protocol))?;
        if protocol == HubProtocol::MessagePack && !self.config.binary_transport {
            return Err("Cannot use the 'messagepack' protocol on the current transport. The transport does not support 'Binary' transfer format.".into());
        }
        if !(1..=2).contains(&request.version) {
            return Err(format!(
                "The server does not support version {} of the '{}' protocol.",
                request.version, request.protocol
            ));
        }
        // Version 2 asks for Ack/Sequence; it only applies when negotiate granted it.
        Ok((protocol, request.version == 2 && self.config.stateful_reconnect))
    }

    fn connect(&mut self, protocol: HubProtocol, stateful: bool, now: Millis) {
        self.protocol = protocol;
        self.framer = protocol.framer(self.config.max_record);
        self.stateful = stateful.then(|| Stateful {
            sent: ReplayBuffer::new(self.config.replay_buffer),
            backlog: VecDeque::new(),
            received: ReceiveCounter::default(),
            ack_deadline: None,
        });
        self.phase = Phase::Connected;
        // The answer is JSON in both protocols, in the protocol's kind of frame.
        let answer = match protocol {
            HubProtocol::Json => Frame::Text("{}\u{1e}".into()),
            HubProtocol::MessagePack => Frame::Binary(b"{}\x1e".to_vec()),
        };
        self.queue(F::from(answer), now);
        self.events.push_back(ServerEvent::Connected { protocol, stateful });
    }

    /// Answers a bad handshake request with its error and ends the session.
    fn refuse(&mut self, error: String, now: Millis) {
        let answer = serde_json::json!({ "error": error }).to_string() + "\u{1e}";
        self.queue(F::from(Frame::Text(answer)), now);
        self.end(ServerCloseReason::HandshakeRefused(error));
    }

    fn handle_message(&mut self, message: HubMessage, now: Millis) {
        if let (Some(stateful), true) = (&mut self.stateful, message.is_sequenced()) {
            if !stateful.received.on_message() {
                return; // a duplicate replayed by the client
            }
            stateful.ack_deadline.get_or_insert(now + self.config.ack_delay);
        }
        match message {
            HubMessage::Ping => {}
            HubMessage::Close { .. } => self.end(ServerCloseReason::ClientClosed),
            HubMessage::Ack { sequence_id } => {
                if let Some(stateful) = &mut self.stateful {
                    stateful.sent.ack(sequence_id);
                }
                self.drain_backlog(now);
            }
            HubMessage::Sequence { sequence_id } => {
                // Without stateful reconnect nothing was received yet as far as sequences go.
                let resumed = match &mut self.stateful {
                    Some(stateful) => stateful.received.on_sequence(sequence_id),
                    None => sequence_id <= 1,
                };
                if !resumed {
                    self.fail("Sequence ID greater than amount of messages we've received.".into(), now);
                }
            }
            message => self.events.push_back(ServerEvent::Message(message)),
        }
    }

    /// The long-polling transport saw the client at `at` (a poll): it counts as the client
    /// being alive, since a polling client sends no pings.
    pub fn handle_client_alive(&mut self, at: Millis) {
        self.last_received = self.last_received.max(at);
    }

    /// The transport closed. A stateful connection waits [`ServerConfig::resume_window`] for
    /// the client to reopen it; any other ends.
    pub fn handle_transport_closed(&mut self, now: Millis) {
        match self.phase {
            Phase::Connected if self.stateful.is_some() => {
                self.transmit.clear();
                self.phase = Phase::Resuming { deadline: now + self.config.resume_window };
            }
            Phase::Resuming { .. } | Phase::Closed => {}
            _ => self.end(ServerCloseReason::TransportLost),
        }
    }

    /// Stateful reconnect: the client reopened the transport. Announces where our stream
    /// resumes and sends again everything the client has not acknowledged.
    pub fn handle_transport_resumed(&mut self, now: Millis) {
        if !self.is_resuming() {
            return;
        }
        let Some(stateful) = &self.stateful else { return };
        let first = stateful.sent.first_unacked();
        let replay: Vec<F> = stateful.sent.unacked().cloned().collect();
        self.phase = Phase::Connected;
        self.last_received = now;
        self.framer = self.protocol.framer(self.config.max_record);
        self.queue_message(&HubMessage::Sequence { sequence_id: first }, now);
        for frame in replay {
            self.queue(frame, now);
        }
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Millis) {
        match self.phase {
            Phase::Handshaking { deadline } if now >= deadline => self.end(ServerCloseReason::HandshakeTimeout),
            Phase::Resuming { deadline } if now >= deadline => self.end(ServerCloseReason::TransportLost),
            Phase::Connected => {
                if now >= self.last_received + self.config.client_timeout {
                    self.queue_close(Some("Connection closed: the client sent nothing within the timeout."), true, now);
                    return self.end(ServerCloseReason::ClientTimeout);
                }
                let ack = self.stateful.as_mut().and_then(|s| match s.ack_deadline {
                    Some(deadline) if now >= deadline => {
                        s.ack_deadline = None;
                        s.received.take_ack()
                    }
                    _ => None,
                });
                if let Some(sequence_id) = ack {
                    self.queue_message(&HubMessage::Ack { sequence_id }, now);
                }
                if now >= self.last_sent + self.config.keep_alive_interval {
                    self.queue_message(&HubMessage::Ping, now);
                }
            }
            _ => {}
        }
    }

    /// The next deadline at which `handle_timeout` must run.
    pub fn poll_timeout(&self) -> Option<Millis> {
        match self.phase {
            Phase::Handshaking { deadline } | Phase::Resuming { deadline } => Some(deadline),
            Phase::Connected => {
                let keep_alive = (self.last_received + self.config.client_timeout)
                    .min(self.last_sent + self.config.keep_alive_interval);
                let ack = self.stateful.as_ref().and_then(|s| s.ack_deadline);
                Some(ack.map_or(keep_alive, |ack| ack.min(keep_alive)))
            }
            Phase::Closed => None,
        }
    }

    /// The next frame to write to the transport.
    pub fn poll_transmit(&mut self) -> Option<F> {
        self.transmit.pop_front()
    }

    /// The next event for the driver.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    /// Queues a message for the client. Sequenced messages are kept for replay under stateful
    /// reconnect and wait for acknowledgements when the replay buffer is full. A message that
    /// cannot be encoded (a hub method's bad reply) is refused and the connection goes on.
    pub fn send_message(&mut self, message: &HubMessage, now: Millis) -> Result<(), ProtocolError> {
        let frame = F::from(self.protocol.write(message)?);
        if message.is_sequenced() {
            self.send_sequenced(frame, now);
        } else {
            self.queue(frame, now);
        }
        Ok(())
    }

    /// Queues an Invocation already encoded in this session's protocol (a broadcast encoded
    /// once for every connection).
    pub fn send_encoded_invocation(&mut self, frame: F, now: Millis) {
        self.send_sequenced(frame, now);
    }

    /// Ends the connection from the service side: the client gets a Close with `error`, and
    /// is told whether it may reconnect.
    pub fn close(&mut self, error: Option<&str>, allow_reconnect: bool, now: Millis) {
        match self.phase {
            Phase::Closed => return,
            // No Close before the handshake answer: the client would read it as a bad answer.
            Phase::Handshaking { .. } => {}
            _ => self.queue_close(error, allow_reconnect, now),
        }
        self.end(ServerCloseReason::Closed(error.map(str::to_owned)));
    }

    /// Sends a sequenced frame, keeping it for replay under stateful reconnect. When the replay
    /// buffer is full the frame waits for the client's acks (backpressure, as ASP.NET Core's
    /// message buffer does) instead of being lost; a client that falls
    /// [`ServerConfig::max_backlog`] frames behind is closed with `allowReconnect`, so it starts
    /// again from a snapshot rather than silently missing messages.
    fn send_sequenced(&mut self, frame: F, now: Millis) {
        if matches!(self.phase, Phase::Handshaking { .. } | Phase::Closed) {
            return;
        }
        if let Some(stateful) = &mut self.stateful {
            if stateful.sent.is_full() || !stateful.backlog.is_empty() {
                if stateful.backlog.len() < self.config.max_backlog {
                    stateful.backlog.push_back(frame);
                    return;
                }
                self.dropped += stateful.backlog.len() as u64 + 1;
                stateful.backlog.clear();
                self.queue_close(Some("The client fell too far behind the messages sent to it."), true, now);
                return self.end(ServerCloseReason::FellBehind);
            }
            stateful.sent.push(frame.clone());
        }
        self.queue(frame, now);
    }

    /// Sends waiting frames while the replay buffer has room.
    fn drain_backlog(&mut self, now: Millis) {
        let mut ready = Vec::new();
        if let Some(stateful) = &mut self.stateful {
            while !stateful.sent.is_full() {
                let Some(frame) = stateful.backlog.pop_front() else { break };
                stateful.sent.push(frame.clone());
                ready.push(frame);
            }
        }
        for frame in ready {
            self.queue(frame, now);
        }
    }

    /// Queues a frame for the transport; while the transport is down only the replay buffer
    /// keeps what was sent.
    fn queue(&mut self, frame: F, now: Millis) {
        if self.is_resuming() {
            return;
        }
        self.transmit.push_back(frame);
        self.last_sent = now;
    }

    /// Queues a control message (Ping, Ack, Sequence, Close), which always encodes.
    fn queue_message(&mut self, message: &HubMessage, now: Millis) {
        match self.protocol.write(message) {
            Ok(frame) => self.queue(F::from(frame), now),
            Err(error) => self.end(ServerCloseReason::Protocol(error.to_string())),
        }
    }

    fn queue_close(&mut self, error: Option<&str>, allow_reconnect: bool, now: Millis) {
        let close = HubMessage::Close { error: error.map(str::to_owned), allow_reconnect };
        self.queue_message(&close, now);
    }

    /// The client broke the protocol: tell it why (it may reconnect) and end.
    fn fail(&mut self, error: String, now: Millis) {
        self.queue_close(Some(&error), true, now);
        self.end(ServerCloseReason::Protocol(error));
    }

    fn end(&mut self, reason: ServerCloseReason) {
        if self.phase == Phase::Closed {
            return;
        }
        self.phase = Phase::Closed;
        self.events.push_back(ServerEvent::Closed(reason));
    }
}

#[cfg(test)]
mod tests;

//! The sans-IO connection core: one hub connection from handshake to close, across
//! stateful-reconnect transport drops.
//!
//! It owns no socket and no clock. The driver calls `handle_*` with input and the current
//! time, writes what `poll_transmit` returns, sleeps until `poll_timeout`, and reacts to
//! `poll_event`. Timers (handshake, keep-alive, server timeout, stateful Ack) are plain
//! deadlines, so the whole protocol runs in native tests on a simulated clock.

use std::collections::VecDeque;

use serde::Serialize;

use crate::protocol::{
    handshake_request, parse_handshake_response, Frame, Framer, Handshake, HandshakeBuffer, Headers, HubMessage,
    HubProtocol, Payload, ProtocolError,
};
use crate::stateful::{ReceiveCounter, ReplayBuffer};

/// Sequenced messages received before an Ack goes out without waiting for `ack_delay`.
pub const EAGER_ACK_AFTER: u32 = 16;

/// Bytes received before an Ack goes out without waiting: a third of the servers' default
/// 100 KB replay buffer, so a server that holds messages back until acknowledged never waits
/// a whole `ack_delay` (which capped a stream of 40 KB batches at a few per second).
pub const EAGER_ACK_BYTES: usize = 32 * 1024;

/// Monotonic milliseconds from an arbitrary origin (the driver's clock).
pub type Millis = u64;

/// Timing and protocol settings of a session.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The hub protocol to ask for in the handshake and to frame messages with.
    pub protocol: HubProtocol,
    /// Give up if the handshake answer takes longer.
    pub handshake_timeout: Millis,
    /// Send a Ping when nothing was sent for this long.
    pub keep_alive_interval: Millis,
    /// Consider the server gone when nothing was received for this long.
    pub server_timeout: Millis,
    /// Largest record buffered while waiting for the rest of it.
    pub max_record: usize,
    /// The transport keeps itself alive (long polling): no pings, no server timeout.
    pub inherent_keep_alive: bool,
    /// Stateful reconnect with this replay buffer size (bytes); `None` when off. Enable it
    /// only when negotiate offered it and the transport is WebSockets.
    pub stateful_buffer: Option<usize>,
    /// Delay before acknowledging received messages (stateful reconnect).
    pub ack_delay: Millis,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            protocol: HubProtocol::Json,
            handshake_timeout: 15_000,
            keep_alive_interval: 15_000,
            server_timeout: 30_000,
            max_record: crate::protocol::DEFAULT_MAX_RECORD,
            inherent_keep_alive: false,
            stateful_buffer: None,
            ack_delay: 1_000,
        }
    }
}

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The local side asked to stop.
    Stopped,
    /// The server sent Close.
    ServerClosed {
        /// The server's error, if it closed because of one.
        error: Option<String>,
        /// Whether the server lets the client reconnect.
        allow_reconnect: bool,
    },
    /// The transport closed or failed.
    TransportLost(String),
    /// Nothing was received within the server timeout.
    ServerTimeout,
    /// The handshake did not finish in time.
    HandshakeTimeout,
    /// The server refused the handshake.
    HandshakeRejected(String),
    /// A protocol violation that leaves the stream unusable.
    Protocol(String),
}

impl CloseReason {
    /// Whether reconnecting may help. A server Close without `allowReconnect` and a refused
    /// handshake are final; faults are worth another attempt.
    pub fn may_reconnect(&self) -> bool {
        match self {
            CloseReason::Stopped | CloseReason::HandshakeRejected(_) => false,
            CloseReason::ServerClosed { allow_reconnect, .. } => *allow_reconnect,
            _ => true,
        }
    }
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CloseReason::Stopped => write!(f, "stopped"),
            CloseReason::ServerClosed { error: Some(e), .. } => {
                write!(f, "server closed the connection: {e}")
            }
            CloseReason::ServerClosed { error: None, .. } => {
                write!(f, "server closed the connection")
            }
            CloseReason::TransportLost(e) => write!(f, "connection lost: {e}"),
            CloseReason::ServerTimeout => {
                write!(f, "server timeout elapsed without receiving a message from the server")
            }
            CloseReason::HandshakeTimeout => write!(f, "handshake timed out"),
            CloseReason::HandshakeRejected(e) => write!(f, "the server refused the handshake: {e}"),
            CloseReason::Protocol(e) => write!(f, "protocol error: {e}"),
        }
    }
}

/// What the session reports to its driver.
#[derive(Debug, Clone)]
pub enum SessionEvent {
    /// The handshake succeeded; the connection is live.
    Connected,
    /// A hub message for the application (pings, acks and sequences stay inside).
    Message(HubMessage),
    /// A message that could not be parsed was skipped; the stream goes on.
    Skipped(ProtocolError),
    /// Stateful reconnect: the transport dropped but the connection can resume. Reopen the
    /// transport at the same URL and call [`Session::handle_resumed_open`], or give up with
    /// [`Session::handle_transport_closed`].
    TransportLost(String),
    /// Stateful reconnect: the connection resumed; nothing was lost or duplicated.
    Resumed,
    /// The session is over.
    Closed(CloseReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the transport to open.
    Opening,
    Handshaking {
        deadline: Millis,
    },
    Connected,
    /// Stateful reconnect: the transport is down, the driver is reopening it.
    Resuming,
    /// Stateful reconnect: the transport is back, waiting for the server's Sequence.
    AwaitingSequence {
        deadline: Millis,
    },
    Closed,
}

struct Stateful {
    sent: ReplayBuffer,
    received: ReceiveCounter,
    ack_deadline: Option<Millis>,
    /// Bytes received since the last Ack.
    unacked_bytes: usize,
}

/// One hub connection.
pub struct Session {
    config: SessionConfig,
    phase: Phase,
    /// The handshake answer, until it is complete.
    handshake: HandshakeBuffer,
    framer: Framer,
    transmit: VecDeque<Frame>,
    events: VecDeque<SessionEvent>,
    last_received: Millis,
    last_sent: Millis,
    next_invocation_id: u64,
    messages_received: u64,
    stateful: Option<Stateful>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("phase", &self.phase).field("protocol", &self.config.protocol).finish()
    }
}

impl Session {
    /// A session waiting for its transport to open ([`handle_open`](Self::handle_open)).
    pub fn new(config: SessionConfig) -> Self {
        let framer = config.protocol.framer(config.max_record);
        let handshake = HandshakeBuffer::new(config.max_record);
        let stateful = config.stateful_buffer.map(|limit| Stateful {
            sent: ReplayBuffer::new(limit),
            received: ReceiveCounter::default(),
            ack_deadline: None,
            unacked_bytes: 0,
        });
        Self {
            config,
            phase: Phase::Opening,
            handshake,
            framer,
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            last_received: 0,
            last_sent: 0,
            next_invocation_id: 0,
            messages_received: 0,
            stateful,
        }
    }

    /// Whether the handshake has completed and the transport is up.
    pub fn is_connected(&self) -> bool {
        self.phase == Phase::Connected
    }

    /// Whether the session is over (its [`SessionEvent::Closed`] has been queued).
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Whether stateful reconnect is on for this session.
    pub fn is_stateful(&self) -> bool {
        self.stateful.is_some()
    }

    /// Messages received so far (pings included).
    pub fn messages_received(&self) -> u64 {
        self.messages_received
    }

    /// The hub protocol of this session.
    pub fn protocol(&self) -> HubProtocol {
        self.config.protocol
    }

    /// The transport is open: queue the handshake and start its timer.
    pub fn handle_open(&mut self, now: Millis) {
        if self.phase != Phase::Opening {
            return;
        }
        // Hub protocol version 2 announces Ack/Sequence support.
        let version = if self.stateful.is_some() { 2 } else { 1 };
        self.queue(Frame::Text(handshake_request(self.config.protocol, version)), now);
        self.last_received = now;
        self.phase = Phase::Handshaking { deadline: now + self.config.handshake_timeout };
    }

    /// Stateful reconnect: the transport reopened. Announces where our stream resumes and
    /// sends again everything the server has not acknowledged.
    pub fn handle_resumed_open(&mut self, now: Millis) {
        if self.phase != Phase::Resuming {
            return;
        }
        let Some(stateful) = &self.stateful else {
            return;
        };
        let first = stateful.sent.first_unacked();
        let replay: Vec<Frame> = stateful.sent.unacked().cloned().collect();
        self.framer = self.config.protocol.framer(self.config.max_record);
        self.queue_message(&HubMessage::Sequence { sequence_id: first }, now);
        for frame in replay {
            self.queue(frame, now);
        }
        self.last_received = now;
        self.phase = Phase::AwaitingSequence { deadline: now + self.config.handshake_timeout };
    }

    /// Bytes received from the transport: one or more records, possibly partial.
    pub fn handle_data(&mut self, chunk: &[u8], now: Millis) {
        if matches!(self.phase, Phase::Closed | Phase::Opening | Phase::Resuming) {
            return;
        }
        self.last_received = now;
        let rest;
        let mut chunk = chunk;
        if let Phase::Handshaking { .. } = self.phase {
            let record = match self.handshake.push(chunk) {
                Handshake::Incomplete => return,
                Handshake::TooLarge => {
                    return self.close(CloseReason::Protocol("the handshake answer is too large".into()))
                }
                Handshake::Complete { record, rest: after } => {
                    rest = after;
                    record
                }
            };
            match parse_handshake_response(&record) {
                Ok(()) => {}
                Err(ProtocolError::HandshakeRejected(e)) => return self.close(CloseReason::HandshakeRejected(e)),
                Err(e) => return self.close(CloseReason::Protocol(e.to_string())),
            }
            self.phase = Phase::Connected;
            self.events.push_back(SessionEvent::Connected);
            // Like the official client: one ping right away, which also proves the send path.
            if !self.config.inherent_keep_alive {
                self.queue_message(&HubMessage::Ping, now);
            }
            chunk = &rest;
        }
        if let Some(stateful) = &mut self.stateful {
            stateful.unacked_bytes = stateful.unacked_bytes.saturating_add(chunk.len());
        }
        let received = self.framer.messages(self.config.protocol, chunk);
        for message in received.messages {
            self.handle_message(message, now);
            if self.phase == Phase::Closed {
                return;
            }
        }
        if let Some(e) = received.broken {
            self.close(CloseReason::Protocol(e.to_string()));
        }
    }

    fn handle_message(&mut self, message: Result<Option<HubMessage>, ProtocolError>, now: Millis) {
        let message = match message {
            Ok(Some(message)) => message,
            // A type this client does not know (a newer server): ignored, as the protocol says,
            // and reported so that it is not silent.
            Ok(None) => {
                let ignored = ProtocolError::InvalidMessage("a message of an unknown type, ignored".into());
                return self.events.push_back(SessionEvent::Skipped(ignored));
            }
            Err(e) => return self.events.push_back(SessionEvent::Skipped(e)),
        };
        self.messages_received += 1;
        if let Phase::AwaitingSequence { .. } = self.phase {
            // After a transport reconnect nothing counts until the server's Sequence.
            if let HubMessage::Sequence { sequence_id } = message {
                let ok = self.stateful.as_mut().is_some_and(|s| s.received.on_sequence(sequence_id));
                if ok {
                    self.phase = Phase::Connected;
                    self.events.push_back(SessionEvent::Resumed);
                } else {
                    self.close(CloseReason::Protocol("the server resumed past messages we never received".into()));
                }
            }
            return;
        }
        match message {
            HubMessage::Ping => {}
            HubMessage::Close { error, allow_reconnect } => {
                self.close(CloseReason::ServerClosed { error, allow_reconnect });
            }
            HubMessage::Ack { sequence_id } => {
                if let Some(stateful) = &mut self.stateful {
                    stateful.sent.ack(sequence_id);
                }
            }
            HubMessage::Sequence { sequence_id } => {
                if let Some(stateful) = &mut self.stateful {
                    if !stateful.received.on_sequence(sequence_id) {
                        self.close(CloseReason::Protocol("the server resumed past messages we never received".into()));
                    }
                }
            }
            message => {
                if let Some(stateful) = &mut self.stateful {
                    if message.is_sequenced() {
                        if !stateful.received.on_message() {
                            return; // a duplicate from a replay
                        }
                        stateful.ack_deadline.get_or_insert(now + self.config.ack_delay);
                        // A burst acknowledges at once: the server keeps unacknowledged
                        // messages in a bounded buffer and holds back the rest until acked.
                        if stateful.received.unacked() >= EAGER_ACK_AFTER || stateful.unacked_bytes >= EAGER_ACK_BYTES {
                            stateful.ack_deadline = Some(now);
                        }
                    }
                }
                self.events.push_back(SessionEvent::Message(message));
            }
        }
    }

    /// The transport closed or failed. With stateful reconnect on a live connection this is
    /// a [`SessionEvent::TransportLost`]: the driver may reopen and resume. Otherwise (or when
    /// called again while resuming, meaning the reopen failed) the session closes.
    pub fn handle_transport_closed(&mut self, reason: impl Into<String>) {
        let reason = reason.into();
        if self.stateful.is_some() && matches!(self.phase, Phase::Connected | Phase::AwaitingSequence { .. }) {
            self.phase = Phase::Resuming;
            self.transmit.clear();
            self.events.push_back(SessionEvent::TransportLost(reason));
            return;
        }
        self.close(CloseReason::TransportLost(reason));
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Millis) {
        match self.phase {
            Phase::Handshaking { deadline } if now >= deadline => self.close(CloseReason::HandshakeTimeout),
            Phase::AwaitingSequence { deadline } if now >= deadline => {
                self.close(CloseReason::Protocol("the server did not resume the connection".into()));
            }
            Phase::Connected => {
                if !self.config.inherent_keep_alive && now >= self.last_received + self.config.server_timeout {
                    return self.close(CloseReason::ServerTimeout);
                }
                let ack = self.stateful.as_mut().and_then(|s| match s.ack_deadline {
                    Some(deadline) if now >= deadline => {
                        s.ack_deadline = None;
                        s.unacked_bytes = 0;
                        s.received.take_ack()
                    }
                    _ => None,
                });
                if let Some(sequence_id) = ack {
                    self.queue_message(&HubMessage::Ack { sequence_id }, now);
                }
                if !self.config.inherent_keep_alive && now >= self.last_sent + self.config.keep_alive_interval {
                    self.queue_message(&HubMessage::Ping, now);
                }
            }
            _ => {}
        }
    }

    /// The next deadline at which `handle_timeout` must run.
    pub fn poll_timeout(&self) -> Option<Millis> {
        match self.phase {
            Phase::Handshaking { deadline } | Phase::AwaitingSequence { deadline } => Some(deadline),
            Phase::Connected => {
                let ack = self.stateful.as_ref().and_then(|s| s.ack_deadline);
                let keep_alive = (!self.config.inherent_keep_alive).then(|| {
                    (self.last_received + self.config.server_timeout)
                        .min(self.last_sent + self.config.keep_alive_interval)
                });
                match (ack, keep_alive) {
                    (Some(a), Some(k)) => Some(a.min(k)),
                    (a, k) => a.or(k),
                }
            }
            _ => None,
        }
    }

    /// The next frame to write to the transport.
    pub fn poll_transmit(&mut self) -> Option<Frame> {
        self.transmit.pop_front()
    }

    /// The next event for the driver.
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    /// Encodes an application value for this session's protocol.
    pub fn payload<T: Serialize + ?Sized>(&self, value: &T) -> Result<Payload, SendError> {
        self.config.protocol.payload(value).map_err(|e| SendError::Encode(e.to_string()))
    }

    /// Queues a fire-and-forget invocation.
    pub fn send(&mut self, target: &str, arguments: Vec<Payload>, now: Millis) -> Result<(), SendError> {
        let message = HubMessage::Invocation {
            invocation_id: None,
            target: target.to_string(),
            arguments,
            stream_ids: Vec::new(),
            headers: Headers::new(),
        };
        self.send_message(message, now)
    }

    /// Queues an invocation that expects a Completion; returns its id.
    pub fn invoke(&mut self, target: &str, arguments: Vec<Payload>, now: Millis) -> Result<String, SendError> {
        self.send_with_id(now, |invocation_id| HubMessage::Invocation {
            invocation_id: Some(invocation_id),
            target: target.to_string(),
            arguments,
            stream_ids: Vec::new(),
            headers: Headers::new(),
        })
    }

    /// Queues a server-to-client stream request; returns its id, which its StreamItems and
    /// final Completion carry.
    pub fn stream(&mut self, target: &str, arguments: Vec<Payload>, now: Millis) -> Result<String, SendError> {
        self.send_with_id(now, |invocation_id| HubMessage::StreamInvocation {
            invocation_id,
            target: target.to_string(),
            arguments,
            stream_ids: Vec::new(),
            headers: Headers::new(),
        })
    }

    /// Queues the message `make` builds around the next invocation id; returns the id, used
    /// up only when the message was queued.
    fn send_with_id(&mut self, now: Millis, make: impl FnOnce(String) -> HubMessage) -> Result<String, SendError> {
        let invocation_id = self.next_invocation_id.to_string();
        self.send_message(make(invocation_id.clone()), now)?;
        self.next_invocation_id += 1;
        Ok(invocation_id)
    }

    /// Asks the server to stop a stream.
    pub fn cancel(&mut self, invocation_id: &str, now: Millis) -> Result<(), SendError> {
        let message =
            HubMessage::CancelInvocation { invocation_id: invocation_id.to_string(), headers: Headers::new() };
        self.send_message(message, now)
    }

    /// Queues any message. Sequenced messages are kept for replay under stateful reconnect,
    /// and may be queued while the transport is resuming.
    pub fn send_message(&mut self, message: HubMessage, now: Millis) -> Result<(), SendError> {
        let resuming = matches!(self.phase, Phase::Resuming | Phase::AwaitingSequence { .. });
        if !(self.phase == Phase::Connected || resuming && message.is_sequenced()) {
            return Err(SendError::NotConnected);
        }
        let frame = self.config.protocol.write(&message).map_err(|e| SendError::Encode(e.to_string()))?;
        if let (Some(stateful), true) = (&mut self.stateful, message.is_sequenced()) {
            if stateful.sent.is_full() {
                return Err(SendError::BufferFull);
            }
            stateful.sent.push(frame.clone());
        }
        if self.phase == Phase::Connected {
            self.queue(frame, now);
        }
        Ok(())
    }

    /// Stops the session: queues a Close for the server (if connected) and reports `Stopped`.
    pub fn stop(&mut self, now: Millis) {
        if self.phase == Phase::Connected {
            self.queue_message(&HubMessage::Close { error: None, allow_reconnect: false }, now);
        }
        self.close(CloseReason::Stopped);
    }

    fn queue(&mut self, frame: Frame, now: Millis) {
        self.transmit.push_back(frame);
        self.last_sent = now;
    }

    /// Queues a control message.
    fn queue_message(&mut self, message: &HubMessage, now: Millis) {
        match self.config.protocol.write(message) {
            Ok(frame) => self.queue(frame, now),
            Err(e) => self.close(CloseReason::Protocol(e.to_string())),
        }
    }

    fn close(&mut self, reason: CloseReason) {
        if self.phase == Phase::Closed {
            return;
        }
        self.phase = Phase::Closed;
        self.events.push_back(SessionEvent::Closed(reason));
    }
}

/// Why a send was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The handshake has not completed or the session is closed (while resuming, only
    /// sequenced messages are accepted, for replay).
    #[error("the connection is not connected")]
    NotConnected,
    /// Stateful reconnect: the replay buffer holds its limit of unacknowledged bytes.
    #[error("the stateful reconnect buffer is full; wait for the server to acknowledge")]
    BufferFull,
    /// An argument could not be encoded in the session's protocol.
    #[error("the arguments could not be serialized: {0}")]
    Encode(String),
}

#[cfg(test)]
mod tests;

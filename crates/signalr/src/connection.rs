//! The sans-IO connection core: one transport session from handshake to close.
//!
//! It owns no socket and no clock. The driver calls `handle_*` with input and the current
//! time, sends what `poll_transmit` returns, sleeps until `poll_timeout`, and reacts to
//! `poll_event`. Timers (handshake, keep-alive, server timeout) are plain deadlines, so the
//! whole protocol runs in native tests on a simulated clock.

use std::collections::VecDeque;

use serde::Serialize;

use crate::protocol::{
    encode_close, encode_invocation, encode_ping, handshake_request, parse_handshake_response,
    parse_message, HubMessage, HubProtocol, ProtocolError, TextFramer,
};

/// Monotonic milliseconds from an arbitrary origin (the driver's clock).
pub type Millis = u64;

/// Timing and protocol settings of a session.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub protocol: HubProtocol,
    /// Give up if the handshake answer takes longer.
    pub handshake_timeout: Millis,
    /// Send a Ping when nothing was sent for this long.
    pub keep_alive_interval: Millis,
    /// Consider the server gone when nothing was received for this long.
    pub server_timeout: Millis,
    /// Largest record buffered while waiting for its terminator.
    pub max_record: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            protocol: HubProtocol::Json,
            handshake_timeout: 15_000,
            keep_alive_interval: 15_000,
            server_timeout: 30_000,
            max_record: crate::protocol::DEFAULT_MAX_RECORD,
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
        error: Option<String>,
        allow_reconnect: bool,
    },
    /// The transport closed or failed.
    TransportLost(String),
    /// Nothing was received within the server timeout.
    ServerTimeout,
    /// The handshake did not finish in time.
    HandshakeTimeout,
    /// A protocol violation that leaves the stream unusable.
    Protocol(String),
}

impl CloseReason {
    /// Whether reconnecting may help. A server Close without `allowReconnect` and a rejected
    /// handshake are final; everything else is a fault to recover from.
    pub fn may_reconnect(&self) -> bool {
        match self {
            CloseReason::Stopped => false,
            CloseReason::ServerClosed {
                allow_reconnect, ..
            } => *allow_reconnect,
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
                write!(
                    f,
                    "server timeout elapsed without receiving a message from the server"
                )
            }
            CloseReason::HandshakeTimeout => write!(f, "handshake timed out"),
            CloseReason::Protocol(e) => write!(f, "protocol error: {e}"),
        }
    }
}

/// What the session reports to its driver.
#[derive(Debug, Clone)]
pub enum SessionEvent {
    /// The handshake succeeded; the connection is live.
    Connected,
    /// A hub message other than Ping (pings only refresh the server timeout).
    Message(HubMessage),
    /// A message that could not be parsed was skipped; the stream goes on.
    Skipped(ProtocolError),
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
    Closed,
}

/// One transport session of a hub connection.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    phase: Phase,
    framer: TextFramer,
    transmit: VecDeque<String>,
    events: VecDeque<SessionEvent>,
    last_received: Millis,
    last_sent: Millis,
    next_invocation_id: u64,
    messages_received: u64,
}

impl Session {
    pub fn new(config: SessionConfig) -> Self {
        let framer = TextFramer::new(config.max_record);
        Self {
            config,
            phase: Phase::Opening,
            framer,
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            last_received: 0,
            last_sent: 0,
            next_invocation_id: 0,
            messages_received: 0,
        }
    }

    /// Whether the handshake has completed and the session is not closed.
    pub fn is_connected(&self) -> bool {
        self.phase == Phase::Connected
    }

    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Hub messages received so far (pings included).
    pub fn messages_received(&self) -> u64 {
        self.messages_received
    }

    /// The transport is open: queue the handshake and start its timer.
    pub fn handle_open(&mut self, now: Millis) {
        if self.phase != Phase::Opening {
            return;
        }
        self.queue(handshake_request(self.config.protocol, 1), now);
        self.last_received = now;
        self.phase = Phase::Handshaking {
            deadline: now + self.config.handshake_timeout,
        };
    }

    /// Text received from the transport (one or more records, possibly partial).
    pub fn handle_text(&mut self, chunk: &str, now: Millis) {
        if matches!(self.phase, Phase::Closed | Phase::Opening) {
            return;
        }
        self.last_received = now;
        let mut records = Vec::new();
        if let Err(e) = self.framer.push(chunk, |r| records.push(r.to_string())) {
            self.close(CloseReason::Protocol(e.to_string()));
            return;
        }
        for record in records {
            self.handle_record(&record, now);
            if self.phase == Phase::Closed {
                return;
            }
        }
    }

    fn handle_record(&mut self, record: &str, now: Millis) {
        if let Phase::Handshaking { .. } = self.phase {
            match parse_handshake_response(record) {
                Ok(()) => {
                    self.phase = Phase::Connected;
                    self.events.push_back(SessionEvent::Connected);
                    // Like the official client: one ping right away, which also proves the
                    // send path works.
                    self.queue(encode_ping(), now);
                }
                Err(e) => self.close(CloseReason::Protocol(e.to_string())),
            }
            return;
        }
        match parse_message(record) {
            Ok(Some(HubMessage::Ping)) => self.messages_received += 1,
            Ok(Some(HubMessage::Close {
                error,
                allow_reconnect,
            })) => {
                self.messages_received += 1;
                self.close(CloseReason::ServerClosed {
                    error,
                    allow_reconnect,
                });
            }
            Ok(Some(message)) => {
                self.messages_received += 1;
                self.events.push_back(SessionEvent::Message(message));
            }
            Ok(None) => {}
            Err(e) => self.events.push_back(SessionEvent::Skipped(e)),
        }
    }

    /// The transport closed or failed.
    pub fn handle_transport_closed(&mut self, reason: impl Into<String>) {
        self.close(CloseReason::TransportLost(reason.into()));
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Millis) {
        match self.phase {
            Phase::Handshaking { deadline } if now >= deadline => {
                self.close(CloseReason::HandshakeTimeout)
            }
            Phase::Connected => {
                if now >= self.last_received + self.config.server_timeout {
                    self.close(CloseReason::ServerTimeout);
                } else if now >= self.last_sent + self.config.keep_alive_interval {
                    self.queue(encode_ping(), now);
                }
            }
            _ => {}
        }
    }

    /// The next deadline at which `handle_timeout` must run.
    pub fn poll_timeout(&self) -> Option<Millis> {
        match self.phase {
            Phase::Handshaking { deadline } => Some(deadline),
            Phase::Connected => Some(
                (self.last_received + self.config.server_timeout)
                    .min(self.last_sent + self.config.keep_alive_interval),
            ),
            _ => None,
        }
    }

    /// The next frame to write to the transport.
    pub fn poll_transmit(&mut self) -> Option<String> {
        self.transmit.pop_front()
    }

    /// The next event for the driver.
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    /// Queues a fire-and-forget invocation. Fails if the session is not connected.
    pub fn send<A: Serialize>(
        &mut self,
        target: &str,
        arguments: A,
        now: Millis,
    ) -> Result<(), SendError> {
        if self.phase != Phase::Connected {
            return Err(SendError::NotConnected);
        }
        let frame = encode_invocation(None, target, arguments)
            .map_err(|e| SendError::Encode(e.to_string()))?;
        self.queue(frame, now);
        Ok(())
    }

    /// Queues an invocation that expects a Completion; returns its id.
    pub fn invoke<A: Serialize>(
        &mut self,
        target: &str,
        arguments: A,
        now: Millis,
    ) -> Result<String, SendError> {
        if self.phase != Phase::Connected {
            return Err(SendError::NotConnected);
        }
        let id = self.next_invocation_id.to_string();
        let frame = encode_invocation(Some(&id), target, arguments)
            .map_err(|e| SendError::Encode(e.to_string()))?;
        self.next_invocation_id += 1;
        self.queue(frame, now);
        Ok(id)
    }

    /// Stops the session: queues a Close for the server (if connected) and reports `Stopped`.
    pub fn stop(&mut self, now: Millis) {
        if self.phase == Phase::Connected {
            self.queue(encode_close(), now);
        }
        self.close(CloseReason::Stopped);
    }

    fn queue(&mut self, frame: String, now: Millis) {
        self.transmit.push_back(frame);
        self.last_sent = now;
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
    #[error("the connection is not connected")]
    NotConnected,
    #[error("the arguments could not be serialized: {0}")]
    Encode(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain_transmit(s: &mut Session) -> Vec<String> {
        std::iter::from_fn(|| s.poll_transmit()).collect()
    }

    fn drain_events(s: &mut Session) -> Vec<SessionEvent> {
        std::iter::from_fn(|| s.poll_event()).collect()
    }

    fn connected(now: Millis) -> Session {
        let mut s = Session::new(SessionConfig::default());
        s.handle_open(now);
        s.handle_text("{}\u{1e}", now);
        drain_transmit(&mut s);
        drain_events(&mut s);
        s
    }

    #[test]
    fn handshake_then_messages_in_the_same_frame() {
        let mut s = Session::new(SessionConfig::default());
        s.handle_open(0);
        assert_eq!(
            drain_transmit(&mut s),
            ["{\"protocol\":\"json\",\"version\":1}\u{1e}"]
        );
        s.handle_text(
            "{}\u{1e}{\"type\":1,\"target\":\"positions\",\"arguments\":[[]]}\u{1e}",
            5,
        );
        let events = drain_events(&mut s);
        assert!(matches!(events[0], SessionEvent::Connected));
        assert!(
            matches!(&events[1], SessionEvent::Message(HubMessage::Invocation { target, .. }) if target == "positions")
        );
        assert_eq!(
            drain_transmit(&mut s),
            ["{\"type\":6}\u{1e}"],
            "a ping follows the handshake"
        );
        assert!(s.is_connected());
    }

    #[test]
    fn rejected_handshake_closes_with_the_servers_reason() {
        let mut s = Session::new(SessionConfig::default());
        s.handle_open(0);
        s.handle_text(
            "{\"error\":\"Requested protocol 'json' is not available.\"}\u{1e}",
            1,
        );
        let events = drain_events(&mut s);
        let SessionEvent::Closed(CloseReason::Protocol(msg)) = &events[0] else {
            panic!("{events:?}")
        };
        assert!(msg.contains("not available"));
    }

    #[test]
    fn handshake_timeout_fires_at_its_deadline() {
        let mut s = Session::new(SessionConfig::default());
        s.handle_open(1_000);
        assert_eq!(s.poll_timeout(), Some(16_000));
        s.handle_timeout(15_999);
        assert!(drain_events(&mut s).is_empty());
        s.handle_timeout(16_000);
        assert!(matches!(
            drain_events(&mut s)[..],
            [SessionEvent::Closed(CloseReason::HandshakeTimeout)]
        ));
    }

    #[test]
    fn keep_alive_pings_when_idle_and_server_timeout_detects_a_stall() {
        let mut s = connected(0);
        assert_eq!(s.poll_timeout(), Some(15_000));
        s.handle_timeout(15_000);
        assert_eq!(drain_transmit(&mut s), ["{\"type\":6}\u{1e}"]);
        // A server ping keeps the connection alive past the first 30 s.
        s.handle_text("{\"type\":6}\u{1e}", 20_000);
        s.handle_timeout(30_000);
        assert!(!s.is_closed());
        assert_eq!(
            drain_transmit(&mut s),
            ["{\"type\":6}\u{1e}"],
            "second keep-alive"
        );
        assert_eq!(s.poll_timeout(), Some(45_000));
        s.handle_timeout(50_000);
        assert!(matches!(
            drain_events(&mut s)[..],
            [SessionEvent::Closed(CloseReason::ServerTimeout)]
        ));
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn close_message_decides_about_reconnecting() {
        let mut s = connected(0);
        s.handle_text(
            "{\"type\":7,\"error\":\"restart\",\"allowReconnect\":true}\u{1e}{\"type\":6}\u{1e}",
            1,
        );
        let events = drain_events(&mut s);
        let SessionEvent::Closed(reason) = &events[0] else {
            panic!()
        };
        assert!(reason.may_reconnect());
        assert_eq!(events.len(), 1, "nothing after Close");

        let mut s = connected(0);
        s.handle_text("{\"type\":7}\u{1e}", 1);
        let SessionEvent::Closed(reason) = drain_events(&mut s).remove(0) else {
            panic!()
        };
        assert!(!reason.may_reconnect());
    }

    #[test]
    fn bad_records_are_skipped_not_fatal() {
        let mut s = connected(0);
        s.handle_text(
            "garbage\u{1e}{\"type\":42}\u{1e}{\"type\":1,\"target\":\"t\",\"arguments\":[]}\u{1e}",
            1,
        );
        let events = drain_events(&mut s);
        assert!(matches!(events[0], SessionEvent::Skipped(_)));
        assert!(matches!(events[1], SessionEvent::Message(_)));
        assert!(s.is_connected());
    }

    #[test]
    fn send_and_invoke_need_a_connection_and_number_invocations() {
        let mut s = Session::new(SessionConfig::default());
        assert_eq!(s.send("x", [1], 0), Err(SendError::NotConnected));
        let mut s = connected(0);
        s.send("join", ["site:a"], 1).unwrap();
        assert_eq!(s.invoke("echo", [1], 1).unwrap(), "0");
        assert_eq!(s.invoke("echo", [2], 1).unwrap(), "1");
        assert_eq!(drain_transmit(&mut s).len(), 3);
    }

    #[test]
    fn stop_sends_close_and_transport_loss_is_reported_once() {
        let mut s = connected(0);
        s.stop(1);
        assert_eq!(drain_transmit(&mut s), ["{\"type\":7}\u{1e}"]);
        s.handle_transport_closed("gone");
        assert!(matches!(
            drain_events(&mut s)[..],
            [SessionEvent::Closed(CloseReason::Stopped)]
        ));
    }
}

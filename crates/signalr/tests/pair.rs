//! Both sides of the protocol together: the client [`Session`] and the [`ServerSession`]
//! wired to each other by a simulated transport on a simulated clock. No sockets, no sleeps:
//! an hour of keep-alive runs in microseconds, and a cut lands exactly where a test puts it.

use signalr::protocol::{Frame, HubMessage, HubProtocol, Payload};
use signalr::server::{ServerCloseReason, ServerConfig, ServerEvent, ServerSession};
use signalr::{CloseReason, Millis, Session, SessionConfig, SessionEvent};

/// What the simulated transport does with the frames one side writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    /// Delivered whole, in order.
    Deliver,
    /// Delivered in order, every frame cut into pieces of this many bytes.
    Chunks(usize),
    /// Lost (a side that stopped talking, or a link cut mid-air).
    Drop,
}

/// A client and a server session joined by a transport.
struct Pair {
    now: Millis,
    client: Session,
    server: ServerSession,
    to_server: Wire,
    to_client: Wire,
    /// Whether the transport is open.
    up: bool,
    client_events: Vec<SessionEvent>,
    server_events: Vec<ServerEvent>,
}

impl Pair {
    /// Opens the transport and runs the handshake.
    fn connect(client: SessionConfig, server: ServerConfig) -> Self {
        Self::connect_with(client, server, Wire::Deliver)
    }

    fn connect_with(client: SessionConfig, server: ServerConfig, wire: Wire) -> Self {
        let mut pair = Pair {
            now: 0,
            client: Session::new(client),
            server: ServerSession::new(server, 0),
            to_server: wire,
            to_client: wire,
            up: true,
            client_events: Vec::new(),
            server_events: Vec::new(),
        };
        pair.client.handle_open(0);
        pair.settle();
        pair
    }

    /// Moves frames both ways until neither side has anything more to write, and collects
    /// what each side reports.
    fn settle(&mut self) {
        loop {
            let mut moved = false;
            while let Some(frame) = self.client.poll_transmit() {
                moved = true;
                if self.up {
                    deliver(frame.as_bytes(), self.to_server, |bytes| self.server.handle_data(bytes, self.now));
                }
            }
            while let Some(frame) = self.server.poll_transmit() {
                moved = true;
                if self.up {
                    deliver(frame.as_bytes(), self.to_client, |bytes| self.client.handle_data(bytes, self.now));
                }
            }
            self.client_events.extend(std::iter::from_fn(|| self.client.poll_event()));
            self.server_events.extend(std::iter::from_fn(|| self.server.poll_event()));
            if !moved {
                return;
            }
        }
    }

    /// Runs both sides' timers, in order, until `until`.
    fn run_until(&mut self, until: Millis) {
        let mut same_instant = 0;
        loop {
            self.settle();
            let next = [self.client.poll_timeout(), self.server.poll_timeout()].into_iter().flatten().min();
            match next {
                Some(at) if at <= until => {
                    // A timer that stays due after it ran would spin here for ever.
                    same_instant = if at <= self.now { same_instant + 1 } else { 0 };
                    assert!(same_instant < 1_000, "a timer at {at} ms stays due after it ran");
                    self.now = self.now.max(at);
                    self.client.handle_timeout(self.now);
                    self.server.handle_timeout(self.now);
                }
                _ => break,
            }
        }
        self.now = until;
    }

    fn run_for(&mut self, ms: Millis) {
        self.run_until(self.now + ms);
    }

    /// The transport drops: what is in flight is lost, and both sides are told.
    fn cut(&mut self) {
        self.up = false;
        self.client.handle_transport_closed("the network went away");
        self.server.handle_transport_closed(self.now);
        self.settle();
    }

    /// The client reopens the transport and both sides resume.
    fn resume(&mut self) {
        self.up = true;
        self.server.handle_transport_resumed(self.now);
        self.client.handle_resumed_open(self.now);
        self.settle();
    }

    /// The server invokes `target` with one number on the client.
    fn server_sends(&mut self, target: &str, n: u64) {
        let protocol = self.server.protocol();
        let message = HubMessage::Invocation {
            invocation_id: None,
            target: target.into(),
            arguments: vec![protocol.payload(&n).unwrap()],
            stream_ids: Vec::new(),
            headers: Default::default(),
        };
        self.server.send_message(&message, self.now).unwrap();
    }

    /// The client invokes `target` with one number on the server.
    fn client_sends(&mut self, target: &str, n: u64) {
        let argument = self.client.payload(&n).unwrap();
        self.client.send(target, vec![argument], self.now).unwrap();
    }

    /// The numbers the client received, in order.
    fn client_received(&self) -> Vec<u64> {
        self.client_events
            .iter()
            .filter_map(|event| match event {
                SessionEvent::Message(HubMessage::Invocation { arguments, .. }) => Some(number(&arguments[0])),
                _ => None,
            })
            .collect()
    }

    /// The numbers the server received, in order.
    fn server_received(&self) -> Vec<u64> {
        self.server_events
            .iter()
            .filter_map(|event| match event {
                ServerEvent::Message(HubMessage::Invocation { arguments, .. }) => Some(number(&arguments[0])),
                _ => None,
            })
            .collect()
    }

    fn client_closed(&self) -> Option<&CloseReason> {
        self.client_events.iter().find_map(|event| match event {
            SessionEvent::Closed(reason) => Some(reason),
            _ => None,
        })
    }

    fn server_closed(&self) -> Option<&ServerCloseReason> {
        self.server_events.iter().find_map(|event| match event {
            ServerEvent::Closed(reason) => Some(reason),
            _ => None,
        })
    }
}

fn deliver(bytes: &[u8], wire: Wire, mut to: impl FnMut(&[u8])) {
    match wire {
        Wire::Deliver => to(bytes),
        Wire::Chunks(size) => bytes.chunks(size).for_each(to),
        Wire::Drop => {}
    }
}

fn number(payload: &Payload) -> u64 {
    payload.decode().expect("a number")
}

fn client(protocol: HubProtocol) -> SessionConfig {
    SessionConfig { protocol, ..SessionConfig::default() }
}

fn stateful_client(protocol: HubProtocol) -> SessionConfig {
    SessionConfig { protocol, stateful_buffer: Some(100_000), ..SessionConfig::default() }
}

fn stateful_server() -> ServerConfig {
    ServerConfig { stateful_reconnect: true, ..ServerConfig::default() }
}

const PROTOCOLS: [HubProtocol; 2] = [HubProtocol::Json, HubProtocol::MessagePack];

#[test]
fn handshake_in_both_protocols_then_messages_both_ways() {
    for protocol in PROTOCOLS {
        for (client, stateful) in [(client(protocol), false), (stateful_client(protocol), true)] {
            let mut pair = Pair::connect(client, stateful_server());
            assert!(pair.client.is_connected() && pair.server.is_connected(), "{protocol:?}");
            assert!(
                matches!(pair.server_events[..], [ServerEvent::Connected { protocol: p, stateful: s }] if p == protocol && s == stateful),
                "{protocol:?}: {:?}",
                pair.server_events
            );
            assert!(matches!(pair.client_events[..], [SessionEvent::Connected]));
            assert_eq!(pair.client.is_stateful(), stateful);
            pair.server_sends("positions", 7);
            pair.client_sends("Echo", 8);
            pair.settle();
            assert_eq!(pair.client_received(), [7], "{protocol:?}");
            assert_eq!(pair.server_received(), [8], "{protocol:?}");
        }
    }
}

#[test]
fn the_server_refuses_what_it_cannot_serve_and_the_client_hears_why() {
    // MessagePack over a text-only transport (Server-Sent Events).
    let text_only = ServerConfig { binary_transport: false, ..ServerConfig::default() };
    let pair = Pair::connect(client(HubProtocol::MessagePack), text_only);
    assert!(matches!(pair.server_closed(), Some(ServerCloseReason::HandshakeRefused(_))));
    match pair.client_closed() {
        Some(CloseReason::HandshakeRejected(why)) => assert!(why.contains("'Binary' transfer format"), "{why}"),
        other => panic!("expected a refused handshake, got {other:?}"),
    }
    // Stateful reconnect asked for but not granted: the connection works without it.
    let pair = Pair::connect(stateful_client(HubProtocol::Json), ServerConfig::default());
    assert!(matches!(pair.server_events[..], [ServerEvent::Connected { stateful: false, .. }]));
}

#[test]
fn keep_alive_holds_an_idle_pair_for_an_hour_in_both_protocols() {
    for protocol in PROTOCOLS {
        let mut pair = Pair::connect(client(protocol), ServerConfig::default());
        pair.run_for(3_600_000);
        assert!(pair.client.is_connected() && pair.server.is_connected(), "{protocol:?}");
        assert_eq!(pair.client_closed(), None);
        assert_eq!(pair.server_closed(), None);
        // Pings are 15 s apart both ways: the server's count shows they were received.
        assert!(pair.client.messages_received() >= 3_600 / 15, "{}", pair.client.messages_received());
    }
}

#[test]
fn the_server_closes_a_silent_client_and_tells_it_why() {
    for protocol in PROTOCOLS {
        let mut pair = Pair::connect(client(protocol), ServerConfig::default());
        pair.to_server = Wire::Drop; // the client's pings never arrive
        pair.run_for(29_999);
        assert!(pair.server.is_connected(), "{protocol:?}: not before the client timeout");
        pair.run_for(1);
        assert_eq!(pair.server_closed(), Some(&ServerCloseReason::ClientTimeout), "{protocol:?}");
        match pair.client_closed() {
            Some(CloseReason::ServerClosed { error: Some(error), allow_reconnect: true }) => {
                assert!(error.contains("sent nothing"), "{error}");
            }
            other => panic!("{protocol:?}: expected the server's Close, got {other:?}"),
        }
    }
}

#[test]
fn the_client_detects_a_silent_server() {
    for protocol in PROTOCOLS {
        let mut pair = Pair::connect(client(protocol), ServerConfig::default());
        pair.to_client = Wire::Drop; // the server's pings never arrive
        pair.run_for(29_999);
        assert!(pair.client.is_connected(), "{protocol:?}: not before the server timeout");
        pair.run_for(1);
        assert_eq!(pair.client_closed(), Some(&CloseReason::ServerTimeout), "{protocol:?}");
    }
}

#[test]
fn a_client_without_a_handshake_is_dropped() {
    let mut server: ServerSession = ServerSession::new(ServerConfig::default(), 0);
    server.handle_data(b"{\"protocol\":\"json\",", 10);
    server.handle_timeout(14_999);
    assert!(!server.is_closed());
    server.handle_timeout(15_000);
    assert!(matches!(server.poll_event(), Some(ServerEvent::Closed(ServerCloseReason::HandshakeTimeout))));
}

#[test]
fn stateful_resume_after_cuts_loses_and_repeats_nothing_both_ways() {
    for protocol in PROTOCOLS {
        let mut pair = Pair::connect(stateful_client(protocol), stateful_server());
        let mut sent = 0;
        for round in 0..20u64 {
            // A few messages each way, some acknowledged (time passes), some not.
            for _ in 0..(round % 5 + 1) {
                sent += 1;
                pair.server_sends("tick", sent);
                pair.client_sends("up", sent);
            }
            if round % 3 == 0 {
                pair.run_for(1_500);
            }
            // Cut with frames in flight: what the sides queued is written into a dead link.
            pair.up = false;
            sent += 1;
            pair.server_sends("tick", sent);
            pair.client_sends("up", sent);
            pair.settle();
            pair.cut();
            assert!(pair.client_closed().is_none() && pair.server_closed().is_none(), "{protocol:?} round {round}");
            // Sent while the transport is down: kept for replay.
            sent += 1;
            pair.server_sends("tick", sent);
            pair.client_sends("up", sent);
            pair.run_for(200);
            pair.resume();
            pair.run_for(100);
        }
        pair.run_for(2_000);
        let expected: Vec<u64> = (1..=sent).collect();
        assert_eq!(pair.client_received(), expected, "{protocol:?}: the client got each exactly once, in order");
        assert_eq!(pair.server_received(), expected, "{protocol:?}: the server got each exactly once, in order");
        let resumed = pair.client_events.iter().filter(|e| matches!(e, SessionEvent::Resumed)).count();
        assert_eq!(resumed, 20, "{protocol:?}");
    }
}

#[test]
fn a_client_that_does_not_come_back_is_let_go_after_the_resume_window() {
    let mut pair = Pair::connect(stateful_client(HubProtocol::Json), stateful_server());
    pair.cut();
    pair.run_for(29_999);
    assert!(pair.server.is_resuming());
    pair.run_for(1);
    assert_eq!(pair.server_closed(), Some(&ServerCloseReason::TransportLost));
}

#[test]
fn a_client_that_acks_late_loses_nothing_and_one_too_far_behind_is_told_to_reconnect() {
    // A small replay buffer: the server holds frames back until the client's acks make room.
    let small = ServerConfig { replay_buffer: 2_000, max_backlog: 5_000, ..stateful_server() };
    let mut pair = Pair::connect(stateful_client(HubProtocol::Json), small.clone());
    for n in 1..=3_000 {
        pair.server_sends("tick", n);
    }
    pair.run_for(60_000);
    assert_eq!(pair.client_received(), (1..=3_000).collect::<Vec<_>>());
    assert_eq!(pair.server.dropped(), 0);

    // A client whose acks never arrive falls behind: closed with allowReconnect, not silently
    // missing messages.
    let mut pair = Pair::connect(stateful_client(HubProtocol::Json), ServerConfig { max_backlog: 100, ..small });
    pair.to_server = Wire::Drop;
    for n in 1..=1_000 {
        pair.server_sends("tick", n);
    }
    pair.settle();
    assert_eq!(pair.server_closed(), Some(&ServerCloseReason::FellBehind));
    assert!(matches!(pair.client_closed(), Some(CloseReason::ServerClosed { allow_reconnect: true, .. })));
    let received = pair.client_received();
    assert_eq!(received, (1..=received.len() as u64).collect::<Vec<_>>(), "a prefix, in order, no gaps");
}

#[test]
fn framing_works_however_the_transport_splits_the_stream() {
    for protocol in PROTOCOLS {
        for size in [1, 2, 3, 5, 7, 13, 64] {
            let mut pair = Pair::connect_with(stateful_client(protocol), stateful_server(), Wire::Chunks(size));
            assert!(pair.client.is_connected() && pair.server.is_connected(), "{protocol:?} split {size}");
            for n in 1..=50 {
                pair.server_sends("tick", n);
                pair.client_sends("up", n);
            }
            pair.run_for(5_000);
            let expected: Vec<u64> = (1..=50).collect();
            assert_eq!(pair.client_received(), expected, "{protocol:?} split {size}");
            assert_eq!(pair.server_received(), expected, "{protocol:?} split {size}");
        }
    }
}

#[test]
fn close_from_either_side_ends_both() {
    let mut pair = Pair::connect(client(HubProtocol::Json), ServerConfig::default());
    pair.client.stop(pair.now);
    pair.settle();
    assert_eq!(pair.server_closed(), Some(&ServerCloseReason::ClientClosed));

    let mut pair = Pair::connect(client(HubProtocol::MessagePack), ServerConfig::default());
    pair.server.close(Some("The hub is going away."), false, pair.now);
    pair.settle();
    let expected = CloseReason::ServerClosed { error: Some("The hub is going away.".into()), allow_reconnect: false };
    assert_eq!(pair.client_closed(), Some(&expected));
    assert!(!expected.may_reconnect());
}

#[test]
fn a_broadcast_encoded_once_reaches_each_session_as_its_own_protocol_frame() {
    for protocol in PROTOCOLS {
        let mut pair = Pair::connect(client(protocol), ServerConfig::default());
        let frame = match protocol {
            HubProtocol::Json => Frame::Text(signalr::protocol::json::write_invocation("positions", [[1, 2]]).unwrap()),
            HubProtocol::MessagePack => {
                Frame::Binary(signalr::protocol::msgpack::write_invocation("positions", [[1, 2]]).unwrap())
            }
        };
        pair.server.send_encoded_invocation(frame, pair.now);
        pair.settle();
        let batch = pair.client_events.iter().find_map(|event| match event {
            SessionEvent::Message(HubMessage::Invocation { target, arguments, .. }) if target == "positions" => {
                Some(arguments[0].decode::<Vec<u32>>().unwrap())
            }
            _ => None,
        });
        assert_eq!(batch, Some(vec![1, 2]), "{protocol:?}");
    }
}

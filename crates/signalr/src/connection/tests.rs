//! The session against a scripted server on a simulated clock: no sockets, no sleeps.

use super::*;

fn texts(s: &mut Session) -> Vec<String> {
    std::iter::from_fn(|| s.poll_transmit())
        .map(|frame| match frame {
            Frame::Text(text) => text,
            Frame::Binary(bytes) => format!("{bytes:?}"),
        })
        .collect()
}

fn events(s: &mut Session) -> Vec<SessionEvent> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

fn feed(s: &mut Session, text: &str, now: Millis) {
    s.handle_data(text.as_bytes(), now);
}

fn connected_with(config: SessionConfig, now: Millis) -> Session {
    let mut s = Session::new(config);
    s.handle_open(now);
    feed(&mut s, "{}\u{1e}", now);
    texts(&mut s);
    events(&mut s);
    s
}

fn connected(now: Millis) -> Session {
    connected_with(SessionConfig::default(), now)
}

const POSITIONS: &str = "{\"type\":1,\"target\":\"positions\",\"arguments\":[[]]}\u{1e}";

#[test]
fn handshake_then_messages_in_the_same_frame() {
    let mut s = Session::new(SessionConfig::default());
    s.handle_open(0);
    assert_eq!(texts(&mut s), ["{\"protocol\":\"json\",\"version\":1}\u{1e}"]);
    feed(&mut s, &format!("{{}}\u{1e}{POSITIONS}"), 5);
    let events = events(&mut s);
    assert!(matches!(events[0], SessionEvent::Connected));
    assert!(
        matches!(&events[1], SessionEvent::Message(HubMessage::Invocation { target, .. }) if target == "positions")
    );
    assert_eq!(texts(&mut s), ["{\"type\":6}\u{1e}"], "a ping follows the handshake");
    assert!(s.is_connected());
}

#[test]
fn handshake_answer_split_across_chunks_at_every_byte() {
    let whole = format!("{{}}\u{1e}{POSITIONS}");
    for split in 0..whole.len() {
        let mut s = Session::new(SessionConfig::default());
        s.handle_open(0);
        s.handle_data(&whole.as_bytes()[..split], 1);
        s.handle_data(&whole.as_bytes()[split..], 2);
        let events = events(&mut s);
        assert!(matches!(events[..], [SessionEvent::Connected, SessionEvent::Message(_)]), "split at {split}");
    }
}

#[test]
fn rejected_handshake_is_final() {
    let mut s = Session::new(SessionConfig::default());
    s.handle_open(0);
    feed(&mut s, "{\"error\":\"Requested protocol 'json' is not available.\"}\u{1e}", 1);
    let SessionEvent::Closed(reason) = events(&mut s).remove(0) else { panic!() };
    assert!(matches!(&reason, CloseReason::HandshakeRejected(m) if m.contains("not available")));
    assert!(!reason.may_reconnect());
}

#[test]
fn handshake_timeout_fires_at_its_deadline() {
    let mut s = Session::new(SessionConfig::default());
    s.handle_open(1_000);
    assert_eq!(s.poll_timeout(), Some(16_000));
    s.handle_timeout(15_999);
    assert!(events(&mut s).is_empty());
    s.handle_timeout(16_000);
    assert!(matches!(events(&mut s)[..], [SessionEvent::Closed(CloseReason::HandshakeTimeout)]));
}

#[test]
fn keep_alive_pings_when_idle_and_server_timeout_detects_a_stall() {
    let mut s = connected(0);
    assert_eq!(s.poll_timeout(), Some(15_000));
    s.handle_timeout(15_000);
    assert_eq!(texts(&mut s), ["{\"type\":6}\u{1e}"]);
    // A server ping keeps the connection alive past the first 30 s.
    feed(&mut s, "{\"type\":6}\u{1e}", 20_000);
    s.handle_timeout(30_000);
    assert!(!s.is_closed());
    assert_eq!(texts(&mut s), ["{\"type\":6}\u{1e}"], "second keep-alive");
    assert_eq!(s.poll_timeout(), Some(45_000));
    s.handle_timeout(50_000);
    assert!(matches!(events(&mut s)[..], [SessionEvent::Closed(CloseReason::ServerTimeout)]));
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn long_polling_keeps_itself_alive() {
    let config = SessionConfig { inherent_keep_alive: true, ..SessionConfig::default() };
    let mut s = Session::new(config.clone());
    s.handle_open(0);
    texts(&mut s);
    feed(&mut s, "{}\u{1e}", 1);
    assert!(texts(&mut s).is_empty(), "no ping on long polling");
    assert_eq!(s.poll_timeout(), None);
    s.handle_timeout(1_000_000);
    assert!(s.is_connected(), "no server timeout either");
}

#[test]
fn close_message_decides_about_reconnecting() {
    let mut s = connected(0);
    feed(&mut s, "{\"type\":7,\"error\":\"restart\",\"allowReconnect\":true}\u{1e}{\"type\":6}\u{1e}", 1);
    let events1 = events(&mut s);
    let SessionEvent::Closed(reason) = &events1[0] else { panic!() };
    assert!(reason.may_reconnect());
    assert_eq!(events1.len(), 1, "nothing after Close");

    let mut s = connected(0);
    feed(&mut s, "{\"type\":7}\u{1e}", 1);
    let SessionEvent::Closed(reason) = events(&mut s).remove(0) else { panic!() };
    assert!(!reason.may_reconnect());
}

#[test]
fn bad_records_are_skipped_not_fatal() {
    let mut s = connected(0);
    feed(&mut s, &format!("garbage\u{1e}{{\"type\":42}}\u{1e}{POSITIONS}"), 1);
    let events = events(&mut s);
    assert!(matches!(events[0], SessionEvent::Skipped(_)));
    let SessionEvent::Skipped(ignored) = &events[1] else { panic!("the unknown type is reported: {events:?}") };
    assert!(ignored.to_string().contains("unknown type, ignored"));
    assert!(matches!(events[2], SessionEvent::Message(_)));
    assert_eq!(events.len(), 3);
    assert!(s.is_connected());
}

#[test]
fn an_oversized_record_closes_the_session() {
    let config = SessionConfig { max_record: 64, ..SessionConfig::default() };
    let mut s = connected_with(config, 0);
    feed(&mut s, &"x".repeat(100), 1);
    assert!(matches!(events(&mut s)[..], [SessionEvent::Closed(CloseReason::Protocol(_))]));
}

#[test]
fn send_invoke_stream_and_cancel() {
    let mut s = Session::new(SessionConfig::default());
    assert_eq!(s.send("x", vec![], 0), Err(SendError::NotConnected));
    let mut s = connected(0);
    let arg = s.payload("site:a").unwrap();
    s.send("join", vec![arg], 1).unwrap();
    let one = s.payload(&1).unwrap();
    assert_eq!(s.invoke("echo", vec![one.clone()], 1).unwrap(), "0");
    assert_eq!(s.stream("counter", vec![one], 1).unwrap(), "1");
    s.cancel("1", 1).unwrap();
    assert_eq!(
        texts(&mut s),
        [
            "{\"type\":1,\"target\":\"join\",\"arguments\":[\"site:a\"]}\u{1e}",
            "{\"type\":1,\"invocationId\":\"0\",\"target\":\"echo\",\"arguments\":[1]}\u{1e}",
            "{\"type\":4,\"invocationId\":\"1\",\"target\":\"counter\",\"arguments\":[1]}\u{1e}",
            "{\"type\":5,\"invocationId\":\"1\"}\u{1e}",
        ]
    );
}

#[test]
fn stop_sends_close_and_transport_loss_is_reported_once() {
    let mut s = connected(0);
    s.stop(1);
    assert_eq!(texts(&mut s), ["{\"type\":7}\u{1e}"]);
    s.handle_transport_closed("gone");
    assert!(matches!(events(&mut s)[..], [SessionEvent::Closed(CloseReason::Stopped)]));
}

fn stateful_config() -> SessionConfig {
    SessionConfig { stateful_buffer: Some(100_000), ..SessionConfig::default() }
}

fn invocation(n: u32) -> String {
    format!("{{\"type\":1,\"target\":\"tick\",\"arguments\":[{n}]}}\u{1e}")
}

fn delivered(events: &[SessionEvent]) -> Vec<u32> {
    events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::Message(HubMessage::Invocation { arguments, .. }) => Some(arguments[0].decode().unwrap()),
            _ => None,
        })
        .collect()
}

#[test]
fn stateful_handshake_asks_for_version_2_and_acks_after_a_delay() {
    let mut s = Session::new(stateful_config());
    s.handle_open(0);
    assert_eq!(texts(&mut s), ["{\"protocol\":\"json\",\"version\":2}\u{1e}"]);
    feed(&mut s, "{}\u{1e}", 0);
    texts(&mut s);
    feed(&mut s, &(invocation(1) + &invocation(2)), 100);
    assert_eq!(s.poll_timeout(), Some(1_100), "ack 1 s after the first unacked message");
    s.handle_timeout(1_100);
    assert_eq!(texts(&mut s), ["{\"type\":8,\"sequenceId\":2}\u{1e}"]);
}

#[test]
fn a_burst_is_acknowledged_at_once() {
    let mut s = Session::new(stateful_config());
    s.handle_open(0);
    feed(&mut s, "{}\u{1e}", 0);
    texts(&mut s);
    let burst: String = (1..=EAGER_ACK_AFTER).map(invocation).collect();
    feed(&mut s, &burst, 50);
    assert_eq!(s.poll_timeout(), Some(50), "no waiting for the delay");
    s.handle_timeout(50);
    assert_eq!(texts(&mut s), [format!("{{\"type\":8,\"sequenceId\":{EAGER_ACK_AFTER}}}\u{1e}")]);
    // The count starts again: the next message waits for the delay.
    feed(&mut s, &invocation(99), 60);
    assert_eq!(s.poll_timeout(), Some(1_060));
}

#[test]
fn a_large_message_is_acknowledged_at_once() {
    let mut s = Session::new(stateful_config());
    s.handle_open(0);
    feed(&mut s, "{}\u{1e}", 0);
    texts(&mut s);
    let big = format!("{{\"type\":1,\"target\":\"tick\",\"arguments\":[1,\"{}\"]}}\u{1e}", "x".repeat(EAGER_ACK_BYTES));
    feed(&mut s, &big, 70);
    assert_eq!(s.poll_timeout(), Some(70), "a third of the server's buffer is not left waiting");
    s.handle_timeout(70);
    assert_eq!(texts(&mut s), ["{\"type\":8,\"sequenceId\":1}\u{1e}"]);
}

#[test]
fn stateful_resume_replays_unacked_sends_and_drops_duplicates() {
    let mut s = connected_with(stateful_config(), 0);
    feed(&mut s, &(invocation(1) + &invocation(2)), 10);
    assert_eq!(delivered(&events(&mut s)), [1, 2]);
    let arg = s.payload(&"a").unwrap();
    s.send("up", vec![arg.clone()], 20).unwrap(); // our #1
    s.send("up", vec![arg], 20).unwrap(); // our #2
    texts(&mut s);
    feed(&mut s, "{\"type\":8,\"sequenceId\":1}\u{1e}", 30); // server processed our #1

    s.handle_transport_closed("network blip");
    assert!(matches!(events(&mut s)[..], [SessionEvent::TransportLost(_)]));
    assert!(!s.is_closed());
    // Messages sent while the transport is down are kept and replayed.
    let arg = s.payload(&"b").unwrap();
    s.send("up", vec![arg], 40).unwrap(); // our #3
    assert!(texts(&mut s).is_empty());

    s.handle_resumed_open(50);
    assert_eq!(
        texts(&mut s),
        [
            "{\"type\":9,\"sequenceId\":2}\u{1e}".to_string(),
            "{\"type\":1,\"target\":\"up\",\"arguments\":[\"a\"]}\u{1e}".to_string(),
            "{\"type\":1,\"target\":\"up\",\"arguments\":[\"b\"]}\u{1e}".to_string(),
        ]
    );
    // Anything before the server's Sequence is ignored; then it replays from its #2.
    feed(&mut s, &invocation(99), 55);
    feed(&mut s, &format!("{{\"type\":9,\"sequenceId\":2}}\u{1e}{}{}", invocation(2), invocation(3)), 60);
    let events = events(&mut s);
    assert!(matches!(events[0], SessionEvent::Resumed));
    assert_eq!(delivered(&events), [3], "2 was a duplicate, 3 is new, 99 was noise");
}

#[test]
fn stateful_resume_that_fails_closes() {
    let mut s = connected_with(stateful_config(), 0);
    s.handle_transport_closed("blip");
    events(&mut s);
    s.handle_transport_closed("could not reopen");
    assert!(matches!(events(&mut s)[..], [SessionEvent::Closed(CloseReason::TransportLost(_))]));
}

#[test]
fn stateful_sequence_that_skips_ahead_is_a_protocol_error() {
    let mut s = connected_with(stateful_config(), 0);
    feed(&mut s, &invocation(1), 1);
    s.handle_transport_closed("blip");
    s.handle_resumed_open(2);
    feed(&mut s, "{\"type\":9,\"sequenceId\":5}\u{1e}", 3);
    let events = events(&mut s);
    assert!(matches!(events.last(), Some(SessionEvent::Closed(CloseReason::Protocol(_)))));
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A small deterministic generator: every run feeds the same hostile streams.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet: &[u8] = b"{}[]\":,0123456789typearguments\x1e\x00\xff\xc3 -.e";
    for protocol in [HubProtocol::Json, HubProtocol::MessagePack] {
        for _ in 0..2_000 {
            let mut s = connected_with(SessionConfig { protocol, max_record: 512, ..SessionConfig::default() }, 0);
            for _ in 0..4 {
                let len = (next() % 64) as usize;
                let chunk: Vec<u8> = (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
                s.handle_data(&chunk, 1);
            }
            events(&mut s);
        }
    }
}

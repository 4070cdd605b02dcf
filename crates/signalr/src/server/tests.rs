//! The server session against a scripted client on a simulated clock.

use super::*;

fn texts(s: &mut ServerSession) -> Vec<String> {
    std::iter::from_fn(|| s.poll_transmit())
        .map(|frame| String::from_utf8_lossy(frame.as_bytes()).into_owned())
        .collect()
}

fn events(s: &mut ServerSession) -> Vec<ServerEvent> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

fn refused(config: ServerConfig, request: &str) -> (Vec<String>, Vec<ServerEvent>) {
    let mut s: ServerSession = ServerSession::new(config, 0);
    s.handle_data(request.as_bytes(), 1);
    (texts(&mut s), events(&mut s))
}

#[test]
fn bad_handshakes_are_answered_with_the_reason_then_closed() {
    let cases = [
        ("{\"protocol\":\"xml\",\"version\":1}\u{1e}", "Requested protocol 'xml' is not available."),
        (
            "{\"protocol\":\"json\",\"version\":3}\u{1e}",
            "The server does not support version 3 of the 'json' protocol.",
        ),
        ("nope\u{1e}", "Invalid handshake request: "),
    ];
    for (request, why) in cases {
        let (texts, events) = refused(ServerConfig::default(), request);
        assert_eq!(texts.len(), 1, "{request}");
        assert!(texts[0].starts_with("{\"error\":\"") && texts[0].contains(why), "{}", texts[0]);
        assert!(texts[0].ends_with('\u{1e}'));
        assert!(matches!(&events[..], [ServerEvent::Closed(ServerCloseReason::HandshakeRefused(_))]), "{events:?}");
    }
    let (texts, _) = refused(ServerConfig::default(), &"x".repeat(5_000));
    assert!(texts[0].contains("too large"), "{texts:?}");
}

#[test]
fn the_answer_and_what_follows_the_request_in_the_same_chunk() {
    let mut s: ServerSession = ServerSession::new(ServerConfig::default(), 0);
    let chunk = "{\"protocol\":\"json\",\"version\":1}\u{1e}{\"type\":1,\"target\":\"Echo\",\"arguments\":[1]}\u{1e}";
    s.handle_data(chunk.as_bytes(), 5);
    assert_eq!(texts(&mut s), ["{}\u{1e}"]);
    let events = events(&mut s);
    assert!(matches!(events[0], ServerEvent::Connected { protocol: HubProtocol::Json, stateful: false }));
    assert!(matches!(&events[1], ServerEvent::Message(HubMessage::Invocation { target, .. }) if target == "Echo"));
}

#[test]
fn unknown_types_are_ignored_and_a_bad_record_ends_the_connection_with_a_close() {
    let mut s: ServerSession = ServerSession::new(ServerConfig::default(), 0);
    s.handle_data(b"{\"protocol\":\"json\",\"version\":1}\x1e{\"type\":99}\x1e", 1);
    texts(&mut s);
    events(&mut s);
    assert!(s.is_connected());
    s.handle_data(b"{\"type\":1,\"target\":\x1e", 2);
    let sent = texts(&mut s);
    assert!(sent[0].starts_with("{\"type\":7,\"error\":\"Connection closed with an error."), "{sent:?}");
    assert!(sent[0].contains("\"allowReconnect\":true"));
    assert!(matches!(events(&mut s)[..], [ServerEvent::Closed(ServerCloseReason::Protocol(_))]));
}

#[test]
fn a_polling_client_counts_as_alive_and_a_non_stateful_transport_loss_ends_the_session() {
    let mut s: ServerSession = ServerSession::new(ServerConfig::default(), 0);
    s.handle_data(b"{\"protocol\":\"json\",\"version\":1}\x1e", 0);
    s.handle_client_alive(20_000);
    s.handle_timeout(45_000);
    assert!(s.is_connected(), "alive at 20 s: the timeout runs from there");
    s.handle_timeout(50_000);
    assert!(s.is_closed());

    let mut s: ServerSession = ServerSession::new(ServerConfig::default(), 0);
    s.handle_data(b"{\"protocol\":\"json\",\"version\":1}\x1e", 0);
    events(&mut s);
    s.handle_transport_closed(1);
    assert!(matches!(events(&mut s)[..], [ServerEvent::Closed(ServerCloseReason::TransportLost)]));
}

#[test]
fn stateful_acks_come_after_the_configured_delay_and_replays_are_not_delivered_twice() {
    let config = ServerConfig { stateful_reconnect: true, ack_delay: 250, ..ServerConfig::default() };
    let mut s: ServerSession = ServerSession::new(config, 0);
    s.handle_data(b"{\"protocol\":\"json\",\"version\":2}\x1e", 0);
    texts(&mut s);
    let one = b"{\"type\":1,\"target\":\"up\",\"arguments\":[1]}\x1e";
    s.handle_data(one, 100);
    assert_eq!(s.poll_timeout(), Some(350));
    s.handle_timeout(350);
    assert_eq!(texts(&mut s), ["{\"type\":8,\"sequenceId\":1}\u{1e}"]);
    // The client resumes from 1 and replays it: a duplicate, not delivered again.
    s.handle_transport_closed(400);
    s.handle_transport_resumed(500);
    assert_eq!(texts(&mut s), ["{\"type\":9,\"sequenceId\":1}\u{1e}"]);
    s.handle_data(b"{\"type\":9,\"sequenceId\":1}\x1e", 510);
    s.handle_data(one, 510);
    let delivered = events(&mut s).into_iter().filter(|e| matches!(e, ServerEvent::Message(_))).count();
    assert_eq!(delivered, 1, "the first delivery only");
    // A Sequence past what was received means lost messages.
    s.handle_data(b"{\"type\":9,\"sequenceId\":9}\x1e", 520);
    assert!(matches!(events(&mut s)[..], [ServerEvent::Closed(ServerCloseReason::Protocol(_))]));
}

#[test]
fn a_close_before_the_handshake_ends_the_session_silently() {
    let mut s: ServerSession = ServerSession::new(ServerConfig::default(), 0);
    s.close(Some("shutting down"), true, 1);
    assert!(texts(&mut s).is_empty(), "nothing the client would take for a handshake answer");
    assert!(s.is_closed());
    // Without stateful reconnect, a Sequence past the first message means lost messages too.
    let mut s: ServerSession = ServerSession::new(ServerConfig::default(), 0);
    s.handle_data(b"{\"protocol\":\"json\",\"version\":1}\x1e{\"type\":9,\"sequenceId\":1}\x1e", 0);
    assert!(s.is_connected());
    s.handle_data(b"{\"type\":9,\"sequenceId\":4}\x1e", 1);
    assert!(s.is_closed());
}

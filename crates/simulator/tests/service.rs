//! The simulator over real HTTP and WebSockets on loopback, driven by our own sans-IO
//! SignalR core (the official JS client covers the same path in tests/interop).

// Native only: std's clock works here (clippy.toml forbids it for code built for wasm32).
#![allow(clippy::disallowed_methods)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use signalr::negotiate::{websocket_url, NegotiateStep, Negotiator};
use signalr::{Bearer, HubMessage, Session, SessionConfig, SessionEvent};
use simulator::devices::fleet::Fleet;
use simulator::service::jwt::{self, Claims};
use simulator::service::Timing;
use tokio_tungstenite::tungstenite::Message;

const KEY: &str = "integration-test-key";

type Running = simulator::Local;

async fn start(timing: Timing) -> Running {
    start_with(timing, Default::default()).await
}

async fn start_with(timing: Timing, transports: simulator::service::TransportPolicy) -> Running {
    simulator::serve_local(KEY, |settings| {
        settings.token_lifetime = Duration::from_secs(60);
        settings.timing = timing;
        settings.transports = transports;
    })
    .await
    .unwrap()
}

/// Walks negotiate from the functions API like a client would; returns the WebSocket URL.
async fn negotiate(functions: &str) -> String {
    negotiate_with(functions, false).await
}

async fn negotiate_with(functions: &str, stateful: bool) -> String {
    let http = reqwest::Client::new();
    let mut negotiator = Negotiator::new(format!("{functions}/api")).with_stateful_reconnect(stateful);
    let mut request = negotiator.first_request();
    loop {
        let mut call = http.post(&request.url);
        if let Bearer::Service(token) = &request.bearer {
            call = call.bearer_auth(token);
        }
        let response = call.send().await.unwrap();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        match negotiator.handle_response(status, &body).unwrap() {
            NegotiateStep::Request(next) => request = next,
            NegotiateStep::Done(done) => {
                let Bearer::Service(token) = &done.bearer else { panic!("the service token is used to connect") };
                return websocket_url(&done.connect_url(), Some(token));
            }
        }
    }
}

fn now_ms(origin: std::time::Instant) -> u64 {
    origin.elapsed().as_millis() as u64
}

#[tokio::test]
async fn a_client_negotiates_through_the_redirect_and_receives_positions() {
    let running = start(Timing::default()).await;
    let url = negotiate(&running.functions).await;
    assert!(url.starts_with(&running.service.replace("http://", "ws://")));

    let (mut socket, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let origin = std::time::Instant::now();
    let mut session = Session::new(SessionConfig::default());
    session.handle_open(now_ms(origin));
    while let Some(frame) = session.poll_transmit() {
        socket.send(Message::binary(frame.as_bytes().to_vec())).await.unwrap();
    }

    // Publish to everyone (the pipeline publishes to site groups, joined through the functions API).
    let hub = running.state.hubs.get("telemetry");
    tokio::spawn(async move {
        let mut fleet = Fleet::new(1, 7, 47.0, 8.0);
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            fleet.step(0.05);
            hub.broadcast(simulator::service::hub::Broadcast::invocation(
                "positions",
                [fleet.positions(simulator::unix_millis())],
            ));
        }
    });

    let mut connected = false;
    let mut batches = Vec::new();
    while batches.len() < 3 {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next()).await.unwrap().unwrap().unwrap();
        if let Message::Text(text) = message {
            session.handle_data(text.as_bytes(), now_ms(origin));
        }
        while let Some(event) = session.poll_event() {
            match event {
                SessionEvent::Connected => connected = true,
                SessionEvent::Message(HubMessage::Invocation { target, arguments, .. }) => {
                    assert_eq!(target, "positions");
                    let batch: Vec<telemetry::Position> = arguments[0].decode().unwrap();
                    batches.push(batch);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert!(connected);
    assert!(batches.iter().all(|b| b.len() == 7));
    assert_ne!(batches[0][0].ts, batches[2][0].ts, "fresh timestamps each tick");
}

#[tokio::test]
async fn the_service_refuses_bad_tokens_with_401_and_a_reason() {
    let running = start(Timing::default()).await;
    let http = reqwest::Client::new();
    let negotiate_url = format!("{}/client/negotiate?hub=telemetry&negotiateVersion=1", running.service);
    let audience = format!("{}/client/?hub=telemetry", running.service);
    let token = |key: &str, aud: &str, exp: i64| {
        jwt::sign(
            &Claims { aud: aud.into(), exp, iat: None, user_id: None, nameid: None, name_identifier: None, sub: None },
            key,
        )
    };
    let later = jwt::unix_now() + 60;
    let cases = [
        (None, "no access token"),
        (Some(token("wrong-key", &audience, later)), "signature"),
        (Some(token(KEY, &audience, jwt::unix_now() - 1)), "expired"),
        (Some(token(KEY, "http://elsewhere/client/?hub=telemetry", later)), "audience"),
        (Some("not-a-jwt".to_string()), "well-formed"),
    ];
    for (bearer, reason) in cases {
        let mut call = http.post(&negotiate_url);
        if let Some(bearer) = &bearer {
            call = call.bearer_auth(bearer);
        }
        let response = call.send().await.unwrap();
        assert_eq!(response.status(), 401, "{reason}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains(reason), "{body}");
    }
    let good = http.post(&negotiate_url).bearer_auth(token(KEY, &audience, later)).send().await.unwrap();
    assert_eq!(good.status(), 200);
    let body: serde_json::Value = good.json().await.unwrap();
    assert_eq!(body["negotiateVersion"], 1);
    assert_eq!(body["availableTransports"][0]["transport"], "WebSockets");

    // v0: no connectionToken, the id is the token.
    let v0 = http
        .post(format!("{}/client/negotiate?hub=telemetry", running.service))
        .bearer_auth(token(KEY, &audience, later))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = v0.json().await.unwrap();
    assert_eq!(body["negotiateVersion"], 0);
    assert!(body.get("connectionToken").is_none());
}

#[tokio::test]
async fn unknown_connection_ids_and_foreign_protocols_are_refused() {
    let running = start(Timing::default()).await;
    let url = negotiate(&running.functions).await;
    let bad_id = url.replacen("id=", "id=unknown", 1);
    let error = tokio_tungstenite::connect_async(&bad_id).await.unwrap_err();
    assert!(error.to_string().contains("404"), "{error}");

    let (mut socket, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    socket.send(Message::text("{\"protocol\":\"protobuf\",\"version\":1}\u{1e}")).await.unwrap();
    let reply = socket.next().await.unwrap().unwrap().into_text().unwrap();
    assert!(reply.contains("Requested protocol 'protobuf' is not available."), "{reply}");

    // A negotiated id is single-use: once its connection ended, the id is unknown.
    let error = tokio_tungstenite::connect_async(&url).await.unwrap_err();
    assert!(error.to_string().contains("404"), "{error}");
}

#[tokio::test]
async fn the_service_pings_idle_clients_and_drops_silent_ones() {
    let timing = Timing {
        handshake_timeout: Duration::from_secs(5),
        keep_alive: Duration::from_millis(100),
        client_timeout: Duration::from_millis(600),
        poll_timeout: Duration::from_secs(1),
        ..Timing::default()
    };
    let running = start(timing).await;
    let url = negotiate(&running.functions).await;
    let (mut socket, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    socket.send(Message::text("{\"protocol\":\"json\",\"version\":1}\u{1e}")).await.unwrap();
    let mut texts = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(message)) = socket.next().await {
            match message {
                Message::Text(text) => texts.push(text.to_string()),
                Message::Close(_) => return true,
                _ => {}
            }
        }
        true
    })
    .await
    .expect("the silent client is dropped within the timeout");
    assert!(closed);
    assert_eq!(texts[0], "{}\u{1e}");
    assert!(texts.iter().filter(|t| t.as_str() == "{\"type\":6}\u{1e}").count() >= 2, "{texts:?}");
    let last = texts.last().unwrap();
    assert!(last.contains("\"type\":7") && last.contains("allowReconnect"), "{last}");
}

#[tokio::test]
async fn cors_echoes_loopback_origins_with_credentials_and_refuses_others() {
    let running = start(Timing::default()).await;
    let http = reqwest::Client::new();
    let preflight = |origin: &'static str| {
        http.request(reqwest::Method::OPTIONS, format!("{}/api/negotiate", running.functions))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "authorization,x-requested-with,x-signalr-user-agent")
            .send()
    };
    let ok = preflight("http://localhost:8080").await.unwrap();
    assert_eq!(ok.headers()["access-control-allow-origin"], "http://localhost:8080");
    assert_eq!(ok.headers()["access-control-allow-credentials"], "true");
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(refused.headers().get("access-control-allow-origin").is_none());
}

/// The service negotiate answer for a fresh client token.
async fn service_offer(running: &Running, http: &reqwest::Client) -> (String, String) {
    let info: serde_json::Value =
        http.post(format!("{}/api/negotiate", running.functions)).send().await.unwrap().json().await.unwrap();
    let token = info["accessToken"].as_str().unwrap().to_string();
    let offer: serde_json::Value = http
        .post(format!("{}/client/negotiate?hub=telemetry&negotiateVersion=1", running.service))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = format!("{}/client/?hub=telemetry&id={}", running.service, offer["connectionToken"].as_str().unwrap());
    (url, token)
}

#[tokio::test]
async fn long_polling_follows_the_protocol_rules() {
    let timing = Timing { poll_timeout: Duration::from_millis(300), ..Timing::default() };
    let running = start(timing).await;
    let http = reqwest::Client::new();
    let (url, token) = service_offer(&running, &http).await;

    // The first poll answers at once, empty: the connection is ready.
    let first = http.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(first.status(), 200);
    assert!(first.bytes().await.unwrap().is_empty());
    // The handshake goes up by POST; its answer comes down the next poll.
    let sent = http.post(&url).bearer_auth(&token).body("{\"protocol\":\"json\",\"version\":1}\u{1e}").send().await;
    assert_eq!(sent.unwrap().status(), 200);
    let answer = http.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(answer.text().await.unwrap(), "{}\u{1e}");
    // An invocation and its completion.
    let invoke = "{\"type\":1,\"invocationId\":\"0\",\"target\":\"add\",\"arguments\":[1,2]}\u{1e}";
    http.post(&url).bearer_auth(&token).body(invoke).send().await.unwrap();
    let completion = http.get(&url).bearer_auth(&token).send().await.unwrap().text().await.unwrap();
    assert_eq!(completion, "{\"type\":3,\"invocationId\":\"0\",\"result\":3.0}\u{1e}");
    // With nothing to say, a poll is held for the poll timeout, then answered empty.
    let started = std::time::Instant::now();
    let idle = http.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(idle.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert!(idle.bytes().await.unwrap().is_empty());
    // DELETE ends it: 202, and the held poll is answered 204.
    let held = tokio::spawn({
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        async move { http.get(&url).bearer_auth(&token).send().await.unwrap().status() }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(http.delete(&url).bearer_auth(&token).send().await.unwrap().status(), 202);
    assert_eq!(held.await.unwrap(), 204);
    // Sends to a connection that is gone: 404.
    let late = http.post(&url).bearer_auth(&token).body("{\"type\":6}\u{1e}").send().await.unwrap();
    assert_eq!(late.status(), 404);
}

#[tokio::test]
async fn server_sent_events_start_with_a_comment_and_frame_data_lines() {
    let running = start(Timing::default()).await;
    let http = reqwest::Client::new();
    let (url, token) = service_offer(&running, &http).await;
    let mut events = http.get(&url).bearer_auth(&token).header("Accept", "text/event-stream").send().await.unwrap();
    assert_eq!(events.status(), 200);
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    let first = events.chunk().await.unwrap().unwrap();
    assert_eq!(&first[..], b":\r\n");
    http.post(&url).bearer_auth(&token).body("{\"protocol\":\"json\",\"version\":1}\u{1e}").send().await.unwrap();
    let answer = events.chunk().await.unwrap().unwrap();
    assert_eq!(&answer[..], b"data: {}\x1e\r\n\r\n");
    // MessagePack cannot ride SSE: the handshake is refused.
    let (url, token) = service_offer(&running, &http).await;
    let mut events = http.get(&url).bearer_auth(&token).header("Accept", "text/event-stream").send().await.unwrap();
    events.chunk().await.unwrap();
    http.post(&url)
        .bearer_auth(&token)
        .body("{\"protocol\":\"messagepack\",\"version\":1}\u{1e}")
        .send()
        .await
        .unwrap();
    let refusal = String::from_utf8(events.chunk().await.unwrap().unwrap().to_vec()).unwrap();
    assert!(refusal.contains("does not support 'Binary'"), "{refusal}");
}

/// Connects a raw WebSocket client and completes the JSON handshake.
async fn handshaken(
    running: &Running,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let url = negotiate(&running.functions).await;
    let (mut socket, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    socket.send(Message::text("{\"protocol\":\"json\",\"version\":1}\u{1e}")).await.unwrap();
    let answer = socket.next().await.unwrap().unwrap().into_text().unwrap();
    assert_eq!(answer.as_str(), "{}\u{1e}");
    socket
}

/// Text messages until the socket closes or `within` passes.
async fn texts_within(
    socket: &mut tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    within: Duration,
) -> Vec<String> {
    let mut texts = Vec::new();
    let _ = tokio::time::timeout(within, async {
        while let Some(Ok(message)) = socket.next().await {
            match message {
                Message::Text(text) => texts.push(text.to_string()),
                Message::Close(_) => return,
                _ => {}
            }
        }
    })
    .await;
    texts
}

#[tokio::test]
async fn faults_drop_every_connection_and_stall_everything() {
    let timing = Timing { keep_alive: Duration::from_millis(100), ..Timing::default() };
    let running = start(timing).await;
    let hub = running.state.hubs.get("telemetry");

    // Stall: not even pings go out.
    let mut socket = handshaken(&running).await;
    hub.set_stalled(true);
    texts_within(&mut socket, Duration::from_millis(150)).await; // what was already on its way
    assert!(texts_within(&mut socket, Duration::from_millis(500)).await.is_empty(), "silence while stalled");
    hub.set_stalled(false);
    let after = texts_within(&mut socket, Duration::from_millis(500)).await;
    assert!(after.iter().any(|t| t == "{\"type\":6}\u{1e}"), "pings again: {after:?}");

    // Drop: every client gets a Close that allows reconnecting.
    let mut other = handshaken(&running).await;
    assert_eq!(hub.close_all("fault"), 2);
    for socket in [&mut socket, &mut other] {
        let texts = texts_within(socket, Duration::from_secs(2)).await;
        let close = texts.iter().find(|t| t.contains("\"type\":7")).expect("a Close message");
        assert!(close.contains("\"allowReconnect\":true") && close.contains("fault"), "{close}");
    }
}

#[tokio::test]
async fn a_stall_answers_handshakes_and_pings_as_soon_as_it_ends() {
    let timing = Timing { keep_alive: Duration::from_secs(2), ..Timing::default() };
    let running = start(timing).await;
    let hub = running.state.hubs.get("telemetry");
    let mut socket = handshaken(&running).await;
    hub.set_stalled(true);
    // A client that connects during the stall is answered (then hears nothing either).
    let late = tokio::time::timeout(Duration::from_secs(3), handshaken(&running)).await;
    let mut late = late.expect("the handshake is answered during a stall");
    // Past a keep-alive: the ping due meanwhile is lost to the stall.
    assert!(texts_within(&mut socket, Duration::from_millis(2_500)).await.is_empty(), "silence while stalled");
    hub.set_stalled(false);
    for socket in [&mut socket, &mut late] {
        let after = texts_within(socket, Duration::from_millis(700)).await;
        assert!(after.iter().any(|t| t == "{\"type\":6}\u{1e}"), "a ping right after the stall: {after:?}");
    }
}

#[tokio::test]
async fn an_expired_client_token_ends_its_connection() {
    let running =
        simulator::serve_local(KEY, |settings| settings.token_lifetime = Duration::from_secs(1)).await.unwrap();
    let mut socket = handshaken(&running).await;
    let texts = texts_within(&mut socket, Duration::from_secs(4)).await;
    let close = texts.iter().find(|t| t.contains("\"type\":7")).expect("closed at expiry");
    assert!(close.contains("expired") && close.contains("\"allowReconnect\":true"), "{close}");
}

/// A stateful client that acknowledges late still gets every message, in order: the service
/// holds back what does not fit its replay buffer until acks make room. One that never
/// acknowledges is told to reconnect once it is too far behind, not silently skipped.
#[tokio::test]
async fn a_stateful_client_that_acks_late_loses_nothing() {
    let policy = simulator::service::TransportPolicy { stateful_reconnect: true, plain_hub: false };
    let running = start_with(Timing::default(), policy).await;
    let hub = running.state.hubs.get("telemetry");
    let url = negotiate_with(&running.functions, true).await;
    let (mut socket, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    socket.send(Message::text("{\"protocol\":\"json\",\"version\":2}\u{1e}")).await.unwrap();
    assert_eq!(socket.next().await.unwrap().unwrap().into_text().unwrap().as_str(), "{}\u{1e}");

    // 300 messages of about 1 KB: three times the 100 KB replay buffer.
    let filler = "x".repeat(1_000);
    for n in 0..300 {
        hub.broadcast(simulator::service::hub::Broadcast::invocation("tick", (n, filler.clone())));
    }
    let numbers = |texts: &[String]| -> Vec<u64> {
        texts
            .iter()
            .flat_map(|t| t.split('\u{1e}'))
            .filter(|r| r.contains("\"target\":\"tick\""))
            .map(|r| serde_json::from_str::<serde_json::Value>(r).unwrap()["arguments"][0].as_u64().unwrap())
            .collect()
    };
    let first = numbers(&texts_within(&mut socket, Duration::from_millis(500)).await);
    assert!(first.len() < 300, "held back until acknowledged ({} sent)", first.len());
    assert!(first.len() >= 90, "the buffer's worth went out ({} sent)", first.len());
    let mut received = first;
    while received.len() < 300 {
        let ack = format!("{{\"type\":8,\"sequenceId\":{}}}\u{1e}", received.len());
        socket.send(Message::text(ack)).await.unwrap();
        let more = numbers(&texts_within(&mut socket, Duration::from_millis(300)).await);
        assert!(!more.is_empty(), "an ack released more (after {})", received.len());
        received.extend(more);
    }
    assert_eq!(received, (0..300).collect::<Vec<u64>>(), "every message once, in order");

    // Never acknowledging: past the backlog limit the client is closed and may reconnect.
    // (About a hundred 1 KB frames fill the replay buffer; the rest wait in the backlog.)
    for n in 0..(simulator::service::MAX_BACKLOG + 400) {
        hub.broadcast(simulator::service::hub::Broadcast::invocation("tick", (n, filler.clone())));
        if n % 50 == 0 {
            tokio::task::yield_now().await;
        }
    }
    let texts = texts_within(&mut socket, Duration::from_secs(3)).await;
    let close = texts.iter().flat_map(|t| t.split('\u{1e}')).find(|r| r.contains("\"type\":7")).map(str::to_string);
    let close = close.expect("a Close once too far behind");
    assert!(close.contains("\"allowReconnect\":true") && close.contains("too far behind"), "{close}");
}

/// Bad input from clients: invalid JSON, a message of an unknown type, a record over the 1 MiB
/// limit, a frame that never ends, and a REST body over the limit. The service closes the
/// offending connection with a reason (or ignores the unknown type, as the protocol says),
/// answers 400/413 over HTTP, and keeps serving everyone else.
#[tokio::test]
async fn bad_client_input_is_refused_and_the_service_stays_up() {
    let running = start(Timing::default()).await;

    // An unknown type is ignored: the connection carries on and still answers an invocation.
    let mut socket = handshaken(&running).await;
    socket.send(Message::text("{\"type\":99,\"surprise\":true}\u{1e}")).await.unwrap();
    let echo = "{\"type\":1,\"invocationId\":\"1\",\"target\":\"echo\",\"arguments\":[\"still here\"]}\u{1e}";
    socket.send(Message::text(echo)).await.unwrap();
    let texts = texts_within(&mut socket, Duration::from_millis(800)).await;
    assert!(texts.iter().any(|t| t.contains("still here")), "answered after the unknown type: {texts:?}");

    let oversized = format!("{{\"type\":1,\"target\":\"echo\",\"arguments\":[\"{}\"]}}\u{1e}", "x".repeat(1 << 20));
    let unterminated = format!("{{\"type\":1,\"target\":\"echo\",\"arguments\":[\"{}", "y".repeat((1 << 20) + 10));
    for (what, frame) in [
        ("invalid JSON", "{\"type\":1,\"target\":\u{1e}".to_string()),
        ("an oversized record", oversized),
        ("a frame without its terminator, past the limit", unterminated),
    ] {
        let mut socket = handshaken(&running).await;
        socket.send(Message::text(frame)).await.unwrap();
        let texts = texts_within(&mut socket, Duration::from_secs(2)).await;
        let close =
            texts.iter().find(|t| t.contains("\"type\":7")).unwrap_or_else(|| panic!("{what}: no Close in {texts:?}"));
        assert!(close.contains("Connection closed with an error"), "{what}: {close}");
    }

    // REST: a body over the limit is 413, invalid JSON 400; the service still serves.
    let http = reqwest::Client::new();
    let url = format!("{}/api/v1/hubs/telemetry", running.service);
    let token =
        simulator::rest_token(&format!("Endpoint={};AccessKey={KEY};Version=1.0;", running.service), &url, 60).unwrap();
    let send = |body: Vec<u8>| {
        http.post(&url).bearer_auth(&token).header("content-type", "application/json").body(body).send()
    };
    assert_eq!(send(vec![b' '; (1 << 20) + 1]).await.unwrap().status(), 413);
    assert_eq!(send(b"{\"target\":".to_vec()).await.unwrap().status(), 400);
    assert_eq!(send(b"{\"target\":\"x\",\"arguments\":[]}".to_vec()).await.unwrap().status(), 202);
    let mut fresh = handshaken(&running).await;
    fresh.send(Message::text(echo)).await.unwrap();
    assert!(texts_within(&mut fresh, Duration::from_millis(800)).await.iter().any(|t| t.contains("still here")));
}

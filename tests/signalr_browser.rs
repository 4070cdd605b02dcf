//! Our SignalR client in headless Chromium against a running simulator, over every transport
//! and both hub protocols: data in, invoke/send/stream out, stateful reconnect across a cut
//! transport, and a plain reconnect telling the app.
//!
//! `scripts/test.sh` starts the simulator and passes its functions API URL at compile time in
//! `SIGNALR_TEST_API`; without it these tests fail with a message saying so.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use signalr::web::{ClientOptions, ConnectionState, HubConnection, InvokeError, Lifecycle};
use signalr::{HubProtocol, TransportKind};
use telemetry::Position;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

// A runtime failure on purpose: with `env!` the crate would not even compile (or lint) without
// a running simulator.
#[allow(clippy::option_env_unwrap)]
fn api() -> &'static str {
    option_env!("SIGNALR_TEST_API").expect("SIGNALR_TEST_API is not set: run these tests through scripts/test.sh")
}

async fn sleep(ms: u32) {
    gloo_timers::future::TimeoutFuture::new(ms).await;
}

async fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    for _ in 0..200 {
        if ready() {
            return;
        }
        sleep(50).await;
    }
    panic!("timed out waiting for {what}");
}

/// Joins every site's group (data is published to site groups, as in a serverless deployment).
async fn subscribe_all_sites(connection_id: &str) {
    let snapshot: telemetry::Snapshot =
        gloo_net::http::Request::get(&format!("{}/snapshot", api())).send().await.unwrap().json().await.unwrap();
    let request = telemetry::SubscriptionRequest {
        connection_id: connection_id.to_string(),
        groups: snapshot.sites.iter().map(|s| telemetry::groups::site(s)).collect(),
    };
    let answer = gloo_net::http::Request::post(&format!("{}/subscriptions", api()))
        .json(&request)
        .unwrap()
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
}

fn connection(transport: TransportKind, protocol: HubProtocol, stateful: bool) -> HubConnection {
    let mut options = ClientOptions::new(api());
    options.transports = vec![transport];
    options.protocol = protocol;
    options.stateful_reconnect = stateful;
    HubConnection::new(options)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Sample {
    name: String,
    values: Vec<f64>,
}

async fn exercise(transport: TransportKind, protocol: HubProtocol) {
    let conn = connection(transport, protocol, false);
    let batches = Rc::new(RefCell::new(Vec::<Vec<Position>>::new()));
    let sink = batches.clone();
    conn.on("positions", move |args| {
        sink.borrow_mut().push(args[0].decode().expect("a positions batch"));
    });
    let notified = Rc::new(RefCell::new(Vec::<String>::new()));
    let sink = notified.clone();
    conn.on("notified", move |args| sink.borrow_mut().push(args[0].decode().unwrap()));
    conn.start();
    wait_until("connected", || conn.status().state == ConnectionState::Connected).await;
    assert_eq!(conn.status().transport, Some(transport));
    subscribe_all_sites(&conn.status().connection_id.unwrap()).await;
    wait_until("positions", || batches.borrow().len() >= 2).await;
    assert!(batches.borrow().iter().all(|b| !b.is_empty()));

    let sample = Sample { name: "wörld <b>".into(), values: vec![1.5, -2.0] };
    let echoed: Sample = conn.invoke("echo", &(&sample,)).await.unwrap();
    assert_eq!(echoed, sample);
    let sum: f64 = conn.invoke("add", &(2, 40)).await.unwrap();
    assert_eq!(sum, 42.0);
    let failed = conn.invoke::<()>("fail", &("boom",)).await.unwrap_err();
    assert_eq!(failed, InvokeError::Hub("boom".into()));
    let unknown = conn.invoke::<()>("noSuchMethod", &()).await.unwrap_err();
    assert!(matches!(unknown, InvokeError::Hub(m) if m.contains("Unknown hub method")));

    conn.send("notify", &(format!("via {}", transport.as_str()),)).unwrap();
    wait_until("notified", || !notified.borrow().is_empty()).await;
    assert_eq!(notified.borrow()[0], format!("via {}", transport.as_str()));

    let items: Vec<u64> = conn.stream::<u64>("counter", &(5, 5)).map(|i| i.unwrap()).collect().await;
    assert_eq!(items, [0, 1, 2, 3, 4]);

    conn.stop();
    wait_until("disconnected", || conn.status().state == ConnectionState::Disconnected).await;
}

#[wasm_bindgen_test]
async fn websockets_json() {
    exercise(TransportKind::WebSockets, HubProtocol::Json).await;
}

#[wasm_bindgen_test]
async fn websockets_messagepack() {
    exercise(TransportKind::WebSockets, HubProtocol::MessagePack).await;
}

#[wasm_bindgen_test]
async fn server_sent_events_json() {
    exercise(TransportKind::ServerSentEvents, HubProtocol::Json).await;
}

#[wasm_bindgen_test]
async fn long_polling_json() {
    exercise(TransportKind::LongPolling, HubProtocol::Json).await;
}

#[wasm_bindgen_test]
async fn long_polling_messagepack() {
    exercise(TransportKind::LongPolling, HubProtocol::MessagePack).await;
}

fn record_lifecycle(conn: &HubConnection) -> Rc<RefCell<Vec<Lifecycle>>> {
    let events = Rc::new(RefCell::new(Vec::new()));
    let sink = events.clone();
    conn.on_lifecycle(move |event| sink.borrow_mut().push(event.clone()));
    events
}

#[wasm_bindgen_test]
async fn stateful_reconnect_loses_and_duplicates_nothing_across_cut_transports() {
    for protocol in [HubProtocol::Json, HubProtocol::MessagePack] {
        let conn = connection(TransportKind::WebSockets, protocol, true);
        let events = record_lifecycle(&conn);
        conn.start();
        wait_until("connected", || conn.status().state == ConnectionState::Connected).await;
        assert!(conn.status().stateful, "the simulator grants stateful reconnect");
        let id = conn.status().connection_id;

        let mut stream = conn.stream::<u64>("counter", &(60, 15));
        let mut items = Vec::new();
        let mut cuts = 0;
        while let Some(item) = stream.next().await {
            items.push(item.unwrap());
            // Cut the transport three times while items are in flight.
            if items.len() % 15 == 5 && cuts < 3 {
                cuts += 1;
                let _ = conn.invoke::<()>("dropTransport", &()).await;
            }
        }
        assert_eq!(items, (0..60).collect::<Vec<u64>>(), "{protocol:?}: every item exactly once, in order");
        assert_eq!(cuts, 3);
        let resumed = events.borrow().iter().filter(|e| **e == Lifecycle::Resumed).count();
        assert!(resumed >= 3, "{protocol:?}: resumed {resumed} times: {:?}", events.borrow());
        assert_eq!(conn.status().connection_id, id, "the same connection throughout");
        conn.stop();
        wait_until("disconnected", || conn.status().state == ConnectionState::Disconnected).await;
    }
}

#[wasm_bindgen_test]
async fn without_stateful_reconnect_a_cut_is_a_new_connection_and_the_app_is_told() {
    let conn = connection(TransportKind::WebSockets, HubProtocol::Json, false);
    let events = record_lifecycle(&conn);
    conn.start();
    wait_until("connected", || conn.status().state == ConnectionState::Connected).await;
    let first = conn.status().connection_id.unwrap();
    let _ = conn.invoke::<()>("dropTransport", &()).await;
    for _ in 0..200 {
        if events.borrow().iter().any(|e| matches!(e, Lifecycle::Reconnected { .. })) {
            break;
        }
        sleep(50).await;
    }
    assert!(
        events.borrow().iter().any(|e| matches!(e, Lifecycle::Reconnected { .. })),
        "no reconnect: {:?} {:?}",
        events.borrow(),
        conn.status()
    );
    let events = events.borrow().clone();
    assert!(matches!(&events[0], Lifecycle::Connected { connection_id } if *connection_id == first));
    assert!(events.iter().any(|e| matches!(e, Lifecycle::Reconnecting { .. })));
    let Some(Lifecycle::Reconnected { connection_id }) = events.last() else { panic!("{events:?}") };
    assert_ne!(*connection_id, first, "a new connection id after a plain reconnect");
    // Invocations work on the new connection.
    let echoed: String = conn.invoke("echo", &("again",)).await.unwrap();
    assert_eq!(echoed, "again");
    conn.stop();
}

#[wasm_bindgen_test]
async fn a_stream_dropped_early_is_cancelled_and_the_connection_goes_on() {
    let conn = connection(TransportKind::WebSockets, HubProtocol::Json, false);
    conn.start();
    wait_until("connected", || conn.status().state == ConnectionState::Connected).await;
    let mut stream = conn.stream::<u64>("counter", &(10_000, 10));
    assert_eq!(stream.next().await.unwrap().unwrap(), 0);
    drop(stream);
    let echoed: u32 = conn.invoke("echo", &(7,)).await.unwrap();
    assert_eq!(echoed, 7);
    conn.stop();
}

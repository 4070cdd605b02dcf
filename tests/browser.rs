//! In-browser tests (wasm-bindgen-test in headless Chromium): components against the real
//! DOM, and the SignalR driver's behaviour when its server is unreachable.
#![cfg(target_arch = "wasm32")]

use dashboard::model::status::{LiveStatus, Phase};
use dashboard::panels::status_bar::StatusBar;
use dashboard::panels::vehicle_list::VehicleList;
use dashboard::store::Store;
use leptos::prelude::*;
use telemetry::{Position, VehicleState};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn container() -> web_sys::HtmlElement {
    let document = web_sys::window().unwrap().document().unwrap();
    let div = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&div).unwrap();
    div.unchecked_into()
}

fn position(id: &str, lat: f64) -> Position {
    Position {
        id: id.into(),
        ts: 1,
        lat,
        lon: 8.5,
        heading: 90.0,
        speed: 36.0,
        state: VehicleState::Moving,
        site: "north".into(),
        seq: 0,
    }
}

fn texts(root: &web_sys::HtmlElement, selector: &str) -> Vec<String> {
    let list = root.query_selector_all(selector).unwrap();
    (0..list.length()).map(|i| list.item(i).unwrap().text_content().unwrap_or_default()).collect()
}

async fn settle() {
    leptos::task::tick().await;
    gloo_timers::future::TimeoutFuture::new(0).await;
}

/// Past the vehicle table's pacing (new positions show at most twice a second).
async fn settle_paced() {
    gloo_timers::future::TimeoutFuture::new(600).await;
    settle().await;
}

#[wasm_bindgen_test]
async fn vehicle_list_shows_one_row_per_vehicle_and_updates_in_place() {
    let root = container();
    let store = Store::new();
    let _mounted = mount_to(root.clone(), move || {
        provide_context(store);
        view! { <VehicleList /> }
    });
    settle().await;
    assert!(root.text_content().unwrap().contains("Waiting for the first positions"));

    store.fleet.update(|f| {
        f.apply(vec![position("veh-00002", 47.1), position("veh-00001", 47.2)]);
    });
    settle_paced().await;
    assert_eq!(texts(&root, "[data-testid=vehicle-row] th"), ["veh-00001", "veh-00002"]);
    assert_eq!(texts(&root, "[data-testid=vehicle-count]"), ["2"]);

    let mut moved = position("veh-00001", 47.3);
    moved.ts = 2;
    store.fleet.update(|f| {
        f.apply(vec![moved]);
    });
    settle_paced().await;
    assert_eq!(texts(&root, "[data-testid=vehicle-position]")[0], "47.30000, 8.50000");
}

#[wasm_bindgen_test]
async fn text_from_the_wire_is_never_html() {
    let root = container();
    let store = Store::new();
    let _mounted = mount_to(root.clone(), move || {
        provide_context(store);
        view! { <VehicleList /> }
    });
    let mut hostile = position("<img src=x onerror=alert(1)>", 47.0);
    hostile.site = "<script>alert(2)</script>".into();
    store.fleet.update(|f| {
        f.apply(vec![hostile]);
    });
    settle().await;
    assert_eq!(texts(&root, "[data-testid=vehicle-row] th"), ["<img src=x onerror=alert(1)>"]);
    assert!(root.query_selector("img").unwrap().is_none(), "no element was created from the string");
    assert!(root.query_selector("tbody script").unwrap().is_none());
}

#[wasm_bindgen_test]
async fn status_bar_reflects_the_store() {
    let root = container();
    let store = Store::new();
    let _mounted = mount_to(root.clone(), move || {
        provide_context(store);
        view! { <StatusBar /> }
    });
    settle().await;
    assert_eq!(texts(&root, "[data-testid=connection-state]"), ["connecting"]);
    store.status.set(LiveStatus {
        phase: Phase::Connected,
        transport: Some("WebSockets"),
        protocol: "messagepack",
        ..LiveStatus::default()
    });
    store.messages.set(41);
    settle().await;
    assert_eq!(texts(&root, "[data-testid=connection-state]"), ["connected"]);
    assert_eq!(texts(&root, "[data-testid=transport]"), ["WebSockets"]);
    assert_eq!(texts(&root, "[data-testid=protocol]"), ["messagepack"]);
    assert_eq!(texts(&root, "[data-testid=message-count]"), ["41"]);
}

#[wasm_bindgen_test]
async fn driver_reports_an_unreachable_server_and_schedules_a_retry() {
    use signalr::web::{ClientOptions, ConnectionState, HubConnection};
    use std::cell::RefCell;
    use std::rc::Rc;

    // Port 9 (discard) is closed on loopback: the real fetch fails at once.
    let mut options = ClientOptions::new("http://127.0.0.1:9/api");
    options.retry_first_start = true;
    let connection = HubConnection::new(options);
    let seen = Rc::new(RefCell::new(Vec::new()));
    let sink = seen.clone();
    connection.on_status(move |s| sink.borrow_mut().push(s.clone()));
    connection.start();
    for _ in 0..100 {
        if seen.borrow().iter().any(|s| s.retry_at.is_some()) {
            break;
        }
        gloo_timers::future::TimeoutFuture::new(50).await;
    }
    let statuses = seen.borrow().clone();
    let failed = statuses.iter().find(|s| s.retry_at.is_some()).expect("a retry is scheduled");
    assert_eq!(failed.state, ConnectionState::Connecting, "never connected, so still connecting");
    assert!(failed.last_error.as_deref().unwrap_or("").contains("negotiate"), "{:?}", failed.last_error);
    connection.stop();
    for _ in 0..40 {
        if connection.status().state == ConnectionState::Disconnected {
            break;
        }
        gloo_timers::future::TimeoutFuture::new(50).await;
    }
    assert_eq!(connection.status().state, ConnectionState::Disconnected);
}

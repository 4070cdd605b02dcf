//! The simulator's world and its geofences: the basemap route, the built-in fences where the
//! fleet drives, the fence rules over a deterministic fleet stepped second by second (enter and
//! exit where a position crosses the edge, speeding with its hysteresis, dwelling past the
//! fence's minutes), and a fence saved with `POST /api/geofences`: checked, adopted, watched
//! and pushed to every dashboard.

// Native only: std's clock works here (clippy.toml forbids it for code built for wasm32).
#![allow(clippy::disallowed_methods)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use signalr::negotiate::{websocket_url, NegotiateStep, Negotiator};
use signalr::Bearer;
use simulator::devices::alerts::AlertEngine;
use simulator::devices::fleet::Fleet;
use simulator::devices::geofences::{metric, FenceRule, MIN_EVENT_GAP_MS, SPEED_HYSTERESIS_KMH};
use simulator::Config;
use telemetry::catalog::Geofence;
use telemetry::{Alert, Position, Severity};
use tokio_tungstenite::tungstenite::Message;
use tower::ServiceExt;

const KEY: &str = "geofence-test-key";
const CENTRE: (f64, f64) = (47.3769, 8.5417);

/// What happened to one vehicle in one fence, second by second.
#[derive(Debug, Default)]
struct Seen {
    /// Whether `contains` said inside at each step.
    inside: Vec<bool>,
    speeds: Vec<f64>,
}

/// A fleet driven: its fences, the positions of each second, the alerts raised, and the
/// clearings (alert id → when).
struct Drive {
    fences: Vec<Geofence>,
    steps: Vec<Vec<Position>>,
    raised: Vec<Alert>,
    cleared: HashMap<String, i64>,
}

/// Steps a fleet of 50 (seed 7) for `seconds`, the rules watching its built-in fences with the
/// depot's dwell shortened to `dwell_minutes`; every alert raised and every clearing, with the
/// positions of each step.
fn drive(seconds: i64, dwell_minutes: f64) -> Drive {
    let mut fleet = Fleet::new(7, 50, CENTRE.0, CENTRE.1);
    let mut fences = fleet.geofences();
    fences[0].dwell_minutes = Some(dwell_minutes);
    let mut engine = AlertEngine::new(Vec::new(), "t");
    assert!(engine.set_fences(fences.clone(), 0).is_empty());
    let (mut steps, mut raised, mut cleared) = (Vec::new(), Vec::new(), HashMap::new());
    for s in 0..seconds {
        fleet.step(1.0);
        let positions = fleet.positions(s * 1000);
        let changes = engine.evaluate_positions(&positions);
        raised.extend(changes.raised);
        for clear in changes.cleared {
            assert!(cleared.insert(clear.id, clear.ts).is_none(), "cleared once");
        }
        steps.push(positions);
    }
    Drive { fences, steps, raised, cleared }
}

fn seen(fences: &[Geofence], steps: &[Vec<Position>]) -> BTreeMap<(String, String), Seen> {
    let mut seen: BTreeMap<(String, String), Seen> = BTreeMap::new();
    for positions in steps {
        for p in positions {
            for fence in fences {
                let entry = seen.entry((p.id.clone(), fence.id.clone())).or_default();
                entry.inside.push(fence.contains(p.lat, p.lon));
                entry.speeds.push(p.speed);
            }
        }
    }
    seen
}

fn of(alerts: &[Alert], vehicle: &str, fence: &str, rule: FenceRule) -> Vec<i64> {
    let metric = metric(fence, rule);
    alerts.iter().filter(|a| a.device == vehicle && a.metric == metric).map(|a| a.ts / 1000).collect()
}

#[test]
fn vehicles_driving_through_the_fences_raise_enter_and_exit_at_the_steps_they_cross_the_edge() {
    let Drive { fences, steps, raised, cleared } = drive(1800, 3.0);
    let seen = seen(&fences, &steps);
    let mut crossings = 0;
    for ((vehicle, fence), seen) in &seen {
        // Where `contains` flips, after the first step (inside at the first is inside already).
        let flips: Vec<(i64, bool)> = (1..seen.inside.len())
            .filter(|&s| seen.inside[s] != seen.inside[s - 1])
            .map(|s| (s as i64, seen.inside[s]))
            .collect();
        // Vehicles drive through: never in and out within the rules' gap, which then never delays.
        assert!(flips.windows(2).all(|w| (w[1].0 - w[0].0) * 1000 >= MIN_EVENT_GAP_MS), "{vehicle} {fence}: {flips:?}");
        let enters: Vec<i64> = flips.iter().filter(|f| f.1).map(|f| f.0).collect();
        let exits: Vec<i64> = flips.iter().filter(|f| !f.1).map(|f| f.0).collect();
        assert_eq!(of(&raised, vehicle, fence, FenceRule::Enter), enters, "{vehicle} enters {fence}");
        assert_eq!(of(&raised, vehicle, fence, FenceRule::Exit), exits, "{vehicle} leaves {fence}");
        crossings += flips.len();
    }
    let depot = of(&raised, "veh-00001", "depot", FenceRule::Enter);
    let market = of(&raised, "veh-00002", "market", FenceRule::Enter);
    assert!(depot.len() >= 3 && market.len() >= 3, "the first vehicles come by regularly: {depot:?} {market:?}");
    assert!(crossings > 20, "{crossings}");
    // Events are info, raised and cleared at once, named for the vehicle and the fence.
    let events: Vec<&Alert> =
        raised.iter().filter(|a| a.metric.ends_with(":enter") || a.metric.ends_with(":exit")).collect();
    assert!(events.iter().all(|a| a.severity == Severity::Info && cleared.get(&a.id) == Some(&a.ts)));
    let entered = events.iter().find(|a| a.device == "veh-00001" && a.metric == "geofence:depot:enter").unwrap();
    assert_eq!(entered.message, "veh-00001 entered Depot");
    let left = events.iter().find(|a| a.device == "veh-00002" && a.metric == "geofence:market:exit").unwrap();
    assert_eq!(left.message, "veh-00002 left Market square");
    // The same seed, the same alerts at the same moments.
    let again = drive(1800, 3.0).raised;
    let moments =
        |alerts: &[Alert]| alerts.iter().map(|a| (a.ts, a.device.clone(), a.metric.clone())).collect::<Vec<_>>();
    assert_eq!(moments(&raised), moments(&again));
}

#[test]
fn speeding_in_the_depot_raises_past_the_limit_and_clears_below_it_less_five_or_on_leaving() {
    let Drive { fences, steps, raised, cleared } = drive(1800, 3.0);
    let limit = fences[0].speed_limit.unwrap();
    let seen = seen(&fences, &steps);
    let mut count = 0;
    for ((vehicle, fence), seen) in seen.iter().filter(|((_, fence), _)| fence == "depot") {
        // What the rule should do, from `contains` and the speeds alone.
        let (mut open, mut expected_raised, mut expected_cleared) = (false, Vec::new(), Vec::new());
        for s in 0..seen.inside.len() {
            let (inside, speed) = (seen.inside[s], seen.speeds[s]);
            if open && (!inside || speed < limit - SPEED_HYSTERESIS_KMH) {
                open = false;
                expected_cleared.push(s as i64);
            } else if !open && inside && speed > limit {
                open = true;
                expected_raised.push(s as i64);
            }
        }
        let metric = metric(fence, FenceRule::Speed);
        let alerts: Vec<&Alert> = raised.iter().filter(|a| a.device == *vehicle && a.metric == metric).collect();
        assert_eq!(alerts.iter().map(|a| a.ts / 1000).collect::<Vec<_>>(), expected_raised, "{vehicle}");
        let clears: Vec<i64> = alerts.iter().filter_map(|a| cleared.get(&a.id)).map(|ts| ts / 1000).collect();
        assert_eq!(clears, expected_cleared, "{vehicle}");
        assert!(alerts.iter().all(|a| a.severity == Severity::Warning && a.threshold == limit && a.value > limit));
        count += alerts.len();
    }
    assert!(count >= 3, "vehicles come into the depot faster than 30 km/h: {count}");
}

#[test]
fn staying_in_the_depot_longer_than_its_minutes_raises_a_warning_cleared_on_leaving() {
    let dwell = 0.2; // 12 s
    let Drive { fences, steps, raised, cleared } = drive(1800, dwell);
    let seen = seen(&fences, &steps);
    let mut count = 0;
    for ((vehicle, _), seen) in seen.iter().filter(|((_, fence), _)| fence == "depot") {
        let (mut since, mut open, mut expected) = (None, false, Vec::new());
        for (s, &inside) in seen.inside.iter().enumerate() {
            let s = s as i64;
            match (inside, since) {
                (true, None) => since = Some(s),
                (false, Some(_)) => {
                    since = None;
                    if open {
                        expected.push(("cleared", s));
                        open = false;
                    }
                }
                _ => {}
            }
            if let Some(entered) = since {
                if !open && (s - entered) as f64 > dwell * 60.0 {
                    open = true;
                    expected.push(("raised", s));
                }
            }
        }
        let metric = metric("depot", FenceRule::Dwell);
        let mut got = Vec::new();
        for alert in raised.iter().filter(|a| a.device == *vehicle && a.metric == metric) {
            got.push(("raised", alert.ts / 1000));
            if let Some(ts) = cleared.get(&alert.id) {
                got.push(("cleared", ts / 1000));
            }
            assert!(alert.message.contains("in Depot for") && alert.value >= dwell, "{}", alert.message);
        }
        assert_eq!(got, expected, "{vehicle}");
        count += expected.len();
    }
    assert!(count >= 2, "some vehicle stays past 12 s and leaves: {count}");
}

async fn call(app: axum::Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn post(uri: &str, body: &Value) -> Request<Body> {
    Request::post(uri).header("content-type", "application/json").body(Body::from(body.to_string())).unwrap()
}

fn square(id: &str) -> Value {
    json!({ "id": id, "name": "Yard", "speedLimit": 20.0, "dwellMinutes": 1.5, "polygon": [
        { "lat": 47.0, "lon": 8.0 }, { "lat": 47.0, "lon": 8.001 }, { "lat": 47.001, "lon": 8.001 }, { "lat": 47.001, "lon": 8.0 }] })
}

#[tokio::test]
async fn the_basemap_route_answers_the_worlds_streets_and_sites() {
    let state = common::state("http://127.0.0.1:8888", KEY);
    let app = simulator::functions_app(state.clone(), vec![]);
    let get = || Request::get("/api/basemap").body(Body::empty()).unwrap();
    let (status, body) = call(app.clone(), get()).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "streets": [], "sites": [] })), "nothing to draw");
    let fleet = Fleet::new(7, 50, CENTRE.0, CENTRE.1);
    state.world.lock().unwrap().basemap = fleet.basemap();
    let (status, body) = call(app, get()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, serde_json::to_value(fleet.basemap()).unwrap());
    assert_eq!(body["streets"][0]["name"], "1st Street");
    assert_eq!(body["streets"][0]["points"][0].as_array().unwrap().len(), 2, "[lat, lon]");
    assert!(body["sites"].as_array().unwrap().iter().any(|s| s["id"] == "old-town" && s["name"] == "Old town"));
}

#[tokio::test]
async fn a_bad_geofence_is_refused_with_its_reason_and_nothing_is_saved() {
    let state = common::state("http://127.0.0.1:8888", KEY);
    let app = simulator::functions_app(state.clone(), vec![]);
    let point = json!({ "lat": 47.0, "lon": 8.0 });
    let circle = json!({ "centre": point, "radiusM": 50 });
    let many: Vec<Value> = (0..501).map(|n| json!({ "lat": 47.0 + n as f64 * 1e-5, "lon": 8.0 })).collect();
    let cases = [
        (json!({ "id": "big", "polygon": many }), "501 points"),
        (json!({ "id": "two", "polygon": [point, point] }), "2 points"),
        (json!({ "id": "off", "polygon": [point, point, { "lat": 91, "lon": 8 }] }), "off the globe"),
        (json!({ "id": "both", "polygon": [point, point, point], "circle": circle }), "exactly one"),
        (json!({ "id": "neither" }), "exactly one"),
        (json!({ "id": "", "circle": circle }), "1 to 64"),
        (json!({ "id": "x".repeat(65), "circle": circle }), "1 to 64"),
        (json!({ "id": "zero", "circle": { "centre": point, "radiusM": 0 } }), "radius"),
        (json!({ "id": "fast", "circle": circle, "speedLimit": -3 }), "speed limit"),
        (json!({ "id": "nan", "polygon": [point, point, { "lat": "north", "lon": 8 }] }), "not a geofence"),
        (json!({ "geofences": [square("ok"), { "id": "neither" }] }), "\"neither\""),
        (json!({ "geofences": [] }), "1 to 100"),
        (json!([1, 2]), "not a geofence"),
    ];
    for (body, reason) in cases {
        let (status, answer) = call(app.clone(), post("/api/geofences", &body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let error = answer["error"].as_str().unwrap();
        assert!(error.contains(reason), "{reason:?} in {error:?}");
    }
    let (status, _) = call(app.clone(), post("/api/geofences", &json!("{"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(state.world.lock().unwrap().catalog.geofences.is_empty(), "none saved, not even the good one");
    assert_eq!(state.world.lock().unwrap().alerts.fences().count(), 0);
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A dashboard: negotiated at the functions API, WebSocket open, JSON handshake done.
async fn connect(api: &str) -> Socket {
    let http = reqwest::Client::new();
    let mut negotiator = Negotiator::new(api);
    let mut request = negotiator.first_request();
    let done = loop {
        let mut call = http.post(&request.url);
        if let Bearer::Service(token) = &request.bearer {
            call = call.bearer_auth(token);
        }
        let response = call.send().await.unwrap();
        let status = response.status().as_u16();
        match negotiator.handle_response(status, &response.text().await.unwrap()).unwrap() {
            NegotiateStep::Request(next) => request = next,
            NegotiateStep::Done(done) => break done,
        }
    };
    let token = match &done.bearer {
        Bearer::Service(token) => Some(token.as_str()),
        Bearer::App => None,
    };
    let (mut socket, _) = tokio_tungstenite::connect_async(websocket_url(&done.connect_url(), token)).await.unwrap();
    socket.send(Message::text("{\"protocol\":\"json\",\"version\":1}\u{1e}")).await.unwrap();
    let answer = socket.next().await.unwrap().unwrap().into_text().unwrap();
    assert_eq!(answer.as_str(), "{}\u{1e}");
    socket
}

/// The `target` invocations that arrive within `within`: their arguments.
async fn pushed(socket: &mut Socket, target: &str, within: Duration) -> Vec<Value> {
    let mut found = Vec::new();
    let _ = tokio::time::timeout(within, async {
        while let Some(Ok(message)) = socket.next().await {
            if let Message::Text(text) = message {
                for record in text.split('\u{1e}').filter(|r| !r.is_empty()) {
                    let message: Value = serde_json::from_str(record).unwrap();
                    if message["type"] == 1 && message["target"] == target {
                        found.push(message["arguments"].clone());
                    }
                }
            }
        }
    })
    .await;
    found
}

#[tokio::test]
async fn a_saved_geofence_reaches_every_dashboard_the_catalog_the_snapshot_and_the_rules() {
    let running = simulator::serve_local(KEY, |_| {}).await.unwrap();
    // The simulator's own world: 50 vehicles, their streets and fences.
    let config = Config::parse_from(["simulator", "--vehicles", "50", "--seed", "7", "--history-minutes", "0"]);
    simulator::start_devices(&running.state, &config, None);
    let api = format!("{}/api", running.functions);
    let http = reqwest::Client::new();
    let get = |path: &str| {
        let request = http.get(format!("{api}{path}"));
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let save = |body: Value| {
        let request = http.post(format!("{api}/geofences")).json(&body);
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap())
        }
    };
    let fleet = Fleet::new(config.seed, config.vehicles, config.centre.0, config.centre.1);
    assert_eq!(get("/basemap").await, serde_json::to_value(fleet.basemap()).unwrap());
    let ids = |catalog: &Value| {
        catalog["geofences"]
            .as_array()
            .map_or(Vec::new(), |l| l.iter().map(|g| g["id"].as_str().unwrap().to_string()).collect())
    };
    assert_eq!(ids(&get("/catalog").await), ["depot", "market"], "the built-in fences");

    let (mut ann, mut bob) = (connect(&api).await, connect(&api).await);
    let (status, answer) = save(square("yard")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, json!({ "geofences": [square("yard")] }));
    for socket in [&mut ann, &mut bob] {
        let catalogs = pushed(socket, "catalog", Duration::from_millis(500)).await;
        assert_eq!(catalogs, [json!([{ "geofences": [square("yard")] }])], "once, the fence alone");
    }
    let catalog = get("/catalog").await;
    assert_eq!(ids(&catalog), ["depot", "market", "yard"]);
    assert_eq!(get("/snapshot").await["catalog"]["geofences"], catalog["geofences"], "a page opened later has it");

    // The rules watch it: a vehicle driving in, too fast.
    let at = |s: i64, lon: f64, speed: f64| Position {
        id: "veh-99".into(),
        ts: s * 1000,
        lat: 47.0005,
        lon,
        heading: 90.0,
        speed,
        state: telemetry::VehicleState::Moving,
        site: "harbour".into(),
        seq: s as u64,
    };
    let changes = {
        let mut world = running.state.world.lock().unwrap();
        world.alerts.evaluate_positions(&[at(1, 7.999, 40.0)]);
        world.alerts.evaluate_positions(&[at(2, 8.0005, 40.0)])
    };
    let metrics: Vec<&str> = changes.raised.iter().map(|a| a.metric.as_str()).collect();
    assert_eq!(metrics, ["geofence:yard:enter", "geofence:yard:speed"]);
    let speeding = changes.raised[1].id.clone();
    assert!(get("/snapshot").await["alerts"].as_array().unwrap().iter().any(|a| a["id"] == speeding.as_str()));

    // The same fence again changes nothing: nothing pushed.
    assert_eq!(save(json!({ "geofences": [square("yard")] })).await.0, 200);
    assert!(pushed(&mut ann, "catalog", Duration::from_millis(300)).await.is_empty());

    // Removed: pushed as a removal, gone from the catalog, and its open alert is over.
    let removal = json!({ "id": "yard", "removed": true });
    assert_eq!(save(removal.clone()).await, (200, json!({ "geofences": [removal] })));
    let catalogs = pushed(&mut bob, "catalog", Duration::from_millis(500)).await;
    assert_eq!(catalogs, [json!([{ "geofences": [removal] }])]);
    assert_eq!(ids(&get("/catalog").await), ["depot", "market"]);
    assert!(running.state.world.lock().unwrap().alerts.fences().all(|f| f.id != "yard"));
    let snapshot = get("/snapshot").await;
    let open = snapshot["alerts"].as_array().unwrap().iter().find(|a| a["id"] == speeding.as_str()).cloned().unwrap();
    assert!(open["cleared"].is_i64(), "returned to normal, waiting for its acknowledgement: {open}");
}

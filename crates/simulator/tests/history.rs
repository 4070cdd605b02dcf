//! The history routes against a simulator started in-process on loopback, its devices
//! backfilled and then live: every endpoint, the seam between history and live readings, the
//! alert log fed by rules, acknowledgements and REST publishers, the 400s and the 404s, and a
//! store on disk surviving a restart.

// Native only: std's clock works here (clippy.toml forbids it for code built for wasm32).
#![allow(clippy::disallowed_methods)]

use std::sync::Mutex;
use std::time::Duration;

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use simulator::devices::equipment::Equipment;
use simulator::devices::fleet::{Fleet, SITES};
use simulator::functions::world::World;
use simulator::history::{backfill, History, HistorySettings, PositionRow};
use simulator::service::jwt::{self, Claims};
use simulator::{Config, Local};
use telemetry::history::{AlertChange, AlertLog, Coverage, FleetHistory, Gap, SeriesHistory, TrackHistory};
use tokio_tungstenite::tungstenite::Message;

const KEY: &str = "history-test-key";
const MINUTES: u64 = 10;
const VEHICLES: usize = 5;

fn config() -> Config {
    Config::parse_from(["simulator", "--vehicles", &VEHICLES.to_string(), "--history-minutes", &MINUTES.to_string()])
}

/// The simulator with `history` and its devices, once the backfill is done and the pipelines run.
async fn start(history: HistorySettings) -> Local {
    let local = simulator::serve_local(KEY, |settings| settings.history = history).await.unwrap();
    let config = config();
    let fleet = Fleet::new(config.seed, config.vehicles, config.centre.0, config.centre.1);
    let equipment = Equipment::new(config.seed, config.machines, config.rigs, &SITES);
    backfill::then_publish(local.state.clone(), &config, fleet, equipment);
    // The backfill ends with the last state in the world's snapshot.
    let ready = |local: &Local| local.state.history.as_ref().is_some_and(History::is_ready);
    for _ in 0..600 {
        if !local.state.world.lock().unwrap().readings.is_empty() && ready(&local) {
            return local;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the backfill did not finish within 30 s");
}

async fn on() -> Local {
    start(HistorySettings { minutes: MINUTES, data_dir: None }).await
}

async fn get(local: &Local, path: &str) -> (u16, Value) {
    let response = reqwest::get(format!("{}{path}", local.functions)).await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn get_as<T: serde::de::DeserializeOwned>(local: &Local, path: &str) -> T {
    let (status, body) = get(local, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_value(body).unwrap()
}

fn window_ms() -> i64 {
    MINUTES as i64 * 60_000
}

/// The simulator with history on over `minutes`, ready, and no devices: the test writes the
/// rows itself.
async fn empty(minutes: u64) -> Local {
    let history = HistorySettings { minutes, data_dir: None };
    let local = simulator::serve_local(KEY, |settings| settings.history = history).await.unwrap();
    local.state.history.as_ref().unwrap().set_ready();
    local
}

/// Waits until what was queued to the writer is written.
async fn flush(local: &Local) {
    let state = local.state.clone();
    tokio::task::spawn_blocking(move || state.history.as_ref().unwrap().flush()).await.unwrap();
}

fn vehicle(n: usize) -> String {
    format!("veh-{n:05}")
}

/// A fix of `id` in second `sec`, somewhere different each second.
fn position(id: &str, sec: i64) -> PositionRow {
    let drift = (sec % 1_000) as f64 * 1e-4;
    PositionRow {
        id: id.into(),
        ts: sec * 1_000 + 250,
        lat: 47.0 + drift,
        lon: 8.0 + drift,
        speed: 30.0,
        heading: 90.0,
        state: telemetry::VehicleState::Moving,
    }
}

/// A device's reading in second `sec`.
fn reading(sec: i64) -> telemetry::Reading {
    telemetry::Reading {
        device: "press-01".into(),
        kind: "process".into(),
        ts: sec * 1_000 + 500,
        site: "harbour".into(),
        status: telemetry::DeviceStatus::Running,
        values: [("temperature".to_string(), 70.0)].into(),
    }
}

#[tokio::test]
async fn a_fresh_start_is_backfilled_over_the_window_and_every_endpoint_answers_it() {
    let local = on().await;
    let now = simulator::unix_millis();

    // Every metric of a device, reduced to buckets of a second over the whole window.
    let history: SeriesHistory = get_as(&local, "/api/history?device=press-01&points=10000").await;
    assert_eq!(history.device, "press-01");
    assert!((now - window_ms() - history.from).abs() < 2_000 && (history.to - now).abs() < 2_000, "{history:?}");
    assert_eq!(history.bucket_ms, 1_000);
    let metrics: Vec<&str> = history.series.iter().map(|s| s.metric.as_str()).collect();
    assert_eq!(metrics, ["pressure", "temperature"]);
    for series in &history.series {
        assert!(series.len() as i64 >= window_ms() / 1_000 - 10, "{}: {} buckets", series.metric, series.len());
        assert!(series.ts[0] - history.from <= 2_000, "the backfill starts at the window's start");
        // No gap anywhere, the backfill's end into live included: a sample every second.
        assert!(series.ts.windows(2).all(|w| w[1] > w[0] && w[1] - w[0] <= 2_000), "{:?}", series.ts);
        for i in 0..series.len() {
            assert!(series.min[i] <= series.last[i] && series.last[i] <= series.max[i]);
        }
    }
    // Fewer points: wider buckets, each bucket's min and max spanning its samples.
    let coarse: SeriesHistory = get_as(&local, "/api/history?device=press-01&metric=temperature&points=60").await;
    assert_eq!(coarse.series.len(), 1);
    assert!(coarse.series[0].len() <= 60 && coarse.series[0].len() >= 55, "{}", coarse.series[0].len());
    assert_eq!(coarse.bucket_ms, telemetry::history::bucket_ms(coarse.from, coarse.to, 60));
    let fine = &history.series[1];
    let (fine_min, coarse_min) = (
        fine.min.iter().copied().fold(f64::INFINITY, f64::min),
        coarse.series[0].min.iter().copied().fold(f64::INFINITY, f64::min),
    );
    assert!((fine_min - coarse_min).abs() < 1e-9, "the same samples, reduced: {fine_min} {coarse_min}");

    // A vehicle's trail: every second of the window (5 vehicles are backfilled every second).
    let track: TrackHistory = get_as(&local, "/api/history/track?vehicle=veh-00001").await;
    assert!(track.ts.len() as i64 >= window_ms() / 1_000 - 10, "{}", track.ts.len());
    assert!(track.ts.windows(2).all(|w| w[1] > w[0]));
    assert_eq!([track.lat.len(), track.lon.len(), track.speed.len(), track.heading.len()], [track.ts.len(); 4]);
    let thinned: TrackHistory = get_as(&local, "/api/history/track?vehicle=veh-00001&points=7").await;
    assert_eq!(thinned.ts.len(), 7);
    let last = get_as::<TrackHistory>(&local, "/api/history/track?vehicle=veh-00001&points=1").await;
    assert!(last.ts[0] >= *track.ts.last().unwrap(), "the last fix is always in");

    // The fleet for replay: every vehicle in every frame, no NaN.
    let fleet: FleetHistory = get_as(&local, "/api/history/fleet?step=30000").await;
    assert_eq!(fleet.step_ms, 30_000);
    assert_eq!(fleet.ids.len(), VEHICLES);
    assert!(fleet.frames.len() as i64 >= window_ms() / 30_000, "{}", fleet.frames.len());
    for (k, frame) in fleet.frames.iter().enumerate() {
        assert_eq!(frame.ts, fleet.from + k as i64 * fleet.step_ms);
        assert_eq!([frame.lat.len(), frame.lon.len(), frame.heading.len(), frame.speed.len()], [VEHICLES; 4]);
        assert_eq!(frame.state.len(), VEHICLES);
        assert!(frame.lat.iter().chain(&frame.lon).all(|v| v.is_finite() && *v != 0.0));
    }
    let first = fleet.ids.iter().position(|id| id == "veh-00001").unwrap();
    let moved = fleet.frames.windows(2).filter(|w| w[0].lat[first] != w[1].lat[first]).count();
    assert!(moved > 0, "the replay moves");
    let default: FleetHistory = get_as(&local, "/api/history/fleet").await;
    assert_eq!(default.step_ms, 1_000, "an hour or less of a small fleet: every second");

    // The alert log: whatever the backfilled readings raised, oldest first.
    let log: AlertLog = get_as(&local, "/api/history/alerts").await;
    assert!(log.events.windows(2).all(|w| w[0].ts <= w[1].ts));
    for event in &log.events {
        assert_eq!(event.alert.is_some(), event.change == AlertChange::Raised, "{event:?}");
    }

    // An unknown device or vehicle has no history: an empty answer, not an error.
    let none: SeriesHistory = get_as(&local, "/api/history?device=nobody").await;
    assert!(none.series.is_empty());
    let none: TrackHistory = get_as(&local, "/api/history/track?vehicle=nobody").await;
    assert!(none.ts.is_empty());
}

/// A dashboard's client: negotiate through the functions API, the service's negotiate, a
/// WebSocket with the JSON protocol, and a group joined through `subscriptions`.
async fn subscribe(
    local: &Local,
    group: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let http = reqwest::Client::new();
    let info: Value =
        http.post(format!("{}/api/negotiate", local.functions)).send().await.unwrap().json().await.unwrap();
    let token = info["accessToken"].as_str().unwrap();
    let offer: Value = http
        .post(format!("{}/client/negotiate?hub=telemetry&negotiateVersion=1", local.service))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = format!(
        "{}/client/?hub=telemetry&id={}&access_token={token}",
        local.service.replace("http://", "ws://"),
        offer["connectionToken"].as_str().unwrap()
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    socket.send(Message::text("{\"protocol\":\"json\",\"version\":1}\u{1e}")).await.unwrap();
    let answer = socket.next().await.unwrap().unwrap().into_text().unwrap();
    assert_eq!(answer.as_str(), "{}\u{1e}");
    let body = serde_json::json!({ "connectionId": offer["connectionId"], "groups": [group] });
    let joined = http.post(format!("{}/api/subscriptions", local.functions)).json(&body).send().await.unwrap();
    assert_eq!(joined.status().as_u16(), 200);
    socket
}

/// What a dashboard asks once its first live point is in: the minute before it, by second
/// (buckets centred between readings); it keeps the history strictly older than that point.
async fn assert_history_joins(local: &Local, live: &telemetry::Reading) {
    // The writer is asynchronous: what was just published may still be queued.
    let state = local.state.clone();
    tokio::task::spawn_blocking(move || state.history.as_ref().unwrap().flush()).await.unwrap();
    let t1 = live.ts;
    let from = t1 - 60_000 + 500;
    let path = format!("/api/history?device=press-01&metric=temperature&from={from}&to={t1}&points=10000");
    let history: SeriesHistory = get_as(local, &path).await;
    let series = &history.series[0];
    assert_eq!(*series.ts.last().unwrap(), t1, "the live reading is in the store as published");
    assert_eq!(*series.last.last().unwrap(), live.values["temperature"]);
    let kept: Vec<i64> = series.ts.iter().copied().filter(|&ts| ts < t1).collect();
    let before = *kept.last().expect("history before the first live point");
    assert!((500..=1_500).contains(&(t1 - before)), "consecutive at 1 s: {before} then {t1}");
    assert!(kept.windows(2).all(|w| (500..=1_500).contains(&(w[1] - w[0]))), "a sample a second: {kept:?}");
    assert!(kept.len() >= 55, "{}", kept.len());
}

#[tokio::test]
async fn history_up_to_the_first_live_reading_joins_it_with_no_gap_and_no_repeat() {
    let local = on().await;
    let mut socket = subscribe(&local, "device:press-01").await;
    let mut live = Vec::new();
    tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(Ok(message)) = socket.next().await {
            let Message::Text(text) = message else { continue };
            for record in text.split('\u{1e}').filter(|r| !r.is_empty()) {
                let record: Value = serde_json::from_str(record).unwrap();
                if record["type"] == 1 && record["target"] == "readings" {
                    let batch: Vec<telemetry::Reading> =
                        serde_json::from_value(record["arguments"][0].clone()).unwrap();
                    live.extend(batch.into_iter().filter(|r| r.device == "press-01"));
                }
            }
            if live.len() >= 3 {
                return;
            }
        }
        panic!("the socket closed");
    })
    .await
    .expect("three live readings within 15 s");
    // The first live reading follows the backfill; the third, live readings the store took in.
    assert_history_joins(&local, &live[0]).await;
    assert_history_joins(&local, &live[2]).await;
    assert!(live.windows(2).all(|w| (500..=1_500).contains(&(w[1].ts - w[0].ts))));
}

/// Signs a REST API token for `path` on the service.
fn rest_token(local: &Local, path: &str) -> String {
    let claims = Claims {
        aud: format!("{}{path}", local.service),
        exp: jwt::unix_now() + 60,
        iat: None,
        user_id: None,
        nameid: None,
        name_identifier: None,
        sub: None,
    };
    jwt::sign(&claims, KEY)
}

#[tokio::test]
async fn the_alert_log_records_raised_acknowledged_and_cleared_with_who_and_when() {
    let local = on().await;
    let http = reqwest::Client::new();
    let path = "/api/v1/hubs/telemetry";
    let publish = |body: String| {
        let request = http.post(format!("{}{path}", local.service)).bearer_auth(rest_token(&local, path)).body(body);
        async move {
            assert_eq!(request.header("content-type", "application/json").send().await.unwrap().status().as_u16(), 202);
        }
    };
    let now = simulator::unix_millis();
    let alert = format!(
        r#"{{"id":"log-1","ts":{now},"device":"pump-07","site":"harbour","severity":"critical","metric":"pressure","value":12,"threshold":10,"message":"pressure high"}}"#
    );
    publish(format!(r#"{{"target":"alerts","arguments":[[{alert}]]}}"#)).await;
    let ack = http
        .post(format!("{}/api/alerts/log-1/ack", local.functions))
        .json(&serde_json::json!({ "by": "night shift" }))
        .send()
        .await
        .unwrap();
    assert_eq!(ack.status().as_u16(), 200);
    // Cleared after the acknowledgement (server time), however long the calls took: the log is
    // in time order.
    let acked_at = ack.json::<Value>().await.unwrap()["ts"].as_i64().unwrap();
    let cleared_at = acked_at + 5;
    publish(format!(r#"{{"target":"alertCleared","arguments":[[{{"id":"log-1","ts":{cleared_at}}}]]}}"#)).await;

    let events = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let log: AlertLog = get_as(&local, &format!("/api/history/alerts?from={now}")).await;
            let mine: Vec<_> = log.events.into_iter().filter(|e| e.id == "log-1").collect();
            if mine.len() == 3 {
                return mine;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("three events for log-1");
    assert_eq!(
        events.iter().map(|e| e.change).collect::<Vec<_>>(),
        [AlertChange::Raised, AlertChange::Acknowledged, AlertChange::Cleared]
    );
    assert_eq!(events[0].alert.as_ref().unwrap().message, "pressure high");
    assert_eq!((events[0].ts, events[1].ts, events[2].ts), (now, acked_at, cleared_at));
    assert_eq!(events[1].by.as_deref(), Some("night shift"));
    assert!(events[1].ts >= now);

    // Over the limit, the newest are kept, oldest first.
    let (status, body) = get(&local, &format!("/api/history/alerts?from={now}&limit=2")).await;
    assert_eq!(status, 200);
    let log: AlertLog = serde_json::from_value(body).unwrap();
    assert_eq!(log.events.len(), 2);
    assert!(log.events[0].ts <= log.events[1].ts);
    assert_eq!(log.events[1].change, AlertChange::Cleared, "the newest is in");
}

#[tokio::test]
async fn bad_parameters_are_400s_that_say_which() {
    let local = on().await;
    let now = simulator::unix_millis();
    let cases = [
        ("/api/history", "device"),
        ("/api/history?device=", "device"),
        ("/api/history?device=press-01&points=0", "points"),
        ("/api/history?device=press-01&points=10001", "points"),
        ("/api/history?device=press-01&points=ten", "points"),
        ("/api/history?device=press-01&from=yesterday", "from"),
        ("/api/history?device=press-01&to=-5", "to"),
        (&*format!("/api/history?device=press-01&from={}", now + 60_000), "after"),
        ("/api/history/track", "vehicle"),
        ("/api/history/track?vehicle=veh-00001&points=1.5", "points"),
        ("/api/history/alerts?limit=10001", "limit"),
        ("/api/history/alerts?limit=0", "limit"),
        ("/api/history/fleet?step=0", "step"),
        ("/api/history/fleet?vehicles=", "vehicles"),
        ("/api/history/fleet?vehicles=veh-00001,,veh-00002", "vehicles"),
        ("/api/history/fleet?vehicles=veh-00001&vehicles=%07", "vehicles"),
        ("/api/history/coverage?from=yesterday", "from"),
        (&*format!("/api/history/coverage?from={}", now + 60_000), "after"),
    ];
    for (path, says) in cases {
        let (status, body) = get(&local, path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["status"], 400);
        assert!(body["error"].as_str().unwrap().contains(says), "{path}: {body}");
    }
    // CORS like every functions route: a dashboard on another loopback port may read it.
    let response = reqwest::Client::new()
        .get(format!("{}/api/history?device=press-01", local.functions))
        .header("origin", "http://127.0.0.1:8080")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], "http://127.0.0.1:8080");
}

#[tokio::test]
async fn a_range_from_zero_is_clamped_to_the_window_and_answered_at_once() {
    let local = on().await;
    let started = std::time::Instant::now();
    let now = simulator::unix_millis();
    let track: TrackHistory = get_as(&local, "/api/history/track?vehicle=veh-00001&from=0&points=10000").await;
    assert!(track.ts.len() as i64 >= window_ms() / 1_000 - 10, "the window's fixes: {}", track.ts.len());
    assert!(track.ts[0] >= now - window_ms() - 1_000, "nothing before the window: {}", track.ts[0]);
    let series: SeriesHistory = get_as(&local, "/api/history?device=press-01&from=0").await;
    assert!((series.from - (now - window_ms())).abs() < 2_000, "from is the window's start: {}", series.from);
    assert!(!series.series.is_empty());
    let log: AlertLog = get_as(&local, "/api/history/alerts?from=0").await;
    assert!(log.events.iter().all(|e| e.ts >= now - window_ms() - 1_000));
    // Two hours every second would be more frames than an answer holds; clamped to the 10
    // minutes kept, it is every second of them.
    let fleet: FleetHistory = get_as(&local, &format!("/api/history/fleet?from={}&step=1000", now - 7_200_000)).await;
    assert_eq!(fleet.step_ms, 1_000);
    assert!((fleet.from - (now - window_ms())).abs() < 2_000, "{}", fleet.from);
    let fleet: FleetHistory = get_as(&local, "/api/history/fleet?from=0").await;
    assert!(fleet.frames.len() as i64 <= window_ms() / 1_000 + 2, "{}", fleet.frames.len());
    // A range wholly before the window is empty, not an error.
    let old: TrackHistory = get_as(&local, "/api/history/track?vehicle=veh-00001&from=0&to=1000").await;
    assert!(old.ts.is_empty());
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
}

#[tokio::test]
async fn until_the_backfill_is_done_every_history_route_is_a_503_to_retry_in_a_second() {
    // History on, and no backfill run: the store is not filled yet.
    let history = HistorySettings { minutes: MINUTES, data_dir: None };
    let local = simulator::serve_local(KEY, |settings| settings.history = history).await.unwrap();
    let paths = [
        "/api/history?device=press-01",
        "/api/history/track?vehicle=v",
        "/api/history/alerts",
        "/api/history/fleet",
        "/api/history/coverage",
    ];
    for path in paths {
        let response = reqwest::get(format!("{}{path}", local.functions)).await.unwrap();
        assert_eq!(response.status().as_u16(), 503, "{path}");
        assert_eq!(response.headers()["retry-after"], "1", "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], 503);
        assert!(body["error"].as_str().unwrap().contains("being filled"), "{body}");
    }
    local.state.history.as_ref().unwrap().set_ready();
    for path in paths {
        assert_eq!(get(&local, path).await.0, 200, "{path}, once ready");
    }
}

#[tokio::test]
async fn one_fleet_query_runs_at_a_time_and_another_meanwhile_is_a_503_to_retry() {
    let local = on().await;
    let history = local.state.history.as_ref().unwrap();
    let running = history.fleet_slot().expect("free");
    assert!(history.fleet_slot().is_none(), "one slot");
    let response = reqwest::get(format!("{}/api/history/fleet", local.functions)).await.unwrap();
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("one at a time"), "{body}");
    // The other routes are not held up.
    assert_eq!(get(&local, "/api/history/track?vehicle=veh-00001").await.0, 200);
    drop(running);
    let _: FleetHistory = get_as(&local, "/api/history/fleet?step=60000").await;
    assert!(history.fleet_slot().is_some(), "given back once answered");
}

#[tokio::test]
async fn with_history_off_every_history_route_is_a_404_like_a_backend_without_them() {
    let local = simulator::serve_local(KEY, |_| {}).await.unwrap();
    assert!(local.state.history.is_none(), "off unless asked for");
    for path in [
        "/api/history?device=press-01",
        "/api/history/track?vehicle=v",
        "/api/history/alerts",
        "/api/history/fleet",
        "/api/history/coverage",
        "/api/history?points=0",
    ] {
        let (status, body) = get(&local, path).await;
        assert_eq!(status, 404, "{path}");
        assert!(body["error"].as_str().unwrap().contains("--history-minutes 0"), "{body}");
    }
}

#[tokio::test]
async fn coverage_reports_the_hole_between_stored_stretches_and_nothing_at_the_edges() {
    let local = empty(MINUTES).await;
    let history = local.state.history.as_ref().unwrap();
    let base = simulator::unix_millis() / 1_000 - 120;
    let at = |sec: i64| (base + sec) * 1_000;
    // Positions in seconds 0–10, samples only in 20–30 (either is data), a position at 32: the
    // one empty second 31 is a late tick, not a gap.
    let fixes = (0..=10).flat_map(|sec| [position("veh-00001", base + sec), position("veh-00002", base + sec)]);
    history.store_positions(fixes.collect());
    history.store_readings((20..=30).map(|sec| reading(base + sec)).collect());
    history.store_positions(vec![position("veh-00001", base + 32)]);
    flush(&local).await;

    // The whole window: the gap, and not the empty minutes before second 0 or after second 32
    // up to now.
    let now = simulator::unix_millis();
    let coverage: Coverage = get_as(&local, "/api/history/coverage").await;
    assert!((now - window_ms() - coverage.from).abs() < 2_000 && (coverage.to - now).abs() < 2_000, "{coverage:?}");
    assert_eq!(coverage.gaps, [Gap { from: at(11), to: at(19) }]);
    assert_eq!(coverage.gaps[0].seconds(), 9);
    let whole: Coverage = get_as(&local, "/api/history/coverage?from=0").await;
    assert_eq!(whole.gaps, coverage.gaps, "clamped to the window");

    // Ranges that cut the stretches: the gap between stored seconds of the range, if any.
    let gap = vec![Gap { from: at(11), to: at(19) }];
    for (from, to, gaps) in [
        (at(10), at(20), gap.clone()),
        (at(5) + 500, at(25) + 999, gap.clone()),
        (at(11), at(19), vec![]),
        (at(15), at(40), vec![]),
        (at(0), at(15), vec![]),
        (at(28), at(33), vec![]),
    ] {
        let path = format!("/api/history/coverage?from={from}&to={to}");
        let coverage: Coverage = get_as(&local, &path).await;
        assert_eq!((coverage.from, coverage.to), (from, to), "{path}");
        assert_eq!(coverage.gaps, gaps, "{path}");
    }
}

#[tokio::test]
async fn coverage_of_a_store_backfilled_and_then_live_has_no_gap() {
    let local = on().await;
    // A few live seconds after the backfill's last one.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    flush(&local).await;
    let coverage: Coverage = get_as(&local, "/api/history/coverage").await;
    assert!(coverage.gaps.is_empty(), "{coverage:?}");
    assert!(coverage.to - coverage.from >= window_ms() - 2_000, "{coverage:?}");
}

#[tokio::test]
async fn the_fleet_of_named_vehicles_holds_just_those_in_the_order_named() {
    let local = on().await;
    flush(&local).await;
    let to = simulator::unix_millis() - 5_000;
    let range = format!("from={}&to={to}&step=10000", to - 120_000);
    let all: FleetHistory = get_as(&local, &format!("/api/history/fleet?{range}")).await;
    let path = format!("/api/history/fleet?{range}&vehicles=veh-00004,nobody,veh-00002&vehicles=veh-00004");
    let some: FleetHistory = get_as(&local, &path).await;
    assert_eq!(some.ids, ["veh-00004", "veh-00002"], "in the order named, once each, the unknown one absent");
    assert_eq!((some.from, some.step_ms, some.frames.len()), (all.from, all.step_ms, all.frames.len()));
    for (j, id) in some.ids.iter().enumerate() {
        let column = all.ids.iter().position(|i| i == id).unwrap();
        for (mine, whole) in some.frames.iter().zip(&all.frames) {
            assert_eq!(mine.ts, whole.ts);
            assert_eq!([mine.lat[j], mine.lon[j]], [whole.lat[column], whole.lon[column]], "{id} at {}", mine.ts);
            assert_eq!([mine.heading[j], mine.speed[j]], [whole.heading[column], whole.speed[column]]);
            assert_eq!(mine.state[j], whole.state[column]);
        }
    }
    let none: FleetHistory = get_as(&local, &format!("/api/history/fleet?{range}&vehicles=nobody")).await;
    assert!(none.ids.is_empty() && none.frames.iter().all(|f| f.lat.is_empty()), "{none:?}");
}

#[tokio::test]
async fn a_few_named_vehicles_replay_every_second_where_the_whole_fleet_may_not() {
    // An hour kept, 1,000 vehicles that reported over the last 20 seconds.
    let local = empty(60).await;
    let history = local.state.history.as_ref().unwrap();
    let now = simulator::unix_millis() / 1_000;
    for sec in now - 20..now {
        history.store_positions((0..1_000).map(|n| position(&vehicle(n), sec)).collect());
    }
    flush(&local).await;

    // An hour of 1,000 vehicles every second would be 3.6 million cells.
    let (status, body) = get(&local, "/api/history/fleet?step=1000").await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("step=2000"), "{body}");
    // Ten of them: every second of the hour, by default or asked for.
    let ten: Vec<String> = (0..10).map(|n| vehicle(n * 97)).collect();
    for step in ["", "&step=1000"] {
        let path = format!("/api/history/fleet?vehicles={}{step}", ten.join(","));
        let fleet: FleetHistory = get_as(&local, &path).await;
        assert_eq!((fleet.step_ms, &fleet.ids), (1_000, &ten), "{path}");
        assert!(fleet.frames.len() >= 3_600, "{}", fleet.frames.len());
    }
    // Read by a lookup per vehicle and second (ten of 1,000), the same as the whole fleet's
    // columns read row by row.
    let to = (now - 1) * 1_000;
    let range = format!("from={}&to={to}&step=1000", to - 25_000);
    let all: FleetHistory = get_as(&local, &format!("/api/history/fleet?{range}")).await;
    let some: FleetHistory = get_as(&local, &format!("/api/history/fleet?{range}&vehicles={}", ten.join(","))).await;
    assert_eq!(some.frames.len(), 26);
    for (j, id) in ten.iter().enumerate() {
        let column = all.ids.iter().position(|i| i == id).unwrap();
        for (mine, whole) in some.frames.iter().zip(&all.frames) {
            assert_eq!([mine.lat[j], mine.lon[j]], [whole.lat[column], whole.lon[column]], "{id} at {}", mine.ts);
        }
    }
    // 2,000 ids may be named (the 1,000 unknown ones are absent); 2,001 are a 400 naming the limit.
    let many: Vec<String> = (0..2_000).map(vehicle).collect();
    let path = format!("/api/history/fleet?step=60000&vehicles={}", many.join(","));
    let fleet: FleetHistory = get_as(&local, &path).await;
    assert_eq!(fleet.ids, many[..1_000]);
    let (status, body) = get(&local, &format!("{path}&vehicles=one-more")).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("at most 2000"), "{body}");
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("simulator-history-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn a_store_on_disk_is_kept_across_a_restart_of_the_same_scenario_and_replaced_for_another() {
    let dir = temp_dir("restart");
    let settings = HistorySettings { minutes: 5, data_dir: Some(dir.clone()) };
    let scenario = backfill::scenario(&config());
    let filled = {
        let history = History::open(&settings).unwrap().unwrap();
        assert!(history.prepare(&scenario).unwrap(), "a new store is empty");
        let world = Mutex::new(World::default());
        let mut fleet = Fleet::new(1, 3, 47.0, 8.0);
        let mut equipment = Equipment::new(1, 2, 1, &SITES);
        let report = backfill::fill(&history, &world, &mut fleet, &mut equipment, 10);
        assert!(report.seconds >= 300 && report.positions >= 900, "{report:?}");
        history.counts().unwrap()
    };
    assert!(dir.join("history.sqlite3").exists());
    let history = History::open(&settings).unwrap().unwrap();
    assert!(!history.prepare(&scenario).unwrap(), "restarted: the rows are still there");
    assert_eq!(history.counts().unwrap(), filled);
    let (from, to) = history.range(None, None, simulator::unix_millis());
    assert_eq!(history.coverage(from, to).unwrap().gaps, Vec::<Gap>::new(), "the backfill left no gap");
    assert!(history.prepare("another seed").unwrap(), "another scenario's rows are not this one's history");
    assert_eq!(history.counts().unwrap(), (0, 0, 0));
    drop(history);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_restart_on_disk_leaves_the_downtime_a_gap_and_a_store_of_an_older_simulator_gets_it_too() {
    let dir = temp_dir("downtime");
    let settings = HistorySettings { minutes: 5, data_dir: Some(dir.clone()) };
    let now = simulator::unix_millis() / 1_000;
    let run = |seconds: std::ops::RangeInclusive<i64>| {
        let history = History::open(&settings).unwrap().unwrap();
        history.prepare("a scenario").unwrap();
        history.store_positions(seconds.flat_map(|sec| (0..3).map(move |n| position(&vehicle(n), sec))).collect());
        history.flush();
        let (from, to) = history.range(None, None, simulator::unix_millis());
        history.coverage(from, to).unwrap().gaps
    };
    assert_eq!(run(now - 200..=now - 150), Vec::<Gap>::new());
    // Down for a hundred seconds, then up again on the same store.
    let downtime = [Gap { from: (now - 149) * 1_000, to: (now - 51) * 1_000 }];
    assert_eq!(run(now - 50..=now - 10), downtime);
    // A store an older simulator wrote has no `seconds` table: it is rebuilt from the rows.
    let sqlite = || rusqlite::Connection::open(dir.join("history.sqlite3")).unwrap();
    sqlite().execute_batch("DROP TABLE seconds").unwrap();
    assert_eq!(run(now - 9..=now - 9), downtime);
    // One an older simulator wrote to after a newer one: the seconds it added are missing.
    sqlite().execute(&format!("DELETE FROM seconds WHERE sec > {}", now - 40), []).unwrap();
    assert_eq!(run(now - 8..=now - 8), downtime);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_backfill_is_the_same_for_the_same_seed() {
    let track = |seed: u64| {
        let history = History::open(&HistorySettings { minutes: 3, data_dir: None }).unwrap().unwrap();
        let world = Mutex::new(World::default());
        let mut fleet = Fleet::new(seed, 4, 47.0, 8.0);
        let mut equipment = Equipment::new(seed, 1, 1, &SITES);
        // The window as it was when the fill began: a fill that crosses a second boundary
        // would otherwise see its first second fall out of a window taken after it.
        let began = simulator::unix_millis();
        backfill::fill(&history, &world, &mut fleet, &mut equipment, 10);
        let (from, to) = history.range(None, None, began);
        let track = history.track("veh-00002", from, to, 10_000).unwrap();
        let series = history.series("press-01", Some("temperature"), from, to, 10_000).unwrap();
        (track.lat[..150].to_vec(), track.lon[..150].to_vec(), series.series[0].last[..150].to_vec())
    };
    assert_eq!(track(7), track(7));
    assert_ne!(track(7), track(8));
}

#[test]
fn a_fleet_range_beyond_the_caps_is_refused_with_the_step_that_fits() {
    let history = History::open(&HistorySettings { minutes: 3, data_dir: None }).unwrap().unwrap();
    let now = simulator::unix_millis();
    // Two hours every second (the routes clamp to the window first; the store's own call does not).
    let error = history.fleet(now - 7_200_000, now, Some(1_000)).unwrap_err();
    assert!(error.to_string().contains("step=2000"), "{error}");
}

#[test]
fn the_scenario_names_the_catalog_files_contents_not_its_path() {
    let dir = temp_dir("scenario");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("catalog.json");
    let with = |contents: &str| {
        std::fs::write(&path, contents).unwrap();
        let config = Config::parse_from(["simulator", "--catalog", path.to_str().unwrap()]);
        backfill::scenario(&config)
    };
    let first = with(r#"{"kinds":[{"id":"pump"}]}"#);
    assert_eq!(with(r#"{"kinds":[{"id":"pump"}]}"#), first, "the same file: the same scenario");
    assert_ne!(with(r#"{"kinds":[{"id":"chiller"}]}"#), first, "an edited file: another scenario");
    assert!(!first.contains("catalog.json"), "{first}");
    let _ = std::fs::remove_dir_all(&dir);
}

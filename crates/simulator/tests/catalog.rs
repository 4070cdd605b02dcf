//! The catalog on the simulator's side: a `--catalog` file merged at start and its devices
//! simulated (the binary itself, and the library for what must be deterministic), a catalog
//! published through the REST API adopted by the functions side and reaching every dashboard
//! once, and the `catalog` hub method.

// Native only: std's clock works here (clippy.toml forbids it for code built for wasm32).
#![allow(clippy::disallowed_methods)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use signalr::negotiate::{websocket_url, NegotiateStep, Negotiator};
use signalr::Bearer;
use simulator::devices::{catalog, generic};
use simulator::functions::world::World;
use telemetry::{Alert, Severity};
use tokio_tungstenite::tungstenite::Message;

const KEY: &str = "catalog-test-key";

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("catalog/example-pumps.json")
}

/// The simulator binary, killed when dropped.
struct Simulator(Child);

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn simulator(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_simulator"));
    // Free ports, a quiet fleet: only the catalog matters here.
    command.args(["--functions-port", "0", "--service-port", "0", "--vehicles", "1", "--log-level", "warn"]);
    command.args(args).envs(env.iter().copied()).env_remove("RUST_LOG");
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    command
}

/// Waits for the process to end (killing it after `within`); its exit code and stderr.
fn ended(mut child: Child, within: Duration) -> (Option<i32>, String) {
    let deadline = Instant::now() + within;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the simulator kept running");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (status.code(), stderr)
}

#[test]
fn a_catalog_file_that_cannot_be_read_or_is_not_a_catalog_stops_the_simulator_naming_it() {
    let missing = std::env::temp_dir().join("no-such-catalog-file.json");
    let child = simulator(&["--catalog", missing.to_str().unwrap()], &[]).spawn().unwrap();
    let (code, stderr) = ended(child, Duration::from_secs(20));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("no-such-catalog-file.json") && stderr.contains("cannot read"), "{stderr}");

    // Through the environment too, and serde's reason with its line.
    let bad = std::env::temp_dir().join(format!("not-a-catalog-{}.json", std::process::id()));
    std::fs::write(&bad, "{\n  \"kinds\": {\"id\": \"pump\"}\n}\n").unwrap();
    let child = simulator(&[], &[("SIMULATOR_CATALOG", bad.to_str().unwrap())]).spawn().unwrap();
    let (code, stderr) = ended(child, Duration::from_secs(20));
    std::fs::remove_file(&bad).unwrap();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains(bad.to_str().unwrap()) && stderr.contains("is not a catalog"), "{stderr}");
    assert!(stderr.contains("invalid type") && stderr.contains("line 2"), "serde's reason: {stderr}");
}

#[tokio::test]
async fn the_simulator_started_with_the_example_catalog_serves_and_simulates_its_pumps() {
    let mut child = simulator(
        &["--catalog", example().to_str().unwrap(), "--machines", "1", "--rigs", "0", "--reading-rate", "10"],
        &[],
    )
    .spawn()
    .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let _running = Simulator(child);
    let (mut functions, mut banner) = (None, String::new());
    let mut lines = stdout.lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        banner.push_str(&line);
        banner.push('\n');
        if let Some(rest) = line.trim().strip_prefix("functions API") {
            functions = rest.split_whitespace().next().map(str::to_string);
        }
        if line.contains("publish:") {
            break;
        }
    }
    // Keep reading what it prints after: a closed pipe would end the simulator at its next line
    // (the banner goes on after `publish:`), and the requests below would find it gone.
    std::thread::spawn(move || lines.for_each(drop));
    let api = functions.unwrap_or_else(|| panic!("no functions URL in {banner}"));
    assert!(banner.contains("example-pumps.json merged, 3 of its devices simulated"), "{banner}");

    let http = reqwest::Client::new();
    let get = |path: &str| {
        let request = http.get(format!("{api}{path}"));
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let served = get("/catalog").await;
    let pump = served["kinds"].as_array().unwrap().iter().find(|k| k["id"] == "pump").expect("the file's kind");
    assert_eq!(pump["metrics"][0]["unit"], "m³/h");
    assert_eq!(pump["metrics"][0]["limits"][0], json!({"severity": "warning", "above": 300.0, "clear": 280.0}));
    assert_eq!(pump["metrics"][1]["limits"][0], json!({"severity": "critical", "below": 1.0, "clear": 1.2}));
    assert!(served["kinds"].as_array().unwrap().iter().any(|k| k["id"] == "process"), "the built-in kinds stay");
    let ids = |list: &Value| {
        list.as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    let devices = ids(&served["devices"]);
    assert!(
        ["pump-01", "pump-02", "pump-03", "press-01"].iter().all(|d| devices.contains(&d.to_string())),
        "{devices:?}"
    );
    let dock = served["sites"].as_array().unwrap().iter().find(|s| s["id"] == "dock").expect("the file's site");
    assert_eq!((dock["name"].as_str(), dock["centre"]["lat"].as_f64()), (Some("Dock"), Some(47.36)));

    // The snapshot: the registry, the sites to subscribe to, and readings of every metric.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let snapshot = get("/snapshot").await;
        assert_eq!(snapshot["catalog"], served, "the snapshot carries the same catalog");
        let registry = snapshot["devices"].as_array().unwrap();
        let pump3 = registry.iter().find(|d| d["id"] == "pump-03").expect("registered");
        assert_eq!(
            (pump3["kind"].as_str(), pump3["site"].as_str(), pump3["name"].as_str()),
            (Some("pump"), Some("dock"), Some("Dock pump"))
        );
        let sites: Vec<&str> = snapshot["sites"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
        assert!(sites.contains(&"dock") && sites.contains(&"harbour"), "{sites:?}");
        let readings: Vec<&Value> =
            snapshot["readings"].as_array().unwrap().iter().filter(|r| r["kind"] == "pump").collect();
        if readings.len() == 3 {
            for reading in readings {
                let values = reading["values"].as_object().unwrap();
                assert_eq!(values.keys().collect::<Vec<_>>(), ["flow", "pressure"], "{reading}");
                assert!(values.values().all(|v| v.as_f64().is_some_and(f64::is_finite)));
            }
            break;
        }
        assert!(Instant::now() < deadline, "no readings of the pumps: {snapshot}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The alerts the example's pumps raise in an hour of one-second steps, with the catalog the
/// world ends with, run through the library as `start_devices` runs it.
fn an_hour_of_pumps(seed: u64) -> (Vec<Alert>, Vec<(String, i64, f64)>, telemetry::Catalog) {
    let mut world = World { catalog: catalog::scenarios(), ..World::default() };
    let (file, problems) = catalog::load(&example()).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    let mut pumps = generic::from_file(&mut world, file, seed);
    assert_eq!(pumps.len(), 3);
    let (mut raised, mut cleared) = (Vec::new(), Vec::new());
    let mut last = std::collections::HashMap::new();
    for s in 0..3600 {
        pumps.step(1.0);
        let readings = pumps.readings(s * 1000);
        let changes = world.alerts.evaluate(&readings);
        for reading in readings {
            last.insert(reading.device.clone(), reading);
        }
        for clear in changes.cleared {
            let alert = raised.iter().find(|a: &&Alert| a.id == clear.id).unwrap();
            cleared.push((alert.metric.clone(), clear.ts, last[&alert.device].values[&alert.metric]));
        }
        raised.extend(changes.raised);
    }
    (raised, cleared, world.catalog)
}

#[test]
fn the_files_limits_raise_alerts_at_their_thresholds_and_clear_past_their_clear_levels_for_a_seed() {
    let (raised, cleared, merged) = an_hour_of_pumps(42);
    assert!(merged.kind("pump").is_some() && merged.kind("drill").is_some(), "merged into the built-in catalog");
    let flow = raised.iter().find(|a| a.metric == "flow").expect("a flow excursion within the hour");
    assert_eq!((flow.severity, flow.threshold), (Severity::Warning, 300.0));
    assert!(flow.value > 300.0 && flow.message.contains("m³/h"), "{flow:?}");
    let pressure = raised.iter().find(|a| a.metric == "pressure").expect("a pressure excursion within the hour");
    assert_eq!((pressure.severity, pressure.threshold), (Severity::Critical, 1.0));
    assert!(pressure.value < 1.0, "{pressure:?}");
    for device in ["pump-01", "pump-02", "pump-03"] {
        assert!(raised
            .iter()
            .any(|a| a.device == device && a.site == if device == "pump-03" { "dock" } else { "harbour" }));
    }
    // Hysteresis: cleared only past the clear level, not at the limit.
    assert!(!cleared.is_empty());
    for (metric, ts, value) in &cleared {
        match metric.as_str() {
            "flow" => assert!(*value < 280.0, "flow cleared at {value} ({ts})"),
            _ => assert!(*value > 1.2, "pressure cleared at {value} ({ts})"),
        }
    }
    // The same seed, the same alarms at the same moments; another seed, others.
    let moments = |alerts: &[Alert]| {
        alerts.iter().map(|a| (a.ts, a.device.clone(), a.metric.clone(), a.value)).collect::<Vec<_>>()
    };
    assert_eq!(moments(&raised), moments(&an_hour_of_pumps(42).0));
    assert_ne!(moments(&raised), moments(&an_hour_of_pumps(43).0));
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Negotiates at `base` (the functions API's, or a plain hub's, as `user` when given), opens
/// the WebSocket and completes the JSON handshake.
async fn connect(base: &str, user: Option<&str>) -> Socket {
    let http = reqwest::Client::new();
    let mut negotiator = Negotiator::new(base);
    let mut request = negotiator.first_request();
    let done = loop {
        let mut call = http.post(&request.url);
        match (&request.bearer, user) {
            (Bearer::Service(token), _) => call = call.bearer_auth(token),
            (Bearer::App, Some(user)) => call = call.header("x-ms-client-principal-id", user),
            (Bearer::App, None) => {}
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

/// The hub messages that arrive within `within`, pings left out.
async fn messages_within(socket: &mut Socket, within: Duration) -> Vec<Value> {
    let mut messages = Vec::new();
    let _ = tokio::time::timeout(within, async {
        while let Some(Ok(message)) = socket.next().await {
            if let Message::Text(text) = message {
                let records = text.split('\u{1e}').filter(|r| !r.is_empty());
                messages.extend(records.map(|r| serde_json::from_str::<Value>(r).unwrap()).filter(|m| m["type"] != 6));
            }
        }
    })
    .await;
    messages
}

fn of_target<'a>(messages: &'a [Value], target: &str) -> Vec<&'a Value> {
    messages.iter().filter(|m| m["type"] == 1 && m["target"] == target).collect()
}

#[tokio::test]
async fn a_catalog_published_through_rest_reaches_each_dashboard_once_and_the_functions_adopt_it() {
    let history = simulator::history::HistorySettings { minutes: 10, data_dir: None };
    let running = simulator::serve_local(KEY, |settings| settings.history = history).await.unwrap();
    let history = running.state.history.as_ref().unwrap();
    history.set_ready();
    running.state.world.lock().unwrap().catalog = catalog::scenarios();
    let api = format!("{}/api", running.functions);
    let mut ann = connect(&api, Some("ann")).await;
    let mut bob = connect(&api, None).await;
    let http = reqwest::Client::new();
    let connection_string = format!("Endpoint={};AccessKey={KEY};Version=1.0;", running.service);
    let publish = |path: &str, document: Value| {
        let url = format!("{}/api/v1/hubs/telemetry{path}", running.service);
        let token = simulator::rest_token(&connection_string, &url, 60).unwrap();
        let body = json!({"target": "catalog", "arguments": [document]});
        let request = http.post(url).bearer_auth(token).json(&body);
        async move { assert_eq!(request.send().await.unwrap().status(), 202) }
    };
    let get = |path: &str| {
        let request = http.get(format!("{api}{path}"));
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let ids = |list: &Value| {
        list.as_array().map(|l| l.iter().map(|e| e["id"].as_str().unwrap_or_default().to_string()).collect::<Vec<_>>())
    };

    let quay = json!({
        "kinds": [{ "id": "chiller", "name": "Chiller", "metrics": [
            { "id": "supply", "unit": "°C", "min": 0, "max": 20,
              "limits": [{ "severity": "warning", "above": 12, "clear": 10 }] }] }],
        "devices": [{ "id": "chiller-1", "name": "Chiller 1", "kind": "chiller", "site": "quay" },
                    { "id": "", "kind": "chiller" }],
        "sites": [{ "id": "quay", "name": "Quay", "centre": { "lat": 47.37, "lon": 8.54 } }]
    });
    publish("", quay.clone()).await;
    for socket in [&mut ann, &mut bob] {
        let messages = messages_within(socket, Duration::from_millis(400)).await;
        let pushed = of_target(&messages, "catalog");
        assert_eq!(pushed.len(), 1, "once: {messages:?}");
        assert_eq!(pushed[0]["arguments"], json!([quay]), "one argument, the document as published");
    }
    let served = get("/catalog").await;
    assert!(ids(&served["kinds"]).unwrap().contains(&"chiller".to_string()), "{served}");
    assert!(ids(&served["devices"]).unwrap().contains(&"chiller-1".to_string()));
    assert!(!ids(&served["devices"]).unwrap().contains(&String::new()), "the unusable entry is dropped");
    let snapshot = get("/snapshot").await;
    assert_eq!(snapshot["catalog"], served);
    let registered = snapshot["devices"].as_array().unwrap().iter().find(|d| d["id"] == "chiller-1").cloned();
    assert_eq!(registered, Some(json!({"id": "chiller-1", "name": "Chiller 1", "kind": "chiller", "site": "quay"})));
    assert!(snapshot["sites"].as_array().unwrap().contains(&json!("quay")), "{snapshot}");

    // The rules follow: a chiller reading past the published limit raises an alert at it.
    let reading = telemetry::Reading {
        device: "chiller-1".into(),
        kind: "chiller".into(),
        ts: 5,
        site: "quay".into(),
        status: telemetry::DeviceStatus::Running,
        values: [("supply".to_string(), 13.5)].into(),
    };
    let raised = running.state.world.lock().unwrap().alerts.evaluate(&[reading]).raised;
    assert_eq!(raised.iter().map(|a| (a.metric.as_str(), a.threshold)).collect::<Vec<_>>(), [("supply", 12.0)]);

    // Sent to one user: ann gets it from the send, bob from the functions side; once each.
    let renamed =
        json!({"devices": [{ "id": "chiller-1", "name": "Quay chiller", "kind": "chiller", "site": "quay" }]});
    publish("/users/ann", renamed.clone()).await;
    for socket in [&mut ann, &mut bob] {
        let messages = messages_within(socket, Duration::from_millis(400)).await;
        assert_eq!(of_target(&messages, "catalog").len(), 1, "{messages:?}");
    }
    assert_eq!(
        get("/catalog").await["devices"].as_array().unwrap().iter().find(|d| d["id"] == "chiller-1").unwrap()["name"],
        "Quay chiller"
    );
    // The same again changes nothing: the send alone, to ann.
    publish("/users/ann", renamed).await;
    assert_eq!(of_target(&messages_within(&mut ann, Duration::from_millis(300)).await, "catalog").len(), 1);
    assert!(of_target(&messages_within(&mut bob, Duration::from_millis(300)).await, "catalog").is_empty());

    // Removed: gone from the catalog, the registry and the sites; its open alert is over.
    let removal = json!({"kinds": [{ "id": "chiller", "removed": true }],
                         "devices": [{ "id": "chiller-1", "removed": true }],
                         "sites": [{ "id": "quay", "removed": true }]});
    publish("", removal).await;
    let messages = messages_within(&mut bob, Duration::from_millis(400)).await;
    assert_eq!(of_target(&messages, "catalog").len(), 1);
    let cleared = of_target(&messages, "alertCleared");
    assert_eq!(cleared.len(), 1, "{messages:?}");
    assert_eq!(cleared[0]["arguments"][0][0]["id"], raised[0].id);
    // ... and in the alert log, like the rules' clearings.
    history.flush();
    let log = get("/history/alerts?from=0").await;
    let logged: Vec<&Value> = log["events"].as_array().unwrap().iter().filter(|e| e["id"] == raised[0].id).collect();
    assert_eq!(logged.len(), 1, "{log}");
    assert_eq!(logged[0]["change"], "cleared");
    let served = get("/catalog").await;
    assert!(!ids(&served["kinds"]).unwrap().contains(&"chiller".to_string()));
    assert!(!ids(&served["devices"]).unwrap_or_default().contains(&"chiller-1".to_string()));
    assert!(!ids(&served["sites"]).unwrap_or_default().contains(&"quay".to_string()));
    let snapshot = get("/snapshot").await;
    assert!(snapshot["devices"].as_array().unwrap().iter().all(|d| d["id"] != "chiller-1"));
    assert!(!snapshot["sites"].as_array().unwrap().contains(&json!("quay")));
    assert!(running.state.world.lock().unwrap().alerts.rules().iter().all(|r| r.kind != "chiller"));
}

#[tokio::test]
async fn the_plain_hub_answers_the_catalog_method_with_the_functions_catalog() {
    let running = simulator::serve_local(KEY, |settings| settings.transports.plain_hub = true).await.unwrap();
    let (file, _) = catalog::load(&example()).unwrap();
    let expected = {
        let mut world = running.state.world.lock().unwrap();
        world.catalog = catalog::scenarios();
        world.adopt(file, 0);
        serde_json::to_value(&world.catalog).unwrap()
    };
    let mut socket = connect(&format!("{}/hubs/telemetry", running.service), None).await;
    let invocation = json!({"type": 1, "invocationId": "7", "target": "catalog", "arguments": []});
    socket.send(Message::text(format!("{invocation}\u{1e}"))).await.unwrap();
    let messages = messages_within(&mut socket, Duration::from_secs(1)).await;
    let completion = messages.iter().find(|m| m["type"] == 3 && m["invocationId"] == "7").expect("a completion");
    assert!(completion.get("error").is_none(), "{completion}");
    assert_eq!(completion["result"], expected);
    assert!(completion["result"]["kinds"].as_array().unwrap().iter().any(|k| k["id"] == "pump"));
}

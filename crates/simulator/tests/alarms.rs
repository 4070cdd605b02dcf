//! ISA-18.2 alarm management against a simulator started in-process on loopback, over real
//! HTTP and a dashboard's WebSocket: shelving and out of service (made, listed, broadcast,
//! replaced, ended, expired by themselves), the requests refused and why, re-alarm after an
//! acknowledgement, suppressions and re-alarms published by another backend through the REST
//! API, and what the alert log and an alert's timeline then hold.

// Native only: std's clock works here (clippy.toml forbids it for code built for wasm32).
#![allow(clippy::disallowed_methods)]

use std::time::Duration;

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use simulator::history::HistorySettings;
use simulator::service::jwt::{self, Claims};
use simulator::{Config, Local};
use telemetry::history::{AlertChange, AlertLog};
use telemetry::{Suppression, SuppressionEndReason, SuppressionEnded, SuppressionKind};
use tokio_tungstenite::tungstenite::Message;

const KEY: &str = "alarms-test-key";

/// The simulator with the alarm flags `flags` (as on the command line), history on and no
/// devices: the tests raise the alerts they need through the REST API.
async fn start(flags: &[&str]) -> Local {
    let config = Config::parse_from(["simulator"].iter().chain(flags));
    let alarms = simulator::settings_from(&config).unwrap().alarms;
    let local = simulator::serve_local(KEY, |settings| {
        settings.history = HistorySettings { minutes: 10, data_dir: None };
        settings.alarms = alarms;
    })
    .await
    .unwrap();
    local.state.history.as_ref().unwrap().set_ready();
    local
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A dashboard: negotiated through the functions, connected with the JSON protocol, in the
/// `site:harbour` group.
struct Dashboard {
    socket: Socket,
}

impl Dashboard {
    async fn connect(local: &Local) -> Self {
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
        let body = json!({ "connectionId": offer["connectionId"], "groups": ["site:harbour"] });
        let joined = http.post(format!("{}/api/subscriptions", local.functions)).json(&body).send().await.unwrap();
        assert_eq!(joined.status().as_u16(), 200);
        Dashboard { socket }
    }

    /// The next hub message `pick` takes (pings and the others are skipped), within `within`.
    async fn next(&mut self, within: Duration, what: &str, mut pick: impl FnMut(&Value) -> bool) -> Value {
        tokio::time::timeout(within, async {
            while let Some(Ok(message)) = self.socket.next().await {
                let Message::Text(text) = message else { continue };
                for record in text.split('\u{1e}').filter(|r| !r.is_empty()) {
                    let record: Value = serde_json::from_str(record).unwrap();
                    if pick(&record) {
                        return record;
                    }
                }
            }
            panic!("the socket closed while waiting for {what}");
        })
        .await
        .unwrap_or_else(|_| panic!("no {what} within {within:?}"))
    }

    /// The batch of the next invocation of `target`.
    async fn batch(&mut self, target: &str, within: Duration) -> Vec<Value> {
        let record = self.next(within, target, |r| r["type"] == 1 && r["target"] == target).await;
        record["arguments"][0].as_array().expect("a batch").clone()
    }

    /// Every invocation of `target` for `period`.
    async fn all(&mut self, target: &str, period: Duration) -> Vec<Value> {
        let mut seen = Vec::new();
        let _ = tokio::time::timeout(period, async {
            while let Some(Ok(message)) = self.socket.next().await {
                let Message::Text(text) = message else { continue };
                for record in text.split('\u{1e}').filter(|r| !r.is_empty()) {
                    let record: Value = serde_json::from_str(record).unwrap();
                    if record["type"] == 1 && record["target"] == target {
                        seen.extend(record["arguments"][0].as_array().unwrap().iter().cloned());
                    }
                }
            }
        })
        .await;
        seen
    }

    /// Invokes a hub method and answers its completion's result (or error).
    async fn invoke(&mut self, target: &str, arguments: Value) -> Result<Value, String> {
        let message = json!({ "type": 1, "invocationId": "7", "target": target, "arguments": arguments });
        self.socket.send(Message::text(format!("{message}\u{1e}"))).await.unwrap();
        let completion = self.next(Duration::from_secs(5), "a completion", |r| r["type"] == 3).await;
        match completion["error"].as_str() {
            Some(error) => Err(error.to_string()),
            None => Ok(completion["result"].clone()),
        }
    }
}

async fn call(method: reqwest::Method, url: String, body: Option<Value>) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn post(local: &Local, path: &str, body: Value) -> (u16, Value) {
    call(reqwest::Method::POST, format!("{}{path}", local.functions), Some(body)).await
}

async fn delete(local: &Local, path: &str, body: Option<Value>) -> (u16, Value) {
    call(reqwest::Method::DELETE, format!("{}{path}", local.functions), body).await
}

async fn snapshot(local: &Local) -> Value {
    let (status, body) = call(reqwest::Method::GET, format!("{}/api/snapshot", local.functions), None).await;
    assert_eq!(status, 200);
    body
}

fn suppression_ids(snapshot: &Value) -> Vec<String> {
    snapshot["suppressions"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect()
}

/// Publishes `target(batch)` to every dashboard through the service's REST API, as another
/// backend holding the connection string would.
async fn publish(local: &Local, target: &str, batch: Value) {
    let path = "/api/v1/hubs/telemetry";
    let claims = Claims {
        aud: format!("{}{path}", local.service),
        exp: jwt::unix_now() + 60,
        iat: None,
        user_id: None,
        nameid: None,
        name_identifier: None,
        sub: None,
    };
    let response = reqwest::Client::new()
        .post(format!("{}{path}", local.service))
        .bearer_auth(jwt::sign(&claims, KEY))
        .json(&json!({ "target": target, "arguments": [batch] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
}

/// An alert of `metric` of pump-07 at harbour, raised now.
fn alert(id: &str, metric: &str) -> Value {
    json!({
        "id": id, "ts": simulator::unix_millis(), "device": "pump-07", "site": "harbour", "severity": "critical",
        "metric": metric, "value": 12.5, "threshold": 10, "message": "pressure high"
    })
}

/// The alert log from `from`, once everything queued is written.
async fn log(local: &Local, query: &str) -> AlertLog {
    let state = local.state.clone();
    tokio::task::spawn_blocking(move || state.history.as_ref().unwrap().flush()).await.unwrap();
    let (status, body) =
        call(reqwest::Method::GET, format!("{}/api/history/alerts?{query}", local.functions), None).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body).unwrap()
}

fn shelve(minutes: f64, by: &str) -> Value {
    json!({ "kind": "shelved", "device": "press-01", "metric": "temperature", "minutes": minutes, "reason": "chattering", "by": by })
}

#[tokio::test]
async fn a_shelf_is_listed_broadcast_replaced_ended_and_expires_by_itself() {
    let local = start(&[]).await;
    let started = simulator::unix_millis();
    let mut dashboard = Dashboard::connect(&local).await;
    let second = Duration::from_secs(2);

    // Made: answered, broadcast to every dashboard, in the snapshot and the list.
    let (status, body) = post(&local, "/api/suppressions", shelve(15.0, " ann ")).await;
    assert_eq!(status, 200, "{body}");
    let first: Suppression = serde_json::from_value(body.clone()).unwrap();
    assert!(first.id.starts_with("sup-") && first.id.len() > 20, "a random id: {}", first.id);
    assert_eq!(
        (first.kind, first.device.as_str(), first.metric.as_deref()),
        (SuppressionKind::Shelved, "press-01", Some("temperature"))
    );
    assert_eq!((first.by.as_str(), first.reason.as_str()), ("ann", "chattering"), "trimmed");
    assert!((first.ts - simulator::unix_millis()).abs() < 2_000);
    assert_eq!(first.until - first.ts, 15 * 60_000);
    assert_eq!(dashboard.batch("suppressed", second).await, std::slice::from_ref(&body));
    let snap = snapshot(&local).await;
    assert_eq!(snap["suppressions"], json!([body]));
    assert_eq!(
        snap["alarmPolicy"],
        json!({ "reAlarmMinutes": null, "maxShelveMinutes": 480.0, "maxOutOfServiceMinutes": 1440.0 })
    );
    let (status, list) = call(reqwest::Method::GET, format!("{}/api/suppressions", local.functions), None).await;
    assert_eq!((status, list), (200, json!([body])));

    // The same point again: the first ends (replaced), then the second is made.
    let (status, body) = post(&local, "/api/suppressions", shelve(5.0, "bob")).await;
    assert_eq!(status, 200, "{body}");
    let second_shelf: Suppression = serde_json::from_value(body).unwrap();
    let ended: Vec<SuppressionEnded> =
        serde_json::from_value(Value::Array(dashboard.batch("suppressionEnded", second).await)).unwrap();
    assert_eq!(
        ended,
        [SuppressionEnded {
            id: first.id.clone(),
            by: "bob".into(),
            ts: second_shelf.ts,
            reason: SuppressionEndReason::Replaced
        }]
    );
    assert_eq!(dashboard.batch("suppressed", second).await[0]["id"], second_shelf.id.as_str());
    assert_eq!(suppression_ids(&snapshot(&local).await), std::slice::from_ref(&second_shelf.id));

    // Ended by someone: answered and broadcast; gone; again is a 404.
    let path = format!("/api/suppressions/{}", second_shelf.id);
    let (status, body) = delete(&local, &path, Some(json!({ "by": "carl" }))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["id"].as_str(), body["by"].as_str(), body["reason"].as_str()),
        (Some(&*second_shelf.id), Some("carl"), Some("ended"))
    );
    assert_eq!(dashboard.batch("suppressionEnded", second).await, [body]);
    assert!(suppression_ids(&snapshot(&local).await).is_empty());
    let (status, body) = delete(&local, &path, None).await;
    assert_eq!(status, 404, "{body}");
    assert!(body["error"].as_str().unwrap().contains("in force"), "{body}");

    // Two seconds: it ends by itself at its `until`, by nobody, and leaves the snapshot.
    let (status, body) = post(&local, "/api/suppressions", shelve(2.0 / 60.0, "ann")).await;
    assert_eq!(status, 200, "{body}");
    let short: Suppression = serde_json::from_value(body).unwrap();
    assert_eq!(short.until - short.ts, 2_000);
    assert_eq!(dashboard.batch("suppressed", second).await[0]["id"], short.id.as_str());
    assert_eq!(suppression_ids(&snapshot(&local).await), std::slice::from_ref(&short.id), "in force for now");
    let ended = dashboard.batch("suppressionEnded", Duration::from_secs(5)).await;
    assert!(simulator::unix_millis() >= short.until, "not before its time");
    let ended: Vec<SuppressionEnded> = serde_json::from_value(Value::Array(ended)).unwrap();
    assert_eq!(
        ended,
        [SuppressionEnded {
            id: short.id.clone(),
            by: String::new(),
            ts: short.until,
            reason: SuppressionEndReason::Expired
        }]
    );
    assert!(suppression_ids(&snapshot(&local).await).is_empty());

    // A DELETE without a body is fine too (nobody named).
    let (_, body) = post(&local, "/api/suppressions", shelve(1.0, "ann")).await;
    let (status, body) = delete(&local, &format!("/api/suppressions/{}", body["id"].as_str().unwrap()), None).await;
    assert_eq!((status, body["by"].as_str()), (200, Some("")));

    // The alert log has each start and end, in time order, with the suppression and why.
    let events = log(&local, &format!("from={started}")).await.events;
    let seen: Vec<(AlertChange, Option<SuppressionEndReason>)> = events.iter().map(|e| (e.change, e.reason)).collect();
    assert_eq!(
        seen,
        [
            (AlertChange::Shelved, None),
            (AlertChange::Unshelved, Some(SuppressionEndReason::Replaced)),
            (AlertChange::Shelved, None),
            (AlertChange::Unshelved, Some(SuppressionEndReason::Ended)),
            (AlertChange::Shelved, None),
            (AlertChange::Unshelved, Some(SuppressionEndReason::Expired)),
            (AlertChange::Shelved, None),
            (AlertChange::Unshelved, Some(SuppressionEndReason::Ended)),
        ]
    );
    assert_eq!(events[0].id, first.id);
    assert_eq!(events[0].suppression.as_ref(), Some(&first));
    assert_eq!(events[0].by.as_deref(), Some("ann"));
    assert_eq!((events[3].by.as_deref(), events[5].by.as_deref(), events[5].ts), (Some("carl"), None, short.until));
}

#[tokio::test]
async fn suppression_requests_are_checked_with_400s_that_say_why_and_bounded_in_number() {
    let local = start(&["--max-shelve-minutes", "60", "--max-out-of-service-minutes", "120"]).await;
    let policy = snapshot(&local).await["alarmPolicy"].clone();
    assert_eq!(policy, json!({ "reAlarmMinutes": null, "maxShelveMinutes": 60.0, "maxOutOfServiceMinutes": 120.0 }));
    let with = |change: Value| {
        let mut body = shelve(15.0, "ann");
        for (key, value) in change.as_object().unwrap() {
            match value {
                Value::Null => _ = body.as_object_mut().unwrap().remove(key),
                value => body[key] = value.clone(),
            }
        }
        body
    };
    let cases = [
        (with(json!({ "minutes": 61 })), "at most 60"),
        (with(json!({ "kind": "outOfService", "minutes": 121 })), "at most 120"),
        (with(json!({ "metric": null })), "needs a `metric`"),
        (with(json!({ "kind": "snooze" })), "unknown `kind` \"snooze\""),
        (with(json!({ "kind": null })), "`kind` is required"),
        (with(json!({ "minutes": 0 })), "above 0"),
        (with(json!({ "minutes": -5 })), "above 0"),
        (with(json!({ "minutes": "ten" })), "invalid suppression"),
        (with(json!({ "minutes": null })), "minutes"),
        (with(json!({ "device": "" })), "`device`"),
        (with(json!({ "device": "x".repeat(129) })), "`device`"),
        (with(json!({ "metric": "" })), "`metric`"),
        (with(json!({ "by": " " })), "`by`"),
        (with(json!({ "by": null })), "by"),
        (with(json!({ "reason": "x".repeat(201) })), "`reason`"),
    ];
    for (body, says) in cases {
        let (status, answer) = post(&local, "/api/suppressions", body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["status"], 400);
        assert!(answer["error"].as_str().unwrap().contains(says), "{body}: {answer}");
    }
    let response = reqwest::Client::new()
        .post(format!("{}/api/suppressions", local.functions))
        .header("content-type", "application/json")
        .body("{\"kind\":")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert!(response.json::<Value>().await.unwrap()["error"].as_str().unwrap().contains("invalid JSON"));
    assert!(suppression_ids(&snapshot(&local).await).is_empty(), "nothing made");

    // Ending: an unknown id is a 404, a bad body or `by` a 400.
    let (status, body) = delete(&local, "/api/suppressions/sup-nobody", Some(json!({ "by": "ann" }))).await;
    assert_eq!(status, 404, "{body}");
    assert!(body["error"].as_str().unwrap().contains("sup-nobody"), "{body}");
    let (_, made) = post(&local, "/api/suppressions", shelve(15.0, "ann")).await;
    let path = format!("/api/suppressions/{}", made["id"].as_str().unwrap());
    let (status, _) = delete(&local, &path, Some(json!({ "by": "x".repeat(65) }))).await;
    assert_eq!(status, 400);
    let (status, _) = delete(&local, &path, Some(json!({ "by": 5 }))).await;
    assert_eq!(status, 400);
    assert_eq!(delete(&local, &path, Some(json!({}))).await.0, 200, "still there, then ended");

    // At most 10,000 in force: the next is a 429; replacing one still works.
    {
        let mut world = local.state.world.lock().unwrap();
        for n in 0..telemetry::alarms::MAX_SUPPRESSIONS {
            let s = Suppression {
                id: format!("fill-{n}"),
                kind: SuppressionKind::Shelved,
                device: "press-01".into(),
                metric: Some(format!("m{n}")),
                by: "ann".into(),
                reason: String::new(),
                ts: simulator::unix_millis(),
                until: simulator::unix_millis() + 600_000,
            };
            world.suppressions.add(s).unwrap();
        }
    }
    let (status, body) = post(&local, "/api/suppressions", shelve(15.0, "ann")).await;
    assert_eq!(status, 429, "{body}");
    assert!(body["error"].as_str().unwrap().contains("10000"), "{body}");
    let (status, _) = post(&local, "/api/suppressions", with(json!({ "metric": "m7" }))).await;
    assert_eq!(status, 200, "a replacement does not add one");

    // A dashboard on another (loopback) origin may end one: DELETE passes the preflight.
    let preflight = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, format!("{}/api/suppressions/sup-x", local.functions))
        .header("origin", "http://127.0.0.1:8080")
        .header("access-control-request-method", "DELETE")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.headers()["access-control-allow-origin"], "http://127.0.0.1:8080");
    assert!(preflight.headers()["access-control-allow-methods"].to_str().unwrap().contains("DELETE"));

    // The flags themselves are checked.
    for flag in ["--re-alarm-minutes=0", "--max-shelve-minutes=-1", "--max-out-of-service-minutes=NaN"] {
        let config = Config::parse_from(["simulator", flag]);
        let error = simulator::settings_from(&config).unwrap_err();
        assert!(error.contains(flag.split('=').next().unwrap()), "{error}");
    }
}

#[tokio::test]
async fn a_device_out_of_service_is_listed_and_expires_and_hub_methods_do_the_same() {
    let local = start(&[]).await;
    let started = simulator::unix_millis();
    let mut dashboard = Dashboard::connect(&local).await;
    let request = json!({ "kind": "outOfService", "device": "rig-02", "minutes": 2.0 / 60.0, "reason": "maintenance", "by": "ann" });
    let (status, body) = post(&local, "/api/suppressions", request).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["kind"], "outOfService");
    assert!(body.get("metric").is_none(), "the whole device: {body}");
    let id = body["id"].as_str().unwrap().to_string();
    assert_eq!(dashboard.batch("suppressed", Duration::from_secs(2)).await, std::slice::from_ref(&body));
    assert_eq!(suppression_ids(&snapshot(&local).await), std::slice::from_ref(&id));
    let ended = dashboard.batch("suppressionEnded", Duration::from_secs(5)).await;
    assert_eq!((ended[0]["id"].as_str(), ended[0]["reason"].as_str()), (Some(&*id), Some("expired")));
    assert!(suppression_ids(&snapshot(&local).await).is_empty());

    // The dashboards' hub methods (a dashboard on a hub rather than the functions).
    let made = dashboard
        .invoke(
            "suppress",
            json!([{ "kind": "outOfService", "device": "rig-02", "metric": "rpm", "minutes": 30, "by": "bob" }]),
        )
        .await
        .unwrap();
    assert_eq!((made["metric"].as_str(), made["reason"].as_str()), (Some("rpm"), Some("")));
    let error = dashboard
        .invoke("suppress", json!([{ "kind": "shelved", "device": "rig-02", "minutes": 30, "by": "bob" }]))
        .await;
    assert!(error.unwrap_err().contains("metric"));
    let ended = dashboard.invoke("endSuppression", json!([made["id"], "bob"])).await.unwrap();
    assert_eq!((ended["by"].as_str(), ended["reason"].as_str()), (Some("bob"), Some("ended")));

    let events = log(&local, &format!("from={started}")).await.events;
    let changes: Vec<AlertChange> = events.iter().map(|e| e.change).collect();
    assert_eq!(
        changes,
        [
            AlertChange::OutOfService,
            AlertChange::ReturnedToService,
            AlertChange::OutOfService,
            AlertChange::ReturnedToService
        ]
    );
    assert_eq!(events[1].reason, Some(SuppressionEndReason::Expired));
    assert_eq!(events[0].suppression.as_ref().unwrap().reason, "maintenance");
}

#[tokio::test]
async fn an_acknowledged_alert_re_alarms_until_it_clears_and_its_timeline_says_so() {
    let local = start(&["--re-alarm-minutes", "0.05"]).await;
    let started = simulator::unix_millis();
    let mut dashboard = Dashboard::connect(&local).await;
    assert_eq!(snapshot(&local).await["alarmPolicy"]["reAlarmMinutes"], 0.05);
    // Shelved before the alert, and another point's shelf that is not part of its timeline.
    let (_, shelf) = post(
        &local,
        "/api/suppressions",
        json!({ "kind": "shelved", "device": "pump-07", "metric": "pressure", "minutes": 60, "by": "ann" }),
    )
    .await;
    let (_, other) = post(
        &local,
        "/api/suppressions",
        json!({ "kind": "shelved", "device": "pump-07", "metric": "flow", "minutes": 60, "by": "ann" }),
    )
    .await;
    publish(&local, "alerts", json!([alert("ra-1", "pressure"), alert("ra-2", "pressure")])).await;
    let (status, acks) = post(&local, "/api/alerts/ack", json!({ "by": "ann", "ids": ["ra-1", "ra-2"] })).await;
    assert_eq!(status, 200, "{acks}");
    let acked_at = acks[0]["ts"].as_i64().unwrap();
    // ra-2 returns to normal while acknowledged: it is over and never re-alarms.
    publish(&local, "alertCleared", json!([{ "id": "ra-2", "ts": simulator::unix_millis() }])).await;

    let again = dashboard.batch("alertReAlarmed", Duration::from_secs(6)).await;
    assert_eq!(again, [json!({ "id": "ra-1", "ts": acked_at + 3_000 })], "3 s after its acknowledgement");
    assert!(simulator::unix_millis() >= acked_at + 3_000);
    let open = snapshot(&local).await["alerts"].as_array().unwrap().clone();
    assert_eq!(open.len(), 1, "ra-2 is over: {open:?}");
    assert_eq!((open[0]["id"].as_str(), &open[0]["acknowledged"]), (Some("ra-1"), &Value::Null));

    // Acknowledged again: a new acknowledgement (not the first one), which re-alarms again.
    let (status, ack) = post(&local, "/api/alerts/ra-1/ack", json!({ "by": "bob" })).await;
    assert_eq!((status, ack["by"].as_str()), (200, Some("bob")), "{ack}");
    assert_eq!(snapshot(&local).await["alerts"][0]["acknowledged"]["by"], "bob");
    let later = dashboard.all("alertReAlarmed", Duration::from_millis(4_500)).await;
    assert_eq!(later, [json!({ "id": "ra-1", "ts": ack["ts"].as_i64().unwrap() + 3_000 })], "ra-2 never");
    publish(&local, "alertCleared", json!([{ "id": "ra-1", "ts": simulator::unix_millis() }])).await;

    // The log has the re-alarms among the rest.
    let events = log(&local, &format!("from={started}")).await.events;
    let re_alarms: Vec<&str> =
        events.iter().filter(|e| e.change == AlertChange::ReAlarmed).map(|e| e.id.as_str()).collect();
    assert_eq!(re_alarms, ["ra-1", "ra-1"]);

    // The timeline: raised (value and threshold), acknowledged, re-alarmed, …, cleared, and the
    // shelf of its point from before it was raised; not the other point's.
    let timeline = log(&local, "id=ra-1").await.events;
    let seen: Vec<(&str, AlertChange)> = timeline.iter().map(|e| (e.id.as_str(), e.change)).collect();
    let shelf_id = shelf["id"].as_str().unwrap();
    assert_eq!(
        seen,
        [
            (shelf_id, AlertChange::Shelved),
            ("ra-1", AlertChange::Raised),
            ("ra-1", AlertChange::Acknowledged),
            ("ra-1", AlertChange::ReAlarmed),
            ("ra-1", AlertChange::Acknowledged),
            ("ra-1", AlertChange::ReAlarmed),
            ("ra-1", AlertChange::Cleared),
        ]
    );
    assert!(!timeline.iter().any(|e| e.id == other["id"].as_str().unwrap()));
    let raised = timeline[1].alert.as_ref().unwrap();
    assert_eq!((raised.value, raised.threshold), (12.5, 10.0));
    assert_eq!((timeline[2].by.as_deref(), timeline[4].by.as_deref()), (Some("ann"), Some("bob")));
    assert!(timeline.windows(2).all(|w| w[0].ts <= w[1].ts), "oldest first");
    assert!(log(&local, "id=nobody").await.events.is_empty(), "an unknown alert has no events");
    let (status, _) = call(reqwest::Method::GET, format!("{}/api/history/alerts?id=", local.functions), None).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn suppressions_and_re_alarms_published_through_rest_are_adopted() {
    let local = start(&[]).await;
    let started = simulator::unix_millis();
    let mut dashboard = Dashboard::connect(&local).await;
    let now = simulator::unix_millis();
    let made = json!({
        "id": "ext-1", "kind": "shelved", "device": "pump-07", "metric": "pressure", "by": "scada",
        "reason": "", "ts": now, "until": now + 60_000
    });
    let stale = json!({ "id": "ext-0", "kind": "shelved", "device": "pump-07", "metric": "flow", "by": "scada", "ts": 1, "until": 2 });
    publish(&local, "suppressed", json!([made, stale])).await;
    assert_eq!(dashboard.batch("suppressed", Duration::from_secs(2)).await.len(), 2, "passed on as sent");
    assert_eq!(suppression_ids(&snapshot(&local).await), ["ext-1"], "the one in force is kept");
    publish(&local, "suppressionEnded", json!([{ "id": "ext-1", "by": "scada", "ts": now + 5, "reason": "ended" }]))
        .await;
    assert!(suppression_ids(&snapshot(&local).await).is_empty());

    publish(&local, "alerts", json!([alert("ext-a", "pressure")])).await;
    assert_eq!(post(&local, "/api/alerts/ext-a/ack", json!({ "by": "ann" })).await.0, 200);
    publish(&local, "alertReAlarmed", json!([{ "id": "ext-a", "ts": now + 10 }])).await;
    assert_eq!(snapshot(&local).await["alerts"][0]["acknowledged"], Value::Null);

    let changes: Vec<(String, AlertChange)> =
        log(&local, &format!("from={started}")).await.events.into_iter().map(|e| (e.id, e.change)).collect();
    let expected =
        [("ext-1", AlertChange::Shelved), ("ext-1", AlertChange::Unshelved), ("ext-a", AlertChange::ReAlarmed)];
    for (id, change) in expected {
        assert!(changes.iter().any(|(i, c)| i == id && *c == change), "{id} {change:?}: {changes:?}");
    }
}

//! The service held to Azure's contract: every operation of Azure SignalR Service's published
//! data-plane REST API v1 (azure-rest-api-specs,
//! `specification/signalr/data-plane/AzureSignalR/v1/azuresignalr.json`), its path, method and
//! listed status codes kept below as data, called against the simulator on loopback; then the
//! behaviour behind the operations that do more than answer: existence, closing a connection,
//! users in groups (now, later, until a ttl).

// Native only: std's clock works here (clippy.toml forbids it for code built for wasm32).
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use simulator::service::jwt::{self, Claims};
use tokio_tungstenite::tungstenite::Message;

const KEY: &str = "rest-spec-test-key";

/// One operation of the spec: what `operationId` says, its method, its path template and every
/// status code its `responses` list, the success first (as the spec orders them).
struct Operation {
    id: &'static str,
    method: &'static str,
    path: &'static str,
    statuses: &'static [u16],
}

const fn op(id: &'static str, method: &'static str, path: &'static str, statuses: &'static [u16]) -> Operation {
    Operation { id, method, path, statuses }
}

/// The spec's 19 operations, in its order.
const SPEC: [Operation; 19] = [
    op("HealthApiIndex_Head", "HEAD", "/api/v1/health", &[200]),
    op("Broadcast_Post", "POST", "/api/v1/hubs/{hub}", &[202, 400]),
    op("SendToUser_Post", "POST", "/api/v1/hubs/{hub}/users/{user}", &[202, 400]),
    op("CheckUserExistence_Get", "GET", "/api/v1/hubs/{hub}/users/{user}", &[200, 404, 400]),
    op("CheckUserExistence_Head", "HEAD", "/api/v1/hubs/{hub}/users/{user}", &[200, 404, 400]),
    op("SendToConnection_Post", "POST", "/api/v1/hubs/{hub}/connections/{connectionId}", &[202, 400]),
    op("CheckConnectionExistence_Get", "GET", "/api/v1/hubs/{hub}/connections/{connectionId}", &[200, 404, 400]),
    op("CheckConnectionExistence_Head", "HEAD", "/api/v1/hubs/{hub}/connections/{connectionId}", &[200, 404, 400]),
    op("CloseClientConnection_Delete", "DELETE", "/api/v1/hubs/{hub}/connections/{connectionId}", &[202, 400]),
    op("GroupBroadcast_Post", "POST", "/api/v1/hubs/{hub}/groups/{group}", &[202, 400]),
    op("CheckGroupExistence_Get", "GET", "/api/v1/hubs/{hub}/groups/{group}", &[200, 404, 400]),
    op("CheckGroupExistence_Head", "HEAD", "/api/v1/hubs/{hub}/groups/{group}", &[200, 404, 400]),
    op(
        "AddConnectionToGroup_Put",
        "PUT",
        "/api/v1/hubs/{hub}/groups/{group}/connections/{connectionId}",
        &[200, 404, 400],
    ),
    op(
        "RemoveConnectionFromGroup_Delete",
        "DELETE",
        "/api/v1/hubs/{hub}/groups/{group}/connections/{connectionId}",
        &[200, 404, 400],
    ),
    op("CheckUserExistenceInGroup_Get", "GET", "/api/v1/hubs/{hub}/groups/{group}/users/{user}", &[200, 404, 400]),
    op("CheckUserExistenceInGroup_Head", "HEAD", "/api/v1/hubs/{hub}/groups/{group}/users/{user}", &[200, 404, 400]),
    op("AddUserToGroup_Put", "PUT", "/api/v1/hubs/{hub}/groups/{group}/users/{user}", &[202, 400]),
    op("RemoveUserFromGroup_Delete", "DELETE", "/api/v1/hubs/{hub}/groups/{group}/users/{user}", &[202, 400]),
    op("RemoveUserFromAllGroups_Delete", "DELETE", "/api/v1/hubs/{hub}/users/{user}/groups", &[200, 202, 400]),
];

/// What a path's parameters name.
struct Targets<'a> {
    hub: &'a str,
    user: &'a str,
    connection: &'a str,
    group: &'a str,
}

impl Targets<'_> {
    fn fill(&self, template: &str) -> String {
        template
            .replace("{hub}", self.hub)
            .replace("{user}", self.user)
            .replace("{connectionId}", self.connection)
            .replace("{group}", self.group)
    }
}

type Running = simulator::Local;
type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn start() -> Running {
    simulator::serve_local(KEY, |settings| settings.token_lifetime = Duration::from_secs(60)).await.unwrap()
}

/// An answer: its status and its body.
struct Answer {
    status: u16,
    body: String,
}

/// Calls the service's REST API with a token for the URL signed with `key`, or none; POSTs
/// carry a message for target `note` with `note` as its argument.
async fn call_with(running: &Running, key: Option<&str>, method: &str, path: &str, note: &str) -> Answer {
    let url = format!("{}{path}", running.service);
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = reqwest::Client::new().request(method.clone(), &url);
    if let Some(key) = key {
        let connection_string = format!("Endpoint={};AccessKey={key};Version=1.0;", running.service);
        request = request.bearer_auth(simulator::rest_token(&connection_string, &url, 60).unwrap());
    }
    if method == reqwest::Method::POST {
        let body = serde_json::json!({ "target": "note", "arguments": [note] }).to_string();
        request = request.header("content-type", "application/json").body(body);
    }
    let response = request.send().await.unwrap();
    Answer { status: response.status().as_u16(), body: response.text().await.unwrap() }
}

async fn call(running: &Running, method: &str, path: &str) -> u16 {
    call_with(running, Some(KEY), method, path, "").await.status
}

/// Sends `note` to a group through the REST API.
async fn note_to_group(running: &Running, group: &str, note: &str) {
    let answer = call_with(running, Some(KEY), "POST", &format!("/api/v1/hubs/telemetry/groups/{group}"), note).await;
    assert_eq!(answer.status, 202, "{}", answer.body);
}

/// Asks until the answer is `status` or five seconds pass; whether it came.
async fn eventually(running: &Running, method: &str, path: &str, status: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if call(running, method, path).await == status {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// A client connected over WebSockets with the JSON protocol.
struct Client {
    socket: Socket,
    connection_id: String,
}

/// Claims of a client token for the dashboards' hub; `user` named the way .NET writes
/// `ClaimTypes.NameIdentifier` in full.
fn client_claims(running: &Running, user: Option<&str>) -> Claims {
    Claims {
        aud: running.state.client_url("telemetry"),
        exp: jwt::unix_now() + 60,
        iat: None,
        user_id: None,
        nameid: None,
        name_identifier: user.map(str::to_string),
        sub: None,
    }
}

/// Negotiates with `claims`, connects and completes the handshake.
async fn connect_with(running: &Running, claims: &Claims) -> Client {
    let token = jwt::sign(claims, KEY);
    let offer: Value = reqwest::Client::new()
        .post(format!("{}/client/negotiate?hub=telemetry&negotiateVersion=1", running.service))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = format!(
        "{}/client/?hub=telemetry&id={}&access_token={token}",
        running.service.replace("http://", "ws://"),
        offer["connectionToken"].as_str().unwrap()
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    socket.send(Message::text("{\"protocol\":\"json\",\"version\":1}\u{1e}")).await.unwrap();
    let answer = socket.next().await.unwrap().unwrap().into_text().unwrap();
    assert_eq!(answer.as_str(), "{}\u{1e}");
    Client { socket, connection_id: offer["connectionId"].as_str().unwrap().to_string() }
}

async fn connect_as(running: &Running, user: &str) -> Client {
    connect_with(running, &client_claims(running, Some(user))).await
}

/// What a client receives: its records (pings left out) until `stop` says so, the socket
/// closes or `within` passes; and whether the socket closed.
async fn receive(client: &mut Client, within: Duration, stop: impl Fn(&Value) -> bool) -> (Vec<Value>, bool) {
    let mut records = Vec::new();
    let mut closed = false;
    let _ = tokio::time::timeout(within, async {
        while let Some(message) = client.socket.next().await {
            match message {
                Ok(Message::Text(text)) => {
                    for record in text.split('\u{1e}').filter(|r| !r.is_empty()) {
                        let record: Value = serde_json::from_str(record).unwrap();
                        if record["type"] == 6 {
                            continue;
                        }
                        let done = stop(&record);
                        records.push(record);
                        if done {
                            return;
                        }
                    }
                }
                Ok(Message::Close(_)) | Err(_) => break,
                Ok(_) => {}
            }
        }
        closed = true;
    })
    .await;
    (records, closed)
}

fn is_note(record: &Value, note: &str) -> bool {
    record["type"] == 1 && record["target"] == "note" && record["arguments"][0] == note
}

/// Whether the client gets `note` (within two seconds).
async fn gets(client: &mut Client, note: &str) -> bool {
    let (records, _) = receive(client, Duration::from_secs(2), |r| is_note(r, note)).await;
    records.iter().any(|r| is_note(r, note))
}

/// Whether the client gets nothing of `note` for half a second.
async fn never_gets(client: &mut Client, note: &str) -> bool {
    let (records, _) = receive(client, Duration::from_millis(500), |r| is_note(r, note)).await;
    !records.iter().any(|r| is_note(r, note))
}

/// The status the spec's list says for an existing or a missing target: its success (listed
/// first), or 404 for a missing one where the spec lists 404.
fn expected(operation: &Operation, existing: bool) -> u16 {
    if !existing && operation.statuses.contains(&404) {
        404
    } else {
        operation.statuses[0]
    }
}

#[tokio::test]
async fn every_operation_of_the_v1_spec_answers_a_status_it_lists() {
    let running = start().await;
    let hub = running.state.hubs.get("telemetry");
    let client = connect_as(&running, "alice").await;
    let existing = Targets { hub: "telemetry", user: "alice", connection: &client.connection_id, group: "crew" };
    let missing = Targets { hub: "telemetry", user: "nobody", connection: "no-such-connection", group: "empty" };
    // Before each call the same world: alice's connection in `crew` by itself and alice in it as
    // a user; nobody in no group.
    let prepare = || {
        assert!(hub.add_to_group("crew", &client.connection_id));
        hub.add_user_to_group("crew", "alice", None).unwrap();
        hub.remove_user_from_all_groups("nobody");
    };

    // Missing targets first, then existing ones, closing alice's connection last.
    let mut calls: Vec<(&Operation, &Targets, bool)> = Vec::new();
    calls.extend(SPEC.iter().map(|operation| (operation, &missing, false)));
    calls.extend(SPEC.iter().filter(|o| o.id != "CloseClientConnection_Delete").map(|o| (o, &existing, true)));
    calls.extend(SPEC.iter().filter(|o| o.id == "CloseClientConnection_Delete").map(|o| (o, &existing, true)));
    for (operation, targets, is_existing) in calls {
        prepare();
        let path = targets.fill(operation.path);
        let answer = call_with(&running, Some(KEY), operation.method, &path, "spec").await;
        let what = if is_existing { "existing" } else { "missing" };
        assert!(
            operation.statuses.contains(&answer.status),
            "{} {} ({what}): {} is not one of {:?}: {}",
            operation.method,
            path,
            answer.status,
            operation.statuses,
            answer.body
        );
        assert_eq!(answer.status, expected(operation, is_existing), "{} {path} ({what})", operation.id);
    }

    // Every listed 400: a bad hub name, and a group name over 1024 characters.
    let long_group = "g".repeat(1025);
    for operation in SPEC.iter().filter(|o| o.statuses.contains(&400)) {
        let mut bad_targets = vec![Targets { hub: "1hub", ..missing }];
        if operation.path.contains("{group}") {
            bad_targets.push(Targets { group: &long_group, ..missing });
        }
        for targets in bad_targets {
            let path = targets.fill(operation.path);
            let answer = call_with(&running, Some(KEY), operation.method, &path, "spec").await;
            assert_eq!(answer.status, 400, "{} {}", operation.method, &path[..path.len().min(80)]);
            if operation.method != "HEAD" {
                assert!(!answer.body.is_empty(), "a 400 says why: {}", operation.id);
            }
        }
    }

    // The spec's security: a bearer token signed with the AccessKey (health aside).
    for operation in SPEC.iter().filter(|o| o.id != "HealthApiIndex_Head") {
        let path = missing.fill(operation.path);
        for key in [None, Some("not-the-access-key")] {
            let answer = call_with(&running, key, operation.method, &path, "spec").await;
            assert_eq!(answer.status, 401, "{} {path} with {key:?}", operation.method);
        }
    }
}

#[tokio::test]
async fn the_2022_06_01_existence_checks_answer_like_v1() {
    let running = start().await;
    let client = connect_as(&running, "alice").await;
    assert_eq!(
        call(&running, "PUT", &format!("/api/hubs/telemetry/groups/crew/connections/{}", client.connection_id)).await,
        200
    );
    for (path, status) in [
        ("/api/hubs/telemetry/users/alice".to_string(), 200),
        ("/api/hubs/telemetry/users/nobody".to_string(), 404),
        (format!("/api/hubs/telemetry/connections/{}", client.connection_id), 200),
        ("/api/hubs/telemetry/connections/nobody".to_string(), 404),
        ("/api/hubs/telemetry/groups/crew".to_string(), 200),
        ("/api/hubs/telemetry/groups/empty".to_string(), 404),
    ] {
        assert_eq!(call(&running, "HEAD", &path).await, status, "HEAD {path}");
    }
}

#[tokio::test]
async fn a_user_exists_while_a_connection_of_theirs_is_connected() {
    let running = start().await;
    let path = "/api/v1/hubs/telemetry/users/bob";
    assert_eq!(call(&running, "GET", path).await, 404);
    assert_eq!(call(&running, "HEAD", path).await, 404);

    let mut bob = connect_as(&running, "bob").await;
    assert_eq!(call(&running, "GET", path).await, 200);
    assert_eq!(call(&running, "HEAD", path).await, 200);
    // The short `nameid` claim names a user too.
    let dora = Claims { nameid: Some("dora".into()), name_identifier: None, ..client_claims(&running, None) };
    let _dora = connect_with(&running, &dora).await;
    assert_eq!(call(&running, "GET", "/api/v1/hubs/telemetry/users/dora").await, 200);

    bob.socket.close(None).await.unwrap();
    assert!(eventually(&running, "GET", path, 404).await, "bob is gone once his connection is");
    assert_eq!(call(&running, "GET", "/api/v1/hubs/telemetry/users/dora").await, 200, "dora is still here");
}

#[tokio::test]
async fn a_user_in_a_group_receives_its_broadcasts_on_every_connection_now_and_later() {
    let running = start().await;
    let mut first = connect_as(&running, "carol").await;
    let mut other = connect_as(&running, "eve").await;
    let member = "/api/v1/hubs/telemetry/groups/crew/users/carol";
    assert_eq!(call(&running, "GET", member).await, 404);
    assert_eq!(call(&running, "GET", "/api/v1/hubs/telemetry/groups/crew").await, 404);

    assert_eq!(call(&running, "PUT", member).await, 202);
    assert_eq!(call(&running, "GET", member).await, 200);
    assert_eq!(call(&running, "HEAD", member).await, 200);
    assert_eq!(call(&running, "GET", "/api/v1/hubs/telemetry/groups/crew").await, 200);
    note_to_group(&running, "crew", "one").await;
    assert!(gets(&mut first, "one").await);
    assert!(never_gets(&mut other, "one").await, "eve is not in the group");

    // A connection of carol's that comes after the PUT is in the group too.
    let mut second = connect_as(&running, "carol").await;
    note_to_group(&running, "crew", "two").await;
    assert!(gets(&mut first, "two").await);
    assert!(gets(&mut second, "two").await);

    // DELETE takes carol out, every connection of hers: the one that also joined the group
    // itself too (as the service does), while eve's own join stays.
    let own = format!("/api/v1/hubs/telemetry/groups/crew/connections/{}", first.connection_id);
    assert_eq!(call(&running, "PUT", &own).await, 200);
    let eves = format!("/api/v1/hubs/telemetry/groups/crew/connections/{}", other.connection_id);
    assert_eq!(call(&running, "PUT", &eves).await, 200);
    assert_eq!(call(&running, "DELETE", member).await, 202);
    assert_eq!(call(&running, "GET", member).await, 404);
    note_to_group(&running, "crew", "three").await;
    assert!(gets(&mut other, "three").await, "eve joined by herself");
    assert!(never_gets(&mut first, "three").await, "carol's own join went with her");
    assert!(never_gets(&mut second, "three").await, "only in the group through carol");
    assert_eq!(call(&running, "DELETE", &eves).await, 200);
    assert_eq!(call(&running, "GET", "/api/v1/hubs/telemetry/groups/crew").await, 404);

    // Out of every group at once.
    for group in ["crew", "watch"] {
        assert_eq!(call(&running, "PUT", &format!("/api/v1/hubs/telemetry/groups/{group}/users/carol")).await, 202);
    }
    assert_eq!(call(&running, "DELETE", "/api/v1/hubs/telemetry/users/carol/groups").await, 200);
    for group in ["crew", "watch"] {
        let path = format!("/api/v1/hubs/telemetry/groups/{group}/users/carol");
        assert_eq!(call(&running, "GET", &path).await, 404, "{path}");
    }
    note_to_group(&running, "watch", "four").await;
    assert!(never_gets(&mut second, "four").await);
}

#[tokio::test]
async fn a_user_leaves_the_group_when_the_ttl_passes() {
    let running = start().await;
    let mut finn = connect_as(&running, "finn").await;
    let member = "/api/v1/hubs/telemetry/groups/shift/users/finn";
    for bad in ["-1", "soon", "2147483648"] {
        assert_eq!(call(&running, "PUT", &format!("{member}?ttl={bad}")).await, 400, "ttl={bad}");
    }
    let added = Instant::now();
    // Three seconds: room for the calls below on a busy machine before it passes.
    assert_eq!(call(&running, "PUT", &format!("{member}?ttl=3")).await, 202);
    assert_eq!(call(&running, "GET", member).await, 200);
    note_to_group(&running, "shift", "early").await;
    assert!(gets(&mut finn, "early").await);

    assert!(eventually(&running, "GET", member, 404).await, "the ttl passes");
    assert!(added.elapsed() >= Duration::from_millis(2_900), "not before the ttl: {:?}", added.elapsed());
    note_to_group(&running, "shift", "late").await;
    assert!(never_gets(&mut finn, "late").await);
}

/// The 2022-06-01 reference documents what v1 leaves open: a ttl of 0 adds only the user's
/// connections there are now, and keeps no membership for later ones.
#[tokio::test]
async fn a_ttl_of_zero_adds_only_the_connections_there_are_now() {
    let running = start().await;
    let mut now = connect_as(&running, "gwen").await;
    let member = "/api/v1/hubs/telemetry/groups/shift/users/gwen";
    assert_eq!(call(&running, "PUT", &format!("{member}?ttl=0")).await, 202);
    assert_eq!(call(&running, "GET", member).await, 404, "no membership is kept");
    let mut later = connect_as(&running, "gwen").await;
    note_to_group(&running, "shift", "now").await;
    assert!(gets(&mut now, "now").await);
    assert!(never_gets(&mut later, "now").await);
    // And DELETE of the user takes those connections out again.
    assert_eq!(call(&running, "DELETE", member).await, 202);
    note_to_group(&running, "shift", "after").await;
    assert!(never_gets(&mut now, "after").await);
    assert_eq!(call(&running, "GET", "/api/v1/hubs/telemetry/groups/shift").await, 404);
}

#[tokio::test]
async fn closing_a_connection_sends_its_reason_in_a_close_without_reconnect() {
    let running = start().await;
    let mut client = connect_as(&running, "hana").await;
    let path = format!("/api/v1/hubs/telemetry/connections/{}", client.connection_id);
    assert_eq!(call(&running, "GET", &path).await, 200);
    assert_eq!(call(&running, "DELETE", &format!("{path}?reason=maintenance%20window")).await, 202);
    let (records, closed) = receive(&mut client, Duration::from_secs(3), |_| false).await;
    let close = records.iter().find(|r| r["type"] == 7).unwrap_or_else(|| panic!("a Close in {records:?}"));
    assert_eq!(close["error"], "maintenance window");
    assert_ne!(close["allowReconnect"], true, "{close}");
    assert!(closed, "the socket closes after the Close");
    assert!(eventually(&running, "GET", &path, 404).await, "the connection is gone");
    assert_eq!(call(&running, "DELETE", &path).await, 202, "closing it again is no error");

    // No reason: a plain Close.
    let mut plain = connect_as(&running, "hana").await;
    let path = format!("/api/v1/hubs/telemetry/connections/{}", plain.connection_id);
    assert_eq!(call(&running, "DELETE", &path).await, 202);
    let (records, _) = receive(&mut plain, Duration::from_secs(3), |r| r["type"] == 7).await;
    let close = records.iter().find(|r| r["type"] == 7).unwrap_or_else(|| panic!("a Close in {records:?}"));
    assert!(close.get("error").is_none() && close.get("allowReconnect").is_none(), "{close}");
}

#[tokio::test]
async fn a_send_to_an_unknown_connection_is_accepted() {
    let running = start().await;
    let v1 = call_with(&running, Some(KEY), "POST", "/api/v1/hubs/telemetry/connections/nobody", "x").await;
    assert_eq!(v1.status, 202, "{}", v1.body);
    let legacy = call_with(&running, Some(KEY), "POST", "/api/hubs/telemetry/connections/nobody/:send", "x").await;
    assert_eq!(legacy.status, 202, "{}", legacy.body);
}

//! Route tests: the routers called directly with `oneshot`, no sockets.

// Native only: std's clock works here (clippy.toml forbids it for code built for wasm32).
#![allow(clippy::disallowed_methods)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use simulator::service::jwt::{self, Claims};
use simulator::AppState;
use tower::ServiceExt;

const ENDPOINT: &str = "http://127.0.0.1:8888";
const KEY: &str = "route-test-key";

fn state() -> std::sync::Arc<AppState> {
    common::state(ENDPOINT, KEY)
}

fn token(key: &str, aud: &str, exp_in: i64) -> String {
    let claims = Claims {
        aud: aud.into(),
        exp: jwt::unix_now() + exp_in,
        iat: None,
        user_id: None,
        nameid: None,
        name_identifier: None,
        sub: None,
    };
    jwt::sign(&claims, key)
}

async fn call(app: axum::Router, request: Request<Body>) -> (StatusCode, serde_json::Value) {
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
}

fn post(uri: &str, bearer: Option<&str>, body: &str) -> Request<Body> {
    let mut builder = Request::post(uri).header("content-type", "application/json");
    if let Some(bearer) = bearer {
        builder = builder.header("authorization", format!("Bearer {bearer}"));
    }
    builder.body(Body::from(body.to_string())).unwrap()
}

#[tokio::test]
async fn negotiate_issues_a_short_lived_token_for_the_client_url() {
    let app = simulator::functions_app(state(), vec![]);
    let (status, body) = call(app, post("/api/negotiate", None, "")).await;
    assert_eq!(status, StatusCode::OK);
    let url = format!("{ENDPOINT}/client/?hub=telemetry");
    assert_eq!(body["url"], url);
    let claims = jwt::verify(body["accessToken"].as_str().unwrap(), KEY, jwt::unix_now(), &[&url]).unwrap();
    let lifetime = claims.exp - jwt::unix_now();
    assert!((110..=120).contains(&lifetime), "{lifetime}");
}

#[tokio::test]
async fn snapshot_and_subscriptions_answer_with_json_reasons() {
    let state = state();
    state.world.lock().unwrap().sites = vec!["harbour".into()];
    let app = simulator::functions_app(state, vec![]);
    let (status, body) = call(app.clone(), Request::get("/api/snapshot").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["sites"][0], "harbour");
    assert!(body["alerts"].as_array().unwrap().is_empty());

    let (status, body) =
        call(app.clone(), post("/api/subscriptions", None, r#"{"connectionId":"x","groups":["site:harbour"]}"#)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].as_str().unwrap().contains("no live connection"));
    let (status, _) = call(app.clone(), post("/api/subscriptions", None, r#"{"connectionId":"x","groups":[]}"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = call(app.clone(), post("/api/subscriptions", None, "[1,2")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("invalid JSON"));
    let (status, _) = call(app.clone(), post("/api/alerts/none/ack", None, r#"{"by":"ann"}"#)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(app, post("/api/alerts/none/ack", None, r#"{"by":""}"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_catalog_route_answers_the_worlds_catalog_with_cors() {
    let state = state();
    state.world.lock().unwrap().catalog =
        simulator::devices::catalog::with_devices(std::iter::empty(), &["dock".into()]);
    let expected = serde_json::to_value(&state.world.lock().unwrap().catalog).unwrap();
    let app = simulator::functions_app(state, vec!["https://dashboard.example.com".into()]);
    let request = |origin: &str| Request::get("/api/catalog").header("origin", origin).body(Body::empty()).unwrap();
    let response = app.clone().oneshot(request("https://dashboard.example.com")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers["access-control-allow-origin"], "https://dashboard.example.com");
    assert_eq!(headers["access-control-allow-credentials"], "true");
    assert!(headers["content-type"].to_str().unwrap().starts_with("application/json"));
    let body: serde_json::Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body, expected);
    assert!(body["kinds"].as_array().unwrap().iter().any(|k| k["id"] == "process"), "{body}");
    assert_eq!(body["sites"][0]["id"], "dock");
    // Another origin is not let in.
    let response = app.oneshot(request("https://elsewhere.example.com")).await.unwrap();
    assert!(!response.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn the_rest_api_checks_every_token_property() {
    let app = simulator::service_app(state(), vec![]);
    let path = "/api/v1/hubs/telemetry";
    let url = format!("{ENDPOINT}{path}");
    let body = r#"{"target":"alerts","arguments":[[]]}"#;
    let cases = [
        (None, StatusCode::UNAUTHORIZED, "missing"),
        (Some(token("other-key", &url, 60)), StatusCode::UNAUTHORIZED, "signature"),
        (Some(token(KEY, &url, -5)), StatusCode::UNAUTHORIZED, "expired"),
        (Some(token(KEY, &format!("{ENDPOINT}/api/v1/hubs/other"), 60)), StatusCode::UNAUTHORIZED, "audience"),
        (Some(token(KEY, &url, 60)), StatusCode::ACCEPTED, ""),
    ];
    for (bearer, expected, reason) in cases {
        let (status, answer) = call(app.clone(), post(path, bearer.as_deref(), body)).await;
        assert_eq!(status, expected, "{reason}");
        if !reason.is_empty() {
            assert!(answer["error"].as_str().unwrap().contains(reason), "{answer}");
        }
    }
    // The audience may carry the query or not.
    let with_query = format!("{path}?excluded=abc");
    let (status, _) =
        call(app.clone(), post(&with_query, Some(&token(KEY, &format!("{ENDPOINT}{with_query}"), 60)), body)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    // Bad bodies and unknown connections say what is wrong.
    let (status, answer) = call(app.clone(), post(path, Some(&token(KEY, &url, 60)), r#"{"arguments":[]}"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(answer["error"].as_str().unwrap().contains("target"));
    let member = "/api/v1/hubs/telemetry/groups/site:harbour/connections/nobody";
    let request = Request::put(member)
        .header("authorization", format!("Bearer {}", token(KEY, &format!("{ENDPOINT}{member}"), 60)))
        .body(Body::empty())
        .unwrap();
    let (status, answer) = call(app.clone(), request).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(answer["error"].as_str().unwrap().contains("nobody"));
    // The 2022-06-01 path works too.
    let send = "/api/hubs/telemetry/:send";
    let (status, _) = call(app, post(send, Some(&token(KEY, &format!("{ENDPOINT}{send}"), 60)), body)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn alerts_published_through_rest_are_in_the_snapshot_and_can_be_acknowledged_in_batches() {
    let state = state();
    let service = simulator::service_app(state.clone(), vec![]);
    let functions = simulator::functions_app(state, vec![]);
    let path = "/api/v1/hubs/telemetry";
    let bearer = token(KEY, &format!("{ENDPOINT}{path}"), 60);
    let alert = |id: &str| {
        format!(
            r#"{{"id":"{id}","ts":1,"device":"press-01","site":"harbour","severity":"critical","metric":"temperature","value":130,"threshold":120,"message":"hot"}}"#
        )
    };
    let body = format!(r#"{{"target":"alerts","arguments":[[{},{}]]}}"#, alert("rest-1"), alert("rest-2"));
    let (status, _) = call(service.clone(), post(path, Some(&bearer), &body)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    // Not a batch of alerts: passed on, not recorded, not an error.
    let (status, _) =
        call(service.clone(), post(path, Some(&bearer), r#"{"target":"alerts","arguments":["x"]}"#)).await;
    assert_eq!(status, StatusCode::ACCEPTED);

    let snapshot = |app: axum::Router| async move {
        let (_, body) = call(app, Request::get("/api/snapshot").body(Body::empty()).unwrap()).await;
        body["alerts"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    let ids = snapshot(functions.clone()).await;
    assert!(ids.contains(&"rest-1".to_string()) && ids.contains(&"rest-2".to_string()), "{ids:?}");

    let (status, body) = call(functions.clone(), post("/api/alerts/rest-1/ack", None, r#"{"by":"ann"}"#)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["by"], "ann");
    let (status, body) =
        call(functions.clone(), post("/api/alerts/ack", None, r#"{"by":"bob","ids":["rest-1","rest-2","nobody"]}"#))
            .await;
    assert_eq!(status, StatusCode::OK);
    let acks = body.as_array().unwrap();
    assert_eq!(acks.len(), 2, "the unknown id is left out: {body}");
    assert_eq!(acks[0]["by"], "ann", "the first acknowledgement stays");
    assert_eq!(acks[1]["by"], "bob");
    let too_many = format!(r#"{{"by":"bob","ids":{}}}"#, serde_json::to_string(&vec!["x"; 1001]).unwrap());
    let (status, _) = call(functions.clone(), post("/api/alerts/ack", None, &too_many)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(functions.clone(), post("/api/alerts/ack", None, r#"{"by":" ","ids":["rest-1"]}"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Cleared by its publisher: gone from the snapshot.
    let cleared = r#"{"target":"alertCleared","arguments":[[{"id":"rest-2","ts":2}]]}"#;
    let (status, _) = call(service, post(path, Some(&bearer), cleared)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let ids = snapshot(functions).await;
    assert!(ids.contains(&"rest-1".to_string()) && !ids.contains(&"rest-2".to_string()), "{ids:?}");
}

#[tokio::test]
async fn an_alert_returned_to_normal_unacknowledged_can_be_acknowledged_and_then_it_is_over() {
    let state = state();
    let service = simulator::service_app(state.clone(), vec![]);
    let functions = simulator::functions_app(state, vec![]);
    let path = "/api/v1/hubs/telemetry";
    let bearer = token(KEY, &format!("{ENDPOINT}{path}"), 60);
    let raised = r#"{"target":"alerts","arguments":[[{"id":"rtn-1","ts":1,"device":"press-01","site":"harbour","severity":"critical","metric":"temperature","value":130,"threshold":120,"message":"hot"}]]}"#;
    let cleared = r#"{"target":"alertCleared","arguments":[[{"id":"rtn-1","ts":2}]]}"#;
    for body in [raised, cleared] {
        assert_eq!(call(service.clone(), post(path, Some(&bearer), body)).await.0, StatusCode::ACCEPTED);
    }
    let alerts = |app: axum::Router| async move {
        let (_, body) = call(app, Request::get("/api/snapshot").body(Body::empty()).unwrap()).await;
        body["alerts"].as_array().unwrap().clone()
    };
    let open = alerts(functions.clone()).await;
    assert_eq!(open.len(), 1, "still to be acknowledged: {open:?}");
    assert_eq!((open[0]["id"].as_str(), open[0]["cleared"].as_i64()), (Some("rtn-1"), Some(2)));

    let (status, body) =
        call(functions.clone(), post("/api/alerts/ack", None, r#"{"by":"ann","ids":["rtn-1"]}"#)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body[0]["by"], "ann", "{body}");
    assert!(alerts(functions.clone()).await.is_empty(), "acknowledged: over");
    // Again: answered with what it is, not an empty list.
    let (status, body) = call(functions.clone(), post("/api/alerts/rtn-1/ack", None, r#"{"by":"bob"}"#)).await;
    assert_eq!((status, body["by"].as_str()), (StatusCode::OK, Some("ann")));
    // Nothing known among the ids: 404 saying so.
    let (status, body) = call(functions, post("/api/alerts/ack", None, r#"{"by":"bob","ids":["nobody"]}"#)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.to_string().contains("nobody"), "{body}");
}

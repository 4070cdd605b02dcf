//! The simulator's parsers over arbitrary and mutated input: token checks, connection strings,
//! and the HTTP bodies of the functions and REST APIs. Nothing panics, a changed token is never
//! accepted, and a bad body is a 4xx, never a 5xx.
//!
//! `PROPTEST_CASES=100000 cargo test -p simulator --test properties` runs longer (RELIABILITY.md).

// Native only: std's clock works here (clippy.toml forbids it for code built for wasm32).
#![allow(clippy::disallowed_methods)]

mod common;

use axum::body::Body;
use axum::http::Request;
use proptest::prelude::*;
use simulator::service::connection_string::ConnectionString;
use simulator::service::jwt::{self, Claims};
use simulator::AppState;
use tower::ServiceExt;

const ENDPOINT: &str = "http://127.0.0.1:8888";
const KEY: &str = "property-test-key";
const AUDIENCE: &str = "http://127.0.0.1:8888/client/?hub=telemetry";

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
}

fn valid_token() -> String {
    let claims = Claims {
        aud: AUDIENCE.into(),
        exp: 4_000_000_000,
        iat: None,
        user_id: None,
        nameid: None,
        name_identifier: None,
        sub: None,
    };
    jwt::sign(&claims, KEY)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn state() -> std::sync::Arc<AppState> {
    common::state(ENDPOINT, KEY)
}

/// The status of `method uri` with `body` (and a valid REST token when `bearer`).
async fn status(app: axum::Router, method: &str, uri: &str, body: Vec<u8>, bearer: Option<String>) -> u16 {
    let mut request = Request::builder().method(method).uri(uri).header("content-type", "application/json");
    if let Some(token) = bearer {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    app.oneshot(request.body(Body::from(body)).unwrap()).await.unwrap().status().as_u16()
}

fn rest_token(hub_url: &str) -> String {
    let claims = Claims {
        aud: hub_url.into(),
        exp: 4_000_000_000,
        iat: None,
        user_id: None,
        nameid: None,
        name_identifier: None,
        sub: None,
    };
    jwt::sign(&claims, KEY)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn token_checks_never_panic_on_any_text(token in ".{0,300}") {
        prop_assert!(jwt::verify(&token, KEY, 1_000, &[AUDIENCE]).is_err());
    }

    #[test]
    fn a_token_changed_anywhere_is_refused(at in any::<prop::sample::Index>(), with in any::<u8>()) {
        let token = valid_token().into_bytes();
        let i = at.index(token.len());
        prop_assume!(token[i] != with);
        let mut changed = token.clone();
        changed[i] = with;
        let text = String::from_utf8_lossy(&changed);
        prop_assert!(jwt::verify(&text, KEY, 1_000, &[AUDIENCE]).is_err(), "accepted {text}");
    }

    #[test]
    fn connection_strings_never_panic(text in ".{0,200}") {
        let _ = text.parse::<ConnectionString>();
    }

    #[test]
    fn functions_api_bodies_are_refused_with_4xx(
        body in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..400),
            ".{0,200}".prop_map(String::into_bytes),
            Just(br#"{"by":"x","ids":["a"#.to_vec()),
            Just(br#"{"connectionId":null,"groups":[{}]}"#.to_vec()),
        ],
        route in 0usize..4,
    ) {
        let (method, uri) = [
            ("POST", "/api/alerts/ack"),
            ("POST", "/api/alerts/some-id/ack"),
            ("POST", "/api/subscriptions"),
            ("DELETE", "/api/subscriptions"),
        ][route];
        let code = runtime().block_on(status(simulator::functions_app(state(), vec![]), method, uri, body, None));
        prop_assert!((400..500).contains(&code), "{method} {uri} answered {code}");
    }

    #[test]
    fn rest_api_bodies_never_cause_a_server_error(
        body in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..400),
            ".{0,200}".prop_map(String::into_bytes),
            Just(br#"{"target":"positions","arguments":"#.to_vec()),
            Just(br#"{"target":"","arguments":[]}"#.to_vec()),
        ],
        route in 0usize..3,
    ) {
        let uri = [
            "/api/v1/hubs/telemetry",
            "/api/v1/hubs/telemetry/groups/site:airport",
            "/api/v1/hubs/telemetry/users/someone",
        ][route];
        let token = rest_token(&format!("{ENDPOINT}{uri}"));
        let code = runtime().block_on(status(simulator::service_app(state(), vec![]), "POST", uri, body, Some(token)));
        prop_assert!(code < 500, "POST {uri} answered {code}");
    }
}

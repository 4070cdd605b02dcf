//! The service's data-plane REST API (Azure SignalR Service v1, plus the 2022-06-01 paths):
//! anyone holding the connection string can publish to dashboards and manage groups.
//!
//! ```sh
//! curl -X POST http://127.0.0.1:8888/api/v1/hubs/telemetry \
//!   -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
//!   -d '{"target":"alerts","arguments":[[{...}]]}'
//! ```
//! The token is an HS256 JWT signed with the AccessKey whose `aud` is the request URL.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::routing::{post, put};
use axum::Router;
use serde::Deserialize;

use super::hub::{valid_hub_name, Broadcast, Hub};
use super::jwt;
use crate::error::ApiError;
use crate::AppState;

/// Largest request body accepted (the service's limit).
pub const MAX_BODY: usize = 1 << 20;

pub fn routes() -> Router<Arc<AppState>> {
    // v1 paths, then the 2022-06-01 ones (`:send`); written out in full because nesting
    // `/api` and `/api/v1` would shadow one another. The `:send` segments are literal.
    Router::new()
        .without_v07_checks()
        .route("/api/v1/hubs/{hub}", post(broadcast))
        .route("/api/v1/hubs/{hub}/groups/{group}", post(to_group))
        .route("/api/v1/hubs/{hub}/users/{user}", post(to_user))
        .route("/api/v1/hubs/{hub}/connections/{connection}", post(to_connection))
        .route(
            "/api/v1/hubs/{hub}/groups/{group}/connections/{connection}",
            put(add_to_group).delete(remove_from_group),
        )
        .route("/api/v1/health", axum::routing::get(|| async { StatusCode::OK }))
        .route("/api/hubs/{hub}/:send", post(broadcast))
        .route("/api/hubs/{hub}/groups/{group}/:send", post(to_group))
        .route("/api/hubs/{hub}/users/{user}/:send", post(to_user))
        .route("/api/hubs/{hub}/connections/{connection}/:send", post(to_connection))
        .route("/api/hubs/{hub}/groups/{group}/connections/{connection}", put(add_to_group).delete(remove_from_group))
        .route("/api/health", axum::routing::get(|| async { StatusCode::OK }))
}

/// Checks the bearer token: signed with the AccessKey, not expired, and for this URL (the
/// audience may include the query or not, as the SDKs and the docs differ).
fn authorize(state: &AppState, headers: &HeaderMap, uri: &Uri) -> Result<(), ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <token signed with the AccessKey>"))?;
    let endpoint = &state.settings.connection.endpoint;
    let without_query = format!("{endpoint}{}", uri.path());
    let with_query = match uri.query() {
        Some(query) => format!("{without_query}?{query}"),
        None => without_query.clone(),
    };
    jwt::verify(token, &state.settings.connection.access_key, jwt::unix_now(), &[&without_query, &with_query])
        .map(|_| ())
        .map_err(|e| ApiError::unauthorized(e.to_string()))
}

fn hub(state: &AppState, name: &str) -> Result<Arc<Hub>, ApiError> {
    if !valid_hub_name(name) {
        return Err(ApiError::bad_request(format!("invalid hub name {name:?}")));
    }
    Ok(state.hubs.get(name))
}

fn check_group(group: &str) -> Result<(), ApiError> {
    if group.is_empty() || group.len() > 1024 {
        return Err(ApiError::bad_request("group names are 1 to 1024 characters"));
    }
    Ok(())
}

#[derive(Deserialize)]
struct Payload {
    #[serde(alias = "Target")]
    target: Option<String>,
    #[serde(alias = "Arguments", default)]
    arguments: Option<Vec<serde_json::Value>>,
}

/// The invocation a send request carries. Alerts (and their clearing) sent to the dashboards'
/// hub are also recorded on the functions side, as the function that publishes them would
/// store them: they then appear in the snapshot and can be acknowledged.
fn message(state: &AppState, hub: &str, body: &Bytes) -> Result<Arc<Broadcast>, ApiError> {
    if body.len() > MAX_BODY {
        return Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("the body exceeds {MAX_BODY} bytes")));
    }
    let payload: Payload = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!("the body must be JSON {{\"target\": ..., \"arguments\": [...]}}: {e}"))
    })?;
    let target =
        payload.target.filter(|t| !t.is_empty()).ok_or_else(|| ApiError::bad_request("`target` is required"))?;
    let arguments = payload.arguments.unwrap_or_default();
    if hub.eq_ignore_ascii_case(telemetry::HUB) {
        record(state, &target, arguments.first());
    }
    Ok(Broadcast::invocation(target, arguments))
}

/// Keeps published alerts and clearings (a first argument that is not a batch of them is only
/// passed on).
fn record(state: &AppState, target: &str, batch: Option<&serde_json::Value>) {
    let Some(batch) = batch else { return };
    let mut world = state.world.lock().expect("world lock");
    if target == telemetry::targets::ALERTS {
        if let Ok(alerts) = serde_json::from_value::<Vec<telemetry::Alert>>(batch.clone()) {
            world.alerts.record_published(alerts);
        }
    } else if target == telemetry::targets::ALERT_CLEARED {
        if let Ok(cleared) = serde_json::from_value::<Vec<telemetry::AlertCleared>>(batch.clone()) {
            world.alerts.record_published_cleared(&cleared);
        }
    }
}

/// `excluded` connection ids from the query (`?excluded=a&excluded=b` or `?excluded=a,b`).
fn excluded(uri: &Uri) -> Vec<String> {
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.strip_prefix("excluded="))
        .flat_map(|value| value.split(','))
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

/// Who a send goes to.
enum Audience {
    All,
    Group(String),
    User(String),
    Connection(String),
}

/// Every send: checks the token, the hub and the body, then hands the message to the hub.
fn send(
    state: &AppState,
    hub_name: &str,
    audience: Audience,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<StatusCode, ApiError> {
    authorize(state, headers, uri)?;
    if let Audience::Group(group) = &audience {
        check_group(group)?;
    }
    let hub = hub(state, hub_name)?;
    let message = message(state, hub_name, body)?;
    match audience {
        // How many received it is not the caller's business (the service answers 202 either way).
        Audience::All => _ = hub.broadcast_excluding(message, &excluded(uri)),
        Audience::Group(group) => _ = hub.send_to_group(&group, &message, &excluded(uri)),
        Audience::User(user) => _ = hub.send_to_user(&user, &message),
        Audience::Connection(connection) => {
            if !hub.send_to_connection(&connection, &message) {
                return Err(ApiError::not_found(format!("no connection {connection:?} in hub {hub_name:?}")));
            }
        }
    }
    Ok(StatusCode::ACCEPTED)
}

async fn broadcast(
    State(state): State<Arc<AppState>>,
    Path(hub_name): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    send(&state, &hub_name, Audience::All, &uri, &headers, &body)
}

async fn to_group(
    State(state): State<Arc<AppState>>,
    Path((hub_name, group)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    send(&state, &hub_name, Audience::Group(group), &uri, &headers, &body)
}

async fn to_user(
    State(state): State<Arc<AppState>>,
    Path((hub_name, user)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    send(&state, &hub_name, Audience::User(user), &uri, &headers, &body)
}

async fn to_connection(
    State(state): State<Arc<AppState>>,
    Path((hub_name, connection)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    send(&state, &hub_name, Audience::Connection(connection), &uri, &headers, &body)
}

async fn add_to_group(
    State(state): State<Arc<AppState>>,
    Path((hub_name, group, connection)): Path<(String, String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    membership(&state, Method::PUT, &hub_name, &group, &connection, &uri, &headers)
}

async fn remove_from_group(
    State(state): State<Arc<AppState>>,
    Path((hub_name, group, connection)): Path<(String, String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    membership(&state, Method::DELETE, &hub_name, &group, &connection, &uri, &headers)
}

fn membership(
    state: &AppState,
    method: Method,
    hub_name: &str,
    group: &str,
    connection: &str,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<StatusCode, ApiError> {
    authorize(state, headers, uri)?;
    check_group(group)?;
    let hub = hub(state, hub_name)?;
    if method == Method::PUT {
        if !hub.add_to_group(group, connection) {
            return Err(ApiError::not_found(format!("no connection {connection:?} in hub {hub_name:?}")));
        }
    } else {
        hub.remove_from_group(group, connection);
    }
    // Membership changes answer 200 like the service (sends answer 202).
    Ok(StatusCode::OK)
}

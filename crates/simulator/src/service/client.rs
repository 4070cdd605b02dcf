//! The client side of the embedded service: negotiate at `/client/negotiate` and the three
//! transports' connect requests under `/client/?hub=...` (and `/hubs/{hub}` for `--plain-hub`);
//! each accepted connection gets its own task ([`super::connection`]).

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use signalr::TransportKind;
use tokio::sync::mpsc;

use super::hub::{valid_hub_name, Hub, LiveConnection, Pending};
use super::jwt::{self, Claims};
use super::{connection, transports, Timing, OUTBOUND_CAPACITY};
use crate::error::ApiError;
use crate::AppState;

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/client/negotiate", post(negotiate))
        .route("/client/", get(connect).post(transports::send).delete(transports::delete))
        .route("/client", get(connect).post(transports::send).delete(transports::delete))
        .route("/hubs/{hub}/negotiate", post(plain_negotiate))
        .route("/hubs/{hub}", get(plain_connect).post(plain_send).delete(plain_delete))
}

/// How a request may reach a hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// A client token from negotiate (Azure SignalR Service).
    Token,
    /// Anyone (a plain hub without authorization), when `--plain-hub` is on.
    Open,
}

/// The query of a `/hubs/{hub}` request with the hub from the path; 404 unless `--plain-hub`.
fn plain_params(state: &AppState, hub: String, mut params: HashMap<String, String>) -> Result<Params, ApiError> {
    if !state.settings.transports.plain_hub {
        return Err(ApiError::not_found("no plain hub here: start the simulator with --plain-hub"));
    }
    // Only the dashboards' hub: no token is asked, so no one may create hubs at will.
    if !hub.eq_ignore_ascii_case(telemetry::HUB) {
        return Err(ApiError::not_found(format!("no hub {hub:?} here; the plain hub is /hubs/{}", telemetry::HUB)));
    }
    params.insert("hub".into(), hub);
    Ok(Query(params))
}

async fn plain_negotiate(
    State(state): State<Arc<AppState>>,
    Path(hub): Path<String>,
    Query(params): Params,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let params = plain_params(&state, hub, params)?;
    negotiate_with(state, params, headers, Access::Open).await
}

async fn plain_connect(
    State(state): State<Arc<AppState>>,
    Path(hub): Path<String>,
    Query(params): Params,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let params = plain_params(&state, hub, params)?;
    connect_with(state, params, headers, upgrade, Access::Open).await
}

async fn plain_send(
    State(state): State<Arc<AppState>>,
    Path(hub): Path<String>,
    Query(params): Params,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    let params = plain_params(&state, hub, params)?;
    transports::send_with(state, params, headers, body, Access::Open).await
}

async fn plain_delete(
    State(state): State<Arc<AppState>>,
    Path(hub): Path<String>,
    Query(params): Params,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let params = plain_params(&state, hub, params)?;
    transports::delete_with(state, params, headers, Access::Open).await
}

pub(super) type Params = Query<HashMap<String, String>>;

fn hub_param(params: &HashMap<String, String>) -> Result<&str, ApiError> {
    let hub = params.get("hub").ok_or_else(|| ApiError::bad_request("the hub query parameter is required"))?;
    if !valid_hub_name(hub) {
        return Err(ApiError::bad_request(format!("invalid hub name {hub:?}")));
    }
    Ok(hub)
}

/// The client token from `Authorization: Bearer` or, for browsers, `access_token` in the query.
fn client_claims(
    state: &AppState,
    hub: &str,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Result<Claims, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .or_else(|| params.get("access_token").map(String::as_str))
        .ok_or_else(|| ApiError::unauthorized(jwt::TokenError::Missing.to_string()))?;
    let audience = state.client_url(hub);
    jwt::verify(token, &state.settings.connection.access_key, jwt::unix_now(), &[&audience])
        .map_err(|e| ApiError::unauthorized(e.to_string()))
}

/// A checked transport request: its hub, connection token and client claims.
pub(super) struct ConnectionRequest {
    pub(super) hub: Arc<Hub>,
    pub(super) token: Option<String>,
    claims: Claims,
}

pub(super) fn connection_request(
    state: &AppState,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
    access: Access,
) -> Result<ConnectionRequest, ApiError> {
    let hub_name = hub_param(params)?;
    let claims = claims_for(state, hub_name, headers, params, access)?;
    Ok(ConnectionRequest { hub: state.hubs.get(hub_name), token: params.get("id").cloned(), claims })
}

/// The caller's claims: from its token, or none needed on an open hub.
fn claims_for(
    state: &AppState,
    hub: &str,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
    access: Access,
) -> Result<Claims, ApiError> {
    match access {
        Access::Token => client_claims(state, hub, headers, params),
        Access::Open => Ok(Claims {
            aud: String::new(),
            exp: i64::MAX,
            iat: None,
            user_id: None,
            nameid: None,
            name_identifier: None,
            sub: None,
        }),
    }
}

async fn negotiate(
    State(state): State<Arc<AppState>>,
    params: Params,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    negotiate_with(state, params, headers, Access::Token).await
}

async fn negotiate_with(
    state: Arc<AppState>,
    Query(params): Params,
    headers: HeaderMap,
    access: Access,
) -> Result<Json<serde_json::Value>, ApiError> {
    let hub_name = hub_param(&params)?;
    claims_for(&state, hub_name, &headers, &params, access)?;
    let version: u32 = params.get("negotiateVersion").and_then(|v| v.parse().ok()).unwrap_or(0);
    let wants_stateful = params.get("useStatefulReconnect").is_some_and(|v| v == "true");
    let stateful = wants_stateful && state.settings.transports.stateful_reconnect;
    let (connection_id, connection_token) = state.hubs.get(hub_name).negotiate(version >= 1, stateful);
    let transports = json!([
        { "transport": "WebSockets", "transferFormats": ["Text", "Binary"] },
        { "transport": "ServerSentEvents", "transferFormats": ["Text"] },
        { "transport": "LongPolling", "transferFormats": ["Text", "Binary"] },
    ]);
    let mut answer = if version >= 1 {
        json!({
            "negotiateVersion": 1,
            "connectionId": connection_id,
            "connectionToken": connection_token,
            "availableTransports": transports,
        })
    } else {
        json!({ "negotiateVersion": 0, "connectionId": connection_id, "availableTransports": transports })
    };
    if stateful {
        answer["useStatefulReconnect"] = json!(true);
    }
    Ok(Json(answer))
}

fn refused(state: &AppState, transport: TransportKind) -> Result<(), ApiError> {
    if state.settings.faults.refused_transports.contains(&transport) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("the {} transport is refused by this simulator (--refuse-transport)", transport.as_str()),
        ));
    }
    Ok(())
}

/// `GET /client/`: a WebSocket upgrade, an SSE stream, or a long poll.
async fn connect(
    State(state): State<Arc<AppState>>,
    params: Params,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    connect_with(state, params, headers, upgrade, Access::Token).await
}

async fn connect_with(
    state: Arc<AppState>,
    Query(params): Params,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    access: Access,
) -> Result<Response, ApiError> {
    let ConnectionRequest { hub, token, claims } = connection_request(&state, &headers, &params, access)?;
    let timing = state.settings.timing;
    if let Ok(upgrade) = upgrade {
        refused(&state, TransportKind::WebSockets)?;
        // A connection without `id` is created on the spot (what skipNegotiation relies on).
        let token = token.unwrap_or_else(|| {
            let (_, token) = hub.negotiate(true, false);
            token
        });
        if let Some(live) = hub.live(&token) {
            // Stateful reconnect: a new socket for a live connection.
            if live.transport != TransportKind::WebSockets || !live.stateful {
                return Err(ApiError::new(StatusCode::CONFLICT, "this connection already has a transport"));
            }
            return Ok(upgrade.on_upgrade(move |socket| transports::resume_websocket(socket, live)).into_response());
        }
        let pending = hub.claim(&token).ok_or_else(|| ApiError::not_found("No Connection with that ID"))?;
        let live = start(&state, &hub, &token, pending, &claims, TransportKind::WebSockets, timing);
        return Ok(upgrade.on_upgrade(move |socket| transports::websocket(socket, live)).into_response());
    }
    let token = token.ok_or_else(|| ApiError::bad_request("Connection ID required"))?;
    if let Some(live) = hub.live(&token) {
        return match live.transport {
            TransportKind::LongPolling => Ok(transports::poll(&hub, live, timing.poll_timeout).await),
            _ => Err(ApiError::bad_request("Cannot change transports mid-connection")),
        };
    }
    let accepts_sse =
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/event-stream"));
    let kind = if accepts_sse { TransportKind::ServerSentEvents } else { TransportKind::LongPolling };
    refused(&state, kind)?;
    let pending = hub.claim(&token).ok_or_else(|| ApiError::not_found("No Connection with that ID"))?;
    let live = start(&state, &hub, &token, pending, &claims, kind, timing);
    Ok(match kind {
        TransportKind::ServerSentEvents => transports::event_stream(live),
        // The first poll answers at once: it tells the client the connection is ready.
        _ => {
            live.last_poll.store(hub.clock(), std::sync::atomic::Ordering::Relaxed);
            (StatusCode::OK, [(header::CONTENT_TYPE, "application/octet-stream")], "").into_response()
        }
    })
}

/// Registers the connection and starts its task.
fn start(
    state: &Arc<AppState>,
    hub: &Arc<Hub>,
    token: &str,
    pending: Pending,
    claims: &Claims,
    transport: TransportKind,
    timing: Timing,
) -> Arc<LiveConnection> {
    let (inbound_tx, inbound_rx) = mpsc::unbounded_channel();
    let (outbound_tx, outbound_rx) = mpsc::channel(OUTBOUND_CAPACITY);
    let live = Arc::new(LiveConnection {
        connection_id: pending.connection_id,
        transport,
        inbound: inbound_tx,
        outbound: tokio::sync::Mutex::new(outbound_rx),
        stateful: pending.stateful && transport == TransportKind::WebSockets,
        last_poll: AtomicU64::new(hub.clock()),
        kick: tokio::sync::Notify::new(),
        user_id: claims.user(),
        token_expires: claims.exp,
    });
    hub.go_live(token, live.clone());
    tokio::spawn(connection::run(connection::Setup {
        state: state.clone(),
        hub: hub.clone(),
        token: token.to_string(),
        live: live.clone(),
        inbound: inbound_rx,
        outbound: outbound_tx,
        timing,
    }));
    live
}

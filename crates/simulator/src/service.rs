//! The embedded SignalR service (Azure SignalR Service compatible, serverless mode): client
//! negotiate and the WebSocket transport under `/client/?hub=...`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use serde_json::json;
use signalr::protocol::{encode_ping, parse_message, TextFramer};
use signalr::HubMessage;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{interval, timeout, Instant, MissedTickBehavior};

use crate::error::ApiError;
use crate::hub::{valid_hub_name, Hub};
use crate::jwt::{self, Claims};
use crate::AppState;

/// Timers of a client connection on the service side.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub handshake_timeout: Duration,
    /// Send a Ping after this long without sending anything.
    pub keep_alive: Duration,
    /// Drop a client that sent nothing for this long.
    pub client_timeout: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(15),
            keep_alive: Duration::from_secs(15),
            client_timeout: Duration::from_secs(30),
        }
    }
}

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/client/negotiate", post(negotiate))
        .route("/client/", get(connect))
        .route("/client", get(connect))
}

type Params = Query<HashMap<String, String>>;

fn hub_param(params: &HashMap<String, String>) -> Result<&str, ApiError> {
    let hub = params
        .get("hub")
        .ok_or_else(|| ApiError::bad_request("the hub query parameter is required"))?;
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
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .or_else(|| params.get("access_token").map(String::as_str))
        .ok_or_else(|| ApiError::unauthorized(jwt::TokenError::Missing.to_string()))?;
    let audience = state.client_url(hub);
    jwt::verify(
        token,
        &state.settings.connection.access_key,
        jwt::unix_now(),
        &[&audience],
    )
    .map_err(|e| ApiError::unauthorized(e.to_string()))
}

async fn negotiate(
    State(state): State<Arc<AppState>>,
    Query(params): Params,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let hub_name = hub_param(&params)?;
    client_claims(&state, hub_name, &headers, &params)?;
    let version: u32 = params
        .get("negotiateVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let (connection_id, connection_token) = state.hubs.get(hub_name).negotiate(version >= 1);
    let transports = json!([{ "transport": "WebSockets", "transferFormats": ["Text"] }]);
    Ok(Json(if version >= 1 {
        json!({
            "negotiateVersion": 1,
            "connectionId": connection_id,
            "connectionToken": connection_token,
            "availableTransports": transports,
        })
    } else {
        json!({ "negotiateVersion": 0, "connectionId": connection_id, "availableTransports": transports })
    }))
}

async fn connect(
    State(state): State<Arc<AppState>>,
    Query(params): Params,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let hub_name = hub_param(&params)?;
    client_claims(&state, hub_name, &headers, &params)?;
    let hub = state.hubs.get(hub_name);
    let upgrade = upgrade.map_err(|_| {
        ApiError::bad_request(
            "this endpoint serves the WebSockets transport; send a WebSocket upgrade request",
        )
    })?;
    // A connection without `id` is created on the spot (what skipNegotiation relies on).
    let connection_id = match params.get("id") {
        Some(token) => hub
            .claim(token)
            .ok_or_else(|| ApiError::not_found("No Connection with that ID"))?,
        None => crate::hub::random_id(),
    };
    let timing = state.settings.timing;
    Ok(upgrade
        .on_upgrade(move |socket: WebSocket| serve_connection(socket, hub, connection_id, timing))
        .into_response())
}

/// Runs one client connection: handshake, then broadcasts out and pings both ways until
/// either side goes away. Generic over the socket so tests can drive it with channels.
pub async fn serve_connection<S>(socket: S, hub: Arc<Hub>, connection_id: String, timing: Timing)
where
    S: Stream<Item = Result<Message, axum::Error>> + Sink<Message> + Unpin,
{
    let (mut tx, mut rx) = socket.split();
    let mut framer = TextFramer::default();
    match timeout(
        timing.handshake_timeout,
        read_handshake(&mut rx, &mut framer),
    )
    .await
    {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            let reply = json!({ "error": error }).to_string() + "\u{1e}";
            let _ = tx.send(Message::Text(reply.into())).await;
            let _ = tx.close().await;
            return;
        }
        Err(_) => {
            tracing::debug!(%connection_id, "handshake timed out");
            let _ = tx.close().await;
            return;
        }
    }
    if tx.send(Message::Text("{}\u{1e}".into())).await.is_err() {
        return;
    }
    let (mut frames, _membership) = hub.join(&connection_id);
    tracing::debug!(%connection_id, hub = hub.name(), "client connected");
    let mut ticker = interval(timing.keep_alive.min(Duration::from_secs(1)));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_received = Instant::now();
    let mut last_sent = Instant::now();
    loop {
        tokio::select! {
            frame = frames.recv() => match frame {
                Ok(frame) => {
                    if tx.send(Message::Text(frame)).await.is_err() { break; }
                    last_sent = Instant::now();
                }
                // A client too slow for the stream misses frames (delivery is best effort).
                Err(RecvError::Lagged(missed)) => tracing::debug!(%connection_id, missed, "slow client skipped frames"),
                Err(RecvError::Closed) => break,
            },
            incoming = rx.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    last_received = Instant::now();
                    let mut close = false;
                    let pushed = framer.push(&text, |record| {
                        if let Ok(Some(HubMessage::Close { .. })) = parse_message(record) {
                            close = true;
                        }
                    });
                    if close || pushed.is_err() { break; }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => last_received = Instant::now(),
            },
            _ = ticker.tick() => {
                if last_received.elapsed() >= timing.client_timeout {
                    let close = json!({ "type": 7, "error": "Connection closed: the client sent nothing within the timeout.", "allowReconnect": true });
                    let _ = tx.send(Message::Text((close.to_string() + "\u{1e}").into())).await;
                    break;
                }
                if last_sent.elapsed() >= timing.keep_alive {
                    if tx.send(Message::Text(encode_ping().into())).await.is_err() { break; }
                    last_sent = Instant::now();
                }
            }
        }
    }
    let _ = tx.close().await;
    tracing::debug!(%connection_id, "client disconnected");
}

/// Reads until the handshake record; `Err` carries the message for the client.
async fn read_handshake<R>(rx: &mut R, framer: &mut TextFramer) -> Result<(), String>
where
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    #[derive(serde::Deserialize)]
    struct Request {
        protocol: String,
        version: u32,
    }
    loop {
        let text = match rx.next().await {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Binary(_))) => {
                return Err("The handshake must be a JSON text message.".into())
            }
            Some(Ok(_)) => continue,
            _ => return Err("The connection closed before the handshake.".into()),
        };
        let mut first = None;
        framer
            .push(&text, |record| {
                if first.is_none() {
                    first = Some(record.to_string());
                }
            })
            .map_err(|e| e.to_string())?;
        let Some(record) = first else { continue };
        let request: Request =
            serde_json::from_str(&record).map_err(|e| format!("Invalid handshake request: {e}"))?;
        if request.protocol != "json" {
            return Err(format!(
                "Requested protocol '{}' is not available.",
                request.protocol
            ));
        }
        if !(1..=2).contains(&request.version) {
            return Err(format!(
                "The server does not support version {} of the '{}' protocol.",
                request.version, request.protocol
            ));
        }
        return Ok(());
    }
}

//! Transport adapters: they move bytes between an HTTP request or a socket and a
//! connection's channels, and know nothing of the hub protocol.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use signalr::TransportKind;

use super::client::{connection_request, Access, Params};
use super::hub::{Hub, Inbound, LiveConnection, OutFrame};
use crate::error::ApiError;
use crate::AppState;

/// Most bytes one long-poll answer carries (more waits for the next poll).
const MAX_POLL_BYTES: usize = 1 << 20;

/// A new WebSocket for a connection.
pub(super) async fn websocket(socket: WebSocket, live: Arc<LiveConnection>) {
    bridge(socket, &live).await;
}

/// A WebSocket that takes over a stateful connection after a drop.
pub(super) async fn resume_websocket(socket: WebSocket, live: Arc<LiveConnection>) {
    let _ = live.inbound.send(Inbound::TransportResumed);
    bridge(socket, &live).await;
}

async fn bridge(socket: WebSocket, live: &LiveConnection) {
    let (mut tx, mut rx) = socket.split();
    let mut outbound = live.outbound.lock().await;
    loop {
        tokio::select! {
            _ = live.kick.notified() => {
                // Drop the socket without a close frame, like a network failure.
                let _ = live.inbound.send(Inbound::TransportClosed);
                return;
            }
            frame = outbound.recv() => {
                let Some(frame) = frame else { break }; // the connection ended
                let message = if frame.text {
                    match Utf8Bytes::try_from(frame.bytes) {
                        Ok(text) => Message::Text(text),
                        Err(_) => continue,
                    }
                } else {
                    Message::Binary(frame.bytes)
                };
                if tx.send(message).await.is_err() {
                    let _ = live.inbound.send(Inbound::TransportClosed);
                    return;
                }
            }
            message = rx.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    let _ = live.inbound.send(Inbound::Data(Bytes::from(text)));
                }
                Some(Ok(Message::Binary(bytes))) => {
                    let _ = live.inbound.send(Inbound::Data(bytes));
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                    let _ = live.inbound.send(Inbound::TransportClosed);
                    return;
                }
            },
        }
    }
    let _ = tx.close().await;
}

/// An SSE response carrying the connection's frames as `data:` events.
pub(super) fn event_stream(live: Arc<LiveConnection>) -> Response {
    let events = async_stream(live);
    let mut response = Response::new(Body::from_stream(events));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache,no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("identity"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

fn async_stream(
    live: Arc<LiveConnection>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::convert::Infallible>> {
    // The comment line first: it makes browsers fire `open` at once.
    let preamble = futures_util::stream::once(async { Ok(Bytes::from_static(b":\r\n")) });
    let frames = futures_util::stream::unfold(live, |live| async move {
        let frame = {
            let mut outbound = live.outbound.lock().await;
            outbound.recv().await
        };
        match frame {
            Some(frame) => Some((Ok(sse_event(&frame.bytes)), live)),
            None => {
                let _ = live.inbound.send(Inbound::TransportClosed);
                None
            }
        }
    });
    preamble.chain(frames)
}

/// One SSE event: every line of the payload as a `data:` line, then an empty line.
pub(super) fn sse_event(payload: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(payload.len() + 16);
    for line in payload.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    Bytes::from(out)
}

/// A long poll: waits for frames (up to the poll timeout) and answers with all that are ready.
pub(super) async fn poll(hub: &Hub, live: Arc<LiveConnection>, poll_timeout: Duration) -> Response {
    live.last_poll.store(hub.clock(), Ordering::Relaxed);
    let mut outbound = live.outbound.lock().await;
    let first = match tokio::time::timeout(poll_timeout, outbound.recv()).await {
        Ok(Some(frame)) => frame,
        // The connection is over.
        Ok(None) => return StatusCode::NO_CONTENT.into_response(),
        // Nothing to say: an empty 200 and the client polls again.
        Err(_) => {
            live.last_poll.store(hub.clock(), Ordering::Relaxed);
            return (StatusCode::OK, [(header::CONTENT_TYPE, "application/octet-stream")], "").into_response();
        }
    };
    let mut body = first.bytes.to_vec();
    while body.len() < MAX_POLL_BYTES {
        match outbound.try_recv() {
            Ok(OutFrame { bytes, .. }) => body.extend_from_slice(&bytes),
            Err(_) => break,
        }
    }
    live.last_poll.store(hub.clock(), Ordering::Relaxed);
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/octet-stream")], body).into_response()
}

/// `POST /client/?id=`: messages from an SSE or long-polling client.
pub(super) async fn send(
    State(state): State<Arc<AppState>>,
    params: Params,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    send_with(state, params, headers, body, Access::Token).await
}

pub(super) async fn send_with(
    state: Arc<AppState>,
    Query(params): Params,
    headers: HeaderMap,
    body: Bytes,
    access: Access,
) -> Result<StatusCode, ApiError> {
    let live = live_connection(&state, &headers, &params, access)?;
    if live.transport == TransportKind::WebSockets {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "POST requests are not allowed for WebSocket connections.",
        ));
    }
    live.inbound.send(Inbound::Data(body)).map_err(|_| ApiError::not_found("No Connection with that ID"))?;
    Ok(StatusCode::OK)
}

/// `DELETE /client/?id=`: a long-polling client leaves.
pub(super) async fn delete(
    State(state): State<Arc<AppState>>,
    params: Params,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    delete_with(state, params, headers, Access::Token).await
}

pub(super) async fn delete_with(
    state: Arc<AppState>,
    Query(params): Params,
    headers: HeaderMap,
    access: Access,
) -> Result<StatusCode, ApiError> {
    let live = live_connection(&state, &headers, &params, access)?;
    if live.transport != TransportKind::LongPolling {
        return Err(ApiError::bad_request("Cannot terminate this connection using the DELETE endpoint."));
    }
    let _ = live.inbound.send(Inbound::Terminate);
    Ok(StatusCode::ACCEPTED)
}

fn live_connection(
    state: &AppState,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
    access: Access,
) -> Result<Arc<LiveConnection>, ApiError> {
    let request = connection_request(state, headers, params, access)?;
    let token = request.token.ok_or_else(|| ApiError::bad_request("Connection ID required"))?;
    request.hub.live(&token).ok_or_else(|| ApiError::not_found("No Connection with that ID"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_events_put_every_line_in_a_data_field() {
        assert_eq!(&sse_event(b"{\"type\":6}\x1e")[..], b"data: {\"type\":6}\x1e\r\n\r\n");
        assert_eq!(&sse_event(b"a\r\nb")[..], b"data: a\r\ndata: b\r\n\r\n");
    }
}

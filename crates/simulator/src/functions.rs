//! The functions side (what Azure Functions does in production): `POST /api/negotiate` hands
//! each dashboard the service URL and a short-lived client token, in the shape of the
//! Functions SignalR input binding.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use telemetry::{ConnectionInfo, HUB};

use crate::jwt::{self, Claims};
use crate::AppState;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/api/negotiate", post(negotiate))
}

async fn negotiate(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Json<ConnectionInfo> {
    // Like the binding's `userId = {headers.x-ms-client-principal-id}`.
    let user_id = headers
        .get("x-ms-client-principal-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Json(state.connection_info(HUB, user_id))
}

impl AppState {
    /// A client URL and token for `hub`, as the negotiate function returns them.
    pub fn connection_info(&self, hub: &str, user_id: Option<String>) -> ConnectionInfo {
        let url = self.client_url(hub);
        let now = jwt::unix_now();
        let claims = Claims {
            aud: url.clone(),
            exp: now + self.settings.token_lifetime.as_secs() as i64,
            iat: Some(now),
            user_id,
            nameid: None,
            sub: None,
        };
        let access_token = jwt::sign(&claims, &self.settings.connection.access_key);
        ConnectionInfo { url, access_token }
    }
}

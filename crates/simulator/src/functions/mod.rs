//! The functions side (what Azure Functions does in production):
//!
//! * `POST /api/negotiate`: the service URL and a short-lived client token, in the shape of
//!   the Functions SignalR input binding;
//! * `POST`/`DELETE /api/subscriptions` `{connectionId, groups}`: join or leave `site:<id>` /
//!   `device:<id>` groups (serverless clients cannot manage groups themselves);
//! * `POST /api/alerts/{id}/ack` `{by}`: acknowledge once, for every dashboard;
//!   `POST /api/alerts/ack` `{by, ids}` does several in one call and one broadcast;
//! * `POST /api/suppressions` `{kind, device, metric?, minutes, reason?, by}`: shelve an alarm
//!   point, or take one (or a whole device) out of service; `DELETE /api/suppressions/{id}`
//!   ends one early, `GET /api/suppressions` lists them; expiry and re-alarm run on a clock
//!   ([`alarms`]);
//! * `GET /api/snapshot`: the current state, to fill a dashboard at once;
//! * `GET /api/catalog`: the catalog (kinds, devices, sites, geofences), also in the snapshot;
//! * `POST /api/geofences`: save (or remove) geofences, adopted and pushed to every dashboard;
//! * `GET /api/basemap`: the simulated world's streets and site outlines;
//! * `GET /api/history...`: ranges of the past (`crate::history::routes`);
//! * `GET /api/me`: who the caller is ([`telemetry::auth::Identity`]).
//!
//! With sign-in (`crate::auth`) every route takes a [`Caller`]: what it answers is limited to
//! the caller's sites, acting needs the operator role, and actions are recorded under the
//! name in the caller's token.

pub mod alarms;
pub mod catalog;
pub mod publisher;
pub mod world;

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use telemetry::{
    groups, targets, AckManyRequest, AckRequest, AlertAcknowledged, ConnectionInfo, Snapshot, SubscriptionRequest, HUB,
};

use crate::auth::Caller;
use crate::devices::alerts::Acknowledgement;
use crate::error::ApiError;
use crate::functions::publisher::Publisher;
use crate::service::jwt::{self, Claims};
use crate::{unix_millis, AppState};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/negotiate", post(negotiate))
        .route("/api/subscriptions", post(subscribe).delete(unsubscribe))
        .route("/api/alerts/{id}/ack", post(acknowledge))
        .route("/api/alerts/ack", post(acknowledge_many))
        .route(&format!("/api/{}", telemetry::alarms::SUPPRESSIONS_PATH), post(alarms::create).get(alarms::list))
        .route(&format!("/api/{}/{{id}}", telemetry::alarms::SUPPRESSIONS_PATH), delete(alarms::remove))
        .route("/api/snapshot", get(snapshot))
        .route("/api/catalog", get(catalog::serve))
        .route(&format!("/api/{}", telemetry::catalog::GEOFENCES_PATH), post(catalog::save_geofences))
        .route(&format!("/api/{}", telemetry::basemap::BASEMAP_PATH), get(catalog::basemap))
        .route(&format!("/api/{}", telemetry::auth::ME_PATH), get(me))
        .merge(crate::history::routes::routes())
}

/// `GET /api/me`: the caller as the functions see them (an open deployment: `signedIn: false`).
async fn me(caller: Caller) -> Json<telemetry::auth::Identity> {
    Json(caller.identity())
}

async fn negotiate(State(state): State<Arc<AppState>>, caller: Caller, headers: HeaderMap) -> Json<ConnectionInfo> {
    let delay = state.settings.faults.negotiate_delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if let Some(user) = caller.user() {
        // Signed in: the verified subject, as `nameid`; a principal header is the caller's
        // own say and is ignored.
        return Json(state.user_connection_info(HUB, &user.id));
    }
    // Like the binding's `userId = {headers.x-ms-client-principal-id}`.
    let user_id = headers.get("x-ms-client-principal-id").and_then(|v| v.to_str().ok()).map(str::to_string);
    Json(state.connection_info(HUB, user_id))
}

impl AppState {
    /// A client URL and token for `hub`, as the negotiate function returns them (an open
    /// deployment's user id, if the caller gave one, as `asrs.s.uid`).
    pub fn connection_info(&self, hub: &str, user_id: Option<String>) -> ConnectionInfo {
        self.sign_connection(hub, user_id, None)
    }

    /// A client URL and token for `hub` for the signed-in user `user_id`, named in the token's
    /// `nameid` (the service's user id: `/users/{id}` sends and user groups reach them).
    pub fn user_connection_info(&self, hub: &str, user_id: &str) -> ConnectionInfo {
        self.sign_connection(hub, None, Some(user_id.to_string()))
    }

    fn sign_connection(&self, hub: &str, user_id: Option<String>, nameid: Option<String>) -> ConnectionInfo {
        let url = self.client_url(hub);
        let now = jwt::unix_now();
        let claims = Claims {
            aud: url.clone(),
            exp: now + self.settings.token_lifetime.as_secs() as i64,
            iat: Some(now),
            user_id,
            nameid,
            name_identifier: None,
            sub: None,
        };
        let access_token = jwt::sign(&claims, &self.settings.connection.access_key);
        ConnectionInfo { url, access_token }
    }
}

/// A JSON body, with a 400 that says what is wrong instead of axum's plain-text rejection.
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|e| ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, e.to_string()))?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
    }
}

async fn subscribe(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    JsonBody(request): JsonBody<SubscriptionRequest>,
) -> Result<Json<SubscriptionRequest>, ApiError> {
    change_groups(&state, &caller, request, true).await.map(Json)
}

async fn unsubscribe(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    JsonBody(request): JsonBody<SubscriptionRequest>,
) -> Result<Json<SubscriptionRequest>, ApiError> {
    change_groups(&state, &caller, request, false).await.map(Json)
}

/// 403 unless `caller` may have `connection_id` join `groups`: the connection is theirs (the
/// embedded service knows each connection's user from its client token; a remote one cannot
/// be asked, and there the connection id's secrecy stands for it as in an open deployment),
/// and each `site:<id>` is among their sites, each `device:<id>` at one of them (an unknown
/// device only for a caller of every site). Leaving needs the connection to be theirs only.
fn check_groups(state: &AppState, caller: &Caller, request: &SubscriptionRequest, join: bool) -> Result<(), ApiError> {
    let Some(user) = caller.user() else { return Ok(()) };
    if let Publisher::Embedded = state.publisher {
        if let Some(connection) = state.hubs.get(HUB).connection(&request.connection_id) {
            if connection.user_id.as_deref() != Some(user.id.as_str()) {
                return Err(ApiError::forbidden(format!(
                    "connection {:?} belongs to another user",
                    request.connection_id
                )));
            }
        }
    }
    if !join {
        return Ok(());
    }
    let world = state.world.lock().expect("world lock");
    for group in &request.groups {
        match group.split_once(':') {
            Some(("site", site)) => caller.require_site(site)?,
            Some(("device", device)) => caller.require_device(device, world.site_of_device(device))?,
            _ => {}
        }
    }
    Ok(())
}

/// Joins (or leaves) the requested groups. Answers with the groups the connection is now in
/// (a remote service does not list them: then the groups just joined, or none after leaving).
///
/// Connection ids are 128-bit random values only their own client learns (from its negotiate
/// answer), so naming one proves it is the caller's.
pub async fn change_groups(
    state: &AppState,
    caller: &Caller,
    request: SubscriptionRequest,
    join: bool,
) -> Result<SubscriptionRequest, ApiError> {
    if request.groups.is_empty() || request.groups.len() > 1000 {
        return Err(ApiError::bad_request("`groups` must list 1 to 1000 groups"));
    }
    if let Some(bad) = request.groups.iter().find(|g| !groups::is_valid(g)) {
        return Err(ApiError::bad_request(format!("group {bad:?} is not site:<id> or device:<id>")));
    }
    check_groups(state, caller, &request, join)?;
    for group in &request.groups {
        let found = state
            .change_group(HUB, group, &request.connection_id, join)
            .await
            .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, e))?;
        if !found {
            return Err(ApiError::not_found(format!("no live connection {:?}", request.connection_id)));
        }
    }
    let groups = match state.publisher {
        Publisher::Embedded => state.hubs.get(HUB).groups_of(&request.connection_id),
        Publisher::Remote(_) if join => request.groups,
        Publisher::Remote(_) => Vec::new(),
    };
    Ok(SubscriptionRequest { connection_id: request.connection_id, groups })
}

#[derive(Deserialize)]
struct AlertId {
    id: String,
}

/// Who acknowledges: 1 to 64 characters once trimmed.
fn acknowledger(by: &str) -> Result<&str, ApiError> {
    let by = by.trim();
    if by.is_empty() || by.chars().count() > 64 {
        return Err(ApiError::bad_request("`by` must be 1 to 64 characters"));
    }
    Ok(by)
}

/// Acknowledges the alerts among `ids` (active, or returned to normal and still to be
/// acknowledged) as `by` (a signed-in caller: as their name, whatever `by` says) and tells every
/// dashboard of the new ones (with sign-in: those of the alert's site). Answers with the
/// acknowledgement of each known id, new or earlier; when none of the ids is known, 404 saying
/// so, never a silent empty answer. With sign-in, a viewer is refused (403), and so is the call
/// when an id is an alert of a site not the caller's; ids whose site is not known are unknown
/// to a caller of some sites only.
pub async fn acknowledge_alerts(
    state: &AppState,
    caller: &Caller,
    by: &str,
    ids: &[String],
) -> Result<Vec<AlertAcknowledged>, ApiError> {
    caller.require_operator("acknowledge")?;
    let by = acknowledger(caller.name_or(by))?;
    if ids.len() > telemetry::MAX_ACK_IDS {
        return Err(ApiError::bad_request(format!("at most {} ids per call", telemetry::MAX_ACK_IDS)));
    }
    let now = unix_millis();
    let (mut answer, mut new) = (Vec::new(), Vec::new());
    {
        let mut world = state.world.lock().expect("world lock");
        let mut ids: Vec<&String> = ids.iter().collect();
        if caller.user().is_some() {
            for id in &ids {
                if let Some(site) = world.alerts.site_of(id) {
                    if !caller.sees(site) {
                        return Err(ApiError::forbidden(format!("alert {id:?} is at site {site:?}, not among yours")));
                    }
                }
            }
            if caller.is_restricted() {
                ids.retain(|id| world.alerts.site_of(id).is_some());
            }
        }
        for id in ids {
            match world.alerts.acknowledge(id, by, now) {
                Acknowledgement::New(ack) => {
                    new.push(ack.clone());
                    answer.push(ack);
                }
                Acknowledgement::Already(ack) => answer.push(ack),
                Acknowledgement::Unknown => {}
            }
        }
    }
    if answer.is_empty() && !ids.is_empty() {
        return Err(ApiError::not_found(format!(
            "no alert {:?}: never raised, or over too long ago to remember",
            ids.iter().take(5).collect::<Vec<_>>()
        )));
    }
    if let Some(history) = &state.history {
        history.acknowledged(&new);
    }
    state
        .send_site_bound(HUB, targets::ALERT_ACKNOWLEDGED, new, |world, ack| {
            world.alerts.site_of(&ack.id).map(str::to_string)
        })
        .await;
    Ok(answer)
}

async fn acknowledge_many(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    JsonBody(request): JsonBody<AckManyRequest>,
) -> Result<Json<Vec<AlertAcknowledged>>, ApiError> {
    acknowledge_alerts(&state, &caller, &request.by, &request.ids).await.map(Json)
}

async fn acknowledge(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(AlertId { id }): Path<AlertId>,
    JsonBody(request): JsonBody<AckRequest>,
) -> Result<Json<AlertAcknowledged>, ApiError> {
    let acks = acknowledge_alerts(&state, &caller, &request.by, std::slice::from_ref(&id)).await?;
    acks.into_iter().next().map(Json).ok_or_else(|| ApiError::not_found(format!("no alert {id:?}")))
}

async fn snapshot(State(state): State<Arc<AppState>>, caller: Caller) -> Json<Snapshot> {
    Json(state.world.lock().expect("world lock").snapshot_for(&caller, unix_millis()))
}

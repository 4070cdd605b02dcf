//! The service's data-plane REST API (Azure SignalR Service v1, every operation of its
//! published spec, plus the 2022-06-01 send, membership and existence paths): anyone holding
//! the connection string can publish to dashboards, check and close connections, and manage
//! groups of connections and of users.
//!
//! ```sh
//! curl -X POST http://127.0.0.1:8888/api/v1/hubs/telemetry \
//!   -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
//!   -d '{"target":"alerts","arguments":[[{...}]]}'
//! ```
//! The token is an HS256 JWT signed with the AccessKey whose `aud` is the request URL.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::routing::{delete, get, head, post, put};
use axum::Router;
use serde::Deserialize;

use telemetry::targets;

use super::hub::{valid_hub_name, Broadcast, Hub};
use super::jwt;
use crate::error::ApiError;
use crate::AppState;

/// Largest request body accepted (the service's limit).
pub const MAX_BODY: usize = 1 << 20;

/// Longest user id the service keeps in a group (they are stored, so they are bounded).
pub const MAX_USER_ID: usize = 1024;

pub fn routes() -> Router<Arc<AppState>> {
    // v1 paths, then the 2022-06-01 ones (`:send`); written out in full because nesting
    // `/api` and `/api/v1` would shadow one another. The `:send` segments are literal.
    // GET also answers HEAD (axum drops the body); `head` is spelled out where the spec
    // lists HEAD, so the table reads like the spec.
    Router::new()
        .without_v07_checks()
        .route("/api/v1/hubs/{hub}", post(broadcast))
        .route("/api/v1/hubs/{hub}/groups/{group}", post(to_group).get(group_exists).head(group_exists))
        .route("/api/v1/hubs/{hub}/users/{user}", post(to_user).get(user_exists).head(user_exists))
        .route(
            "/api/v1/hubs/{hub}/connections/{connection}",
            post(to_connection).get(connection_exists).head(connection_exists).delete(close_connection),
        )
        .route(
            "/api/v1/hubs/{hub}/groups/{group}/connections/{connection}",
            put(add_to_group).delete(remove_from_group),
        )
        .route(
            "/api/v1/hubs/{hub}/groups/{group}/users/{user}",
            get(user_in_group).head(user_in_group).put(add_user_to_group).delete(remove_user_from_group),
        )
        .route("/api/v1/hubs/{hub}/users/{user}/groups", delete(remove_user_from_all_groups))
        .route("/api/v1/health", get(|| async { StatusCode::OK }))
        .route("/api/hubs/{hub}/:send", post(broadcast))
        .route("/api/hubs/{hub}/groups/{group}/:send", post(to_group))
        .route("/api/hubs/{hub}/users/{user}/:send", post(to_user))
        .route("/api/hubs/{hub}/connections/{connection}/:send", post(to_connection))
        .route("/api/hubs/{hub}/groups/{group}/connections/{connection}", put(add_to_group).delete(remove_from_group))
        // The 2022-06-01 existence checks answer as v1's do; its other new operations answer
        // other statuses (200, 204) and are not served.
        .route("/api/hubs/{hub}/groups/{group}", head(group_exists))
        .route("/api/hubs/{hub}/users/{user}", head(user_exists))
        .route("/api/hubs/{hub}/connections/{connection}", head(connection_exists))
        .route("/api/health", get(|| async { StatusCode::OK }))
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
/// store them: they then appear in the snapshot and can be acknowledged; a catalog is adopted
/// (then `true`: it changed the functions' catalog).
fn message(state: &AppState, hub: &str, body: &Bytes) -> Result<(Arc<Broadcast>, bool), ApiError> {
    if body.len() > MAX_BODY {
        return Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("the body exceeds {MAX_BODY} bytes")));
    }
    let payload: Payload = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!("the body must be JSON {{\"target\": ..., \"arguments\": [...]}}: {e}"))
    })?;
    let target =
        payload.target.filter(|t| !t.is_empty()).ok_or_else(|| ApiError::bad_request("`target` is required"))?;
    let arguments = payload.arguments.unwrap_or_default();
    let telemetry_hub = hub.eq_ignore_ascii_case(telemetry::HUB);
    let adopted = telemetry_hub && record(state, &target, arguments.first());
    if telemetry_hub {
        crate::history::record_published(state, &target, arguments.first());
    }
    Ok((Broadcast::invocation(target, arguments), adopted))
}

/// Keeps published alerts and clearings, suppressions made and ended and re-alarms, and adopts
/// a published catalog (a first argument that is not a batch of them, or not a catalog, is only
/// passed on). Returns whether the functions' catalog changed.
fn record(state: &AppState, target: &str, batch: Option<&serde_json::Value>) -> bool {
    let Some(batch) = batch else { return false };
    if target == targets::CATALOG {
        return adopt_catalog(state, batch);
    }
    if [targets::SUPPRESSED, targets::SUPPRESSION_ENDED, targets::ALERT_REALARMED].contains(&target) {
        adopt_alarm_changes(state, target, batch);
        return false;
    }
    let mut world = state.world.lock().expect("world lock");
    if target == targets::ALERTS {
        if let Ok(alerts) = serde_json::from_value::<Vec<telemetry::Alert>>(batch.clone()) {
            world.alerts.record_published(alerts);
        }
    } else if target == targets::ALERT_CLEARED {
        if let Ok(cleared) = serde_json::from_value::<Vec<telemetry::AlertCleared>>(batch.clone()) {
            world.alerts.record_published_cleared(&cleared);
        }
    }
    false
}

/// Suppressions and re-alarms another backend published (one that runs its own alarm
/// management and tells the dashboards through the service): the functions side keeps them, so
/// later snapshots list the suppressions in force (those past their `until` leave it, without
/// an end of their own: their publisher sends that) and show a re-alarmed alert
/// unacknowledged, and records them in the history's alert log (an end is recorded for a
/// suppression known here only: the log's event says what was suppressed).
fn adopt_alarm_changes(state: &AppState, target: &str, batch: &serde_json::Value) {
    let now = crate::unix_millis();
    if target == targets::SUPPRESSED {
        let Ok(made) = serde_json::from_value::<Vec<telemetry::Suppression>>(batch.clone()) else { return };
        let kept = state.world.lock().expect("world lock").suppressions.adopt(made, now);
        if let Some(history) = &state.history {
            history.suppressed(&kept);
        }
    } else if target == targets::SUPPRESSION_ENDED {
        let Ok(ended) = serde_json::from_value::<Vec<telemetry::SuppressionEnded>>(batch.clone()) else { return };
        let ended = state.world.lock().expect("world lock").suppressions.adopt_ended(ended);
        if let Some(history) = &state.history {
            history.suppressions_ended(&ended);
        }
    } else if let Ok(again) = serde_json::from_value::<Vec<telemetry::AlertReAlarmed>>(batch.clone()) {
        let again = state.world.lock().expect("world lock").alerts.adopt_re_alarmed(again);
        if let Some(history) = &state.history {
            history.re_alarmed(&again);
        }
    }
}

/// A catalog another backend published: the functions side adopts it (`World::adopt`: its
/// devices registered, declared only; its sites subscribed to; the alert rules rebuilt), so a
/// dashboard opened later has it in its snapshot. Alerts whose rule it removed are cleared for
/// every dashboard, and in the history's alert log.
fn adopt_catalog(state: &AppState, document: &serde_json::Value) -> bool {
    let Ok(update) = serde_json::from_value::<telemetry::Catalog>(document.clone()) else { return false };
    let adopted = state.world.lock().expect("world lock").adopt(update, crate::unix_millis());
    if !adopted.problems.is_empty() {
        let problems = adopted.problems.join("; ");
        tracing::warn!(%problems, "a catalog published through the REST API: entries skipped");
    }
    if !adopted.cleared.is_empty() {
        // In the alert log too, like every other clearing (the rules' and a publisher's).
        if let Some(history) = &state.history {
            history.cleared(&adopted.cleared);
        }
        let hub = state.hubs.get(telemetry::HUB);
        if state.auth.is_none() {
            hub.broadcast(Broadcast::invocation(targets::ALERT_CLEARED, [adopted.cleared]));
        } else {
            // Under sign-in each site hears only of its own alerts (one of no known site: no one).
            let mut by_site: std::collections::BTreeMap<String, Vec<_>> = std::collections::BTreeMap::new();
            {
                let world = state.world.lock().expect("world lock");
                for cleared in adopted.cleared {
                    if let Some(site) = world.alerts.site_of(&cleared.id) {
                        by_site.entry(site.to_string()).or_default().push(cleared);
                    }
                }
            }
            for (site, cleared) in by_site {
                let message = Broadcast::invocation(targets::ALERT_CLEARED, [cleared]);
                hub.send_to_group(&telemetry::groups::site(&site), &message, &[]);
            }
        }
    }
    adopted.changed
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
    let (message, catalog_changed) = message(state, hub_name, body)?;
    // A catalog the functions side adopted reaches every dashboard, once: those the send
    // leaves out get the same message too. Not under sign-in: a catalog names every site's
    // devices, and who may read it is the publisher's choice of audience (a site's group).
    let others = (catalog_changed && state.auth.is_none()).then(|| match &audience {
        Audience::All => Others::These(excluded(uri)),
        Audience::Group(group) => {
            let excluded = excluded(uri);
            Others::AllBut(hub.members(group).into_iter().filter(|id| !excluded.contains(id)).collect())
        }
        Audience::User(user) => Others::AllBut(hub.connections_of(user)),
        Audience::Connection(connection) => Others::AllBut(vec![connection.clone()]),
    });
    match audience {
        // How many received it is not the caller's business (the service answers 202 either way).
        Audience::All => _ = hub.broadcast_excluding(message.clone(), &excluded(uri)),
        Audience::Group(group) => _ = hub.send_to_group(&group, &message, &excluded(uri)),
        Audience::User(user) => _ = hub.send_to_user(&user, &message),
        // The spec lists 202 and 400 only: a connection that is gone is not the caller's error.
        Audience::Connection(connection) => _ = hub.send_to_connection(&connection, &message),
    }
    match others {
        Some(Others::These(ids)) => ids.iter().for_each(|id| _ = hub.send_to_connection(id, &message)),
        Some(Others::AllBut(reached)) => _ = hub.broadcast_excluding(message, &reached),
        None => {}
    }
    Ok(StatusCode::ACCEPTED)
}

/// The connections a send did not reach.
enum Others {
    These(Vec<String>),
    AllBut(Vec<String>),
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
    } else if !hub.remove_from_group(group, connection) && hub.connection(connection).is_none() {
        // The spec lists 404 here too: for a connection the hub does not know, as for the PUT
        // (and as the functions' unsubscribe reads it). A live connection that was not in the
        // group is 200: the DELETE asked for what already is.
        return Err(ApiError::not_found(format!("no connection {connection:?} in hub {hub_name:?}")));
    }
    // Membership changes answer 200 like the service (sends answer 202).
    Ok(StatusCode::OK)
}

/// 200 if `found`, else 404 with what was looked for.
fn found(found: bool, what: impl FnOnce() -> String) -> Result<StatusCode, ApiError> {
    if found {
        Ok(StatusCode::OK)
    } else {
        Err(ApiError::not_found(what()))
    }
}

/// The hub of a checked request, its group checked too if it names one.
fn checked(
    state: &AppState,
    hub_name: &str,
    group: Option<&str>,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Arc<Hub>, ApiError> {
    authorize(state, headers, uri)?;
    if let Some(group) = group {
        check_group(group)?;
    }
    hub(state, hub_name)
}

/// `GET`/`HEAD .../users/{user}`: 200 if any connection of the user is connected, else 404.
async fn user_exists(
    State(state): State<Arc<AppState>>,
    Path((hub_name, user)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let hub = checked(&state, &hub_name, None, &uri, &headers)?;
    found(hub.user_exists(&user), || format!("no connection of user {user:?} in hub {hub_name:?}"))
}

/// `GET`/`HEAD .../connections/{id}`: 200 if the connection is there, else 404.
async fn connection_exists(
    State(state): State<Arc<AppState>>,
    Path((hub_name, connection)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let hub = checked(&state, &hub_name, None, &uri, &headers)?;
    found(hub.connection(&connection).is_some(), || format!("no connection {connection:?} in hub {hub_name:?}"))
}

/// `GET`/`HEAD .../groups/{group}`: 200 if any connection is in the group, else 404.
async fn group_exists(
    State(state): State<Arc<AppState>>,
    Path((hub_name, group)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let hub = checked(&state, &hub_name, Some(&group), &uri, &headers)?;
    found(hub.group_exists(&group), || format!("no connection in group {group:?} of hub {hub_name:?}"))
}

/// `DELETE .../connections/{id}?reason=`: the client gets a Close carrying the reason and
/// may not reconnect on its own. 202 whether or not the connection was there: the spec lists
/// 202 and 400 only, and a connection that is gone is closed already.
async fn close_connection(
    State(state): State<Arc<AppState>>,
    Path((hub_name, connection)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let hub = checked(&state, &hub_name, None, &uri, &headers)?;
    let reason = query.get("reason").filter(|r| !r.is_empty()).cloned();
    hub.close_connection(&connection, reason);
    Ok(StatusCode::ACCEPTED)
}

/// `GET`/`HEAD .../groups/{group}/users/{user}`: 200 if the user is in the group (put there
/// with the PUT below, its ttl not passed), else 404.
async fn user_in_group(
    State(state): State<Arc<AppState>>,
    Path((hub_name, group, user)): Path<(String, String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let hub = checked(&state, &hub_name, Some(&group), &uri, &headers)?;
    found(hub.user_in_group(&group, &user), || format!("user {user:?} is not in group {group:?} of hub {hub_name:?}"))
}

/// `PUT .../groups/{group}/users/{user}?ttl=seconds`: every connection of the user, now and
/// later, is in the group until the ttl passes (none: for good). 202, as the spec says.
async fn add_user_to_group(
    State(state): State<Arc<AppState>>,
    Path((hub_name, group, user)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let hub = checked(&state, &hub_name, Some(&group), &uri, &headers)?;
    if user.len() > MAX_USER_ID {
        return Err(ApiError::bad_request(format!("user ids are at most {MAX_USER_ID} bytes")));
    }
    let ttl = match query.get("ttl") {
        None => None,
        // int32 seconds, as the spec types it; a negative one means nothing.
        Some(text) => match text.parse::<i32>() {
            Ok(seconds) if seconds >= 0 => Some(Duration::from_secs(seconds as u64)),
            _ => return Err(ApiError::bad_request(format!("ttl {text:?} is not 0 to 2147483647 seconds"))),
        },
    };
    hub.add_user_to_group(&group, &user, ttl).map_err(ApiError::bad_request)?;
    Ok(StatusCode::ACCEPTED)
}

/// `DELETE .../groups/{group}/users/{user}`: every connection of the user leaves the group,
/// however it joined. 202 whether or not the user was in it, as the spec says.
async fn remove_user_from_group(
    State(state): State<Arc<AppState>>,
    Path((hub_name, group, user)): Path<(String, String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let hub = checked(&state, &hub_name, Some(&group), &uri, &headers)?;
    hub.remove_user_from_group(&group, &user);
    Ok(StatusCode::ACCEPTED)
}

/// `DELETE .../users/{user}/groups`: the user leaves every group. 200 ("the user is
/// deleted"): it is done before the answer, never left to the background (202).
async fn remove_user_from_all_groups(
    State(state): State<Arc<AppState>>,
    Path((hub_name, user)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let hub = checked(&state, &hub_name, None, &uri, &headers)?;
    hub.remove_user_from_all_groups(&user);
    Ok(StatusCode::OK)
}

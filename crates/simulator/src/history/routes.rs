//! The history routes of the functions API (`telemetry::history` has the answers' shapes):
//!
//! * `GET /api/history?device=D&from=&to=&points=[&metric=M]`: a device's metrics in buckets;
//! * `GET /api/history/track?vehicle=V&from=&to=&points=`: a vehicle's trail;
//! * `GET /api/history/alerts?from=&to=[&limit=]`: raised, acknowledged, re-alarmed, cleared,
//!   and the suppressions made and ended; with `id=A`, alert `A`'s timeline (its events and
//!   the suppressions of its point over its life);
//! * `GET /api/history/fleet?from=&to=[&step=][&vehicles=V1,V2,…]`: the fleet (or the vehicles
//!   named: commas between ids, the parameter may be repeated, at most 2,000 ids) frame by
//!   frame, for replay;
//! * `GET /api/history/coverage?from=&to=`: the gaps in what the store holds over the range.
//!
//! `from` and `to` are Unix ms, by default the window kept (`--history-minutes` back from now),
//! and clamped to it: `from` is never earlier than the window's start (`from=0` is the whole
//! window, not 1.7 billion seconds to walk), `to` never later than now. A bad parameter is a 400 saying which; with history off
//! (`--history-minutes 0`) every route is a 404, as on a backend without them; until the
//! backfill at start is done, a 503 with `Retry-After: 1` (its answer would be partial). The
//! fleet route runs one query at a time (each may hold ~200 MB); another meanwhile is a 503
//! with `Retry-After: 1` too. The queries run
//! on the blocking pool and the answer is serialized there too: a fleet answer can be large.
//!
//! With sign-in, a caller of some sites only gets theirs: the series of a device or the track of
//! a vehicle at another site (or at none the registry knows) is a 403, the alert log holds the
//! events of their sites' alerts and devices (an alert's timeline of another site is a 403),
//! and the fleet is their sites' vehicles (others named are left out, as unknown ones are). The
//! coverage says nothing about any site and is answered as it is.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use telemetry::history::{DEFAULT_ALERT_LIMIT, DEFAULT_POINTS, MAX_ALERT_LIMIT, MAX_FLEET_VEHICLES, MAX_POINTS};
use telemetry::Millis;

use crate::auth::access::Sites;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::history::{FleetSlot, History, QueryError};
use crate::{unix_millis, AppState};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/history", get(series))
        .route("/api/history/track", get(track))
        .route("/api/history/alerts", get(alerts))
        .route("/api/history/fleet", get(fleet))
        .route("/api/history/coverage", get(coverage))
}

/// Whether `value` may be an id (device, vehicle, metric): 1 to 128 characters, none of them
/// control characters.
fn is_id(value: &str) -> bool {
    !value.is_empty() && value.chars().count() <= 128 && !value.chars().any(char::is_control)
}

/// The ids of every `values` (each a list separated by commas), each checked, at most `max` in
/// all (an id named twice counts twice here: the query drops the repeat); the error says why.
fn id_list<'a>(name: &str, values: impl IntoIterator<Item = &'a str>, max: usize) -> Result<Vec<String>, String> {
    let mut ids = Vec::new();
    for value in values {
        for id in value.split(',') {
            if !is_id(id) {
                return Err(format!(
                    "each id in `{name}` must be 1 to 128 characters, no control characters, commas between them"
                ));
            }
            if ids.len() == max {
                return Err(format!("`{name}` may name at most {max} ids"));
            }
            ids.push(id.to_string());
        }
    }
    Ok(ids)
}

type RawQuery = Result<Query<Vec<(String, String)>>, QueryRejection>;

/// A query string's parameters, read with 400s that name the one at fault.
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(query: RawQuery) -> Result<Self, ApiError> {
        query.map(|Query(pairs)| Params(pairs)).map_err(|e| ApiError::bad_request(format!("bad query string: {e}")))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// An id (device, vehicle, metric): 1 to 128 characters, none of them control characters.
    fn id(&self, name: &str) -> Result<Option<String>, ApiError> {
        let Some(value) = self.get(name) else { return Ok(None) };
        if !is_id(value) {
            return Err(ApiError::bad_request(format!("`{name}` must be 1 to 128 characters")));
        }
        Ok(Some(value.to_string()))
    }

    /// Ids separated by commas, in every `name` parameter, at most `max`; `None` if absent.
    fn ids(&self, name: &str, max: usize) -> Result<Option<Vec<String>>, ApiError> {
        let mut values = self.0.iter().filter(|(key, _)| key == name).map(|(_, value)| value.as_str()).peekable();
        if values.peek().is_none() {
            return Ok(None);
        }
        id_list(name, values, max).map(Some).map_err(ApiError::bad_request)
    }

    fn required_id(&self, name: &str) -> Result<String, ApiError> {
        self.id(name)?.ok_or_else(|| ApiError::bad_request(format!("`{name}` is required")))
    }

    fn integer(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        let Some(value) = self.get(name) else { return Ok(None) };
        match value.trim().parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(ApiError::bad_request(format!(
                "`{name}` must be a whole number from {min} to {max}, not {value:?}"
            ))),
        }
    }

    /// `points` or `limit`: 1 to `max`, `default` when absent.
    fn count(&self, name: &str, default: u32, max: u32) -> Result<u32, ApiError> {
        Ok(self.integer(name, 1, i64::from(max))?.map_or(default, |n| n as u32))
    }

    /// `from` and `to`, defaulted and checked.
    fn range(&self, history: &History) -> Result<(Millis, Millis), ApiError> {
        let from = self.integer("from", 0, i64::MAX / 2)?;
        let to = self.integer("to", 0, i64::MAX / 2)?;
        let (from, to) = history.range(from, to, unix_millis());
        if from > to {
            return Err(ApiError::bad_request(format!("`from` ({from}) is after `to` ({to}, or now)")));
        }
        Ok((from, to))
    }
}

/// The store, once it is filled: a 404 with history off, a 503 (`Retry-After: 1`) while the
/// backfill runs, whose answer would be the part written so far.
fn history(state: &AppState) -> Result<&History, ApiError> {
    let history = state
        .history
        .as_ref()
        .ok_or_else(|| ApiError::not_found("history is off (the simulator runs with --history-minutes 0)"))?;
    if !history.is_ready() {
        return Err(ApiError::unavailable("the history is being filled (the backfill at start); retry in a second", 1));
    }
    Ok(history)
}

/// Runs `query` on the blocking pool and answers its result as JSON, holding `slot` until the
/// JSON is made (even if the caller is gone by then: the memory is held until then).
async fn answer<T: Serialize + Send + 'static>(
    state: Arc<AppState>,
    slot: Option<FleetSlot>,
    query: impl FnOnce(&History) -> Result<T, QueryError> + Send + 'static,
) -> Result<Response, ApiError> {
    let body = tokio::task::spawn_blocking(move || {
        let history = state.history.as_ref().expect("checked by the handler");
        let value = query(history)?;
        let body = serde_json::to_vec(&value).map_err(|e| QueryError::TooLarge(e.to_string()));
        drop(slot);
        body
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("history query failed: {e}")))?;
    match body {
        Ok(body) => Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response()),
        Err(QueryError::TooLarge(message)) => Err(ApiError::bad_request(message)),
        Err(error @ QueryError::Store(_)) => Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, error.to_string())),
    }
}

/// The sites `caller` is limited to, `None` when they see every site.
fn limited_to(caller: &Caller) -> Option<Vec<String>> {
    match &caller.user()?.sites {
        Sites::All => None,
        Sites::Only(sites) => Some(sites.iter().cloned().collect()),
    }
}

/// 403 unless `caller` may see the history of `device` (by its site in the registry).
fn check_device(state: &AppState, caller: &Caller, device: &str) -> Result<(), ApiError> {
    if caller.user().is_none() {
        return Ok(());
    }
    let world = state.world.lock().expect("world lock");
    caller.require_device(device, world.site_of_device(device))
}

async fn series(State(state): State<Arc<AppState>>, caller: Caller, query: RawQuery) -> Result<Response, ApiError> {
    let history = history(&state)?;
    let params = Params::parse(query)?;
    let device = params.required_id("device")?;
    check_device(&state, &caller, &device)?;
    let metric = params.id("metric")?;
    let (from, to) = params.range(history)?;
    let points = params.count("points", DEFAULT_POINTS, MAX_POINTS)?;
    answer(state, None, move |h| h.series(&device, metric.as_deref(), from, to, points)).await
}

async fn track(State(state): State<Arc<AppState>>, caller: Caller, query: RawQuery) -> Result<Response, ApiError> {
    let history = history(&state)?;
    let params = Params::parse(query)?;
    let vehicle = params.required_id("vehicle")?;
    check_device(&state, &caller, &vehicle)?;
    let (from, to) = params.range(history)?;
    let points = params.count("points", DEFAULT_POINTS, MAX_POINTS)?;
    answer(state, None, move |h| h.track(&vehicle, from, to, points)).await
}

async fn alerts(State(state): State<Arc<AppState>>, caller: Caller, query: RawQuery) -> Result<Response, ApiError> {
    let history = history(&state)?;
    let params = Params::parse(query)?;
    let (from, to) = params.range(history)?;
    let limited = limited_to(&caller);
    // One alert's timeline: all of it by default (an alert has a handful of events).
    if let Some(id) = params.id("id")? {
        let limit = params.count("limit", MAX_ALERT_LIMIT, MAX_ALERT_LIMIT)?;
        let Some(sites) = limited else {
            return answer(state, None, move |h| h.alert_timeline(&id, from, to, limit)).await;
        };
        let timeline = history.alert_timeline(&id, from, to, limit).map_err(store_error)?;
        let raised = timeline.events.iter().find_map(|e| e.alert.as_ref());
        return match raised {
            Some(alert) if !sites.contains(&alert.site) => {
                Err(ApiError::forbidden(format!("alert {id:?} is at site {:?}, not among yours", alert.site)))
            }
            Some(_) => Ok(axum::Json(timeline).into_response()),
            // Its site is not known (raised before the window): nothing of it is shown.
            None => Ok(axum::Json(telemetry::history::AlertLog::default()).into_response()),
        };
    }
    let limit = params.count("limit", DEFAULT_ALERT_LIMIT, MAX_ALERT_LIMIT)?;
    match limited {
        None => answer(state, None, move |h| h.alerts(from, to, limit)).await,
        Some(sites) => {
            let devices = devices_at(&state, &caller, false);
            answer(state, None, move |h| h.alerts_of_sites(from, to, limit, &sites, &devices)).await
        }
    }
}

/// The ids of the registry's devices at `caller`'s sites (`vehicles`: its vehicles only, those
/// with a position).
fn devices_at(state: &AppState, caller: &Caller, vehicles: bool) -> Vec<String> {
    let world = state.world.lock().expect("world lock");
    world
        .devices
        .iter()
        .filter(|d| caller.sees(&d.site))
        .filter(|d| !vehicles || world.positions.contains_key(&d.id))
        .map(|d| d.id.clone())
        .collect()
}

fn store_error(error: QueryError) -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, error.to_string())
}

async fn fleet(State(state): State<Arc<AppState>>, caller: Caller, query: RawQuery) -> Result<Response, ApiError> {
    let history = history(&state)?;
    let params = Params::parse(query)?;
    let (from, to) = params.range(history)?;
    let step = params.integer("step", 1, 24 * 3_600_000)?;
    let mut vehicles = params.ids("vehicles", MAX_FLEET_VEHICLES)?;
    if caller.is_restricted() {
        let theirs = devices_at(&state, &caller, true);
        vehicles = Some(match vehicles {
            Some(named) => {
                let theirs: std::collections::HashSet<&String> = theirs.iter().collect();
                named.into_iter().filter(|v| theirs.contains(v)).collect()
            }
            None => theirs,
        });
    }
    // One at a time: each may hold ~200 MB (`History::fleet_slot`).
    let slot = history.fleet_slot().ok_or_else(|| {
        ApiError::unavailable("another fleet history query is running (one at a time); retry in a second", 1)
    })?;
    answer(state, Some(slot), move |h| h.fleet_of(vehicles.as_deref(), from, to, step)).await
}

async fn coverage(State(state): State<Arc<AppState>>, _caller: Caller, query: RawQuery) -> Result<Response, ApiError> {
    let history = history(&state)?;
    let params = Params::parse(query)?;
    let (from, to) = params.range(history)?;
    answer(state, None, move |h| h.coverage(from, to)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_lists_split_at_commas_across_repeats_and_refuse_beyond_the_limit() {
        assert_eq!(id_list("v", ["a,b", "c"], 3).unwrap(), ["a", "b", "c"]);
        assert_eq!(id_list("v", ["b,a,b"], 3).unwrap(), ["b", "a", "b"], "as named; the query drops the repeat");
        let error = id_list("v", ["a,b", "c,d"], 3).unwrap_err();
        assert!(error.contains("at most 3"), "{error}");
        for bad in ["", "a,", ",a", "a,,b", "a\u{7}b"] {
            let error = id_list("v", [bad], 10).unwrap_err();
            assert!(error.contains("1 to 128"), "{bad:?}: {error}");
        }
        assert!(id_list("v", [&*"x".repeat(128)], 1).is_ok());
        assert!(id_list("v", [&*"x".repeat(129)], 1).is_err());
        assert!(id_list("v", ["é".repeat(128).as_str()], 1).is_ok(), "characters, not bytes");
    }
}

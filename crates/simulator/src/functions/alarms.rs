//! ISA-18.2 alarm management on the functions side (`telemetry::alarms` has the contract):
//!
//! * `POST /api/suppressions` [`SuppressionRequest`]: shelve an alarm point (a device and a
//!   metric) or take one, or a whole device, out of service for some minutes; broadcast as
//!   `suppressed`. One of the same kind and point ends the old one first (`replaced`);
//! * `DELETE /api/suppressions/{id}` (`{by}` optional): end one early; broadcast as
//!   `suppressionEnded`;
//! * `GET /api/suppressions`: those in force (the snapshot has them too);
//!
//! and the clock ([`start_clock`]): every quarter of a second it ends the suppressions whose
//! `until` passed (`expired`) and, with `--re-alarm-minutes`, takes the acknowledgement away
//! from alerts still active that long after it (`alertReAlarmed`). Every change is recorded in
//! the history's alert log and reaches every dashboard. Alerts raised on a suppressed point are
//! raised as ever: the dashboard decides not to notify them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::Value;
use telemetry::alarms::{MAX_BY_CHARS, MAX_ID_CHARS, MAX_SUPPRESSIONS};
use telemetry::json::Batch;
use telemetry::{
    targets, EndSuppressionRequest, Millis, Suppression, SuppressionEndReason, SuppressionEnded, SuppressionKind,
    SuppressionRequest, HUB,
};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::functions::world::World;
use crate::functions::JsonBody;
use crate::service::hub::random_id;
use crate::{unix_millis, AppState};

/// How often the clock looks for suppressions to expire and alerts to re-alarm.
pub const TICK: Duration = Duration::from_millis(250);

/// A suppression that ended, with what it was (the history's alert log records both).
pub type Ended = (Suppression, SuppressionEnded);

/// The suppressions in force, by id.
#[derive(Debug, Default)]
pub struct Suppressions {
    active: BTreeMap<String, Entry>,
}

#[derive(Debug)]
struct Entry {
    suppression: Suppression,
    /// Published by another backend through the service's REST API: it owns its life (it
    /// sends its own `suppressionEnded`), so past its `until` it only leaves the snapshot.
    adopted: bool,
}

/// Making a suppression was refused: [`MAX_SUPPRESSIONS`] are in force.
#[derive(Debug, PartialEq)]
pub struct Full;

impl Suppressions {
    /// Those in force at `now`, oldest first.
    pub fn active(&self, now: Millis) -> Vec<Suppression> {
        let mut active: Vec<Suppression> =
            self.active.values().map(|e| &e.suppression).filter(|s| s.is_active(now)).cloned().collect();
        active.sort_by(|a, b| a.ts.cmp(&b.ts).then_with(|| a.id.cmp(&b.id)));
        active
    }

    /// How many are held.
    pub fn len(&self) -> usize {
        self.active.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.active.is_empty()
    }

    fn same_key(&self, suppression: &Suppression) -> Option<String> {
        self.active.values().find(|e| e.suppression.key() == suppression.key()).map(|e| e.suppression.id.clone())
    }

    /// Puts `suppression` in force. The one of the same kind and point in force before ends,
    /// `replaced` by whoever made the new one, at its `ts`, and is returned. Refused when
    /// [`MAX_SUPPRESSIONS`] are in force and none is replaced.
    pub fn add(&mut self, suppression: Suppression) -> Result<Option<Ended>, Full> {
        let old = self.same_key(&suppression);
        if old.is_none() && self.active.len() >= MAX_SUPPRESSIONS {
            return Err(Full);
        }
        let (by, ts) = (suppression.by.clone(), suppression.ts);
        let replaced = old.and_then(|id| self.end(&id, &by, ts, SuppressionEndReason::Replaced));
        self.active.insert(suppression.id.clone(), Entry { suppression, adopted: false });
        Ok(replaced)
    }

    /// Ends the suppression `id` (if in force) as `by` at `ts`, for `reason`.
    pub fn end(&mut self, id: &str, by: &str, ts: Millis, reason: SuppressionEndReason) -> Option<Ended> {
        let entry = self.active.remove(id)?;
        let ended = SuppressionEnded { id: id.to_string(), by: by.to_string(), ts, reason };
        Some((entry.suppression, ended))
    }

    /// Ends the suppressions whose `until` is at or before `now` (`expired`, at their `until`,
    /// by nobody), oldest first. Adopted ones leave without an end: their publisher sends it.
    pub fn expire(&mut self, now: Millis) -> Vec<Ended> {
        let due: Vec<(String, bool)> = self
            .active
            .values()
            .filter(|e| !e.suppression.is_active(now))
            .map(|e| (e.suppression.id.clone(), e.adopted))
            .collect();
        let mut ended = Vec::new();
        for (id, adopted) in due {
            if adopted {
                self.active.remove(&id);
                continue;
            }
            let until = self.active[&id].suppression.until;
            ended.extend(self.end(&id, "", until, SuppressionEndReason::Expired));
        }
        ended.sort_by(|a, b| a.1.ts.cmp(&b.1.ts).then_with(|| a.1.id.cmp(&b.1.id)));
        ended
    }

    /// Keeps suppressions another backend published (target `suppressed` through the REST
    /// API), so later snapshots list them: each replaces one of the same id, and one of the same
    /// kind and point in force leaves (its publisher's new one stands for it on the dashboards
    /// too). Items that are not well formed, or past their `until`, are skipped, and so is
    /// what does not fit in [`MAX_SUPPRESSIONS`]. Returns those kept.
    pub fn adopt(&mut self, published: Vec<Suppression>, now: Millis) -> Vec<Suppression> {
        let mut kept = Vec::new();
        for suppression in published {
            let too_long = [Some(&suppression.id), Some(&suppression.device), suppression.metric.as_ref()]
                .into_iter()
                .flatten()
                .any(|id| id.chars().count() > MAX_ID_CHARS);
            if too_long || suppression.problem().is_some() || !suppression.is_active(now) {
                continue;
            }
            self.active.remove(&suppression.id);
            if let Some(old) = self.same_key(&suppression) {
                self.active.remove(&old);
            }
            if self.active.len() >= MAX_SUPPRESSIONS {
                tracing::warn!(id = %suppression.id, "a published suppression: {MAX_SUPPRESSIONS} in force already, skipped");
                continue;
            }
            kept.push(suppression.clone());
            self.active.insert(suppression.id.clone(), Entry { suppression, adopted: true });
        }
        kept
    }

    /// Ends suppressions as another backend said (target `suppressionEnded` through the REST
    /// API); ids not in force are left out. Returns those ended, with what they were.
    pub fn adopt_ended(&mut self, ended: Vec<SuppressionEnded>) -> Vec<Ended> {
        ended.into_iter().filter_map(|end| self.active.remove(&end.id).map(|entry| (entry.suppression, end))).collect()
    }
}

/// A request's `kind`, checked first for a message clearer than serde's.
fn request_from(body: Value) -> Result<SuppressionRequest, ApiError> {
    const KINDS: &str = "\"shelved\" or \"outOfService\"";
    match body.get("kind") {
        Some(Value::String(kind)) if SuppressionKind::parse(kind).is_some() => {}
        Some(Value::String(kind)) => return Err(ApiError::bad_request(format!("unknown `kind` {kind:?}: {KINDS}"))),
        _ => return Err(ApiError::bad_request(format!("`kind` is required: {KINDS}"))),
    }
    serde_json::from_value(body).map_err(|e| ApiError::bad_request(format!("invalid suppression: {e}")))
}

/// The site of the device a suppression is about, for sends under sign-in.
fn site_of_suppressed(world: &World, device: &str) -> Option<String> {
    world.site_of_device(device).map(str::to_string)
}

/// Makes the suppression `body` asks for ([`SuppressionRequest`]), records it and tells every
/// dashboard (with sign-in: those of the device's site): first the end of the one it replaces,
/// if any, then the new one. A 400 says what is wrong with the request; a 429, that
/// [`MAX_SUPPRESSIONS`] are in force. With sign-in, it is made under the caller's name (the
/// body's `by` is ignored), and a viewer or a device of another site is refused (403).
pub async fn suppress(state: &AppState, caller: &Caller, body: Value) -> Result<Suppression, ApiError> {
    let mut request = request_from(body)?;
    let doing = match request.kind {
        SuppressionKind::Shelved => "shelve",
        SuppressionKind::OutOfService => "take out of service",
    };
    caller.require_operator(doing)?;
    request.by = caller.name_or(&request.by).to_string();
    let policy = {
        let world = state.world.lock().expect("world lock");
        if caller.user().is_some() {
            caller.require_device(&request.device, world.site_of_device(&request.device))?;
        }
        world.alarm_policy.clone()
    };
    if let Some(problem) = request.problem(&policy) {
        return Err(ApiError::bad_request(problem));
    }
    let now = unix_millis();
    let suppression = Suppression {
        id: format!("sup-{}", random_id()),
        kind: request.kind,
        device: request.device,
        metric: request.metric,
        by: request.by.trim().to_string(),
        reason: request.reason.trim().to_string(),
        ts: now,
        until: now.saturating_add(((request.minutes * 60_000.0).round() as i64).max(1)),
    };
    let replaced = state.world.lock().expect("world lock").suppressions.add(suppression.clone()).map_err(|Full| {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("{MAX_SUPPRESSIONS} suppressions are in force already: end some first"),
        )
    })?;
    if let Some(history) = &state.history {
        history.suppressions_ended(replaced.as_slice());
        history.suppressed(std::slice::from_ref(&suppression));
    }
    let device = suppression.device.clone();
    if let Some((_, ended)) = replaced {
        let device = device.clone();
        state
            .send_site_bound(HUB, targets::SUPPRESSION_ENDED, vec![ended], move |w, _| site_of_suppressed(w, &device))
            .await;
    }
    state
        .send_site_bound(HUB, targets::SUPPRESSED, vec![suppression.clone()], |w, s| site_of_suppressed(w, &s.device))
        .await;
    Ok(suppression)
}

/// Ends the suppression `id` early as `by` (at most [`MAX_BY_CHARS`] characters once
/// trimmed, may be empty; with sign-in, the caller's name), records it and tells every
/// dashboard (with sign-in: those of its device's site); 404 when it is not in force. With
/// sign-in, a viewer, or a suppression of another site's device, is refused (403).
pub async fn end_suppression(
    state: &AppState,
    caller: &Caller,
    id: &str,
    by: &str,
) -> Result<SuppressionEnded, ApiError> {
    caller.require_operator("end a suppression")?;
    let by = caller.name_or(by).trim();
    if by.chars().count() > MAX_BY_CHARS {
        return Err(ApiError::bad_request(format!("`by` must be at most {MAX_BY_CHARS} characters")));
    }
    let ended = {
        let mut world = state.world.lock().expect("world lock");
        if caller.user().is_some() {
            let active = world.suppressions.active(unix_millis());
            if let Some(device) = active.iter().find(|s| s.id == id).map(|s| s.device.clone()) {
                caller.require_device(&device, world.site_of_device(&device))?;
            }
        }
        world.suppressions.end(id, by, unix_millis(), SuppressionEndReason::Ended)
    };
    let Some(ended) = ended else {
        return Err(ApiError::not_found(format!(
            "no suppression {id:?} in force: never made, or over already (ended, expired or replaced)"
        )));
    };
    if let Some(history) = &state.history {
        history.suppressions_ended(std::slice::from_ref(&ended));
    }
    let answer = ended.1.clone();
    let device = ended.0.device;
    state
        .send_site_bound(HUB, targets::SUPPRESSION_ENDED, vec![ended.1], move |w, _| site_of_suppressed(w, &device))
        .await;
    Ok(answer)
}

pub(super) async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Suppression>, ApiError> {
    suppress(&state, &caller, body).await.map(Json)
}

pub(super) async fn remove(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<SuppressionEnded>, ApiError> {
    let request: EndSuppressionRequest = match body.iter().all(u8::is_ascii_whitespace) {
        true => EndSuppressionRequest::default(),
        false => serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?,
    };
    end_suppression(&state, &caller, &id, &request.by).await.map(Json)
}

pub(super) async fn list(State(state): State<Arc<AppState>>, caller: Caller) -> Json<Vec<Suppression>> {
    let world = state.world.lock().expect("world lock");
    let mut active = world.suppressions.active(unix_millis());
    if caller.is_restricted() {
        let sites = world.device_sites();
        active.retain(|s| sites.get(s.device.as_str()).is_some_and(|site| caller.sees(site)));
    }
    Json(active)
}

/// Starts the clock of [`tick`] for as long as `state` lives.
pub fn start_clock(state: &Arc<AppState>) {
    let state = Arc::downgrade(state);
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            ticker.tick().await;
            let Some(state) = state.upgrade() else { return };
            tick(&state, unix_millis()).await;
        }
    });
}

/// Ends the suppressions due at `now` and re-alarms the alerts due (with a re-alarm time):
/// recorded in the history, and told to every dashboard.
pub async fn tick(state: &AppState, now: Millis) {
    let (expired, again) = {
        let mut world = state.world.lock().expect("world lock");
        let expired = world.suppressions.expire(now);
        let period = world.alarm_policy.re_alarm_minutes.map(|m| ((m * 60_000.0).round() as i64).max(1));
        let again = period.map(|period| world.alerts.re_alarm(period, now)).unwrap_or_default();
        (expired, again)
    };
    if let Some(history) = &state.history {
        history.suppressions_ended(&expired);
        history.re_alarmed(&again);
    }
    if !expired.is_empty() {
        // With sign-in each end goes to its device's site: pair them for the look-up.
        let devices: BTreeMap<String, String> =
            expired.iter().map(|(made, ended)| (ended.id.clone(), made.device.clone())).collect();
        let ended: Vec<SuppressionEnded> = expired.into_iter().map(|(_, ended)| ended).collect();
        state
            .send_site_bound(HUB, targets::SUPPRESSION_ENDED, ended, |w, e| {
                devices.get(&e.id).and_then(|device| site_of_suppressed(w, device))
            })
            .await;
    }
    state
        .send_site_bound(HUB, targets::ALERT_REALARMED, again, |w, a| w.alerts.site_of(&a.id).map(str::to_string))
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shelf(id: &str, metric: &str, ts: Millis, until: Millis) -> Suppression {
        Suppression {
            id: id.into(),
            kind: SuppressionKind::Shelved,
            device: "press-01".into(),
            metric: Some(metric.into()),
            by: "ann".into(),
            reason: String::new(),
            ts,
            until,
        }
    }

    #[test]
    fn a_second_shelf_of_a_point_replaces_the_first_and_an_out_of_service_stands_beside_it() {
        let mut suppressions = Suppressions::default();
        assert_eq!(suppressions.add(shelf("s1", "temperature", 10, 100)), Ok(None));
        assert_eq!(suppressions.add(shelf("s2", "pressure", 11, 100)), Ok(None), "another point");
        let device = Suppression {
            id: "o1".into(),
            kind: SuppressionKind::OutOfService,
            metric: None,
            ..shelf("", "", 12, 100)
        };
        assert_eq!(suppressions.add(device), Ok(None), "another kind");
        let mut again = shelf("s3", "temperature", 20, 200);
        again.by = "bob".into();
        let (old, ended) = suppressions.add(again).unwrap().expect("replaced");
        assert_eq!(old.id, "s1");
        assert_eq!(
            ended,
            SuppressionEnded { id: "s1".into(), by: "bob".into(), ts: 20, reason: SuppressionEndReason::Replaced }
        );
        let ids: Vec<String> = suppressions.active(50).into_iter().map(|s| s.id).collect();
        assert_eq!(ids, ["s2", "o1", "s3"], "oldest first");
        assert!(suppressions.end("s1", "x", 60, SuppressionEndReason::Ended).is_none(), "over already");
        let (_, ended) = suppressions.end("s2", "carl", 60, SuppressionEndReason::Ended).unwrap();
        assert_eq!((ended.by.as_str(), ended.reason), ("carl", SuppressionEndReason::Ended));
    }

    #[test]
    fn suppressions_expire_at_their_until_and_adopted_ones_leave_silently() {
        let mut suppressions = Suppressions::default();
        suppressions.add(shelf("s1", "temperature", 10, 100)).unwrap();
        suppressions.add(shelf("s2", "pressure", 10, 300)).unwrap();
        let kept = suppressions.adopt(vec![shelf("p1", "rpm", 10, 100), shelf("bad", "", 10, 100)], 50);
        assert_eq!(kept.len(), 1, "a shelf without a metric is not kept");
        assert!(suppressions.expire(99).is_empty());
        assert_eq!(suppressions.active(100).len(), 1, "not in force at its until");
        let expired = suppressions.expire(120);
        assert_eq!(expired.len(), 1, "{expired:?}");
        assert_eq!(
            expired[0].1,
            SuppressionEnded { id: "s1".into(), by: String::new(), ts: 100, reason: SuppressionEndReason::Expired }
        );
        assert_eq!(suppressions.len(), 1, "the adopted one left too");
        let ended = suppressions.adopt_ended(vec![
            SuppressionEnded { id: "s2".into(), by: "x".into(), ts: 130, reason: SuppressionEndReason::Ended },
            SuppressionEnded { id: "nobody".into(), by: "x".into(), ts: 130, reason: SuppressionEndReason::Ended },
        ]);
        assert_eq!(ended.len(), 1);
        assert!(suppressions.is_empty());
    }

    #[test]
    fn no_more_than_the_maximum_are_in_force_but_a_replacement_still_is_made() {
        let mut suppressions = Suppressions::default();
        for n in 0..MAX_SUPPRESSIONS {
            suppressions.add(shelf(&format!("s{n}"), &format!("m{n}"), 1, 100)).unwrap();
        }
        assert_eq!(suppressions.add(shelf("over", "another", 2, 100)), Err(Full));
        assert!(suppressions.add(shelf("again", "m7", 2, 100)).unwrap().is_some());
        assert_eq!(suppressions.len(), MAX_SUPPRESSIONS);
    }
}

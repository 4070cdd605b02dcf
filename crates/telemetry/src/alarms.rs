//! ISA-18.2 alarm management beyond acknowledging: shelving, out of service, re-alarm.
//!
//! An alarm *point* is a device and a metric ([`crate::Alert::device`], [`crate::Alert::metric`]):
//! ISA-18.2 suppresses a point, not one occurrence, so a chattering alarm that raises new alert
//! ids stays shelved. Alerts raised on a suppressed point are still raised, recorded and sent
//! as usual (`alerts`); the dashboard decides not to notify them, and shows them as suppressed.
//!
//! | call | answer |
//! |---|---|
//! | `POST {apiBase}/suppressions` [`SuppressionRequest`] | the [`Suppression`] made; broadcast as [`targets::SUPPRESSED`](crate::targets::SUPPRESSED) |
//! | `DELETE {apiBase}/suppressions/{id}` [`EndSuppressionRequest`] (body optional) | [`SuppressionEnded`] with [`SuppressionEndReason::Ended`]; broadcast as [`targets::SUPPRESSION_ENDED`](crate::targets::SUPPRESSION_ENDED); 404 for an id not active |
//! | `GET {apiBase}/suppressions` | the active [`Suppression`]s (also in the snapshot) |
//!
//! A suppression ends by itself at its `until` ([`SuppressionEndReason::Expired`], `by` empty,
//! `ts` = its `until`); making one for a kind and point that already has one ends the old one
//! first ([`SuppressionEndReason::Replaced`], sent before the new one). A shelf and an
//! out-of-service of the same point are two suppressions: neither replaces the other.
//!
//! Re-alarm: with a backend's [`AlarmPolicy::re_alarm_minutes`] set, an alert acknowledged and
//! still active that long after its acknowledgement loses it (target
//! [`targets::ALERT_REALARMED`](crate::targets::ALERT_REALARMED), [`AlertReAlarmed`]): it is
//! active unacknowledged again and is acknowledged again like a new one.

use serde::{Deserialize, Serialize};

use crate::Millis;

/// The path of the suppression calls under `apiBase`.
pub const SUPPRESSIONS_PATH: &str = "suppressions";
/// The most suppressions active at once; making another is refused (HTTP 429) until some end.
pub const MAX_SUPPRESSIONS: usize = 10_000;
/// Longest device or metric id a suppression names, in characters.
pub const MAX_ID_CHARS: usize = 128;
/// Longest `by` (as for acknowledgements), in characters once trimmed.
pub const MAX_BY_CHARS: usize = 64;
/// Longest `reason`, in characters once trimmed.
pub const MAX_REASON_CHARS: usize = 200;
/// The backend's longest shelf unless it says otherwise ([`AlarmPolicy::max_shelve_minutes`]).
pub const DEFAULT_MAX_SHELVE_MINUTES: f64 = 480.0;
/// The backend's longest out of service unless it says otherwise
/// ([`AlarmPolicy::max_out_of_service_minutes`]).
pub const DEFAULT_MAX_OUT_OF_SERVICE_MINUTES: f64 = 1_440.0;

/// How an alarm point is suppressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SuppressionKind {
    /// An operator set it aside for a while (`"shelved"`): a nuisance alarm, chattering. Always
    /// one device and metric.
    Shelved,
    /// Maintenance (`"outOfService"`): one metric of a device, or without a metric the whole
    /// device.
    OutOfService,
}

impl SuppressionKind {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            SuppressionKind::Shelved => "shelved",
            SuppressionKind::OutOfService => "outOfService",
        }
    }

    /// The name on the wire back to the kind.
    pub fn parse(text: &str) -> Option<Self> {
        [SuppressionKind::Shelved, SuppressionKind::OutOfService].into_iter().find(|k| k.as_str() == text)
    }
}

/// An active suppression (target `suppressed`, and [`crate::Snapshot::suppressions`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Suppression {
    /// Its id, given by the backend (random); `DELETE suppressions/{id}` ends it.
    pub id: String,
    /// Shelved or out of service.
    pub kind: SuppressionKind,
    /// The device ([`crate::Alert::device`]).
    pub device: String,
    /// The metric ([`crate::Alert::metric`]): always there for a shelf; absent for an
    /// out-of-service of the whole device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// Who made it, as they gave it.
    pub by: String,
    /// Why, as they gave it (may be empty).
    #[serde(default)]
    pub reason: String,
    /// When it began, server time, Unix epoch milliseconds.
    pub ts: Millis,
    /// When it ends by itself, server time, Unix epoch milliseconds.
    pub until: Millis,
}

impl Suppression {
    /// Whether it suppresses the alarms of `metric` of `device`.
    pub fn covers(&self, device: &str, metric: &str) -> bool {
        self.device == device && self.metric.as_deref().is_none_or(|m| m == metric)
    }

    /// What one suppression of a kind is per: its kind, device and metric (`None`: the whole
    /// device). Making one with the key of an active one replaces it.
    pub fn key(&self) -> (SuppressionKind, &str, Option<&str>) {
        (self.kind, &self.device, self.metric.as_deref())
    }

    /// Whether it is still in force at `now`.
    pub fn is_active(&self, now: Millis) -> bool {
        now < self.until
    }
}

/// `POST {apiBase}/suppressions`: suppress an alarm point for `minutes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SuppressionRequest {
    /// `"shelved"` or `"outOfService"`.
    pub kind: SuppressionKind,
    /// The device: 1 to [`MAX_ID_CHARS`] characters, none a control character.
    pub device: String,
    /// The metric, same bounds; required to shelve, absent to take a whole device out of
    /// service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// How long: above 0, at most [`AlarmPolicy::max_shelve_minutes`] to shelve and
    /// [`AlarmPolicy::max_out_of_service_minutes`] for out of service. Fractions are fine.
    pub minutes: f64,
    /// Why: at most [`MAX_REASON_CHARS`] characters once trimmed; may be empty.
    #[serde(default)]
    pub reason: String,
    /// Who: 1 to [`MAX_BY_CHARS`] characters once trimmed. A backend that requires sign-in
    /// records the name in the caller's token instead and ignores this (it may be left out).
    #[serde(default)]
    pub by: String,
}

/// Whether `id` may name a device or a metric: 1 to [`MAX_ID_CHARS`] characters, none of
/// them a control character.
fn is_id(id: &str) -> bool {
    !id.is_empty() && id.chars().count() <= MAX_ID_CHARS && !id.chars().any(char::is_control)
}

impl SuppressionRequest {
    /// What makes the request unacceptable under `policy`, said for the person who made it;
    /// `None` when it is fine. The backend answers 400 with this message.
    pub fn problem(&self, policy: &AlarmPolicy) -> Option<String> {
        if !is_id(&self.device) {
            return Some(format!("`device` must be 1 to {MAX_ID_CHARS} characters, none a control character"));
        }
        match &self.metric {
            None if self.kind == SuppressionKind::Shelved => {
                return Some(
                    "shelving needs a `metric`: an alarm point is a device and a metric (kind \"outOfService\" \
                     without a metric takes a whole device out of service)"
                        .into(),
                )
            }
            Some(metric) if !is_id(metric) => {
                return Some(format!("`metric` must be 1 to {MAX_ID_CHARS} characters, none a control character"))
            }
            _ => {}
        }
        let max = policy.max_minutes(self.kind);
        if !self.minutes.is_finite() || self.minutes <= 0.0 {
            return Some(format!("`minutes` must be a number above 0 (at most {max})"));
        }
        if self.minutes > max {
            return Some(format!(
                "`minutes` is {} but at most {max} minutes for kind {:?} (the backend's maximum)",
                self.minutes,
                self.kind.as_str()
            ));
        }
        let by = self.by.trim().chars().count();
        if by == 0 || by > MAX_BY_CHARS {
            return Some(format!("`by` must be 1 to {MAX_BY_CHARS} characters"));
        }
        if self.reason.trim().chars().count() > MAX_REASON_CHARS {
            return Some(format!("`reason` must be at most {MAX_REASON_CHARS} characters"));
        }
        None
    }
}

/// `DELETE {apiBase}/suppressions/{id}`'s optional body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndSuppressionRequest {
    /// Who ends it: at most [`MAX_BY_CHARS`] characters once trimmed; may be empty.
    #[serde(default)]
    pub by: String,
}

/// Why a suppression ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SuppressionEndReason {
    /// Someone ended it (`DELETE suppressions/{id}`).
    Ended,
    /// Its `until` passed.
    Expired,
    /// A new suppression of the same kind and point took its place.
    Replaced,
}

/// A suppression is over (target `suppressionEnded`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SuppressionEnded {
    /// Its id ([`Suppression::id`]).
    pub id: String,
    /// Who ended it: as given to `DELETE`, or who made the one that replaced it; empty when it
    /// expired.
    #[serde(default)]
    pub by: String,
    /// When, server time, Unix epoch milliseconds: its `until` when it expired.
    pub ts: Millis,
    /// Why.
    pub reason: SuppressionEndReason,
}

/// An acknowledged alert still active [`AlarmPolicy::re_alarm_minutes`] after its
/// acknowledgement is unacknowledged again (target `alertReAlarmed`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertReAlarmed {
    /// The alert ([`crate::Alert::id`]).
    pub id: String,
    /// When it fell due: its acknowledgement's `ts` plus the re-alarm time, server time, Unix
    /// epoch milliseconds (the message follows within a second).
    pub ts: Millis,
}

/// What the backend does with alarms over time ([`crate::Snapshot::alarm_policy`]), so the
/// dashboard can offer what it will accept and say when an acknowledgement runs out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AlarmPolicy {
    /// Minutes after which an acknowledged alert still active re-alarms; `null`: never.
    pub re_alarm_minutes: Option<f64>,
    /// The longest shelf, minutes.
    pub max_shelve_minutes: f64,
    /// The longest out of service, minutes.
    pub max_out_of_service_minutes: f64,
}

impl Default for AlarmPolicy {
    fn default() -> Self {
        AlarmPolicy {
            re_alarm_minutes: None,
            max_shelve_minutes: DEFAULT_MAX_SHELVE_MINUTES,
            max_out_of_service_minutes: DEFAULT_MAX_OUT_OF_SERVICE_MINUTES,
        }
    }
}

impl AlarmPolicy {
    /// The longest a suppression of `kind` may last, minutes.
    pub fn max_minutes(&self, kind: SuppressionKind) -> f64 {
        match kind {
            SuppressionKind::Shelved => self.max_shelve_minutes,
            SuppressionKind::OutOfService => self.max_out_of_service_minutes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shelf() -> Suppression {
        Suppression {
            id: "sup-1".into(),
            kind: SuppressionKind::Shelved,
            device: "press-01".into(),
            metric: Some("temperature".into()),
            by: "ann".into(),
            reason: "chattering".into(),
            ts: 1_000,
            until: 901_000,
        }
    }

    fn request() -> SuppressionRequest {
        SuppressionRequest {
            kind: SuppressionKind::Shelved,
            device: "press-01".into(),
            metric: Some("temperature".into()),
            minutes: 15.0,
            reason: "chattering".into(),
            by: "ann".into(),
        }
    }

    #[test]
    fn suppressions_use_the_contract_field_names() {
        let text = serde_json::to_string(&shelf()).unwrap();
        assert_eq!(
            text,
            r#"{"id":"sup-1","kind":"shelved","device":"press-01","metric":"temperature","by":"ann","reason":"chattering","ts":1000,"until":901000}"#
        );
        let device = Suppression { kind: SuppressionKind::OutOfService, metric: None, ..shelf() };
        let text = serde_json::to_string(&device).unwrap();
        assert!(text.contains(r#""kind":"outOfService","device":"press-01","by""#), "no metric: {text}");
        assert_eq!(serde_json::from_str::<Suppression>(&text).unwrap(), device);
        let ended =
            SuppressionEnded { id: "sup-1".into(), by: String::new(), ts: 5, reason: SuppressionEndReason::Expired };
        assert_eq!(serde_json::to_string(&ended).unwrap(), r#"{"id":"sup-1","by":"","ts":5,"reason":"expired"}"#);
        let again = AlertReAlarmed { id: "a1".into(), ts: 7 };
        assert_eq!(serde_json::to_string(&again).unwrap(), r#"{"id":"a1","ts":7}"#);
    }

    #[test]
    fn a_shelf_covers_its_point_and_a_device_out_of_service_every_metric() {
        let shelf = shelf();
        assert!(shelf.covers("press-01", "temperature"));
        assert!(!shelf.covers("press-01", "pressure"));
        assert!(!shelf.covers("press-02", "temperature"));
        let device = Suppression { kind: SuppressionKind::OutOfService, metric: None, ..shelf.clone() };
        assert!(device.covers("press-01", "pressure"));
        assert_ne!(device.key(), shelf.key());
        assert!(shelf.is_active(900_999) && !shelf.is_active(901_000));
    }

    #[test]
    fn requests_are_checked_with_messages_that_say_what_to_change() {
        let policy = AlarmPolicy::default();
        assert_eq!(request().problem(&policy), None);
        let cases = [
            (SuppressionRequest { metric: None, ..request() }, "needs a `metric`"),
            (SuppressionRequest { device: String::new(), ..request() }, "`device`"),
            (SuppressionRequest { metric: Some("a\u{7}".into()), ..request() }, "`metric`"),
            (SuppressionRequest { minutes: 0.0, ..request() }, "above 0"),
            (SuppressionRequest { minutes: f64::NAN, ..request() }, "above 0"),
            (SuppressionRequest { minutes: 481.0, ..request() }, "at most 480"),
            (SuppressionRequest { by: "  ".into(), ..request() }, "`by`"),
            (SuppressionRequest { by: "x".repeat(65), ..request() }, "`by`"),
            (SuppressionRequest { reason: "x".repeat(201), ..request() }, "`reason`"),
        ];
        for (bad, says) in cases {
            let problem = bad.problem(&policy).unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert!(problem.contains(says), "{problem}");
        }
        let device =
            SuppressionRequest { kind: SuppressionKind::OutOfService, metric: None, minutes: 1_440.0, ..request() };
        assert_eq!(device.problem(&policy), None, "a whole device, a day");
        let too_long = SuppressionRequest { minutes: 1_441.0, ..device };
        assert!(too_long.problem(&policy).unwrap().contains("at most 1440"));
        assert_eq!(SuppressionKind::parse("outOfService"), Some(SuppressionKind::OutOfService));
        assert_eq!(SuppressionKind::parse("shelve"), None);
    }

    #[test]
    fn a_batch_from_the_wire_refuses_a_shelf_without_a_metric_or_ending_before_it_begins() {
        use crate::json::Batch;
        let batch = Suppression::from_json(serde_json::to_string(&[shelf()]).unwrap().as_bytes()).unwrap();
        assert_eq!(batch[0].problem(), None);
        assert!(Suppression { metric: None, ..shelf() }.problem().unwrap().contains("metric"));
        assert!(Suppression { until: 0, ..shelf() }.problem().unwrap().contains("before it begins"));
        let device = Suppression { kind: SuppressionKind::OutOfService, metric: None, ..shelf() };
        assert_eq!(device.problem(), None);
        assert!(SuppressionEnded::from_json(br#"[{"id":"s","ts":1,"reason":"replaced"}]"#).is_ok(), "by may be absent");
    }

    #[test]
    fn the_policy_defaults_when_absent_and_says_null_for_no_re_alarm() {
        let policy = AlarmPolicy::default();
        assert_eq!(
            serde_json::to_string(&policy).unwrap(),
            r#"{"reAlarmMinutes":null,"maxShelveMinutes":480.0,"maxOutOfServiceMinutes":1440.0}"#
        );
        let partial: AlarmPolicy = serde_json::from_str(r#"{"reAlarmMinutes":0.5}"#).unwrap();
        assert_eq!(partial, AlarmPolicy { re_alarm_minutes: Some(0.5), ..AlarmPolicy::default() });
        let body: EndSuppressionRequest = serde_json::from_str("{}").unwrap();
        assert_eq!(body.by, "");
    }
}

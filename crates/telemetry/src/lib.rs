//! The wire contract of the `telemetry` hub.
//!
//! Every type here is what travels between the functions/SignalR side and the dashboard:
//! JSON, camelCase, timestamps in Unix epoch milliseconds taken at the device (`ts`).
//! The dashboard and the simulator both depend on this crate, so a change to the contract
//! is a compile error on both sides instead of a silent mismatch.

use serde::{Deserialize, Serialize};

pub mod alarms;
pub mod auth;
pub mod basemap;
pub mod catalog;
pub mod history;
pub mod json;

pub use alarms::{
    AlarmPolicy, AlertReAlarmed, EndSuppressionRequest, Suppression, SuppressionEndReason, SuppressionEnded,
    SuppressionKind, SuppressionRequest,
};
pub use catalog::Catalog;

/// The hub every dashboard connects to.
pub const HUB: &str = "telemetry";

/// Client method names (SignalR invocation targets) the service pushes to dashboards.
pub mod targets {
    /// A batch of [`Position`](crate::Position)s.
    pub const POSITIONS: &str = "positions";
    /// A batch of [`Reading`](crate::Reading)s.
    pub const READINGS: &str = "readings";
    /// A batch of [`Alert`](crate::Alert)s.
    pub const ALERTS: &str = "alerts";
    /// A batch of [`AlertAcknowledged`](crate::AlertAcknowledged).
    pub const ALERT_ACKNOWLEDGED: &str = "alertAcknowledged";
    /// A batch of [`AlertCleared`](crate::AlertCleared).
    pub const ALERT_CLEARED: &str = "alertCleared";
    /// A batch of [`AlertReAlarmed`](crate::AlertReAlarmed): acknowledged alerts that are
    /// unacknowledged again ([`crate::alarms`]).
    pub const ALERT_REALARMED: &str = "alertReAlarmed";
    /// A batch of [`Suppression`](crate::Suppression)s made (shelved, out of service), sent to
    /// every dashboard.
    pub const SUPPRESSED: &str = "suppressed";
    /// A batch of [`SuppressionEnded`](crate::SuppressionEnded), sent to every dashboard.
    pub const SUPPRESSION_ENDED: &str = "suppressionEnded";
    /// One [`Catalog`](crate::Catalog) document (not a batch), merged by id into what the
    /// dashboard has.
    pub const CATALOG: &str = "catalog";
}

/// Unix epoch milliseconds.
pub type Millis = i64;

/// What a vehicle is doing, derived at the device from its speed history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum VehicleState {
    /// Driving.
    Moving,
    /// Standing still without being parked (traffic, a junction): below 0.5 m/s.
    Idle,
    /// Parked for a while (a delivery, a break).
    Stopped,
}

impl VehicleState {
    /// The label used on screen and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            VehicleState::Moving => "moving",
            VehicleState::Idle => "idle",
            VehicleState::Stopped => "stopped",
        }
    }
}

/// One vehicle's position report (target `positions`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Position {
    /// Vehicle id, as in the registry ([`DeviceInfo::id`]), e.g. `veh-001`.
    pub id: String,
    /// Device timestamp of the fix, Unix epoch milliseconds.
    pub ts: Millis,
    /// Latitude, WGS 84 decimal degrees (north positive).
    pub lat: f64,
    /// Longitude, WGS 84 decimal degrees (east positive).
    pub lon: f64,
    /// Degrees clockwise from north, 0..360.
    pub heading: f64,
    /// km/h.
    pub speed: f64,
    /// What the vehicle is doing, as the device sees it.
    pub state: VehicleState,
    /// Site the vehicle belongs to; dashboards filter and group by it (`site:<id>`).
    pub site: String,
    /// The vehicle's report number, 1, 2, 3, ... (0: not numbered). A jump shows reports lost
    /// on the way, a repeat one delivered twice.
    #[serde(default)]
    pub seq: u64,
}

/// Operating status of a piece of equipment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DeviceStatus {
    /// Working normally.
    Running,
    /// Switched off or halted.
    Stopped,
    /// Running but in a fault condition (a rig overloaded, say).
    Fault,
}

/// One equipment reading (target `readings`). `values` maps metric ids to numbers; the
/// catalog's kind of the device names them, with their units and limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reading {
    /// Device id, as in the registry ([`DeviceInfo::id`]), e.g. `press-01`.
    pub device: String,
    /// Which kind of equipment ([`catalog::Kind`] id), and so which metrics `values` holds.
    pub kind: String,
    /// Device timestamp of the reading, Unix epoch milliseconds.
    pub ts: Millis,
    /// Site the device stands at.
    pub site: String,
    /// Operating status when the reading was taken.
    pub status: DeviceStatus,
    /// Metric id to value, in the metric's unit ([`catalog::Metric::unit`]).
    pub values: std::collections::BTreeMap<String, f64>,
}

/// Alert severity, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Severity {
    /// Worth knowing; no action needed.
    Info,
    /// Needs attention soon.
    Warning,
    /// Needs attention now.
    Critical,
}

/// An alert raised by a rule (target `alerts`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// Unique alert id; acknowledgements and clears refer to it.
    pub id: String,
    /// Device timestamp of the reading that raised it, Unix epoch milliseconds.
    pub ts: Millis,
    /// Id of the device the alert is about.
    pub device: String,
    /// Site of that device.
    pub site: String,
    /// How urgent the alert is.
    pub severity: Severity,
    /// Name of the metric that crossed its limit, as in [`Reading::values`].
    pub metric: String,
    /// The value measured, in the metric's unit (per second, e.g. °C/s, for a rate rule).
    pub value: f64,
    /// The limit the value went past, in the same unit as `value`.
    pub threshold: f64,
    /// Human-readable summary for the screen, e.g. `press-01 temperature 91.0 °C is above 90 °C`.
    pub message: String,
}

/// Someone acknowledged an alert (target `alertAcknowledged`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertAcknowledged {
    /// Id of the alert acknowledged ([`Alert::id`]).
    pub id: String,
    /// Who acknowledged it, as they gave it (1 to 64 characters).
    pub by: String,
    /// When it was acknowledged, server time, Unix epoch milliseconds.
    pub ts: Millis,
}

/// The rule behind an alert returned to normal (target `alertCleared`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertCleared {
    /// Id of the alert cleared ([`Alert::id`]).
    pub id: String,
    /// Device timestamp of the reading that cleared it, Unix epoch milliseconds.
    pub ts: Millis,
}

/// The answer of the functions `negotiate` call: the Azure Functions SignalR input binding's
/// shape, which a SignalR client follows as a negotiate redirect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionInfo {
    /// The SignalR service's client URL for the hub, to negotiate with next.
    pub url: String,
    /// Bearer token (a JWT) for that URL.
    pub access_token: String,
}

/// One device of the registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceInfo {
    /// Device id, as in [`Position::id`] and [`Reading::device`].
    pub id: String,
    /// Display name, e.g. `Process machine 1`.
    pub name: String,
    /// What kind of device it is: a [`catalog::Kind`] id, or [`catalog::VEHICLE`] (or a
    /// declared vehicle kind) for a vehicle.
    pub kind: String,
    /// Site the device belongs to.
    pub site: String,
}

/// `GET {apiBase}/snapshot`: everything a dashboard needs to show the current state at once.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// Last position per vehicle.
    pub positions: Vec<Position>,
    /// Last reading per device.
    pub readings: Vec<Reading>,
    /// Alerts raised and not cleared, acknowledged or not.
    pub alerts: Vec<OpenAlert>,
    /// The device registry: every vehicle, machine and rig.
    pub devices: Vec<DeviceInfo>,
    /// Every site id, for the site picker and `site:<id>` groups.
    pub sites: Vec<String>,
    /// The backend's description of its world (absent from a backend without one).
    #[serde(default)]
    pub catalog: Catalog,
    /// The suppressions in force (shelved, out of service), oldest first (absent from a
    /// backend without them: none).
    #[serde(default)]
    pub suppressions: Vec<Suppression>,
    /// What the backend does with alarms over time: re-alarm, the longest shelf and out of
    /// service (absent: no re-alarm, the defaults of [`AlarmPolicy`]).
    #[serde(default)]
    pub alarm_policy: AlarmPolicy,
    /// When the snapshot was taken (Unix ms).
    pub ts: Millis,
}

/// An alert in the snapshot, with its acknowledgement if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenAlert {
    /// The alert itself; its fields sit at the top level of the JSON object.
    #[serde(flatten)]
    pub alert: Alert,
    /// The acknowledgement, `null` while nobody has acknowledged the alert (and again once it
    /// re-alarmed: [`AlertReAlarmed`]).
    pub acknowledged: Option<AlertAcknowledged>,
    /// When its condition returned to normal (Unix epoch milliseconds), for an alert that did
    /// so before anyone acknowledged it: it stays until acknowledged (ISA-18.2's *returned to
    /// normal, unacknowledged*). Absent while the condition is active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleared: Option<Millis>,
}

/// `POST`/`DELETE {apiBase}/subscriptions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionRequest {
    /// The dashboard's SignalR connection id, whose groups change.
    pub connection_id: String,
    /// `site:<id>` or `device:<id>`.
    pub groups: Vec<String>,
}

/// `POST {apiBase}/alerts/{id}/ack`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AckRequest {
    /// Who acknowledges: 1 to 64 characters once trimmed. A backend that requires sign-in
    /// records the name in the caller's token instead and ignores this (it may be left out).
    #[serde(default)]
    pub by: String,
}

/// `POST {apiBase}/alerts/ack`: several alerts at once (a folded toast, a storm); the answer
/// lists the acknowledgements of the ids that are open, unknown ids are left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AckManyRequest {
    /// Who acknowledges: 1 to 64 characters once trimmed. A backend that requires sign-in
    /// records the name in the caller's token instead and ignores this (it may be left out).
    #[serde(default)]
    pub by: String,
    /// Alert ids to acknowledge, at most [`MAX_ACK_IDS`].
    pub ids: Vec<String>,
}

/// Most ids one [`AckManyRequest`] may name.
pub const MAX_ACK_IDS: usize = 1_000;

/// Group names dashboards subscribe to.
pub mod groups {
    /// Everything from one site.
    pub fn site(site: &str) -> String {
        format!("site:{site}")
    }

    /// High-rate detail of one device.
    pub fn device(device: &str) -> String {
        format!("device:{device}")
    }

    /// Whether `group` is a group dashboards may join: `site:<id>` or `device:<id>` with an id
    /// of letters, digits, `-`, `_` or `.`.
    pub fn is_valid(group: &str) -> bool {
        let Some((kind, id)) = group.split_once(':') else { return false };
        matches!(kind, "site" | "device")
            && !id.is_empty()
            && id.len() <= 128
            && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    }
}

/// Sample values for tests, here and in the crates that use the contract (feature `fixtures`),
/// so a change to a type is fixed in one sample instead of one per test module.
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures {
    use crate::{Alert, Millis, Severity};

    /// A warning from `press-01` at `harbour`: temperature 91 over a threshold of 90.
    pub fn alert(id: &str, ts: Millis) -> Alert {
        Alert {
            id: id.into(),
            ts,
            device: "press-01".into(),
            site: "harbour".into(),
            severity: Severity::Warning,
            metric: "temperature".into(),
            value: 91.0,
            threshold: 90.0,
            message: "hot".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_uses_the_contract_field_names() {
        let p = Position {
            id: "veh-001".into(),
            ts: 1_700_000_000_000,
            lat: 52.5,
            lon: 13.4,
            heading: 90.0,
            speed: 42.0,
            state: VehicleState::Moving,
            site: "north".into(),
            seq: 7,
        };
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["seq"], 7);
        assert_eq!(json["state"], "moving");
        assert_eq!(json["ts"], 1_700_000_000_000i64);
        let back: Position = serde_json::from_value(json).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn contract_fixture_decodes_with_unknown_fields_ignored() {
        let text = r#"{"id":"a1","ts":5,"device":"press-1","site":"s","severity":"critical",
            "metric":"temperature","value":99.5,"threshold":90,"message":"hot","extra":true}"#;
        let alert: Alert = serde_json::from_str(text).unwrap();
        assert_eq!(alert.severity, Severity::Critical);
        assert!(Severity::Critical > Severity::Warning);
    }

    #[test]
    fn snapshot_alerts_flatten_with_their_acknowledgement() {
        let open = OpenAlert { alert: fixtures::alert("a1", 1), acknowledged: None, cleared: None };
        let json = serde_json::to_value(&open).unwrap();
        assert_eq!(json["id"], "a1");
        assert!(json["acknowledged"].is_null());
        assert_eq!(serde_json::from_value::<OpenAlert>(json).unwrap(), open);
    }

    #[test]
    fn a_snapshot_without_suppressions_or_policy_still_parses() {
        let old = r#"{"positions":[],"readings":[],"alerts":[],"devices":[],"sites":["s"],"ts":5}"#;
        let snapshot: Snapshot = serde_json::from_str(old).unwrap();
        assert!(snapshot.suppressions.is_empty());
        assert_eq!(snapshot.alarm_policy, AlarmPolicy::default());
        let text = serde_json::to_string(&Snapshot::default()).unwrap();
        assert!(text.contains(r#""suppressions":[],"alarmPolicy":{"reAlarmMinutes":null,"#), "{text}");
    }

    #[test]
    fn only_site_and_device_groups_are_valid() {
        assert!(groups::is_valid(&groups::site("harbour")));
        assert!(groups::is_valid("device:press-01"));
        assert!(!groups::is_valid("site:"));
        assert!(!groups::is_valid("admin:all"));
        assert!(!groups::is_valid("site:a b"));
        assert!(!groups::is_valid("nogroup"));
    }

    #[test]
    fn connection_info_is_camel_case() {
        let info = ConnectionInfo { url: "u".into(), access_token: "t".into() };
        assert_eq!(serde_json::to_string(&info).unwrap(), r#"{"url":"u","accessToken":"t"}"#);
    }
}

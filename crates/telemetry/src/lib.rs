//! The wire contract of the `telemetry` hub.
//!
//! Every type here is what travels between the functions/SignalR side and the dashboard:
//! JSON, camelCase, timestamps in Unix epoch milliseconds taken at the device (`ts`).
//! The dashboard and the simulator both depend on this crate, so a change to the contract
//! is a compile error on both sides instead of a silent mismatch.

use serde::{Deserialize, Serialize};

pub mod json;

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
}

/// Unix epoch milliseconds.
pub type Millis = i64;

/// What a vehicle is doing, derived at the device from its speed history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum VehicleState {
    Moving,
    Idle,
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
    pub id: String,
    pub ts: Millis,
    pub lat: f64,
    pub lon: f64,
    /// Degrees clockwise from north, 0..360.
    pub heading: f64,
    /// km/h.
    pub speed: f64,
    pub state: VehicleState,
    pub site: String,
    /// The vehicle's report number, 1, 2, 3, ... (0: not numbered). A jump shows reports lost
    /// on the way, a repeat one delivered twice.
    #[serde(default)]
    pub seq: u64,
}

/// Kind of stationary equipment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DeviceKind {
    Process,
    Drill,
}

/// Operating status of a piece of equipment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DeviceStatus {
    Running,
    Stopped,
    Fault,
}

/// One equipment reading (target `readings`). `values` maps metric names to numbers:
/// process machines send `temperature` and `pressure`, drilling rigs `rpm`, `power`, `angle`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reading {
    pub device: String,
    pub kind: DeviceKind,
    pub ts: Millis,
    pub site: String,
    pub status: DeviceStatus,
    pub values: std::collections::BTreeMap<String, f64>,
}

/// Alert severity, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

/// An alert raised by a rule (target `alerts`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    pub id: String,
    pub ts: Millis,
    pub device: String,
    pub site: String,
    pub severity: Severity,
    pub metric: String,
    pub value: f64,
    pub threshold: f64,
    pub message: String,
}

/// Someone acknowledged an alert (target `alertAcknowledged`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertAcknowledged {
    pub id: String,
    pub by: String,
    pub ts: Millis,
}

/// The rule behind an alert returned to normal (target `alertCleared`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertCleared {
    pub id: String,
    pub ts: Millis,
}

/// The answer of the functions `negotiate` call: the Azure Functions SignalR input binding's
/// shape, which a SignalR client follows as a negotiate redirect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionInfo {
    pub url: String,
    pub access_token: String,
}

/// What a registry entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EquipmentKind {
    Vehicle,
    Process,
    Drill,
}

/// One device of the registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceInfo {
    pub id: String,
    pub name: String,
    pub kind: EquipmentKind,
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
    pub devices: Vec<DeviceInfo>,
    pub sites: Vec<String>,
    /// When the snapshot was taken (Unix ms).
    pub ts: Millis,
}

/// An alert in the snapshot, with its acknowledgement if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenAlert {
    #[serde(flatten)]
    pub alert: Alert,
    pub acknowledged: Option<AlertAcknowledged>,
}

/// `POST`/`DELETE {apiBase}/subscriptions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionRequest {
    pub connection_id: String,
    /// `site:<id>` or `device:<id>`.
    pub groups: Vec<String>,
}

/// `POST {apiBase}/alerts/{id}/ack`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AckRequest {
    pub by: String,
}

/// `POST {apiBase}/alerts/ack`: several alerts at once (a folded toast, a storm); the answer
/// lists the acknowledgements of the ids that are open, unknown ids are left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AckManyRequest {
    pub by: String,
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
        let open = OpenAlert { alert: fixtures::alert("a1", 1), acknowledged: None };
        let json = serde_json::to_value(&open).unwrap();
        assert_eq!(json["id"], "a1");
        assert!(json["acknowledged"].is_null());
        assert_eq!(serde_json::from_value::<OpenAlert>(json).unwrap(), open);
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

/// Alert limits shared by the simulator's rules and the dashboard's threshold lines, so the
/// lines on a chart are where alerts fire.
pub mod limits {
    use super::{DeviceKind, Severity};

    /// A value limit on one metric.
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct Limit {
        pub kind: DeviceKind,
        pub metric: &'static str,
        pub severity: Severity,
        /// Alerts fire above this value ...
        pub threshold: f64,
        /// ... and clear below this one (hysteresis).
        pub clear: f64,
    }

    const fn limit(kind: DeviceKind, metric: &'static str, severity: Severity, threshold: f64, clear: f64) -> Limit {
        Limit { kind, metric, severity, threshold, clear }
    }

    pub const LIMITS: [Limit; 6] = [
        limit(DeviceKind::Process, "temperature", Severity::Warning, 90.0, 85.0),
        limit(DeviceKind::Process, "temperature", Severity::Critical, 100.0, 95.0),
        limit(DeviceKind::Process, "pressure", Severity::Warning, 7.0, 6.5),
        limit(DeviceKind::Drill, "rpm", Severity::Warning, 160.0, 150.0),
        limit(DeviceKind::Drill, "power", Severity::Critical, 1_200.0, 1_100.0),
        limit(DeviceKind::Drill, "angle", Severity::Info, 8.0, 7.0),
    ];

    /// The unit of a metric, for axes and labels.
    pub fn unit(metric: &str) -> &'static str {
        match metric {
            "temperature" => "°C",
            "pressure" => "bar",
            "rpm" => "rpm",
            "power" => "kW",
            "angle" => "°",
            _ => "",
        }
    }

    /// The limits on one metric of one kind of device.
    pub fn for_metric(kind: DeviceKind, metric: &str) -> impl Iterator<Item = &'static Limit> + '_ {
        LIMITS.iter().filter(move |l| l.kind == kind && l.metric == metric)
    }
}

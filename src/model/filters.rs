//! The filters each screen keeps in its URL fragment, so a copied link shows what its sender
//! saw: the alert history's (`#/alerts?severity=critical&site=harbour&state=open&device=pump`),
//! the equipment's search and sort (`#/equipment?q=press&sort=status`) and the fleet's
//! (`#/fleet?site=harbour&state=moving&q=veh-00&vehicle=veh-00042`; the overview shows the same
//! fleet and carries the same keys). The store holds them, so they also outlive a screen
//! change: a fragment naming none of its screen's keys keeps what the store has.

use telemetry::{Severity, VehicleState};

use crate::model::alerts::{AlertFilter, AlertState};
use crate::model::equipment::SortKey;
use crate::model::fleet::FleetFilter;
use crate::model::route::{decode_id, encode, Route};

/// The equipment screen's search and sort.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EquipmentView {
    pub query: String,
    pub sort: SortKey,
}

/// The fragment keys a screen keeps its filters in.
pub fn keys(route: &Route) -> &'static [&'static str] {
    match route {
        Route::Alerts => &["severity", "site", "state", "device"],
        Route::Equipment => &["q", "sort"],
        Route::Fleet { .. } | Route::Overview => &["site", "state", "q"],
        _ => &[],
    }
}

/// The fragment's query as decoded pairs (a value that does not decode is left out).
pub fn pairs(fragment: &str) -> Vec<(String, String)> {
    let query = fragment.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            Some((key.to_string(), decode_id(value)?))
        })
        .collect()
}

fn value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn any_of(pairs: &[(String, String)], keys: &[&str]) -> bool {
    pairs.iter().any(|(k, _)| keys.contains(&k.as_str()))
}

fn severity(text: &str) -> Option<Severity> {
    [Severity::Info, Severity::Warning, Severity::Critical].into_iter().find(|s| severity_str(*s) == text)
}

fn severity_str(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    }
}

fn vehicle_state(text: &str) -> Option<VehicleState> {
    [VehicleState::Moving, VehicleState::Idle, VehicleState::Stopped].into_iter().find(|s| s.as_str() == text)
}

/// The alert filter a fragment names; `None` when it names none of its keys.
pub fn alert_filter(pairs: &[(String, String)]) -> Option<AlertFilter> {
    any_of(pairs, keys(&Route::Alerts)).then(|| AlertFilter {
        severity: value(pairs, "severity").and_then(severity),
        site: value(pairs, "site").map(str::to_string),
        state: value(pairs, "state").and_then(AlertState::parse),
        device: value(pairs, "device").unwrap_or_default().to_string(),
    })
}

pub fn alert_params(filter: &AlertFilter) -> Vec<(&'static str, String)> {
    vec![
        ("severity", filter.severity.map(severity_str).unwrap_or_default().to_string()),
        ("site", filter.site.clone().unwrap_or_default()),
        ("state", filter.state.map(AlertState::as_str).unwrap_or_default().to_string()),
        ("device", filter.device.clone()),
    ]
}

/// The fleet filter a fragment names; `None` when it names none of its keys.
pub fn fleet_filter(pairs: &[(String, String)]) -> Option<FleetFilter> {
    any_of(pairs, keys(&Route::Overview)).then(|| FleetFilter {
        site: value(pairs, "site").map(str::to_string),
        state: value(pairs, "state").and_then(vehicle_state),
        query: value(pairs, "q").unwrap_or_default().to_string(),
    })
}

pub fn fleet_params(filter: &FleetFilter) -> Vec<(&'static str, String)> {
    vec![
        ("site", filter.site.clone().unwrap_or_default()),
        ("state", filter.state.map(VehicleState::as_str).unwrap_or_default().to_string()),
        ("q", filter.query.clone()),
    ]
}

/// The equipment view a fragment names; `None` when it names none of its keys.
pub fn equipment_view(pairs: &[(String, String)]) -> Option<EquipmentView> {
    any_of(pairs, keys(&Route::Equipment)).then(|| EquipmentView {
        query: value(pairs, "q").unwrap_or_default().to_string(),
        sort: value(pairs, "sort").map(SortKey::parse).unwrap_or_default(),
    })
}

pub fn equipment_params(view: &EquipmentView) -> Vec<(&'static str, String)> {
    let sort = if view.sort == SortKey::default() { String::new() } else { view.sort.as_str().to_string() };
    vec![("q", view.query.clone()), ("sort", sort)]
}

/// `fragment` with `params` in place of the keys they name (an empty value: the key left out),
/// every other key kept where it was (`vehicle`, `window`, `at`, `speed`), the new ones after.
pub fn rewrite(fragment: &str, params: &[(&'static str, String)]) -> String {
    let fragment = fragment.trim_start_matches('#');
    let (path, query) = fragment.split_once('?').unwrap_or((fragment, ""));
    let replaced = |key: &str| params.iter().any(|(k, _)| *k == key);
    let mut parts: Vec<String> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter(|pair| !replaced(pair.split_once('=').map_or(*pair, |(k, _)| k)))
        .map(str::to_string)
        .collect();
    parts.extend(params.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| format!("{k}={}", encode(v))));
    let path = if path.is_empty() { "/" } else { path };
    if parts.is_empty() {
        format!("#{path}")
    } else {
        format!("#{path}?{}", parts.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_screens_filters_round_trip_through_its_fragment() {
        let alerts = AlertFilter {
            severity: Some(Severity::Critical),
            site: Some("old town".into()),
            state: Some(AlertState::Open),
            device: "pump & <b>".into(),
        };
        let fragment = rewrite("#/alerts", &alert_params(&alerts));
        assert_eq!(fragment, "#/alerts?severity=critical&site=old%20town&state=open&device=pump%20%26%20%3Cb%3E");
        assert_eq!(alert_filter(&pairs(&fragment)), Some(alerts));

        let fleet =
            FleetFilter { site: Some("harbour".into()), state: Some(VehicleState::Moving), query: "veh-1".into() };
        let fragment = rewrite("#/fleet?vehicle=veh-10&at=5", &fleet_params(&fleet));
        assert_eq!(fragment, "#/fleet?vehicle=veh-10&at=5&site=harbour&state=moving&q=veh-1");
        assert_eq!(fleet_filter(&pairs(&fragment)), Some(fleet));
        assert_eq!(Route::parse(&fragment), Route::Fleet { vehicle: Some("veh-10".into()) }, "the selection stays");

        let view = EquipmentView { query: "press".into(), sort: SortKey::Status };
        let fragment = rewrite("#/equipment", &equipment_params(&view));
        assert_eq!(fragment, "#/equipment?q=press&sort=status");
        assert_eq!(equipment_view(&pairs(&fragment)), Some(view));
    }

    #[test]
    fn a_fragment_without_its_screens_keys_keeps_the_store_and_empty_filters_leave_no_keys() {
        assert_eq!(alert_filter(&pairs("#/alerts")), None);
        assert_eq!(fleet_filter(&pairs("#/fleet?vehicle=v1")), None);
        assert_eq!(equipment_view(&pairs("#/equipment?at=5")), None);
        // One key is enough: the others are then cleared.
        assert_eq!(
            alert_filter(&pairs("#/alerts?device=x")),
            Some(AlertFilter { device: "x".into(), ..Default::default() })
        );
        assert_eq!(rewrite("#/alerts?severity=info&at=9", &alert_params(&AlertFilter::default())), "#/alerts?at=9");
        assert_eq!(rewrite("#/", &fleet_params(&FleetFilter::default())), "#/");
        assert_eq!(rewrite("", &fleet_params(&FleetFilter::default())), "#/");
    }

    #[test]
    fn hostile_or_unknown_values_are_ignored() {
        let f = alert_filter(&pairs("#/alerts?severity=fatal&state=%zz&site=%00")).unwrap();
        assert_eq!(f, AlertFilter::default());
        let f = fleet_filter(&pairs("#/fleet?state=flying&q=%3Cscript%3E")).unwrap();
        assert_eq!((f.state, f.query.as_str()), (None, "<script>"));
        assert_eq!(equipment_view(&pairs("#/equipment?sort=random")).unwrap().sort, SortKey::Name);
        assert!(keys(&Route::AlarmHealth).is_empty());
    }
}

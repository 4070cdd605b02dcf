//! How the dashboard reads the backend's catalog: a metric's name, unit, decimals, axis range
//! and limits, a kind's name and the order of its metrics. Everything the catalog does not name
//! falls back to its id, without unit, so data of a kind nobody declared is still shown.

use telemetry::catalog::Direction;
use telemetry::{Catalog, Severity};

/// Decimals shown for a metric the catalog does not describe.
const DEFAULT_DECIMALS: u8 = 1;

/// One metric as the screens show it.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricLook {
    /// The name shown (the id when the catalog gives none).
    pub name: String,
    /// Unit shown after values, empty for none.
    pub unit: String,
    /// Decimals shown.
    pub decimals: u8,
    /// The expected range, for axes (either end optional).
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// Threshold lines: value, severity and which way the limit looks.
    pub limits: Vec<(f64, Severity, Direction)>,
}

impl MetricLook {
    /// `value` with the metric's decimals and unit, e.g. `71.5 °C`.
    pub fn format(&self, value: f64) -> String {
        let number = format!("{value:.*}", usize::from(self.decimals));
        if self.unit.is_empty() {
            number
        } else {
            format!("{number} {}", self.unit)
        }
    }
}

/// How metric `metric` of a device of kind `kind` is shown.
pub fn metric_look(catalog: &Catalog, kind: &str, metric: &str) -> MetricLook {
    match catalog.metric(kind, metric) {
        Some(m) => MetricLook {
            name: if m.name.is_empty() { m.id.clone() } else { m.name.clone() },
            unit: m.unit.clone(),
            decimals: m.decimals.min(6),
            min: m.min,
            max: m.max,
            limits: m.limits.iter().filter_map(|l| l.threshold().map(|(d, v)| (v, l.severity, d))).collect(),
        },
        None => MetricLook {
            name: metric.to_string(),
            unit: String::new(),
            decimals: DEFAULT_DECIMALS,
            min: None,
            max: None,
            limits: Vec::new(),
        },
    }
}

/// The name of kind `kind` (its id when the catalog does not name it).
pub fn kind_name(catalog: &Catalog, kind: &str) -> String {
    catalog.kind(kind).map(|k| k.name.clone()).filter(|n| !n.is_empty()).unwrap_or_else(|| kind.to_string())
}

/// The name of site `site` (its id when the catalog does not name it).
pub fn site_name(catalog: &Catalog, site: &str) -> String {
    catalog.site(site).map(|s| s.name.clone()).filter(|n| !n.is_empty()).unwrap_or_else(|| site.to_string())
}

/// `present` metric ids in the order the catalog declares them for `kind`, then the ones it
/// does not declare, by id.
pub fn ordered<'a>(catalog: &Catalog, kind: &str, present: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let declared: Vec<&str> =
        catalog.kind(kind).map(|k| k.metrics.iter().map(|m| m.id.as_str()).collect()).unwrap_or_default();
    let mut metrics: Vec<&str> = present.collect();
    metrics.sort_by_key(|m| (declared.iter().position(|d| d == m).unwrap_or(usize::MAX), *m));
    metrics
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        serde_json::from_str(
            r#"{ "kinds": [{ "id": "pump", "name": "Pump", "metrics": [
                   { "id": "pressure", "unit": "bar", "decimals": 2 },
                   { "id": "flow", "name": "Flow", "unit": "m³/h", "decimals": 0, "min": 0, "max": 400,
                     "limits": [{ "severity": "warning", "above": 300, "clear": 280 },
                                { "severity": "critical", "below": 10 }] }] }],
                 "sites": [{ "id": "harbour", "name": "Harbour" }] }"#,
        )
        .unwrap()
    }

    #[test]
    fn a_declared_metric_brings_its_name_unit_decimals_range_and_limits() {
        let flow = metric_look(&catalog(), "pump", "flow");
        assert_eq!(
            (flow.name.as_str(), flow.unit.as_str(), flow.min, flow.max),
            ("Flow", "m³/h", Some(0.0), Some(400.0))
        );
        assert_eq!(flow.format(312.46), "312 m³/h");
        assert_eq!(
            flow.limits,
            [(300.0, Severity::Warning, Direction::Above), (10.0, Severity::Critical, Direction::Below)]
        );
        assert_eq!(metric_look(&catalog(), "pump", "pressure").name, "pressure", "no name: its id");
    }

    #[test]
    fn what_the_catalog_does_not_name_is_shown_by_its_id_without_unit() {
        let unknown = metric_look(&catalog(), "chiller", "coolant");
        assert_eq!((unknown.name.as_str(), unknown.unit.as_str()), ("coolant", ""));
        assert_eq!(unknown.format(2.71), "2.7");
        assert_eq!(kind_name(&catalog(), "chiller"), "chiller");
        assert_eq!(kind_name(&catalog(), "pump"), "Pump");
        assert_eq!(site_name(&catalog(), "harbour"), "Harbour");
        assert_eq!(site_name(&catalog(), "dock"), "dock");
    }

    #[test]
    fn metrics_come_in_the_catalog_order_then_by_id() {
        let present = ["zeta", "flow", "alpha", "pressure"];
        assert_eq!(ordered(&catalog(), "pump", present.into_iter()), ["pressure", "flow", "alpha", "zeta"]);
        assert_eq!(ordered(&catalog(), "chiller", present.into_iter()), ["alpha", "flow", "pressure", "zeta"]);
    }
}

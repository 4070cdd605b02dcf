//! The simulator's own world, declared the way any backend declares its own: the built-in
//! catalog (`catalog/scenarios.json`: process machines and drilling rigs with their metrics,
//! units and limits), plus the devices and sites of the running scenarios. The alert rules take
//! their limits from it, so the lines a dashboard draws are where the alerts fire.

use telemetry::catalog::{Device, Site};
use telemetry::{Catalog, DeviceInfo};

/// The built-in catalog's text.
const SCENARIOS: &str = include_str!("../../catalog/scenarios.json");

/// The kind id of process machines.
pub const PROCESS: &str = "process";
/// The kind id of drilling rigs.
pub const DRILL: &str = "drill";

/// The built-in catalog: the scenarios' kinds.
pub fn scenarios() -> Catalog {
    let mut catalog: Catalog = serde_json::from_str(SCENARIOS).expect("the built-in catalog is valid JSON");
    debug_assert!(catalog.problems().is_empty(), "the built-in catalog is valid");
    catalog
}

/// The built-in kinds with the devices of `registry` and the `sites` declared.
pub fn with_devices<'a>(registry: impl Iterator<Item = &'a DeviceInfo>, sites: &[String]) -> Catalog {
    let mut catalog = scenarios();
    catalog.devices = registry
        .map(|d| Device {
            id: d.id.clone(),
            name: d.name.clone(),
            kind: d.kind.clone(),
            site: d.site.clone(),
            ..Device::default()
        })
        .collect();
    catalog.sites = sites.iter().map(|id| Site { id: id.clone(), name: site_name(id), ..Site::default() }).collect();
    catalog
}

/// `old-town` → `Old town`.
fn site_name(id: &str) -> String {
    let words = id.replace(['-', '_'], " ");
    let mut chars = words.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_catalog_declares_both_scenarios_with_limits() {
        let mut catalog = scenarios();
        assert!(catalog.problems().is_empty());
        let temperature = catalog.metric(PROCESS, "temperature").unwrap();
        assert_eq!(temperature.unit, "°C");
        assert_eq!(temperature.limits.len(), 2);
        assert!(catalog.metric(DRILL, "power").is_some());
        assert!(catalog.is_vehicle_kind("vehicle"));
        assert_eq!(site_name("old-town"), "Old town");
    }
}

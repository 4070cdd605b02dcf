//! The simulator's own world, declared the way any backend declares its own: the built-in
//! catalog (`catalog/scenarios.json`: process machines and drilling rigs with their metrics,
//! units and limits), plus the devices and sites of the running scenarios, plus what a file of
//! the user's own declares (`--catalog FILE`, [`load`]). The alert rules take their limits from
//! it, so the lines a dashboard draws are where the alerts fire.

use std::path::Path;

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

/// A catalog file: the document of `telemetry::catalog`, as a backend would serve it. `Err`
/// names the file and says what is wrong (unreadable, or not a catalog: serde's message with
/// its line and column); the entries it cannot use are dropped and returned, one line each.
pub fn load(path: &Path) -> Result<(Catalog, Vec<String>), String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("cannot read the catalog file {}: {e}", path.display()))?;
    let mut catalog: Catalog = serde_json::from_str(&text).map_err(|e| {
        format!("{} is not a catalog (the document of crates/telemetry/src/catalog.rs): {e}", path.display())
    })?;
    let problems = catalog.problems();
    Ok((catalog, problems))
}

/// `old-town` → `Old town`.
pub fn site_name(id: &str) -> String {
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

    #[test]
    fn a_file_loads_with_its_unusable_entries_named_or_fails_naming_itself() {
        let dir = std::env::temp_dir().join(format!("catalog-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("mixed.json");
        std::fs::write(&file, r#"{"kinds":[{"id":"ok"},{"id":"bad","metrics":[{"id":"m","min":3,"max":1}]}]}"#)
            .unwrap();
        let (catalog, problems) = load(&file).unwrap();
        assert_eq!(catalog.kinds.len(), 1);
        assert!(problems[0].contains("\"bad\""), "{problems:?}");
        std::fs::write(&file, r#"{"kinds":{"id":"ok"}}"#).unwrap();
        let error = load(&file).unwrap_err();
        assert!(error.contains("mixed.json") && error.contains("line 1"), "{error}");
        let error = load(&dir.join("missing.json")).unwrap_err();
        assert!(error.contains("missing.json") && error.contains("cannot read"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

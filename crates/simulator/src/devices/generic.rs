//! Devices of any kind a catalog declares (`--catalog FILE`), simulated from the declaration
//! alone: every metric of the device's kind wanders within its expected range (`min`..`max`,
//! or a range made from its limits when they are absent) on the right side of its limits, and
//! now and then makes an excursion past one of them, in turn, holds there a while and comes
//! back, so the catalog-driven alert rules raise the alarm and clear it (with hysteresis) as
//! they would for a real device. Status is running, fault while past a critical limit, and
//! now and then stopped for maintenance (values hold).
//!
//! Deterministic for a seed; each device draws from its own generator, seeded with the seed and
//! its id, so adding a device to the file does not change the others' data.

use std::collections::HashSet;

use telemetry::catalog::{Device, Direction, Kind, Metric};
use telemetry::{groups, Catalog, DeviceInfo, DeviceStatus, Reading, Severity};

use crate::devices::rng::SplitMix64;
use crate::functions::world::World;

/// Chance per second that a metric starts an excursion past one of its limits: about twelve an
/// hour, so each limit of a metric with two is crossed about six times an hour.
const EXCURSION_PER_SECOND: f64 = 1.0 / 300.0;
/// Chance per second that a device stops for maintenance.
const STOP_PER_SECOND: f64 = 1.0 / 1800.0;
/// How far past a limit an excursion goes, as a share of the metric's range.
const OVERSHOOT: f64 = 0.08;

/// Why `device` is not simulated from `catalog`, if it is not: a vehicle kind (the fleet is the
/// built-in one), a kind the catalog does not declare, or no site to publish its readings to.
pub fn unsimulated(catalog: &Catalog, device: &Device) -> Option<String> {
    if device.removed {
        return Some("removed".into());
    }
    if device.kind.is_empty() {
        return Some("no kind: listed, not simulated".into());
    }
    if device.site.is_empty() {
        return Some("no site, so its readings would reach no dashboard: listed, not simulated".into());
    }
    if catalog.is_vehicle_kind(&device.kind) {
        return Some(format!("kind {:?} is a vehicle kind: declared only, not simulated", device.kind));
    }
    if catalog.kind(&device.kind).is_none() {
        return Some(format!("kind {:?} is not declared: listed, not simulated", device.kind));
    }
    if !groups::is_valid(&groups::site(&device.site)) {
        return Some(format!(
            "site {:?} is not a site id (letters, digits, -, _, .): listed, not simulated",
            device.site
        ));
    }
    None
}

/// A `--catalog` file at start: the functions' world adopts it ([`World::adopt`]: kinds,
/// devices, sites, alert rules), and the devices it declares are simulated, those that can be
/// ([`unsimulated`]; each that cannot is logged with why) and that are not running already
/// (a file may rename a built-in device: it keeps reporting as it did).
pub fn from_file(world: &mut World, file: Catalog, seed: u64) -> Generic {
    let running: HashSet<String> = world.devices.iter().map(|d| d.id.clone()).collect();
    let declared: Vec<String> = file.devices.iter().filter(|d| !d.removed).map(|d| d.id.clone()).collect();
    world.adopt(file, crate::unix_millis());
    let devices: Vec<Device> = declared
        .iter()
        .filter(|id| !running.contains(*id))
        .filter_map(|id| world.catalog.device(id).cloned())
        .collect();
    for device in &devices {
        match unsimulated(&world.catalog, device) {
            None => {}
            Some(reason) if world.catalog.is_vehicle_kind(&device.kind) => {
                tracing::info!(device = %device.id, %reason, "--catalog");
            }
            Some(reason) => tracing::warn!(device = %device.id, %reason, "--catalog"),
        }
    }
    Generic::new(seed, &world.catalog, &devices)
}

/// The simulated devices of a catalog.
#[derive(Debug, Clone)]
pub struct Generic {
    devices: Vec<SimDevice>,
}

#[derive(Debug, Clone)]
struct SimDevice {
    info: DeviceInfo,
    metrics: Vec<SimMetric>,
    status: DeviceStatus,
    /// Seconds of maintenance left (values hold).
    stopped: f64,
    rng: SplitMix64,
}

/// One limit as the scenario uses it: which way, where, and where an excursion past it goes.
#[derive(Debug, Clone, Copy)]
struct Line {
    direction: Direction,
    threshold: f64,
    /// The value an excursion holds at: past the threshold by a margin.
    peak: f64,
    critical: bool,
}

#[derive(Debug, Clone)]
struct SimMetric {
    id: String,
    /// The range: the declared `min`..`max`, or one made from the limits.
    range: (f64, f64),
    /// Where normal values stay: the range, on the normal side of every clear level.
    band: (f64, f64),
    lines: Vec<Line>,
    /// Reported with one more decimal than shown.
    decimals: i32,
    /// How far past a limit an excursion goes.
    overshoot: f64,
    value: f64,
    /// Noise on top of `value` while an excursion holds (never as large as the overshoot).
    jitter: f64,
    /// What the value wanders around.
    centre: f64,
    phase: Phase,
    /// The limit the next excursion goes past (in turn, so each is crossed).
    next_line: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Normal,
    /// Going to `to` at `speed` units a second, then holding for `hold` seconds.
    Out {
        to: f64,
        speed: f64,
        hold: f64,
    },
    /// Coming back to the centre at `speed` units a second.
    Back {
        speed: f64,
    },
}

impl Generic {
    /// The devices among `devices` that `catalog` lets simulate ([`unsimulated`] says why not
    /// the others), each with every metric of its kind.
    pub fn new<'a>(seed: u64, catalog: &Catalog, devices: impl IntoIterator<Item = &'a Device>) -> Self {
        let devices = devices
            .into_iter()
            .filter(|d| unsimulated(catalog, d).is_none())
            .filter_map(|d| Some((d, catalog.kind(&d.kind)?)))
            .map(|(device, kind)| SimDevice::new(seed, device, kind))
            .collect();
        Self { devices }
    }

    /// The registry entries of the simulated devices.
    pub fn registry(&self) -> impl Iterator<Item = &DeviceInfo> {
        self.devices.iter().map(|d| &d.info)
    }

    pub fn len(&self) -> usize {
        self.devices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }

    /// Advances every device by `dt` seconds.
    pub fn step(&mut self, dt: f64) {
        for device in &mut self.devices {
            device.step(dt);
        }
    }

    /// Current readings stamped with `ts` (Unix ms), one per device with every metric.
    pub fn readings(&self, ts: i64) -> Vec<Reading> {
        self.devices
            .iter()
            .map(|d| Reading {
                device: d.info.id.clone(),
                kind: d.info.kind.clone(),
                ts,
                site: d.info.site.clone(),
                status: d.status,
                values: d.metrics.iter().map(|m| (m.id.clone(), m.reported())).collect(),
            })
            .collect()
    }
}

fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

/// FNV-1a: a device's own seed from its id, stable across versions.
fn hash(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3))
}

impl SimDevice {
    fn new(seed: u64, device: &Device, kind: &Kind) -> Self {
        let mut rng = SplitMix64::new(seed ^ hash(&device.id) ^ 0x6E6E_7269_6300_0000);
        let metrics = kind.metrics.iter().map(|m| SimMetric::new(m, &mut rng)).collect();
        let name = if device.name.is_empty() { device.id.clone() } else { device.name.clone() };
        let info = DeviceInfo { id: device.id.clone(), name, kind: device.kind.clone(), site: device.site.clone() };
        Self { info, metrics, status: DeviceStatus::Running, stopped: 0.0, rng }
    }

    fn step(&mut self, dt: f64) {
        if self.stopped > 0.0 {
            self.stopped -= dt;
            self.status = DeviceStatus::Stopped;
            return;
        }
        let calm = self.metrics.iter().all(|m| m.phase == Phase::Normal);
        if calm && self.rng.next_f64() < (STOP_PER_SECOND * dt).min(1.0) {
            self.stopped = self.rng.range_f64(20.0, 60.0);
            self.status = DeviceStatus::Stopped;
            return;
        }
        for metric in &mut self.metrics {
            metric.step(dt, &mut self.rng);
        }
        let past_critical = self.metrics.iter().any(|m| m.lines.iter().any(|l| l.critical && l.past(m.reported())));
        self.status = if past_critical { DeviceStatus::Fault } else { DeviceStatus::Running };
    }
}

impl Line {
    fn past(&self, value: f64) -> bool {
        match self.direction {
            Direction::Above => value > self.threshold,
            Direction::Below => value < self.threshold,
        }
    }
}

/// The range of a metric: `min`..`max` as declared; what is missing made from its limits (from
/// 0, or below the lowest limit when that is negative, to as far above the highest as the
/// limits span, at least 1); 0..100 when nothing is declared.
fn range(metric: &Metric) -> (f64, f64) {
    let levels: Vec<f64> = metric.limits.iter().flat_map(|l| [l.above, l.below, l.clear]).flatten().collect();
    let (low, high) = levels.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let (lo, hi) = match (metric.min, metric.max, levels.is_empty()) {
        (Some(min), Some(max), _) => (min, max),
        (min, max, true) => {
            let lo = min.unwrap_or_else(|| max.map_or(0.0, |max| (max - 100.0).min(0.0)));
            (lo, max.unwrap_or(lo + 100.0))
        }
        (min, max, false) => {
            let span = (high - low).max(high.abs()).max(low.abs()).max(1.0);
            let lo = min.unwrap_or(if low >= 0.0 { 0.0 } else { low - span });
            (lo, max.unwrap_or(high + span))
        }
    };
    if hi > lo {
        (lo, hi)
    } else {
        (lo, lo + (lo.abs() * 0.5).max(1.0))
    }
}

impl SimMetric {
    fn new(metric: &Metric, rng: &mut SplitMix64) -> Self {
        let range = range(metric);
        let width = range.1 - range.0;
        let decimals = metric.decimals as i32 + 1;
        // A margin past the limit the rules see after rounding and that noise never undoes.
        let overshoot = (OVERSHOOT * width).max(2.0 * 10f64.powi(-decimals));
        let (mut lo, mut hi) = range;
        let mut lines = Vec::new();
        for limit in &metric.limits {
            let Some((direction, threshold)) = limit.threshold() else { continue };
            let clear = limit.clear.unwrap_or(threshold);
            let peak = match direction {
                Direction::Above => {
                    hi = hi.min(clear);
                    threshold + overshoot
                }
                Direction::Below => {
                    lo = lo.max(clear);
                    threshold - overshoot
                }
            };
            lines.push(Line { direction, threshold, peak, critical: limit.severity == Severity::Critical });
        }
        // Limits that leave no room between them: the middle.
        let band = if hi > lo {
            let inset = (hi - lo) * 0.05;
            (lo + inset, hi - inset)
        } else {
            let middle = (lo + hi) / 2.0;
            (middle, middle)
        };
        let centre = rng.range_f64(band.0 + (band.1 - band.0) * 0.3, band.1 - (band.1 - band.0) * 0.3);
        SimMetric {
            id: metric.id.clone(),
            range,
            band,
            lines,
            decimals,
            overshoot,
            value: centre,
            jitter: 0.0,
            centre,
            phase: Phase::Normal,
            next_line: 0,
        }
    }

    /// The value a reading carries.
    fn reported(&self) -> f64 {
        round(self.value + self.jitter, self.decimals)
    }

    fn step(&mut self, dt: f64, rng: &mut SplitMix64) {
        let width = self.range.1 - self.range.0;
        self.jitter = 0.0;
        let noise = |rng: &mut SplitMix64, amplitude: f64| amplitude * (rng.next_f64() * 2.0 - 1.0);
        match self.phase {
            Phase::Normal => {
                let (lo, hi) = self.band;
                let core = (lo + (hi - lo) * 0.2, hi - (hi - lo) * 0.2);
                self.centre = (self.centre + noise(rng, 0.01 * width * dt.sqrt())).clamp(core.0, core.1);
                self.value += (self.centre - self.value) * (1.0 - (-0.1 * dt).exp());
                self.value = (self.value + noise(rng, 0.004 * width * dt.sqrt())).clamp(lo, hi);
                if !self.lines.is_empty() && rng.next_f64() < (EXCURSION_PER_SECOND * dt).min(1.0) {
                    let line = self.lines[self.next_line % self.lines.len()];
                    self.next_line = (self.next_line + 1) % self.lines.len();
                    let ramp = rng.range_f64(5.0, 15.0);
                    let speed = (line.peak - self.value).abs() / ramp;
                    self.phase = Phase::Out { to: line.peak, speed, hold: rng.range_f64(10.0, 30.0) };
                }
            }
            Phase::Out { to, speed, hold } => {
                if self.value != to {
                    self.value = towards(self.value, to, speed * dt);
                } else if hold > dt {
                    self.jitter = noise(rng, 0.25 * self.overshoot);
                    self.phase = Phase::Out { to, speed, hold: hold - dt };
                } else {
                    let ramp = rng.range_f64(5.0, 15.0);
                    self.phase = Phase::Back { speed: (self.centre - self.value).abs() / ramp };
                }
            }
            Phase::Back { speed } => {
                self.value = towards(self.value, self.centre, speed * dt);
                if self.value == self.centre {
                    self.phase = Phase::Normal;
                }
            }
        }
    }
}

/// `value` moved by at most `step` towards `target`, landing on it exactly.
fn towards(value: f64, target: f64, step: f64) -> f64 {
    if (target - value).abs() <= step {
        target
    } else {
        value + step.copysign(target - value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pumps() -> Catalog {
        serde_json::from_str(include_str!("../../catalog/example-pumps.json")).unwrap()
    }

    fn run(seed: u64, steps: usize) -> Vec<Reading> {
        let catalog = pumps();
        let mut generic = Generic::new(seed, &catalog, &catalog.devices);
        let mut all = Vec::new();
        for s in 0..steps {
            generic.step(1.0);
            all.extend(generic.readings(s as i64 * 1000));
        }
        all
    }

    #[test]
    fn the_same_seed_replays_the_same_readings_and_another_does_not() {
        assert_eq!(run(7, 600), run(7, 600));
        assert_ne!(run(7, 600), run(8, 600));
    }

    #[test]
    fn every_declared_device_reports_every_metric_of_its_kind_with_finite_values() {
        let catalog = pumps();
        let generic = Generic::new(1, &catalog, &catalog.devices);
        assert_eq!(generic.len(), 3);
        let readings = run(1, 3600);
        for reading in &readings {
            assert_eq!(reading.kind, "pump");
            assert_eq!(reading.values.keys().collect::<Vec<_>>(), ["flow", "pressure"]);
            assert!(reading.values.values().all(|v| v.is_finite()), "{reading:?}");
        }
        assert!(readings.iter().all(|r| r.status != DeviceStatus::Fault || r.values["pressure"] < 1.0));
    }

    #[test]
    fn within_an_hour_each_limit_is_crossed_and_normal_values_stay_inside_it() {
        let readings = run(42, 3600);
        let devices: std::collections::BTreeSet<&str> = readings.iter().map(|r| r.device.as_str()).collect();
        for device in devices {
            let mine: Vec<&Reading> = readings.iter().filter(|r| r.device == device).collect();
            assert!(mine.iter().any(|r| r.values["flow"] > 300.0), "{device}: flow above its warning limit");
            assert!(mine.iter().any(|r| r.values["pressure"] < 1.0), "{device}: pressure below its critical limit");
            // Most of the time they are in their normal band, inside the range.
            let normal = mine.iter().filter(|r| (0.0..280.0).contains(&r.values["flow"])).count();
            assert!(normal > mine.len() * 3 / 4, "{device}: {normal} of {} normal", mine.len());
            assert!(mine.iter().all(|r| r.values["flow"] < 400.0 && r.values["flow"] >= 0.0));
        }
    }

    #[test]
    fn ranges_come_from_the_limits_when_min_and_max_are_absent() {
        let metric = |json: &str| serde_json::from_str::<Metric>(json).unwrap();
        assert_eq!(range(&metric(r#"{"id":"a"}"#)), (0.0, 100.0));
        assert_eq!(range(&metric(r#"{"id":"a","min":5,"max":9}"#)), (5.0, 9.0));
        let pressure = metric(r#"{"id":"p","limits":[{"severity":"critical","below":1.0,"clear":1.2}]}"#);
        assert_eq!(range(&pressure), (0.0, 2.4));
        let cold = metric(r#"{"id":"t","limits":[{"severity":"warning","above":-18,"clear":-20}]}"#);
        let (lo, hi) = range(&cold);
        assert!(lo < -20.0 && hi > -18.0, "{lo} {hi}");
    }

    #[test]
    fn vehicles_undeclared_kinds_and_siteless_devices_are_not_simulated() {
        let catalog: Catalog = serde_json::from_str(
            r#"{ "kinds": [{ "id": "pump", "metrics": [{ "id": "flow" }] }],
                 "vehicleKinds": [{ "id": "van" }],
                 "devices": [{ "id": "v1", "kind": "van", "site": "a" }, { "id": "x", "kind": "nope", "site": "a" },
                             { "id": "p0", "kind": "pump" }, { "id": "p1", "kind": "pump", "site": "a" }] }"#,
        )
        .unwrap();
        let reasons: Vec<_> = catalog.devices.iter().map(|d| unsimulated(&catalog, d)).collect();
        assert!(reasons[0].as_deref().unwrap().contains("vehicle"));
        assert!(reasons[1].as_deref().unwrap().contains("not declared"));
        assert!(reasons[2].as_deref().unwrap().contains("site"));
        assert!(reasons[3].is_none());
        let generic = Generic::new(1, &catalog, &catalog.devices);
        assert_eq!(generic.registry().map(|d| d.id.as_str()).collect::<Vec<_>>(), ["p1"]);
        assert_eq!(generic.registry().next().unwrap().name, "p1", "named by its id when the catalog names it not");
    }
}

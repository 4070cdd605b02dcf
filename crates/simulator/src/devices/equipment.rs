//! Stationary equipment: process machines (temperature, pressure) and drilling rigs (rpm,
//! power, angle), each with a status (running, stopped, fault).
//!
//! Values follow slow drifts plus noise, and now and then an *event* the alert rules should
//! catch: a machine overheating (temperature rising fast, pressure following), a rig
//! stick-slipping (rpm swinging) or overloading (power spike), a rig drifting off its angle.
//! Deterministic for a seed.

use std::collections::BTreeMap;

use telemetry::{DeviceInfo, DeviceStatus, Reading};

use crate::devices::catalog::{DRILL, PROCESS};

use crate::devices::rng::SplitMix64;

/// Which scenario a device plays (its catalog kind is [`DeviceKind::id`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeviceKind {
    Process,
    Drill,
}

impl DeviceKind {
    fn id(self) -> &'static str {
        match self {
            DeviceKind::Process => PROCESS,
            DeviceKind::Drill => DRILL,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Event {
    None,
    /// Heating at `rate` °C/s for `left` more seconds, then cooling back.
    Overheat {
        rate: f64,
        left: f64,
    },
    Cooling,
    StickSlip {
        left: f64,
        phase: f64,
    },
    Overload {
        left: f64,
    },
    AngleDrift {
        left: f64,
    },
    /// Stopped for maintenance for `left` seconds.
    Stopped {
        left: f64,
    },
}

#[derive(Debug, Clone)]
struct Device {
    info: DeviceInfo,
    kind: DeviceKind,
    status: DeviceStatus,
    event: Event,
    /// Metric name → current value.
    values: BTreeMap<&'static str, f64>,
    /// Metric name → the value it settles at.
    base: BTreeMap<&'static str, f64>,
}

/// All equipment of the simulation.
#[derive(Debug, Clone)]
pub struct Equipment {
    devices: Vec<Device>,
    rng: SplitMix64,
}

/// Ambient temperature a stopped machine cools towards.
const AMBIENT: f64 = 22.0;

impl Equipment {
    /// `machines` process machines and `rigs` drilling rigs spread over `sites`.
    pub fn new(seed: u64, machines: usize, rigs: usize, sites: &[&str]) -> Self {
        let mut rng = SplitMix64::new(seed ^ 0xE0E0_E0E0);
        let mut devices = Vec::with_capacity(machines + rigs);
        for i in 0..machines {
            let temperature = rng.range_f64(62.0, 74.0);
            let pressure = rng.range_f64(4.0, 5.5);
            let base = BTreeMap::from([("temperature", temperature), ("pressure", pressure)]);
            devices.push(Device {
                info: DeviceInfo {
                    id: format!("press-{:02}", i + 1),
                    name: format!("Process machine {}", i + 1),
                    kind: PROCESS.into(),
                    site: sites[i % sites.len()].to_string(),
                },
                kind: DeviceKind::Process,
                status: DeviceStatus::Running,
                event: Event::None,
                values: base.clone(),
                base,
            });
        }
        for i in 0..rigs {
            let base = BTreeMap::from([
                ("rpm", rng.range_f64(105.0, 125.0)),
                ("power", rng.range_f64(650.0, 850.0)),
                ("angle", rng.range_f64(0.5, 3.0)),
            ]);
            devices.push(Device {
                info: DeviceInfo {
                    id: format!("rig-{:02}", i + 1),
                    name: format!("Drilling rig {}", i + 1),
                    kind: DRILL.into(),
                    site: sites[(i + machines) % sites.len()].to_string(),
                },
                kind: DeviceKind::Drill,
                status: DeviceStatus::Running,
                event: Event::None,
                values: base.clone(),
                base,
            });
        }
        Self { devices, rng }
    }

    /// The registry entries of every device.
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
            step_device(device, dt, &mut self.rng);
        }
    }

    /// Current readings stamped with `ts` (Unix ms).
    pub fn readings(&self, ts: i64) -> Vec<Reading> {
        self.devices
            .iter()
            .map(|d| Reading {
                device: d.info.id.clone(),
                kind: d.kind.id().into(),
                ts,
                site: d.info.site.clone(),
                status: d.status,
                values: d.values.iter().map(|(k, v)| (k.to_string(), (v * 100.0).round() / 100.0)).collect(),
            })
            .collect()
    }
}

/// Moves `value` a fraction of the way to `target` (first-order lag).
fn approach(value: &mut f64, target: f64, rate: f64, dt: f64) {
    *value += (target - *value) * (1.0 - (-rate * dt).exp());
}

fn step_device(d: &mut Device, dt: f64, rng: &mut SplitMix64) {
    // Maybe start an event.
    if d.event == Event::None {
        let roll = rng.next_f64();
        let per_second = |p: f64| p * dt;
        d.event = match d.kind {
            DeviceKind::Process if roll < per_second(0.004) => {
                Event::Overheat { rate: rng.range_f64(1.6, 3.0), left: rng.range_f64(15.0, 25.0) }
            }
            DeviceKind::Process if roll < per_second(0.005) => Event::Stopped { left: rng.range_f64(20.0, 60.0) },
            DeviceKind::Drill if roll < per_second(0.004) => {
                Event::StickSlip { left: rng.range_f64(10.0, 20.0), phase: 0.0 }
            }
            DeviceKind::Drill if roll < per_second(0.006) => Event::Overload { left: rng.range_f64(5.0, 12.0) },
            DeviceKind::Drill if roll < per_second(0.007) => Event::AngleDrift { left: rng.range_f64(20.0, 40.0) },
            _ => Event::None,
        };
    }
    let noise = |rng: &mut SplitMix64, amplitude: f64| amplitude * (rng.next_f64() * 2.0 - 1.0);
    let base = d.base.clone();
    match (d.kind, d.event) {
        (DeviceKind::Process, Event::Overheat { rate, left }) => {
            *d.values.get_mut("temperature").expect("process metric") += rate * dt;
            *d.values.get_mut("pressure").expect("process metric") += rate * 0.05 * dt;
            let left = left - dt;
            d.event = if left <= 0.0 { Event::Cooling } else { Event::Overheat { rate, left } };
        }
        (DeviceKind::Process, Event::Stopped { left }) => {
            d.status = DeviceStatus::Stopped;
            approach(d.values.get_mut("temperature").expect("process metric"), AMBIENT, 0.05, dt);
            approach(d.values.get_mut("pressure").expect("process metric"), 1.0, 0.1, dt);
            let left = left - dt;
            if left <= 0.0 {
                d.event = Event::Cooling;
            } else {
                d.event = Event::Stopped { left };
            }
        }
        (DeviceKind::Process, _) => {
            d.status = DeviceStatus::Running;
            approach(d.values.get_mut("temperature").expect("process metric"), base["temperature"], 0.08, dt);
            approach(d.values.get_mut("pressure").expect("process metric"), base["pressure"], 0.1, dt);
            *d.values.get_mut("temperature").expect("process metric") += noise(rng, 0.15);
            *d.values.get_mut("pressure").expect("process metric") += noise(rng, 0.02);
            if d.event == Event::Cooling && (d.values["temperature"] - base["temperature"]).abs() < 1.0 {
                d.event = Event::None;
            }
        }
        (DeviceKind::Drill, event) => {
            d.status = DeviceStatus::Running;
            let (mut rpm, mut power, mut angle) = (base["rpm"], base["power"], base["angle"]);
            d.event = match event {
                Event::StickSlip { left, phase } => {
                    rpm += 70.0 * (phase * 0.8).sin();
                    power += 150.0 * (phase * 0.8).cos().abs();
                    if left - dt <= 0.0 {
                        Event::None
                    } else {
                        Event::StickSlip { left: left - dt, phase: phase + dt }
                    }
                }
                Event::Overload { left } => {
                    power *= 1.65;
                    d.status = DeviceStatus::Fault;
                    if left - dt <= 0.0 {
                        Event::None
                    } else {
                        Event::Overload { left: left - dt }
                    }
                }
                Event::AngleDrift { left } => {
                    angle += 7.5;
                    if left - dt <= 0.0 {
                        Event::None
                    } else {
                        Event::AngleDrift { left: left - dt }
                    }
                }
                other => other,
            };
            approach(d.values.get_mut("rpm").expect("drill metric"), rpm, 2.0, dt);
            approach(d.values.get_mut("power").expect("drill metric"), power, 0.7, dt);
            approach(d.values.get_mut("angle").expect("drill metric"), angle, 0.15, dt);
            *d.values.get_mut("rpm").expect("drill metric") += noise(rng, 1.0);
            *d.values.get_mut("power").expect("drill metric") += noise(rng, 8.0);
            *d.values.get_mut("angle").expect("drill metric") += noise(rng, 0.03);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITES: [&str; 2] = ["a", "b"];

    #[test]
    fn same_seed_same_readings() {
        let mut one = Equipment::new(9, 4, 3, &SITES);
        let mut two = Equipment::new(9, 4, 3, &SITES);
        for _ in 0..300 {
            one.step(1.0);
            two.step(1.0);
        }
        assert_eq!(one.readings(0), two.readings(0));
    }

    #[test]
    fn machines_and_rigs_report_their_metrics_and_sites() {
        let equipment = Equipment::new(1, 2, 2, &SITES);
        let readings = equipment.readings(5);
        assert_eq!(readings.len(), 4);
        assert_eq!(readings[0].values.keys().collect::<Vec<_>>(), ["pressure", "temperature"]);
        assert_eq!(readings[3].values.keys().collect::<Vec<_>>(), ["angle", "power", "rpm"]);
        let registry: Vec<_> = equipment.registry().collect();
        assert_eq!(registry[0].id, "press-01");
        assert_eq!(registry[2].kind, DRILL);
        assert!(registry.iter().all(|d| SITES.contains(&d.site.as_str())));
    }

    #[test]
    fn an_hour_shows_every_kind_of_event() {
        let mut equipment = Equipment::new(3, 6, 6, &SITES);
        let (mut hot, mut stopped, mut fault, mut fast_rpm, mut tilted) = (false, false, false, false, false);
        for _ in 0..3600 {
            equipment.step(1.0);
            for r in equipment.readings(0) {
                hot |= r.values.get("temperature").is_some_and(|t| *t > 95.0);
                stopped |= r.status == DeviceStatus::Stopped;
                fault |= r.status == DeviceStatus::Fault;
                fast_rpm |= r.values.get("rpm").is_some_and(|v| *v > 160.0);
                tilted |= r.values.get("angle").is_some_and(|v| *v > 8.0);
                assert!(r.values.values().all(|v| v.is_finite()));
            }
        }
        assert!(hot && stopped && fault && fast_rpm && tilted, "{hot} {stopped} {fault} {fast_rpm} {tilted}");
    }
}

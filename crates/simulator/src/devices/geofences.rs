//! Geofence rules over vehicle positions: per vehicle and fence of the catalog
//! ([`telemetry::catalog::Geofence`]), an alert when the vehicle enters, when it leaves, when
//! it stays inside longer than the fence's `dwellMinutes` and when it drives faster than the
//! fence's `speedLimit` inside. Each has a stable metric, `geofence:<fenceId>:enter`
//! (`:exit`, `:dwell`, `:speed`), so a dashboard folds the repeats of one vehicle and fence.
//!
//! * **Enter** and **exit** are events (info): raised and cleared in the same breath, never
//!   held open nor left waiting for an acknowledgement (an info event needs none, and a busy
//!   fence would otherwise push real alarms out of the bounded list of those returned to
//!   normal). They are in the history's alert log like every alert.
//! * **Dwell** (warning) is raised once the vehicle has been inside longer than the limit, and
//!   cleared when it leaves.
//! * **Speeding** (warning) is raised once the speed inside goes past the limit, and cleared
//!   when it is back below the limit minus [`SPEED_HYSTERESIS_KMH`] or the vehicle leaves.
//!
//! Flood care, as the other rules: each condition is raised once per vehicle and fence and
//! stays one open alert until it clears; a vehicle already inside when the rules first see it
//! (at start, or when a fence is saved around it) is inside without an enter event (it crossed
//! nothing), its stay counted from then; and whether a vehicle is inside changes at most once
//! every [`MIN_EVENT_GAP_MS`] per fence, so one driving along a fence's edge cannot chatter
//! (the change waits, then happens if it still holds). Memory is per vehicle inside a fence,
//! not per vehicle and fence.

use std::collections::{BTreeMap, HashMap};

use telemetry::catalog::{Geofence, LatLon};
use telemetry::{Alert, Millis, Position, Severity};

/// How far below the speed limit (km/h) a speeding alert clears (for a limit under 10 km/h,
/// at half the limit, so it can clear at all).
pub const SPEED_HYSTERESIS_KMH: f64 = 5.0;

/// Least time between two changes of whether a vehicle is inside a fence (see the module docs).
pub const MIN_EVENT_GAP_MS: Millis = 5_000;

/// The four rules of a fence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FenceRule {
    Enter,
    Exit,
    Dwell,
    Speed,
}

impl FenceRule {
    pub fn as_str(self) -> &'static str {
        match self {
            FenceRule::Enter => "enter",
            FenceRule::Exit => "exit",
            FenceRule::Dwell => "dwell",
            FenceRule::Speed => "speed",
        }
    }
}

/// The metric of a fence rule's alerts: `geofence:<fenceId>:<rule>`.
pub fn metric(fence: &str, rule: FenceRule) -> String {
    format!("geofence:{fence}:{}", rule.as_str())
}

/// A fence watched, with its box for a quick no.
struct Watched {
    fence: Geofence,
    sw: LatLon,
    ne: LatLon,
    /// The version of the fence set it came in with (a vehicle seen before then is seen
    /// against it for the first time at its next report).
    added: u64,
}

impl Watched {
    fn contains(&self, lat: f64, lon: f64) -> bool {
        lat >= self.sw.lat
            && lat <= self.ne.lat
            && lon >= self.sw.lon
            && lon <= self.ne.lon
            && self.fence.contains(lat, lon)
    }

    fn name(&self) -> &str {
        if self.fence.name.is_empty() {
            &self.fence.id
        } else {
            &self.fence.name
        }
    }
}

/// One vehicle's stay in one fence.
#[derive(Debug, Clone)]
struct Presence {
    /// Index into the watched fences.
    fence: usize,
    /// Inside, as the rules said last.
    inside: bool,
    /// When that last changed.
    changed: Millis,
}

/// What the rules know of one vehicle.
#[derive(Debug, Clone, Default)]
struct Track {
    /// The fence set version when it was last seen.
    seen: u64,
    presences: Vec<Presence>,
}

/// What one observation changed.
#[derive(Debug, Default, PartialEq)]
pub struct Outcome {
    /// Conditions raised (dwell, speeding): open until they end.
    pub raised: Vec<Alert>,
    /// Conditions over, with when.
    pub ended: Vec<(Alert, Millis)>,
    /// Enter and exit events: raised and over at once.
    pub events: Vec<Alert>,
}

/// The fences and what the vehicles are doing in them.
#[derive(Default)]
pub struct FenceRules {
    fences: Vec<Watched>,
    version: u64,
    tracks: HashMap<String, Track>,
    /// (vehicle, fence id, rule) → the open alert (dwell and speeding only).
    open: BTreeMap<(String, String, FenceRule), Alert>,
}

impl FenceRules {
    /// The fences watched (usable ones: a fence without exactly one shape is left out).
    pub fn fences(&self) -> impl Iterator<Item = &Geofence> {
        self.fences.iter().map(|w| &w.fence)
    }

    /// Open alerts (dwell and speeding).
    pub fn open(&self) -> impl Iterator<Item = &Alert> {
        self.open.values()
    }

    pub fn is_open(&self, id: &str) -> bool {
        self.open.values().any(|a| a.id == id)
    }

    /// Replaces the fences (the catalog changed). A fence keeps its id's vehicles inside and
    /// their open alerts; its new shape decides at their next report (an exit, maybe) and its
    /// new limits from now on. Alerts of a fence gone, or of a limit it no longer has, end at
    /// `ts`: they are returned.
    pub fn set_fences(&mut self, fences: Vec<Geofence>, ts: Millis) -> Vec<(Alert, Millis)> {
        self.version += 1;
        let old: HashMap<String, (usize, u64)> =
            self.fences.iter().enumerate().map(|(index, w)| (w.fence.id.clone(), (index, w.added))).collect();
        let mut remap: HashMap<usize, usize> = HashMap::new();
        let mut watched = Vec::with_capacity(fences.len());
        for fence in fences {
            if fence.removed || watched.iter().any(|w: &Watched| w.fence.id == fence.id) {
                continue;
            }
            let Some((sw, ne)) = fence.bounds() else { continue };
            let added = match old.get(&fence.id) {
                Some(&(index, added)) => {
                    remap.insert(index, watched.len());
                    added
                }
                None => self.version,
            };
            watched.push(Watched { fence, sw, ne, added });
        }
        self.fences = watched;
        for track in self.tracks.values_mut() {
            track.presences.retain_mut(|p| match remap.get(&p.fence) {
                Some(&index) => {
                    p.fence = index;
                    true
                }
                None => false,
            });
        }
        let mut ended = Vec::new();
        let fences = &self.fences;
        self.open.retain(|(_, fence, rule), alert| {
            let kept = fences.iter().find(|w| &w.fence.id == fence).is_some_and(|w| match rule {
                FenceRule::Dwell => w.fence.dwell_minutes.is_some(),
                FenceRule::Speed => w.fence.speed_limit.is_some(),
                FenceRule::Enter | FenceRule::Exit => false,
            });
            if !kept {
                ended.push((alert.clone(), ts));
            }
            kept
        });
        ended
    }

    /// Runs every fence's rules over a batch of positions; `next_id` names new alerts.
    pub fn observe(&mut self, positions: &[Position], next_id: &mut impl FnMut() -> String) -> Outcome {
        let mut outcome = Outcome::default();
        if self.fences.is_empty() {
            return outcome;
        }
        for position in positions {
            self.observe_one(position, next_id, &mut outcome);
        }
        outcome
    }

    fn observe_one(&mut self, p: &Position, next_id: &mut impl FnMut() -> String, outcome: &mut Outcome) {
        let version = self.version;
        // Taken out and put back with its own key: only a vehicle seen for the first time
        // costs a copy of its id.
        let (key, mut track) = self.tracks.remove_entry(&p.id).unwrap_or_else(|| (p.id.clone(), Track::default()));
        let track = &mut track;
        let alert =
            |next_id: &mut dyn FnMut() -> String, w: &Watched, rule, severity, value: f64, threshold, message| Alert {
                id: next_id(),
                ts: p.ts,
                device: p.id.clone(),
                site: p.site.clone(),
                severity,
                metric: metric(&w.fence.id, rule),
                value: (value * 100.0).round() / 100.0,
                threshold,
                message,
            };
        for (index, w) in self.fences.iter().enumerate() {
            let actual = w.contains(p.lat, p.lon);
            let at = track.presences.iter().position(|pr| pr.fence == index);
            let at = match at {
                Some(at) => at,
                None if !actual => continue,
                None => {
                    // Seen before this fence came: it crossed its edge now. Never seen against
                    // it: it was there already.
                    if w.added <= track.seen {
                        let message = format!("{} entered {}", p.id, w.name());
                        outcome.events.push(alert(next_id, w, FenceRule::Enter, Severity::Info, p.speed, 0.0, message));
                    }
                    track.presences.push(Presence { fence: index, inside: true, changed: p.ts });
                    track.presences.len() - 1
                }
            };
            let presence = &mut track.presences[at];
            if presence.inside != actual && p.ts - presence.changed >= MIN_EVENT_GAP_MS {
                presence.inside = actual;
                presence.changed = p.ts;
                let (rule, verb) = if actual { (FenceRule::Enter, "entered") } else { (FenceRule::Exit, "left") };
                let message = format!("{} {verb} {}", p.id, w.name());
                outcome.events.push(alert(next_id, w, rule, Severity::Info, p.speed, 0.0, message));
                if !actual {
                    for rule in [FenceRule::Dwell, FenceRule::Speed] {
                        if let Some(open) = self.open.remove(&(p.id.clone(), w.fence.id.clone(), rule)) {
                            outcome.ended.push((open, p.ts));
                        }
                    }
                }
            }
            if !presence.inside {
                if p.ts - presence.changed >= MIN_EVENT_GAP_MS {
                    track.presences.remove(at);
                }
                continue;
            }
            let since = presence.changed;
            if let Some(minutes) = w.fence.dwell_minutes {
                let key = (p.id.clone(), w.fence.id.clone(), FenceRule::Dwell);
                let stayed = (p.ts - since) as f64 / 60_000.0;
                if stayed > minutes && !self.open.contains_key(&key) {
                    let message = format!("{} in {} for {stayed:.1} min (limit {minutes} min)", p.id, w.name());
                    let raised = alert(next_id, w, FenceRule::Dwell, Severity::Warning, stayed, minutes, message);
                    self.open.insert(key, raised.clone());
                    outcome.raised.push(raised);
                }
            }
            if let Some(limit) = w.fence.speed_limit {
                let key = (p.id.clone(), w.fence.id.clone(), FenceRule::Speed);
                let open = self.open.contains_key(&key);
                if !open && p.speed > limit {
                    let message = format!("{} at {:.1} km/h in {} (limit {limit} km/h)", p.id, p.speed, w.name());
                    let raised = alert(next_id, w, FenceRule::Speed, Severity::Warning, p.speed, limit, message);
                    self.open.insert(key, raised.clone());
                    outcome.raised.push(raised);
                } else if open && p.speed < (limit - SPEED_HYSTERESIS_KMH).max(limit / 2.0) {
                    if let Some(open) = self.open.remove(&key) {
                        outcome.ended.push((open, p.ts));
                    }
                }
            }
        }
        track.seen = version;
        self.tracks.insert(key, std::mem::take(track));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use telemetry::catalog::Circle;
    use telemetry::VehicleState;

    fn fence(speed_limit: Option<f64>, dwell_minutes: Option<f64>) -> Geofence {
        Geofence {
            id: "yard".into(),
            name: "Yard".into(),
            circle: Some(Circle { centre: LatLon { lat: 0.0, lon: 0.0 }, radius_m: 100.0 }),
            speed_limit,
            dwell_minutes,
            ..Geofence::default()
        }
    }

    /// A vehicle `metres` east of (0, 0) at `speed` km/h, at second `s`.
    fn at(s: i64, metres: f64, speed: f64) -> Position {
        Position {
            id: "veh-1".into(),
            ts: s * 1000,
            lat: 0.0,
            lon: metres / 111_195.0,
            heading: 90.0,
            speed,
            state: VehicleState::Moving,
            site: "harbour".into(),
            seq: s as u64,
        }
    }

    fn ids() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("a{n}")
        }
    }

    fn metrics(alerts: &[Alert]) -> Vec<&str> {
        alerts.iter().map(|a| a.metric.as_str()).collect()
    }

    #[test]
    fn entering_and_leaving_are_events_and_a_vehicle_found_inside_enters_silently() {
        let mut rules = FenceRules::default();
        rules.set_fences(vec![fence(None, None)], 0);
        let mut ids = ids();
        assert_eq!(rules.observe(&[at(0, 50.0, 30.0)], &mut ids), Outcome::default(), "inside already: no event");
        let left = rules.observe(&[at(10, 150.0, 30.0)], &mut ids);
        assert_eq!(metrics(&left.events), ["geofence:yard:exit"]);
        assert_eq!(left.events[0].message, "veh-1 left Yard");
        assert!(rules.observe(&[at(12, 200.0, 30.0)], &mut ids).events.is_empty());
        let entered = rules.observe(&[at(20, 90.0, 30.0)], &mut ids);
        assert_eq!(metrics(&entered.events), ["geofence:yard:enter"]);
        assert_eq!(
            (entered.events[0].severity, entered.events[0].message.as_str()),
            (Severity::Info, "veh-1 entered Yard")
        );
        assert!(rules.open().next().is_none(), "events are not held open");
    }

    #[test]
    fn a_vehicle_on_the_edge_changes_sides_at_most_once_per_gap() {
        let mut rules = FenceRules::default();
        rules.set_fences(vec![fence(None, None)], 0);
        let mut ids = ids();
        rules.observe(&[at(0, 200.0, 30.0)], &mut ids);
        let mut events = Vec::new();
        for s in 1..=20 {
            let metres = if s % 2 == 0 { 99.0 } else { 101.0 };
            events.extend(
                rules.observe(&[at(s, metres, 5.0)], &mut ids).events.into_iter().map(|a| (a.ts / 1000, a.metric)),
            );
        }
        let seconds: Vec<i64> = events.iter().map(|e| e.0).collect();
        assert_eq!(seconds, [2, 7, 12, 17], "{events:?}");
    }

    #[test]
    fn speeding_raises_once_and_clears_with_hysteresis_or_on_leaving() {
        let mut rules = FenceRules::default();
        rules.set_fences(vec![fence(Some(30.0), None)], 0);
        let mut ids = ids();
        rules.observe(&[at(0, 300.0, 50.0)], &mut ids);
        let entered = rules.observe(&[at(1, 90.0, 40.0)], &mut ids);
        assert_eq!(metrics(&entered.events), ["geofence:yard:enter"]);
        assert_eq!(metrics(&entered.raised), ["geofence:yard:speed"]);
        assert_eq!((entered.raised[0].value, entered.raised[0].threshold), (40.0, 30.0));
        for (s, speed) in [(2, 29.0), (3, 31.0), (4, 26.0)] {
            assert_eq!(rules.observe(&[at(s, 50.0, speed)], &mut ids), Outcome::default(), "{speed} km/h");
        }
        let cleared = rules.observe(&[at(5, 40.0, 24.0)], &mut ids);
        assert_eq!(cleared.ended.len(), 1);
        assert_eq!(cleared.ended[0].1, 5000);
        let again = rules.observe(&[at(6, 30.0, 35.0)], &mut ids);
        assert_eq!(metrics(&again.raised), ["geofence:yard:speed"]);
        let left = rules.observe(&[at(7, 150.0, 35.0)], &mut ids);
        assert_eq!(metrics(&left.events), ["geofence:yard:exit"]);
        assert_eq!(left.ended.len(), 1, "leaving ends it");
        assert!(rules.open().next().is_none());
    }

    #[test]
    fn dwelling_raises_after_the_limit_and_clears_on_leaving() {
        let mut rules = FenceRules::default();
        rules.set_fences(vec![fence(None, Some(0.5))], 0);
        let mut ids = ids();
        rules.observe(&[at(0, 300.0, 0.0)], &mut ids);
        let mut raised = Vec::new();
        for s in 1..=40 {
            raised.extend(rules.observe(&[at(s, 10.0, 0.0)], &mut ids).raised.into_iter().map(|a| a.ts / 1000));
        }
        assert_eq!(raised, [32], "inside from second 1: more than 30 s at 32");
        let left = rules.observe(&[at(41, 300.0, 0.0)], &mut ids);
        assert_eq!(left.ended.len(), 1);
        assert!(left.ended[0].0.message.contains("in Yard for"), "{}", left.ended[0].0.message);
    }

    #[test]
    fn a_fence_removed_or_its_limit_dropped_ends_its_alerts() {
        let mut rules = FenceRules::default();
        rules.set_fences(vec![fence(Some(30.0), Some(0.01))], 0);
        let mut ids = ids();
        rules.observe(&[at(0, 300.0, 50.0)], &mut ids);
        rules.observe(&[at(1, 50.0, 50.0)], &mut ids);
        rules.observe(&[at(2, 40.0, 50.0)], &mut ids);
        assert_eq!(rules.open().count(), 2);
        let ended = rules.set_fences(vec![fence(Some(30.0), None)], 3000);
        assert_eq!(
            ended.iter().map(|(a, ts)| (a.metric.as_str(), *ts)).collect::<Vec<_>>(),
            [("geofence:yard:dwell", 3000)]
        );
        // The vehicle is still inside the kept fence: no new enter.
        assert!(rules.observe(&[at(4, 40.0, 50.0)], &mut ids).events.is_empty());
        assert_eq!(rules.set_fences(Vec::new(), 5000).len(), 1);
        assert_eq!(rules.observe(&[at(6, 40.0, 50.0)], &mut ids), Outcome::default());
    }
}

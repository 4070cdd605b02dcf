//! The fleet as it was: frames of the history API's fleet query (`GET {apiBase}/history/fleet`)
//! kept by time, and a [`FleetState`] that is the fleet at the moment the timeline shows, built
//! by applying those frames in order (so trails grow as the replay plays), or afresh from the
//! frames just before a moment the replay jumped to. Live data never touches it: the live fleet
//! goes on underneath, so going back to live is instant.
//!
//! Also the selected vehicle's trip over the range played: distance, moving time, stops and top
//! speed.

use std::collections::BTreeMap;
use std::sync::Arc;

use telemetry::catalog::LatLon;
use telemetry::history::{FleetFrame, FleetHistory};
use telemetry::{Position, VehicleState};

use super::fleet::FleetState;

/// A jump forward longer than this rebuilds the fleet rather than applying every frame between.
const REBUILD_AFTER_MS: i64 = 120_000;
/// Frames kept before the moment shown (for trails and a short step back).
pub const KEEP_BEHIND_MS: i64 = 180_000;
/// Frames kept after the moment shown (what was read ahead; more after a jump back is dropped).
pub const KEEP_AHEAD_MS: i64 = 600_000;

/// One frame and the vehicle ids its arrays follow (shared by every frame of one answer).
#[derive(Debug, Clone, PartialEq)]
struct Frame {
    ids: Arc<[String]>,
    frame: FleetFrame,
}

/// The distance in metres between two points on the globe (the catalog's haversine).
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    telemetry::catalog::distance_m(LatLon { lat: a.0, lon: a.1 }, LatLon { lat: b.0, lon: b.1 })
}

/// A vehicle's trip over a played range.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Trip {
    pub vehicle: String,
    /// The first and last moment counted.
    pub from: i64,
    pub to: i64,
    pub distance_m: f64,
    /// Time spent moving (the vehicle's state, or a speed over 1 km/h), ms.
    pub moving_ms: i64,
    /// Times it came to a stop after moving.
    pub stops: u32,
    /// km/h.
    pub top_speed: f64,
    last: Option<(i64, f64, f64, bool)>,
}

impl Trip {
    fn new(vehicle: &str) -> Self {
        Self { vehicle: vehicle.to_string(), ..Self::default() }
    }

    fn add(&mut self, p: &Position) {
        let moving = p.state == VehicleState::Moving || p.speed > 1.0;
        if let Some((ts, lat, lon, was_moving)) = self.last {
            if p.ts <= ts {
                return;
            }
            self.distance_m += distance_m((lat, lon), (p.lat, p.lon));
            if was_moving {
                self.moving_ms += p.ts - ts;
            }
            if was_moving && !moving {
                self.stops += 1;
            }
        } else {
            self.from = p.ts;
        }
        self.to = p.ts;
        self.top_speed = self.top_speed.max(p.speed);
        self.last = Some((p.ts, p.lat, p.lon, moving));
    }
}

/// The replayed fleet.
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    frames: BTreeMap<i64, Frame>,
    fleet: FleetState,
    /// The frame time the fleet shows, if any frame is applied.
    shown: Option<i64>,
    trip: Option<Trip>,
    /// Bumped whenever the fleet shown changes.
    version: u64,
}

impl Default for Replay {
    fn default() -> Self {
        Self::new(super::fleet::DEFAULT_TRAIL)
    }
}

impl Replay {
    pub fn new(trail_length: usize) -> Self {
        Self {
            frames: BTreeMap::new(),
            fleet: FleetState::with_trail_length(trail_length),
            shown: None,
            trip: None,
            version: 0,
        }
    }

    /// Keeps the frames of an answer (a frame already held for that time is replaced).
    pub fn add(&mut self, history: FleetHistory) {
        let ids: Arc<[String]> = history.ids.into();
        for frame in history.frames {
            let usable = [&frame.lat, &frame.lon, &frame.heading, &frame.speed].iter().all(|a| a.len() == ids.len())
                && frame.state.len() == ids.len();
            if usable {
                self.frames.insert(frame.ts, Frame { ids: ids.clone(), frame });
            }
        }
    }

    /// The newest frame time held, if any.
    pub fn loaded_until(&self) -> Option<i64> {
        self.frames.keys().next_back().copied()
    }

    /// The oldest frame time held, if any.
    pub fn loaded_from(&self) -> Option<i64> {
        self.frames.keys().next().copied()
    }

    /// Whether a frame at or before `at`, and one at or after it, are held: the moment can be
    /// shown as it was (within a frame step).
    pub fn covers(&self, at: i64) -> bool {
        self.frames.range(..=at).next_back().is_some() && self.frames.range(at..).next().is_some()
    }

    /// Frames held.
    pub fn frame_count(&self) -> usize {
        self.frames.len()
    }

    /// Drops every frame and what is shown (after the replay ends).
    pub fn clear(&mut self) {
        let trail = self.fleet.trail_length();
        *self = Self { version: self.version + 1, ..Self::new(trail) };
    }

    /// Draws the replayed vehicles with the kinds the live fleet knows them by.
    pub fn adopt_kinds(&mut self, live: &FleetState) {
        self.fleet.adopt_kinds(live);
    }

    /// The fleet as of the moment shown.
    pub fn fleet(&self) -> &FleetState {
        &self.fleet
    }

    /// The frame time shown, if any.
    pub fn shown(&self) -> Option<i64> {
        self.shown
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    /// The trip of the vehicle followed, over the range played since it was chosen (or the
    /// replay last jumped).
    pub fn trip(&self) -> Option<&Trip> {
        self.trip.as_ref()
    }

    /// Counts the trip of `vehicle` from now on (none: no trip).
    pub fn follow_trip(&mut self, vehicle: Option<&str>) {
        if self.trip.as_ref().map(|t| t.vehicle.as_str()) != vehicle {
            self.trip = vehicle.map(Trip::new);
            if let (Some(trip), Some(p)) = (self.trip.as_mut(), vehicle.and_then(|v| self.fleet.get(v))) {
                trip.add(p);
            }
        }
    }

    /// Shows the fleet as of `at`: the frames after the one shown up to `at` applied in order,
    /// or, after a jump back or far ahead, the fleet rebuilt from the frames before `at` (as
    /// many as a trail holds). `site_of` gives a vehicle's site (the frames carry none). Returns
    /// whether what is shown changed. Frames far behind `at` are dropped.
    pub fn show(&mut self, at: i64, site_of: impl Fn(&str) -> Option<String>) -> bool {
        let Some((&newest, _)) = self.frames.range(..=at).next_back() else {
            // Nothing held of that moment: show nothing rather than another moment's fleet.
            if self.shown.take().is_some() {
                self.fleet = self.fleet.emptied();
                self.version += 1;
                return true;
            }
            return false;
        };
        if self.shown == Some(newest) {
            return false;
        }
        let incremental = self.shown.is_some_and(|shown| shown < newest && newest - shown <= REBUILD_AFTER_MS);
        let from = if incremental {
            self.shown.map_or(i64::MIN, |s| s + 1)
        } else {
            let trail = self.fleet.trail_length();
            self.fleet = self.fleet.emptied();
            if let Some(trip) = self.trip.as_mut() {
                *trip = Trip::new(&trip.vehicle);
            }
            // The frames a trail holds, ending at `at`.
            self.frames.range(..=at).rev().nth(trail.saturating_sub(1)).map_or(i64::MIN, |(t, _)| *t)
        };
        let follow = self.trip.as_ref().map(|t| t.vehicle.clone());
        for frame in self.frames.range(from..=at).map(|(_, f)| f) {
            let positions = positions(frame, &site_of);
            // A trip counts what is played: after a jump, from where it lands.
            let counted = incremental || frame.frame.ts == newest;
            if let (Some(trip), Some(id), true) = (self.trip.as_mut(), follow.as_deref(), counted) {
                if let Some(p) = positions.iter().find(|p| p.id == id) {
                    trip.add(p);
                }
            }
            self.fleet.apply(positions);
        }
        self.shown = Some(newest);
        self.version += 1;
        self.frames = self.frames.split_off(&(at - KEEP_BEHIND_MS));
        drop(self.frames.split_off(&(at + KEEP_AHEAD_MS + 1)));
        true
    }
}

fn positions(frame: &Frame, site_of: &impl Fn(&str) -> Option<String>) -> Vec<Position> {
    let f = &frame.frame;
    frame
        .ids
        .iter()
        .enumerate()
        .filter(|(i, _)| f.lat[*i].is_finite() && f.lon[*i].is_finite())
        .map(|(i, id)| Position {
            id: id.clone(),
            ts: f.ts,
            lat: f.lat[i],
            lon: f.lon[i],
            heading: f.heading[i],
            speed: f.speed[i],
            state: f.state[i],
            site: site_of(id).unwrap_or_default(),
            seq: 0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two vehicles: `a` drives north 10 m a second, `b` stands; frames every second.
    fn history(from: i64, frames: usize) -> FleetHistory {
        FleetHistory {
            from,
            step_ms: 1_000,
            ids: vec!["a".into(), "b".into()],
            frames: (0..frames)
                .map(|k| FleetFrame {
                    ts: from + k as i64 * 1_000,
                    lat: vec![47.0 + k as f64 * 0.00009, 46.0],
                    lon: vec![8.0, 8.0],
                    heading: vec![0.0, 90.0],
                    speed: vec![36.0, 0.0],
                    state: vec![VehicleState::Moving, VehicleState::Stopped],
                })
                .collect(),
        }
    }

    fn site(_: &str) -> Option<String> {
        Some("harbour".into())
    }

    #[test]
    fn shows_the_fleet_as_of_a_moment_and_plays_forward() {
        let mut replay = Replay::new(5);
        replay.add(history(10_000, 60));
        assert!(replay.covers(20_500) && !replay.covers(70_000) && !replay.covers(9_000));
        assert!(replay.show(20_500, site));
        assert_eq!(replay.shown(), Some(20_000));
        let a = replay.fleet().get("a").unwrap();
        assert!((a.lat - (47.0 + 10.0 * 0.00009)).abs() < 1e-9);
        assert_eq!(a.site, "harbour");
        assert_eq!(replay.fleet().trail("a").count(), 5, "a trail's worth of frames before the moment");
        assert!(!replay.show(20_900, site), "the same frame: nothing changes");
        // Forward: each frame in between is applied (the trail keeps its newest five).
        assert!(replay.show(25_000, site));
        let trail: Vec<i64> = replay.fleet().trail("a").map(|p| p.ts).collect();
        assert_eq!(trail, vec![21_000, 22_000, 23_000, 24_000, 25_000]);
        // Back: rebuilt as of then.
        assert!(replay.show(12_000, site));
        assert_eq!(replay.fleet().get("a").unwrap().ts, 12_000);
        assert_eq!(replay.fleet().trail("a").count(), 3);
        // Before every frame held: the fleet of another moment is not shown.
        assert!(replay.show(5_000, site));
        assert!(replay.fleet().is_empty() && replay.shown().is_none());
        assert!(!replay.show(6_000, site), "still nothing: nothing changes");
        assert!(replay.show(30_000, site));
    }

    #[test]
    fn a_frame_with_arrays_of_the_wrong_length_is_ignored() {
        let mut replay = Replay::default();
        let mut h = history(0, 3);
        h.frames[1].speed.pop();
        replay.add(h);
        assert_eq!(replay.frame_count(), 2);
    }

    #[test]
    fn the_trip_counts_distance_moving_time_stops_and_top_speed() {
        let mut replay = Replay::new(5);
        let mut h = history(0, 40);
        // `a` stops from 20 s to 29 s, then moves again.
        for frame in &mut h.frames[20..30] {
            frame.speed[0] = 0.0;
            frame.state[0] = VehicleState::Stopped;
            frame.lat[0] = h_lat(19);
        }
        for (k, frame) in h.frames.iter_mut().enumerate().skip(30) {
            frame.lat[0] = h_lat(19) + (k - 29) as f64 * 0.00009;
            frame.speed[0] = 50.0;
        }
        replay.add(h);
        replay.show(0, site);
        replay.follow_trip(Some("a"));
        replay.show(39_000, site);
        let trip = replay.trip().unwrap();
        assert_eq!((trip.from, trip.to), (0, 39_000));
        assert_eq!(trip.stops, 1);
        assert_eq!(trip.top_speed, 50.0);
        // Moving from 0 to 20 s and from 30 s (its first report moving again) to 39 s.
        assert_eq!(trip.moving_ms, 20_000 + 9_000);
        // 19 steps of 10 m, then 10 of 10 m.
        assert!((trip.distance_m - 290.0).abs() < 2.0, "{}", trip.distance_m);
        // A jump restarts the trip where it lands.
        replay.show(5_000, site);
        let trip = replay.trip().unwrap();
        assert_eq!((trip.from, trip.to, trip.distance_m), (5_000, 5_000, 0.0));
    }

    fn h_lat(k: usize) -> f64 {
        47.0 + k as f64 * 0.00009
    }

    #[test]
    fn distance_between_two_points() {
        // One degree of latitude is about 111.2 km.
        assert!((distance_m((47.0, 8.0), (48.0, 8.0)) - 111_195.0).abs() < 100.0);
        assert_eq!(distance_m((47.0, 8.0), (47.0, 8.0)), 0.0);
    }
}

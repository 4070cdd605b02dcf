//! The latest known position of every vehicle, a short trail of where each has been, and the
//! filters the fleet views apply.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use telemetry::{Position, VehicleState};

use super::limits::Refused;

/// Positions kept per vehicle trail unless configured otherwise.
pub const DEFAULT_TRAIL: usize = 30;

/// Vehicles by id, each with its newest report and a fixed-length trail.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetState {
    vehicles: BTreeMap<String, Position>,
    trails: HashMap<String, VecDeque<TrailPoint>>,
    trail_length: usize,
    updates: u64,
    /// Every site seen, kept as reports arrive (the filter lists them on every batch).
    sites: BTreeSet<String>,
    /// Vehicles kept at most; a new one beyond is ignored.
    max_vehicles: usize,
    /// Sites listed at most.
    max_sites: usize,
    /// Vehicle and site ids ignored for those bounds.
    refused: Refused,
}

impl Default for FleetState {
    fn default() -> Self {
        Self::with_trail_length(DEFAULT_TRAIL)
    }
}

/// One remembered report of a vehicle: where, when and how fast.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrailPoint {
    pub ts: i64,
    pub lat: f64,
    pub lon: f64,
    /// km/h
    pub speed: f64,
}

/// How a vehicle is drawn: its reported state, or stale when it has been silent too long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shown {
    Moving,
    Idle,
    Stopped,
    Stale,
}

impl Shown {
    pub const ALL: [Shown; 4] = [Shown::Moving, Shown::Idle, Shown::Stopped, Shown::Stale];

    /// `p` as of `now`: stale once its newest report is older than `stale_after_ms`.
    pub fn of(p: &Position, now: i64, stale_after_ms: i64) -> Self {
        if now - p.ts > stale_after_ms {
            return Shown::Stale;
        }
        match p.state {
            VehicleState::Moving => Shown::Moving,
            VehicleState::Idle => Shown::Idle,
            VehicleState::Stopped => Shown::Stopped,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Shown::Moving => "moving",
            Shown::Idle => "idle",
            Shown::Stopped => "stopped",
            Shown::Stale => "stale",
        }
    }
}

/// What the fleet views show: a site, a state, and a search on the id (all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetFilter {
    pub site: Option<String>,
    pub state: Option<VehicleState>,
    pub query: String,
}

impl FleetFilter {
    pub fn matches(&self, p: &Position) -> bool {
        self.site.as_ref().is_none_or(|s| *s == p.site)
            && self.state.is_none_or(|s| s == p.state)
            && (self.query.is_empty() || p.id.to_lowercase().contains(&self.query.trim().to_lowercase()))
    }
}

impl FleetState {
    /// An empty fleet keeping `trail_length` positions per vehicle (at least 1).
    pub fn with_trail_length(trail_length: usize) -> Self {
        Self {
            vehicles: BTreeMap::new(),
            trails: HashMap::new(),
            trail_length: trail_length.max(1),
            updates: 0,
            sites: BTreeSet::new(),
            max_vehicles: super::limits::Limits::default().vehicles,
            max_sites: super::limits::Limits::default().sites,
            refused: Refused::default(),
        }
    }

    /// Keeps at most `vehicles` vehicles and lists at most `sites` sites from now on (those
    /// already held stay).
    pub fn set_limits(&mut self, vehicles: usize, sites: usize) {
        self.max_vehicles = vehicles;
        self.max_sites = sites;
    }

    /// Whether a report of vehicle `id` would be taken (known, or room for it).
    pub fn would_take(&self, id: &str) -> bool {
        self.vehicles.len() < self.max_vehicles || self.vehicles.contains_key(id)
    }

    /// Vehicle and site ids ignored because a bound was reached.
    pub fn refused(&self) -> &Refused {
        &self.refused
    }

    /// The trail of a vehicle, oldest first.
    pub fn trail(&self, id: &str) -> impl Iterator<Item = TrailPoint> + '_ {
        self.trails.get(id).into_iter().flatten().copied()
    }

    /// Positions kept per trail.
    pub fn trail_length(&self) -> usize {
        self.trail_length
    }

    /// Keeps `trail_length` positions per vehicle from now on (at least 1); longer trails are
    /// cut to their newest positions.
    pub fn set_trail_length(&mut self, trail_length: usize) {
        self.trail_length = trail_length.max(1);
        for trail in self.trails.values_mut() {
            while trail.len() > self.trail_length {
                trail.pop_front();
            }
        }
    }

    /// Vehicles passing `filter`, in id order.
    pub fn filtered<'a>(&'a self, filter: &'a FleetFilter) -> impl Iterator<Item = &'a Position> + 'a {
        self.vehicles.values().filter(move |p| filter.matches(p))
    }

    /// South-west and north-east corners of the vehicles passing `filter`.
    pub fn bounds(&self, filter: &FleetFilter) -> Option<((f64, f64), (f64, f64))> {
        self.filtered(filter).fold(None, |acc, p| {
            let ((s, w), (n, e)) = acc.unwrap_or(((p.lat, p.lon), (p.lat, p.lon)));
            Some(((s.min(p.lat), w.min(p.lon)), (n.max(p.lat), e.max(p.lon))))
        })
    }

    /// Sites seen so far, sorted.
    pub fn sites(&self) -> Vec<String> {
        self.sites.iter().cloned().collect()
    }

    /// Applies a batch. A report older than the one already held for that vehicle is ignored,
    /// so a late or replayed batch never moves a vehicle back in time. Returns how many
    /// reports were applied. A vehicle already known is updated in place (no id copied, and its
    /// site looked up only if it changed); a new one gets its record and trail, unless the fleet
    /// is at its bound (then it is refused and counted). A site beyond the sites' bound is not
    /// listed (its vehicles still are shown).
    pub fn apply(&mut self, batch: Vec<Position>) -> usize {
        let mut applied = 0;
        for position in batch {
            let point = TrailPoint { ts: position.ts, lat: position.lat, lon: position.lon, speed: position.speed };
            let full = self.vehicles.len() >= self.max_vehicles;
            match self.vehicles.get_mut(&position.id) {
                Some(current) if current.ts > position.ts => continue,
                Some(current) => {
                    if current.site != position.site {
                        note_site(&mut self.sites, self.max_sites, &mut self.refused, &position.site);
                    }
                    match self.trails.get_mut(&position.id) {
                        Some(trail) => remember(trail, self.trail_length, point),
                        None => new_trail(&mut self.trails, self.trail_length, &position.id, point),
                    }
                    *current = position;
                }
                None if full => {
                    self.refused.refuse(&position.id);
                    continue;
                }
                None => {
                    note_site(&mut self.sites, self.max_sites, &mut self.refused, &position.site);
                    self.refused.admit(&position.id);
                    new_trail(&mut self.trails, self.trail_length, &position.id, point);
                    self.vehicles.insert(position.id.clone(), position);
                }
            }
            applied += 1;
        }
        self.updates += applied as u64;
        applied
    }

    /// Joins a vehicle's track from history (oldest first) in front of its trail: only points
    /// strictly older than the trail's oldest are taken (no repeat at the seam), within the
    /// trail's length (the newest kept). A vehicle not on the map gets none. Returns how many.
    pub fn prepend_trail(&mut self, id: &str, points: impl IntoIterator<Item = TrailPoint>) -> usize {
        let Some(trail) = self.trails.get_mut(id) else { return 0 };
        let oldest = trail.front().map_or(i64::MAX, |p| p.ts);
        let mut older: Vec<TrailPoint> = Vec::new();
        for point in points {
            if point.ts >= oldest {
                break;
            }
            let usable = point.lat.is_finite() && point.lon.is_finite() && point.speed.is_finite();
            if usable && older.last().is_none_or(|last| point.ts > last.ts) {
                older.push(point);
            }
        }
        let room = self.trail_length.saturating_sub(trail.len());
        let skip = older.len().saturating_sub(room);
        let taken = older.len() - skip;
        for point in older.into_iter().skip(skip).rev() {
            trail.push_front(point);
        }
        taken
    }

    /// Keeps only the vehicles `known` says the server still has (after a snapshot): a vehicle
    /// gone from the server must not stay on the map as if it were parked.
    pub fn retain_known(&mut self, known: impl Fn(&str) -> bool) {
        self.vehicles.retain(|id, _| known(id));
        self.trails.retain(|id, _| known(id));
    }

    pub fn len(&self) -> usize {
        self.vehicles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.vehicles.is_empty()
    }

    /// Vehicles in id order.
    pub fn iter(&self) -> impl Iterator<Item = &Position> {
        self.vehicles.values()
    }

    pub fn get(&self, id: &str) -> Option<&Position> {
        self.vehicles.get(id)
    }

    /// Position reports applied since start.
    pub fn updates(&self) -> u64 {
        self.updates
    }
}

/// Adds `site` to the sites seen (copied only when new), while there is room for it.
fn note_site(sites: &mut BTreeSet<String>, max: usize, refused: &mut Refused, site: &str) {
    if !sites.contains(site) {
        if sites.len() < max {
            sites.insert(site.to_string());
            refused.admit(site);
        } else {
            refused.refuse(site);
        }
    }
}

/// A vehicle's first trail point, with room for the whole trail.
fn new_trail(trails: &mut HashMap<String, VecDeque<TrailPoint>>, length: usize, id: &str, point: TrailPoint) {
    let mut trail = VecDeque::with_capacity(length);
    trail.push_back(point);
    trails.insert(id.to_string(), trail);
}

/// Adds `point` to a trail kept at `length` points, dropping the oldest.
fn remember(trail: &mut VecDeque<TrailPoint>, length: usize, point: TrailPoint) {
    if trail.len() == length {
        trail.pop_front();
    }
    trail.push_back(point);
}

#[cfg(test)]
mod tests {
    use super::*;
    use telemetry::VehicleState;

    fn pos(id: &str, ts: i64, lat: f64) -> Position {
        Position {
            id: id.into(),
            ts,
            lat,
            lon: 8.5,
            heading: 0.0,
            speed: 10.0,
            state: VehicleState::Moving,
            site: "north".into(),
            seq: 0,
        }
    }

    #[test]
    fn newest_report_wins_and_stale_ones_are_ignored() {
        let mut fleet = FleetState::default();
        assert_eq!(fleet.apply(vec![pos("b", 10, 1.0), pos("a", 10, 2.0)]), 2);
        assert_eq!(fleet.apply(vec![pos("a", 20, 3.0)]), 1);
        assert_eq!(fleet.apply(vec![pos("a", 15, 9.0)]), 0, "older than what we hold");
        assert_eq!(fleet.get("a").unwrap().lat, 3.0);
        let ids: Vec<_> = fleet.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(fleet.updates(), 3);
    }

    #[test]
    fn vehicles_the_server_no_longer_has_leave_with_their_trails() {
        let mut fleet = FleetState::default();
        fleet.apply(vec![pos("a", 1, 1.0), pos("b", 1, 1.0), pos("c", 1, 1.0)]);
        fleet.retain_known(|id| id != "b");
        assert_eq!(fleet.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["a", "c"]);
        assert_eq!(fleet.trail("b").count(), 0);
        assert_eq!(fleet.trail("a").count(), 1);
    }

    #[test]
    fn vehicles_and_sites_beyond_their_bounds_are_refused_and_counted() {
        let mut fleet = FleetState::default();
        fleet.set_limits(2, 1);
        let mut elsewhere = pos("c", 1, 1.0);
        elsewhere.site = "south".into();
        assert_eq!(fleet.apply(vec![pos("a", 1, 1.0), pos("b", 1, 1.0), elsewhere.clone()]), 2);
        assert_eq!(fleet.len(), 2);
        assert!(fleet.get("c").is_none());
        // Known vehicles go on moving; the refused one is counted once however often it comes.
        assert_eq!(fleet.apply(vec![pos("a", 2, 2.0), pos("c", 2, 2.0), pos("c", 3, 2.0)]), 1);
        assert_eq!(fleet.refused().len(), 1);
        // A known vehicle moving to a site past the bound is shown; the site is not listed.
        let mut moved = pos("b", 5, 1.0);
        moved.site = "south".into();
        assert_eq!(fleet.apply(vec![moved]), 1);
        assert_eq!(fleet.get("b").unwrap().site, "south");
        assert_eq!(fleet.sites(), ["north"]);
        assert_eq!(fleet.refused().len(), 2, "c and the site south");
        // Room made (a snapshot without a): c is taken, and no longer counted.
        fleet.retain_known(|id| id != "a");
        assert_eq!(fleet.apply(vec![pos("c", 4, 2.0)]), 1);
        assert_eq!(fleet.refused().len(), 1, "only the site south");
    }

    #[test]
    fn a_track_from_history_joins_the_trail_in_front_within_its_length() {
        let mut fleet = FleetState::with_trail_length(5);
        fleet.apply(vec![pos("a", 10, 1.0), pos("a", 11, 1.1)]);
        let track = (5..=11).map(|ts| TrailPoint { ts, lat: ts as f64, lon: 8.5, speed: 1.0 });
        assert_eq!(fleet.prepend_trail("a", track), 3, "room for three, the newest before the seam");
        assert_eq!(fleet.trail("a").map(|t| t.ts).collect::<Vec<_>>(), [7, 8, 9, 10, 11]);
        assert_eq!(fleet.prepend_trail("nobody", [TrailPoint { ts: 1, lat: 0.0, lon: 0.0, speed: 0.0 }]), 0);
    }

    #[test]
    fn trails_are_bounded_and_ordered() {
        let mut fleet = FleetState::with_trail_length(3);
        for ts in 1..=5 {
            fleet.apply(vec![pos("a", ts, ts as f64)]);
        }
        let lats: Vec<f64> = fleet.trail("a").map(|t| t.lat).collect();
        assert_eq!(lats, [3.0, 4.0, 5.0]);
        assert_eq!(fleet.trail("a").map(|t| t.ts).collect::<Vec<_>>(), [3, 4, 5]);
        assert_eq!(fleet.trail("nobody").count(), 0);
        fleet.set_trail_length(2);
        assert_eq!(fleet.trail("a").map(|t| t.lat).collect::<Vec<_>>(), [4.0, 5.0], "cut to the newest");
        fleet.apply(vec![pos("a", 6, 6.0)]);
        assert_eq!(fleet.trail("a").map(|t| t.lat).collect::<Vec<_>>(), [5.0, 6.0]);
        assert_eq!(fleet.trail_length(), 2);
    }

    #[test]
    fn a_silent_vehicle_is_shown_stale() {
        let mut p = pos("a", 1_000, 1.0);
        assert_eq!(Shown::of(&p, 11_000, 15_000), Shown::Moving);
        assert_eq!(Shown::of(&p, 16_001, 15_000), Shown::Stale);
        p.state = VehicleState::Stopped;
        assert_eq!(Shown::of(&p, 2_000, 15_000), Shown::Stopped);
        assert_eq!(Shown::of(&p, 2_000, 15_000).as_str(), "stopped");
    }

    #[test]
    fn filters_and_bounds() {
        let mut fleet = FleetState::default();
        let mut stopped = pos("veh-2", 1, 2.0);
        stopped.state = VehicleState::Stopped;
        stopped.site = "airport".into();
        stopped.lon = 9.0;
        fleet.apply(vec![pos("veh-1", 1, 1.0), stopped, pos("truck-9", 1, 3.0)]);
        let ids = |f: &FleetFilter| fleet.filtered(f).map(|p| p.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&FleetFilter::default()).len(), 3);
        assert_eq!(ids(&FleetFilter { site: Some("airport".into()), ..FleetFilter::default() }), ["veh-2"]);
        assert_eq!(
            ids(&FleetFilter { state: Some(VehicleState::Moving), ..FleetFilter::default() }),
            ["truck-9", "veh-1"]
        );
        assert_eq!(ids(&FleetFilter { query: "VEH".into(), ..FleetFilter::default() }), ["veh-1", "veh-2"]);
        assert_eq!(fleet.bounds(&FleetFilter::default()), Some(((1.0, 8.5), (3.0, 9.0))));
        assert_eq!(fleet.bounds(&FleetFilter { query: "none".into(), ..FleetFilter::default() }), None);
        assert_eq!(fleet.sites(), ["airport", "north"]);
    }
}

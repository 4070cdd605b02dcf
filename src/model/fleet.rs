//! The latest known position of every vehicle, a short trail of where each has been, and the
//! filters the fleet views apply.

use std::collections::{BTreeSet, HashMap, VecDeque};

use telemetry::{Position, VehicleState};

use super::geo::mercator;
use super::limits::Refused;

/// Positions kept per vehicle trail unless configured otherwise.
pub const DEFAULT_TRAIL: usize = 30;

/// Vehicles by id, each with its newest report and a fixed-length trail.
///
/// Columnar: a vehicle has a slot, and each thing known of it (its newest report, where that is
/// on the Mercator square, the shape it is drawn with, its trail) is in a column of its own,
/// indexed by slot. A frame of the map walks the columns it needs in slot order, with the
/// projection done once per report rather than once per vehicle per frame; ids are looked up
/// by hash; the id order the lists show is kept apart and rebuilt only when vehicles come or go.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetState {
    slots: HashMap<String, u32>,
    positions: Vec<Position>,
    /// [`mercator`] of each slot's position.
    world: Vec<(f64, f64)>,
    shapes: Vec<Shape>,
    trails: Vec<VecDeque<TrailPoint>>,
    /// Slots in id order.
    order: Vec<u32>,
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
    /// The registry's kind of each vehicle (kind id), and the shape of each kind.
    kinds: HashMap<String, String>,
    kind_shapes: HashMap<String, Shape>,
    /// Counts changes of the two above, so a copy of them ([`FleetState::adopt_kinds`]) is
    /// taken only when they changed.
    kinds_version: u64,
}

impl Default for FleetState {
    fn default() -> Self {
        Self::with_trail_length(DEFAULT_TRAIL)
    }
}

/// How a kind of vehicle is drawn, seen from above and turned to its heading: an arrow (any
/// vehicle of no declared shape), a long truck with its cab ahead, a van with a pointed nose,
/// a forklift with its two forks ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Shape {
    #[default]
    Arrow,
    Truck,
    Van,
    Forklift,
}

impl Shape {
    pub const ALL: [Shape; 4] = [Shape::Arrow, Shape::Truck, Shape::Van, Shape::Forklift];

    pub fn as_str(self) -> &'static str {
        match self {
            Shape::Arrow => "arrow",
            Shape::Truck => "truck",
            Shape::Van => "van",
            Shape::Forklift => "forklift",
        }
    }

    /// A shape by its name (any case), if it is one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str().eq_ignore_ascii_case(name.trim()))
    }

    /// The shape of a catalog's vehicle kind: the one it declares, else the one its id names
    /// (a kind `truck` is drawn as a truck), else an arrow.
    pub fn of_kind(kind: &telemetry::catalog::VehicleKind) -> Self {
        Self::parse(&kind.shape).or_else(|| Self::parse(&kind.id)).unwrap_or_default()
    }

    pub fn index(self) -> usize {
        self as usize
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
    /// Whether it lets every vehicle through.
    pub fn is_empty(&self) -> bool {
        self.site.is_none() && self.state.is_none() && self.query.trim().is_empty()
    }

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
            slots: HashMap::new(),
            positions: Vec::new(),
            world: Vec::new(),
            shapes: Vec::new(),
            trails: Vec::new(),
            order: Vec::new(),
            trail_length: trail_length.max(1),
            updates: 0,
            sites: BTreeSet::new(),
            max_vehicles: super::limits::Limits::default().vehicles,
            max_sites: super::limits::Limits::default().sites,
            refused: Refused::default(),
            kinds: HashMap::new(),
            kind_shapes: HashMap::new(),
            kinds_version: 0,
        }
    }

    /// An empty fleet with this one's trail length, bounds and kinds of vehicle (a replay's
    /// fleet, rebuilt).
    pub fn emptied(&self) -> Self {
        Self {
            max_vehicles: self.max_vehicles,
            max_sites: self.max_sites,
            kinds: self.kinds.clone(),
            kind_shapes: self.kind_shapes.clone(),
            kinds_version: self.kinds_version,
            ..Self::with_trail_length(self.trail_length)
        }
    }

    /// Takes `other`'s kinds of vehicle and their shapes, if they changed since last taken.
    pub fn adopt_kinds(&mut self, other: &FleetState) {
        if self.kinds_version != other.kinds_version {
            self.kinds.clone_from(&other.kinds);
            self.kind_shapes.clone_from(&other.kind_shapes);
            self.kinds_version = other.kinds_version;
            self.reshape();
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
        self.positions.len() < self.max_vehicles || self.slots.contains_key(id)
    }

    /// Vehicle and site ids ignored because a bound was reached.
    pub fn refused(&self) -> &Refused {
        &self.refused
    }

    /// The trail of a vehicle, oldest first.
    pub fn trail(&self, id: &str) -> impl Iterator<Item = TrailPoint> + '_ {
        self.slots.get(id).map(|&slot| &self.trails[slot as usize]).into_iter().flatten().copied()
    }

    /// Positions kept per trail.
    pub fn trail_length(&self) -> usize {
        self.trail_length
    }

    /// Keeps `trail_length` positions per vehicle from now on (at least 1); longer trails are
    /// cut to their newest positions.
    pub fn set_trail_length(&mut self, trail_length: usize) {
        self.trail_length = trail_length.max(1);
        for trail in &mut self.trails {
            while trail.len() > self.trail_length {
                trail.pop_front();
            }
        }
    }

    /// Vehicles passing `filter`, in id order.
    pub fn filtered<'a>(&'a self, filter: &'a FleetFilter) -> impl Iterator<Item = &'a Position> + 'a {
        self.iter().filter(move |p| filter.matches(p))
    }

    /// Every vehicle passing `filter` as the map draws it, in slot order (not id order): its
    /// slot ([`FleetState::at`]), its report, where it is on the [`mercator`] square, and its
    /// shape.
    pub fn drawn<'a>(
        &'a self,
        filter: &'a FleetFilter,
    ) -> impl Iterator<Item = (u32, &'a Position, (f64, f64), Shape)> + 'a {
        let all = filter.is_empty();
        self.positions
            .iter()
            .zip(&self.world)
            .zip(&self.shapes)
            .enumerate()
            .filter(move |(_, ((p, _), _))| all || filter.matches(p))
            .map(|(slot, ((p, w), s))| (slot as u32, p, *w, *s))
    }

    /// The vehicle in `slot` (as [`FleetState::drawn`] names it).
    pub fn at(&self, slot: u32) -> &Position {
        &self.positions[slot as usize]
    }

    /// South-west and north-east corners of the vehicles passing `filter`.
    pub fn bounds(&self, filter: &FleetFilter) -> Option<((f64, f64), (f64, f64))> {
        self.positions.iter().filter(|p| filter.matches(p)).fold(None, |acc, p| {
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
    /// site looked up only if it changed); a new one gets its slot and trail, unless the fleet
    /// is at its bound (then it is refused and counted). A site beyond the sites' bound is not
    /// listed (its vehicles still are shown).
    pub fn apply(&mut self, batch: Vec<Position>) -> usize {
        let mut applied = 0;
        let mut added = false;
        for position in batch {
            let point = TrailPoint { ts: position.ts, lat: position.lat, lon: position.lon, speed: position.speed };
            match self.slots.get(&position.id) {
                Some(&slot) => {
                    let slot = slot as usize;
                    let current = &mut self.positions[slot];
                    if current.ts > position.ts {
                        continue;
                    }
                    if current.site != position.site {
                        note_site(&mut self.sites, self.max_sites, &mut self.refused, &position.site);
                    }
                    remember(&mut self.trails[slot], self.trail_length, point);
                    self.world[slot] = mercator(position.lat, position.lon);
                    *current = position;
                }
                None if self.positions.len() >= self.max_vehicles => {
                    self.refused.refuse(&position.id);
                    continue;
                }
                None => {
                    note_site(&mut self.sites, self.max_sites, &mut self.refused, &position.site);
                    self.refused.admit(&position.id);
                    let slot = self.positions.len() as u32;
                    let mut trail = VecDeque::with_capacity(self.trail_length.min(64));
                    trail.push_back(point);
                    self.trails.push(trail);
                    self.world.push(mercator(position.lat, position.lon));
                    self.shapes.push(self.shape_for(&position.id));
                    self.slots.insert(position.id.clone(), slot);
                    self.positions.push(position);
                    added = true;
                }
            }
            applied += 1;
        }
        if added {
            self.sort();
        }
        self.updates += applied as u64;
        applied
    }

    /// The id order again, after vehicles came or went.
    fn sort(&mut self) {
        let positions = &self.positions;
        self.order = (0..positions.len() as u32).collect();
        self.order.sort_unstable_by(|a, b| positions[*a as usize].id.cmp(&positions[*b as usize].id));
    }

    /// Joins a vehicle's track from history (oldest first) in front of its trail: only points
    /// strictly older than the trail's oldest are taken (no repeat at the seam), within the
    /// trail's length (the newest kept). A vehicle not on the map gets none. Returns how many.
    pub fn prepend_trail(&mut self, id: &str, points: impl IntoIterator<Item = TrailPoint>) -> usize {
        let Some(&slot) = self.slots.get(id) else { return 0 };
        let trail = &mut self.trails[slot as usize];
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
        self.kinds.retain(|id, _| known(id));
        if self.positions.iter().all(|p| known(&p.id)) {
            return;
        }
        let keep: Vec<bool> = self.positions.iter().map(|p| known(&p.id)).collect();
        let mut kept = keep.iter();
        self.positions.retain(|_| *kept.next().unwrap_or(&false));
        for column in [&mut self.world as &mut dyn Retain, &mut self.shapes, &mut self.trails] {
            column.retain_by(&keep);
        }
        self.slots = self.positions.iter().enumerate().map(|(slot, p)| (p.id.clone(), slot as u32)).collect();
        self.sort();
    }

    /// Vehicle `id` is of registry kind `kind`, for each pair: the shapes follow (a vehicle not
    /// named keeps what it has).
    pub fn set_kinds(&mut self, kinds: impl IntoIterator<Item = (String, String)>) {
        self.kinds.extend(kinds);
        self.kinds_version += 1;
        self.reshape();
    }

    /// Vehicles of kind `kind` are drawn as `shape`, for each pair (the catalog's vehicle kinds,
    /// all of them: a kind no longer listed goes back to the arrow).
    pub fn set_kind_shapes(&mut self, shapes: impl IntoIterator<Item = (String, Shape)>) {
        self.kind_shapes = shapes.into_iter().collect();
        self.kinds_version += 1;
        self.reshape();
    }

    /// The registry's kind of vehicle `id`, if the registry named it.
    pub fn kind(&self, id: &str) -> Option<&str> {
        self.kinds.get(id).map(String::as_str)
    }

    fn shape_for(&self, id: &str) -> Shape {
        self.kinds.get(id).and_then(|kind| self.kind_shapes.get(kind)).copied().unwrap_or_default()
    }

    fn reshape(&mut self) {
        let shapes: Vec<Shape> = self.positions.iter().map(|p| self.shape_for(&p.id)).collect();
        self.shapes = shapes;
    }

    pub fn len(&self) -> usize {
        self.positions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// Vehicles in id order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Position> + ExactSizeIterator {
        self.order.iter().map(|slot| &self.positions[*slot as usize])
    }

    pub fn get(&self, id: &str) -> Option<&Position> {
        self.slots.get(id).map(|slot| &self.positions[*slot as usize])
    }

    /// The shape vehicle `id` is drawn with.
    pub fn shape(&self, id: &str) -> Shape {
        self.slots.get(id).map(|slot| self.shapes[*slot as usize]).unwrap_or_default()
    }

    /// Position reports applied since start.
    pub fn updates(&self) -> u64 {
        self.updates
    }
}

/// A column that drops the slots a mask says not to keep.
trait Retain {
    fn retain_by(&mut self, keep: &[bool]);
}

impl<T> Retain for Vec<T> {
    fn retain_by(&mut self, keep: &[bool]) {
        let mut kept = keep.iter();
        self.retain(|_| *kept.next().unwrap_or(&false));
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
    fn columns_stay_in_step_as_vehicles_come_and_go() {
        let mut fleet = FleetState::default();
        fleet.apply(vec![pos("c", 1, 1.0), pos("a", 1, 2.0), pos("b", 1, 3.0)]);
        fleet.apply(vec![pos("a", 2, 4.0)]);
        let drawn: Vec<(String, (f64, f64))> =
            fleet.drawn(&FleetFilter::default()).map(|(_, p, w, _)| (p.id.clone(), w)).collect();
        assert_eq!(drawn.iter().map(|d| d.0.as_str()).collect::<Vec<_>>(), ["c", "a", "b"], "slot order");
        for (id, world) in &drawn {
            let p = fleet.get(id).unwrap();
            assert_eq!(*world, mercator(p.lat, p.lon), "{id}'s projection is its newest report's");
        }
        fleet.retain_known(|id| id != "c");
        assert_eq!(fleet.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(fleet.get("a").unwrap().lat, 4.0);
        assert_eq!(fleet.trail("a").map(|t| t.lat).collect::<Vec<_>>(), [2.0, 4.0], "trails follow their slots");
        assert_eq!(fleet.trail("b").map(|t| t.lat).collect::<Vec<_>>(), [3.0]);
        let all = FleetFilter::default();
        let (slot, p, world, _) = fleet.drawn(&all).find(|d| d.1.id == "b").unwrap();
        assert_eq!(fleet.at(slot).id, "b");
        assert_eq!(world, mercator(p.lat, p.lon));
        let only_b = FleetFilter { query: "b".into(), ..FleetFilter::default() };
        assert_eq!(fleet.drawn(&only_b).count(), 1);
        assert!(!only_b.is_empty() && FleetFilter::default().is_empty());
    }

    #[test]
    fn vehicles_take_the_shape_of_their_kind() {
        let mut fleet = FleetState::default();
        fleet.set_kinds([("t1".to_string(), "truck".to_string()), ("f1".to_string(), "lifter".to_string())]);
        fleet.apply(vec![pos("t1", 1, 1.0), pos("f1", 1, 1.0), pos("x", 1, 1.0)]);
        assert_eq!(fleet.shape("t1"), Shape::Arrow, "no kind declared yet");
        let kind = |id: &str, shape: &str| telemetry::catalog::VehicleKind {
            id: id.into(),
            shape: shape.into(),
            ..Default::default()
        };
        let kinds = [kind("truck", ""), kind("lifter", "Forklift"), kind("odd", "hexagon")];
        fleet.set_kind_shapes(kinds.iter().map(|k| (k.id.clone(), Shape::of_kind(k))));
        assert_eq!(
            (fleet.shape("t1"), fleet.shape("f1"), fleet.shape("x")),
            (Shape::Truck, Shape::Forklift, Shape::Arrow)
        );
        assert_eq!(Shape::of_kind(&kinds[2]), Shape::Arrow, "an unknown shape is an arrow");
        assert_eq!(fleet.kind("f1"), Some("lifter"));
        // A vehicle arriving later takes its kind's shape at once.
        fleet.set_kinds([("t2".to_string(), "truck".to_string())]);
        fleet.apply(vec![pos("t2", 1, 1.0)]);
        assert_eq!(fleet.shape("t2"), Shape::Truck);
        let shapes: Vec<Shape> = fleet.drawn(&FleetFilter::default()).map(|d| d.3).collect();
        assert_eq!(shapes, [Shape::Truck, Shape::Forklift, Shape::Arrow, Shape::Truck]);
        // A replay's fleet, rebuilt, draws them the same.
        let mut replayed = FleetState::default();
        replayed.adopt_kinds(&fleet);
        let mut replayed = replayed.emptied();
        replayed.apply(vec![pos("t1", 1, 1.0)]);
        assert_eq!(replayed.shape("t1"), Shape::Truck);
        // Gone from the registry: forgotten.
        fleet.retain_known(|id| id != "t2");
        assert_eq!(fleet.kind("t2"), None);
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

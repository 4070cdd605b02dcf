//! Clusters of vehicles close together on screen, recomputed on every redraw: moving points
//! need no index that outlives a frame. Points are binned into a dense grid of square cells in
//! screen space (one pass, no hashing, no allocation per point), and each occupied cell becomes
//! one cluster at the mean of its points, with a count per state. A cell holding a single
//! vehicle is not a cluster: that vehicle is drawn as itself.
//!
//! Cost: one pass over the points and one over the cells; 100,000 vehicles take a few
//! milliseconds in wasm (measured by the benchmark suite's map section).

use super::fleet::Shown;

/// Cluster cells are this many CSS pixels square by default.
pub const CELL_PX: f64 = 64.0;

/// Vehicles counted per state, in [`Shown::ALL`] order (moving, idle, stopped, stale).
pub type StateCounts = [u32; 4];

/// One cluster: where it is drawn (screen pixels), how many vehicles, and of which states.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cluster {
    pub x: f64,
    pub y: f64,
    pub count: u32,
    pub states: StateCounts,
}

impl Cluster {
    /// Its share of each state, for the ring: fractions in [`Shown::ALL`] order.
    pub fn shares(&self) -> [f64; 4] {
        let total = f64::from(self.count.max(1));
        self.states.map(|n| f64::from(n) / total)
    }

    /// The count as drawn: `12`, `1.2k`, `34k`.
    pub fn label(&self) -> String {
        match self.count {
            0..=999 => self.count.to_string(),
            1_000..=9_999 => format!("{:.1}k", f64::from(self.count) / 1_000.0),
            _ => format!("{}k", self.count / 1_000),
        }
    }
}

/// What clustering made of the points: the clusters, and the indices of the points left to be
/// drawn one by one (alone in their cell).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Clustered {
    pub clusters: Vec<Cluster>,
    pub singles: Vec<usize>,
}

/// The grid the clusterer reuses between frames.
#[derive(Debug, Default)]
pub struct Grid {
    sums: Vec<(f64, f64)>,
    counts: Vec<u32>,
    states: Vec<StateCounts>,
    /// The first point of each cell (for a cell of one).
    first: Vec<usize>,
}

impl Grid {
    /// Clusters `points` (screen x, y and state) over a view of `width` × `height` pixels in
    /// cells of `cell` pixels; points outside the view are left out.
    pub fn cluster(
        &mut self,
        points: impl Iterator<Item = (f64, f64, Shown)>,
        (width, height): (f64, f64),
        cell: f64,
    ) -> Clustered {
        let cell = cell.max(1.0);
        let columns = (width / cell).ceil().max(1.0) as usize;
        let rows = (height / cell).ceil().max(1.0) as usize;
        let cells = columns * rows;
        self.sums.clear();
        self.sums.resize(cells, (0.0, 0.0));
        self.counts.clear();
        self.counts.resize(cells, 0);
        self.states.clear();
        self.states.resize(cells, [0; 4]);
        self.first.clear();
        self.first.resize(cells, usize::MAX);
        for (i, (x, y, shown)) in points.enumerate() {
            if !(x >= 0.0 && y >= 0.0 && x < width && y < height) {
                continue;
            }
            let c = (y / cell) as usize * columns + (x / cell) as usize;
            let Some(count) = self.counts.get_mut(c) else { continue };
            *count += 1;
            self.sums[c].0 += x;
            self.sums[c].1 += y;
            self.states[c][state_index(shown)] += 1;
            if self.first[c] == usize::MAX {
                self.first[c] = i;
            }
        }
        let mut out = Clustered::default();
        for c in 0..cells {
            match self.counts[c] {
                0 => {}
                1 => out.singles.push(self.first[c]),
                count => {
                    let n = f64::from(count);
                    out.clusters.push(Cluster {
                        x: self.sums[c].0 / n,
                        y: self.sums[c].1 / n,
                        count,
                        states: self.states[c],
                    });
                }
            }
        }
        out.singles.sort_unstable();
        out
    }
}

fn state_index(shown: Shown) -> usize {
    match shown {
        Shown::Moving => 0,
        Shown::Idle => 1,
        Shown::Stopped => 2,
        Shown::Stale => 3,
    }
}

/// The cluster under a pointer at `at`, if one is within `radius` pixels of it.
pub fn cluster_at(clusters: &[Cluster], at: (f64, f64), radius: f64) -> Option<&Cluster> {
    clusters
        .iter()
        .map(|c| (c, (c.x - at.0).hypot(c.y - at.1)))
        .filter(|(_, d)| *d <= radius)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_close_together_gather_and_a_lone_one_stays_itself() {
        let points = vec![
            (10.0, 10.0, Shown::Moving),
            (20.0, 30.0, Shown::Moving),
            (30.0, 20.0, Shown::Stopped),
            (200.0, 200.0, Shown::Idle),
            (500.0, 10.0, Shown::Stale),
            (510.0, 12.0, Shown::Stale),
            (-5.0, 10.0, Shown::Moving),
        ];
        let out = Grid::default().cluster(points.into_iter(), (640.0, 480.0), 64.0);
        assert_eq!(out.singles, vec![3], "the one alone in its cell is drawn as itself");
        assert_eq!(out.clusters.len(), 2);
        let first = out.clusters.iter().find(|c| c.count == 3).unwrap();
        assert_eq!(first.states, [2, 0, 1, 0]);
        assert!((first.x - 20.0).abs() < 1e-9 && (first.y - 20.0).abs() < 1e-9, "at the mean");
        let stale = out.clusters.iter().find(|c| c.count == 2).unwrap();
        assert_eq!(stale.states, [0, 0, 0, 2]);
        assert_eq!(stale.shares(), [0.0, 0.0, 0.0, 1.0]);
        let total: u32 = out.clusters.iter().map(|c| c.count).sum::<u32>() + out.singles.len() as u32;
        assert_eq!(total, 6, "every point in view counted once, the one outside left out");
    }

    #[test]
    fn labels_and_picking() {
        let c = |count| Cluster { x: 0.0, y: 0.0, count, states: [count, 0, 0, 0] };
        assert_eq!(c(12).label(), "12");
        assert_eq!(c(1_260).label(), "1.3k");
        assert_eq!(c(34_567).label(), "34k");
        let clusters = [Cluster { x: 100.0, y: 100.0, ..c(5) }, Cluster { x: 140.0, y: 100.0, ..c(7) }];
        assert_eq!(cluster_at(&clusters, (130.0, 100.0), 20.0).map(|c| c.count), Some(7));
        assert_eq!(cluster_at(&clusters, (300.0, 300.0), 20.0), None);
    }

    #[test]
    fn a_hundred_thousand_points_in_one_pass() {
        // Not a timing assertion: that the whole fleet is counted, with a reused grid.
        let mut grid = Grid::default();
        let points = (0..100_000).map(|i| ((i % 1000) as f64 * 1.9, (i / 1000) as f64 * 10.0, Shown::Moving));
        let out = grid.cluster(points, (1920.0, 1080.0), 64.0);
        let total: u32 = out.clusters.iter().map(|c| c.count).sum::<u32>() + out.singles.len() as u32;
        assert_eq!(total, 100_000);
        let again = grid.cluster((0..10).map(|i| (i as f64, 0.0, Shown::Idle)), (1920.0, 1080.0), 64.0);
        assert_eq!(again.clusters.len(), 1, "nothing left over from the frame before");
    }
}

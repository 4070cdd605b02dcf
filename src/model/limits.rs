//! Bounds on everything the wire names: a backend (or anyone holding its key) that sends made-up
//! ids must not grow the page's memory without end. Ids beyond a bound are ignored and counted
//! once each, so the status bar can say how many.

use std::collections::HashSet;

/// How many of each the page keeps (config `maxVehicles`, `maxDevices`, `maxSeries`,
/// `maxSites`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Vehicles on the map (and their trails and report-number checks).
    pub vehicles: usize,
    /// Machines and rigs.
    pub devices: usize,
    /// Metric histories across all devices (each grows to an hour: 7,200 points, 113 KB).
    pub series: usize,
    /// Sites listed and joined.
    pub sites: usize,
}

impl Default for Limits {
    /// Room for a large deployment.
    fn default() -> Self {
        Self { vehicles: 200_000, devices: 5_000, series: 10_000, sites: 1_000 }
    }
}

/// Distinct ids refused are counted up to this many (the set itself must stay bounded too);
/// beyond it the count says "at least".
const COUNTED: usize = 1_000;

/// Bytes of an id kept to count it (ids from the wire may be long).
const KEPT: usize = 64;

/// The first [`KEPT`] bytes of `id`, cut at a character boundary.
fn key(id: &str) -> &str {
    let mut end = id.len().min(KEPT);
    while !id.is_char_boundary(end) {
        end -= 1;
    }
    &id[..end]
}

/// Ids ignored because a bound was reached, each counted once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refused {
    ids: HashSet<String>,
    /// More were refused than [`COUNTED`].
    more: bool,
}

impl Refused {
    /// `id` was refused (counted once however often it comes back).
    pub fn refuse(&mut self, id: &str) {
        let id = key(id);
        if self.ids.contains(id) {
            return;
        }
        if self.ids.len() < COUNTED {
            self.ids.insert(id.to_string());
        } else {
            self.more = true;
        }
    }

    /// `id` was taken after all (room was made): no longer counted as refused.
    pub fn admit(&mut self, id: &str) {
        if !self.ids.is_empty() {
            self.ids.remove(key(id));
        }
    }

    /// Distinct ids refused (at least this many when [`Refused::more`]).
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Past the count: the true number is larger.
    pub fn more(&self) -> bool {
        self.more
    }
}

/// The status bar's words for what two or more [`Refused`] sets hold together.
pub fn over_limit_text<'a>(refused: impl IntoIterator<Item = &'a Refused>) -> Option<String> {
    let (count, more) = refused.into_iter().fold((0, false), |(n, more), r| (n + r.len(), more || r.more()));
    (count > 0).then(|| format!("{count}{} ids over the limit ignored", if more { "+" } else { "" }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_id_counts_once_and_the_count_itself_is_bounded() {
        let mut refused = Refused::default();
        assert_eq!(over_limit_text([&refused]), None);
        refused.refuse("a");
        refused.refuse("a");
        refused.refuse("b");
        assert_eq!(refused.len(), 2);
        assert_eq!(over_limit_text([&refused, &Refused::default()]).unwrap(), "2 ids over the limit ignored");
        for i in 0..5_000 {
            refused.refuse(&format!("made-up-{i}"));
        }
        assert_eq!(refused.len(), COUNTED);
        assert!(refused.more());
        assert_eq!(over_limit_text([&refused]).unwrap(), "1000+ ids over the limit ignored");
        let mut refused = Refused::default();
        refused.refuse(&"é".repeat(100));
        refused.refuse("a");
        refused.admit("a");
        refused.admit(&"é".repeat(40));
        assert_eq!(refused.len(), 0, "admitted ids are no longer counted, long ones by their start");
    }
}

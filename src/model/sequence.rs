//! Report numbers (`seq`) checked per vehicle: a jump means reports were lost on the way, a
//! number seen again means one was delivered twice. Only within one connection: a new
//! connection starts without the old one's groups and messages (the snapshot fills the gap, a
//! documented best-effort gap), so it starts a new baseline; a transport blip bridged by
//! stateful reconnect is the same connection and must lose nothing.

use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceCheck {
    /// The highest report number seen per vehicle on this connection.
    last: HashMap<String, u64>,
    /// Vehicles checked at most (the fleet's bound): a wire naming made-up ids cannot grow the
    /// map; reports of vehicles beyond it are not checked.
    pub max_vehicles: usize,
    /// Numbered reports checked since the page opened.
    pub checked: u64,
    /// Reports missing between two that arrived (summed jumps).
    pub missed: u64,
    /// Reports that arrived again, or after a later one.
    pub repeated: u64,
}

impl Default for SequenceCheck {
    fn default() -> Self {
        Self {
            last: HashMap::new(),
            max_vehicles: crate::model::limits::Limits::default().vehicles,
            checked: 0,
            missed: 0,
            repeated: 0,
        }
    }
}

impl SequenceCheck {
    /// A report of vehicle `id` numbered `seq` arrived (0: not numbered, ignored).
    pub fn report(&mut self, id: &str, seq: u64) {
        if seq == 0 {
            return;
        }
        self.checked += 1;
        let full = self.last.len() >= self.max_vehicles;
        match self.last.get_mut(id) {
            Some(last) if seq == *last + 1 => *last = seq,
            Some(last) if seq > *last => {
                self.missed += seq - *last - 1;
                *last = seq;
            }
            Some(_) => self.repeated += 1,
            None if full => self.checked -= 1,
            None => {
                self.last.insert(id.to_string(), seq);
            }
        }
    }

    /// A new connection: what it missed before it existed is not a loss.
    pub fn new_connection(&mut self) {
        self.last.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_jumps_and_repeats_per_vehicle() {
        let mut check = SequenceCheck::default();
        for (id, seq) in [("a", 5), ("b", 1), ("a", 6), ("b", 2), ("a", 9), ("b", 2), ("a", 8), ("c", 0)] {
            check.report(id, seq);
        }
        assert_eq!(check.checked, 7, "unnumbered reports are not checked");
        assert_eq!(check.missed, 2, "a: 7 and 8 were missing when 9 came");
        assert_eq!(check.repeated, 2, "b: 2 twice; a: 8 after 9");
    }

    #[test]
    fn vehicles_beyond_the_bound_are_not_checked() {
        let mut check = SequenceCheck { max_vehicles: 1, ..SequenceCheck::default() };
        check.report("a", 1);
        check.report("b", 1);
        check.report("b", 5);
        check.report("a", 2);
        assert_eq!(check.last.len(), 1);
        assert_eq!((check.checked, check.missed), (2, 0));
    }

    #[test]
    fn a_new_connection_starts_a_new_baseline() {
        let mut check = SequenceCheck::default();
        check.report("a", 1);
        check.new_connection();
        check.report("a", 40);
        check.report("a", 41);
        assert_eq!((check.missed, check.repeated), (0, 0));
        check.report("a", 43);
        assert_eq!(check.missed, 1);
    }
}

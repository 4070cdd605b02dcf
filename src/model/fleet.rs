//! The latest known position of every vehicle.

use std::collections::BTreeMap;

use telemetry::Position;

/// Vehicles by id, each with its newest report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FleetState {
    vehicles: BTreeMap<String, Position>,
    updates: u64,
}

impl FleetState {
    /// Applies a batch. A report older than the one already held for that vehicle is ignored,
    /// so a late or replayed batch never moves a vehicle back in time. Returns how many
    /// reports were applied.
    pub fn apply(&mut self, batch: Vec<Position>) -> usize {
        let mut applied = 0;
        for position in batch {
            match self.vehicles.get_mut(&position.id) {
                Some(current) if current.ts > position.ts => {}
                Some(current) => {
                    *current = position;
                    applied += 1;
                }
                None => {
                    self.vehicles.insert(position.id.clone(), position);
                    applied += 1;
                }
            }
        }
        self.updates += applied as u64;
        applied
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
}

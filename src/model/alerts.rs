//! The latest alerts, newest arrival first (a device with a wrong clock cannot bury a fresh
//! alert), bounded so a storm cannot grow memory: raised, then acknowledged or cleared in place.

use std::collections::VecDeque;

use telemetry::{Alert, AlertAcknowledged, AlertCleared, OpenAlert};

/// How many alerts are kept.
pub const CAPACITY: usize = 200;

/// One alert and what happened to it since.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertEntry {
    pub alert: Alert,
    pub acknowledged: Option<AlertAcknowledged>,
    /// When the rule returned to normal (Unix ms).
    pub cleared_at: Option<i64>,
}

/// Alerts, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertFeed {
    entries: VecDeque<AlertEntry>,
}

impl AlertFeed {
    /// New alerts go on top; an id seen before is replaced in place.
    pub fn raise(&mut self, alerts: Vec<Alert>) {
        for alert in alerts {
            if let Some(entry) = self.entries.iter_mut().find(|e| e.alert.id == alert.id) {
                entry.alert = alert;
                continue;
            }
            self.entries.push_front(AlertEntry { alert, acknowledged: None, cleared_at: None });
            self.entries.truncate(CAPACITY);
        }
    }

    /// Open alerts from a snapshot (they replace what is known about the same ids).
    pub fn load(&mut self, mut open: Vec<OpenAlert>) {
        // Oldest first, so the newest ends on top.
        open.sort_by_key(|item| item.alert.ts);
        for item in open {
            let acknowledged = item.acknowledged;
            self.raise(vec![item.alert.clone()]);
            if let Some(ack) = acknowledged {
                self.acknowledge(vec![ack]);
            }
        }
    }

    pub fn acknowledge(&mut self, acks: Vec<AlertAcknowledged>) {
        for ack in acks {
            if let Some(entry) = self.entries.iter_mut().find(|e| e.alert.id == ack.id) {
                entry.acknowledged.get_or_insert(ack);
            }
        }
    }

    pub fn clear(&mut self, cleared: Vec<AlertCleared>) {
        for clear in cleared {
            if let Some(entry) = self.entries.iter_mut().find(|e| e.alert.id == clear.id) {
                entry.cleared_at.get_or_insert(clear.ts);
            }
        }
    }

    /// Newest first.
    pub fn iter(&self) -> impl Iterator<Item = &AlertEntry> {
        self.entries.iter()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Alerts neither acknowledged nor cleared.
    pub fn unacknowledged(&self) -> usize {
        self.entries.iter().filter(|e| e.acknowledged.is_none() && e.cleared_at.is_none()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use telemetry::Severity;

    fn alert(id: &str, ts: i64) -> Alert {
        Alert {
            id: id.into(),
            ts,
            device: "press-01".into(),
            site: "harbour".into(),
            severity: Severity::Warning,
            metric: "temperature".into(),
            value: 91.0,
            threshold: 90.0,
            message: "hot".into(),
        }
    }

    #[test]
    fn newest_first_bounded_and_updated_in_place() {
        let mut feed = AlertFeed::default();
        feed.raise(vec![alert("a", 1), alert("b", 3)]);
        feed.raise(vec![alert("c", 2)]);
        let ids: Vec<_> = feed.iter().map(|e| e.alert.id.as_str()).collect();
        assert_eq!(ids, ["c", "b", "a"], "arrival order, whatever the device clocks say");
        feed.acknowledge(vec![AlertAcknowledged { id: "c".into(), by: "ann".into(), ts: 5 }]);
        feed.clear(vec![AlertCleared { id: "a".into(), ts: 6 }]);
        assert_eq!(feed.unacknowledged(), 1);
        feed.raise(vec![alert("c", 2)]);
        assert_eq!(feed.len(), 3, "a repeated id is not a new entry");
        assert!(feed.iter().find(|e| e.alert.id == "c").unwrap().acknowledged.is_some());
        for i in 0..(CAPACITY + 50) {
            feed.raise(vec![alert(&format!("storm-{i}"), 100 + i as i64)]);
        }
        assert_eq!(feed.len(), CAPACITY);
        assert_eq!(feed.iter().next().unwrap().alert.id, format!("storm-{}", CAPACITY + 49));
    }

    #[test]
    fn snapshot_alerts_keep_their_acknowledgement() {
        let mut feed = AlertFeed::default();
        let ack = AlertAcknowledged { id: "a".into(), by: "bob".into(), ts: 2 };
        feed.load(vec![OpenAlert { alert: alert("a", 1), acknowledged: Some(ack.clone()) }]);
        assert_eq!(feed.iter().next().unwrap().acknowledged, Some(ack));
    }
}

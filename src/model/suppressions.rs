//! The alarm points set aside now: shelved by an operator, or out of service for maintenance
//! (ISA-18.2). Loaded from the snapshot, kept up to date by the `suppressed` and
//! `suppressionEnded` pushes, and ended here too when their time is up, so a page that missed
//! the backend's end still lets the alarm back. Bounded like every list from the wire.

use telemetry::alarms::{AlarmPolicy, Suppression, SuppressionKind, MAX_SUPPRESSIONS};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Suppressions {
    active: Vec<Suppression>,
    /// The backend's re-alarm period and longest shelf and out of service.
    pub policy: AlarmPolicy,
}

impl Suppressions {
    /// The snapshot's list replaces what is held.
    pub fn load(&mut self, list: Vec<Suppression>, policy: AlarmPolicy, now: i64) {
        self.active.clear();
        self.policy = policy;
        for s in list {
            self.add(s, now);
        }
    }

    /// One made (or replacing the one of its kind and point). One already over is not kept.
    pub fn add(&mut self, s: Suppression, now: i64) {
        self.active.retain(|held| held.id != s.id && held.key() != s.key());
        if s.is_active(now) && self.active.len() < MAX_SUPPRESSIONS {
            self.active.push(s);
        }
    }

    /// One ended: returns it, if it was held.
    pub fn end(&mut self, id: &str) -> Option<Suppression> {
        let at = self.active.iter().position(|s| s.id == id)?;
        Some(self.active.remove(at))
    }

    /// Ends those whose time is up at `now`; returns them.
    pub fn expire(&mut self, now: i64) -> Vec<Suppression> {
        let (over, active): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.active).into_iter().partition(|s| !s.is_active(now));
        self.active = active;
        over
    }

    /// What suppresses the alarms of `metric` of `device` at `now`, if anything: out of
    /// service before a shelf (maintenance is the stronger reason).
    pub fn of(&self, device: &str, metric: &str, now: i64) -> Option<&Suppression> {
        let covering =
            |kind| self.active.iter().find(|s| s.kind == kind && s.is_active(now) && s.covers(device, metric));
        covering(SuppressionKind::OutOfService).or_else(|| covering(SuppressionKind::Shelved))
    }

    /// The whole device out of service at `now`, if it is.
    pub fn device_out_of_service(&self, device: &str, now: i64) -> Option<&Suppression> {
        self.active.iter().find(|s| {
            s.kind == SuppressionKind::OutOfService && s.device == device && s.metric.is_none() && s.is_active(now)
        })
    }

    /// Held now, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Suppression> {
        self.active.iter()
    }

    pub fn len(&self) -> usize {
        self.active.len()
    }

    pub fn is_empty(&self) -> bool {
        self.active.is_empty()
    }
}

/// A suppression in words: "shelved by ann until 14:05 (chattering)".
pub fn describe(s: &Suppression, clock: impl Fn(i64) -> String) -> String {
    let what = match s.kind {
        SuppressionKind::Shelved => "shelved",
        SuppressionKind::OutOfService => "out of service",
    };
    let by = if s.by.is_empty() { String::new() } else { format!(" by {}", s.by) };
    let why = if s.reason.is_empty() { String::new() } else { format!(" ({})", s.reason) };
    format!("{what}{by} until {}{why}", clock(s.until))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    fn shelf(id: &str, device: &str, metric: Option<&str>, kind: SuppressionKind, until: i64) -> Suppression {
        Suppression {
            id: id.into(),
            kind,
            device: device.into(),
            metric: metric.map(Into::into),
            by: "ann".into(),
            reason: "chattering".into(),
            ts: NOW,
            until,
        }
    }

    #[test]
    fn a_shelf_covers_its_point_and_out_of_service_its_device() {
        let mut s = Suppressions::default();
        s.add(shelf("a", "pump", Some("pressure"), SuppressionKind::Shelved, NOW + 60_000), NOW);
        s.add(shelf("b", "press", None, SuppressionKind::OutOfService, NOW + 60_000), NOW);
        assert_eq!(s.of("pump", "pressure", NOW).map(|x| x.id.as_str()), Some("a"));
        assert!(s.of("pump", "flow", NOW).is_none(), "another metric of the device is not shelved");
        assert_eq!(s.of("press", "anything", NOW).map(|x| x.id.as_str()), Some("b"));
        assert!(s.device_out_of_service("press", NOW).is_some());
        // Out of service wins over a shelf of the same point.
        s.add(shelf("c", "press", Some("t"), SuppressionKind::Shelved, NOW + 60_000), NOW);
        assert_eq!(s.of("press", "t", NOW).map(|x| x.id.as_str()), Some("b"));
        assert!(s.of("pump", "pressure", NOW + 60_000).is_none(), "over at its until");
    }

    #[test]
    fn a_new_one_replaces_the_same_point_and_ends_and_expiry_remove() {
        let mut s = Suppressions::default();
        s.add(shelf("a", "pump", Some("p"), SuppressionKind::Shelved, NOW + 60_000), NOW);
        s.add(shelf("a2", "pump", Some("p"), SuppressionKind::Shelved, NOW + 120_000), NOW);
        assert_eq!(s.len(), 1);
        assert_eq!(s.of("pump", "p", NOW + 90_000).map(|x| x.id.as_str()), Some("a2"));
        s.add(shelf("old", "x", Some("p"), SuppressionKind::Shelved, NOW - 1), NOW);
        assert_eq!(s.len(), 1, "one already over is not kept");
        assert_eq!(s.expire(NOW + 120_000).len(), 1);
        assert!(s.is_empty());
        s.load(vec![shelf("z", "y", None, SuppressionKind::OutOfService, NOW + 5)], AlarmPolicy::default(), NOW);
        assert_eq!(s.end("z").map(|x| x.id), Some("z".into()));
        assert_eq!(s.end("z"), None);
        let text = describe(&shelf("d", "p", Some("m"), SuppressionKind::Shelved, NOW), |_| "14:05".into());
        assert_eq!(text, "shelved by ann until 14:05 (chattering)");
    }
}

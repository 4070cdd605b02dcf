//! The latest alerts, newest arrival first (a device with a wrong clock cannot bury a fresh
//! alert), bounded so a storm cannot grow memory: raised, then acknowledged or cleared in place.

use std::collections::{HashSet, VecDeque};

use telemetry::{Alert, AlertAcknowledged, AlertCleared, OpenAlert, Severity};

/// How many alerts are kept (the history screen's depth; a storm pushes the oldest out).
pub const CAPACITY: usize = 1_000;

/// How many acknowledgements and clearances of alerts not known yet are held for them.
const EARLY_CAPACITY: usize = 256;

/// Where an alert stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertState {
    Open,
    Acknowledged,
    Cleared,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Open => "open",
            AlertState::Acknowledged => "acknowledged",
            AlertState::Cleared => "cleared",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [AlertState::Open, AlertState::Acknowledged, AlertState::Cleared].into_iter().find(|s| s.as_str() == text)
    }
}

/// What the history screen shows: each part optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertFilter {
    pub severity: Option<Severity>,
    pub site: Option<String>,
    pub state: Option<AlertState>,
    /// Part of the device id, any case.
    pub device: String,
}

impl AlertFilter {
    pub fn matches(&self, entry: &AlertEntry) -> bool {
        let device = self.device.trim().to_lowercase();
        self.severity.is_none_or(|s| s == entry.alert.severity)
            && self.site.as_ref().is_none_or(|s| *s == entry.alert.site)
            && self.state.is_none_or(|s| s == entry.state())
            && (device.is_empty() || entry.alert.device.to_lowercase().contains(&device))
    }
}

/// Alerts per severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeverityCounts {
    pub info: usize,
    pub warning: usize,
    pub critical: usize,
}

/// One alert and what happened to it since.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertEntry {
    pub alert: Alert,
    pub acknowledged: Option<AlertAcknowledged>,
    /// When the rule returned to normal (Unix ms).
    pub cleared_at: Option<i64>,
    /// The server no longer has it (a snapshot left it out): acknowledged elsewhere or ended,
    /// nothing is left to do about it here.
    pub over: bool,
    /// Times it came back unacknowledged, still active after its acknowledgement (re-alarm).
    pub re_alarms: u32,
}

/// ISA-18.2's states of an alarm, shown the same way on every screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Isa {
    ActiveUnacknowledged,
    ActiveAcknowledged,
    ReturnedUnacknowledged,
    Normal,
}

impl Isa {
    /// The code (a CSS class and a test's handle).
    pub fn as_str(self) -> &'static str {
        match self {
            Isa::ActiveUnacknowledged => "active-unacknowledged",
            Isa::ActiveAcknowledged => "active-acknowledged",
            Isa::ReturnedUnacknowledged => "returned-unacknowledged",
            Isa::Normal => "normal",
        }
    }

    /// In words.
    pub fn words(self) -> &'static str {
        match self {
            Isa::ActiveUnacknowledged => "active, unacknowledged",
            Isa::ActiveAcknowledged => "active, acknowledged",
            Isa::ReturnedUnacknowledged => "returned to normal, unacknowledged",
            Isa::Normal => "normal",
        }
    }
}

impl AlertEntry {
    /// Still waiting for someone: open, or back to normal and not acknowledged yet (ISA-18.2's
    /// "returned to normal, unacknowledged"), and not over.
    pub fn needs_acknowledgement(&self) -> bool {
        self.acknowledged.is_none() && !self.over
    }

    /// Its ISA-18.2 state. An alert the server no longer has is normal (acknowledged elsewhere,
    /// or over).
    pub fn isa(&self) -> Isa {
        match (self.acknowledged.is_some(), self.cleared_at.is_some() || self.over) {
            _ if self.over => Isa::Normal,
            (false, false) => Isa::ActiveUnacknowledged,
            (true, false) => Isa::ActiveAcknowledged,
            (false, true) => Isa::ReturnedUnacknowledged,
            (true, true) => Isa::Normal,
        }
    }

    /// Where it stands, in words (the alert list and the history say the same).
    pub fn state_text(&self) -> String {
        match (&self.acknowledged, self.cleared_at.is_some() || self.over) {
            (None, false) => "open".into(),
            (Some(ack), false) => format!("acknowledged by {}", ack.by),
            (None, true) if self.over => "cleared".into(),
            (None, true) => "back to normal, unacknowledged".into(),
            (Some(ack), true) => format!("cleared, acknowledged by {}", ack.by),
        }
    }

    /// Cleared wins over acknowledged: the condition is over either way (and so is an alert
    /// the server no longer has).
    pub fn state(&self) -> AlertState {
        match (&self.acknowledged, self.cleared_at) {
            _ if self.over => AlertState::Cleared,
            (_, Some(_)) => AlertState::Cleared,
            (Some(_), None) => AlertState::Acknowledged,
            (None, None) => AlertState::Open,
        }
    }
}

/// Alerts, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertFeed {
    entries: VecDeque<AlertEntry>,
    /// Ids held, so a storm of new alerts does not search the list for each.
    ids: HashSet<String>,
    /// Acknowledgements and clearances that came before their alert (on a reconnect the live
    /// ones can overtake the snapshot that brings the alert), applied when it shows up, so a
    /// snapshot taken a moment earlier cannot bring back an alert as open.
    early: VecDeque<Early>,
    /// When the last snapshot loaded was taken (server time): the alert log judges by it.
    pub snapshot_ts: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
enum Early {
    Acknowledged(AlertAcknowledged),
    Cleared(AlertCleared),
}

impl Early {
    fn id(&self) -> &str {
        match self {
            Early::Acknowledged(ack) => &ack.id,
            Early::Cleared(clear) => &clear.id,
        }
    }
}

impl Default for AlertFeed {
    /// Room for the whole bound from the start, so a storm does not grow memory in steps. The id
    /// set gets twice the bound: under constant churn (one id in, one out) a hash table full
    /// more than half way of live entries grows when it runs out of free slots, whereas at most
    /// half full it only tidies its deleted slots in place.
    fn default() -> Self {
        Self {
            entries: VecDeque::with_capacity(CAPACITY + 1),
            ids: HashSet::with_capacity(2 * (CAPACITY + 1)),
            early: VecDeque::new(),
            snapshot_ts: None,
        }
    }
}

impl AlertFeed {
    /// New alerts go on top; an id seen before is replaced in place.
    pub fn raise(&mut self, alerts: Vec<Alert>) {
        for alert in alerts {
            if self.ids.contains(&alert.id) {
                if let Some(entry) = self.entries.iter_mut().find(|e| e.alert.id == alert.id) {
                    entry.alert = alert;
                    // Raised again by the server (live, or listed by a snapshot): not over.
                    entry.over = false;
                }
                continue;
            }
            self.ids.insert(alert.id.clone());
            let mut entry = AlertEntry { alert, acknowledged: None, cleared_at: None, over: false, re_alarms: 0 };
            while let Some(at) = self.early.iter().position(|e| e.id() == entry.alert.id) {
                match self.early.remove(at) {
                    Some(Early::Acknowledged(ack)) => entry.acknowledged = Some(ack),
                    Some(Early::Cleared(clear)) => entry.cleared_at = Some(clear.ts),
                    None => {}
                }
            }
            self.entries.push_front(entry);
            while self.entries.len() > CAPACITY {
                if let Some(old) = self.entries.pop_back() {
                    self.ids.remove(&old.alert.id);
                }
            }
        }
    }

    /// The alerts a snapshot lists as not over (they replace what is known about the same
    /// ids). The snapshot is the truth about what was known when it was asked for
    /// (`known_before`, from [`AlertFeed::ids`]): such an alert it does not list is over (it
    /// cleared, or was acknowledged and cleared, while the page was away) and is marked cleared
    /// at `now`; one that arrived live meanwhile is left alone. Returns the ids that are over,
    /// unacknowledged here, for their toasts.
    pub fn load(&mut self, open: Vec<OpenAlert>, now: i64, known_before: &HashSet<String>) -> Vec<String> {
        self.load_with_re_alarms(open, now, known_before).0
    }

    /// [`AlertFeed::load`], and the alerts held as acknowledged that the snapshot lists
    /// unacknowledged while still active: they re-alarmed while the page was away (to notify
    /// again).
    pub fn load_with_re_alarms(
        &mut self,
        mut open: Vec<OpenAlert>,
        now: i64,
        known_before: &HashSet<String>,
    ) -> (Vec<String>, Vec<Alert>) {
        let listed: HashSet<String> = open.iter().map(|item| item.alert.id.clone()).collect();
        let mut over = Vec::new();
        let gone = |e: &AlertEntry| known_before.contains(&e.alert.id) && !listed.contains(&e.alert.id);
        for entry in self.entries.iter_mut().filter(|e| gone(e)) {
            if entry.acknowledged.is_none() {
                over.push(entry.alert.id.clone());
            }
            entry.cleared_at.get_or_insert(now);
            entry.over = true;
        }
        // Oldest first, so the newest ends on top.
        open.sort_by_key(|item| item.alert.ts);
        let mut re_alarmed = Vec::new();
        for item in open {
            let (acknowledged, cleared) = (item.acknowledged, item.cleared);
            if acknowledged.is_none() && cleared.is_none() {
                if let Some(entry) =
                    self.entries.iter_mut().find(|e| e.alert.id == item.alert.id && e.acknowledged.is_some())
                {
                    entry.acknowledged = None;
                    entry.re_alarms = entry.re_alarms.saturating_add(1);
                    re_alarmed.push(item.alert.clone());
                }
            }
            self.raise(vec![item.alert.clone()]);
            if let Some(ack) = acknowledged {
                self.acknowledge(vec![ack]);
            }
            if let Some(ts) = cleared {
                self.clear(vec![AlertCleared { id: item.alert.id, ts }]);
            }
        }
        // What the snapshot did not bring is for alerts that are over or unknown: stale now.
        self.early.clear();
        (over, re_alarmed)
    }

    /// Joins the alert log behind what is held: each alert raised in it and not held is added
    /// after the held ones, newest first, with what the log says happened to it (all its
    /// events are read first, so an acknowledgement stamped by a server clock before the raise
    /// by a device clock is not lost). Held alerts are the snapshot's and the live ones: a log
    /// alert raised before the snapshot (`snapshot_ts`) that is not held is over (the snapshot
    /// would list it otherwise), and so is one the log shows acknowledged and cleared; a later
    /// one stands as the log says. Items that do not pass the contract's checks are skipped.
    /// Within the bound. Returns how many were added.
    pub fn load_log(&mut self, events: Vec<telemetry::history::AlertEvent>, snapshot_ts: Option<i64>) -> usize {
        use telemetry::history::AlertChange;
        use telemetry::json::Batch;
        let mut older: Vec<AlertEntry> = Vec::new();
        let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        let mut later = Vec::new();
        for event in events {
            if self.ids.contains(&event.id) {
                continue;
            }
            match (event.change, event.alert) {
                (AlertChange::Raised, Some(alert)) if !at.contains_key(&alert.id) && alert.problem().is_none() => {
                    at.insert(alert.id.clone(), older.len());
                    let raised_ts = event.ts;
                    let over = snapshot_ts.is_some_and(|ts| raised_ts <= ts);
                    older.push(AlertEntry { alert, acknowledged: None, cleared_at: None, over, re_alarms: 0 });
                }
                (AlertChange::Raised, _) => {}
                (change, _) => later.push((change, event.id, event.ts, event.by)),
            }
        }
        for (change, id, ts, by) in later {
            let Some(entry) = at.get(&id).map(|&i| &mut older[i]) else { continue };
            match change {
                AlertChange::Acknowledged => {
                    entry.acknowledged.get_or_insert(AlertAcknowledged { id, by: by.unwrap_or_default(), ts });
                }
                AlertChange::Cleared => _ = entry.cleared_at.get_or_insert(ts),
                // Re-alarms and suppressions: not read here yet.
                AlertChange::Raised
                | AlertChange::ReAlarmed
                | AlertChange::Shelved
                | AlertChange::Unshelved
                | AlertChange::OutOfService
                | AlertChange::ReturnedToService
                | AlertChange::Unknown => {}
            }
        }
        let mut added = 0;
        for mut entry in older.into_iter().rev() {
            if self.entries.len() >= CAPACITY {
                break;
            }
            entry.over |= entry.acknowledged.is_some() && entry.cleared_at.is_some();
            self.ids.insert(entry.alert.id.clone());
            self.entries.push_back(entry);
            added += 1;
        }
        added
    }

    /// The ids shown now (to hand to [`AlertFeed::load`] with the snapshot asked for next).
    pub fn ids(&self) -> HashSet<String> {
        self.ids.clone()
    }

    pub fn acknowledge(&mut self, acks: Vec<AlertAcknowledged>) {
        for ack in acks {
            match self.entries.iter_mut().find(|e| e.alert.id == ack.id) {
                Some(entry) => _ = entry.acknowledged.get_or_insert(ack),
                None => self.hold(Early::Acknowledged(ack)),
            }
        }
    }

    /// Alerts acknowledged and still active after the backend's re-alarm period: unacknowledged
    /// again. Returns those held that re-alarmed (to notify again).
    pub fn re_alarm(&mut self, ids: &[telemetry::alarms::AlertReAlarmed]) -> Vec<Alert> {
        let mut again = Vec::new();
        for re in ids {
            if let Some(entry) = self.entries.iter_mut().find(|e| e.alert.id == re.id && e.cleared_at.is_none()) {
                entry.acknowledged = None;
                entry.re_alarms = entry.re_alarms.saturating_add(1);
                again.push(entry.alert.clone());
            }
        }
        again
    }

    pub fn clear(&mut self, cleared: Vec<AlertCleared>) {
        for clear in cleared {
            match self.entries.iter_mut().find(|e| e.alert.id == clear.id) {
                Some(entry) => _ = entry.cleared_at.get_or_insert(clear.ts),
                None => self.hold(Early::Cleared(clear)),
            }
        }
    }

    /// Keeps what came before its alert, the newest [`EARLY_CAPACITY`] of them.
    fn hold(&mut self, early: Early) {
        if self.early.len() == EARLY_CAPACITY {
            self.early.pop_front();
        }
        self.early.push_back(early);
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

    /// Entries passing `filter`, newest first.
    pub fn filtered<'a>(&'a self, filter: &'a AlertFilter) -> impl Iterator<Item = &'a AlertEntry> + 'a {
        self.entries.iter().filter(move |e| filter.matches(e))
    }

    /// Open (neither acknowledged nor cleared) alerts per severity.
    pub fn open_counts(&self) -> SeverityCounts {
        let mut counts = SeverityCounts::default();
        for entry in self.entries.iter().filter(|e| e.state() == AlertState::Open) {
            match entry.alert.severity {
                Severity::Info => counts.info += 1,
                Severity::Warning => counts.warning += 1,
                Severity::Critical => counts.critical += 1,
            }
        }
        counts
    }

    /// Sites of the alerts held, sorted.
    pub fn sites(&self) -> Vec<String> {
        let mut sites: Vec<String> = self.entries.iter().map(|e| e.alert.site.clone()).collect();
        sites.sort();
        sites.dedup();
        sites
    }

    /// Ids of the alerts of a device and metric still to acknowledge, active or back to normal
    /// (what a folded toast stands for).
    pub fn open_ids(&self, device: &str, metric: &str) -> Vec<String> {
        self.entries
            .iter()
            .filter(|e| e.needs_acknowledgement() && e.alert.device == device && e.alert.metric == metric)
            .map(|e| e.alert.id.clone())
            .collect()
    }

    /// The alerts as they stood at `at`: those raised by then, each acknowledged or cleared
    /// only if that had happened by then (an alert the server has since let go is not over
    /// then). Newest first, as held.
    pub fn as_of(&self, at: i64) -> AlertFeed {
        let entries: VecDeque<AlertEntry> = self
            .entries
            .iter()
            .filter(|e| e.alert.ts <= at)
            .map(|e| AlertEntry {
                alert: e.alert.clone(),
                acknowledged: e.acknowledged.clone().filter(|ack| ack.ts <= at),
                cleared_at: e.cleared_at.filter(|ts| *ts <= at),
                over: false,
                re_alarms: 0,
            })
            .collect();
        let ids = entries.iter().map(|e| e.alert.id.clone()).collect();
        AlertFeed { entries, ids, early: VecDeque::new(), snapshot_ts: None }
    }

    /// Alerts neither acknowledged nor cleared.
    pub fn unacknowledged(&self) -> usize {
        self.entries.iter().filter(|e| e.state() == AlertState::Open).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use telemetry::fixtures::alert;
    use telemetry::Severity;

    #[test]
    fn as_of_a_moment_an_alert_is_open_only_after_it_was_raised_and_before_it_cleared() {
        let mut feed = AlertFeed::default();
        feed.raise(vec![alert("a1", 10_000), alert("a2", 20_000)]);
        feed.acknowledge(vec![AlertAcknowledged { id: "a1".into(), by: "ann".into(), ts: 15_000 }]);
        feed.clear(vec![AlertCleared { id: "a1".into(), ts: 30_000 }]);
        assert!(feed.as_of(9_999).is_empty(), "nothing raised yet");
        let then = feed.as_of(12_000);
        assert_eq!(then.len(), 1);
        assert_eq!(then.iter().next().unwrap().state(), AlertState::Open);
        let then = feed.as_of(25_000);
        assert_eq!(then.len(), 2);
        let a1 = then.iter().find(|e| e.alert.id == "a1").unwrap();
        assert_eq!(a1.state_text(), "acknowledged by ann");
        assert_eq!(feed.as_of(30_000).iter().find(|e| e.alert.id == "a1").unwrap().state(), AlertState::Cleared);
        assert_eq!(feed.as_of(25_000).unacknowledged(), 1, "a2 open, a1 acknowledged");
    }

    #[test]
    fn a_clearance_or_acknowledgement_before_its_alert_is_not_lost() {
        // On a reconnect, live events can overtake the snapshot that brings their alert.
        let mut feed = AlertFeed::default();
        feed.clear(vec![AlertCleared { id: "gone".into(), ts: 7 }]);
        feed.acknowledge(vec![AlertAcknowledged { id: "seen".into(), by: "ann".into(), ts: 8 }]);
        let open = |id: &str| OpenAlert { alert: alert(id, 1), acknowledged: None, cleared: None };
        let known = feed.ids();
        feed.load(vec![open("gone"), open("seen"), open("new")], 9, &known);
        let state = |id: &str| feed.iter().find(|e| e.alert.id == id).unwrap().state();
        assert_eq!(state("gone"), AlertState::Cleared, "the snapshot must not bring it back as open");
        assert_eq!(state("seen"), AlertState::Acknowledged);
        assert_eq!(state("new"), AlertState::Open);
        assert!(feed.early.is_empty(), "applied once");
        // Held events are bounded.
        for i in 0..(EARLY_CAPACITY + 10) {
            feed.clear(vec![AlertCleared { id: format!("never-{i}"), ts: 1 }]);
        }
        assert_eq!(feed.early.len(), EARLY_CAPACITY);
    }

    #[test]
    fn the_snapshot_is_the_truth_about_which_alerts_are_open() {
        let mut feed = AlertFeed::default();
        feed.raise(vec![alert("over-while-away", 1), alert("still-active", 2), alert("back-to-normal", 3)]);
        feed.clear(vec![AlertCleared { id: "cleared-before".into(), ts: 4 }]);
        let open = |id: &str, cleared: Option<i64>| OpenAlert { alert: alert(id, 1), acknowledged: None, cleared };
        // Back to normal here, then acknowledged elsewhere while away: over too, its toast goes.
        feed.raise(vec![alert("cleared-here", 4)]);
        feed.clear(vec![AlertCleared { id: "cleared-here".into(), ts: 6 }]);
        let known = feed.ids();
        // Arrived live while the snapshot was on its way: not the snapshot's to judge.
        feed.raise(vec![alert("arrived-meanwhile", 7)]);
        let mut over = feed.load(vec![open("still-active", None), open("back-to-normal", Some(5))], 50, &known);
        over.sort();
        assert_eq!(over, ["cleared-here", "over-while-away"]);
        assert_eq!(feed.iter().find(|e| e.alert.id == "arrived-meanwhile").unwrap().state(), AlertState::Open);
        let entry = |id: &str| feed.iter().find(|e| e.alert.id == id).unwrap();
        assert_eq!(
            (entry("over-while-away").state(), entry("over-while-away").cleared_at),
            (AlertState::Cleared, Some(50))
        );
        assert_eq!(entry("still-active").state(), AlertState::Open);
        assert_eq!(entry("back-to-normal").cleared_at, Some(5), "returned to normal, still to acknowledge");
        assert_eq!(feed.unacknowledged(), 2, "counted open: the active one and the one that arrived meanwhile");
        // In words, and who still has to act.
        assert_eq!(entry("back-to-normal").state_text(), "back to normal, unacknowledged");
        assert!(entry("back-to-normal").needs_acknowledgement());
        assert_eq!(entry("over-while-away").state_text(), "cleared");
        assert!(!entry("over-while-away").needs_acknowledgement(), "over: nothing left to acknowledge");
        assert!(entry("still-active").needs_acknowledgement());
        feed.acknowledge(vec![AlertAcknowledged { id: "back-to-normal".into(), by: "ann".into(), ts: 60 }]);
        assert_eq!(entry_text(&feed, "back-to-normal"), "cleared, acknowledged by ann");
        feed.acknowledge(vec![AlertAcknowledged { id: "still-active".into(), by: "bo".into(), ts: 60 }]);
        assert_eq!(entry_text(&feed, "still-active"), "acknowledged by bo");
    }

    fn entry_text(feed: &AlertFeed, id: &str) -> String {
        feed.iter().find(|e| e.alert.id == id).unwrap().state_text()
    }

    #[test]
    fn the_alert_log_fills_the_history_behind_what_is_held() {
        use telemetry::history::{AlertChange, AlertEvent};
        let event = |ts, id: &str, change, by: Option<&str>| AlertEvent {
            ts,
            id: id.into(),
            change,
            alert: (change == AlertChange::Raised).then(|| alert(id, ts)),
            by: by.map(String::from),
            suppression: None,
            reason: None,
        };
        let mut feed = AlertFeed::default();
        feed.raise(vec![alert("open-now", 50)]);
        let log = vec![
            event(1, "old", AlertChange::Raised, None),
            event(2, "old", AlertChange::Acknowledged, Some("ann")),
            event(3, "old", AlertChange::Cleared, None),
            event(4, "older-news", AlertChange::Raised, None),
            event(5, "open-now", AlertChange::Raised, None),
            event(6, "stray", AlertChange::Cleared, None),
        ];
        // An acknowledgement stamped before its raise (clocks differ) is not lost.
        let mut log = log;
        log.insert(0, event(0, "older-news", AlertChange::Acknowledged, Some("bo")));
        log.push(event(60, "after-snapshot", AlertChange::Raised, None));
        assert_eq!(feed.load_log(log, Some(50)), 3);
        let ids: Vec<&str> = feed.iter().map(|e| e.alert.id.as_str()).collect();
        assert_eq!(ids, ["open-now", "after-snapshot", "older-news", "old"], "held first, then the log newest first");
        let after = feed.iter().find(|e| e.alert.id == "after-snapshot").unwrap();
        assert!(after.needs_acknowledgement(), "raised after the snapshot: open as the log says");
        let old = feed.iter().find(|e| e.alert.id == "old").unwrap();
        assert_eq!(old.state_text(), "cleared, acknowledged by ann");
        let news = feed.iter().find(|e| e.alert.id == "older-news").unwrap();
        assert!(!news.needs_acknowledgement(), "over: the snapshot does not list it");
        assert_eq!(news.state_text(), "cleared, acknowledged by bo");
        assert_eq!(feed.unacknowledged(), 2, "open-now and after-snapshot");
        // Raised live again: no longer over.
        feed.raise(vec![alert("older-news", 70)]);
        assert!(!feed.iter().find(|e| e.alert.id == "older-news").unwrap().over);
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
        let (entries, ids) = (feed.entries.capacity(), feed.ids.capacity());
        for i in 0..(CAPACITY + 50) {
            feed.raise(vec![alert(&format!("storm-{i}"), 100 + i as i64)]);
        }
        assert_eq!(feed.len(), CAPACITY);
        assert_eq!(feed.iter().next().unwrap().alert.id, format!("storm-{}", CAPACITY + 49));
        // Memory stays put through long storms (the id set's reported capacity only shrinks
        // while deleted slots wait to be reused; it would jump if the table grew).
        for i in 0..(10 * CAPACITY) {
            feed.raise(vec![alert(&format!("later-{i}"), 100 + i as i64)]);
            assert_eq!(feed.entries.capacity(), entries, "a storm must not grow the list");
            assert!(feed.ids.capacity() <= ids, "a storm must not grow the id set");
        }
        assert_eq!(feed.len(), CAPACITY);
    }

    #[test]
    fn filters_counts_and_what_a_toast_stands_for() {
        let mut feed = AlertFeed::default();
        let mut critical = alert("c", 1);
        critical.severity = Severity::Critical;
        critical.site = "airport".into();
        let mut rig = alert("r", 2);
        rig.device = "rig-02".into();
        rig.metric = "rpm".into();
        feed.raise(vec![alert("a", 0), critical, rig, alert("b", 3)]);
        feed.acknowledge(vec![AlertAcknowledged { id: "b".into(), by: "ann".into(), ts: 5 }]);
        feed.clear(vec![AlertCleared { id: "b".into(), ts: 6 }]);
        let ids = |f: &AlertFilter| feed.filtered(f).map(|e| e.alert.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&AlertFilter::default()), ["b", "r", "c", "a"]);
        assert_eq!(ids(&AlertFilter { severity: Some(Severity::Critical), ..Default::default() }), ["c"]);
        assert_eq!(ids(&AlertFilter { site: Some("harbour".into()), ..Default::default() }), ["b", "r", "a"]);
        assert_eq!(ids(&AlertFilter { state: Some(AlertState::Cleared), ..Default::default() }), ["b"]);
        assert_eq!(ids(&AlertFilter { device: " RIG".into(), ..Default::default() }), ["r"]);
        assert_eq!(feed.open_counts(), SeverityCounts { info: 0, warning: 2, critical: 1 });
        assert_eq!(feed.sites(), ["airport", "harbour"]);
        assert_eq!(feed.open_ids("press-01", "temperature"), ["c", "a"]);
        assert_eq!(AlertState::parse("acknowledged"), Some(AlertState::Acknowledged));
        assert_eq!(AlertState::parse("nope"), None);
    }

    #[test]
    fn snapshot_alerts_keep_their_acknowledgement() {
        let mut feed = AlertFeed::default();
        let ack = AlertAcknowledged { id: "a".into(), by: "bob".into(), ts: 2 };
        feed.load(
            vec![OpenAlert { alert: alert("a", 1), acknowledged: Some(ack.clone()), cleared: None }],
            9,
            &feed.ids(),
        );
        assert_eq!(feed.iter().next().unwrap().acknowledged, Some(ack));
    }
}

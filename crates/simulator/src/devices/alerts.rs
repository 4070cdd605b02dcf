//! Alert rules over equipment readings: thresholds and rate of change, each raised once and
//! cleared with hysteresis (the value must come back past a lower bound), so a value hovering
//! at a threshold does not flap. The engine also runs the geofence rules over vehicle
//! positions (`devices::geofences`), whose alerts are held, acknowledged and returned to
//! normal like the others.

use std::collections::{BTreeMap, HashMap, VecDeque};

use telemetry::catalog::{Direction, Geofence};
use telemetry::{
    Alert, AlertAcknowledged, AlertCleared, AlertReAlarmed, Catalog, Millis, OpenAlert, Position, Reading, Severity,
};

use crate::devices::geofences::FenceRules;

/// When a rule fires and when it clears.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Condition {
    /// Fires above `threshold`, clears below `clear`.
    Above { threshold: f64, clear: f64 },
    /// Fires below `threshold`, clears above `clear`.
    Below { threshold: f64, clear: f64 },
    /// Fires when the value rose faster than `per_second` over the last `window_ms`, clears
    /// when the rise slows below `clear_per_second`.
    RisingFaster { per_second: f64, window_ms: i64, clear_per_second: f64 },
}

/// One alert rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The catalog kind it watches.
    pub kind: String,
    pub metric: String,
    pub unit: String,
    /// Decimals its messages show the value with (the catalog's).
    pub decimals: usize,
    pub severity: Severity,
    pub condition: Condition,
}

/// The rules the simulator runs: one per limit of `catalog` (so a dashboard draws its
/// threshold lines where alerts fire), plus a rate-of-change rule on process temperature.
pub fn rules_for(catalog: &Catalog) -> Vec<Rule> {
    let mut rules = Vec::new();
    for kind in &catalog.kinds {
        for metric in &kind.metrics {
            for limit in &metric.limits {
                let condition = match limit.threshold() {
                    Some((Direction::Above, threshold)) => {
                        Condition::Above { threshold, clear: limit.clear.unwrap_or(threshold) }
                    }
                    Some((Direction::Below, threshold)) => {
                        Condition::Below { threshold, clear: limit.clear.unwrap_or(threshold) }
                    }
                    None => continue,
                };
                rules.push(Rule {
                    kind: kind.id.clone(),
                    metric: metric.id.clone(),
                    unit: metric.unit.clone(),
                    decimals: metric.decimals.into(),
                    severity: limit.severity,
                    condition,
                });
            }
        }
    }
    if catalog.metric(crate::devices::catalog::PROCESS, "temperature").is_some() {
        rules.push(Rule {
            kind: crate::devices::catalog::PROCESS.into(),
            metric: "temperature".into(),
            unit: "°C/s".into(),
            decimals: 1,
            severity: Severity::Warning,
            condition: Condition::RisingFaster { per_second: 1.0, window_ms: 10_000, clear_per_second: 0.3 },
        });
    }
    rules
}

/// What a rule is across a change of the catalog: kind, metric, severity, direction, and
/// which of the rules with these four it is.
fn identities(rules: &[Rule]) -> Vec<(String, String, Severity, u8, usize)> {
    let mut identities: Vec<(String, String, Severity, u8, usize)> = Vec::with_capacity(rules.len());
    for rule in rules {
        let direction = match rule.condition {
            Condition::Above { .. } => 0,
            Condition::Below { .. } => 1,
            Condition::RisingFaster { .. } => 2,
        };
        let same = |i: &&(String, String, Severity, u8, usize)| {
            i.0 == rule.kind && i.1 == rule.metric && i.2 == rule.severity && i.3 == direction
        };
        let nth = identities.iter().filter(same).count();
        identities.push((rule.kind.clone(), rule.metric.clone(), rule.severity, direction, nth));
    }
    identities
}

/// The rules of the built-in catalog.
pub fn default_rules() -> Vec<Rule> {
    rules_for(&crate::devices::catalog::scenarios())
}

/// What one evaluation changed.
#[derive(Debug, Default, PartialEq)]
pub struct Changes {
    pub raised: Vec<Alert>,
    pub cleared: Vec<AlertCleared>,
}

/// Published alerts kept (a storm of REST-published alerts cannot grow memory).
pub const MAX_PUBLISHED: usize = 1_000;

/// Alerts returned to normal unacknowledged, and ended alerts' acknowledgements, kept (each).
pub const MAX_RETURNED: usize = 1_000;

/// What acknowledging an alert did.
#[derive(Debug, Clone, PartialEq)]
pub enum Acknowledgement {
    /// Acknowledged now: tell every dashboard.
    New(AlertAcknowledged),
    /// Acknowledged before (the first acknowledgement stays): this is it.
    Already(AlertAcknowledged),
    /// No such alert: never raised, or over too long ago to remember.
    Unknown,
}

/// Evaluates rules and keeps open alerts with their acknowledgements.
pub struct AlertEngine {
    rules: Vec<Rule>,
    /// (device, rule index) → the open alert.
    open: BTreeMap<(String, usize), Alert>,
    acknowledged: HashMap<String, AlertAcknowledged>,
    /// Alerts other publishers sent through the service's REST API, newest last (bounded).
    published: VecDeque<Alert>,
    /// Alerts whose condition returned to normal before anyone acknowledged them, with when;
    /// they stay until acknowledged (ISA-18.2), newest last (bounded).
    returned: VecDeque<(Alert, Millis)>,
    /// Acknowledgements of alerts that are over, newest last (bounded): acknowledging one
    /// again answers with it.
    ended: VecDeque<AlertAcknowledged>,
    /// (device, metric) → recent (ts, value) for rate-of-change rules.
    history: HashMap<(String, String), VecDeque<(Millis, f64)>>,
    /// The geofence rules and their open alerts.
    fences: FenceRules,
    next_id: u64,
    id_prefix: String,
    /// The site of every alert raised lately, open or over, for the messages about it that
    /// carry only its id (acknowledged, cleared, re-alarmed) when they go to its site alone.
    sites: AlertSites,
}

/// Alerts whose site is remembered (the newest; about 10 MB at most).
pub const MAX_ALERT_SITES: usize = 100_000;

/// Alert id → site, the newest [`MAX_ALERT_SITES`].
#[derive(Debug, Default)]
struct AlertSites {
    by_id: HashMap<String, String>,
    order: VecDeque<String>,
}

impl AlertSites {
    fn remember(&mut self, alerts: &[Alert]) {
        for alert in alerts {
            if self.by_id.insert(alert.id.clone(), alert.site.clone()).is_none() {
                self.order.push_back(alert.id.clone());
            }
            while self.order.len() > MAX_ALERT_SITES {
                if let Some(old) = self.order.pop_front() {
                    self.by_id.remove(&old);
                }
            }
        }
    }
}

impl AlertEngine {
    /// `id_prefix` keeps alert ids of different runs apart.
    pub fn new(rules: Vec<Rule>, id_prefix: impl Into<String>) -> Self {
        Self {
            rules,
            open: BTreeMap::new(),
            acknowledged: HashMap::new(),
            published: VecDeque::new(),
            returned: VecDeque::new(),
            ended: VecDeque::new(),
            history: HashMap::new(),
            fences: FenceRules::default(),
            next_id: 1,
            id_prefix: id_prefix.into(),
            sites: AlertSites::default(),
        }
    }

    /// The site of alert `id`, if it was raised (or published) lately.
    pub fn site_of(&self, id: &str) -> Option<&str> {
        self.sites.by_id.get(id).map(String::as_str)
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Replaces the rules (the catalog changed). A rule keeps its identity across the change
    /// by kind, metric, severity and direction (`above`, `below`, rising), the n-th rule of one
    /// identity matching the n-th: its open alerts stay open under it, and its new threshold
    /// and clear level decide from now on (so a moved line does not raise a second alarm for
    /// the same condition). An open alert whose rule is gone has returned to normal as far as
    /// anyone can tell: it clears at `ts` and, unacknowledged, waits for its acknowledgement
    /// like any other. Returns those clearings, for the dashboards.
    pub fn set_rules(&mut self, rules: Vec<Rule>, ts: Millis) -> Vec<AlertCleared> {
        let old = identities(&self.rules);
        let new = identities(&rules);
        self.rules = rules;
        let mut cleared = Vec::new();
        for ((device, index), alert) in std::mem::take(&mut self.open) {
            match new.iter().position(|identity| *identity == old[index]) {
                Some(kept) => {
                    self.open.insert((device, kept), alert);
                }
                None => {
                    cleared.push(AlertCleared { id: alert.id.clone(), ts });
                    self.returned_to_normal(alert, ts);
                }
            }
        }
        cleared
    }

    /// The geofences watched.
    pub fn fences(&self) -> impl Iterator<Item = &Geofence> {
        self.fences.fences()
    }

    /// Replaces the geofences watched (the catalog changed: `FenceRules::set_fences` says what
    /// stays). Alerts of a fence removed, or of a limit it dropped, clear at `ts`; they are
    /// returned, for the dashboards.
    pub fn set_fences(&mut self, fences: Vec<Geofence>, ts: Millis) -> Vec<AlertCleared> {
        let ended = self.fences.set_fences(fences, ts);
        self.ended_conditions(ended)
    }

    /// Runs the geofence rules over a batch of positions. Enter and exit events are raised
    /// and cleared at once (they are never waiting for an acknowledgement); dwell and speeding
    /// stay open until they clear.
    pub fn evaluate_positions(&mut self, positions: &[Position]) -> Changes {
        let (prefix, next_id) = (&self.id_prefix, &mut self.next_id);
        let mut ids = || {
            let id = format!("{prefix}-{next_id}");
            *next_id += 1;
            id
        };
        let outcome = self.fences.observe(positions, &mut ids);
        let mut changes = Changes::default();
        for event in outcome.events {
            changes.cleared.push(AlertCleared { id: event.id.clone(), ts: event.ts });
            changes.raised.push(event);
        }
        changes.raised.extend(outcome.raised);
        changes.cleared.extend(self.ended_conditions(outcome.ended));
        self.sites.remember(&changes.raised);
        changes
    }

    fn ended_conditions(&mut self, ended: Vec<(Alert, Millis)>) -> Vec<AlertCleared> {
        let mut cleared = Vec::with_capacity(ended.len());
        for (alert, ts) in ended {
            cleared.push(AlertCleared { id: alert.id.clone(), ts });
            self.returned_to_normal(alert, ts);
        }
        cleared
    }

    /// Runs every rule over a batch of readings.
    pub fn evaluate(&mut self, readings: &[Reading]) -> Changes {
        let mut changes = Changes::default();
        for reading in readings {
            self.remember(reading);
            for index in 0..self.rules.len() {
                let rule = self.rules[index].clone();
                if rule.kind != reading.kind {
                    continue;
                }
                let Some(&value) = reading.values.get(&rule.metric) else { continue };
                let key = (reading.device.clone(), index);
                let measured = match rule.condition {
                    Condition::Above { .. } | Condition::Below { .. } => Some(value),
                    Condition::RisingFaster { window_ms, .. } => self.rate(&reading.device, &rule.metric, window_ms),
                };
                let Some(measured) = measured else { continue };
                let is_open = self.open.contains_key(&key);
                let (fires, clears, threshold) = match rule.condition {
                    Condition::Above { threshold, clear } => (measured > threshold, measured < clear, threshold),
                    Condition::Below { threshold, clear } => (measured < threshold, measured > clear, threshold),
                    Condition::RisingFaster { per_second, clear_per_second, .. } => {
                        (measured > per_second, measured < clear_per_second, per_second)
                    }
                };
                if !is_open && fires {
                    let alert = self.alert(&rule, reading, measured, threshold);
                    self.open.insert(key, alert.clone());
                    changes.raised.push(alert);
                } else if is_open && clears {
                    if let Some(alert) = self.open.remove(&key) {
                        changes.cleared.push(AlertCleared { id: alert.id.clone(), ts: reading.ts });
                        self.returned_to_normal(alert, reading.ts);
                    }
                }
            }
        }
        self.sites.remember(&changes.raised);
        changes
    }

    fn remember(&mut self, reading: &Reading) {
        let longest = self
            .rules
            .iter()
            .filter_map(|r| match r.condition {
                Condition::RisingFaster { window_ms, .. } if r.kind == reading.kind => {
                    Some((r.metric.clone(), window_ms))
                }
                _ => None,
            })
            .collect::<Vec<_>>();
        for (metric, window_ms) in longest {
            let Some(&value) = reading.values.get(&metric) else { continue };
            let history = self.history.entry((reading.device.clone(), metric)).or_default();
            history.push_back((reading.ts, value));
            while history.front().is_some_and(|(ts, _)| reading.ts - ts > window_ms) {
                history.pop_front();
            }
        }
    }

    /// Rise per second over the window, once at least half the window is covered.
    fn rate(&self, device: &str, metric: &str, window_ms: i64) -> Option<f64> {
        let history = self.history.get(&(device.to_string(), metric.to_string()))?;
        let (first_ts, first) = *history.front()?;
        let (last_ts, last) = *history.back()?;
        let span = last_ts - first_ts;
        (span * 2 >= window_ms && span > 0).then(|| (last - first) / (span as f64 / 1000.0))
    }

    fn alert(&mut self, rule: &Rule, reading: &Reading, measured: f64, threshold: f64) -> Alert {
        let id = format!("{}-{}", self.id_prefix, self.next_id);
        self.next_id += 1;
        let message = match rule.condition {
            Condition::Above { .. } => {
                format!(
                    "{} {} {:.*} {} is above {} {}",
                    reading.device, rule.metric, rule.decimals, measured, rule.unit, threshold, rule.unit
                )
            }
            Condition::Below { .. } => {
                format!(
                    "{} {} {:.*} {} is below {} {}",
                    reading.device, rule.metric, rule.decimals, measured, rule.unit, threshold, rule.unit
                )
            }
            Condition::RisingFaster { .. } => format!(
                "{} {} rising fast: {:.*} {} (limit {} {})",
                reading.device, rule.metric, rule.decimals, measured, rule.unit, threshold, rule.unit
            ),
        };
        Alert {
            id,
            ts: reading.ts,
            device: reading.device.clone(),
            site: reading.site.clone(),
            severity: rule.severity,
            metric: rule.metric.to_string(),
            value: (measured * 100.0).round() / 100.0,
            threshold,
            message,
        }
    }

    /// An alert's condition is over: acknowledged, it ends; unacknowledged, it waits for its
    /// acknowledgement.
    fn returned_to_normal(&mut self, alert: Alert, ts: Millis) {
        match self.acknowledged.remove(&alert.id) {
            Some(ack) => self.ended(ack),
            None => {
                self.returned.push_back((alert, ts));
                if self.returned.len() > MAX_RETURNED {
                    self.returned.pop_front();
                }
            }
        }
    }

    fn ended(&mut self, ack: AlertAcknowledged) {
        self.ended.push_back(ack);
        if self.ended.len() > MAX_RETURNED {
            self.ended.pop_front();
        }
    }

    /// The alerts not over yet, oldest first: active ones with their acknowledgements, and
    /// those returned to normal still to be acknowledged (with when they cleared).
    pub fn open_alerts(&self) -> Vec<OpenAlert> {
        let active = self.open.values().chain(&self.published).chain(self.fences.open()).map(|alert| OpenAlert {
            alert: alert.clone(),
            acknowledged: self.acknowledged.get(&alert.id).cloned(),
            cleared: None,
        });
        let returned = self.returned.iter().map(|(alert, ts)| OpenAlert {
            alert: alert.clone(),
            acknowledged: None,
            cleared: Some(*ts),
        });
        let mut alerts: Vec<OpenAlert> = active.chain(returned).collect();
        alerts.sort_by(|a, b| a.alert.ts.cmp(&b.alert.ts).then_with(|| a.alert.id.cmp(&b.alert.id)));
        alerts
    }

    /// Records alerts another publisher sent to dashboards (the service's REST API), so they are
    /// in the snapshot and can be acknowledged like the rules' own. An id seen before is
    /// replaced; the oldest go past [`MAX_PUBLISHED`].
    pub fn record_published(&mut self, alerts: Vec<Alert>) {
        self.sites.remember(&alerts);
        for alert in alerts {
            self.published.retain(|a| a.id != alert.id);
            self.published.push_back(alert);
            while self.published.len() > MAX_PUBLISHED {
                if let Some(old) = self.published.pop_front() {
                    self.acknowledged.remove(&old.id);
                }
            }
        }
    }

    /// Published alerts whose rule returned to normal (their publisher said so) leave.
    pub fn record_published_cleared(&mut self, cleared: &[AlertCleared]) {
        for clear in cleared {
            if let Some(index) = self.published.iter().position(|a| a.id == clear.id) {
                if let Some(alert) = self.published.remove(index) {
                    self.returned_to_normal(alert, clear.ts);
                }
            }
        }
    }

    /// Forgets the alerts that returned to normal unacknowledged (a backfilled past nobody
    /// saw): they leave the snapshot, and acknowledging one is unknown.
    pub fn forget_returned(&mut self) {
        self.returned.clear();
    }

    /// Whether the alert `id` is active (its condition not returned to normal).
    fn is_active(&self, id: &str) -> bool {
        self.open.values().chain(&self.published).any(|a| a.id == id) || self.fences.is_open(id)
    }

    /// Re-alarm (ISA-18.2): every alert acknowledged at least `period_ms` before `now` and still
    /// active loses its acknowledgement, so it is active unacknowledged again and the next
    /// acknowledgement is a new one. Returns them, each stamped with when it fell due (the
    /// acknowledgement's time plus the period), oldest first.
    pub fn re_alarm(&mut self, period_ms: i64, now: Millis) -> Vec<AlertReAlarmed> {
        let due: Vec<String> = self
            .acknowledged
            .values()
            .filter(|ack| ack.ts.saturating_add(period_ms) <= now)
            .map(|ack| ack.id.clone())
            .collect();
        let mut again = Vec::with_capacity(due.len());
        for id in due {
            // Acknowledgements are only kept for active alerts; one that is not (it cannot be,
            // but a stale entry must not re-alarm a past alert) is simply dropped.
            let active = self.is_active(&id);
            if let Some(ack) = self.acknowledged.remove(&id) {
                if active {
                    again.push(AlertReAlarmed { id, ts: ack.ts.saturating_add(period_ms) });
                }
            }
        }
        again.sort_by(|a, b| a.ts.cmp(&b.ts).then_with(|| a.id.cmp(&b.id)));
        again
    }

    /// Re-alarms another publisher announced (the service's REST API): each alert known here,
    /// active and acknowledged loses its acknowledgement. Returns those.
    pub fn adopt_re_alarmed(&mut self, again: Vec<AlertReAlarmed>) -> Vec<AlertReAlarmed> {
        let mut adopted = Vec::new();
        for re_alarm in again {
            if self.is_active(&re_alarm.id) && self.acknowledged.remove(&re_alarm.id).is_some() {
                adopted.push(re_alarm);
            }
        }
        adopted
    }

    /// Acknowledges an alert that is active or returned to normal (which ends it). Again is
    /// fine: the first acknowledgement stays, and is the answer (until it re-alarms:
    /// [`AlertEngine::re_alarm`]).
    pub fn acknowledge(&mut self, id: &str, by: &str, ts: Millis) -> Acknowledgement {
        let ack = || AlertAcknowledged { id: id.to_string(), by: by.to_string(), ts };
        if self.is_active(id) {
            return match self.acknowledged.get(id) {
                Some(first) => Acknowledgement::Already(first.clone()),
                None => {
                    self.acknowledged.insert(id.to_string(), ack());
                    Acknowledgement::New(ack())
                }
            };
        }
        if let Some(index) = self.returned.iter().position(|(a, _)| a.id == id) {
            self.returned.remove(index);
            self.ended(ack());
            return Acknowledgement::New(ack());
        }
        match self.ended.iter().rev().find(|a| a.id == id) {
            Some(first) => Acknowledgement::Already(first.clone()),
            None => Acknowledgement::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use telemetry::DeviceStatus;

    fn reading(ts: i64, temperature: f64) -> Reading {
        Reading {
            device: "press-01".into(),
            kind: crate::devices::catalog::PROCESS.into(),
            ts,
            site: "harbour".into(),
            status: DeviceStatus::Running,
            values: [("temperature".to_string(), temperature), ("pressure".to_string(), 5.0)].into(),
        }
    }

    fn threshold_only() -> AlertEngine {
        let rules = default_rules().into_iter().filter(|r| matches!(r.condition, Condition::Above { .. })).collect();
        AlertEngine::new(rules, "t")
    }

    #[test]
    fn a_threshold_alert_is_raised_once_and_cleared_with_hysteresis() {
        let mut engine = threshold_only();
        assert_eq!(engine.evaluate(&[reading(0, 80.0)]), Changes::default());
        let raised = engine.evaluate(&[reading(1_000, 91.0)]).raised;
        assert_eq!(raised.len(), 1);
        assert_eq!(raised[0].severity, Severity::Warning);
        assert_eq!(raised[0].threshold, 90.0);
        // Hovering around the threshold does not flap: no new alert, no clear.
        for (i, t) in [89.0, 90.5, 88.0, 91.0, 86.0].into_iter().enumerate() {
            assert_eq!(engine.evaluate(&[reading(2_000 + i as i64 * 1000, t)]), Changes::default(), "{t}");
        }
        let cleared = engine.evaluate(&[reading(9_000, 84.0)]).cleared;
        assert_eq!(cleared, [AlertCleared { id: raised[0].id.clone(), ts: 9_000 }]);
        // No longer active; unacknowledged, it waits for its acknowledgement (ISA-18.2).
        assert!(engine.open_alerts().iter().all(|a| a.cleared == Some(9_000)));
        // Crossing again is a new alert.
        let again = engine.evaluate(&[reading(10_000, 92.0)]).raised;
        assert_ne!(again[0].id, raised[0].id);
    }

    #[test]
    fn warning_and_critical_are_separate_alerts() {
        let mut engine = threshold_only();
        let raised = engine.evaluate(&[reading(0, 101.0)]).raised;
        let severities: Vec<_> = raised.iter().map(|a| a.severity).collect();
        assert_eq!(severities, [Severity::Warning, Severity::Critical]);
        let cleared = engine.evaluate(&[reading(1_000, 94.0)]).cleared;
        assert_eq!(cleared.len(), 1, "critical clears below 95, warning stays until below 85");
    }

    #[test]
    fn rate_of_change_fires_on_a_fast_rise_and_not_on_a_slow_one() {
        let rules =
            default_rules().into_iter().filter(|r| matches!(r.condition, Condition::RisingFaster { .. })).collect();
        let mut slow = AlertEngine::new(rules, "r");
        let mut fast = AlertEngine::new(
            default_rules().into_iter().filter(|r| matches!(r.condition, Condition::RisingFaster { .. })).collect(),
            "r",
        );
        let mut fast_raised = Vec::new();
        for s in 0..20 {
            assert!(slow.evaluate(&[reading(s * 1000, 70.0 + s as f64 * 0.2)]).raised.is_empty());
            fast_raised.extend(fast.evaluate(&[reading(s * 1000, 70.0 + s as f64 * 2.0)]).raised);
        }
        assert_eq!(fast_raised.len(), 1, "raised once");
        assert!(fast_raised[0].message.contains("rising fast"));
        assert!(fast_raised[0].value > 1.5);
        // Levelling off clears it.
        let mut cleared = Vec::new();
        for s in 20..40 {
            cleared.extend(fast.evaluate(&[reading(s * 1000, 110.0)]).cleared);
        }
        assert_eq!(cleared.len(), 1);
    }

    #[test]
    fn acknowledgements_stick_until_the_alert_clears() {
        let mut engine = threshold_only();
        let id = engine.evaluate(&[reading(0, 91.0)]).raised[0].id.clone();
        assert_eq!(engine.acknowledge("nope", "ann", 1), Acknowledgement::Unknown);
        let Acknowledgement::New(ack) = engine.acknowledge(&id, "ann", 5) else { panic!("acknowledged") };
        assert_eq!(engine.acknowledge(&id, "bob", 6), Acknowledgement::Already(ack.clone()), "the first stays");
        assert_eq!(engine.open_alerts()[0].acknowledged.as_ref().unwrap().by, "ann");
        engine.evaluate(&[reading(10, 80.0)]);
        assert!(engine.open_alerts().is_empty(), "acknowledged and cleared: over");
        assert_eq!(engine.acknowledge(&id, "bob", 11), Acknowledgement::Already(ack), "answered with what it is");
    }

    #[test]
    fn an_alert_returned_to_normal_unacknowledged_stays_until_acknowledged() {
        let mut engine = threshold_only();
        let id = engine.evaluate(&[reading(0, 91.0)]).raised[0].id.clone();
        assert_eq!(engine.evaluate(&[reading(10, 80.0)]).cleared.len(), 1);
        let open = engine.open_alerts();
        assert_eq!(open.len(), 1, "in the snapshot still");
        assert_eq!((open[0].alert.id.as_str(), open[0].cleared), (id.as_str(), Some(10)));
        let Acknowledgement::New(ack) = engine.acknowledge(&id, "ann", 20) else { panic!("acknowledgeable") };
        assert!(engine.open_alerts().is_empty(), "acknowledging it ends it");
        assert_eq!(engine.acknowledge(&id, "bob", 21), Acknowledgement::Already(ack));
        // Published alerts too.
        let mut published = published_alert("p1");
        published.ts = 5;
        engine.record_published(vec![published]);
        engine.record_published_cleared(&[AlertCleared { id: "p1".into(), ts: 30 }]);
        assert_eq!(engine.open_alerts()[0].cleared, Some(30));
        assert!(matches!(engine.acknowledge("p1", "ann", 31), Acknowledgement::New(_)));
        assert!(engine.open_alerts().is_empty());
    }

    #[test]
    fn new_rules_keep_the_open_alerts_of_unchanged_rules_and_clear_the_others() {
        let mut engine = threshold_only();
        let raised = engine.evaluate(&[reading(0, 101.0)]).raised;
        let (warning, critical) = (raised[0].id.clone(), raised[1].id.clone());
        // The catalog moves the warning line and drops the critical limit.
        let mut catalog = crate::devices::catalog::scenarios();
        let temperature = catalog.kinds[0].metrics.iter_mut().find(|m| m.id == "temperature").unwrap();
        temperature.limits.retain(|l| l.severity == Severity::Warning);
        temperature.limits[0].above = Some(95.0);
        temperature.limits[0].clear = Some(92.0);
        let rules =
            rules_for(&catalog).into_iter().filter(|r| matches!(r.condition, Condition::Above { .. })).collect();
        let cleared = engine.set_rules(rules, 50);
        assert_eq!(cleared, [AlertCleared { id: critical.clone(), ts: 50 }], "its rule is gone");
        let open = engine.open_alerts();
        assert_eq!(open.len(), 2, "the warning still active, the critical waiting for its acknowledgement");
        assert!(open.iter().any(|a| a.alert.id == warning && a.cleared.is_none()));
        assert!(open.iter().any(|a| a.alert.id == critical && a.cleared == Some(50)));
        // The warning is the same alert under the new rule: no second one, and the new clear
        // level ends it.
        assert_eq!(engine.evaluate(&[reading(60, 97.0)]), Changes::default());
        let cleared = engine.evaluate(&[reading(70, 91.0)]).cleared;
        assert_eq!(cleared, [AlertCleared { id: warning, ts: 70 }]);
        // The same rules again change nothing.
        let same = engine.rules().to_vec();
        assert!(engine.set_rules(same, 80).is_empty());
    }

    #[test]
    fn an_acknowledged_alert_still_active_re_alarms_after_the_period_and_a_cleared_one_never() {
        let mut engine = threshold_only();
        let raised = engine.evaluate(&[reading(0, 101.0)]).raised;
        let (warning, critical) = (raised[0].id.clone(), raised[1].id.clone());
        assert!(matches!(engine.acknowledge(&warning, "ann", 1_000), Acknowledgement::New(_)));
        assert!(matches!(engine.acknowledge(&critical, "ann", 2_000), Acknowledgement::New(_)));
        assert!(engine.re_alarm(3_000, 3_999).is_empty(), "not due yet");
        assert_eq!(engine.re_alarm(3_000, 4_000), [AlertReAlarmed { id: warning.clone(), ts: 4_000 }]);
        // The critical clears (below 95) while acknowledged: it is over, and never re-alarms.
        assert_eq!(engine.evaluate(&[reading(4_500, 90.0)]).cleared.len(), 1);
        assert!(engine.re_alarm(3_000, 60_000).is_empty());
        let open = engine.open_alerts();
        assert_eq!(open.len(), 1, "{open:?}");
        assert_eq!((open[0].alert.id.as_str(), open[0].acknowledged.as_ref()), (warning.as_str(), None));
        // Acknowledged again: a new acknowledgement, which re-alarms again a period later.
        let Acknowledgement::New(ack) = engine.acknowledge(&warning, "bob", 70_000) else { panic!("new") };
        assert_eq!(ack.by, "bob");
        assert_eq!(engine.re_alarm(3_000, 73_000), [AlertReAlarmed { id: warning.clone(), ts: 73_000 }]);
        // Re-alarmed, then cleared: returned to normal unacknowledged, waiting for its ack.
        engine.evaluate(&[reading(74_000, 80.0)]);
        assert_eq!(engine.open_alerts()[0].cleared, Some(74_000));
        assert!(engine.re_alarm(3_000, 200_000).is_empty());
    }

    fn published_alert(id: &str) -> Alert {
        Alert {
            id: id.into(),
            ts: 0,
            device: "pump-07".into(),
            site: "harbour".into(),
            severity: Severity::Critical,
            metric: "pressure".into(),
            value: 12.0,
            threshold: 10.0,
            message: "pressure high".into(),
        }
    }
}

//! The toast stack: alerts that just fired, folded and bounded so an alarm storm cannot bury the
//! screen. Repeats of the same device and metric within the fold window become one toast with a
//! counter; info and warning toasts go after a while (not while the pointer or focus is on the
//! stack), critical ones stay until acknowledged; only the newest few are shown, the rest are
//! counted as "+N more".

use std::collections::{HashSet, VecDeque};

use telemetry::{Alert, Severity};

/// How toasts behave (config `toastSeconds` sets `dismiss_after_ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToastSettings {
    /// Toasts on screen at once.
    pub visible: usize,
    /// Toasts kept beyond those (the oldest are dropped and only counted).
    pub retained: usize,
    /// Repeats of a device + metric within this window fold into one toast.
    pub fold_window_ms: i64,
    /// Info and warning toasts leave after this long.
    pub dismiss_after_ms: i64,
    /// Alert ids a folded toast remembers (to acknowledge them); further repeats only count.
    pub ids_per_toast: usize,
}

impl Default for ToastSettings {
    fn default() -> Self {
        Self { visible: 4, retained: 100, fold_window_ms: 60_000, dismiss_after_ms: 8_000, ids_per_toast: 200 }
    }
}

/// One toast: the newest alert of a device + metric, and how many it stands for.
#[derive(Debug, Clone, PartialEq)]
pub struct Toast {
    /// Stable identity for the view.
    pub key: u64,
    /// The newest alert folded in.
    pub alert: Alert,
    /// The highest severity folded in.
    pub severity: Severity,
    /// Alerts folded into this toast.
    pub count: u32,
    /// Ids still open (not acknowledged), oldest first.
    pub open_ids: Vec<String>,
    /// When it last changed (arrival time, Unix ms).
    pub updated_at: i64,
    /// When it leaves on its own; never for critical.
    pub expires_at: Option<i64>,
    /// The rule behind the newest alert returned to normal.
    pub cleared: bool,
}

fn rank(severity: Severity) -> u8 {
    match severity {
        Severity::Info => 0,
        Severity::Warning => 1,
        Severity::Critical => 2,
    }
}

/// The toasts, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Toasts {
    settings: ToastSettings,
    list: VecDeque<Toast>,
    /// Open critical alerts whose toast had to go past `retained` (counted until acknowledged).
    dropped_critical: HashSet<String>,
    next_key: u64,
    /// Since when the pointer or focus has been on the stack.
    paused_since: Option<i64>,
}

impl Toasts {
    pub fn new(settings: ToastSettings) -> Self {
        Self { settings, ..Self::default() }
    }

    pub fn settings(&self) -> ToastSettings {
        self.settings
    }

    fn expiry(&self, severity: Severity, now: i64) -> Option<i64> {
        (severity != Severity::Critical).then_some(now + self.settings.dismiss_after_ms)
    }

    /// A live alert arrived at `now`.
    pub fn raise(&mut self, alert: &Alert, now: i64) {
        let window = self.settings.fold_window_ms;
        let same = self.list.iter().position(|t| {
            t.alert.device == alert.device && t.alert.metric == alert.metric && now - t.updated_at <= window
        });
        if let Some(index) = same {
            let Some(mut toast) = self.list.remove(index) else { return };
            if !toast.open_ids.contains(&alert.id) {
                toast.count = toast.count.saturating_add(1);
                if toast.open_ids.len() < self.settings.ids_per_toast {
                    toast.open_ids.push(alert.id.clone());
                }
            }
            if rank(alert.severity) > rank(toast.severity) {
                toast.severity = alert.severity;
            }
            toast.alert = alert.clone();
            toast.updated_at = now;
            toast.cleared = false;
            toast.expires_at = self.expiry(toast.severity, now);
            self.list.push_front(toast);
            return;
        }
        self.next_key += 1;
        let toast = Toast {
            key: self.next_key,
            alert: alert.clone(),
            severity: alert.severity,
            count: 1,
            open_ids: vec![alert.id.clone()],
            updated_at: now,
            expires_at: self.expiry(alert.severity, now),
            cleared: false,
        };
        self.list.push_front(toast);
        while self.list.len() > self.settings.retained {
            // The oldest info or warning goes first (it would leave soon anyway); only when all
            // are critical does the oldest critical go, and its alerts stay counted.
            match self.list.iter().rposition(|t| t.severity != Severity::Critical) {
                Some(index) => {
                    self.list.remove(index);
                }
                None => {
                    if let Some(old) = self.list.pop_back() {
                        // Bounded like the feed: ids beyond its depth could not be found anyway.
                        let room = crate::model::alerts::CAPACITY.saturating_sub(self.dropped_critical.len());
                        self.dropped_critical.extend(old.open_ids.into_iter().take(room));
                    }
                }
            }
        }
    }

    /// Someone acknowledged `id`: it leaves its toast, and a toast with nothing open leaves.
    pub fn acknowledged(&mut self, id: &str) {
        for toast in self.list.iter_mut() {
            toast.open_ids.retain(|open| open != id);
        }
        self.list.retain(|t| !t.open_ids.is_empty());
        self.dropped_critical.remove(id);
    }

    /// The rule behind `id` returned to normal.
    pub fn cleared(&mut self, id: &str) {
        for toast in self.list.iter_mut().filter(|t| t.alert.id == id) {
            toast.cleared = true;
        }
    }

    /// Keeps only the toasts `keep` says to (a point shelved leaves the stack whatever its
    /// severity).
    pub fn retain(&mut self, keep: impl Fn(&Toast) -> bool) {
        self.list.retain(|t| keep(t));
    }

    /// Closes a toast by hand (critical ones only go when acknowledged).
    pub fn dismiss(&mut self, key: u64) {
        self.list.retain(|t| t.key != key || t.severity == Severity::Critical);
    }

    /// Removes toasts whose time is up, unless paused. Returns whether any left.
    pub fn tick(&mut self, now: i64) -> bool {
        if self.paused_since.is_some() {
            return false;
        }
        let before = self.list.len();
        self.list.retain(|t| t.expires_at.is_none_or(|at| at > now));
        self.list.len() != before
    }

    /// The pointer or focus entered (`true`) or left the stack: time stands still meanwhile.
    pub fn pause(&mut self, paused: bool, now: i64) {
        match (paused, self.paused_since) {
            (true, None) => self.paused_since = Some(now),
            (false, Some(since)) => {
                let held = now - since;
                for at in self.list.iter_mut().filter_map(|t| t.expires_at.as_mut()) {
                    *at += held;
                }
                self.paused_since = None;
            }
            _ => {}
        }
    }

    pub fn is_paused(&self) -> bool {
        self.paused_since.is_some()
    }

    /// Open critical alerts whose toast had to go (counted until acknowledged).
    pub fn dropped(&self) -> usize {
        self.dropped_critical.len()
    }

    /// Every toast held, newest first.
    pub fn iter(&self) -> impl Iterator<Item = &Toast> {
        self.list.iter()
    }

    /// The toasts on screen, newest first.
    pub fn visible(&self) -> impl Iterator<Item = &Toast> {
        self.list.iter().take(self.settings.visible)
    }

    /// Toasts not on screen, and open critical alerts whose toast was dropped.
    pub fn more(&self) -> usize {
        self.list.len().saturating_sub(self.settings.visible) + self.dropped_critical.len()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(id: &str, device: &str, metric: &str, severity: Severity) -> Alert {
        Alert {
            id: id.into(),
            ts: 0,
            device: device.into(),
            site: "harbour".into(),
            severity,
            metric: metric.into(),
            value: 1.0,
            threshold: 0.5,
            message: format!("{device} {metric}"),
        }
    }

    fn ids(toasts: &Toasts) -> Vec<String> {
        toasts.visible().map(|t| t.alert.id.clone()).collect()
    }

    #[test]
    fn repeats_of_a_device_and_metric_fold_into_one_toast() {
        let mut toasts = Toasts::default();
        toasts.raise(&alert("a1", "press-01", "temperature", Severity::Warning), 0);
        toasts.raise(&alert("b1", "rig-02", "rpm", Severity::Info), 10);
        toasts.raise(&alert("a2", "press-01", "temperature", Severity::Critical), 20);
        toasts.raise(&alert("a3", "press-01", "temperature", Severity::Warning), 30);
        toasts.raise(&alert("a3", "press-01", "temperature", Severity::Warning), 31);
        assert_eq!(toasts.len(), 2);
        let top = toasts.visible().next().unwrap();
        assert_eq!((top.alert.id.as_str(), top.count), ("a3", 3), "the newest on top, a replayed id counted once");
        assert_eq!(top.severity, Severity::Critical, "the highest severity folded in");
        assert_eq!(top.expires_at, None, "critical does not go by itself");
        assert_eq!(top.open_ids, ["a1", "a2", "a3"]);
        // Another metric of the same device, or the same one after the window, is a new toast.
        toasts.raise(&alert("a4", "press-01", "pressure", Severity::Info), 40);
        toasts.raise(&alert("a5", "press-01", "temperature", Severity::Info), 31 + 60_001);
        assert_eq!(ids(&toasts), ["a5", "a4", "a3", "b1"]);
    }

    #[test]
    fn info_and_warning_leave_on_time_unless_paused_critical_stays() {
        let mut toasts = Toasts::new(ToastSettings { dismiss_after_ms: 1_000, ..ToastSettings::default() });
        toasts.raise(&alert("i", "a", "m", Severity::Info), 0);
        toasts.raise(&alert("c", "b", "m", Severity::Critical), 0);
        toasts.raise(&alert("w", "c", "m", Severity::Warning), 500);
        assert!(!toasts.tick(999));
        toasts.pause(true, 999);
        assert!(!toasts.tick(5_000), "nothing leaves while the pointer is on the stack");
        toasts.pause(false, 5_000);
        assert!(!toasts.tick(5_000));
        assert!(toasts.tick(5_002), "the info toast had 1 ms left");
        assert_eq!(ids(&toasts), ["w", "c"]);
        assert!(toasts.tick(5_502));
        assert_eq!(ids(&toasts), ["c"]);
        assert!(!toasts.tick(1_000_000));
        let key = toasts.visible().next().unwrap().key;
        toasts.dismiss(key);
        assert_eq!(ids(&toasts), ["c"], "critical cannot be closed, only acknowledged");
        toasts.cleared("c");
        assert!(toasts.visible().next().unwrap().cleared);
        toasts.acknowledged("c");
        assert!(toasts.is_empty());
    }

    #[test]
    fn a_folded_toast_leaves_when_all_its_alerts_are_acknowledged() {
        let mut toasts = Toasts::default();
        toasts.raise(&alert("a1", "press-01", "temperature", Severity::Critical), 0);
        toasts.raise(&alert("a2", "press-01", "temperature", Severity::Critical), 1);
        toasts.acknowledged("a1");
        assert_eq!(toasts.len(), 1);
        toasts.acknowledged("unknown");
        toasts.acknowledged("a2");
        assert!(toasts.is_empty());
    }

    #[test]
    fn a_storm_keeps_the_stack_bounded_and_counts_the_rest() {
        let settings = ToastSettings::default();
        let mut toasts = Toasts::new(settings);
        for i in 0..1_000 {
            toasts.raise(&alert(&format!("s{i}"), &format!("dev-{i}"), "m", Severity::Critical), i);
        }
        assert_eq!(toasts.visible().count(), settings.visible);
        assert_eq!(toasts.len(), settings.retained);
        assert_eq!(toasts.more(), 1_000 - settings.visible);
        assert_eq!(toasts.visible().next().unwrap().alert.id, "s999");
        toasts.acknowledged("s0");
        toasts.acknowledged("s999");
        assert_eq!(toasts.more(), 1_000 - settings.visible - 2, "a dropped one acknowledged is no longer counted");
        // Mixed: the info and warning toasts make room first, every critical stays counted.
        let mut toasts = Toasts::new(settings);
        for i in 0..1_000 {
            let severity = [Severity::Info, Severity::Warning, Severity::Critical][i % 3];
            toasts.raise(&alert(&format!("m{i}"), &format!("dev-{i}"), "m", severity), i as i64);
        }
        assert_eq!(toasts.len(), settings.retained);
        assert!(toasts.visible().all(|t| t.severity == Severity::Critical), "critical ones kept first");
        assert_eq!(toasts.more(), 333 - settings.visible, "every critical one counted");
        // One device hammering: one toast, its count, a bounded list of ids.
        let mut toasts = Toasts::new(settings);
        for i in 0..1_000 {
            toasts.raise(&alert(&format!("h{i}"), "press-01", "temperature", Severity::Warning), i);
        }
        let toast = toasts.visible().next().unwrap();
        assert_eq!((toasts.len(), toast.count), (1, 1_000));
        assert_eq!(toast.open_ids.len(), settings.ids_per_toast);
    }
}

//! Alert events from the hub, applied together: a storm of hundreds of invocations a second
//! updates the history and the toasts a few times a second, not once per message. Events wait
//! at most [`COALESCE`] (a timer, not an animation frame, so a hidden wall-screen tab still
//! keeps up), then are applied in arrival order.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::{set_timeout, GetUntracked, GetValue, Notify, Set, Update, UpdateUntracked, With, WithUntracked};
use telemetry::alarms::{AlertReAlarmed, Suppression, SuppressionEnded};
use telemetry::{Alert, AlertAcknowledged, AlertCleared, Severity};

use crate::store::Store;

/// Longest wait before queued alert events are applied.
const COALESCE: Duration = Duration::from_millis(100);

pub enum AlertEvent {
    Raised(Vec<Alert>),
    Acknowledged(Vec<AlertAcknowledged>),
    Cleared(Vec<AlertCleared>),
    /// Acknowledged, still active after the re-alarm period: unacknowledged again.
    ReAlarmed(Vec<AlertReAlarmed>),
    /// Alarm points shelved or put out of service.
    Suppressed(Vec<Suppression>),
    SuppressionEnded(Vec<SuppressionEnded>),
}

/// Queued events and whether a flush is due.
#[derive(Clone, Default)]
pub struct AlertQueue(Rc<RefCell<(Vec<AlertEvent>, bool)>>);

impl AlertQueue {
    pub fn push(&self, store: Store, event: AlertEvent) {
        let mut inner = self.0.borrow_mut();
        inner.0.push(event);
        if !inner.1 {
            inner.1 = true;
            let queue = self.clone();
            set_timeout(move || queue.flush(store), COALESCE);
        }
    }

    fn flush(&self, store: Store) {
        let events = {
            let mut inner = self.0.borrow_mut();
            inner.1 = false;
            std::mem::take(&mut inner.0)
        };
        apply(store, events, js_sys::Date::now() as i64);
    }
}

/// Alarms raised live while the page showed the past, held back from the toasts (the newest
/// this many).
const HELD_CAPACITY: usize = 200;

thread_local! {
    static HELD: RefCell<Vec<Alert>> = const { RefCell::new(Vec::new()) };
}

/// Back to live: the alarms held back while the page showed the past that still wait for
/// someone become toasts now (folded as usual), with one tone for a critical one.
pub fn show_held(store: Store) {
    let held = HELD.with(|held| std::mem::take(&mut *held.borrow_mut()));
    if held.is_empty() {
        return;
    }
    // Still waiting: active, or back to normal and unacknowledged (which still needs someone),
    // and not of a point shelved or taken out of service meanwhile.
    let now = js_sys::Date::now() as i64;
    let waiting: Vec<(Alert, bool)> = store.alerts.with_untracked(|feed| {
        held.into_iter()
            .filter(|a| store.suppressions.with_untracked(|s| s.of(&a.device, &a.metric, now).is_none()))
            .filter_map(|a| {
                let entry = feed.iter().find(|e| e.alert.id == a.id && e.needs_acknowledgement())?;
                Some((a, entry.cleared_at.is_some()))
            })
            .collect()
    });
    store.toasts.update(|toasts| {
        for (alert, cleared) in &waiting {
            toasts.raise(alert, now);
            if *cleared {
                toasts.cleared(&alert.id);
            }
        }
    });
    if waiting.iter().any(|(a, _)| a.severity == Severity::Critical) && store.sound.get_untracked() {
        crate::sound::alarm();
    }
}

/// Applies events to the history and the toasts, and sounds one tone if a critical alert
/// fired and sound is on. An alarm of a point shelved or out of service is recorded but does
/// not notify: no toast, no tone, no desktop notification, and it does not count towards a
/// flood. A re-alarm notifies again like a new alarm.
pub fn apply(store: Store, events: Vec<AlertEvent>, now: i64) {
    // Toasts are for the present: while the page shows the past, a new alarm counts on the
    // badge of *back to live* instead of covering the replay.
    let live = store.timeline.get_untracked().is_live();
    // Suppressions first, so alarms in the same batch see them.
    let mut back: Vec<Suppression> = Vec::new();
    store.suppressions.update(|held| {
        for event in &events {
            match event {
                AlertEvent::Suppressed(list) => list.iter().for_each(|s| held.add(s.clone(), now)),
                AlertEvent::SuppressionEnded(list) => back.extend(list.iter().filter_map(|e| held.end(&e.id))),
                _ => {}
            }
        }
    });
    let suppressed =
        |alert: &Alert| store.suppressions.with_untracked(|s| s.of(&alert.device, &alert.metric, now).is_some());
    let re_alarmed: Vec<Alert> = store.alerts.with_untracked(|feed| {
        events
            .iter()
            .flat_map(|e| if let AlertEvent::ReAlarmed(ids) = e { ids.iter().collect() } else { Vec::new() })
            .filter_map(|re| feed.iter().find(|entry| entry.alert.id == re.id && entry.cleared_at.is_none()))
            .map(|entry| entry.alert.clone())
            .collect()
    });
    // What notifies: new alarms and re-alarms, of points not suppressed.
    let notifying: Vec<Alert> = events
        .iter()
        .flat_map(|e| if let AlertEvent::Raised(alerts) = e { alerts.iter().collect() } else { Vec::new() })
        .chain(re_alarmed.iter())
        .filter(|a| !suppressed(a))
        .cloned()
        .collect();
    let critical = notifying.iter().any(|a| a.severity == Severity::Critical);
    if !live && !notifying.is_empty() {
        hold(store, notifying.clone());
    }
    if !notifying.is_empty() {
        store.flood.update(|watch| {
            watch.raised(now, notifying.iter().map(|a| a.severity));
        });
    }
    // In arrival order: an alarm raised and cleared in the same moment shows as cleared.
    store.toasts.update(|toasts| {
        for event in &events {
            match event {
                AlertEvent::Raised(alerts) if live => {
                    alerts.iter().filter(|a| !suppressed(a)).for_each(|a| toasts.raise(a, now));
                }
                AlertEvent::ReAlarmed(ids) if live => re_alarmed
                    .iter()
                    .filter(|a| ids.iter().any(|re| re.id == a.id) && !suppressed(a))
                    .for_each(|a| toasts.raise(a, now)),
                AlertEvent::Acknowledged(acks) => acks.iter().for_each(|a| toasts.acknowledged(&a.id)),
                AlertEvent::Cleared(cleared) => cleared.iter().for_each(|c| toasts.cleared(&c.id)),
                // A point just suppressed leaves the stack.
                AlertEvent::Suppressed(list) => {
                    for s in list {
                        toasts.retain(|t| !s.covers(&t.alert.device, &t.alert.metric));
                    }
                }
                _ => {}
            }
        }
    });
    store.alerts.update(|feed| {
        for event in events {
            match event {
                AlertEvent::Raised(alerts) => feed.raise(alerts),
                AlertEvent::Acknowledged(acks) => feed.acknowledge(acks),
                AlertEvent::Cleared(cleared) => feed.clear(cleared),
                AlertEvent::ReAlarmed(ids) => _ = feed.re_alarm(&ids),
                AlertEvent::Suppressed(_) | AlertEvent::SuppressionEnded(_) => {}
            }
        }
    });
    if !back.is_empty() {
        unsuppressed(store, &back, now);
    }
    if live && !notifying.is_empty() {
        crate::live::notify::alarms(store, &notifying);
    }
    if critical && live && store.sound.get_untracked() {
        crate::sound::alarm();
    }
}

/// Alarms that notify again (re-alarmed while the page was away): toasts, the flood count,
/// a notification, the tone; those of points suppressed now stay quiet.
pub fn notify_again(store: Store, alerts: Vec<Alert>, now: i64) {
    let alerts: Vec<Alert> = alerts
        .into_iter()
        .filter(|a| store.suppressions.with_untracked(|s| s.of(&a.device, &a.metric, now).is_none()))
        .collect();
    if alerts.is_empty() {
        return;
    }
    store.flood.update(|watch| {
        watch.raised(now, alerts.iter().map(|a| a.severity));
    });
    if !store.timeline.get_untracked().is_live() {
        hold(store, alerts);
        return;
    }
    store.toasts.update(|toasts| alerts.iter().for_each(|a| toasts.raise(a, now)));
    crate::live::notify::alarms(store, &alerts);
    if alerts.iter().any(|a| a.severity == Severity::Critical) && store.sound.get_untracked() {
        crate::sound::alarm();
    }
}

/// Alarms to notify once the page is live again (it shows the past now).
fn hold(store: Store, alerts: Vec<Alert>) {
    store.missed_alerts.update(|n| *n = n.saturating_add(alerts.len() as u32));
    HELD.with(|held| {
        let mut held = held.borrow_mut();
        held.extend(alerts);
        let over = held.len().saturating_sub(HELD_CAPACITY);
        held.drain(..over);
    });
}

/// Suppressions ended (by someone, or their time was up): the alarms of those points still
/// waiting for someone come back to the stack (held for later while the page shows the past).
pub fn unsuppressed(store: Store, ended: &[Suppression], now: i64) {
    let waiting: Vec<(Alert, bool)> = store.alerts.with_untracked(|feed| {
        feed.iter()
            .filter(|e| e.needs_acknowledgement() && ended.iter().any(|s| s.covers(&e.alert.device, &e.alert.metric)))
            .filter(|e| store.suppressions.with_untracked(|s| s.of(&e.alert.device, &e.alert.metric, now).is_none()))
            .map(|e| (e.alert.clone(), e.cleared_at.is_some()))
            .collect()
    });
    if waiting.is_empty() {
        return;
    }
    if !store.timeline.get_untracked().is_live() {
        hold(store, waiting.into_iter().map(|(a, _)| a).collect());
        return;
    }
    store.toasts.update(|toasts| {
        // Oldest first, so the newest ends on top.
        for (alert, cleared) in waiting.iter().rev() {
            toasts.raise(alert, now);
            if *cleared {
                toasts.cleared(&alert.id);
            }
        }
    });
}

/// The clock moved on: suppressions whose time is up end here too (the backend says so as
/// well; whichever comes first), and the flood window moves.
pub fn tick(store: Store, now: i64) {
    let over = store.suppressions.try_update_untracked(|s| s.expire(now)).unwrap_or_default();
    if !over.is_empty() {
        store.suppressions.notify();
        unsuppressed(store, &over, now);
    }
    let changed =
        store.flood.try_update_untracked(|watch| watch.tick(now).is_some() || watch.flood.ongoing().is_some());
    if changed == Some(true) {
        store.flood.notify();
    }
}

/// Why the signed-in user may not acknowledge, shelve, take out of service or edit geofences
/// (a viewer), in words for the buttons' titles; `None` when they may (or nobody signs in).
/// Tracked: a view that calls it follows the identity.
pub fn refusal(store: Store) -> Option<String> {
    store.identity.with(|identity| {
        let identity = identity.as_ref().filter(|i| i.signed_in && !i.may_operate)?;
        let roles = if identity.roles.is_empty() { "no role".to_string() } else { identity.roles.join(", ") };
        Some(format!(
            "Signed in as {} ({roles}): acknowledging, shelving and editing geofences need the {} role",
            identity.name.as_deref().unwrap_or("you"),
            telemetry::auth::ROLE_OPERATOR
        ))
    })
}

/// Who acknowledges, shelves and takes out of service, as sent to the functions API: the
/// signed-in user's name (the functions record the one their token carries anyway), else the
/// name the operator gave (at most [`telemetry::alarms::MAX_BY_CHARS`] characters), else
/// `dashboard`.
pub fn operator(store: Store) -> String {
    let signed_in = store.identity.with_untracked(|i| i.as_ref().filter(|i| i.signed_in).and_then(|i| i.name.clone()));
    if let Some(name) = signed_in {
        return name.chars().take(telemetry::alarms::MAX_BY_CHARS).collect();
    }
    match store.operator.get_untracked().trim() {
        "" => "dashboard".to_string(),
        name => name.chars().take(telemetry::alarms::MAX_BY_CHARS).collect(),
    }
}

/// Acknowledges `ids` as the operator through the functions API (or the hub); the result shows here at once
/// (the broadcast that follows reaches every other dashboard). A failure is shown, not lost.
pub fn acknowledge(store: Store, ids: Vec<String>) {
    if ids.is_empty() {
        return;
    }
    if let Some(reason) = refusal(store) {
        store.ack_error.set(Some(reason));
        return;
    }
    let Some(api) = store.api.get_value() else {
        store.ack_error.set(Some("not connected yet: the configuration is still loading".into()));
        return;
    };
    let by = operator(store);
    leptos::task::spawn_local(async move {
        match api.acknowledge(ids, &by).await {
            Ok(acks) => {
                store.ack_error.set(None);
                apply(store, vec![AlertEvent::Acknowledged(acks)], js_sys::Date::now() as i64);
            }
            Err(error) => store.ack_error.set(Some(error)),
        }
    });
}

//! Toasts for alerts as they fire: severity as an icon and a word as well as a colour, folded
//! repeats with a counter, "+N more" beyond the stack, acknowledge / dismiss / show buttons.
//! Two live regions announce them: polite for info and warning, assertive for critical. The
//! pointer or focus on the stack stops toasts from leaving. Every string from the wire is text.

use leptos::prelude::*;
use telemetry::alarms::SuppressionKind;
use telemetry::Severity;

use super::alarm_actions::{FormState, SuppressForm};
use super::alert_list::{device_href, severity_label};
use crate::live::alerts::{acknowledge, refusal};
use crate::model::route::Route;
use crate::model::toasts::Toast;
use crate::store::use_store;

/// The one shelve form the stack has open (by toast key), and what it holds.
#[derive(Clone, Copy)]
struct ShelfForms {
    open: RwSignal<Option<u64>>,
    form: FormState,
}

#[component]
pub fn ToastStack() -> impl IntoView {
    let store = use_store();
    provide_context(ShelfForms { open: RwSignal::new(None), form: FormState::new() });
    // Time moves toasts out (not while paused); only a change notifies the view.
    Effect::new(move |_| {
        let now = store.clock.get();
        if store.toasts.try_update_untracked(|t| t.tick(now)) == Some(true) {
            store.toasts.notify();
        }
    });
    // Paused while the pointer is over the stack or focus is inside it, each tracked on its own:
    // the pointer leaving must not let go of a toast a keyboard user is on.
    let (hovered, focused) = (StoredValue::new(false), StoredValue::new(false));
    let hold = move |which: StoredValue<bool>, on: bool| {
        which.set_value(on);
        let paused = hovered.get_value() || focused.get_value();
        store.toasts.update(|t| t.pause(paused, js_sys::Date::now() as i64));
    };
    // In a flood only critical alarms show one by one (up to the stack's bound); the rest are
    // one summary by severity.
    let flooding = move || store.flood.with(|f| f.flood.ongoing().is_some());
    let visible = move |critical: bool| {
        let flooding = flooding();
        store.toasts.with(|t| {
            if flooding {
                let bound = t.settings().visible;
                return match critical {
                    true => {
                        t.iter().filter(|toast| toast.severity == Severity::Critical).take(bound).cloned().collect()
                    }
                    false => Vec::new(),
                };
            }
            t.visible().filter(|toast| (toast.severity == Severity::Critical) == critical).cloned().collect::<Vec<_>>()
        })
    };
    let more = move || {
        let flooding = flooding();
        store.toasts.with(|t| match flooding {
            true => {
                let shown = t.iter().filter(|x| x.severity == Severity::Critical).take(t.settings().visible).count();
                t.len().saturating_sub(shown) + t.dropped()
            }
            false => t.more(),
        })
    };
    let summary = move || {
        store.flood.with(|f| {
            f.flood.ongoing().map(|_| {
                let [critical, warning, info] = f.by_severity;
                format!("Alarm flood: {critical} critical, {warning} warning, {info} info since it began")
            })
        })
    };
    view! {
        <div class="toasts" data-testid="toasts" hidden=move || !store.is_live()
            on:mouseenter=move |_| hold(hovered, true) on:mouseleave=move |_| hold(hovered, false)
            on:focusin=move |_| hold(focused, true) on:focusout=move |_| hold(focused, false)>
            <div role="alert" aria-live="assertive" aria-atomic="false" data-testid="toasts-assertive">
                <For each=move || visible(true) key=|t| (t.key, t.count, t.cleared, t.open_ids.len()) children=toast />
            </div>
            <Show when=flooding>
                <div class="toast toast-summary" data-testid="flood-summary">
                    <p class="toast-title"><strong>{summary}</strong></p>
                    <p class="toast-meta">"Critical alarms still show one by one; the rest are in the alert history."</p>
                </div>
            </Show>
            <div role="status" aria-live="polite" aria-atomic="false" data-testid="toasts-polite">
                <For each=move || visible(false) key=|t| (t.key, t.count, t.cleared, t.open_ids.len()) children=toast />
            </div>
            <Show when=move || { more() > 0 }>
                <a class="toast-more" href=Route::Alerts.href() data-testid="toasts-more">
                    {move || format!("+{} more", more())}
                </a>
            </Show>
            <Show when=move || store.ack_error.with(Option::is_some)>
                <p class="toast-error" role="alert" data-testid="ack-error">
                    {move || store.ack_error.get().map(|e| format!("Acknowledgement failed: {e}"))}
                </p>
            </Show>
        </div>
    }
}

fn toast(toast: Toast) -> impl IntoView {
    let store = use_store();
    let (icon, severity) = severity_label(toast.severity);
    let alert = toast.alert.clone();
    let date = js_sys::Date::new(&(toast.updated_at as f64).into());
    let at = format!("{:02}:{:02}:{:02}", date.get_hours(), date.get_minutes(), date.get_seconds());
    let key = toast.key;
    let (device, metric) = (alert.device.clone(), alert.metric.clone());
    let known = toast.open_ids.clone();
    let ack = move |_| {
        // Everything open for this device and metric, and whatever the toast itself holds.
        let mut ids = store.alerts.with_untracked(|feed| feed.open_ids(&device, &metric));
        ids.extend(known.iter().filter(|id| !ids.contains(id)).cloned().collect::<Vec<_>>());
        acknowledge(store, ids);
    };
    let critical = toast.severity == Severity::Critical;
    let href = device_href(store, &alert.device);
    // Open or not, and what was chosen, outlive the toast's view: a chattering alarm folds its
    // repeats into this toast, which builds it again.
    let shelf: ShelfForms = expect_context();
    let shelving = Signal::derive(move || shelf.open.get() == Some(key));
    let (shelf_device, shelf_metric) = (alert.device.clone(), Some(alert.metric.clone()));
    let form = shelf.form;
    let state_id = alert.id.clone();
    view! {
        <div class=format!("toast severity-{severity}") data-testid="toast" data-device=alert.device.clone()>
            <p class="toast-title">
                <span class="icon" aria-hidden="true">{icon}</span>
                <strong class="severity-label">{severity}</strong>
                " "
                <span class="where">{format!("{} · {}", alert.device, alert.metric)}</span>
                {(toast.count > 1).then(|| view! {
                    <span class="toast-count" data-testid="toast-count" title="alerts folded into this one">
                        {format!("×{}", toast.count)}
                    </span>
                })}
            </p>
            <p class="toast-message" data-testid="toast-message">{alert.message.clone()}</p>
            <p class="toast-meta">
                {format!("{} {:.1} (limit {:.1}) · {} · {at}", alert.metric, alert.value, alert.threshold, alert.site)}
                {toast.cleared.then_some(" · back to normal")}
            </p>
            <p class="toast-state">
                {move || store.alerts.with(|feed| {
                    feed.iter().find(|e| e.alert.id == state_id).map(|e| super::alarm_actions::alarm_state(store, e))
                })}
            </p>
            <p class="toast-actions">
                <button data-testid="toast-ack" on:click=ack disabled=move || refusal(store).is_some() title=move || refusal(store)>"Acknowledge"</button>
                <button data-testid="toast-shelve" disabled=move || refusal(store).is_some() title=move || refusal(store) aria-expanded=move || shelving.get().to_string()
                    on:click=move |_| shelf.open.update(|open| *open = if *open == Some(key) { None } else { Some(key) })>"Shelve…"</button>
                <a href=href data-testid="toast-show">"Show"</a>
                {(!critical).then(|| view! {
                    <button data-testid="toast-dismiss" on:click=move |_| store.toasts.update(|t| t.dismiss(key))>
                        "Dismiss"
                    </button>
                })}
            </p>
            <Show when=move || shelving.get()>
                <p class="toast-shelf">
                    <SuppressForm kind=SuppressionKind::Shelved device=shelf_device.clone() metric=shelf_metric.clone() state=form />
                </p>
            </Show>
            <Show when=move || shelving.get() && store.suppress_error.with(Option::is_some)>
                <p class="toast-error" role="alert" data-testid="suppress-error">{move || store.suppress_error.get()}</p>
            </Show>
        </div>
    }
}

fn window_text(ms: i64) -> String {
    match ms {
        600_000 => "10 minutes".into(),
        ms if ms % 60_000 == 0 => format!("{} minutes", ms / 60_000),
        ms => format!("{} seconds", ms / 1_000),
    }
}

/// The page says in words when alarms flood in: how many in the last ten minutes, how many
/// since the flood began and at what rate.
#[component]
pub fn FloodBanner() -> impl IntoView {
    let store = use_store();
    let text = move || {
        let now = store.clock.get();
        store.flood.with(|f| {
            f.flood.ongoing().map(|o| {
                format!(
                    "Alarm flood since {}: {} alarms in the last {}, {} since it began ({:.1} per minute). \
                     Critical alarms still show one by one.",
                    crate::panels::alarm_actions::clock(o.since),
                    o.in_window,
                    window_text(f.flood.window_ms()),
                    o.raised,
                    o.rate_per_minute(now)
                )
            })
        })
    };
    view! {
        <p class="flood-banner" role="alert" data-testid="flood-banner" hidden=move || text().is_none()>{text}</p>
    }
}

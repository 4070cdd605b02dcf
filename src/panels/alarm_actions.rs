//! What an operator does to alarms besides acknowledging them: shelve a point for a while,
//! put a device out of service for maintenance, end either early; and the one badge that says
//! where an alarm stands (ISA-18.2), the same on every screen. Shelving goes through the
//! functions API with a time limit the backend bounds; the result shows here at once and
//! reaches every other dashboard as a push.

use leptos::prelude::*;
use telemetry::alarms::{Suppression, SuppressionKind, SuppressionRequest};

use crate::live::alerts::{apply, operator, refusal, AlertEvent};
use crate::model::alerts::AlertEntry;
use crate::model::suppressions::describe;
use crate::store::{use_store, Store};

/// Durations offered, in minutes (those above the backend's maximum are left out).
const SHELF_MINUTES: [f64; 5] = [15.0, 60.0, 240.0, 480.0, 1_440.0];

/// `HH:MM` of a Unix ms time, local.
pub fn clock(ms: i64) -> String {
    let date = js_sys::Date::new(&(ms as f64).into());
    format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
}

/// Shelves `metric` of `device` (or, out of service, the device or one metric) for `minutes`.
pub fn suppress(
    store: Store,
    kind: SuppressionKind,
    device: String,
    metric: Option<String>,
    minutes: f64,
    reason: String,
) {
    let Some(api) = store.api.get_value() else {
        store.suppress_error.set(Some("not connected yet: the configuration is still loading".into()));
        return;
    };
    let request =
        SuppressionRequest { kind, device, metric, minutes, reason: reason.trim().to_string(), by: operator(store) };
    if let Some(problem) = store.suppressions.with_untracked(|s| request.problem(&s.policy)) {
        store.suppress_error.set(Some(problem));
        return;
    }
    leptos::task::spawn_local(async move {
        match api.suppress(&request).await {
            Ok(made) => {
                store.suppress_error.set(None);
                apply(store, vec![AlertEvent::Suppressed(vec![made])], js_sys::Date::now() as i64);
            }
            Err(error) => store.suppress_error.set(Some(error)),
        }
    });
}

/// Ends suppression `id` before its time.
pub fn end(store: Store, id: String) {
    let Some(api) = store.api.get_value() else { return };
    let by = operator(store);
    leptos::task::spawn_local(async move {
        match api.end_suppression(&id, &by).await {
            Ok(ended) => {
                store.suppress_error.set(None);
                apply(store, vec![AlertEvent::SuppressionEnded(vec![ended])], js_sys::Date::now() as i64);
            }
            Err(error) => store.suppress_error.set(Some(error)),
        }
    });
}

/// The durations to offer for `kind`, within the backend's maximum (which is always offered).
fn durations(store: Store, kind: SuppressionKind) -> Vec<f64> {
    let max = store.suppressions.with(|s| match kind {
        SuppressionKind::Shelved => s.policy.max_shelve_minutes,
        SuppressionKind::OutOfService => s.policy.max_out_of_service_minutes,
    });
    let mut offered: Vec<f64> = SHELF_MINUTES.iter().copied().filter(|m| *m < max).collect();
    offered.push(max);
    offered
}

fn duration_text(minutes: f64) -> String {
    match minutes {
        m if m < 1.0 => format!("{:.0} s", m * 60.0),
        m if m < 60.0 => format!("{m:.0} min"),
        m if (m / 60.0).fract() == 0.0 => format!("{:.0} h", m / 60.0),
        m => format!("{:.1} h", m / 60.0),
    }
}

/// What a form holds while the operator fills it in, kept by whoever outlives the form (a toast
/// is built again when its alarm repeats; what was chosen must not go with it).
#[derive(Clone, Copy)]
pub struct FormState {
    pub minutes: RwSignal<Option<f64>>,
    pub reason: RwSignal<String>,
}

impl FormState {
    pub fn new() -> Self {
        Self { minutes: RwSignal::new(None), reason: RwSignal::new(String::new()) }
    }
}

impl Default for FormState {
    fn default() -> Self {
        Self::new()
    }
}

/// A duration, a reason and a button: shelve this point, or put this device out of service.
#[component]
pub fn SuppressForm(
    kind: SuppressionKind,
    device: String,
    /// The point's metric (a shelf); none: the whole device (out of service).
    #[prop(default = None)]
    metric: Option<String>,
    /// Where the choices live (a new one when not given).
    #[prop(default = FormState::new())]
    state: FormState,
) -> impl IntoView {
    let store = use_store();
    let FormState { minutes, reason } = state;
    // The durations offered change only with the backend's policy.
    let offered = Memo::new(move |_| durations(store, kind));
    let (prefix, label, button) = match kind {
        SuppressionKind::Shelved => ("shelve", "Shelve for", "Shelve"),
        SuppressionKind::OutOfService => ("maintenance", "Out of service for", "Put out of service"),
    };
    let submit = move |_| {
        let chosen = minutes.get_untracked().unwrap_or_else(|| offered.with_untracked(|o| o[0]));
        suppress(store, kind, device.clone(), metric.clone(), chosen, reason.get_untracked());
    };
    view! {
        <span class="suppress-form">
            <label>
                {label} " "
                <select data-testid=format!("{prefix}-minutes") on:change=move |ev| minutes.set(event_target_value(&ev).parse().ok())>
                    {move || offered.get().into_iter().map(|m| view! {
                        <option value=m.to_string() selected=minutes.get_untracked() == Some(m)>{duration_text(m)}</option>
                    }).collect_view()}
                </select>
            </label>
            " "
            <input type="text" placeholder="reason" aria-label="Reason" maxlength="200" data-testid=format!("{prefix}-reason")
                prop:value=move || reason.get() on:input=move |ev| reason.set(event_target_value(&ev)) />
            " "
            <button data-testid=format!("{prefix}-submit") disabled=move || refusal(store).is_some() title=move || refusal(store) on:click=submit>{button}</button>
        </span>
    }
}

/// Where an alarm stands: its ISA-18.2 state in words, and whether its point is shelved or out
/// of service (by whom, until when, why). Tracks the suppressions (which say when one ends,
/// by time too), not the clock.
pub fn alarm_state(store: Store, entry: &AlertEntry) -> impl IntoView + use<> {
    let isa = entry.isa();
    let now = js_sys::Date::now() as i64;
    let suppression: Option<Suppression> =
        store.suppressions.with(|s| s.of(&entry.alert.device, &entry.alert.metric, now).cloned());
    let kind = suppression.as_ref().map(|s| s.kind.as_str()).unwrap_or("none");
    let note = suppression.map(|s| format!(" · {}", describe(&s, clock)));
    let re_alarms = (entry.re_alarms > 0).then(|| format!(" · re-alarmed ×{}", entry.re_alarms));
    view! {
        <span class=format!("isa isa-{}", isa.as_str()) data-testid="isa-state" data-isa=isa.as_str() data-suppressed=kind>
            {isa.words()}{re_alarms}{note}
        </span>
    }
}

/// The device's out-of-service state with the button to end it, or the form to begin it.
#[component]
pub fn Maintenance(device: String) -> impl IntoView {
    let store = use_store();
    // Built again only when the device goes in or out of service, not on every change of the
    // suppressions (a form being filled in must stay as it is).
    let current = {
        let device = device.clone();
        Memo::new(move |_| {
            store.suppressions.with(|s| s.device_out_of_service(&device, js_sys::Date::now() as i64).cloned())
        })
    };
    view! {
        <div class="maintenance" data-testid="maintenance">
            {move || match current.get() {
                Some(s) => {
                    let id = s.id.clone();
                    view! {
                        <p data-testid="maintenance-state">
                            {format!("Out of service: {}. Its alarms are recorded but do not notify.", describe(&s, clock))}
                            " "
                            <button data-testid="maintenance-end" disabled=move || refusal(store).is_some() title=move || refusal(store) on:click=move |_| end(store, id.clone())>"Return to service"</button>
                        </p>
                    }.into_any()
                }
                None => view! { <SuppressForm kind=SuppressionKind::OutOfService device=device.clone() /> }.into_any(),
            }}
            <Show when=move || store.suppress_error.with(Option::is_some)>
                <p class="error" role="alert" data-testid="suppress-error">{move || store.suppress_error.get()}</p>
            </Show>
        </div>
    }
}

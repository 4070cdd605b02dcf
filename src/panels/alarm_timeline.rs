//! One alarm and everything that happened to it, oldest first: raised (value against its
//! threshold), acknowledged (by whom), shelved or taken out of service (by whom, until when,
//! why) and back, re-alarmed, cleared. From the backend's alarm log (`history/alerts?id=`),
//! asked again when the alarm changes here; where it stands now is shown above, with what the
//! operator can do about it.

use leptos::prelude::*;
use telemetry::alarms::{SuppressionEndReason, SuppressionKind};
use telemetry::history::{AlertChange, AlertEvent};

use super::alarm_actions::{alarm_state, clock, end, FormState, SuppressForm};
use super::alert_list::{device_href, severity_label};
use super::chart::clock_time;
use crate::live::alerts::{acknowledge, refusal};
use crate::store::use_store;

/// One event in words.
fn event_text(event: &AlertEvent) -> String {
    let by = event.by.as_deref().filter(|b| !b.is_empty());
    let suppression = event.suppression.as_ref();
    let until = suppression.map(|s| format!(" until {}", clock(s.until))).unwrap_or_default();
    let reason = suppression.map(|s| s.reason.as_str()).filter(|r| !r.is_empty()).map(|r| format!(" ({r})"));
    let why_ended = match event.reason {
        Some(SuppressionEndReason::Ended) | None => "",
        Some(SuppressionEndReason::Expired) => " (its time was up)",
        Some(SuppressionEndReason::Replaced) => " (replaced by a new one)",
    };
    match event.change {
        AlertChange::Raised => match &event.alert {
            Some(a) => {
                format!("raised: {} {:.1} against a limit of {:.1}: {}", a.metric, a.value, a.threshold, a.message)
            }
            None => "raised".into(),
        },
        AlertChange::Acknowledged => format!("acknowledged by {}", by.unwrap_or("someone")),
        AlertChange::Cleared => "returned to normal".into(),
        AlertChange::ReAlarmed => "re-alarmed: still active after its acknowledgement, unacknowledged again".into(),
        AlertChange::Shelved => {
            format!("shelved by {}{until}{}", by.unwrap_or("someone"), reason.unwrap_or_default())
        }
        AlertChange::Unshelved => match by {
            Some(by) => format!("unshelved by {by}{why_ended}"),
            None => format!("shelf over{why_ended}"),
        },
        AlertChange::OutOfService => {
            format!("out of service, by {}{until}{}", by.unwrap_or("someone"), reason.unwrap_or_default())
        }
        AlertChange::ReturnedToService => match by {
            Some(by) => format!("returned to service by {by}{why_ended}"),
            None => format!("back in service{why_ended}"),
        },
        AlertChange::Unknown => "a change this dashboard does not know".into(),
    }
}

fn change_code(change: AlertChange) -> &'static str {
    match change {
        AlertChange::Raised => "raised",
        AlertChange::Acknowledged => "acknowledged",
        AlertChange::Cleared => "cleared",
        AlertChange::ReAlarmed => "reAlarmed",
        AlertChange::Shelved => "shelved",
        AlertChange::Unshelved => "unshelved",
        AlertChange::OutOfService => "outOfService",
        AlertChange::ReturnedToService => "returnedToService",
        AlertChange::Unknown => "unknown",
    }
}

#[component]
pub fn AlarmTimeline(id: String) -> impl IntoView {
    let store = use_store();
    let events = RwSignal::new(None::<Result<Vec<AlertEvent>, String>>);
    // This alarm as held here, and the shelf of its point: each a memo, so what shows them is
    // built again only when they change (not whenever another alarm arrives).
    let entry = {
        let id = id.clone();
        Memo::new(move |_| store.alerts.with(|feed| feed.iter().find(|e| e.alert.id == id).cloned()))
    };
    let shelf = Memo::new(move |_| {
        entry.with(|e| {
            let e = e.as_ref()?;
            store.suppressions.with(|s| {
                s.iter()
                    .find(|x| x.kind == SuppressionKind::Shelved && x.covers(&e.alert.device, &e.alert.metric))
                    .map(|x| x.id.clone())
            })
        })
    });
    let form = FormState::new();
    // Asked when the screen opens and again whenever the alarm changes here (a push).
    let version = Memo::new(move |_| {
        let suppressions = store.suppressions.with(|s| s.len());
        entry.with(|e| e.as_ref().map(|e| (e.acknowledged.is_some(), e.cleared_at, e.re_alarms, suppressions)))
    });
    let asked_for = id.clone();
    Effect::new(move |_| {
        version.track();
        store.sync.track();
        let Some(api) = store.api.get_value() else { return };
        let id = asked_for.clone();
        leptos::task::spawn_local(async move {
            let answer = match api.alert_timeline(&id).await {
                Ok(Some(log)) => Ok(log.events),
                Ok(None) => Err("this backend keeps no alarm log".into()),
                Err(error) => Err(error.message),
            };
            events.set(Some(answer));
        });
    });
    let header = {
        move || {
            entry.get().map(|e| {
                let (icon, severity) = severity_label(e.alert.severity);
                let ack_ids = vec![e.alert.id.clone()];
                let waiting = e.needs_acknowledgement();
                let (device, metric) = (e.alert.device.clone(), e.alert.metric.clone());
                let shelf = shelf.get();
                view! {
                    <p class=format!("alarm-head severity-{severity}")>
                        <span aria-hidden="true">{icon}</span> " " <strong>{severity}</strong> " "
                        <a href=device_href(store, &e.alert.device)>{e.alert.device.clone()}</a>
                        {format!(" · {} · ", e.alert.metric)}
                        {alarm_state(store, &e)}
                    </p>
                    <p class="alarm-actions">
                        {waiting.then(|| view! {
                            <button data-testid="alarm-ack" disabled=move || refusal(store).is_some() title=move || refusal(store) on:click=move |_| acknowledge(store, ack_ids.clone())>"Acknowledge"</button>
                        })}
                        {match shelf {
                            Some(shelf) => view! {
                                <button data-testid="alarm-unshelve" disabled=move || refusal(store).is_some() title=move || refusal(store) on:click=move |_| end(store, shelf.clone())>"Unshelve"</button>
                            }.into_any(),
                            None => view! {
                                <SuppressForm kind=SuppressionKind::Shelved device=device.clone() metric=Some(metric.clone()) state=form />
                            }.into_any(),
                        }}
                    </p>
                }
            })
        }
    };
    view! {
        <section class="alarm-timeline" aria-labelledby="alarm-heading">
            <h2 id="alarm-heading">"Alarm " <span class="mono">{id.clone()}</span></h2>
            // Not held here (pushed out, or from before the page): the log below still tells.
            {header}
            <Show when=move || store.suppress_error.with(Option::is_some)>
                <p class="error" role="alert" data-testid="suppress-error">{move || store.suppress_error.get()}</p>
            </Show>
            {move || match events.get() {
                None => view! { <p class="note">"Loading the alarm's timeline…"</p> }.into_any(),
                Some(Err(why)) => view! { <p class="error" data-testid="alarm-timeline-error">{why}</p> }.into_any(),
                Some(Ok(list)) if list.is_empty() => view! { <p class="note" data-testid="alarm-timeline-empty">"The alarm log has nothing on this alarm."</p> }.into_any(),
                Some(Ok(list)) => view! {
                    <ol class="alarm-events" data-testid="alarm-events">
                        {list.iter().map(|e| view! {
                            <li data-testid="alarm-event" data-change=change_code(e.change)>
                                <time class="mono">{clock_time(e.ts)}</time> " " {event_text(e)}
                            </li>
                        }).collect_view()}
                    </ol>
                }.into_any(),
            }}
        </section>
    }
}

//! The alert history: newest first, open counts by severity, filters by severity, site, state
//! and device, acknowledge per alert or every unacknowledged one shown, who acknowledges, and the optional
//! tone for critical alerts. Each alert links to its device (charts, or its vehicle on the map).
//! At most [`ROWS`] rows are in the page; the filters reach the rest.

use leptos::prelude::*;
use telemetry::Severity;

use super::alarm_actions::alarm_state;
use super::alert_list::{alarm_href, device_href, severity_label};
use super::choice::choice;
use super::table::heading_row;
use crate::live::alerts::{acknowledge, refusal};
use crate::model::alerts::{AlertEntry, AlertState};
use crate::model::catalog::site_name;
use crate::store::{use_store, Store};

/// Rows in the page at most.
pub const ROWS: usize = 200;

const OPERATOR_KEY: &str = "dashboard.operator";
const SOUND_KEY: &str = "dashboard.sound";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// Restores who acknowledges and the sound setting from the browser's storage.
pub fn restore_settings(store: Store) {
    if let Some(storage) = storage() {
        if let Ok(Some(name)) = storage.get_item(OPERATOR_KEY) {
            store.operator.set(name.chars().take(64).collect());
        }
        // Sound needs a click before a browser plays it, so it is only remembered, not resumed.
        let _ = storage.remove_item(SOUND_KEY);
    }
}

#[component]
pub fn AlertHistory() -> impl IntoView {
    let store = use_store();
    let filter = store.alert_filter;
    let signed_in_name =
        move || store.identity.with(|i| i.as_ref().filter(|i| i.signed_in).map(|i| i.name.clone().unwrap_or_default()));
    let counts = move || store.with_alerts(|feed| feed.open_counts());
    let matching = move || store.with_alerts(|feed| filter.with(|f| feed.filtered(f).count()));
    let rows =
        move || store.with_alerts(|feed| filter.with(|f| feed.filtered(f).take(ROWS).cloned().collect::<Vec<_>>()));
    let unacknowledged_shown = move || {
        store.with_alerts(|feed| {
            filter.with(|f| {
                feed.filtered(f).filter(|e| e.needs_acknowledgement()).map(|e| e.alert.id.clone()).collect::<Vec<_>>()
            })
        })
    };
    let sites = Memo::new(move |_| {
        let ids = store.with_alerts(|feed| feed.sites());
        store.catalog.with(|catalog| ids.into_iter().map(|id| (site_name(catalog, &id), id)).collect::<Vec<_>>())
    });
    let count_tile = move |severity: Severity| {
        let (icon, word) = severity_label(severity);
        view! {
            <li class=format!("count severity-{word}") data-testid=format!("alert-count-{word}")>
                <span aria-hidden="true">{icon}</span>
                " "
                <strong>{move || {
                    let c = counts();
                    match severity {
                        Severity::Info => c.info,
                        Severity::Warning => c.warning,
                        Severity::Critical => c.critical,
                    }
                }}</strong>
                {format!(" {word} open")}
            </li>
        }
    };
    view! {
        <section class="alert-history" aria-labelledby="alert-history-heading">
            <h2 id="alert-history-heading">"Alerts"</h2>
            <ul class="alert-counts">
                {count_tile(Severity::Critical)}
                {count_tile(Severity::Warning)}
                {count_tile(Severity::Info)}
            </ul>
            <div class="map-toolbar">
                {choice("severity", "alert-filter-severity", &["critical", "warning", "info"],
                    move || filter.with(|f| f.severity.map_or("", super::icons::severity_word)), move |value| {
                    let severity = match value {
                        "info" => Some(Severity::Info),
                        "warning" => Some(Severity::Warning),
                        "critical" => Some(Severity::Critical),
                        _ => None,
                    };
                    filter.update(|f| f.severity = severity);
                })}
                <label>
                    "site "
                    <select data-testid="alert-filter-site" on:change=move |ev| {
                        let value = event_target_value(&ev);
                        filter.update(|f| f.site = (!value.is_empty()).then_some(value));
                    }>
                        <option value="">"all"</option>
                        {move || sites.get().into_iter().map(|(name, id)| {
                            let chosen = filter.with(|f| f.site.as_deref() == Some(id.as_str()));
                            view! { <option value=id selected=chosen>{name}</option> }
                        }).collect_view()}
                    </select>
                </label>
                {choice("state", "alert-filter-state", &["open", "acknowledged", "cleared"],
                    move || filter.with(|f| f.state.map_or("", AlertState::as_str)), move |value| {
                    filter.update(|f| f.state = AlertState::parse(value));
                })}
                <input type="search" placeholder="Device" aria-label="Filter alerts by device" data-testid="alert-filter-device"
                    prop:value=move || filter.with(|f| f.device.clone())
                    on:input=move |ev| filter.update(|f| f.device = event_target_value(&ev)) />
            </div>
            <div class="map-toolbar">
                // Signed in, the functions record the name the token carries: nothing to type.
                {move || match signed_in_name() {
                    Some(name) => view! {
                        <span data-testid="acknowledging-as">"acknowledging as " <strong>{name}</strong></span>
                    }.into_any(),
                    None => view! {
                        <label>
                            "acknowledge as "
                            <input type="text" maxlength="64" placeholder="dashboard" data-testid="operator"
                                prop:value=move || store.operator.get()
                                on:change=move |ev| {
                                    let name: String = event_target_value(&ev).trim().chars().take(64).collect();
                                    if let Some(storage) = storage() {
                                        let _ = storage.set_item(OPERATOR_KEY, &name);
                                    }
                                    store.operator.set(name);
                                } />
                        </label>
                    }.into_any(),
                }}
                <label>
                    <input type="checkbox" data-testid="sound" prop:checked=move || store.sound.get()
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            if on {
                                crate::sound::enable();
                            }
                            store.sound.set(on);
                        } />
                    " sound for critical alerts"
                </label>
                <button data-testid="ack-shown" title=move || refusal(store) disabled=move || unacknowledged_shown().is_empty() || !store.is_live() || refusal(store).is_some()
                    on:click=move |_| acknowledge(store, unacknowledged_shown())>
                    {move || format!("Acknowledge {} unacknowledged shown", unacknowledged_shown().len())}
                </button>
                <Show when=move || store.ack_error.with(Option::is_some)>
                    <span class="error" data-testid="history-ack-error">{move || store.ack_error.get()}</span>
                </Show>
            </div>
            <FloodMoments />
            <NotificationsChoice />
            <p class="note" data-testid="alert-history-note">
                {move || {
                    let n = matching();
                    if n > ROWS { format!("showing the newest {ROWS} of {n}") } else { format!("{n} alerts") }
                }}
            </p>
            <table>
                <thead>
                    {heading_row(&["Time", "Severity", "Device", "Site", "Value", "Message", "State"], &[], Some("Action"))}
                </thead>
                <tbody>
                    <For each=rows key=|e| (e.alert.id.clone(), e.state_text(), e.over) children=move |e| history_row(store, e) />
                </tbody>
            </table>
        </section>
    }
}

fn history_row(store: Store, entry: AlertEntry) -> impl IntoView {
    let (icon, severity) = severity_label(entry.alert.severity);
    let date = js_sys::Date::new(&(entry.alert.ts as f64).into());
    let time = format!("{:02}:{:02}:{:02}", date.get_hours(), date.get_minutes(), date.get_seconds());
    let state_text = entry.state_text();
    let needs_acknowledgement = entry.needs_acknowledgement();
    let id = entry.alert.id.clone();
    let (row_id, row_device) = (entry.alert.id.clone(), entry.alert.device.clone());
    let timeline = alarm_href(&entry.alert.id);
    let state_entry = entry.clone();
    view! {
        <tr class=format!("severity-{severity}") data-testid="history-row" data-alert-id=row_id>
            <td class="mono">{time}</td>
            <td><span aria-hidden="true">{icon}</span>" "{severity}</td>
            <td><a href=device_href(store, &row_device) data-testid="history-device">{row_device.clone()}</a></td>
            <td>{entry.alert.site.clone()}</td>
            <td class="mono">{format!("{} {:.1} / {:.1}", entry.alert.metric, entry.alert.value, entry.alert.threshold)}</td>
            <td data-testid="history-message">{entry.alert.message.clone()}</td>
            <td>
                <span data-testid="history-state">{state_text}</span>
                <br />
                {move || alarm_state(store, &state_entry)}
                " "
                <a href=timeline data-testid="history-timeline">"timeline"</a>
            </td>
            <td>
                // Open, or back to normal and still unacknowledged (ISA-18.2): both wait for someone.
                // Not while the page shows the past: what is shown then is not what is open now.
                {move || (needs_acknowledgement && store.is_live()).then(|| {
                    let id = id.clone();
                    view! {
                        <button data-testid="history-ack" disabled=move || refusal(store).is_some() title=move || refusal(store) on:click=move |_| acknowledge(store, vec![id.clone()])>"Acknowledge"</button>
                    }
                })}
            </td>
        </tr>
    }
}

/// The floods' beginnings and ends on this page (the alarm history's own entries).
#[component]
fn FloodMoments() -> impl IntoView {
    let store = use_store();
    let moments = move || {
        store.flood.with(|f| {
            f.flood
                .moments()
                .rev()
                .map(|m| {
                    let at = super::chart::clock_time(m.ts);
                    let (code, text) = match m.change {
                        crate::model::flood::Change::Began => {
                            ("began", format!("{at} alarm flood began: {} alarms in the flood window", m.in_window))
                        }
                        crate::model::flood::Change::Ended => (
                            "ended",
                            format!(
                                "{at} alarm flood ended: {} alarms in the window, {} over the flood",
                                m.in_window, m.raised_in_flood
                            ),
                        ),
                    };
                    view! { <li data-testid="flood-moment" data-change=code>{text}</li> }
                })
                .collect_view()
        })
    };
    view! {
        <ul class="flood-moments" data-testid="flood-moments" aria-label="Alarm floods">{moments}</ul>
    }
}

/// Desktop notifications for critical alarms while this tab is hidden: opt in with one click
/// (the browser asks too); a refusal is remembered and said.
#[component]
fn NotificationsChoice() -> impl IntoView {
    use crate::live::notify::{opt_in, opt_out, Choice};
    let store = use_store();
    view! {
        <p class="notifications" data-testid="notifications" data-choice=move || store.notifications.get().as_str()>
            {move || match store.notifications.get() {
                Choice::Off => view! {
                    <button data-testid="notifications-on" on:click=move |_| opt_in(store)>
                        "Notify me of critical alarms while this tab is hidden"
                    </button>
                }.into_any(),
                Choice::On => view! {
                    <span>"Desktop notifications are on for critical alarms while this tab is hidden. "</span>
                    <button data-testid="notifications-off" on:click=move |_| opt_out(store)>"Turn off"</button>
                }.into_any(),
                Choice::Refused => view! {
                    <span data-testid="notifications-refused">
                        "Desktop notifications were refused in this browser: allow them in the site's settings to get them. "
                    </span>
                    <button data-testid="notifications-retry" on:click=move |_| opt_in(store)>"Ask again"</button>
                }.into_any(),
                Choice::Unsupported => view! {
                    <span>"This browser cannot show desktop notifications here."</span>
                }.into_any(),
            }}
        </p>
    }
}

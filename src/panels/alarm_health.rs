//! `#/alarms/health`: whether the alarm system itself is healthy, from the backend's alarm log
//! over the last hour (or eight, or a day), each figure beside its EEMUA 191 target and whether
//! it is met. None of the dashboards we compare with shows this. Asked again every minute.

use std::time::Duration;

use leptos::prelude::*;

use crate::model::alarm_health::{compute, target, Health, Key, Open, BUCKET_MS};
use crate::store::use_store;

const HOUR_MS: i64 = 3_600_000;
const SPANS: [(i64, &str); 3] = [(1, "last hour"), (8, "last 8 hours"), (24, "last 24 hours")];

fn percent(x: f64) -> String {
    format!("{:.1} %", x * 100.0)
}

fn minutes(ms: Option<i64>) -> String {
    ms.map_or_else(|| "–".into(), |ms| format!("{:.1} min", ms as f64 / 60_000.0))
}

fn key_text(key: &Key) -> String {
    format!("{} · {}", key.device, key.metric)
}

/// One row: what, the figure, the target, met or not (none: no target to meet).
fn row(id: &'static str, what: &'static str, figure: String, goal: &'static str, met: Option<bool>) -> impl IntoView {
    let verdict = match met {
        Some(true) => "met",
        Some(false) => "not met",
        None => "–",
    };
    view! {
        <tr data-testid=id data-met=verdict>
            <th scope="row">{what}</th>
            <td class="figure" data-testid=format!("{id}-figure")>{figure}</td>
            <td>{goal}</td>
            <td class=format!("verdict verdict-{}", verdict.replace(' ', "-"))>{verdict}</td>
        </tr>
    }
}

fn figures(h: &Health) -> impl IntoView + use<> {
    let split =
        format!("{} critical / {} warning / {} info", percent(h.split[0]), percent(h.split[1]), percent(h.split[2]));
    let split_met = h.raised == 0 || target::split_met(h.split);
    view! {
        <table class="health-figures">
            <thead><tr><th scope="col">"figure"</th><th scope="col">"measured"</th><th scope="col">"EEMUA 191 target"</th><th scope="col">""</th></tr></thead>
            <tbody>
                {row("health-raised", "alarms raised", h.raised.to_string(), "", None)}
                {row("health-per-10-minutes", "average per 10 minutes", format!("{:.2}", h.per_10_minutes), "about 1 (steady state)", Some(h.per_10_minutes <= target::PER_10_MINUTES))}
                {row("health-peak-10-minutes", "most in 10 minutes", h.peak_per_10_minutes.to_string(), "at most 10 (more is a flood)", Some(h.peak_per_10_minutes <= target::PEAK_PER_10_MINUTES))}
                {row("health-per-hour", "average per hour", format!("{:.1}", h.per_hour), "about 6 (one per 10 minutes)", Some(h.per_hour <= target::PER_HOUR))}
                {row("health-peak-hour", "peak per hour", h.peak_per_hour.to_string(), "at most 15", Some(h.peak_per_hour as f64 <= target::PEAK_PER_HOUR))}
                {row("health-flood", "time in flood", percent(h.flood_share), "under 1 %", Some(h.flood_share < target::FLOOD_SHARE))}
                {row("health-bad-actor-share", "load of the 10 most frequent", percent(h.bad_actor_share), "under 5 % (ISA-18.2: 1–5 %)", Some(h.raised == 0 || h.bad_actor_share <= target::BAD_ACTOR_SHARE))}
                {row("health-chattering", "chattering alarms (3 or more in a minute)", h.chattering.len().to_string(), "none", Some(h.chattering.is_empty()))}
                {row("health-standing", "standing alarms (active over an hour)", h.standing.len().to_string(), "none", Some(h.standing.is_empty()))}
                {row("health-ack-p50", "time to acknowledge, median", minutes(h.ack_p50), "no EEMUA figure: the site's own", None)}
                {row("health-ack-p90", "time to acknowledge, 90th percentile", minutes(h.ack_p90), "no EEMUA figure: the site's own", None)}
                {row("health-split", "priority split", split, "about 5 % / 15 % / 80 %", Some(split_met))}
            </tbody>
        </table>
    }
}

/// Alarms per ten minutes as bars, each labelled with its count.
fn chart(h: &Health) -> impl IntoView + use<> {
    let most = h.per_bucket.iter().copied().max().unwrap_or(0).max(10) as f64;
    let width = 600.0;
    let height = 120.0;
    let step = width / h.per_bucket.len().max(1) as f64;
    let target_y = height - 10.0 / most * (height - 14.0);
    let bars = h
        .per_bucket
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let bar = *n as f64 / most * (height - 14.0);
            let from = h.from + i as i64 * BUCKET_MS;
            let class = if *n > 10 { "bar bar-flood" } else { "bar" };
            view! {
                <rect data-testid="health-bucket" data-count=n.to_string() data-from=from.to_string()
                    x=format!("{:.1}", i as f64 * step + 1.0) y=format!("{:.1}", height - bar)
                    width=format!("{:.1}", (step - 2.0).max(1.0)) height=format!("{bar:.1}")
                    class=class>
                    <title>{format!("{n} alarms")}</title>
                </rect>
            }
        })
        .collect_view();
    view! {
        <svg class="health-chart" viewBox=format!("0 0 {width} {height}") role="img"
            aria-label="alarms per 10 minutes" data-testid="health-chart">
            {bars}
            <line class="target" x1="0" x2=width.to_string() y1=format!("{target_y:.1}") y2=format!("{target_y:.1}") />
        </svg>
    }
}

#[component]
pub fn AlarmHealth() -> impl IntoView {
    let store = use_store();
    let hours = RwSignal::new(1i64);
    // The log, the range it covers (from, to) and why that range is shorter than asked, if it is.
    type Answer = Result<(Vec<telemetry::history::AlertEvent>, i64, i64, Option<String>), String>;
    let log = RwSignal::new(None::<Answer>);
    let ask = move || {
        let Some(api) = store.api.get_value() else { return };
        let now = js_sys::Date::now() as i64;
        let asked = now - hours.get_untracked() * HOUR_MS;
        leptos::task::spawn_local(async move {
            // The figures are over what the backend keeps, never over hours it does not.
            let kept = match api.coverage(asked).await {
                Ok(Some(coverage)) => coverage.from.max(asked),
                _ => asked,
            };
            log.set(Some(match api.alarm_log(kept).await {
                Ok(Some(log)) => {
                    let full = log.events.len() >= telemetry::history::MAX_ALERT_LIMIT as usize;
                    let from = match (full, log.events.first()) {
                        (true, Some(oldest)) => oldest.ts.max(kept),
                        _ => kept,
                    };
                    let note = if full {
                        Some(format!(
                            "the backend answers at most {} events: the figures are from {} on",
                            telemetry::history::MAX_ALERT_LIMIT,
                            crate::panels::alarm_actions::clock(from)
                        ))
                    } else if kept > asked {
                        Some(format!(
                            "the backend keeps alarms from {} on: the figures are over that",
                            crate::panels::alarm_actions::clock(kept)
                        ))
                    } else {
                        None
                    };
                    Ok((log.events, from, now, note))
                }
                Ok(None) => Err("this backend keeps no alarm log, so there is nothing to judge".into()),
                Err(error) => Err(error.message),
            }));
        });
    };
    Effect::new(move |_| {
        hours.track();
        store.sync.track();
        ask();
    });
    if let Ok(handle) = set_interval_with_handle(ask, Duration::from_secs(60)) {
        on_cleanup(move || handle.clear());
    }
    let health = move || {
        log.get().map(|answer| {
            answer.map(|(events, from, now, note)| {
                let open: Vec<Open> = store.alerts.with(|feed| {
                    feed.iter()
                        .filter(|e| !e.over)
                        .map(|e| Open {
                            id: e.alert.id.clone(),
                            key: Key { device: e.alert.device.clone(), metric: e.alert.metric.clone() },
                            raised: e.alert.ts,
                            cleared: e.cleared_at.is_some(),
                        })
                        .collect()
                });
                (compute(&events, &open, from, now), note)
            })
        })
    };
    view! {
        <section class="alarm-health" aria-labelledby="health-heading">
            <h2 id="health-heading">"Alarm system health"</h2>
            <p class="note">
                "From the backend's alarm log, judged as EEMUA 191 and ISA-18.2 judge an alarm system. Over the "
                <select data-testid="health-span" aria-label="Span" on:change=move |ev| {
                    if let Ok(h) = event_target_value(&ev).parse() { hours.set(h) }
                }>
                    {SPANS.iter().map(|(h, label)| view! { <option value=h.to_string()>{*label}</option> }).collect_view()}
                </select>
                "."
            </p>
            {move || match health() {
                None => view! { <p class="note" data-testid="health-loading">"Reading the alarm log…"</p> }.into_any(),
                Some(Err(why)) => view! { <p class="error" data-testid="health-error">{why}</p> }.into_any(),
                Some(Ok((h, note))) => view! {
                    <p class="note" data-testid="health-range">{note}</p>
                    <h3>"Alarms per 10 minutes"</h3>
                    {chart(&h)}
                    {figures(&h)}
                    <h3>"Most frequent alarms (bad actors)"</h3>
                    <ol class="bad-actors" data-testid="health-bad-actors">
                        {h.bad_actors.iter().map(|a| view! {
                            <li data-testid="health-bad-actor" data-count=a.count.to_string()>
                                {format!("{} · {} raised, {} of all", key_text(&a.key), a.count, percent(a.share))}
                            </li>
                        }).collect_view()}
                    </ol>
                    <h3>"Chattering alarms"</h3>
                    <ul data-testid="health-chattering-list">
                        {h.chattering.iter().map(|(k, n)| view! {
                            <li data-testid="health-chatterer">{format!("{} · {n} within a minute", key_text(k))}</li>
                        }).collect_view()}
                    </ul>
                    <h3>"Standing alarms"</h3>
                    <ul data-testid="health-standing-list">
                        {h.standing.iter().map(|o| view! {
                            <li data-testid="health-stander">
                                <a href=crate::model::route::Route::Alarm { id: o.id.clone() }.href()>{key_text(&o.key)}</a>
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }}
        </section>
    }
}

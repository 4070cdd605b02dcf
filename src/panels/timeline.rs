//! The timeline on every screen: live, paused at a moment, or playing at N×; a scrubber over
//! the history kept, with a mark for each alarm (shape and colour by severity) and for each gap
//! the backend has no data for; *back to live* one click away, with a badge counting the alarms
//! raised live meanwhile. The moment shown is written as HH:MM:SS (with the date when not today).

use leptos::prelude::*;
use telemetry::Severity;

use crate::model::timeline::{clock_text, Timeline, SPEEDS};
use crate::store::use_store;

/// How far back the scrubber goes: the history a backend keeps by default.
pub const SPAN_MS: i64 = 3_600_000;

/// Minutes east of UTC in the browser's time zone.
fn offset_minutes() -> i64 {
    -(js_sys::Date::new_0().get_timezone_offset() as i64)
}

fn severity_class(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "critical",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

#[component]
pub fn TimelineBar() -> impl IntoView {
    let store = use_store();
    let now = move || store.clock.get();
    let live = move || store.timeline.with(Timeline::is_live);
    let shown = move || store.moment.get().unwrap_or_else(now);
    let start = move || now() - SPAN_MS;
    let speed = move || store.timeline.with(Timeline::speed);
    let mode_text = move || match (live(), speed()) {
        (true, _) => "live".to_string(),
        (false, None) => "paused".to_string(),
        (false, Some(speed)) => format!("playing {speed}×"),
    };
    let time_text = move || clock_text(shown(), now(), offset_minutes());
    // The speed chosen for the next play (kept while paused).
    let chosen = RwSignal::new(10u32);
    let seek = move |at: i64| {
        let wall = js_sys::Date::now() as i64;
        store.timeline.update(|t| t.seek(at.clamp(wall - SPAN_MS, wall), wall));
    };
    let play = move || {
        let wall = js_sys::Date::now() as i64;
        store.timeline.update(|t| t.play(chosen.get_untracked(), wall));
    };
    let pause = move || {
        let wall = js_sys::Date::now() as i64;
        store.timeline.update(|t| t.pause(wall));
    };
    // The span the marks are placed on moves every ten seconds, not every second: a thousand
    // marks are laid out again when the alerts change or the span moves (a 0.3 % drift between).
    let span_end = Memo::new(move |_| now() / 10_000 * 10_000 + 10_000);
    let position = move |ts: i64, end: i64| {
        let from = end - SPAN_MS;
        ((ts - from) as f64 / SPAN_MS as f64 * 100.0).clamp(0.0, 100.0)
    };
    // Alarm marks: every alert raised within the span, where it was raised.
    let marks = Memo::new(move |_| {
        let end = span_end.get();
        store.alerts.with(|feed| {
            feed.iter()
                .filter(|e| e.alert.ts >= end - SPAN_MS && e.alert.ts <= end)
                .map(|e| {
                    let title = format!("{} · {} · {}", e.alert.device, e.alert.metric, e.alert.message);
                    (e.alert.ts, e.alert.severity, title, position(e.alert.ts, end))
                })
                .collect::<Vec<_>>()
        })
    });
    let gaps = move || store.replay_gaps.get();
    let missed = move || store.missed_alerts.get();
    view! {
        <section class="timeline" class:replaying=move || !live() data-testid="timeline" aria-label="Timeline">
            <button class="to-live" data-testid="timeline-live" aria-pressed=move || live().to_string()
                on:click=move |_| store.timeline.update(Timeline::go_live)>
                {move || if live() { view! { {super::icons::dot()} " live" }.into_any() } else { "back to live".into_any() }}
                <span class="badge" data-testid="timeline-badge" hidden=move || missed() == 0
                    title="alarms raised live while you look at the past">
                    {move || format!("{} new", missed())}
                </span>
            </button>
            <button data-testid="timeline-pause" disabled=move || speed().is_none() && !live() on:click=move |_| pause()>
                "pause"
            </button>
            <button data-testid="timeline-play" disabled=move || speed().is_some() on:click=move |_| play()>"play"</button>
            <label class="speed">
                <span class="visually-hidden">"speed"</span>
                <select data-testid="timeline-speed" aria-label="replay speed" on:change=move |ev| {
                    let value = event_target_value(&ev).parse::<u32>().unwrap_or(10);
                    chosen.set(value);
                    // Playing already: on at the new speed from where it is.
                    if speed().is_some() {
                        play();
                    }
                }>
                    {SPEEDS.iter().map(|s| view! {
                        <option value=s.to_string() selected=move || speed().unwrap_or(chosen.get()) == *s>{format!("{s}×")}</option>
                    }).collect_view()}
                </select>
            </label>
            <div class="scrubber">
                <div class="marks" aria-hidden="true">
                    {move || gaps().into_iter().map(|(from, to)| {
                        let end = span_end.get();
                        let left = position(from, end);
                        let width = (position(to, end) - left).max(0.3);
                        view! { <span class="gap" data-testid="timeline-gap" data-from=from.to_string() data-to=to.to_string()
                            style:left=format!("{left:.2}%") style:width=format!("{width:.2}%") title="no data kept for this time"></span> }
                    }).collect_view()}
                    {move || marks.get().into_iter().map(|(ts, severity, title, left)| {
                        let class = format!("mark {}", severity_class(severity));
                        view! { <span class=class data-testid="timeline-mark" data-ts=ts.to_string()
                            data-severity=severity_class(severity) style:left=format!("{left:.2}%") title=title></span> }
                    }).collect_view()}
                </div>
                <input type="range" data-testid="timeline-scrubber" aria-label="moment shown"
                    min=move || start().to_string() max=move || now().to_string() step="1000"
                    prop:value=move || shown().to_string()
                    aria-valuetext=time_text
                    on:input=move |ev| {
                        if let Ok(at) = event_target_value(&ev).parse::<i64>() {
                            seek(at);
                        }
                    } />
            </div>
            <span class="mode" data-testid="timeline-mode">{mode_text}</span>
            <time data-testid="timeline-time">{time_text}</time>
            <span class="note" data-testid="replay-note" hidden=move || store.replay_note.with(Option::is_none)>
                {move || store.replay_note.get()}
            </span>
        </section>
    }
}

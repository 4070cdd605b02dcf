//! Connection state, transport, message count and the last problem, always visible: a
//! dashboard that silently stops updating is worse than none.

use std::time::Duration;

use leptos::prelude::*;

use crate::model::limits::over_limit_text;
use crate::model::status::Phase;
use crate::model::sync::SyncState;
use crate::store::use_store;

/// The page clock used for the reconnect countdown (same clock as the SignalR client).
fn now() -> u64 {
    signalr::web::now()
}

#[component]
pub fn StatusBar() -> impl IntoView {
    let store = use_store();
    let clock = RwSignal::new(now());
    if let Ok(handle) = set_interval_with_handle(move || clock.set(now()), Duration::from_millis(500)) {
        on_cleanup(move || handle.clear());
    }
    let syncing = move || store.status.with(|s| s.phase == Phase::Connected) && store.sync.with(SyncState::is_syncing);
    // Connected is not live until the snapshot is loaded and the groups joined: say so.
    let phase = move || if syncing() { "connected · syncing" } else { store.status.with(|s| s.phase.as_str()) };
    let pill = move || if syncing() { "syncing" } else { store.status.with(|s| s.phase.as_str()) };
    let transport = move || store.status.with(|s| s.transport.unwrap_or("—"));
    let countdown = move || {
        if let Some(seconds) = store.status.with(|s| s.retry_in_seconds(clock.get())) {
            return Some(format!("retrying in {seconds} s"));
        }
        let seconds = store.sync.with(|s| s.retry_in_seconds(clock.get())).filter(|_| syncing())?;
        Some(format!("sync retry in {seconds} s"))
    };
    // Recounted when the fleet or the equipment change, redrawn only when the words do.
    let over_limit = Memo::new(move |_| {
        store.fleet.with(|f| {
            store.equipment.with(|e| store.refused_sites.with(|s| over_limit_text([f.refused(), e.refused(), s])))
        })
    });
    let error = move || store.status.with(|s| s.error.clone()).or_else(|| store.sync_error.get());
    view! {
        <div class="status-bar" role="status" aria-live="polite">
            <span class=move || format!("pill state-{}", pill()) data-testid="connection-state">
                {phase}
            </span>
            // Compact on one line: the words that name the values are for screen readers; the
            // values say what they are.
            <span class="field" title="transport and hub protocol">
                <span class="visually-hidden">"transport "</span><strong data-testid="transport">{transport}</strong>
                <span class="visually-hidden">" protocol"</span>" · "
                <strong data-testid="protocol">{move || store.status.with(|s| s.protocol)}</strong>
            </span>
            <span class="field" title="hub messages received since the page opened">
                <strong data-testid="message-count">{move || store.messages.get()}</strong> " msgs"
            </span>
            <span class="field">
                <strong data-testid="message-rate">
                    {move || format!("{:.0}", store.traffic.with(|t| t.per_second(store.clock.get(), 5)))}
                </strong>
                " msg/s"
            </span>
            <span class="field">
                <span title="latency, device to page, median">"p50 "</span>
                <strong data-testid="latency-p50">
                    {move || store.traffic.with(|t| t.latency_p50()).map(|ms| format!("{ms:.0} ms")).unwrap_or_else(|| "—".into())}
                </strong>
            </span>
            <span class="field" title="position reports missing within a connection (by their numbers); a new connection's gap is filled from the snapshot">
                "lost " <strong data-testid="lost-count" data-checked=move || store.traffic.with(|t| t.reports.checked)>{move || store.traffic.with(|t| t.reports.missed)}</strong>
                {move || store.traffic.with(|t| (t.reports.repeated > 0).then(|| format!(" · {} twice", t.reports.repeated)))}
            </span>
            {move || {
                let skipped = store.status.with(|s| s.skipped) + store.skipped_items.get();
                (skipped > 0).then(|| view! {
                    <span class="field warn" title="messages from the server, or items of their batches, that were malformed or of an unknown type (the rest of a batch is applied)">
                        "skipped " <strong data-testid="skipped-count">{skipped}</strong>
                    </span>
                })
            }}
            {move || {
                let text = over_limit.get()?;
                Some(view! {
                    <span class="field warn" data-testid="over-limit" title="new vehicles, devices, metrics or sites beyond the limits in config.json (maxVehicles, maxDevices, maxSeries, maxSites) are not shown">
                        {text}
                    </span>
                })
            }}
            <span class="field countdown" data-testid="retry-countdown">{countdown}</span>
            <span class="error" data-testid="connection-error" title=error>{error}</span>
        </div>
    }
}

//! The shell: provides the store, loads the configuration, starts the live connection, follows
//! the URL fragment to pick a screen, and lays out the navigation and the panels.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

use crate::model::filters;
use crate::model::route::Route;
use crate::model::status::{LiveStatus, Phase};
use crate::model::timeline::{with_time, Timeline};
use crate::model::toasts::{ToastSettings, Toasts};
use crate::panels::alarm_health::AlarmHealth;
use crate::panels::alarm_timeline::AlarmTimeline;
use crate::panels::alert_history::{restore_settings, AlertHistory};
use crate::panels::alert_list::AlertList;
use crate::panels::device_detail::DeviceDetail;
use crate::panels::equipment_grid::EquipmentGrid;
use crate::panels::fleet_map::FleetMap;
use crate::panels::overview::Overview;
use crate::panels::status_bar::StatusBar;
use crate::panels::theme_switch::ThemeSwitch;
use crate::panels::timeline::TimelineBar;
use crate::panels::toasts::{FloodBanner, ToastStack};
use crate::panels::user::{AuthProblem, UserBadge};
use crate::panels::vehicle_list::VehicleList;
use crate::store::Store;
use crate::{config, live};

fn current_route() -> Route {
    let hash = web_sys::window().and_then(|w| w.location().hash().ok()).unwrap_or_default();
    Route::parse(&hash)
}

/// The timeline the URL fragment names (`at`, `speed`).
fn current_timeline() -> Timeline {
    let hash = web_sys::window().and_then(|w| w.location().hash().ok()).unwrap_or_default();
    Timeline::from_fragment(&hash, js_sys::Date::now() as i64)
}

/// Whether two timelines show the same thing (a replay's URL is a second behind its head).
fn same_time(a: &Timeline, b: &Timeline) -> bool {
    let now = js_sys::Date::now() as i64;
    match (a.moment(now), b.moment(now)) {
        (None, None) => true,
        // Within two seconds of wall time at the speed played (the URL follows once a second).
        (Some(x), Some(y)) => {
            let speed = i64::from(a.speed().unwrap_or(1));
            (x - y).abs() <= 2_000 * speed && a.speed() == b.speed()
        }
        _ => false,
    }
}

/// Takes the filters the fragment names for its screen into the store (a fragment naming none
/// of them keeps the store's: filters outlive a screen change).
fn take_filters(store: Store, route: &Route) {
    let hash = web_sys::window().and_then(|w| w.location().hash().ok()).unwrap_or_default();
    let pairs = filters::pairs(&hash);
    match route {
        Route::Alerts => {
            if let Some(filter) =
                filters::alert_filter(&pairs).filter(|f| store.alert_filter.with_untracked(|s| s != f))
            {
                store.alert_filter.set(filter);
            }
        }
        Route::Equipment => {
            if let Some(view) =
                filters::equipment_view(&pairs).filter(|v| store.equipment_view.with_untracked(|s| s != v))
            {
                store.equipment_view.set(view);
            }
        }
        Route::Fleet { .. } | Route::Overview => {
            if let Some(filter) =
                filters::fleet_filter(&pairs).filter(|f| store.fleet_filter.with_untracked(|s| s != f))
            {
                store.fleet_filter.set(filter);
            }
        }
        _ => {}
    }
}

/// Keeps the fragment carrying the shown screen's filters, without a history entry (typing a
/// search is not a step back).
fn show_filters(store: Store) {
    Effect::new(move |_| {
        let params = match store.route.with(Route::screen) {
            Route::Alerts => store.alert_filter.with(filters::alert_params),
            Route::Equipment => store.equipment_view.with(filters::equipment_params),
            Route::Fleet { .. } | Route::Overview => store.fleet_filter.with(filters::fleet_params),
            _ => return,
        };
        let Some(window) = web_sys::window() else { return };
        let hash = window.location().hash().unwrap_or_default();
        let wanted = filters::rewrite(&hash, &params);
        if wanted != hash && !(hash.is_empty() && wanted == "#/") {
            if let Ok(history) = window.history() {
                let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&wanted));
            }
        }
    });
}

/// Keeps `store.route` and `store.timeline` equal to the URL fragment.
fn follow_the_url(store: Store) {
    let route = current_route();
    take_filters(store, &route);
    store.route.set(route);
    store.timeline.set(current_timeline());
    show_filters(store);
    let on_change = Closure::<dyn FnMut()>::new(move || {
        let route = current_route();
        take_filters(store, &route);
        let new_screen = route.screen() != store.route.with_untracked(Route::screen);
        store.route.set(route);
        let timeline = current_timeline();
        if !store.timeline.with_untracked(|t| same_time(t, &timeline)) {
            store.timeline.set(timeline);
        }
        if new_screen {
            store.prune_subscriptions();
        }
    });
    if let Some(window) = web_sys::window() {
        window.set_onhashchange(Some(on_change.as_ref().unchecked_ref()));
    }
    // The app lives as long as the page.
    on_change.forget();
    // A link inside the page keeps the moment shown: while not live, `#/…` links are followed
    // with the timeline's `at` (and `speed`) added, so every screen shows the same moment.
    // Its `href` is rewritten as the pointer or focus reaches it (so a new tab, a copied link
    // and a modified click carry the moment too), and again at a plain click, to the moment of
    // that instant.
    let anchor_of = |event: &web_sys::Event| {
        event
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|e| e.closest("a[href^='#/']").ok().flatten())
    };
    let retime = move |anchor: &web_sys::Element| {
        let href = anchor.get_attribute("href").unwrap_or_default();
        let query = store.timeline.with_untracked(|t| t.query(js_sys::Date::now() as i64));
        let target = with_time(&href, &query);
        if target != href {
            let _ = anchor.set_attribute("href", &target);
        }
        target
    };
    let on_reach = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
        if let Some(anchor) = anchor_of(&event) {
            retime(&anchor);
        }
    });
    let on_click = Closure::<dyn FnMut(web_sys::MouseEvent)>::new(move |event: web_sys::MouseEvent| {
        let plain =
            event.button() == 0 && !(event.ctrl_key() || event.meta_key() || event.shift_key() || event.alt_key());
        let Some(anchor) = anchor_of(&event) else { return };
        let target = retime(&anchor);
        if plain && !event.default_prevented() && !store.timeline.with_untracked(Timeline::is_live) {
            event.prevent_default();
            if let Some(window) = web_sys::window() {
                let _ = window.location().set_hash(&target);
            }
        }
    });
    if let Some(document) = web_sys::window().and_then(|w| w.document()) {
        for kind in ["pointerover", "focusin", "contextmenu"] {
            let _ = document.add_event_listener_with_callback(kind, on_reach.as_ref().unchecked_ref());
        }
        let _ = document.add_event_listener_with_callback("click", on_click.as_ref().unchecked_ref());
    }
    on_reach.forget();
    on_click.forget();
}

/// Signs in, then starts the live connection and asks the functions who the user is (their
/// roles and sites); without a sign-in nothing is fetched and the page says why.
async fn signed_in_start(config: &config::Config, auth: &config::AuthConfig, store: Store) {
    let waiting = |text: String| LiveStatus { phase: Phase::Disconnected, error: Some(text), ..LiveStatus::default() };
    match crate::auth::sign_in(auth, store).await {
        Ok(crate::auth::SignIn::Done(who)) => {
            // The address the page left from is back in the bar (without a `hashchange`):
            // its screen, moment and filters are read again.
            if let Some(window) = web_sys::window() {
                if let Ok(event) = web_sys::Event::new("hashchange") {
                    let _ = window.dispatch_event(&event);
                }
            }
            // What the ID token says until the functions answer: a viewer's buttons are
            // refused by the functions meanwhile, and greyed once they have answered.
            store.identity.set(Some(telemetry::auth::Identity {
                signed_in: true,
                user_id: Some(who.subject),
                name: Some(who.name),
                may_operate: true,
                ..Default::default()
            }));
            live::start(config, store);
            let Some(api) = store.api.get_value() else { return };
            match api.identity().await {
                Ok(Some(identity)) => store.identity.update(|known| {
                    // An open functions side knows no name: the ID token's stays.
                    let name = identity.name.clone().or_else(|| known.as_ref().and_then(|k| k.name.clone()));
                    *known = Some(telemetry::auth::Identity { name, ..identity });
                }),
                Ok(None) => {}
                // A 401 already said why (through the sign-in); a 403 says what is refused.
                Err(error) if store.auth_problem.with_untracked(Option::is_none) => {
                    store.auth_problem.set(Some(error.message));
                }
                Err(_) => {}
            }
        }
        Ok(crate::auth::SignIn::Leaving) => store.status.set(waiting("signing in…".into())),
        Err(error) => {
            store.status.set(waiting("not signed in".into()));
            store.auth_problem.set(Some(format!("Sign-in failed: {error}")));
        }
    }
}

#[component]
pub fn App() -> impl IntoView {
    let store = Store::new();
    provide_context(store);
    crate::bench::metrics::install_series_probe(store);
    crate::auth::attach(store);
    crate::panels::theme_switch::install(store);
    follow_the_url(store);
    live::replay::Player::start(store);
    restore_settings(store);
    live::notify::restore(store);
    live::notify::keep_title(store);
    if let Ok(handle) = set_interval_with_handle(
        move || {
            let now = js_sys::Date::now() as i64;
            store.clock.set(now);
            live::alerts::tick(store, now);
        },
        Duration::from_secs(1),
    ) {
        on_cleanup(move || handle.clear());
    }
    spawn_local(async move {
        match config::load().await {
            Ok(config) => {
                store.stale_after_ms.set(config.stale_after_ms);
                store.tiles.set(config.tiles.clone());
                let limits = config.limits;
                store.fleet.update(|fleet| {
                    fleet.set_trail_length(config.trail_length);
                    fleet.set_limits(limits.vehicles, limits.sites);
                });
                store.equipment.update(|e| e.set_limits(limits.devices, limits.series));
                store.traffic.update(|t| t.reports.max_vehicles = limits.vehicles);
                store
                    .toasts
                    .set(Toasts::new(ToastSettings { dismiss_after_ms: config.toast_ms, ..ToastSettings::default() }));
                store.flood.set(crate::model::flood::FloodWatch::with_window(config.flood_window_ms));
                match config.auth.clone() {
                    None => {
                        live::start(&config, store);
                    }
                    Some(auth) => signed_in_start(&config, &auth, store).await,
                }
            }
            Err(error) => store.status.set(LiveStatus {
                phase: Phase::Disconnected,
                error: Some(error.to_string()),
                ..LiveStatus::default()
            }),
        }
    });
    let nav_link = move |route: Route, label: &'static str| {
        let href = route.href();
        let target = std::mem::discriminant(&route);
        let active = move || std::mem::discriminant(&store.route.get()) == target;
        view! {
            <a href=href class:active=active aria-current=move || active().then_some("page") data-testid=format!("nav-{label}")>
                {label}
            </a>
        }
    };
    let unacknowledged = move || store.alerts.with(|feed| feed.unacknowledged());
    // The screen to build: a new vehicle selection is the same Fleet screen (the map keeps its
    // view), so it is left out of what rebuilds the screen.
    let screen_route = Memo::new(move |_| store.route.with(Route::screen));
    let screen = move || match screen_route.get() {
        Route::Overview => view! {
            <Overview />
            <FleetMap />
            <AlertList />
            <VehicleList />
        }
        .into_any(),
        Route::Equipment => view! { <EquipmentGrid /> }.into_any(),
        Route::Alerts => view! { <AlertHistory /> }.into_any(),
        Route::Alarm { id } => view! { <AlarmTimeline id=id /> }.into_any(),
        Route::AlarmHealth => view! { <AlarmHealth /> }.into_any(),
        Route::Fleet { .. } => view! {
            <FleetMap />
            <VehicleList />
        }
        .into_any(),
        Route::Device { id, window } => view! { <DeviceDetail id=id window=window /> }.into_any(),
    };
    let loading = move || store.loading.get() > 0;
    // On a narrow screen the navigation folds behind a button.
    let menu_open = RwSignal::new(false);
    view! {
        <header class="app-header">
            <h1>"IoT Live Dashboard"</h1>
            <button type="button" class="nav-toggle" data-testid="nav-toggle" aria-controls="main-nav"
                aria-expanded=move || menu_open.get().to_string() on:click=move |_| menu_open.update(|o| *o = !*o)>
                "Menu"
            </button>
            <nav class="main-nav" id="main-nav" aria-label="Screens" class:open=move || menu_open.get()
                on:click=move |_| menu_open.set(false)>
                {nav_link(Route::Overview, "overview")}
                {nav_link(Route::Equipment, "equipment")}
                {nav_link(Route::Fleet { vehicle: None }, "fleet")}
                {nav_link(Route::Alerts, "alerts")}
                {nav_link(Route::AlarmHealth, "health")}
                <a class="nav-badge" href=Route::Alerts.href() data-testid="unacknowledged-badge" title="unacknowledged alerts"
                    class:none=move || unacknowledged() == 0>
                    {move || format!("{} alerts open", unacknowledged())}
                </a>
            </nav>
            <StatusBar />
            <span class="header-end">
                <ThemeSwitch />
                <UserBadge />
            </span>
            <TimelineBar />
            // A thin bar while history is on its way; its text is for screen readers and tests.
            <div class="loading-bar" class:active=loading data-testid="history-loading"
                role="progressbar" aria-label="loading history" aria-busy=move || loading().to_string()>
                <span class="visually-hidden">{move || if loading() { "loading history" } else { "" }}</span>
            </div>
        </header>
        <p class="note history-note" data-testid="history-note" hidden=move || store.history_note.with(Option::is_none)>
            {move || store.history_note.get()}
        </p>
        <AuthProblem />
        <FloodBanner />
        <main class="app-main">{screen}</main>
        <ToastStack />
    }
}

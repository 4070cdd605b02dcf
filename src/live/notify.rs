//! Alarms while nobody is looking. Once the operator opts in (one click, then the browser's own
//! permission prompt), a critical alarm raised while the tab is hidden shows a desktop
//! notification: one per device and metric (the browser replaces a notification of the same
//! tag, so repeats fold), and clicking it brings the page forward on that alarm. The choice is
//! remembered in the browser's storage, and so is a refusal, which the page shows. The tab's
//! title and icon carry the count of alarms waiting for acknowledgement, whether or not the
//! operator opted in.

use leptos::prelude::{GetUntracked, Set, With};
use telemetry::{Alert, Severity};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::store::Store;

const KEY: &str = "dashboard.notifications";
const TITLE: &str = "IoT Live Dashboard";

/// Where desktop notifications stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Choice {
    /// The operator has not opted in (or opted out).
    #[default]
    Off,
    /// Opted in, and the browser allows them.
    On,
    /// Opted in, but the browser (or the operator at its prompt) refused.
    Refused,
    /// This browser has no notifications (or not in this context, e.g. not a secure origin).
    Unsupported,
}

impl Choice {
    pub fn as_str(self) -> &'static str {
        match self {
            Choice::Off => "off",
            Choice::On => "on",
            Choice::Refused => "refused",
            Choice::Unsupported => "unsupported",
        }
    }
}

fn supported() -> bool {
    web_sys::window().is_some_and(|w| js_sys::Reflect::has(&w, &"Notification".into()).unwrap_or(false))
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// What the browser says now (`granted`, `denied`, `default`).
fn permission() -> web_sys::NotificationPermission {
    web_sys::Notification::permission()
}

/// The choice as remembered, checked against what the browser allows now.
pub fn restore(store: Store) {
    let choice = if !supported() {
        Choice::Unsupported
    } else {
        match storage().and_then(|s| s.get_item(KEY).ok().flatten()).as_deref() {
            Some("on") => match permission() {
                web_sys::NotificationPermission::Granted => Choice::On,
                web_sys::NotificationPermission::Denied => Choice::Refused,
                _ => Choice::Off,
            },
            Some("refused") => Choice::Refused,
            _ => Choice::Off,
        }
    };
    store.notifications.set(choice);
}

/// The operator asked for notifications: the browser's prompt (if it has not answered before),
/// and the answer remembered.
pub fn opt_in(store: Store) {
    if !supported() {
        store.notifications.set(Choice::Unsupported);
        return;
    }
    let remember = move |choice: Choice| {
        if let Some(s) = storage() {
            let _ = s.set_item(KEY, if choice == Choice::On { "on" } else { "refused" });
        }
        store.notifications.set(choice);
    };
    match permission() {
        web_sys::NotificationPermission::Granted => remember(Choice::On),
        web_sys::NotificationPermission::Denied => remember(Choice::Refused),
        _ => {
            let Ok(asked) = web_sys::Notification::request_permission() else {
                remember(Choice::Refused);
                return;
            };
            leptos::task::spawn_local(async move {
                let answer = wasm_bindgen_futures::JsFuture::from(asked).await;
                let granted = answer.ok().and_then(|a| a.as_string()).is_some_and(|a| a == "granted");
                remember(if granted { Choice::On } else { Choice::Refused });
            });
        }
    }
}

/// The operator turned notifications off.
pub fn opt_out(store: Store) {
    if let Some(s) = storage() {
        let _ = s.remove_item(KEY);
    }
    store.notifications.set(if supported() { Choice::Off } else { Choice::Unsupported });
}

fn hidden() -> bool {
    web_sys::window().and_then(|w| w.document()).is_some_and(|d| d.hidden())
}

/// A point notified again within this long stays folded into the notification it has.
const FOLD_MS: i64 = 60_000;
/// Points remembered for folding at most (the oldest forgotten first).
const FOLDED: usize = 1_000;

thread_local! {
    /// When each point (its notification's tag) last notified.
    static LAST: std::cell::RefCell<std::collections::HashMap<String, i64>> = Default::default();
    /// The one click handler every notification shares: it reads where to go from the
    /// notification itself, so no closure is made per notification.
    static ON_CLICK: Closure<dyn Fn(web_sys::Event)> = Closure::new(|event: web_sys::Event| {
        let Some(notification) = event.target().and_then(|t| t.dyn_into::<web_sys::Notification>().ok()) else { return };
        if let (Some(window), Some(href)) = (web_sys::window(), notification.data().as_string()) {
            let _ = window.focus();
            let _ = window.location().set_hash(&href);
        }
        notification.close();
    });
}

/// Alarms that notify were raised: the critical ones show a desktop notification while the tab
/// is hidden (opted in). One per device and metric: repeats within a minute fold into the one
/// shown (no new pop-up); after that, a repeat replaces it.
pub fn alarms(store: Store, alerts: &[Alert]) {
    if store.notifications.get_untracked() != Choice::On || !hidden() {
        return;
    }
    let now = js_sys::Date::now() as i64;
    let mut shown: Vec<(&str, &str)> = Vec::new();
    // Newest last in a batch: the newest of each point is the one shown.
    for alert in alerts.iter().rev().filter(|a| a.severity == Severity::Critical) {
        if shown.contains(&(alert.device.as_str(), alert.metric.as_str())) {
            continue;
        }
        shown.push((&alert.device, &alert.metric));
        let tag = format!("alarm:{}:{}", alert.device, alert.metric);
        let fresh = LAST.with(|last| {
            let mut last = last.borrow_mut();
            if last.get(&tag).is_some_and(|at| now - at < FOLD_MS) {
                return false;
            }
            if last.len() >= FOLDED {
                last.retain(|_, at| now - *at < FOLD_MS);
                if last.len() >= FOLDED {
                    last.clear();
                }
            }
            last.insert(tag.clone(), now);
            true
        });
        if fresh {
            show(alert, &tag);
        }
    }
}

fn show(alert: &Alert, tag: &str) {
    let options = web_sys::NotificationOptions::new();
    options
        .set_body(&format!("{} · {:.1} (limit {:.1}) · {}", alert.message, alert.value, alert.threshold, alert.site));
    options.set_tag(tag);
    options.set_renotify(true);
    options.set_require_interaction(true);
    options.set_data(&crate::panels::alert_list::alarm_href(&alert.id).into());
    let title = format!("Critical: {} · {}", alert.device, alert.metric);
    let Ok(notification) = web_sys::Notification::new_with_options(&title, &options) else { return };
    ON_CLICK.with(|on_click| notification.set_onclick(Some(on_click.as_ref().unchecked_ref())));
}

/// Keeps the tab's title and icon on the count of alarms waiting for acknowledgement (not those
/// of points shelved or out of service).
pub fn keep_title(store: Store) {
    leptos::prelude::Effect::new(move |_| {
        // Suppressions say when one ends (by time too): no need to wake every second.
        let now = js_sys::Date::now() as i64;
        let waiting = store.alerts.with(|feed| {
            store.suppressions.with(|s| {
                feed.iter()
                    .filter(|e| e.needs_acknowledgement() && s.of(&e.alert.device, &e.alert.metric, now).is_none())
                    .count()
            })
        });
        let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
        document.set_title(&match waiting {
            0 => TITLE.to_string(),
            n => format!("({n}) {TITLE}"),
        });
        set_icon(&document, waiting);
    });
}

/// The tab icon: a dark square, with the count on a red disc when alarms wait.
fn set_icon(document: &web_sys::Document, waiting: usize) {
    let Some(link) = document.query_selector("link[rel=icon]").ok().flatten().or_else(|| {
        let link = document.create_element("link").ok()?;
        let _ = link.set_attribute("rel", "icon");
        document.head()?.append_child(&link).ok()?;
        Some(link)
    }) else {
        return;
    };
    let text = match waiting {
        0 => String::new(),
        1..=99 => waiting.to_string(),
        _ => "99+".into(),
    };
    if link.get_attribute("data-count").as_deref() == Some(text.as_str()) {
        return;
    }
    let Some(url) = icon_url(document, &text) else { return };
    let _ = link.set_attribute("href", &url);
    let _ = link.set_attribute("data-count", &text);
}

fn icon_url(document: &web_sys::Document, text: &str) -> Option<String> {
    let canvas: web_sys::HtmlCanvasElement = document.create_element("canvas").ok()?.dyn_into().ok()?;
    canvas.set_width(32);
    canvas.set_height(32);
    let ctx: web_sys::CanvasRenderingContext2d = canvas.get_context("2d").ok()??.dyn_into().ok()?;
    ctx.set_fill_style_str("#0d1117");
    ctx.fill_rect(0.0, 0.0, 32.0, 32.0);
    ctx.set_fill_style_str("#3fb950");
    ctx.fill_rect(6.0, 18.0, 5.0, 8.0);
    ctx.fill_rect(13.5, 12.0, 5.0, 14.0);
    ctx.fill_rect(21.0, 6.0, 5.0, 20.0);
    if !text.is_empty() {
        ctx.begin_path();
        let _ = ctx.arc(20.0, 12.0, 12.0, 0.0, std::f64::consts::TAU);
        ctx.set_fill_style_str("#da3633");
        ctx.fill();
        ctx.set_fill_style_str("#ffffff");
        ctx.set_font(if text.len() > 2 { "bold 10px sans-serif" } else { "bold 15px sans-serif" });
        ctx.set_text_align("center");
        ctx.set_text_baseline("middle");
        let _ = ctx.fill_text(text, 20.0, 13.0);
    }
    canvas.to_data_url().ok()
}

/// Whether the store's choice says notifications are on (for the view).
pub fn is_on(store: Store) -> bool {
    store.notifications.with(|c| *c == Choice::On)
}

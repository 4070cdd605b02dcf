//! The theme: chosen in the header (light, dark, or the system's), remembered in the browser's
//! storage, and shown as `data-theme` on `<html>` (which CSS's `color-scheme` turns into the
//! page's colours); canvases read the resolved theme from the store.

use leptos::prelude::*;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

use crate::model::theme::ThemeChoice;
use crate::store::{use_store, Store};

const THEME_KEY: &str = "dashboard.theme";
const SYSTEM_LIGHT: &str = "(prefers-color-scheme: light)";

fn system_light() -> bool {
    web_sys::window().and_then(|w| w.match_media(SYSTEM_LIGHT).ok().flatten()).is_some_and(|m| m.matches())
}

/// Restores the choice, follows the system's scheme while the choice is *auto*, and keeps
/// `<html data-theme>` and `store.theme` on the theme shown.
pub fn install(store: Store) {
    let window = web_sys::window();
    let stored = window
        .as_ref()
        .and_then(|w| w.local_storage().ok().flatten())
        .and_then(|s| s.get_item(THEME_KEY).ok().flatten());
    store.theme_choice.set(ThemeChoice::parse(stored.as_deref().unwrap_or_default()));
    let system = RwSignal::new(system_light());
    if let Some(query) = window.as_ref().and_then(|w| w.match_media(SYSTEM_LIGHT).ok().flatten()) {
        let on_change = Closure::<dyn FnMut()>::new(move || system.set(system_light()));
        let _ = query.add_event_listener_with_callback("change", on_change.as_ref().unchecked_ref());
        // The page's own listener, for as long as the page.
        on_change.forget();
    }
    Effect::new(move |_| {
        let theme = store.theme_choice.get().resolve(system.get());
        if let Some(root) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element()) {
            let _ = root.set_attribute("data-theme", theme.as_str());
        }
        if store.theme.get_untracked() != theme {
            store.theme.set(theme);
        }
    });
}

/// The header's choice of theme.
#[component]
pub fn ThemeSwitch() -> impl IntoView {
    let store = use_store();
    let choose = move |ev: leptos::ev::Event| {
        let choice = ThemeChoice::parse(&event_target_value(&ev));
        if let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
            let _ = storage.set_item(THEME_KEY, choice.as_str());
        }
        store.theme_choice.set(choice);
    };
    view! {
        <label class="theme-switch">
            <span class="visually-hidden">"Theme"</span>
            <select data-testid="theme" aria-label="Theme" on:change=choose>
                {ThemeChoice::ALL.into_iter().map(|choice| {
                    let label = match choice {
                        ThemeChoice::Auto => "system theme",
                        ThemeChoice::Light => "light",
                        ThemeChoice::Dark => "dark",
                    };
                    view! { <option value=choice.as_str() selected=move || store.theme_choice.get() == choice>{label}</option> }
                }).collect_view()}
            </select>
        </label>
    }
}

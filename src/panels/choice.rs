//! A labelled drop-down of fixed choices with "all" first, the filters' common control.

use leptos::prelude::*;

/// `<label>{label} <select>` with "all" (the empty value) and then `choices` (value = text);
/// `pick` receives the value chosen, `current` gives the value to show (the filter lives in the
/// store, so coming back to a screen shows the filter still applied).
pub fn choice(
    label: &'static str,
    test_id: &'static str,
    choices: &'static [&'static str],
    current: impl Fn() -> &'static str + Send + Sync + 'static,
    pick: impl Fn(&str) + 'static,
) -> impl IntoView {
    view! {
        <label>
            {label}
            " "
            <select data-testid=test_id prop:value=current on:change=move |ev| pick(&event_target_value(&ev))>
                <option value="">"all"</option>
                {choices.iter().map(|&choice| view! { <option value=choice>{choice}</option> }).collect_view()}
            </select>
        </label>
    }
}

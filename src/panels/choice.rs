//! A labelled drop-down of fixed choices with "all" first, the filters' common control.

use leptos::prelude::*;

/// `<label>{label} <select>` with "all" (the empty value) and then `choices` (value = text);
/// `pick` receives the value chosen.
pub fn choice(
    label: &'static str,
    test_id: &'static str,
    choices: &'static [&'static str],
    pick: impl Fn(&str) + 'static,
) -> impl IntoView {
    view! {
        <label>
            {label}
            " "
            <select data-testid=test_id on:change=move |ev| pick(&event_target_value(&ev))>
                <option value="">"all"</option>
                {choices.iter().map(|&choice| view! { <option value=choice>{choice}</option> }).collect_view()}
            </select>
        </label>
    }
}

//! The heading row the tables share (alert history, vehicles), so they head their columns the
//! same way: `scope="col"` for screen readers, numbers right-aligned, an action column named
//! for screen readers only.

use leptos::prelude::*;

/// `<tr>` of `<th scope="col">`: the `text` columns, then the `numbers` (right-aligned), then an
/// `action` column (buttons) whose name is read out, not shown.
pub fn heading_row(
    text: &'static [&'static str],
    numbers: &'static [&'static str],
    action: Option<&'static str>,
) -> impl IntoView {
    let text = text.iter().map(|&name| view! { <th scope="col">{name}</th> });
    let numbers = numbers.iter().map(|&name| view! { <th scope="col" class="num">{name}</th> });
    let action = action.map(|name| view! { <th scope="col"><span class="visually-hidden">{name}</span></th> });
    view! { <tr>{text.collect_view()}{numbers.collect_view()}{action}</tr> }
}

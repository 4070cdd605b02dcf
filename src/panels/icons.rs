//! Icons drawn as inline SVG, never as font glyphs: a glyph the installed fonts lack draws as
//! an empty box (Debian's Chromium has no emoji font, so ⛔ did), and a glyph's colour and size
//! follow the font rather than the theme. Each severity has its own shape, so it reads without
//! colour too; the word always goes beside it.

use leptos::prelude::*;
use telemetry::Severity;

/// The shape of a severity, 16 × 16, filled with the text colour (`currentColor`): a circle
/// with an *i* (info), a triangle with *!* (warning), an octagon with *!* (critical).
fn severity_path(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "M8 1a7 7 0 1 1 0 14A7 7 0 0 1 8 1Zm-1 6v5h2V7H7Zm0-3v2h2V4H7Z",
        Severity::Warning => "M8 1 15.5 14.5H.5L8 1Zm-1 4.5v4.5h2V5.5H7Zm0 5.5v2h2v-2H7Z",
        Severity::Critical => "M5.1 1h5.8L15 5.1v5.8L10.9 15H5.1L1 10.9V5.1L5.1 1ZM7 3.5V9h2V3.5H7Zm0 6.5v2h2v-2H7Z",
    }
}

/// A severity's icon (hidden from screen readers: the word beside it says it).
pub fn severity_icon(severity: Severity) -> impl IntoView {
    view! {
        <svg class="icon-svg" viewBox="0 0 16 16" width="1em" height="1em" aria-hidden="true" focusable="false"
            data-icon=severity_word(severity)>
            <path fill="currentColor" fill-rule="evenodd" d=severity_path(severity) />
        </svg>
    }
}

/// A severity's word.
pub fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    }
}

/// A filled dot (the timeline's *live*).
pub fn dot() -> impl IntoView {
    view! {
        <svg class="icon-svg" viewBox="0 0 16 16" width="0.8em" height="0.8em" aria-hidden="true" focusable="false">
            <circle cx="8" cy="8" r="6" fill="currentColor" />
        </svg>
    }
}

/// An outlined diamond (a geofence).
pub fn diamond() -> impl IntoView {
    view! {
        <svg class="icon-svg" viewBox="0 0 16 16" width="0.9em" height="0.9em" aria-hidden="true" focusable="false">
            <path d="M8 1.5 14.5 8 8 14.5 1.5 8Z" fill="none" stroke="currentColor" stroke-width="1.6" />
        </svg>
    }
}

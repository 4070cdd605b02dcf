//! The live IoT dashboard: a Leptos single-page app fed by SignalR.
//!
//! * [`auth`]: signing in with OpenID Connect when config.json asks for it;
//! * [`config`]: runtime `config.json` with query-string overrides;
//! * [`live`]: the SignalR connection and the glue from hub messages to the store;
//! * [`model`]: pure state (fleet, connection status), tested natively;
//! * [`panels`]: the views; [`app`]: the shell that wires them together;
//! * [`bench`]: what only the benchmark suite calls and reads.

// An application: its public items are for its own tests and the benchmark, not a library's API.
#![allow(missing_docs)]

pub mod app;
pub mod auth;
pub mod bench;
pub mod config;
pub mod live;
pub mod model;
pub mod panels;
pub mod sound;
pub mod store;

/// Mounts the app on `<body>`.
pub fn start() {
    console_error_panic_hook::set_once();
    bench::metrics::install();
    leptos::mount::mount_to_body(app::App);
}

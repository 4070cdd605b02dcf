//! Pure state of the dashboard: plain Rust, no browser, tested natively.

pub mod alerts;
pub mod fleet;
pub mod status;

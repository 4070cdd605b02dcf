//! Pure state of the dashboard: plain Rust, no browser, tested natively.

pub mod alarm_health;
pub mod alerts;
pub mod catalog;
pub mod cluster;
pub mod equipment;
pub mod filters;
pub mod fleet;
pub mod flood;
pub mod geo;
pub mod histogram;
pub mod limits;
pub mod replay;
pub mod route;
pub mod sequence;
pub mod series;
pub mod status;
pub mod suppressions;
pub mod sync;
pub mod theme;
pub mod timeline;
pub mod toasts;
pub mod traffic;

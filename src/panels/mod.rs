//! Feature views. Each reads the store through `use_store()`.

pub mod alert_list;
pub mod status_bar;
pub mod vehicle_list;

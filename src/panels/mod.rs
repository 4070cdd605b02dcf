//! Feature views. Each reads the store through `use_store()`.

pub mod status_bar;
pub mod vehicle_list;

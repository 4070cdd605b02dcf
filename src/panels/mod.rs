//! Feature views. Each reads the store through `use_store()`.

pub mod alarm_actions;
pub mod alarm_health;
pub mod alarm_timeline;
pub mod alert_history;
pub mod alert_list;
pub mod chart;
pub mod choice;
pub mod device_detail;
pub mod equipment_grid;
pub mod fleet_map;
pub mod frame;
pub mod icons;
pub mod overview;
pub mod status_bar;
pub mod table;
pub mod theme_switch;
pub mod timeline;
pub mod toasts;
pub mod user;
pub mod vehicle_list;

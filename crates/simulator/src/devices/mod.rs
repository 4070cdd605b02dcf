//! The simulated devices: deterministic scenarios for a given seed (a fleet driving
//! road-like loops, process machines, drilling rigs, and any kind a catalog file declares),
//! the alert rules evaluated on their readings, and the pipeline that steps them and publishes
//! each batch.

pub mod alerts;
pub mod catalog;
pub mod equipment;
pub mod fleet;
pub mod generic;
pub mod geofences;
pub mod pipeline;
pub mod rng;

//! Batches from JSON text: the hot one (`positions`, thousands a second) read by hand with
//! [`jsonread`], the others through `serde_json`.
//!
//! The hand-written reader only answers when it is sure: anything it does not take (an
//! unknown field is skipped, but a duplicate field, a number beyond its fast path, a struct
//! written as an array, a hostile string) sends the whole text to `serde_json`, so the value
//! or the error is always `serde_json`'s. A property test holds the two to that.

use jsonread::{Error, Reader};
use serde::de::DeserializeOwned;

use crate::{Alert, AlertAcknowledged, AlertCleared, Position, Reading, VehicleState};

/// A wire type that arrives in batches (a JSON array of them per invocation).
pub trait Batch: DeserializeOwned {
    /// Decodes a batch from JSON text (bytes, checked to be UTF-8 on the way).
    fn from_json(text: &[u8]) -> Result<Vec<Self>, serde_json::Error> {
        serde_json::from_slice(text)
    }
}

impl Batch for Position {
    fn from_json(text: &[u8]) -> Result<Vec<Self>, serde_json::Error> {
        positions(text).or_else(|_| serde_json::from_slice(text))
    }
}

impl Batch for Reading {}
impl Batch for Alert {}
impl Batch for AlertAcknowledged {}
impl Batch for AlertCleared {}

/// The hand-written path: `Err` means "ask serde_json", not "invalid".
fn positions(text: &[u8]) -> Result<Vec<Position>, Error> {
    let mut reader = Reader::new(text);
    // Most of a batch's text is its positions, about 150 bytes each as senders write them.
    let mut batch = Vec::with_capacity(text.len() / 128);
    reader.array(|r| {
        batch.push(position(r)?);
        Ok(())
    })?;
    reader.end()?;
    Ok(batch)
}

/// Position's fields in the order serde writes them (recognised fastest in this order).
const POSITION_FIELDS: [&str; 9] = ["id", "ts", "lat", "lon", "heading", "speed", "state", "site", "seq"];
/// All but `seq` are required.
const POSITION_REQUIRED: u64 = (1 << 8) - 1;

fn position(r: &mut Reader<'_>) -> Result<Position, Error> {
    let mut p = Position {
        id: String::new(),
        ts: 0,
        lat: 0.0,
        lon: 0.0,
        heading: 0.0,
        speed: 0.0,
        state: VehicleState::Moving,
        site: String::new(),
        seq: 0,
    };
    let seen = r.fields(&POSITION_FIELDS, |r, field| {
        match field {
            Some(0) => p.id = r.str()?.into_owned(),
            Some(1) => p.ts = r.i64()?,
            Some(2) => p.lat = r.f64()?,
            Some(3) => p.lon = r.f64()?,
            Some(4) => p.heading = r.f64()?,
            Some(5) => p.speed = r.f64()?,
            Some(6) => {
                p.state = match &*r.str()? {
                    "moving" => VehicleState::Moving,
                    "idle" => VehicleState::Idle,
                    "stopped" => VehicleState::Stopped,
                    _ => return Err(jsonread::invalid(r, "unknown vehicle state")),
                }
            }
            Some(7) => p.site = r.str()?.into_owned(),
            Some(_) => p.seq = r.u64()?,
            None => {
                r.skip()?;
            }
        }
        Ok(())
    })?;
    if seen & POSITION_REQUIRED != POSITION_REQUIRED {
        return Err(jsonread::invalid(r, "missing field"));
    }
    Ok(p)
}

#[cfg(test)]
mod tests;

//! Batches from JSON text: the hot one (`positions`, thousands a second) read by hand with
//! [`jsonread`], the others through `serde_json`.
//!
//! A position is first read as its senders write it (serde and `JSON.stringify` alike: no
//! whitespace, fields in declaration order), by comparing the bytes of each key in place;
//! any other layout is read field by field. The hand-written reader only answers when it is
//! sure: anything it does not take (an unknown field is skipped, but a duplicate field, a
//! number beyond its fast path, a struct written as an array, a hostile string) sends the
//! whole text to `serde_json`, so the value or the error is always `serde_json`'s. Property
//! tests hold the two to that.

use jsonread::{Error, Reader};
use serde::de::DeserializeOwned;

use crate::{
    Alert, AlertAcknowledged, AlertCleared, AlertReAlarmed, Position, Reading, Suppression, SuppressionEnded,
    SuppressionKind, VehicleState,
};

/// A wire type that arrives in batches (a JSON array of them per invocation).
pub trait Batch: DeserializeOwned {
    /// Decodes a batch from JSON text (bytes, checked to be UTF-8 on the way).
    fn from_json(text: &[u8]) -> Result<Vec<Self>, serde_json::Error> {
        serde_json::from_slice(text)
    }

    /// What makes a well-formed item unusable, if anything: a number that is not finite (NaN
    /// and infinities pass MessagePack, and a JSON reader may round a huge literal to one) or a
    /// value outside its range. The receiver refuses such an item alone.
    fn problem(&self) -> Option<String> {
        None
    }
}

impl Batch for Position {
    fn from_json(text: &[u8]) -> Result<Vec<Self>, serde_json::Error> {
        positions(text).or_else(|_| serde_json::from_slice(text))
    }

    fn problem(&self) -> Option<String> {
        let id = &self.id;
        if !(self.lat.is_finite() && (-90.0..=90.0).contains(&self.lat)) {
            return Some(format!("{id}: latitude {} is not within -90..90", self.lat));
        }
        if !(self.lon.is_finite() && (-180.0..=180.0).contains(&self.lon)) {
            return Some(format!("{id}: longitude {} is not within -180..180", self.lon));
        }
        if !self.heading.is_finite() || !self.speed.is_finite() {
            return Some(format!("{id}: heading {} and speed {} must be finite", self.heading, self.speed));
        }
        None
    }
}

impl Batch for Reading {
    fn problem(&self) -> Option<String> {
        let (metric, value) = self.values.iter().find(|(_, v)| !v.is_finite())?;
        Some(format!("{}: {metric} is {value}, not a finite number", self.device))
    }
}

impl Batch for Alert {
    fn problem(&self) -> Option<String> {
        (!self.value.is_finite() || !self.threshold.is_finite())
            .then(|| format!("{}: value {} and threshold {} must be finite", self.id, self.value, self.threshold))
    }
}
impl Batch for AlertAcknowledged {}
impl Batch for AlertCleared {}
impl Batch for AlertReAlarmed {}
impl Batch for SuppressionEnded {}

impl Batch for Suppression {
    fn problem(&self) -> Option<String> {
        if self.id.is_empty() || self.device.is_empty() {
            return Some(format!("suppression {:?}: the id and the device must not be empty", self.id));
        }
        if self.kind == SuppressionKind::Shelved && self.metric.as_deref().is_none_or(str::is_empty) {
            return Some(format!("suppression {}: a shelf names a metric", self.id));
        }
        (self.until < self.ts)
            .then(|| format!("suppression {}: it ends ({}) before it begins ({})", self.id, self.until, self.ts))
    }
}

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
    let start = r.mark();
    if let Some(p) = as_written(r) {
        return Ok(p);
    }
    r.reset(start);
    any_layout(r)
}

/// A position exactly as serde (and `JSON.stringify` of the same object) writes it: no
/// whitespace, fields in declaration order, `seq` last or absent. `None` for anything else.
fn as_written(r: &mut Reader<'_>) -> Option<Position> {
    fn field<'a, T>(
        r: &mut Reader<'a>,
        key: &[u8],
        read: impl FnOnce(&mut Reader<'a>) -> Result<T, Error>,
    ) -> Option<T> {
        if r.eat(key) {
            read(r).ok()
        } else {
            None
        }
    }
    let id = field(r, b"{\"id\":", |r| r.str().map(String::from))?;
    let ts = field(r, b",\"ts\":", Reader::i64)?;
    let lat = field(r, b",\"lat\":", Reader::f64)?;
    let lon = field(r, b",\"lon\":", Reader::f64)?;
    let heading = field(r, b",\"heading\":", Reader::f64)?;
    let speed = field(r, b",\"speed\":", Reader::f64)?;
    let state = field(r, b",\"state\":\"", |r| {
        Ok(if r.eat(b"moving\"") {
            Some(VehicleState::Moving)
        } else if r.eat(b"idle\"") {
            Some(VehicleState::Idle)
        } else if r.eat(b"stopped\"") {
            Some(VehicleState::Stopped)
        } else {
            None
        })
    })??;
    let site = field(r, b",\"site\":", |r| r.str().map(String::from))?;
    let seq = if r.eat(b",\"seq\":") { r.u64().ok()? } else { 0 };
    r.eat(b"}").then_some(Position { id, ts, lat, lon, heading, speed, state, site, seq })
}

/// Any layout: fields in any order, whitespace, unknown fields skipped.
fn any_layout(r: &mut Reader<'_>) -> Result<Position, Error> {
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

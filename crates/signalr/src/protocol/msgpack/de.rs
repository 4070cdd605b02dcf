//! Decoding one MessagePack value into any `serde` type, the way [`Payload::decode`] needs it.
//!
//! Built for code size as much as speed: reading the next value's marker and length is one
//! non-generic function ([`Reader::token`]); the part instantiated for every target type is
//! only the short dispatch of that token to the type's visitor. A general-purpose decoder
//! inlines the whole marker table into every instantiation, once per wire type of the app.
//!
//! [`Payload::decode`]: crate::Payload::decode

use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

use super::{Reader, MAX_DEPTH};
use crate::protocol::ProtocolError;

/// `bytes` (exactly one MessagePack value) as a `T`.
pub fn from_slice<T: de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ProtocolError> {
    let mut decoder = Decoder { reader: Reader::new(bytes), depth: 0 };
    let value = T::deserialize(&mut decoder).map_err(|e| ProtocolError::Decode(e.0))?;
    if decoder.reader.remaining() > 0 {
        return Err(ProtocolError::Decode("bytes left after the value".into()));
    }
    Ok(value)
}

/// What went wrong, in words.
#[derive(Debug)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Error(message.to_string())
    }
}

impl From<ProtocolError> for Error {
    fn from(error: ProtocolError) -> Self {
        Error(error.to_string())
    }
}

/// The next value's kind, with its scalar or its length.
pub(super) enum Token<'a> {
    Nil,
    Bool(bool),
    Uint(u64),
    Int(i64),
    F32(f32),
    F64(f64),
    Str(&'a str),
    Bin(&'a [u8]),
    Array(u32),
    Map(u32),
}

struct Decoder<'a> {
    reader: Reader<'a>,
    /// Containers open around the value being read.
    depth: usize,
}

impl<'a> Decoder<'a> {
    /// Enters a container of `values` values (a map's keys and values both count).
    fn enter(&mut self, values: u64) -> Result<Items<'_, 'a>, Error> {
        if self.depth >= MAX_DEPTH {
            return Err(Error(format!("a value nested more than {MAX_DEPTH} levels deep")));
        }
        self.reader.room_for(values)?;
        self.depth += 1;
        Ok(Items { decoder: self, left: values })
    }

    /// Skips what a visitor left unread of a container.
    fn leave(&mut self, left: u64) -> Result<(), Error> {
        for _ in 0..left {
            self.reader.skip(self.depth)?;
        }
        self.depth -= 1;
        Ok(())
    }
}

impl<'de> de::Deserializer<'de> for &mut Decoder<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.reader.token()? {
            Token::Nil => visitor.visit_unit(),
            Token::Bool(b) => visitor.visit_bool(b),
            Token::Uint(n) => visitor.visit_u64(n),
            Token::Int(n) => visitor.visit_i64(n),
            Token::F32(x) => visitor.visit_f32(x),
            Token::F64(x) => visitor.visit_f64(x),
            Token::Str(s) => visitor.visit_borrowed_str(s),
            Token::Bin(b) => visitor.visit_borrowed_bytes(b),
            Token::Array(len) => {
                let mut access = self.enter(u64::from(len))?;
                let value = visitor.visit_seq(&mut access)?;
                let left = access.left;
                self.leave(left)?;
                Ok(value)
            }
            Token::Map(len) => {
                let mut access = self.enter(u64::from(len) * 2)?;
                let value = visitor.visit_map(&mut access)?;
                let left = access.left;
                self.leave(left)?;
                Ok(value)
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.reader.peek()? == NIL {
            self.reader.byte()?;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    /// A unit variant as its name, or a variant with content as a map of one entry.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.reader.token()? {
            Token::Str(name) => visitor.visit_enum(name.into_deserializer()),
            Token::Map(1) => {
                let access = self.enter(2)?;
                let value = visitor.visit_enum(access.decoder)?;
                self.depth -= 1;
                Ok(value)
            }
            _ => Err(Error("expected an enum variant (a string or a map of one entry)".into())),
        }
    }

    /// Binary, like the other MessagePack codecs: types with two forms choose their compact one.
    fn is_human_readable(&self) -> bool {
        false
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.reader.skip(self.depth)?;
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct seq tuple tuple_struct map struct identifier
    }
}

const NIL: u8 = 0xc0;

/// The elements of an array, or the keys and values of a map.
struct Items<'d, 'de> {
    decoder: &'d mut Decoder<'de>,
    /// Values not read yet (for a map, keys and values each count).
    left: u64,
}

impl<'de> Items<'_, 'de> {
    fn next<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.decoder).map(Some)
    }
}

impl<'de> de::SeqAccess<'de> for Items<'_, 'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        self.next(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left as usize)
    }
}

impl<'de> de::MapAccess<'de> for Items<'_, 'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        self.next(seed)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        self.next(seed)?.ok_or_else(|| Error("a map key without its value".into()))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left as usize / 2)
    }
}

impl<'de> de::EnumAccess<'de> for &mut Decoder<'de> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), Error> {
        let variant = seed.deserialize(&mut *self)?;
        Ok((variant, self))
    }
}

impl<'de> de::VariantAccess<'de> for &mut Decoder<'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        de::Deserialize::deserialize(self)
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_any(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(self, _fields: &'static [&'static str], visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_any(self, visitor)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};

    use super::from_slice;
    use crate::protocol::ProtocolError;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    enum State {
        Moving,
        Parked { since: i64 },
        Towed(String),
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Report {
        id: String,
        ts: i64,
        lat: f64,
        ratio: f32,
        small: u8,
        below: i32,
        note: Option<String>,
        states: Vec<State>,
        tags: BTreeMap<String, u64>,
        #[serde(default)]
        seq: u64,
    }

    fn report() -> Report {
        Report {
            id: "veh-1 <b>\u{e9}".into(),
            ts: 1_700_000_000_123,
            lat: -47.25,
            ratio: 0.5,
            small: 200,
            below: -70_000,
            note: None,
            states: vec![State::Moving, State::Parked { since: -3 }, State::Towed("yard".into())],
            tags: BTreeMap::from([("a".into(), 1), ("big".into(), u64::MAX)]),
            seq: 9,
        }
    }

    #[test]
    fn what_a_peer_encodes_decodes_to_the_same_value() {
        let named = rmp_serde::to_vec_named(&report()).unwrap();
        assert_eq!(from_slice::<Report>(&named).unwrap(), report());
        // Fields as an array (the compact struct form) decode too.
        let compact = rmp_serde::to_vec(&report()).unwrap();
        assert_eq!(from_slice::<Report>(&compact).unwrap(), report());
        let with_note = Report { note: Some("x".into()), ..report() };
        assert_eq!(from_slice::<Report>(&rmp_serde::to_vec_named(&with_note).unwrap()).unwrap(), with_note);
    }

    #[test]
    fn unknown_fields_are_skipped_and_missing_defaults_filled() {
        #[derive(Serialize)]
        struct Newer<'a> {
            extra: (Vec<u8>, BTreeMap<&'a str, Vec<f64>>),
            id: &'a str,
            ts: i64,
            lat: i64,
            ratio: f64,
            small: u8,
            below: i32,
            note: (),
            states: [State; 0],
            tags: BTreeMap<&'a str, u64>,
        }
        let newer = Newer {
            extra: (vec![1, 2], BTreeMap::from([("k", vec![1.5])])),
            id: "a",
            ts: 1,
            lat: 47, // an integer where a float is expected, as other encoders write whole numbers
            ratio: 0.25,
            small: 1,
            below: -1,
            note: (),
            states: [],
            tags: BTreeMap::new(),
        };
        let decoded = from_slice::<Report>(&rmp_serde::to_vec_named(&newer).unwrap()).unwrap();
        assert_eq!((decoded.id.as_str(), decoded.lat, decoded.seq, decoded.note), ("a", 47.0, 0, None));
    }

    #[test]
    fn any_value_becomes_json() {
        let value = from_slice::<serde_json::Value>(&rmp_serde::to_vec_named(&report()).unwrap()).unwrap();
        assert_eq!(value["states"][1]["parked"]["since"], -3);
        assert_eq!(value["tags"]["big"], u64::MAX);
    }

    #[test]
    fn bad_input_is_an_error_never_a_panic() {
        let good = rmp_serde::to_vec_named(&report()).unwrap();
        for cut in 0..good.len() {
            assert!(from_slice::<Report>(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut trailing = good.clone();
        trailing.push(0xc0);
        assert!(matches!(from_slice::<Report>(&trailing), Err(ProtocolError::Decode(_))));
        // Wrong types, a reserved marker, an extension value, a length past the end.
        assert!(from_slice::<Report>(&[0x93, 1, 2, 3]).is_err());
        assert!(from_slice::<u8>(&[0xcd, 0x01, 0x00]).is_err(), "256 is not a u8");
        assert!(from_slice::<String>(&[0xc1]).is_err());
        assert!(from_slice::<String>(&[0xd4, 0x01, 0x00]).is_err());
        assert!(from_slice::<Vec<u8>>(&[0xdd, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(from_slice::<String>(&[0xa2, 0xff, 0xfe]).is_err(), "not UTF-8");
        // Deep nesting is refused, not a stack overflow.
        let deep: Vec<u8> = std::iter::repeat_n(0x91, 100_000).chain([0xc0]).collect();
        assert!(from_slice::<serde_json::Value>(&deep).is_err());
        assert!(from_slice::<serde::de::IgnoredAny>(&deep).is_err());
    }
}

//! Encoding any `serde` value as MessagePack, structs as maps keyed by field name (what the
//! SignalR clients and servers expect of named types).
//!
//! The companion of [`super::de`], kept small the same way: every method writes one marker
//! through the non-generic writers of the `rmp` crate, so a type's serialization code is only
//! its own walk over its fields.

use std::fmt::Display;

use serde::ser::{self, Serialize};

use super::de::Error;
use crate::protocol::ProtocolError;

/// `value` as MessagePack.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, ProtocolError> {
    let mut out = Vec::with_capacity(64);
    write(&mut out, value)?;
    Ok(out)
}

/// Appends `value` as MessagePack to `out`.
pub(super) fn write<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<(), ProtocolError> {
    value.serialize(&mut Encoder { out }).map_err(|e| ProtocolError::Encode(e.to_string()))
}

impl ser::Error for Error {
    fn custom<T: Display>(message: T) -> Self {
        <Error as serde::de::Error>::custom(message)
    }
}

/// Writing into a `Vec` cannot fail; the `rmp` writers still return a `Result`.
fn done<E: Display>(result: Result<impl Sized, E>) -> Result<(), Error> {
    result.map(drop).map_err(<Error as ser::Error>::custom)
}

fn length(len: usize) -> Result<u32, Error> {
    u32::try_from(len).map_err(|_| <Error as ser::Error>::custom("a container longer than MessagePack allows"))
}

struct Encoder<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> Encoder<'a> {
    fn array(&mut self, len: usize) -> Result<(), Error> {
        done(rmp::encode::write_array_len(self.out, length(len)?))
    }

    fn map(&mut self, len: usize) -> Result<(), Error> {
        done(rmp::encode::write_map_len(self.out, length(len)?))
    }

    /// `{variant: ...}`: what follows is the variant's content.
    fn variant(&mut self, variant: &str) -> Result<(), Error> {
        self.map(1)?;
        done(rmp::encode::write_str(self.out, variant))
    }

    /// Starts a container of `len` items; with no length known, a 32-bit length filled in at
    /// the end (valid MessagePack, if not the shortest form).
    fn start<'e>(&'e mut self, len: Option<usize>, map: bool) -> Result<Items<'e, 'a>, Error> {
        let patch = match len {
            Some(len) if map => self.map(len).map(|()| None)?,
            Some(len) => self.array(len).map(|()| None)?,
            None => {
                self.out.push(if map { 0xdf } else { 0xdd });
                self.out.extend_from_slice(&[0; 4]);
                Some(self.out.len() - 4)
            }
        };
        Ok(Items { encoder: self, patch, count: 0 })
    }
}

/// A container begun: its items are written next.
type Started<'e, 'a> = Result<Items<'e, 'a>, Error>;

/// Integer widths MessagePack does not tell apart: each is written as its widest form (the
/// encoder picks the shortest encoding of the value anyway).
macro_rules! widen_to {
    ($wide:ident: $($name:ident($ty:ty)),*) => {
        $(fn $name(self, v: $ty) -> Result<(), Error> {
            self.$wide(v.into())
        })*
    };
}

impl<'e, 'a> ser::Serializer for &'e mut Encoder<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Items<'e, 'a>;
    type SerializeTuple = Items<'e, 'a>;
    type SerializeTupleStruct = Items<'e, 'a>;
    type SerializeTupleVariant = Items<'e, 'a>;
    type SerializeMap = Items<'e, 'a>;
    type SerializeStruct = Items<'e, 'a>;
    type SerializeStructVariant = Items<'e, 'a>;

    /// Binary, like the other MessagePack codecs: types with two forms choose their compact one.
    fn is_human_readable(&self) -> bool {
        false
    }

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        done(rmp::encode::write_bool(self.out, v))
    }

    widen_to! { serialize_i64: serialize_i8(i8), serialize_i16(i16), serialize_i32(i32) }
    widen_to! { serialize_u64: serialize_u8(u8), serialize_u16(u16), serialize_u32(u32) }

    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        done(rmp::encode::write_sint(self.out, v))
    }

    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        done(rmp::encode::write_uint(self.out, v))
    }

    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        done(rmp::encode::write_f32(self.out, v))
    }

    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        done(rmp::encode::write_f64(self.out, v))
    }

    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        done(rmp::encode::write_str(self.out, v))
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        done(rmp::encode::write_bin(self.out, v))
    }

    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Error> {
        done(rmp::encode::write_nil(self.out))
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> Result<(), Error> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.variant(variant)?;
        value.serialize(self)
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Items<'e, 'a>, Error> {
        self.start(len, false)
    }

    fn serialize_tuple(self, len: usize) -> Result<Items<'e, 'a>, Error> {
        self.start(Some(len), false)
    }

    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Items<'e, 'a>, Error> {
        self.start(Some(len), false)
    }

    fn serialize_tuple_variant(self, _: &'static str, _: u32, variant: &'static str, len: usize) -> Started<'e, 'a> {
        self.variant(variant)?;
        self.start(Some(len), false)
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Items<'e, 'a>, Error> {
        self.start(len, true)
    }

    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<Items<'e, 'a>, Error> {
        self.start(Some(len), true)
    }

    fn serialize_struct_variant(self, _: &'static str, _: u32, variant: &'static str, len: usize) -> Started<'e, 'a> {
        self.variant(variant)?;
        self.start(Some(len), true)
    }
}

/// The items of an array or the entries of a map being written.
pub struct Items<'e, 'a> {
    encoder: &'e mut Encoder<'a>,
    /// Where the 32-bit length goes when it was not known at the start.
    patch: Option<usize>,
    /// Elements (or entries) written.
    count: u32,
}

impl Items<'_, '_> {
    fn item<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut *self.encoder)
    }

    fn end(self) -> Result<(), Error> {
        if let Some(at) = self.patch {
            self.encoder.out[at..at + 4].copy_from_slice(&self.count.to_be_bytes());
        }
        Ok(())
    }

    fn counted<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.count += 1;
        self.item(value)
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        self.counted(key)?;
        self.item(value)
    }
}

/// The serde traits for the items of a container: each adds one element (`$add` is
/// `counted` for array items, `field` for named struct fields).
macro_rules! items {
    ($($trait:ident :: $method:ident ($($key:ident: $key_type:ty,)?) => $add:ident;)*) => {$(
        impl ser::$trait for Items<'_, '_> {
            type Ok = ();
            type Error = Error;

            fn $method<T: Serialize + ?Sized>(&mut self, $($key: $key_type,)? value: &T) -> Result<(), Error> {
                self.$add($($key,)? value)
            }

            fn end(self) -> Result<(), Error> {
                Items::end(self)
            }
        }
    )*};
}

items! {
    SerializeSeq::serialize_element() => counted;
    SerializeTuple::serialize_element() => counted;
    SerializeTupleStruct::serialize_field() => counted;
    SerializeTupleVariant::serialize_field() => counted;
    SerializeStruct::serialize_field(key: &'static str,) => field;
    SerializeStructVariant::serialize_field(key: &'static str,) => field;
}

impl ser::SerializeMap for Items<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.counted(key)
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.item(value)
    }

    fn end(self) -> Result<(), Error> {
        Items::end(self)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Serialize;

    use super::to_vec;

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    enum Kind {
        Plain,
        Wrapped(u8),
        Pair(i8, String),
        Shaped { side: f32 },
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Sample<'a> {
        id: &'a str,
        ts: i64,
        negative: i32,
        big: u64,
        lat: f64,
        ratio: f32,
        flag: bool,
        none: Option<u8>,
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<u8>,
        kinds: Vec<Kind>,
        bytes: serde_bytes_like::Bytes<'a>,
        tuple: (char, ()),
        map: BTreeMap<&'a str, i64>,
    }

    /// Bytes serialized as bytes (as `serde_bytes` would), without another dependency.
    mod serde_bytes_like {
        pub(super) struct Bytes<'a>(pub &'a [u8]);
        impl serde::Serialize for Bytes<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(self.0)
            }
        }
    }

    fn sample() -> Sample<'static> {
        Sample {
            id: "veh-1 <b>\u{e9}",
            ts: 1_700_000_000_123,
            negative: -70_000,
            big: u64::MAX,
            lat: -47.25,
            ratio: 0.5,
            flag: true,
            none: None,
            skipped: None,
            kinds: vec![Kind::Plain, Kind::Wrapped(7), Kind::Pair(-1, "x".into()), Kind::Shaped { side: 2.5 }],
            bytes: serde_bytes_like::Bytes(&[0, 255]),
            tuple: ('é', ()),
            map: BTreeMap::from([("a", -1), ("b", 300)]),
        }
    }

    #[test]
    fn the_same_bytes_as_a_general_purpose_encoder() {
        assert_eq!(to_vec(&sample()).unwrap(), rmp_serde::to_vec_named(&sample()).unwrap());
        let long: Vec<u32> = (0..70_000).collect();
        assert_eq!(to_vec(&long).unwrap(), rmp_serde::to_vec_named(&long).unwrap());
    }

    #[test]
    fn a_sequence_of_unknown_length_is_counted_at_the_end() {
        struct Unsized;
        impl Serialize for Unsized {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq((0..5).filter(|n| n % 2 == 0))
            }
        }
        let bytes = to_vec(&Unsized).unwrap();
        assert_eq!(bytes, [0xdd, 0, 0, 0, 3, 0, 2, 4]);
        assert_eq!(rmp_serde::from_slice::<Vec<u8>>(&bytes).unwrap(), [0, 2, 4]);
    }
}

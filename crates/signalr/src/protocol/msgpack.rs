//! The MessagePack hub protocol: binary records, each prefixed by its length as a VarInt.
//!
//! A record body is one MessagePack array whose first element is the message type:
//!
//! | type | layout |
//! |---|---|
//! | 1 Invocation | `[1, headers, invocationId \| nil, target, [arguments], [streamIds]?]` |
//! | 2 StreamItem | `[2, headers, invocationId, item]` |
//! | 3 Completion | `[3, headers, invocationId, resultKind, result?]` (1 error, 2 void, 3 value) |
//! | 4 StreamInvocation | `[4, headers, invocationId, target, [arguments], [streamIds]?]` |
//! | 5 CancelInvocation | `[5, headers, invocationId]` |
//! | 6 Ping | `[6]` |
//! | 7 Close | `[7, error \| nil, allowReconnect?]` |
//! | 8 Ack, 9 Sequence | `[8 \| 9, sequenceId]` |
//!
//! Arguments, stream items and results are not decoded here: the parser measures where each
//! value ends and keeps its exact bytes as a [`Payload::MessagePack`], so the application
//! decodes it straight into its own types. Extra trailing array elements are ignored, as
//! newer peers may append fields.

mod de;
mod ser;

use serde::Serialize;

pub use de::from_slice;
use de::Token;
pub use ser::to_vec;

use super::{Headers, HubMessage, MessageType, Payload, ProtocolError, DEFAULT_MAX_RECORD};

/// Longest VarInt length prefix (5 × 7 bits cover the 31-bit length limit).
const MAX_VARINT_BYTES: usize = 5;

/// Largest record length the protocol allows (2 GB − 1).
const MAX_RECORD_LEN: u64 = 0x7fff_ffff;

/// How many containers (arrays, maps) may nest inside one value before it is refused. Keeps
/// hostile input from exhausting the stack while values are measured.
const MAX_DEPTH: usize = 64;

const RESULT_ERROR: i128 = 1;
const RESULT_VOID: i128 = 2;
const RESULT_VALUE: i128 = 3;

// ---------------------------------------------------------------------------------------------
// Framing
// ---------------------------------------------------------------------------------------------

/// Appends `len` as a VarInt: 7 bits per byte, least significant group first, the high bit
/// set on every byte but the last.
pub fn write_varint(len: usize, out: &mut Vec<u8>) {
    let mut rest = len;
    loop {
        let group = (rest & 0x7f) as u8;
        rest >>= 7;
        if rest == 0 {
            out.push(group);
            return;
        }
        out.push(group | 0x80);
    }
}

/// Reads a VarInt length prefix from the start of `bytes`: `Ok(Some((length, prefix_len)))`,
/// or `Ok(None)` while the prefix is incomplete. A prefix longer than 5 bytes is an error.
pub fn read_varint(bytes: &[u8]) -> Result<Option<(u64, usize)>, ProtocolError> {
    let mut value = 0u64;
    for (i, &byte) in bytes.iter().take(MAX_VARINT_BYTES).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(Some((value, i + 1)));
        }
    }
    if bytes.len() >= MAX_VARINT_BYTES {
        Err(invalid("the length prefix is longer than 5 bytes"))
    } else {
        Ok(None)
    }
}

/// Splits a byte stream into VarInt length-prefixed records. A record split across chunks
/// (anywhere, including inside its prefix) is buffered until it is complete, up to a size
/// limit.
#[derive(Debug)]
pub struct BinaryFramer {
    /// The start of an incomplete record: its prefix (maybe partial) and the body so far.
    partial: Vec<u8>,
    max_record: usize,
}

impl Default for BinaryFramer {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_RECORD)
    }
}

impl BinaryFramer {
    /// A framer that refuses records whose declared length exceeds `max_record` bytes.
    pub fn new(max_record: usize) -> Self {
        Self { partial: Vec::new(), max_record }
    }

    /// Feeds a chunk; calls `record` for every complete record body (without its prefix).
    ///
    /// A declared length above the limit gives [`ProtocolError::RecordTooLarge`], a malformed
    /// prefix [`ProtocolError::InvalidMessage`]; either way the framer drops what it buffered
    /// and the rest of the chunk (the stream cannot be resynchronised) and the next chunk is
    /// read as the start of a new record. Records completed before the error were delivered.
    pub fn push(&mut self, chunk: &[u8], mut record: impl FnMut(&[u8])) -> Result<(), ProtocolError> {
        let mut input = chunk;
        if !self.partial.is_empty() {
            // Complete the prefix one byte at a time (at most 5 bytes).
            let (len, prefix_len) = loop {
                match self.header(&self.partial) {
                    Ok(Some(header)) => break header,
                    Ok(None) => match input.split_first() {
                        Some((&byte, rest)) => {
                            self.partial.push(byte);
                            input = rest;
                        }
                        None => return Ok(()),
                    },
                    Err(error) => return Err(self.reset(error)),
                }
            };
            let total = prefix_len + len;
            let take = (total - self.partial.len()).min(input.len());
            self.partial.extend_from_slice(&input[..take]);
            input = &input[take..];
            if self.partial.len() < total {
                return Ok(());
            }
            let whole = std::mem::take(&mut self.partial);
            record(&whole[prefix_len..]);
        }
        loop {
            match self.header(input) {
                Ok(Some((len, prefix_len))) if input.len() - prefix_len >= len => {
                    record(&input[prefix_len..prefix_len + len]);
                    input = &input[prefix_len + len..];
                }
                Ok(_) => {
                    self.partial.extend_from_slice(input);
                    return Ok(());
                }
                Err(error) => return Err(self.reset(error)),
            }
        }
    }

    /// The record length and prefix length at the start of `bytes`, checked against the limits.
    fn header(&self, bytes: &[u8]) -> Result<Option<(usize, usize)>, ProtocolError> {
        let Some((len, prefix_len)) = read_varint(bytes)? else {
            return Ok(None);
        };
        if len > self.max_record as u64 {
            return Err(ProtocolError::RecordTooLarge { limit: self.max_record });
        }
        if len > MAX_RECORD_LEN {
            return Err(invalid("a record length over 2 GB"));
        }
        // Both limits passed, so the length fits in a usize.
        Ok(Some((len as usize, prefix_len)))
    }

    fn reset(&mut self, error: ProtocolError) -> ProtocolError {
        self.partial = Vec::new();
        error
    }

    /// Bytes buffered of an incomplete record.
    pub fn pending(&self) -> usize {
        self.partial.len()
    }
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

fn invalid(message: impl Into<String>) -> ProtocolError {
    ProtocolError::InvalidMessage(message.into())
}

fn truncated() -> ProtocolError {
    invalid("truncated MessagePack data")
}

/// A cursor over one record. Every read checks lengths against the bytes left before it
/// slices or allocates anything.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, len: u64) -> Result<&'a [u8], ProtocolError> {
        if len > self.remaining() as u64 {
            return Err(truncated());
        }
        let start = self.pos;
        self.pos += len as usize;
        Ok(&self.bytes[start..self.pos])
    }

    fn byte(&mut self) -> Result<u8, ProtocolError> {
        Ok(self.take(1)?[0])
    }

    fn peek(&self) -> Result<u8, ProtocolError> {
        self.bytes.get(self.pos).copied().ok_or_else(truncated)
    }

    /// A big-endian unsigned integer of `len` (1, 2, 4 or 8) bytes.
    fn be(&mut self, len: u64) -> Result<u64, ProtocolError> {
        Ok(self.take(len)?.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// Checks that `count` values (at least one byte each) can still follow.
    fn room_for(&self, count: u64) -> Result<(), ProtocolError> {
        if count > self.remaining() as u64 {
            Err(truncated())
        } else {
            Ok(())
        }
    }

    fn array_len(&mut self, what: &str) -> Result<usize, ProtocolError> {
        let marker = self.byte()?;
        let len = match marker {
            0x90..=0x9f => u64::from(marker & 0x0f),
            0xdc => self.be(2)?,
            0xdd => self.be(4)?,
            _ => return Err(invalid(format!("{what}: expected an array, found marker 0x{marker:02x}"))),
        };
        self.room_for(len)?;
        Ok(len as usize)
    }

    fn map_len(&mut self, what: &str) -> Result<usize, ProtocolError> {
        let marker = self.byte()?;
        let len = match marker {
            0x80..=0x8f => u64::from(marker & 0x0f),
            0xde => self.be(2)?,
            0xdf => self.be(4)?,
            _ => return Err(invalid(format!("{what}: expected a map, found marker 0x{marker:02x}"))),
        };
        self.room_for(len * 2)?;
        Ok(len as usize)
    }

    fn str(&mut self, what: &str) -> Result<&'a str, ProtocolError> {
        let marker = self.byte()?;
        let len = match marker {
            0xa0..=0xbf => u64::from(marker & 0x1f),
            0xd9 => self.be(1)?,
            0xda => self.be(2)?,
            0xdb => self.be(4)?,
            _ => return Err(invalid(format!("{what}: expected a string, found marker 0x{marker:02x}"))),
        };
        std::str::from_utf8(self.take(len)?).map_err(|_| invalid(format!("{what}: invalid UTF-8")))
    }

    fn opt_str(&mut self, what: &str) -> Result<Option<&'a str>, ProtocolError> {
        if self.peek()? == 0xc0 {
            self.pos += 1;
            Ok(None)
        } else {
            self.str(what).map(Some)
        }
    }

    fn int(&mut self, what: &str) -> Result<i128, ProtocolError> {
        let marker = self.byte()?;
        Ok(match marker {
            0x00..=0x7f => i128::from(marker),
            0xe0..=0xff => i128::from(marker as i8),
            0xcc => i128::from(self.be(1)?),
            0xcd => i128::from(self.be(2)?),
            0xce => i128::from(self.be(4)?),
            0xcf => i128::from(self.be(8)?),
            0xd0 => i128::from(self.be(1)? as u8 as i8),
            0xd1 => i128::from(self.be(2)? as u16 as i16),
            0xd2 => i128::from(self.be(4)? as u32 as i32),
            0xd3 => i128::from(self.be(8)? as i64),
            _ => return Err(invalid(format!("{what}: expected an integer, found marker 0x{marker:02x}"))),
        })
    }

    fn uint(&mut self, what: &str) -> Result<u64, ProtocolError> {
        let value = self.int(what)?;
        u64::try_from(value).map_err(|_| invalid(format!("{what}: {value} is negative")))
    }

    fn bool(&mut self, what: &str) -> Result<bool, ProtocolError> {
        match self.byte()? {
            0xc2 => Ok(false),
            0xc3 => Ok(true),
            marker => Err(invalid(format!("{what}: expected a boolean, found marker 0x{marker:02x}"))),
        }
    }

    fn headers(&mut self) -> Result<Headers, ProtocolError> {
        let len = self.map_len("headers")?;
        let mut headers = Headers::new();
        for _ in 0..len {
            let name = self.str("header name")?;
            let value = self.str("header value")?;
            headers.insert(name.to_owned(), value.to_owned());
        }
        Ok(headers)
    }

    /// An array of strings; nil is read as an empty array.
    fn stream_ids(&mut self) -> Result<Vec<String>, ProtocolError> {
        if self.peek()? == 0xc0 {
            self.pos += 1;
            return Ok(Vec::new());
        }
        let len = self.array_len("streamIds")?;
        let mut ids = Vec::with_capacity(len.min(16));
        for _ in 0..len {
            ids.push(self.str("stream id")?.to_owned());
        }
        Ok(ids)
    }

    /// The next value's marker and length (or scalar), for decoding into app types.
    fn token(&mut self) -> Result<Token<'a>, ProtocolError> {
        let marker = self.byte()?;
        Ok(match marker {
            0x00..=0x7f => Token::Uint(u64::from(marker)),
            0xe0..=0xff => Token::Int(i64::from(marker as i8)),
            0x80..=0x8f => Token::Map(u32::from(marker & 0x0f)),
            0x90..=0x9f => Token::Array(u32::from(marker & 0x0f)),
            0xa0..=0xbf => self.str_body(u64::from(marker & 0x1f))?,
            0xc0 => Token::Nil,
            0xc2 => Token::Bool(false),
            0xc3 => Token::Bool(true),
            0xc4 => Token::Bin(self.sized(1)?),
            0xc5 => Token::Bin(self.sized(2)?),
            0xc6 => Token::Bin(self.sized(4)?),
            0xca => Token::F32(f32::from_bits(self.be(4)? as u32)),
            0xcb => Token::F64(f64::from_bits(self.be(8)?)),
            0xcc => Token::Uint(self.be(1)?),
            0xcd => Token::Uint(self.be(2)?),
            0xce => Token::Uint(self.be(4)?),
            0xcf => Token::Uint(self.be(8)?),
            0xd0 => Token::Int(i64::from(self.be(1)? as u8 as i8)),
            0xd1 => Token::Int(i64::from(self.be(2)? as u16 as i16)),
            0xd2 => Token::Int(i64::from(self.be(4)? as u32 as i32)),
            0xd3 => Token::Int(self.be(8)? as i64),
            0xd9 => {
                let len = self.be(1)?;
                self.str_body(len)?
            }
            0xda => {
                let len = self.be(2)?;
                self.str_body(len)?
            }
            0xdb => {
                let len = self.be(4)?;
                self.str_body(len)?
            }
            0xdc => Token::Array(self.be(2)? as u32),
            0xdd => Token::Array(self.be(4)? as u32),
            0xde => Token::Map(self.be(2)? as u32),
            0xdf => Token::Map(self.be(4)? as u32),
            0xc1 => return Err(invalid("the reserved MessagePack marker 0xc1")),
            // ext8/16/32, fixext: no app type is made of extension values.
            _ => return Err(invalid(format!("a MessagePack extension value (marker 0x{marker:02x})"))),
        })
    }

    /// Bytes whose length comes first as a `len_bytes`-byte big-endian number.
    fn sized(&mut self, len_bytes: u64) -> Result<&'a [u8], ProtocolError> {
        let len = self.be(len_bytes)?;
        self.take(len)
    }

    fn str_body(&mut self, len: u64) -> Result<Token<'a>, ProtocolError> {
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes).map(Token::Str).map_err(|_| invalid("a string that is not UTF-8"))
    }

    /// The raw bytes of one value of any kind.
    fn value(&mut self) -> Result<&'a [u8], ProtocolError> {
        let start = self.pos;
        self.skip(0)?;
        Ok(&self.bytes[start..self.pos])
    }

    fn payloads(&mut self) -> Result<Vec<Payload>, ProtocolError> {
        let len = self.array_len("arguments")?;
        let mut payloads = Vec::with_capacity(len.min(16));
        for _ in 0..len {
            payloads.push(Payload::MessagePack(self.value()?.to_vec()));
        }
        Ok(payloads)
    }

    /// Moves past one value without decoding it; `depth` counts the containers around it.
    fn skip(&mut self, depth: usize) -> Result<(), ProtocolError> {
        let marker = self.byte()?;
        // (bytes of data after the marker and any length field, values nested inside)
        let (data, children) = match marker {
            // positive fixint, negative fixint, nil, false, true
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (0, 0),
            0x80..=0x8f => (0, u64::from(marker & 0x0f) * 2),
            0x90..=0x9f => (0, u64::from(marker & 0x0f)),
            0xa0..=0xbf => (u64::from(marker & 0x1f), 0),
            0xc1 => return Err(invalid("the reserved MessagePack marker 0xc1")),
            // bin8/16/32, str8/16/32
            0xc4 | 0xd9 => (self.be(1)?, 0),
            0xc5 | 0xda => (self.be(2)?, 0),
            0xc6 | 0xdb => (self.be(4)?, 0),
            // ext8/16/32: length, then a type byte, then the data
            0xc7 => (self.be(1)? + 1, 0),
            0xc8 => (self.be(2)? + 1, 0),
            0xc9 => (self.be(4)? + 1, 0),
            // float32/64
            0xca => (4, 0),
            0xcb => (8, 0),
            // uint8..64, int8..64
            0xcc | 0xd0 => (1, 0),
            0xcd | 0xd1 => (2, 0),
            0xce | 0xd2 => (4, 0),
            0xcf | 0xd3 => (8, 0),
            // fixext1/2/4/8/16 (type byte included)
            0xd4 => (2, 0),
            0xd5 => (3, 0),
            0xd6 => (5, 0),
            0xd7 => (9, 0),
            0xd8 => (17, 0),
            0xdc => (0, self.be(2)?),
            0xdd => (0, self.be(4)?),
            0xde => (0, self.be(2)? * 2),
            0xdf => (0, self.be(4)? * 2),
        };
        self.take(data)?;
        let container = matches!(marker, 0x80..=0x9f | 0xdc..=0xdf);
        if container {
            if depth >= MAX_DEPTH {
                return Err(invalid(format!("a value nested more than {MAX_DEPTH} levels deep")));
            }
            self.room_for(children)?;
            for _ in 0..children {
                self.skip(depth + 1)?;
            }
        }
        Ok(())
    }
}

/// Fails unless the message array has at least `min` elements.
fn need(count: usize, min: usize, name: &str) -> Result<(), ProtocolError> {
    if count < min {
        Err(invalid(format!("{name} with {count} elements (at least {min} expected)")))
    } else {
        Ok(())
    }
}

fn required_id(id: Option<&str>, name: &str) -> Result<String, ProtocolError> {
    id.map(str::to_owned).ok_or_else(|| invalid(format!("{name} without an invocationId")))
}

/// Parses one record body. `Ok(None)` for a well-formed message of an unknown type (ignored).
pub fn parse_message(record: &[u8]) -> Result<Option<HubMessage>, ProtocolError> {
    let mut r = Reader::new(record);
    let count = r.array_len("message")?;
    need(count, 1, "a message")?;
    let kind = MessageType::from_code(r.int("message type")?);
    // The message, and how many of the array's elements it used.
    let (message, used) = match kind {
        Some(kind @ (MessageType::Invocation | MessageType::StreamInvocation)) => {
            let name = kind.name();
            need(count, 5, name)?;
            let headers = r.headers()?;
            let invocation_id = r.opt_str("invocationId")?;
            let target = r.str("target")?.to_owned();
            let arguments = r.payloads()?;
            let (stream_ids, used) = if count >= 6 { (r.stream_ids()?, 6) } else { (Vec::new(), 5) };
            let message = if kind == MessageType::Invocation {
                HubMessage::Invocation {
                    invocation_id: invocation_id.map(str::to_owned),
                    target,
                    arguments,
                    stream_ids,
                    headers,
                }
            } else {
                HubMessage::StreamInvocation {
                    invocation_id: required_id(invocation_id, name)?,
                    target,
                    arguments,
                    stream_ids,
                    headers,
                }
            };
            (Some(message), used)
        }
        Some(MessageType::StreamItem) => {
            need(count, 4, "StreamItem")?;
            let headers = r.headers()?;
            let invocation_id = r.str("invocationId")?.to_owned();
            let item = Payload::MessagePack(r.value()?.to_vec());
            (Some(HubMessage::StreamItem { invocation_id, item, headers }), 4)
        }
        Some(MessageType::Completion) => {
            need(count, 4, "Completion")?;
            let headers = r.headers()?;
            let invocation_id = r.str("invocationId")?.to_owned();
            let (result, error, used) = match r.int("result kind")? {
                RESULT_ERROR => {
                    need(count, 5, "Completion with an error")?;
                    (None, Some(r.str("error")?.to_owned()), 5)
                }
                RESULT_VOID => (None, None, 4),
                RESULT_VALUE => {
                    need(count, 5, "Completion with a result")?;
                    (Some(Payload::MessagePack(r.value()?.to_vec())), None, 5)
                }
                other => return Err(invalid(format!("Completion with unknown result kind {other}"))),
            };
            (Some(HubMessage::Completion { invocation_id, result, error, headers }), used)
        }
        Some(MessageType::CancelInvocation) => {
            need(count, 3, "CancelInvocation")?;
            let headers = r.headers()?;
            let invocation_id = r.str("invocationId")?.to_owned();
            (Some(HubMessage::CancelInvocation { invocation_id, headers }), 3)
        }
        Some(MessageType::Ping) => (Some(HubMessage::Ping), 1),
        Some(MessageType::Close) => {
            need(count, 2, "Close")?;
            let error = r.opt_str("error")?.map(str::to_owned);
            let (allow_reconnect, used) = if count >= 3 { (r.bool("allowReconnect")?, 3) } else { (false, 2) };
            (Some(HubMessage::Close { error, allow_reconnect }), used)
        }
        Some(kind @ (MessageType::Ack | MessageType::Sequence)) => {
            need(count, 2, kind.name())?;
            let sequence_id = r.uint("sequenceId")?;
            let message = if kind == MessageType::Ack {
                HubMessage::Ack { sequence_id }
            } else {
                HubMessage::Sequence { sequence_id }
            };
            (Some(message), 2)
        }
        None => (None, 1),
    };
    // Elements this parser does not know (newer peers, unknown types) must still be well formed.
    for _ in used..count {
        r.skip(0)?;
    }
    if r.remaining() != 0 {
        return Err(invalid(format!("{} bytes after the message", r.remaining())));
    }
    Ok(message)
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

fn encode_error(error: impl std::fmt::Display) -> ProtocolError {
    ProtocolError::Encode(error.to_string())
}

fn len32(len: usize, what: &str) -> Result<u32, ProtocolError> {
    u32::try_from(len).map_err(|_| ProtocolError::Encode(format!("{what} is too long ({len})")))
}

fn put_array_len(out: &mut Vec<u8>, len: usize) -> Result<(), ProtocolError> {
    rmp::encode::write_array_len(out, len32(len, "an array")?).map(drop).map_err(encode_error)
}

fn put_map_len(out: &mut Vec<u8>, len: usize) -> Result<(), ProtocolError> {
    rmp::encode::write_map_len(out, len32(len, "a map")?).map(drop).map_err(encode_error)
}

fn put_uint(out: &mut Vec<u8>, value: u64) -> Result<(), ProtocolError> {
    rmp::encode::write_uint(out, value).map(drop).map_err(encode_error)
}

fn put_type(out: &mut Vec<u8>, kind: MessageType) -> Result<(), ProtocolError> {
    put_uint(out, u64::from(kind.code()))
}

fn put_str(out: &mut Vec<u8>, value: &str) -> Result<(), ProtocolError> {
    rmp::encode::write_str_len(out, len32(value.len(), "a string")?).map_err(encode_error)?;
    out.extend_from_slice(value.as_bytes());
    Ok(())
}

fn put_opt_str(out: &mut Vec<u8>, value: Option<&str>) -> Result<(), ProtocolError> {
    match value {
        Some(value) => put_str(out, value),
        None => rmp::encode::write_nil(out).map_err(encode_error),
    }
}

fn put_headers(out: &mut Vec<u8>, headers: &Headers) -> Result<(), ProtocolError> {
    put_map_len(out, headers.len())?;
    for (name, value) in headers {
        put_str(out, name)?;
        put_str(out, value)?;
    }
    Ok(())
}

fn put_str_array(out: &mut Vec<u8>, values: &[String]) -> Result<(), ProtocolError> {
    put_array_len(out, values.len())?;
    values.iter().try_for_each(|value| put_str(out, value))
}

/// One value: MessagePack bytes as they are (checked to be exactly one value), JSON converted.
fn put_payload(out: &mut Vec<u8>, payload: &Payload) -> Result<(), ProtocolError> {
    match payload {
        Payload::MessagePack(bytes) => {
            let mut reader = Reader::new(bytes);
            if reader.skip(0).is_err() || reader.remaining() != 0 {
                return Err(ProtocolError::Encode("a payload is not exactly one MessagePack value".into()));
            }
            out.extend_from_slice(bytes);
            Ok(())
        }
        Payload::Json(text) => {
            let value: serde_json::Value = serde_json::from_slice(text).map_err(encode_error)?;
            ser::write(out, &value)
        }
    }
}

fn put_payloads(out: &mut Vec<u8>, payloads: &[Payload]) -> Result<(), ProtocolError> {
    put_array_len(out, payloads.len())?;
    payloads.iter().try_for_each(|payload| put_payload(out, payload))
}

fn put_body(message: &HubMessage, out: &mut Vec<u8>) -> Result<(), ProtocolError> {
    match message {
        HubMessage::Invocation { invocation_id, target, arguments, stream_ids, headers } => {
            put_array_len(out, 6)?;
            put_type(out, MessageType::Invocation)?;
            put_headers(out, headers)?;
            put_opt_str(out, invocation_id.as_deref())?;
            put_str(out, target)?;
            put_payloads(out, arguments)?;
            put_str_array(out, stream_ids)
        }
        HubMessage::StreamItem { invocation_id, item, headers } => {
            put_array_len(out, 4)?;
            put_type(out, MessageType::StreamItem)?;
            put_headers(out, headers)?;
            put_str(out, invocation_id)?;
            put_payload(out, item)
        }
        HubMessage::Completion { invocation_id, result, error, headers } => {
            let has_value = error.is_some() || result.is_some();
            put_array_len(out, if has_value { 5 } else { 4 })?;
            put_type(out, MessageType::Completion)?;
            put_headers(out, headers)?;
            put_str(out, invocation_id)?;
            match (error, result) {
                (Some(error), _) => {
                    put_uint(out, RESULT_ERROR as u64)?;
                    put_str(out, error)
                }
                (None, Some(result)) => {
                    put_uint(out, RESULT_VALUE as u64)?;
                    put_payload(out, result)
                }
                (None, None) => put_uint(out, RESULT_VOID as u64),
            }
        }
        HubMessage::StreamInvocation { invocation_id, target, arguments, stream_ids, headers } => {
            put_array_len(out, 6)?;
            put_type(out, MessageType::StreamInvocation)?;
            put_headers(out, headers)?;
            put_str(out, invocation_id)?;
            put_str(out, target)?;
            put_payloads(out, arguments)?;
            put_str_array(out, stream_ids)
        }
        HubMessage::CancelInvocation { invocation_id, headers } => {
            put_array_len(out, 3)?;
            put_type(out, MessageType::CancelInvocation)?;
            put_headers(out, headers)?;
            put_str(out, invocation_id)
        }
        HubMessage::Ping => {
            put_array_len(out, 1)?;
            put_type(out, MessageType::Ping)
        }
        HubMessage::Close { error, allow_reconnect } => {
            put_array_len(out, 3)?;
            put_type(out, MessageType::Close)?;
            put_opt_str(out, error.as_deref())?;
            rmp::encode::write_bool(out, *allow_reconnect).map_err(encode_error)
        }
        HubMessage::Ack { sequence_id } => {
            put_array_len(out, 2)?;
            put_type(out, MessageType::Ack)?;
            put_uint(out, *sequence_id)
        }
        HubMessage::Sequence { sequence_id } => {
            put_array_len(out, 2)?;
            put_type(out, MessageType::Sequence)?;
            put_uint(out, *sequence_id)
        }
    }
}

/// Appends the VarInt length of `body` and `body` itself.
fn frame(body: &[u8], out: &mut Vec<u8>) -> Result<(), ProtocolError> {
    if body.len() as u64 > MAX_RECORD_LEN {
        return Err(ProtocolError::Encode(format!("a record of {} bytes is over 2 GB", body.len())));
    }
    out.reserve(body.len() + MAX_VARINT_BYTES);
    write_varint(body.len(), out);
    out.extend_from_slice(body);
    Ok(())
}

/// Serializes one message with its VarInt length prefix, appending to `out`. On error `out`
/// is left as it was.
pub fn write(message: &HubMessage, out: &mut Vec<u8>) -> Result<(), ProtocolError> {
    let mut body = Vec::with_capacity(64);
    put_body(message, &mut body)?;
    frame(&body, out)
}

/// A framed non-blocking Invocation whose arguments are the elements of `arguments` (an
/// array or tuple, serialized with struct field names): the fast path servers use to
/// broadcast a batch. Headers are empty, the invocationId nil, streamIds empty.
pub fn write_invocation<A: Serialize>(target: &str, arguments: A) -> Result<Vec<u8>, ProtocolError> {
    let mut body = Vec::with_capacity(64);
    put_array_len(&mut body, 6)?;
    put_type(&mut body, MessageType::Invocation)?;
    put_map_len(&mut body, 0)?;
    put_opt_str(&mut body, None)?;
    put_str(&mut body, target)?;
    let at = body.len();
    ser::write(&mut body, &arguments)?;
    if !matches!(body.get(at), Some(0x90..=0x9f | 0xdc | 0xdd)) {
        return Err(ProtocolError::Encode("the arguments must serialize as an array".into()));
    }
    put_array_len(&mut body, 0)?;
    let mut out = Vec::new();
    frame(&body, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests;

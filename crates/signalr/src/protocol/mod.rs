//! Hub protocols: the message model shared by both encodings, the handshake (always JSON),
//! and the two wire formats, [`json`] (text, 0x1E-terminated records) and [`msgpack`]
//! (binary, varint length-prefixed records).
//!
//! Values inside messages (arguments, stream items, results) stay encoded as [`Payload`]s,
//! so the application decodes each one straight into its own types in a single pass.

pub mod json;
pub mod msgpack;

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The record separator that ends every JSON record (and the handshake in both protocols).
pub const RECORD_SEPARATOR: u8 = 0x1e;

/// Largest record (bytes) a framer buffers before it gives up on the stream.
pub const DEFAULT_MAX_RECORD: usize = 1 << 20;

/// Errors of the wire format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// A record did not end within the framer's limit; the stream cannot be read on.
    #[error("a record grew past {limit} bytes")]
    RecordTooLarge {
        /// The framer's limit, in bytes.
        limit: usize,
    },
    /// A record is not a well-formed hub message (bad JSON or MessagePack, a field missing
    /// or of the wrong type).
    #[error("invalid message: {0}")]
    InvalidMessage(String),
    /// The handshake record is not a handshake message (or not JSON at all).
    #[error("invalid handshake response: {0}")]
    InvalidHandshake(String),
    /// The server answered the handshake with an error (an unsupported protocol, say).
    #[error("the server rejected the handshake: {0}")]
    HandshakeRejected(String),
    /// A value or message could not be serialized.
    #[error("cannot encode: {0}")]
    Encode(String),
    /// A [`Payload`] does not decode into the type asked for.
    #[error("cannot decode a value: {0}")]
    Decode(String),
}

/// One encoded value from a message: an argument, a stream item or a result.
#[derive(Clone)]
pub enum Payload {
    /// JSON text of the value. Received text is checked (JSON and UTF-8) when it is decoded.
    Json(Box<[u8]>),
    /// MessagePack bytes of exactly one value.
    MessagePack(Vec<u8>),
}

impl Payload {
    /// Decodes the value into `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, ProtocolError> {
        self.decode_with(|text| serde_json::from_slice(text))
    }

    /// Decodes the value into `T`, JSON text through `json` (a decoder written for `T`, say)
    /// and MessagePack as [`decode`](Self::decode) does.
    pub fn decode_with<T: DeserializeOwned, E: std::fmt::Display>(
        &self,
        json: impl FnOnce(&[u8]) -> Result<T, E>,
    ) -> Result<T, ProtocolError> {
        match self {
            Payload::Json(text) => json(text).map_err(|e| ProtocolError::Decode(e.to_string())),
            Payload::MessagePack(bytes) => msgpack::from_slice(bytes),
        }
    }
}

impl std::fmt::Debug for Payload {
    /// JSON as its text (a log line shows the value, not a list of byte values).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Payload::Json(text) => f.debug_tuple("Json").field(&String::from_utf8_lossy(text)).finish(),
            Payload::MessagePack(bytes) => f.debug_tuple("MessagePack").field(bytes).finish(),
        }
    }
}

/// Message headers (string to string).
pub type Headers = BTreeMap<String, String>;

/// A hub message: types 1–9 of the protocol. Parsers skip unknown types.
#[derive(Debug, Clone)]
pub enum HubMessage {
    /// A call of a hub method (client to server) or of a client method (server to client).
    Invocation {
        /// Set when the caller wants a [`Completion`](HubMessage::Completion) back; `None`
        /// for a fire-and-forget call.
        invocation_id: Option<String>,
        /// Name of the method called.
        target: String,
        /// The method's arguments, still encoded.
        arguments: Vec<Payload>,
        /// Ids of the streams the caller will send as further arguments (client-to-server
        /// streaming); empty otherwise.
        stream_ids: Vec<String>,
        /// Message headers; usually empty.
        headers: Headers,
    },
    /// One item of a stream.
    StreamItem {
        /// The stream's invocation (or stream) id.
        invocation_id: String,
        /// The item, still encoded.
        item: Payload,
        /// Message headers; usually empty.
        headers: Headers,
    },
    /// The end of an invocation or a stream.
    Completion {
        /// The invocation it completes.
        invocation_id: String,
        /// The method's return value, if it returned one (never with `error`).
        result: Option<Payload>,
        /// Why the invocation failed, as the other side words it.
        error: Option<String>,
        /// Message headers; usually empty.
        headers: Headers,
    },
    /// A call of a streaming hub method; its items come back as
    /// [`StreamItem`](HubMessage::StreamItem)s under `invocation_id`.
    StreamInvocation {
        /// Names the stream in the items, the completion and any cancel.
        invocation_id: String,
        /// Name of the streaming method called.
        target: String,
        /// The method's arguments, still encoded.
        arguments: Vec<Payload>,
        /// Ids of the streams the caller will send as further arguments; empty otherwise.
        stream_ids: Vec<String>,
        /// Message headers; usually empty.
        headers: Headers,
    },
    /// Asks the other side to stop the stream of `invocation_id`.
    CancelInvocation {
        /// The stream to stop.
        invocation_id: String,
        /// Message headers; usually empty.
        headers: Headers,
    },
    /// Keep-alive: proves the sender is there; needs no answer.
    Ping,
    /// The sender is closing the connection.
    Close {
        /// Why, if it closes because of an error.
        error: Option<String>,
        /// Whether the client may reconnect (the server is not refusing it for good).
        allow_reconnect: bool,
    },
    /// Stateful reconnect: every sequenced message up to `sequence_id` arrived, so the
    /// sender may drop them from its buffer.
    Ack {
        /// The last sequence id received, inclusive.
        sequence_id: u64,
    },
    /// Stateful reconnect, after a reconnect: the next sequenced message has this id (the
    /// receiver skips those it already has).
    Sequence {
        /// Id of the next sequenced message.
        sequence_id: u64,
    },
}

/// The `type` of a hub message on the wire, as both codecs write and read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MessageType {
    /// A call of a hub method (or a client callback), with or without an invocation id.
    Invocation = 1,
    /// One item of a stream.
    StreamItem = 2,
    /// The end of an invocation or a stream: a result, an error or nothing.
    Completion = 3,
    /// A call of a streaming hub method.
    StreamInvocation = 4,
    /// Asks the other side to stop a stream.
    CancelInvocation = 5,
    /// Keep-alive.
    Ping = 6,
    /// The sender is closing the connection.
    Close = 7,
    /// Stateful reconnect: everything up to a sequence id was received.
    Ack = 8,
    /// Stateful reconnect: the next sequenced message has this id.
    Sequence = 9,
}

impl MessageType {
    /// Every type, in wire order.
    pub const ALL: [MessageType; 9] = [
        MessageType::Invocation,
        MessageType::StreamItem,
        MessageType::Completion,
        MessageType::StreamInvocation,
        MessageType::CancelInvocation,
        MessageType::Ping,
        MessageType::Close,
        MessageType::Ack,
        MessageType::Sequence,
    ];

    /// The number written as the message's `type`.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The type with this wire number; `None` for a type this crate does not know (which
    /// readers skip, as the protocol says).
    pub fn from_code(code: i128) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| i128::from(kind.code()) == code)
    }

    /// The protocol's name for the type, for error messages.
    pub fn name(self) -> &'static str {
        match self {
            MessageType::Invocation => "Invocation",
            MessageType::StreamItem => "StreamItem",
            MessageType::Completion => "Completion",
            MessageType::StreamInvocation => "StreamInvocation",
            MessageType::CancelInvocation => "CancelInvocation",
            MessageType::Ping => "Ping",
            MessageType::Close => "Close",
            MessageType::Ack => "Ack",
            MessageType::Sequence => "Sequence",
        }
    }

    /// Types that count in stateful reconnect's sequence numbering.
    pub fn is_sequenced(self) -> bool {
        matches!(
            self,
            MessageType::Invocation
                | MessageType::StreamItem
                | MessageType::Completion
                | MessageType::StreamInvocation
                | MessageType::CancelInvocation
        )
    }
}

impl HubMessage {
    /// The message's wire type.
    pub fn message_type(&self) -> MessageType {
        match self {
            HubMessage::Invocation { .. } => MessageType::Invocation,
            HubMessage::StreamItem { .. } => MessageType::StreamItem,
            HubMessage::Completion { .. } => MessageType::Completion,
            HubMessage::StreamInvocation { .. } => MessageType::StreamInvocation,
            HubMessage::CancelInvocation { .. } => MessageType::CancelInvocation,
            HubMessage::Ping => MessageType::Ping,
            HubMessage::Close { .. } => MessageType::Close,
            HubMessage::Ack { .. } => MessageType::Ack,
            HubMessage::Sequence { .. } => MessageType::Sequence,
        }
    }

    /// Messages that count in stateful reconnect's sequence numbering.
    pub fn is_sequenced(&self) -> bool {
        self.message_type().is_sequenced()
    }
}

/// A frame to write to a transport: text for JSON, binary for MessagePack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text frame (JSON protocol): one or more 0x1E-terminated records.
    Text(String),
    /// A binary frame (MessagePack protocol): one or more length-prefixed records.
    Binary(Vec<u8>),
}

impl Frame {
    /// The frame's bytes, text or binary alike.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Frame::Text(text) => text.as_bytes(),
            Frame::Binary(bytes) => bytes,
        }
    }

    /// Size of the frame in bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether the frame has no bytes at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How a transport must carry a protocol's frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferFormat {
    /// UTF-8 text frames (a WebSocket text message, Server-Sent Events).
    Text,
    /// Binary frames (a WebSocket binary message); not every transport can carry them.
    Binary,
}

impl TransferFormat {
    /// The name negotiate uses in a transport's `transferFormats`.
    pub fn as_str(self) -> &'static str {
        match self {
            TransferFormat::Text => "Text",
            TransferFormat::Binary => "Binary",
        }
    }
}

/// The hub protocol in use on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HubProtocol {
    /// JSON text, records terminated by 0x1E.
    Json,
    /// MessagePack, records prefixed by their varint length; smaller and faster to read.
    MessagePack,
}

impl HubProtocol {
    /// The name sent in the handshake.
    pub fn name(self) -> &'static str {
        match self {
            HubProtocol::Json => "json",
            HubProtocol::MessagePack => "messagepack",
        }
    }

    /// Parses a handshake protocol name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "json" => Some(HubProtocol::Json),
            "messagepack" => Some(HubProtocol::MessagePack),
            _ => None,
        }
    }

    /// The transfer format its frames need: a transport must offer it to be used.
    pub fn transfer_format(self) -> TransferFormat {
        match self {
            HubProtocol::Json => TransferFormat::Text,
            HubProtocol::MessagePack => TransferFormat::Binary,
        }
    }

    /// Encodes an application value as a payload of this protocol.
    pub fn payload<T: Serialize + ?Sized>(self, value: &T) -> Result<Payload, ProtocolError> {
        match self {
            HubProtocol::Json => serde_json::to_string(value)
                .map(|text| Payload::Json(text.into_bytes().into()))
                .map_err(|e| ProtocolError::Encode(e.to_string())),
            HubProtocol::MessagePack => msgpack::to_vec(value).map(Payload::MessagePack),
        }
    }

    /// Serializes and frames one message.
    pub fn write(self, message: &HubMessage) -> Result<Frame, ProtocolError> {
        match self {
            HubProtocol::Json => json::write(message).map(Frame::Text),
            HubProtocol::MessagePack => {
                let mut out = Vec::new();
                msgpack::write(message, &mut out)?;
                Ok(Frame::Binary(out))
            }
        }
    }

    /// A framer that splits this protocol's byte stream into records.
    pub fn framer(self, max_record: usize) -> Framer {
        match self {
            HubProtocol::Json => Framer::Text(json::TextFramer::new(max_record)),
            HubProtocol::MessagePack => Framer::Binary(msgpack::BinaryFramer::new(max_record)),
        }
    }

    /// Parses one record (as split by this protocol's framer). `Ok(None)`: a well-formed
    /// message of a type this client does not know, to be ignored.
    pub fn parse(self, record: &[u8]) -> Result<Option<HubMessage>, ProtocolError> {
        match self {
            HubProtocol::Json => json::parse_message(record),
            HubProtocol::MessagePack => msgpack::parse_message(record),
        }
    }
}

/// Splits a received byte stream into records of one protocol.
#[derive(Debug)]
pub enum Framer {
    /// Splits at 0x1E (JSON protocol).
    Text(json::TextFramer),
    /// Splits by length prefix (MessagePack protocol).
    Binary(msgpack::BinaryFramer),
}

impl Framer {
    /// Feeds a chunk; calls `record` for every complete record.
    pub fn push(&mut self, chunk: &[u8], record: impl FnMut(&[u8])) -> Result<(), ProtocolError> {
        match self {
            Framer::Text(framer) => framer.push(chunk, record),
            Framer::Binary(framer) => framer.push(chunk, record),
        }
    }

    /// Feeds a chunk and parses every record it completes, in `protocol`: each message (or
    /// why it could not be read; `Ok(None)` for a type to ignore), in order, and last the
    /// framing error if the stream itself broke.
    pub fn messages(&mut self, protocol: HubProtocol, chunk: &[u8]) -> Received {
        let mut messages = Vec::new();
        let broken = self.push(chunk, |record| messages.push(protocol.parse(record))).err();
        Received { messages, broken }
    }
}

/// What one chunk of a stream held: see [`Framer::messages`].
#[derive(Debug)]
pub struct Received {
    /// Each complete record, parsed, in order.
    pub messages: Vec<Result<Option<HubMessage>, ProtocolError>>,
    /// The stream cannot go on (a record too large, a broken length prefix).
    pub broken: Option<ProtocolError>,
}

/// Collects the handshake record (JSON, 0x1E-terminated, in both protocols) from a stream
/// cut anywhere; what follows it in the same chunk belongs to the protocol's records.
#[derive(Debug)]
pub struct HandshakeBuffer {
    bytes: Vec<u8>,
    limit: usize,
}

impl HandshakeBuffer {
    /// A buffer that refuses a handshake record longer than `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self { bytes: Vec::new(), limit }
    }

    /// Feeds a chunk: the record and the bytes after it once the terminator has arrived (the
    /// buffer is emptied then).
    pub fn push(&mut self, chunk: &[u8]) -> Handshake {
        self.bytes.extend_from_slice(chunk);
        let Some((record, rest)) = split_handshake(&self.bytes) else {
            return if self.bytes.len() > self.limit { Handshake::TooLarge } else { Handshake::Incomplete };
        };
        let complete = Handshake::Complete { record: record.to_vec(), rest: rest.to_vec() };
        self.bytes = Vec::new();
        complete
    }
}

/// Where a [`HandshakeBuffer`] stands after a chunk.
#[derive(Debug, PartialEq, Eq)]
pub enum Handshake {
    /// The terminator has not arrived yet.
    Incomplete,
    /// Over the limit without a terminator: the peer is not speaking SignalR.
    TooLarge,
    /// The handshake record (without its terminator) and what followed it.
    Complete {
        /// The handshake record, without its terminator.
        record: Vec<u8>,
        /// What came after the terminator: the first bytes of the protocol's records.
        rest: Vec<u8>,
    },
}

/// The client's handshake request (always JSON, 0x1E-terminated).
pub fn handshake_request(protocol: HubProtocol, version: u32) -> String {
    format!("{{\"protocol\":\"{}\",\"version\":{version}}}\u{1e}", protocol.name())
}

#[derive(Deserialize)]
struct HandshakeResponseWire {
    error: Option<String>,
    #[serde(rename = "type")]
    kind: Option<serde_json::Value>,
}

/// Checks the server's handshake response record (without its terminator).
pub fn parse_handshake_response(record: &[u8]) -> Result<(), ProtocolError> {
    let wire: HandshakeResponseWire =
        serde_json::from_slice(record).map_err(|e| ProtocolError::InvalidHandshake(e.to_string()))?;
    if wire.kind.is_some() {
        return Err(ProtocolError::InvalidHandshake(
            "expected a handshake response from the server, got a hub message".into(),
        ));
    }
    match wire.error {
        Some(error) => Err(ProtocolError::HandshakeRejected(error)),
        None => Ok(()),
    }
}

/// A client's handshake request as the server reads it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HandshakeRequest {
    /// The hub protocol's name, as [`HubProtocol::from_name`] reads it.
    pub protocol: String,
    /// The protocol version the client asks for.
    pub version: u32,
}

/// Parses a handshake request record (server side).
pub fn parse_handshake_request(record: &[u8]) -> Result<HandshakeRequest, ProtocolError> {
    serde_json::from_slice(record).map_err(|e| ProtocolError::InvalidHandshake(e.to_string()))
}

/// Splits off the handshake record: returns it and the bytes after its terminator, or `None`
/// while the terminator has not arrived.
pub fn split_handshake(buffer: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = buffer.iter().position(|&b| b == RECORD_SEPARATOR)?;
    Some((&buffer[..end], &buffer[end + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_request_and_responses() {
        assert_eq!(handshake_request(HubProtocol::Json, 1), "{\"protocol\":\"json\",\"version\":1}\u{1e}");
        assert_eq!(
            handshake_request(HubProtocol::MessagePack, 2),
            "{\"protocol\":\"messagepack\",\"version\":2}\u{1e}"
        );
        assert_eq!(parse_handshake_response(b"{}"), Ok(()));
        assert_eq!(
            parse_handshake_response(br#"{"error":"Requested protocol 'x' is not available."}"#),
            Err(ProtocolError::HandshakeRejected("Requested protocol 'x' is not available.".into()))
        );
        assert!(parse_handshake_response(br#"{"type":6}"#).is_err());
        assert!(parse_handshake_response(b"nope").is_err());
        let request = parse_handshake_request(br#"{"protocol":"messagepack","version":1,"x":0}"#).unwrap();
        assert_eq!(HubProtocol::from_name(&request.protocol), Some(HubProtocol::MessagePack));
    }

    #[test]
    fn handshake_is_split_from_what_follows() {
        assert_eq!(split_handshake(b"{}"), None);
        let (record, rest) = split_handshake(b"{}\x1e\x03abc").unwrap();
        assert_eq!(record, b"{}");
        assert_eq!(rest, b"\x03abc");
    }

    #[test]
    fn payloads_round_trip_in_both_protocols() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        #[serde(rename_all = "camelCase")]
        struct Reading {
            device_id: String,
            value: f64,
        }
        let reading = Reading { device_id: "p-1".into(), value: 2.5 };
        for protocol in [HubProtocol::Json, HubProtocol::MessagePack] {
            let payload = protocol.payload(&reading).unwrap();
            assert_eq!(payload.decode::<Reading>().unwrap(), reading, "{protocol:?}");
            assert!(payload.decode::<Vec<u8>>().is_err());
        }
    }
}

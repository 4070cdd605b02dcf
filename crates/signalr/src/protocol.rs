//! The JSON hub protocol: 0x1E record framing, the handshake, and the message codec.
//!
//! Arguments stay as raw JSON (`Box<RawValue>`), so the application decodes each one straight
//! into its own types in a single pass instead of going through `serde_json::Value`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The record separator that ends every JSON hub message.
pub const RECORD_SEPARATOR: char = '\u{1e}';

/// Largest record (bytes) the framer buffers before it gives up on the stream.
pub const DEFAULT_MAX_RECORD: usize = 1 << 20;

/// Errors of the wire format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("a record grew past {limit} bytes without a terminator")]
    RecordTooLarge { limit: usize },
    #[error("invalid message: {0}")]
    InvalidMessage(String),
    #[error("invalid handshake response: {0}")]
    InvalidHandshake(String),
    #[error("the server rejected the handshake: {0}")]
    HandshakeRejected(String),
}

/// Splits a text stream into 0x1E-terminated records. A record split across chunks is
/// buffered until its terminator arrives, up to a size limit.
#[derive(Debug)]
pub struct TextFramer {
    partial: String,
    max_record: usize,
}

impl Default for TextFramer {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_RECORD)
    }
}

impl TextFramer {
    pub fn new(max_record: usize) -> Self {
        Self {
            partial: String::new(),
            max_record,
        }
    }

    /// Feeds a chunk; calls `record` for every complete record (without its terminator).
    pub fn push(&mut self, chunk: &str, mut record: impl FnMut(&str)) -> Result<(), ProtocolError> {
        let mut rest = chunk;
        if !self.partial.is_empty() {
            match rest.find(RECORD_SEPARATOR) {
                Some(end) => {
                    self.partial.push_str(&rest[..end]);
                    let whole = std::mem::take(&mut self.partial);
                    record(&whole);
                    rest = &rest[end + 1..];
                }
                None => return self.keep(rest),
            }
        }
        while let Some(end) = rest.find(RECORD_SEPARATOR) {
            record(&rest[..end]);
            rest = &rest[end + 1..];
        }
        self.keep(rest)
    }

    fn keep(&mut self, tail: &str) -> Result<(), ProtocolError> {
        if self.partial.len() + tail.len() > self.max_record {
            self.partial.clear();
            return Err(ProtocolError::RecordTooLarge {
                limit: self.max_record,
            });
        }
        self.partial.push_str(tail);
        Ok(())
    }

    /// Bytes waiting for a terminator.
    pub fn pending(&self) -> usize {
        self.partial.len()
    }
}

/// Appends the record separator to a serialized message.
pub fn frame(mut json: String) -> String {
    json.push(RECORD_SEPARATOR);
    json
}

/// Hub protocol name and version for the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HubProtocol {
    Json,
}

impl HubProtocol {
    pub fn name(self) -> &'static str {
        match self {
            HubProtocol::Json => "json",
        }
    }
}

/// The client's handshake request, framed.
pub fn handshake_request(protocol: HubProtocol, version: u32) -> String {
    frame(format!(
        r#"{{"protocol":"{}","version":{version}}}"#,
        protocol.name()
    ))
}

#[derive(Deserialize)]
struct HandshakeWire {
    error: Option<String>,
    #[serde(rename = "type")]
    kind: Option<serde_json::Value>,
}

/// Checks the server's handshake response record (without terminator).
pub fn parse_handshake_response(record: &str) -> Result<(), ProtocolError> {
    let wire: HandshakeWire =
        serde_json::from_str(record).map_err(|e| ProtocolError::InvalidHandshake(e.to_string()))?;
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

/// Message headers (string to string).
pub type Headers = BTreeMap<String, String>;

/// A hub message. Types 1–9 of the protocol; unknown types are skipped by the parser.
#[derive(Debug, Clone)]
pub enum HubMessage {
    Invocation {
        invocation_id: Option<String>,
        target: String,
        arguments: Vec<Box<RawValue>>,
        stream_ids: Vec<String>,
        headers: Headers,
    },
    StreamItem {
        invocation_id: String,
        item: Box<RawValue>,
        headers: Headers,
    },
    Completion {
        invocation_id: String,
        result: Option<Box<RawValue>>,
        error: Option<String>,
        headers: Headers,
    },
    StreamInvocation {
        invocation_id: String,
        target: String,
        arguments: Vec<Box<RawValue>>,
        headers: Headers,
    },
    CancelInvocation {
        invocation_id: String,
        headers: Headers,
    },
    Ping,
    Close {
        error: Option<String>,
        allow_reconnect: bool,
    },
    Ack {
        sequence_id: u64,
    },
    Sequence {
        sequence_id: u64,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireMessage {
    #[serde(rename = "type")]
    kind: i64,
    invocation_id: Option<String>,
    target: Option<String>,
    arguments: Option<Vec<Box<RawValue>>>,
    #[serde(default)]
    stream_ids: Vec<String>,
    #[serde(default)]
    headers: Headers,
    item: Option<Box<RawValue>>,
    result: Option<Box<RawValue>>,
    error: Option<String>,
    #[serde(default)]
    allow_reconnect: bool,
    sequence_id: Option<u64>,
}

fn required<T>(value: Option<T>, kind: &str, field: &str) -> Result<T, ProtocolError> {
    value.ok_or_else(|| ProtocolError::InvalidMessage(format!("{kind} without `{field}`")))
}

/// Parses one record. `Ok(None)` for a well-formed message of an unknown type (ignored).
pub fn parse_message(record: &str) -> Result<Option<HubMessage>, ProtocolError> {
    let w: WireMessage =
        serde_json::from_str(record).map_err(|e| ProtocolError::InvalidMessage(e.to_string()))?;
    let message = match w.kind {
        1 => HubMessage::Invocation {
            invocation_id: w.invocation_id,
            target: required(w.target, "Invocation", "target")?,
            arguments: required(w.arguments, "Invocation", "arguments")?,
            stream_ids: w.stream_ids,
            headers: w.headers,
        },
        2 => HubMessage::StreamItem {
            invocation_id: required(w.invocation_id, "StreamItem", "invocationId")?,
            item: required(w.item, "StreamItem", "item")?,
            headers: w.headers,
        },
        3 => {
            if w.result.is_some() && w.error.is_some() {
                return Err(ProtocolError::InvalidMessage(
                    "Completion with both result and error".into(),
                ));
            }
            HubMessage::Completion {
                invocation_id: required(w.invocation_id, "Completion", "invocationId")?,
                result: w.result,
                error: w.error,
                headers: w.headers,
            }
        }
        4 => HubMessage::StreamInvocation {
            invocation_id: required(w.invocation_id, "StreamInvocation", "invocationId")?,
            target: required(w.target, "StreamInvocation", "target")?,
            arguments: required(w.arguments, "StreamInvocation", "arguments")?,
            headers: w.headers,
        },
        5 => HubMessage::CancelInvocation {
            invocation_id: required(w.invocation_id, "CancelInvocation", "invocationId")?,
            headers: w.headers,
        },
        6 => HubMessage::Ping,
        7 => HubMessage::Close {
            error: w.error,
            allow_reconnect: w.allow_reconnect,
        },
        8 => HubMessage::Ack {
            sequence_id: required(w.sequence_id, "Ack", "sequenceId")?,
        },
        9 => HubMessage::Sequence {
            sequence_id: required(w.sequence_id, "Sequence", "sequenceId")?,
        },
        _ => return Ok(None),
    };
    Ok(Some(message))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutInvocation<'a, A: Serialize> {
    #[serde(rename = "type")]
    kind: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    invocation_id: Option<&'a str>,
    target: &'a str,
    arguments: A,
}

/// Serializes and frames an Invocation (`invocation_id: None` = fire-and-forget).
pub fn encode_invocation<A: Serialize>(
    invocation_id: Option<&str>,
    target: &str,
    arguments: A,
) -> Result<String, serde_json::Error> {
    let json = serde_json::to_string(&OutInvocation {
        kind: 1,
        invocation_id,
        target,
        arguments,
    })?;
    Ok(frame(json))
}

/// The framed Ping message.
pub fn encode_ping() -> String {
    frame(r#"{"type":6}"#.to_string())
}

/// The framed Close message the client sends when it stops.
pub fn encode_close() -> String {
    frame(r#"{"type":7}"#.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(framer: &mut TextFramer, chunk: &str) -> Vec<String> {
        let mut out = Vec::new();
        framer.push(chunk, |r| out.push(r.to_string())).unwrap();
        out
    }

    #[test]
    fn framer_splits_batches_and_joins_partials() {
        let mut f = TextFramer::default();
        assert_eq!(
            records(&mut f, "{\"a\":1}\u{1e}{\"b\":2}\u{1e}{\"c\""),
            ["{\"a\":1}", "{\"b\":2}"]
        );
        assert_eq!(f.pending(), 4);
        assert_eq!(records(&mut f, ":3}\u{1e}"), ["{\"c\":3}"]);
        assert_eq!(f.pending(), 0);
    }

    #[test]
    fn framer_refuses_an_unterminated_flood() {
        let mut f = TextFramer::new(8);
        assert!(f.push("0123", |_| {}).is_ok());
        assert_eq!(
            f.push("456789", |_| {}),
            Err(ProtocolError::RecordTooLarge { limit: 8 })
        );
        // It recovers for the next well-formed record.
        assert_eq!(records(&mut f, "{}\u{1e}"), ["{}"]);
    }

    #[test]
    fn handshake_request_and_responses() {
        assert_eq!(
            handshake_request(HubProtocol::Json, 1),
            "{\"protocol\":\"json\",\"version\":1}\u{1e}"
        );
        assert_eq!(parse_handshake_response("{}"), Ok(()));
        assert_eq!(
            parse_handshake_response(r#"{"error":"Requested protocol 'x' is not available."}"#),
            Err(ProtocolError::HandshakeRejected(
                "Requested protocol 'x' is not available.".into()
            ))
        );
        assert!(parse_handshake_response(r#"{"type":6}"#).is_err());
        assert!(parse_handshake_response("nope").is_err());
    }

    #[test]
    fn parses_every_message_type() {
        let inv = parse_message(
            r#"{"type":1,"headers":{"Foo":"Bar"},"invocationId":"123","target":"Send","arguments":[42,"x"],"extra":1}"#,
        )
        .unwrap()
        .unwrap();
        let HubMessage::Invocation {
            invocation_id,
            target,
            arguments,
            headers,
            ..
        } = inv
        else {
            panic!()
        };
        assert_eq!(invocation_id.as_deref(), Some("123"));
        assert_eq!(target, "Send");
        assert_eq!(arguments[1].get(), "\"x\"");
        assert_eq!(headers["Foo"], "Bar");

        assert!(matches!(
            parse_message(r#"{"type":2,"invocationId":"1","item":42}"#),
            Ok(Some(HubMessage::StreamItem { .. }))
        ));
        assert!(matches!(
            parse_message(r#"{"type":3,"invocationId":"1","error":"no"}"#),
            Ok(Some(HubMessage::Completion { error: Some(_), .. }))
        ));
        assert!(matches!(
            parse_message(r#"{"type":4,"invocationId":"1","target":"S","arguments":[]}"#),
            Ok(Some(HubMessage::StreamInvocation { .. }))
        ));
        assert!(matches!(
            parse_message(r#"{"type":5,"invocationId":"1"}"#),
            Ok(Some(HubMessage::CancelInvocation { .. }))
        ));
        assert!(matches!(
            parse_message(r#"{"type":6}"#),
            Ok(Some(HubMessage::Ping))
        ));
        assert!(matches!(
            parse_message(r#"{"type":7,"error":"bye","allowReconnect":true}"#),
            Ok(Some(HubMessage::Close {
                allow_reconnect: true,
                ..
            }))
        ));
        assert!(matches!(
            parse_message(r#"{"type":8,"sequenceId":1394}"#),
            Ok(Some(HubMessage::Ack { sequence_id: 1394 }))
        ));
        assert!(matches!(
            parse_message(r#"{"type":9,"sequenceId":7}"#),
            Ok(Some(HubMessage::Sequence { sequence_id: 7 }))
        ));
    }

    #[test]
    fn unknown_types_are_skipped_and_bad_messages_reported() {
        assert!(matches!(
            parse_message(r#"{"type":99,"whatever":[]}"#),
            Ok(None)
        ));
        assert!(parse_message(r#"{"type":1,"arguments":[]}"#).is_err());
        assert!(parse_message(r#"{"type":3,"invocationId":"1","result":1,"error":"e"}"#).is_err());
        assert!(parse_message("not json").is_err());
        assert!(parse_message(r#"{"target":"x"}"#).is_err());
    }

    #[test]
    fn encodes_invocations_and_control_messages() {
        assert_eq!(
            encode_invocation(None, "subscribe", ["site:a"]).unwrap(),
            "{\"type\":1,\"target\":\"subscribe\",\"arguments\":[\"site:a\"]}\u{1e}"
        );
        assert_eq!(
            encode_invocation(Some("0"), "echo", (1, "x")).unwrap(),
            "{\"type\":1,\"invocationId\":\"0\",\"target\":\"echo\",\"arguments\":[1,\"x\"]}\u{1e}"
        );
        assert_eq!(encode_ping(), "{\"type\":6}\u{1e}");
        assert_eq!(encode_close(), "{\"type\":7}\u{1e}");
    }
}

//! The JSON hub protocol: UTF-8 JSON records, each terminated by 0x1E.

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;

use super::{Headers, HubMessage, Payload, ProtocolError, RECORD_SEPARATOR};

/// Splits a byte stream into 0x1E-terminated records. A record split across chunks is
/// buffered until its terminator arrives, up to a size limit.
#[derive(Debug)]
pub struct TextFramer {
    partial: Vec<u8>,
    max_record: usize,
}

impl Default for TextFramer {
    fn default() -> Self {
        Self::new(super::DEFAULT_MAX_RECORD)
    }
}

impl TextFramer {
    pub fn new(max_record: usize) -> Self {
        Self { partial: Vec::new(), max_record }
    }

    /// Feeds a chunk; calls `record` for every complete record (without its terminator).
    /// After a `RecordTooLarge` error the oversized record is dropped and framing resumes
    /// at the next terminator.
    pub fn push(&mut self, chunk: &[u8], mut record: impl FnMut(&[u8])) -> Result<(), ProtocolError> {
        let mut rest = chunk;
        if !self.partial.is_empty() {
            match rest.iter().position(|&b| b == RECORD_SEPARATOR) {
                Some(end) => {
                    self.check(self.partial.len() + end)?;
                    self.partial.extend_from_slice(&rest[..end]);
                    let whole = std::mem::take(&mut self.partial);
                    record(&whole);
                    rest = &rest[end + 1..];
                }
                None => return self.keep(rest),
            }
        }
        while let Some(end) = rest.iter().position(|&b| b == RECORD_SEPARATOR) {
            // A whole record counts too: the limit is on records, not on what is buffered.
            self.check(end)?;
            record(&rest[..end]);
            rest = &rest[end + 1..];
        }
        self.keep(rest)
    }

    fn check(&mut self, record_len: usize) -> Result<(), ProtocolError> {
        if record_len > self.max_record {
            self.partial.clear();
            return Err(ProtocolError::RecordTooLarge { limit: self.max_record });
        }
        Ok(())
    }

    fn keep(&mut self, tail: &[u8]) -> Result<(), ProtocolError> {
        if self.partial.len() + tail.len() > self.max_record {
            self.partial.clear();
            return Err(ProtocolError::RecordTooLarge { limit: self.max_record });
        }
        self.partial.extend_from_slice(tail);
        Ok(())
    }

    /// Bytes waiting for a terminator.
    pub fn pending(&self) -> usize {
        self.partial.len()
    }
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

fn payloads(values: Vec<Box<RawValue>>) -> Vec<Payload> {
    values.into_iter().map(Payload::Json).collect()
}

/// Parses one record. `Ok(None)` for a well-formed message of an unknown type (ignored).
pub fn parse_message(record: &[u8]) -> Result<Option<HubMessage>, ProtocolError> {
    let w: WireMessage = serde_json::from_slice(record).map_err(|e| ProtocolError::InvalidMessage(e.to_string()))?;
    let message = match w.kind {
        1 => HubMessage::Invocation {
            invocation_id: w.invocation_id,
            target: required(w.target, "Invocation", "target")?,
            arguments: payloads(required(w.arguments, "Invocation", "arguments")?),
            stream_ids: w.stream_ids,
            headers: w.headers,
        },
        2 => HubMessage::StreamItem {
            invocation_id: required(w.invocation_id, "StreamItem", "invocationId")?,
            item: Payload::Json(required(w.item, "StreamItem", "item")?),
            headers: w.headers,
        },
        3 => {
            if w.result.is_some() && w.error.is_some() {
                return Err(ProtocolError::InvalidMessage("Completion with both result and error".into()));
            }
            HubMessage::Completion {
                invocation_id: required(w.invocation_id, "Completion", "invocationId")?,
                result: w.result.map(Payload::Json),
                error: w.error,
                headers: w.headers,
            }
        }
        4 => HubMessage::StreamInvocation {
            invocation_id: required(w.invocation_id, "StreamInvocation", "invocationId")?,
            target: required(w.target, "StreamInvocation", "target")?,
            arguments: payloads(required(w.arguments, "StreamInvocation", "arguments")?),
            stream_ids: w.stream_ids,
            headers: w.headers,
        },
        5 => HubMessage::CancelInvocation {
            invocation_id: required(w.invocation_id, "CancelInvocation", "invocationId")?,
            headers: w.headers,
        },
        6 => HubMessage::Ping,
        7 => HubMessage::Close { error: w.error, allow_reconnect: w.allow_reconnect },
        8 => HubMessage::Ack { sequence_id: required(w.sequence_id, "Ack", "sequenceId")? },
        9 => HubMessage::Sequence { sequence_id: required(w.sequence_id, "Sequence", "sequenceId")? },
        _ => return Ok(None),
    };
    Ok(Some(message))
}

/// A payload as JSON, whatever protocol it came from.
struct JsonPayload<'a>(&'a Payload);

impl Serialize for JsonPayload<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Payload::Json(raw) => raw.serialize(serializer),
            Payload::MessagePack(bytes) => super::msgpack::from_slice::<serde_json::Value>(bytes)
                .map_err(serde::ser::Error::custom)?
                .serialize(serializer),
        }
    }
}

struct JsonPayloads<'a>(&'a [Payload]);

impl Serialize for JsonPayloads<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(JsonPayload))
    }
}

impl Serialize for HubMessage {
    /// The JSON form of the message (field order as the official clients write it).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        let headers = |map: &mut S::SerializeMap, headers: &Headers| {
            if headers.is_empty() {
                Ok(())
            } else {
                map.serialize_entry("headers", headers)
            }
        };
        match self {
            HubMessage::Invocation { invocation_id, target, arguments, stream_ids, headers: h } => {
                map.serialize_entry("type", &1)?;
                headers(&mut map, h)?;
                if let Some(id) = invocation_id {
                    map.serialize_entry("invocationId", id)?;
                }
                map.serialize_entry("target", target)?;
                map.serialize_entry("arguments", &JsonPayloads(arguments))?;
                if !stream_ids.is_empty() {
                    map.serialize_entry("streamIds", stream_ids)?;
                }
            }
            HubMessage::StreamItem { invocation_id, item, headers: h } => {
                map.serialize_entry("type", &2)?;
                headers(&mut map, h)?;
                map.serialize_entry("invocationId", invocation_id)?;
                map.serialize_entry("item", &JsonPayload(item))?;
            }
            HubMessage::Completion { invocation_id, result, error, headers: h } => {
                map.serialize_entry("type", &3)?;
                headers(&mut map, h)?;
                map.serialize_entry("invocationId", invocation_id)?;
                if let Some(error) = error {
                    map.serialize_entry("error", error)?;
                } else if let Some(result) = result {
                    map.serialize_entry("result", &JsonPayload(result))?;
                }
            }
            HubMessage::StreamInvocation { invocation_id, target, arguments, stream_ids, headers: h } => {
                map.serialize_entry("type", &4)?;
                headers(&mut map, h)?;
                map.serialize_entry("invocationId", invocation_id)?;
                map.serialize_entry("target", target)?;
                map.serialize_entry("arguments", &JsonPayloads(arguments))?;
                if !stream_ids.is_empty() {
                    map.serialize_entry("streamIds", stream_ids)?;
                }
            }
            HubMessage::CancelInvocation { invocation_id, headers: h } => {
                map.serialize_entry("type", &5)?;
                headers(&mut map, h)?;
                map.serialize_entry("invocationId", invocation_id)?;
            }
            HubMessage::Ping => map.serialize_entry("type", &6)?,
            HubMessage::Close { error, allow_reconnect } => {
                map.serialize_entry("type", &7)?;
                if let Some(error) = error {
                    map.serialize_entry("error", error)?;
                }
                if *allow_reconnect {
                    map.serialize_entry("allowReconnect", &true)?;
                }
            }
            HubMessage::Ack { sequence_id } => {
                map.serialize_entry("type", &8)?;
                map.serialize_entry("sequenceId", sequence_id)?;
            }
            HubMessage::Sequence { sequence_id } => {
                map.serialize_entry("type", &9)?;
                map.serialize_entry("sequenceId", sequence_id)?;
            }
        }
        map.end()
    }
}

/// Serializes one message and appends the record separator.
pub fn write(message: &HubMessage) -> Result<String, ProtocolError> {
    let mut text = serde_json::to_string(message).map_err(|e| ProtocolError::Encode(e.to_string()))?;
    text.push(RECORD_SEPARATOR as char);
    Ok(text)
}

/// A framed non-blocking Invocation with one pre-serialized argument per element of
/// `arguments` (an array or tuple): the fast path servers use to broadcast a batch.
pub fn write_invocation<A: Serialize>(target: &str, arguments: A) -> Result<String, ProtocolError> {
    #[derive(Serialize)]
    struct Out<'a, A> {
        #[serde(rename = "type")]
        kind: u8,
        target: &'a str,
        arguments: A,
    }
    let mut text =
        serde_json::to_string(&Out { kind: 1, target, arguments }).map_err(|e| ProtocolError::Encode(e.to_string()))?;
    text.push(RECORD_SEPARATOR as char);
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(framer: &mut TextFramer, chunk: &str) -> Vec<String> {
        let mut out = Vec::new();
        framer.push(chunk.as_bytes(), |r| out.push(String::from_utf8(r.to_vec()).unwrap())).unwrap();
        out
    }

    fn parse(text: &str) -> Result<Option<HubMessage>, ProtocolError> {
        parse_message(text.as_bytes())
    }

    #[test]
    fn framer_splits_batches_and_joins_partials() {
        let mut f = TextFramer::default();
        assert_eq!(records(&mut f, "{\"a\":1}\u{1e}{\"b\":2}\u{1e}{\"c\""), ["{\"a\":1}", "{\"b\":2}"]);
        assert_eq!(f.pending(), 4);
        assert_eq!(records(&mut f, ":3}\u{1e}"), ["{\"c\":3}"]);
        assert_eq!(f.pending(), 0);
    }

    #[test]
    fn framer_joins_a_multibyte_character_split_across_chunks() {
        let text = "{\"m\":\"é\"}\u{1e}".as_bytes();
        let split = text.iter().position(|&b| b == 0xC3).unwrap() + 1;
        let mut f = TextFramer::default();
        let mut out = Vec::new();
        f.push(&text[..split], |r| out.push(r.to_vec())).unwrap();
        f.push(&text[split..], |r| out.push(r.to_vec())).unwrap();
        assert_eq!(out, [b"{\"m\":\"\xC3\xA9\"}".to_vec()]);
    }

    #[test]
    fn framer_refuses_an_unterminated_flood() {
        let mut f = TextFramer::new(8);
        assert!(f.push(b"0123", |_| {}).is_ok());
        assert_eq!(f.push(b"456789", |_| {}), Err(ProtocolError::RecordTooLarge { limit: 8 }));
        assert_eq!(records(&mut f, "{}\u{1e}"), ["{}"], "it recovers for the next record");
    }

    #[test]
    fn framer_refuses_a_whole_record_over_the_limit() {
        let mut f = TextFramer::new(8);
        let mut out = Vec::new();
        let result = f.push(b"{}\x1e{\"a\":123456}\x1e", |r| out.push(r.to_vec()));
        assert_eq!(result, Err(ProtocolError::RecordTooLarge { limit: 8 }));
        assert_eq!(out, [b"{}".to_vec()], "records before it are delivered");
        // Completed from a partial, too.
        assert!(f.push(b"{\"a\":", |_| {}).is_ok());
        assert_eq!(f.push(b"1234}\x1e", |_| {}), Err(ProtocolError::RecordTooLarge { limit: 8 }));
        assert_eq!(records(&mut f, "{}\u{1e}"), ["{}"]);
    }

    #[test]
    fn parses_every_message_type() {
        let inv = parse(
            r#"{"type":1,"headers":{"Foo":"Bar"},"invocationId":"123","target":"Send","arguments":[42,"x"],"extra":1}"#,
        )
        .unwrap()
        .unwrap();
        let HubMessage::Invocation { invocation_id, target, arguments, headers, .. } = inv else { panic!() };
        assert_eq!(invocation_id.as_deref(), Some("123"));
        assert_eq!(target, "Send");
        assert_eq!(arguments[1].decode::<String>().unwrap(), "x");
        assert_eq!(headers["Foo"], "Bar");

        assert!(matches!(parse(r#"{"type":2,"invocationId":"1","item":42}"#), Ok(Some(HubMessage::StreamItem { .. }))));
        assert!(matches!(
            parse(r#"{"type":3,"invocationId":"1","error":"no"}"#),
            Ok(Some(HubMessage::Completion { error: Some(_), .. }))
        ));
        assert!(matches!(
            parse(r#"{"type":4,"invocationId":"1","target":"S","arguments":[]}"#),
            Ok(Some(HubMessage::StreamInvocation { .. }))
        ));
        assert!(matches!(parse(r#"{"type":5,"invocationId":"1"}"#), Ok(Some(HubMessage::CancelInvocation { .. }))));
        assert!(matches!(parse(r#"{"type":6}"#), Ok(Some(HubMessage::Ping))));
        assert!(matches!(
            parse(r#"{"type":7,"error":"bye","allowReconnect":true}"#),
            Ok(Some(HubMessage::Close { allow_reconnect: true, .. }))
        ));
        assert!(matches!(parse(r#"{"type":8,"sequenceId":1394}"#), Ok(Some(HubMessage::Ack { sequence_id: 1394 }))));
        assert!(matches!(parse(r#"{"type":9,"sequenceId":7}"#), Ok(Some(HubMessage::Sequence { sequence_id: 7 }))));
    }

    #[test]
    fn unknown_types_are_skipped_and_bad_messages_reported() {
        assert!(matches!(parse(r#"{"type":99,"whatever":[]}"#), Ok(None)));
        assert!(parse(r#"{"type":1,"arguments":[]}"#).is_err());
        assert!(parse(r#"{"type":3,"invocationId":"1","result":1,"error":"e"}"#).is_err());
        assert!(parse("not json").is_err());
        assert!(parse(r#"{"target":"x"}"#).is_err());
        assert!(parse_message(b"\xff\xfe").is_err());
    }

    #[test]
    fn writes_every_message_type_and_reads_it_back() {
        let json = super::super::HubProtocol::Json;
        let messages = [
            HubMessage::Invocation {
                invocation_id: Some("0".into()),
                target: "echo".into(),
                arguments: vec![json.payload(&1).unwrap(), json.payload("x").unwrap()],
                stream_ids: vec![],
                headers: Headers::new(),
            },
            HubMessage::StreamItem {
                invocation_id: "1".into(),
                item: json.payload(&[1, 2]).unwrap(),
                headers: Headers::new(),
            },
            HubMessage::Completion {
                invocation_id: "1".into(),
                result: Some(json.payload(&true).unwrap()),
                error: None,
                headers: Headers::new(),
            },
            HubMessage::CancelInvocation { invocation_id: "2".into(), headers: Headers::new() },
            HubMessage::Ping,
            HubMessage::Close { error: Some("bye".into()), allow_reconnect: true },
            HubMessage::Ack { sequence_id: 5 },
            HubMessage::Sequence { sequence_id: 6 },
        ];
        let expected = [
            "{\"type\":1,\"invocationId\":\"0\",\"target\":\"echo\",\"arguments\":[1,\"x\"]}\u{1e}",
            "{\"type\":2,\"invocationId\":\"1\",\"item\":[1,2]}\u{1e}",
            "{\"type\":3,\"invocationId\":\"1\",\"result\":true}\u{1e}",
            "{\"type\":5,\"invocationId\":\"2\"}\u{1e}",
            "{\"type\":6}\u{1e}",
            "{\"type\":7,\"error\":\"bye\",\"allowReconnect\":true}\u{1e}",
            "{\"type\":8,\"sequenceId\":5}\u{1e}",
            "{\"type\":9,\"sequenceId\":6}\u{1e}",
        ];
        for (message, expected) in messages.iter().zip(expected) {
            let text = write(message).unwrap();
            assert_eq!(text, expected);
            let back = parse_message(&text.as_bytes()[..text.len() - 1]).unwrap().unwrap();
            assert_eq!(write(&back).unwrap(), text);
        }
        assert_eq!(
            write_invocation("positions", [[1, 2]]).unwrap(),
            "{\"type\":1,\"target\":\"positions\",\"arguments\":[[1,2]]}\u{1e}"
        );
    }
}

//! The JSON hub protocol: UTF-8 JSON records, each terminated by 0x1E.

use jsonread::{once, Reader};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use super::{Headers, HubMessage, MessageType, Payload, ProtocolError, RECORD_SEPARATOR};

/// The first record separator in `bytes`, looked for eight bytes at a time (records of
/// positions are tens of KB).
fn find_separator(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGHS: u64 = ONES << 7;
    const SEPARATORS: u64 = ONES * RECORD_SEPARATOR as u64;
    let mut words = bytes.chunks_exact(8);
    let mut offset = 0;
    for word in &mut words {
        let x = u64::from_ne_bytes(word.try_into().expect("eight bytes")) ^ SEPARATORS;
        // Some byte of `x` is zero, that is some byte of the word is a separator.
        if x.wrapping_sub(ONES) & !x & HIGHS != 0 {
            break;
        }
        offset += 8;
    }
    bytes[offset..].iter().position(|&b| b == RECORD_SEPARATOR).map(|i| offset + i)
}

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
    /// A framer that refuses records longer than `max_record` bytes.
    pub fn new(max_record: usize) -> Self {
        Self { partial: Vec::new(), max_record }
    }

    /// Feeds a chunk; calls `record` for every complete record (without its terminator).
    /// After a `RecordTooLarge` error the oversized record is dropped and framing resumes
    /// at the next terminator.
    pub fn push(&mut self, chunk: &[u8], mut record: impl FnMut(&[u8])) -> Result<(), ProtocolError> {
        let mut rest = chunk;
        if !self.partial.is_empty() {
            match find_separator(rest) {
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
        while let Some(end) = find_separator(rest) {
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

/// The fields of a record, as read; which ones a message needs depends on its type.
#[derive(Default)]
struct Fields {
    kind: Option<i64>,
    invocation_id: Option<Option<String>>,
    target: Option<Option<String>>,
    arguments: Option<Option<Vec<Payload>>>,
    stream_ids: Option<Vec<String>>,
    headers: Option<Headers>,
    item: Option<Option<Payload>>,
    result: Option<Option<Payload>>,
    error: Option<Option<String>>,
    allow_reconnect: Option<bool>,
    sequence_id: Option<Option<u64>>,
}

fn required<T>(value: Option<Option<T>>, kind: &str, field: &str) -> Result<T, ProtocolError> {
    value.flatten().ok_or_else(|| ProtocolError::InvalidMessage(format!("{kind} without `{field}`")))
}

/// `null` or a value read by `read`.
fn nullable<'a, T>(
    r: &mut Reader<'a>,
    read: impl FnOnce(&mut Reader<'a>) -> Result<T, jsonread::Error>,
) -> Result<Option<T>, jsonread::Error> {
    if r.null()? {
        Ok(None)
    } else {
        read(r).map(Some)
    }
}

/// One value kept as its JSON text: only where it ends is found here; whoever decodes it
/// reads (and checks) every byte then, once.
fn payload(r: &mut Reader<'_>) -> Result<Payload, jsonread::Error> {
    Ok(Payload::Json(r.skim()?.into()))
}

fn read_fields(text: &[u8]) -> Result<Fields, jsonread::Error> {
    let mut r = Reader::new(text);
    let mut f = Fields::default();
    r.object(|r, key| match &*key {
        "type" => {
            let v = r.i64()?;
            once(&mut f.kind, r, v)
        }
        "invocationId" => {
            let v = nullable(r, |r| r.str().map(String::from))?;
            once(&mut f.invocation_id, r, v)
        }
        "target" => {
            let v = nullable(r, |r| r.str().map(String::from))?;
            once(&mut f.target, r, v)
        }
        "arguments" => {
            let v = nullable(r, |r| {
                let mut arguments = Vec::new();
                r.array(|r| {
                    arguments.push(payload(r)?);
                    Ok(())
                })?;
                Ok(arguments)
            })?;
            once(&mut f.arguments, r, v)
        }
        "streamIds" => {
            let mut ids = Vec::new();
            r.array(|r| {
                ids.push(r.str()?.into_owned());
                Ok(())
            })?;
            once(&mut f.stream_ids, r, ids)
        }
        "headers" => {
            let mut headers = Headers::new();
            r.object(|r, name| {
                let value = r.str()?.into_owned();
                headers.insert(name.into_owned(), value);
                Ok(())
            })?;
            once(&mut f.headers, r, headers)
        }
        "item" => {
            let v = nullable(r, payload)?;
            once(&mut f.item, r, v)
        }
        "result" => {
            let v = nullable(r, payload)?;
            once(&mut f.result, r, v)
        }
        "error" => {
            let v = nullable(r, |r| r.str().map(String::from))?;
            once(&mut f.error, r, v)
        }
        "allowReconnect" => {
            let v = r.bool()?;
            once(&mut f.allow_reconnect, r, v)
        }
        "sequenceId" => {
            let v = nullable(r, Reader::u64)?;
            once(&mut f.sequence_id, r, v)
        }
        _ => r.skip().map(|_| ()),
    })?;
    r.end()?;
    Ok(f)
}

/// Parses one record. `Ok(None)` for a well-formed message of an unknown type (ignored).
///
/// Read by hand with [`jsonread`]: the message's own fields are checked; arguments, items and
/// results are kept as their JSON text, checked when the application decodes them into its
/// own types. `serde_json` with raw-value arguments took longer for this than V8 takes to
/// parse the whole record, because it read every argument twice.
pub fn parse_message(record: &[u8]) -> Result<Option<HubMessage>, ProtocolError> {
    let invalid = |e: &dyn std::fmt::Display| ProtocolError::InvalidMessage(e.to_string());
    // UTF-8 is checked in every string read or skipped (and in arguments when they are
    // decoded), not over the whole record first: that pass cost an eighth of the receive path.
    let w = read_fields(record).map_err(|e| invalid(&e))?;
    let kind = w.kind.ok_or_else(|| ProtocolError::InvalidMessage("missing field `type`".into()))?;
    let headers = w.headers.unwrap_or_default();
    let stream_ids = w.stream_ids.unwrap_or_default();
    let Some(kind) = MessageType::from_code(i128::from(kind)) else {
        return Ok(None);
    };
    let message = match kind {
        MessageType::Invocation | MessageType::StreamInvocation => {
            // A stream's id is required, and checked first; an invocation's is optional.
            let stream_id = match kind {
                MessageType::StreamInvocation => Some(required(w.invocation_id.clone(), kind.name(), "invocationId")?),
                _ => None,
            };
            let target = required(w.target, kind.name(), "target")?;
            let arguments = required(w.arguments, kind.name(), "arguments")?;
            match stream_id {
                Some(invocation_id) => {
                    HubMessage::StreamInvocation { invocation_id, target, arguments, stream_ids, headers }
                }
                None => {
                    let invocation_id = w.invocation_id.flatten();
                    HubMessage::Invocation { invocation_id, target, arguments, stream_ids, headers }
                }
            }
        }
        MessageType::StreamItem => HubMessage::StreamItem {
            invocation_id: required(w.invocation_id, "StreamItem", "invocationId")?,
            item: required(w.item, "StreamItem", "item")?,
            headers,
        },
        MessageType::Completion => {
            let (result, error) = (w.result.flatten(), w.error.flatten());
            if result.is_some() && error.is_some() {
                return Err(ProtocolError::InvalidMessage("Completion with both result and error".into()));
            }
            HubMessage::Completion {
                invocation_id: required(w.invocation_id, "Completion", "invocationId")?,
                result,
                error,
                headers,
            }
        }
        MessageType::CancelInvocation => HubMessage::CancelInvocation {
            invocation_id: required(w.invocation_id, "CancelInvocation", "invocationId")?,
            headers,
        },
        MessageType::Ping => HubMessage::Ping,
        MessageType::Close => {
            HubMessage::Close { error: w.error.flatten(), allow_reconnect: w.allow_reconnect.unwrap_or(false) }
        }
        MessageType::Ack => HubMessage::Ack { sequence_id: required(w.sequence_id, "Ack", "sequenceId")? },
        MessageType::Sequence => {
            HubMessage::Sequence { sequence_id: required(w.sequence_id, "Sequence", "sequenceId")? }
        }
    };
    Ok(Some(message))
}

/// A payload as JSON, whatever protocol it came from.
struct JsonPayload<'a>(&'a Payload);

impl Serialize for JsonPayload<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            // Checked JSON text, written as it is (serde_json checks it once more).
            Payload::Json(text) => {
                serde_json::from_slice::<&RawValue>(text).map_err(serde::ser::Error::custom)?.serialize(serializer)
            }
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
                map.serialize_entry("type", &self.message_type().code())?;
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
                map.serialize_entry("type", &self.message_type().code())?;
                headers(&mut map, h)?;
                map.serialize_entry("invocationId", invocation_id)?;
                map.serialize_entry("item", &JsonPayload(item))?;
            }
            HubMessage::Completion { invocation_id, result, error, headers: h } => {
                map.serialize_entry("type", &self.message_type().code())?;
                headers(&mut map, h)?;
                map.serialize_entry("invocationId", invocation_id)?;
                if let Some(error) = error {
                    map.serialize_entry("error", error)?;
                } else if let Some(result) = result {
                    map.serialize_entry("result", &JsonPayload(result))?;
                }
            }
            HubMessage::StreamInvocation { invocation_id, target, arguments, stream_ids, headers: h } => {
                map.serialize_entry("type", &self.message_type().code())?;
                headers(&mut map, h)?;
                map.serialize_entry("invocationId", invocation_id)?;
                map.serialize_entry("target", target)?;
                map.serialize_entry("arguments", &JsonPayloads(arguments))?;
                if !stream_ids.is_empty() {
                    map.serialize_entry("streamIds", stream_ids)?;
                }
            }
            HubMessage::CancelInvocation { invocation_id, headers: h } => {
                map.serialize_entry("type", &self.message_type().code())?;
                headers(&mut map, h)?;
                map.serialize_entry("invocationId", invocation_id)?;
            }
            HubMessage::Ping => map.serialize_entry("type", &self.message_type().code())?,
            HubMessage::Close { error, allow_reconnect } => {
                map.serialize_entry("type", &self.message_type().code())?;
                if let Some(error) = error {
                    map.serialize_entry("error", error)?;
                }
                if *allow_reconnect {
                    map.serialize_entry("allowReconnect", &true)?;
                }
            }
            HubMessage::Ack { sequence_id } => {
                map.serialize_entry("type", &self.message_type().code())?;
                map.serialize_entry("sequenceId", sequence_id)?;
            }
            HubMessage::Sequence { sequence_id } => {
                map.serialize_entry("type", &self.message_type().code())?;
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
    let mut text = serde_json::to_string(&Out { kind: MessageType::Invocation.code(), target, arguments })
        .map_err(|e| ProtocolError::Encode(e.to_string()))?;
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
    fn finds_separators_anywhere_in_a_word() {
        for len in 0..40 {
            for at in 0..len {
                let mut bytes: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
                bytes[at] = RECORD_SEPARATOR;
                if at + 3 < len {
                    bytes[at + 3] = RECORD_SEPARATOR;
                }
                assert_eq!(find_separator(&bytes), Some(at), "{len} {at}");
            }
            assert_eq!(find_separator(&vec![0x1f; len]), None);
            assert_eq!(find_separator(&vec![0x9e; len]), None);
        }
    }

    #[test]
    fn keeps_argument_text_and_refuses_bad_envelopes() {
        let record = r#"{"type":1,"target":"t","arguments":[ {"a" : [1, "]"]} ,null],"invocationId":null}"#;
        let Some(HubMessage::Invocation { arguments, invocation_id: None, .. }) = parse(record).unwrap() else {
            panic!()
        };
        assert!(matches!(&arguments[0], Payload::Json(t) if &**t == br#"{"a" : [1, "]"]}"#));
        assert!(matches!(&arguments[1], Payload::Json(t) if &**t == b"null"));
        for bad in [
            r#"{"type":1,"type":1,"target":"t","arguments":[]}"#,
            r#"{"type":1,"target":"t","arguments":[1}"#,
            r#"{"type":1,"target":"t","arguments":[]} x"#,
            r#"{"type":"1","target":"t","arguments":[]}"#,
            r#"{"type":1,"target":"t","arguments":[],"headers":{"a":1}}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        // A malformed argument is found where it is decoded.
        let Some(HubMessage::Invocation { arguments, .. }) =
            parse(r#"{"type":1,"target":"t","arguments":[[1,,2]]}"#).unwrap()
        else {
            panic!()
        };
        assert!(arguments[0].decode::<Vec<u8>>().is_err());
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

use serde::Deserialize;

use super::super::HubProtocol;
use super::*;

const MP: HubProtocol = HubProtocol::MessagePack;

fn varint(len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    write_varint(len, &mut out);
    out
}

fn framed(message: &HubMessage) -> Vec<u8> {
    let mut out = Vec::new();
    write(message, &mut out).unwrap();
    out
}

/// The body of a framed record (checks that the prefix is right).
fn body(framed: &[u8]) -> &[u8] {
    let (len, prefix_len) = read_varint(framed).unwrap().unwrap();
    assert_eq!(framed.len(), prefix_len + len as usize, "prefix matches the body length");
    &framed[prefix_len..]
}

fn parse(record: &[u8]) -> HubMessage {
    parse_message(record).unwrap().expect("a known message type")
}

fn records(framer: &mut BinaryFramer, chunk: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    framer.push(chunk, |r| out.push(r.to_vec())).unwrap();
    out
}

fn bytes_of(payload: &Payload) -> &[u8] {
    match payload {
        Payload::MessagePack(bytes) => bytes,
        Payload::Json(_) => panic!("expected a MessagePack payload"),
    }
}

fn headers(pairs: &[(&str, &str)]) -> Headers {
    pairs.iter().map(|&(k, v)| (k.to_owned(), v.to_owned())).collect()
}

/// A tiny deterministic generator (xorshift64*).
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One message of every type, with headers and stream ids where they fit.
fn every_message() -> Vec<HubMessage> {
    vec![
        HubMessage::Invocation {
            invocation_id: Some("1".into()),
            target: "Send".into(),
            arguments: vec![MP.payload(&42).unwrap(), MP.payload("x").unwrap()],
            stream_ids: vec!["s1".into(), "s2".into()],
            headers: headers(&[("Foo", "Bar"), ("a", "")]),
        },
        HubMessage::Invocation {
            invocation_id: None,
            target: "Notify".into(),
            arguments: vec![],
            stream_ids: vec![],
            headers: Headers::new(),
        },
        HubMessage::StreamItem {
            invocation_id: "2".into(),
            item: MP.payload(&vec![1.5f64, -2.0]).unwrap(),
            headers: headers(&[("k", "v")]),
        },
        HubMessage::Completion {
            invocation_id: "3".into(),
            result: Some(MP.payload(&Option::<u8>::None).unwrap()),
            error: None,
            headers: Headers::new(),
        },
        HubMessage::Completion {
            invocation_id: "4".into(),
            result: None,
            error: Some("boom".into()),
            headers: Headers::new(),
        },
        HubMessage::Completion { invocation_id: "5".into(), result: None, error: None, headers: Headers::new() },
        HubMessage::StreamInvocation {
            invocation_id: "6".into(),
            target: "Counter".into(),
            arguments: vec![MP.payload(&10).unwrap(), MP.payload(&500).unwrap()],
            stream_ids: vec!["up".into()],
            headers: Headers::new(),
        },
        HubMessage::CancelInvocation { invocation_id: "6".into(), headers: headers(&[("x", "y")]) },
        HubMessage::Ping,
        HubMessage::Close { error: None, allow_reconnect: false },
        HubMessage::Close { error: Some("server going down".into()), allow_reconnect: true },
        HubMessage::Ack { sequence_id: 1394 },
        HubMessage::Sequence { sequence_id: u64::MAX },
    ]
}

// --- VarInt ------------------------------------------------------------------------------

#[test]
fn varints_encode_and_decode() {
    let cases: [(usize, &[u8]); 7] = [
        (0, &[0x00]),
        (1, &[0x01]),
        (127, &[0x7f]),
        (128, &[0x80, 0x01]),
        (5248, &[0x80, 0x29]),
        (16_384, &[0x80, 0x80, 0x01]),
        (0x7fff_ffff, &[0xff, 0xff, 0xff, 0xff, 0x07]),
    ];
    for (len, bytes) in cases {
        assert_eq!(varint(len), bytes, "encoding {len}");
        assert_eq!(read_varint(bytes).unwrap(), Some((len as u64, bytes.len())), "decoding {len}");
        // Anything after the prefix is not part of it.
        let mut longer = bytes.to_vec();
        longer.extend_from_slice(&[0xff, 0x01]);
        assert_eq!(read_varint(&longer).unwrap(), Some((len as u64, bytes.len())));
        // Every strict prefix of a multi-byte VarInt is incomplete.
        for cut in 0..bytes.len() {
            assert_eq!(read_varint(&bytes[..cut]).unwrap(), None, "{len} cut at {cut}");
        }
    }
    assert!(read_varint(&[0x80, 0x80, 0x80, 0x80, 0x80]).is_err(), "5 bytes, all continued");
    assert!(read_varint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).is_err(), "6 bytes");
}

// --- Framer ------------------------------------------------------------------------------

#[test]
fn framer_delivers_several_records_in_one_chunk() {
    let mut stream = Vec::new();
    for message in [HubMessage::Ping, HubMessage::Ack { sequence_id: 3 }, HubMessage::Ping] {
        write(&message, &mut stream).unwrap();
    }
    stream.push(0x00); // an empty record
    stream.extend_from_slice(&[0x02, 0x91]); // the start of a fourth one
    let mut framer = BinaryFramer::default();
    let got = records(&mut framer, &stream);
    assert_eq!(got, [vec![0x91, 0x06], vec![0x92, 0x08, 0x03], vec![0x91, 0x06], vec![]]);
    assert_eq!(framer.pending(), 2);
    assert_eq!(records(&mut framer, &[0x06]), [vec![0x91, 0x06]]);
    assert_eq!(framer.pending(), 0);
    assert!(records(&mut framer, &[]).is_empty());
}

#[test]
fn framer_joins_a_record_split_at_every_byte_position() {
    // A record with a two-byte prefix between two small ones.
    let long = HubMessage::Invocation {
        invocation_id: None,
        target: "t".repeat(300),
        arguments: vec![],
        stream_ids: vec![],
        headers: Headers::new(),
    };
    let mut stream = Vec::new();
    for message in [&HubMessage::Ping, &long, &HubMessage::Sequence { sequence_id: 200 }] {
        write(message, &mut stream).unwrap();
    }
    let mut expected = Vec::new();
    BinaryFramer::default().push(&stream, |r| expected.push(r.to_vec())).unwrap();
    assert_eq!(expected.len(), 3);
    assert!(expected[1].len() > 300);

    for split in 0..=stream.len() {
        let mut framer = BinaryFramer::new(1000);
        let mut got = records(&mut framer, &stream[..split]);
        got.extend(records(&mut framer, &stream[split..]));
        assert_eq!(got, expected, "split at {split}");
        assert_eq!(framer.pending(), 0);
    }

    // One byte at a time: the buffer holds exactly what has not been delivered.
    let mut framer = BinaryFramer::new(1000);
    let mut got = Vec::new();
    let mut delivered = 0;
    for (i, byte) in stream.iter().enumerate() {
        let new = records(&mut framer, std::slice::from_ref(byte));
        for record in &new {
            delivered += varint(record.len()).len() + record.len();
        }
        got.extend(new);
        assert_eq!(framer.pending(), i + 1 - delivered, "after byte {i}");
    }
    assert_eq!(got, expected);
}

#[test]
fn framer_refuses_an_oversized_declared_length_and_resets() {
    let mut framer = BinaryFramer::new(100);
    // 101 declared: refused as soon as the prefix is complete.
    assert_eq!(framer.push(&[0x65, 1, 2, 3], |_| panic!()), Err(ProtocolError::RecordTooLarge { limit: 100 }));
    assert_eq!(framer.pending(), 0);

    // The prefix split across chunks: refused once it completes.
    assert!(records(&mut framer, &[0x80]).is_empty());
    assert_eq!(framer.pending(), 1);
    assert_eq!(framer.push(&[0x01], |_| panic!()), Err(ProtocolError::RecordTooLarge { limit: 100 }));
    assert_eq!(framer.pending(), 0);

    // A huge length is refused before anything is buffered; records before it are delivered.
    let mut got = Vec::new();
    let result = framer.push(&[0x02, 0x91, 0x06, 0xff, 0xff, 0xff, 0xff, 0x07, 0x00], |r| got.push(r.to_vec()));
    assert_eq!(result, Err(ProtocolError::RecordTooLarge { limit: 100 }));
    assert_eq!(got, [vec![0x91, 0x06]]);
    assert_eq!(framer.pending(), 0);

    // It starts over at the next chunk; exactly the limit is fine.
    let mut record = vec![100];
    record.extend(std::iter::repeat_n(0xc0, 100));
    assert_eq!(records(&mut framer, &record), [vec![0xc0; 100]]);

    // Limits above 2 GB still refuse lengths over 2 GB.
    let mut unlimited = BinaryFramer::new(usize::MAX);
    assert!(matches!(
        unlimited.push(&[0x80, 0x80, 0x80, 0x80, 0x08], |_| panic!()),
        Err(ProtocolError::InvalidMessage(_))
    ));
}

#[test]
fn framer_refuses_a_six_byte_varint() {
    let mut framer = BinaryFramer::default();
    assert!(matches!(
        framer.push(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x00], |_| panic!()),
        Err(ProtocolError::InvalidMessage(_))
    ));
    assert_eq!(framer.pending(), 0);
    // Split: the error comes with the fifth continued byte, whatever the chunking.
    assert!(records(&mut framer, &[0x80, 0x80, 0x80]).is_empty());
    assert_eq!(framer.pending(), 3);
    assert!(matches!(framer.push(&[0x80, 0x80], |_| panic!()), Err(ProtocolError::InvalidMessage(_))));
    assert_eq!(framer.pending(), 0);
    assert_eq!(records(&mut framer, &[0x02, 0x91, 0x06]), [vec![0x91, 0x06]], "it recovers");
}

// --- Exact bytes -------------------------------------------------------------------------

#[test]
fn ping_is_exactly_three_bytes() {
    assert_eq!(framed(&HubMessage::Ping), [0x02, 0x91, 0x06]);
    assert!(matches!(parse_message(&[0x91, 0x06]), Ok(Some(HubMessage::Ping))));
    assert!(matches!(MP.write(&HubMessage::Ping), Ok(super::super::Frame::Binary(b)) if b == [0x02, 0x91, 0x06]));
}

#[test]
fn small_invocation_has_the_expected_bytes() {
    let message = HubMessage::Invocation {
        invocation_id: Some("1".into()),
        target: "Send".into(),
        arguments: vec![MP.payload(&42).unwrap(), MP.payload("x").unwrap()],
        stream_ids: vec![],
        headers: Headers::new(),
    };
    #[rustfmt::skip]
    let expected = [
        0x0f, // length 15
        0x96, // array of 6
        0x01, // Invocation
        0x80, // no headers
        0xa1, b'1', // invocationId
        0xa4, b'S', b'e', b'n', b'd', // target
        0x92, 0x2a, 0xa1, b'x', // arguments [42, "x"]
        0x90, // streamIds []
    ];
    assert_eq!(framed(&message), expected);

    let with_headers = HubMessage::Invocation {
        invocation_id: None,
        target: "T".into(),
        arguments: vec![],
        stream_ids: vec!["s".into()],
        headers: headers(&[("a", "b")]),
    };
    #[rustfmt::skip]
    let expected = [
        0x0e, 0x96, 0x01,
        0x81, 0xa1, b'a', 0xa1, b'b', // {"a": "b"}
        0xc0, // nil invocationId
        0xa1, b'T', 0x90,
        0x91, 0xa1, b's', // ["s"]
    ];
    assert_eq!(framed(&with_headers), expected);
}

#[test]
fn other_messages_have_the_expected_bytes() {
    let cases: [(HubMessage, &[u8]); 7] = [
        (
            HubMessage::StreamItem {
                invocation_id: "1".into(),
                item: MP.payload(&7).unwrap(),
                headers: Headers::new(),
            },
            &[0x94, 0x02, 0x80, 0xa1, b'1', 0x07],
        ),
        (
            HubMessage::Completion { invocation_id: "1".into(), result: None, error: None, headers: Headers::new() },
            &[0x94, 0x03, 0x80, 0xa1, b'1', 0x02],
        ),
        (
            HubMessage::Completion {
                invocation_id: "1".into(),
                result: None,
                error: Some("e".into()),
                headers: Headers::new(),
            },
            &[0x95, 0x03, 0x80, 0xa1, b'1', 0x01, 0xa1, b'e'],
        ),
        (
            HubMessage::Completion {
                invocation_id: "1".into(),
                result: Some(MP.payload(&true).unwrap()),
                error: None,
                headers: Headers::new(),
            },
            &[0x95, 0x03, 0x80, 0xa1, b'1', 0x03, 0xc3],
        ),
        (
            HubMessage::CancelInvocation { invocation_id: "1".into(), headers: Headers::new() },
            &[0x93, 0x05, 0x80, 0xa1, b'1'],
        ),
        (HubMessage::Close { error: None, allow_reconnect: false }, &[0x93, 0x07, 0xc0, 0xc2]),
        (HubMessage::Ack { sequence_id: 300 }, &[0x92, 0x08, 0xcd, 0x01, 0x2c]),
    ];
    for (message, expected) in cases {
        assert_eq!(body(&framed(&message)), expected, "{message:?}");
    }
}

// --- Round trips -------------------------------------------------------------------------

#[test]
fn every_message_type_round_trips() {
    for message in every_message() {
        let first = framed(&message);
        let back = parse(body(&first));
        assert_eq!(std::mem::discriminant(&back), std::mem::discriminant(&message));
        assert_eq!(framed(&back), first, "{message:?}");
        assert_eq!(format!("{back:?}"), format!("{message:?}"), "fields survive");
    }
}

#[test]
fn write_appends_to_what_is_already_there() {
    let mut out = vec![0xaa];
    write(&HubMessage::Ping, &mut out).unwrap();
    write(&HubMessage::Ack { sequence_id: 1 }, &mut out).unwrap();
    assert_eq!(out, [0xaa, 0x02, 0x91, 0x06, 0x03, 0x92, 0x08, 0x01]);
}

#[test]
fn invocation_arguments_decode_into_application_types() {
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Reading {
        device_id: String,
        value: f64,
        tags: Vec<String>,
    }
    let reading = Reading { device_id: "p-1".into(), value: 2.5, tags: vec!["a".into()] };
    let message = HubMessage::Invocation {
        invocation_id: None,
        target: "Reading".into(),
        arguments: vec![MP.payload(&reading).unwrap(), MP.payload(&7u32).unwrap()],
        stream_ids: vec![],
        headers: Headers::new(),
    };
    let record = framed(&message);
    // Structs travel as maps with their field names, as the JS client expects.
    assert!(record.windows(8).any(|w| w == b"deviceId"));
    let HubMessage::Invocation { arguments, .. } = parse(body(&record)) else { panic!() };
    assert_eq!(arguments.len(), 2);
    assert_eq!(arguments[0].decode::<Reading>().unwrap(), reading);
    assert_eq!(arguments[1].decode::<u32>().unwrap(), 7);
    assert!(arguments[0].decode::<u32>().is_err());
}

#[test]
fn completions_carry_an_error_nothing_or_a_result() {
    let error = parse(&[0x95, 0x03, 0x80, 0xa1, b'9', 0x01, 0xa3, b'b', b'a', b'd']);
    let HubMessage::Completion { invocation_id, result: None, error: Some(error), .. } = error else { panic!() };
    assert_eq!((invocation_id.as_str(), error.as_str()), ("9", "bad"));

    let void = parse(&[0x94, 0x03, 0x80, 0xa1, b'9', 0x02]);
    assert!(matches!(void, HubMessage::Completion { result: None, error: None, .. }));

    let value = parse(&[0x95, 0x03, 0x80, 0xa1, b'9', 0x03, 0x92, 0x01, 0xa1, b'z']);
    let HubMessage::Completion { result: Some(result), error: None, .. } = value else { panic!() };
    assert_eq!(bytes_of(&result), [0x92, 0x01, 0xa1, b'z']);
    assert_eq!(result.decode::<(u8, String)>().unwrap(), (1, "z".to_owned()));

    // A nil result is a result, not a void completion.
    let nil = parse(&[0x95, 0x03, 0x80, 0xa1, b'9', 0x03, 0xc0]);
    assert!(matches!(nil, HubMessage::Completion { result: Some(_), .. }));

    // Missing result or error, an unknown kind, an error that is not a string.
    assert!(parse_message(&[0x94, 0x03, 0x80, 0xa1, b'9', 0x01]).is_err());
    assert!(parse_message(&[0x94, 0x03, 0x80, 0xa1, b'9', 0x03]).is_err());
    assert!(parse_message(&[0x95, 0x03, 0x80, 0xa1, b'9', 0x04, 0xc0]).is_err());
    assert!(parse_message(&[0x95, 0x03, 0x80, 0xa1, b'9', 0x01, 0x05]).is_err());

    // The error wins if a Completion somehow has both.
    let both = HubMessage::Completion {
        invocation_id: "1".into(),
        result: Some(MP.payload(&1).unwrap()),
        error: Some("e".into()),
        headers: Headers::new(),
    };
    assert!(matches!(parse(body(&framed(&both))), HubMessage::Completion { result: None, error: Some(_), .. }));
}

#[test]
fn close_ack_and_sequence_variants() {
    assert!(matches!(parse(&[0x92, 0x07, 0xc0]), HubMessage::Close { error: None, allow_reconnect: false }));
    let HubMessage::Close { error: Some(error), allow_reconnect: true } =
        parse(&[0x93, 0x07, 0xa3, b'b', b'y', b'e', 0xc3])
    else {
        panic!()
    };
    assert_eq!(error, "bye");
    assert!(parse_message(&[0x91, 0x07]).is_err(), "error element is required");
    assert!(parse_message(&[0x93, 0x07, 0xc0, 0x01]).is_err(), "allowReconnect must be a boolean");

    assert!(matches!(parse(&[0x92, 0x08, 0x00]), HubMessage::Ack { sequence_id: 0 }));
    assert!(matches!(
        parse(&[0x92, 0x09, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
        HubMessage::Sequence { sequence_id: u64::MAX }
    ));
    assert!(matches!(parse(&[0x92, 0x09, 0xd1, 0x01, 0x00]), HubMessage::Sequence { sequence_id: 256 }));
    assert!(parse_message(&[0x92, 0x08, 0xff]).is_err(), "negative sequence id");
    assert!(parse_message(&[0x92, 0x08, 0xa1, b'1']).is_err(), "string sequence id");
    assert!(parse_message(&[0x91, 0x09]).is_err(), "missing sequence id");
}

#[test]
fn stream_ids_are_optional() {
    // An older sender's five-element Invocation and StreamInvocation.
    let HubMessage::Invocation { invocation_id: None, target, arguments, stream_ids, .. } =
        parse(&[0x95, 0x01, 0x80, 0xc0, 0xa1, b'T', 0x91, 0x05])
    else {
        panic!()
    };
    assert_eq!((target.as_str(), arguments.len(), stream_ids.len()), ("T", 1, 0));
    let HubMessage::StreamInvocation { invocation_id, stream_ids, .. } =
        parse(&[0x95, 0x04, 0x80, 0xa1, b'7', 0xa1, b'T', 0x90])
    else {
        panic!()
    };
    assert_eq!((invocation_id.as_str(), stream_ids.len()), ("7", 0));
    // nil stream ids are read as none.
    assert!(matches!(
        parse(&[0x96, 0x01, 0x80, 0xc0, 0xa1, b'T', 0x90, 0xc0]),
        HubMessage::Invocation { stream_ids, .. } if stream_ids.is_empty()
    ));
    // A StreamInvocation needs an id; four elements are too few.
    assert!(parse_message(&[0x95, 0x04, 0x80, 0xc0, 0xa1, b'T', 0x90]).is_err());
    assert!(parse_message(&[0x94, 0x01, 0x80, 0xc0, 0xa1, b'T']).is_err());
}

#[test]
fn json_payloads_are_converted() {
    #[derive(Serialize)]
    struct Point {
        x: i32,
        y: &'static str,
    }
    let json = HubProtocol::Json;
    let message = HubMessage::Invocation {
        invocation_id: None,
        target: "T".into(),
        arguments: vec![json.payload(&Point { x: -3, y: "up" }).unwrap(), json.payload(&[1.5, 2.0]).unwrap()],
        stream_ids: vec![],
        headers: Headers::new(),
    };
    let HubMessage::Invocation { arguments, .. } = parse(body(&framed(&message))) else { panic!() };
    assert_eq!(bytes_of(&arguments[0]), [0x82, 0xa1, b'x', 0xfd, 0xa1, b'y', 0xa2, b'u', b'p']);
    assert_eq!(arguments[1].decode::<Vec<f64>>().unwrap(), [1.5, 2.0]);
}

#[test]
fn bad_outgoing_payloads_are_refused() {
    for bad in [vec![], vec![0x92, 0x01], vec![0x01, 0x02], vec![0xc1]] {
        let message = HubMessage::StreamItem {
            invocation_id: "1".into(),
            item: Payload::MessagePack(bad),
            headers: Headers::new(),
        };
        let mut out = vec![0xaa];
        assert!(matches!(write(&message, &mut out), Err(ProtocolError::Encode(_))));
        assert_eq!(out, [0xaa], "nothing is written on error");
    }
}

#[test]
fn write_invocation_encodes_the_arguments_directly() {
    #[derive(Serialize)]
    struct Position {
        id: u8,
        lat: f32,
    }
    let batch = vec![Position { id: 1, lat: 0.5 }];
    let fast = write_invocation("positions", [&batch]).unwrap();
    let slow = framed(&HubMessage::Invocation {
        invocation_id: None,
        target: "positions".into(),
        arguments: vec![MP.payload(&batch).unwrap()],
        stream_ids: vec![],
        headers: Headers::new(),
    });
    assert_eq!(fast, slow);
    let HubMessage::Invocation { arguments, .. } = parse(body(&fast)) else { panic!() };
    assert_eq!(arguments.len(), 1);
    assert_eq!(bytes_of(&arguments[0])[..4], [0x91, 0x82, 0xa2, b'i'], "an array of maps with field names");

    assert_eq!(
        body(&write_invocation("t", (1, "a")).unwrap()),
        [0x96, 0x01, 0x80, 0xc0, 0xa1, b't', 0x92, 0x01, 0xa1, b'a', 0x90]
    );
    assert_eq!(body(&write_invocation("t", [0u8; 0]).unwrap())[6], 0x90);
    assert!(matches!(write_invocation("t", 5), Err(ProtocolError::Encode(_))));
    assert!(matches!(write_invocation("t", Position { id: 1, lat: 0.0 }), Err(ProtocolError::Encode(_))));
}

// --- Tolerance and errors ----------------------------------------------------------------

#[test]
fn unknown_types_are_skipped() {
    assert!(matches!(parse_message(&[0x91, 0x63]), Ok(None)));
    assert!(matches!(parse_message(&[0x93, 0x0a, 0xa1, b'x', 0x92, 0xc0, 0x80]), Ok(None)));
    assert!(matches!(parse_message(&[0x91, 0xff]), Ok(None)), "negative type");
    assert!(matches!(parse_message(&[0x91, 0xce, 0xff, 0xff, 0xff, 0xff]), Ok(None)));
    assert!(matches!(parse_message(&[0x91, 0x00]), Ok(None)));
    // ... as long as the whole message is well formed.
    assert!(parse_message(&[0x92, 0x63, 0xa5, b'x']).is_err());
    assert!(parse_message(&[0x92, 0x63]).is_err());
}

#[test]
fn trailing_elements_are_tolerated() {
    let extra = [0x81, 0xa1, b'k', 0x93, 0xc3, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0, 0xd4, 0x01, 0x02];
    for message in every_message() {
        let record = body(&framed(&message)).to_vec();
        let count = (record[0] & 0x0f) as usize;
        // Same elements plus two more, as array16 to also exercise that marker.
        let mut longer = vec![0xdc, 0x00, (count + 2) as u8];
        longer.extend_from_slice(&record[1..]);
        longer.extend_from_slice(&extra);
        longer.push(0x2a);
        let back = parse(&longer);
        assert_eq!(framed(&back), framed(&message), "{message:?}");
    }
    // A Close with an element after allowReconnect.
    assert!(matches!(parse(&[0x94, 0x07, 0xc0, 0xc2, 0x01]), HubMessage::Close { .. }));
}

#[test]
fn truncated_inputs_are_errors() {
    for message in every_message() {
        let record = body(&framed(&message)).to_vec();
        for cut in 0..record.len() {
            assert!(
                matches!(parse_message(&record[..cut]), Err(ProtocolError::InvalidMessage(_))),
                "{message:?} cut at {cut}"
            );
        }
        let mut longer = record.clone();
        longer.push(0xc0);
        assert!(parse_message(&longer).is_err(), "trailing bytes after the array");
    }
}

#[test]
fn garbage_inputs_are_errors() {
    let garbage: [&[u8]; 16] = [
        &[],
        &[0x06],                                                 // not an array
        &[0x81, 0x01, 0x06],                                     // a map
        &[0x90],                                                 // empty array
        &[0x91, 0xa1, b'x'],                                     // type is a string
        &[0x91, 0xc0],                                           // type is nil
        &[0x91, 0xca, 0, 0, 0, 0],                               // type is a float
        &[0x92, 0x05, 0x80],                                     // CancelInvocation too short
        &[0x93, 0x05, 0x90, 0xa1, b'1'],                         // headers are an array
        &[0x93, 0x05, 0x81, 0xa1, b'a', 0x01, 0xa1, b'1'],       // header value not a string
        &[0x93, 0x05, 0x80, 0x01],                               // invocationId not a string
        &[0x93, 0x05, 0x80, 0xa2, 0xff, 0xfe],                   // invalid UTF-8
        &[0x95, 0x01, 0x80, 0xc0, 0xa1, b'T', 0x80],             // arguments are a map
        &[0x95, 0x01, 0x80, 0xc0, 0xc0, 0x90],                   // target nil
        &[0x95, 0x01, 0x80, 0xc0, 0xa1, b'T', 0x91, 0xc1],       // reserved marker in an argument
        &[0x96, 0x01, 0x80, 0xc0, 0xa1, b'T', 0x90, 0x91, 0x01], // stream id not a string
    ];
    for (i, record) in garbage.iter().enumerate() {
        assert!(matches!(parse_message(record), Err(ProtocolError::InvalidMessage(_))), "case {i}: {record:02x?}");
    }
}

#[test]
fn every_msgpack_format_is_measured() {
    let values: Vec<Vec<u8>> = vec![
        vec![0xc0],
        vec![0xc2],
        vec![0xc3],
        vec![0x05],
        vec![0x7f],
        vec![0xe0],
        vec![0xff],
        vec![0xcc, 0x01],
        vec![0xcd, 0x01, 0x02],
        vec![0xce, 1, 2, 3, 4],
        vec![0xcf, 1, 2, 3, 4, 5, 6, 7, 8],
        vec![0xd0, 0x80],
        vec![0xd1, 1, 2],
        vec![0xd2, 1, 2, 3, 4],
        vec![0xd3, 1, 2, 3, 4, 5, 6, 7, 8],
        vec![0xca, 1, 2, 3, 4],
        vec![0xcb, 1, 2, 3, 4, 5, 6, 7, 8],
        vec![0xa0],
        vec![0xa3, b'a', b'b', b'c'],
        [&[0xbf][..], &[b'z'; 31]].concat(),
        vec![0xd9, 0x02, b'h', b'i'],
        vec![0xda, 0x00, 0x01, b'h'],
        vec![0xdb, 0x00, 0x00, 0x00, 0x01, b'h'],
        vec![0xc4, 0x02, 9, 9],
        vec![0xc5, 0x00, 0x01, 9],
        vec![0xc6, 0x00, 0x00, 0x00, 0x01, 9],
        vec![0x90],
        vec![0x92, 0x01, 0xc0],
        vec![0xdc, 0x00, 0x02, 0x01, 0x02],
        vec![0xdd, 0x00, 0x00, 0x00, 0x01, 0xc3],
        vec![0x80],
        vec![0x81, 0xa1, b'k', 0x92, 0x01, 0x81, 0x02, 0x03],
        vec![0xde, 0x00, 0x01, 0x01, 0x02],
        vec![0xdf, 0x00, 0x00, 0x00, 0x01, 0xc0, 0xc0],
        vec![0xd4, 0x01, 0xaa],
        vec![0xd5, 0x01, 0xaa, 0xbb],
        vec![0xd6, 0xff, 1, 2, 3, 4],
        vec![0xd7, 0xff, 1, 2, 3, 4, 5, 6, 7, 8],
        [&[0xd8, 0x05][..], &[7; 16]].concat(),
        vec![0xc7, 0x00, 0x05],
        vec![0xc7, 0x02, 0x05, 1, 2],
        vec![0xc8, 0x00, 0x01, 0x05, 1],
        vec![0xc9, 0x00, 0x00, 0x00, 0x01, 0x05, 1],
    ];
    for value in &values {
        // As a StreamItem's item, followed by an extra element so a wrong length shows.
        let mut record = vec![0x95, 0x02, 0x80, 0xa1, b'1'];
        record.extend_from_slice(value);
        record.push(0xc0);
        let HubMessage::StreamItem { item, .. } = parse(&record) else { panic!() };
        assert_eq!(bytes_of(&item), &value[..], "{value:02x?}");
        // Without its last byte the value is truncated.
        let mut short = vec![0x94, 0x02, 0x80, 0xa1, b'1'];
        short.extend_from_slice(&value[..value.len() - 1]);
        assert!(parse_message(&short).is_err(), "{value:02x?} truncated");
    }
    // All of them in one arguments array.
    let mut record = vec![0x95, 0x01, 0x80, 0xc0, 0xa1, b'T', 0xdc, 0x00, values.len() as u8];
    values.iter().for_each(|v| record.extend_from_slice(v));
    let HubMessage::Invocation { arguments, .. } = parse(&record) else { panic!() };
    assert!(arguments.iter().map(bytes_of).eq(values.iter().map(Vec::as_slice)));
}

fn nested_arrays(depth: usize) -> Vec<u8> {
    let mut value = vec![0x91; depth];
    value.push(0x01);
    value
}

fn item_record(value: &[u8]) -> Vec<u8> {
    let mut record = vec![0x94, 0x02, 0x80, 0xa1, b'1'];
    record.extend_from_slice(value);
    record
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    assert!(parse_message(&item_record(&nested_arrays(MAX_DEPTH))).is_ok());
    assert!(parse_message(&item_record(&nested_arrays(MAX_DEPTH + 1))).is_err());
    let mut maps = [0x81u8, 0x01].repeat(MAX_DEPTH + 1);
    maps.push(0xc0);
    assert!(parse_message(&item_record(&maps)).is_err());

    for depth in [10_000, 1_000_000] {
        let record = item_record(&nested_arrays(depth));
        assert!(matches!(parse_message(&record), Err(ProtocolError::InvalidMessage(_))));
        let deep_argument = [&[0x95, 0x01, 0x80, 0xc0, 0xa1, b'T', 0x91][..], &nested_arrays(depth)].concat();
        assert!(parse_message(&deep_argument).is_err());
    }
}

#[test]
fn huge_declared_lengths_fail_fast() {
    let huge: [&[u8]; 10] = [
        &[0xdb, 0xff, 0xff, 0xff, 0xff, b'a'],
        &[0xc6, 0xff, 0xff, 0xff, 0xff, 0x00],
        &[0xc9, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00],
        &[0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0],
        &[0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0, 0xc0],
        &[0xdf, 0x80, 0x00, 0x00, 0x00, 0xc0, 0xc0],
        &[0xda, 0xff, 0xff],
        &[0xdc, 0xff, 0xff, 0xc0],
        &[0xde, 0xff, 0xff],
        &[0xd9, 0x10, b'a'],
    ];
    #[allow(clippy::disallowed_methods)] // a native test times itself
    let start = std::time::Instant::now();
    for value in huge {
        assert!(parse_message(&item_record(value)).is_err(), "{value:02x?}");
        // As the message array, arguments, headers, stream ids and strings of the envelope.
        assert!(parse_message(&[&[0xdd, 0xff, 0xff, 0xff, 0xff][..], value].concat()).is_err());
        let arguments = [&[0x95, 0x01, 0x80, 0xc0, 0xa1, b'T'][..], value].concat();
        assert!(parse_message(&arguments).is_err());
    }
    assert!(parse_message(&[0x93, 0x05, 0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, b'a']).is_err());
    assert!(parse_message(&[0x96, 0x01, 0x80, 0xc0, 0xa1, b'T', 0x90, 0xdd, 0xff, 0xff, 0xff, 0xff]).is_err());
    assert!(parse_message(&[0x93, 0x05, 0x80, 0xdb, 0xff, 0xff, 0xff, 0xff, b'1']).is_err());
    assert!(start.elapsed() < std::time::Duration::from_secs(2), "no work proportional to declared lengths");
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    // Pure noise, biased towards markers that declare lengths.
    for _ in 0..20_000 {
        let len = rng.below(48);
        let bytes: Vec<u8> = (0..len)
            .map(|_| match rng.below(4) {
                0 => {
                    [0x90, 0x91, 0x95, 0x96, 0x80, 0x81, 0xa1, 0xc0, 0xdc, 0xdd, 0xde, 0xdf, 0xdb, 0xc9][rng.below(14)]
                }
                1 => rng.below(10) as u8,
                _ => rng.next() as u8,
            })
            .collect();
        let _ = parse_message(&bytes);
        let mut framer = BinaryFramer::new(64);
        let mut seen = 0;
        let _ = framer.push(&bytes, |r| seen += r.len());
        assert!(seen <= bytes.len() && framer.pending() <= 64 + MAX_VARINT_BYTES);
    }
    // Valid messages with a few bytes changed, dropped or added.
    let valid: Vec<Vec<u8>> = every_message().iter().map(|m| body(&framed(m)).to_vec()).collect();
    for _ in 0..20_000 {
        let mut bytes = valid[rng.below(valid.len())].clone();
        for _ in 0..1 + rng.below(3) {
            let at = rng.below(bytes.len() + 1);
            match rng.below(3) {
                0 if at < bytes.len() => bytes[at] = rng.next() as u8,
                1 if at < bytes.len() => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, rng.next() as u8),
            }
        }
        if let Ok(Some(message)) = parse_message(&bytes) {
            // Whatever parses can be written again and reads back the same.
            let again = framed(&message);
            assert_eq!(framed(&parse(body(&again))), again);
        }
    }
}

//! Properties of the protocol core over arbitrary input: it never panics, and framing does
//! not depend on where the network happened to split the stream.
#![cfg(not(target_arch = "wasm32"))]

use proptest::prelude::*;
use signalr::negotiate::parse_response;
use signalr::protocol::{Framer, HubMessage, HubProtocol, Payload};
use signalr::{Session, SessionConfig};

/// Records of `stream` fed to `framer` in pieces cut at `cuts`.
fn records(mut framer: Framer, stream: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&stream.len())) {
        let cut = cut.clamp(start, stream.len());
        framer.push(&stream[start..cut], |r| out.push(r.to_vec())).unwrap();
        start = cut;
    }
    out
}

fn invocation(protocol: HubProtocol, text: &str, n: i64) -> Vec<u8> {
    let message = HubMessage::Invocation {
        invocation_id: Some(n.to_string()),
        target: "t".into(),
        arguments: vec![protocol.payload(text).unwrap(), protocol.payload(&n).unwrap()],
        stream_ids: vec![],
        headers: Default::default(),
    };
    protocol.write(&message).unwrap().as_bytes().to_vec()
}

/// 512 cases per property in the test command; `PROPTEST_CASES=100000` for a longer run.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn negotiate_parsing_never_panics(body in ".*") {
        let _ = parse_response(&body);
    }

    #[test]
    fn message_parsing_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = HubProtocol::Json.parse(&bytes);
        let _ = HubProtocol::MessagePack.parse(&bytes);
    }

    #[test]
    fn payload_decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256), flip in any::<(usize, u8)>()) {
        // Arbitrary bytes, and a valid encoding of a nested value with one byte changed.
        let value = serde_json::json!({"id": "veh-1", "lat": 47.5, "n": -3, "list": [1, "two", null, {"x": [true]}]});
        let mut mutated = rmp_serde::to_vec_named(&value).unwrap();
        let at = flip.0 % mutated.len();
        mutated[at] ^= flip.1.max(1);
        for input in [&bytes, &mutated] {
            let payload = Payload::MessagePack(input.clone());
            let _ = payload.decode::<serde_json::Value>();
            let _ = payload.decode::<Vec<(String, f64)>>();
            let _ = payload.decode::<serde::de::IgnoredAny>();
        }
    }

    #[test]
    fn sessions_survive_arbitrary_streams(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8),
        msgpack in any::<bool>(),
    ) {
        let protocol = if msgpack { HubProtocol::MessagePack } else { HubProtocol::Json };
        let mut session = Session::new(SessionConfig { protocol, max_record: 4096, ..SessionConfig::default() });
        session.handle_open(0);
        session.handle_data(b"{}\x1e", 1);
        for chunk in &chunks {
            session.handle_data(chunk, 2);
            session.handle_timeout(3);
        }
        while session.poll_event().is_some() {}
        while session.poll_transmit().is_some() {}
    }

    #[test]
    fn framing_does_not_depend_on_where_the_stream_is_split(
        texts in proptest::collection::vec("\\PC{0,40}", 1..6),
        mut cuts in proptest::collection::vec(0usize..2_000, 0..6),
    ) {
        cuts.sort_unstable();
        for protocol in [HubProtocol::Json, HubProtocol::MessagePack] {
            let frames: Vec<Vec<u8>> =
                texts.iter().enumerate().map(|(i, t)| invocation(protocol, t, i as i64)).collect();
            let stream: Vec<u8> = frames.concat();
            let whole = records(protocol.framer(1 << 20), &stream, &[]);
            let split = records(protocol.framer(1 << 20), &stream, &cuts);
            prop_assert_eq!(whole.len(), texts.len());
            prop_assert_eq!(&whole, &split);
            for (record, text) in whole.iter().zip(&texts) {
                let Some(HubMessage::Invocation { arguments, .. }) = protocol.parse(record).unwrap() else {
                    panic!("an invocation")
                };
                prop_assert_eq!(&arguments[0].decode::<String>().unwrap(), text);
            }
        }
    }
}

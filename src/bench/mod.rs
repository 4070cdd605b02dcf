//! Entry points for the benchmark suite only (`scripts/bench.sh`): our client's receive path,
//! exactly as a live connection runs it (framing, hub message parsing, decoding the `positions`
//! batches into typed values), over frames the benchmark page prepares, so it can be timed
//! against `@microsoft/signalr`'s parser on the same frames in the same browser, and its
//! first stages alone. Trunk exposes them as `window.wasmBindings.bench_*`. [`metrics`] is what
//! the page measures about itself while it runs live, for the same suite.

pub mod metrics;

use signalr::{HubMessage, HubProtocol, Session, SessionConfig, SessionEvent};
use telemetry::Position;
use wasm_bindgen::prelude::*;

/// A session past its handshake, ready for data.
fn connected(protocol: HubProtocol) -> Session {
    let mut session = Session::new(SessionConfig { protocol, ..SessionConfig::default() });
    session.handle_open(0);
    while session.poll_transmit().is_some() {}
    session.handle_data(b"{}\x1e", 0);
    while session.poll_event().is_some() {}
    session
}

/// Feeds `chunk` and decodes every `positions` invocation; returns how many positions.
/// With `per_invocation`, the batches are not decoded: each counts as that many positions.
fn positions(session: &mut Session, chunk: &[u8], per_invocation: Option<u32>) -> u32 {
    session.handle_data(chunk, 0);
    let mut count = 0;
    while let Some(event) = session.poll_event() {
        if let SessionEvent::Message(HubMessage::Invocation { target, arguments, .. }) = event {
            if target == telemetry::targets::POSITIONS {
                if let Some(n) = per_invocation {
                    count += n;
                } else if let Some(Ok(batch)) = arguments.first().map(crate::live::decode_batch::<Position>) {
                    count += batch.len() as u32;
                }
            }
        }
    }
    count
}

/// Decodes JSON-protocol text (records ending in 0x1E) `times` times, taking it from JS as
/// the WebSocket and SSE transports do; returns the positions decoded in total.
#[wasm_bindgen]
pub fn bench_decode_json(text: &js_sys::JsString, times: u32) -> u32 {
    let mut session = connected(HubProtocol::Json);
    (0..times).map(|_| positions(&mut session, &signalr::web::utf8_bytes(text), None)).sum()
}

/// The first stages only: the text into wasm, framing and hub messages, the batches left as
/// text; counts `per_invocation` positions per `positions` invocation.
#[wasm_bindgen]
pub fn bench_decode_json_envelope(text: &js_sys::JsString, per_invocation: u32) -> u32 {
    let mut session = connected(HubProtocol::Json);
    positions(&mut session, &signalr::web::utf8_bytes(text), Some(per_invocation))
}

/// The same for MessagePack-protocol bytes (varint length-prefixed records).
#[wasm_bindgen]
pub fn bench_decode_msgpack(bytes: &[u8], times: u32) -> u32 {
    let mut session = connected(HubProtocol::MessagePack);
    (0..times).map(|_| positions(&mut session, bytes, None)).sum()
}

/// Only brings the text into wasm memory, as the transports do; returns its length in bytes.
#[wasm_bindgen]
pub fn bench_text_into_wasm(text: &js_sys::JsString) -> u32 {
    signalr::web::utf8_bytes(text).len() as u32
}

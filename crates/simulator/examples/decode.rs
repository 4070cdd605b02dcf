//! The dashboard's JSON receive path, natively: how fast each stage runs on the benchmark's
//! frames (20 `positions` invocations of 100 positions), without the browser.
//!
//! ```sh
//! cargo run --release -p simulator --example decode
//! ```

// Native only: std's clock works here (clippy.toml forbids it for code built for wasm32).
#![allow(clippy::disallowed_methods)]

use std::hint::black_box;
use std::time::Instant;

use signalr::{HubMessage, HubProtocol, Session, SessionConfig, SessionEvent};
use telemetry::json::Batch;
use telemetry::{Position, VehicleState};

fn frames() -> String {
    let states = [VehicleState::Moving, VehicleState::Idle, VehicleState::Stopped];
    let sites = ["harbour", "airport", "old-town", "industrial"];
    let mut text = String::new();
    for r in 0..20u32 {
        let batch: Vec<Position> = (0..100u32)
            .map(|i| Position {
                id: format!("veh-{:05}", r * 100 + i),
                ts: 1_700_000_000_000 + i64::from(r * 1000 + i),
                lat: 47.37 + f64::from(i) / 10000.0,
                lon: 8.54 + f64::from(r) / 10000.0,
                heading: f64::from((i * 37) % 360),
                speed: 12.5 + f64::from(i % 40),
                state: states[i as usize % 3],
                site: sites[i as usize % 4].to_owned(),
                seq: 0,
            })
            .collect();
        text.push_str(&signalr::protocol::json::write_invocation("positions", [&batch]).unwrap());
    }
    text
}

fn time(label: &str, positions: u32, mut f: impl FnMut() -> u32) {
    for _ in 0..20 {
        black_box(f());
    }
    let rounds = 300;
    let start = Instant::now();
    let mut n = 0u64;
    for _ in 0..rounds {
        n += u64::from(black_box(f()));
    }
    let seconds = start.elapsed().as_secs_f64();
    assert_eq!(n, u64::from(positions) * rounds);
    println!("{label:<48} {:>12.0} positions/s", n as f64 / seconds);
}

fn main() {
    let text = frames();
    let mut session = Session::new(SessionConfig { protocol: HubProtocol::Json, ..SessionConfig::default() });
    session.handle_open(0);
    while session.poll_transmit().is_some() {}
    session.handle_data(b"{}\x1e", 0);
    while session.poll_event().is_some() {}
    let mut envelope = |decode: bool| {
        session.handle_data(text.as_bytes(), 0);
        let mut count = 0;
        while let Some(event) = session.poll_event() {
            if let SessionEvent::Message(HubMessage::Invocation { arguments, .. }) = event {
                count += if decode { arguments[0].decode_with(Position::from_json).unwrap().len() as u32 } else { 100 };
            }
        }
        count
    };
    println!("{} bytes of JSON, 2,000 positions", text.len());
    time("framing and hub message, arguments kept as text", 2000, || envelope(false));
    time("the whole path (what the dashboard runs)", 2000, || envelope(true));
    let batches: Vec<String> = text
        .split('\u{1e}')
        .filter(|r| !r.is_empty())
        .map(|r| {
            let start = r.find("[[").unwrap() + 1;
            r[start..r.len() - 2].to_owned()
        })
        .collect();
    time("positions batches alone: hand-written reader", 2000, || {
        batches.iter().map(|b| Position::from_json(b.as_bytes()).unwrap().len() as u32).sum()
    });
    time("positions batches alone: serde_json", 2000, || {
        batches.iter().map(|b| serde_json::from_str::<Vec<Position>>(b).unwrap().len() as u32).sum()
    });
}

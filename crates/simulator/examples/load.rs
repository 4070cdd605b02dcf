//! Load benchmark (not a test): N WebSocket clients, each receiving M messages per second from
//! the embedded service over loopback. Prints delivered messages per second and the latency
//! from the publish timestamp to receipt (p50, p99, max).
//!
//! ```sh
//! cargo run --release -p simulator --example load -- --clients 200 --rate 50 --seconds 10
//! ```

// Native only: std's clock works here (clippy.toml forbids it for code built for wasm32).
#![allow(clippy::disallowed_methods)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use signalr::negotiate::{websocket_url, NegotiateStep, Negotiator};
use signalr::{Bearer, HubMessage, Session, SessionConfig, SessionEvent};
use simulator::service::hub::Broadcast;
use tokio_tungstenite::tungstenite::Message;

struct Args {
    clients: usize,
    rate: u64,
    seconds: u64,
    batch: usize,
}

fn args() -> Args {
    let mut args = Args { clients: 100, rate: 50, seconds: 10, batch: 10 };
    let mut it = std::env::args().skip(1);
    while let (Some(flag), Some(value)) = (it.next(), it.next()) {
        let n: u64 = value.parse().unwrap_or_else(|_| panic!("{flag} needs a number"));
        match flag.as_str() {
            "--clients" => args.clients = n as usize,
            "--rate" => args.rate = n,
            "--seconds" => args.seconds = n,
            "--batch" => args.batch = n as usize,
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

fn now_micros() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as u64
}

async fn negotiate(functions: &str) -> String {
    let http = reqwest::Client::new();
    let mut negotiator = Negotiator::new(format!("{functions}/api"));
    let mut request = negotiator.first_request();
    loop {
        let mut call = http.post(&request.url);
        if let Bearer::Service(token) = &request.bearer {
            call = call.bearer_auth(token);
        }
        let response = call.send().await.unwrap();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        match negotiator.handle_response(status, &body).unwrap() {
            NegotiateStep::Request(next) => request = next,
            NegotiateStep::Done(done) => {
                let token = match &done.bearer {
                    Bearer::Service(token) => Some(token.clone()),
                    Bearer::App => None,
                };
                return websocket_url(&done.connect_url(), token.as_deref());
            }
        }
    }
}

#[tokio::main]
async fn main() {
    let args = args();
    let simulator::Local { functions, state, .. } = simulator::serve_local("load", |_| {}).await.unwrap();

    let delivered = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(std::sync::Mutex::new(Vec::<u64>::new()));
    let measuring = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..args.clients {
        let url = negotiate(&functions).await;
        let (mut socket, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        let (delivered, latencies, measuring) = (delivered.clone(), latencies.clone(), measuring.clone());
        clients.push(tokio::spawn(async move {
            let origin = Instant::now();
            let mut session = Session::new(SessionConfig::default());
            session.handle_open(0);
            while let Some(frame) = session.poll_transmit() {
                socket.send(Message::binary(frame.as_bytes().to_vec())).await.unwrap();
            }
            let mut mine = Vec::new();
            while let Some(Ok(message)) = socket.next().await {
                let Message::Text(text) = message else { continue };
                let received = now_micros();
                session.handle_data(text.as_bytes(), origin.elapsed().as_millis() as u64);
                while let Some(event) = session.poll_event() {
                    if let SessionEvent::Message(HubMessage::Invocation { arguments, .. }) = event {
                        if !measuring.load(Ordering::Relaxed) {
                            continue;
                        }
                        let sent: u64 = arguments[0].decode().unwrap_or(received);
                        mine.push(received.saturating_sub(sent));
                        delivered.fetch_add(1, Ordering::Relaxed);
                    }
                }
                while let Some(frame) = session.poll_transmit() {
                    let _ = socket.send(Message::binary(frame.as_bytes().to_vec())).await;
                }
                if mine.len() >= 4096 {
                    latencies.lock().unwrap().append(&mut mine);
                }
            }
            latencies.lock().unwrap().append(&mut mine);
        }));
    }
    let hub = state.hubs.get(telemetry::HUB);
    while hub.connection_count() < args.clients {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let filler: Vec<u32> = (0..args.batch as u32).collect();
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / args.rate.max(1)));
    let mut published = 0u64;
    while started.elapsed() < Duration::from_secs(args.seconds) {
        ticker.tick().await;
        hub.broadcast(Broadcast::invocation("load", (now_micros(), filler.clone())));
        published += 1;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    hub.close_all("benchmark over");
    tokio::time::sleep(Duration::from_millis(300)).await;
    for client in clients {
        client.abort();
    }
    let mut latencies = std::mem::take(&mut *latencies.lock().unwrap());
    latencies.sort_unstable();
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    let expected = published * args.clients as u64;
    let got = delivered.load(Ordering::Relaxed);
    println!(
        "load: {} clients x {} msg/s for {} s ({} numbers per message)",
        args.clients, args.rate, args.seconds, args.batch
    );
    println!(
        "  published {published} messages, delivered {got} of {expected} ({:.2}%)",
        got as f64 * 100.0 / expected.max(1) as f64
    );
    println!("  delivered {:.0} msg/s", got as f64 / elapsed);
    println!(
        "  latency publish -> receipt: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pick(0.50) as f64 / 1000.0,
        pick(0.99) as f64 / 1000.0,
        pick(1.0) as f64 / 1000.0
    );
}

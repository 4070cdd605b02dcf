//! Every fault the simulator can inject, in one place: the settings (from the command line),
//! the timers that fire the service's faults, and the broken frames it can send. The service
//! and the functions only ask what is set ([`Faults`] in `Settings`); the mechanisms the
//! faults use (closing, cutting, stalling connections) belong to the hub.
//!
//! | flag | what it does | where it acts |
//! |---|---|---|
//! | `--refuse-transport` | a transport is offered by negotiate but refused at connect | service |
//! | `--drop-every-secs` | close every connection (clients reconnect) | hub, timer here |
//! | `--cut-transport-every-secs` | cut every WebSocket without a close frame | hub, timer here |
//! | `--bad-frame-every-secs` | send every client a broken frame, in turn each [`BadFrame`] | hub, timer here |
//! | `--stall-every-secs`, `--stall-for-secs` | send nothing at all, pings included, for a while | hub, timer here |
//! | `--negotiate-delay-ms` | answer negotiate late | functions |

use std::sync::Arc;
use std::time::Duration;

use signalr::protocol::HubProtocol;
use signalr::TransportKind;
use tokio::time::interval;

use crate::service::hub::{Hub, OutFrame};
use crate::AppState;

/// The faults a run injects; all off by default.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Transports negotiate offers but the service refuses at connect time, like a proxy that
    /// blocks them.
    pub refused_transports: Vec<TransportKind>,
    /// Close every connection this often.
    pub drop_every: Option<Duration>,
    /// Cut every WebSocket this often (a network blip: stateful clients resume).
    pub cut_every: Option<Duration>,
    /// Send every client the next kind of broken frame this often.
    pub bad_frame_every: Option<Duration>,
    /// Every first duration, stall for the second.
    pub stall: Option<(Duration, Duration)>,
    /// Answer negotiate only after this long.
    pub negotiate_delay: Duration,
}

impl Faults {
    /// Whether a fault acts on the embedded service (which `--remote-service` does not start);
    /// the flag's name if so.
    pub fn service_fault_flag(&self) -> Option<&'static str> {
        [
            ("--refuse-transport", !self.refused_transports.is_empty()),
            ("--drop-every-secs", self.drop_every.is_some()),
            ("--cut-transport-every-secs", self.cut_every.is_some()),
            ("--bad-frame-every-secs", self.bad_frame_every.is_some()),
            ("--stall-every-secs", self.stall.is_some()),
        ]
        .into_iter()
        .find_map(|(flag, set)| set.then_some(flag))
    }

    /// Starts the timers of the faults that are set, on the telemetry hub.
    pub fn start(&self, state: &Arc<AppState>) {
        let hub = state.hubs.get(telemetry::HUB);
        if let Some(period) = self.drop_every {
            tokio::spawn(every(hub.clone(), period, |hub| {
                let dropped = hub.close_all("The simulator drops every connection (--drop-every-secs).");
                tracing::info!(dropped, "fault: dropped all connections");
            }));
        }
        if let Some(period) = self.cut_every {
            tokio::spawn(every(hub.clone(), period, |hub| {
                let cut = hub.cut_transports();
                tracing::info!(cut, "fault: cut every WebSocket");
            }));
        }
        if let Some(period) = self.bad_frame_every {
            let mut kinds = BadFrame::ALL.into_iter().cycle();
            tokio::spawn(every(hub.clone(), period, move |hub| {
                let kind = kinds.next().expect("a cycle never ends");
                let sent = hub.send_bad_frames(kind);
                tracing::info!(sent, ?kind, "fault: sent a broken frame");
            }));
        }
        if let Some((period, duration)) = self.stall {
            tokio::spawn(stall_every(hub, period, duration));
        }
    }
}

/// Runs `fault` on the hub every `period`, the first time after one period.
async fn every(hub: Arc<Hub>, period: Duration, mut fault: impl FnMut(&Hub) + Send + 'static) {
    let mut ticker = interval(period);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        fault(&hub);
    }
}

/// Every `period`, stop sending anything (pings included) for `duration`.
async fn stall_every(hub: Arc<Hub>, period: Duration, duration: Duration) {
    loop {
        tokio::time::sleep(period).await;
        tracing::info!(?duration, "fault: stalling");
        hub.set_stalled(true);
        tokio::time::sleep(duration).await;
        hub.set_stalled(false);
        tracing::info!("fault: stall over");
    }
}

/// Frames a misbehaving service (or a broken proxy) might send, for fault injection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadFrame {
    /// A record that is not valid JSON (or MessagePack).
    Invalid,
    /// A well-formed message of a type no client knows.
    UnknownType,
    /// A record larger than clients accept (1 MiB), without an end.
    Oversized,
    /// The start of a message without its terminator: the next real frame is glued to it.
    Unterminated,
}

impl BadFrame {
    /// Every kind, in the order the timer sends them.
    pub const ALL: [BadFrame; 4] =
        [BadFrame::Invalid, BadFrame::UnknownType, BadFrame::Oversized, BadFrame::Unterminated];

    /// The bytes for a connection speaking `protocol`.
    pub fn frame(self, protocol: HubProtocol) -> OutFrame {
        let oversized = || vec![b'x'; signalr::protocol::DEFAULT_MAX_RECORD + 1024];
        match (protocol, self) {
            (HubProtocol::Json, BadFrame::Invalid) => {
                OutFrame::text("{\"type\":1,\"target\":\"positions\",\"arguments\":[[{]]}\u{1e}")
            }
            (HubProtocol::Json, BadFrame::UnknownType) => OutFrame::text("{\"type\":99,\"surprise\":true}\u{1e}"),
            (HubProtocol::Json, BadFrame::Oversized) => {
                OutFrame::text(String::from_utf8(oversized()).unwrap_or_default())
            }
            (HubProtocol::Json, BadFrame::Unterminated) => {
                OutFrame::text("{\"type\":1,\"target\":\"positions\",\"arguments\":[[")
            }
            // MessagePack: a length prefix, then the record.
            (HubProtocol::MessagePack, BadFrame::Invalid) => OutFrame::binary(vec![2, 0x91, 0xc1]),
            (HubProtocol::MessagePack, BadFrame::UnknownType) => OutFrame::binary(vec![2, 0x91, 99]),
            (HubProtocol::MessagePack, BadFrame::Oversized) => {
                // A prefix announcing 2 MiB (varint), and only part of it.
                let mut bytes = vec![0x80, 0x80, 0x80, 0x01];
                bytes.extend(oversized());
                OutFrame::binary(bytes)
            }
            (HubProtocol::MessagePack, BadFrame::Unterminated) => OutFrame::binary(vec![40, 0x96, 1]),
        }
    }
}

//! One client connection on the service side: a tokio driver around the sans-IO
//! [`ServerSession`] of crates/signalr, which holds the protocol (handshake, keep-alive and
//! timeouts, Ack/Sequence, resume, Close). This task only moves things between the session
//! and the world: bytes from the transport's channel, broadcasts from the hub, the hub
//! methods' answers, the clock; and the session's frames out to the transport.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use signalr::protocol::{HubMessage, HubProtocol};
use signalr::server::{ServerConfig, ServerEvent, ServerSession};
use signalr::TransportKind;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::mpsc;
use tokio::time::{interval, MissedTickBehavior};

use super::hub::{Broadcast, Hub, Inbound, LiveConnection, OutFrame};
use super::methods::{self, Action};
use super::Timing;
use crate::AppState;

/// Sequenced frames a stateful client may fall behind (waiting for its acks) before it is
/// closed and told to reconnect.
pub const MAX_BACKLOG: usize = 4096;

/// Frames queued for a client before further broadcasts to it are dropped.
pub const OUTBOUND_CAPACITY: usize = 4096;

/// How long a stateful connection waits for its client to come back after a drop.
const RESUME_WINDOW: Duration = Duration::from_secs(30);

/// Everything a connection task needs.
pub struct Setup {
    pub state: Arc<AppState>,
    pub hub: Arc<Hub>,
    pub token: String,
    pub live: Arc<LiveConnection>,
    pub inbound: mpsc::UnboundedReceiver<Inbound>,
    pub outbound: mpsc::Sender<OutFrame>,
    pub timing: Timing,
}

/// The session's settings for one connection.
fn server_config(timing: Timing, live: &LiveConnection) -> ServerConfig {
    let ms = |d: Duration| d.as_millis() as u64;
    // A long-polling client sends no pings; it is alive while it polls, and a poll may be
    // held for the whole poll timeout.
    let client_timeout = match live.transport {
        TransportKind::LongPolling => timing.client_timeout + timing.poll_timeout,
        _ => timing.client_timeout,
    };
    ServerConfig {
        handshake_timeout: ms(timing.handshake_timeout),
        keep_alive_interval: ms(timing.keep_alive),
        client_timeout: ms(client_timeout),
        binary_transport: live.transport != TransportKind::ServerSentEvents,
        stateful_reconnect: live.stateful,
        max_backlog: MAX_BACKLOG,
        ack_delay: ms(timing.ack_delay),
        resume_window: ms(RESUME_WINDOW),
        ..ServerConfig::default()
    }
}

/// Runs the connection until it ends, then unregisters it (which ends its transport).
pub async fn run(setup: Setup) {
    let Setup { state, hub, token, live, mut inbound, outbound, timing } = setup;
    let session = ServerSession::new(server_config(timing, &live), hub.clock());
    let mut driver = Driver {
        state: &state,
        hub: &hub,
        live: &live,
        session,
        outbound,
        streams: HashMap::new(),
        replies: mpsc::unbounded_channel(),
        later: None,
        dropped: 0,
        broadcasts: None,
        answered: false,
        stalled_frames: false,
    };
    driver.serve(&mut inbound, timing).await;
    hub.remove_live(&token);
    tracing::debug!(connection_id = %live.connection_id, "client disconnected");
}

struct Driver<'a> {
    state: &'a Arc<AppState>,
    hub: &'a Hub,
    live: &'a LiveConnection,
    session: ServerSession<OutFrame>,
    outbound: mpsc::Sender<OutFrame>,
    /// Running server-to-client streams, by invocation id.
    streams: HashMap<String, tokio::task::JoinHandle<()>>,
    /// Messages from streams and deferred hub methods, to be sent on this connection.
    replies: (mpsc::UnboundedSender<HubMessage>, mpsc::UnboundedReceiver<HubMessage>),
    /// The last deferred hub method, which the next one waits for.
    later: Option<tokio::task::JoinHandle<()>>,
    /// Frames the client missed: the outbound queue was full, or the client lagged behind
    /// the hub's broadcast channel.
    dropped: u64,
    /// The hub's broadcasts, from the moment the handshake is done.
    broadcasts: Option<broadcast::Receiver<Arc<Broadcast>>>,
    /// Whether the first frame (the handshake's answer) was written.
    answered: bool,
    /// Frames were dropped by a stall since the last ping after one.
    stalled_frames: bool,
}

/// One thing that woke the driver.
enum Input {
    Broadcast(Result<Arc<Broadcast>, RecvError>),
    Inbound(Option<Inbound>),
    Reply(HubMessage),
    Tick,
}

/// The next broadcast once subscribed; never before (the handshake is not done).
async fn next_broadcast(
    broadcasts: &mut Option<broadcast::Receiver<Arc<Broadcast>>>,
) -> Result<Arc<Broadcast>, RecvError> {
    match broadcasts {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

impl Driver<'_> {
    async fn serve(&mut self, inbound: &mut mpsc::UnboundedReceiver<Inbound>, timing: Timing) {
        let mut ticker = interval(timing.keep_alive.min(Duration::from_millis(250)));
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        while !self.session.is_closed() {
            let input = tokio::select! {
                message = next_broadcast(&mut self.broadcasts) => Input::Broadcast(message),
                message = inbound.recv() => Input::Inbound(message),
                Some(message) = self.replies.1.recv() => Input::Reply(message),
                _ = ticker.tick() => Input::Tick,
            };
            let now = self.hub.clock();
            match input {
                Input::Broadcast(Ok(message)) | Input::Inbound(Some(Inbound::Deliver(message))) => {
                    if let Some(frame) = message.frame(self.session.protocol()) {
                        self.session.send_encoded_invocation(frame, now);
                    }
                }
                // A client too slow for the stream misses messages (delivery is best effort).
                Input::Broadcast(Err(RecvError::Lagged(missed))) => self.dropped += missed,
                Input::Broadcast(Err(RecvError::Closed)) => break,
                Input::Inbound(Some(inbound)) => match inbound {
                    Inbound::Data(bytes) => self.session.handle_data(&bytes, now),
                    Inbound::TransportClosed => self.session.handle_transport_closed(now),
                    Inbound::TransportResumed => self.session.handle_transport_resumed(now),
                    Inbound::Close { error, allow_reconnect } => {
                        self.session.close(error.as_deref(), allow_reconnect, now);
                    }
                    Inbound::BadFrame(kind) if self.session.is_connected() => {
                        self.flush();
                        self.write(kind.frame(self.session.protocol()));
                    }
                    Inbound::BadFrame(_) | Inbound::Deliver(_) => {}
                    Inbound::Terminate => break,
                },
                Input::Inbound(None) => break,
                Input::Reply(message) => self.send(&message),
                Input::Tick => {
                    self.ping_after_stall();
                    self.tick(now);
                }
            }
            self.handle_events();
            self.flush();
        }
        for (_, stream) in self.streams.drain() {
            stream.abort();
        }
        let dropped = self.dropped + self.session.dropped();
        if dropped > 0 {
            tracing::debug!(connection_id = %self.live.connection_id, dropped, "slow client missed messages");
        }
    }

    fn tick(&mut self, now: u64) {
        if self.live.transport == TransportKind::LongPolling {
            self.session.handle_client_alive(self.live.last_poll.load(Ordering::Relaxed));
        }
        self.session.handle_timeout(now);
        if self.session.is_connected() && crate::service::jwt::unix_now() >= self.live.token_expires {
            // Like the service: an expired token ends the connection; the client renegotiates.
            self.session.close(Some("The access token expired; reconnect with a new one."), true, now);
        }
    }

    /// What the session reports: the handshake's outcome, the client's calls, the end.
    fn handle_events(&mut self) {
        while let Some(event) = self.session.poll_event() {
            match event {
                ServerEvent::Connected { protocol, stateful } => {
                    self.broadcasts = Some(self.hub.subscribe());
                    let (connection_id, transport) = (&self.live.connection_id, self.live.transport.as_str());
                    tracing::debug!(%connection_id, ?protocol, stateful, transport, "client connected");
                }
                ServerEvent::Message(message) => self.handle_message(message),
                ServerEvent::Closed(reason) => {
                    tracing::debug!(connection_id = %self.live.connection_id, %reason, "connection ended");
                }
            }
        }
    }

    fn handle_message(&mut self, message: HubMessage) {
        let protocol = self.session.protocol();
        let action = match message {
            HubMessage::Invocation { invocation_id, target, arguments, .. } => {
                if methods::is_dashboard_method(&target) && self.state.auth.is_some() {
                    methods::refused_under_sign_in(invocation_id, &target)
                } else if methods::is_dashboard_method(&target) {
                    let id = &self.live.connection_id;
                    methods::dashboard_method(self.state, id, protocol, invocation_id, &target, arguments)
                } else {
                    methods::invoke(protocol, invocation_id, &target, arguments)
                }
            }
            HubMessage::StreamInvocation { invocation_id, target, arguments, .. } => {
                methods::stream(invocation_id, &target, &arguments)
            }
            HubMessage::CancelInvocation { invocation_id, .. } => match self.streams.remove(&invocation_id) {
                Some(stream) => {
                    stream.abort();
                    // The callee still completes the invocation.
                    Action::Reply(vec![methods::stream_end(&invocation_id)])
                }
                None => Action::None,
            },
            _ => Action::None,
        };
        self.act(action, protocol);
    }

    fn act(&mut self, action: Action, protocol: HubProtocol) {
        match action {
            Action::Reply(messages) => messages.iter().for_each(|message| self.send(message)),
            Action::ReplyThenDropTransport(messages) => {
                messages.iter().for_each(|message| self.send(message));
                self.flush();
                self.live.kick.notify_one();
            }
            Action::Stream { invocation_id, count, interval_ms } => {
                let tx = self.replies.0.clone();
                let id = invocation_id.clone();
                let task = tokio::spawn(async move {
                    for value in 0..count {
                        if let Some(item) = methods::stream_item(protocol, &id, value) {
                            if tx.send(item).is_err() {
                                return;
                            }
                        }
                        tokio::time::sleep(Duration::from_millis(interval_ms)).await;
                    }
                    let _ = tx.send(methods::stream_end(&id));
                });
                self.streams.retain(|_, t| !t.is_finished());
                self.streams.insert(invocation_id, task);
            }
            Action::Later(work) => {
                // One at a time, in the order called (as a hub runs a client's invocations).
                let tx = self.replies.0.clone();
                let previous = self.later.take();
                self.later = Some(tokio::spawn(async move {
                    if let Some(previous) = previous {
                        let _ = previous.await;
                    }
                    for message in work.await {
                        let _ = tx.send(message);
                    }
                }));
            }
            Action::None => {}
        }
    }

    fn send(&mut self, message: &HubMessage) {
        if let Err(error) = self.session.send_message(message, self.hub.clock()) {
            tracing::warn!(%error, "cannot encode a reply");
        }
    }

    /// Writes what the session queued.
    fn flush(&mut self) {
        while let Some(frame) = self.session.poll_transmit() {
            self.write(frame);
        }
    }

    fn write(&mut self, frame: OutFrame) {
        // A stalled service (fault injection) sends nothing at all once connected, pings
        // included; the handshake's answer (or refusal) still goes out, as before the stall.
        if self.hub.is_stalled() && self.answered {
            self.stalled_frames = true;
            return;
        }
        self.answered = true;
        if self.outbound.try_send(frame).is_err() {
            self.dropped += 1;
        }
    }

    /// After a stall the session's keep-alive clock believes its dropped pings went out: ping
    /// now, so the client hears from the service at once rather than a keep-alive later.
    fn ping_after_stall(&mut self) {
        if self.stalled_frames && !self.hub.is_stalled() {
            self.stalled_frames = false;
            self.send(&HubMessage::Ping);
        }
    }
}

//! Hubs of the embedded SignalR service: negotiated connections waiting for their transport,
//! live connections (found again by their token for SSE/long-polling sends, polls and
//! stateful reconnects, and by their user), groups (of connections, and of users through
//! [`super::user_groups`]), and the broadcast every connected client listens to.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use signalr::protocol::HubProtocol;
use signalr::stateful::ByteLen;
use signalr::TransportKind;
use tokio::sync::{broadcast, mpsc};

use super::user_groups::UserGroups;
use crate::faults::BadFrame;

/// How long a negotiated connection may wait for its transport before it is forgotten.
const PENDING_TTL: Duration = Duration::from_secs(60);

/// Messages buffered per client before a slow client starts missing them (best effort, like
/// the real service).
const BROADCAST_CAPACITY: usize = 1024;

/// A frame ready for a transport: the bytes and whether they are text (JSON) or binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutFrame {
    pub bytes: Bytes,
    pub text: bool,
}

impl OutFrame {
    pub fn text(text: impl Into<String>) -> Self {
        Self { bytes: Bytes::from(text.into()), text: true }
    }

    pub fn binary(bytes: impl Into<Bytes>) -> Self {
        Self { bytes: bytes.into(), text: false }
    }

    /// The frame of a protocol: text for JSON, binary for MessagePack.
    pub fn for_protocol(protocol: HubProtocol, bytes: impl Into<Bytes>) -> Self {
        Self { bytes: bytes.into(), text: protocol == HubProtocol::Json }
    }
}

impl From<signalr::Frame> for OutFrame {
    fn from(frame: signalr::Frame) -> Self {
        match frame {
            signalr::Frame::Text(text) => OutFrame::text(text),
            signalr::Frame::Binary(bytes) => OutFrame::binary(bytes),
        }
    }
}

impl ByteLen for OutFrame {
    fn byte_len(&self) -> usize {
        self.bytes.len()
    }
}

type Encoder = Box<dyn Fn(HubProtocol) -> Option<Bytes> + Send + Sync>;

/// One server-to-client invocation for every listener, encoded at most once per protocol.
pub struct Broadcast {
    encode: Encoder,
    json: OnceLock<Option<Bytes>>,
    msgpack: OnceLock<Option<Bytes>>,
}

impl std::fmt::Debug for Broadcast {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Broadcast")
    }
}

impl Broadcast {
    /// `encode` produces the framed record for a protocol (`None` if it cannot).
    pub fn new(encode: impl Fn(HubProtocol) -> Option<Bytes> + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Self { encode: Box::new(encode), json: OnceLock::new(), msgpack: OnceLock::new() })
    }

    /// An invocation of `target` whose arguments are the elements of `arguments`.
    pub fn invocation<A: serde::Serialize + Send + Sync + 'static>(
        target: impl Into<String>,
        arguments: A,
    ) -> Arc<Self> {
        let target = target.into();
        Self::new(move |protocol| {
            let bytes = match protocol {
                HubProtocol::Json => signalr::protocol::json::write_invocation(&target, &arguments).ok()?.into_bytes(),
                HubProtocol::MessagePack => signalr::protocol::msgpack::write_invocation(&target, &arguments).ok()?,
            };
            Some(Bytes::from(bytes))
        })
    }

    pub fn frame(&self, protocol: HubProtocol) -> Option<OutFrame> {
        let cell = match protocol {
            HubProtocol::Json => &self.json,
            HubProtocol::MessagePack => &self.msgpack,
        };
        cell.get_or_init(|| (self.encode)(protocol)).clone().map(|bytes| OutFrame::for_protocol(protocol, bytes))
    }
}

/// What a transport hands to its connection's task.
#[derive(Debug)]
pub enum Inbound {
    /// Bytes from the client (a WebSocket message or a POST body).
    Data(Bytes),
    /// The transport went away (the connection may resume under stateful reconnect).
    TransportClosed,
    /// A new WebSocket took over this connection (stateful reconnect).
    TransportResumed,
    /// The client asked to end (long polling DELETE).
    Terminate,
    /// A message for this connection only (group, user or connection sends).
    Deliver(Arc<Broadcast>),
    /// The service ends the connection with a Close message (`error`: why, if anything).
    Close { error: Option<String>, allow_reconnect: bool },
    /// Fault: send the client a frame that breaks the protocol.
    BadFrame(BadFrame),
}

/// A connection whose transport has started.
pub struct LiveConnection {
    pub connection_id: String,
    pub transport: TransportKind,
    /// To the connection's task.
    pub inbound: mpsc::UnboundedSender<Inbound>,
    /// From the connection's task; held by the transport that writes to the client.
    pub outbound: tokio::sync::Mutex<mpsc::Receiver<OutFrame>>,
    /// Whether negotiate granted stateful reconnect.
    pub stateful: bool,
    /// Last time a long poll arrived (ms since the hub's epoch).
    pub last_poll: std::sync::atomic::AtomicU64,
    /// Fault: cut the current transport abruptly (the connection itself may resume).
    pub kick: tokio::sync::Notify,
    /// User id from the client token, for user-targeted sends.
    pub user_id: Option<String>,
    /// Expiry of the client token (Unix seconds); the service closes the connection then.
    pub token_expires: i64,
}

/// A negotiated connection waiting for its transport.
#[derive(Debug, Clone)]
pub struct Pending {
    pub connection_id: String,
    pub stateful: bool,
    created: Instant,
}

/// One hub (lower-case name).
pub struct Hub {
    name: String,
    broadcast: broadcast::Sender<Arc<Broadcast>>,
    pending: Mutex<HashMap<String, Pending>>,
    /// Started connections by connection token.
    live: Mutex<HashMap<String, Arc<LiveConnection>>>,
    /// Started connections by connection id (what groups and the REST API name).
    by_id: Mutex<HashMap<String, Arc<LiveConnection>>>,
    /// Started connections by user id (those whose token names a user).
    by_user: Mutex<HashMap<String, HashSet<String>>>,
    /// Group name → connection ids that joined it themselves (not through their user).
    groups: Mutex<HashMap<String, HashSet<String>>>,
    /// Users in groups: each connection of theirs is a member while the membership lasts.
    user_groups: Mutex<UserGroups>,
    /// Fault: while set, connections send nothing at all (no data, no pings).
    stalled: AtomicBool,
    epoch: Instant,
}

impl Hub {
    fn new(name: String) -> Self {
        let (broadcast, _) = broadcast::channel(BROADCAST_CAPACITY);
        Self {
            name,
            broadcast,
            pending: Mutex::new(HashMap::new()),
            live: Mutex::new(HashMap::new()),
            by_id: Mutex::new(HashMap::new()),
            by_user: Mutex::new(HashMap::new()),
            groups: Mutex::new(HashMap::new()),
            user_groups: Mutex::new(UserGroups::default()),
            stalled: AtomicBool::new(false),
            epoch: Instant::now(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Milliseconds since this hub was created (for poll timestamps).
    pub fn clock(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Registers a negotiated connection; returns (connectionId, connectionToken). Negotiate
    /// v0 has no separate token (`separate_token: false`): the id is what the client sends back.
    pub fn negotiate(&self, separate_token: bool, stateful: bool) -> (String, String) {
        let connection_id = random_id();
        let token = if separate_token { random_id() } else { connection_id.clone() };
        let mut pending = self.pending.lock().expect("hub lock");
        let now = Instant::now();
        pending.retain(|_, p| now.duration_since(p.created) < PENDING_TTL);
        pending.insert(token.clone(), Pending { connection_id: connection_id.clone(), stateful, created: now });
        (connection_id, token)
    }

    /// Claims a negotiated connection for its transport; `None` if unknown or already used.
    pub fn claim(&self, token: &str) -> Option<Pending> {
        self.pending.lock().expect("hub lock").remove(token)
    }

    /// Registers a started connection under its token.
    pub fn go_live(&self, token: &str, connection: Arc<LiveConnection>) {
        if let Some(user) = &connection.user_id {
            let mut by_user = self.by_user.lock().expect("hub lock");
            by_user.entry(user.clone()).or_default().insert(connection.connection_id.clone());
        }
        self.by_id.lock().expect("hub lock").insert(connection.connection_id.clone(), connection.clone());
        self.live.lock().expect("hub lock").insert(token.to_string(), connection);
    }

    /// A started connection by token.
    pub fn live(&self, token: &str) -> Option<Arc<LiveConnection>> {
        self.live.lock().expect("hub lock").get(token).cloned()
    }

    /// A started connection by connection id.
    pub fn connection(&self, connection_id: &str) -> Option<Arc<LiveConnection>> {
        self.by_id.lock().expect("hub lock").get(connection_id).cloned()
    }

    /// Forgets a connection whose task ended, and its group memberships.
    pub fn remove_live(&self, token: &str) {
        let Some(connection) = self.live.lock().expect("hub lock").remove(token) else { return };
        self.by_id.lock().expect("hub lock").remove(&connection.connection_id);
        if let Some(user) = &connection.user_id {
            let mut by_user = self.by_user.lock().expect("hub lock");
            if let Some(ids) = by_user.get_mut(user) {
                ids.remove(&connection.connection_id);
                if ids.is_empty() {
                    by_user.remove(user);
                }
            }
        }
        let mut groups = self.groups.lock().expect("hub lock");
        groups.retain(|_, members| {
            members.remove(&connection.connection_id);
            !members.is_empty()
        });
    }

    /// Adds a live connection to a group; false if the connection is unknown.
    pub fn add_to_group(&self, group: &str, connection_id: &str) -> bool {
        if self.connection(connection_id).is_none() {
            return false;
        }
        self.groups.lock().expect("hub lock").entry(group.to_string()).or_default().insert(connection_id.to_string());
        true
    }

    /// Removes a connection from a group; false if it was not a member.
    pub fn remove_from_group(&self, group: &str, connection_id: &str) -> bool {
        let mut groups = self.groups.lock().expect("hub lock");
        let Some(members) = groups.get_mut(group) else { return false };
        let removed = members.remove(connection_id);
        if members.is_empty() {
            groups.remove(group);
        }
        removed
    }

    /// Groups a connection belongs to, itself or through its user.
    pub fn groups_of(&self, connection_id: &str) -> Vec<String> {
        let mut names: Vec<String> = {
            let groups = self.groups.lock().expect("hub lock");
            groups.iter().filter(|(_, m)| m.contains(connection_id)).map(|(g, _)| g.clone()).collect()
        };
        if let Some(user) = self.connection(connection_id).and_then(|c| c.user_id.clone()) {
            names.extend(self.user_groups.lock().expect("hub lock").groups_of(&user, self.clock()));
        }
        names.sort();
        names.dedup();
        names
    }

    /// The connections in a group now: those that joined it and those of its users.
    pub(crate) fn members(&self, group: &str) -> HashSet<String> {
        let mut members = self.groups.lock().expect("hub lock").get(group).cloned().unwrap_or_default();
        let users = self.user_groups.lock().expect("hub lock").users_in(group, self.clock());
        if !users.is_empty() {
            let by_user = self.by_user.lock().expect("hub lock");
            members.extend(users.iter().filter_map(|user| by_user.get(user)).flatten().cloned());
        }
        members
    }

    /// Sends to every member of a group; returns how many.
    pub fn send_to_group(&self, group: &str, message: &Arc<Broadcast>, excluded: &[String]) -> usize {
        let members = self.members(group);
        members.iter().filter(|id| !excluded.contains(id)).filter(|id| self.send_to_connection(id, message)).count()
    }

    /// Whether any connection is in the group.
    pub fn group_exists(&self, group: &str) -> bool {
        !self.members(group).is_empty()
    }

    /// Connection ids of a user's connections.
    pub(crate) fn connections_of(&self, user_id: &str) -> Vec<String> {
        self.by_user.lock().expect("hub lock").get(user_id).map(|ids| ids.iter().cloned().collect()).unwrap_or_default()
    }

    /// Whether any connection of the user is connected.
    pub fn user_exists(&self, user_id: &str) -> bool {
        self.by_user.lock().expect("hub lock").contains_key(user_id)
    }

    /// Puts a user in a group: every connection of theirs, now and later, is a member until
    /// `ttl` passes (`None`: for good). A ttl of zero only adds the connections there are now,
    /// as the service documents it (2022-06-01). `Err` says why not (too many memberships).
    pub fn add_user_to_group(&self, group: &str, user_id: &str, ttl: Option<Duration>) -> Result<(), String> {
        if ttl == Some(Duration::ZERO) {
            for connection_id in self.connections_of(user_id) {
                self.add_to_group(group, &connection_id);
            }
            return Ok(());
        }
        let now = self.clock();
        let expires = ttl.map(|ttl| now.saturating_add(ttl.as_millis() as u64));
        self.user_groups.lock().expect("hub lock").add(group, user_id, expires, now)
    }

    /// Takes a user out of a group: every connection of theirs leaves it, those that joined it
    /// through the user and those that joined it themselves (or through a ttl of zero) alike,
    /// as the service does. False if neither the user nor any of their connections was in it.
    pub fn remove_user_from_group(&self, group: &str, user_id: &str) -> bool {
        let membership = self.user_groups.lock().expect("hub lock").remove(group, user_id);
        let connections = self.connections_of(user_id).iter().filter(|id| self.remove_from_group(group, id)).count();
        membership || connections > 0
    }

    /// Takes a user, and every connection of theirs, out of every group; returns how many
    /// user memberships they had.
    pub fn remove_user_from_all_groups(&self, user_id: &str) -> usize {
        let removed = self.user_groups.lock().expect("hub lock").remove_user(user_id);
        let connections = self.connections_of(user_id);
        let mut groups = self.groups.lock().expect("hub lock");
        groups.retain(|_, members| {
            connections.iter().for_each(|id| _ = members.remove(id));
            !members.is_empty()
        });
        removed
    }

    /// Whether the user is in the group (a user membership that has not expired).
    pub fn user_in_group(&self, group: &str, user_id: &str) -> bool {
        self.user_groups.lock().expect("hub lock").contains(group, user_id, self.clock())
    }

    /// Ends a connection with a Close message carrying `reason`; the client may not
    /// reconnect on its own. False if the connection is unknown.
    pub fn close_connection(&self, connection_id: &str, reason: Option<String>) -> bool {
        match self.connection(connection_id) {
            Some(connection) => {
                connection.inbound.send(Inbound::Close { error: reason, allow_reconnect: false }).is_ok()
            }
            None => false,
        }
    }

    /// Sends to one connection; false if it is unknown.
    pub fn send_to_connection(&self, connection_id: &str, message: &Arc<Broadcast>) -> bool {
        match self.connection(connection_id) {
            Some(connection) => connection.inbound.send(Inbound::Deliver(message.clone())).is_ok(),
            None => false,
        }
    }

    /// Sends to every connection of a user; returns how many.
    pub fn send_to_user(&self, user_id: &str, message: &Arc<Broadcast>) -> usize {
        self.connections_of(user_id).iter().filter(|id| self.send_to_connection(id, message)).count()
    }

    /// Sends to everyone but `excluded` connection ids.
    pub fn broadcast_excluding(&self, message: Arc<Broadcast>, excluded: &[String]) -> usize {
        if excluded.is_empty() {
            return self.broadcast(message);
        }
        let connections: Vec<_> = self.by_id.lock().expect("hub lock").values().cloned().collect();
        connections
            .iter()
            .filter(|c| !excluded.contains(&c.connection_id))
            .filter(|c| c.inbound.send(Inbound::Deliver(message.clone())).is_ok())
            .count()
    }

    /// Fault: closes every connection (with `allowReconnect`); returns how many.
    pub fn close_all(&self, error: &str) -> usize {
        let connections: Vec<_> = self.by_id.lock().expect("hub lock").values().cloned().collect();
        for connection in &connections {
            let _ = connection.inbound.send(Inbound::Close { error: Some(error.to_string()), allow_reconnect: true });
        }
        connections.len()
    }

    /// Fault: cuts every WebSocket without a close frame, like a network blip (stateful clients
    /// resume on a new socket and lose nothing; others reconnect); returns how many.
    pub fn cut_transports(&self) -> usize {
        let connections: Vec<_> = self.by_id.lock().expect("hub lock").values().cloned().collect();
        // Only sockets that are up (waiting on `kick`): a stored permit would cut the next
        // resumed socket at once.
        connections
            .iter()
            .filter(|c| c.transport == TransportKind::WebSockets)
            .inspect(|c| c.kick.notify_waiters())
            .count()
    }

    /// Fault: sends every connection a frame that breaks the protocol; returns how many.
    pub fn send_bad_frames(&self, kind: BadFrame) -> usize {
        let connections: Vec<_> = self.by_id.lock().expect("hub lock").values().cloned().collect();
        connections.iter().filter(|c| c.inbound.send(Inbound::BadFrame(kind)).is_ok()).count()
    }

    /// Fault: while stalled, connections send nothing at all.
    pub fn set_stalled(&self, stalled: bool) {
        self.stalled.store(stalled, Ordering::Relaxed);
    }

    pub fn is_stalled(&self) -> bool {
        self.stalled.load(Ordering::Relaxed)
    }

    /// Listens to broadcasts.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Broadcast>> {
        self.broadcast.subscribe()
    }

    /// Sends to every connected client; returns how many listen.
    pub fn broadcast(&self, message: Arc<Broadcast>) -> usize {
        self.broadcast.send(message).unwrap_or(0)
    }

    /// Connections whose transport has started and not ended.
    pub fn connection_count(&self) -> usize {
        self.live.lock().expect("hub lock").len()
    }
}

/// All hubs, created on first use (the service accepts any valid hub name).
#[derive(Default)]
pub struct Hubs {
    hubs: Mutex<HashMap<String, Arc<Hub>>>,
}

impl Hubs {
    pub fn get(&self, name: &str) -> Arc<Hub> {
        let name = name.to_ascii_lowercase();
        self.hubs.lock().expect("hubs lock").entry(name.clone()).or_insert_with(|| Arc::new(Hub::new(name))).clone()
    }
}

/// Hub names as Azure SignalR accepts them.
pub fn valid_hub_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && name.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || "_`,.[]".contains(c))
}

/// 128 random bits, hex.
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiated_connections_are_claimed_once() {
        let hubs = Hubs::default();
        let hub = hubs.get("Telemetry");
        assert_eq!(hub.name(), "telemetry");
        let (id, token) = hub.negotiate(true, false);
        assert_ne!(id, token);
        assert_eq!(hub.claim(&token).map(|p| p.connection_id), Some(id));
        assert!(hub.claim(&token).is_none());
    }

    #[test]
    fn broadcasts_encode_once_per_protocol() {
        let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = count.clone();
        let message = Broadcast::new(move |_| {
            seen.fetch_add(1, Ordering::SeqCst);
            Some(Bytes::from_static(b"x"))
        });
        let hub = Hubs::default().get("t");
        let mut rx = hub.subscribe();
        assert_eq!(hub.broadcast(message), 1);
        let got = rx.try_recv().unwrap();
        assert!(got.frame(HubProtocol::Json).unwrap().text);
        assert!(!got.frame(HubProtocol::MessagePack).unwrap().text);
        got.frame(HubProtocol::Json);
        assert_eq!(count.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn hub_names_follow_the_service_pattern() {
        assert!(valid_hub_name("telemetry"));
        assert!(valid_hub_name("chat_1"));
        assert!(!valid_hub_name("1hub"));
        assert!(!valid_hub_name(""));
        assert!(!valid_hub_name("a/b"));
    }
}

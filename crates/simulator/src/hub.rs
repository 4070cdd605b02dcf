//! Hubs of the embedded SignalR service: negotiated connections waiting for their transport,
//! and the broadcast channel every connected client listens to.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::broadcast;

/// A frame ready to write to every client: one or more 0x1E-terminated JSON records.
pub type Frame = axum::extract::ws::Utf8Bytes;

/// How long a negotiated connection may wait for its transport before it is forgotten.
const PENDING_TTL: Duration = Duration::from_secs(60);

/// Frames buffered per client before a slow client starts missing them (best effort, like
/// the real service).
const BROADCAST_CAPACITY: usize = 1024;

/// One hub (lower-case name).
pub struct Hub {
    name: String,
    broadcast: broadcast::Sender<Frame>,
    /// connectionToken → connectionId, for negotiated connections not yet connected.
    pending: Mutex<HashMap<String, (String, Instant)>>,
    connected: Mutex<HashMap<String, ()>>,
}

impl Hub {
    fn new(name: String) -> Self {
        let (broadcast, _) = broadcast::channel(BROADCAST_CAPACITY);
        Self {
            name,
            broadcast,
            pending: Mutex::new(HashMap::new()),
            connected: Mutex::new(HashMap::new()),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Registers a negotiated connection; returns (connectionId, connectionToken). Negotiate
    /// v0 has no separate token (`separate_token: false`): the id is what the client sends back.
    pub fn negotiate(&self, separate_token: bool) -> (String, String) {
        let connection_id = random_id();
        let token = if separate_token {
            random_id()
        } else {
            connection_id.clone()
        };
        let mut pending = self.pending.lock().expect("hub lock");
        let now = Instant::now();
        pending.retain(|_, (_, created)| now.duration_since(*created) < PENDING_TTL);
        pending.insert(token.clone(), (connection_id.clone(), now));
        (connection_id, token)
    }

    /// Claims a negotiated connection for its transport; `None` if unknown or already used.
    pub fn claim(&self, token: &str) -> Option<String> {
        self.pending
            .lock()
            .expect("hub lock")
            .remove(token)
            .map(|(id, _)| id)
    }

    /// Listens to broadcasts; marks the connection as connected until the guard drops.
    pub fn join(self: &Arc<Self>, connection_id: &str) -> (broadcast::Receiver<Frame>, Membership) {
        self.connected
            .lock()
            .expect("hub lock")
            .insert(connection_id.to_string(), ());
        (
            self.broadcast.subscribe(),
            Membership {
                hub: self.clone(),
                connection_id: connection_id.to_string(),
            },
        )
    }

    /// Sends a frame to every connected client; returns how many receive it.
    pub fn broadcast(&self, frame: Frame) -> usize {
        self.broadcast.send(frame).unwrap_or(0)
    }

    pub fn connection_count(&self) -> usize {
        self.connected.lock().expect("hub lock").len()
    }
}

/// Removes a connection from its hub when dropped.
pub struct Membership {
    hub: Arc<Hub>,
    connection_id: String,
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.hub
            .connected
            .lock()
            .expect("hub lock")
            .remove(&self.connection_id);
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
        self.hubs
            .lock()
            .expect("hubs lock")
            .entry(name.clone())
            .or_insert_with(|| Arc::new(Hub::new(name)))
            .clone()
    }
}

/// Hub names as Azure SignalR accepts them.
pub fn valid_hub_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && name.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || "_`,.[]".contains(c))
}

/// 128 random bits, URL-safe.
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
        let (id, token) = hub.negotiate(true);
        assert_ne!(id, token);
        assert_eq!(hub.claim(&token), Some(id));
        assert_eq!(hub.claim(&token), None);
    }

    #[test]
    fn broadcast_reaches_joined_connections_and_membership_ends_on_drop() {
        let hub = Hubs::default().get("t");
        let (mut rx, member) = hub.join("c1");
        assert_eq!(hub.connection_count(), 1);
        assert_eq!(hub.broadcast("x".into()), 1);
        assert_eq!(&*rx.try_recv().unwrap(), "x");
        drop(member);
        assert_eq!(hub.connection_count(), 0);
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

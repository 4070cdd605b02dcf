//! Where the functions side and the devices publish: the service embedded in this process, or
//! a remote one (Azure SignalR Service) through its data-plane REST API, exactly as a function
//! app holding the connection string would.
//!
//! Every call goes through [`AppState`], so the pipeline and the functions do not care which:
//! `send_to_all`, `send_to_group` and `change_group` (join or leave).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use signalr::url::encode_component;

use crate::functions::world::World;
use crate::service::connection_string::ConnectionString;
use crate::service::hub::Broadcast;
use crate::service::jwt;
use crate::AppState;
use tokio::sync::mpsc;

/// The embedded service, or a remote one.
pub enum Publisher {
    Embedded,
    Remote(Remote),
}

/// A remote service reached through its REST API (`{Endpoint}/api/v1/hubs/{hub}...`).
///
/// Sends never hold up the devices: they go into bounded queues served by a few workers (a
/// group always to the same worker, so its messages stay in order); when the service is slow
/// or gone and a queue is full, the message is dropped and counted, as the service itself
/// would drop messages for a client that cannot keep up.
pub struct Remote {
    shared: Arc<Shared>,
    queues: OnceLock<Vec<mpsc::Sender<Queued>>>,
}

/// What the callers and the workers share.
struct Shared {
    client: reqwest::Client,
    connection: ConnectionString,
    dropped: AtomicU64,
    log: Mutex<FailureLog>,
}

/// One queued send: the URL path after the hub and the JSON body.
struct Queued {
    hub: String,
    path: String,
    body: Vec<u8>,
}

/// Rate-limited failure logging: an unreachable service logs once every
/// [`LOG_EVERY`], with how many failures it did not log, not on every send.
#[derive(Default)]
struct FailureLog {
    logged_at: Option<Instant>,
    suppressed: u64,
    failing: bool,
}

/// Lifetime of the REST tokens the publisher signs for itself.
const REST_TOKEN_SECONDS: i64 = 300;
const WORKERS: usize = 4;
const QUEUE: usize = 256;
const LOG_EVERY: Duration = Duration::from_secs(30);

impl Remote {
    pub fn new(connection: ConnectionString) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(3))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        let shared = Shared { client, connection, dropped: AtomicU64::new(0), log: Mutex::default() };
        Self { shared: Arc::new(shared), queues: OnceLock::new() }
    }

    /// Queues `target(arguments...)` for `path` (after the hub); never waits.
    fn send(&self, hub: &str, path: &str, target: &str, arguments: &impl Serialize) {
        #[derive(Serialize)]
        struct Body<'a, A> {
            target: &'a str,
            arguments: &'a A,
        }
        let Ok(body) = serde_json::to_vec(&Body { target, arguments }) else { return };
        let queues = self.queues.get_or_init(|| self.start_workers());
        let worker = path.bytes().fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize)) % queues.len();
        let send = Queued { hub: hub.to_string(), path: path.to_string(), body };
        if queues[worker].try_send(send).is_err() {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            let error = "the send queue is full (the service is slow or unreachable): message dropped".to_string();
            self.shared.log(Some(&error));
        }
    }

    fn start_workers(&self) -> Vec<mpsc::Sender<Queued>> {
        (0..WORKERS)
            .map(|_| {
                let (tx, mut rx) = mpsc::channel::<Queued>(QUEUE);
                let shared = self.shared.clone();
                tokio::spawn(async move {
                    while let Some(send) = rx.recv().await {
                        let url = shared.url(&send.hub, &send.path);
                        let _ = shared.request(reqwest::Method::POST, url, Some(send.body)).await;
                    }
                });
                tx
            })
            .collect()
    }
}

impl Shared {
    /// `{Endpoint}/api/v1/hubs/{hub}` followed by `path`.
    fn url(&self, hub: &str, path: &str) -> String {
        format!("{}/api/v1/hubs/{}{path}", self.connection.endpoint, encode_component(&hub.to_ascii_lowercase()))
    }

    /// A bearer token for `url`: HS256 with the AccessKey, the URL as audience.
    fn token(&self, url: &str) -> String {
        let now = jwt::unix_now();
        let claims = jwt::Claims {
            aud: url.to_string(),
            exp: now + REST_TOKEN_SECONDS,
            iat: Some(now),
            user_id: None,
            nameid: Some("simulator-functions".into()),
            name_identifier: None,
            sub: None,
        };
        jwt::sign(&claims, &self.connection.access_key)
    }

    /// Sends one request; returns the status, or why there is none.
    async fn request(&self, method: reqwest::Method, url: String, body: Option<Vec<u8>>) -> Result<u16, String> {
        let mut request = self.client.request(method.clone(), &url).bearer_auth(self.token(&url));
        if let Some(body) = body {
            request = request.header(reqwest::header::CONTENT_TYPE, "application/json").body(body);
        }
        let outcome = match request.send().await {
            Ok(response) if response.status().is_success() || response.status() == 404 => {
                Ok(response.status().as_u16())
            }
            Ok(response) => {
                let status = response.status();
                let detail = response.text().await.unwrap_or_default();
                Err(format!("{method} answered {status}: {}", detail.chars().take(200).collect::<String>()))
            }
            Err(error) => Err(format!("{method} failed: {}", error.without_url())),
        };
        self.log(outcome.as_ref().err());
        outcome
    }

    fn log(&self, error: Option<&String>) {
        let mut log = self.log.lock().expect("publisher log lock");
        match error {
            Some(error) => {
                log.failing = true;
                if log.logged_at.is_some_and(|at| at.elapsed() < LOG_EVERY) {
                    log.suppressed += 1;
                    return;
                }
                let (suppressed, dropped) = (log.suppressed, self.dropped.load(Ordering::Relaxed));
                tracing::warn!(%error, suppressed, dropped, endpoint = %self.connection.endpoint, "remote SignalR service");
                log.logged_at = Some(Instant::now());
                log.suppressed = 0;
            }
            None if log.failing => {
                tracing::info!(endpoint = %self.connection.endpoint, "remote SignalR service reachable again");
                *log = FailureLog::default();
            }
            None => {}
        }
    }
}

impl AppState {
    /// Whether anyone may be listening: the embedded service knows; a remote one is assumed to.
    pub fn has_listeners(&self, hub: &str) -> bool {
        match &self.publisher {
            Publisher::Embedded => self.hubs.get(hub).connection_count() > 0,
            Publisher::Remote(_) => true,
        }
    }

    /// Invokes `target(arguments...)` on every client of `hub`.
    pub async fn send_to_all<A>(&self, hub: &str, target: &str, arguments: A)
    where
        A: Serialize + Send + Sync + 'static,
    {
        match &self.publisher {
            Publisher::Embedded => {
                self.hubs.get(hub).broadcast(Broadcast::invocation(target, arguments));
            }
            Publisher::Remote(remote) => remote.send(hub, "", target, &arguments),
        }
    }

    /// Sends `items`, each about one site (`site_of` says which, from the world), as one batch
    /// of `target`: to every dashboard in an open deployment, as it always was; with sign-in,
    /// each site's items as a batch to its `site:<id>` group only, so nobody learns of another
    /// site's alerts. Items whose site is not known go to nobody then.
    pub async fn send_site_bound<T>(
        &self,
        hub: &str,
        target: &str,
        items: Vec<T>,
        site_of: impl Fn(&World, &T) -> Option<String>,
    ) where
        T: Serialize + Send + Sync + 'static,
    {
        if items.is_empty() {
            return;
        }
        if self.auth.is_none() {
            return self.send_to_all(hub, target, [items]).await;
        }
        let mut by_site: BTreeMap<String, Vec<T>> = BTreeMap::new();
        {
            let world = self.world.lock().expect("world lock");
            for item in items {
                match site_of(&world, &item) {
                    Some(site) => by_site.entry(site).or_default().push(item),
                    None => tracing::debug!(target, "a message about no known site: not sent"),
                }
            }
        }
        for (site, items) in by_site {
            self.send_to_group(hub, &telemetry::groups::site(&site), target, [items]).await;
        }
    }

    /// Invokes `target(arguments...)` on every client in `group` of `hub`.
    pub async fn send_to_group<A>(&self, hub: &str, group: &str, target: &str, arguments: A)
    where
        A: Serialize + Send + Sync + 'static,
    {
        match &self.publisher {
            Publisher::Embedded => {
                self.hubs.get(hub).send_to_group(group, &Broadcast::invocation(target, arguments), &[]);
            }
            Publisher::Remote(remote) => {
                remote.send(hub, &format!("/groups/{}", encode_component(group)), target, &arguments);
            }
        }
    }

    /// Adds the connection to `group` (`join`) or removes it. `Ok(false)`: no such connection.
    pub async fn change_group(&self, hub: &str, group: &str, connection_id: &str, join: bool) -> Result<bool, String> {
        match &self.publisher {
            Publisher::Embedded => {
                let hub = self.hubs.get(hub);
                if join {
                    Ok(hub.add_to_group(group, connection_id))
                } else {
                    hub.remove_from_group(group, connection_id);
                    Ok(hub.connection(connection_id).is_some())
                }
            }
            Publisher::Remote(remote) => {
                let path =
                    format!("/groups/{}/connections/{}", encode_component(group), encode_component(connection_id));
                let method = if join { reqwest::Method::PUT } else { reqwest::Method::DELETE };
                let status = remote.shared.request(method, remote.shared.url(hub, &path), None).await?;
                Ok(status != 404)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_urls_and_tokens_follow_the_service_contract() {
        let connection: ConnectionString =
            "Endpoint=https://demo.service.signalr.net;AccessKey=secret;Version=1.0;".parse().unwrap();
        let remote = Remote::new(connection).shared;
        let url = remote.url("Telemetry", "/groups/site%3Anorth");
        assert_eq!(url, "https://demo.service.signalr.net/api/v1/hubs/telemetry/groups/site%3Anorth");
        let claims = jwt::verify(&remote.token(&url), "secret", jwt::unix_now(), &[&url]).unwrap();
        assert_eq!(claims.aud, url);
        assert!(jwt::verify(&remote.token(&url), "other", jwt::unix_now(), &[&url]).is_err());
    }
}

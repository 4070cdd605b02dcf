//! Where the functions side and the devices publish: the service embedded in this process, or
//! a remote one (Azure SignalR Service) through its data-plane REST API, exactly as a function
//! app holding the connection string would.
//!
//! Every call goes through [`AppState`], so the pipeline and the functions do not care which:
//! `send_to_all`, `send_to_group` and `change_group` (join or leave).

use std::sync::Mutex;

use serde::Serialize;
use signalr::url::encode_component;

use crate::connection_string::ConnectionString;
use crate::hub::Broadcast;
use crate::jwt;
use crate::AppState;

/// The embedded service, or a remote one.
pub enum Publisher {
    Embedded,
    Remote(Remote),
}

/// A remote service reached through its REST API (`{Endpoint}/api/v1/hubs/{hub}...`).
pub struct Remote {
    client: reqwest::Client,
    connection: ConnectionString,
    /// The last failure logged, so an unreachable service logs once, not ten times a second.
    last_error: Mutex<Option<String>>,
}

/// Lifetime of the REST tokens the publisher signs for itself.
const REST_TOKEN_SECONDS: i64 = 300;

impl Remote {
    pub fn new(connection: ConnectionString) -> Self {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self { client, connection, last_error: Mutex::new(None) }
    }

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
                Err(format!("{method} {url} answered {status}: {}", detail.chars().take(200).collect::<String>()))
            }
            Err(error) => Err(format!("{method} {url} failed: {error}")),
        };
        self.log(outcome.as_ref().err());
        outcome
    }

    fn log(&self, error: Option<&String>) {
        let mut last = self.last_error.lock().expect("publisher log lock");
        match (error, last.as_ref()) {
            (Some(error), Some(previous)) if error == previous => {}
            (Some(error), _) => {
                tracing::warn!(%error, "remote SignalR service");
                *last = Some(error.clone());
            }
            (None, Some(_)) => {
                tracing::info!("remote SignalR service reachable again");
                *last = None;
            }
            (None, None) => {}
        }
    }

    async fn send(&self, hub: &str, path: &str, target: &str, arguments: &impl Serialize) -> Result<(), String> {
        #[derive(Serialize)]
        struct Body<'a, A> {
            target: &'a str,
            arguments: &'a A,
        }
        let body = serde_json::to_vec(&Body { target, arguments }).map_err(|e| e.to_string())?;
        self.request(reqwest::Method::POST, self.url(hub, path), Some(body)).await.map(|_| ())
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
            Publisher::Remote(remote) => {
                let _ = remote.send(hub, "", target, &arguments).await;
            }
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
                let path = format!("/groups/{}", encode_component(group));
                let _ = remote.send(hub, &path, target, &arguments).await;
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
                let status = remote.request(method, remote.url(hub, &path), None).await?;
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
        let remote = Remote::new(connection);
        let url = remote.url("Telemetry", "/groups/site%3Anorth");
        assert_eq!(url, "https://demo.service.signalr.net/api/v1/hubs/telemetry/groups/site%3Anorth");
        let claims = jwt::verify(&remote.token(&url), "secret", jwt::unix_now(), &[&url]).unwrap();
        assert_eq!(claims.aud, url);
        assert!(jwt::verify(&remote.token(&url), "other", jwt::unix_now(), &[&url]).is_err());
    }
}

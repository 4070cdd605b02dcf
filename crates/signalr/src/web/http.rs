//! Negotiate over `fetch`.

use gloo_net::http::Request;
use web_sys::{RequestCache, RequestCredentials};

/// The user agent header value the official clients send, in our own words.
const USER_AGENT: &str = "Microsoft SignalR/8.0 (rust-signalr 0.1; Unknown OS; Browser; wasm)";

/// POSTs an empty negotiate request; returns the status and body.
pub(super) async fn post_negotiate(
    url: &str,
    bearer: Option<&str>,
    with_credentials: bool,
) -> Result<(u16, String), String> {
    let mut request = Request::post(url)
        .header("X-Requested-With", "XMLHttpRequest")
        .header("X-SignalR-User-Agent", USER_AGENT)
        .cache(RequestCache::NoCache)
        .credentials(if with_credentials { RequestCredentials::Include } else { RequestCredentials::SameOrigin });
    if let Some(token) = bearer {
        request = request.header("Authorization", &format!("Bearer {token}"));
    }
    let response = request.send().await.map_err(|e| format!("negotiate request to {url} failed: {e}"))?;
    let status = response.status();
    let body = response.text().await.map_err(|e| format!("negotiate answer unreadable: {e}"))?;
    Ok((status, body))
}

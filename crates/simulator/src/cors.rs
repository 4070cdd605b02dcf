//! CORS for browsers on other origins. Credentials are allowed (the SignalR clients send
//! them by default), so the allowed origin is always echoed, never `*`.

use axum::http::{header, HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Loopback origins (`http://localhost:<any port>`, `http://127.0.0.1:<any port>`, `[::1]`)
/// plus `extra` exact origins.
pub fn layer(extra: Vec<String>) -> CorsLayer {
    let predicate = move |origin: &HeaderValue, _: &axum::http::request::Parts| {
        origin
            .to_str()
            .map(|o| is_loopback_origin(o) || extra.iter().any(|e| e.trim_end_matches('/') == o))
            .unwrap_or(false)
    };
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(predicate))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("x-requested-with"),
            HeaderName::from_static("x-signalr-user-agent"),
            HeaderName::from_static("x-ms-client-principal-id"),
        ])
}

/// Whether `origin` is an http(s) origin on a loopback host.
pub fn is_loopback_origin(origin: &str) -> bool {
    let Some(rest) = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://")) else {
        return false;
    };
    let host = match rest.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !port.is_empty() => host,
        _ => rest,
    };
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_origins_only() {
        assert!(is_loopback_origin("http://localhost:8080"));
        assert!(is_loopback_origin("http://127.0.0.1:1"));
        assert!(is_loopback_origin("http://localhost"));
        assert!(is_loopback_origin("http://[::1]:3000"));
        assert!(!is_loopback_origin("http://localhost.evil.com:8080"));
        assert!(!is_loopback_origin("http://127.0.0.1.evil.com"));
        assert!(!is_loopback_origin("https://example.com"));
        assert!(!is_loopback_origin("null"));
    }
}

//! Negotiate: URL rules, the four answer shapes, and the redirect walk.
//!
//! A negotiate answer is either a connection (v1 with `connectionToken`, or v0 where the
//! `connectionId` doubles as the token), a redirect `{url, accessToken}` (what the Azure
//! Functions SignalR binding returns), or `{error}`. [`Negotiator`] walks redirects as data:
//! it says which URL to POST next and which token to send, and takes the answer back. It keeps
//! the application's token (from the caller's token factory) and the service token handed out
//! by a redirect strictly apart, so the service token never reaches the application's
//! `/negotiate` (the official JS client's open bug dotnet/aspnetcore#65620).

use serde::Deserialize;

use crate::url::{append_query, encode_component};

/// Most redirects followed before giving up (same limit as the official clients).
pub const MAX_REDIRECTS: usize = 100;

/// A transport named in a negotiate answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// A WebSocket: both directions on one socket, text and binary.
    WebSockets,
    /// An EventSource for server-to-client, HTTP POSTs for client-to-server; text only.
    ServerSentEvents,
    /// Repeated HTTP GETs for server-to-client, POSTs for client-to-server.
    LongPolling,
}

impl TransportKind {
    /// The name used on the wire and shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::WebSockets => "WebSockets",
            TransportKind::ServerSentEvents => "ServerSentEvents",
            TransportKind::LongPolling => "LongPolling",
        }
    }

    /// Parses a wire name; unknown names give `None` (they are skipped, not an error).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "WebSockets" => Some(TransportKind::WebSockets),
            "ServerSentEvents" => Some(TransportKind::ServerSentEvents),
            "LongPolling" => Some(TransportKind::LongPolling),
            _ => None,
        }
    }
}

/// One entry of `availableTransports`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvailableTransport {
    /// Which transport.
    pub kind: TransportKind,
    /// `Text` and/or `Binary`.
    pub transfer_formats: Vec<String>,
}

/// A negotiate answer that names a connection to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionOffer {
    /// The connection's public id (what the service's REST API and groups name it by).
    pub connection_id: String,
    /// The value to send as `?id=`; equals `connection_id` for a v0 answer.
    pub connection_token: String,
    /// The negotiate protocol version the server answered with (0 when it did not say).
    pub negotiate_version: u32,
    /// Transports in the server's order of preference, unknown names dropped.
    pub transports: Vec<AvailableTransport>,
    /// The server agreed to stateful reconnect: the connection may resume after a drop without
    /// losing messages (see [`crate::stateful`]).
    pub use_stateful_reconnect: bool,
}

/// The meaning of a negotiate answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NegotiateResponse {
    /// A connection to open.
    Connect(ConnectionOffer),
    /// Negotiate again at another server (the Azure SignalR Service, typically).
    Redirect {
        /// The base URL to negotiate with next.
        url: String,
        /// A service token for that URL; `None` keeps the token in use.
        access_token: Option<String>,
    },
}

/// Why negotiation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NegotiateError {
    /// Negotiate answered with an HTTP status other than 200.
    #[error("negotiate answered HTTP {status}{hint}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// A likely cause to append to the message (for a 404), or empty.
        hint: &'static str,
    },
    /// The answer was `{"error": ...}`: the server refused; the text is its reason.
    #[error("the server refused the connection: {0}")]
    Server(String),
    /// The answer body does not parse; the text is the parser's complaint.
    #[error("negotiate answer is not valid JSON: {0}")]
    Malformed(String),
    /// The answer is JSON but has neither a `connectionId` nor a redirect `url`.
    #[error("negotiate answer has neither a connection nor a redirect")]
    Incomplete,
    /// The answer has a `ProtocolVersion`: the old ASP.NET SignalR, which speaks another protocol.
    #[error("this is a classic ASP.NET SignalR server; only ASP.NET Core SignalR is supported")]
    ClassicServer,
    /// More than [`MAX_REDIRECTS`] redirects in a row (a loop, most likely).
    #[error("negotiate redirection limit ({MAX_REDIRECTS}) exceeded")]
    TooManyRedirects,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    url: Option<String>,
    access_token: Option<String>,
    error: Option<String>,
    connection_id: Option<String>,
    connection_token: Option<String>,
    negotiate_version: Option<u32>,
    #[serde(default)]
    available_transports: Vec<WireTransport>,
    #[serde(default)]
    use_stateful_reconnect: bool,
    #[serde(rename = "ProtocolVersion")]
    protocol_version: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireTransport {
    transport: String,
    #[serde(default)]
    transfer_formats: Vec<String>,
}

/// Parses a negotiate answer body (unknown fields ignored).
pub fn parse_response(body: &str) -> Result<NegotiateResponse, NegotiateError> {
    let wire: Wire = serde_json::from_str(body).map_err(|e| NegotiateError::Malformed(e.to_string()))?;
    if wire.protocol_version.is_some() {
        return Err(NegotiateError::ClassicServer);
    }
    if let Some(error) = wire.error {
        return Err(NegotiateError::Server(error));
    }
    if let Some(url) = wire.url {
        return Ok(NegotiateResponse::Redirect { url, access_token: wire.access_token });
    }
    let connection_id = wire.connection_id.ok_or(NegotiateError::Incomplete)?;
    let negotiate_version = wire.negotiate_version.unwrap_or(0);
    let connection_token = match (negotiate_version, wire.connection_token) {
        (v, Some(token)) if v >= 1 => token,
        _ => connection_id.clone(),
    };
    let transports = wire
        .available_transports
        .into_iter()
        .filter_map(|t| {
            TransportKind::parse(&t.transport)
                .map(|kind| AvailableTransport { kind, transfer_formats: t.transfer_formats })
        })
        .collect();
    Ok(NegotiateResponse::Connect(ConnectionOffer {
        connection_id,
        connection_token,
        negotiate_version,
        transports,
        use_stateful_reconnect: wire.use_stateful_reconnect,
    }))
}

/// `{base}/negotiate?…&negotiateVersion=1`, keeping any query already on `base`.
pub fn negotiate_url(base: &str) -> String {
    let (path, query) = split_query(base);
    let mut url = String::with_capacity(base.len() + 32);
    url.push_str(path);
    if !path.ends_with('/') {
        url.push('/');
    }
    url.push_str("negotiate");
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    if !has_query_key(query.unwrap_or(""), "negotiateVersion") {
        url = append_query(&url, "negotiateVersion", "1");
    }
    url
}

/// The URL a transport connects to: the final negotiate URL plus `id=<connectionToken>`.
pub fn connect_url(url: &str, connection_token: &str) -> String {
    append_query(url, "id", connection_token)
}

/// A connect URL with the access token as `access_token` (browser EventSource and WebSocket
/// cannot set headers).
pub fn append_access_token(connect_url: &str, access_token: Option<&str>) -> String {
    match access_token {
        Some(token) => append_query(connect_url, "access_token", token),
        None => connect_url.to_string(),
    }
}

/// The WebSocket form of a connect URL: `http`→`ws`, `https`→`wss`, and the access token as
/// the `access_token` query parameter (browsers cannot set headers on a WebSocket).
pub fn websocket_url(connect_url: &str, access_token: Option<&str>) -> String {
    let url = if let Some(rest) = connect_url.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = connect_url.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        connect_url.to_string()
    };
    append_access_token(&url, access_token)
}

fn split_query(url: &str) -> (&str, Option<&str>) {
    let url = url.split('#').next().unwrap_or(url);
    match url.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (url, None),
    }
}

fn has_query_key(query: &str, key: &str) -> bool {
    query.split('&').any(|pair| pair.split('=').next() == Some(key))
}

/// Which bearer token a negotiate request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bearer {
    /// The application's own token, from the caller's token factory (may be none).
    App,
    /// A service token handed out by a redirect; only ever sent to the redirect's URL.
    Service(String),
}

/// The next negotiate request to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiateRequest {
    /// The full negotiate URL to POST to.
    pub url: String,
    /// The token to send as `Authorization: Bearer`.
    pub bearer: Bearer,
}

/// Where negotiation ended: the offer, the base URL it came from, and the token to connect with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The connection the last server offered.
    pub offer: ConnectionOffer,
    /// The base URL that produced the offer (after redirects).
    pub base_url: String,
    /// The token the transport connects with: the one the last hop was negotiated with.
    pub bearer: Bearer,
}

impl Negotiated {
    /// The connect URL for the offer (`base_url` + `id`).
    pub fn connect_url(&self) -> String {
        connect_url(&self.base_url, &self.offer.connection_token)
    }
}

/// What to do after an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NegotiateStep {
    /// A redirect: make this request and feed its answer back.
    Request(NegotiateRequest),
    /// Negotiation is over: connect.
    Done(Negotiated),
}

/// Walks a chain of negotiate redirects. Always starts from the original base URL, so every
/// (re)connect re-negotiates and gets fresh service tokens.
#[derive(Debug, Clone)]
pub struct Negotiator {
    base_url: String,
    bearer: Bearer,
    redirects: usize,
    stateful: bool,
}

impl Negotiator {
    /// Negotiates with the hub at `base_url`, with the application's token, stateful reconnect
    /// off.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self { base_url: base_url.into(), bearer: Bearer::App, redirects: 0, stateful: false }
    }

    /// Asks every hop for stateful reconnect (`useStatefulReconnect=true`).
    pub fn with_stateful_reconnect(mut self, on: bool) -> Self {
        self.stateful = on;
        self
    }

    /// The request to make now.
    pub fn first_request(&self) -> NegotiateRequest {
        let mut url = negotiate_url(&self.base_url);
        if self.stateful && !url.contains("useStatefulReconnect=") {
            url = append_query(&url, "useStatefulReconnect", "true");
        }
        NegotiateRequest { url, bearer: self.bearer.clone() }
    }

    /// Feeds the HTTP answer to the last request.
    pub fn handle_response(&mut self, status: u16, body: &str) -> Result<NegotiateStep, NegotiateError> {
        if status != 200 {
            let hint = if status == 404 {
                " (either this is not a SignalR endpoint or a proxy is blocking the connection)"
            } else {
                ""
            };
            return Err(NegotiateError::Status { status, hint });
        }
        match parse_response(body)? {
            NegotiateResponse::Redirect { url, access_token } => {
                self.redirects += 1;
                if self.redirects > MAX_REDIRECTS {
                    return Err(NegotiateError::TooManyRedirects);
                }
                self.base_url = url;
                // A redirect without a token keeps whatever was in use for that hop.
                if let Some(token) = access_token {
                    self.bearer = Bearer::Service(token);
                }
                Ok(NegotiateStep::Request(self.first_request()))
            }
            NegotiateResponse::Connect(offer) => Ok(NegotiateStep::Done(Negotiated {
                offer,
                base_url: self.base_url.clone(),
                bearer: self.bearer.clone(),
            })),
        }
    }
}

/// Percent-encodes a token for a query string (exposed for adapters that build URLs).
pub fn encode_token(token: &str) -> String {
    encode_component(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiate_url_keeps_the_base_query() {
        assert_eq!(
            negotiate_url("https://fn.azurewebsites.net/api?code=K"),
            "https://fn.azurewebsites.net/api/negotiate?code=K&negotiateVersion=1"
        );
        assert_eq!(
            negotiate_url("https://x.service.signalr.net/client/?hub=iot"),
            "https://x.service.signalr.net/client/negotiate?hub=iot&negotiateVersion=1"
        );
        assert_eq!(negotiate_url("http://h/api"), "http://h/api/negotiate?negotiateVersion=1");
        assert_eq!(negotiate_url("http://h/hub?negotiateVersion=0"), "http://h/hub/negotiate?negotiateVersion=0");
    }

    #[test]
    fn v1_answer_uses_the_connection_token() {
        let body = r#"{"connectionToken":"tok","connectionId":"cid","negotiateVersion":1,
            "availableTransports":[{"transport":"WebSockets","transferFormats":["Text","Binary"]},
            {"transport":"Carrier-Pigeon","transferFormats":["Text"]},
            {"transport":"LongPolling","transferFormats":["Text","Binary"]}],"futureField":{}}"#;
        let NegotiateResponse::Connect(offer) = parse_response(body).unwrap() else { panic!() };
        assert_eq!(offer.connection_token, "tok");
        assert_eq!(offer.connection_id, "cid");
        let kinds: Vec<_> = offer.transports.iter().map(|t| t.kind).collect();
        assert_eq!(kinds, [TransportKind::WebSockets, TransportKind::LongPolling]);
    }

    #[test]
    fn v0_answer_uses_the_connection_id_as_token() {
        let body = r#"{"connectionId":"cid","negotiateVersion":0,"availableTransports":[]}"#;
        let NegotiateResponse::Connect(offer) = parse_response(body).unwrap() else { panic!() };
        assert_eq!(offer.connection_token, "cid");
        let body = r#"{"connectionId":"cid","connectionToken":"ignored"}"#;
        let NegotiateResponse::Connect(offer) = parse_response(body).unwrap() else { panic!() };
        assert_eq!(offer.connection_token, "cid");
    }

    #[test]
    fn error_and_malformed_answers_are_reported() {
        assert_eq!(parse_response(r#"{"error":"not allowed"}"#), Err(NegotiateError::Server("not allowed".into())));
        assert!(matches!(parse_response("<html>"), Err(NegotiateError::Malformed(_))));
        assert_eq!(parse_response("{}"), Err(NegotiateError::Incomplete));
        assert_eq!(parse_response(r#"{"ProtocolVersion":"1.5","Url":"/signalr"}"#), Err(NegotiateError::ClassicServer));
    }

    #[test]
    fn redirect_switches_to_the_service_token_and_never_back() {
        let mut n = Negotiator::new("http://127.0.0.1:7071/api");
        let first = n.first_request();
        assert_eq!(first.url, "http://127.0.0.1:7071/api/negotiate?negotiateVersion=1");
        assert_eq!(first.bearer, Bearer::App);
        let redirect = r#"{"url":"http://127.0.0.1:8888/client/?hub=telemetry","accessToken":"svc"}"#;
        let NegotiateStep::Request(second) = n.handle_response(200, redirect).unwrap() else { panic!() };
        assert_eq!(second.url, "http://127.0.0.1:8888/client/negotiate?hub=telemetry&negotiateVersion=1");
        assert_eq!(second.bearer, Bearer::Service("svc".into()));
        let offer = r#"{"connectionToken":"t1","connectionId":"c1","negotiateVersion":1,"availableTransports":[]}"#;
        let NegotiateStep::Done(done) = n.handle_response(200, offer).unwrap() else { panic!() };
        assert_eq!(done.connect_url(), "http://127.0.0.1:8888/client/?hub=telemetry&id=t1");
        assert_eq!(done.bearer, Bearer::Service("svc".into()));
        // A fresh negotiator (every reconnect makes one) starts again at the app with the app token.
        let again = Negotiator::new("http://127.0.0.1:7071/api").first_request();
        assert_eq!(again.bearer, Bearer::App);
        assert!(again.url.starts_with("http://127.0.0.1:7071/api/"));
    }

    #[test]
    fn stateful_reconnect_is_asked_at_every_hop() {
        let mut n = Negotiator::new("http://a/api?code=1").with_stateful_reconnect(true);
        assert_eq!(n.first_request().url, "http://a/api/negotiate?code=1&negotiateVersion=1&useStatefulReconnect=true");
        let redirect = r#"{"url":"http://s/client/?hub=h","accessToken":"t"}"#;
        let NegotiateStep::Request(next) = n.handle_response(200, redirect).unwrap() else { panic!() };
        assert!(next.url.ends_with("&useStatefulReconnect=true"));
    }

    #[test]
    fn redirect_loops_stop_at_the_limit() {
        let mut n = Negotiator::new("http://a/api");
        let redirect = r#"{"url":"http://a/api"}"#;
        for _ in 0..MAX_REDIRECTS {
            assert!(matches!(n.handle_response(200, redirect), Ok(NegotiateStep::Request(_))));
        }
        assert_eq!(n.handle_response(200, redirect), Err(NegotiateError::TooManyRedirects));
    }

    #[test]
    fn non_200_is_an_error_with_a_hint_for_404() {
        let err = Negotiator::new("http://a").handle_response(404, "").unwrap_err();
        assert!(err.to_string().contains("404"));
        assert!(err.to_string().contains("not a SignalR endpoint"));
    }

    #[test]
    fn websocket_url_swaps_scheme_and_encodes_the_token() {
        assert_eq!(
            websocket_url("https://x/client/?hub=h&id=1", Some("a b+c")),
            "wss://x/client/?hub=h&id=1&access_token=a%20b%2Bc"
        );
        assert_eq!(websocket_url("http://x/hub?id=1", None), "ws://x/hub?id=1");
    }
}

//! Runtime configuration: `config.json` next to `index.html`, with query-string overrides,
//! so one build serves every environment.
//!
//! ```json
//! { "apiBase": "http://127.0.0.1:7071/api" }
//! ```
//! or, for a plain ASP.NET Core hub (no functions API, no redirect), a hub URL instead:
//! `{ "hubUrl": "https://example.com/hubs/telemetry" }`.
//! Optional: `"transport"` (`webSockets`, `serverSentEvents`, `longPolling`) forces one
//! transport, `"protocol"` (`json`, `messagepack`) picks the hub protocol. Some fields can be
//! overridden in the page URL, e.g. `?apiBase=...&transport=longPolling&protocol=messagepack`
//! (which, and where, the `fields!` table below says).
//! `"serverTimeoutSeconds"` (default 30, 2 to 600) is how long a silent connection (no data, no
//! ping) is trusted before it is taken as dead and reconnected.
//! `"toastSeconds"` (default 8) is how long info and warning toasts stay (critical ones stay
//! until acknowledged), `"floodWindowSeconds"` (default 600) the window alarm floods are
//! counted over, `"staleAfterSeconds"` (default 15) is when a silent device or vehicle is shown offline or
//! stale, `"trailLength"` (default 30) how many positions each vehicle's trail keeps, and
//! `"tileUrl"` / `"tileAttribution"` name a map tile server (none by default: the map draws on
//! a plain background).

use serde::Deserialize;
use signalr::{HubProtocol, TransportKind};

use crate::model::limits::Limits;

/// Where the config file is fetched from, relative to the page.
pub const CONFIG_PATH: &str = "config.json";

/// The longest trail `trailLength` may ask for (an hour at 1 Hz; 10,000 vehicles × 3,600
/// points is the most memory a trail setting can take).
const MAX_TRAIL: u64 = 3_600;

/// A validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// What the dashboard talks to.
    pub backend: Backend,
    /// Only this transport, or any (in the server's order) when `None`.
    pub transport: Option<TransportKind>,
    pub protocol: HubProtocol,
    /// A device silent for longer is shown offline.
    pub stale_after_ms: i64,
    /// Map tiles, if a tile server is configured.
    pub tiles: Option<Tiles>,
    /// Positions kept per vehicle trail (config `trailLength`).
    pub trail_length: usize,
    /// Info and warning toasts leave after this long (config `toastSeconds`).
    pub toast_ms: i64,
    /// Alarm floods are counted over this window (config `floodWindowSeconds`, default ten
    /// minutes as ISA-18.2 counts them; more than 10 alarms in it begin a flood, fewer than 5
    /// end it).
    pub flood_window_ms: i64,
    /// A connection that hears nothing (not even a ping) for this long is taken as dead and
    /// reconnected (config `serverTimeoutSeconds`, default 30 like the official client's).
    pub server_timeout_ms: u64,
    /// config.json lets the page URL change where the page connects on any host.
    pub allow_url_overrides: bool,
    /// How many vehicles, devices, metric histories and sites the page keeps at most.
    pub limits: Limits,
    /// Query-string fields ignored because the page may not be pointed elsewhere from its URL
    /// (see `allowUrlOverrides`).
    pub ignored_overrides: Vec<&'static str>,
    /// Where users sign in (config `auth`); `None`: the functions are open to anyone who can
    /// reach them.
    pub auth: Option<AuthConfig>,
}

/// The `auth` section: sign in with OpenID Connect (authorization code with PKCE) before
/// anything is fetched, and send the access token to the functions as a bearer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthConfig {
    /// The OpenID provider's issuer URL (its discovery document is
    /// `{authority}/.well-known/openid-configuration`).
    pub authority: String,
    /// The dashboard's client id at the provider (a public client: no secret).
    pub client_id: String,
    /// The API's scope to ask for, e.g. `api://iot-dashboard/telemetry`; `openid profile
    /// offline_access` are always asked for besides (offline_access: a refresh token, so the
    /// page renews without leaving).
    #[serde(default)]
    pub scope: String,
    /// Where the provider sends the browser back; the page's own address (without query or
    /// fragment) when absent.
    #[serde(default)]
    pub redirect_uri: Option<String>,
}

/// The server side: the functions API in front of a SignalR service (Azure's serverless
/// pattern), or a SignalR hub reached directly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// `apiBase`: `{apiBase}/negotiate` redirects to the service; snapshot, subscriptions and
    /// acknowledgements are HTTP calls to the functions.
    Functions { api_base: String },
    /// `hubUrl`: negotiate with the hub itself; the same calls are hub methods.
    Hub { url: String },
}

impl Backend {
    /// The URL negotiate starts from.
    pub fn negotiate_base(&self) -> &str {
        match self {
            Backend::Functions { api_base } => api_base,
            Backend::Hub { url } => url,
        }
    }
}

/// A tile server for the fleet map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tiles {
    /// URL template with `{z}`, `{x}` and `{y}`.
    pub url: String,
    /// Attribution shown on the map (as text).
    pub attribution: String,
}

/// What is wrong with the configuration, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("config.json could not be loaded: {0}")]
    Unavailable(String),
    #[error("config.json is not valid JSON: {0}")]
    Syntax(String),
    #[error("config field `{field}` {problem}")]
    Field { field: &'static str, problem: String },
}

/// Who may change a field through the page's URL (`?apiBase=...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Override {
    /// Only config.json sets it.
    Never,
    /// How the page shows or reaches its data (a transport, a protocol, a timeout): any URL.
    Anywhere,
    /// Where the page connects or loads from: only a page served from a loopback address (a
    /// developer's machine) or one whose config.json sets `"allowUrlOverrides": true`.
    /// Anywhere else a link could send the operator's acknowledgements, name included, to
    /// another origin and show it fake data.
    TrustedPage,
}

impl Override {
    fn applies(self, trusted_page: bool) -> bool {
        match self {
            Override::Never => false,
            Override::Anywhere => true,
            Override::TrustedPage => trusted_page,
        }
    }
}

/// Declares the config fields once. Each line: the value it parses to, its JSON name, who may
/// override it in the page URL ([`Override`]), what its parser takes from the file ([`Text`]: a string,
/// [`Json`]: any value, which the parser checks), and the parser, which also gives the default.
/// The file's shape, the query keys read and the order of the checks all follow from it.
macro_rules! fields {
    ( $(
        $(#[doc = $doc:literal])*
        $name:ident: $ty:ty = $json:literal, query: $query:ident, $raw:ty => $parse:expr;
    )* ) => {
        /// `config.json` as written; unknown fields are ignored.
        #[derive(Debug, Default, Deserialize)]
        struct RawConfig {
            $( #[serde(rename = $json)] $name: Option<serde_json::Value>, )*
        }

        /// Every field, parsed and defaulted, before the checks that span fields.
        struct Fields {
            $( $(#[doc = $doc])* $name: $ty, )*
        }

        /// JSON names and who may override them in the page URL, in declaration order.
        const FIELDS: &[(&str, Override)] = &[ $( ($json, Override::$query), )* ];

        /// Reads the file, applies the `overrides` allowed (`TrustedPage` ones only when
        /// `loopback_page` or the file allows them), then parses every field in declaration
        /// order. Also returns the overrides ignored.
        fn fields(
            text: &str,
            overrides: &[(String, String)],
            loopback_page: bool,
        ) -> Result<(Fields, Vec<&'static str>), ConfigError> {
            let raw: RawConfig = serde_json::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
            let trusted = loopback_page || raw.allow_url_overrides == Some(serde_json::Value::Bool(true));
            let mut ignored = Vec::new();
            // The file's values are checked for their type before the URL may replace them.
            $( let mut $name = <$raw as Raw>::from_file(raw.$name, $json)?; )*
            for (key, value) in overrides {
                match key.as_str() {
                    $(
                        $json if Override::$query.applies(trusted) => $name = <$raw as Raw>::from_query(value),
                        $json if Override::$query == Override::TrustedPage => ignored.push($json),
                    )*
                    _ => {}
                }
            }
            $( let $name = ($parse)($name, $json)?; )*
            Ok((Fields { $( $name, )* }, ignored))
        }
    };
}

/// A field that must be a string in the file.
type Text = Option<String>;
/// A field whose parser checks the file's JSON value itself (a query override arrives as a
/// JSON string).
type Json = Option<serde_json::Value>;

/// What a field's parser is given: from the file, or from a query-string override (text).
trait Raw: Sized {
    fn from_file(value: Option<serde_json::Value>, field: &'static str) -> Result<Self, ConfigError>;
    fn from_query(text: &str) -> Self;
}

impl Raw for Text {
    fn from_file(value: Option<serde_json::Value>, field: &'static str) -> Result<Self, ConfigError> {
        match value {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(ConfigError::Field { field, problem: format!("must be a string, got {other}") }),
        }
    }

    fn from_query(text: &str) -> Self {
        Some(text.to_string())
    }
}

impl Raw for Json {
    fn from_file(value: Option<serde_json::Value>, _: &'static str) -> Result<Self, ConfigError> {
        Ok(value)
    }

    fn from_query(text: &str) -> Self {
        Some(serde_json::Value::String(text.to_string()))
    }
}

fields! {
    /// The functions API (`{apiBase}/negotiate`).
    api_base: Option<String> = "apiBase", query: TrustedPage, Text => base_url;
    /// A SignalR hub reached directly, instead of `apiBase`.
    hub_url: Option<String> = "hubUrl", query: TrustedPage, Text => base_url;
    transport: Option<TransportKind> = "transport", query: Anywhere, Text => transport_kind;
    protocol: HubProtocol = "protocol", query: Anywhere, Text => hub_protocol;
    stale_after_ms: i64 = "staleAfterSeconds", query: Never, Json => |v, f| seconds(v, f, 15.0, 1.0..=86_400.0);
    server_timeout_ms: u64 =
        "serverTimeoutSeconds", query: Anywhere, Json => |v, f| Ok(seconds(v, f, 30.0, 2.0..=600.0)? as u64);
    /// The URL template, if tiles are configured (blank is none).
    tile_url: Option<String> = "tileUrl", query: TrustedPage, Text => tile_template;
    tile_attribution: String = "tileAttribution", query: Anywhere, Text => |v: Text, _| Ok(v.unwrap_or_default());
    trail_length: usize = "trailLength", query: Never, Json => trail_positions;
    toast_ms: i64 = "toastSeconds", query: Never, Json => |v, f| seconds(v, f, 8.0, 1.0..=3_600.0);
    /// The window alarm floods are counted over (ISA-18.2: ten minutes).
    flood_window_ms: i64 = "floodWindowSeconds", query: Never, Json => |v, f| seconds(v, f, 600.0, 10.0..=3_600.0);
    /// Let the page URL change where it connects (`apiBase`, `hubUrl`, `tileUrl`) on any host,
    /// not only on a loopback one.
    allow_url_overrides: bool = "allowUrlOverrides", query: Never, Json => flag;
    /// Vehicles kept at most (new ids beyond are ignored and counted).
    max_vehicles: usize = "maxVehicles", query: Never, Json => |v, f| count(v, f, Limits::default().vehicles, 1_000_000);
    /// Machines and rigs kept at most.
    max_devices: usize = "maxDevices", query: Never, Json => |v, f| count(v, f, Limits::default().devices, 1_000_000);
    /// Metric histories kept at most, across devices (each up to 113 KB).
    max_series: usize = "maxSeries", query: Never, Json => |v, f| count(v, f, Limits::default().series, 100_000);
    /// Sites listed and joined at most.
    max_sites: usize = "maxSites", query: Never, Json => |v, f| count(v, f, Limits::default().sites, 100_000);
    /// Sign-in with OpenID Connect (none: an open deployment). Never from the page URL: a link
    /// must not send the operator to sign in somewhere else.
    auth: Option<AuthConfig> = "auth", query: Never, Json => auth_section;
}

/// Parses `config.json` text and applies `overrides` (query-string pairs) as a page served from
/// a loopback address would, then validates.
pub fn resolve(text: &str, overrides: &[(String, String)]) -> Result<Config, ConfigError> {
    resolve_for(text, overrides, true)
}

/// [`resolve`] for a page served from a loopback address (`loopback_page`) or from anywhere
/// else, where the URL may not change where the page connects unless config.json allows it.
pub fn resolve_for(text: &str, overrides: &[(String, String)], loopback_page: bool) -> Result<Config, ConfigError> {
    let (
        Fields {
            api_base,
            hub_url,
            transport,
            protocol,
            stale_after_ms,
            server_timeout_ms,
            tile_url,
            tile_attribution,
            trail_length,
            toast_ms,
            flood_window_ms,
            allow_url_overrides,
            max_vehicles,
            max_devices,
            max_series,
            max_sites,
            auth,
        },
        ignored_overrides,
    ) = fields(text, overrides, loopback_page)?;
    // A query-string `apiBase` or `hubUrl` replaces whichever the file gives.
    let chosen = overrides
        .iter()
        .rev()
        .map(|(key, _)| key.as_str())
        .filter(|key| !ignored_overrides.contains(key))
        .find(|key| *key == "apiBase" || *key == "hubUrl");
    let backend = match (api_base, hub_url, chosen) {
        (Some(api_base), _, Some("apiBase")) | (Some(api_base), None, _) => Backend::Functions { api_base },
        (_, Some(url), Some("hubUrl")) | (None, Some(url), _) => Backend::Hub { url },
        (Some(_), Some(_), _) => {
            return Err(ConfigError::Field {
                field: "hubUrl",
                problem: "cannot be given with `apiBase`: give one of the two".into(),
            })
        }
        (None, None, _) => {
            return Err(ConfigError::Field {
                field: "apiBase",
                problem: "is missing (give `apiBase`, the functions API, or `hubUrl`, a SignalR hub)".into(),
            })
        }
    };
    if transport == Some(TransportKind::ServerSentEvents) && protocol == HubProtocol::MessagePack {
        return Err(ConfigError::Field {
            field: "protocol",
            problem: "messagepack is binary and cannot run over serverSentEvents (text only)".into(),
        });
    }
    let tiles = tile_url.map(|url| Tiles { url, attribution: tile_attribution });
    Ok(Config {
        backend,
        transport,
        protocol,
        stale_after_ms,
        tiles,
        trail_length,
        toast_ms,
        flood_window_ms,
        server_timeout_ms,
        allow_url_overrides,
        limits: Limits { vehicles: max_vehicles, devices: max_devices, series: max_series, sites: max_sites },
        ignored_overrides,
        auth,
    })
}

/// One transport by name (any case), or any when absent, empty or `auto`.
fn transport_kind(value: Option<String>, field: &'static str) -> Result<Option<TransportKind>, ConfigError> {
    match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("") | Some("auto") => Ok(None),
        Some("websockets") => Ok(Some(TransportKind::WebSockets)),
        Some("serversentevents") => Ok(Some(TransportKind::ServerSentEvents)),
        Some("longpolling") => Ok(Some(TransportKind::LongPolling)),
        Some(other) => Err(ConfigError::Field {
            field,
            problem: format!("must be webSockets, serverSentEvents or longPolling, got {other:?}"),
        }),
    }
}

/// The hub protocol by name (any case), JSON when absent or empty.
fn hub_protocol(value: Option<String>, field: &'static str) -> Result<HubProtocol, ConfigError> {
    match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("") | Some("json") => Ok(HubProtocol::Json),
        Some("messagepack") | Some("msgpack") => Ok(HubProtocol::MessagePack),
        Some(other) => {
            Err(ConfigError::Field { field, problem: format!("must be json or messagepack, got {other:?}") })
        }
    }
}

/// A tile URL template: absolute or from the root, with all three placeholders.
fn tile_template(value: Option<String>, field: &'static str) -> Result<Option<String>, ConfigError> {
    let Some(url) = value.filter(|u| !u.trim().is_empty()) else { return Ok(None) };
    let absolute = url.starts_with("http://") || url.starts_with("https://") || url.starts_with('/');
    if !absolute || !["{z}", "{x}", "{y}"].iter().all(|p| url.contains(p)) {
        return Err(ConfigError::Field {
            field,
            problem: format!("must be an http(s) URL template with {{z}}, {{x}} and {{y}}, got {url:?}"),
        });
    }
    Ok(Some(url))
}

/// Positions per trail: a whole number from 1 to [`MAX_TRAIL`], the fleet's default if absent.
fn trail_positions(value: Option<serde_json::Value>, field: &'static str) -> Result<usize, ConfigError> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(crate::model::fleet::DEFAULT_TRAIL),
        Some(serde_json::Value::Number(n)) if n.as_u64().is_some_and(|n| (1..=MAX_TRAIL).contains(&n)) => {
            Ok(n.as_u64().unwrap_or(1) as usize)
        }
        Some(other) => Err(ConfigError::Field {
            field,
            problem: format!("must be a whole number of positions from 1 to {MAX_TRAIL}, got {other}"),
        }),
    }
}

/// A whole number from 1 to `max` (`default` when absent).
fn count(
    value: Option<serde_json::Value>,
    field: &'static str,
    default: usize,
    max: u64,
) -> Result<usize, ConfigError> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(default),
        Some(serde_json::Value::Number(n)) if n.as_u64().is_some_and(|n| (1..=max).contains(&n)) => {
            Ok(n.as_u64().unwrap_or(1) as usize)
        }
        Some(other) => {
            Err(ConfigError::Field { field, problem: format!("must be a whole number from 1 to {max}, got {other}") })
        }
    }
}

/// A number of seconds within `range` (`default` when absent), in milliseconds. A query-string
/// override arrives as text and is read as a number.
fn seconds(
    value: Option<serde_json::Value>,
    field: &'static str,
    default: f64,
    range: std::ops::RangeInclusive<f64>,
) -> Result<i64, ConfigError> {
    let number = match &value {
        None | Some(serde_json::Value::Null) => return Ok((default * 1000.0) as i64),
        Some(serde_json::Value::Number(n)) => n.as_f64(),
        Some(serde_json::Value::String(text)) => text.trim().parse::<f64>().ok(),
        Some(_) => None,
    };
    match number {
        Some(s) if range.contains(&s) => Ok((s * 1000.0) as i64),
        _ => Err(ConfigError::Field {
            field,
            problem: format!(
                "must be a number of seconds from {} to {}, got {}",
                range.start(),
                range.end(),
                value.map(|v| v.to_string()).unwrap_or_default()
            ),
        }),
    }
}

/// The `auth` section, checked: an http(s) authority (https unless on a loopback host) and a
/// client id.
fn auth_section(value: Option<serde_json::Value>, field: &'static str) -> Result<Option<AuthConfig>, ConfigError> {
    let value = match value {
        None | Some(serde_json::Value::Null) => return Ok(None),
        Some(value) => value,
    };
    let problem = |problem: String| ConfigError::Field { field, problem };
    let mut auth: AuthConfig = serde_json::from_value(value).map_err(|e| {
        problem(format!("must be {{\"authority\": issuer URL, \"clientId\": id, \"scope\": API scope}}: {e}"))
    })?;
    auth.authority = auth.authority.trim().trim_end_matches('/').to_string();
    let host = auth
        .authority
        .strip_prefix("https://")
        .or_else(|| auth.authority.strip_prefix("http://"))
        .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or_default())
        .map(|host| {
            host.rsplit_once(':').filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit())).map_or(host, |(h, _)| h)
        });
    match host {
        Some(host) if !host.is_empty() && (auth.authority.starts_with("https://") || is_loopback_host(host)) => {}
        _ => {
            return Err(problem(format!(
                "`authority` must be the issuer's https URL (http only on a loopback host), got {:?}",
                auth.authority
            )))
        }
    }
    auth.client_id = auth.client_id.trim().to_string();
    if auth.client_id.is_empty() {
        return Err(problem("`clientId` must not be empty".into()));
    }
    auth.scope = auth.scope.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some(uri) = &auth.redirect_uri {
        if !(uri.starts_with("https://") || uri.starts_with("http://")) {
            return Err(problem(format!("`redirectUri` must be an absolute http(s) URL, got {uri:?}")));
        }
    }
    Ok(Some(auth))
}

/// `true` or `false` (false when absent).
fn flag(value: Option<serde_json::Value>, field: &'static str) -> Result<bool, ConfigError> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(false),
        Some(serde_json::Value::Bool(b)) => Ok(b),
        Some(other) => Err(ConfigError::Field { field, problem: format!("must be true or false, got {other}") }),
    }
}

/// An optional base URL: trimmed, without a trailing '/', http(s) or a path from the root.
fn base_url(value: Option<String>, field: &'static str) -> Result<Option<String>, ConfigError> {
    let Some(url) = value.map(|s| s.trim().trim_end_matches('/').to_string()).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if !(url.starts_with("http://") || url.starts_with("https://") || url.starts_with('/')) {
        return Err(ConfigError::Field {
            field,
            problem: format!("must be an http(s) URL or a path starting with '/', got {url:?}"),
        });
    }
    Ok(Some(url))
}

/// Fetches `config.json` and resolves it against the page's query string.
pub async fn load() -> Result<Config, ConfigError> {
    let response = gloo_net::http::Request::get(CONFIG_PATH)
        .cache(web_sys::RequestCache::NoCache)
        .send()
        .await
        .map_err(|e| ConfigError::Unavailable(e.to_string()))?;
    if !response.ok() {
        return Err(ConfigError::Unavailable(format!("HTTP {} for {CONFIG_PATH}", response.status())));
    }
    let text = response.text().await.map_err(|e| ConfigError::Unavailable(e.to_string()))?;
    let host = web_sys::window().and_then(|w| w.location().hostname().ok()).unwrap_or_default();
    let config = resolve_for(&text, &query_pairs(), is_loopback_host(&host))?;
    for field in &config.ignored_overrides {
        leptos::logging::warn!(
            "config: ?{field}= in the page URL is ignored: this page is not served from a loopback address and \
             config.json does not set \"allowUrlOverrides\": true"
        );
    }
    Ok(config)
}

/// A host name that can only be this machine: `localhost` (and its subdomains), 127.0.0.0/8, `::1`.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The page's query string as pairs.
fn query_pairs() -> Vec<(String, String)> {
    let Some(search) = web_sys::window().and_then(|w| w.location().search().ok()) else {
        return Vec::new();
    };
    let Ok(params) = web_sys::UrlSearchParams::new_with_str(&search) else {
        return Vec::new();
    };
    FIELDS
        .iter()
        .filter(|(_, query)| *query != Override::Never)
        .filter_map(|(key, _)| params.get(key).map(|value| (key.to_string(), value)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_shipped_config() {
        let config = resolve(include_str!("../public/config.json"), &[]).unwrap();
        assert_eq!(config.backend, Backend::Functions { api_base: "http://127.0.0.1:7071/api".into() });
    }

    #[test]
    fn query_overrides_win_and_trailing_slash_is_dropped() {
        let overrides = vec![("apiBase".to_string(), "http://127.0.0.1:9/api/".to_string())];
        let config = resolve(r#"{"apiBase":"http://x/api"}"#, &overrides).unwrap();
        assert_eq!(config.backend, Backend::Functions { api_base: "http://127.0.0.1:9/api".into() });
    }

    #[test]
    fn a_hub_url_instead_of_the_functions_api() {
        let hub = |url: &str| Backend::Hub { url: url.into() };
        let config = resolve(r#"{"hubUrl":"https://example.com/hubs/telemetry/"}"#, &[]).unwrap();
        assert_eq!(config.backend, hub("https://example.com/hubs/telemetry"));
        assert_eq!(config.backend.negotiate_base(), "https://example.com/hubs/telemetry");
        // The page URL picks either, whatever the file says.
        let overrides = vec![("hubUrl".to_string(), "http://127.0.0.1:8888/hubs/telemetry".to_string())];
        let config = resolve(r#"{"apiBase":"/api"}"#, &overrides).unwrap();
        assert_eq!(config.backend, hub("http://127.0.0.1:8888/hubs/telemetry"));
        let overrides = vec![("apiBase".to_string(), "/api".to_string())];
        let config = resolve(r#"{"hubUrl":"/hubs/telemetry"}"#, &overrides).unwrap();
        assert_eq!(config.backend, Backend::Functions { api_base: "/api".into() });
        // Both in the file is ambiguous; a bad hub URL is named.
        let err = resolve(r#"{"apiBase":"/api","hubUrl":"/hubs/telemetry"}"#, &[]).unwrap_err();
        assert!(err.to_string().contains("`hubUrl` cannot be given with `apiBase`"), "{err}");
        let err = resolve(r#"{"hubUrl":"ws://x/hub"}"#, &[]).unwrap_err();
        assert!(err.to_string().contains("`hubUrl` must be an http(s) URL"), "{err}");
        let err = resolve(r#"{"hubUrl":["x"]}"#, &[]).unwrap_err();
        assert!(err.to_string().contains("`hubUrl` must be a string"), "{err}");
    }

    #[test]
    fn errors_name_the_field() {
        let err = resolve("{}", &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "config field `apiBase` is missing (give `apiBase`, the functions API, or `hubUrl`, a SignalR hub)"
        );
        let err = resolve(r#"{"apiBase":42}"#, &[]).unwrap_err();
        assert!(err.to_string().contains("`apiBase` must be a string"));
        let err = resolve(r#"{"apiBase":"ftp://x"}"#, &[]).unwrap_err();
        assert!(err.to_string().contains("`apiBase` must be an http(s) URL"));
        // The hub is the functions' choice (or in the hubUrl's path): a `hub` field is ignored.
        assert!(resolve(r#"{"apiBase":"/api","hub":"no spaces"}"#, &[]).is_ok());
        assert!(matches!(resolve("{apiBase:", &[]), Err(ConfigError::Syntax(_))));
    }

    #[test]
    fn an_auth_section_is_checked_and_never_taken_from_the_url() {
        assert_eq!(resolve(r#"{"apiBase":"/api"}"#, &[]).unwrap().auth, None);
        let config = resolve(
            r#"{"apiBase":"/api","auth":{"authority":"https://login.example.com/tenant/v2.0/","clientId":" spa ","scope":"api://x/read  api://x/write"}}"#,
            &[("auth".to_string(), "{}".to_string())],
        )
        .unwrap();
        let auth = config.auth.unwrap();
        assert_eq!(auth.authority, "https://login.example.com/tenant/v2.0");
        assert_eq!((auth.client_id.as_str(), auth.scope.as_str()), ("spa", "api://x/read api://x/write"));
        let ok = resolve(r#"{"apiBase":"/api","auth":{"authority":"http://127.0.0.1:9000","clientId":"d"}}"#, &[]);
        assert_eq!(ok.unwrap().auth.unwrap().scope, "");
        for (bad, says) in [
            (r#"{"authority":"http://login.example.com","clientId":"d"}"#, "must be the issuer's https URL"),
            (r#"{"authority":"https://","clientId":"d"}"#, "must be the issuer's https URL"),
            (r#"{"authority":"https://x","clientId":"  "}"#, "`clientId` must not be empty"),
            (r#"{"clientId":"d"}"#, "missing field `authority`"),
            (r#"{"authority":"https://x","clientId":"d","secret":"s"}"#, "unknown field `secret`"),
            (r#"{"authority":"https://x","clientId":"d","redirectUri":"/back"}"#, "`redirectUri` must be an absolute"),
            (r#""https://x""#, "must be {"),
        ] {
            let err = resolve(&format!(r#"{{"apiBase":"/api","auth":{bad}}}"#), &[]).unwrap_err();
            assert!(err.to_string().contains(says), "{bad}: {err}");
            assert!(err.to_string().starts_with("config field `auth`"), "{err}");
        }
    }

    #[test]
    fn limits_default_for_a_large_deployment_and_are_checked() {
        let limits = resolve(r#"{"apiBase":"/api"}"#, &[]).unwrap().limits;
        assert_eq!(limits, Limits::default());
        assert_eq!((limits.vehicles, limits.devices), (200_000, 5_000));
        let config = resolve(r#"{"apiBase":"/api","maxVehicles":5,"maxDevices":2,"maxSeries":9,"maxSites":3}"#, &[]);
        assert_eq!(config.unwrap().limits, Limits { vehicles: 5, devices: 2, series: 9, sites: 3 });
        for bad in ["0", "-1", "2.5", "\"many\"", "true", "100000000"] {
            let err = resolve(&format!(r#"{{"apiBase":"/api","maxVehicles":{bad}}}"#), &[]).unwrap_err();
            assert!(err.to_string().contains("`maxVehicles` must be a whole number"), "{bad}: {err}");
        }
        // Not from the page URL: a link cannot make the page drop its fleet.
        let overrides = vec![("maxVehicles".to_string(), "1".to_string())];
        assert_eq!(resolve(r#"{"apiBase":"/api"}"#, &overrides).unwrap().limits.vehicles, 200_000);
    }

    #[test]
    fn stale_time_is_configurable_and_checked() {
        assert_eq!(resolve(r#"{"apiBase":"/api"}"#, &[]).unwrap().stale_after_ms, 15_000);
        assert_eq!(resolve(r#"{"apiBase":"/api","staleAfterSeconds":60}"#, &[]).unwrap().stale_after_ms, 60_000);
        assert_eq!(resolve(r#"{"apiBase":"/api"}"#, &[]).unwrap().trail_length, 30);
        assert_eq!(resolve(r#"{"apiBase":"/api","trailLength":120}"#, &[]).unwrap().trail_length, 120);
        for bad in ["0", "1.5", "\"long\"", "100000"] {
            let err = resolve(&format!(r#"{{"apiBase":"/api","trailLength":{bad}}}"#), &[]).unwrap_err();
            assert!(err.to_string().contains("`trailLength`"), "{bad}: {err}");
        }
        assert_eq!(resolve(r#"{"apiBase":"/api"}"#, &[]).unwrap().toast_ms, 8_000);
        assert_eq!(resolve(r#"{"apiBase":"/api"}"#, &[]).unwrap().flood_window_ms, 600_000);
        assert_eq!(resolve(r#"{"apiBase":"/api","floodWindowSeconds":20}"#, &[]).unwrap().flood_window_ms, 20_000);
        assert!(resolve(r#"{"apiBase":"/api","floodWindowSeconds":1}"#, &[]).is_err(), "too short to mean a flood");
        assert_eq!(resolve(r#"{"apiBase":"/api","toastSeconds":2.5}"#, &[]).unwrap().toast_ms, 2_500);
        let err = resolve(r#"{"apiBase":"/api","toastSeconds":0}"#, &[]).unwrap_err();
        assert!(err.to_string().contains("`toastSeconds`"), "{err}");
        assert_eq!(resolve(r#"{"apiBase":"/api"}"#, &[]).unwrap().server_timeout_ms, 30_000);
        let fast = vec![("serverTimeoutSeconds".to_string(), "3".to_string())];
        assert_eq!(resolve(r#"{"apiBase":"/api","serverTimeoutSeconds":60}"#, &fast).unwrap().server_timeout_ms, 3_000);
        for bad in ["1", "601", "soon"] {
            let overrides = vec![("serverTimeoutSeconds".to_string(), bad.to_string())];
            let err = resolve(r#"{"apiBase":"/api"}"#, &overrides).unwrap_err();
            assert!(
                err.to_string().contains("`serverTimeoutSeconds` must be a number of seconds from 2 to 600"),
                "{err}"
            );
        }
        let err = resolve(r#"{"apiBase":"/api","staleAfterSeconds":"soon"}"#, &[]).unwrap_err();
        assert!(err.to_string().contains("`staleAfterSeconds`"));
    }

    #[test]
    fn transport_and_protocol_can_be_forced() {
        let pairs =
            |t: &str, p: &str| vec![("transport".to_string(), t.to_string()), ("protocol".to_string(), p.to_string())];
        let config = resolve(r#"{"apiBase":"/api"}"#, &pairs("longPolling", "messagepack")).unwrap();
        assert_eq!(config.transport, Some(TransportKind::LongPolling));
        assert_eq!(config.protocol, HubProtocol::MessagePack);
        let config = resolve(r#"{"apiBase":"/api","transport":"serverSentEvents"}"#, &[]).unwrap();
        assert_eq!(config.transport, Some(TransportKind::ServerSentEvents));
        assert_eq!(config.protocol, HubProtocol::Json);
        let err = resolve(r#"{"apiBase":"/api"}"#, &pairs("pigeon", "json")).unwrap_err();
        assert!(err.to_string().contains("`transport`"));
        let err = resolve(r#"{"apiBase":"/api"}"#, &pairs("serverSentEvents", "messagepack")).unwrap_err();
        assert!(err.to_string().contains("`protocol`"));
    }

    #[test]
    fn the_page_url_may_override_these_fields_only() {
        let keys: Vec<&str> =
            FIELDS.iter().filter(|(_, query)| *query != Override::Never).map(|(key, _)| *key).collect();
        let expected =
            ["apiBase", "hubUrl", "transport", "protocol", "serverTimeoutSeconds", "tileUrl", "tileAttribution"];
        assert_eq!(keys, expected);
        let ignored = vec![("trailLength".to_string(), "5".to_string())];
        assert_eq!(resolve(r#"{"apiBase":"/api"}"#, &ignored).unwrap().trail_length, 30);
    }

    #[test]
    fn only_a_trusted_page_may_be_pointed_elsewhere_from_its_url() {
        let file = r#"{"apiBase":"https://ops.example/api"}"#;
        let overrides = vec![
            ("apiBase".to_string(), "https://evil.example/api".to_string()),
            ("tileUrl".to_string(), "https://evil.example/{z}/{x}/{y}.png".to_string()),
            ("transport".to_string(), "longPolling".to_string()),
        ];
        // Served from anywhere: where it connects stays config.json's; how it connects may change.
        let config = resolve_for(file, &overrides, false).unwrap();
        assert_eq!(config.backend, Backend::Functions { api_base: "https://ops.example/api".into() });
        assert_eq!(config.tiles, None);
        assert_eq!(config.transport, Some(TransportKind::LongPolling));
        assert_eq!(config.ignored_overrides, ["apiBase", "tileUrl"]);
        let hub_url = vec![("hubUrl".to_string(), "https://evil.example/hub".to_string())];
        let config = resolve_for(file, &hub_url, false).unwrap();
        assert_eq!(config.backend, Backend::Functions { api_base: "https://ops.example/api".into() });
        // Served from this machine, or allowed by the file: the URL wins.
        let config = resolve_for(file, &overrides, true).unwrap();
        assert_eq!(config.backend, Backend::Functions { api_base: "https://evil.example/api".into() });
        assert!(config.ignored_overrides.is_empty());
        let allowing = r#"{"apiBase":"https://ops.example/api","allowUrlOverrides":true}"#;
        let config = resolve_for(allowing, &overrides, false).unwrap();
        assert_eq!(config.backend, Backend::Functions { api_base: "https://evil.example/api".into() });
        // The permission itself comes from the file only, and must be a boolean.
        let mut asking = overrides.clone();
        asking.push(("allowUrlOverrides".to_string(), "true".to_string()));
        assert_eq!(resolve_for(file, &asking, false).unwrap().ignored_overrides, ["apiBase", "tileUrl"]);
        let err = resolve(r#"{"apiBase":"/api","allowUrlOverrides":"yes"}"#, &[]).unwrap_err();
        assert!(err.to_string().contains("`allowUrlOverrides` must be true or false"), "{err}");
    }

    #[test]
    fn loopback_hosts() {
        for host in ["localhost", "LOCALHOST", "app.localhost", "127.0.0.1", "127.8.9.10", "[::1]", "::1"] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in ["ops.example", "localhost.example", "10.0.0.1", "128.0.0.1", "", "[::2]"] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn tiles_are_optional_and_checked() {
        assert_eq!(resolve(r#"{"apiBase":"/api"}"#, &[]).unwrap().tiles, None);
        let config =
            resolve(r#"{"apiBase":"/api","tileUrl":"/tiles/{z}/{x}/{y}.png","tileAttribution":"© me"}"#, &[]).unwrap();
        assert_eq!(config.tiles.unwrap().attribution, "© me");
        let err = resolve(r#"{"apiBase":"/api","tileUrl":"https://x/tile.png"}"#, &[]).unwrap_err();
        assert!(err.to_string().contains("`tileUrl`"));
    }
}

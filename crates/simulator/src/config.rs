//! The command line and the settings the servers run with, checked before anything starts.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use telemetry::AlarmPolicy;

use crate::auth::access::Access;
use crate::auth::token::ClaimNames;
use crate::auth::AuthSettings;
use crate::faults::Faults;
use crate::history::HistorySettings;
use crate::service::connection_string::ConnectionString;
use crate::service::jwt;
use crate::service::{Timing, TransportPolicy};

/// A fixed key for local development only; printed at start so anyone can publish with curl.
pub const DEV_ACCESS_KEY: &str = "SimulatorDevelopmentKeyNotASecret0123456789ABCDEF";

/// The default connection string: the embedded service on 127.0.0.1:8888.
pub fn dev_connection_string() -> String {
    format!("Endpoint=http://127.0.0.1:8888;AccessKey={DEV_ACCESS_KEY};Version=1.0;")
}

/// Command-line flags.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "simulator",
    version,
    about = "Functions API + SignalR service + simulated devices, for local development"
)]
pub struct Config {
    /// Address both servers listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port of the functions API (`/api/negotiate`, ...).
    #[arg(long, default_value_t = 7071)]
    pub functions_port: u16,
    /// Port of the SignalR service; defaults to the connection string's Endpoint port.
    #[arg(long)]
    pub service_port: Option<u16>,
    /// `Endpoint=...;AccessKey=...;Version=1.0;` of the SignalR service. Tokens are signed with
    /// its AccessKey; its Endpoint is the URL handed to browsers.
    #[arg(long, env = "AZURE_SIGNALR_CONNECTION_STRING", default_value_t = dev_connection_string(), hide_default_value = true)]
    pub connection_string: String,
    /// Lifetime of client tokens issued by negotiate, in seconds.
    #[arg(long, default_value_t = 3600)]
    pub token_lifetime: u64,
    /// Another origin allowed by CORS (loopback origins always are). Repeatable.
    #[arg(long = "allow-origin")]
    pub allow_origins: Vec<String>,
    /// Seed of every simulated device: the same seed replays the same data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Number of simulated vehicles.
    #[arg(long, default_value_t = 50)]
    pub vehicles: usize,
    /// Position updates per vehicle per second.
    #[arg(long, default_value_t = 1.0)]
    pub rate: f64,
    /// Number of process machines (temperature, pressure).
    #[arg(long, default_value_t = 6)]
    pub machines: usize,
    /// Number of drilling rigs (rpm, power, angle).
    #[arg(long, default_value_t = 4)]
    pub rigs: usize,
    /// Leave out the built-in geofences (Depot, Market square) and their alarms: every alert
    /// then comes from the machines, the rigs, a catalog file, or a publisher.
    #[arg(long)]
    pub no_geofences: bool,
    /// Readings per machine or rig per second.
    #[arg(long, default_value_t = 1.0)]
    pub reading_rate: f64,
    /// A catalog file of your own (the JSON document of crates/telemetry/src/catalog.rs), merged
    /// into the built-in one by id: its kinds, its sites, and its devices, which report every
    /// metric of their kind (readings wandering within min..max, now and then past a limit) when
    /// their kind is declared and is not a vehicle kind.
    #[arg(long, env = "SIMULATOR_CATALOG")]
    pub catalog: Option<PathBuf>,
    /// Centre of the fleet, `lat,lon`.
    #[arg(long, default_value = "47.3769,8.5417", value_parser = parse_centre)]
    pub centre: (f64, f64),
    /// Server keep-alive: a Ping after this many ms without other traffic.
    #[arg(long, default_value_t = 15_000)]
    pub keep_alive_ms: u64,
    /// Drop a client that sent nothing for this many ms.
    #[arg(long, default_value_t = 30_000)]
    pub client_timeout_ms: u64,
    /// Hold a long poll this many ms before answering it empty.
    #[arg(long, default_value_t = 90_000)]
    pub poll_timeout_ms: u64,
    /// Fault: refuse this transport at connect time although negotiate offers it, like a
    /// proxy that blocks it (WebSockets, ServerSentEvents, LongPolling). Repeatable.
    #[arg(long = "refuse-transport", value_parser = parse_transport)]
    pub refuse_transports: Vec<signalr::TransportKind>,
    /// Grant stateful reconnect (Ack/Sequence) to clients that ask for it.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub stateful_reconnect: bool,
    /// Also serve the hub at `/hubs/telemetry` on the service port with no token, the way a
    /// plain ASP.NET Core SignalR hub is served (for dashboards configured with `hubUrl`).
    #[arg(long, default_value_t = false)]
    pub plain_hub: bool,
    /// Fault: close every connection every N seconds (0 = never).
    #[arg(long, default_value_t = 0)]
    pub drop_every_secs: u64,
    /// Fault: cut every WebSocket every N seconds without a close frame, like a network blip
    /// (0 = never): stateful clients resume and lose nothing, others reconnect.
    #[arg(long, default_value_t = 0)]
    pub cut_transport_every_secs: u64,
    /// Fault: every N seconds send every client a broken frame, in turn invalid, of an unknown
    /// type, oversized (over 1 MiB) and unterminated (0 = never).
    #[arg(long, default_value_t = 0)]
    pub bad_frame_every_secs: u64,
    /// Fault: every N seconds, stop sending anything, pings included (0 = never) ...
    #[arg(long, default_value_t = 0)]
    pub stall_every_secs: u64,
    /// ... for this many seconds.
    #[arg(long, default_value_t = 40)]
    pub stall_for_secs: u64,
    /// The connection string names a remote service (Azure SignalR Service): do not start the
    /// embedded one; negotiate hands out tokens for the remote client URL and every broadcast
    /// and group change goes through the remote REST API.
    #[arg(long, env = "SIMULATOR_REMOTE_SERVICE", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub remote_service: bool,
    /// Fault: answer negotiate only after this many ms.
    #[arg(long, default_value_t = 0)]
    pub negotiate_delay_ms: u64,
    /// Minutes of history kept at one-second resolution (positions, readings, alert events) for
    /// `GET /api/history...`; an empty store is backfilled with them at start. 0 turns history
    /// off (those routes answer 404). At most a day.
    #[arg(long, env = "SIMULATOR_HISTORY_MINUTES", default_value_t = 60)]
    pub history_minutes: u64,
    /// Keep the history in DIR/history.sqlite3, so a restart keeps it (default: in memory).
    #[arg(long, env = "SIMULATOR_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Re-alarm: an alert acknowledged and still active this many minutes after its
    /// acknowledgement is unacknowledged again (`alertReAlarmed`). Fractions are fine (0.05 is
    /// 3 s). Off when absent.
    #[arg(long, value_name = "MINUTES")]
    pub re_alarm_minutes: Option<f64>,
    /// The longest an alarm may be shelved (`POST /api/suppressions`), minutes.
    #[arg(long, default_value_t = telemetry::alarms::DEFAULT_MAX_SHELVE_MINUTES, value_name = "MINUTES")]
    pub max_shelve_minutes: f64,
    /// The longest an alarm or a device may be out of service, minutes.
    #[arg(long, default_value_t = telemetry::alarms::DEFAULT_MAX_OUT_OF_SERVICE_MINUTES, value_name = "MINUTES")]
    pub max_out_of_service_minutes: f64,
    /// Sign-in: the OpenID provider whose bearer tokens every functions route then requires,
    /// exactly as its tokens' `iss` names it (its keys come from
    /// `{issuer}/.well-known/openid-configuration`). Needs --oidc-audience.
    #[arg(long, env = "OIDC_ISSUER", value_name = "URL")]
    pub oidc_issuer: Option<String>,
    /// Sign-in: the audience (`aud`) tokens must be for, e.g. `api://iot-dashboard`.
    #[arg(long, env = "OIDC_AUDIENCE", value_name = "AUD")]
    pub oidc_audience: Option<String>,
    /// Sign-in: clock skew allowed on a token's `exp` and `nbf`, seconds.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub oidc_leeway_seconds: u64,
    /// Sign-in: the token claim that lists the user's roles (`viewer`, `operator`).
    #[arg(long, default_value = "roles", value_name = "CLAIM")]
    pub oidc_roles_claim: String,
    /// Sign-in: the token claim that lists the user's sites (when absent: the access file's).
    #[arg(long, default_value = "sites", value_name = "CLAIM")]
    pub oidc_sites_claim: String,
    /// Sign-in: the token claim acknowledgements and shelves are recorded under (then
    /// `preferred_username`, `email`, `sub`).
    #[arg(long, default_value = "name", value_name = "CLAIM")]
    pub oidc_name_claim: String,
    /// Sign-in: the issuer's keys are fetched again (for a key id not seen yet) at most this
    /// often, seconds.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub oidc_min_refetch_seconds: u64,
    /// Sign-in: a JSON file granting users roles and sites, and roles sites (README: sign-in).
    #[arg(long, env = "SIMULATOR_ACCESS", value_name = "FILE")]
    pub access: Option<PathBuf>,
    /// Log level or filter (error, warn, info, debug, trace, or a tracing filter); RUST_LOG wins.
    #[arg(long, default_value = "info")]
    pub log_level: String,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Helpers instead of running the servers.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Print a REST API token for URL, signed with the connection string's AccessKey, as any
    /// backend holding the connection string would make it (for curl).
    Token {
        /// The request URL the token is for (its audience), e.g.
        /// http://127.0.0.1:8888/api/v1/hubs/telemetry
        url: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        lifetime: u64,
    },
}

/// A REST API token for `url`, signed with the AccessKey of `connection_string`.
pub fn rest_token(connection_string: &str, url: &str, lifetime: u64) -> Result<String, String> {
    let connection: ConnectionString = connection_string.parse().map_err(|e| format!("{e}"))?;
    let claims = jwt::Claims {
        aud: url.to_string(),
        exp: jwt::unix_now() + lifetime as i64,
        iat: Some(jwt::unix_now()),
        user_id: None,
        nameid: Some("rest-client".into()),
        name_identifier: None,
        sub: None,
    };
    Ok(jwt::sign(&claims, &connection.access_key))
}

fn parse_transport(text: &str) -> Result<signalr::TransportKind, String> {
    let lower = text.to_ascii_lowercase();
    ["WebSockets", "ServerSentEvents", "LongPolling"]
        .into_iter()
        .find(|name| name.to_ascii_lowercase() == lower)
        .and_then(signalr::TransportKind::parse)
        .ok_or_else(|| format!("unknown transport {text:?}: use WebSockets, ServerSentEvents or LongPolling"))
}

fn parse_centre(text: &str) -> Result<(f64, f64), String> {
    let (lat, lon) = text.split_once(',').ok_or("expected lat,lon")?;
    let lat: f64 = lat.trim().parse().map_err(|_| format!("latitude {lat:?} is not a number"))?;
    let lon: f64 = lon.trim().parse().map_err(|_| format!("longitude {lon:?} is not a number"))?;
    if !(-85.0..=85.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return Err("centre out of range (lat ±85, lon ±180)".into());
    }
    Ok((lat, lon))
}

/// Settings shared by the handlers.
#[derive(Debug, Clone)]
pub struct Settings {
    pub connection: ConnectionString,
    pub token_lifetime: Duration,
    pub timing: Timing,
    pub transports: TransportPolicy,
    pub faults: Faults,
    /// The connection string names a remote service (Azure SignalR Service): publish through
    /// its REST API instead of the embedded service.
    pub remote_service: bool,
    /// Where and how long history is kept (off by default here; the flags turn it on).
    pub history: HistorySettings,
    /// Re-alarm and the longest suppressions (in the snapshot as `alarmPolicy`).
    pub alarms: AlarmPolicy,
    /// Sign-in for the functions routes (`None`: an open deployment).
    pub auth: Option<AuthSettings>,
}

impl Settings {
    /// The embedded service at `connection` with default timing and transports, no faults, and
    /// client tokens for an hour.
    pub fn for_connection(connection: ConnectionString) -> Self {
        Settings {
            connection,
            token_lifetime: Duration::from_secs(3600),
            timing: Timing::default(),
            transports: TransportPolicy::default(),
            faults: Faults::default(),
            remote_service: false,
            history: HistorySettings::default(),
            alarms: AlarmPolicy::default(),
            auth: None,
        }
    }
}

/// Everything `run` needs, checked.
pub fn settings_from(config: &Config) -> Result<Settings, String> {
    let connection: ConnectionString = config.connection_string.parse().map_err(|e| format!("{e}"))?;
    for (flag, rate) in [("--rate", config.rate), ("--reading-rate", config.reading_rate)] {
        if rate <= 0.0 || !rate.is_finite() {
            return Err(format!("{flag} must be a positive number"));
        }
    }
    let faults = faults_from(config);
    let alarms = alarm_policy(config)?;
    let auth = auth_settings(config)?;
    if config.remote_service {
        let service_only = faults.service_fault_flag().or_else(|| {
            [("--service-port", config.service_port.is_some()), ("--plain-hub", config.plain_hub)]
                .into_iter()
                .find_map(|(flag, set)| set.then_some(flag))
        });
        if let Some(flag) = service_only {
            return Err(format!("{flag} acts on the embedded service, which --remote-service does not start"));
        }
    }
    Ok(Settings {
        remote_service: config.remote_service,
        connection,
        token_lifetime: Duration::from_secs(config.token_lifetime.max(1)),
        timing: Timing {
            handshake_timeout: Duration::from_secs(15),
            keep_alive: Duration::from_millis(config.keep_alive_ms.max(10)),
            client_timeout: Duration::from_millis(config.client_timeout_ms.max(20)),
            poll_timeout: Duration::from_millis(config.poll_timeout_ms.max(10)),
            ack_delay: Duration::from_secs(1),
        },
        transports: TransportPolicy { stateful_reconnect: config.stateful_reconnect, plain_hub: config.plain_hub },
        faults,
        history: HistorySettings { minutes: config.history_minutes, data_dir: config.data_dir.clone() },
        alarms,
        auth,
    })
}

/// The sign-in flags: none, or an issuer and an audience with the rest.
fn auth_settings(config: &Config) -> Result<Option<AuthSettings>, String> {
    let (issuer, audience) = match (&config.oidc_issuer, &config.oidc_audience) {
        (None, None) => {
            return match config.access {
                Some(_) => {
                    Err("--access grants sites to signed-in users: it needs --oidc-issuer and --oidc-audience".into())
                }
                None => Ok(None),
            };
        }
        (Some(issuer), Some(audience)) => (issuer.trim().to_string(), audience.trim().to_string()),
        (Some(_), None) => return Err("--oidc-issuer needs --oidc-audience (the `aud` tokens must carry)".into()),
        (None, Some(_)) => return Err("--oidc-audience needs --oidc-issuer (the OpenID provider)".into()),
    };
    if !(issuer.starts_with("https://") || issuer.starts_with("http://")) || issuer.contains(char::is_whitespace) {
        return Err(format!("--oidc-issuer {issuer:?} is not an http(s) URL"));
    }
    if audience.is_empty() {
        return Err("--oidc-audience is empty".into());
    }
    if config.plain_hub {
        return Err("--plain-hub serves the hub without any token: it cannot be combined with --oidc-issuer".into());
    }
    for (flag, claim) in [
        ("--oidc-roles-claim", &config.oidc_roles_claim),
        ("--oidc-sites-claim", &config.oidc_sites_claim),
        ("--oidc-name-claim", &config.oidc_name_claim),
    ] {
        if claim.trim().is_empty() {
            return Err(format!("{flag} is empty"));
        }
    }
    let access = config.access.as_deref().map(Access::load).transpose()?;
    Ok(Some(AuthSettings {
        issuer,
        audience,
        leeway: Duration::from_secs(config.oidc_leeway_seconds),
        claims: ClaimNames {
            roles: config.oidc_roles_claim.trim().to_string(),
            sites: config.oidc_sites_claim.trim().to_string(),
            name: config.oidc_name_claim.trim().to_string(),
        },
        access,
        min_refetch: Duration::from_secs(config.oidc_min_refetch_seconds),
    }))
}

/// The alarm flags, each a number of minutes above 0.
fn alarm_policy(config: &Config) -> Result<AlarmPolicy, String> {
    let minutes = [
        ("--re-alarm-minutes", config.re_alarm_minutes),
        ("--max-shelve-minutes", Some(config.max_shelve_minutes)),
        ("--max-out-of-service-minutes", Some(config.max_out_of_service_minutes)),
    ];
    for (flag, value) in minutes {
        if value.is_some_and(|m| !m.is_finite() || m <= 0.0) {
            return Err(format!("{flag} must be a number of minutes above 0"));
        }
    }
    Ok(AlarmPolicy {
        re_alarm_minutes: config.re_alarm_minutes,
        max_shelve_minutes: config.max_shelve_minutes,
        max_out_of_service_minutes: config.max_out_of_service_minutes,
    })
}

/// The faults the flags ask for (a period of 0 means off).
fn faults_from(config: &Config) -> Faults {
    let period = |secs: u64| (secs > 0).then(|| Duration::from_secs(secs));
    Faults {
        refused_transports: config.refuse_transports.clone(),
        drop_every: period(config.drop_every_secs),
        cut_every: period(config.cut_transport_every_secs),
        bad_frame_every: period(config.bad_frame_every_secs),
        stall: period(config.stall_every_secs).map(|every| (every, Duration::from_secs(config.stall_for_secs))),
        negotiate_delay: Duration::from_millis(config.negotiate_delay_ms),
    }
}

//! The development backend: everything the dashboard talks to, on one machine.
//!
//! * the functions API (production: Azure Functions) on one port, `/api/...`;
//! * an embedded SignalR service (production: Azure SignalR Service, serverless mode) on
//!   another, `/client/...`, with tokens signed by the connection string's AccessKey;
//! * simulated devices whose telemetry is pushed to every connected dashboard.
//!
//! [`functions_app`] and [`service_app`] build the routers apart from [`run`], so tests can
//! serve them on ephemeral ports.

pub mod alerts;
pub mod connection_string;
pub mod cors;
pub mod equipment;
pub mod error;
pub mod fleet;
pub mod functions;
pub mod hub;
pub mod jwt;
pub mod pipeline;
pub mod publisher;
pub mod rest;
pub mod rng;
pub mod service;
pub mod world;

use std::future::IntoFuture;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use clap::Parser;
use tokio::net::TcpListener;

use crate::connection_string::ConnectionString;
use crate::hub::Hubs;
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
    /// Readings per machine or rig per second.
    #[arg(long, default_value_t = 1.0)]
    pub reading_rate: f64,
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
    pub faults: functions::FunctionFaults,
    /// The connection string names a remote service (Azure SignalR Service): publish through
    /// its REST API instead of the embedded service.
    pub remote_service: bool,
}

/// Shared state of both servers.
pub struct AppState {
    pub settings: Settings,
    pub hubs: Hubs,
    pub world: Mutex<world::World>,
    pub publisher: publisher::Publisher,
}

impl AppState {
    pub fn new(settings: Settings) -> Arc<Self> {
        let publisher = if settings.remote_service {
            publisher::Publisher::Remote(publisher::Remote::new(settings.connection.clone()))
        } else {
            publisher::Publisher::Embedded
        };
        Arc::new(Self { settings, hubs: Hubs::default(), world: Mutex::new(world::World::default()), publisher })
    }

    /// The client URL of a hub, which is also the audience of its client tokens.
    pub fn client_url(&self, hub: &str) -> String {
        format!("{}/client/?hub={}", self.settings.connection.endpoint, hub.to_ascii_lowercase())
    }
}

/// The functions API router.
pub fn functions_app(state: Arc<AppState>, allow_origins: Vec<String>) -> Router {
    functions::routes().with_state(state).layer(cors::layer(allow_origins))
}

/// The SignalR service router: client endpoints and the REST API.
pub fn service_app(state: Arc<AppState>, allow_origins: Vec<String>) -> Router {
    service::routes().without_v07_checks().merge(rest::routes()).with_state(state).layer(cors::layer(allow_origins))
}

/// Wall-clock Unix milliseconds (device timestamps).
pub fn unix_millis() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Everything `run` needs, checked.
pub fn settings_from(config: &Config) -> Result<Settings, String> {
    let connection: ConnectionString = config.connection_string.parse().map_err(|e| format!("{e}"))?;
    for (flag, rate) in [("--rate", config.rate), ("--reading-rate", config.reading_rate)] {
        if rate <= 0.0 || !rate.is_finite() {
            return Err(format!("{flag} must be a positive number"));
        }
    }
    if config.remote_service {
        let service_faults = [
            ("--refuse-transport", !config.refuse_transports.is_empty()),
            ("--drop-every-secs", config.drop_every_secs > 0),
            ("--cut-transport-every-secs", config.cut_transport_every_secs > 0),
            ("--bad-frame-every-secs", config.bad_frame_every_secs > 0),
            ("--stall-every-secs", config.stall_every_secs > 0),
            ("--service-port", config.service_port.is_some()),
            ("--plain-hub", config.plain_hub),
        ];
        if let Some((flag, _)) = service_faults.iter().find(|(_, set)| *set) {
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
        transports: TransportPolicy {
            refused: config.refuse_transports.clone(),
            stateful_reconnect: config.stateful_reconnect,
            plain_hub: config.plain_hub,
        },
        faults: functions::FunctionFaults { negotiate_delay: Duration::from_millis(config.negotiate_delay_ms) },
    })
}

/// Binds both servers, starts the devices, and serves until `shutdown` resolves. Then every
/// client gets a Close message (with `allowReconnect`, so it comes back when the simulator
/// does) before the servers stop; open WebSockets would otherwise never drain.
pub async fn run(config: Config, shutdown: impl std::future::Future<Output = ()>) -> Result<(), String> {
    let settings = settings_from(&config)?;
    let service_port = config.service_port.unwrap_or_else(|| settings.connection.port());
    let functions_addr = SocketAddr::new(config.host, config.functions_port);
    let service_addr = SocketAddr::new(config.host, service_port);
    let functions_listener = TcpListener::bind(functions_addr)
        .await
        .map_err(|e| format!("cannot listen on {functions_addr} (functions): {e}"))?;
    let service_listener = if config.remote_service {
        None
    } else {
        Some(
            TcpListener::bind(service_addr)
                .await
                .map_err(|e| format!("cannot listen on {service_addr} (service): {e}"))?,
        )
    };
    let functions_addr = functions_listener.local_addr().map_err(|e| e.to_string())?;

    let state = AppState::new(settings);
    let fleet = fleet::Fleet::new(config.seed, config.vehicles, config.centre.0, config.centre.1);
    let equipment = equipment::Equipment::new(config.seed, config.machines, config.rigs, &fleet::SITES);
    {
        let mut world = state.world.lock().expect("world lock");
        world.devices = fleet.registry().chain(equipment.registry().cloned()).collect();
        world.sites = fleet::SITES.iter().map(|s| s.to_string()).collect();
    }
    tokio::spawn(pipeline::run_fleet(state.clone(), fleet, config.rate));
    tokio::spawn(pipeline::run_equipment(state.clone(), equipment, config.reading_rate));
    if config.drop_every_secs > 0 {
        tokio::spawn(pipeline::drop_connections_every(state.clone(), Duration::from_secs(config.drop_every_secs)));
    }
    if config.cut_transport_every_secs > 0 {
        let every = Duration::from_secs(config.cut_transport_every_secs);
        tokio::spawn(pipeline::cut_transports_every(state.clone(), every));
    }
    if config.bad_frame_every_secs > 0 {
        let every = Duration::from_secs(config.bad_frame_every_secs);
        tokio::spawn(pipeline::bad_frames_every(state.clone(), every));
    }
    if config.stall_every_secs > 0 {
        let (every, stall) = (Duration::from_secs(config.stall_every_secs), Duration::from_secs(config.stall_for_secs));
        tokio::spawn(pipeline::stall_every(state.clone(), every, stall));
    }

    println!("simulator ready");
    println!("  functions API   http://{functions_addr}/api   (POST /api/negotiate)");
    let service_url = match &service_listener {
        Some(listener) => format!("http://{}", listener.local_addr().map_err(|e| e.to_string())?),
        None => state.settings.connection.endpoint.clone(),
    };
    if service_listener.is_some() {
        println!("  SignalR service {service_url}   (hub {})", telemetry::HUB);
        println!("  connection string {}", config.connection_string);
    } else {
        // A real service's AccessKey is a secret: name the endpoint only.
        println!("  SignalR service {service_url}   (remote, hub {}; publishing through its REST API)", telemetry::HUB);
    }
    println!(
        "  devices: {} vehicles at {} Hz, {} machines and {} rigs at {} Hz, seed {}",
        config.vehicles, config.rate, config.machines, config.rigs, config.reading_rate, config.seed
    );
    println!("  publish: POST {service_url}/api/v1/hubs/{} (see README)", telemetry::HUB);

    // TCP_NODELAY: without it a small WebSocket frame waits for the peer's delayed ACK (Nagle),
    // which added 25–50 ms to every push on loopback.
    use axum::serve::ListenerExt;
    let no_delay = |tcp: &mut tokio::net::TcpStream| {
        let _ = tcp.set_nodelay(true);
    };
    let functions =
        axum::serve(functions_listener.tap_io(no_delay), functions_app(state.clone(), config.allow_origins.clone()));
    let service = service_listener.map(|listener| {
        axum::serve(listener.tap_io(no_delay), service_app(state.clone(), config.allow_origins.clone()))
    });
    let servers = async {
        match service {
            Some(service) => tokio::try_join!(functions.into_future(), service.into_future()).map(|_| ()),
            None => functions.await,
        }
    };
    tokio::select! {
        result = servers => result.map_err(|e| e.to_string()),
        _ = shutdown => {
            let closed = state.hubs.get(telemetry::HUB).close_all("The simulator is shutting down.");
            tracing::info!(closed, "shutting down: closed every connection");
            // Let the Close messages reach the clients.
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok(())
        }
    }
}

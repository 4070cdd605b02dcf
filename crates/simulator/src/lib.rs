//! The development backend: everything the dashboard talks to, on one machine, in three
//! rooms by role:
//!
//! * [`functions`]: the functions API (production: Azure Functions) on one port, `/api/...`:
//!   negotiate, subscriptions, acknowledgements, suppressions, snapshot, catalog;
//! * [`service`]: an embedded SignalR service (production: Azure SignalR Service, serverless
//!   mode) on another, `/client/...` and the REST API `/api/v1/...`, with tokens signed by the
//!   connection string's AccessKey;
//! * [`devices`]: simulated devices whose telemetry is pushed to every connected dashboard;
//!
//! with [`history`], what the devices published over the last `--history-minutes` (the
//! functions' `/api/history...` routes), and [`faults`], every fault the simulator can inject,
//! for the reliability tests.
//!
//! [`functions_app`] and [`service_app`] build the routers apart from [`run`], so tests can
//! serve them on ephemeral ports.

// An application: its public items are for its own tests, examples and binary.
#![allow(missing_docs)]
// A server: it only ever runs natively, where std's clock works.
#![allow(clippy::disallowed_methods)]

pub mod auth;
pub mod config;
pub mod cors;
pub mod devices;
pub mod error;
pub mod faults;
pub mod functions;
pub mod history;
pub mod service;

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;

use crate::devices::equipment::Equipment;
use crate::devices::fleet;
use crate::functions::publisher::{Publisher, Remote};
use crate::functions::world::World;
use crate::history::History;
use crate::service::hub::Hubs;

pub use crate::config::{dev_connection_string, rest_token, settings_from, Command, Config, Settings, DEV_ACCESS_KEY};

/// Shared state of both servers.
pub struct AppState {
    pub settings: Settings,
    pub hubs: Hubs,
    pub world: Mutex<World>,
    pub publisher: Publisher,
    /// What the devices published lately (`None`: history is off).
    pub history: Option<History>,
    /// The token check of the functions routes (`None`: an open deployment, no sign-in).
    pub auth: Option<auth::Auth>,
}

impl AppState {
    /// The state `settings` describe; a history store that cannot be opened is logged and left
    /// off (`run` opens it first and stops instead).
    pub fn new(settings: Settings) -> Arc<Self> {
        let history = History::open(&settings.history).unwrap_or_else(|error| {
            tracing::error!(%error, "history is off");
            None
        });
        Self::with_history(settings, history)
    }

    pub fn with_history(settings: Settings, history: Option<History>) -> Arc<Self> {
        let publisher = if settings.remote_service {
            Publisher::Remote(Remote::new(settings.connection.clone()))
        } else {
            Publisher::Embedded
        };
        let world = World { alarm_policy: settings.alarms.clone(), ..World::default() };
        let auth = settings.auth.clone().map(auth::Auth::new);
        Arc::new(Self { settings, hubs: Hubs::default(), world: Mutex::new(world), publisher, history, auth })
    }

    /// The client URL of a hub, which is also the audience of its client tokens.
    pub fn client_url(&self, hub: &str) -> String {
        format!("{}/client/?hub={}", self.settings.connection.endpoint, hub.to_ascii_lowercase())
    }
}

/// The functions API router: the token check (`auth::require`, which lets everything through
/// without sign-in) in front of every route, CORS outermost so preflights are answered without
/// a token.
pub fn functions_app(state: Arc<AppState>, allow_origins: Vec<String>) -> Router {
    functions::routes()
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::require))
        .with_state(state)
        .layer(cors::layer(allow_origins))
}

/// Fetches the issuer's keys in the background when sign-in is on, so the first request does
/// not wait for them (an issuer down at start is logged; requests try again).
pub fn prefetch_keys(state: &Arc<AppState>) {
    if state.auth.is_some() {
        let state = state.clone();
        tokio::spawn(async move {
            if let Some(auth) = &state.auth {
                auth.prefetch().await;
            }
        });
    }
}

/// The SignalR service router: client endpoints and the REST API.
pub fn service_app(state: Arc<AppState>, allow_origins: Vec<String>) -> Router {
    service::routes().with_state(state).layer(cors::layer(allow_origins))
}

/// Wall-clock Unix milliseconds (device timestamps).
pub fn unix_millis() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Both servers on loopback ports the system picked (tests, examples, load runs): their base
/// URLs and the state they share.
pub struct Local {
    /// `http://127.0.0.1:port` of the functions API.
    pub functions: String,
    /// `http://127.0.0.1:port` of the SignalR service.
    pub service: String,
    pub state: Arc<AppState>,
}

/// Serves the functions API and the embedded service on two free loopback ports, the service
/// signing with `access_key`; `adjust` changes the default settings (timing, lifetimes, ...).
/// No devices run: the caller publishes what it needs. The alarm clock runs (suppressions
/// expire, alerts re-alarm).
pub async fn serve_local(access_key: &str, adjust: impl FnOnce(&mut Settings)) -> std::io::Result<Local> {
    let functions_listener = TcpListener::bind("127.0.0.1:0").await?;
    let service_listener = TcpListener::bind("127.0.0.1:0").await?;
    let service = format!("http://{}", service_listener.local_addr()?);
    let functions = format!("http://{}", functions_listener.local_addr()?);
    let connection = format!("Endpoint={service};AccessKey={access_key};Version=1.0;")
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{e}")))?;
    let mut settings = Settings::for_connection(connection);
    adjust(&mut settings);
    let state = AppState::new(settings);
    functions::alarms::start_clock(&state);
    prefetch_keys(&state);
    tokio::spawn(axum::serve(functions_listener, functions_app(state.clone(), vec![])).into_future());
    tokio::spawn(axum::serve(service_listener, service_app(state.clone(), vec![])).into_future());
    Ok(Local { functions, service, state })
}

/// Binds both servers, starts the devices and the faults, and serves until `shutdown`
/// resolves. Then every client gets a Close message (with `allowReconnect`, so it comes back
/// when the simulator does) before the servers stop; open WebSockets would otherwise never
/// drain.
pub async fn run(config: Config, shutdown: impl std::future::Future<Output = ()>) -> Result<(), String> {
    let settings = settings_from(&config)?;
    let catalog = catalog_file(&config)?;
    let listeners = Listeners::bind(&config, &settings).await?;
    let history = History::open(&settings.history)?;
    let state = AppState::with_history(settings, history);
    let declared = start_devices(&state, &config, catalog);
    functions::alarms::start_clock(&state);
    prefetch_keys(&state);
    state.settings.faults.start(&state);
    print_banner(&config, &state, &listeners, declared)?;
    tokio::select! {
        result = serve(listeners, &state, &config.allow_origins) => result,
        _ = shutdown => {
            let closed = state.hubs.get(telemetry::HUB).close_all("The simulator is shutting down.");
            tracing::info!(closed, "shutting down: closed every connection");
            if let Some(history) = &state.history {
                history.flush();
            }
            // Let the Close messages reach the clients.
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok(())
        }
    }
}

/// The two ports: the functions API, and the embedded service unless it is remote.
struct Listeners {
    functions: TcpListener,
    service: Option<TcpListener>,
}

impl Listeners {
    async fn bind(config: &Config, settings: &Settings) -> Result<Self, String> {
        let bind = |port: u16, what: &'static str| async move {
            let addr = SocketAddr::new(config.host, port);
            TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr} ({what}): {e}"))
        };
        let functions = bind(config.functions_port, "functions").await?;
        let service = match config.remote_service {
            true => None,
            false => {
                let port = config.service_port.unwrap_or_else(|| settings.connection.port());
                Some(bind(port, "service").await?)
            }
        };
        Ok(Self { functions, service })
    }
}

/// The `--catalog` file, read and checked before anything starts (`Err` names the file and
/// what is wrong); the entries it cannot use are logged as warnings and left out.
fn catalog_file(config: &Config) -> Result<Option<telemetry::Catalog>, String> {
    let Some(path) = &config.catalog else { return Ok(None) };
    let (catalog, problems) = devices::catalog::load(path)?;
    for problem in problems {
        tracing::warn!(file = %path.display(), %problem, "catalog entry skipped");
    }
    Ok(Some(catalog))
}

/// The fleet, the equipment and the devices of the `--catalog` file (`file`, already read),
/// registered with the functions' world and publishing (tests call it on their own servers).
/// Returns how many devices of the file are simulated.
pub fn start_devices(state: &Arc<AppState>, config: &Config, file: Option<telemetry::Catalog>) -> usize {
    let fleet = fleet::Fleet::new(config.seed, config.vehicles, config.centre.0, config.centre.1);
    let equipment = Equipment::new(config.seed, config.machines, config.rigs, &fleet::SITES);
    let declared = {
        let mut world = state.world.lock().expect("world lock");
        world.devices = fleet.registry().chain(equipment.registry().cloned()).collect();
        world.sites = fleet::SITES.iter().map(|s| s.to_string()).collect();
        // Vehicles are in the registry; the catalog declares the equipment, the sites and the
        // geofences where the vehicles drive, which the rules watch.
        world.catalog = devices::catalog::with_devices(equipment.registry(), &world.sites);
        world.catalog.vehicle_kinds = fleet::vehicle_kinds();
        world.catalog.geofences = if config.no_geofences { Vec::new() } else { fleet.geofences() };
        let fences = world.catalog.geofences.clone();
        world.alerts.set_fences(fences, unix_millis());
        world.basemap = fleet.basemap();
        file.map(|file| devices::generic::from_file(&mut world, file, config.seed))
    };
    let count = declared.as_ref().map_or(0, |d| d.len());
    // After the history's backfill, which the pipelines continue from: the catalog file's
    // devices too, so they open with their hour like the built-in ones.
    let stations = devices::pipeline::Stations { equipment, declared: declared.filter(|d| !d.is_empty()) };
    history::backfill::then_publish(state.clone(), config, fleet, stations);
    count
}

fn print_banner(config: &Config, state: &AppState, listeners: &Listeners, declared: usize) -> Result<(), String> {
    let functions_addr = listeners.functions.local_addr().map_err(|e| e.to_string())?;
    println!("simulator ready");
    println!("  functions API   http://{functions_addr}/api   (POST /api/negotiate)");
    let service_url = match &listeners.service {
        Some(listener) => format!("http://{}", listener.local_addr().map_err(|e| e.to_string())?),
        None => state.settings.connection.endpoint.clone(),
    };
    if listeners.service.is_some() {
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
    if let Some(path) = &config.catalog {
        println!("  catalog: {} merged, {declared} of its devices simulated", path.display());
    }
    println!("  publish: POST {service_url}/api/v1/hubs/{} (see README)", telemetry::HUB);
    match &state.history {
        Some(history) => println!("  history: {} minutes, {}", history.window_ms() / 60_000, history.location()),
        None => println!("  history: off"),
    }
    match &state.settings.auth {
        Some(auth) => println!(
            "  sign-in: bearer tokens of {} for {}{}",
            auth.issuer,
            auth.audience,
            config.access.as_ref().map(|p| format!(", access {}", p.display())).unwrap_or_default()
        ),
        None => println!("  sign-in: off (open functions)"),
    }
    let policy = &state.settings.alarms;
    let re_alarm = policy.re_alarm_minutes.map_or("off".to_string(), |m| format!("after {m} min"));
    println!(
        "  alarms: re-alarm {re_alarm}; shelve at most {} min, out of service {} min",
        policy.max_shelve_minutes, policy.max_out_of_service_minutes
    );
    Ok(())
}

/// Serves both routers until one fails.
async fn serve(listeners: Listeners, state: &Arc<AppState>, allow_origins: &[String]) -> Result<(), String> {
    // TCP_NODELAY: without it a small WebSocket frame waits for the peer's delayed ACK (Nagle),
    // which added 25–50 ms to every push on loopback.
    use axum::serve::ListenerExt;
    let no_delay = |tcp: &mut tokio::net::TcpStream| {
        let _ = tcp.set_nodelay(true);
    };
    let functions =
        axum::serve(listeners.functions.tap_io(no_delay), functions_app(state.clone(), allow_origins.to_vec()));
    let service = listeners
        .service
        .map(|listener| axum::serve(listener.tap_io(no_delay), service_app(state.clone(), allow_origins.to_vec())));
    let result = match service {
        Some(service) => tokio::try_join!(functions.into_future(), service.into_future()).map(|_| ()),
        None => functions.await,
    };
    result.map_err(|e| e.to_string())
}

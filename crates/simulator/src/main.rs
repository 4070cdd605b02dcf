//! `simulator`: the whole server side of the dashboard on one machine. See `--help`.

// Native only: std's clock works here (clippy.toml forbids it for code built for wasm32).
#![allow(clippy::disallowed_methods)]

use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_target(false)
        .init();
    let config = simulator::Config::parse();
    if let Some(simulator::Command::Token { url, lifetime }) = &config.command {
        match simulator::rest_token(&config.connection_string, url, *lifetime) {
            Ok(token) => println!("{token}"),
            Err(error) => {
                eprintln!("simulator: {error}");
                std::process::exit(2);
            }
        }
        return;
    }
    if let Err(error) = simulator::run(config, shutdown_signal()).await {
        eprintln!("simulator: {error}");
        std::process::exit(1);
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else {
            return ctrl_c.await.unwrap_or(());
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

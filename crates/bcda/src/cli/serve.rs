//! `bcda serve`: the HTTP API and housekeeping in one process.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use tokio::sync::watch;

use super::Context;
use crate::app::{App, AppState, HttpSettings};
use crate::auth::tokens::TokenSettings;
use crate::config::{parse_listen, parse_positive};

/// Options of `bcda serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "BCDA_LISTEN", default_value = "127.0.0.1:3000", value_parser = parse_listen, value_name = "HOST:PORT")]
    pub listen: SocketAddr,
    /// Build absolute URLs from X-Forwarded-Proto/X-Forwarded-Host (only
    /// behind a proxy that sets them).
    #[arg(long, env = "BCDA_TRUST_FORWARDED_HEADERS")]
    pub trust_forwarded_headers: bool,
    /// Public base URL for absolute URLs (e.g. https://bcda.example.org),
    /// overriding the request's Host.
    #[arg(long, env = "BCDA_PUBLIC_URL", value_parser = parse_public_url, value_name = "URL")]
    pub public_url: Option<String>,
    /// Tokens one ACO may obtain per window.
    #[arg(long, env = "BCDA_TOKEN_RATE_LIMIT", default_value = "100", value_parser = parse_positive, value_name = "N")]
    pub token_rate_limit: u64,
    /// The token rate-limit window, in seconds.
    #[arg(long, env = "BCDA_TOKEN_RATE_WINDOW_SECONDS", default_value = "300", value_parser = parse_positive, value_name = "SECONDS")]
    pub token_rate_window_seconds: u64,
}

fn parse_public_url(value: &str) -> Result<String, String> {
    let trimmed = value.trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .ok_or("expected an http:// or https:// URL")?;
    if rest.is_empty() || rest.contains(['?', '#', ' ']) {
        return Err("expected a URL like https://bcda.example.org".to_owned());
    }
    Ok(trimmed.to_owned())
}

impl ServeArgs {
    /// The token settings these flags describe.
    pub fn token_settings(&self) -> TokenSettings {
        TokenSettings {
            rate_limit: self.token_rate_limit,
            rate_window: Duration::from_secs(self.token_rate_window_seconds),
        }
    }

    /// The HTTP settings these flags describe.
    pub fn http_settings(&self) -> HttpSettings {
        HttpSettings {
            trust_forwarded_headers: self.trust_forwarded_headers,
            public_base_url: self.public_url.clone(),
        }
    }
}

pub(super) async fn run(ctx: &Context, args: ServeArgs) -> anyhow::Result<()> {
    let app = ctx.app(args.token_settings(), args.http_settings()).await?;
    serve(Arc::new(app), args.listen).await
}

/// Binds `listen` and serves the API with housekeeping until SIGINT or
/// SIGTERM, then finishes requests in flight.
pub(super) async fn serve(app: Arc<App>, listen: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen} (--listen / BCDA_LISTEN): {e}"))?;
    let addr = listener.local_addr()?;
    // Handlers are registered before anyone is told we listen, so a signal
    // sent right after that line is still a graceful shutdown.
    let shutdown = ShutdownSignal::register()?;
    tracing::info!(%addr, database = app.db.backend_name(), data_dir = %app.data_dir.root().display(), "bcda started");
    // A plain line on stdout for people and scripts (tests read the port from it).
    println!("bcda {} listening on http://{addr}", crate::VERSION);
    let _ = std::io::stdout().flush();

    let (stop_tx, stop_rx) = watch::channel(false);
    let housekeeping = tokio::spawn(crate::housekeeping::run(app.clone(), stop_rx.clone()));
    let router = crate::http::router(AppState(app.clone()));
    let mut stopped = stop_rx.clone();
    let server = axum::serve(listener, router).with_graceful_shutdown(async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    });
    let signals = tokio::spawn(async move {
        shutdown.recv().await;
        tracing::info!("shutting down: finishing requests in flight");
        let _ = stop_tx.send(true);
    });
    server.await?;
    signals.abort();
    let _ = housekeeping.await;
    app.db.close().await;
    tracing::info!("bcda stopped");
    Ok(())
}

/// SIGINT (Ctrl-C) and SIGTERM, registered up front.
struct ShutdownSignal {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    fn register() -> anyhow::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Resolves on the first of the signals.
    async fn recv(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {},
            _ = self.terminate.recv() => {},
        }
        #[cfg(not(unix))]
        {
            let _ = &mut self;
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls() {
        assert_eq!(
            parse_public_url("https://x.org/"),
            Ok("https://x.org".to_owned())
        );
        assert!(parse_public_url("ftp://x.org").is_err());
        assert!(parse_public_url("https://").is_err());
    }
}

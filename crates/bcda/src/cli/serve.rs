//! `bcda serve`: the HTTP API, export workers and housekeeping in one
//! process; its flags, and the signal handling every server command shares.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::Context;
use crate::app::{App, HttpSettings};
use crate::auth::backend_services::BackendServicesSettings;
use crate::auth::jwks_cache::JwksFetchSettings;
use crate::auth::tokens::TokenSettings;
use crate::auth::url_signing;
use crate::config::{parse_duration, parse_listen, parse_positive};
use crate::export::duplicates::{BCDA_TEST_ACOS, ExemptAcos};
use crate::export::version_access::V3Access;
use crate::http::server::{ConnectionSettings, default_max_connections};
use crate::jobs::JobSettings;
use crate::jobs::env::WorkerEnv;
use crate::runtime::Process;

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
    /// Only these ACOs (comma-separated CMS IDs) may use API v3; others get
    /// 403 "V3 access not enabled for this ACO" (default: every ACO;
    /// `bcda sandbox` always opens v3 to every ACO).
    #[arg(long = "v3-acos", env = "BCDA_V3_ACOS", value_parser = V3Access::parse, value_name = "CMS_IDS")]
    pub v3_acos: Option<V3Access>,
    /// Answer a download that accepts gzip with a 307 redirect to a
    /// presigned URL of the S3 store (valid for five minutes) instead of
    /// streaming the file through this process. Needs `--store s3://...`.
    #[arg(long, env = "BCDA_DOWNLOAD_REDIRECT")]
    pub download_redirect: bool,
    /// Sign the file URLs of job manifests so they work without a bearer
    /// token for this long (e.g. 15m, 1h, or seconds; at most 7d); the
    /// manifest then says requiresAccessToken false. A token still works
    /// too. Off by default (as BCDA: every download needs a token).
    #[arg(long, env = "BCDA_SIGNED_URLS", value_parser = parse_signed_url_ttl, value_name = "TTL")]
    pub signed_urls: Option<Duration>,
    /// Tokens one ACO may obtain per window.
    #[arg(long, env = "BCDA_TOKEN_RATE_LIMIT", default_value = "100", value_parser = parse_positive, value_name = "N")]
    pub token_rate_limit: u64,
    /// The token rate-limit window, in seconds.
    #[arg(long, env = "BCDA_TOKEN_RATE_WINDOW_SECONDS", default_value = "300", value_parser = parse_positive, value_name = "SECONDS")]
    pub token_rate_window_seconds: u64,
    /// Export workers in this process (default: two per CPU core).
    #[arg(long, env = "BCDA_WORKERS", value_parser = parse_positive, value_name = "N")]
    pub workers: Option<u64>,
    #[command(flatten)]
    pub connections: ConnectionArgs,
    #[command(flatten)]
    pub metrics: MetricsArgs,
    #[command(flatten)]
    pub jobs: JobArgs,
    // --- /auth/token abuse limits (hardening-auth) ---
    #[command(flatten)]
    pub token_abuse: TokenAbuseArgs,
    // --- end /auth/token abuse limits ---
    #[command(flatten)]
    pub backend_services: BackendServicesArgs,
}

/// Prometheus metrics.
#[derive(Debug, Clone, Args)]
pub struct MetricsArgs {
    /// Serve Prometheus metrics at GET /metrics on this address, a
    /// listener of its own (never the API's port; port 0 picks a free
    /// port). Off by default.
    #[arg(long, env = "BCDA_METRICS_LISTEN", value_parser = parse_listen, value_name = "HOST:PORT")]
    pub metrics_listen: Option<SocketAddr>,
}

/// SMART Backend Services at `/auth/token` (client assertions).
#[derive(Debug, Clone, Args)]
pub struct BackendServicesArgs {
    /// Seconds of clock difference tolerated when checking a client
    /// assertion's exp, iat and nbf (0 to 300).
    #[arg(long, env = "BCDA_ASSERTION_CLOCK_SKEW_SECONDS", default_value = "60", value_parser = clap::value_parser!(u64).range(0..=300), value_name = "SECONDS")]
    pub assertion_clock_skew_seconds: u64,
    /// Seconds allowed for fetching a client's JWKS URL (connecting, and
    /// the whole request); a slower or failing URL makes the client's
    /// token request fail with invalid_client.
    #[arg(long, env = "BCDA_JWKS_FETCH_TIMEOUT_SECONDS", default_value = "5", value_parser = clap::value_parser!(u64).range(1..=60), value_name = "SECONDS")]
    pub jwks_fetch_timeout_seconds: u64,
}

impl BackendServicesArgs {
    /// The settings these flags describe.
    pub fn settings(&self) -> BackendServicesSettings {
        BackendServicesSettings {
            clock_skew: Duration::from_secs(self.assertion_clock_skew_seconds),
            jwks: JwksFetchSettings {
                timeout: Duration::from_secs(self.jwks_fetch_timeout_seconds),
                ..JwksFetchSettings::default()
            },
        }
    }
}

/// Client connection limits.
#[derive(Debug, Clone, Args)]
pub struct ConnectionArgs {
    /// Seconds a client has to send a request's head (and body), from its
    /// first byte; a slower client is disconnected.
    #[arg(long, env = "BCDA_HEADER_READ_TIMEOUT_SECONDS", default_value = "20", value_parser = parse_positive, value_name = "SECONDS")]
    pub header_read_timeout_seconds: u64,
    /// Seconds a keep-alive connection may wait for its next request.
    #[arg(long, env = "BCDA_IDLE_TIMEOUT_SECONDS", default_value = "60", value_parser = parse_positive, value_name = "SECONDS")]
    pub idle_timeout_seconds: u64,
    /// Client connections open at once (default: half the open-file limit,
    /// between 64 and 4096). At the limit a new connection replaces the one
    /// idle longest.
    #[arg(long, env = "BCDA_MAX_CONNECTIONS", value_parser = parse_positive, value_name = "N")]
    pub max_connections: Option<u64>,
}

impl ConnectionArgs {
    /// The settings these flags describe.
    pub fn settings(&self) -> ConnectionSettings {
        ConnectionSettings {
            header_read_timeout: Duration::from_secs(self.header_read_timeout_seconds),
            idle_timeout: Duration::from_secs(self.idle_timeout_seconds),
            max_connections: self
                .max_connections
                .map_or_else(default_max_connections, |n| {
                    usize::try_from(n).unwrap_or(usize::MAX)
                }),
            ..ConnectionSettings::default()
        }
    }
}

/// Where and how a process serves HTTP.
#[derive(Debug, Clone, Copy)]
pub struct Listen {
    /// The address to bind.
    pub addr: SocketAddr,
    /// Client connection limits.
    pub connections: ConnectionSettings,
    /// Where to serve `GET /metrics`, if anywhere.
    pub metrics: Option<SocketAddr>,
}

/// Export engine options.
#[derive(Debug, Clone, Args)]
pub struct JobArgs {
    /// Beneficiaries per ExplanationOfBenefit file.
    #[arg(long, env = "BCDA_BATCH_EOB", default_value = "50", value_parser = parse_positive, value_name = "N")]
    pub batch_eob: u64,
    /// Beneficiaries per Patient file.
    #[arg(long, env = "BCDA_BATCH_PATIENT", default_value = "5000", value_parser = parse_positive, value_name = "N")]
    pub batch_patient: u64,
    /// Beneficiaries per Coverage file.
    #[arg(long, env = "BCDA_BATCH_COVERAGE", default_value = "4000", value_parser = parse_positive, value_name = "N")]
    pub batch_coverage: u64,
    /// Beneficiaries per Claim and per ClaimResponse file.
    #[arg(long, env = "BCDA_BATCH_CLAIM", default_value = "4000", value_parser = parse_positive, value_name = "N")]
    pub batch_claim: u64,
    /// Seconds a worker holds a task without renewing its lease; a task of
    /// a worker that died is retried after this.
    #[arg(long, env = "BCDA_TASK_LEASE_SECONDS", default_value = "30", value_parser = parse_positive, value_name = "SECONDS")]
    pub task_lease_seconds: u64,
    /// Attempts a task gets before it, and its job, fail (a worker that
    /// dies mid-task uses one up too).
    #[arg(long, env = "BCDA_TASK_MAX_ATTEMPTS", default_value = "5", value_parser = parse_positive, value_name = "N")]
    pub task_max_attempts: u64,
    /// Seconds before a failed task's second attempt; each later one waits
    /// twice as long as the one before.
    #[arg(long, env = "BCDA_TASK_RETRY_SECONDS", default_value = "2", value_parser = parse_positive, value_name = "SECONDS")]
    pub task_retry_seconds: u64,
    /// Hours a completed job's files stay downloadable.
    #[arg(long, env = "BCDA_DOWNLOAD_WINDOW_HOURS", default_value = "24", value_parser = parse_positive, value_name = "HOURS")]
    pub download_window_hours: u64,
    /// Hours archived files are kept before deletion.
    #[arg(long, env = "BCDA_ARCHIVE_WINDOW_HOURS", default_value = "24", value_parser = parse_positive, value_name = "HOURS")]
    pub archive_window_hours: u64,
    /// gzip level of output files (1-9; 1 measured fastest end to end, see docs/BENCHMARKS.md).
    #[arg(long, env = "BCDA_GZIP_LEVEL", default_value = "1", value_parser = clap::value_parser!(u32).range(1..=9), value_name = "LEVEL")]
    pub gzip_level: u32,
    /// Group/runout exports only claims with services through this date
    /// (default: December 31 of the runout file's performance year).
    #[arg(long, env = "BCDA_RUNOUT_CLAIMS_THROUGH", value_parser = crate::config::parse_date, value_name = "YYYY-MM-DD")]
    pub runout_claims_through: Option<time::Date>,
    /// ACOs never answered 429 for an overlapping job: a regular expression
    /// matched against the whole CMS ID (default: BCDA's test ACOs, as in
    /// its sandbox); an empty value exempts nobody.
    #[arg(long, env = "BCDA_DUPLICATE_JOB_EXEMPT", default_value = BCDA_TEST_ACOS, value_parser = ExemptAcos::parse, value_name = "REGEX")]
    pub duplicate_job_exempt: ExemptAcos,
}

impl JobArgs {
    /// The settings these flags describe.
    pub fn settings(&self) -> JobSettings {
        let hours = |h: u64| Duration::from_secs(h.saturating_mul(3600));
        JobSettings {
            batch_eob: usize::try_from(self.batch_eob).unwrap_or(usize::MAX),
            batch_patient: usize::try_from(self.batch_patient).unwrap_or(usize::MAX),
            batch_coverage: usize::try_from(self.batch_coverage).unwrap_or(usize::MAX),
            batch_claim: usize::try_from(self.batch_claim).unwrap_or(usize::MAX),
            task_lease: Duration::from_secs(self.task_lease_seconds),
            max_attempts: i64::try_from(self.task_max_attempts).unwrap_or(i64::MAX),
            retry_backoff: Duration::from_secs(self.task_retry_seconds),
            download_window: hours(self.download_window_hours),
            archive_window: hours(self.archive_window_hours),
            gzip_level: self.gzip_level,
            runout_claims_through: self.runout_claims_through,
            duplicate_exempt: self.duplicate_job_exempt.clone(),
            ..JobSettings::default()
        }
    }
}

// --- /auth/token abuse limits (hardening-auth) ---

/// Limits that keep `POST /auth/token` from being exhausted by anonymous
/// clients (see `auth::verifier` and `auth::throttle`).
#[derive(Debug, Clone, Args)]
pub struct TokenAbuseArgs {
    /// Secret verifications (argon2id, 19 MiB each) run at once (default:
    /// the number of CPU cores).
    #[arg(long, env = "BCDA_TOKEN_VERIFICATIONS", value_parser = parse_positive, value_name = "N")]
    pub token_verifications: Option<u64>,
    /// Milliseconds a token request waits for a verification slot before
    /// it is answered 503 with Retry-After.
    #[arg(long, env = "BCDA_TOKEN_VERIFY_WAIT_MS", default_value = "2000", value_parser = parse_positive, value_name = "MS")]
    pub token_verify_wait_ms: u64,
    /// Failed token requests per client id per window before further
    /// attempts are answered 429 without checking the secret.
    #[arg(long, env = "BCDA_TOKEN_FAILURES_PER_CLIENT", default_value = "5", value_parser = parse_positive, value_name = "N")]
    pub token_failures_per_client: u64,
    /// Failed token requests per client address per window before further
    /// attempts from it are answered 429 (the address is X-Forwarded-For's
    /// last entry with --trust-forwarded-headers; an IPv6 /64 counts as one).
    #[arg(long, env = "BCDA_TOKEN_FAILURES_PER_ADDRESS", default_value = "20", value_parser = parse_positive, value_name = "N")]
    pub token_failures_per_address: u64,
    /// The failed-attempt window, in seconds.
    #[arg(long, env = "BCDA_TOKEN_FAILURE_WINDOW_SECONDS", default_value = "60", value_parser = parse_positive, value_name = "SECONDS")]
    pub token_failure_window_seconds: u64,
}

impl TokenAbuseArgs {
    /// The verification bound these flags describe.
    pub fn verifier_settings(&self) -> crate::auth::verifier::VerifierSettings {
        crate::auth::verifier::VerifierSettings {
            limit: self
                .token_verifications
                .map_or_else(crate::auth::verifier::default_limit, |n| {
                    usize::try_from(n).unwrap_or(usize::MAX)
                }),
            wait: Duration::from_millis(self.token_verify_wait_ms),
        }
    }

    /// The failure throttle these flags describe.
    pub fn throttle_settings(&self) -> crate::auth::throttle::ThrottleSettings {
        let count = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        crate::auth::throttle::ThrottleSettings {
            per_client: count(self.token_failures_per_client),
            per_address: count(self.token_failures_per_address),
            window: Duration::from_secs(self.token_failure_window_seconds),
        }
    }
}

// --- end /auth/token abuse limits ---

/// `--signed-urls`: a duration of at most [`url_signing::MAX_TTL`].
fn parse_signed_url_ttl(value: &str) -> Result<Duration, String> {
    let ttl = parse_duration(value)?;
    if ttl > url_signing::MAX_TTL {
        return Err("at most 7d: a signed URL is a credential; keep it short-lived".to_owned());
    }
    Ok(ttl)
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
            verifier: self.token_abuse.verifier_settings(),
            throttle: self.token_abuse.throttle_settings(),
            backend_services: self.backend_services.settings(),
        }
    }

    /// The HTTP settings these flags describe.
    pub fn http_settings(&self) -> HttpSettings {
        HttpSettings {
            trust_forwarded_headers: self.trust_forwarded_headers,
            public_base_url: self.public_url.clone(),
            v3_access: self.v3_acos.clone().unwrap_or_default(),
            download_redirect: self.download_redirect,
            signed_urls: self.signed_urls,
        }
    }
}

impl ServeArgs {
    /// The address and connection limits these flags describe.
    pub fn listen_on(&self) -> Listen {
        Listen {
            addr: self.listen,
            connections: self.connections.settings(),
            metrics: self.metrics.metrics_listen,
        }
    }

    /// Workers to run: the flag, or two per CPU core.
    pub fn worker_count(&self) -> usize {
        worker_count(self.workers)
    }

    /// Opens the application with the settings these flags describe.
    pub(super) async fn open_app(&self, ctx: &Context) -> anyhow::Result<App> {
        let app = ctx
            .app_with(
                self.token_settings(),
                self.http_settings(),
                self.jobs.settings(),
            )
            .await?;
        if self.download_redirect && !app.files.can_presign() {
            anyhow::bail!(
                "--download-redirect needs an S3 file store (--store s3://bucket/prefix); the files are in {}",
                app.files.description()
            );
        }
        Ok(app)
    }
}

/// The `--workers` value, or two workers per CPU core when it is absent.
///
/// Two, because a worker spends part of each task off the CPU (syncing its
/// file, recording it in the database, claiming the next task): with one
/// per core the cores sat idle about a fifth of an export; with two they
/// stay busy (docs/BENCHMARKS.md). Each worker holds only a few megabytes.
pub(super) fn worker_count(flag: Option<u64>) -> usize {
    flag.and_then(|n| usize::try_from(n).ok())
        .unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(2, |n| n.get().saturating_mul(2))
        })
}

pub(super) async fn run(ctx: &Context, args: ServeArgs) -> anyhow::Result<()> {
    let app = args.open_app(ctx).await?;
    serve(Arc::new(app), args.listen_on(), args.worker_count()).await
}

/// Runs the HTTP API on `listen`, `workers` export workers and
/// housekeeping until SIGINT or SIGTERM (`bcda serve`, `api`, `sandbox`).
/// On a signal, requests in flight and tasks in progress finish first.
pub(super) async fn serve(app: Arc<App>, listen: Listen, workers: usize) -> anyhow::Result<()> {
    let listener = bind(listen.addr)?;
    serve_on(app, listener, listen, workers).await
}

/// Binds the API's listening socket (`--listen`), so a caller can learn
/// the port before serving (port 0 picks one).
pub(super) fn bind(addr: SocketAddr) -> anyhow::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(addr)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr} (--listen / BCDA_LISTEN): {e}"))?;
    Ok(listener)
}

/// [`serve`] on a socket already bound by [`bind`].
pub(super) async fn serve_on(
    app: Arc<App>,
    listener: std::net::TcpListener,
    listen: Listen,
    workers: usize,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let addr = listener.local_addr()?;
    let metrics = bind_metrics(listen.metrics).await?;
    let shutdown = ShutdownSignal::register()?;
    let connections = listen.connections;
    let mut process = Process::server(app.clone(), listener, connections, workers);
    let metrics_addr = match metrics {
        Some((listener, addr)) => {
            process = process.metrics(app.env.clone(), listener);
            Some(addr)
        }
        None => None,
    };
    tracing::info!(
        %addr,
        metrics = metrics_addr.map(|a| a.to_string()),
        workers,
        database = app.db.backend_name(),
        data_dir = %app.data_dir.root().display(),
        header_read_timeout_s = connections.header_read_timeout.as_secs(),
        idle_timeout_s = connections.idle_timeout.as_secs(),
        max_connections = connections.max_connections,
        signed_urls_s = app.http.signed_urls.map(|ttl| ttl.as_secs()),
        "bcda started"
    );
    // Plain lines on stdout for people and scripts (tests read the ports
    // from them); the metrics line first, so a reader that stops at the
    // listening line has seen it.
    print_metrics_line(metrics_addr);
    println!("bcda {} listening on http://{addr}", crate::VERSION);
    let _ = std::io::stdout().flush();
    run_until_signal(process, shutdown, &app.env).await
}

/// Runs `workers` export workers and housekeeping, no HTTP, until SIGINT
/// or SIGTERM (`bcda worker`). On a signal, tasks in progress finish first.
pub(super) async fn serve_workers(
    env: Arc<WorkerEnv>,
    workers: usize,
    metrics: Option<SocketAddr>,
) -> anyhow::Result<()> {
    let metrics = bind_metrics(metrics).await?;
    let shutdown = ShutdownSignal::register()?;
    let mut process = Process::workers(env.clone(), workers);
    let metrics_addr = match metrics {
        Some((listener, addr)) => {
            process = process.metrics(env.clone(), listener);
            Some(addr)
        }
        None => None,
    };
    tracing::info!(
        workers,
        metrics = metrics_addr.map(|a| a.to_string()),
        database = env.db.backend_name(),
        "bcda worker started"
    );
    print_metrics_line(metrics_addr);
    println!("bcda {} worker running {workers} workers", crate::VERSION);
    let _ = std::io::stdout().flush();
    run_until_signal(process, shutdown, &env).await
}

/// Binds the `--metrics-listen` address, if one is given; returns the
/// listener and the address it is bound to (port 0 resolved).
async fn bind_metrics(
    addr: Option<SocketAddr>,
) -> anyhow::Result<Option<(tokio::net::TcpListener, SocketAddr)>> {
    let Some(addr) = addr else {
        return Ok(None);
    };
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        anyhow::anyhow!("cannot listen on {addr} (--metrics-listen / BCDA_METRICS_LISTEN): {e}")
    })?;
    let bound = listener.local_addr()?;
    Ok(Some((listener, bound)))
}

/// The stdout line naming the metrics URL, when metrics are served.
fn print_metrics_line(addr: Option<SocketAddr>) {
    if let Some(addr) = addr {
        println!(
            "bcda {} metrics on http://{addr}{}",
            crate::VERSION,
            crate::http::metrics::METRICS_PATH
        );
    }
}

/// Waits for the signal, then stops `process` and closes the database.
async fn run_until_signal(
    process: Process,
    shutdown: ShutdownSignal,
    env: &WorkerEnv,
) -> anyhow::Result<()> {
    shutdown.recv().await;
    tracing::info!("shutting down: finishing requests and tasks in flight");
    process.stop().await;
    env.db.close().await;
    tracing::info!("bcda stopped");
    Ok(())
}

/// Makes a file-size limit (`ulimit -f`, RLIMIT_FSIZE) fail the write that
/// crosses it (EFBIG), as a full disk does, instead of ending the process
/// with SIGXFSZ: the task backs off and, after its attempts, fails its job,
/// while the server keeps answering. A handler registered with tokio stays
/// for the life of the process, so the stream can be dropped.
fn survive_file_size_limit() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        drop(signal(SignalKind::from_raw(libc::SIGXFSZ))?);
    }
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
    /// Registers the handlers, before anyone is told the server is up, so a
    /// signal sent right after that line is still a graceful shutdown; and
    /// makes a file-size limit fail writes instead of the process.
    fn register() -> anyhow::Result<Self> {
        survive_file_size_limit()?;
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

    #[test]
    fn signed_url_lifetimes() {
        assert_eq!(parse_signed_url_ttl("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_signed_url_ttl("7d"), Ok(url_signing::MAX_TTL));
        assert!(parse_signed_url_ttl("8d").is_err());
        assert!(parse_signed_url_ttl("0").is_err());
    }
}

//! The HTTP application: the worker environment plus what only the API
//! needs (token service, HTTP settings), built once per process and shared
//! behind an `Arc`.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use crate::auth::AuthError;
use crate::auth::keys::{KeySealer, Keyring, SealingKey};
use crate::auth::tokens::{TokenService, TokenSettings};
use crate::auth::url_signing::UrlKeys;
use crate::clock::SharedClock;
use crate::config::DataDir;
use crate::jobs::JobSettings;
use crate::jobs::env::{OpenError, WorkerEnv};
use crate::store::Db;

/// How the HTTP layer builds the absolute URLs it returns (job
/// `Content-Location`, manifest file URLs), and who may use API v3.
#[derive(Debug, Clone, Default)]
pub struct HttpSettings {
    /// Build absolute URLs from `X-Forwarded-Proto` / `X-Forwarded-Host`
    /// (only behind a proxy that sets them).
    pub trust_forwarded_headers: bool,
    /// A fixed public base URL (e.g. `https://bcda.example.org`) for every
    /// absolute URL, overriding the request's host.
    pub public_base_url: Option<String>,
    /// The ACOs that may use API v3 (default: every ACO).
    pub v3_access: crate::export::version_access::V3Access,
    /// Redirect gzip downloads to presigned URLs of the S3 store.
    pub download_redirect: bool,
    /// `--signed-urls`: manifest file URLs carry a signature that works
    /// without a bearer token for this long (`requiresAccessToken: false`).
    /// `None` (the default, as BCDA): plain URLs, downloads need a token,
    /// and signature parameters are ignored.
    pub signed_urls: Option<Duration>,
}

/// Everything needed to open the application.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Where the SQLite file, export files and (by default) the key file
    /// live.
    pub data_dir: DataDir,
    /// Where export files are stored (`--store`).
    pub store: crate::files::StoreLocation,
    /// The key that seals the signing keys: a key file, or the key itself.
    pub sealing_key: SealingKey,
    /// Token lifetime and the per-ACO issue limit.
    pub tokens: TokenSettings,
    /// How absolute URLs are built.
    pub http: HttpSettings,
    /// The export engine's tunables, handed to the worker environment.
    pub jobs: JobSettings,
}

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory or the database failed.
    #[error(transparent)]
    Env(#[from] OpenError),
    /// No signing key could be made or opened (in the database).
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The sealing key could not be read, created or used to open the keys.
    #[error(transparent)]
    Key(#[from] crate::auth::keys::KeyError),
}

/// The shared application state: the worker environment (reached through
/// `Deref`: `app.db`, `app.clock`, `app.jobs`, ...) and the API's own parts.
#[derive(Debug)]
pub struct App {
    /// What the export engine runs with, shared with this process's workers.
    pub env: Arc<WorkerEnv>,
    /// Issues and verifies access tokens (`/auth/token`, every bearer
    /// request).
    pub tokens: TokenService,
    /// Signs and checks download URLs (`--signed-urls`).
    pub url_keys: UrlKeys,
    /// How absolute URLs are built.
    pub http: HttpSettings,
    /// When this process started, from the injected clock: the
    /// CapabilityStatements' `releaseDate`.
    pub started_at: OffsetDateTime,
}

impl App {
    /// Opens the application over an already connected database: opens the
    /// worker environment (data directory, migrations), then makes sure a
    /// signing key (and with `--signed-urls` a URL-signing key) exists and
    /// opens with the sealing key.
    pub async fn open(db: Db, clock: SharedClock, config: AppConfig) -> Result<Self, StartError> {
        let env = WorkerEnv::open(db, clock, config.data_dir, &config.store, config.jobs).await?;
        let sealer = KeySealer::from_source(&config.sealing_key)?;
        let url_keys = UrlKeys::new(env.db.clone(), sealer.clone());
        let keyring = Arc::new(Keyring::new(env.db.clone(), sealer));
        keyring.ensure_signing_key(env.clock.now()).await?;
        if config.http.signed_urls.is_some() {
            url_keys.ensure_key(env.clock.now()).await?;
        }
        let tokens = TokenService::new(env.db.clone(), env.clock.clone(), keyring, config.tokens);
        Ok(Self {
            started_at: env.clock.now(),
            env: Arc::new(env),
            tokens,
            url_keys,
            http: config.http,
        })
    }
}

impl Deref for App {
    type Target = WorkerEnv;
    fn deref(&self) -> &WorkerEnv {
        &self.env
    }
}

/// The handle request handlers extract: a cheap clone of an `Arc<App>`.
#[derive(Debug, Clone)]
pub struct AppState(pub Arc<App>);

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

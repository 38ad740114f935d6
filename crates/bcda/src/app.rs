//! The application: everything a request handler or background task needs,
//! built once per process and shared behind an `Arc`.

use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::auth::AuthError;
use crate::auth::keys::{KeySealer, Keyring};
use crate::auth::tokens::{TokenService, TokenSettings};
use crate::clock::SharedClock;
use crate::config::DataDir;
use crate::files::FileStore;
use crate::jobs::JobSettings;
use crate::jobs::buffers::BufferPool;
use crate::store::{Db, StoreError};

/// Settings of the HTTP layer.
#[derive(Debug, Clone, Default)]
pub struct HttpSettings {
    /// Build absolute URLs from `X-Forwarded-Proto` / `X-Forwarded-Host`
    /// (only behind a proxy that sets them).
    pub trust_forwarded_headers: bool,
    /// A fixed public base URL (e.g. `https://bcda.example.org`) for every
    /// absolute URL, overriding the request's host.
    pub public_base_url: Option<String>,
}

/// Everything needed to open the application.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// The data directory.
    pub data_dir: DataDir,
    /// The file whose key seals the signing keys.
    pub key_file: PathBuf,
    /// Token issuing limits.
    pub tokens: TokenSettings,
    /// HTTP settings.
    pub http: HttpSettings,
    /// Export engine settings.
    pub jobs: JobSettings,
}

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory is unusable.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Keys failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The key file failed.
    #[error(transparent)]
    Key(#[from] crate::auth::keys::KeyError),
}

/// The shared application state.
#[derive(Debug)]
pub struct App {
    /// The database.
    pub db: Db,
    /// The clock.
    pub clock: SharedClock,
    /// Token issue and verification.
    pub tokens: TokenService,
    /// The data directory.
    pub data_dir: DataDir,
    /// Export files.
    pub files: FileStore,
    /// HTTP settings.
    pub http: HttpSettings,
    /// Export engine settings.
    pub jobs: JobSettings,
    /// Batch buffers reused by every export task.
    pub batch_buffers: BufferPool,
    /// Signalled when this process queues tasks, so its idle workers start
    /// at once instead of at their next poll (workers in other processes
    /// still find them by polling).
    pub new_tasks: tokio::sync::Notify,
    /// When this process started.
    pub started_at: OffsetDateTime,
}

impl App {
    /// Opens the application over an already connected database: creates the
    /// data directory, applies migrations, and makes sure a signing key
    /// exists and opens with the key file.
    pub async fn open(db: Db, clock: SharedClock, config: AppConfig) -> Result<Self, StartError> {
        config
            .data_dir
            .ensure()
            .map_err(|source| StartError::DataDir {
                path: config.data_dir.root().to_owned(),
                source,
            })?;
        db.migrate().await?;
        let sealer = KeySealer::load_or_create(&config.key_file)?;
        let keyring = Arc::new(Keyring::new(db.clone(), sealer));
        keyring.ensure_signing_key(clock.now()).await?;
        let tokens = TokenService::new(db.clone(), clock.clone(), keyring, config.tokens);
        Ok(Self {
            started_at: clock.now(),
            db,
            clock,
            tokens,
            files: FileStore::new(config.data_dir.root()),
            data_dir: config.data_dir,
            http: config.http,
            jobs: config.jobs,
            batch_buffers: BufferPool::new(BATCH_BUFFERS_KEPT),
            new_tasks: tokio::sync::Notify::new(),
        })
    }
}

/// Idle batch buffers kept for reuse: two per concurrent export task on a
/// machine with up to eight workers (each ~1 MB).
const BATCH_BUFFERS_KEPT: usize = 16;

/// The handle request handlers extract: a cheap clone of an `Arc<App>`.
#[derive(Debug, Clone)]
pub struct AppState(pub Arc<App>);

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

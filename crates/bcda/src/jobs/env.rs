//! The worker environment: everything the export engine needs to run
//! (database, clock, data directory and its files, the engine's settings,
//! the batch buffers, the new-tasks signal) and nothing of HTTP or tokens.
//!
//! `bcda worker` opens only this, so it needs no signing-key file; the HTTP
//! [`App`](crate::app::App) is built on top of it and shares it with the
//! workers of its own process.

use std::path::PathBuf;

use super::JobSettings;
use super::buffers::BufferPool;
use crate::clock::SharedClock;
use crate::config::DataDir;
use crate::files::FileStore;
use crate::files::location::{StoreLocation, StoreOpenError};
use crate::store::{Db, StoreError};
use crate::telemetry::metrics::Metrics;

/// What the export engine runs with: kick-offs, planning, export tasks,
/// cancellation, cleanup and housekeeping all take this.
#[derive(Debug)]
pub struct WorkerEnv {
    /// The database: the job queue, job records and the stored source.
    pub db: Db,
    /// Every "what time is it" (a `ManualClock` in tests).
    pub clock: SharedClock,
    /// The data directory (the SQLite file, if any, and the file store's
    /// root).
    pub data_dir: DataDir,
    /// Export and archive files: under the data directory, another
    /// directory or an S3 prefix (`--store`).
    pub files: FileStore,
    /// The engine's tunables (batch sizes, windows, retries, workers).
    pub jobs: JobSettings,
    /// Batch buffers reused by every export task.
    pub batch_buffers: BufferPool,
    /// Signalled when this process queues tasks, so its idle workers start
    /// at once instead of at their next poll (workers in other processes
    /// hear of them through `store::task_signal`, or by polling).
    pub new_tasks: tokio::sync::Notify,
    /// This process's metrics (`GET /metrics` on `--metrics-listen`): its
    /// workers, its API and its scrapes record here.
    pub metrics: Metrics,
}

/// Why the worker environment could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The data directory could not be created or made private.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory, as configured.
        path: PathBuf,
        /// Why it is unusable.
        source: std::io::Error,
    },
    /// The file store could not be opened.
    #[error(transparent)]
    Files(#[from] StoreOpenError),
    /// Migrations could not be applied.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Idle batch buffers kept for reuse: two per concurrent export task on a
/// machine with up to eight workers (each ~1 MB).
const BATCH_BUFFERS_KEPT: usize = 16;

impl WorkerEnv {
    /// Opens the environment over an already connected database: creates
    /// the data directory, opens the file store at `store` and applies
    /// migrations.
    pub async fn open(
        db: Db,
        clock: SharedClock,
        data_dir: DataDir,
        store: &StoreLocation,
        jobs: JobSettings,
    ) -> Result<Self, OpenError> {
        data_dir.ensure().map_err(|source| OpenError::DataDir {
            path: data_dir.root().to_owned(),
            source,
        })?;
        let files = store.open(data_dir.root())?;
        db.migrate().await?;
        Ok(Self {
            db,
            clock,
            files,
            data_dir,
            jobs,
            batch_buffers: BufferPool::new(BATCH_BUFFERS_KEPT),
            new_tasks: tokio::sync::Notify::new(),
            metrics: Metrics::new(),
        })
    }
}

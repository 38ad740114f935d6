//! Periodic upkeep that every server process runs in the background
//! (`runtime.rs`).

use std::time::Duration;

use tokio::sync::watch;

use crate::jobs::env::WorkerEnv;
use crate::store::{access_tokens, client_assertion_ids};

/// How often upkeep runs.
pub const INTERVAL: Duration = Duration::from_secs(5 * 60);

/// Token records are kept this long after expiry (long enough to answer a
/// revocation of an expired token sensibly), then deleted.
pub const TOKEN_RECORD_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

/// Runs one round of upkeep: expired token records, the ids of expired
/// client assertions, and ageing export jobs (archive, delete, retire).
pub async fn run_once(env: &WorkerEnv) {
    let now = env.clock.now();
    match access_tokens::purge_expired(&env.db, now - TOKEN_RECORD_RETENTION).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(count = n, "purged expired token records"),
        Err(e) => tracing::warn!(error = %e, "purging expired token records failed"),
    }
    // Kept until the assertion's expiry (plus the clock-skew tolerance,
    // added when recorded): an expired assertion is refused anyway.
    match client_assertion_ids::purge_expired(&env.db, now).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(count = n, "purged expired client assertion ids"),
        Err(e) => tracing::warn!(error = %e, "purging expired client assertion ids failed"),
    }
    match crate::jobs::cleanup::run_once(env).await {
        Ok(report) if report == crate::jobs::cleanup::CleanupReport::default() => {}
        Ok(report) => tracing::info!(
            archived = report.archived,
            expired = report.expired,
            retired = report.retired,
            "retired old export jobs"
        ),
        Err(e) => tracing::warn!(error = %e, "retiring old export jobs failed"),
    }
}

/// Runs upkeep every [`INTERVAL`] until `shutdown` changes.
pub async fn run(env: std::sync::Arc<WorkerEnv>, mut shutdown: watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(INTERVAL);
    loop {
        tokio::select! {
            _ = ticker.tick() => run_once(&env).await,
            _ = shutdown.changed() => return,
        }
    }
}

//! Cancelling a job.

use super::env::WorkerEnv;
use crate::domain::JobStatus;
use crate::store::StoreError;
use crate::store::jobs;
use crate::store::tasks;

/// Cancels a job (and its tasks) and deletes its files; `false` if it was
/// not in a cancellable state.
pub async fn cancel(env: &WorkerEnv, job_id: i64) -> Result<bool, StoreError> {
    let now = env.clock.now();
    let mut tx = env.db.begin().await?;
    let cancelled = jobs::transition_in(
        &mut tx,
        job_id,
        &[
            JobStatus::Pending,
            JobStatus::InProgress,
            JobStatus::Completed,
        ],
        JobStatus::Cancelled,
        now,
    )
    .await?;
    if cancelled {
        tasks::cancel_for_job(&mut tx, job_id, now).await?;
    }
    tx.commit().await?;
    if cancelled {
        tracing::info!(job = job_id, "export job cancelled");
        if let Err(e) = env.files.delete(job_id).await {
            tracing::warn!(job = job_id, error = %e, "could not delete a cancelled job's files");
        }
    }
    Ok(cancelled)
}

//! Retiring jobs as they age: a completed job's files are downloadable for
//! the download window, then archived; archived files are deleted after the
//! archive window; failed and cancelled jobs (whose files went at once) are
//! marked expired. A sweep removes files that no job should have (see
//! [`sweep_files`]).

use std::collections::HashSet;

use super::env::WorkerEnv;
use crate::domain::JobStatus;
use crate::files::FileStore;
use crate::store::jobs;
use crate::store::{StoreError, job_files};

/// What one cleanup round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanupReport {
    /// Completed jobs past the download window whose files moved to
    /// `archive/` (now Archived).
    pub archived: usize,
    /// Archived jobs whose files were deleted.
    pub expired: usize,
    /// Failed or cancelled jobs marked expired.
    pub retired: usize,
    /// Files or job directories [`sweep_files`] removed.
    pub swept: usize,
}

/// Runs one round: archives, deletes and retires jobs whose windows have
/// passed (in that order), then sweeps the file store.
pub async fn run_once(env: &WorkerEnv) -> Result<CleanupReport, StoreError> {
    let now = env.clock.now();
    let mut report = CleanupReport::default();
    for job in jobs::completed_before(&env.db, now - env.jobs.download_window).await? {
        match env.files.archive(job.id).await {
            Ok(()) => {
                if jobs::transition(
                    &env.db,
                    job.id,
                    &[JobStatus::Completed],
                    JobStatus::Archived,
                    now,
                )
                .await?
                {
                    report.archived += 1;
                }
            }
            Err(e) => tracing::warn!(job = job.id, error = %e, "could not archive a job's files"),
        }
    }
    for job in
        jobs::in_status_before(&env.db, JobStatus::Archived, now - env.jobs.archive_window).await?
    {
        match env.files.delete(job.id).await {
            Ok(()) => {
                if jobs::transition(
                    &env.db,
                    job.id,
                    &[JobStatus::Archived],
                    JobStatus::Expired,
                    now,
                )
                .await?
                {
                    report.expired += 1;
                }
            }
            Err(e) => {
                tracing::warn!(job = job.id, error = %e, "could not delete a job's archived files")
            }
        }
    }
    for (from, to) in [
        (JobStatus::Failed, JobStatus::FailedExpired),
        (JobStatus::Cancelled, JobStatus::CancelledExpired),
    ] {
        for job in jobs::in_status_before(&env.db, from, now - env.jobs.archive_window).await? {
            // Their files were deleted when they failed or were cancelled;
            // delete again in case that failed.
            let _ = env.files.delete(job.id).await;
            if jobs::transition(&env.db, job.id, &[from], to, now).await? {
                report.retired += 1;
            }
        }
    }
    report.swept = sweep_files(env).await?;
    Ok(report)
}

/// Removes from the file store what no job should have there, and returns
/// how many files (or whole directories) went:
/// - every file of a job that is failed, cancelled or expired, or unknown
///   (deleting them when the job ended can fail, or race a task that was
///   still writing);
/// - files no manifest lists in a completed job (a task whose final
///   transaction failed after it put its file in place), and a directory
///   store's staged uploads of attempts that died.
///
/// A running job's files are left alone: an upload in progress cannot be
/// told from one whose writer died, and both go when the job ends.
pub async fn sweep_files(env: &WorkerEnv) -> Result<usize, StoreError> {
    let ids = match env.files.job_ids().await {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!(error = %e, "could not list the file store's jobs");
            return Ok(0);
        }
    };
    let mut swept = 0;
    for job_id in ids {
        let status = jobs::find(&env.db, job_id).await?.map(|j| j.status);
        let removed = match status {
            Some(s) if s.is_active() => 0,
            Some(JobStatus::Completed) => remove_unrecorded(env, job_id).await?,
            Some(JobStatus::Archived) => 0,
            _ => match env.files.delete(job_id).await {
                Ok(()) => 1,
                Err(e) => {
                    tracing::warn!(job = job_id, error = %e, "could not delete an ended job's files");
                    0
                }
            },
        };
        swept += removed;
    }
    Ok(swept)
}

/// Removes every file of a completed job that its manifest does not list
/// (and any staged upload: no task of a completed job runs).
pub async fn remove_unrecorded(env: &WorkerEnv, job_id: i64) -> Result<usize, StoreError> {
    let recorded: HashSet<String> = job_files::list(&env.db, job_id)
        .await?
        .into_iter()
        .map(|f| f.name)
        .collect();
    let doomed = move |name: &str| {
        FileStore::recorded_name(name).is_none_or(|recorded_name| !recorded.contains(recorded_name))
    };
    Ok(log_removal(
        job_id,
        env.files.remove_matching(job_id, doomed).await,
    ))
}

fn log_removal(job_id: i64, removed: std::io::Result<usize>) -> usize {
    match removed {
        Ok(0) => 0,
        Ok(n) => {
            tracing::info!(
                job = job_id,
                files = n,
                "removed files no manifest will list"
            );
            n
        }
        Err(e) => {
            tracing::warn!(job = job_id, error = %e, "could not sweep a job's files");
            0
        }
    }
}

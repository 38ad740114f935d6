//! Retiring jobs as they age: a completed job's files are downloadable for
//! the download window, then archived; archived files are deleted after the
//! archive window; failed and cancelled jobs (whose files went at once) are
//! marked expired.

use crate::app::App;
use crate::store::StoreError;
use crate::store::jobs::{self, JobStatus};

/// What one cleanup round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanupReport {
    /// Completed jobs archived.
    pub archived: usize,
    /// Archived jobs whose files were deleted.
    pub expired: usize,
    /// Failed or cancelled jobs marked expired.
    pub retired: usize,
}

/// Runs one round.
pub async fn run_once(app: &App) -> Result<CleanupReport, StoreError> {
    let now = app.clock.now();
    let mut report = CleanupReport::default();
    for job in jobs::completed_before(&app.db, now - app.jobs.download_window).await? {
        match app.files.archive(job.id).await {
            Ok(()) => {
                if jobs::transition(
                    &app.db,
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
        jobs::in_status_before(&app.db, JobStatus::Archived, now - app.jobs.archive_window).await?
    {
        match app.files.delete(job.id).await {
            Ok(()) => {
                if jobs::transition(
                    &app.db,
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
        for job in jobs::in_status_before(&app.db, from, now - app.jobs.archive_window).await? {
            // Their files were deleted when they failed or were cancelled;
            // delete again in case that failed.
            let _ = app.files.delete(job.id).await;
            if jobs::transition(&app.db, job.id, &[from], to, now).await? {
                report.retired += 1;
            }
        }
    }
    Ok(report)
}

//! Workers: claim a task, keep its lease alive, run it, record the outcome.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::Instrument;

use super::{TaskError, export_task, plan};
use crate::app::App;
use crate::store::jobs::{self, JobStatus};
use crate::store::tasks::{self, ClaimedTask, TaskKind};

/// One worker: runs one task at a time.
#[derive(Debug, Clone)]
pub struct Worker {
    app: Arc<App>,
    owner: String,
}

impl Worker {
    /// A worker named `name` (recorded as the lease owner; make it unique:
    /// host, process and number).
    pub fn new(app: Arc<App>, name: impl Into<String>) -> Self {
        Self {
            app,
            owner: name.into(),
        }
    }

    /// Claims and runs one task; `false` when there was none to claim.
    pub async fn run_one(&self) -> Result<bool, TaskError> {
        let now = self.app.clock.now();
        let lease = self.app.jobs.task_lease;
        let Some(task) = tasks::claim(&self.app.db, &self.owner, now, now + lease).await? else {
            return Ok(false);
        };
        let span = tracing::info_span!(
            "task",
            id = task.id,
            job = task.job_id,
            kind = task.kind.as_str(),
            attempt = task.attempts
        );
        // Instrumented, not entered: a guard held across awaits would tag
        // whatever else runs on this thread meanwhile (HTTP requests) with
        // the task's span.
        self.run_claimed(task).instrument(span).await?;
        Ok(true)
    }

    /// Runs a claimed task under its lease and records the outcome.
    async fn run_claimed(&self, task: ClaimedTask) -> Result<(), TaskError> {
        let (lost_tx, lost_rx) = watch::channel(false);
        let heartbeat = tokio::spawn(
            keep_lease(self.app.clone(), task.id, task.fence, lost_tx).in_current_span(),
        );
        let result = match task.kind {
            TaskKind::Plan => plan::run(&self.app, &task).await,
            TaskKind::Export => export_task::run(&self.app, &task, lost_rx).await,
        };
        heartbeat.abort();
        match result {
            Ok(()) => {}
            Err(TaskError::LostClaim) => {
                tracing::warn!("lost the claim on a task; another worker has it")
            }
            Err(TaskError::Retryable(message)) if task.attempts < self.app.jobs.max_attempts => {
                let backoff = self.app.jobs.retry_backoff
                    * 2u32.saturating_pow((task.attempts - 1).clamp(0, 16) as u32);
                tracing::warn!(error = %message, retry_in_ms = backoff.as_millis() as u64, "task failed; will retry");
                let now = self.app.clock.now();
                tasks::release_failed(
                    &self.app.db,
                    task.id,
                    task.fence,
                    &message,
                    now + backoff,
                    false,
                    now,
                )
                .await?;
            }
            Err(e) => {
                tracing::error!(error = %e, "task failed for good; failing its job");
                fail_job(&self.app, &task, &e.to_string()).await?;
            }
        }
        Ok(())
    }

    /// Runs tasks until `shutdown` turns true; when idle, waits for this
    /// process to queue tasks or for the poll interval (tasks queued by
    /// other processes), whichever comes first.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let app = self.app.clone();
        loop {
            if *shutdown.borrow() {
                return;
            }
            // Registered before looking for a task, so a task queued between
            // the look and the wait still wakes this worker.
            let queued = app.new_tasks.notified();
            tokio::pin!(queued);
            queued.as_mut().enable();
            let idle = match self.run_one().await {
                Ok(ran) => !ran,
                Err(e) => {
                    tracing::error!(error = %e, "worker could not claim or record a task");
                    true
                }
            };
            if idle {
                tokio::select! {
                    _ = tokio::time::sleep(app.jobs.poll_interval) => {},
                    _ = &mut queued => {},
                    _ = shutdown.changed() => {},
                }
            }
        }
    }
}

/// Renews the lease every third of its length; reports a lost claim.
async fn keep_lease(app: Arc<App>, id: i64, fence: i64, lost: watch::Sender<bool>) {
    let every = (app.jobs.task_lease / 3).max(Duration::from_millis(100));
    loop {
        tokio::time::sleep(every).await;
        let until = app.clock.now() + app.jobs.task_lease;
        match tasks::heartbeat(&app.db, id, fence, until).await {
            Ok(true) => {}
            Ok(false) => {
                let _ = lost.send(true);
                return;
            }
            // A database hiccup: try again next beat; the lease is long
            // enough to survive one.
            Err(e) => tracing::warn!(error = %e, "lease renewal failed"),
        }
    }
}

/// Marks the task's job Failed, cancels its other tasks and deletes its files.
async fn fail_job(app: &App, task: &ClaimedTask, message: &str) -> Result<(), TaskError> {
    let now = app.clock.now();
    tasks::release_failed(&app.db, task.id, task.fence, message, now, true, now).await?;
    let mut tx = app.db.begin().await?;
    let failed = jobs::transition_in(
        &mut tx,
        task.job_id,
        &[JobStatus::Pending, JobStatus::InProgress],
        JobStatus::Failed,
        now,
    )
    .await?;
    tasks::cancel_for_job(&mut tx, task.job_id, now).await?;
    tx.commit().await?;
    if failed && let Err(e) = app.files.delete(task.job_id).await {
        tracing::warn!(error = %e, "could not delete a failed job's files");
    }
    Ok(())
}

/// Runs tasks in this task until none is left to claim; returns how many
/// ran. Lets tests drain the queue deterministically.
pub async fn run_until_idle(app: &Arc<App>) -> Result<usize, TaskError> {
    let worker = Worker::new(app.clone(), "test-worker");
    let mut ran = 0;
    while worker.run_one().await? {
        ran += 1;
    }
    Ok(ran)
}

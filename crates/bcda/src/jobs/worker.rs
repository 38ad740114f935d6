//! Workers: claim a task, keep its lease alive, run it, record the outcome.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::Instrument;

use super::env::WorkerEnv;
use super::task_end::{self, TaskEnd};
use super::{TaskError, export_task, plan};
use crate::domain::JobStatus;
use crate::store::jobs;
use crate::store::tasks::{self, ClaimedTask, TaskKind};
use crate::telemetry::metrics::{During, TaskOutcome};

/// One worker: runs one task at a time.
#[derive(Debug, Clone)]
pub struct Worker {
    env: Arc<WorkerEnv>,
    owner: String,
}

impl Worker {
    /// A worker named `name` (recorded as the lease owner; make it unique:
    /// host, process and number).
    pub fn new(env: Arc<WorkerEnv>, name: impl Into<String>) -> Self {
        Self {
            env,
            owner: name.into(),
        }
    }

    /// Claims and runs one task; `false` when there was none to claim.
    pub async fn run_one(&self) -> Result<bool, TaskError> {
        let now = self.env.clock.now();
        let lease = self.env.jobs.task_lease;
        let Some(task) = tasks::claim(&self.env.db, &self.owner, now, now + lease).await? else {
            return Ok(false);
        };
        // Real elapsed time, not the injected clock: this is a measurement
        // for `bcda_task_duration_seconds`, which no decision reads.
        let started = std::time::Instant::now();
        let kind = task.kind;
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
        async {
            if let Some(previous) = &task.previous_owner {
                tracing::warn!(previous_owner = %previous, "took over a task whose lease had lapsed");
            }
            let job_id = task.job_id;
            let outcome = if task.attempts > self.env.jobs.max_attempts {
                // Every attempt was used up, the last without its failure
                // being recorded (its worker died, or the database refused
                // the write): give up now rather than run once more.
                let reason = format!(
                    "gave up after {} attempts: {}",
                    task.attempts - 1,
                    task.last_error.as_deref().unwrap_or("the last attempt did not finish")
                );
                tracing::error!(error = %reason, "task failed for good; failing its job");
                fail_job(&self.env, &task, &reason)
                    .await
                    .map(|()| TaskOutcome::Failed)
            } else {
                self.run_claimed(task).await
            };
            let ended = match &outcome {
                Ok(ended) => *ended,
                Err(TaskError::LostClaim) => TaskOutcome::Lost,
                Err(_) => TaskOutcome::Unrecorded,
            };
            self.env
                .metrics
                .task_ended(kind, ended, started.elapsed());
            remove_files_if_ended(&self.env, job_id).await;
            match outcome.map(|_| ()) {
                // Not this worker's failure: another one has the task now
                // (or the job was cancelled under it).
                Err(TaskError::LostClaim) => {
                    tracing::warn!("lost the claim on a task; another worker has it");
                    Ok(())
                }
                other => other,
            }
        }
        .instrument(span)
        .await?;
        Ok(true)
    }

    /// Runs a claimed task under its lease and records the outcome; says
    /// which it recorded.
    async fn run_claimed(&self, task: ClaimedTask) -> Result<TaskOutcome, TaskError> {
        let (lost_tx, lost_rx) = watch::channel(false);
        let heartbeat = tokio::spawn(
            keep_lease(self.env.clone(), task.id, task.fence, lost_tx).in_current_span(),
        );
        let result = match task.kind {
            TaskKind::Plan => plan::run(&self.env, &task).await,
            TaskKind::Export => export_task::run(&self.env, &task, lost_rx).await,
        };
        heartbeat.abort();
        if let Err(e) = &result
            && let Some(store) = e.store()
        {
            self.env.metrics.store_error(store, During::Task);
        }
        match result {
            Err(e) if e.is_retryable() && task.attempts < self.env.jobs.max_attempts => {
                let message = e.to_string();
                let backoff = self.env.jobs.retry_backoff
                    * 2u32.saturating_pow((task.attempts - 1).clamp(0, 16) as u32);
                tracing::warn!(error = %message, retry_in_ms = backoff.as_millis() as u64, "task failed; will retry");
                // If this write fails too (the database is down or full), the
                // attempt still counts: it was counted when the task was
                // claimed, and the lapsed lease makes the task claimable
                // again, after the lease's length.
                let end = TaskEnd::Retry {
                    error: &message,
                    after: backoff,
                };
                task_end::record(&self.env, &task, end, task_end::nothing_else)
                    .await
                    .map(|()| TaskOutcome::Retried)
            }
            // Nothing was recorded; `run_one` says so.
            Err(TaskError::LostClaim) => Err(TaskError::LostClaim),
            Err(e) => {
                tracing::error!(error = %e, "task failed for good; failing its job");
                fail_job(&self.env, &task, &e.to_string())
                    .await
                    .map(|()| TaskOutcome::Failed)
            }
            Ok(()) => Ok(TaskOutcome::Done),
        }
    }

    /// Runs tasks until `shutdown` turns true; when idle, waits for this
    /// process to queue tasks or for the poll interval (tasks queued by
    /// other processes), whichever comes first.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let env = self.env.clone();
        // Consecutive failures to claim or record a task (the database or
        // the disk is failing): each one doubles the wait before the next
        // try, up to MAX_ERROR_BACKOFF, so a failing dependency costs a log
        // line and a query every so often, not a busy loop.
        let mut failures: u32 = 0;
        loop {
            if *shutdown.borrow() {
                return;
            }
            // Registered before looking for a task, so a task queued between
            // the look and the wait still wakes this worker.
            let queued = env.new_tasks.notified();
            tokio::pin!(queued);
            queued.as_mut().enable();
            match self.run_one().await {
                Ok(true) => failures = 0,
                Ok(false) => {
                    failures = 0;
                    tokio::select! {
                        _ = tokio::time::sleep(env.jobs.poll_interval) => {},
                        _ = &mut queued => {},
                        _ = shutdown.changed() => {},
                    }
                }
                Err(e) => {
                    // Claiming or recording a task failed (the task's own
                    // errors were counted where it ended).
                    if let Some(store) = e.store() {
                        env.metrics.store_error(store, During::Task);
                    }
                    failures = failures.saturating_add(1);
                    let wait = error_backoff(env.jobs.poll_interval, failures);
                    tracing::error!(error = %e, retry_in_ms = wait.as_millis() as u64, "worker could not claim or record a task");
                    // New work does not cut this wait short: the failure is
                    // not the queue's.
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {},
                        _ = shutdown.changed() => {},
                    }
                }
            }
        }
    }
}

/// The longest a worker waits after failing to claim or record a task.
const MAX_ERROR_BACKOFF: Duration = Duration::from_secs(30);

/// The wait after `failures` consecutive failures: the poll interval,
/// doubled for each failure after the first, at most [`MAX_ERROR_BACKOFF`].
fn error_backoff(poll: Duration, failures: u32) -> Duration {
    poll.saturating_mul(2u32.saturating_pow(failures.saturating_sub(1).min(16)))
        .min(MAX_ERROR_BACKOFF)
}

/// Once a task has stopped, removes its job's files if the job has ended
/// without being downloadable (cancelled or failed): the cancel or failure
/// deleted them already, but a task still writing then may have put some
/// back. Failures are logged; the cleanup sweep tries again.
async fn remove_files_if_ended(env: &WorkerEnv, job_id: i64) {
    let ended = match jobs::find(&env.db, job_id).await {
        Ok(job) => job.is_none_or(|j| !j.status.keeps_files()),
        Err(_) => return,
    };
    if ended && let Err(e) = env.files.delete(job_id).await {
        tracing::warn!(error = %e, "could not delete an ended job's files; the sweep will retry");
    }
}

/// Renews the lease every third of its length; reports a lost claim.
async fn keep_lease(env: Arc<WorkerEnv>, id: i64, fence: i64, lost: watch::Sender<bool>) {
    let every = (env.jobs.task_lease / 3).max(Duration::from_millis(100));
    loop {
        tokio::time::sleep(every).await;
        let until = env.clock.now() + env.jobs.task_lease;
        match tasks::heartbeat(&env.db, id, fence, until).await {
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

/// Fails the task for good and with it its job: marks the job Failed and
/// cancels its other tasks, then deletes its files.
async fn fail_job(env: &WorkerEnv, task: &ClaimedTask, message: &str) -> Result<(), TaskError> {
    let end = TaskEnd::GiveUp { error: message };
    let failed = task_end::record(env, task, end, async |tx, now| {
        let failed = jobs::transition_in(
            tx,
            task.job_id,
            &[JobStatus::Pending, JobStatus::InProgress],
            JobStatus::Failed,
            now,
        )
        .await?;
        tasks::cancel_for_job(tx, task.job_id, now).await?;
        Ok(failed)
    })
    .await?;
    if failed && let Err(e) = env.files.delete(task.job_id).await {
        tracing::warn!(error = %e, "could not delete a failed job's files");
    }
    Ok(())
}

/// Runs tasks in this task until none is left to claim; returns how many
/// ran. Lets tests drain the queue deterministically.
pub async fn run_until_idle(env: &Arc<WorkerEnv>) -> Result<usize, TaskError> {
    let worker = Worker::new(env.clone(), "test-worker");
    let mut ran = 0;
    while worker.run_one().await? {
        ran += 1;
    }
    Ok(ran)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_back_off_exponentially_to_a_cap() {
        let poll = Duration::from_millis(500);
        assert_eq!(error_backoff(poll, 1), poll);
        assert_eq!(error_backoff(poll, 2), Duration::from_secs(1));
        assert_eq!(error_backoff(poll, 4), Duration::from_secs(4));
        assert_eq!(error_backoff(poll, 10), MAX_ERROR_BACKOFF);
        assert_eq!(error_backoff(poll, u32::MAX), MAX_ERROR_BACKOFF);
    }
}

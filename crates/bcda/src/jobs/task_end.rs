//! How a claimed task ends: the one transaction that records it.
//!
//! Everything a task writes (its job's plan and export tasks, its files,
//! its job's failure) goes in a single transaction that first moves the
//! task out of `running` (done, back to the queue, or failed) *if it still
//! holds its fence*. A worker whose lease lapsed, and whose task another
//! worker has claimed since, finds the fence moved: nothing is written and
//! it gets [`TaskError::LostClaim`], so a stale worker never records over
//! the live one's work.

use std::time::Duration;

use time::OffsetDateTime;

use super::TaskError;
use super::env::WorkerEnv;
use crate::store::Tx;
use crate::store::tasks::{self, ClaimedTask, Release};

/// How a claimed task ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskEnd<'a> {
    /// It did its work: the task is done.
    Done,
    /// It failed but may work next time: it runs again `after` from now.
    Retry {
        /// Why it failed (kept as the task's last error).
        error: &'a str,
        /// The backoff before the next attempt.
        after: Duration,
    },
    /// It failed for good.
    GiveUp {
        /// Why it failed (kept as the task's last error).
        error: &'a str,
    },
}

/// Records `end` for `task` and whatever `results` writes, in one
/// transaction, if the task's claim still holds its fence: `results` gets
/// the transaction and the instant the task ended, and runs only when the
/// claim holds. Commits when both succeed, otherwise rolls back (at once:
/// SQLite's write lock is not kept until the connection is next used) and
/// returns the error, [`TaskError::LostClaim`] when the claim was lost.
pub async fn record<T>(
    env: &WorkerEnv,
    task: &ClaimedTask,
    end: TaskEnd<'_>,
    results: impl AsyncFnOnce(&mut Tx, OffsetDateTime) -> Result<T, TaskError>,
) -> Result<T, TaskError> {
    let now = env.clock.now();
    let mut tx = env.db.begin().await?;
    let (id, fence) = (task.id, task.fence);
    let held = match end {
        TaskEnd::Done => tasks::complete(&mut tx, id, fence, now).await,
        TaskEnd::Retry { error, after } => {
            let release = Release::RetryAt(now + after);
            tasks::release_failed(&mut tx, id, fence, error, release, now).await
        }
        TaskEnd::GiveUp { error } => {
            tasks::release_failed(&mut tx, id, fence, error, Release::GiveUp, now).await
        }
    };
    let recorded = match held {
        Ok(true) => results(&mut tx, now).await,
        Ok(false) => Err(TaskError::LostClaim),
        Err(e) => Err(e.into()),
    };
    match recorded {
        Ok(value) => {
            tx.commit().await?;
            Ok(value)
        }
        Err(e) => {
            if let Err(rollback) = tx.rollback().await {
                tracing::warn!(error = %rollback, "could not roll back a task's final transaction");
            }
            Err(e)
        }
    }
}

/// For `results` when the task's end is all there is to record.
pub async fn nothing_else(_: &mut Tx, _: OffsetDateTime) -> Result<(), TaskError> {
    Ok(())
}

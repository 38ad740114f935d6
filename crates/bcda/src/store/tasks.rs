//! The `tasks` table: the durable job queue.
//!
//! A task is claimed atomically by giving it a lease (an owner and an
//! expiry) and a new fence number; the worker renews the lease while it
//! works, and every write it makes is conditional on still holding that
//! fence. A task whose lease lapses (its worker died) is claimed again.
//! No transaction stays open while a task runs.

use time::OffsetDateTime;

use super::{Db, StoreError, Tx, impl_from_row, with_pool, with_tx};
use crate::clock::{from_epoch_ms, to_epoch_ms};
pub use crate::domain::task::TaskKind;
use crate::domain::task::TaskPayload;

/// A task as a worker claimed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedTask {
    /// The `tasks` row id (logged as `task`; in temporary file names).
    pub id: i64,
    /// The job whose work this is.
    pub job_id: i64,
    /// Planning or export: which runner reads the payload.
    pub kind: TaskKind,
    /// Its payload as stored (JSON): read by the task's runner, so that a
    /// payload it cannot read fails the task rather than the claim.
    pub payload: String,
    /// Claims so far, this one included.
    pub attempts: i64,
    /// The fence this claim holds: every claim moves it, and the task's
    /// final transaction writes only while the row still has this value
    /// (`jobs/task_end.rs`), so a stale worker cannot record over a live one.
    pub fence: i64,
    /// Why the previous attempt failed, if it did.
    pub last_error: Option<String>,
    /// The worker whose lapsed lease this claim took over (it died or
    /// stalled); `None` for a task that was ready.
    pub previous_owner: Option<String>,
}

impl_from_row!(ClaimedTask, |row| {
    let kind: String = row.try_get("kind")?;
    Ok(ClaimedTask {
        id: row.try_get("id")?,
        job_id: row.try_get("job_id")?,
        kind: TaskKind::parse(&kind)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown task kind {kind:?}").into()))?,
        payload: row.try_get("payload")?,
        attempts: row.try_get("attempts")?,
        fence: row.try_get("fence")?,
        last_error: row.try_get("last_error")?,
        previous_owner: None,
    })
});

/// Adds a ready task carrying `payload` (inside the caller's transaction).
pub async fn enqueue<P: TaskPayload>(
    tx: &mut Tx,
    job_id: i64,
    payload: &P,
    now: OffsetDateTime,
) -> Result<i64, StoreError> {
    Ok(with_tx!(tx, |conn| {
        sqlx::query_scalar(
            "INSERT INTO tasks (job_id, kind, payload, state, run_after, attempts, fence, created_at, updated_at) \
             VALUES ($1, $2, $3, 'ready', $4, 0, 0, $4, $4) RETURNING id",
        )
        .bind(job_id)
        .bind(P::KIND.as_str())
        .bind(payload.to_json())
        .bind(to_epoch_ms(now))
        .fetch_one(conn)
        .await?
    }))
}

/// Which tasks may be claimed at `$1` (now): ready and due, or running
/// with a lapsed lease (their worker died or stalled).
macro_rules! runnable {
    () => {
        "((state = 'ready' AND run_after <= $1) OR (state = 'running' AND lease_expires_at < $1))"
    };
}

/// The job whose turn it is: among jobs with a runnable task, those with a
/// planning task first (a new job starts promptly), then round robin: the
/// job a worker last served longest ago (never served: first), so one
/// large export cannot starve the others.
const NEXT_JOB: &str = concat!(
    "SELECT t.job_id FROM tasks t JOIN jobs j ON j.id = t.job_id WHERE ",
    runnable!(),
    " GROUP BY t.job_id, j.last_served \
      ORDER BY MIN(CASE t.kind WHEN 'plan' THEN 0 ELSE 1 END), COALESCE(j.last_served, 0), t.job_id \
      LIMIT 1"
);

/// A runnable task (planning first, then oldest) whose row also matches
/// `$filter` (`AND job_id = $2`: of the job whose turn it is; empty: any,
/// when every runnable task of that job is being claimed by other workers
/// at this moment), and the owner of its lapsed lease if it had one.
/// PostgreSQL locks the row and skips rows other workers are claiming
/// (`$lock`); SQLite's single writer ([`Db::begin`] takes the write lock)
/// makes the claim atomic anyway.
macro_rules! runnable_task {
    ($filter:literal, $lock:literal) => {
        concat!(
            "SELECT id, CASE WHEN state = 'running' THEN lease_owner END AS previous_owner \
             FROM tasks WHERE ",
            runnable!(),
            " ",
            $filter,
            " ORDER BY CASE kind WHEN 'plan' THEN 0 ELSE 1 END, id LIMIT 1",
            $lock
        )
    };
}

/// Claims the next runnable task (see `NEXT_JOB` for the order) for
/// `owner` until `lease_until`: sets the lease, moves the fence and counts
/// the attempt, in one transaction that must commit before the task may
/// run. (A single autocommit `UPDATE … RETURNING` handed out its row even
/// when SQLite then failed to commit it, with the disk full: the task ran
/// with its attempt never counted, for ever.)
pub async fn claim(
    db: &Db,
    owner: &str,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
) -> Result<Option<ClaimedTask>, StoreError> {
    let now = to_epoch_ms(now);
    let until = to_epoch_ms(lease_until);
    let mut tx = db.begin().await?;
    let next_job: Option<i64> = with_tx!(&mut tx, |conn| {
        sqlx::query_scalar(NEXT_JOB)
            .bind(now)
            .fetch_optional(&mut *conn)
            .await?
    });
    let picked: Option<(i64, Option<String>)> = match (next_job, &mut tx) {
        (None, _) => None,
        (Some(job), Tx::Postgres(t)) => {
            let conn = &mut **t;
            match sqlx::query_as(runnable_task!("AND job_id = $2", " FOR UPDATE SKIP LOCKED"))
                .bind(now)
                .bind(job)
                .fetch_optional(&mut *conn)
                .await?
            {
                Some(row) => Some(row),
                None => {
                    sqlx::query_as(runnable_task!("", " FOR UPDATE SKIP LOCKED"))
                        .bind(now)
                        .fetch_optional(&mut *conn)
                        .await?
                }
            }
        }
        (Some(job), Tx::Sqlite(t)) => {
            sqlx::query_as(runnable_task!("AND job_id = $2", ""))
                .bind(now)
                .bind(job)
                .fetch_optional(&mut **t)
                .await?
        }
    };
    // Nothing to claim: end the transaction (and SQLite's write lock) now.
    let Some((id, previous_owner)) = picked else {
        tx.rollback().await?;
        return Ok(None);
    };
    let mut task: ClaimedTask = with_tx!(&mut tx, |conn| {
        sqlx::query_as(
            "UPDATE tasks SET state = 'running', lease_owner = $1, lease_expires_at = $2, \
             fence = fence + 1, attempts = attempts + 1, updated_at = $3 WHERE id = $4 \
             RETURNING id, job_id, kind, payload, attempts, fence, last_error",
        )
        .bind(owner)
        .bind(until)
        .bind(now)
        .bind(id)
        .fetch_one(&mut *conn)
        .await?
    });
    with_tx!(&mut tx, |conn| {
        // Workers claiming at the same instant on PostgreSQL may draw the
        // same number; the order among those jobs is then by id, still fair.
        sqlx::query(
            "UPDATE jobs SET last_served = (SELECT COALESCE(MAX(last_served), 0) + 1 FROM jobs) WHERE id = $1",
        )
        .bind(task.job_id)
            .execute(&mut *conn)
            .await?;
    });
    tx.commit().await?;
    task.previous_owner = previous_owner;
    Ok(Some(task))
}

/// Extends the lease of a claim; `false` if the claim was lost (the task was
/// claimed again, finished, or cancelled).
pub async fn heartbeat(
    db: &Db,
    id: i64,
    fence: i64,
    lease_until: OffsetDateTime,
) -> Result<bool, StoreError> {
    let affected = with_pool!(db, |pool| {
        sqlx::query("UPDATE tasks SET lease_expires_at = $1 WHERE id = $2 AND fence = $3 AND state = 'running'")
            .bind(to_epoch_ms(lease_until))
            .bind(id)
            .bind(fence)
            .execute(pool)
            .await?
            .rows_affected()
    });
    Ok(affected == 1)
}

/// Marks a claimed task done, inside the transaction that records its
/// results; `false` if the claim was lost, in which case the caller must
/// roll back.
pub async fn complete(
    tx: &mut Tx,
    id: i64,
    fence: i64,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let affected = with_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE tasks SET state = 'done', lease_owner = NULL, lease_expires_at = NULL, updated_at = $1 \
             WHERE id = $2 AND fence = $3 AND state = 'running'",
        )
        .bind(to_epoch_ms(now))
        .bind(id)
        .bind(fence)
        .execute(conn)
        .await?
        .rows_affected()
    });
    Ok(affected == 1)
}

/// What becomes of a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// Back to the queue, to run again from this instant.
    RetryAt(OffsetDateTime),
    /// Failed for good.
    GiveUp,
}

/// Records a failed attempt, inside the caller's transaction: the task
/// goes back to the queue or fails for good, as `release` says. `false` if
/// the claim was lost, in which case the caller must roll back.
pub async fn release_failed(
    tx: &mut Tx,
    id: i64,
    fence: i64,
    error: &str,
    release: Release,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let (state, run_after) = match release {
        Release::RetryAt(at) => ("ready", at),
        Release::GiveUp => ("failed", now),
    };
    let affected = with_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE tasks SET state = $1, run_after = $2, last_error = $3, lease_owner = NULL, \
             lease_expires_at = NULL, updated_at = $4 WHERE id = $5 AND fence = $6 AND state = 'running'",
        )
        .bind(state)
        .bind(to_epoch_ms(run_after))
        .bind(error)
        .bind(to_epoch_ms(now))
        .bind(id)
        .bind(fence)
        .execute(conn)
        .await?
        .rows_affected()
    });
    Ok(affected == 1)
}

/// Cancels every unfinished task of a job (its running claims lose their
/// fence at their next write or heartbeat).
pub async fn cancel_for_job(
    tx: &mut Tx,
    job_id: i64,
    now: OffsetDateTime,
) -> Result<u64, StoreError> {
    Ok(with_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE tasks SET state = 'cancelled', lease_owner = NULL, lease_expires_at = NULL, updated_at = $1 \
             WHERE job_id = $2 AND state IN ('ready', 'running')",
        )
        .bind(to_epoch_ms(now))
        .bind(job_id)
        .execute(conn)
        .await?
        .rows_affected()
    }))
}

/// Tasks not yet finished (ready or running), all jobs: the queue depth.
pub async fn unfinished(db: &Db) -> Result<i64, StoreError> {
    Ok(with_pool!(db, |pool| {
        sqlx::query_scalar("SELECT COUNT(*) FROM tasks WHERE state IN ('ready', 'running')")
            .fetch_one(pool)
            .await?
    }))
}

/// A task that gave up, and why (for `bcda jobs show`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFailure {
    /// Task id.
    pub id: i64,
    /// What it did.
    pub kind: String,
    /// Attempts made.
    pub attempts: i64,
    /// The last error.
    pub error: String,
}

impl_from_row!(TaskFailure, |row| {
    Ok(TaskFailure {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        attempts: row.try_get("attempts")?,
        error: row
            .try_get::<Option<String>, _>("last_error")?
            .unwrap_or_default(),
    })
});

/// A job's tasks that failed for good.
pub async fn failures(db: &Db, job_id: i64) -> Result<Vec<TaskFailure>, StoreError> {
    Ok(with_pool!(db, |pool| {
        sqlx::query_as(
            "SELECT id, kind, attempts, last_error FROM tasks WHERE job_id = $1 AND state = 'failed' ORDER BY id",
        )
        .bind(job_id)
        .fetch_all(pool)
        .await?
    }))
}

/// The queue at one moment (the `bcda_task_queue_*` and `bcda_tasks_running`
/// gauges).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Tasks ready to run (due, or waiting out a retry's backoff), by kind.
    pub queued: Vec<(TaskKind, i64)>,
    /// Tasks a worker holds (or held: a lapsed lease counts until it is
    /// claimed again), by kind.
    pub running: Vec<(TaskKind, i64)>,
    /// When the ready task that has waited longest became due (`None`: no
    /// ready task is due): how far behind the workers are.
    pub oldest_due: Option<OffsetDateTime>,
}

/// The queue's depth per kind and its oldest due task at `now`: one
/// grouped read of the `tasks_claimable` index's ready and running rows,
/// which are few (finished tasks are never read).
pub async fn queue_stats(db: &Db, now: OffsetDateTime) -> Result<QueueStats, StoreError> {
    let rows: Vec<(String, String, i64, i64)> = with_pool!(db, |pool| {
        sqlx::query_as(
            "SELECT kind, state, COUNT(*), MIN(run_after) FROM tasks \
             WHERE state IN ('ready', 'running') GROUP BY kind, state",
        )
        .fetch_all(pool)
        .await?
    });
    let mut stats = QueueStats::default();
    let now_ms = to_epoch_ms(now);
    for (kind, state, count, earliest) in rows {
        let kind = TaskKind::parse(&kind).ok_or_else(|| {
            StoreError::from(sqlx::Error::Decode(
                format!("unknown task kind {kind:?}").into(),
            ))
        })?;
        if state == "running" {
            stats.running.push((kind, count));
            continue;
        }
        stats.queued.push((kind, count));
        // The earliest run_after of a kind's ready tasks is due if any is.
        if earliest <= now_ms {
            let due = from_epoch_ms(earliest);
            stats.oldest_due = Some(stats.oldest_due.map_or(due, |o: OffsetDateTime| o.min(due)));
        }
    }
    Ok(stats)
}

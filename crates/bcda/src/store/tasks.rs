//! The `tasks` table: the durable job queue.
//!
//! A task is claimed atomically by giving it a lease (an owner and an
//! expiry) and a new fence number; the worker renews the lease while it
//! works, and every write it makes is conditional on still holding that
//! fence. A task whose lease lapses (its worker died) is claimed again.
//! No transaction stays open while a task runs.

use time::OffsetDateTime;

use super::{Db, StoreError, Tx, impl_from_row, with_pool, with_tx};
use crate::clock::to_epoch_ms;

/// What a task does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    /// Split a job into export tasks.
    Plan,
    /// Write one batch of beneficiaries' resources of one type to a file.
    Export,
}

impl TaskKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Plan => "plan",
            TaskKind::Export => "export",
        }
    }
}

/// A task as a worker claimed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedTask {
    /// Task id.
    pub id: i64,
    /// Its job.
    pub job_id: i64,
    /// What it does.
    pub kind: TaskKind,
    /// Its JSON payload.
    pub payload: String,
    /// Claims so far, this one included.
    pub attempts: i64,
    /// The fence this claim holds.
    pub fence: i64,
}

impl_from_row!(ClaimedTask, |row| {
    let kind: String = row.try_get("kind")?;
    Ok(ClaimedTask {
        id: row.try_get("id")?,
        job_id: row.try_get("job_id")?,
        kind: match kind.as_str() {
            "plan" => TaskKind::Plan,
            "export" => TaskKind::Export,
            other => {
                return Err(sqlx::Error::Decode(
                    format!("unknown task kind {other:?}").into(),
                ));
            }
        },
        payload: row.try_get("payload")?,
        attempts: row.try_get("attempts")?,
        fence: row.try_get("fence")?,
    })
});

/// Adds a ready task (inside the caller's transaction).
pub async fn enqueue(
    tx: &mut Tx,
    job_id: i64,
    kind: TaskKind,
    payload: &str,
    now: OffsetDateTime,
) -> Result<i64, StoreError> {
    Ok(with_tx!(tx, |conn| {
        sqlx::query_scalar(
            "INSERT INTO tasks (job_id, kind, payload, state, run_after, attempts, fence, created_at, updated_at) \
             VALUES ($1, $2, $3, 'ready', $4, 0, 0, $4, $4) RETURNING id",
        )
        .bind(job_id)
        .bind(kind.as_str())
        .bind(payload)
        .bind(to_epoch_ms(now))
        .fetch_one(conn)
        .await?
    }))
}

/// Claims the next runnable task — ready and due, or running with a lapsed
/// lease — for `owner` until `lease_until`. Planning tasks go first, so a
/// new job starts promptly; otherwise oldest first.
pub async fn claim(
    db: &Db,
    owner: &str,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
) -> Result<Option<ClaimedTask>, StoreError> {
    let now = to_epoch_ms(now);
    let until = to_epoch_ms(lease_until);
    Ok(match db {
        // SKIP LOCKED lets concurrent workers each take a different task
        // instead of queueing on the same row.
        Db::Postgres(pool) => {
            sqlx::query_as(
                "UPDATE tasks SET state = 'running', lease_owner = $1, lease_expires_at = $2, \
                 fence = fence + 1, attempts = attempts + 1, updated_at = $3 \
                 WHERE id = (SELECT id FROM tasks \
                   WHERE (state = 'ready' AND run_after <= $3) OR (state = 'running' AND lease_expires_at < $3) \
                   ORDER BY CASE kind WHEN 'plan' THEN 0 ELSE 1 END, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
                 RETURNING id, job_id, kind, payload, attempts, fence",
            )
            .bind(owner)
            .bind(until)
            .bind(now)
            .fetch_optional(pool)
            .await?
        }
        // SQLite runs one writer at a time: the single UPDATE is atomic.
        Db::Sqlite(pool) => {
            sqlx::query_as(
                "UPDATE tasks SET state = 'running', lease_owner = $1, lease_expires_at = $2, \
                 fence = fence + 1, attempts = attempts + 1, updated_at = $3 \
                 WHERE id = (SELECT id FROM tasks \
                   WHERE (state = 'ready' AND run_after <= $3) OR (state = 'running' AND lease_expires_at < $3) \
                   ORDER BY CASE kind WHEN 'plan' THEN 0 ELSE 1 END, id LIMIT 1) \
                 RETURNING id, job_id, kind, payload, attempts, fence",
            )
            .bind(owner)
            .bind(until)
            .bind(now)
            .fetch_optional(pool)
            .await?
        }
    })
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

/// Gives a failed attempt back to the queue to run after `run_after`, or
/// marks the task failed for good when `give_up`. Returns whether the claim
/// was still held.
pub async fn release_failed(
    db: &Db,
    id: i64,
    fence: i64,
    error: &str,
    run_after: OffsetDateTime,
    give_up: bool,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let state = if give_up { "failed" } else { "ready" };
    let affected = with_pool!(db, |pool| {
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
        .execute(pool)
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

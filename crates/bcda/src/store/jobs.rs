//! The `jobs` table: bulk export jobs and their status.

use time::OffsetDateTime;
use uuid::Uuid;

use super::acos::parse_uuid;
use super::{Db, StoreError, Tx, impl_from_row, with_pool, with_tx};
use crate::clock::{from_epoch_ms, to_epoch_ms};
use crate::domain::{ApiVersion, EobFilter, JobStatus, RequestKind, ResourceType};

/// One row of the `jobs` table, decoded (columns in `migrations/*/0003_exports.sql`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    /// Identity column: the numeric job id clients see in status URLs.
    pub id: i64,
    /// Internal id (`acos.id`) of the ACO whose token started the job; only it may read the job.
    pub aco_id: Uuid,
    /// API version (and so FHIR version).
    pub api_version: ApiVersion,
    /// The kick-off URL (base URL, path and query) as received; echoed in the manifest and the
    /// Task.
    pub request_url: String,
    /// Patient, Group/all, Group/runout or system-level: decides how attribution is selected at
    /// planning.
    pub request_kind: RequestKind,
    /// The `_type` list, or every type of the version when `_type` was absent; stored
    /// comma-separated.
    pub resource_types: Vec<ResourceType>,
    /// Exclusive lower bound on `lastUpdated` from `_since`; `None` exports all history.
    pub since: Option<OffsetDateTime>,
    /// Inclusive upper bound on `lastUpdated` from `_until` (migration 0012): the last
    /// millisecond before the client's `_until`. `None`: up to the transaction time.
    pub until: Option<OffsetDateTime>,
    /// The MBIs a POST kick-off's `patient` entries chose (migration 0012); empty: every
    /// beneficiary of the attribution.
    pub patient_mbis: Vec<String>,
    /// Moved only by [`transition`], [`set_plan`] and [`task_finished`]; Failed and Cancelled are
    /// final.
    pub status: JobStatus,
    /// The upper bound on `lastUpdated`, fixed at planning.
    pub transaction_time: Option<OffsetDateTime>,
    /// Export tasks planned ([`set_plan`]); 0 until the job is planned.
    pub tasks_total: i64,
    /// Export tasks finished ([`task_finished`]); the job is Completed when it reaches
    /// `tasks_total`.
    pub tasks_done: i64,
    /// When the kick-off was accepted (app clock); the duplicate-job rule looks at it.
    pub created_at: OffsetDateTime,
    /// Set on every change of status or progress; expiry and archiving count from it.
    pub updated_at: OffsetDateTime,
    /// When the job reached Completed; the download window counts from it. `None` before that.
    pub completed_at: Option<OffsetDateTime>,
    /// API v3, ExplanationOfBenefit: which claims the job exports (migration 0009).
    pub eob_filter: Option<EobFilter>,
    /// Whether `eob_filter` holds the default System-Type tags (the export
    /// then lists BCDA's warnings-and-info file).
    pub eob_filter_defaulted: bool,
}

impl JobRecord {
    /// The last `lastUpdated` the export includes: the transaction time, or
    /// the `_until` bound when that is earlier (`None` before planning).
    /// What the manifest's `transactionTime` says, so a client that passes
    /// it as its next `_since` misses nothing and gets nothing twice.
    pub fn data_through(&self) -> Option<OffsetDateTime> {
        self.transaction_time
            .map(|t| self.until.map_or(t, |until| until.min(t)))
    }
}

fn decode_err(message: String) -> sqlx::Error {
    sqlx::Error::Decode(message.into())
}

/// Formats a type list for storage.
pub fn types_to_text(types: &[ResourceType]) -> String {
    types
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn types_from_text(text: &str) -> Result<Vec<ResourceType>, sqlx::Error> {
    text.split(',')
        .filter(|t| !t.is_empty())
        .map(|t| {
            ResourceType::parse(t).ok_or_else(|| decode_err(format!("unknown resource type {t:?}")))
        })
        .collect()
}

impl_from_row!(JobRecord, |row| {
    let version: i64 = row.try_get("api_version")?;
    let kind: String = row.try_get("request_kind")?;
    let status: String = row.try_get("status")?;
    let types: String = row.try_get("resource_types")?;
    Ok(JobRecord {
        id: row.try_get("id")?,
        aco_id: parse_uuid(row.try_get("aco_id")?)?,
        api_version: match version {
            1 => ApiVersion::V1,
            2 => ApiVersion::V2,
            3 => ApiVersion::V3,
            other => return Err(decode_err(format!("unknown api version {other}"))),
        },
        request_url: row.try_get("request_url")?,
        request_kind: RequestKind::parse(&kind)
            .ok_or_else(|| decode_err(format!("unknown request kind {kind:?}")))?,
        resource_types: types_from_text(&types)?,
        since: row.try_get::<Option<i64>, _>("since")?.map(from_epoch_ms),
        until: row.try_get::<Option<i64>, _>("until")?.map(from_epoch_ms),
        patient_mbis: row
            .try_get::<Option<String>, _>("patient_mbis")?
            .map(|json| serde_json::from_str(&json))
            .transpose()
            .map_err(|e| decode_err(format!("unreadable patient_mbis: {e}")))?
            .unwrap_or_default(),
        status: JobStatus::parse(&status)
            .ok_or_else(|| decode_err(format!("unknown job status {status:?}")))?,
        transaction_time: row
            .try_get::<Option<i64>, _>("transaction_time")?
            .map(from_epoch_ms),
        tasks_total: row.try_get("tasks_total")?,
        tasks_done: row.try_get("tasks_done")?,
        created_at: from_epoch_ms(row.try_get("created_at")?),
        updated_at: from_epoch_ms(row.try_get("updated_at")?),
        completed_at: row
            .try_get::<Option<i64>, _>("completed_at")?
            .map(from_epoch_ms),
        eob_filter: row
            .try_get::<Option<String>, _>("eob_filter")?
            .map(|json| serde_json::from_str(&json))
            .transpose()
            .map_err(|e| decode_err(format!("unreadable eob_filter: {e}")))?,
        eob_filter_defaulted: row.try_get("eob_filter_defaulted")?,
    })
});

/// `SELECT <every column> FROM jobs <tail>`.
macro_rules! select {
    ($tail:literal) => {
        concat!(
            "SELECT id, aco_id, api_version, request_url, request_kind, resource_types, since, until, \
             patient_mbis, status, transaction_time, tasks_total, tasks_done, created_at, updated_at, \
             completed_at, eob_filter, eob_filter_defaulted FROM jobs ",
            $tail
        )
    };
}

/// A `jobs` row for [`insert`]: a Pending job with no plan yet.
#[derive(Debug, Clone)]
pub struct NewJob<'a> {
    /// Internal id (`acos.id`) of the ACO whose token started the job.
    pub aco_id: Uuid,
    /// API version of the kick-off URL (and so the FHIR version exported).
    pub api_version: ApiVersion,
    /// The kick-off URL (base URL, path and query) as received.
    pub request_url: &'a str,
    /// Patient, Group/all, Group/runout or system-level.
    pub request_kind: RequestKind,
    /// The `_type` list, or every type of the version when `_type` was absent.
    pub resource_types: &'a [ResourceType],
    /// Exclusive lower bound on `lastUpdated` from `_since`, if given.
    pub since: Option<OffsetDateTime>,
    /// Inclusive upper bound on `lastUpdated` from `_until`, if given
    /// ([`JobRecord::until`]).
    pub until: Option<OffsetDateTime>,
    /// The MBIs `patient` chose; empty for every beneficiary.
    pub patient_mbis: &'a [String],
    /// Stored as both `created_at` and `updated_at`.
    pub now: OffsetDateTime,
    /// API v3, ExplanationOfBenefit: which claims to export.
    pub eob_filter: Option<EobFilter>,
    /// Whether `eob_filter` holds the default System-Type tags.
    pub eob_filter_defaulted: bool,
}

/// Inserts a Pending job (inside the caller's transaction, which also
/// enqueues its planning task) and returns its id.
pub async fn insert(tx: &mut Tx, job: &NewJob<'_>) -> Result<i64, StoreError> {
    Ok(with_tx!(tx, |conn| {
        sqlx::query_scalar(
            "INSERT INTO jobs (aco_id, api_version, request_url, request_kind, resource_types, since, status, \
             transaction_time, tasks_total, tasks_done, created_at, updated_at, completed_at, eob_filter, \
             eob_filter_defaulted, until, patient_mbis) \
             VALUES ($1, $2, $3, $4, $5, $6, 'Pending', NULL, 0, 0, $7, $7, NULL, $8, $9, $10, $11) \
             RETURNING id",
        )
        .bind(job.aco_id.to_string())
        .bind(crate::store::resources::version_code(job.api_version))
        .bind(job.request_url)
        .bind(job.request_kind.as_str())
        .bind(types_to_text(job.resource_types))
        .bind(job.since.map(to_epoch_ms))
        .bind(to_epoch_ms(job.now))
        .bind(
            job.eob_filter
                .map(|f| serde_json::to_string(&f).expect("an EobFilter always serializes")),
        )
        .bind(job.eob_filter_defaulted)
        .bind(job.until.map(to_epoch_ms))
        .bind((!job.patient_mbis.is_empty()).then(|| {
            serde_json::to_string(job.patient_mbis).expect("a list of strings always serializes")
        }))
        .fetch_one(conn)
        .await?
    }))
}

/// One job by id, whatever its ACO (callers check ownership).
pub async fn find(db: &Db, id: i64) -> Result<Option<JobRecord>, StoreError> {
    Ok(with_pool!(db, |pool| {
        sqlx::query_as(select!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(pool)
            .await?
    }))
}

/// An ACO's jobs (all ACOs' if `None`), newest first.
pub async fn list(db: &Db, aco_id: Option<Uuid>) -> Result<Vec<JobRecord>, StoreError> {
    let aco = aco_id.map(|a| a.to_string());
    Ok(with_pool!(db, |pool| {
        sqlx::query_as(select!("WHERE $1 IS NULL OR aco_id = $1 ORDER BY id DESC"))
            .bind(aco.as_deref())
            .fetch_all(pool)
            .await?
    }))
}

/// An ACO's Pending and In Progress jobs created after `since`: what the
/// duplicate-job rule looks at, read inside the kick-off's transaction so
/// the check and the insert it guards see the same jobs.
pub async fn active_since(
    tx: &mut Tx,
    aco_id: Uuid,
    since: OffsetDateTime,
) -> Result<Vec<JobRecord>, StoreError> {
    Ok(with_tx!(tx, |conn| {
        sqlx::query_as(select!(
            "WHERE aco_id = $1 AND status IN ('Pending', 'In Progress') AND created_at > $2 ORDER BY id"
        ))
        .bind(aco_id.to_string())
        .bind(to_epoch_ms(since))
        .fetch_all(conn)
        .await?
    }))
}

/// Moves a job from one of `from` to `to`; returns whether it moved (a job
/// in any other status is left alone: Failed and Cancelled are final).
pub async fn transition(
    db: &Db,
    id: i64,
    from: &[JobStatus],
    to: JobStatus,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let mut tx = db.begin().await?;
    let moved = transition_in(&mut tx, id, from, to, now).await?;
    tx.commit().await?;
    Ok(moved)
}

/// [`transition`] inside a transaction.
pub async fn transition_in(
    tx: &mut Tx,
    id: i64,
    from: &[JobStatus],
    to: JobStatus,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let current: Option<String> = with_tx!(tx, |conn| {
        sqlx::query_scalar("SELECT status FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
    });
    let Some(current) = current.as_deref().and_then(JobStatus::parse) else {
        return Ok(false);
    };
    if !from.contains(&current) {
        return Ok(false);
    }
    let completed_at = (to == JobStatus::Completed).then(|| to_epoch_ms(now));
    let affected = with_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE jobs SET status = $1, updated_at = $2, completed_at = COALESCE($3, completed_at) \
             WHERE id = $4 AND status = $5",
        )
        .bind(to.as_str())
        .bind(to_epoch_ms(now))
        .bind(completed_at)
        .bind(id)
        .bind(current.as_str())
        .execute(conn)
        .await?
        .rows_affected()
    });
    Ok(affected == 1)
}

/// Records the plan of a job: its transaction time and how many export
/// tasks it has. A job with nothing to export is Completed at once.
pub async fn set_plan(
    tx: &mut Tx,
    id: i64,
    transaction_time: OffsetDateTime,
    tasks_total: i64,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let (status, completed_at) = if tasks_total == 0 {
        (JobStatus::Completed.as_str(), Some(to_epoch_ms(now)))
    } else {
        (JobStatus::Pending.as_str(), None)
    };
    with_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE jobs SET transaction_time = $1, tasks_total = $2, tasks_done = 0, status = $3, \
             completed_at = $4, updated_at = $5 WHERE id = $6 AND status = 'Pending'",
        )
        .bind(to_epoch_ms(transaction_time))
        .bind(tasks_total)
        .bind(status)
        .bind(completed_at)
        .bind(to_epoch_ms(now))
        .bind(id)
        .execute(conn)
        .await?;
    });
    Ok(())
}

/// Counts one more finished export task: the job is In Progress, or
/// Completed when it was the last. Returns the job's status afterwards
/// (a Cancelled or Failed job is left as it is).
pub async fn task_finished(
    tx: &mut Tx,
    id: i64,
    now: OffsetDateTime,
) -> Result<Option<JobStatus>, StoreError> {
    let now = to_epoch_ms(now);
    with_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE jobs SET tasks_done = tasks_done + 1, updated_at = $1, \
             status = CASE WHEN tasks_done + 1 >= tasks_total THEN 'Completed' ELSE 'In Progress' END, \
             completed_at = CASE WHEN tasks_done + 1 >= tasks_total THEN $1 ELSE completed_at END \
             WHERE id = $2 AND status IN ('Pending', 'In Progress')",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    });
    let status: Option<String> = with_tx!(tx, |conn| {
        sqlx::query_scalar("SELECT status FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(conn)
            .await?
    });
    Ok(status.as_deref().and_then(JobStatus::parse))
}

/// Jobs in `status` last changed before `before`: for expiry and cleanup.
pub async fn in_status_before(
    db: &Db,
    status: JobStatus,
    before: OffsetDateTime,
) -> Result<Vec<JobRecord>, StoreError> {
    Ok(with_pool!(db, |pool| {
        sqlx::query_as(select!("WHERE status = $1 AND updated_at < $2 ORDER BY id"))
            .bind(status.as_str())
            .bind(to_epoch_ms(before))
            .fetch_all(pool)
            .await?
    }))
}

/// Completed jobs whose download window (from `completed_at`) ended at or before
/// `before`.
pub async fn completed_before(
    db: &Db,
    before: OffsetDateTime,
) -> Result<Vec<JobRecord>, StoreError> {
    Ok(with_pool!(db, |pool| {
        sqlx::query_as(select!(
            "WHERE status = 'Completed' AND completed_at <= $1 ORDER BY id"
        ))
        .bind(to_epoch_ms(before))
        .fetch_all(pool)
        .await?
    }))
}

/// How many jobs are in each status; statuses without jobs are left out.
/// One scan of the `jobs_by_status` index, for the `bcda_jobs` gauge.
pub async fn count_by_status(db: &Db) -> Result<Vec<(JobStatus, i64)>, StoreError> {
    let rows: Vec<(String, i64)> = with_pool!(db, |pool| {
        sqlx::query_as("SELECT status, COUNT(*) FROM jobs GROUP BY status")
            .fetch_all(pool)
            .await?
    });
    rows.into_iter()
        .map(|(status, count)| {
            JobStatus::parse(&status)
                .map(|s| (s, count))
                .ok_or_else(|| decode_err(format!("unknown job status {status:?}")).into())
        })
        .collect()
}

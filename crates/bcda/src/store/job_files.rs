//! The `job_files` table: every output file of every job.

use time::OffsetDateTime;

use super::{Db, StoreError, Tx, impl_from_row, with_pool, with_tx};
use crate::clock::{from_epoch_ms, to_epoch_ms};
use crate::domain::task::Cohort;

/// One row of the `job_files` table: a finished output file listed in its job's manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFileRecord {
    /// Identity column; nothing refers to it (files are found by job and name).
    pub id: i64,
    /// The job (`jobs.id`) whose manifest lists the file; deleting the job deletes the row.
    pub job_id: i64,
    /// The export task that wrote it (the worker always sets it; the column has no foreign key).
    pub task_id: Option<i64>,
    /// File name (server-generated), as in the manifest URL.
    pub name: String,
    /// Resource type, or `OperationOutcome` for an error file.
    pub resource_type: String,
    /// Listed under the manifest's `error` rather than `output`.
    pub is_error: bool,
    /// Resources (lines) in it.
    pub resource_count: i64,
    /// Size of the uncompressed NDJSON in bytes.
    pub ndjson_bytes: i64,
    /// Bytes as stored (gzip).
    pub stored_bytes: i64,
    /// SHA-256 of the uncompressed NDJSON, hex.
    pub sha256: String,
    /// Group/all with `_since`: which beneficiaries the file holds (a data
    /// file and its error file alike); `None` for every other file.
    pub cohort: Option<Cohort>,
    /// When the writing task committed the file (app clock).
    pub created_at: OffsetDateTime,
}

impl_from_row!(JobFileRecord, |row| {
    Ok(JobFileRecord {
        id: row.try_get("id")?,
        job_id: row.try_get("job_id")?,
        task_id: row.try_get("task_id")?,
        name: row.try_get("name")?,
        resource_type: row.try_get("resource_type")?,
        is_error: row.try_get("is_error")?,
        resource_count: row.try_get("resource_count")?,
        ndjson_bytes: row.try_get("ndjson_bytes")?,
        stored_bytes: row.try_get("stored_bytes")?,
        sha256: row.try_get("sha256")?,
        cohort: cohort(row.try_get("cohort")?)?,
        created_at: from_epoch_ms(row.try_get("created_at")?),
    })
});

/// The `cohort` column read back (NULL: no cohort).
fn cohort(stored: Option<String>) -> Result<Option<Cohort>, sqlx::Error> {
    stored
        .map(|name| {
            Cohort::parse(&name)
                .ok_or_else(|| sqlx::Error::Decode(format!("unknown cohort {name:?}").into()))
        })
        .transpose()
}

/// `SELECT <every column> FROM job_files <tail>`.
macro_rules! select {
    ($tail:literal) => {
        concat!(
            "SELECT id, job_id, task_id, name, resource_type, is_error, resource_count, ndjson_bytes, \
             stored_bytes, sha256, cohort, created_at FROM job_files ",
            $tail
        )
    };
}

/// A `job_files` row for [`insert`].
#[derive(Debug, Clone)]
pub struct NewJobFile<'a> {
    /// The job (`jobs.id`) whose manifest will list the file.
    pub job_id: i64,
    /// The export task that wrote it.
    pub task_id: Option<i64>,
    /// Server-generated file name (`<uuid>.ndjson`, `<uuid>-error.ndjson`), unique within the job.
    pub name: &'a str,
    /// Resource type or `OperationOutcome`.
    pub resource_type: &'a str,
    /// Listed under the manifest's `error` rather than `output`.
    pub is_error: bool,
    /// Resources (NDJSON lines) in the file.
    pub resource_count: i64,
    /// Size of the uncompressed NDJSON in bytes.
    pub ndjson_bytes: i64,
    /// Size of the file as stored (gzip) in bytes.
    pub stored_bytes: i64,
    /// SHA-256 of the uncompressed bytes, hex.
    pub sha256: &'a str,
    /// Group/all with `_since`: the cohort of the task that wrote it.
    pub cohort: Option<Cohort>,
    /// When the writing task commits (app clock).
    pub created_at: OffsetDateTime,
}

/// Records a finished file (inside the transaction that completes its task).
pub async fn insert(tx: &mut Tx, file: &NewJobFile<'_>) -> Result<i64, StoreError> {
    Ok(with_tx!(tx, |conn| {
        sqlx::query_scalar(
            "INSERT INTO job_files (job_id, task_id, name, resource_type, is_error, resource_count, \
             ndjson_bytes, stored_bytes, sha256, cohort, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(file.job_id)
        .bind(file.task_id)
        .bind(file.name)
        .bind(file.resource_type)
        .bind(file.is_error)
        .bind(file.resource_count)
        .bind(file.ndjson_bytes)
        .bind(file.stored_bytes)
        .bind(file.sha256)
        .bind(file.cohort.map(Cohort::as_str))
        .bind(to_epoch_ms(file.created_at))
        .fetch_one(conn)
        .await?
    }))
}

/// A job's files in the order they were finished.
pub async fn list(db: &Db, job_id: i64) -> Result<Vec<JobFileRecord>, StoreError> {
    Ok(with_pool!(db, |pool| {
        sqlx::query_as(select!("WHERE job_id = $1 ORDER BY id"))
            .bind(job_id)
            .fetch_all(pool)
            .await?
    }))
}

/// One file of a job, by name.
pub async fn find(db: &Db, job_id: i64, name: &str) -> Result<Option<JobFileRecord>, StoreError> {
    Ok(with_pool!(db, |pool| {
        sqlx::query_as(select!("WHERE job_id = $1 AND name = $2"))
            .bind(job_id)
            .bind(name)
            .fetch_optional(pool)
            .await?
    }))
}

//! The export engine: creating jobs, planning them into tasks, running
//! tasks on workers, and retiring old jobs.
//!
//! A kick-off writes a job and its planning task in one transaction
//! ([`kickoff`]). A worker ([`worker`]) claims the planning task, fixes the
//! job's transaction time, picks the beneficiaries ([`attribution_selection`],
//! opt-outs) and splits them into export tasks ([`plan`]); workers then claim
//! export tasks, each streaming one batch of beneficiaries' resources of one
//! type into a gzip NDJSON file ([`export_task`]). [`cleanup`] archives and
//! deletes files as jobs age.

pub mod attribution_selection;
pub mod buffers;
pub mod cancel;
pub mod cleanup;
pub mod env;
pub mod export_task;
pub mod kickoff;
pub mod ndjson;
pub mod pipeline;
pub mod plan;
pub mod task_end;
pub mod warnings;
pub mod worker;

use std::time::Duration;

use crate::domain::ResourceType;
use crate::telemetry::metrics::Store;

/// Tunables of the export engine.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// Beneficiaries per ExplanationOfBenefit file (BCDA: 50).
    pub batch_eob: usize,
    /// Beneficiaries per Patient file (BCDA: 5,000).
    pub batch_patient: usize,
    /// Beneficiaries per Coverage file (BCDA: 4,000).
    pub batch_coverage: usize,
    /// Beneficiaries per Claim and per ClaimResponse file (BCDA:
    /// `BCDA_FHIR_MAX_RECORDS_CLAIM`, 4,000).
    pub batch_claim: usize,
    /// How long a claimed task is a worker's without a heartbeat.
    pub task_lease: Duration,
    /// Attempts before a task, and its job, fail.
    pub max_attempts: i64,
    /// Backoff before the second attempt; doubles each time.
    pub retry_backoff: Duration,
    /// How long files stay downloadable after completion (BCDA: 24 h).
    pub download_window: Duration,
    /// How long archived files are kept before deletion (BCDA: 24 h).
    pub archive_window: Duration,
    /// How long a Pending or In Progress job blocks an overlapping one (24 h).
    pub duplicate_window: Duration,
    /// ACOs the duplicate-job rule never applies to (BCDA's test ACOs by
    /// default).
    pub duplicate_exempt: crate::export::duplicates::ExemptAcos,
    /// How often an idle worker looks for work.
    pub poll_interval: Duration,
    /// The `Retry-After` of a 202 status answer.
    pub status_retry_after: Duration,
    /// gzip level of output files (1-9). Level 1 won the measurement in
    /// docs/BENCHMARKS.md: ~60 % more end-to-end throughput than level 6 for
    /// files about twice as large (still ~11:1).
    pub gzip_level: u32,
    /// Group/runout: the last service date of the claims exported (BCDA:
    /// `RUNOUT_CLAIM_THRU_DATE`). `None`: the last day of the runout
    /// file's performance year.
    pub runout_claims_through: Option<time::Date>,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            batch_eob: 50,
            batch_patient: 5_000,
            batch_coverage: 4_000,
            batch_claim: 4_000,
            task_lease: Duration::from_secs(30),
            max_attempts: 5,
            retry_backoff: Duration::from_secs(2),
            download_window: Duration::from_secs(24 * 60 * 60),
            archive_window: Duration::from_secs(24 * 60 * 60),
            duplicate_window: Duration::from_secs(24 * 60 * 60),
            duplicate_exempt: crate::export::duplicates::ExemptAcos::default(),
            poll_interval: Duration::from_millis(500),
            status_retry_after: Duration::from_secs(5),
            gzip_level: 1,
            runout_claims_through: None,
        }
    }
}

impl JobSettings {
    /// Beneficiaries per file of `resource_type`.
    pub fn batch_size(&self, resource_type: ResourceType) -> usize {
        match resource_type {
            ResourceType::ExplanationOfBenefit => self.batch_eob,
            ResourceType::Patient => self.batch_patient,
            ResourceType::Coverage => self.batch_coverage,
            ResourceType::Claim | ResourceType::ClaimResponse => self.batch_claim,
        }
        .max(1)
    }
}

/// Why a task did not finish.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// Worth another attempt (a thread that failed, generator hiccups).
    #[error("{0}")]
    Retryable(String),
    /// The database failed: worth another attempt.
    #[error("{0}")]
    Database(String),
    /// Reading or writing the export file store failed: worth another
    /// attempt.
    #[error("file I/O failed: {0}")]
    Files(String),
    /// Will never work (bad payload, the ACO is gone): the job fails.
    #[error("{0}")]
    Permanent(String),
    /// The job must fail (e.g. every beneficiary of a batch failed).
    #[error("{0}")]
    JobFailed(String),
    /// The worker's lease on the task lapsed and another may hold it now:
    /// nothing was recorded; the other claim carries on.
    #[error("the claim on the task was lost")]
    LostClaim,
}

impl TaskError {
    /// Whether another attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            TaskError::Retryable(_) | TaskError::Database(_) | TaskError::Files(_)
        )
    }

    /// The store that failed, when one did (for `bcda_store_errors_total`).
    pub fn store(&self) -> Option<Store> {
        match self {
            TaskError::Database(_) => Some(Store::Database),
            TaskError::Files(_) => Some(Store::Files),
            _ => None,
        }
    }
}

impl From<crate::store::StoreError> for TaskError {
    fn from(e: crate::store::StoreError) -> Self {
        TaskError::Database(e.to_string())
    }
}

impl From<crate::claims::SourceError> for TaskError {
    fn from(e: crate::claims::SourceError) -> Self {
        match e {
            crate::claims::SourceError::Store(e) => e.into(),
            crate::claims::SourceError::DamagedPack(why) => TaskError::Permanent(why),
            other => TaskError::Retryable(other.to_string()),
        }
    }
}

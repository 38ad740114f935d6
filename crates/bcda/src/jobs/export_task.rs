//! An export task: one batch of beneficiaries, one resource type, one data
//! file (and an error file for those that could not be exported).

use tokio::sync::watch;

use super::TaskError;
use super::env::WorkerEnv;
use super::ndjson::{NdjsonWriter, WrittenFile};
use super::pipeline::{self, Interruption};
use super::task_end::{self, TaskEnd};
use crate::claims::{BeneficiaryKey, ClaimsSource, ResourceQuery};
use crate::domain::task::{ExportPayload, TaskPayload};
use crate::domain::{JobStatus, ResourceType};
use crate::store::acos;
use crate::store::job_files;
use crate::store::jobs;
use crate::store::tasks::ClaimedTask;
use crate::telemetry::metrics::ExportedFile;

/// How often a running task checks whether its job was cancelled.
const CANCEL_CHECK: std::time::Duration = std::time::Duration::from_secs(2);

/// Runs an export task. `lost` turns true when the worker's lease on the
/// task is lost; the task then stops without recording anything.
pub async fn run(
    env: &WorkerEnv,
    task: &ClaimedTask,
    lost: watch::Receiver<bool>,
) -> Result<(), TaskError> {
    let payload = ExportPayload::from_json(&task.payload)
        .map_err(|e| TaskError::Permanent(format!("bad task payload: {e}")))?;
    let resource_type = payload.resource_type;
    let Some(job) = jobs::find(&env.db, task.job_id).await? else {
        return finish(env, task, &payload, None, None).await;
    };
    if !job.status.is_active() {
        return finish(env, task, &payload, None, None).await;
    }
    let as_of = job
        .transaction_time
        .ok_or_else(|| TaskError::Permanent("the job has no transaction time".into()))?;
    let until = payload.until.unwrap_or(as_of);
    let aco = acos::find_by_id(&env.db, job.aco_id)
        .await?
        .ok_or_else(|| TaskError::Permanent("the job's ACO no longer exists".into()))?;
    let source = ClaimsSource::for_aco(&env.db, aco.id, &aco.cms_id).await?;
    let query = ResourceQuery {
        version: job.api_version,
        resource_type,
        since: payload.since,
        until,
        as_of,
        claims_through: payload.claims_through,
        eob_filter: payload.eob_filter,
    };

    // Each attempt writes under new names: what an earlier attempt that
    // died left is an upload that never completed (never visible), or a
    // whole file no manifest lists (removed when the job completes).
    let name = uuid::Uuid::new_v4().to_string();
    let data_name = format!("{name}.ndjson");
    let error_name = format!("{name}-error.ndjson");
    let level = env.jobs.gzip_level;
    let upload = env
        .files
        .create(job.id, &data_name)
        .await
        .map_err(|e| TaskError::Files(e.to_string()))?;
    let mut writer = NdjsonWriter::new(upload, level);

    let known: Vec<BeneficiaryKey> = payload
        .beneficiaries
        .iter()
        .filter_map(|(_, k)| k.map(BeneficiaryKey))
        .collect();
    let unknown: Vec<&str> = payload
        .beneficiaries
        .iter()
        .filter(|(_, k)| k.is_none())
        .map(|(mbi, _)| mbi.as_str())
        .collect();
    let mut stream = source.stream(known, query);
    // Stored beneficiaries' packs go into the file as they are.
    stream.accept_packs(level);
    // Buffers for the batch being compressed, the one ready, the one filling.
    for _ in 0..3 {
        stream.recycle(env.batch_buffers.take());
    }
    let runtime = tokio::runtime::Handle::current();
    let db = env.db.clone();
    let job_id = job.id;
    // The writer never leaves this blocking thread: finishing or aborting
    // its upload blocks.
    let (data, stream, interruption) = blocking_task(move || {
        let mut last_cancel_check = std::time::Instant::now();
        let should_stop = || {
            if *lost.borrow() {
                return Ok(Some(Interruption::LeaseLost));
            }
            if last_cancel_check.elapsed() >= CANCEL_CHECK {
                last_cancel_check = std::time::Instant::now();
                let current = runtime.block_on(jobs::find(&db, job_id))?;
                if current.is_none_or(|j| !j.status.is_active()) {
                    return Ok(Some(Interruption::JobInactive));
                }
            }
            Ok(None)
        };
        match pipeline::pump(&runtime, &mut stream, &mut writer, should_stop) {
            // A file without resources is not kept (nor listed).
            Ok(None) if writer.lines() > 0 => {
                let written = writer
                    .finish()
                    .map_err(|e| TaskError::Files(e.to_string()))?;
                Ok((Some(written), stream, None))
            }
            Ok(interruption) => {
                writer.discard();
                Ok((None, stream, interruption))
            }
            Err(e) => {
                // The upload is aborted: no partial file appears.
                writer.discard();
                Err(e)
            }
        }
    })
    .await?;
    env.batch_buffers.give_back(stream.into_buffers());
    if let Some(interruption) = interruption {
        return match interruption {
            Interruption::LeaseLost => Err(TaskError::LostClaim),
            Interruption::JobInactive => finish(env, task, &payload, None, None).await,
        };
    }

    // Files in place but not yet recorded: if anything below
    // fails (the error file, the final transaction, a lost claim), they are
    // removed, since no manifest will ever list them and a retry writes its own.
    let mut placed: Vec<String> = Vec::new();
    let result = write_and_record(
        env,
        task,
        &payload,
        &aco.cms_id,
        data,
        &unknown,
        (&data_name, &error_name),
        &mut placed,
    )
    .await;
    if result.is_err() {
        for name in placed {
            if let Err(e) = env.files.remove(job.id, &name).await {
                tracing::warn!(error = %e, "could not remove an unrecorded file");
            }
        }
    }
    result
}

/// Writes the error file and records it and the data file (`data`, already
/// in place when there is one) with the task's completion. Every file put
/// in place is named in `placed`.
#[allow(clippy::too_many_arguments)] // the parts of one task, passed through once
async fn write_and_record(
    env: &WorkerEnv,
    task: &ClaimedTask,
    payload: &ExportPayload,
    cms_id: &str,
    data: Option<WrittenFile>,
    unknown: &[&str],
    (data_name, error_name): (&str, &str),
    placed: &mut Vec<String>,
) -> Result<(), TaskError> {
    let job_id = task.job_id;
    let resource_type = payload.resource_type;
    let level = env.jobs.gzip_level;
    let data = data.map(|written| {
        placed.push(data_name.to_owned());
        (data_name.to_owned(), written)
    });
    let errors = if unknown.is_empty() {
        None
    } else {
        let lines: Vec<Vec<u8>> = unknown
            .iter()
            .map(|mbi| error_line(resource_type, mbi, cms_id))
            .collect();
        let upload = env
            .files
            .create(job_id, error_name)
            .await
            .map_err(|e| TaskError::Files(e.to_string()))?;
        let written = blocking(move || {
            let mut w = NdjsonWriter::new(upload, level);
            for line in &lines {
                if let Err(e) = w.write_line(line) {
                    w.discard();
                    return Err(e);
                }
            }
            w.finish()
        })
        .await?;
        placed.push(error_name.to_owned());
        Some((error_name.to_owned(), written))
    };
    // BCDA's rule: a batch in which every beneficiary failed fails the job.
    let all_failed =
        !payload.beneficiaries.is_empty() && unknown.len() == payload.beneficiaries.len();
    if all_failed {
        return Err(TaskError::JobFailed(format!(
            "none of the {} beneficiaries of a {} batch could be exported",
            unknown.len(),
            resource_type.as_str()
        )));
    }
    finish(env, task, payload, data, errors).await
}

/// One line of an error file (always the v1 shape, as BCDA writes them).
fn error_line(resource_type: ResourceType, mbi: &str, cms_id: &str) -> Vec<u8> {
    let outcome = serde_json::json!({
        "resourceType": "OperationOutcome",
        "issue": [{
            "severity": "error",
            "code": "not-found",
            "diagnostics": format!(
                "Error retrieving {} for beneficiary MBI {mbi} in ACO {cms_id}",
                resource_type.as_str()
            )
        }]
    });
    serde_json::to_vec(&outcome).unwrap_or_default()
}

/// Records the task's files (the payload's type and cohort) and completes
/// it, all in one transaction conditional on the task's fence.
async fn finish(
    env: &WorkerEnv,
    task: &ClaimedTask,
    payload: &ExportPayload,
    data: Option<(String, WrittenFile)>,
    errors: Option<(String, WrittenFile)>,
) -> Result<(), TaskError> {
    let data_type = payload.resource_type.as_str();
    let status = task_end::record(env, task, TaskEnd::Done, async |tx, now| {
        let files = data
            .iter()
            .map(|(name, w)| (data_type, name, w, false))
            .chain(
                errors
                    .iter()
                    .map(|(name, w)| ("OperationOutcome", name, w, true)),
            );
        for (resource_type, name, written, is_error) in files {
            // The error file of a cohort's batch is that cohort's too.
            let file = written.job_file(task, name, resource_type, is_error, payload.cohort, now);
            job_files::insert(tx, &file).await?;
        }
        Ok(jobs::task_finished(tx, task.job_id, now).await?)
    })
    .await?;
    // Counted once recorded: a file whose record rolled back is removed.
    let recorded = data
        .iter()
        .map(|(_, w)| (data_type, w))
        .chain(errors.iter().map(|(_, w)| ("OperationOutcome", w)));
    for (resource_type, written) in recorded {
        env.metrics.file_exported(ExportedFile {
            resource_type,
            resources: written.lines,
            ndjson_bytes: written.ndjson_bytes,
            stored_bytes: written.stored_bytes,
        });
    }
    if status == Some(JobStatus::Completed) {
        tracing::info!(job = task.job_id, "export job completed");
        // What attempts that died left (a file put in place whose final
        // transaction never ran) goes now, not at the next sweep.
        // The job is complete whatever happens here; the sweep retries.
        if let Err(e) = super::cleanup::remove_unrecorded(env, task.job_id).await {
            tracing::warn!(error = %e, "could not sweep a completed job's files");
        }
    }
    Ok(())
}

/// Work that may block, off the async workers, failing as the task does.
async fn blocking_task<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, TaskError> + Send + 'static,
) -> Result<T, TaskError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| TaskError::Retryable(format!("export task thread failed: {e}")))?
}

/// File I/O and compression run off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, TaskError> {
    blocking_task(move || work().map_err(|e| TaskError::Files(e.to_string()))).await
}

//! An export's `warnings-and-info.ndjson`: what BCDA tells a v3 client
//! about how its export was processed (today one warning: the default
//! System-Type tags were applied). Written by the planning task and listed
//! under the manifest's `error` array, as BCDA does.

use super::TaskError;
use super::env::WorkerEnv;
use super::ndjson::{NdjsonWriter, WrittenFile};
use crate::fhir::operation_outcome::OperationOutcome;
use crate::store::tasks::ClaimedTask;

/// The file's name, as BCDA names it.
pub const WARNINGS_FILE: &str = "warnings-and-info.ndjson";

/// Writes the file of `messages` (one OperationOutcome warning line each)
/// for the planning task's job, in place but not yet recorded: the task's
/// final transaction records it.
pub(super) async fn write(
    env: &WorkerEnv,
    task: &ClaimedTask,
    messages: &[&str],
) -> Result<WrittenFile, TaskError> {
    let lines: Vec<Vec<u8>> = messages
        .iter()
        .map(|m| serde_json::to_vec(&OperationOutcome::processing_warning(m)))
        .collect::<Result<_, _>>()
        .map_err(|e| TaskError::Permanent(format!("a warning did not serialize: {e}")))?;
    let upload = env
        .files
        .create(task.job_id, WARNINGS_FILE)
        .await
        .map_err(|e| TaskError::Files(e.to_string()))?;
    let level = env.jobs.gzip_level;
    tokio::task::spawn_blocking(move || {
        let mut writer = NdjsonWriter::new(upload, level);
        for line in &lines {
            if let Err(e) = writer.write_line(line) {
                writer.discard();
                return Err(e);
            }
        }
        writer.finish()
    })
    .await
    .map_err(|e| TaskError::Retryable(format!("warnings file thread failed: {e}")))?
    .map_err(|e| TaskError::Files(e.to_string()))
}

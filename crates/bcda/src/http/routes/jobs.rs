//! `GET /api/{v}/jobs/{id}` (status and manifest) and `DELETE` (cancel).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use time::OffsetDateTime;

use crate::app::{App, AppState};
use crate::clock::fhir_instant;
use crate::http::ApiError;
use crate::http::auth::Authenticated;
use crate::http::base_url::BaseUrl;
use crate::http::error::retry_after_value;
use crate::store::job_files::{self, JobFileRecord};
use crate::store::jobs::{self, JobRecord, JobStatus};

/// The extension URLs of the per-file facts in the manifest.
pub const EXT_BYTES: &str = "https://bcda-rs.github.io/fhir/StructureDefinition/file-length";
/// SHA-256 of the (uncompressed) file.
pub const EXT_SHA256: &str = "https://bcda-rs.github.io/fhir/StructureDefinition/checksum";

/// The completion manifest, field for field as BCDA sends it, plus the
/// Bulk Data IG's per-file `count` and extensions with length and checksum.
#[derive(Debug, Serialize)]
pub struct Manifest {
    #[serde(rename = "transactionTime")]
    transaction_time: String,
    request: String,
    #[serde(rename = "requiresAccessToken")]
    requires_access_token: bool,
    output: Vec<ManifestFile>,
    error: Vec<ManifestFile>,
    #[serde(rename = "JobID")]
    job_id: i64,
}

/// One file of the manifest.
#[derive(Debug, Serialize)]
pub struct ManifestFile {
    #[serde(rename = "type")]
    resource_type: String,
    url: String,
    count: i64,
    extension: [serde_json::Value; 2],
}

/// Loads a job the caller may see: 400 for a non-numeric id, 404 if
/// unknown, 401 if it belongs to another ACO (as BCDA answers).
pub async fn owned_job(app: &App, raw_id: &str, aco_id: uuid::Uuid) -> Result<JobRecord, ApiError> {
    let id: i64 = raw_id.parse().ok().filter(|id| *id > 0).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "Invalid job ID {raw_id:?}: job IDs are whole numbers"
        ))
    })?;
    let job = jobs::find(&app.db, id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::NotFound(format!("Job {id} not found")))?;
    if job.aco_id != aco_id {
        return Err(ApiError::Unauthorized("Unauthorized".to_owned()));
    }
    Ok(job)
}

/// `GET /api/{v}/jobs[?_status=...]`: a Bundle of Task, one per job of
/// the caller's ACO (an empty Bundle when none match).
pub async fn list(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    base: BaseUrl,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
) -> Result<Response, ApiError> {
    let pairs = crate::export::request::query_pairs(uri.query().unwrap_or(""));
    let wanted = match crate::export::request::first_value(&pairs, "_status") {
        Some(value) => Some(crate::fhir::task::parse_status_filter(value)?),
        None => None,
    };
    let jobs: Vec<JobRecord> = jobs::list(&state.db, Some(principal.aco_id))
        .await
        .map_err(ApiError::internal)?
        .into_iter()
        .filter(|j| wanted.as_ref().is_none_or(|w| w.contains(&j.status)))
        .collect();
    let version = crate::fhir::ApiVersion::from_path(uri.path());
    let bundle = crate::fhir::task::jobs_bundle(&base.0, version, &jobs);
    Ok(Json(bundle).into_response())
}

/// `GET /api/{v}/jobs/{id}`.
pub async fn status(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    base: BaseUrl,
    Path(raw_id): Path<String>,
) -> Result<Response, ApiError> {
    let job = owned_job(&state, &raw_id, principal.aco_id).await?;
    let now = state.clock.now();
    match job.status {
        JobStatus::Pending | JobStatus::InProgress => {
            Ok(accepted(&job, state.jobs.status_retry_after))
        }
        JobStatus::Completed => {
            let expires = job.completed_at.unwrap_or(job.updated_at) + state.jobs.download_window;
            if now >= expires {
                return Err(ApiError::Gone(format!(
                    "Job {} has expired; its files are no longer available.",
                    job.id
                )));
            }
            let files = job_files::list(&state.db, job.id)
                .await
                .map_err(ApiError::internal)?;
            let mut response = Json(manifest(&base.0, &job, &files)).into_response();
            response
                .headers_mut()
                .insert(header::EXPIRES, http_date(expires));
            Ok(response)
        }
        JobStatus::Archived | JobStatus::Expired => Err(ApiError::Gone(format!(
            "Job {} has expired; its files are no longer available.",
            job.id
        ))),
        JobStatus::Failed | JobStatus::FailedExpired => Err(ApiError::Failure(
            "Service encountered numerous errors. Job failed to complete.".to_owned(),
        )),
        JobStatus::Cancelled | JobStatus::CancelledExpired => {
            Err(ApiError::NotFound("Job has been cancelled.".to_owned()))
        }
    }
}

/// 202 with `X-Progress` and `Retry-After`.
fn accepted(job: &JobRecord, retry_after: std::time::Duration) -> Response {
    let progress = if job.status == JobStatus::Pending || job.tasks_total == 0 {
        "Pending".to_owned()
    } else {
        // Finished export tasks out of all export tasks, rounded down.
        let percent = (job.tasks_done * 100 / job.tasks_total).clamp(0, 100);
        format!("In Progress ({percent}%)")
    };
    let mut response = StatusCode::ACCEPTED.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&progress) {
        headers.insert("x-progress", value);
    }
    headers.insert(header::RETRY_AFTER, retry_after_value(retry_after));
    response
}

/// Builds the manifest from the job's file rows (never from a directory).
pub fn manifest(base: &str, job: &JobRecord, files: &[JobFileRecord]) -> Manifest {
    let entry = |f: &JobFileRecord| ManifestFile {
        resource_type: f.resource_type.clone(),
        url: format!("{base}/data/{}/{}", job.id, f.name),
        count: f.resource_count,
        extension: [
            serde_json::json!({ "url": EXT_SHA256, "valueString": format!("sha256:{}", f.sha256) }),
            serde_json::json!({ "url": EXT_BYTES, "valueDecimal": f.ndjson_bytes }),
        ],
    };
    Manifest {
        transaction_time: fhir_instant(job.transaction_time.unwrap_or(job.created_at)),
        request: job.request_url.clone(),
        requires_access_token: true,
        output: files.iter().filter(|f| !f.is_error).map(entry).collect(),
        error: files.iter().filter(|f| f.is_error).map(entry).collect(),
        job_id: job.id,
    }
}

/// An HTTP-date (RFC 9110), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn http_date(t: OffsetDateTime) -> HeaderValue {
    let t = t.to_offset(time::UtcOffset::UTC);
    let text = format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        &t.weekday().to_string()[..3],
        t.day(),
        &t.month().to_string()[..3],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    );
    HeaderValue::from_str(&text)
        .unwrap_or_else(|_| HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"))
}

/// `DELETE /api/{v}/jobs/{id}`: Pending, In Progress or Completed jobs are
/// cancelled (202), their tasks stopped and files deleted; others 410.
pub async fn cancel(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(raw_id): Path<String>,
) -> Result<Response, ApiError> {
    let job = owned_job(&state, &raw_id, principal.aco_id).await?;
    if !crate::jobs::cancel::cancel(&state, job.id)
        .await
        .map_err(ApiError::internal)?
    {
        return Err(ApiError::Gone(
            "job was not cancelled because it is not Pending, In Progress or Completed".to_owned(),
        ));
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

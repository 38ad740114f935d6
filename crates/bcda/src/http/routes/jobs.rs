//! `GET /api/{v}/jobs/{id}` (status and manifest) and `DELETE` (cancel).

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::app::{App, AppState};
use crate::auth::tokens::Principal;
use crate::auth::url_signing::{SignedFile, UrlKey};
use crate::domain::{ApiVersion, JobStatus};
use crate::export::query::{first_value, query_pairs};
use crate::export::scopes::check_job;
use crate::export::status_filter::parse_status_filter;
use crate::fhir::task::{JobTask, jobs_bundle};
use crate::fhir::time_format::fhir_instant;
use crate::http::ApiError;
use crate::http::auth::{Authenticated, VersionAuthorized};
use crate::http::base_url::BaseUrl;
use crate::http::error::retry_after_value;
use crate::http::openapi::params::{JobId, StatusFilter};
use crate::http::openapi::schemas::{JobsBundle, OperationOutcome};
use crate::store::job_files::{self, JobFileRecord};
use crate::store::jobs::{self, JobRecord};

/// The extension URLs of the per-file facts in the manifest.
pub const EXT_BYTES: &str = "https://bcda-rs.github.io/fhir/StructureDefinition/file-length";
/// SHA-256 of the (uncompressed) file.
pub const EXT_SHA256: &str = "https://bcda-rs.github.io/fhir/StructureDefinition/checksum";
/// Group/all with `_since`: which beneficiaries the file holds, as a
/// `valueCode`: `new` (attributed since `_since`: their full history) or
/// `existing` (changes since `_since`).
pub const EXT_COHORT: &str =
    "https://bcda-rs.github.io/fhir/StructureDefinition/attribution-cohort";

/// The completion manifest, field for field as BCDA sends it, plus the
/// Bulk Data IG's per-file `count` and extensions with length, checksum
/// and (Group/all with `_since`) attribution cohort.
#[derive(Debug, Serialize, ToSchema)]
pub struct Manifest {
    /// When the export's data was read (FHIR instant); with `_until`, the
    /// last instant before it when that is earlier.
    #[serde(rename = "transactionTime")]
    #[schema(example = "2026-03-02T12:00:00.000+00:00")]
    transaction_time: String,
    /// The kick-off URL as received.
    #[schema(example = "https://sandbox.example/api/v2/Patient/$export?_type=Coverage")]
    request: String,
    /// True (as BCDA): downloads need a bearer token. False when the
    /// server signs file URLs (`--signed-urls`): each `url` then works
    /// without one until it expires.
    #[serde(rename = "requiresAccessToken")]
    requires_access_token: bool,
    /// The data files; several per resource type are normal.
    output: Vec<ManifestFile>,
    /// The error files (OperationOutcome NDJSON), if any.
    error: Vec<ManifestFile>,
    /// The job id (BCDA's non-standard addition).
    #[serde(rename = "JobID")]
    #[schema(example = 42)]
    job_id: i64,
}

/// One file of the manifest.
#[derive(Debug, Serialize, ToSchema)]
pub struct ManifestFile {
    /// The resource type in the file.
    #[serde(rename = "type")]
    #[schema(example = "Coverage")]
    resource_type: String,
    /// Where to download it: `GET /data/{jobId}/{filename}`; with
    /// `--signed-urls`, followed by `?expires=...&kid=...&signature=...`.
    #[schema(
        example = "https://sandbox.example/data/42/0f8fad5b-d9cb-469f-a165-70867728950e.ndjson"
    )]
    url: String,
    /// How many resources (lines) it holds.
    count: i64,
    /// The file's SHA-256 (`.../checksum`, `valueString` `sha256:<hex>`)
    /// and byte length (`.../file-length`, `valueDecimal`), both of the
    /// NDJSON uncompressed. On `Group/all/$export` with `_since`, a third,
    /// `https://bcda-rs.github.io/fhir/StructureDefinition/attribution-cohort`,
    /// says whose resources the file (output or error) holds: `valueCode`
    /// `new`, beneficiaries attributed since `_since` (their full history),
    /// or `existing`, the others (what changed since `_since`).
    #[schema(value_type = Vec<Object>)]
    extension: Vec<serde_json::Value>,
}

/// Loads a job the caller may see: 400 for a non-numeric id, 404 if
/// unknown, 401 if it belongs to another ACO (as BCDA answers), 403 if the
/// token's scopes do not cover every type the job exports (the Bulk Data
/// IG: status and file requests need "an access token with scopes that
/// cover all resources being exported"; `export::scopes`). The one check
/// of status, manifest, cancel and downloads.
pub async fn owned_job(
    app: &App,
    raw_id: &str,
    principal: &Principal,
) -> Result<JobRecord, ApiError> {
    let id = parse_job_id(raw_id)?;
    let job = jobs::find(&app.db, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("Job {id} not found")))?;
    if job.aco_id != principal.aco_id {
        // As BCDA: 401 for another ACO's job, saying nothing about the job.
        return Err(ApiError::Unauthorized("Unauthorized".to_owned()));
    }
    check_job(&principal.scopes, &job.resource_types)?;
    Ok(job)
}

/// The `{jobId}` path segment (the last one): decoded, or as sent when it
/// is not UTF-8 once percent-decoded (axum's Path rejection). Either way
/// [`owned_job`] judges it, so `%FF` gets the same answer as any other id
/// that is not a number.
pub fn job_id_segment(path: Result<Path<String>, PathRejection>, uri: &Uri) -> String {
    match path {
        Ok(Path(id)) => id,
        Err(_) => uri.path().rsplit('/').next().unwrap_or_default().to_owned(),
    }
}

/// A job id: digits only (as BCDA's unsigned parse: no sign, no spaces),
/// positive, and within range.
fn parse_job_id(raw_id: &str) -> Result<i64, ApiError> {
    let digits = !raw_id.is_empty() && raw_id.bytes().all(|b| b.is_ascii_digit());
    digits
        .then(|| raw_id.parse::<i64>().ok())
        .flatten()
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "Invalid job ID {raw_id:?}: job IDs are positive whole numbers"
            ))
        })
}

/// List your export jobs
///
/// A FHIR Bundle with one Task per export job of your ACO, optionally only
/// those in the `_status` states (an empty Bundle when none match).
#[utoipa::path(
    get,
    path = "/jobs",
    operation_id = "listJobs",
    tag = "jobs",
    security(("BearerToken" = [])),
    params(StatusFilter),
    responses(
        (status = 200, description = "The jobs, as a Bundle of Task.", body = JobsBundle),
        (status = 400, description = "An unknown or repeated `_status` value, or no usable \
            `Host` header.", body = OperationOutcome, content_type = "application/fhir+json"),
        (status = 401, response = crate::http::openapi::responses::Unauthorized),
        (status = 403, response = crate::http::openapi::responses::Forbidden),
        (status = 500, response = crate::http::openapi::responses::InternalError),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    VersionAuthorized(principal): VersionAuthorized,
    base: BaseUrl,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(uri.query().unwrap_or(""));
    let wanted = match first_value(&pairs, "_status") {
        Some(value) => Some(parse_status_filter(value)?),
        None => None,
    };
    let jobs: Vec<JobRecord> = jobs::list(&state.db, Some(principal.aco_id))
        .await?
        .into_iter()
        .filter(|j| wanted.as_ref().is_none_or(|w| w.contains(&j.status)))
        .collect();
    let tasks: Vec<JobTask<'_>> = jobs
        .iter()
        .map(|job| JobTask {
            id: job.id,
            status: job.status,
            request_url: &job.request_url,
            created_at: job.created_at,
            updated_at: job.updated_at,
        })
        .collect();
    let version = ApiVersion::from_path(uri.path());
    let bundle = jobs_bundle(&base.0, version, &tasks);
    Ok(Json(bundle).into_response())
}

/// Check an export job's status
///
/// 202 while the job runs (`X-Progress` says how far it is); 200 with the
/// manifest, the list of files to download, once it has completed.
#[utoipa::path(
    get,
    path = "/jobs/{jobId}",
    operation_id = "getJobStatus",
    tag = "jobs",
    security(("BearerToken" = [])),
    params(JobId),
    responses(
        (status = 200, description = "The job has completed: the manifest lists its files.",
            body = Manifest,
            headers(("Expires" = String, description = "When the files stop being \
                downloadable (HTTP-date)."))),
        (status = 202, description = "The job is Pending or In Progress.",
            headers(
                ("X-Progress" = String, description = "`Pending` or `In Progress (NN%)`."),
                ("Retry-After" = String, description = "Seconds to wait before asking again."),
            )),
        (status = 400, description = "The job id is not a positive whole number (or there is \
            no usable `Host` header).", body = OperationOutcome, content_type = "application/fhir+json"),
        (status = 401, response = crate::http::openapi::responses::Unauthorized),
        (status = 403, response = crate::http::openapi::responses::Forbidden),
        (status = 404, description = "No such job, or it was cancelled (`Job has been \
            cancelled.`).", body = OperationOutcome, content_type = "application/fhir+json"),
        (status = 410, description = "The job's files have expired (24 hours after completion).",
            body = OperationOutcome, content_type = "application/fhir+json"),
        (status = 500, description = "The job failed (`Service encountered numerous errors. Job \
            failed to complete.`), or an internal error.",
            body = OperationOutcome, content_type = "application/fhir+json"),
    ),
)]
pub async fn status(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    base: BaseUrl,
    uri: Uri,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let raw_id = job_id_segment(path, &uri);
    let job = owned_job(&state, &raw_id, &principal).await?;
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
            let files = job_files::list(&state.db, job.id).await?;
            let key = match state.http.signed_urls {
                Some(ttl) => Some((state.url_keys.current().await?, ttl)),
                None => None,
            };
            let signing = key.as_ref().map(|(key, ttl)| UrlSigning {
                key,
                expires: (now + *ttl).unix_timestamp(),
            });
            let manifest = manifest(&base.0, &job, &files, signing.as_ref());
            let mut response = Json(manifest).into_response();
            response
                .headers_mut()
                .insert(header::EXPIRES, expires_value(expires));
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

/// How a manifest's file URLs are signed (`--signed-urls`).
#[derive(Debug)]
pub struct UrlSigning<'a> {
    /// The current URL-signing key.
    pub key: &'a UrlKey,
    /// When the URLs stop working, Unix seconds.
    pub expires: i64,
}

/// Builds the manifest from the job's file rows (never from a directory),
/// with signed file URLs when `signing` is given.
pub fn manifest(
    base: &str,
    job: &JobRecord,
    files: &[JobFileRecord],
    signing: Option<&UrlSigning<'_>>,
) -> Manifest {
    let url = |f: &JobFileRecord| {
        let plain = format!("{base}/data/{}/{}", job.id, f.name);
        match signing {
            None => plain,
            Some(signing) => {
                let file = SignedFile {
                    job_id: job.id,
                    name: &f.name,
                    aco_id: job.aco_id,
                };
                let signature = signing.key.sign(&file, signing.expires);
                format!("{plain}?{}", signature.query())
            }
        }
    };
    let entry = |f: &JobFileRecord| ManifestFile {
        resource_type: f.resource_type.clone(),
        url: url(f),
        count: f.resource_count,
        extension: [
            serde_json::json!({ "url": EXT_SHA256, "valueString": format!("sha256:{}", f.sha256) }),
            serde_json::json!({ "url": EXT_BYTES, "valueDecimal": f.ndjson_bytes }),
        ]
        .into_iter()
        .chain(
            f.cohort
                .map(|c| serde_json::json!({ "url": EXT_COHORT, "valueCode": c.as_str() })),
        )
        .collect(),
    };
    Manifest {
        // The transaction time, or `_until`'s bound when earlier.
        transaction_time: fhir_instant(job.data_through().unwrap_or(job.created_at)),
        request: job.request_url.clone(),
        requires_access_token: signing.is_none(),
        output: files.iter().filter(|f| !f.is_error).map(entry).collect(),
        error: files.iter().filter(|f| f.is_error).map(entry).collect(),
        job_id: job.id,
    }
}

/// Cancel an export job
///
/// Pending, In Progress or Completed jobs are cancelled (202): their work
/// stops and their files are deleted. Jobs in any other state answer 410.
#[utoipa::path(
    delete,
    path = "/jobs/{jobId}",
    operation_id = "cancelJob",
    tag = "jobs",
    security(("BearerToken" = [])),
    params(JobId),
    responses(
        (status = 202, description = "The job is cancelled."),
        (status = 400, description = "The job id is not a positive whole number.",
            body = OperationOutcome, content_type = "application/fhir+json"),
        (status = 401, response = crate::http::openapi::responses::Unauthorized),
        (status = 403, response = crate::http::openapi::responses::Forbidden),
        (status = 404, description = "No such job.",
            body = OperationOutcome, content_type = "application/fhir+json"),
        (status = 410, description = "The job is not Pending, In Progress or Completed.",
            body = OperationOutcome, content_type = "application/fhir+json"),
        (status = 500, response = crate::http::openapi::responses::InternalError),
    ),
)]
pub async fn cancel(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    uri: Uri,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let raw_id = job_id_segment(path, &uri);
    let job = owned_job(&state, &raw_id, &principal).await?;
    if !crate::jobs::cancel::cancel(&state, job.id).await? {
        return Err(ApiError::Gone(
            "job was not cancelled because it is not Pending, In Progress or Completed".to_owned(),
        ));
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

/// The `Expires` value: an HTTP-date (RFC 9110).
fn expires_value(t: OffsetDateTime) -> HeaderValue {
    HeaderValue::from_str(&crate::http::http_date::format(t))
        .unwrap_or_else(|_| HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"))
}

//! `GET|HEAD /data/{jobId}/{fileName}`: one output file of a finished
//! export job.
//!
//! Files are stored gzip-compressed. A client that accepts gzip gets the
//! stored bytes with `Content-Encoding: gzip`; any other gets the NDJSON,
//! inflated on the fly. Each form is its own representation with its own
//! strong `ETag`, `Content-Length` and byte ranges, so `If-None-Match`,
//! `Range` and `If-Range` are correct for both (`Vary: Accept-Encoding`).
//!
//! The file name in the path is only looked up among the job's recorded
//! files; where the bytes live comes from the store, never from the request.

mod body;
mod chunk_pool;
mod conditional;
mod encoding;
mod range;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_ENCODING, CONTENT_LENGTH,
    CONTENT_RANGE, CONTENT_TYPE, ETAG, LAST_MODIFIED, LOCATION, RANGE, VARY,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use time::{Duration, OffsetDateTime};

use self::body::Form;
use self::conditional::Validators;
use self::range::{ByteRange, RangeRequest};
use crate::app::AppState;
use crate::auth::tokens::Principal;
use crate::domain::JobStatus;
use crate::files::{FileStore, StoredBody};
use crate::http::ApiError;
use crate::http::auth::DownloadAuthorized;
use crate::http::http_date;
use crate::http::openapi::params::DataFile;
use crate::http::openapi::schemas::OperationOutcome;
use crate::store::job_files::{self, JobFileRecord};
use crate::store::jobs::JobRecord;

/// The media type of every file.
const NDJSON: HeaderValue = HeaderValue::from_static("application/fhir+ndjson");

/// The files are protected health information: no cache, private or shared,
/// may store them (OWASP ASVS 8.2.1), least of all a browser's disk cache on
/// a shared workstation. Validators still serve clients that keep their own
/// copies: `If-None-Match` with the manifest's sha256, `If-Range` to resume.
const CACHE_POLICY: HeaderValue = HeaderValue::from_static("private, no-store");

/// Download a file of a finished export
///
/// One NDJSON file of the job's manifest: one FHIR resource per line. Send
/// `Accept-Encoding: gzip` to receive it compressed. `HEAD`, `Range` and
/// conditional requests (`If-None-Match`, `If-Range`, ...) work too.
// HEAD is served by axum's GET routing (same status and headers, no body);
// it is not a separate documented operation, as operation ids are unique.
#[utoipa::path(
    get,
    path = "/data/{jobId}/{filename}",
    operation_id = "downloadFile",
    tag = "data",
    security(("BearerToken" = [])),
    params(DataFile),
    responses(
        (status = 200, description = "The file: NDJSON, one FHIR resource per line.",
            content(
                (String = "application/fhir+ndjson",
                    example = json!("{\"resourceType\":\"Coverage\",\"id\":\"part-a-1\"}\n")),
            ),
            headers(
                ("ETag" = String, description = "Strong tag: the SHA-256 of the NDJSON (with \
                    `-gzip` for the compressed form)."),
                ("Last-Modified" = String, description = "When the file was written."),
                ("Content-Encoding" = String, description = "`gzip` when the request accepted it."),
                ("Cache-Control" = String, description = "`private, no-store`"),
                ("Content-Disposition" = String, description = "`attachment; \
                    filename=\"<filename>\"`: save the file under its name."),
            )),
        (status = 206, description = "One byte range of the file (a `Range` request).",
            content((String = "application/fhir+ndjson"))),
        (status = 307, description = "Only on a server run with `--download-redirect` (files \
            in S3): a `GET` that accepts gzip is redirected to a presigned URL of the file's gzip \
            bytes, valid for five minutes. Follow it without the `Authorization` header (most \
            clients drop it on a redirect to another host); send `Range` there again to resume.",
            headers(("Location" = String, description = "The presigned URL."))),
        (status = 304, description = "The client's copy is current (`If-None-Match`, \
            `If-Modified-Since`)."),
        (status = 400, description = "The job id is not a positive whole number.",
            body = OperationOutcome, content_type = "application/fhir+json"),
        (status = 401, response = crate::http::openapi::responses::Unauthorized),
        (status = 403, response = crate::http::openapi::responses::Forbidden),
        (status = 404, description = "No such job or file, or the job has not completed, \
            failed or was cancelled.", body = OperationOutcome, content_type = "application/fhir+json"),
        (status = 410, description = "The files have expired (24 hours after completion).",
            body = OperationOutcome, content_type = "application/fhir+json"),
        (status = 416, description = "The requested range lies beyond the end of the file.",
            body = OperationOutcome, content_type = "application/fhir+json"),
        (status = 500, response = crate::http::openapi::responses::InternalError),
    ),
)]
pub async fn download(
    State(state): State<AppState>,
    DownloadAuthorized(principal): DownloadAuthorized,
    method: Method,
    headers: HeaderMap,
    uri: axum::http::Uri,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    // The only rejection: a segment that is not UTF-8 once percent-decoded.
    // A job id that does not decode is refused as any id that is not a
    // number; a file name that does not decode names no file.
    let (job_id, name) = match path {
        Ok(Path(segments)) => segments,
        Err(_) => {
            let raw_id = uri.path().split('/').nth(2).unwrap_or_default();
            downloadable_job(&state, raw_id, &principal).await?;
            return Err(file_not_found());
        }
    };
    let job = downloadable_job(&state, &job_id, &principal).await?;
    let record = recorded_file(&state, job.id, &name).await?;
    let representation = Representation::of(&record, encoding::prefers_gzip(&headers))?;
    tracing::info!(
        job_id = job.id,
        file = %record.name,
        form = ?representation.form,
        %method,
        "serving export file"
    );
    let now = state.clock.now();
    let redirect = state.http.download_redirect;
    respond(
        &state.files,
        &record,
        &representation,
        &method,
        &headers,
        now,
        redirect,
    )
    .await
}

/// How long a redirected download's presigned URL works: long enough to
/// follow the redirect, short enough that a leaked URL soon expires.
const REDIRECT_LIFETIME: std::time::Duration = std::time::Duration::from_secs(300);

/// The answer about one representation of a recorded file: 404 when its
/// bytes are missing, 304 when the client's copy is current, 416 for a
/// range past its end, else 200 or 206 (RFC 9110 §13.2.2: conditions first,
/// then the range). The store is read only for a body to send; with
/// `redirect`, a gzip body is fetched from the store by the client itself
/// (a 307 to a presigned URL, where the client sends its `Range` again).
async fn respond(
    files: &FileStore,
    record: &JobFileRecord,
    representation: &Representation,
    method: &Method,
    headers: &HeaderMap,
    now: OffsetDateTime,
    redirect: bool,
) -> Result<Response, ApiError> {
    let not_modified = conditional::not_modified(headers, representation.validators(), now);
    let range = requested_range(method, headers, representation);
    let span = match range {
        RangeRequest::Partial(range) => Some(range),
        // None for an empty file: nothing to read.
        _ => ByteRange::whole(representation.length),
    };
    // HEAD: axum drops the body; do not start reading the file at all.
    let body_span = span.filter(|_| {
        method != Method::HEAD && !not_modified && range != RangeRequest::Unsatisfiable
    });
    let Some(span) = body_span else {
        check_stored(files, record).await?;
        if not_modified {
            return not_modified_response(representation);
        }
        if range == RangeRequest::Unsatisfiable {
            return range_not_satisfiable(representation);
        }
        return content_response(representation, range, axum::body::Body::empty());
    };
    if redirect && representation.form == Form::Gzip {
        check_stored(files, record).await?;
        let url = files
            .presigned_download(record.job_id, &record.name, REDIRECT_LIFETIME)
            .await
            .map_err(|e| store_failed(record, &format!("presigning: {e}")))?;
        if let Some(url) = url {
            return redirect_response(&url);
        }
    }
    let stored = open_stored(files, record, representation.form, span).await?;
    content_response(
        representation,
        range,
        body::stream(
            stored,
            representation.form,
            span,
            span.last + 1 == representation.length,
        ),
    )
}

/// The form being served and what describes it.
#[derive(Debug)]
struct Representation {
    /// The file's recorded name (for `Content-Disposition`).
    name: String,
    form: Form,
    /// Bytes in this form.
    length: u64,
    /// The opaque part of its strong entity tag.
    etag: String,
    /// The file's creation, whole seconds.
    last_modified: OffsetDateTime,
}

impl Representation {
    /// The gzip or identity form of a recorded file. Identity's tag is the
    /// SHA-256 of the NDJSON (the manifest lists it, so a client can build
    /// the tag itself); gzip's adds `-gzip`, as its bytes differ.
    fn of(record: &JobFileRecord, gzip: bool) -> Result<Self, ApiError> {
        let (form, length, etag) = if gzip {
            (
                Form::Gzip,
                record.stored_bytes,
                format!("{}-gzip", record.sha256),
            )
        } else {
            (Form::Identity, record.ndjson_bytes, record.sha256.clone())
        };
        let length = u64::try_from(length)
            .map_err(|_| ApiError::internal(format!("file {} has length {length}", record.name)))?;
        Ok(Self {
            name: record.name.clone(),
            form,
            length,
            etag,
            last_modified: http_date::truncate_to_seconds(record.created_at),
        })
    }

    fn validators(&self) -> Validators<'_> {
        Validators {
            etag: &self.etag,
            last_modified: self.last_modified,
        }
    }

    /// The headers every answer about this representation carries: the
    /// caching policy and its validators (RFC 9110 §15.4.5 asks for them on
    /// a 304 too).
    fn validator_headers(&self) -> Result<HeaderMap, ApiError> {
        let mut headers = HeaderMap::new();
        headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
        headers.insert(CACHE_CONTROL, CACHE_POLICY);
        headers.insert(ETAG, header_value(format!("\"{}\"", self.etag))?);
        headers.insert(
            LAST_MODIFIED,
            header_value(http_date::format(self.last_modified))?,
        );
        Ok(headers)
    }
}

/// The job, if it exists, is the caller's (`jobs::owned_job`: the same
/// answers as the status route), and its files may be downloaded:
/// Completed and within the download window (`JobSettings::download_window`)
/// of completion.
async fn downloadable_job(
    state: &AppState,
    raw_id: &str,
    principal: &Principal,
) -> Result<JobRecord, ApiError> {
    let job = super::jobs::owned_job(state, raw_id, principal).await?;
    let window = Duration::try_from(state.jobs.download_window).unwrap_or(Duration::DAY);
    match job.status {
        JobStatus::Completed if !window_closed(&job, state.clock.now(), window) => Ok(job),
        JobStatus::Completed | JobStatus::Archived | JobStatus::Expired => {
            Err(ApiError::Gone(format!(
                "The job's files have expired: they can be downloaded for {} hours after the job completes.",
                window.whole_hours()
            )))
        }
        JobStatus::Pending | JobStatus::InProgress => Err(ApiError::NotFound(
            "Job is not complete: its files are not ready.".to_owned(),
        )),
        JobStatus::Failed | JobStatus::FailedExpired => {
            Err(ApiError::NotFound("Job failed to complete.".to_owned()))
        }
        JobStatus::Cancelled | JobStatus::CancelledExpired => {
            Err(ApiError::NotFound("Job has been cancelled.".to_owned()))
        }
    }
}

/// Whether a Completed job's download window has closed. A completion time
/// is always recorded with the status; the last update stands in otherwise.
fn window_closed(job: &JobRecord, now: OffsetDateTime, window: Duration) -> bool {
    let completed = job.completed_at.unwrap_or(job.updated_at);
    now - completed >= window
}

/// The job's recorded file of that name. The name is only ever compared
/// with recorded names; one no recorded name can be (control characters,
/// which PostgreSQL would refuse as text) is not looked up at all.
async fn recorded_file(
    state: &AppState,
    job_id: i64,
    name: &str,
) -> Result<JobFileRecord, ApiError> {
    if name.is_empty() || name.chars().any(char::is_control) {
        return Err(file_not_found());
    }
    job_files::find(&state.db, job_id, name)
        .await?
        .ok_or_else(file_not_found)
}

/// A recorded file whose bytes are missing: a 404 for the client and an
/// error for the operator (it should not happen).
fn missing(files: &FileStore, record: &JobFileRecord) -> ApiError {
    tracing::error!(
        job_id = record.job_id,
        file = %record.name,
        store = files.description(),
        "export file is recorded but missing from the file store"
    );
    file_not_found()
}

/// Checks a recorded file's stored size is as recorded (the Content-Length
/// we promise comes from the record).
fn check_size(record: &JobFileRecord, stored: u64) -> Result<(), ApiError> {
    if i64::try_from(stored).ok() != Some(record.stored_bytes) {
        return Err(ApiError::Files(format!(
            "job {} file {} has {stored} bytes stored, {} recorded",
            record.job_id, record.name, record.stored_bytes
        )));
    }
    Ok(())
}

/// The store failed to answer about a recorded file: a 500 for the client,
/// the details for the log.
fn store_failed(record: &JobFileRecord, error: &dyn std::fmt::Display) -> ApiError {
    ApiError::Files(format!(
        "job {} file {}: {error}",
        record.job_id, record.name
    ))
}

/// Checks a recorded file's bytes are in the store, as recorded, without
/// reading them.
async fn check_stored(files: &FileStore, record: &JobFileRecord) -> Result<(), ApiError> {
    match files.size(record.job_id, &record.name).await {
        Ok(Some(size)) => check_size(record, size),
        Ok(None) => Err(missing(files, record)),
        Err(e) => Err(store_failed(record, &e)),
    }
}

/// Opens a recorded file's stored bytes for serving `span` of `form`, and
/// checks they are as recorded. The gzip form is fetched from the span's
/// first byte (a ranged read of the store); the NDJSON from the start, as
/// it is inflated.
async fn open_stored(
    files: &FileStore,
    record: &JobFileRecord,
    form: Form,
    span: ByteRange,
) -> Result<StoredBody, ApiError> {
    let range = match form {
        Form::Gzip => Some(span.first..span.last + 1),
        Form::Identity => None,
    };
    match files.open(record.job_id, &record.name, range).await {
        Ok(Some(stored)) => {
            check_size(record, stored.size)?;
            Ok(stored.body)
        }
        Ok(None) => Err(missing(files, record)),
        Err(e) => Err(store_failed(record, &e)),
    }
}

/// The range to serve. Range applies to GET only (RFC 9110 §14.2: HEAD
/// answers as for the whole file), and only while `If-Range` still matches.
fn requested_range(
    method: &Method,
    headers: &HeaderMap,
    representation: &Representation,
) -> RangeRequest {
    let Some(value) = headers.get(RANGE).and_then(|v| v.to_str().ok()) else {
        return RangeRequest::Whole;
    };
    if method != Method::GET || !conditional::range_allowed(headers, representation.validators()) {
        return RangeRequest::Whole;
    }
    range::resolve(value, representation.length)
}

/// 307 to the file's presigned URL in the store. Not cacheable (the URL
/// expires); the validators stay the API's, so none are sent here.
fn redirect_response(url: &str) -> Result<Response, ApiError> {
    let mut headers = HeaderMap::new();
    headers.insert(LOCATION, header_value(url.to_owned())?);
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
    Ok((StatusCode::TEMPORARY_REDIRECT, headers).into_response())
}

/// 304: the client's copy is current. No body, and no content headers.
fn not_modified_response(representation: &Representation) -> Result<Response, ApiError> {
    Ok((
        StatusCode::NOT_MODIFIED,
        representation.validator_headers()?,
    )
        .into_response())
}

/// 200 with the whole representation, or 206 with one range of it.
fn content_response(
    representation: &Representation,
    range: RangeRequest,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let mut headers = representation.validator_headers()?;
    headers.insert(CONTENT_TYPE, NDJSON);
    headers.insert(
        CONTENT_DISPOSITION,
        content_disposition(&representation.name),
    );
    headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if representation.form == Form::Gzip {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    let (status, length) = match range {
        RangeRequest::Partial(range) => {
            let content_range = format!(
                "bytes {}-{}/{}",
                range.first, range.last, representation.length
            );
            headers.insert(CONTENT_RANGE, header_value(content_range)?);
            (StatusCode::PARTIAL_CONTENT, range.len())
        }
        _ => (StatusCode::OK, representation.length),
    };
    // Set explicitly: a streamed body has no size of its own, and HEAD must
    // still announce the length GET would send.
    headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
    Ok((status, headers, body).into_response())
}

/// 416 with `Content-Range: bytes */<length>`. The body is left to the
/// one error renderer: it writes the OperationOutcome of the `ApiError` and
/// keeps the status and headers set here (the issue code is `structure`, a
/// request the server cannot satisfy as written).
fn range_not_satisfiable(representation: &Representation) -> Result<Response, ApiError> {
    let mut response =
        ApiError::BadRequest("The requested range is not satisfiable.".to_owned()).into_response();
    *response.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
    response.headers_mut().insert(
        CONTENT_RANGE,
        header_value(format!("bytes */{}", representation.length))?,
    );
    Ok(response)
}

/// `attachment; filename="<name>"`: a file to save, under its own name.
/// Swagger UI's "Try it out" offers such an answer as a "Download file"
/// link with the bytes as received; without it, it shows a media type
/// containing `json` as (unparseable) JSON and its Download button saves
/// that text, error message included. Recorded names are plain (a UUID
/// and `.ndjson`); any other is left out rather than quoted.
fn content_disposition(name: &str) -> HeaderValue {
    let plain = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if plain && let Ok(value) = HeaderValue::try_from(format!("attachment; filename=\"{name}\"")) {
        return value;
    }
    HeaderValue::from_static("attachment")
}

fn header_value(text: String) -> Result<HeaderValue, ApiError> {
    HeaderValue::try_from(text).map_err(ApiError::internal)
}

/// A file name not recorded for the job.
fn file_not_found() -> ApiError {
    ApiError::NotFound("File not found".to_owned())
}

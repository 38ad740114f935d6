//! The kick-off: `GET|POST /api/{v}/Patient/$export` and
//! `GET|POST /api/{v}/Group/{groupId}/$export`.
//!
//! GET and POST have separate handlers only so that each is its own
//! documented operation (an operation id is unique, and only POST has a
//! body); both run the same kick-off.

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::export::request::parse_kickoff;
use crate::fhir::ApiVersion;
use crate::http::ApiError;
use crate::http::auth::Authenticated;
use crate::http::base_url::BaseUrl;
use crate::http::error::retry_after_value;
use crate::http::openapi::params::{GroupId, KickoffHeaders, KickoffQuery};
use crate::http::openapi::responses::KickoffResponses;
use crate::http::openapi::schemas::ExportParameters;
use crate::jobs::kickoff::{self, JobRequest, KickoffError};

/// Start an export of all your beneficiaries' data
///
/// Exports Patient, Coverage and ExplanationOfBenefit resources (or the
/// `_type`s you ask for) for every beneficiary attributed to your ACO,
/// filtered by `_since`. Answers 202 at once; follow the job at the URL in
/// `Content-Location`.
#[utoipa::path(
    get,
    path = "/Patient/$export",
    operation_id = "patientExport",
    tag = "bulkData",
    security(("BearerToken" = [])),
    params(KickoffQuery, KickoffHeaders),
    responses(KickoffResponses),
)]
pub async fn patient(
    state: State<AppState>,
    auth: Authenticated,
    base: BaseUrl,
    uri: OriginalUri,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    kick_off(state, auth, base, uri, method, headers, body, None).await
}

/// Start an export of all your beneficiaries' data (parameters in a body)
///
/// As the GET, with the parameters in a FHIR Parameters body instead of the
/// query string (Bulk Data IG 2.0).
#[utoipa::path(
    post,
    path = "/Patient/$export",
    operation_id = "patientExportPost",
    tag = "bulkData",
    security(("BearerToken" = [])),
    params(KickoffHeaders),
    request_body(content = ExportParameters, content_type = "application/fhir+json"),
    responses(KickoffResponses),
)]
pub async fn patient_post(
    state: State<AppState>,
    auth: Authenticated,
    base: BaseUrl,
    uri: OriginalUri,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    patient(state, auth, base, uri, method, headers, body).await
}

/// Start an export for a group of beneficiaries
///
/// `all`: every beneficiary attributed to your ACO; with `_since`,
/// beneficiaries newly attributed since then get their full history (7
/// years) and the others only what changed. `runout`: last performance
/// year's runout attribution. Answers 202 at once; follow the job at the
/// URL in `Content-Location`.
#[utoipa::path(
    get,
    path = "/Group/{groupId}/$export",
    operation_id = "groupExport",
    tag = "bulkData",
    security(("BearerToken" = [])),
    params(KickoffQuery, GroupId, KickoffHeaders),
    responses(KickoffResponses),
)]
#[allow(clippy::too_many_arguments)] // one per extractor
pub async fn group(
    state: State<AppState>,
    auth: Authenticated,
    base: BaseUrl,
    uri: OriginalUri,
    method: Method,
    headers: HeaderMap,
    Path(group_id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    kick_off(
        state,
        auth,
        base,
        uri,
        method,
        headers,
        body,
        Some(group_id),
    )
    .await
}

/// Start an export for a group of beneficiaries (parameters in a body)
///
/// As the GET, with the parameters in a FHIR Parameters body instead of the
/// query string (Bulk Data IG 2.0).
#[utoipa::path(
    post,
    path = "/Group/{groupId}/$export",
    operation_id = "groupExportPost",
    tag = "bulkData",
    security(("BearerToken" = [])),
    params(GroupId, KickoffHeaders),
    request_body(content = ExportParameters, content_type = "application/fhir+json"),
    responses(KickoffResponses),
)]
#[allow(clippy::too_many_arguments)] // one per extractor
pub async fn group_post(
    state: State<AppState>,
    auth: Authenticated,
    base: BaseUrl,
    uri: OriginalUri,
    method: Method,
    headers: HeaderMap,
    group_id: Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    group(state, auth, base, uri, method, headers, group_id, body).await
}

#[allow(clippy::too_many_arguments)]
async fn kick_off(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    base: BaseUrl,
    OriginalUri(uri): OriginalUri,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
    group: Option<String>,
) -> Result<Response, ApiError> {
    let version = ApiVersion::from_path(uri.path());
    let now = state.clock.now();
    let body = (method == Method::POST).then_some(&body[..]);
    let request = parse_kickoff(
        version,
        group.as_deref(),
        &method,
        uri.query(),
        &headers,
        body,
        now,
    )?;

    let request_url = format!(
        "{}{}",
        base.0,
        uri.path_and_query().map_or(uri.path(), |pq| pq.as_str())
    );
    let job_id = kickoff::start(
        &state,
        &principal,
        &JobRequest {
            version,
            kind: request.kind,
            resource_types: request.resource_types,
            since: request.since,
            request_url,
        },
    )
    .await
    .map_err(|e| match e {
        KickoffError::Attribution(reason) => ApiError::NotFound(reason.to_string()),
        KickoffError::Duplicate(duplicate) => {
            let types: Vec<_> = duplicate.overlapping.iter().map(|t| t.as_str()).collect();
            ApiError::TooManyRequests {
                message: format!(
                    "Job {} is already exporting {} for this ACO; wait for it to finish or cancel it.",
                    duplicate.job_id,
                    types.join(", ")
                ),
                retry_after: duplicate.retry_after,
            }
        }
        KickoffError::Store(e) => ApiError::from(e),
        KickoffError::Source(e) => ApiError::from(e),
    })?;
    let mut response = StatusCode::ACCEPTED.into_response();
    let location = format!("{}/api/{}/jobs/{job_id}", base.0, version.segment());
    response.headers_mut().insert(
        header::CONTENT_LOCATION,
        HeaderValue::from_str(&location).map_err(ApiError::internal)?,
    );
    response.headers_mut().insert(
        header::RETRY_AFTER,
        retry_after_value(state.jobs.status_retry_after),
    );
    Ok(response)
}

//! The kick-off: `GET|POST /api/{v}/Patient/$export`,
//! `GET|POST /api/{v}/Group/{groupId}/$export` and the system-level
//! `GET|POST /api/{v}/$export`.
//!
//! [`Kickoff`] reads and validates the request (`export::request`) into one
//! typed [`ExportRequest`]; [`kickoff::start`] checks scopes, attribution
//! and the one-job rule and records the job. The six handlers exist only so
//! that each route is its own documented operation (an operation id is
//! unique, and only POST has a body); all six run `kick_off`.

use axum::body::Bytes;
use axum::extract::{
    FromRequest, FromRequestParts, MatchedPath, OriginalUri, RawPathParams, Request, State,
};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::domain::ApiVersion;
use crate::export::request::{ExportRequest, KickoffRoute, parse_kickoff};
use crate::http::ApiError;
use crate::http::auth::VersionAuthorized;
use crate::http::base_url::BaseUrl;
use crate::http::error::retry_after_value;
use crate::http::openapi::params::{GroupId, KickoffHeaders, KickoffQuery};
use crate::http::openapi::responses::KickoffResponses;
use crate::http::openapi::schemas::ExportParameters;
use crate::jobs::kickoff;

/// A validated kick-off request, with what the answer needs.
#[derive(Debug)]
pub struct Kickoff {
    /// What the client asked for.
    pub request: ExportRequest,
    /// The kick-off URL as received (absolute), which the job records.
    pub request_url: String,
    /// The base URL for the job's `Content-Location`.
    pub base: BaseUrl,
}

impl FromRequest<AppState> for Kickoff {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let base = BaseUrl::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        // `Group/{groupId}/$export` has the id; `Patient/$export` has none.
        let group = RawPathParams::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?
            .iter()
            .find(|(name, _)| *name == "groupId")
            .map(|(_, value)| value.to_owned());
        // `Patient/$export` and the system-level `$export` have no path
        // parameter; the route they matched tells them apart.
        let patient_route = parts
            .extensions
            .get::<MatchedPath>()
            .is_some_and(|matched| matched.as_str().ends_with("/Patient/$export"));
        let uri = parts
            .extensions
            .get::<OriginalUri>()
            .map_or_else(|| parts.uri.clone(), |original| original.0.clone());
        let method = parts.method.clone();
        let headers = parts.headers.clone();
        // Read (within the body limit) whatever the method: a GET's body is
        // ignored, but an oversized one is still a 413, as before.
        let body = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let route = match group.as_deref() {
            Some(group) => KickoffRoute::Group(group),
            None if patient_route => KickoffRoute::Patient,
            None => KickoffRoute::System,
        };
        let request = parse_kickoff(
            ApiVersion::from_path(uri.path()),
            route,
            &method,
            uri.query(),
            &headers,
            (method == Method::POST).then_some(&body[..]),
            state.clock.now(),
        )
        .map_err(|rejection| ApiError::from(rejection).into_response())?;
        let request_url = format!(
            "{}{}",
            base.0,
            uri.path_and_query().map_or(uri.path(), |pq| pq.as_str())
        );
        Ok(Kickoff {
            request,
            request_url,
            base,
        })
    }
}

/// Start an export of all your beneficiaries' data
///
/// Exports the resource types your ACO is entitled to (Patient, Coverage and
/// ExplanationOfBenefit; on v2 also Claim and ClaimResponse for partially
/// adjudicated data), or the `_type`s you ask for, for every beneficiary
/// attributed to your ACO, filtered by `_since`. Answers 202 at once; follow the job at the URL in
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
    auth: VersionAuthorized,
    kickoff: Kickoff,
) -> Result<Response, ApiError> {
    kick_off(state, auth, kickoff).await
}

/// Start an export of all your beneficiaries' data (parameters in a body)
///
/// As the GET, with the parameters in a FHIR Parameters body instead of the
/// query string (Bulk Data IG 2.0). `patient` entries
/// (`valueReference` `Patient/<id>`) export only those beneficiaries; each
/// must be attributed to your ACO.
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
    auth: VersionAuthorized,
    kickoff: Kickoff,
) -> Result<Response, ApiError> {
    kick_off(state, auth, kickoff).await
}

/// Start an export of your ACO's whole attribution (system level)
///
/// The Bulk Data IG's system-level export: every beneficiary currently
/// attributed to your ACO, as `Group/all` exports them, except that
/// `_since` applies to everyone alike (no full history for newly attributed
/// beneficiaries), as on `Patient/$export`. Answers 202 at once; follow the
/// job at the URL in `Content-Location`.
#[utoipa::path(
    get,
    path = "/$export",
    operation_id = "systemExport",
    tag = "bulkData",
    security(("BearerToken" = [])),
    params(KickoffQuery, KickoffHeaders),
    responses(KickoffResponses),
)]
pub async fn system(
    state: State<AppState>,
    auth: VersionAuthorized,
    kickoff: Kickoff,
) -> Result<Response, ApiError> {
    kick_off(state, auth, kickoff).await
}

/// Start an export of your ACO's whole attribution (parameters in a body)
///
/// As the GET, with the parameters in a FHIR Parameters body instead of the
/// query string (Bulk Data IG 2.0). `patient` is not applicable here (400):
/// use `Patient/$export` or `Group/all/$export` for chosen beneficiaries.
#[utoipa::path(
    post,
    path = "/$export",
    operation_id = "systemExportPost",
    tag = "bulkData",
    security(("BearerToken" = [])),
    params(KickoffHeaders),
    request_body(content = ExportParameters, content_type = "application/fhir+json"),
    responses(KickoffResponses),
)]
pub async fn system_post(
    state: State<AppState>,
    auth: VersionAuthorized,
    kickoff: Kickoff,
) -> Result<Response, ApiError> {
    kick_off(state, auth, kickoff).await
}

/// Start an export for a group of beneficiaries
///
/// `all`: every beneficiary attributed to your ACO; with `_since`,
/// beneficiaries newly attributed since then get their full history (7
/// years) and the others only what changed, in separate files the
/// manifest tells apart (the `attribution-cohort` extension: `new` or
/// `existing`). `runout`: last performance year's runout attribution.
/// Answers 202 at once; follow the job at the URL in `Content-Location`.
#[utoipa::path(
    get,
    path = "/Group/{groupId}/$export",
    operation_id = "groupExport",
    tag = "bulkData",
    security(("BearerToken" = [])),
    params(KickoffQuery, GroupId, KickoffHeaders),
    responses(KickoffResponses),
)]
pub async fn group(
    state: State<AppState>,
    auth: VersionAuthorized,
    kickoff: Kickoff,
) -> Result<Response, ApiError> {
    kick_off(state, auth, kickoff).await
}

/// Start an export for a group of beneficiaries (parameters in a body)
///
/// As the GET, with the parameters in a FHIR Parameters body instead of the
/// query string (Bulk Data IG 2.0). `patient` entries
/// (`valueReference` `Patient/<id>`) export only those members of the
/// group; each must be in its attribution.
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
pub async fn group_post(
    state: State<AppState>,
    auth: VersionAuthorized,
    kickoff: Kickoff,
) -> Result<Response, ApiError> {
    kick_off(state, auth, kickoff).await
}

/// Starts the job and answers 202 with where to follow it.
async fn kick_off(
    State(state): State<AppState>,
    VersionAuthorized(principal): VersionAuthorized,
    Kickoff {
        request,
        request_url,
        base,
    }: Kickoff,
) -> Result<Response, ApiError> {
    let job_id = kickoff::start(&state, &principal, &request, &request_url).await?;
    let mut response = StatusCode::ACCEPTED.into_response();
    let location = format!("{}/api/{}/jobs/{job_id}", base.0, request.version.segment());
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

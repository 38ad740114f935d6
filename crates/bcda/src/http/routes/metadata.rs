//! `GET /api/v1/metadata`, `/api/v2/metadata` and `/api/v3/metadata`: the
//! CapabilityStatements.

use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::VERSION;
use crate::app::AppState;
use crate::domain::ApiVersion;
use crate::fhir::capability::{CapabilityContext, capability_statement};
use crate::http::ApiError;
use crate::http::base_url::BaseUrl;

/// The API's CapabilityStatement
///
/// What this server can do, as a FHIR CapabilityStatement: STU3 on v1, R4
/// on v2 and v3 (v3's also lists `_typeFilter` and the ExplanationOfBenefit
/// search parameters it takes). No token needed.
#[utoipa::path(
    get,
    path = "/metadata",
    operation_id = "getMetadata",
    tag = "Metadata",
    responses(
        (status = 200, description = "The CapabilityStatement. `application/json` unless the \
            request accepts only `application/fhir+json`.",
            content(
                (crate::http::openapi::schemas::CapabilityStatement = "application/json"),
                (crate::http::openapi::schemas::CapabilityStatement = "application/fhir+json"),
            )),
        (status = 400, description = "No usable `Host` header (or, behind a trusted proxy, \
            `X-Forwarded-Proto`/`X-Forwarded-Host`): absolute URLs cannot be built.",
            body = crate::http::openapi::schemas::OperationOutcome,
            content_type = "application/fhir+json"),
        (status = 500, response = crate::http::openapi::responses::InternalError),
    ),
)]
pub async fn capability(
    State(state): State<AppState>,
    base: BaseUrl,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    // The same handler serves every version; the path says which.
    render(ApiVersion::from_path(uri.path()), &state, &base, &headers)
}

fn render(
    version: ApiVersion,
    state: &AppState,
    base: &BaseUrl,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let statement = capability_statement(
        version,
        &CapabilityContext {
            base_url: &base.0,
            now: state.clock.now(),
            started_at: state.started_at,
            version: VERSION,
            signed_urls: state.http.signed_urls,
        },
    );
    let body = serde_json::to_vec(&statement).map_err(ApiError::internal)?;
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type(headers));
    Ok(response)
}

/// BCDA answers `application/json`, and existing clients check for it; a
/// client that asks only for `application/fhir+json` gets that instead.
fn content_type(headers: &HeaderMap) -> HeaderValue {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let wants_fhir = accept.contains("application/fhir+json");
    let takes_json = accept.split(',').any(|part| {
        matches!(
            part.split(';').next().map(str::trim),
            Some("application/json" | "*/*" | "application/*")
        )
    });
    if wants_fhir && !takes_json {
        HeaderValue::from_static("application/fhir+json")
    } else {
        HeaderValue::from_static("application/json")
    }
}

//! `GET /api/{v1,v2}/attribution_status`: the dates of the ACO's latest
//! attribution files.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::claims::{AttributionFile, ClaimsSource};
use crate::domain::AttributionKind;
use crate::fhir::time_format::fhir_date_time;
use crate::http::ApiError;
use crate::http::auth::Authenticated;

/// The response body.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttributionStatus {
    /// One entry per kind of file the ACO has.
    pub ingestion_dates: Vec<IngestionDate>,
}

/// The date of the latest file of one kind.
#[derive(Debug, Serialize, ToSchema)]
pub struct IngestionDate {
    /// The file's timestamp (the attribution date), RFC 3339.
    #[schema(example = "2026-03-01T00:00:00+00:00")]
    pub timestamp: String,
    /// `last_attribution_update` or `last_runout_update`.
    #[serde(rename = "type")]
    #[schema(value_type = String, example = "last_attribution_update")]
    pub kind: &'static str,
}

/// When your attribution was last updated
///
/// The dates of the ACO's latest attribution file and latest runout file:
/// an export reflects the beneficiaries attributed as of then.
#[utoipa::path(
    get,
    path = "/attribution_status",
    operation_id = "getAttributionStatus",
    tag = "bulkData",
    security(("BearerToken" = [])),
    responses(
        (status = 200, description = "The dates of the latest attribution files.",
            body = AttributionStatus),
        (status = 401, response = crate::http::openapi::responses::Unauthorized),
        (status = 403, response = crate::http::openapi::responses::Forbidden),
        (status = 404, description = "No attribution file has been received for the ACO.",
            body = crate::http::openapi::schemas::OperationOutcome,
            content_type = "application/fhir+json"),
        (status = 500, response = crate::http::openapi::responses::InternalError),
    ),
)]
pub async fn status(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
) -> Result<Json<AttributionStatus>, ApiError> {
    let source = ClaimsSource::for_aco(&state.db, principal.aco_id, &principal.cms_id).await?;
    let files = source.attribution_files().await?;
    let mut ingestion_dates = Vec::new();
    for (kind, label) in [
        (AttributionKind::Default, "last_attribution_update"),
        (AttributionKind::Runout, "last_runout_update"),
    ] {
        if let Some(file) = latest(&files, kind) {
            ingestion_dates.push(IngestionDate {
                timestamp: fhir_date_time(file.attributed_at),
                kind: label,
            });
        }
    }
    if ingestion_dates.is_empty() {
        return Err(ApiError::NotFound(format!(
            "No attribution files have been received for ACO {}.",
            principal.cms_id
        )));
    }
    Ok(Json(AttributionStatus { ingestion_dates }))
}

/// The current file of a kind, as BCDA picks it: the highest performance
/// year, then the latest attribution date.
pub fn latest(files: &[AttributionFile], kind: AttributionKind) -> Option<&AttributionFile> {
    files
        .iter()
        .filter(|f| f.kind == kind)
        .max_by_key(|f| (f.performance_year, f.attributed_at))
}

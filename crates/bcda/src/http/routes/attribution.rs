//! `GET /api/{v1,v2}/attribution_status`: the dates of the ACO's latest
//! attribution files.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::app::AppState;
use crate::claims::{AttributionFile, ClaimsSource};
use crate::clock::fhir_date_time;
use crate::http::ApiError;
use crate::http::auth::Authenticated;
use crate::store::attribution::FileKind;

/// The response body.
#[derive(Debug, Serialize)]
pub struct AttributionStatus {
    /// One entry per kind of file the ACO has.
    pub ingestion_dates: Vec<IngestionDate>,
}

/// The date of the latest file of one kind.
#[derive(Debug, Serialize)]
pub struct IngestionDate {
    /// The file's timestamp (the attribution date), RFC 3339.
    pub timestamp: String,
    /// `last_attribution_update` or `last_runout_update`.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// `GET /api/{v}/attribution_status`.
pub async fn status(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
) -> Result<Json<AttributionStatus>, ApiError> {
    let source = ClaimsSource::for_aco(&state.db, principal.aco_id, &principal.cms_id)
        .await
        .map_err(ApiError::internal)?;
    let files = source
        .attribution_files()
        .await
        .map_err(ApiError::internal)?;
    let mut ingestion_dates = Vec::new();
    for (kind, label) in [
        (FileKind::Default, "last_attribution_update"),
        (FileKind::Runout, "last_runout_update"),
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
pub fn latest(files: &[AttributionFile], kind: FileKind) -> Option<&AttributionFile> {
    files
        .iter()
        .filter(|f| f.kind == kind)
        .max_by_key(|f| (f.performance_year, f.attributed_at))
}

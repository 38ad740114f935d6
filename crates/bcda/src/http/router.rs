//! Every route of the API, in one place.

use axum::Router;
use axum::http::HeaderName;
use axum::routing::{get, post};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

use super::error::{not_found, panic_response, render_errors};
use super::middleware::{REQUEST_ID_HEADER, trace_layer};
use super::routes::{attribution, data, export, jobs, meta, metadata, token};
use crate::app::AppState;

/// Request bodies are small (the API's requests are GETs and an ignored
/// token body); anything larger is refused before it is read.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// The API router.
pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static(REQUEST_ID_HEADER);
    Router::new()
        .route("/auth/token", post(token::issue))
        .route("/auth/welcome", get(token::welcome))
        .route("/_version", get(meta::version))
        .route("/_auth", get(meta::auth_provider))
        .route("/_health", get(meta::health))
        .route("/api/v1/metadata", get(metadata::v1))
        .route("/api/v2/metadata", get(metadata::v2))
        .route("/api/v1/attribution_status", get(attribution::status))
        .route("/api/v2/attribution_status", get(attribution::status))
        .route(
            "/api/v1/Patient/$export",
            get(export::patient).post(export::patient),
        )
        .route(
            "/api/v2/Patient/$export",
            get(export::patient).post(export::patient),
        )
        .route(
            "/api/v1/Group/{group}/$export",
            get(export::group).post(export::group),
        )
        .route(
            "/api/v2/Group/{group}/$export",
            get(export::group).post(export::group),
        )
        .route("/api/v1/jobs", get(jobs::list))
        .route("/api/v2/jobs", get(jobs::list))
        .route("/api/v1/jobs/{id}", get(jobs::status).delete(jobs::cancel))
        .route("/api/v2/jobs/{id}", get(jobs::status).delete(jobs::cancel))
        .route("/data/{job_id}/{file}", get(data::download))
        .fallback(not_found)
        .layer(
            // Outermost first.
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                .layer(trace_layer())
                .layer(PropagateRequestIdLayer::new(request_id))
                .layer(axum::middleware::from_fn(render_errors))
                .layer(CatchPanicLayer::custom(panic_response))
                .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES)),
        )
        .with_state(state)
}

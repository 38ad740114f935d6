//! Every route of the API, in one place.
//!
//! Routes are registered only through `utoipa_axum::routes!`, which adds a
//! handler to the router and its `#[utoipa::path]` documentation to the
//! OpenAPI document in one step: a route cannot be served undocumented.
//! Never add one with `.route(...)` (tests/api/openapi.rs checks this file).

use axum::Router;
use axum::http::HeaderName;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{not_found, panic_response, render_errors};
use super::limits::{MAX_BODY_BYTES, limit_request_head};
use super::middleware::{
    REQUEST_ID_HEADER, drop_unloggable_request_id, record_metrics, trace_layer,
};
use super::openapi;
use super::routes::{
    attribution_status, data, export, jobs, meta, metadata, smart_configuration, token,
};
use crate::app::AppState;
use crate::domain::ApiVersion;

/// The API router: every route of the API, each also documented in the
/// OpenAPI documents, plus the documents and their Swagger UIs.
pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static(REQUEST_ID_HEADER);
    let mut app = Router::new();
    for version in ApiVersion::ALL {
        let (routes, doc) = version_routes(version).split_for_parts();
        app = app.merge(routes).merge(openapi::swagger_ui(
            version,
            openapi::document(version, doc),
        ));
    }
    app.fallback(not_found)
        .layer(
            // Outermost first.
            ServiceBuilder::new()
                .layer(axum::middleware::map_request(drop_unloggable_request_id))
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                .layer(trace_layer())
                .layer(axum::middleware::from_fn_with_state(
                    state.env.metrics.clone(),
                    record_metrics,
                ))
                .layer(PropagateRequestIdLayer::new(request_id))
                .layer(axum::middleware::from_fn(render_errors))
                .layer(axum::middleware::from_fn(limit_request_head))
                .layer(CatchPanicLayer::custom(panic_response))
                .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES)),
        )
        .with_state(state)
}

/// The routes every version's document lists: tokens and their discovery,
/// server facts and file downloads.
fn shared_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(token::issue))
        .routes(routes!(token::welcome))
        .routes(routes!(smart_configuration::root))
        .routes(routes!(meta::version))
        .routes(routes!(meta::auth_provider))
        .routes(routes!(meta::health))
        .routes(routes!(data::download))
}

/// The routes under `/api/{v}`: the same handlers for every version (they
/// read the version from the request path).
fn versioned_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(metadata::capability))
        .routes(routes!(smart_configuration::versioned))
        .routes(routes!(attribution_status::status))
        .routes(routes!(export::patient, export::patient_post))
        .routes(routes!(export::group, export::group_post))
        .routes(routes!(export::system, export::system_post))
        .routes(routes!(jobs::list))
        .routes(routes!(jobs::status, jobs::cancel))
}

/// The routes of one version's document: the shared ones (served once,
/// whichever version's document lists them) and that version's own.
fn version_routes(version: ApiVersion) -> OpenApiRouter<AppState> {
    let shared = shared_routes();
    let own = OpenApiRouter::new().nest(version.prefix(), versioned_routes());
    match version {
        ApiVersion::V1 => shared.merge(own),
        // The shared routes are already in the router (v1's); keep only
        // their documentation.
        ApiVersion::V2 | ApiVersion::V3 => {
            let (_, shared_doc) = shared.split_for_parts();
            OpenApiRouter::with_openapi(shared_doc).merge(own)
        }
    }
}

/// The OpenAPI document of one API version, as served at
/// `/api/{v}/openapi.json`.
pub fn openapi_document(version: ApiVersion) -> utoipa::openapi::OpenApi {
    let (_, doc) = version_routes(version).split_for_parts();
    openapi::document(version, doc)
}

//! `/_version`, `/_auth` and `/_health`: unauthenticated facts about the
//! server.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::VERSION;
use crate::app::AppState;
use crate::http::error::retry_after_value;

/// How long a health check waits for each dependency.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// `{"version": ...}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionInfo {
    /// The server version.
    #[schema(example = "0.1.0")]
    pub version: &'static str,
}

/// The server's version
#[utoipa::path(
    get,
    path = "/_version",
    operation_id = "getVersion",
    tag = "Metadata",
    responses((status = 200, description = "The server's version.", body = VersionInfo)),
)]
pub async fn version() -> Json<VersionInfo> {
    Json(VersionInfo { version: VERSION })
}

/// `{"auth_provider": ..., "version": ...}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthProviderInfo {
    /// The auth provider's name: this server's own.
    #[schema(example = "bcda")]
    pub auth_provider: &'static str,
    /// Its version.
    #[schema(example = "0.1.0")]
    pub version: &'static str,
}

/// The auth provider
///
/// Which service issues and verifies access tokens: this server itself.
#[utoipa::path(
    get,
    path = "/_auth",
    operation_id = "getAuthProvider",
    tag = "Metadata",
    responses((status = 200, description = "The auth provider and its version.", body = AuthProviderInfo)),
)]
pub async fn auth_provider() -> Json<AuthProviderInfo> {
    Json(AuthProviderInfo {
        auth_provider: "bcda",
        version: VERSION,
    })
}

/// The state of each dependency: `ok` or what is wrong with it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// The database.
    #[schema(example = "ok")]
    pub database: String,
    /// The data directory (where export files live).
    #[schema(example = "ok")]
    pub storage: String,
}

/// The server's health
///
/// Really asks the database and really writes to the data directory: 200
/// when both work, 503 with the failing one named otherwise.
#[utoipa::path(
    get,
    path = "/_health",
    operation_id = "getHealth",
    tag = "Metadata",
    responses(
        (status = 200, description = "Every dependency works.", body = Health,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 503, description = "A dependency is down; its entry says what is wrong.",
            body = Health, headers(
                ("Cache-Control" = String, description = "`no-store`"),
                ("Retry-After" = String, description = "Seconds to wait before checking again."),
            )),
    ),
)]
pub async fn health(State(state): State<AppState>) -> Response {
    let database = check("database", "database ping error", state.db.ping()).await;
    // A fresh object each time (so concurrent checks never share one),
    // written, read and removed in the export file store.
    let failure = if state.files.local_root().is_some() {
        "data directory is not writable"
    } else {
        "file store is not writable"
    };
    let storage = check("file store", failure, state.files.probe()).await;
    let status = if database == "ok" && storage == "ok" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut response = (status, Json(Health { database, storage })).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::SERVICE_UNAVAILABLE {
        // When to look again: dependencies usually come back in seconds.
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, retry_after_value(HEALTH_RETRY_AFTER));
    }
    response
}

/// The `Retry-After` of an unhealthy answer.
const HEALTH_RETRY_AFTER: Duration = Duration::from_secs(5);

/// Runs one dependency check with a time limit: `ok`, `failure` (the detail
/// is logged, not sent), or a time-out message.
async fn check<E: std::fmt::Display>(
    dependency: &str,
    failure: &str,
    probe: impl Future<Output = Result<(), E>>,
) -> String {
    match tokio::time::timeout(CHECK_TIMEOUT, probe).await {
        Ok(Ok(())) => "ok".to_owned(),
        Ok(Err(e)) => {
            tracing::warn!(dependency, error = %e, "health check failed");
            failure.to_owned()
        }
        Err(_) => {
            tracing::warn!(dependency, "health check timed out");
            format!("{dependency} did not answer in time")
        }
    }
}

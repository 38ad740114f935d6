//! `GET /.well-known/smart-configuration` and
//! `GET /api/{v}/.well-known/smart-configuration`: SMART discovery, so a
//! Bulk Data client finds the token endpoint and what it accepts from the
//! server's base URL (the FHIR base `/api/{v}`, or the host).

use axum::Json;
use axum::extract::OriginalUri;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::credentials::PRIVATE_KEY_JWT;
use crate::auth::jwks::SigningAlg;
use crate::domain::{ApiVersion, ResourceType};
use crate::http::base_url::BaseUrl;

/// The SMART configuration (SMART App Launch 2.x, "Conformance"), with
/// what a backend-services server lists.
#[derive(Debug, Serialize, ToSchema)]
pub struct SmartConfiguration {
    /// The token endpoint, absolute.
    #[schema(example = "https://bcda.example.org/auth/token")]
    pub token_endpoint: String,
    /// `private_key_jwt` (SMART Backend Services) and `client_secret_basic`
    /// (BCDA's HTTP Basic).
    pub token_endpoint_auth_methods_supported: Vec<&'static str>,
    /// The client assertion algorithms accepted: RS384 and ES384.
    pub token_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    /// `client_credentials`.
    pub grant_types_supported: Vec<&'static str>,
    /// The system scopes a token may be granted (SMART v1 `.read` and v2
    /// `.rs`), for every type and each type this API serves.
    pub scopes_supported: Vec<String>,
    /// `client-confidential-asymmetric`, `permission-v1`, `permission-v2`.
    pub capabilities: Vec<&'static str>,
}

/// The configuration for the types `types`, at `base`.
fn configuration(base: &BaseUrl, types: &[ResourceType]) -> SmartConfiguration {
    let mut scopes_supported = vec!["system/*.read".to_owned(), "system/*.rs".to_owned()];
    for t in types {
        scopes_supported.push(format!("system/{}.read", t.as_str()));
        scopes_supported.push(format!("system/{}.rs", t.as_str()));
    }
    SmartConfiguration {
        token_endpoint: format!("{}/auth/token", base.0),
        token_endpoint_auth_methods_supported: vec![PRIVATE_KEY_JWT, "client_secret_basic"],
        token_endpoint_auth_signing_alg_values_supported: SigningAlg::ALL
            .iter()
            .map(|a| a.as_str())
            .collect(),
        grant_types_supported: vec!["client_credentials"],
        scopes_supported,
        // Both permission versions: clients pick `.read` (v1) scopes
        // when both are listed, and `.rs` is granted too.
        capabilities: vec![
            "client-confidential-asymmetric",
            "permission-v1",
            "permission-v2",
        ],
    }
}

/// SMART configuration (server root)
///
/// How to get a token with SMART Backend Services: the token endpoint, the
/// authentication methods and assertion algorithms accepted, and the
/// scopes (every type any API version serves). No token needed.
#[utoipa::path(
    get,
    path = "/.well-known/smart-configuration",
    operation_id = "getSmartConfigurationRoot",
    tag = "auth",
    responses(
        (status = 200, description = "The SMART configuration.", body = SmartConfiguration),
        (status = 400, description = "No usable `Host` header (or, behind a trusted proxy, \
            `X-Forwarded-Proto`/`X-Forwarded-Host`): the token URL cannot be built.",
            body = crate::http::openapi::schemas::OperationOutcome,
            content_type = "application/fhir+json"),
    ),
)]
pub async fn root(base: BaseUrl) -> Json<SmartConfiguration> {
    Json(configuration(&base, &ResourceType::ALL))
}

/// SMART configuration
///
/// How to get a token with SMART Backend Services, from this FHIR base:
/// the token endpoint, the authentication methods and assertion algorithms
/// accepted, and the scopes of the types this version serves. No token
/// needed.
#[utoipa::path(
    get,
    path = "/.well-known/smart-configuration",
    operation_id = "getSmartConfiguration",
    tag = "auth",
    responses(
        (status = 200, description = "The SMART configuration.", body = SmartConfiguration),
        (status = 400, description = "No usable `Host` header (or, behind a trusted proxy, \
            `X-Forwarded-Proto`/`X-Forwarded-Host`): the token URL cannot be built.",
            body = crate::http::openapi::schemas::OperationOutcome,
            content_type = "application/fhir+json"),
    ),
)]
pub async fn versioned(base: BaseUrl, OriginalUri(uri): OriginalUri) -> Json<SmartConfiguration> {
    // The same handler serves every version; the path says which.
    let version = ApiVersion::from_path(uri.path());
    Json(configuration(&base, ResourceType::of_version(version)))
}

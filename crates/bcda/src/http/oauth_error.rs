//! The one place a refused SMART Backend Services token request becomes a
//! response: an OAuth 2.0 error (RFC 6749 §5.2), JSON
//! `{"error": ..., "error_description": ...}` in `application/json` with
//! `Cache-Control: no-store`, never an OperationOutcome (`render_errors`
//! leaves JSON error bodies alone). BCDA's Basic flow keeps its
//! OperationOutcomes (`http::error`).
//!
//! | refusal | status | `error` |
//! |---|---|---|
//! | parameter missing, repeated or wrong; Basic and an assertion | 400 | `invalid_request` |
//! | `grant_type` not `client_credentials` | 400 | `unsupported_grant_type` |
//! | nothing of the scope grantable | 400 | `invalid_scope` |
//! | the assertion does not authenticate a client | 401 | `invalid_client` |
//! | too many failures, or the ACO's token rate limit | 429 + `Retry-After` | `temporarily_unavailable` |
//! | the database is unavailable | 503 + `Retry-After` | `temporarily_unavailable` |
//! | anything else on our side (logged) | 500 | `server_error` |

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{DATABASE_UNAVAILABLE, StoreFailure, retry_after_value};
use crate::auth::backend_services::SmartTokenError;

/// An OAuth 2.0 error body (RFC 6749 §5.2).
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthErrorBody {
    /// The error code.
    #[schema(example = "invalid_client")]
    pub error: &'static str,
    /// What went wrong, for the client's developer.
    #[schema(example = "The client assertion has expired.")]
    pub error_description: String,
}

/// A refused assertion token request, answered as an OAuth error.
#[derive(Debug)]
pub struct OAuthError(pub SmartTokenError);

impl From<SmartTokenError> for OAuthError {
    fn from(error: SmartTokenError) -> Self {
        OAuthError(error)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        use SmartTokenError::*;
        let store_failed = matches!(self.0, Store(_));
        let (status, error, description, retry_after) = match self.0 {
            InvalidRequest(d) => (StatusCode::BAD_REQUEST, "invalid_request", d, None),
            UnsupportedGrantType(d) => (StatusCode::BAD_REQUEST, "unsupported_grant_type", d, None),
            InvalidScope(d) => (StatusCode::BAD_REQUEST, "invalid_scope", d, None),
            InvalidClient(d) => (StatusCode::UNAUTHORIZED, "invalid_client", d, None),
            Throttled { retry_after } => (
                StatusCode::TOO_MANY_REQUESTS,
                "temporarily_unavailable",
                "Too many failed attempts to obtain an access token. Try again later.".to_owned(),
                Some(retry_after_value(retry_after)),
            ),
            RateLimited {
                cms_id,
                retry_after,
            } => (
                StatusCode::TOO_MANY_REQUESTS,
                "temporarily_unavailable",
                format!(
                    "{cms_id} exceeded the rate limit for /auth/token. Access tokens last 5 \
                     minutes; please cache and reuse them."
                ),
                Some(retry_after_value(retry_after)),
            ),
            Store(e) if e.is_unavailable() => {
                tracing::warn!(error = %e, "database unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    DATABASE_UNAVAILABLE.to_owned(),
                    Some(HeaderValue::from_static("1")),
                )
            }
            other => {
                tracing::error!(error = %other, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "An internal error occurred. Please try again later.".to_owned(),
                    None,
                )
            }
        };
        let body = OAuthErrorBody {
            error,
            error_description: description,
        };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Some(wait) = retry_after {
            headers.insert(header::RETRY_AFTER, wait);
        }
        if store_failed {
            response
                .extensions_mut()
                .insert(StoreFailure(crate::telemetry::metrics::Store::Database));
        }
        response
    }
}

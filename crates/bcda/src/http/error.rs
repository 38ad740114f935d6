//! The one error type at the HTTP boundary, and the one place it becomes an
//! OperationOutcome.
//!
//! Handlers return [`ApiError`]. Its `IntoResponse` only records what went
//! wrong; [`render_errors`] (a middleware that knows the request path, and so
//! the API version) writes the OperationOutcome body. Internal details are
//! logged once, inside the request's span (which carries the request id),
//! and never sent.
//!
//! The one exception is a SMART Backend Services token request (a
//! `client_assertion` at `/auth/token`): OAuth clients expect RFC 6749
//! errors, so its refusals are `http::oauth_error::OAuthError`, JSON that
//! [`render_errors`] leaves alone.

use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::AuthError;
use crate::claims::SourceError;
use crate::domain::ApiVersion;
use crate::export::rejection::Rejection;
use crate::export::scopes::OutOfScope;
use crate::fhir::operation_outcome::{IssueType, OperationOutcome};
use crate::jobs::kickoff::KickoffError;
use crate::store::StoreError;
use crate::telemetry::metrics::Store;

/// An error answer of the API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no usable credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: credentials are fine but access is refused.
    #[error("{0}")]
    Forbidden(String),
    /// 404: nothing here.
    #[error("{0}")]
    NotFound(String),
    /// 405: the path exists but not for this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 410: it was here and is gone.
    #[error("{0}")]
    Gone(String),
    /// 429: slow down; try again after `retry_after`.
    #[error("{message}")]
    TooManyRequests {
        /// The OperationOutcome's diagnostics.
        message: String,
        /// How long the client should wait: sent as `Retry-After`, rounded up to whole seconds (at
        /// least 1).
        retry_after: Duration,
    },
    /// 503: a dependency is down.
    #[error("{0}")]
    Unavailable(String),
    /// 500 with a message meant for the client (a failed export job).
    #[error("{0}")]
    Failure(String),
    /// 500: our fault. The detail is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
    /// The database failed: 503 with `Retry-After` when it is unreachable
    /// or refusing work for now ([`StoreError::is_unavailable`]), else 500.
    /// The detail is logged, never sent; counted as a store error.
    #[error("{0}")]
    Database(StoreError),
    /// 500: the export file store failed (a recorded file that cannot be
    /// opened or read as recorded). The detail is logged, never sent;
    /// counted as a store error.
    #[error("file store error: {0}")]
    Files(String),
}

impl ApiError {
    /// An internal error from anything displayable.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        ApiError::Internal(error.to_string())
    }

    fn status_and_code(&self) -> (StatusCode, IssueType) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, IssueType::Structure),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, IssueType::Forbidden),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, IssueType::Forbidden),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, IssueType::NotFound),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, IssueType::NotSupported),
            ApiError::Gone(_) => (StatusCode::GONE, IssueType::NotFound),
            ApiError::TooManyRequests { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, IssueType::Throttled)
            }
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, IssueType::Exception),
            ApiError::Database(e) if e.is_unavailable() => {
                (StatusCode::SERVICE_UNAVAILABLE, IssueType::Exception)
            }
            ApiError::Failure(_)
            | ApiError::Internal(_)
            | ApiError::Database(_)
            | ApiError::Files(_) => (StatusCode::INTERNAL_SERVER_ERROR, IssueType::Exception),
        }
    }

    /// The store whose failure this answer reports, if any.
    fn failed_store(&self) -> Option<Store> {
        match self {
            ApiError::Database(_) => Some(Store::Database),
            ApiError::Files(_) => Some(Store::Files),
            _ => None,
        }
    }

    /// The message the client sees.
    fn public_message(&self) -> String {
        match self {
            ApiError::Database(e) if e.is_unavailable() => DATABASE_UNAVAILABLE.to_owned(),
            ApiError::Internal(_) | ApiError::Database(_) | ApiError::Files(_) => {
                "An internal error occurred. Please try again later.".to_owned()
            }
            ApiError::MethodNotAllowed => "Method not allowed for this path.".to_owned(),
            other => other.to_string(),
        }
    }
}

/// Marks an answer that reports a failed store (a response extension the
/// metrics middleware counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreFailure(pub Store);

/// What [`render_errors`] needs to write the body.
#[derive(Debug, Clone)]
struct PendingOutcome {
    code: IssueType,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Logged here, once, inside the request span; never sent.
        match &self {
            ApiError::Internal(detail) => tracing::error!(error = %detail, "request failed"),
            ApiError::Database(e) if e.is_unavailable() => {
                tracing::warn!(error = %e, "database unavailable");
            }
            ApiError::Database(e) => tracing::error!(error = %e, "request failed"),
            ApiError::Files(detail) => tracing::error!(error = %detail, "request failed"),
            _ => {}
        }
        let (status, code) = self.status_and_code();
        let mut response = status.into_response();
        if let ApiError::TooManyRequests { retry_after, .. } = &self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, retry_after_value(*retry_after));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if let Some(store) = self.failed_store() {
            // For the metrics middleware (`bcda_store_errors_total`).
            response.extensions_mut().insert(StoreFailure(store));
        }
        response.extensions_mut().insert(PendingOutcome {
            code,
            message: self.public_message(),
        });
        response
    }
}

/// A `Retry-After` value in whole seconds, at least 1.
pub fn retry_after_value(wait: Duration) -> HeaderValue {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    HeaderValue::from(secs.max(1))
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::InvalidToken => ApiError::Unauthorized("Invalid Token".to_owned()),
            AuthError::ExpiredToken => ApiError::Unauthorized("Expired Token".to_owned()),
            AuthError::AcoDenied(cms_id) => {
                ApiError::Forbidden(format!("ACO (CMS_ID: {cms_id}) is unauthorized"))
            }
            AuthError::InvalidCredentials => {
                ApiError::Unauthorized("Invalid client id or secret".to_owned())
            }
            AuthError::SecretExpired => ApiError::Unauthorized(
                "The client secret has expired. Ask your administrator to reset your credentials."
                    .to_owned(),
            ),
            AuthError::RateLimited {
                cms_id,
                retry_after,
            } => ApiError::TooManyRequests {
                message: format!(
                    "{cms_id} exceeded the rate limit for /auth/token. Access tokens last 20 minutes; please cache and reuse them."
                ),
                retry_after,
            },
            AuthError::Store(e) => ApiError::from(e),
            AuthError::Key(e) => ApiError::internal(e),
        }
    }
}

impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> Self {
        match rejection {
            Rejection::MethodNotAllowed => ApiError::MethodNotAllowed,
            // The display text is BCDA's diagnostics.
            other => ApiError::BadRequest(other.to_string()),
        }
    }
}

impl From<KickoffError> for ApiError {
    fn from(error: KickoffError) -> Self {
        match error {
            KickoffError::Rejected(rejection) => ApiError::from(rejection),
            KickoffError::OutOfScope(refusal) => ApiError::from(refusal),
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
        }
    }
}

impl From<OutOfScope> for ApiError {
    fn from(refusal: OutOfScope) -> Self {
        ApiError::Forbidden(refusal.to_string())
    }
}

/// What a client sees while the database is unreachable: a 503 it should
/// retry, never a 500 (which the status route uses for "your job failed").
pub const DATABASE_UNAVAILABLE: &str =
    "The service is temporarily unavailable. Please try again shortly.";

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ApiError::Database(error)
    }
}

impl From<SourceError> for ApiError {
    fn from(error: SourceError) -> Self {
        match error {
            SourceError::Store(e) => ApiError::from(e),
            other => ApiError::internal(other),
        }
    }
}

/// Writes the OperationOutcome of an [`ApiError`] in the shape of the
/// request's API version; also turns every other error answer that is not
/// already JSON (the router's bare 405, the body limit's 413, the request
/// limits' 414 and 431, axum's plain-text rejections) into one, so a client
/// never gets an error in another shape. (JSON errors are left alone:
/// `/_health`'s 503 reports its checks as JSON.)
pub async fn render_errors(request: Request, next: Next) -> Response {
    let version = ApiVersion::from_path(request.uri().path());
    let mut response = next.run(request).await;
    let pending = match response.extensions_mut().remove::<PendingOutcome>() {
        Some(pending) => pending,
        None if needs_outcome(&response) => fallback_outcome(response.status()),
        None => return response,
    };
    let outcome = OperationOutcome::error(version, pending.code, &pending.message);
    match serde_json::to_vec(&outcome) {
        Ok(body) => {
            let (mut parts, _) = response.into_parts();
            parts.headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/fhir+json"),
            );
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(body))
        }
        // Serializing a fixed struct cannot fail; keep the status regardless.
        Err(_) => response,
    }
}

/// An error status whose body is not ours: empty or plain text.
fn needs_outcome(response: &Response) -> bool {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    (status.is_client_error() || status.is_server_error()) && !is_json
}

/// The outcome of an error answer made outside our handlers: by the router,
/// a layer, an axum extractor, or the request limits. The message is fixed
/// per status: rejection texts can echo what the client sent.
fn fallback_outcome(status: StatusCode) -> PendingOutcome {
    use crate::http::limits::{MAX_BODY_BYTES, MAX_HEADER_BYTES, MAX_HEADERS, MAX_URI_BYTES};
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            IssueType::NotSupported,
            ApiError::MethodNotAllowed.public_message(),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            IssueType::Structure,
            format!("The request body is too large: at most {MAX_BODY_BYTES} bytes are accepted."),
        ),
        StatusCode::URI_TOO_LONG => (
            IssueType::Structure,
            format!("The request URI is too long: at most {MAX_URI_BYTES} bytes are accepted."),
        ),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => (
            IssueType::Structure,
            format!(
                "The request headers are too large: at most {MAX_HEADERS} fields and \
                 {MAX_HEADER_BYTES} bytes are accepted."
            ),
        ),
        // Today only a path segment that is not UTF-8 once percent-decoded
        // (axum's Path rejection) gets here.
        StatusCode::BAD_REQUEST => (
            IssueType::Structure,
            "The request is malformed (for example, a path segment is not valid UTF-8 once \
             percent-decoded)."
                .to_owned(),
        ),
        StatusCode::NOT_FOUND => (
            IssueType::NotFound,
            "The requested resource was not found.".to_owned(),
        ),
        status if status.is_server_error() => (
            IssueType::Exception,
            ApiError::Internal(String::new()).public_message(),
        ),
        status => (
            IssueType::Structure,
            format!(
                "The request cannot be processed: {}.",
                status.canonical_reason().unwrap_or("client error")
            ),
        ),
    };
    PendingOutcome { code, message }
}

/// The answer for paths no route matches.
pub async fn not_found() -> ApiError {
    ApiError::NotFound("The requested resource was not found.".to_owned())
}

/// The answer when a handler panics: a logged internal error.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    ApiError::Internal(format!("handler panicked: {detail}")).into_response()
}

//! Limits on the size of a request, and the middleware that answers a
//! request beyond them with an OperationOutcome (414, 431; 413 comes from
//! the body-limit layer), written by `render_errors` like every error.
//!
//! hyper parses the head before any of this runs, so its own limits are set
//! above ours ([`HYPER_MAX_BUF_BYTES`], [`HYPER_MAX_HEADERS`]): a request
//! within them gets our answer; one beyond them gets hyper's bare 431 (or
//! 414) without a body, and the connection is closed.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Request bodies are small (the API's requests are GETs, an ignored token
/// body and the POST kick-off's Parameters); anything larger is refused.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The longest request target (path and query) answered: 8 KiB, as common
/// proxies allow (a kick-off URL is a few hundred bytes).
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// The most header fields in one request.
pub const MAX_HEADERS: usize = 100;

/// The most header bytes in one request (names, values, and 4 bytes of
/// `: ` and CRLF for each field); a bearer token is about 600 bytes.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// hyper's read buffer for a request head: above our URI and header limits
/// (so ours answer first) and well under hyper's default of about 400 KiB,
/// which bounds what each open connection can make the server hold.
pub const HYPER_MAX_BUF_BYTES: usize = 64 * 1024;

/// hyper's cap on header fields, above ours.
pub const HYPER_MAX_HEADERS: usize = 2 * MAX_HEADERS;

/// Answers 414 or 431 (bodies written by `render_errors`) for a request
/// whose target or headers exceed the limits.
pub async fn limit_request_head(request: Request, next: Next) -> Response {
    let uri = request.uri();
    let target = uri.path_and_query().map_or(0, |pq| pq.as_str().len())
        + uri.authority().map_or(0, |a| a.as_str().len());
    if target > MAX_URI_BYTES {
        return StatusCode::URI_TOO_LONG.into_response();
    }
    let headers = request.headers();
    let header_bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if headers.len() > MAX_HEADERS || header_bytes > MAX_HEADER_BYTES {
        return StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE.into_response();
    }
    next.run(request).await
}

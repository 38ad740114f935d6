//! The base URL clients reached us at, for every absolute URL we return.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use super::ApiError;
use crate::app::AppState;

/// `scheme://host[:port]`, without a trailing slash.
#[derive(Debug, Clone)]
pub struct BaseUrl(pub String);

impl FromRequestParts<AppState> for BaseUrl {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(fixed) = &state.http.public_base_url {
            return Ok(BaseUrl(fixed.clone()));
        }
        let forwarded = |name: &str| {
            state
                .http
                .trust_forwarded_headers
                .then(|| parts.headers.get(name))
                .flatten()
                .and_then(|v| v.to_str().ok())
                // A proxy chain appends: the first value is the client's.
                .and_then(|v| v.split(',').next())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let scheme = match forwarded("x-forwarded-proto") {
            Some(p) if p.eq_ignore_ascii_case("https") => "https",
            Some(p) if p.eq_ignore_ascii_case("http") => "http",
            Some(_) => {
                return Err(ApiError::BadRequest(
                    "Invalid X-Forwarded-Proto header".into(),
                ));
            }
            None => "http",
        };
        let host = forwarded("x-forwarded-host")
            .or_else(|| {
                parts
                    .headers
                    .get(header::HOST)
                    .and_then(|v| v.to_str().ok())
            })
            .or_else(|| parts.uri.authority().map(|a| a.as_str()))
            .ok_or_else(|| ApiError::BadRequest("Host header is required".into()))?;
        if !is_valid_host(host) {
            return Err(ApiError::BadRequest("Invalid Host header".into()));
        }
        Ok(BaseUrl(format!("{scheme}://{host}")))
    }
}

/// A host name or IP literal with an optional port: nothing that could
/// change the meaning of a URL built around it.
fn is_valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert!(is_valid_host("localhost:3000"));
        assert!(is_valid_host("[::1]:3000"));
        assert!(is_valid_host("api.bcda.cms.gov"));
        assert!(!is_valid_host("evil.com/path"));
        assert!(!is_valid_host("a b"));
        assert!(!is_valid_host("x@y"));
        assert!(!is_valid_host(""));
    }
}

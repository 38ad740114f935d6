//! The bearer-token extractor every authenticated route declares.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use axum::extract::OriginalUri;

use super::ApiError;
use crate::app::AppState;
use crate::auth::tokens::Principal;
use crate::domain::ApiVersion;
use crate::export::version_access::V3_NOT_ENABLED;

/// A request whose bearer token verified: whom it speaks for.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Principal);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token)
            .ok_or_else(|| ApiError::Unauthorized("Invalid Token".to_owned()))?;
        let principal = state.tokens.verify(token).await?;
        tracing::Span::current().record("aco", principal.cms_id.as_str());
        Ok(Authenticated(principal))
    }
}

/// An authenticated request whose ACO may use the request's API version
/// (BCDA's `V3AccessControl`, `--v3-acos`): what the kick-offs and the jobs
/// list declare. Checked before anything else about the request, as BCDA
/// does, so a refused ACO learns nothing from parameter errors.
#[derive(Debug, Clone)]
pub struct VersionAuthorized(pub Principal);

impl FromRequestParts<AppState> for VersionAuthorized {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Authenticated(principal) = Authenticated::from_request_parts(parts, state).await?;
        // Nested routers see the path without its `/api/{v}` prefix.
        let path = parts
            .extensions
            .get::<OriginalUri>()
            .map_or_else(|| parts.uri.path(), |original| original.0.path());
        if !state
            .http
            .v3_access
            .allows(ApiVersion::from_path(path), &principal.cms_id)
        {
            return Err(ApiError::Forbidden(V3_NOT_ENABLED.to_owned()));
        }
        Ok(VersionAuthorized(principal))
    }
}

/// The token of an `Authorization: Bearer <token>` value. The scheme is
/// matched case-insensitively (RFC 7235); the token is one non-empty word.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer")
        && !token.is_empty()
        && !token.contains(char::is_whitespace))
    .then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_values() {
        assert_eq!(bearer_token("Bearer abc.def.ghi"), Some("abc.def.ghi"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("abc.def.ghi"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer a b"), None);
    }
}

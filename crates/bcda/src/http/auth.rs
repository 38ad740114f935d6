//! The bearer-token extractor every authenticated route declares, and the
//! download route's, which also takes a signed URL.

use axum::extract::FromRequestParts;
use axum::extract::{OriginalUri, Path};
use axum::http::header;
use axum::http::request::Parts;

use super::ApiError;
use crate::app::AppState;
use crate::auth::AuthError;
use crate::auth::tokens::Principal;
use crate::auth::url_signing::{SignatureError, SignedFile, UrlSignature};
use crate::domain::{ApiVersion, Scopes};
use crate::export::version_access::V3_NOT_ENABLED;
use crate::store::{acos, jobs};

/// The 401 message of a signature that is malformed, forged, altered, or
/// for another file.
pub const INVALID_SIGNED_URL: &str = "Invalid signed URL";
/// The 401 message of a genuine signature whose time has passed.
pub const EXPIRED_SIGNED_URL: &str =
    "Expired signed URL: request the job's status again for fresh file URLs";

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

/// A download request (`GET|HEAD /data/{jobId}/{filename}`): whom it
/// speaks for. With `--signed-urls`, a URL whose signature is valid speaks
/// for the ACO that owns the job, for exactly that job's file and no other
/// (the signature binds job, file and ACO); without a valid one, the bearer
/// token decides, as [`Authenticated`]: a request with a valid token and a
/// stale or altered signature still succeeds. Without `--signed-urls`,
/// signature parameters are ignored (BCDA's behaviour: a token is needed).
#[derive(Debug, Clone)]
pub struct DownloadAuthorized(pub Principal);

impl FromRequestParts<AppState> for DownloadAuthorized {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let signature = state
            .http
            .signed_urls
            .and_then(|_| UrlSignature::from_query(parts.uri.query()));
        if let Some(signature) = signature {
            let refused = match signed_principal(parts, state, signature).await {
                Ok(principal) => return Ok(DownloadAuthorized(principal)),
                Err(SignatureError::Server(error)) => return Err(error.into()),
                Err(refused) => refused,
            };
            if !parts.headers.contains_key(header::AUTHORIZATION) {
                return Err(ApiError::Unauthorized(
                    match refused {
                        SignatureError::Expired => EXPIRED_SIGNED_URL,
                        _ => INVALID_SIGNED_URL,
                    }
                    .to_owned(),
                ));
            }
        }
        let Authenticated(principal) = Authenticated::from_request_parts(parts, state).await?;
        Ok(DownloadAuthorized(principal))
    }
}

/// The principal a signed download URL speaks for: the ACO that owns the
/// job, if the signature is valid for this job, file and ACO now, and the
/// ACO is not deny-listed (403, as for a token). It names no client or
/// token, and its scopes are whole: the status request that handed out the
/// URL was checked against the job's types.
async fn signed_principal(
    parts: &mut Parts,
    state: &AppState,
    signature: Result<UrlSignature, SignatureError>,
) -> Result<Principal, SignatureError> {
    let signature = signature?;
    let Ok(Path((raw_id, name))) = Path::<(String, String)>::from_request_parts(parts, state).await
    else {
        return Err(SignatureError::Invalid);
    };
    let job_id: i64 = raw_id.parse().map_err(|_| SignatureError::Invalid)?;
    let job = jobs::find(&state.db, job_id)
        .await
        .map_err(AuthError::from)?
        .ok_or(SignatureError::Invalid)?;
    let file = SignedFile {
        job_id,
        name: &name,
        aco_id: job.aco_id,
    };
    state
        .url_keys
        .check(&file, &signature, state.clock.now())
        .await?;
    let aco = acos::find_by_id(&state.db, job.aco_id)
        .await
        .map_err(AuthError::from)?
        .ok_or(SignatureError::Invalid)?;
    tracing::Span::current().record("aco", aco.cms_id.as_str());
    if aco.denied_at.is_some() {
        return Err(AuthError::AcoDenied(aco.cms_id).into());
    }
    Ok(Principal {
        aco_id: aco.id,
        cms_id: aco.cms_id,
        client_id: String::new(),
        token_id: String::new(),
        scopes: Scopes::full(),
    })
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

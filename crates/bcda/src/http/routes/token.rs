//! `POST /auth/token` (client credentials for a bearer token) and the
//! authenticated probe `GET /auth/welcome`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::http::ApiError;
use crate::http::auth::Authenticated;
use crate::http::openapi::schemas::OperationOutcome;

/// The token response, field for field as BCDA sends it (`expires_in` is a
/// string there, and clients parse it as one).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// The access token (a JWT). Send it as `Authorization: Bearer <token>`.
    #[schema(example = "eyJhbGciOiJFZERTQSIsImtpZCI6IjEifQ.eyJzdWIiOiJBOTk5NCJ9.c2lnbmF0dXJl")]
    pub access_token: String,
    /// Seconds until expiry, as a string.
    #[schema(example = "1200")]
    pub expires_in: String,
    /// Always `bearer`.
    #[schema(example = "bearer")]
    pub token_type: &'static str,
}

/// Get an access token
///
/// Trades your client id and secret (HTTP Basic) for an access token that
/// lasts 20 minutes. The request body is ignored.
#[utoipa::path(
    post,
    path = "/auth/token",
    operation_id = "postToken",
    tag = "auth",
    security(("BasicAuth" = [])),
    responses(
        (status = 200, description = "The access token.", body = TokenResponse,
            headers(
                ("Cache-Control" = String, description = "`no-store`"),
                ("Pragma" = String, description = "`no-cache`"),
            )),
        (status = 400, description = "No HTTP Basic credentials were sent.",
            body = OperationOutcome, content_type = "application/fhir+json"),
        (status = 401, description = "Wrong client id or secret, or the secret has expired.",
            body = OperationOutcome, content_type = "application/fhir+json"),
        (status = 429, response = crate::http::openapi::responses::TooManyRequests),
        (status = 500, response = crate::http::openapi::responses::InternalError),
    ),
)]
pub async fn issue(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (client_id, secret) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(basic_credentials)
        .ok_or_else(|| {
            ApiError::BadRequest(
                "HTTP Basic authentication with your client id and secret is required".to_owned(),
            )
        })?;
    let token = state.tokens.issue(&client_id, &secret).await?;
    let body = TokenResponse {
        access_token: token.access_token,
        expires_in: token.expires_in.to_string(),
        token_type: "bearer",
    };
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// The id and secret of an `Authorization: Basic base64(id:secret)` value.
fn basic_credentials(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    (!id.is_empty() && !secret.is_empty()).then(|| (id.to_owned(), secret.to_owned()))
}

/// The welcome message of BCDA's `GET /auth/welcome`: a cheap way for a
/// client to check that its token works.
#[derive(Debug, Serialize, ToSchema)]
pub struct Welcome {
    /// The greeting.
    #[schema(example = "Welcome to the Beneficiary Claims Data API!")]
    pub success: &'static str,
}

/// Check a token
///
/// Answers 200 with a greeting when the access token is valid.
#[utoipa::path(
    get,
    path = "/auth/welcome",
    operation_id = "getWelcome",
    tag = "auth",
    security(("BearerToken" = [])),
    responses(
        (status = 200, description = "The token is valid.", body = Welcome),
        (status = 401, response = crate::http::openapi::responses::Unauthorized),
        (status = 403, response = crate::http::openapi::responses::Forbidden),
        (status = 500, response = crate::http::openapi::responses::InternalError),
    ),
)]
pub async fn welcome(_auth: Authenticated) -> Json<Welcome> {
    Json(Welcome {
        success: "Welcome to the Beneficiary Claims Data API!",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_values() {
        let enc = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        assert_eq!(
            basic_credentials(&format!("Basic {}", enc("id:se:cret"))),
            Some(("id".into(), "se:cret".into()))
        );
        assert_eq!(basic_credentials(&format!("Basic {}", enc("idonly"))), None);
        assert_eq!(
            basic_credentials(&format!("Basic {}", enc(":secret"))),
            None
        );
        assert_eq!(basic_credentials("Basic !!!"), None);
        assert_eq!(basic_credentials(&format!("Bearer {}", enc("a:b"))), None);
    }
}

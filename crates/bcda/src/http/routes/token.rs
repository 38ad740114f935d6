//! `POST /auth/token` (client credentials for a bearer token) and the
//! authenticated probe `GET /auth/welcome`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Serialize;

use crate::app::AppState;
use crate::http::ApiError;
use crate::http::auth::Authenticated;

/// The token response, field for field as BCDA sends it (`expires_in` is a
/// string there, and clients parse it as one).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    /// The JWT.
    pub access_token: String,
    /// Seconds until expiry, as a string.
    pub expires_in: String,
    /// Always `bearer`.
    pub token_type: &'static str,
}

/// Trades HTTP Basic client credentials for a 20-minute bearer token. The
/// request body is ignored.
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
#[derive(Debug, Serialize)]
pub struct Welcome {
    /// The greeting.
    pub success: &'static str,
}

/// `GET /auth/welcome` (bearer token required).
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

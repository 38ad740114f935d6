//! `POST /auth/token` (client credentials for a bearer token) and the
//! authenticated probe `GET /auth/welcome`.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::Engine;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::auth::tokens::IssueError;
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
/// lasts 20 minutes. The request body is ignored. Repeated failures from
/// one client id or address are refused for a while (429 with
/// `Retry-After`) without checking the secret.
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
        (status = 503, description = "Too many secret checks are running at once; try again \
            after `Retry-After` seconds.", body = OperationOutcome,
            content_type = "application/fhir+json",
            headers(("Retry-After" = String, description = "Seconds to wait before trying again."))),
        (status = 500, response = crate::http::openapi::responses::InternalError),
    ),
)]
pub async fn issue(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
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
    let address = client_address(
        &headers,
        peer.map(|Extension(ConnectInfo(addr))| addr),
        state.http.trust_forwarded_headers,
    );
    let token = state.tokens.issue(&client_id, &secret, address).await?;
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

impl From<IssueError> for ApiError {
    fn from(error: IssueError) -> Self {
        match error {
            // One message for known and unknown ids alike.
            IssueError::Throttled { retry_after } => ApiError::TooManyRequests {
                message: "Too many failed attempts to obtain an access token. Try again later."
                    .to_owned(),
                retry_after,
            },
            // 503 carries `Retry-After` (see `http::error`).
            IssueError::Busy => ApiError::Unavailable(
                "The token service is busy. Please try again shortly.".to_owned(),
            ),
            IssueError::Auth(e) => e.into(),
        }
    }
}

/// The address failures are counted against: the peer's, or, behind a
/// trusted proxy (`--trust-forwarded-headers`), the last `X-Forwarded-For`
/// entry, which that proxy appended (entries before it are whatever the
/// client sent, and a client could rotate them to escape the count).
fn client_address(
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    trust_forwarded: bool,
) -> Option<IpAddr> {
    let forwarded = trust_forwarded
        .then(|| headers.get_all("x-forwarded-for").iter().next_back())
        .flatten()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|v| parse_forwarded_address(v.trim()));
    forwarded.or(peer.map(|p| p.ip()))
}

/// An `X-Forwarded-For` entry: an IP address, possibly with a port.
fn parse_forwarded_address(value: &str) -> Option<IpAddr> {
    value
        .parse::<IpAddr>()
        .ok()
        .or_else(|| value.parse::<SocketAddr>().ok().map(|s| s.ip()))
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

    #[test]
    fn client_addresses() {
        let peer: SocketAddr = "192.0.2.1:5000".parse().expect("addr");
        let mut headers = HeaderMap::new();
        headers.append(
            "x-forwarded-for",
            HeaderValue::from_static("10.0.0.9, 198.51.100.7"),
        );
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert_eq!(
            client_address(&headers, Some(peer), false),
            Some(ip("192.0.2.1"))
        );
        assert_eq!(
            client_address(&headers, Some(peer), true),
            Some(ip("198.51.100.7"))
        );
        headers.append(
            "x-forwarded-for",
            HeaderValue::from_static("[2001:db8::1]:443"),
        );
        assert_eq!(
            client_address(&headers, Some(peer), true),
            Some(ip("2001:db8::1"))
        );
        headers.append("x-forwarded-for", HeaderValue::from_static("garbage"));
        assert_eq!(
            client_address(&headers, Some(peer), true),
            Some(ip("192.0.2.1"))
        );
        assert_eq!(client_address(&HeaderMap::new(), None, true), None);
    }
}

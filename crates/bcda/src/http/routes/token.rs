//! `POST /auth/token` (client credentials for a bearer token) and the
//! authenticated probe `GET /auth/welcome`.
//!
//! The token route speaks two protocols. A URL-encoded body carrying a
//! `client_assertion` (or a `client_assertion_type`) is a SMART Backend
//! Services request: checked by `auth::backend_services`, answered with
//! OAuth 2.0 JSON (`http::oauth_error`). Everything else is BCDA's HTTP
//! Basic flow, exactly as before (the body ignored, OperationOutcome
//! errors, `expires_in` a string).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::Engine;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::auth::backend_services::{AssertionGrant, SmartTokenError};
use crate::auth::tokens::IssueError;
use crate::http::ApiError;
use crate::http::auth::Authenticated;
use crate::http::base_url::BaseUrl;
use crate::http::form;
use crate::http::limits::MAX_BODY_BYTES;
use crate::http::oauth_error::{OAuthError, OAuthErrorBody};
use crate::http::openapi::schemas::OperationOutcome;
use crate::telemetry::metrics::{TokenFlow, TokenRefusal};

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

/// The token response of SMART Backend Services (RFC 6749 §5.1):
/// `expires_in` a number, and the scopes granted.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssertionTokenResponse {
    /// The access token (a JWT). Send it as `Authorization: Bearer <token>`.
    #[schema(example = "eyJhbGciOiJFZERTQSIsImtpZCI6IjEifQ.eyJzdWIiOiJBOTk5NCJ9.c2lnbmF0dXJl")]
    pub access_token: String,
    /// Always `bearer`.
    #[schema(example = "bearer")]
    pub token_type: &'static str,
    /// Seconds until expiry: 300.
    #[schema(example = 300)]
    pub expires_in: u64,
    /// The scopes granted (space-separated): those requested that this
    /// server can grant.
    #[schema(example = "system/*.read")]
    pub scope: String,
}

/// Either token response (documentation only): BCDA's for HTTP Basic, the
/// OAuth one for a client assertion.
#[derive(ToSchema)]
#[allow(dead_code)]
#[serde(untagged)]
pub enum AnyTokenResponse {
    /// HTTP Basic (BCDA).
    Basic(TokenResponse),
    /// A client assertion (SMART Backend Services).
    Assertion(AssertionTokenResponse),
}

/// The form of a SMART Backend Services token request (documentation
/// only; the handler reads the form itself). Leave it empty for HTTP
/// Basic. No field has an example or default: Swagger UI would fill them
/// in and turn a Basic request into an assertion request.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AssertionTokenRequest {
    /// `client_credentials`.
    #[schema(required = false)]
    grant_type: String,
    /// `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
    #[schema(required = false)]
    client_assertion_type: String,
    /// A JWT signed (RS384 or ES384) with a key the client registered: header
    /// `kid` (and `typ` `JWT`); claims `iss` and `sub` the client id, `aud`
    /// this server's token URL, `exp` at most 5 minutes ahead, a unique `jti`.
    #[schema(required = false)]
    client_assertion: String,
    /// The scopes asked for, space-separated: `system/*.read`, `system/*.rs`,
    /// or `system/<Type>.read` / `.rs` for Patient, Coverage,
    /// ExplanationOfBenefit, Claim, ClaimResponse.
    #[schema(required = false)]
    scope: String,
}

/// Get an access token
///
/// Trades your client id and secret (HTTP Basic) for an access token that
/// lasts 20 minutes. The request body is ignored. Repeated failures from
/// one client id or address are refused for a while (429 with
/// `Retry-After`) without checking the secret.
///
/// SMART Backend Services clients (registered with public keys) instead
/// post the form `grant_type=client_credentials`,
/// `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`,
/// `client_assertion=<signed JWT>` and `scope=system/*.read` (or narrower),
/// with no Authorization header, and get a token lasting 5 minutes limited
/// to the scopes granted. Their errors are OAuth 2.0 JSON
/// (`{"error","error_description"}` in `application/json`): `invalid_request`,
/// `unsupported_grant_type` or `invalid_scope` (400), `invalid_client` (401).
/// Discovery: `/.well-known/smart-configuration`.
#[utoipa::path(
    post,
    path = "/auth/token",
    operation_id = "postToken",
    tag = "auth",
    security(("BasicAuth" = []), ()),
    // Optional (see `openapi::document`): empty for HTTP Basic.
    request_body(content = AssertionTokenRequest,
        content_type = "application/x-www-form-urlencoded",
        description = "Empty for HTTP Basic; the SMART Backend Services form otherwise."),
    responses(
        (status = 200, description = "The access token: BCDA's shape for HTTP Basic \
            (`expires_in` a string), the OAuth shape for a client assertion (`expires_in` a \
            number, `scope`).", body = AnyTokenResponse,
            headers(
                ("Cache-Control" = String, description = "`no-store`"),
                ("Pragma" = String, description = "`no-cache`"),
            )),
        (status = 400, description = "No HTTP Basic credentials were sent; or, for a client \
            assertion, a missing or repeated parameter, a grant type other than \
            `client_credentials`, Basic credentials beside the assertion (`invalid_request`, \
            `unsupported_grant_type`), or no grantable scope (`invalid_scope`).",
            content(
                (OperationOutcome = "application/fhir+json"),
                (OAuthErrorBody = "application/json"),
            )),
        (status = 401, description = "Wrong client id or secret, or the secret has expired; \
            or a client assertion that does not authenticate a client (`invalid_client`: \
            signature, algorithm, `aud`, `exp`, a reused `jti`, an unknown `kid` or client, \
            an unreachable JWKS URL).",
            content(
                (OperationOutcome = "application/fhir+json"),
                (OAuthErrorBody = "application/json"),
            )),
        (status = 429, description = "Too many failed attempts from this client id or \
            address, or the ACO's token rate limit (an OAuth error, \
            `temporarily_unavailable`, for a client assertion). Wait as long as \
            `Retry-After` says.",
            content(
                (OperationOutcome = "application/fhir+json"),
                (OAuthErrorBody = "application/json"),
            ),
            headers(("Retry-After" = String, description = "Seconds to wait before trying again."))),
        (status = 503, description = "Too many secret checks are running at once, or the \
            database is unavailable; try again after `Retry-After` seconds.",
            content(
                (OperationOutcome = "application/fhir+json"),
                (OAuthErrorBody = "application/json"),
            ),
            headers(("Retry-After" = String, description = "Seconds to wait before trying again."))),
        (status = 500, response = crate::http::openapi::responses::InternalError),
    ),
)]
pub async fn issue(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    base: Result<BaseUrl, ApiError>,
    request: Request,
) -> Response {
    let peer = peer.map(|Extension(ConnectInfo(addr))| addr);
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    // HTTP Basic credentials mean BCDA's flow, whose body is ignored
    // whatever it holds (CONTRACT §2): Swagger UI, for one, sends this
    // operation's documented form fields filled with placeholders beside
    // the Basic header. Otherwise only a form is read; one that cannot be
    // read or parsed, or names no assertion, is left to the Basic flow
    // (whose answer says Basic credentials are required).
    let assertion_params = if !has_basic_credentials(&headers) && form::is_form(&headers) {
        axum::body::to_bytes(body, MAX_BODY_BYTES)
            .await
            .ok()
            .and_then(|bytes| form::parse(&bytes).ok())
            .filter(|params| {
                params
                    .iter()
                    .any(|(name, _)| name == "client_assertion" || name == "client_assertion_type")
            })
    } else {
        None
    };
    // Every token request ends here, issued or refused: the one place the
    // token metrics are recorded (reasons from a fixed set; never the
    // client id).
    let metrics = &state.env.metrics;
    match assertion_params {
        Some(params) => match issue_for_assertion(&state, peer, base, &headers, &params).await {
            Ok(response) => {
                metrics.token_issued(TokenFlow::Smart);
                response
            }
            Err(error) => {
                metrics.token_refused(TokenFlow::Smart, error.refusal());
                OAuthError(error).into_response()
            }
        },
        None => match issue_for_secret(&state, peer, &headers).await {
            Ok(response) => {
                metrics.token_issued(TokenFlow::Basic);
                response
            }
            Err((reason, error)) => {
                metrics.token_refused(TokenFlow::Basic, reason);
                error.into_response()
            }
        },
    }
}

/// BCDA's flow: HTTP Basic client id and secret. A refusal says why, for
/// the metrics.
async fn issue_for_secret(
    state: &AppState,
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
) -> Result<Response, (TokenRefusal, ApiError)> {
    let (client_id, secret) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(basic_credentials)
        .ok_or_else(|| {
            let error = ApiError::BadRequest(
                "HTTP Basic authentication with your client id and secret is required".to_owned(),
            );
            (TokenRefusal::InvalidRequest, error)
        })?;
    let address = client_address(headers, peer, state.http.trust_forwarded_headers);
    let token = state
        .tokens
        .issue(&client_id, &secret, address)
        .await
        .map_err(|e| (e.refusal(), ApiError::from(e)))?;
    let body = TokenResponse {
        access_token: token.access_token,
        expires_in: token.expires_in.to_string(),
        token_type: "bearer",
    };
    Ok(no_store(Json(body).into_response()))
}

/// SMART Backend Services: a client assertion.
async fn issue_for_assertion(
    state: &AppState,
    peer: Option<SocketAddr>,
    base: Result<BaseUrl, ApiError>,
    headers: &HeaderMap,
    params: &[(String, String)],
) -> Result<Response, SmartTokenError> {
    let grant = AssertionGrant::from_params(params)?;
    // The assertion's `aud` must be the token URL as this client reached
    // it (the base honours --public-url and trusted forwarded headers).
    let base = base.map_err(|e| SmartTokenError::InvalidRequest(e.to_string()))?;
    let token_url = format!("{}/auth/token", base.0);
    let address = client_address(headers, peer, state.http.trust_forwarded_headers);
    let (token, scopes) = state
        .tokens
        .issue_for_assertion(&grant, &token_url, address)
        .await?;
    let body = AssertionTokenResponse {
        access_token: token.access_token,
        token_type: "bearer",
        expires_in: token.expires_in,
        scope: scopes.as_str().to_owned(),
    };
    Ok(no_store(Json(body).into_response()))
}

/// A token answer must not be cached (RFC 6749 §5.1).
fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
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

/// Whether the request carries an `Authorization: Basic` header (well
/// formed or not: either way it is BCDA's flow that answers).
fn has_basic_credentials(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
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

//! Authentication: client credentials, signing keys, access tokens, signed
//! download URLs.
//!
//! A client trades its id and secret for a short-lived JWT signed by the
//! server's own key ([`tokens::TokenService::issue`]), or, with SMART
//! Backend Services, a client assertion signed with a key it registered
//! ([`tokens::TokenService::issue_for_assertion`]); every later request is
//! verified locally ([`tokens::TokenService::verify`]): signature, expiry,
//! and one indexed query for revocation and the ACO's deny-list state. No
//! request calls another service.

pub mod assertion;
pub mod backend_services;
pub mod client_key_pair;
pub mod credentials;
pub mod jwks;
pub mod jwks_cache;
pub mod keys;
pub mod secrets;
pub mod throttle;
pub mod tokens;
pub mod url_signing;
pub mod verifier;

use std::time::Duration;

use crate::store::StoreError;

/// Why an authentication step failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown client id, wrong secret, or revoked credential.
    #[error("invalid client credentials")]
    InvalidCredentials,
    /// The secret is right but past its expiry date.
    #[error("client secret expired")]
    SecretExpired,
    /// The ACO asked for too many tokens in the rate-limit window.
    #[error("{cms_id} exceeded the token rate limit")]
    RateLimited {
        /// CMS ID of the ACO that hit the limit.
        cms_id: String,
        /// How long until one more token may be issued.
        retry_after: Duration,
    },
    /// The bearer token is missing, malformed, forged or unknown.
    #[error("invalid token")]
    InvalidToken,
    /// The bearer token has expired or was revoked.
    #[error("expired token")]
    ExpiredToken,
    /// The token's ACO is on the deny list.
    #[error("ACO (CMS_ID: {0}) is unauthorized")]
    AcoDenied(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Key material is missing or unusable (a server-side problem).
    #[error("key error: {0}")]
    Key(#[from] keys::KeyError),
}

/// Lifetime of an access token: 20 minutes, as in BCDA.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(20 * 60);

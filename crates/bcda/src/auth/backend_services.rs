//! SMART Backend Services at the token endpoint: the client-credentials
//! grant with a signed client assertion (the Bulk Data IG's
//! authentication), beside BCDA's HTTP Basic flow.
//!
//! [`AssertionGrant::from_params`] checks the request's parameters;
//! [`BackendServices::authenticate`] checks the assertion and finds the
//! key client it speaks for; [`super::tokens::TokenService::issue_for_assertion`]
//! puts them together with the failure throttle, the scopes and the token.
//! Every refusal is a [`SmartTokenError`], which the HTTP layer answers as
//! an OAuth 2.0 error (RFC 6749 §5.2), never as an OperationOutcome.

use std::time::Duration;

use time::OffsetDateTime;

use super::assertion::{self, CLIENT_ASSERTION_TYPE, UnverifiedAssertion};
use super::jwks::{ClientKey, KeySet};
use super::jwks_cache::{JwksCache, JwksFetchSettings};
use super::keys::KeyError;
use crate::clock::SharedClock;
use crate::store::credentials::{self, ClientKeys, CredentialRecord};
use crate::store::{Db, StoreError, client_assertion_ids};
use crate::telemetry::metrics::TokenRefusal;

/// Lifetime of a token obtained with an assertion: the IG's recommended
/// five minutes (it SHOULD NOT exceed 300 seconds).
pub const SMART_TOKEN_LIFETIME: Duration = Duration::from_secs(300);

/// The only grant type of SMART Backend Services.
pub const CLIENT_CREDENTIALS: &str = "client_credentials";

/// What an identity failure tells the client: the same words whether the
/// client id is unknown, revoked or has no keys, the key id unknown, the
/// signature wrong or the client's JWKS URL unreachable (the reason is
/// logged), so the answer reveals nothing about registrations.
pub const AUTHENTICATION_FAILED: &str = "The client assertion was not accepted: the client is \
     unknown or not registered for assertions, or no key it registered under this kid verifies \
     the signature.";

/// Settings of the assertion flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendServicesSettings {
    /// Tolerance for clock differences in `exp`, `iat` and `nbf`.
    pub clock_skew: Duration,
    /// How JWKS URLs are fetched and cached.
    pub jwks: JwksFetchSettings,
}

impl Default for BackendServicesSettings {
    fn default() -> Self {
        Self {
            clock_skew: Duration::from_secs(60),
            jwks: JwksFetchSettings::default(),
        }
    }
}

/// Why no token was issued for an assertion. The variants are the OAuth
/// error codes (and statuses) the token endpoint answers with.
#[derive(Debug, thiserror::Error)]
pub enum SmartTokenError {
    /// `invalid_request` (400): a parameter missing, repeated or wrong.
    #[error("{0}")]
    InvalidRequest(String),
    /// `unsupported_grant_type` (400).
    #[error("{0}")]
    UnsupportedGrantType(String),
    /// `invalid_client` (401): the assertion does not authenticate a client.
    #[error("{0}")]
    InvalidClient(String),
    /// `invalid_scope` (400): nothing of the requested scope can be granted.
    #[error("{0}")]
    InvalidScope(String),
    /// Too many failed attempts from this client id or address (429).
    #[error("too many failed token requests")]
    Throttled {
        /// How long until they may try again.
        retry_after: Duration,
    },
    /// The ACO's token rate limit (429).
    #[error("{cms_id} exceeded the token rate limit")]
    RateLimited {
        /// CMS ID of the ACO.
        cms_id: String,
        /// How long until one more token may be issued.
        retry_after: Duration,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Signing the token failed (a server-side problem).
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Anything else that went wrong on the server's side.
    #[error("{0}")]
    Internal(String),
}

impl SmartTokenError {
    /// The reason counted in `bcda_tokens_refused_total`
    /// (`unsupported_grant_type` counts as `invalid_request`).
    pub fn refusal(&self) -> TokenRefusal {
        match self {
            SmartTokenError::InvalidRequest(_) | SmartTokenError::UnsupportedGrantType(_) => {
                TokenRefusal::InvalidRequest
            }
            SmartTokenError::InvalidClient(_) => TokenRefusal::InvalidClient,
            SmartTokenError::InvalidScope(_) => TokenRefusal::InvalidScope,
            SmartTokenError::Throttled { .. } => TokenRefusal::Throttled,
            SmartTokenError::RateLimited { .. } => TokenRefusal::RateLimited,
            SmartTokenError::Store(_) | SmartTokenError::Key(_) | SmartTokenError::Internal(_) => {
                TokenRefusal::Other
            }
        }
    }

    /// Whether this is a failed authentication, which counts against the
    /// client id and address in the failure throttle.
    pub fn is_authentication_failure(&self) -> bool {
        matches!(self, SmartTokenError::InvalidClient(_))
    }
}

/// A client-credentials token request with a client assertion, its
/// parameters checked.
#[derive(Clone)]
pub struct AssertionGrant {
    /// The signed JWT (never logged).
    pub client_assertion: String,
    /// The requested scopes, space-separated (possibly empty).
    pub scope: String,
    /// The `client_id` parameter, which RFC 7521 lets a client add; when
    /// given it must be the assertion's `iss`.
    pub client_id: Option<String>,
}

impl std::fmt::Debug for AssertionGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssertionGrant")
            .field("scope", &self.scope)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl AssertionGrant {
    /// Checks the form parameters of a token request that carries a client
    /// assertion: `grant_type=client_credentials`, the JWT-bearer
    /// `client_assertion_type`, a `client_assertion` and a `scope`, none
    /// repeated (RFC 6749 §3.2). Other parameters are ignored, as RFC 6749
    /// asks. (A request with HTTP Basic credentials never comes here: BCDA's
    /// flow answers it and ignores the body.)
    pub fn from_params(params: &[(String, String)]) -> Result<Self, SmartTokenError> {
        let invalid = |message: &str| SmartTokenError::InvalidRequest(message.to_owned());
        let one = |name: &str| -> Result<Option<&str>, SmartTokenError> {
            let mut values = params.iter().filter(|(n, _)| n == name);
            let first = values.next().map(|(_, v)| v.as_str());
            if values.next().is_some() {
                return Err(invalid(&format!("The {name} parameter is repeated.")));
            }
            Ok(first)
        };
        let grant_type = one("grant_type")?;
        let assertion_type = one("client_assertion_type")?;
        let client_assertion = one("client_assertion")?;
        let scope = one("scope")?;
        let client_id = one("client_id")?;
        match grant_type {
            None | Some("") => return Err(invalid("The grant_type parameter is required.")),
            Some(CLIENT_CREDENTIALS) => {}
            Some(_) => {
                return Err(SmartTokenError::UnsupportedGrantType(
                    "Only the client_credentials grant is supported.".to_owned(),
                ));
            }
        }
        if assertion_type != Some(CLIENT_ASSERTION_TYPE) {
            return Err(invalid(&format!(
                "The client_assertion_type parameter must be {CLIENT_ASSERTION_TYPE}."
            )));
        }
        let client_assertion = client_assertion
            .filter(|a| !a.is_empty())
            .ok_or_else(|| invalid("The client_assertion parameter is required."))?;
        let scope = scope.ok_or_else(|| {
            invalid("The scope parameter is required (for example system/*.read).")
        })?;
        Ok(Self {
            client_assertion: client_assertion.to_owned(),
            scope: scope.to_owned(),
            client_id: client_id.map(str::to_owned),
        })
    }
}

/// Checks client assertions against registered keys.
#[derive(Debug)]
pub struct BackendServices {
    settings: BackendServicesSettings,
    jwks: JwksCache,
}

impl BackendServices {
    /// The flow with these settings, `clock` timing its JWKS cache.
    pub fn new(settings: BackendServicesSettings, clock: SharedClock) -> Self {
        Self {
            jwks: JwksCache::new(settings.jwks, clock),
            settings,
        }
    }

    /// Checks the grant's assertion for the token endpoint at `token_url`
    /// and returns the key client it authenticates. In order: the
    /// assertion's header and claims ([`assertion::read`]); the client (a
    /// key client, not revoked); `jku`, if given, the client's registered
    /// JWKS URL; the key by `kid` and algorithm; the signature; the
    /// registration's expiry; and last, the `jti`, recorded so the
    /// assertion cannot be used again. Only a correctly signed assertion
    /// records a `jti` or learns that the registration expired.
    pub async fn authenticate(
        &self,
        db: &Db,
        now: OffsetDateTime,
        grant: &AssertionGrant,
        token_url: &str,
    ) -> Result<CredentialRecord, SmartTokenError> {
        let assertion = &grant.client_assertion;
        let claimed = assertion::read(assertion, token_url, now, self.settings.clock_skew)
            .map_err(|refusal| {
                tracing::info!(reason = %refusal, "client assertion refused");
                SmartTokenError::InvalidClient(refusal.0)
            })?;
        let refuse = |reason: &str| {
            tracing::info!(client_id = %claimed.client_id, reason, "client assertion refused");
            SmartTokenError::InvalidClient(AUTHENTICATION_FAILED.to_owned())
        };
        if grant
            .client_id
            .as_deref()
            .is_some_and(|id| id != claimed.client_id)
        {
            return Err(SmartTokenError::InvalidClient(
                "The client_id parameter must be the client assertion's iss.".to_owned(),
            ));
        }
        let credential = match credentials::find(db, &claimed.client_id).await? {
            None => return Err(refuse("unknown client id")),
            Some(c) if c.revoked_at.is_some() => return Err(refuse("revoked client")),
            Some(c) => c,
        };
        let Some(keys) = &credential.keys else {
            return Err(refuse("a secret client (it has no registered keys)"));
        };
        let key = self
            .registered_key(keys, &claimed)
            .await
            .map_err(|reason| refuse(&reason))?;
        assertion::verify(assertion, &key).map_err(|_| refuse("bad signature"))?;
        if now >= credential.expires_at {
            tracing::info!(client_id = %claimed.client_id, "client assertion of an expired registration refused");
            return Err(SmartTokenError::InvalidClient(
                "The client's registration has expired; ask the administrator to renew it \
                 (bcda credentials keys)."
                    .to_owned(),
            ));
        }
        if !client_assertion_ids::record(db, &claimed.client_id, &claimed.jti, claimed.usable_until)
            .await?
        {
            tracing::info!(client_id = %claimed.client_id, "replayed client assertion refused");
            return Err(SmartTokenError::InvalidClient(
                "This client assertion was already used (its jti): sign a new one for every \
                 token request."
                    .to_owned(),
            ));
        }
        Ok(credential)
    }

    /// The registered key the assertion names (the `Err` is the reason,
    /// for the log).
    async fn registered_key(
        &self,
        keys: &ClientKeys,
        claimed: &UnverifiedAssertion,
    ) -> Result<ClientKey, String> {
        let (alg, kid) = (claimed.alg, claimed.kid.as_str());
        match keys {
            ClientKeys::Inline(jwks) => {
                if claimed.jku.is_some() {
                    return Err("a jku header, but the client registered its keys inline".into());
                }
                KeySet::parse(jwks)
                    .map_err(|e| format!("the registered JWKS is unusable: {e}"))?
                    .find(kid, alg)
                    .cloned()
                    .ok_or_else(|| format!("no registered {} key with this kid", alg.as_str()))
            }
            ClientKeys::Url(url) => {
                if claimed.jku.as_deref().is_some_and(|jku| jku != url) {
                    return Err("the jku header is not the registered JWKS URL".into());
                }
                match self.jwks.key(url, kid, alg).await {
                    Ok(Some(key)) => Ok(key),
                    Ok(None) => Err(format!(
                        "no {} key with this kid at the registered JWKS URL",
                        alg.as_str()
                    )),
                    Err(_) => Err("the registered JWKS URL is unavailable".into()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn good() -> Vec<(&'static str, &'static str)> {
        vec![
            ("grant_type", "client_credentials"),
            ("client_assertion_type", CLIENT_ASSERTION_TYPE),
            ("client_assertion", "a.b.c"),
            ("scope", "system/*.read"),
        ]
    }

    fn error(pairs: &[(&str, &str)]) -> (String, String) {
        match AssertionGrant::from_params(&params(pairs)) {
            Ok(_) => panic!("accepted {pairs:?}"),
            Err(e) => (
                format!("{e:?}")
                    .split('(')
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
                e.to_string(),
            ),
        }
    }

    #[test]
    fn a_complete_request_is_accepted() {
        let mut pairs = good();
        pairs.push(("unknown", "ignored"));
        pairs.push(("client_id", "c1"));
        let grant = AssertionGrant::from_params(&params(&pairs)).expect("accepted");
        assert_eq!(grant.client_assertion, "a.b.c");
        assert_eq!(grant.scope, "system/*.read");
        assert_eq!(grant.client_id.as_deref(), Some("c1"));
        assert!(
            !format!("{grant:?}").contains("a.b.c"),
            "the assertion is never shown"
        );
        let mut empty_scope = good();
        empty_scope[3] = ("scope", "");
        assert!(AssertionGrant::from_params(&params(&empty_scope)).is_ok());
    }

    #[test]
    fn each_parameter_problem_has_its_error() {
        let without = |name: &str| -> Vec<(&str, &str)> {
            good().into_iter().filter(|(n, _)| *n != name).collect()
        };
        let replaced = |name: &'static str, value: &'static str| -> Vec<(&str, &str)> {
            good()
                .into_iter()
                .map(|(n, v)| if n == name { (n, value) } else { (n, v) })
                .collect()
        };
        let mut repeated = good();
        repeated.push(("scope", "system/*.rs"));
        let cases = [
            (
                without("grant_type"),
                "InvalidRequest",
                "The grant_type parameter is required.",
            ),
            (
                replaced("grant_type", "password"),
                "UnsupportedGrantType",
                "Only the client_credentials grant is supported.",
            ),
            (
                without("client_assertion_type"),
                "InvalidRequest",
                "The client_assertion_type parameter must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer.",
            ),
            (
                replaced("client_assertion_type", "x"),
                "InvalidRequest",
                "The client_assertion_type parameter must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer.",
            ),
            (
                replaced("client_assertion", ""),
                "InvalidRequest",
                "The client_assertion parameter is required.",
            ),
            (
                without("scope"),
                "InvalidRequest",
                "The scope parameter is required (for example system/*.read).",
            ),
            (
                repeated,
                "InvalidRequest",
                "The scope parameter is repeated.",
            ),
        ];
        for (pairs, kind, message) in cases {
            assert_eq!(
                error(&pairs),
                (kind.to_owned(), message.to_owned()),
                "{pairs:?}"
            );
        }
    }
}

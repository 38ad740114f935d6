//! Issuing and verifying access tokens.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::backend_services::{
    AssertionGrant, BackendServices, BackendServicesSettings, SMART_TOKEN_LIFETIME, SmartTokenError,
};
use super::keys::Keyring;
use super::throttle::{FailureThrottle, ThrottleSettings};
use super::verifier::{Busy, SecretVerifier, VerifierSettings, VerifierStats};
use super::{AuthError, TOKEN_LIFETIME};
use crate::clock::SharedClock;
use crate::domain::Scopes;
use crate::store::access_tokens::{self, NewAccessToken};
use crate::store::credentials::CredentialRecord;
use crate::store::{Db, Tx, credentials};
use crate::telemetry::metrics::TokenRefusal;

/// The `iss` of every token this server issues.
pub const ISSUER: &str = "bcda";

/// Token issuing limits.
#[derive(Debug, Clone, Copy)]
pub struct TokenSettings {
    /// Tokens an ACO may obtain per window (BCDA: 100).
    pub rate_limit: u64,
    /// The rate-limit window (BCDA: 5 minutes).
    pub rate_window: Duration,
    /// The bound on concurrent secret verifications.
    pub verifier: VerifierSettings,
    /// The throttle on failed attempts per client id and address.
    pub throttle: ThrottleSettings,
    /// SMART Backend Services: clock skew, JWKS URL fetching.
    pub backend_services: BackendServicesSettings,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            rate_limit: 100,
            rate_window: Duration::from_secs(5 * 60),
            verifier: VerifierSettings::default(),
            throttle: ThrottleSettings::default(),
            backend_services: BackendServicesSettings::default(),
        }
    }
}

/// Why a token was not issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// The client id or the address had too many failed attempts; the
    /// secret was not looked at. The same for known and unknown ids.
    #[error("too many failed token requests")]
    Throttled {
        /// How long until the id and the address may try again.
        retry_after: Duration,
    },
    /// Every verification slot stayed taken for the whole wait.
    #[error("secret verification is saturated")]
    Busy,
    /// Credentials refused, ACO rate limit, or a server-side failure.
    #[error(transparent)]
    Auth(#[from] AuthError),
}

impl IssueError {
    /// The reason counted in `bcda_tokens_refused_total`.
    pub fn refusal(&self) -> TokenRefusal {
        match self {
            IssueError::Throttled { .. } => TokenRefusal::Throttled,
            IssueError::Auth(AuthError::InvalidCredentials) => TokenRefusal::InvalidCredentials,
            IssueError::Auth(AuthError::SecretExpired) => TokenRefusal::ExpiredSecret,
            IssueError::Auth(AuthError::RateLimited { .. }) => TokenRefusal::RateLimited,
            IssueError::Busy | IssueError::Auth(_) => TokenRefusal::Other,
        }
    }
}

impl From<crate::store::StoreError> for IssueError {
    fn from(e: crate::store::StoreError) -> Self {
        IssueError::Auth(e.into())
    }
}

impl From<super::keys::KeyError> for IssueError {
    fn from(e: super::keys::KeyError) -> Self {
        IssueError::Auth(e.into())
    }
}

impl From<Busy> for IssueError {
    fn from(_: Busy) -> Self {
        IssueError::Busy
    }
}

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer: always [`ISSUER`].
    pub iss: String,
    /// Subject: the client id the token was issued to.
    pub sub: String,
    /// The CMS ID of the client's ACO (informational; the database is the
    /// authority on which ACO a token acts for).
    pub aco: String,
    /// Token id, for revocation.
    pub jti: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
    /// The SMART scopes granted (space-separated), for a token obtained
    /// with SMART Backend Services; absent on Basic-auth tokens, which
    /// have full access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// A freshly issued token.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The signed JWT, for the `Authorization: Bearer` header.
    pub access_token: String,
    /// Seconds until it expires: the lifetime it was minted with.
    pub expires_in: u64,
    /// Its id (the JWT `jti`, a random UUID), as recorded in `access_tokens`.
    pub jti: String,
}

/// Who a verified token speaks for.
#[derive(Debug, Clone)]
pub struct Principal {
    /// Internal id (`acos.id`) of the ACO the token acts for; jobs are owned by it.
    pub aco_id: Uuid,
    /// The ACO's CMS ID (e.g. `A9994`): the request log's `aco` field, and what the duplicate-job
    /// exemption matches.
    pub cms_id: String,
    /// The credential the token was issued to (the token's `sub`).
    pub client_id: String,
    /// The token's id (JWT `jti`): what revocation names.
    pub token_id: String,
    /// The resource types the token may export (full for Basic-auth tokens).
    pub scopes: Scopes,
}

/// Issues and verifies tokens.
pub struct TokenService {
    db: Db,
    clock: SharedClock,
    keyring: Arc<Keyring>,
    settings: TokenSettings,
    verifier: SecretVerifier,
    throttle: FailureThrottle,
    backend_services: BackendServices,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl TokenService {
    /// A token service over `db`'s credentials and `keyring`'s keys.
    pub fn new(db: Db, clock: SharedClock, keyring: Arc<Keyring>, settings: TokenSettings) -> Self {
        let clock_for_jwks = clock.clone();
        Self {
            db,
            clock,
            keyring,
            verifier: SecretVerifier::new(settings.verifier),
            throttle: FailureThrottle::new(settings.throttle),
            backend_services: BackendServices::new(settings.backend_services, clock_for_jwks),
            settings,
        }
    }

    /// How many secret verifications ran, and the most at once.
    pub fn verifier_stats(&self) -> VerifierStats {
        self.verifier.stats()
    }

    /// The failure throttle (its size, for tests of the bound).
    pub fn throttle(&self) -> &FailureThrottle {
        &self.throttle
    }

    /// The keyring (for rotation by admin commands).
    pub fn keyring(&self) -> &Arc<Keyring> {
        &self.keyring
    }

    /// Trades a client id and secret for a token. `address` is the
    /// client's, for the per-address failure throttle (`None`: not known,
    /// only the client id is throttled).
    ///
    /// In order: the throttle (no verification, no query, for an id or
    /// address with too many recent failures); the credential; a turn at
    /// the bounded verifier (the throttle is asked again once the turn
    /// comes, so a queue behind a failing burst does not verify); the
    /// verification (against a decoy hash for an unknown id); then the
    /// ACO's rate limit and the token's record in one transaction.
    pub async fn issue(
        &self,
        client_id: &str,
        secret: &str,
        address: Option<IpAddr>,
    ) -> Result<IssuedToken, IssueError> {
        self.check_throttle(client_id, address)?;
        let credential = credentials::find(&self.db, client_id).await?;
        // A key client has no secret: its id is checked against the decoy,
        // as an unknown id is, and never succeeds here.
        let hash = credential
            .as_ref()
            .filter(|c| c.keys.is_none())
            .map(|c| c.secret_hash.clone());
        let secret_ok = self
            .verifier
            .verify_when(secret.to_owned(), hash, || {
                self.check_throttle(client_id, address)
            })
            .await?;
        let credential = match credential {
            Some(c) if secret_ok && c.revoked_at.is_none() => c,
            _ => {
                self.throttle
                    .record_failure(client_id, address, self.clock.now());
                return Err(AuthError::InvalidCredentials.into());
            }
        };
        self.throttle.record_success(client_id);
        let now = self.clock.now();
        if now >= credential.expires_at {
            return Err(AuthError::SecretExpired.into());
        }
        self.mint(&credential, &Scopes::full(), TOKEN_LIFETIME)
            .await
    }

    /// Trades a client assertion (SMART Backend Services) for a token
    /// limited to the scopes granted of those requested, lasting
    /// [`SMART_TOKEN_LIFETIME`]. `token_url` is this server's token URL as
    /// the client reached it (the assertion's `aud`); `address` is the
    /// client's, for the failure throttle.
    ///
    /// In order: the throttle, keyed by the client id the assertion claims
    /// (no lookup or fetch for an id or address with too many recent
    /// failures); the assertion ([`BackendServices::authenticate`]), whose
    /// failure counts against the id and address as a wrong secret does;
    /// the scopes; then the token, under the ACO's rate limit.
    pub async fn issue_for_assertion(
        &self,
        grant: &AssertionGrant,
        token_url: &str,
        address: Option<IpAddr>,
    ) -> Result<(IssuedToken, Scopes), SmartTokenError> {
        let claimed = super::assertion::claimed_issuer(&grant.client_assertion);
        self.throttle
            .check(&claimed, address, self.clock.now())
            .map_err(|retry_after| SmartTokenError::Throttled { retry_after })?;
        let credential = match self
            .backend_services
            .authenticate(&self.db, self.clock.now(), grant, token_url)
            .await
        {
            Ok(credential) => credential,
            Err(e) => {
                if e.is_authentication_failure() {
                    self.throttle
                        .record_failure(&claimed, address, self.clock.now());
                }
                return Err(e);
            }
        };
        self.throttle.record_success(&credential.client_id);
        let scopes = Scopes::grant(&grant.scope).ok_or_else(|| {
            SmartTokenError::InvalidScope(
                "None of the requested scopes can be granted: ask for system/*.read (or \
                 system/*.rs), or system/<type>.read for the types you need."
                    .to_owned(),
            )
        })?;
        let token = self
            .mint(&credential, &scopes, SMART_TOKEN_LIFETIME)
            .await
            .map_err(|e| match e {
                IssueError::Auth(AuthError::RateLimited {
                    cms_id,
                    retry_after,
                }) => SmartTokenError::RateLimited {
                    cms_id,
                    retry_after,
                },
                IssueError::Auth(AuthError::Store(e)) => SmartTokenError::Store(e),
                IssueError::Auth(AuthError::Key(e)) => SmartTokenError::Key(e),
                // `mint` neither throttles, waits for a verifier nor
                // checks tokens: nothing else comes out of it today.
                other => SmartTokenError::Internal(other.to_string()),
            })?;
        Ok((token, scopes))
    }

    /// Signs and records a token for a credential that has authenticated
    /// (by secret or by a signed assertion), with the scopes granted and a
    /// lifetime: what every token-issuing flow ends in. The ACO's token
    /// rate limit is counted here, so it holds across flows.
    pub async fn mint(
        &self,
        credential: &CredentialRecord,
        scopes: &Scopes,
        lifetime: Duration,
    ) -> Result<IssuedToken, IssueError> {
        let now = self.clock.now();
        let key = self.keyring.signing_key().await?;
        let expires_at = now + lifetime;
        let jti = Uuid::new_v4().to_string();
        let claims = Claims {
            iss: ISSUER.to_owned(),
            sub: credential.client_id.clone(),
            aco: credential.cms_id.clone(),
            jti: jti.clone(),
            iat: now.unix_timestamp(),
            exp: expires_at.unix_timestamp(),
            scope: (!scopes.is_full()).then(|| scopes.as_str().to_owned()),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        let access_token =
            jsonwebtoken::encode(&header, &claims, &key.encoding_key).map_err(|e| {
                super::keys::KeyError::Unusable {
                    kid: key.kid.clone(),
                    message: e.to_string(),
                }
            })?;
        // Count and insert in one transaction serialized per ACO: without
        // it a burst counted the same window twice and overshot the limit.
        let mut tx = self.db.begin().await?;
        tx.serialize_on(&format!("tokens:{}", credential.aco_id))
            .await?;
        if let Some(retry_after) = self
            .rate_limit_wait(&mut tx, credential.aco_id, now)
            .await?
        {
            // End the transaction (and its lock) now (see Tx::rollback).
            tx.rollback().await?;
            return Err(AuthError::RateLimited {
                cms_id: credential.cms_id.clone(),
                retry_after,
            }
            .into());
        }
        access_tokens::insert(
            &mut tx,
            &NewAccessToken {
                jti: &jti,
                client_id: &credential.client_id,
                aco_id: credential.aco_id,
                kid: &key.kid,
                issued_at: now,
                expires_at,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(IssuedToken {
            access_token,
            expires_in: lifetime.as_secs(),
            jti,
        })
    }

    fn check_throttle(&self, client_id: &str, address: Option<IpAddr>) -> Result<(), IssueError> {
        self.throttle
            .check(client_id, address, self.clock.now())
            .map_err(|retry_after| IssueError::Throttled { retry_after })
    }

    /// How long until the ACO may have another token, when it already has
    /// `rate_limit` tokens issued within the window (`None`: it may have
    /// one now). Runs in the transaction that records the token, after it
    /// serialized on the ACO, so the count is exact.
    async fn rate_limit_wait(
        &self,
        tx: &mut Tx,
        aco_id: Uuid,
        now: OffsetDateTime,
    ) -> Result<Option<Duration>, crate::store::StoreError> {
        let window_start = now - self.settings.rate_window;
        let (count, earliest) = access_tokens::issued_since(tx, aco_id, window_start).await?;
        if u64::try_from(count).unwrap_or(u64::MAX) < self.settings.rate_limit {
            return Ok(None);
        }
        // One slot frees when the earliest token in the window leaves it.
        let frees_at = earliest.unwrap_or(now) + self.settings.rate_window;
        let wait = (frees_at - now).max(time::Duration::ZERO);
        let secs = wait.whole_seconds() + i64::from(wait.subsec_nanoseconds() > 0);
        Ok(Some(Duration::from_secs(
            u64::try_from(secs.max(1)).unwrap_or(1),
        )))
    }

    /// Checks a presented token and says whom it speaks for.
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let (kid, claims) = self.verify_signature(token).await?;
        let now = self.clock.now();
        if now.unix_timestamp() >= claims.exp {
            return Err(AuthError::ExpiredToken);
        }
        let Some(standing) = access_tokens::standing(&self.db, &claims.jti).await? else {
            // A well-signed token we have no record of: never issued, or
            // purged long after expiry.
            return Err(AuthError::InvalidToken);
        };
        if standing.kid != kid || standing.client_id != claims.sub {
            return Err(AuthError::InvalidToken);
        }
        if now >= standing.expires_at
            || standing.token_revoked_at.is_some()
            || standing.credential_revoked_at.is_some()
        {
            return Err(AuthError::ExpiredToken);
        }
        if standing.aco_denied_at.is_some() {
            return Err(AuthError::AcoDenied(standing.cms_id));
        }
        Ok(Principal {
            aco_id: standing.aco_id,
            cms_id: standing.cms_id,
            client_id: standing.client_id,
            scopes: Scopes::from_claim(claims.scope.as_deref()),
            token_id: claims.jti,
        })
    }

    /// Checks a token's signature, algorithm and issuer (not its expiry or
    /// standing) and returns its key id and claims.
    pub async fn verify_signature(&self, token: &str) -> Result<(String, Claims), AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::InvalidToken)?;
        // Only our own algorithm: this refuses `alg: none` and HMAC tokens
        // keyed with a public key, before any key is looked at.
        if header.alg != Algorithm::EdDSA {
            return Err(AuthError::InvalidToken);
        }
        let kid = header.kid.ok_or(AuthError::InvalidToken)?;
        let key = self
            .keyring
            .verifying_key(&kid)
            .await?
            .ok_or(AuthError::InvalidToken)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        // Expiry is checked against the injected clock by the caller.
        validation.validate_exp = false;
        validation.required_spec_claims = ["exp", "iss", "sub"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        validation.set_issuer(&[ISSUER]);
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|_| AuthError::InvalidToken)?;
        Ok((kid, data.claims))
    }

    /// Revokes a token given as a JWT (whose signature must be ours) or as a
    /// token id. Returns the token id, or `None` if no such token is on
    /// record (tokens are forgotten some time after they expire).
    pub async fn revoke(&self, token_or_id: &str) -> Result<Option<String>, AuthError> {
        let jti = if token_or_id.contains('.') {
            self.verify_signature(token_or_id).await?.1.jti
        } else {
            token_or_id.to_owned()
        };
        let found = access_tokens::revoke(&self.db, &jti, self.clock.now()).await?;
        Ok(found.then_some(jti))
    }
}

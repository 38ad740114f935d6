//! Administering client credentials: create, reset, revoke, list; and
//! SMART Backend Services clients, which register public keys instead of
//! getting a secret.
//!
//! Key clients expire as secret clients do (default 90 days, CMS's rule
//! for credentials), and registering their keys again (`replace_keys`,
//! `bcda credentials keys`) renews them, as a reset renews a secret. SMART
//! registrations often never expire, but BCDA's credentials do, and an
//! expiry that key rotation renews keeps an administrator's view of who
//! can still get tokens current; a client publishing a JWKS URL is renewed
//! by registering the same URL again.

use std::time::Duration;

use time::OffsetDateTime;

use super::jwks::{JwksError, KeySet, check_jwks_url};
use super::keys::KeyError;
use super::secrets;
use crate::clock::Clock;
use crate::store::credentials::{self as store, ClientKeys, CredentialRecord};
use crate::store::{Db, StoreError, access_tokens, acos};

/// How long a new secret is accepted (BCDA: 90 days).
pub const DEFAULT_SECRET_LIFETIME: Duration = Duration::from_secs(90 * 24 * 60 * 60);

/// A credential whose secret is shown now and never again.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NewCredentials {
    /// The new client id, a random UUID: the Basic-auth user name.
    pub client_id: String,
    /// The secret, in the clear, once.
    pub client_secret: String,
    /// When the secret stops being accepted: creation (or reset) time plus the lifetime asked for.
    #[serde(serialize_with = "serialize_date_time")]
    pub expires_at: OffsetDateTime,
}

fn serialize_date_time<S: serde::Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::fhir::time_format::fhir_date_time(*t))
}

/// Why a credentials command failed.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// No ACO has that CMS ID.
    #[error("no ACO with CMS ID {0}")]
    UnknownAco(String),
    /// No credential has that client id.
    #[error("no credentials with client id {0}")]
    UnknownClient(String),
    /// The credential was revoked; make new credentials instead.
    #[error("credentials {0} were revoked and cannot be reset; create new ones")]
    Revoked(String),
    /// A secret was asked of a key client.
    #[error(
        "credentials {0} authenticate with registered keys and have no secret; replace their keys with `bcda credentials keys`"
    )]
    KeyClient(String),
    /// Keys were given for a secret client.
    #[error("credentials {0} authenticate with a secret; create a key client for keys")]
    SecretClient(String),
    /// The JWKS given is not one a client may register.
    #[error(transparent)]
    InvalidJwks(#[from] JwksError),
    /// The JWKS URL given is not one a client may register.
    #[error("invalid JWKS URL {url:?}: {problem}")]
    InvalidJwksUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Randomness or hashing failed.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// A key client just registered, or whose keys were replaced: nothing
/// secret to show.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyClient {
    /// The client id: the `iss` and `sub` of its client assertions.
    pub client_id: String,
    /// How it authenticates: `private_key_jwt` (the SMART discovery name).
    pub auth_method: &'static str,
    /// The ids (`kid`) of the usable keys of an inline JWKS (empty for a
    /// JWKS URL, whose keys are fetched when needed).
    pub kids: Vec<String>,
    /// The JWKS URL, for a client registered by URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_url: Option<String>,
    /// When the registration stops being accepted: now plus the lifetime
    /// asked for.
    #[serde(serialize_with = "serialize_date_time")]
    pub expires_at: OffsetDateTime,
}

/// The name of the assertion authentication method.
pub const PRIVATE_KEY_JWT: &str = "private_key_jwt";

/// Checks keys a client registers (see [`KeySet::parse`] and
/// [`check_jwks_url`]); an inline JWKS is returned compacted, and the
/// usable key ids listed.
pub fn check_keys(keys: ClientKeys) -> Result<(ClientKeys, Vec<String>), CredentialsError> {
    match keys {
        ClientKeys::Inline(jwks) => {
            let set = KeySet::parse(&jwks)?;
            let compact = serde_json::from_str::<serde_json::Value>(&jwks)
                .map(|v| v.to_string())
                .map_err(|e| JwksError::NotJson(e.to_string()))?;
            let kids = set.keys().iter().map(|k| k.kid.clone()).collect();
            Ok((ClientKeys::Inline(compact), kids))
        }
        ClientKeys::Url(url) => match check_jwks_url(&url) {
            Ok(url) => Ok((ClientKeys::Url(url), Vec::new())),
            Err(problem) => Err(CredentialsError::InvalidJwksUrl { url, problem }),
        },
    }
}

/// Registers a key client for the ACO `cms_id`: it authenticates with
/// assertions signed by `keys` (checked first) until `lifetime` from now.
pub async fn create_key_client(
    db: &Db,
    clock: &dyn Clock,
    cms_id: &str,
    keys: ClientKeys,
    lifetime: Duration,
) -> Result<KeyClient, CredentialsError> {
    let (keys, kids) = check_keys(keys)?;
    let aco = acos::find_by_cms_id(db, cms_id)
        .await?
        .ok_or_else(|| CredentialsError::UnknownAco(cms_id.to_owned()))?;
    let client_id = secrets::generate_client_id();
    let now = clock.now();
    let expires_at = now + lifetime;
    store::insert_key_client(db, &client_id, aco.id, &keys, now, expires_at).await?;
    Ok(key_client(client_id, keys, kids, expires_at))
}

/// Replaces a key client's registered keys (rotation), renewing its
/// lifetime. Tokens it already has stay valid until they expire (five
/// minutes at most): replacing keys is routine, unlike a reset after a
/// leak (revoke the client for that).
pub async fn replace_keys(
    db: &Db,
    clock: &dyn Clock,
    client_id: &str,
    keys: ClientKeys,
    lifetime: Duration,
) -> Result<KeyClient, CredentialsError> {
    let (keys, kids) = check_keys(keys)?;
    let existing = store::find(db, client_id)
        .await?
        .ok_or_else(|| CredentialsError::UnknownClient(client_id.to_owned()))?;
    if existing.revoked_at.is_some() {
        return Err(CredentialsError::Revoked(client_id.to_owned()));
    }
    if existing.keys.is_none() {
        return Err(CredentialsError::SecretClient(client_id.to_owned()));
    }
    let now = clock.now();
    let expires_at = now + lifetime;
    let mut tx = db.begin().await?;
    if !store::replace_keys(&mut tx, client_id, &keys, now, expires_at).await? {
        return Err(CredentialsError::Revoked(client_id.to_owned()));
    }
    tx.commit().await?;
    Ok(key_client(client_id.to_owned(), keys, kids, expires_at))
}

fn key_client(
    client_id: String,
    keys: ClientKeys,
    kids: Vec<String>,
    expires_at: OffsetDateTime,
) -> KeyClient {
    KeyClient {
        client_id,
        auth_method: PRIVATE_KEY_JWT,
        kids,
        jwks_url: match keys {
            ClientKeys::Url(url) => Some(url),
            ClientKeys::Inline(_) => None,
        },
        expires_at,
    }
}

/// Makes a new client id and secret for the ACO `cms_id`.
pub async fn create(
    db: &Db,
    clock: &dyn Clock,
    cms_id: &str,
    lifetime: Duration,
) -> Result<NewCredentials, CredentialsError> {
    let aco = acos::find_by_cms_id(db, cms_id)
        .await?
        .ok_or_else(|| CredentialsError::UnknownAco(cms_id.to_owned()))?;
    let (secret, hash) = new_secret().await?;
    let client_id = secrets::generate_client_id();
    let now = clock.now();
    let expires_at = now + lifetime;
    store::insert(db, &client_id, aco.id, &hash, now, expires_at).await?;
    Ok(NewCredentials {
        client_id,
        client_secret: secret,
        expires_at,
    })
}

/// Gives an existing client id a new secret (the old one stops working at
/// once) with a fresh lifetime. Tokens obtained with the old secret are
/// revoked in the same transaction: a reset is what an administrator does
/// when a secret leaked, and the leak's tokens must stop working too.
pub async fn reset(
    db: &Db,
    clock: &dyn Clock,
    client_id: &str,
    lifetime: Duration,
) -> Result<NewCredentials, CredentialsError> {
    let existing = store::find(db, client_id)
        .await?
        .ok_or_else(|| CredentialsError::UnknownClient(client_id.to_owned()))?;
    if existing.revoked_at.is_some() {
        return Err(CredentialsError::Revoked(client_id.to_owned()));
    }
    if existing.keys.is_some() {
        return Err(CredentialsError::KeyClient(client_id.to_owned()));
    }
    let (secret, hash) = new_secret().await?;
    let now = clock.now();
    let expires_at = now + lifetime;
    let mut tx = db.begin().await?;
    if !store::replace_secret(&mut tx, client_id, &hash, now, expires_at).await? {
        // Revoked between the read and the write (dropping `tx` rolls back).
        return Err(CredentialsError::Revoked(client_id.to_owned()));
    }
    access_tokens::revoke_all_of_client(&mut tx, client_id, now).await?;
    tx.commit().await?;
    Ok(NewCredentials {
        client_id: client_id.to_owned(),
        client_secret: secret,
        expires_at,
    })
}

/// Revokes a credential: its secret and every token issued with it stop
/// working at once. (Token checks also look at the credential's own
/// revocation; marking the tokens too, in the same transaction, keeps the
/// token records true on their own.)
pub async fn revoke(db: &Db, clock: &dyn Clock, client_id: &str) -> Result<(), CredentialsError> {
    let now = clock.now();
    let mut tx = db.begin().await?;
    if !store::revoke(&mut tx, client_id, now).await? {
        return Err(CredentialsError::UnknownClient(client_id.to_owned()));
    }
    access_tokens::revoke_all_of_client(&mut tx, client_id, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Lists credentials (never their secrets, which are not stored).
pub async fn list(
    db: &Db,
    cms_id: Option<&str>,
) -> Result<Vec<CredentialRecord>, CredentialsError> {
    Ok(store::list(db, cms_id).await?)
}

async fn new_secret() -> Result<(String, String), CredentialsError> {
    let secret = secrets::generate_secret()?;
    let for_hash = secret.clone();
    let hash = tokio::task::spawn_blocking(move || secrets::hash_secret(&for_hash))
        .await
        .map_err(|e| KeyError::Hash(e.to_string()))??;
    Ok((secret, hash))
}

//! Administering client credentials: create, reset, revoke, list.

use std::time::Duration;

use time::OffsetDateTime;

use super::keys::KeyError;
use super::secrets;
use crate::clock::Clock;
use crate::store::credentials::{self as store, CredentialRecord};
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
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Randomness or hashing failed.
    #[error(transparent)]
    Key(#[from] KeyError),
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

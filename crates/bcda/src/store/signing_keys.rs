//! The `signing_keys` table: the server's token-signing key pairs, private
//! halves sealed under the key file.

use time::OffsetDateTime;

use super::{Db, StoreError, impl_from_row, with_pool};
use crate::clock::{from_epoch_ms, to_epoch_ms};

/// One row of the `signing_keys` table (columns in `migrations/*/0001_foundation.sql`).
#[derive(Clone)]
pub struct SigningKeyRecord {
    /// Key id, sent in the JWT header.
    pub kid: String,
    /// JWS algorithm name: `EdDSA` for every key this server makes; a key with another is refused.
    pub algorithm: String,
    /// The raw 32-byte Ed25519 public key.
    pub public_key: Vec<u8>,
    /// Private key, encrypted (see `auth::keys`).
    pub sealed_private_key: Vec<u8>,
    /// When the key was made; the newest unretired key signs.
    pub created_at: OffsetDateTime,
    /// When a newer key took over signing.
    pub retired_at: Option<OffsetDateTime>,
}

impl std::fmt::Debug for SigningKeyRecord {
    // Even sealed, private key bytes have no business in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

impl_from_row!(SigningKeyRecord, |row| {
    Ok(SigningKeyRecord {
        kid: row.try_get("kid")?,
        algorithm: row.try_get("algorithm")?,
        public_key: row.try_get("public_key")?,
        sealed_private_key: row.try_get("sealed_private_key")?,
        created_at: from_epoch_ms(row.try_get("created_at")?),
        retired_at: row
            .try_get::<Option<i64>, _>("retired_at")?
            .map(from_epoch_ms),
    })
});

/// `SELECT <every column> FROM signing_keys <tail>` as one static string.
macro_rules! select {
    ($tail:literal) => {
        concat!(
            "SELECT kid, algorithm, public_key, sealed_private_key, created_at, retired_at \
             FROM signing_keys ",
            $tail
        )
    };
}

/// The key that signs new tokens: the newest one not retired.
pub async fn current(db: &Db) -> Result<Option<SigningKeyRecord>, StoreError> {
    Ok(with_pool!(db, |pool| {
        sqlx::query_as(select!(
            "WHERE retired_at IS NULL ORDER BY created_at DESC, kid DESC LIMIT 1"
        ))
        .fetch_optional(pool)
        .await?
    }))
}

/// Finds a key by its `kid` (retired or not), as a token's header names it.
pub async fn find(db: &Db, kid: &str) -> Result<Option<SigningKeyRecord>, StoreError> {
    Ok(with_pool!(db, |pool| {
        sqlx::query_as(select!("WHERE kid = $1"))
            .bind(kid)
            .fetch_optional(pool)
            .await?
    }))
}

/// Lists every key, newest first.
pub async fn list(db: &Db) -> Result<Vec<SigningKeyRecord>, StoreError> {
    Ok(with_pool!(db, |pool| {
        sqlx::query_as(select!("ORDER BY created_at DESC, kid DESC"))
            .fetch_all(pool)
            .await?
    }))
}

/// Stores `key` as the new current key and retires every other current key,
/// in one transaction, so there is always exactly one signing key.
pub async fn insert_and_retire_others(db: &Db, key: &SigningKeyRecord) -> Result<(), StoreError> {
    with_pool!(db, |pool| {
        let mut tx = pool.begin().await?;
        sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
            .bind(to_epoch_ms(key.created_at))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, algorithm, public_key, sealed_private_key, created_at, retired_at) \
             VALUES ($1, $2, $3, $4, $5, NULL)",
        )
        .bind(&key.kid)
        .bind(&key.algorithm)
        .bind(&key.public_key)
        .bind(&key.sealed_private_key)
        .bind(to_epoch_ms(key.created_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    });
    Ok(())
}

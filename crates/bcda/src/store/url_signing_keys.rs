//! The `url_signing_keys` table: the HMAC keys that sign download URLs,
//! sealed under the sealing key (see `auth::url_signing`).

use time::OffsetDateTime;

use super::{Db, StoreError, impl_from_row, with_pool};
use crate::clock::{from_epoch_ms, to_epoch_ms};

/// One row of the `url_signing_keys` table (columns in
/// `migrations/*/0013_url_signing_keys.sql`).
#[derive(Clone)]
pub struct UrlSigningKeyRecord {
    /// Key id, named by every URL the key signs.
    pub kid: String,
    /// The 256-bit HMAC key, encrypted (see `auth::keys::KeySealer`).
    pub sealed_key: Vec<u8>,
    /// When the key was made; the newest unretired key signs.
    pub created_at: OffsetDateTime,
    /// When a newer key took over signing.
    pub retired_at: Option<OffsetDateTime>,
}

impl std::fmt::Debug for UrlSigningKeyRecord {
    // Even sealed, key bytes have no business in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UrlSigningKeyRecord")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

impl_from_row!(UrlSigningKeyRecord, |row| {
    Ok(UrlSigningKeyRecord {
        kid: row.try_get("kid")?,
        sealed_key: row.try_get("sealed_key")?,
        created_at: from_epoch_ms(row.try_get("created_at")?),
        retired_at: row
            .try_get::<Option<i64>, _>("retired_at")?
            .map(from_epoch_ms),
    })
});

/// `SELECT <every column> FROM url_signing_keys <tail>` as one static string.
macro_rules! select {
    ($tail:literal) => {
        concat!(
            "SELECT kid, sealed_key, created_at, retired_at FROM url_signing_keys ",
            $tail
        )
    };
}

/// The key that signs new URLs: the newest one not retired.
pub async fn current(db: &Db) -> Result<Option<UrlSigningKeyRecord>, StoreError> {
    Ok(with_pool!(db, |pool| {
        sqlx::query_as(select!(
            "WHERE retired_at IS NULL ORDER BY created_at DESC, kid DESC LIMIT 1"
        ))
        .fetch_optional(pool)
        .await?
    }))
}

/// Finds a key by its `kid` (retired or not), as a signed URL names it.
pub async fn find(db: &Db, kid: &str) -> Result<Option<UrlSigningKeyRecord>, StoreError> {
    Ok(with_pool!(db, |pool| {
        sqlx::query_as(select!("WHERE kid = $1"))
            .bind(kid)
            .fetch_optional(pool)
            .await?
    }))
}

/// Lists every key, newest first.
pub async fn list(db: &Db) -> Result<Vec<UrlSigningKeyRecord>, StoreError> {
    Ok(with_pool!(db, |pool| {
        sqlx::query_as(select!("ORDER BY created_at DESC, kid DESC"))
            .fetch_all(pool)
            .await?
    }))
}

/// Stores `key` as the new current key and retires every other current key,
/// in one transaction, so there is always exactly one signing key.
pub async fn insert_and_retire_others(
    db: &Db,
    key: &UrlSigningKeyRecord,
) -> Result<(), StoreError> {
    with_pool!(db, |pool| {
        let mut tx = pool.begin().await?;
        sqlx::query("UPDATE url_signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
            .bind(to_epoch_ms(key.created_at))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO url_signing_keys (kid, sealed_key, created_at, retired_at) \
             VALUES ($1, $2, $3, NULL)",
        )
        .bind(&key.kid)
        .bind(&key.sealed_key)
        .bind(to_epoch_ms(key.created_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    });
    Ok(())
}

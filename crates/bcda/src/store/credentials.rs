//! The `credentials` table: client ids with their hashed secrets.

use time::OffsetDateTime;
use uuid::Uuid;

use super::acos::parse_uuid;
use super::{Db, StoreError, Tx, impl_from_row, with_pool, with_tx};
use crate::clock::{from_epoch_ms, to_epoch_ms};

/// One client credential as stored, with its ACO's CMS ID.
#[derive(Debug, Clone)]
pub struct CredentialRecord {
    /// Primary key: the UUID shown to the client and sent as the Basic-auth user.
    pub client_id: String,
    /// Internal id (`acos.id`) of the ACO the credential's tokens act for.
    pub aco_id: Uuid,
    /// That ACO's CMS ID, joined from `acos`.
    pub cms_id: String,
    /// argon2id PHC string of the secret.
    pub secret_hash: String,
    /// When the credential was created or last reset.
    pub created_at: OffsetDateTime,
    /// When the secret stops being accepted.
    pub expires_at: OffsetDateTime,
    /// When the credential was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
}

impl_from_row!(CredentialRecord, |row| {
    Ok(CredentialRecord {
        client_id: row.try_get("client_id")?,
        aco_id: parse_uuid(row.try_get("aco_id")?)?,
        cms_id: row.try_get("cms_id")?,
        secret_hash: row.try_get("secret_hash")?,
        created_at: from_epoch_ms(row.try_get("created_at")?),
        expires_at: from_epoch_ms(row.try_get("expires_at")?),
        revoked_at: row
            .try_get::<Option<i64>, _>("revoked_at")?
            .map(from_epoch_ms),
    })
});

/// `SELECT <credential columns + cms_id> ... <tail>` as one static string.
macro_rules! select {
    ($tail:literal) => {
        concat!(
            "SELECT c.client_id, c.aco_id, a.cms_id, c.secret_hash, c.created_at, c.expires_at, c.revoked_at \
             FROM credentials c JOIN acos a ON a.id = c.aco_id ",
            $tail
        )
    };
}

/// Stores a new credential (never revoked); the secret is stored only as its hash.
pub async fn insert(
    db: &Db,
    client_id: &str,
    aco_id: Uuid,
    secret_hash: &str,
    created_at: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> Result<(), StoreError> {
    with_pool!(db, |pool| {
        sqlx::query(
            "INSERT INTO credentials (client_id, aco_id, secret_hash, created_at, expires_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, NULL)",
        )
        .bind(client_id)
        .bind(aco_id.to_string())
        .bind(secret_hash)
        .bind(to_epoch_ms(created_at))
        .bind(to_epoch_ms(expires_at))
        .execute(pool)
        .await?;
    });
    Ok(())
}

/// Finds a credential by client id.
pub async fn find(db: &Db, client_id: &str) -> Result<Option<CredentialRecord>, StoreError> {
    Ok(with_pool!(db, |pool| {
        sqlx::query_as(select!("WHERE c.client_id = $1"))
            .bind(client_id)
            .fetch_optional(pool)
            .await?
    }))
}

/// Lists the credentials of one ACO (or of all ACOs), newest first.
pub async fn list(db: &Db, cms_id: Option<&str>) -> Result<Vec<CredentialRecord>, StoreError> {
    Ok(with_pool!(db, |pool| {
        sqlx::query_as(select!(
            "WHERE $1 IS NULL OR a.cms_id = $1 ORDER BY a.cms_id, c.created_at DESC"
        ))
        .bind(cms_id)
        .fetch_all(pool)
        .await?
    }))
}

/// Replaces the secret of a credential that is not revoked, un-expiring it.
/// Returns whether a credential was updated.
pub async fn replace_secret(
    tx: &mut Tx,
    client_id: &str,
    secret_hash: &str,
    created_at: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> Result<bool, StoreError> {
    let result = with_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE credentials SET secret_hash = $1, created_at = $2, expires_at = $3 \
             WHERE client_id = $4 AND revoked_at IS NULL",
        )
        .bind(secret_hash)
        .bind(to_epoch_ms(created_at))
        .bind(to_epoch_ms(expires_at))
        .bind(client_id)
        .execute(conn)
        .await?
        .rows_affected()
    });
    Ok(result == 1)
}

/// Revokes a credential (keeping the first revocation time). Returns whether
/// a credential with that id exists.
pub async fn revoke(tx: &mut Tx, client_id: &str, now: OffsetDateTime) -> Result<bool, StoreError> {
    let result = with_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE credentials SET revoked_at = COALESCE(revoked_at, $1) WHERE client_id = $2",
        )
        .bind(to_epoch_ms(now))
        .bind(client_id)
        .execute(conn)
        .await?
        .rows_affected()
    });
    Ok(result == 1)
}

//! The `credentials` table: client ids with their hashed secrets, or, for
//! SMART Backend Services clients, their registered public keys.

use time::OffsetDateTime;
use uuid::Uuid;

use super::acos::parse_uuid;
use super::{Db, StoreError, Tx, impl_from_row, with_pool, with_tx};
use crate::clock::{from_epoch_ms, to_epoch_ms};

/// Where a key client's public keys are: the JWKS itself, or the URL it is
/// published at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientKeys {
    /// A JWKS document (public keys only), as registered.
    Inline(String),
    /// An `http(s)` URL serving the client's JWKS.
    Url(String),
}

/// One client credential as stored, with its ACO's CMS ID.
#[derive(Debug, Clone)]
pub struct CredentialRecord {
    /// Primary key: the UUID shown to the client and sent as the Basic-auth user.
    pub client_id: String,
    /// Internal id (`acos.id`) of the ACO the credential's tokens act for.
    pub aco_id: Uuid,
    /// That ACO's CMS ID, joined from `acos`.
    pub cms_id: String,
    /// argon2id PHC string of the secret; empty for a key client (no
    /// secret matches it).
    pub secret_hash: String,
    /// The registered public keys of a client that authenticates with
    /// signed assertions (SMART Backend Services); `None` for a secret
    /// client.
    pub keys: Option<ClientKeys>,
    /// When the credential was created or last reset.
    pub created_at: OffsetDateTime,
    /// When the secret (or the registered keys) stop being accepted.
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
        keys: match (
            row.try_get::<Option<String>, _>("jwks")?,
            row.try_get::<Option<String>, _>("jwks_url")?,
        ) {
            (Some(jwks), _) => Some(ClientKeys::Inline(jwks)),
            (None, Some(url)) => Some(ClientKeys::Url(url)),
            (None, None) => None,
        },
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
            "SELECT c.client_id, c.aco_id, a.cms_id, c.secret_hash, c.jwks, c.jwks_url, \
                    c.created_at, c.expires_at, c.revoked_at \
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

/// Stores a new key client (never revoked): its registered keys and no
/// secret (an empty `secret_hash`, which no secret matches).
pub async fn insert_key_client(
    db: &Db,
    client_id: &str,
    aco_id: Uuid,
    keys: &ClientKeys,
    created_at: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> Result<(), StoreError> {
    let (jwks, jwks_url) = key_columns(keys);
    with_pool!(db, |pool| {
        sqlx::query(
            "INSERT INTO credentials \
             (client_id, aco_id, secret_hash, jwks, jwks_url, created_at, expires_at, revoked_at) \
             VALUES ($1, $2, '', $3, $4, $5, $6, NULL)",
        )
        .bind(client_id)
        .bind(aco_id.to_string())
        .bind(jwks)
        .bind(jwks_url)
        .bind(to_epoch_ms(created_at))
        .bind(to_epoch_ms(expires_at))
        .execute(pool)
        .await?;
    });
    Ok(())
}

/// Replaces the registered keys of a key client that is not revoked,
/// renewing its lifetime (as a reset renews a secret's). Returns whether
/// such a client was updated.
pub async fn replace_keys(
    tx: &mut Tx,
    client_id: &str,
    keys: &ClientKeys,
    created_at: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> Result<bool, StoreError> {
    let (jwks, jwks_url) = key_columns(keys);
    let result = with_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE credentials SET jwks = $1, jwks_url = $2, created_at = $3, expires_at = $4 \
             WHERE client_id = $5 AND revoked_at IS NULL \
             AND (jwks IS NOT NULL OR jwks_url IS NOT NULL)",
        )
        .bind(jwks)
        .bind(jwks_url)
        .bind(to_epoch_ms(created_at))
        .bind(to_epoch_ms(expires_at))
        .bind(client_id)
        .execute(conn)
        .await?
        .rows_affected()
    });
    Ok(result == 1)
}

/// The `(jwks, jwks_url)` column values of registered keys.
fn key_columns(keys: &ClientKeys) -> (Option<&str>, Option<&str>) {
    match keys {
        ClientKeys::Inline(jwks) => (Some(jwks.as_str()), None),
        ClientKeys::Url(url) => (None, Some(url.as_str())),
    }
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

/// Replaces the secret of a secret client that is not revoked, un-expiring
/// it. Returns whether a credential was updated.
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
             WHERE client_id = $4 AND revoked_at IS NULL AND jwks IS NULL AND jwks_url IS NULL",
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

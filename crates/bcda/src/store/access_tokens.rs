//! The `access_tokens` table: every token issued, which is at once the
//! revocation list, the rate-limit window and the authority on expiry.

use time::OffsetDateTime;
use uuid::Uuid;

use super::acos::parse_uuid;
use super::{Db, StoreError, Tx, impl_from_row, with_pool, with_tx};
use crate::clock::{from_epoch_ms, to_epoch_ms};

/// An `access_tokens` row for [`insert`], written when the token is issued.
#[derive(Debug, Clone)]
pub struct NewAccessToken<'a> {
    /// Token id (the JWT `jti`).
    pub jti: &'a str,
    /// Client id (`credentials.client_id`) of the credential that asked for the token.
    pub client_id: &'a str,
    /// Internal id (`acos.id`) of that credential's ACO; the per-ACO rate limit counts by it.
    pub aco_id: Uuid,
    /// Id of the signing key (`signing_keys.kid`), also in the JWT header.
    pub kid: &'a str,
    /// When the token was issued (app clock); the rate-limit window counts by it.
    pub issued_at: OffsetDateTime,
    /// When the token stops being accepted; this column, not only the JWT `exp`, is the authority.
    pub expires_at: OffsetDateTime,
}

/// Everything a request needs to know about a presented token, read in one
/// query: the token's own state, its credential's, and its ACO's.
#[derive(Debug, Clone)]
pub struct TokenStanding {
    /// The key that signed the token when it was issued.
    pub kid: String,
    /// The credential the token was issued to.
    pub client_id: String,
    /// Internal id (`acos.id`) of the ACO the token acts for.
    pub aco_id: Uuid,
    /// That ACO's CMS ID, for the deny-list message and the request log.
    pub cms_id: String,
    /// When the token expires (the database's word, not the token's).
    pub expires_at: OffsetDateTime,
    /// When the token was revoked, if it was.
    pub token_revoked_at: Option<OffsetDateTime>,
    /// When its credential was revoked, if it was.
    pub credential_revoked_at: Option<OffsetDateTime>,
    /// When its ACO was deny-listed, if it is.
    pub aco_denied_at: Option<OffsetDateTime>,
}

impl_from_row!(TokenStanding, |row| {
    Ok(TokenStanding {
        kid: row.try_get("kid")?,
        client_id: row.try_get("client_id")?,
        aco_id: parse_uuid(row.try_get("aco_id")?)?,
        cms_id: row.try_get("cms_id")?,
        expires_at: from_epoch_ms(row.try_get("expires_at")?),
        token_revoked_at: row
            .try_get::<Option<i64>, _>("token_revoked_at")?
            .map(from_epoch_ms),
        credential_revoked_at: row
            .try_get::<Option<i64>, _>("credential_revoked_at")?
            .map(from_epoch_ms),
        aco_denied_at: row
            .try_get::<Option<i64>, _>("aco_denied_at")?
            .map(from_epoch_ms),
    })
});

/// Records an issued token, in the transaction that counted the ACO's
/// window (see [`issued_since`]).
pub async fn insert(tx: &mut Tx, token: &NewAccessToken<'_>) -> Result<(), StoreError> {
    with_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO access_tokens (jti, client_id, aco_id, kid, issued_at, expires_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, $6, NULL)",
        )
        .bind(token.jti)
        .bind(token.client_id)
        .bind(token.aco_id.to_string())
        .bind(token.kid)
        .bind(to_epoch_ms(token.issued_at))
        .bind(to_epoch_ms(token.expires_at))
        .execute(conn)
        .await?;
    });
    Ok(())
}

/// Reads the standing of the token `jti`; `None` if no such token was issued.
pub async fn standing(db: &Db, jti: &str) -> Result<Option<TokenStanding>, StoreError> {
    Ok(with_pool!(db, |pool| {
        sqlx::query_as(
            "SELECT t.kid, t.client_id, t.aco_id, a.cms_id, t.expires_at, \
                    t.revoked_at AS token_revoked_at, c.revoked_at AS credential_revoked_at, \
                    a.denied_at AS aco_denied_at \
             FROM access_tokens t \
             JOIN credentials c ON c.client_id = t.client_id \
             JOIN acos a ON a.id = t.aco_id \
             WHERE t.jti = $1",
        )
        .bind(jti)
        .fetch_optional(pool)
        .await?
    }))
}

/// How many tokens the ACO was issued after `since`, and the earliest such
/// issue time: what the per-ACO rate limit needs. Read in the transaction
/// that inserts the next token, serialized per ACO, so a burst cannot
/// overshoot the limit.
pub async fn issued_since(
    tx: &mut Tx,
    aco_id: Uuid,
    since: OffsetDateTime,
) -> Result<(i64, Option<OffsetDateTime>), StoreError> {
    let (count, earliest): (i64, Option<i64>) = with_tx!(tx, |conn| {
        sqlx::query_as(
            "SELECT COUNT(*), MIN(issued_at) FROM access_tokens WHERE aco_id = $1 AND issued_at > $2",
        )
        .bind(aco_id.to_string())
        .bind(to_epoch_ms(since))
        .fetch_one(conn)
        .await?
    });
    Ok((count, earliest.map(from_epoch_ms)))
}

/// Revokes a token by id (keeping the first revocation time). Returns whether
/// such a token is on record.
pub async fn revoke(db: &Db, jti: &str, now: OffsetDateTime) -> Result<bool, StoreError> {
    let affected = with_pool!(db, |pool| {
        sqlx::query("UPDATE access_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE jti = $2")
            .bind(to_epoch_ms(now))
            .bind(jti)
            .execute(pool)
            .await?
            .rows_affected()
    });
    Ok(affected == 1)
}

/// Revokes every live token of a credential (keeping earlier revocation
/// times), in the transaction that resets or revokes it. Returns how many
/// tokens it revoked.
pub async fn revoke_all_of_client(
    tx: &mut Tx,
    client_id: &str,
    now: OffsetDateTime,
) -> Result<u64, StoreError> {
    Ok(with_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE access_tokens SET revoked_at = $1 \
             WHERE client_id = $2 AND revoked_at IS NULL AND expires_at > $1",
        )
        .bind(to_epoch_ms(now))
        .bind(client_id)
        .execute(conn)
        .await?
        .rows_affected()
    }))
}

/// Deletes the records of tokens that expired before `before`. They can no
/// longer be used, revoked or counted, so keeping them only grows the table.
pub async fn purge_expired(db: &Db, before: OffsetDateTime) -> Result<u64, StoreError> {
    Ok(with_pool!(db, |pool| {
        sqlx::query("DELETE FROM access_tokens WHERE expires_at < $1")
            .bind(to_epoch_ms(before))
            .execute(pool)
            .await?
            .rows_affected()
    }))
}

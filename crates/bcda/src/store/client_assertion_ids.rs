//! The `client_assertion_ids` table: the `jti` of every client assertion a
//! key client authenticated with, until the assertion expires, so none is
//! accepted twice (whichever server process sees it).

use time::OffsetDateTime;

use super::{Db, StoreError, with_pool};
use crate::clock::to_epoch_ms;

/// Records that `client_id` used the assertion id `jti`, remembered until
/// `expires_at`. Returns `false` when the pair is already on record: a
/// replay. One statement, so two processes racing with the same assertion
/// cannot both succeed (the primary key decides).
pub async fn record(
    db: &Db,
    client_id: &str,
    jti: &str,
    expires_at: OffsetDateTime,
) -> Result<bool, StoreError> {
    let inserted = with_pool!(db, |pool| {
        sqlx::query(
            "INSERT INTO client_assertion_ids (client_id, jti, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (client_id, jti) DO NOTHING",
        )
        .bind(client_id)
        .bind(jti)
        .bind(to_epoch_ms(expires_at))
        .execute(pool)
        .await?
        .rows_affected()
    });
    Ok(inserted == 1)
}

/// Deletes the ids of assertions that expired before `before`: such an
/// assertion is refused for its expiry anyway.
pub async fn purge_expired(db: &Db, before: OffsetDateTime) -> Result<u64, StoreError> {
    Ok(with_pool!(db, |pool| {
        sqlx::query("DELETE FROM client_assertion_ids WHERE expires_at < $1")
            .bind(to_epoch_ms(before))
            .execute(pool)
            .await?
            .rows_affected()
    }))
}

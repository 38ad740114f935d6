//! The `acos` table: Accountable Care Organizations and their deny-list state.

use time::OffsetDateTime;
use uuid::Uuid;

use super::{Db, StoreError, impl_from_row, unique_violation_as_none, with_pool};
use crate::clock::{from_epoch_ms, to_epoch_ms};
use crate::domain::DataSets;

/// One row of the `acos` table (columns in `migrations/*/0001_foundation.sql`
/// and `0007_aco_data_sets.sql`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcoRecord {
    /// Internal UUID; the other tables refer to the ACO by it, clients see the CMS ID instead.
    pub id: Uuid,
    /// The CMS identifier, e.g. `A9994`.
    pub cms_id: String,
    /// Display name given when the ACO was created; nothing looks it up.
    pub name: String,
    /// When the ACO was put on the deny list, if it is on it.
    pub denied_at: Option<OffsetDateTime>,
    /// When the ACO was created (app clock).
    pub created_at: OffsetDateTime,
    /// The kinds of claims data it may export (BCDA's ACO config `data`).
    pub data_sets: DataSets,
}

impl_from_row!(AcoRecord, |row| {
    Ok(AcoRecord {
        id: parse_uuid(row.try_get("id")?)?,
        cms_id: row.try_get("cms_id")?,
        name: row.try_get("name")?,
        denied_at: row
            .try_get::<Option<i64>, _>("denied_at")?
            .map(from_epoch_ms),
        created_at: from_epoch_ms(row.try_get("created_at")?),
        data_sets: row
            .try_get::<String, _>("data_sets")?
            .parse()
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
    })
});

/// Parses a UUID stored as text; a malformed one is a decode error.
pub(crate) fn parse_uuid(text: String) -> Result<Uuid, sqlx::Error> {
    Uuid::parse_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// `SELECT <every column> FROM acos <tail>` as one static string.
macro_rules! select {
    ($tail:literal) => {
        concat!(
            "SELECT id, cms_id, name, denied_at, created_at, data_sets FROM acos ",
            $tail
        )
    };
}

/// Inserts a new ACO. Returns `None` when the CMS ID is already taken.
pub async fn insert(
    db: &Db,
    cms_id: &str,
    name: &str,
    data_sets: DataSets,
    now: OffsetDateTime,
) -> Result<Option<AcoRecord>, StoreError> {
    let record = AcoRecord {
        id: Uuid::new_v4(),
        cms_id: cms_id.to_owned(),
        name: name.to_owned(),
        denied_at: None,
        created_at: now,
        data_sets,
    };
    let result = with_pool!(db, |pool| {
        sqlx::query("INSERT INTO acos (id, cms_id, name, denied_at, created_at, data_sets) VALUES ($1, $2, $3, NULL, $4, $5)")
            .bind(record.id.to_string())
            .bind(&record.cms_id)
            .bind(&record.name)
            .bind(to_epoch_ms(now))
            .bind(record.data_sets.to_string())
            .execute(pool)
            .await
            .map(|_| ())
    });
    Ok(unique_violation_as_none(result)?.map(|_| record))
}

/// Finds an ACO by its CMS ID (unique), e.g. `A9994`.
pub async fn find_by_cms_id(db: &Db, cms_id: &str) -> Result<Option<AcoRecord>, StoreError> {
    Ok(with_pool!(db, |pool| {
        sqlx::query_as(select!("WHERE cms_id = $1"))
            .bind(cms_id)
            .fetch_optional(pool)
            .await?
    }))
}

/// Finds an ACO by its internal id.
pub async fn find_by_id(db: &Db, id: Uuid) -> Result<Option<AcoRecord>, StoreError> {
    Ok(with_pool!(db, |pool| {
        sqlx::query_as(select!("WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(pool)
            .await?
    }))
}

/// Lists every ACO, ordered by CMS ID.
pub async fn list(db: &Db) -> Result<Vec<AcoRecord>, StoreError> {
    Ok(with_pool!(db, |pool| {
        sqlx::query_as(select!("ORDER BY cms_id"))
            .fetch_all(pool)
            .await?
    }))
}

/// Puts an ACO on the deny list (`Some(now)`) or takes it off (`None`).
/// Returns the updated record, or `None` if no ACO has that CMS ID. Denying
/// an already denied ACO keeps the original date.
pub async fn set_denied(
    db: &Db,
    cms_id: &str,
    denied_at: Option<OffsetDateTime>,
) -> Result<Option<AcoRecord>, StoreError> {
    let denied_at = denied_at.map(to_epoch_ms);
    with_pool!(db, |pool| {
        sqlx::query(
            "UPDATE acos SET denied_at = CASE WHEN $1 IS NULL THEN NULL ELSE COALESCE(denied_at, $1) END \
             WHERE cms_id = $2",
        )
        .bind(denied_at)
        .bind(cms_id)
        .execute(pool)
        .await?;
    });
    find_by_cms_id(db, cms_id).await
}

/// Sets the kinds of data an ACO may export; the ACO after the change, or
/// `None` if no ACO has that CMS ID. Jobs already accepted keep the types
/// they were given.
pub async fn set_data_sets(
    db: &Db,
    cms_id: &str,
    data_sets: DataSets,
) -> Result<Option<AcoRecord>, StoreError> {
    with_pool!(db, |pool| {
        sqlx::query("UPDATE acos SET data_sets = $1 WHERE cms_id = $2")
            .bind(data_sets.to_string())
            .bind(cms_id)
            .execute(pool)
            .await?;
    });
    find_by_cms_id(db, cms_id).await
}

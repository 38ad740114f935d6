//! The `attribution_files` and `attribution_members` tables: which
//! beneficiaries (by MBI) each imported attribution file assigns to an ACO.

use sqlx::QueryBuilder;
use time::OffsetDateTime;
use uuid::Uuid;

use super::acos::parse_uuid;
use super::{Db, StoreError, Tx, impl_from_row, with_pool, with_tx};
use crate::clock::{from_epoch_ms, to_epoch_ms};
use crate::domain::AttributionKind;

/// One row of the `attribution_files` table (columns in `migrations/*/0002_claims_data.sql`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributionFileRecord {
    /// Identity column; `attribution_members.file_id` points at it.
    pub id: i64,
    /// Internal id (`acos.id`) of the ACO the file attributes beneficiaries to.
    pub aco_id: Uuid,
    /// The file (or CCLF archive) name as received; unique, so a file imports once.
    pub name: String,
    /// SHA-256 of the imported bytes, hex.
    pub sha256: String,
    /// Default or runout: runout files serve Group/runout, default files the other kick-offs.
    pub kind: AttributionKind,
    /// Four-digit performance year.
    pub performance_year: i32,
    /// The file's timestamp: the attribution date.
    pub attributed_at: OffsetDateTime,
    /// Distinct beneficiaries in the file.
    pub member_count: i64,
    /// When the import committed (app clock).
    pub imported_at: OffsetDateTime,
}

impl_from_row!(AttributionFileRecord, |row| {
    Ok(AttributionFileRecord {
        id: row.try_get("id")?,
        aco_id: parse_uuid(row.try_get("aco_id")?)?,
        name: row.try_get("name")?,
        sha256: row.try_get("sha256")?,
        kind: parse_kind(row.try_get("kind")?)?,
        performance_year: i32::try_from(row.try_get::<i64, _>("performance_year")?)
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        attributed_at: from_epoch_ms(row.try_get("attributed_at")?),
        member_count: row.try_get("member_count")?,
        imported_at: from_epoch_ms(row.try_get("imported_at")?),
    })
});

/// `SELECT <every column> FROM attribution_files <tail>`.
macro_rules! select {
    ($tail:literal) => {
        concat!(
            "SELECT id, aco_id, name, sha256, kind, performance_year, attributed_at, member_count, imported_at \
             FROM attribution_files ",
            $tail
        )
    };
}

/// The file imported under `name`, if any.
pub async fn find_by_name(
    db: &Db,
    name: &str,
) -> Result<Option<AttributionFileRecord>, StoreError> {
    Ok(with_pool!(db, |pool| {
        sqlx::query_as(select!("WHERE name = $1"))
            .bind(name)
            .fetch_optional(pool)
            .await?
    }))
}

/// Every file of an ACO, oldest attribution date first.
pub async fn list(db: &Db, aco_id: Uuid) -> Result<Vec<AttributionFileRecord>, StoreError> {
    Ok(with_pool!(db, |pool| {
        sqlx::query_as(select!(
            "WHERE aco_id = $1 ORDER BY attributed_at, performance_year, id"
        ))
        .bind(aco_id.to_string())
        .fetch_all(pool)
        .await?
    }))
}

/// The MBIs of one file, in byte order.
pub async fn members(db: &Db, file_id: i64) -> Result<Vec<String>, StoreError> {
    Ok(with_pool!(db, |pool| {
        sqlx::query_scalar("SELECT mbi FROM attribution_members WHERE file_id = $1 ORDER BY mbi")
            .bind(file_id)
            .fetch_all(pool)
            .await?
    }))
}

/// An `attribution_files` row for [`insert_file`].
#[derive(Debug, Clone)]
pub struct NewAttributionFile<'a> {
    /// Internal id (`acos.id`) of the ACO the file attributes beneficiaries to.
    pub aco_id: Uuid,
    /// The file (or CCLF archive) name as received; a second import under it is refused.
    pub name: &'a str,
    /// SHA-256 of its bytes, hex.
    pub sha256: &'a str,
    /// Default or runout, from the file name.
    pub kind: AttributionKind,
    /// Four-digit performance year.
    pub performance_year: i32,
    /// The file's own timestamp, which attribution selection orders files by.
    pub attributed_at: OffsetDateTime,
    /// When the import runs (app clock).
    pub imported_at: OffsetDateTime,
}

/// Inserts the file row (with a member count of 0 until
/// [`finish_file`]) and returns its id.
pub async fn insert_file(tx: &mut Tx, file: &NewAttributionFile<'_>) -> Result<i64, StoreError> {
    Ok(with_tx!(tx, |conn| {
        sqlx::query_scalar(
            "INSERT INTO attribution_files \
             (aco_id, name, sha256, kind, performance_year, attributed_at, member_count, imported_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7) RETURNING id",
        )
        .bind(file.aco_id.to_string())
        .bind(file.name)
        .bind(file.sha256)
        .bind(file.kind.as_str())
        .bind(i64::from(file.performance_year))
        .bind(to_epoch_ms(file.attributed_at))
        .bind(to_epoch_ms(file.imported_at))
        .fetch_one(conn)
        .await?
    }))
}

/// Adds members to a file; an MBI already in the file is kept once (the
/// first occurrence wins, as in BCDA).
pub async fn insert_members(tx: &mut Tx, file_id: i64, mbis: &[String]) -> Result<(), StoreError> {
    for chunk in mbis.chunks(1000) {
        with_tx!(tx, |conn| {
            let mut query = QueryBuilder::new("INSERT INTO attribution_members (file_id, mbi) ");
            query.push_values(chunk, |mut row, mbi| {
                row.push_bind(file_id).push_bind(mbi);
            });
            query.push(" ON CONFLICT (file_id, mbi) DO NOTHING");
            query.build().execute(conn).await?;
        });
    }
    Ok(())
}

/// Records the file's final member count and returns it.
pub async fn finish_file(tx: &mut Tx, file_id: i64) -> Result<i64, StoreError> {
    Ok(with_tx!(tx, |conn| {
        sqlx::query_scalar(
            "UPDATE attribution_files SET member_count = \
             (SELECT COUNT(*) FROM attribution_members WHERE file_id = $1) \
             WHERE id = $1 RETURNING member_count",
        )
        .bind(file_id)
        .fetch_one(conn)
        .await?
    }))
}

/// A stored kind, or a decode error naming it.
fn parse_kind(text: &str) -> Result<AttributionKind, sqlx::Error> {
    AttributionKind::parse(text).ok_or_else(|| {
        sqlx::Error::Decode(format!("unknown attribution file kind {text:?}").into())
    })
}

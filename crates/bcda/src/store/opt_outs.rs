//! The `opt_out_files` and `opt_outs` tables: 1-800-MEDICARE data-sharing
//! preferences.

use std::collections::{HashMap, HashSet};

use sqlx::QueryBuilder;
use time::OffsetDateTime;

use super::{Db, StoreError, Tx, with_pool, with_tx};
use crate::clock::to_epoch_ms;

/// The parts of an `opt_out_files` row the importer checks a re-import against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptOutFileRecord {
    /// Identity column; `opt_outs.file_id` points at it.
    pub id: i64,
    /// SHA-256 of its bytes, hex.
    pub sha256: String,
    /// Preference records stored from the file (set when its import finished).
    pub record_count: i64,
}

/// The file imported under `name`, if any.
pub async fn find_file(db: &Db, name: &str) -> Result<Option<OptOutFileRecord>, StoreError> {
    let row: Option<(i64, String, i64)> = with_pool!(db, |pool| {
        sqlx::query_as("SELECT id, sha256, record_count FROM opt_out_files WHERE name = $1")
            .bind(name)
            .fetch_optional(pool)
            .await?
    });
    Ok(row.map(|(id, sha256, record_count)| OptOutFileRecord {
        id,
        sha256,
        record_count,
    }))
}

/// Inserts the file row (record count 0 until [`finish_file`]).
pub async fn insert_file(
    tx: &mut Tx,
    name: &str,
    sha256: &str,
    file_date: OffsetDateTime,
    imported_at: OffsetDateTime,
) -> Result<i64, StoreError> {
    Ok(with_tx!(tx, |conn| {
        sqlx::query_scalar(
            "INSERT INTO opt_out_files (name, sha256, file_date, record_count, imported_at) \
             VALUES ($1, $2, $3, 0, $4) RETURNING id",
        )
        .bind(name)
        .bind(sha256)
        .bind(to_epoch_ms(file_date))
        .bind(to_epoch_ms(imported_at))
        .fetch_one(conn)
        .await?
    }))
}

/// One preference record about to be stored.
#[derive(Debug, Clone)]
pub struct NewOptOut {
    /// 1-based line of the record in the file, kept for tracing a row back to its source.
    pub line: i64,
    /// The beneficiary's MBI; preferences apply to it across all ACOs.
    pub mbi: String,
    /// When the preference takes effect (00:00 UTC of the date), if the
    /// record says.
    pub effective_date: Option<OffsetDateTime>,
    /// `Y`, `N`, or empty.
    pub preference: String,
    /// Where it came from (`1-800`, ...).
    pub source_code: String,
    /// The ACO id the record carries, stored as given (suppression ignores it).
    pub aco_cms_id: String,
}

/// Stores records of a file, in statements of 500 rows, inside the import's transaction.
pub async fn insert_records(
    tx: &mut Tx,
    file_id: i64,
    records: &[NewOptOut],
) -> Result<(), StoreError> {
    for chunk in records.chunks(500) {
        with_tx!(tx, |conn| {
            let mut query = QueryBuilder::new(
                "INSERT INTO opt_outs (file_id, line, mbi, effective_date, preference, source_code, aco_cms_id) ",
            );
            query.push_values(chunk, |mut row, r| {
                row.push_bind(file_id)
                    .push_bind(r.line)
                    .push_bind(&r.mbi)
                    .push_bind(r.effective_date.map(to_epoch_ms))
                    .push_bind(&r.preference)
                    .push_bind(&r.source_code)
                    .push_bind(&r.aco_cms_id);
            });
            query.build().execute(conn).await?;
        });
    }
    Ok(())
}

/// Records the file's record count.
pub async fn finish_file(tx: &mut Tx, file_id: i64) -> Result<i64, StoreError> {
    Ok(with_tx!(tx, |conn| {
        sqlx::query_scalar(
            "UPDATE opt_out_files SET record_count = \
             (SELECT COUNT(*) FROM opt_outs WHERE file_id = $1) WHERE id = $1 RETURNING record_count",
        )
        .bind(file_id)
        .fetch_one(conn)
        .await?
    }))
}

/// The MBIs whose latest preference with an effective date in
/// `[from, to]` is `N`: BCDA's suppression rule (opt-outs apply across all
/// ACOs). When several records share the latest date, any `N` among them
/// wins: a beneficiary's refusal is never overridden by a tie.
pub async fn opted_out(
    db: &Db,
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> Result<HashSet<String>, StoreError> {
    let rows: Vec<(String, i64, String)> = with_pool!(db, |pool| {
        sqlx::query_as(
            "SELECT mbi, effective_date, preference FROM opt_outs \
             WHERE effective_date >= $1 AND effective_date <= $2 AND preference <> ''",
        )
        .bind(to_epoch_ms(from))
        .bind(to_epoch_ms(to))
        .fetch_all(pool)
        .await?
    });
    let mut latest: HashMap<String, (i64, bool)> = HashMap::new();
    for (mbi, date, preference) in rows {
        let refuses = preference == "N";
        let entry = latest.entry(mbi).or_insert((date, refuses));
        if date > entry.0 {
            *entry = (date, refuses);
        } else if date == entry.0 {
            entry.1 |= refuses;
        }
    }
    Ok(latest
        .into_iter()
        .filter_map(|(mbi, (_, refuses))| refuses.then_some(mbi))
        .collect())
}

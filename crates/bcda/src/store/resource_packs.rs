//! Pre-compressed packs (`resource_packs`, migration 0015): one
//! beneficiary's exportable resources of one version and type, as the
//! export scan would read them (every row but the 42 CFR Part 2 claims, in
//! `(lastUpdated, id)` order), as NDJSON compressed into a deflate segment
//! that an export copies into its gzip file unchanged
//! ([`crate::formats::deflate_segments`]).
//!
//! A pack is a copy of rows that stay the truth: triggers on `resources`
//! drop a pack whenever one of its rows is inserted, changed or deleted,
//! so a pack is never stale, only missing, and an export without one reads
//! the rows. The importer writes packs from the lines it parsed
//! ([`insert_checked`], which also checks the pack against the rows) or,
//! for what changed beneficiaries that already had data, from the rows
//! ([`rebuild`]).

use sqlx::Row as _;
use time::OffsetDateTime;

use super::resources::{MAX_PAGE_ROWS, ScanPage, date_ms, scan_into_tx, type_code, version_code};
use super::{Db, StoreError, Tx, with_pool, with_tx};
use crate::clock::to_epoch_ms;
use crate::domain::{ApiVersion, ResourceType};
use crate::formats::deflate_segments::SegmentBuilder;

/// The most NDJSON one pack holds; a beneficiary with more resources of a
/// type than this is exported from its rows. What it bounds: the import
/// holds a run's lines until it packs them, and an export holds a pack's
/// compressed bytes (a twelfth to a fifth of this) while it copies them (a
/// pack bigger than a batch's room is inflated piece by piece as it is
/// copied, so no buffer grows to this). 32 MiB packs every beneficiary of
/// the bench's seven-year ACO (the biggest had 31 MiB of
/// ExplanationOfBenefits); at 4 MiB only a quarter of those bytes were
/// packed (docs/BENCHMARKS.md, issue 17).
pub const MAX_PACK_BYTES: usize = 32 << 20;

/// Whose resources a pack holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PackKey {
    /// Row id of the beneficiary (`beneficiaries.id`).
    pub beneficiary_id: i64,
    /// API version whose FHIR version the resources are in.
    pub version: ApiVersion,
    /// The one type the pack holds.
    pub resource_type: ResourceType,
}

impl PackKey {
    /// Whether resources of this type are packed: not the partially
    /// adjudicated Claim and ClaimResponse, whose Part 2 flag and service
    /// end a later file may change (a ClaimResponse takes its Claim's),
    /// and whose volume is small.
    pub fn is_packed_type(resource_type: ResourceType) -> bool {
        !ResourceType::PARTIALLY_ADJUDICATED.contains(&resource_type)
    }
}

/// A pack to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPack {
    /// Whose resources.
    pub key: PackKey,
    /// The deflate level it was compressed at: an export takes only packs
    /// of its own level, so its files are what its level makes.
    pub level: u32,
    /// Resources (lines) it holds.
    pub resource_count: i64,
    /// Bytes of NDJSON it holds.
    pub ndjson_bytes: i64,
    /// Epoch ms of the earliest `lastUpdated` (`i64::MAX` when empty).
    pub first_updated: i64,
    /// Epoch ms of the latest `lastUpdated` (`i64::MIN` when empty).
    pub last_updated: i64,
    /// Epoch ms of the latest service end, if any resource has one.
    pub last_service_end: Option<i64>,
    /// The segment: raw deflate ending in a full flush.
    pub deflated: Vec<u8>,
}

/// A pack an export may use whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPack {
    /// Resources (lines) it holds.
    pub resource_count: u64,
    /// Bytes of NDJSON it holds.
    pub ndjson_bytes: u64,
    /// The segment.
    pub deflated: Vec<u8>,
}

/// The bounds of an export that a pack must lie within to be used whole
/// (those of [`ScanPage`]; an API v3 ExplanationOfBenefit filter is never
/// answered from a pack).
#[derive(Debug, Clone, Copy)]
pub struct PackBounds {
    /// Exclusive lower bound on `lastUpdated`, if any.
    pub since: Option<OffsetDateTime>,
    /// Inclusive upper bound on `lastUpdated`.
    pub until: OffsetDateTime,
    /// Inclusive upper bound on a service end, if any.
    pub claims_through: Option<time::Date>,
    /// The export's deflate level.
    pub level: u32,
}

/// The pack of `key` if every resource in it passes `bounds`, so that the
/// scan would return exactly its rows; `None` otherwise (no pack, or the
/// export must filter: it reads the rows).
pub async fn find_usable(
    db: &Db,
    key: PackKey,
    bounds: &PackBounds,
) -> Result<Option<StoredPack>, StoreError> {
    let row = with_pool!(db, |pool| {
        sqlx::query(
            "SELECT resource_count, ndjson_bytes, deflated FROM resource_packs \
             WHERE beneficiary_id = $1 AND fhir_version = $2 AND resource_type = $3 AND level = $4 \
               AND first_updated > $5 AND last_updated <= $6 \
               AND (last_service_end IS NULL OR last_service_end <= $7)",
        )
        .bind(key.beneficiary_id)
        .bind(version_code(key.version))
        .bind(type_code(key.resource_type))
        .bind(i64::from(bounds.level))
        .bind(bounds.since.map_or(i64::MIN, to_epoch_ms))
        .bind(to_epoch_ms(bounds.until))
        .bind(bounds.claims_through.map_or(i64::MAX, date_ms))
        .fetch_optional(pool)
        .await?
        .map(|row| -> Result<StoredPack, sqlx::Error> {
            Ok(StoredPack {
                resource_count: u64::try_from(row.try_get::<i64, _>(0)?).unwrap_or(0),
                ndjson_bytes: u64::try_from(row.try_get::<i64, _>(1)?).unwrap_or(0),
                deflated: row.try_get(2)?,
            })
        })
        .transpose()?
    });
    Ok(row)
}

/// Whether the store holds any resource of `key` (a Part 2 claim too).
pub async fn rows_exist(tx: &mut Tx, key: PackKey) -> Result<bool, StoreError> {
    key_found(
        tx,
        "SELECT beneficiary_id FROM resources WHERE beneficiary_id = $1 AND fhir_version = $2 \
         AND resource_type = $3 LIMIT 1",
        key,
    )
    .await
}

/// Whether `key` has a pack.
pub async fn exists(tx: &mut Tx, key: PackKey) -> Result<bool, StoreError> {
    key_found(
        tx,
        "SELECT beneficiary_id FROM resource_packs WHERE beneficiary_id = $1 \
         AND fhir_version = $2 AND resource_type = $3",
        key,
    )
    .await
}

/// Whether `query`, a select of rows matching `key` (bound as $1-$3),
/// finds one.
async fn key_found(tx: &mut Tx, query: &'static str, key: PackKey) -> Result<bool, StoreError> {
    Ok(with_tx!(tx, |conn| {
        sqlx::query_scalar::<_, i64>(query)
            .bind(key.beneficiary_id)
            .bind(version_code(key.version))
            .bind(type_code(key.resource_type))
            .fetch_optional(conn)
            .await?
            .is_some()
    }))
}

/// Stores `pack` (replacing one of the same key) if the store holds as
/// many exportable resources of its key as it does, and returns whether it
/// did. The importer builds a pack from the lines of one beneficiary's run
/// in a file, after checking the store held nothing of that key before:
/// then a count that still matches means no row of the run has since gone
/// to another beneficiary (a later line with the same id), and the pack is
/// exactly the rows.
pub async fn insert_checked(tx: &mut Tx, pack: &NewPack) -> Result<bool, StoreError> {
    let done = with_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO resource_packs (beneficiary_id, fhir_version, resource_type, level, \
               resource_count, ndjson_bytes, first_updated, last_updated, last_service_end, deflated) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 \
             WHERE (SELECT COUNT(*) FROM resources WHERE beneficiary_id = $1 AND fhir_version = $2 \
                    AND resource_type = $3 AND samhsa = $11) = $5 \
             ON CONFLICT (beneficiary_id, fhir_version, resource_type) DO UPDATE SET \
               level = excluded.level, resource_count = excluded.resource_count, \
               ndjson_bytes = excluded.ndjson_bytes, first_updated = excluded.first_updated, \
               last_updated = excluded.last_updated, last_service_end = excluded.last_service_end, \
               deflated = excluded.deflated",
        )
        .bind(pack.key.beneficiary_id)
        .bind(version_code(pack.key.version))
        .bind(type_code(pack.key.resource_type))
        .bind(i64::from(pack.level))
        .bind(pack.resource_count)
        .bind(pack.ndjson_bytes)
        .bind(pack.first_updated)
        .bind(pack.last_updated)
        .bind(pack.last_service_end)
        .bind(pack.deflated.as_slice())
        .bind(false)
        .execute(conn)
        .await?
        .rows_affected()
    });
    Ok(done == 1)
}

/// Builds and stores the pack of `key` from the rows the store holds
/// (within `tx`, so rows it wrote count), compressed at `level`, a page of
/// rows at a time; not if it would hold more than [`MAX_PACK_BYTES`]. For
/// a beneficiary that had data before an import, or whose lines were not
/// together in the file.
pub async fn rebuild(tx: &mut Tx, key: PackKey, level: u32) -> Result<(), StoreError> {
    let (count, first, last, service_end): (i64, Option<i64>, Option<i64>, Option<i64>) =
        with_tx!(tx, |conn| {
            sqlx::query_as(
                "SELECT COUNT(*), MIN(last_updated), MAX(last_updated), MAX(service_end) \
                 FROM resources WHERE beneficiary_id = $1 AND fhir_version = $2 \
                 AND resource_type = $3 AND samhsa = $4",
            )
            .bind(key.beneficiary_id)
            .bind(version_code(key.version))
            .bind(type_code(key.resource_type))
            .bind(false)
            .fetch_one(conn)
            .await?
        });
    let mut segment = SegmentBuilder::new(level);
    let mut page_text = Vec::new();
    let mut after: Option<(OffsetDateTime, String)> = None;
    let mut read = 0_i64;
    loop {
        page_text.clear();
        let page = scan_into_tx(
            tx,
            &ScanPage {
                beneficiary_id: key.beneficiary_id,
                version: key.version,
                resource_type: key.resource_type,
                since: None,
                until: OffsetDateTime::new_utc(
                    time::Date::from_calendar_date(9999, time::Month::December, 31)
                        .unwrap_or(time::Date::MAX),
                    time::Time::MIDNIGHT,
                ),
                after: after.as_ref().map(|(t, id)| (*t, id.as_str())),
                claims_through: None,
                eob_filter: None,
                limit: MAX_PAGE_ROWS,
            },
            &mut page_text,
        )
        .await?;
        read += i64::try_from(page.rows).unwrap_or(i64::MAX);
        // Told by the text, not by the stored bytes (those may be
        // compressed: `formats::stored_body`), and before the page is
        // compressed, so that a beneficiary too big for a pack costs no
        // compression at all past the limit.
        let text_bytes = usize::try_from(segment.text_bytes()).unwrap_or(usize::MAX);
        if text_bytes.saturating_add(page_text.len()) > MAX_PACK_BYTES {
            // Exported from its rows.
            return Ok(());
        }
        segment
            .write(&page_text)
            .map_err(|e| StoreError::Corrupt(format!("cannot compress a pack: {e}")))?;
        match page.last {
            Some(last) => after = Some(last),
            None => break,
        }
    }
    let segment = segment
        .finish()
        .map_err(|e| StoreError::Corrupt(format!("cannot compress a pack: {e}")))?;
    let pack = NewPack {
        key,
        level,
        resource_count: read,
        ndjson_bytes: i64::try_from(segment.text_bytes).unwrap_or(i64::MAX),
        first_updated: first.unwrap_or(i64::MAX),
        last_updated: last.unwrap_or(i64::MIN),
        last_service_end: service_end,
        deflated: segment.deflated,
    };
    // The rows read are the rows counted (one transaction): the check
    // holds unless the scan's bounds missed some (a lastUpdated past the
    // year 9999), and then no pack is better than a short one.
    if read == count {
        insert_checked(tx, &pack).await?;
    }
    Ok(())
}

/// How many packs the store holds: for tests and import summaries.
pub async fn count(db: &Db) -> Result<i64, StoreError> {
    Ok(with_pool!(db, |pool| {
        sqlx::query_scalar("SELECT COUNT(*) FROM resource_packs")
            .fetch_one(pool)
            .await?
    }))
}

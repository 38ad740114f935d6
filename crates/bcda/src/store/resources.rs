//! The resource store: `beneficiaries` and `resources`.
//!
//! Resources are kept as the serialized JSON they arrived as and handed to
//! export workers unchanged. The scan an export needs — one beneficiary's
//! resources of one type and version with `lastUpdated` in a window, in
//! `(lastUpdated, id)` order — is one index range, read in keyset pages so
//! memory never depends on how many resources a beneficiary has. Claims
//! that are 42 CFR Part 2 data (`samhsa`) are stored but never scanned: BCDA
//! never exports them (migration 0008). API v3 ExplanationOfBenefits keep
//! their tags and outcome as one small number (`eob_facts`, migration
//! 0010), so `_typeFilter` is a bit test in the scan.

use std::sync::LazyLock;

use futures_util::TryStreamExt as _;
use sqlx::{QueryBuilder, Row as _};
use time::OffsetDateTime;

use super::{Db, StoreError, Tx, with_pool, with_tx};
use crate::clock::{from_epoch_ms, to_epoch_ms};
use crate::domain::{ApiVersion, EobFacts, EobFilter, FactSet, ResourceType};
use crate::formats::stored_body;

/// The code the `fhir_version` (and `jobs.api_version`) column stores: 1 for STU3 (API v1), 2 for
/// R4 (API v2), 3 for R4 as BFD's v3 server gives it (API v3).
pub fn version_code(version: ApiVersion) -> i64 {
    match version {
        ApiVersion::V1 => 1,
        ApiVersion::V2 => 2,
        ApiVersion::V3 => 3,
    }
}

/// The code the `resource_type` column stores: 1 Patient, 2 Coverage, 3
/// ExplanationOfBenefit, 4 Claim, 5 ClaimResponse.
pub fn type_code(resource_type: ResourceType) -> i64 {
    match resource_type {
        ResourceType::Patient => 1,
        ResourceType::Coverage => 2,
        ResourceType::ExplanationOfBenefit => 3,
        ResourceType::Claim => 4,
        ResourceType::ClaimResponse => 5,
    }
}

/// Why a beneficiary could not be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BeneficiaryConflict {
    /// The MBI is already recorded with another Patient id.
    MbiHasOtherPatient(String),
    /// The Patient id is already recorded with another MBI.
    PatientHasOtherMbi(String),
}

/// Records that `patient_id` is the beneficiary with `mbi` (idempotent) and
/// returns the beneficiary's row id.
pub async fn upsert_beneficiary(
    tx: &mut Tx,
    mbi: &str,
    patient_id: &str,
) -> Result<Result<i64, BeneficiaryConflict>, StoreError> {
    let existing: Option<(i64, String, String)> = with_tx!(tx, |conn| {
        sqlx::query_as(
            "SELECT id, mbi, patient_id FROM beneficiaries WHERE mbi = $1 OR patient_id = $2",
        )
        .bind(mbi)
        .bind(patient_id)
        .fetch_optional(conn)
        .await?
    });
    match existing {
        Some((id, m, p)) if m == mbi && p == patient_id => Ok(Ok(id)),
        Some((_, m, p)) if m == mbi => Ok(Err(BeneficiaryConflict::MbiHasOtherPatient(p))),
        Some((_, m, _)) => Ok(Err(BeneficiaryConflict::PatientHasOtherMbi(m))),
        None => {
            let id = with_tx!(tx, |conn| {
                sqlx::query_scalar(
                    "INSERT INTO beneficiaries (mbi, patient_id) VALUES ($1, $2) RETURNING id",
                )
                .bind(mbi)
                .bind(patient_id)
                .fetch_one(conn)
                .await?
            });
            Ok(Ok(id))
        }
    }
}

/// The row id of the beneficiary whose Patient id is `patient_id`.
pub async fn beneficiary_by_patient_id(
    tx: &mut Tx,
    patient_id: &str,
) -> Result<Option<i64>, StoreError> {
    Ok(with_tx!(tx, |conn| {
        sqlx::query_scalar("SELECT id FROM beneficiaries WHERE patient_id = $1")
            .bind(patient_id)
            .fetch_optional(conn)
            .await?
    }))
}

/// The row id of the beneficiary whose (current) MBI is `mbi`.
pub async fn beneficiary_by_mbi(tx: &mut Tx, mbi: &str) -> Result<Option<i64>, StoreError> {
    Ok(with_tx!(tx, |conn| {
        sqlx::query_scalar("SELECT id FROM beneficiaries WHERE mbi = $1")
            .bind(mbi)
            .fetch_optional(conn)
            .await?
    }))
}

/// Row ids of the beneficiaries with these MBIs whose Patient was loaded by
/// `as_of`, in the same order (`None` for an MBI the store does not know as
/// of then).
pub async fn beneficiaries_by_mbi(
    db: &Db,
    mbis: &[String],
    as_of: OffsetDateTime,
) -> Result<Vec<Option<i64>>, StoreError> {
    let mut found = std::collections::HashMap::with_capacity(mbis.len());
    for chunk in mbis.chunks(500) {
        let rows: Vec<(String, i64)> = with_pool!(db, |pool| {
            let mut query = QueryBuilder::new(
                "SELECT b.mbi, b.id FROM beneficiaries b WHERE EXISTS (SELECT 1 FROM resources r \
                 WHERE r.beneficiary_id = b.id AND r.resource_type = ",
            );
            query.push_bind(type_code(ResourceType::Patient));
            query.push(" AND r.last_updated <= ");
            query.push_bind(to_epoch_ms(as_of));
            query.push(") AND b.mbi IN (");
            let mut list = query.separated(", ");
            for mbi in chunk {
                list.push_bind(mbi);
            }
            query.push(")");
            query.build_query_as().fetch_all(pool).await?
        });
        found.extend(rows);
    }
    Ok(mbis.iter().map(|m| found.get(m).copied()).collect())
}

/// For each Patient id, the MBI of the beneficiary whose Patient (loaded
/// by `as_of`) has that id, if the beneficiary is a member of attribution
/// file `file_id`; `None` otherwise, in the same order. (Beneficiaries are
/// shared by every ACO: membership of the ACO's file is what scopes this.)
pub async fn attributed_patients(
    db: &Db,
    file_id: i64,
    patient_ids: &[String],
    as_of: OffsetDateTime,
) -> Result<Vec<Option<String>>, StoreError> {
    let mut found = std::collections::HashMap::with_capacity(patient_ids.len());
    for chunk in patient_ids.chunks(500) {
        let rows: Vec<(String, String)> = with_pool!(db, |pool| {
            let mut query = QueryBuilder::new(
                "SELECT b.patient_id, b.mbi FROM beneficiaries b \
                 JOIN attribution_members m ON m.mbi = b.mbi AND m.file_id = ",
            );
            query.push_bind(file_id);
            query.push(
                " WHERE EXISTS (SELECT 1 FROM resources r \
                 WHERE r.beneficiary_id = b.id AND r.resource_type = ",
            );
            query.push_bind(type_code(ResourceType::Patient));
            query.push(" AND r.last_updated <= ");
            query.push_bind(to_epoch_ms(as_of));
            query.push(") AND b.patient_id IN (");
            let mut list = query.separated(", ");
            for id in chunk {
                list.push_bind(id);
            }
            query.push(")");
            query.build_query_as().fetch_all(pool).await?
        });
        found.extend(rows);
    }
    Ok(patient_ids
        .iter()
        .map(|id| found.get(id).cloned())
        .collect())
}

/// A `resources` row for [`upsert`].
#[derive(Debug, Clone)]
pub struct NewResource {
    /// Row id (`beneficiaries.id`) of the beneficiary the resource belongs to.
    pub beneficiary_id: i64,
    /// API version whose FHIR version (STU3 or R4) the body is written in.
    pub version: ApiVersion,
    /// Resource type of the body; with `version` and `resource_id` it keys the row.
    pub resource_type: ResourceType,
    /// The resource's own `id`, unique per version and type; compared byte-wise when paging.
    pub resource_id: String,
    /// `meta.lastUpdated`.
    pub last_updated: OffsetDateTime,
    /// ExplanationOfBenefit, Claim and ClaimResponse: the billable period's
    /// end date (a ClaimResponse: its Claim's), if any.
    pub service_end: Option<time::Date>,
    /// A claim carrying 42 CFR Part 2 (substance use disorder) data: stored,
    /// never exported ([`scan`] skips it).
    pub samhsa: bool,
    /// An API v3 ExplanationOfBenefit's tags and outcome (what `_typeFilter`
    /// selects on, [`ScanPage::eob_filter`]); `None` for everything else.
    pub eob_facts: Option<EobFacts>,
    /// The resource as serialized JSON, copied into export files unchanged;
    /// or that JSON compressed (`formats::stored_body`, as the importer
    /// stores it): readers tell the two apart by the first byte.
    pub body: Vec<u8>,
}

/// Prepares a transaction for a bulk [`upsert`]: on PostgreSQL, bodies
/// stored in it are compressed with LZ4 instead of the default pglz, when
/// the server has it (PostgreSQL 14 and later, built with LZ4). pglz is
/// what bounds an import there (several times slower than reading and
/// checking the JSON); LZ4 compresses FHIR JSON almost as well at a
/// fraction of the cost, and decompresses faster for exports. Each stored
/// value records its own method, so rows of either kind read back the same
/// bytes. (The importer now compresses bodies itself, `formats::stored_body`;
/// this still serves bodies given as JSON, and the packs.) On SQLite (no
/// compression) this does nothing.
pub async fn prefer_fast_compression(tx: &mut Tx) -> Result<(), StoreError> {
    if let Tx::Postgres(conn) = tx {
        // A query, not `SET`: where LZ4 is missing it sets nothing instead
        // of failing (and aborting) the transaction. Transaction-local.
        sqlx::query(
            "SELECT set_config('default_toast_compression', 'lz4', true) FROM pg_settings \
             WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)",
        )
        .execute(&mut **conn)
        .await?;
    }
    Ok(())
}

/// Rows [`upsert`] writes per statement on SQLite (9 parameters each, well
/// under SQLite's 32766): a full chunk is always the same statement text,
/// so it is prepared once per connection. PostgreSQL takes any number in
/// one statement (arrays).
pub const UPSERT_ROWS: usize = 256;

/// What an upsert returns: the key of each row it inserted or changed.
const RETURNING_KEYS: &str = " RETURNING beneficiary_id, fhir_version, resource_type";

/// What an upsert changes on a conflicting row, and only when something
/// differs: storing identical resources again changes nothing. (A macro so
/// that PostgreSQL's statement can be one `concat!`ed literal.)
macro_rules! on_conflict {
    () => {
        " ON CONFLICT (fhir_version, resource_type, resource_id) DO UPDATE SET \
     beneficiary_id = excluded.beneficiary_id, last_updated = excluded.last_updated, \
     service_end = excluded.service_end, samhsa = excluded.samhsa, \
     eob_facts = excluded.eob_facts, body = excluded.body \
     WHERE resources.body <> excluded.body OR resources.beneficiary_id <> excluded.beneficiary_id \
     OR resources.service_end IS DISTINCT FROM excluded.service_end \
     OR resources.samhsa <> excluded.samhsa \
     OR resources.eob_facts IS DISTINCT FROM excluded.eob_facts"
    };
}

/// Stores resources, replacing a stored resource of the same version, type
/// and id (a newer load of the same claim). Storing identical resources
/// again changes nothing. The rows are moved into the statement (bodies
/// are not copied on the way). The packs of the beneficiaries, versions
/// and types given are dropped (`store::resource_packs`; a row that moves
/// from another beneficiary drops that one's pack by trigger).
pub async fn upsert(tx: &mut Tx, resources: Vec<NewResource>) -> Result<(), StoreError> {
    let mut changed = store_rows(tx, resources).await?;
    changed.sort_unstable();
    changed.dedup();
    drop_packs(tx, &changed).await
}

/// Drops the packs of `keys` (beneficiary, version code, type code) in one
/// statement: an import's Patient statement changes up to
/// [`UPSERT_ROWS`] keys, and a statement each cost more than the rows.
async fn drop_packs(tx: &mut Tx, keys: &[(i64, i64, i64)]) -> Result<(), StoreError> {
    if keys.is_empty() {
        return Ok(());
    }
    match tx {
        Tx::Sqlite(conn) => {
            // One parameter whatever the count (a JSON array of triples),
            // so the statement text, and its prepared form, never changes.
            let triples: Vec<String> = keys
                .iter()
                .map(|(b, v, t)| format!("[{b},{v},{t}]"))
                .collect();
            let list = format!("[{}]", triples.join(","));
            sqlx::query(
                "DELETE FROM resource_packs WHERE (beneficiary_id, fhir_version, resource_type) IN \
                 (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), \
                         json_extract(value, '$[2]') FROM json_each($1))",
            )
            .bind(list)
            .execute(&mut **conn)
            .await?;
        }
        Tx::Postgres(conn) => {
            let (beneficiaries, (versions, types)): (Vec<i64>, (Vec<i64>, Vec<i64>)) =
                keys.iter().map(|&(b, v, t)| (b, (v, t))).unzip();
            sqlx::query(
                "DELETE FROM resource_packs WHERE (beneficiary_id, fhir_version, resource_type) IN \
                 (SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[]))",
            )
            .bind(beneficiaries)
            .bind(versions)
            .bind(types)
            .execute(&mut **conn)
            .await?;
        }
    }
    Ok(())
}

/// The statements of [`upsert`]; returns the (beneficiary, version, type)
/// of each row inserted or changed (a row stored again unchanged is not).
async fn store_rows(
    tx: &mut Tx,
    resources: Vec<NewResource>,
) -> Result<Vec<(i64, i64, i64)>, StoreError> {
    let mut changed = Vec::new();
    match tx {
        Tx::Sqlite(conn) => {
            let mut rows = resources.into_iter().peekable();
            while rows.peek().is_some() {
                let mut query = QueryBuilder::new(
                    "INSERT INTO resources (beneficiary_id, fhir_version, resource_type, resource_id, last_updated, service_end, samhsa, eob_facts, body) ",
                );
                query.push_values(rows.by_ref().take(UPSERT_ROWS), |mut row, r| {
                    row.push_bind(r.beneficiary_id)
                        .push_bind(version_code(r.version))
                        .push_bind(type_code(r.resource_type))
                        .push_bind(r.resource_id)
                        .push_bind(to_epoch_ms(r.last_updated))
                        .push_bind(r.service_end.map(date_ms))
                        .push_bind(r.samhsa)
                        .push_bind(r.eob_facts.map(|f| i16::from(f.index())))
                        .push_bind(r.body);
                });
                query.push(on_conflict!());
                query.push(RETURNING_KEYS);
                changed.extend(
                    query
                        .build_query_as::<(i64, i64, i64)>()
                        .fetch_all(&mut **conn)
                        .await?,
                );
            }
        }
        Tx::Postgres(conn) => {
            // One statement of arrays, whatever the count: one round trip,
            // one prepared statement. PostgreSQL refuses a statement that
            // updates one row twice, so of rows with the same key only the
            // last is sent: what storing them one after another leaves.
            let keep = last_of_each_key(&resources);
            let n = resources.len();
            let mut beneficiary_ids = Vec::with_capacity(n);
            let mut versions = Vec::with_capacity(n);
            let mut types = Vec::with_capacity(n);
            let mut ids = Vec::with_capacity(n);
            let mut last_updated = Vec::with_capacity(n);
            let mut service_ends = Vec::with_capacity(n);
            let mut samhsa = Vec::with_capacity(n);
            let mut eob_facts = Vec::with_capacity(n);
            let mut bodies = Vec::with_capacity(n);
            for (r, _) in resources.into_iter().zip(keep).filter(|(_, keep)| *keep) {
                beneficiary_ids.push(r.beneficiary_id);
                versions.push(version_code(r.version));
                types.push(type_code(r.resource_type));
                ids.push(r.resource_id);
                last_updated.push(to_epoch_ms(r.last_updated));
                service_ends.push(r.service_end.map(date_ms));
                samhsa.push(r.samhsa);
                eob_facts.push(r.eob_facts.map(|f| i16::from(f.index())));
                bodies.push(r.body);
            }
            let rows: Vec<(i64, i64, i64)> = sqlx::query_as(concat!(
                "INSERT INTO resources (beneficiary_id, fhir_version, resource_type, resource_id, last_updated, service_end, samhsa, eob_facts, body) \
                 SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::TEXT[], $5::BIGINT[], $6::BIGINT[], $7::BOOLEAN[], $8::SMALLINT[], $9::BYTEA[])",
                on_conflict!(),
                " RETURNING beneficiary_id, fhir_version, resource_type"
            ))
            .bind(beneficiary_ids)
            .bind(versions)
            .bind(types)
            .bind(ids)
            .bind(last_updated)
            .bind(service_ends)
            .bind(samhsa)
            .bind(eob_facts)
            .bind(bodies)
            .fetch_all(&mut **conn)
            .await?;
            changed.extend(rows);
        }
    }
    Ok(changed)
}

/// For each row, whether it is the last of the rows with its (version,
/// type, id).
fn last_of_each_key(resources: &[NewResource]) -> Vec<bool> {
    fn key(r: &NewResource) -> (i64, i64, &str) {
        (
            version_code(r.version),
            type_code(r.resource_type),
            r.resource_id.as_str(),
        )
    }
    let last: std::collections::HashMap<_, usize> = resources
        .iter()
        .enumerate()
        .map(|(i, r)| (key(r), i))
        .collect();
    resources
        .iter()
        .enumerate()
        .map(|(i, r)| last.get(&key(r)) == Some(&i))
        .collect()
}

/// What one page of [`scan_into`] appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedPage {
    /// Rows (resources) appended.
    pub rows: usize,
    /// The `(lastUpdated, id)` of the last row appended when the page was
    /// full, so more rows may follow: where the next page starts
    /// ([`ScanPage::after`]). `None` when the scan has no more rows.
    pub last: Option<(OffsetDateTime, String)>,
}

/// The bounds of one page of the export scan ([`scan`]): one beneficiary, version and type.
#[derive(Debug, Clone)]
pub struct ScanPage<'a> {
    /// Row id of the beneficiary (`beneficiaries.id`) whose resources are read.
    pub beneficiary_id: i64,
    /// API version: which FHIR version's resources are read.
    pub version: ApiVersion,
    /// The one type this page reads.
    pub resource_type: ResourceType,
    /// Exclusive lower bound on `lastUpdated` (`_since`), if any.
    pub since: Option<OffsetDateTime>,
    /// Inclusive upper bound on `lastUpdated` (the job's transaction time).
    pub until: OffsetDateTime,
    /// The `(lastUpdated, id)` of the last row of the previous page.
    pub after: Option<(OffsetDateTime, &'a str)>,
    /// Inclusive upper bound on a claim's service end (Group/runout), if
    /// any; resources without one are never excluded by it.
    pub claims_through: Option<time::Date>,
    /// API v3 ExplanationOfBenefits (ignored for other versions and types):
    /// only rows whose `eob_facts` the filter allows and whose service end
    /// lies within its bounds. `None`: every row.
    pub eob_filter: Option<EobFilter>,
    /// At most this many rows are returned (SQLite may return fewer: see
    /// [`scan_into`]); [`ScannedPage::last`] says whether more follow.
    pub limit: i64,
}

/// The export scan's rows: its filter and order, as one SQL text for both
/// backends ([`scan_into`], which binds the parameters; the LIMIT is in the
/// text: see [`PAGE_STATEMENTS`]).
const SCAN_ROWS_SQL: &str = "SELECT last_updated, resource_id, body FROM resources \
     WHERE beneficiary_id = $1 AND fhir_version = $2 AND resource_type = $3 \
       AND samhsa = $9 AND last_updated > $4 AND last_updated <= $5 \
       AND (last_updated > $6 OR (last_updated = $6 AND resource_id > $7)) \
       AND (service_end IS NULL OR service_end <= $8) \
       AND ($10 OR ((($11 >> eob_facts) & 1) = 1 \
            AND ($12 IS NULL OR service_end >= $12) \
            AND ($13 IS NULL OR service_end <= $13))) \
     ORDER BY last_updated, resource_id";

/// The page statements, one per power of two up to [`MAX_PAGE_ROWS`] rows,
/// with the LIMIT written into the text: SQLite's planner reads a bound
/// LIMIT's value, and a statement whose LIMIT parameter changed is compiled
/// again on its next step (measured: about 5 % of a stored export's CPU
/// went to compiling when pages were sized by a bound LIMIT).
static PAGE_STATEMENTS: LazyLock<Vec<(i64, String)>> = LazyLock::new(|| {
    (0..=MAX_PAGE_ROWS.ilog2())
        .map(|power| {
            let rows = 1_i64 << power;
            (rows, format!("{SCAN_ROWS_SQL} LIMIT {rows}"))
        })
        .collect()
});

/// The most rows one page of the export scan reads.
pub const MAX_PAGE_ROWS: i64 = 512;

/// The body of [`scan_into`] for either executor (a pool, a transaction's
/// connection) of either backend.
macro_rules! scan_page {
    ($executor:expr, $page:expr, $out:expr) => {{
        let page: &ScanPage<'_> = $page;
        let out: &mut Vec<u8> = $out;
        let wanted = page.limit.clamp(1, MAX_PAGE_ROWS);
        let (limit, sql) = PAGE_STATEMENTS
            .iter()
            .rev()
            .find(|(rows, _)| *rows <= wanted)
            .unwrap_or(&PAGE_STATEMENTS[0]);
        // i64::MIN stands for "no bound" so the statement stays one static text.
        let since = page.since.map_or(i64::MIN, to_epoch_ms);
        let (after_time, after_id) = page
            .after
            .map_or((i64::MIN, ""), |(t, id)| (to_epoch_ms(t), id));
        let eob_filter = page.eob_filter.filter(|_| {
            page.version == ApiVersion::V3
                && page.resource_type == ResourceType::ExplanationOfBenefit
        });
        // No filter: `$10` skips the test (rows of other types and versions
        // have no facts). A service bound is tested only when given.
        let mask = eob_filter.map_or(FactSet::ALL, |f| f.facts).bits();
        let mut rows = sqlx::query(sql.as_str())
            .bind(page.beneficiary_id)
            .bind(version_code(page.version))
            .bind(type_code(page.resource_type))
            .bind(since)
            .bind(to_epoch_ms(page.until))
            .bind(after_time)
            .bind(after_id)
            .bind(page.claims_through.map_or(i64::MAX, date_ms))
            .bind(false)
            .bind(eob_filter.is_none())
            .bind(i64::from(mask))
            .bind(eob_filter.and_then(|f| f.service_from).map(date_ms))
            .bind(eob_filter.and_then(|f| f.service_through).map(date_ms))
            .fetch($executor);
        let mut count = 0;
        let mut last = None;
        let mut decoder = stored_body::BodyDecoder::new();
        while let Some(row) = rows.try_next().await? {
            let body: &[u8] = row.try_get(2)?;
            decoder
                .decode_into(body, out)
                .map_err(StoreError::Corrupt)?;
            out.push(b'\n');
            count += 1;
            last = Some(row);
        }
        // Only a full page needs its end: the scan goes on after it.
        let last = match last {
            Some(row) if i64::try_from(count).is_ok_and(|n| n == *limit) => {
                Some((from_epoch_ms(row.try_get(0)?), row.try_get(1)?))
            }
            _ => None,
        };
        ScannedPage { rows: count, last }
    }};
}

/// Appends one page of a beneficiary's resources to `out` as NDJSON (each
/// body as stored, then a newline), in `(lastUpdated, id)` order, never a
/// 42 CFR Part 2 claim (`samhsa`: the index puts the flag ahead of
/// `lastUpdated`, so this stays one index range). An EOB filter is tested
/// on the rows of that range: bit `eob_facts` of the filter's mask, and the
/// service end within its bounds. The page holds the largest power of two
/// of rows not over [`ScanPage::limit`] (and at least one).
///
/// Rows are streamed, and each body is copied from the driver's row into
/// `out` (or decompressed, if the importer compressed it, by one decoder
/// for the page: `formats::stored_body`): an export reads every byte it
/// writes through here.
pub async fn scan_into(
    db: &Db,
    page: &ScanPage<'_>,
    out: &mut Vec<u8>,
) -> Result<ScannedPage, StoreError> {
    Ok(with_pool!(db, |pool| scan_page!(pool, page, out)))
}

/// [`scan_into`] within a transaction: what it has written is read too
/// (the importer packing what it stored, `store::resource_packs`).
pub async fn scan_into_tx(
    tx: &mut Tx,
    page: &ScanPage<'_>,
    out: &mut Vec<u8>,
) -> Result<ScannedPage, StoreError> {
    Ok(with_tx!(tx, |conn| scan_page!(&mut *conn, page, out)))
}

/// How many resources the store holds per (version, type): for import
/// summaries and tests.
pub async fn counts(db: &Db) -> Result<Vec<(i64, i64, i64)>, StoreError> {
    Ok(with_pool!(db, |pool| {
        sqlx::query_as(
            "SELECT fhir_version, resource_type, COUNT(*) FROM resources \
             GROUP BY fhir_version, resource_type ORDER BY fhir_version, resource_type",
        )
        .fetch_all(pool)
        .await?
    }))
}

/// How many 42 CFR Part 2 claims the store holds per (version, type): the
/// rows no export returns. For import summaries and tests.
pub async fn samhsa_counts(db: &Db) -> Result<Vec<(i64, i64, i64)>, StoreError> {
    Ok(with_pool!(db, |pool| {
        sqlx::query_as(
            "SELECT fhir_version, resource_type, COUNT(*) FROM resources WHERE samhsa = $1 \
             GROUP BY fhir_version, resource_type ORDER BY fhir_version, resource_type",
        )
        .bind(true)
        .fetch_all(pool)
        .await?
    }))
}

/// Gives the stored ClaimResponses with these ids (`version`) the 42 CFR
/// Part 2 flag and service end of their stored Claim (same id), whichever
/// of the two was imported first: a ClaimResponse has no diagnoses or
/// billable period of its own. The flag is only ever set here, never
/// cleared: a response stays out of exports if it or its Claim says so.
/// A response already holding what its Claim gives is left as it is.
pub async fn inherit_claim_flags(
    tx: &mut Tx,
    version: ApiVersion,
    claim_ids: &[&str],
) -> Result<(), StoreError> {
    match tx {
        Tx::Sqlite(conn) => {
            for chunk in claim_ids.chunks(200) {
                let mut query = QueryBuilder::new(
                    "UPDATE resources SET \
                     samhsa = (resources.samhsa OR c.samhsa), service_end = c.service_end \
                     FROM resources c \
                     WHERE c.fhir_version = resources.fhir_version AND c.resource_type = ",
                );
                query.push_bind(type_code(ResourceType::Claim));
                query.push(
                    " AND c.resource_id = resources.resource_id AND resources.fhir_version = ",
                );
                query.push_bind(version_code(version));
                query.push(" AND resources.resource_type = ");
                query.push_bind(type_code(ResourceType::ClaimResponse));
                query.push(" AND resources.resource_id IN (");
                let mut list = query.separated(", ");
                for id in chunk {
                    list.push_bind(*id);
                }
                query.push(
                    ") AND ((resources.samhsa OR c.samhsa) <> resources.samhsa \
                     OR resources.service_end IS DISTINCT FROM c.service_end)",
                );
                query.build().execute(&mut **conn).await?;
            }
        }
        Tx::Postgres(conn) => {
            // Each id is looked up on its own, by the whole primary key
            // (`LIMIT 1` keeps the planner from merging the lookups into
            // a join), and the response is updated by its row address.
            // The plain join above let PostgreSQL plan, from statistics
            // that lag behind an import, a nested loop over every Claim
            // and ClaimResponse of the version: 230 ms a statement at
            // 8,000 of each, and growing with their square.
            sqlx::query(
                "UPDATE resources AS r SET samhsa = (r.samhsa OR f.samhsa), service_end = f.service_end \
                 FROM (SELECT t.target, c.samhsa, c.service_end FROM UNNEST($3::TEXT[]) AS ids(id) \
                   CROSS JOIN LATERAL (SELECT ctid AS target, samhsa AS own_samhsa, service_end AS own_end \
                     FROM resources WHERE fhir_version = $1 AND resource_type = $2 \
                     AND resource_id = ids.id LIMIT 1) t \
                   CROSS JOIN LATERAL (SELECT samhsa, service_end FROM resources \
                     WHERE fhir_version = $1 AND resource_type = $4 AND resource_id = ids.id LIMIT 1) c \
                   WHERE (t.own_samhsa OR c.samhsa) <> t.own_samhsa \
                      OR t.own_end IS DISTINCT FROM c.service_end) f \
                 WHERE r.ctid = f.target",
            )
            .bind(version_code(version))
            .bind(type_code(ResourceType::ClaimResponse))
            .bind(claim_ids)
            .bind(type_code(ResourceType::Claim))
            .execute(&mut **conn)
            .await?;
        }
    }
    Ok(())
}

/// The share of the resources table's rows a file must write for its
/// import to refresh PostgreSQL's statistics itself: autovacuum's own
/// threshold for analyzing (`autovacuum_analyze_scale_factor`).
const STATISTICS_REFRESH_SHARE: f64 = 0.1;

/// After a file's commit: on PostgreSQL, refreshes the planner's
/// statistics of the resource tables (`ANALYZE`) when the file wrote more
/// than a tenth of the rows the statistics know of. Returns whether it did
/// (SQLite has no statistics to refresh: it never does).
///
/// Why: autovacuum would, but only at its next round, and then throttled.
/// Until it does, the planner sees the table as it was before the file:
/// after a first ExplanationOfBenefit file it knows of no EOB at all, and
/// plans an export's scan of one beneficiary's EOBs as a walk through
/// every EOB of the version by the primary key. Measured on a 10,000 × 1
/// ACO: 20-80 such scans of 1.6-2.2 s each in the first minute after the
/// import, and the export 1.5-2.5 × slower (docs/BENCHMARKS.md, issue 17).
pub async fn refresh_statistics(db: &Db, rows_written: u64) -> Result<bool, StoreError> {
    let Db::Postgres(pool) = db else {
        return Ok(false);
    };
    // -1 before the first ANALYZE; the table's name resolves through the
    // connection's search_path, as every statement's does.
    let known: f32 =
        sqlx::query_scalar("SELECT reltuples FROM pg_class WHERE oid = 'resources'::regclass")
            .fetch_one(pool)
            .await?;
    if known > 0.0 && (rows_written as f64) < f64::from(known) * STATISTICS_REFRESH_SHARE {
        return Ok(false);
    }
    sqlx::query("ANALYZE resources, resource_packs")
        .execute(pool)
        .await?;
    Ok(true)
}

/// A date as the store keeps it: epoch milliseconds of its 00:00 UTC.
pub(crate) fn date_ms(date: time::Date) -> i64 {
    to_epoch_ms(date.midnight().assume_utc())
}

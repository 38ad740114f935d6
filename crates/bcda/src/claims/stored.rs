//! The stored claims source: attribution, opt-outs and resources that the
//! importers put in the database, and the keyset scan that streams a list
//! of beneficiaries' resources page by page (the SQL is
//! `store::resources::scan`).

use std::collections::HashSet;

use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    AttributionFile, BeneficiaryKey, OPT_OUT_LOOKBACK, ResourceBatch, ResourceQuery, SourceError,
};
use crate::store::resources::{self, ScanPage};
use crate::store::{Db, attribution_files, opt_outs};

/// Reads one ACO's imported data.
#[derive(Debug, Clone)]
pub struct StoredSource {
    db: Db,
    aco_id: Uuid,
}

impl StoredSource {
    /// The imported data of the ACO whose internal id (`acos.id`) is `aco_id`.
    pub fn new(db: Db, aco_id: Uuid) -> Self {
        Self { db, aco_id }
    }

    pub(super) async fn attribution_files(&self) -> Result<Vec<AttributionFile>, SourceError> {
        Ok(attribution_files::list(&self.db, self.aco_id)
            .await?
            .into_iter()
            .map(|f| AttributionFile {
                key: f.id,
                kind: f.kind,
                performance_year: f.performance_year,
                attributed_at: f.attributed_at,
                member_count: Some(f.member_count),
            })
            .collect())
    }

    pub(super) async fn attribution_members(
        &self,
        file: &AttributionFile,
    ) -> Result<Vec<String>, SourceError> {
        Ok(attribution_files::members(&self.db, file.key).await?)
    }

    pub(super) async fn opted_out(
        &self,
        as_of: OffsetDateTime,
    ) -> Result<HashSet<String>, SourceError> {
        Ok(opt_outs::opted_out(&self.db, as_of - OPT_OUT_LOOKBACK, as_of).await?)
    }

    pub(super) async fn resolve(
        &self,
        mbis: &[String],
        as_of: OffsetDateTime,
    ) -> Result<Vec<Option<BeneficiaryKey>>, SourceError> {
        Ok(resources::beneficiaries_by_mbi(&self.db, mbis, as_of)
            .await?
            .into_iter()
            .map(|id| id.map(BeneficiaryKey))
            .collect())
    }

    pub(super) async fn attributed_patients(
        &self,
        file: &AttributionFile,
        patient_ids: &[String],
        as_of: OffsetDateTime,
    ) -> Result<Vec<Option<String>>, SourceError> {
        Ok(resources::attributed_patients(&self.db, file.key, patient_ids, as_of).await?)
    }

    /// A cursor over the resources of `beneficiaries`, before the first.
    pub(super) fn cursor(
        &self,
        beneficiaries: Vec<BeneficiaryKey>,
        query: ResourceQuery,
    ) -> StoredCursor {
        StoredCursor {
            source: self.clone(),
            query,
            beneficiaries: beneficiaries.into_iter(),
            resume: None,
        }
    }
}

/// Rows per page of the stored scan.
const PAGE_SIZE: i64 = 500;

/// Where a stream over stored resources is: the beneficiaries not yet
/// started, and where the scan of the current one stopped if it may have
/// more rows. Memory holds one page, however many rows a beneficiary has.
#[derive(Debug)]
pub(super) struct StoredCursor {
    source: StoredSource,
    query: ResourceQuery,
    beneficiaries: std::vec::IntoIter<BeneficiaryKey>,
    /// Set when the last page was full: the next page starts after it.
    resume: Option<Keyset>,
}

/// The last row read of a beneficiary's scan, in the scan's
/// `(lastUpdated, id)` order.
#[derive(Debug)]
struct Keyset {
    beneficiary: BeneficiaryKey,
    last_updated: OffsetDateTime,
    resource_id: String,
}

impl StoredCursor {
    /// Appends pages of rows to `batch` until it is full or the
    /// beneficiaries run out.
    pub(super) async fn fill(&mut self, batch: &mut ResourceBatch) -> Result<(), SourceError> {
        while !batch.is_full() {
            let beneficiary = match &self.resume {
                Some(keyset) => keyset.beneficiary,
                None => match self.beneficiaries.next() {
                    Some(b) => b,
                    None => break,
                },
            };
            let after = self
                .resume
                .as_ref()
                .map(|k| (k.last_updated, k.resource_id.as_str()));
            let mut rows = resources::scan(
                &self.source.db,
                &ScanPage {
                    beneficiary_id: beneficiary.0,
                    version: self.query.version,
                    resource_type: self.query.resource_type,
                    since: self.query.since,
                    until: self.query.until,
                    after,
                    claims_through: self.query.claims_through,
                    eob_filter: self.query.eob_filter,
                    limit: PAGE_SIZE,
                },
            )
            .await?;
            for row in &rows {
                batch.ndjson.extend_from_slice(&row.body);
                batch.ndjson.push(b'\n');
            }
            batch.resources += rows.len();
            let full = i64::try_from(rows.len()).is_ok_and(|n| n == PAGE_SIZE);
            // The last row's id moves into the keyset (no copy).
            self.resume = rows.pop().filter(|_| full).map(|last| Keyset {
                beneficiary,
                last_updated: last.last_updated,
                resource_id: last.resource_id,
            });
        }
        Ok(())
    }
}

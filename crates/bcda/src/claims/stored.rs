//! The stored claims source: attribution, opt-outs and resources that the
//! importers put in the database, and the keyset scan that streams a list
//! of beneficiaries' resources page by page (the SQL is
//! `store::resources::scan`).

use std::collections::HashSet;

use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    AttributionFile, BATCH_BYTES, BATCH_CAPACITY, BeneficiaryKey, OPT_OUT_LOOKBACK, ResourceBatch,
    ResourceQuery, SourceError,
};
use crate::domain::{ApiVersion, ResourceType};
use crate::formats::deflate_segments::SegmentInflater;
use crate::store::resource_packs::{self, PackBounds, PackKey, StoredPack};
use crate::store::resources::{self, MAX_PAGE_ROWS, ScanPage};
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
            read: (0, 0),
            pack_level: None,
            inflater: SegmentInflater::default(),
            held_pack: None,
        }
    }
}

/// What a resource is guessed to weigh before any has been read: a page
/// then asks for enough rows to fill the batch if resources are this small.
const FIRST_GUESS_BYTES: usize = 2_048;

/// Where a stream over stored resources is: the beneficiaries not yet
/// started, and where the scan of the current one stopped if it may have
/// more rows. Memory holds one batch, however many rows a beneficiary has.
#[derive(Debug)]
pub(super) struct StoredCursor {
    source: StoredSource,
    query: ResourceQuery,
    beneficiaries: std::vec::IntoIter<BeneficiaryKey>,
    /// Set when the last page was full: the next page starts after it.
    resume: Option<Keyset>,
    /// Rows and bytes read so far, for the average row size that sizes
    /// pages.
    read: (usize, usize),
    /// The deflate level of the packs the consumer takes, if it takes
    /// them ([`StoredCursor::accept_packs`]).
    pack_level: Option<u32>,
    /// Inflates packs (on the reading thread, so the writing thread only
    /// hashes and copies them).
    inflater: SegmentInflater,
    /// A pack read that did not fit in the last batch: the next one starts
    /// with it.
    held_pack: Option<StoredPack>,
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
    /// From now on, a beneficiary whose every resource the query keeps is
    /// handed over as its pack compressed at `level`, if it has one.
    pub(super) fn accept_packs(&mut self, level: u32) {
        self.pack_level = Some(level);
    }

    /// The pack bounds of this cursor's query, if its packs may be used at
    /// all: never under an API v3 ExplanationOfBenefit filter, which tests
    /// each claim's tags.
    fn pack_bounds(&self) -> Option<PackBounds> {
        let level = self.pack_level?;
        let filtered = self.query.eob_filter.is_some()
            && self.query.version == ApiVersion::V3
            && self.query.resource_type == ResourceType::ExplanationOfBenefit;
        (!filtered).then_some(PackBounds {
            since: self.query.since,
            until: self.query.until,
            claims_through: self.query.claims_through,
            level,
        })
    }

    /// Appends pages of rows to `batch` until it is full or the
    /// beneficiaries run out. Each page asks for about as many rows as fit
    /// in what is left of the batch (by the average size read so far), so
    /// a batch overruns its size by about one resource, not by a page.
    pub(super) async fn fill(&mut self, batch: &mut ResourceBatch) -> Result<(), SourceError> {
        if let Some(pack) = self.held_pack.take() {
            self.push_pack(batch, pack)?;
        }
        while !batch.is_full() {
            let beneficiary = match &self.resume {
                Some(keyset) => keyset.beneficiary,
                None => match self.beneficiaries.next() {
                    Some(b) => b,
                    None => break,
                },
            };
            // A beneficiary starting: its pack, if the query keeps all of it.
            if self.resume.is_none()
                && let Some(bounds) = self.pack_bounds()
            {
                let key = PackKey {
                    beneficiary_id: beneficiary.0,
                    version: self.query.version,
                    resource_type: self.query.resource_type,
                };
                if let Some(pack) =
                    resource_packs::find_usable(&self.source.db, key, &bounds).await?
                {
                    // A batch stays near its size: a pack that would take it
                    // well past starts the next one.
                    let text = usize::try_from(pack.ndjson_bytes).unwrap_or(usize::MAX);
                    if !batch.ndjson.is_empty()
                        && batch.ndjson.len().saturating_add(text) > BATCH_CAPACITY
                    {
                        self.held_pack = Some(pack);
                        break;
                    }
                    self.push_pack(batch, pack)?;
                    continue;
                }
            }
            let after = self
                .resume
                .as_ref()
                .map(|k| (k.last_updated, k.resource_id.as_str()));
            let limit = self.page_rows(batch);
            let before = batch.ndjson.len();
            let page = resources::scan_into(
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
                    limit,
                },
                &mut batch.ndjson,
            )
            .await?;
            batch.resources += page.rows;
            self.read.0 += page.rows;
            self.read.1 += batch.ndjson.len() - before;
            // A page that may have more rows says where it ended.
            self.resume = page.last.map(|(last_updated, resource_id)| Keyset {
                beneficiary,
                last_updated,
                resource_id,
            });
        }
        Ok(())
    }

    /// Inflates `pack` into `batch`.
    fn push_pack(
        &mut self,
        batch: &mut ResourceBatch,
        pack: StoredPack,
    ) -> Result<(), SourceError> {
        let resources = usize::try_from(pack.resource_count).unwrap_or(usize::MAX);
        let text = usize::try_from(pack.ndjson_bytes).unwrap_or(usize::MAX);
        batch.push_pack(resources, text, pack.deflated, &mut self.inflater)
    }

    /// Rows the next page asks for: what fills the rest of `batch` at the
    /// average row size so far, plus one so the batch closes.
    fn page_rows(&self, batch: &ResourceBatch) -> i64 {
        let average = match self.read {
            (0, _) => FIRST_GUESS_BYTES,
            (rows, bytes) => (bytes / rows).max(1),
        };
        let room = BATCH_BYTES.saturating_sub(batch.ndjson.len());
        i64::try_from(room / average + 1).map_or(MAX_PAGE_ROWS, |n| n.min(MAX_PAGE_ROWS))
    }
}

//! Where an ACO's data comes from: one interface, two implementations.
//!
//! An ACO's attribution history, the opt-outs that apply to its
//! beneficiaries, and their FHIR resources are read through [`ClaimsSource`]:
//!
//! - [`stored::StoredSource`]: what the importers put in the database;
//! - [`generated::GeneratedSource`]: the synthetic generator itself, computing
//!   everything on demand from a seed (the sandbox), so a 30,000-beneficiary
//!   ACO with seven years of claims costs no disk.
//!
//! Both answer the same questions identically: for the same synthetic ACO,
//! `bcda synthetic` + `bcda import` + the stored source yields byte for byte
//! what the generated source yields (a test proves it).

pub mod generated;
pub mod stored;

use std::collections::HashSet;

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::fhir::{ApiVersion, ResourceType};
use crate::store::attribution::FileKind;
use crate::store::{Db, StoreError, synthetic_acos};

/// How far back a 1-800-MEDICARE preference counts (BCDA:
/// `BCDA_SUPPRESSION_LOOKBACK_DAYS`, 60).
pub const OPT_OUT_LOOKBACK: Duration = Duration::days(60);

/// A beneficiary as a source identifies it (opaque outside the source).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BeneficiaryKey(pub i64);

/// One attribution file of an ACO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributionFile {
    /// Identifies the file within its source.
    pub key: i64,
    /// Default or runout.
    pub kind: FileKind,
    /// Four-digit performance year.
    pub performance_year: i32,
    /// The attribution date.
    pub attributed_at: OffsetDateTime,
    /// How many beneficiaries it attributes, when known without reading
    /// the members (the generator does not count them up front).
    pub member_count: Option<i64>,
}

/// Which resources to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceQuery {
    /// FHIR version (API version).
    pub version: ApiVersion,
    /// Resource type.
    pub resource_type: ResourceType,
    /// Only resources with `lastUpdated` after this (`_since`).
    pub since: Option<OffsetDateTime>,
    /// Only resources with `lastUpdated` at or before this (transaction time).
    pub until: OffsetDateTime,
}

/// One resource as an export writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceResource {
    /// `id`.
    pub resource_id: String,
    /// `meta.lastUpdated`.
    pub last_updated: OffsetDateTime,
    /// The resource as one line of minified JSON (no newline).
    pub json: Vec<u8>,
}

/// Why a source could not answer.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A generator task failed.
    #[error("generating synthetic data failed: {0}")]
    Generator(String),
}

/// An ACO's data source.
#[derive(Debug, Clone)]
pub enum ClaimsSource {
    /// Imported data in the database.
    Stored(stored::StoredSource),
    /// Generated on demand.
    Generated(generated::GeneratedSource),
}

impl ClaimsSource {
    /// The source of one ACO: generated if it is a synthetic ACO, stored
    /// otherwise.
    pub async fn for_aco(db: &Db, aco_id: Uuid, cms_id: &str) -> Result<Self, SourceError> {
        Ok(match synthetic_acos::find(db, aco_id).await? {
            Some(spec) => {
                ClaimsSource::Generated(generated::GeneratedSource::new(db.clone(), cms_id, &spec))
            }
            None => ClaimsSource::Stored(stored::StoredSource::new(db.clone(), aco_id)),
        })
    }

    /// The ACO's attribution files, oldest attribution date first.
    pub async fn attribution_files(&self) -> Result<Vec<AttributionFile>, SourceError> {
        match self {
            ClaimsSource::Stored(s) => s.attribution_files().await,
            ClaimsSource::Generated(s) => s.attribution_files().await,
        }
    }

    /// The MBIs one attribution file assigns to the ACO, in byte order.
    pub async fn attribution_members(
        &self,
        file: &AttributionFile,
    ) -> Result<Vec<String>, SourceError> {
        match self {
            ClaimsSource::Stored(s) => s.attribution_members(file).await,
            ClaimsSource::Generated(s) => s.attribution_members(file).await,
        }
    }

    /// The MBIs that must not be exported as of `as_of`: those whose latest
    /// 1-800-MEDICARE preference in the 60 days before is `N`. Opt-outs are
    /// global, so imported files count for every source.
    pub async fn opted_out(&self, as_of: OffsetDateTime) -> Result<HashSet<String>, SourceError> {
        match self {
            ClaimsSource::Stored(s) => s.opted_out(as_of).await,
            ClaimsSource::Generated(s) => s.opted_out(as_of).await,
        }
    }

    /// The source's key for each MBI (`None`: the source holds no Patient
    /// for that beneficiary as of `as_of`, which an export reports as an
    /// error for it).
    pub async fn resolve(
        &self,
        mbis: &[String],
        as_of: OffsetDateTime,
    ) -> Result<Vec<Option<BeneficiaryKey>>, SourceError> {
        match self {
            ClaimsSource::Stored(s) => s.resolve(mbis, as_of).await,
            ClaimsSource::Generated(s) => s.resolve(mbis, as_of).await,
        }
    }

    /// Reads the resources of `beneficiaries` (in that order, each in
    /// `(lastUpdated, id)` order) in batches.
    pub fn stream(
        &self,
        beneficiaries: Vec<BeneficiaryKey>,
        query: ResourceQuery,
    ) -> ResourceStream {
        ResourceStream {
            source: self.clone(),
            beneficiaries,
            query,
            position: 0,
            after: None,
        }
    }
}

/// Resources of a list of beneficiaries, read batch by batch: memory holds
/// one batch, however much data the beneficiaries have.
#[derive(Debug)]
pub struct ResourceStream {
    source: ClaimsSource,
    beneficiaries: Vec<BeneficiaryKey>,
    query: ResourceQuery,
    position: usize,
    /// Where the stored scan of the current beneficiary stopped.
    after: Option<(OffsetDateTime, String)>,
}

/// Rows per page of the stored scan.
const PAGE_SIZE: i64 = 500;

impl ResourceStream {
    /// The next batch: the beneficiary it belongs to and its resources (never
    /// empty), or `None` at the end.
    pub async fn next_batch(
        &mut self,
    ) -> Result<Option<(BeneficiaryKey, Vec<SourceResource>)>, SourceError> {
        while let Some(&beneficiary) = self.beneficiaries.get(self.position) {
            let (batch, more) = match &self.source {
                ClaimsSource::Stored(s) => {
                    let after = self.after.as_ref().map(|(t, id)| (*t, id.as_str()));
                    let page = s.page(beneficiary, &self.query, after, PAGE_SIZE).await?;
                    let more = i64::try_from(page.len()).is_ok_and(|n| n == PAGE_SIZE);
                    (page, more)
                }
                // A beneficiary's generated resources come whole, in one batch.
                ClaimsSource::Generated(s) => (s.resources(beneficiary, self.query).await?, false),
            };
            match batch.last() {
                Some(last) if more => {
                    self.after = Some((last.last_updated, last.resource_id.clone()));
                }
                _ => {
                    self.position += 1;
                    self.after = None;
                }
            }
            if !batch.is_empty() {
                return Ok(Some((beneficiary, batch)));
            }
        }
        Ok(None)
    }
}

//! The stored claims source: attribution, opt-outs and resources that the
//! importers put in the database.

use std::collections::HashSet;

use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    AttributionFile, BeneficiaryKey, OPT_OUT_LOOKBACK, ResourceQuery, SourceError, SourceResource,
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
    /// The stored data of `aco_id`.
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

    pub(super) async fn page(
        &self,
        beneficiary: BeneficiaryKey,
        query: &ResourceQuery,
        after: Option<(OffsetDateTime, &str)>,
        limit: i64,
    ) -> Result<Vec<SourceResource>, SourceError> {
        let rows = resources::scan(
            &self.db,
            &ScanPage {
                beneficiary_id: beneficiary.0,
                version: query.version,
                resource_type: query.resource_type,
                since: query.since,
                until: query.until,
                after,
                claims_through: query.claims_through,
                limit,
            },
        )
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| SourceResource {
                resource_id: r.resource_id,
                last_updated: r.last_updated,
                json: r.body,
            })
            .collect())
    }
}

//! The generated claims source: a synthetic ACO computed on demand from its
//! seed (see `crate::synthetic`), with nothing stored but its parameters.
//! A stream renders one beneficiary at a time, a few resources at a time,
//! straight into the batch buffer.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use time::OffsetDateTime;

use super::{
    AttributionFile, BATCH_BYTES, BeneficiaryKey, OPT_OUT_LOOKBACK, ResourceBatch, ResourceQuery,
    SourceError,
};
use crate::store::synthetic_acos::SyntheticAcoRecord;
use crate::store::{Db, opt_outs};
use crate::synthetic::{OptOutPreference, ResourceCursor, Selection, SyntheticAco};

/// Serves one synthetic ACO: attribution, opt-outs and resources computed from its seed and
/// parameters.
#[derive(Debug, Clone)]
pub struct GeneratedSource {
    db: Db,
    aco: Arc<SyntheticAco>,
}

impl GeneratedSource {
    /// The generated data of the synthetic ACO `cms_id` with parameters `spec`.
    pub fn new(db: Db, cms_id: &str, spec: &SyntheticAcoRecord) -> Self {
        Self {
            db,
            aco: Arc::new(
                SyntheticAco::new(
                    cms_id,
                    spec.seed,
                    spec.beneficiaries,
                    spec.first_service_year,
                    spec.anchor,
                    spec.stale_attribution,
                )
                .with_claims_density(spec.claims_density),
            ),
        }
    }

    pub(super) async fn attribution_files(&self) -> Result<Vec<AttributionFile>, SourceError> {
        let aco = self.aco.clone();
        blocking(move || {
            aco.attribution_files()
                .iter()
                .enumerate()
                .map(|(position, file)| AttributionFile {
                    key: i64::try_from(position).unwrap_or(i64::MAX),
                    kind: file.kind,
                    performance_year: file.performance_year,
                    attributed_at: file.timestamp,
                    // Counting would mean computing every file's roster; the
                    // kick-off must stay fast whatever the ACO's size.
                    member_count: None,
                })
                .collect()
        })
        .await
    }

    pub(super) async fn attribution_members(
        &self,
        file: &AttributionFile,
    ) -> Result<Vec<String>, SourceError> {
        let aco = self.aco.clone();
        let key = file.key;
        blocking(move || {
            let files = aco.attribution_files();
            let Some(file) = usize::try_from(key).ok().and_then(|k| files.get(k)) else {
                return Vec::new();
            };
            let mut mbis: Vec<String> = aco
                .attribution_members(file)
                .into_iter()
                .filter_map(|index| aco.beneficiary(index).map(|b| b.mbi))
                .collect();
            mbis.sort_unstable();
            mbis
        })
        .await
    }

    pub(super) async fn opted_out(
        &self,
        as_of: OffsetDateTime,
    ) -> Result<HashSet<String>, SourceError> {
        let from = as_of - OPT_OUT_LOOKBACK;
        let mut out = opt_outs::opted_out(&self.db, from, as_of).await?;
        let aco = self.aco.clone();
        let generated = blocking(move || {
            // The latest event per beneficiary inside the window decides.
            let mut latest: HashMap<u32, (time::Date, bool)> = HashMap::new();
            for event in aco.opt_out_events() {
                let at = event.effective_date.midnight().assume_utc();
                if at < from || at > as_of {
                    continue;
                }
                let refuses = event.preference == OptOutPreference::OptOut;
                let entry = latest
                    .entry(event.index)
                    .or_insert((event.effective_date, refuses));
                if event.effective_date > entry.0 {
                    *entry = (event.effective_date, refuses);
                } else if event.effective_date == entry.0 {
                    entry.1 |= refuses;
                }
            }
            latest
                .into_iter()
                .filter(|(_, (_, refuses))| *refuses)
                .filter_map(|(index, _)| aco.beneficiary(index).map(|b| b.mbi))
                .collect::<Vec<_>>()
        })
        .await?;
        out.extend(generated);
        Ok(out)
    }

    pub(super) async fn resolve(
        &self,
        mbis: &[String],
        as_of: OffsetDateTime,
    ) -> Result<Vec<Option<BeneficiaryKey>>, SourceError> {
        let aco = self.aco.clone();
        let mbis = mbis.to_vec();
        blocking(move || {
            mbis.iter()
                .map(|mbi| {
                    aco.index_of_mbi(mbi)
                        .filter(|&index| aco.has_patient_at(index, as_of))
                        .map(|index| BeneficiaryKey(i64::from(index)))
                })
                .collect()
        })
        .await
    }

    pub(super) async fn attributed_patients(
        &self,
        file: &AttributionFile,
        patient_ids: &[String],
        as_of: OffsetDateTime,
    ) -> Result<Vec<Option<String>>, SourceError> {
        let aco = self.aco.clone();
        let ids = patient_ids.to_vec();
        let key = file.key;
        blocking(move || {
            let files = aco.attribution_files();
            let Some(file) = usize::try_from(key).ok().and_then(|k| files.get(k)) else {
                return vec![None; ids.len()];
            };
            ids.iter()
                .map(|id| {
                    // A Patient's id is its bene id's decimal text, exactly:
                    // `007` or `+7` name no Patient.
                    let bene_id = id.parse::<i64>().ok().filter(|b| b.to_string() == *id)?;
                    let index = aco.index_of_bene_id(bene_id)?;
                    (aco.has_patient_at(index, as_of) && aco.is_attribution_member(file, index))
                        .then(|| aco.beneficiary(index).map(|b| b.mbi))
                        .flatten()
                })
                .collect()
        })
        .await
    }

    /// A cursor over the resources of `beneficiaries`, before the first.
    pub(super) fn cursor(
        &self,
        beneficiaries: Vec<BeneficiaryKey>,
        query: ResourceQuery,
    ) -> GeneratedCursor {
        GeneratedCursor {
            aco: self.aco.clone(),
            query,
            beneficiaries: beneficiaries.into_iter(),
            current: None,
        }
    }
}

/// Where a stream over generated resources is: the beneficiaries not yet
/// started, and the one being rendered.
#[derive(Debug)]
pub(super) struct GeneratedCursor {
    aco: Arc<SyntheticAco>,
    query: ResourceQuery,
    beneficiaries: std::vec::IntoIter<BeneficiaryKey>,
    /// The beneficiary being rendered, if unfinished.
    current: Option<ResourceCursor>,
}

impl GeneratedCursor {
    /// Renders resources into `batch` until it is full or the beneficiaries
    /// run out. CPU work: the caller is on a thread that may block.
    pub(super) fn fill(&mut self, batch: &mut ResourceBatch) {
        while !batch.is_full() {
            let current = match self.current.as_mut() {
                Some(c) => c,
                None => {
                    let Some(key) = self.beneficiaries.next() else {
                        break;
                    };
                    let Ok(index) = u32::try_from(key.0) else {
                        continue;
                    };
                    let q = &self.query;
                    let selection = Selection {
                        since: q.since,
                        until: q.until,
                        as_of: q.as_of,
                        claims_through: q.claims_through,
                        eob_filter: q.eob_filter,
                        // BCDA asks BFD for every type with
                        // `excludeSAMHSA=true` (v3: `_security:not=42CFRPart2`):
                        // Part 2 claims are never exported (a store of the
                        // same world keeps them).
                        exclude_samhsa: true,
                    };
                    self.current.insert(self.aco.cursor(
                        index,
                        q.version,
                        q.resource_type,
                        &selection,
                    ))
                }
            };
            batch.resources += current.write_lines(&mut batch.ndjson, BATCH_BYTES);
            if current.is_done() {
                self.current = None;
            }
        }
    }
}

/// Generation is CPU work: run it off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, SourceError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| SourceError::Generator(e.to_string()))
}

//! The generated claims source: a synthetic ACO computed on demand from its
//! seed (see `crate::synthetic`), with nothing stored but its parameters.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use time::OffsetDateTime;

use super::{AttributionFile, BeneficiaryKey, OPT_OUT_LOOKBACK, SourceError};
use crate::store::synthetic_acos::SyntheticAcoRecord;
use crate::store::{Db, opt_outs};
use crate::synthetic::{OptOutPreference, SyntheticAco};

/// Serves one synthetic ACO.
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
            aco: Arc::new(SyntheticAco::new(
                cms_id,
                spec.seed,
                spec.beneficiaries,
                spec.first_service_year,
                spec.anchor,
                spec.stale_attribution,
            )),
        }
    }

    /// The generator behind this source.
    pub fn aco(&self) -> &SyntheticAco {
        &self.aco
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
}

/// Generation is CPU work: run it off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, SourceError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| SourceError::Generator(e.to_string()))
}

//! Preparing one source: a fresh data directory and database, an ACO of
//! the requested size served by the generator (`generated`) or written as
//! files and imported (`stored`), and credentials for it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;

use super::Source;
use crate::app::{App, AppConfig};
use crate::auth::credentials::{self, DEFAULT_SECRET_LIFETIME, NewCredentials};
use crate::auth::keys::SealingKey;
use crate::auth::tokens::TokenSettings;
use crate::clock::{Clock, SharedClock, SystemClock};
use crate::config::DataDir;
use crate::domain::{ApiVersion, DataSet, DataSets, ResourceType};
use crate::files::StoreLocation;
use crate::import;
use crate::jobs::JobSettings;
use crate::store::Db;
use crate::store::synthetic_acos::{self, SyntheticAcoRecord};
use crate::synthetic::SyntheticAco;
use crate::synthetic_files;

/// The CMS ID of the benchmark ACO.
pub const BENCH_CMS_ID: &str = "A0001";

/// What the benchmark ACO is made of.
#[derive(Debug, Clone, Copy)]
pub struct AcoSpec {
    /// Beneficiaries in the current attribution.
    pub beneficiaries: u32,
    /// Years of claims, ending this year.
    pub years: i32,
    /// Generator seed.
    pub seed: u64,
    /// Percent of the full claim rates (`synthetic::FULL_CLAIMS_DENSITY`
    /// for production-like data; the sandbox's to measure a sandbox ACO).
    pub claims_density: u8,
}

/// A prepared source: the open application and a client's credentials.
#[derive(Debug)]
pub struct Prepared {
    /// The application over the fresh data directory.
    pub app: Arc<App>,
    /// Credentials of the benchmark ACO.
    pub credentials: NewCredentials,
    /// Seconds spent importing (stored source only; not export time).
    pub import_seconds: Option<f64>,
}

/// The data sets the benchmark ACO needs to export `types` (the
/// kick-off's `_type`; empty: the defaults): adjudicated, plus partially
/// adjudicated when Claim or ClaimResponse is asked for.
pub fn data_sets_for(types: &[ResourceType]) -> DataSets {
    if types
        .iter()
        .any(|t| t.data_set() == DataSet::PartiallyAdjudicated)
    {
        DataSets::BOTH
    } else {
        DataSets::default()
    }
}

/// Opens a fresh application in `data_dir` and creates the ACO from
/// `source`, entitled to `data_sets`.
pub async fn prepare(
    source: Source,
    spec: AcoSpec,
    data_sets: DataSets,
    data_dir: &Path,
    store: StoreLocation,
    jobs: JobSettings,
    keep_files: bool,
) -> anyhow::Result<Prepared> {
    let clock: SharedClock = Arc::new(SystemClock);
    let data = DataDir::new(data_dir);
    data.ensure()
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let db = Db::connect(None, data_dir, crate::store::DEFAULT_WAIT).await?;
    let app = App::open(
        db,
        clock.clone(),
        AppConfig {
            sealing_key: SealingKey::File(data.default_key_file()),
            data_dir: data,
            store,
            tokens: TokenSettings::default(),
            http: Default::default(),
            jobs,
        },
    )
    .await?;
    let aco = crate::acos::create(
        &app.db,
        clock.as_ref(),
        BENCH_CMS_ID,
        "Benchmark ACO",
        data_sets,
    )
    .await?;
    let today = clock.now().date();
    let record = SyntheticAcoRecord {
        seed: spec.seed,
        beneficiaries: spec.beneficiaries,
        first_service_year: today.year() - (spec.years - 1),
        anchor: today,
        stale_attribution: false,
        claims_density: spec.claims_density,
    };
    let import_seconds = match source {
        Source::Generated => {
            synthetic_acos::upsert(&app.db, aco.id, &record).await?;
            None
        }
        Source::Stored => {
            let files = data_dir.with_extension("synthetic-files");
            let seconds = write_and_import(&app.db, clock.as_ref(), &record, &files).await?;
            if !keep_files {
                // The database holds them now; free the disk for the export.
                let _ = std::fs::remove_dir_all(&files);
            }
            Some(seconds)
        }
    };
    let credentials = credentials::create(
        &app.db,
        clock.as_ref(),
        BENCH_CMS_ID,
        DEFAULT_SECRET_LIFETIME,
    )
    .await?;
    Ok(Prepared {
        app: Arc::new(app),
        credentials,
        import_seconds,
    })
}

/// Writes the ACO as files and imports them as an operator would: the
/// attribution packages, the opt-out files and the R4 resources (the
/// benchmark exports v2 only, so the STU3 files are not imported). Returns
/// the import's seconds (writing the files is not counted).
async fn write_and_import(
    db: &Db,
    clock: &dyn Clock,
    record: &SyntheticAcoRecord,
    out: &Path,
) -> anyhow::Result<f64> {
    let aco = SyntheticAco::new(
        BENCH_CMS_ID,
        record.seed,
        record.beneficiaries,
        record.first_service_year,
        record.anchor,
        false,
    )
    .with_claims_density(record.claims_density);
    let as_of = clock.now();
    let dir = out.to_owned();
    eprintln!(
        "bench: writing the synthetic ACO's files to {}",
        out.display()
    );
    let written =
        tokio::task::spawn_blocking(move || synthetic_files::write_all(&aco, &dir, as_of))
            .await??;
    eprintln!(
        "bench: wrote {} resources ({:.1} MB of NDJSON, every FHIR version); importing",
        written.resources,
        written.ndjson_bytes as f64 / 1e6
    );
    let started = Instant::now();
    for input in import::attribution::group_inputs(&files_in(&out.join("attribution"))?)? {
        import::attribution::import_input(db, &input, as_of, true).await?;
    }
    for file in files_in(&out.join("opt-outs"))? {
        import::opt_outs::import_file(db, &file, as_of, true).await?;
    }
    let mut resources = files_in(
        &out.join("fhir")
            .join(synthetic_files::version_dir(ApiVersion::V2)),
    )?;
    import::resources::patient_files_first(&mut resources);
    for file in resources {
        import::resources::import_file(db, ApiVersion::V2, &file, true).await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    eprintln!("bench: imported in {seconds:.1} s");
    Ok(seconds)
}

/// The files of a directory, sorted by name.
fn files_in(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        files.push(entry?.path());
    }
    files.sort();
    Ok(files)
}

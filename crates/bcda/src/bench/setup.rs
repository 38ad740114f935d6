//! Preparing one source: a fresh data directory and database, an ACO of
//! the requested size served by the generator (`generated`) or written as
//! files and imported (`stored`, by `bcda synthetic` and `bcda import`
//! child processes, so that neither counts in this process's memory), and
//! credentials for it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use super::Source;
use super::child::{self, ChildDatabase};
use crate::app::{App, AppConfig};
use crate::auth::credentials::{self, DEFAULT_SECRET_LIFETIME, NewCredentials};
use crate::auth::keys::SealingKey;
use crate::auth::tokens::TokenSettings;
use crate::clock::{SharedClock, SystemClock};
use crate::config::DataDir;
use crate::domain::{ApiVersion, DataSet, DataSets, ResourceType};
use crate::files::StoreLocation;
use crate::jobs::JobSettings;
use crate::store::Db;
use crate::store::synthetic_acos::{self, SyntheticAcoRecord};
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
    /// The stored source's import (`None` for the generated source).
    pub import: Option<Imported>,
}

/// What importing the stored source took (none of it is export time).
#[derive(Debug, Clone, Copy)]
pub struct Imported {
    /// Wall seconds of the three imports (attribution, opt-outs, resources).
    pub seconds: f64,
    /// Wall seconds of `bcda import resources` alone.
    pub resources_seconds: f64,
    /// Bytes of the NDJSON files `bcda import resources` read.
    pub ndjson_bytes: u64,
    /// The highest peak RSS of the import processes, MB (`None` when they
    /// did not report it).
    pub peak_rss_mb: Option<f64>,
}

/// Where and how the stored source's files are written and imported.
#[derive(Debug)]
pub struct Importer<'a> {
    /// The `bcda` binary the children run.
    pub bcda: &'a Path,
    /// The run's database, as the children reach it.
    pub database: &'a ChildDatabase,
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

/// Opens the application over `db` (a fresh database) in `data_dir` (a
/// fresh directory) and creates the ACO from `source`, entitled to
/// `data_sets`.
#[allow(clippy::too_many_arguments)]
pub async fn prepare(
    source: Source,
    spec: AcoSpec,
    data_sets: DataSets,
    data_dir: &Path,
    db: Db,
    importer: Importer<'_>,
    store: StoreLocation,
    jobs: JobSettings,
    keep_files: bool,
) -> anyhow::Result<Prepared> {
    let clock: SharedClock = Arc::new(SystemClock);
    let data = DataDir::new(data_dir);
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
    let import = match source {
        Source::Generated => {
            synthetic_acos::upsert(&app.db, aco.id, &record).await?;
            None
        }
        Source::Stored => {
            let files = data_dir.with_extension("synthetic-files");
            let imported = write_and_import(&importer, data_dir, &record, &files).await;
            if !keep_files {
                // The database holds them now; free the disk for the export.
                let _ = std::fs::remove_dir_all(&files);
            }
            Some(imported?)
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
        import,
    })
}

/// Writes the ACO as files (`bcda synthetic`, as of now) and imports them
/// as an operator would (`bcda import attribution`, `opt-outs`, `resources
/// --fhir-version r4`: the benchmark exports v2 only, so the STU3 and
/// r4-v3 files are not imported), each a child process. Returns the
/// imports' wall time (the three together, and the resources' alone; not
/// the writing), the NDJSON bytes imported, and the highest peak RSS among
/// them.
async fn write_and_import(
    importer: &Importer<'_>,
    data_dir: &Path,
    record: &SyntheticAcoRecord,
    out: &Path,
) -> anyhow::Result<Imported> {
    let years = record.anchor.year() - record.first_service_year + 1;
    eprintln!(
        "bench: writing the synthetic ACO's files to {}",
        out.display()
    );
    let args: Vec<OsString> = vec![
        "synthetic".into(),
        "--aco".into(),
        BENCH_CMS_ID.into(),
        "--beneficiaries".into(),
        record.beneficiaries.to_string().into(),
        "--years".into(),
        years.to_string().into(),
        "--seed".into(),
        record.seed.to_string().into(),
        "--as-of".into(),
        record.anchor.to_string().into(),
        "--claims-density".into(),
        record.claims_density.to_string().into(),
        "--out".into(),
        out.into(),
    ];
    child::run_bcda(
        importer.bcda,
        data_dir,
        importer.database,
        "bcda synthetic",
        args,
    )
    .await?;
    eprintln!("bench: importing");
    let resources = files_in(
        &out.join("fhir")
            .join(synthetic_files::version_dir(ApiVersion::V2)),
    )?;
    // The files' own sizes (the arguments also hold the command's words).
    let ndjson_bytes = resources
        .iter()
        .filter_map(|path| std::fs::metadata(path).ok())
        .map(|meta| meta.len())
        .sum();
    let imports: [(&'static str, Vec<OsString>); 3] = [
        (
            "bcda import attribution",
            with_files(
                &["import", "attribution"],
                files_in(&out.join("attribution"))?,
            ),
        ),
        (
            "bcda import opt-outs",
            with_files(&["import", "opt-outs"], files_in(&out.join("opt-outs"))?),
        ),
        (
            "bcda import resources",
            with_files(&["import", "resources", "--fhir-version", "r4"], resources),
        ),
    ];
    let mut elapsed = Duration::ZERO;
    let mut resources_elapsed = Duration::ZERO;
    let mut peak_rss_mb: Option<f64> = None;
    for (label, args) in imports {
        let run = child::run_bcda(importer.bcda, data_dir, importer.database, label, args).await?;
        elapsed += run.elapsed;
        if label == "bcda import resources" {
            resources_elapsed = run.elapsed;
        }
        peak_rss_mb = match (peak_rss_mb, run.peak_rss_mb) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
    eprintln!(
        "bench: imported in {:.1} s (the resources, {:.0} MB of NDJSON, in {:.1} s)",
        elapsed.as_secs_f64(),
        ndjson_bytes as f64 / 1e6,
        resources_elapsed.as_secs_f64()
    );
    Ok(Imported {
        seconds: elapsed.as_secs_f64(),
        resources_seconds: resources_elapsed.as_secs_f64(),
        ndjson_bytes,
        peak_rss_mb,
    })
}

/// A command's arguments followed by files.
fn with_files(args: &[&str], files: Vec<PathBuf>) -> Vec<OsString> {
    args.iter()
        .map(OsString::from)
        .chain(files.into_iter().map(OsString::from))
        .collect()
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

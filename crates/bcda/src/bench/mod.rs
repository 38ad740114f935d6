//! `bcda bench export`: a reproducible end-to-end export benchmark.
//!
//! For each source, `runs` times, in a fresh data directory and database
//! (SQLite, or a fresh PostgreSQL schema): an ACO of the requested size
//! (served by the generator, or written as files and imported by `bcda`
//! child processes), the
//! real server started in this process (`runtime::Process`, as `bcda
//! serve` runs it: the API on a free port of 127.0.0.1, workers, the
//! queued-task listener and housekeeping), a full v2 `Patient/$export`
//! (of the ACO's default types, or `--types`) driven over HTTP, every file
//! downloaded, and the machine's own gzip + write limit for the same bytes.
//! Several runs of a source end with their median. See docs/BENCHMARKS.md.

mod child;
mod client;
mod database;
mod export;
mod limit;
mod median;
mod proc_stats;
mod report;
mod setup;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;

pub use self::child::print_peak_rss_if_asked;
use self::client::Client;
pub use self::database::BenchDatabase;
use self::report::Downloads;
pub use self::report::Report;
pub use self::setup::AcoSpec;
use crate::domain::ResourceType;
use crate::files::StoreLocation;
use crate::http::server::ConnectionSettings;
use crate::jobs::JobSettings;
use crate::runtime::Process;

/// Where the benchmark ACO's data comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Source {
    /// The procedural generator (a `synthetic_acos` row).
    Generated,
    /// Files written by `synthetic_files` and imported into the database.
    Stored,
}

impl Source {
    /// The name used in reports and directories.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Generated => "generated",
            Source::Stored => "stored",
        }
    }
}

/// What to benchmark.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// The ACO.
    pub aco: AcoSpec,
    /// Sources to run, in order.
    pub sources: Vec<Source>,
    /// Complete runs of each source (at least 1), each in a fresh data
    /// directory and database; more than one adds their median.
    pub runs: u32,
    /// The database of every run.
    pub database: BenchDatabase,
    /// The `bcda` binary that writes and imports the stored source's files
    /// as child processes (the command line passes its own,
    /// `std::env::current_exe()`).
    pub bcda: PathBuf,
    /// The kick-off's `_type`, in order; empty: no `_type` (the ACO's
    /// defaults, the adjudicated types). Asking for Claim or ClaimResponse
    /// entitles the ACO to partially adjudicated data.
    pub types: Vec<ResourceType>,
    /// Export workers.
    pub workers: usize,
    /// Keep the data under this directory instead of a temporary one that
    /// is removed at the end.
    pub keep: Option<PathBuf>,
    /// Export engine settings (the gzip level among them).
    pub jobs: JobSettings,
    /// Where export files go: the data directory (the default), or each
    /// source's run under a fresh directory or S3 prefix of its own.
    pub store: StoreLocation,
}

/// The store of one source's run: `store` narrowed to a place of its own.
fn run_store(store: &StoreLocation, run: &str) -> StoreLocation {
    match store {
        StoreLocation::Directory(dir) => StoreLocation::Directory(dir.join(run)),
        StoreLocation::S3 { bucket, prefix } => StoreLocation::S3 {
            bucket: bucket.clone(),
            prefix: [prefix.as_str(), run]
                .iter()
                .filter(|p| !p.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join("/"),
        },
        other => other.clone(),
    }
}

/// Removes the benchmark's directory when dropped, unless it is kept.
struct Workspace {
    root: PathBuf,
    keep: bool,
}

impl Drop for Workspace {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// The runs of one source and, for more than one run, their median.
#[derive(Debug, Clone)]
pub struct SourceRuns {
    /// One report per run, in order.
    pub runs: Vec<Report>,
    /// The median of the runs' figures (`run`: `"median"`), when there
    /// were several.
    pub median: Option<serde_json::Value>,
}

/// Runs the benchmark: every run of every source, in order. `emit` gets
/// each line of the output as soon as it is known: each run's report, and
/// after a source's runs their median (when there are several).
pub async fn run(
    options: &BenchOptions,
    mut emit: impl FnMut(&serde_json::Value),
) -> anyhow::Result<Vec<SourceRuns>> {
    if options.runs == 0 {
        anyhow::bail!("at least one run is needed");
    }
    let workspace = match &options.keep {
        Some(dir) => {
            if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
                anyhow::bail!("--keep {}: the directory is not empty", dir.display());
            }
            Workspace {
                root: dir.clone(),
                keep: true,
            }
        }
        None => Workspace {
            root: std::env::temp_dir().join(format!("bcda-bench-{}", uuid::Uuid::new_v4())),
            keep: false,
        },
    };
    std::fs::create_dir_all(&workspace.root)
        .with_context(|| format!("cannot create {}", workspace.root.display()))?;
    eprintln!("bench: working in {}", workspace.root.display());
    let mut results = Vec::with_capacity(options.sources.len());
    for source in &options.sources {
        let mut runs = Vec::new();
        let mut lines = Vec::new();
        for number in 1..=options.runs {
            let report = run_once(options, *source, number, &workspace).await?;
            let line = serde_json::to_value(&report)?;
            emit(&line);
            lines.push(line);
            runs.push(report);
        }
        let median = (options.runs > 1).then(|| median::median_report(&lines));
        if let Some(median) = &median {
            emit(median);
        }
        results.push(SourceRuns { runs, median });
    }
    Ok(results)
}

/// Run `number` of `source`, in a fresh data directory and database
/// (both removed afterwards, unless kept).
async fn run_once(
    options: &BenchOptions,
    source: Source,
    number: u32,
    workspace: &Workspace,
) -> anyhow::Result<Report> {
    let data_dir = workspace.root.join(format!("{}-{number}", source.as_str()));
    crate::config::DataDir::new(&data_dir)
        .ensure()
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let database = options.database.open_run(&data_dir).await?;
    let measured = run_source(options, source, number, workspace, &data_dir, &database).await;
    let finished = database.finish(workspace.keep).await;
    if !workspace.keep {
        // Runs need one run's disk, not all of them: a stored run at
        // 10,000 beneficiaries holds about 10 GB of database.
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    let report = measured?;
    finished?;
    Ok(report)
}

async fn run_source(
    options: &BenchOptions,
    source: Source,
    number: u32,
    workspace: &Workspace,
    data_dir: &std::path::Path,
    database: &database::RunDatabase,
) -> anyhow::Result<Report> {
    eprintln!(
        "bench: {} run {number} of {} ({}): {} beneficiaries x {} years",
        source.as_str(),
        options.runs,
        options.database.as_str(),
        options.aco.beneficiaries,
        options.aco.years
    );
    let run_name = format!(
        "bench-{}-{}",
        source.as_str(),
        uuid::Uuid::new_v4().simple()
    );
    let prepared = setup::prepare(
        source,
        options.aco,
        setup::data_sets_for(&options.types),
        data_dir,
        database.db.clone(),
        setup::Importer {
            bcda: &options.bcda,
            database: &database.child,
        },
        run_store(&options.store, &run_name),
        options.jobs.clone(),
        workspace.keep,
    )
    .await?;
    eprintln!(
        "bench: export files in {}",
        prepared.app.files.description()
    );
    flush_writes_to_disk().await;
    let app = prepared.app.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = Process::server(
        app.clone(),
        listener,
        ConnectionSettings::default(),
        options.workers,
    );
    // The server is stopped on failure too, before the workspace goes: its
    // workers must not see their database removed under them.
    let measured = drive(addr, &prepared.credentials, &options.types).await;
    server.stop().await;
    let (run, stored_bytes, downloads, peak_rss_mb, peak_reset, cpu_seconds) = measured?;

    let names: Vec<&str> = run
        .files
        .iter()
        .filter_map(|f| f.path.rsplit('/').next())
        .collect();
    let inputs = local_inputs(
        &app.files,
        run.job_id,
        &names,
        &data_dir.join("limit-inputs"),
    )
    .await?;
    let out_dir = data_dir.join("limit");
    let level = options.jobs.gzip_level;
    let threads = proc_stats::cores();
    eprintln!("bench: measuring the gzip + write limit on {threads} threads");
    let limit =
        tokio::task::spawn_blocking(move || limit::measure(&inputs, &out_dir, level, threads))
            .await??;
    if !workspace.keep && app.files.local_root().is_none() {
        // A bucket is not removed with the workspace.
        app.files.delete(run.job_id).await?;
    }
    app.db.close().await;

    let report = Report::new(report::Measured {
        store: app.files.description().to_owned(),
        source,
        number,
        database: options.database.as_str(),
        options,
        run: &run,
        import: prepared.import,
        stored_bytes,
        downloads,
        peak_rss_mb,
        peak_rss_reset: peak_reset,
        cpu_seconds,
        limit,
        machine: proc_stats::machine(),
    });
    if limit.ndjson_bytes != report.ndjson_bytes {
        anyhow::bail!(
            "the limit run inflated {} bytes, the manifest lists {}",
            limit.ndjson_bytes,
            report.ndjson_bytes
        );
    }
    Ok(report)
}

/// Waits until everything the set-up wrote is on disk (`sync`), so that
/// the export and the limit run start on a quiet disk whatever the source:
/// the stored source's set-up writes gigabytes (the synthetic files, kept
/// with `--keep`, and the database) that the kernel could otherwise still
/// be writing back during both, slowing each by a different amount. Not
/// measured; a machine without `sync` only gets a warning.
async fn flush_writes_to_disk() {
    let started = Instant::now();
    match tokio::process::Command::new("sync").status().await {
        Ok(status) if status.success() => eprintln!(
            "bench: set-up's writes flushed to disk in {:.1} s",
            started.elapsed().as_secs_f64()
        ),
        Ok(status) => eprintln!("bench: warning: `sync` failed ({status}); measuring anyway"),
        Err(error) => eprintln!("bench: warning: cannot run `sync` ({error}); measuring anyway"),
    }
}

/// The files of the limit measurement on local disk: a directory store's
/// own files, or an object store's copied into `dir` first (the limit is
/// the machine's compress-and-write speed, whatever the store).
async fn local_inputs(
    files: &crate::files::FileStore,
    job_id: i64,
    names: &[&str],
    dir: &std::path::Path,
) -> anyhow::Result<Vec<PathBuf>> {
    if files.local_root().is_some() {
        return Ok(names
            .iter()
            .filter_map(|name| files.path(job_id, name))
            .collect());
    }
    eprintln!("bench: copying the files from the store for the limit measurement");
    std::fs::create_dir_all(dir)?;
    let mut inputs = Vec::with_capacity(names.len());
    for name in names {
        let stored = files
            .open(job_id, name, None)
            .await?
            .with_context(|| format!("{name} is missing from the store"))?;
        let path = dir.join(format!("{name}.gz"));
        let target = path.clone();
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let mut reader = stored.body.into_reader(runtime)?;
            let mut file = std::fs::File::create(&target)?;
            std::io::copy(&mut reader, &mut file)?;
            Ok(())
        })
        .await??;
        inputs.push(path);
    }
    Ok(inputs)
}

/// Passes over every file of the export when measuring downloads. One
/// pass takes half a second at 10,000 beneficiaries, and on a 2-core VM
/// single passes of one build swung from 0.5 to 1.7 GB/s with what else
/// the machine was doing: the median of three is what is reported, the
/// first pass beside it.
const DOWNLOAD_PASSES: usize = 3;

/// What [`drive`] measured: the run, bytes per download pass, the download
/// passes, peak RSS, whether the peak was reset first, and CPU seconds to
/// manifest.
type Driven = (
    export::ExportRun,
    u64,
    Downloads,
    Option<f64>,
    bool,
    Option<f64>,
);

/// Token, export, downloads and a checked sample against the server
/// listening on `addr`.
async fn drive(
    addr: SocketAddr,
    credentials: &crate::auth::credentials::NewCredentials,
    types: &[ResourceType],
) -> anyhow::Result<Driven> {
    let client = Client::new(addr);
    let token = export::token(&client, credentials).await?;
    // The peak from here on is the export's, not the data set's preparation.
    let peak_reset = proc_stats::reset_peak_rss();
    let cpu_before = proc_stats::cpu_seconds();
    let run = export::run(&client, &token, types).await?;
    let cpu_seconds = proc_stats::cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    eprintln!(
        "bench: manifest after {:.2} s: {} files; downloading",
        run.to_manifest.as_secs_f64(),
        run.files.len()
    );
    let mut pass_seconds = Vec::with_capacity(DOWNLOAD_PASSES);
    let mut stored_bytes = 0;
    for _ in 0..DOWNLOAD_PASSES {
        let downloading = Instant::now();
        stored_bytes = export::download_all(&client, &token, &run.files).await?;
        pass_seconds.push(downloading.elapsed().as_secs_f64());
    }
    let downloads = Downloads::of(&pass_seconds);
    let peak_rss_mb = proc_stats::peak_rss_mb();
    // A sample: the first file of each type, inflated and counted.
    let mut checked = Vec::<&str>::new();
    for file in &run.files {
        if !checked.contains(&file.resource_type.as_str()) {
            export::check(&client, &token, file).await?;
            checked.push(&file.resource_type);
        }
    }
    Ok((
        run,
        stored_bytes,
        downloads,
        peak_rss_mb,
        peak_reset,
        cpu_seconds,
    ))
}

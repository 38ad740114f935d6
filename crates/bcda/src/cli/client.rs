//! `bcda client ...`: the ACO's side (see `crate::client`).
//!
//! Exit codes (also in docs/CLIENT.md): 0 done; 2 bad usage or a directory
//! holding something else; 3 credentials refused; 4 request refused (deny
//! list, no attribution yet, bad parameter); 5 job failed, cancelled or
//! expired; 6 a file did not match the manifest; 7 network (resumable);
//! 8 disk (resumable); 130 interrupted (resumable).

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand};

use crate::client::ClientError;
use crate::client::export::{self, ExportOptions, Finished};
use crate::client::progress::{Display, Reporter, count, human_bytes};
use crate::client::request::{Api, ExportRequest, Scope, ServerSettings, Timing};
use crate::client::session::Session;
use crate::client::sync::{self, SyncOptions};

/// The exit codes, for `bcda client --help` (docs/CLIENT.md has more).
pub const EXIT_CODES_HELP: &str = "Exit codes: 0 done (every file verified); 2 bad usage, no \
BCDA_CLIENT_SECRET, or a directory holding another export; 3 credentials refused; 4 request \
refused (deny list, no attribution yet, bad parameter); 5 job failed, cancelled or expired; \
6 a file did not match the manifest twice; 7 network (resumable); 8 disk, e.g. full \
(resumable); 130 interrupted (resumable). See docs/CLIENT.md.";

/// The environment variable holding the client secret (never a flag,
/// which `ps` and shell history would show).
pub const SECRET_VAR: &str = "BCDA_CLIENT_SECRET";

/// `bcda client` subcommands.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Export into a directory: kick off, poll, download and verify every
    /// file (a second run in the same directory continues, never re-fetching
    /// what is complete).
    #[command(after_help = EXIT_CODES_HELP)]
    Export(ExportArgs),
    /// Continue the export in DIR where it stopped (after a broken
    /// connection, Ctrl-C, a full disk or a reboot).
    #[command(after_help = EXIT_CODES_HELP)]
    Resume(ResumeArgs),
    /// Incremental export for cron: each run's _since is the last completed
    /// run's transactionTime, each run in its own dated folder under --out.
    #[command(after_help = EXIT_CODES_HELP)]
    Sync(SyncArgs),
    /// What arrived: per resource type the count and lastUpdated range, for
    /// ExplanationOfBenefit the claim types and service dates, and the
    /// error files' messages grouped (every .ndjson and .ndjson.gz under DIR).
    Summary(SummaryArgs),
}

/// `bcda client summary`.
#[derive(Debug, Args)]
pub struct SummaryArgs {
    /// An export directory, a sync directory, or any folder of NDJSON files.
    dir: PathBuf,
    /// JSON for machines instead of the table.
    #[arg(long)]
    json: bool,
}

/// Where the server is and who the client is.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// The server's base URL, e.g. https://sandbox.bcda.cms.gov or
    /// http://127.0.0.1:3000 (the local sandbox).
    #[arg(long, env = "BCDA_SERVER", value_name = "URL")]
    pub server: String,
    /// The client id. The secret comes from the environment variable
    /// BCDA_CLIENT_SECRET (never a flag).
    #[arg(long, env = "BCDA_CLIENT_ID", value_name = "ID")]
    pub client_id: String,
}

/// What to export.
#[derive(Debug, Clone, Args)]
pub struct RequestArgs {
    /// API version.
    #[arg(long, value_enum, default_value = "v2")]
    pub api: Api,
    /// Group/{all|runout}/$export (the default: all).
    #[arg(long, value_parser = ["all", "runout"], conflicts_with = "patient")]
    pub group: Option<String>,
    /// Patient/$export instead of a group.
    #[arg(long)]
    pub patient: bool,
    /// Resource types (_type), comma-separated; default every type the ACO may see.
    #[arg(long = "type", value_delimiter = ',', value_name = "TYPE,...")]
    pub types: Vec<String>,
    /// _typeFilter (v3), repeatable.
    #[arg(long = "type-filter", value_name = "FILTER")]
    pub type_filters: Vec<String>,
}

impl RequestArgs {
    fn scope(&self) -> Scope {
        match (self.patient, self.group.as_deref()) {
            (true, _) => Scope::Patient,
            (false, Some("runout")) => Scope::GroupRunout,
            _ => Scope::GroupAll,
        }
    }
}

/// How files are downloaded and progress shown.
#[derive(Debug, Clone, Args)]
pub struct DownloadArgs {
    /// Files downloaded at once.
    #[arg(long, default_value = "4", value_parser = clap::value_parser!(u16).range(1..=16))]
    pub connections: u16,
    /// Show nothing but errors (for cron).
    #[arg(long)]
    pub quiet: bool,
    /// On Ctrl-C, also cancel the job on the server (its files are deleted
    /// there: use it when you will not resume).
    #[arg(long)]
    pub cancel_on_interrupt: bool,
}

/// `bcda client export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    request: RequestArgs,
    /// _since: only resources changed after this FHIR instant
    /// (e.g. 2026-01-01T00:00:00Z).
    #[arg(long, value_name = "INSTANT")]
    since: Option<String>,
    /// The directory for the files, the manifest and the state.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Keep files gzip-compressed (.ndjson.gz) instead of inflating them.
    #[arg(long)]
    keep_gzip: bool,
    #[command(flatten)]
    download: DownloadArgs,
}

/// `bcda client resume`.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The directory of the export to continue.
    dir: PathBuf,
    #[command(flatten)]
    download: DownloadArgs,
}

/// `bcda client sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    request: RequestArgs,
    /// The top directory: the ledger bcda-sync.json and one dated folder per run.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Keep files gzip-compressed (.ndjson.gz).
    #[arg(long)]
    keep_gzip: bool,
    #[command(flatten)]
    download: DownloadArgs,
}

/// Runs a client command. Failures are `ClientError`s (their exit codes
/// are applied by `cli::main`).
pub async fn run(command: ClientCommand) -> anyhow::Result<()> {
    let result = match command {
        ClientCommand::Export(args) => export_command(args).await,
        ClientCommand::Resume(args) => resume_command(args).await,
        ClientCommand::Sync(args) => sync_command(args).await,
        ClientCommand::Summary(args) => summary_command(args).await,
    };
    result.map_err(anyhow::Error::new)
}

fn secret() -> Result<String, ClientError> {
    std::env::var(SECRET_VAR).map_err(|_| {
        ClientError::Usage(format!(
            "set the client secret in the environment variable {SECRET_VAR} (it is never a flag)"
        ))
    })
}

fn session(server: &str, client_id: &str) -> Result<Arc<Session>, ClientError> {
    let settings = ServerSettings::new(server, client_id, &secret()?, Timing::default())?;
    Ok(Arc::new(Session::new(settings)?))
}

async fn export_command(args: ExportArgs) -> Result<(), ClientError> {
    let session = session(&args.server.server, &args.server.client_id)?;
    let request = ExportRequest {
        api: args.request.api,
        scope: args.request.scope(),
        types: args.request.types.clone(),
        since: args.since.clone(),
        type_filters: args.request.type_filters.clone(),
    };
    let options = ExportOptions {
        dir: args.out.clone(),
        keep_gzip: args.keep_gzip,
        connections: usize::from(args.download.connections),
    };
    let reporter = Reporter::new(Display::detect(args.download.quiet));
    let run = export::export(session.clone(), &request, &options, &reporter);
    let finished = interruptible(run, &session, &options.dir, &args.download, &reporter).await?;
    if !args.download.quiet {
        print_finished(&finished);
    }
    Ok(())
}

async fn resume_command(args: ResumeArgs) -> Result<(), ClientError> {
    let state = export::state_of(&args.dir)?;
    let session = session(&state.server, &state.client_id)?;
    let options = ExportOptions {
        dir: args.dir.clone(),
        keep_gzip: state.keep_gzip,
        connections: usize::from(args.download.connections),
    };
    let reporter = Reporter::new(Display::detect(args.download.quiet));
    let run = export::resume(session.clone(), &options, &reporter);
    let finished = interruptible(run, &session, &options.dir, &args.download, &reporter).await?;
    if !args.download.quiet {
        print_finished(&finished);
    }
    Ok(())
}

async fn sync_command(args: SyncArgs) -> Result<(), ClientError> {
    let session = session(&args.server.server, &args.server.client_id)?;
    let options = SyncOptions {
        dir: args.out.clone(),
        api: args.request.api,
        scope: args.request.scope(),
        types: args.request.types.clone(),
        type_filters: args.request.type_filters.clone(),
        keep_gzip: args.keep_gzip,
        connections: usize::from(args.download.connections),
    };
    let reporter = Reporter::new(Display::detect(args.download.quiet));
    let run = sync::sync(session.clone(), &options, &reporter);
    let report = tokio::select! {
        report = run => report?,
        _ = tokio::signal::ctrl_c() => {
            reporter.finish();
            return Err(ClientError::Interrupted(format!(
                "interrupted: the next `bcda client sync --out {}` finishes this run first",
                args.out.display()
            )));
        }
    };
    if !args.download.quiet {
        for finished in &report.runs {
            print_finished(finished);
        }
        if let Some(since) = &report.next_since {
            println!("next sync asks for changes since {since}");
        }
    }
    Ok(())
}

/// Runs `run` until it ends or Ctrl-C: then the state is already on disk
/// (resumable), and with `--cancel-on-interrupt` the job is cancelled.
async fn interruptible(
    run: impl Future<Output = Result<Finished, ClientError>>,
    session: &Session,
    dir: &std::path::Path,
    args: &DownloadArgs,
    reporter: &Reporter,
) -> Result<Finished, ClientError> {
    tokio::select! {
        finished = run => finished,
        _ = tokio::signal::ctrl_c() => {
            reporter.finish();
            let job = export::state_of(dir).ok().and_then(|s| s.job_url);
            if args.cancel_on_interrupt && let Some(job) = job {
                export::cancel(session, &job).await?;
                return Err(ClientError::Interrupted(format!(
                    "interrupted; job {} was cancelled on the server",
                    crate::client::poll::job_label(&job)
                )));
            }
            Err(ClientError::Interrupted(format!(
                "interrupted: run `bcda client resume {}` to continue where this stopped",
                dir.display()
            )))
        }
    }
}

async fn summary_command(args: SummaryArgs) -> Result<(), ClientError> {
    use crate::client::summary::{self, SummaryError};
    let dir = args.dir.clone();
    let summary = tokio::task::spawn_blocking(move || summary::summarize(&dir))
        .await
        .map_err(|e| ClientError::Disk(format!("the summary stopped unexpectedly: {e}")))?
        .map_err(|e| match e {
            SummaryError::NotFound(_)
            | SummaryError::NotADirectory(_)
            | SummaryError::NoFiles(_) => ClientError::Usage(e.to_string()),
            SummaryError::Line { .. } => ClientError::Verification(e.to_string()),
            SummaryError::Io { .. } | SummaryError::Read { .. } => ClientError::Disk(e.to_string()),
        })?;
    if args.json {
        let json = serde_json::to_string_pretty(&summary.to_json()).expect("JSON");
        println!("{json}");
    } else {
        print!("{}", summary.to_text());
    }
    Ok(())
}

fn print_finished(finished: &Finished) {
    println!(
        "{}: {}, {}, {} on disk ({} downloaded now: {} received in {:.1} s); transactionTime {}",
        finished.dir.display(),
        count(finished.files as u64, "file"),
        count(finished.resources, "resource"),
        human_bytes(finished.saved_bytes),
        finished.downloaded,
        human_bytes(finished.received_bytes),
        finished.download_time.as_secs_f64(),
        finished.transaction_time
    );
}

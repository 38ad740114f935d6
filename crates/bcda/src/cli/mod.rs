//! The command line: one `bcda` binary, one file per subcommand.
//!
//! Every flag can also come from an environment variable (shown in
//! `--help`). A bad value stops the program with a message naming the flag,
//! and the variable when the value came from one.

mod aco;
mod bench;
mod client;
mod credentials;
mod import;
mod jobs;
mod keys;
mod migrate;
mod sandbox;
mod serve;
mod synthetic;
mod token;
mod worker;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::app::{App, AppConfig, HttpSettings};
use crate::auth::keys::{SEALING_KEY_VAR, SealingKey};
use crate::auth::tokens::TokenSettings;
use crate::clock::{SharedClock, SystemClock};
use crate::config::{DataDir, DatabaseUrl, LogFormat, parse_database_url};
use crate::jobs::JobSettings;
use crate::jobs::env::WorkerEnv;
use crate::store::Db;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "bcda",
    version = crate::VERSION,
    about = "A BCDA-compatible bulk claims API (FHIR Bulk Data export of Medicare claims)",
    propagate_version = true
)]
pub struct Cli {
    /// Options every command understands.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command understands, so admin commands reach the same
/// database as the server beside them.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Data directory: the SQLite database (unless DATABASE_URL is set), the
    /// key file and export files.
    #[arg(
        long,
        global = true,
        env = "BCDA_DATA_DIR",
        default_value = "./bcda-data",
        value_name = "DIR"
    )]
    pub data_dir: PathBuf,
    /// PostgreSQL (postgres://user:pass@host/db) or SQLite (sqlite:path) URL;
    /// default: the SQLite file bcda.db in the data directory.
    #[arg(long, global = true, env = "DATABASE_URL", value_parser = parse_database_url, value_name = "URL", hide_env_values = true)]
    pub database_url: Option<DatabaseUrl>,
    /// Seconds a database statement waits for a connection or SQLite's
    /// write lock before the request is answered 503 (and a task retried).
    #[arg(long, global = true, env = "BCDA_DATABASE_WAIT_SECONDS", default_value = "5", value_parser = crate::config::parse_positive, value_name = "SECONDS")]
    pub database_wait_seconds: u64,
    /// Where export files are stored: a directory, or an S3 bucket and key
    /// prefix (s3://bucket/prefix) with the S3 settings from the usual AWS
    /// environment variables (AWS_REGION, AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL for S3-compatible servers,
    /// AWS_ALLOW_HTTP=true for a plain-HTTP endpoint). Default: the data
    /// directory. Every process of one deployment must use the same store.
    #[arg(long, global = true, env = "BCDA_STORE", value_parser = crate::files::location::parse_store, value_name = "DIR|s3://BUCKET/PREFIX")]
    pub store: Option<crate::files::StoreLocation>,
    /// The file holding the key that seals token- and URL-signing keys
    /// (64 hexadecimal characters); default DATA_DIR/signing-keys.key,
    /// made when missing. Every process of one deployment must use the same
    /// key. Hosts that share no file system give the key itself in the
    /// environment variable BCDA_SEALING_KEY instead (never a flag, which
    /// `ps` would show; make one with `bcda keys new-sealing-key`): then no
    /// file is read or made, and this flag must not be set.
    #[arg(long, global = true, env = "BCDA_KEY_FILE", value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// Log format.
    #[arg(
        long,
        global = true,
        env = "BCDA_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,
    /// Log filter (tracing EnvFilter syntax); default `info,sqlx=warn` for
    /// servers and `warn` for admin commands.
    #[arg(long = "log", global = true, env = "BCDA_LOG", value_name = "FILTER")]
    pub log_filter: Option<String>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API (with housekeeping) in this process.
    Serve(serve::ServeArgs),
    /// Run only the HTTP API (and housekeeping): pair with `bcda worker`
    /// processes on one PostgreSQL database and data directory.
    Api(serve::ServeArgs),
    /// Run only export workers (and housekeeping), no HTTP.
    Worker(worker::WorkerArgs),
    /// Run the server with BCDA's synthetic sandbox ACOs (credentials are
    /// printed and saved in DATA_DIR/sandbox-credentials.json).
    Sandbox(serve::ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Manage ACOs and the deny list.
    #[command(subcommand)]
    Aco(aco::AcoCommand),
    /// Manage client credentials.
    #[command(subcommand)]
    Credentials(credentials::CredentialsCommand),
    /// Manage token- and URL-signing keys; make a sealing key.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Manage access tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Import attribution, opt-out and FHIR resource files.
    #[command(subcommand)]
    Import(import::ImportCommand),
    /// Inspect and cancel export jobs.
    #[command(subcommand)]
    Jobs(jobs::JobsCommand),
    /// Write a synthetic ACO's files: CCLF attribution, opt-outs, FHIR NDJSON.
    Synthetic(synthetic::SyntheticArgs),
    /// Benchmarks (progress on stderr, JSON results on stdout).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// The ACO's side: export, resume, sync and summarize from a BCDA
    /// server (this one or CMS's), with the secret in BCDA_CLIENT_SECRET.
    #[command(subcommand, after_help = client::EXIT_CODES_HELP)]
    Client(client::ClientCommand),
}

/// Runs the program; the exit code is 0 on success, 1 on failure, 2 on bad
/// usage (and `bcda client`'s own codes, see `cli/client.rs`).
pub fn main() -> ExitCode {
    let cli = match parse_args() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let sealing_key = match sealing_key(&cli.global) {
        Ok(key) => key,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let is_server = matches!(
        cli.command,
        Command::Serve(_) | Command::Sandbox(_) | Command::Api(_) | Command::Worker(_)
    );
    let default_filter = if is_server { "info,sqlx=warn" } else { "warn" };
    let filter = cli.global.log_filter.as_deref().unwrap_or(default_filter);
    if let Err(message) = crate::telemetry::init(cli.global.log_format, filter) {
        eprintln!("error: {message}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // `bcda bench` reads its children's peak memory from a last stdout
    // line; its own stdout is JSON only.
    let report_peak_rss = !matches!(cli.command, Command::Bench(_));
    match runtime.block_on(run(cli, sealing_key)) {
        Ok(()) => {
            if report_peak_rss {
                crate::bench::print_peak_rss_if_asked();
            }
            ExitCode::SUCCESS
        }
        Err(e) => match e.downcast_ref::<crate::client::ClientError>() {
            Some(client) => {
                eprintln!("error: {client}");
                ExitCode::from(client.exit_code())
            }
            None => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

/// Parses the command line. When a bad value came from an environment
/// variable, the message names the variable (clap alone names only the flag).
fn parse_args() -> Result<Cli, ExitCode> {
    match Cli::try_parse() {
        Ok(cli) => Ok(cli),
        Err(err) => {
            use clap::error::{ContextKind, ContextValue, ErrorKind};
            if matches!(
                err.kind(),
                ErrorKind::InvalidValue | ErrorKind::ValueValidation
            ) && let (Some(ContextValue::String(arg)), Some(ContextValue::String(value))) = (
                err.get(ContextKind::InvalidArg),
                err.get(ContextKind::InvalidValue),
            ) && let Some(var) = env_var_holding(arg, value)
            {
                let rendered = err.render().to_string();
                let first = rendered.lines().next().unwrap_or_default();
                eprintln!(
                    "error: environment variable {var}: {}",
                    first.trim_start_matches("error: ")
                );
                return Err(ExitCode::from(2));
            }
            let code = if err.use_stderr() { 2 } else { 0 };
            let _ = err.print();
            Err(ExitCode::from(code))
        }
    }
}

/// The environment variable behind the flag rendered as `arg` (e.g.
/// `--listen <HOST:PORT>`), if it is set to `value`.
fn env_var_holding(arg: &str, value: &str) -> Option<String> {
    let long = arg.trim_start_matches("--").split([' ', '=']).next()?;
    let mut stack = vec![Cli::command()];
    while let Some(command) = stack.pop() {
        for a in command.get_arguments() {
            if a.get_long() == Some(long)
                && let Some(var) = a.get_env()
                && std::env::var_os(var).is_some_and(|v| v == value)
            {
                return Some(var.to_string_lossy().into_owned());
            }
        }
        stack.extend(command.get_subcommands().cloned());
    }
    None
}

/// Where the sealing key comes from: `BCDA_SEALING_KEY` (the key itself),
/// else the key file. Both at once, or a variable that does not hold a key,
/// is a mistake the message names (never echoing the value).
fn sealing_key(global: &GlobalArgs) -> Result<SealingKey, String> {
    let Some(value) = std::env::var_os(SEALING_KEY_VAR) else {
        let path = global
            .key_file
            .clone()
            .unwrap_or_else(|| DataDir::new(&global.data_dir).default_key_file());
        return Ok(SealingKey::File(path));
    };
    if global.key_file.is_some() {
        return Err(format!(
            "both {SEALING_KEY_VAR} and --key-file / BCDA_KEY_FILE are set: give the sealing key one way"
        ));
    }
    value
        .to_str()
        .and_then(SealingKey::from_hex)
        .ok_or_else(|| {
            format!(
                "environment variable {SEALING_KEY_VAR}: expected 64 hexadecimal characters \
             (`bcda keys new-sealing-key` makes a key)"
            )
        })
}

async fn run(cli: Cli, sealing_key: SealingKey) -> anyhow::Result<()> {
    let ctx = Context {
        global: cli.global,
        clock: Arc::new(SystemClock),
        sealing_key,
    };
    match cli.command {
        Command::Serve(args) => serve::run(&ctx, args).await,
        Command::Sandbox(args) => sandbox::run(&ctx, args).await,
        Command::Api(args) => worker::run_api(&ctx, args).await,
        Command::Worker(args) => worker::run_worker(&ctx, args).await,
        Command::Import(cmd) => import::run(&ctx, cmd).await,
        Command::Jobs(cmd) => jobs::run(&ctx, cmd).await,
        Command::Synthetic(args) => synthetic::run(&ctx, args).await,
        Command::Migrate => migrate::run(&ctx).await,
        Command::Aco(cmd) => aco::run(&ctx, cmd).await,
        Command::Credentials(cmd) => credentials::run(&ctx, cmd).await,
        Command::Keys(cmd) => keys::run(&ctx, cmd).await,
        Command::Token(cmd) => token::run(&ctx, cmd).await,
        Command::Bench(cmd) => bench::run(cmd, ctx.store(), ctx.global.database_url.as_ref()).await,
        Command::Client(cmd) => client::run(cmd).await,
    }
}

/// What every command runs with.
pub(crate) struct Context {
    pub global: GlobalArgs,
    pub clock: SharedClock,
    /// The key file, or the key itself from `BCDA_SEALING_KEY`.
    pub sealing_key: SealingKey,
}

impl Context {
    /// Where export files are stored (`--store`; default the data
    /// directory).
    pub fn store(&self) -> crate::files::StoreLocation {
        self.global.store.clone().unwrap_or_default()
    }

    /// The data directory.
    pub fn data_dir(&self) -> DataDir {
        DataDir::new(&self.global.data_dir)
    }

    /// Connects to the database and applies migrations, so every command
    /// works on a fresh data directory.
    pub async fn db(&self) -> anyhow::Result<Db> {
        let data_dir = self.data_dir();
        if self.global.database_url.is_none() {
            data_dir.ensure().map_err(|e| {
                anyhow::anyhow!(
                    "cannot create data directory {}: {e}",
                    data_dir.root().display()
                )
            })?;
        }
        let wait = std::time::Duration::from_secs(self.global.database_wait_seconds);
        let db = Db::connect(self.global.database_url.as_ref(), data_dir.root(), wait)
            .await
            .map_err(|e| {
                anyhow::anyhow!("cannot open the {} database: {e}", self.backend_label())
            })?;
        db.migrate().await?;
        Ok(db)
    }

    fn backend_label(&self) -> &'static str {
        match self.global.database_url {
            Some(DatabaseUrl::Postgres(_)) => "PostgreSQL database named by DATABASE_URL",
            Some(DatabaseUrl::Sqlite(_)) => "SQLite database named by DATABASE_URL",
            None => "SQLite database in the data directory",
        }
    }

    /// Opens the worker environment (database, data directory) with these
    /// export settings: all `bcda worker` needs, no signing-key file.
    pub async fn worker_env(&self, jobs: JobSettings) -> anyhow::Result<WorkerEnv> {
        let db = self.db().await?;
        Ok(WorkerEnv::open(db, self.clock.clone(), self.data_dir(), &self.store(), jobs).await?)
    }

    /// Opens the whole application (database, keys) with these settings.
    pub async fn app(&self, tokens: TokenSettings, http: HttpSettings) -> anyhow::Result<App> {
        self.app_with(tokens, http, JobSettings::default()).await
    }

    /// [`Context::app`] with export engine settings.
    pub async fn app_with(
        &self,
        tokens: TokenSettings,
        http: HttpSettings,
        jobs: JobSettings,
    ) -> anyhow::Result<App> {
        let db = self.db().await?;
        Ok(App::open(
            db,
            self.clock.clone(),
            AppConfig {
                data_dir: self.data_dir(),
                store: self.store(),
                sealing_key: self.sealing_key.clone(),
                tokens,
                http,
                jobs,
            },
        )
        .await?)
    }
}

//! `bcda bench export`: the end-to-end export benchmark (docs/BENCHMARKS.md).
//! Progress goes to stderr; stdout holds only one JSON object per source.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use crate::bench::{AcoSpec, BenchOptions, Source};
use crate::config::parse_positive;
use crate::jobs::JobSettings;

/// Benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// A full v2 Patient/$export through the real HTTP API and workers, in a
    /// temporary data directory, against the machine's gzip + write limit.
    Export(ExportArgs),
}

/// `--source` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourceArg {
    /// The procedural generator.
    Generated,
    /// Files imported into the database.
    Stored,
    /// Both, one JSON object each.
    Both,
}

/// Options of `bcda bench export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Beneficiaries in the ACO's attribution.
    #[arg(long, default_value = "10000", value_parser = parse_positive, value_name = "N")]
    beneficiaries: u64,
    /// Years of claims, ending this year.
    #[arg(long, default_value = "1", value_parser = parse_positive, value_name = "Y")]
    years: u64,
    /// Where the data comes from.
    #[arg(long, value_enum, default_value = "generated")]
    source: SourceArg,
    /// Generator seed.
    #[arg(long, default_value = "1", value_name = "S")]
    seed: u64,
    /// Export workers (default: two per CPU core, as `bcda serve`).
    #[arg(long, value_parser = parse_positive, value_name = "N")]
    workers: Option<u64>,
    /// Keep the data directory (database, export files) in DIR, which must
    /// be empty or absent, instead of removing a temporary one.
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,
    /// gzip level of the server's files (1-9), as `bcda serve --gzip-level`.
    #[arg(long, default_value = "1", value_parser = clap::value_parser!(u32).range(1..=9), value_name = "LEVEL")]
    gzip_level: u32,
}

pub(super) async fn run(command: BenchCommand) -> anyhow::Result<()> {
    let BenchCommand::Export(args) = command;
    let beneficiaries = u32::try_from(args.beneficiaries)
        .ok()
        .filter(|n| *n <= 10_000_000)
        .ok_or_else(|| anyhow::anyhow!("--beneficiaries must be at most 10000000"))?;
    let years = i32::try_from(args.years)
        .ok()
        .filter(|y| *y <= 50)
        .ok_or_else(|| anyhow::anyhow!("--years must be at most 50"))?;
    let sources = match args.source {
        SourceArg::Generated => vec![Source::Generated],
        SourceArg::Stored => vec![Source::Stored],
        SourceArg::Both => vec![Source::Generated, Source::Stored],
    };
    let options = BenchOptions {
        aco: AcoSpec {
            beneficiaries,
            years,
            seed: args.seed,
        },
        sources,
        workers: super::serve::worker_count(args.workers),
        keep: args.keep,
        jobs: JobSettings {
            gzip_level: args.gzip_level,
            ..JobSettings::default()
        },
    };
    for report in crate::bench::run(&options).await? {
        println!("{}", serde_json::to_string(&report)?);
    }
    Ok(())
}

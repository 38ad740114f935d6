//! `bcda bench export`: the end-to-end export benchmark (docs/BENCHMARKS.md).
//! Progress goes to stderr; stdout holds only JSON: one object per run, and
//! per source a median object when there are several runs.

use crate::files::StoreLocation;
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use crate::bench::{AcoSpec, BenchDatabase, BenchOptions, Source};
use crate::config::{DatabaseUrl, parse_positive};
use crate::domain::ResourceType;
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

/// `--database` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DatabaseArg {
    /// A fresh SQLite file in each run's data directory.
    Sqlite,
    /// The PostgreSQL database of DATABASE_URL, each run in a fresh schema
    /// of its own (dropped at the end unless --keep).
    Postgres,
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
    /// Complete runs of each source, each in a fresh data directory and
    /// database; with more than one, a median object follows each source's
    /// runs.
    #[arg(long, default_value = "1", value_parser = parse_positive, value_name = "N")]
    runs: u64,
    /// The database: sqlite, or postgres (DATABASE_URL, a postgres:// URL;
    /// each run in a fresh schema bench_<uuid>).
    #[arg(long, value_enum, default_value = "sqlite")]
    database: DatabaseArg,
    /// Generator seed.
    #[arg(long, default_value = "1", value_name = "S")]
    seed: u64,
    /// Percent (1-100) of the full claim rates: 100 measures production-like
    /// data, 10 the sandbox's (e.g. TEST002: `--beneficiaries 11000 --years 7
    /// --claims-density 10`).
    #[arg(long, default_value = "100", value_parser = super::synthetic::parse_density, value_name = "PERCENT")]
    claims_density: u8,
    /// Export workers (default: two per CPU core, as `bcda serve`).
    #[arg(long, value_parser = parse_positive, value_name = "N")]
    workers: Option<u64>,
    /// Keep the data directory (database, export files) in DIR, which must
    /// be empty or absent, instead of removing a temporary one; with
    /// postgres, keep each run's schema too (its name is printed).
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,
    /// gzip level of the server's files (1-9), as `bcda serve --gzip-level`.
    #[arg(long, default_value = "1", value_parser = clap::value_parser!(u32).range(1..=9), value_name = "LEVEL")]
    gzip_level: u32,
    /// Resource types to export, comma-separated (the kick-off's `_type`),
    /// e.g. `Patient,Coverage,ExplanationOfBenefit,Claim,ClaimResponse`;
    /// default: no `_type`, so the adjudicated types (Patient, Coverage,
    /// ExplanationOfBenefit). Claim or ClaimResponse entitle the ACO to
    /// partially adjudicated data too.
    #[arg(long, value_parser = parse_types, value_name = "LIST")]
    types: Option<TypeList>,
}

/// The value of `--types` (one flag value holding a list, which clap
/// would otherwise read as a flag repeated).
#[derive(Debug, Clone, PartialEq, Eq)]
struct TypeList(Vec<ResourceType>);

/// clap's parser for `--types`: v2's resource type names, exact as in
/// `_type`, without repeats; the message names the bad item (clap adds the
/// flag).
fn parse_types(list: &str) -> Result<TypeList, String> {
    let mut types = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let rt = ResourceType::parse(name).ok_or_else(|| {
            let known: Vec<_> = ResourceType::ALL.iter().map(|t| t.as_str()).collect();
            format!(
                "unknown resource type {name:?}: expected some of {}",
                known.join(", ")
            )
        })?;
        if !types.contains(&rt) {
            types.push(rt);
        }
    }
    if types.is_empty() {
        return Err("no resource type given".to_owned());
    }
    Ok(TypeList(types))
}

/// Runs `bcda bench`; export files go to `store` (the global `--store`:
/// each source's run under a fresh prefix or directory of its own);
/// `database_url` is the global DATABASE_URL, used by `--database postgres`.
pub(super) async fn run(
    command: BenchCommand,
    store: StoreLocation,
    database_url: Option<&DatabaseUrl>,
) -> anyhow::Result<()> {
    let BenchCommand::Export(args) = command;
    let database = bench_database(args.database, database_url)?;
    let runs = u32::try_from(args.runs)
        .ok()
        .filter(|n| *n <= 1000)
        .ok_or_else(|| anyhow::anyhow!("--runs must be at most 1000"))?;
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
            claims_density: args.claims_density,
        },
        sources,
        runs,
        database,
        bcda: std::env::current_exe()
            .map_err(|e| anyhow::anyhow!("cannot find this program's own file: {e}"))?,
        types: args.types.map(|t| t.0).unwrap_or_default(),
        workers: super::serve::worker_count(args.workers),
        keep: args.keep,
        store,
        jobs: JobSettings {
            gzip_level: args.gzip_level,
            ..JobSettings::default()
        },
    };
    crate::bench::run(&options, |line| println!("{line}")).await?;
    Ok(())
}

/// The database of `--database`: PostgreSQL needs DATABASE_URL to be a
/// postgres:// URL.
fn bench_database(
    arg: DatabaseArg,
    database_url: Option<&DatabaseUrl>,
) -> anyhow::Result<BenchDatabase> {
    match (arg, database_url) {
        (DatabaseArg::Sqlite, _) => Ok(BenchDatabase::Sqlite),
        (DatabaseArg::Postgres, Some(DatabaseUrl::Postgres(url))) => {
            Ok(BenchDatabase::Postgres(url.clone()))
        }
        (DatabaseArg::Postgres, Some(DatabaseUrl::Sqlite(_))) => anyhow::bail!(
            "--database postgres: DATABASE_URL is a sqlite: URL; set it to a postgres:// URL"
        ),
        (DatabaseArg::Postgres, None) => anyhow::bail!(
            "--database postgres needs DATABASE_URL set to a postgres:// URL (each run makes a schema of its own there)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_parse_in_order_without_repeats() {
        assert_eq!(
            parse_types("Claim, Patient,Claim"),
            Ok(TypeList(vec![ResourceType::Claim, ResourceType::Patient]))
        );
        assert_eq!(
            parse_types("Patient,claim"),
            Err("unknown resource type \"claim\": expected some of Patient, Coverage, ExplanationOfBenefit, Claim, ClaimResponse".to_owned())
        );
        assert_eq!(parse_types(" , "), Err("no resource type given".to_owned()));
    }
}

//! `bcda synthetic`: write a synthetic ACO's files.

use std::path::PathBuf;

use clap::Args;
use time::Date;
use time::macros::format_description;

use super::Context;
use crate::config::parse_positive;
use crate::synthetic::SyntheticAco;
use crate::synthetic_files;

/// Options of `bcda synthetic`.
#[derive(Debug, Args)]
pub struct SyntheticArgs {
    /// CMS ID of the ACO the files are for (e.g. A0001).
    #[arg(long, value_name = "CMS_ID")]
    aco: String,
    /// Beneficiaries in the newest attribution file.
    #[arg(long, default_value = "50", value_parser = parse_positive, value_name = "N")]
    beneficiaries: u64,
    /// Years of claims, ending with the year of --as-of.
    #[arg(long, default_value = "7", value_parser = parse_positive, value_name = "Y")]
    years: u64,
    /// Generator seed: the same seed gives the same files, byte for byte.
    #[arg(long, default_value = "1", value_name = "S")]
    seed: u64,
    /// The day the data is as of (attribution history is laid out against
    /// it; nothing later is written). Default: today.
    #[arg(long, value_parser = parse_date, value_name = "YYYY-MM-DD")]
    as_of: Option<Date>,
    /// Percent (1-100) of the full per-year claim rates: 100 is production
    /// density; 10 is the sandbox's (`bcda sandbox`), whose export files
    /// stay small enough for Postman and Swagger UI.
    #[arg(
        long,
        env = "BCDA_CLAIMS_DENSITY",
        default_value = "100",
        value_parser = parse_density,
        value_name = "PERCENT"
    )]
    claims_density: u8,
    /// Output directory (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// clap's parser for a claims density: a percentage from 1 to 100.
pub(super) fn parse_density(value: &str) -> Result<u8, String> {
    value
        .parse::<u8>()
        .ok()
        .filter(|d| (1..=100).contains(d))
        .ok_or_else(|| "expected a percentage from 1 to 100".to_owned())
}

fn parse_date(value: &str) -> Result<Date, String> {
    Date::parse(value, format_description!("[year]-[month]-[day]"))
        .map_err(|_| "expected a date as YYYY-MM-DD".to_owned())
}

pub(super) async fn run(ctx: &Context, args: SyntheticArgs) -> anyhow::Result<()> {
    crate::acos::validate_cms_id(&args.aco)?;
    let beneficiaries = u32::try_from(args.beneficiaries)
        .map_err(|_| anyhow::anyhow!("--beneficiaries is too large"))?;
    let years = i32::try_from(args.years)
        .ok()
        .filter(|y| *y <= 50)
        .ok_or_else(|| anyhow::anyhow!("--years must be at most 50"))?;
    let now = ctx.clock.now();
    let as_of_day = args.as_of.unwrap_or(now.date());
    // The end of the as-of day, or now when that is today.
    let as_of = if as_of_day == now.date() {
        now
    } else {
        as_of_day
            .with_hms(23, 59, 59)
            .unwrap_or(as_of_day.midnight())
            .assume_utc()
    };
    let aco = SyntheticAco::new(
        &args.aco,
        args.seed,
        beneficiaries,
        as_of_day.year() - (years - 1),
        as_of_day,
        false,
    )
    .with_claims_density(args.claims_density);
    let out = args.out.clone();
    let written =
        tokio::task::spawn_blocking(move || synthetic_files::write_all(&aco, &out, as_of))
            .await??;
    println!(
        "wrote {} attribution packages, {} opt-out files and {} NDJSON files ({} resources, {:.1} MB) to {}",
        written.attribution_files.len(),
        written.opt_out_files.len(),
        written.fhir_files.len(),
        written.resources,
        written.ndjson_bytes as f64 / 1e6,
        args.out.display()
    );
    println!("import them with:");
    println!(
        "  bcda aco create --cms-id {} --name \"Synthetic {}\"",
        args.aco, args.aco
    );
    println!(
        "  bcda import attribution {}/attribution/*",
        args.out.display()
    );
    println!("  bcda import opt-outs {}/opt-outs/*", args.out.display());
    println!(
        "  bcda import resources --fhir-version stu3 {}/fhir/stu3/*.ndjson",
        args.out.display()
    );
    println!(
        "  bcda import resources --fhir-version r4 {}/fhir/r4/*.ndjson",
        args.out.display()
    );
    println!(
        "  bcda import resources --fhir-version r4-v3 {}/fhir/r4-v3/*.ndjson",
        args.out.display()
    );
    Ok(())
}

//! `bcda import ...`: attribution files, opt-out files and FHIR NDJSON.

use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};

use super::Context;
use crate::domain::ApiVersion;
use crate::import::{self, FileOutcome, ImportError};

/// Import commands.
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Attribution: CCLF packages (zip archives, or CCLF0 + CCLF8 file
    /// pairs) and CSV attribution files (header row, then an MBI per line).
    Attribution {
        /// The files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// 1-800-MEDICARE data-sharing preference (opt-out) files.
    OptOuts {
        /// The files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// FHIR NDJSON of Patient, Coverage and ExplanationOfBenefit resources,
    /// and with `--fhir-version r4` the partially adjudicated Claim and
    /// ClaimResponse (linked to their Patient by MBI). With `r4-v3` every
    /// ExplanationOfBenefit carries BFD v3's System-Type and Final-Action
    /// tags and an outcome (partially adjudicated claims are EOBs tagged
    /// SharedSystem there).
    Resources {
        /// The FHIR version of the files: stu3 (served by API v1), r4 (v2)
        /// or r4-v3 (R4 as BFD's v3 server gives it: v3).
        #[arg(long, value_enum)]
        fhir_version: FhirVersionArg,
        /// The files (Patient files are imported first).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
}

/// `--fhir-version` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FhirVersionArg {
    /// FHIR STU3 (3.0.1), API v1.
    Stu3,
    /// FHIR R4 (4.0.1), API v2.
    R4,
    /// FHIR R4 (4.0.1) as BFD's v3 server gives it, API v3.
    #[value(name = "r4-v3")]
    R4V3,
}

impl From<FhirVersionArg> for ApiVersion {
    fn from(value: FhirVersionArg) -> Self {
        match value {
            FhirVersionArg::Stu3 => ApiVersion::V1,
            FhirVersionArg::R4 => ApiVersion::V2,
            FhirVersionArg::R4V3 => ApiVersion::V3,
        }
    }
}

pub(super) async fn run(ctx: &Context, command: ImportCommand) -> anyhow::Result<()> {
    let db = ctx.db().await?;
    let now = ctx.clock.now();
    let mut failures = 0usize;
    let mut report = |file: &std::path::Path, result: Result<FileOutcome, ImportError>| match result
    {
        Ok(FileOutcome::Imported { records }) => {
            println!("{}: imported {records} records", file.display())
        }
        Ok(FileOutcome::AlreadyImported) => {
            println!("{}: already imported; nothing changed", file.display())
        }
        Err(e) => {
            eprintln!("error: {e}");
            failures += 1;
        }
    };
    match command {
        ImportCommand::Attribution { files } => {
            for group in import::attribution::group_inputs(&files)? {
                let result = import::attribution::import_input(&db, &group, now, false).await;
                report(group.display_path(), result);
            }
        }
        ImportCommand::OptOuts { files } => {
            for file in &files {
                let result = import::opt_outs::import_file(&db, file, now, false).await;
                report(file, result);
            }
        }
        ImportCommand::Resources {
            fhir_version,
            mut files,
        } => {
            import::resources::patient_files_first(&mut files);
            for file in &files {
                let result =
                    import::resources::import_file(&db, fhir_version.into(), file, false).await;
                report(file, result);
            }
        }
    }
    db.close().await;
    if failures > 0 {
        anyhow::bail!("{failures} file(s) could not be imported; see the errors above");
    }
    Ok(())
}

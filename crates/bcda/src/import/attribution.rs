//! `bcda import attribution`: CCLF packages and CSV attribution files.
//!
//! A CCLF package is a zip archive holding a CCLF0 (summary) and a CCLF8
//! (beneficiary demographics) file, or those two files given side by side;
//! a CSV attribution file is a header row then one MBI per line. Each file
//! is recorded with its ACO, kind (default or runout), performance year and
//! timestamp (the attribution date), and its MBIs, in one transaction.

use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use super::progress::{Progress, Unit};
use super::{FileOutcome, ImportError, file_name};
use crate::domain::AttributionKind;
use crate::formats::FormatError;
use crate::formats::cclf_archive::{CclfArchiveReader, open_unzipped};
use crate::formats::csv_attribution::CsvAttributionReader;
use crate::formats::names::{CclfArchiveName, CclfFileName, CclfFileNumber, CsvAttributionName};
use crate::store::attribution_files::{self, NewAttributionFile};
use crate::store::{Db, Tx, acos};

/// MBIs written per database round trip.
const CHUNK: usize = 1000;

/// One attribution input: what one recorded file is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributionInput {
    /// A CCLF package as a zip archive.
    Archive(PathBuf),
    /// A CCLF package as separate CCLF0 and CCLF8 files.
    Unzipped {
        /// The CCLF0 file: it declares how many CCLF8 records the package holds, which the import
        /// checks.
        cclf0: PathBuf,
        /// The CCLF8 file: one record per attributed beneficiary.
        cclf8: PathBuf,
    },
    /// A CSV attribution file.
    Csv(PathBuf),
}

impl AttributionInput {
    /// The path to name in messages.
    pub fn display_path(&self) -> &Path {
        match self {
            AttributionInput::Archive(p) | AttributionInput::Csv(p) => p,
            AttributionInput::Unzipped { cclf8, .. } => cclf8,
        }
    }
}

/// Sorts the given files into inputs: zip archives, CCLF0/CCLF8 pairs (by
/// name), CSV attribution files. CCLF9 files are not attribution and are
/// refused, as is a CCLF0 or CCLF8 without its partner.
pub fn group_inputs(files: &[PathBuf]) -> Result<Vec<AttributionInput>, ImportError> {
    let mut inputs = Vec::new();
    let mut loose: Vec<(PathBuf, CclfFileName)> = Vec::new();
    for path in files {
        if is_zip(path)? {
            inputs.push(AttributionInput::Archive(path.clone()));
            continue;
        }
        let name = file_name(path)?;
        if let Ok(cclf) = CclfFileName::parse(&name) {
            match cclf.number {
                CclfFileNumber::Cclf0 | CclfFileNumber::Cclf8 => loose.push((path.clone(), cclf)),
                CclfFileNumber::Cclf9 => {
                    return Err(ImportError::file(
                        path,
                        "a CCLF9 (beneficiary cross-reference) file is not attribution; import the CCLF0 and CCLF8 files",
                    ));
                }
            }
        } else if CsvAttributionName::parse(&name).is_ok() {
            inputs.push(AttributionInput::Csv(path.clone()));
        } else {
            return Err(ImportError::file(
                path,
                "not a CCLF package (e.g. P.BCD.A0001.ZCY24.D240115.T1000000), a CCLF0/CCLF8 file \
                 (e.g. P.BCD.A0001.ZC8Y24.D240115.T1000000) or a CSV attribution file name",
            ));
        }
    }
    // Pair each CCLF8 with the CCLF0 of the same package.
    let (summaries, mut members): (Vec<_>, Vec<_>) = loose
        .into_iter()
        .partition(|(_, name)| name.number == CclfFileNumber::Cclf0);
    for (cclf0, summary_name) in summaries {
        let Some(position) = members
            .iter()
            .position(|(_, n)| n.same_package(&summary_name))
        else {
            return Err(ImportError::file(
                &cclf0,
                "no CCLF8 file of the same package was given",
            ));
        };
        let (cclf8, _) = members.remove(position);
        inputs.push(AttributionInput::Unzipped { cclf0, cclf8 });
    }
    if let Some((cclf8, _)) = members.first() {
        return Err(ImportError::file(
            cclf8,
            "no CCLF0 file of the same package was given",
        ));
    }
    Ok(inputs)
}

fn is_zip(path: &Path) -> Result<bool, ImportError> {
    let mut magic = [0u8; 4];
    let mut file = std::fs::File::open(path)
        .map_err(|e| ImportError::file(path, format!("cannot open: {e}")))?;
    let n = file
        .read(&mut magic)
        .map_err(|e| ImportError::file(path, format!("cannot read: {e}")))?;
    Ok(n == 4 && magic == *b"PK\x03\x04")
}

/// What identifies a file's contents in the database.
struct Header {
    name: String,
    sha256: String,
    cms_id: String,
    kind: AttributionKind,
    performance_year: i32,
    attributed_at: OffsetDateTime,
}

/// Imports one input. Re-importing the same file (same name and bytes)
/// changes nothing; a different file under a name already imported is
/// refused.
pub async fn import_input(
    db: &Db,
    input: &AttributionInput,
    now: OffsetDateTime,
    quiet: bool,
) -> Result<FileOutcome, ImportError> {
    let path = input.display_path();
    let header = header(input)?;
    if let Some(existing) = attribution_files::find_by_name(db, &header.name)
        .await
        .map_err(|e| ImportError::store(path, e))?
    {
        return if existing.sha256 == header.sha256 {
            Ok(FileOutcome::AlreadyImported)
        } else {
            Err(ImportError::file(
                path,
                format!(
                    "a different file named {} was imported before; attribution files are never replaced",
                    header.name
                ),
            ))
        };
    }
    let aco = acos::find_by_cms_id(db, &header.cms_id)
        .await
        .map_err(|e| ImportError::store(path, e))?
        .ok_or_else(|| {
            ImportError::file(
                path,
                format!("the file is for ACO {}, which does not exist (create it with `bcda aco create`)", header.cms_id),
            )
        })?;
    let mut tx = db.begin().await.map_err(|e| ImportError::store(path, e))?;
    let file_id = attribution_files::insert_file(
        &mut tx,
        &NewAttributionFile {
            aco_id: aco.id,
            name: &header.name,
            sha256: &header.sha256,
            kind: header.kind,
            performance_year: header.performance_year,
            attributed_at: header.attributed_at,
            imported_at: now,
        },
    )
    .await
    .map_err(|e| ImportError::store(path, e))?;
    let outcome = match input {
        AttributionInput::Archive(archive) => {
            let mut reader =
                CclfArchiveReader::open(archive).map_err(|e| format_error(archive, e))?;
            let expected = reader
                .summary()
                .cclf8_record_count()
                .map_err(|e| format_error(archive, e))?;
            let member = reader.cclf8_name().to_string();
            let records = reader
                .cclf8_records()
                .map_err(|e| format_error(archive, e))?
                .expect_count(expected)
                .map(|r| r.map(|record| record.mbi));
            let member_path = archive.join(member);
            store_members(&mut tx, file_id, records, &member_path, expected, quiet).await
        }
        AttributionInput::Unzipped { cclf0, cclf8 } => {
            let unzipped = open_unzipped(cclf0, cclf8).map_err(|e| format_error(cclf8, e))?;
            let expected = unzipped
                .summary
                .cclf8_record_count()
                .map_err(|e| format_error(cclf0, e))?;
            let records = unzipped
                .records
                .expect_count(expected)
                .map(|r| r.map(|record| record.mbi));
            store_members(&mut tx, file_id, records, cclf8, expected, quiet).await
        }
        AttributionInput::Csv(csv) => {
            let file = std::fs::File::open(csv)
                .map_err(|e| ImportError::file(csv, format!("cannot open: {e}")))?;
            let records = CsvAttributionReader::new(BufReader::new(file)).map(|r| r.map(|m| m.mbi));
            store_members(&mut tx, file_id, records, csv, 0, quiet).await
        }
    };
    let count = match outcome {
        Ok(()) => attribution_files::finish_file(&mut tx, file_id)
            .await
            .map_err(|e| ImportError::store(path, e))?,
        Err(e) => return Err(e), // dropping `tx` rolls everything back
    };
    tx.commit().await.map_err(|e| ImportError::store(path, e))?;
    Ok(FileOutcome::Imported {
        records: u64::try_from(count).unwrap_or(0),
    })
}

/// Streams MBIs into the file's member list in chunks.
async fn store_members(
    tx: &mut Tx,
    file_id: i64,
    mbis: impl Iterator<Item = Result<String, FormatError>>,
    path: &Path,
    expected: u64,
    quiet: bool,
) -> Result<(), ImportError> {
    let mut progress = Progress::start(
        &file_name(path).unwrap_or_default(),
        expected,
        Unit::Records,
        quiet,
    );
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut read = 0u64;
    for mbi in mbis {
        match mbi {
            Ok(mbi) => chunk.push(mbi),
            Err(e) => {
                progress.abandon();
                return Err(format_error(path, e));
            }
        }
        read += 1;
        if chunk.len() == CHUNK {
            if let Err(e) = attribution_files::insert_members(tx, file_id, &chunk).await {
                progress.abandon();
                return Err(ImportError::store(path, e));
            }
            chunk.clear();
            progress.update(read);
        }
    }
    if let Err(e) = attribution_files::insert_members(tx, file_id, &chunk).await {
        progress.abandon();
        return Err(ImportError::store(path, e));
    }
    progress.finish(&format!("{read} records"));
    Ok(())
}

fn header(input: &AttributionInput) -> Result<Header, ImportError> {
    match input {
        AttributionInput::Archive(path) => {
            let name = file_name(path)?;
            let parsed = CclfArchiveName::parse(&name).map_err(|e| format_error(path, e))?;
            // The attribution date is the CCLF8's own timestamp, not the
            // archive's packaging time.
            let reader = CclfArchiveReader::open(path).map_err(|e| format_error(path, e))?;
            let member = reader.cclf8_name().clone();
            Ok(Header {
                sha256: super::sha256_file(path)?,
                cms_id: parsed.cms_id.clone(),
                kind: parsed.kind,
                performance_year: four_digit_year(parsed.performance_year),
                attributed_at: member.stamp.utc(),
                name,
            })
        }
        AttributionInput::Unzipped { cclf0, cclf8 } => {
            let name = file_name(cclf8)?;
            let parsed = CclfFileName::parse(&name).map_err(|e| format_error(cclf8, e))?;
            Ok(Header {
                sha256: format!(
                    "{}+{}",
                    super::sha256_file(cclf0)?,
                    super::sha256_file(cclf8)?
                ),
                cms_id: parsed.cms_id.clone(),
                kind: parsed.kind,
                performance_year: four_digit_year(parsed.performance_year),
                attributed_at: parsed.stamp.utc(),
                name,
            })
        }
        AttributionInput::Csv(path) => {
            let name = file_name(path)?;
            let parsed = CsvAttributionName::parse(&name).map_err(|e| format_error(path, e))?;
            let cms_id = parsed.cms_id().map(str::to_owned).ok_or_else(|| {
                ImportError::file(path, "the file name does not say which ACO the file is for")
            })?;
            Ok(Header {
                sha256: super::sha256_file(path)?,
                cms_id,
                kind: AttributionKind::Default,
                performance_year: four_digit_year(parsed.performance_year),
                attributed_at: parsed.stamp.utc(),
                name,
            })
        }
    }
}

/// CMS file names carry two-digit performance years.
fn four_digit_year(yy: u8) -> i32 {
    2000 + i32::from(yy)
}

/// A format error at a line and field of `path`.
pub(crate) fn format_error(path: &Path, error: FormatError) -> ImportError {
    match error {
        FormatError::Invalid {
            line,
            field,
            message,
        } => ImportError {
            file: path.to_owned(),
            line: (line > 0).then_some(line),
            field: field.map(str::to_owned),
            message,
        },
        FormatError::Io(e) => ImportError::file(path, format!("cannot read: {e}")),
    }
}

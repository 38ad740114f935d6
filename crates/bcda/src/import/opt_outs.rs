//! `bcda import opt-outs`: 1-800-MEDICARE data-sharing preference files.

use std::io::BufReader;
use std::path::Path;

use time::OffsetDateTime;

use super::attribution::format_error;
use super::progress::{Progress, Unit};
use super::{FileOutcome, ImportError, file_name};
use crate::formats::names::OptOutFileName;
use crate::formats::opt_out_file::{OptOutReader, Preference};
use crate::store::Db;
use crate::store::opt_outs::{self, NewOptOut};

/// Records written per database round trip.
const CHUNK: usize = 500;

/// Imports one opt-out file in one transaction. Re-importing the same file
/// changes nothing; a different file under a name already imported is
/// refused.
pub async fn import_file(
    db: &Db,
    path: &Path,
    now: OffsetDateTime,
    quiet: bool,
) -> Result<FileOutcome, ImportError> {
    let name = file_name(path)?;
    let parsed = OptOutFileName::parse(&name).map_err(|e| format_error(path, e))?;
    let sha256 = super::sha256_file(path)?;
    if let Some(existing) = opt_outs::find_file(db, &name)
        .await
        .map_err(|e| ImportError::store(path, e))?
    {
        return if existing.sha256 == sha256 {
            Ok(FileOutcome::AlreadyImported)
        } else {
            Err(ImportError::file(
                path,
                format!(
                    "a different file named {name} was imported before; opt-out files are never replaced"
                ),
            ))
        };
    }
    let file = std::fs::File::open(path)
        .map_err(|e| ImportError::file(path, format!("cannot open: {e}")))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut reader = OptOutReader::new(BufReader::new(file)).map_err(|e| format_error(path, e))?;
    // 459-byte records plus newline: a close enough estimate for progress.
    let mut progress = Progress::start(&name, size / 460, Unit::Records, quiet);
    let mut tx = db.begin().await.map_err(|e| ImportError::store(path, e))?;
    let file_id = opt_outs::insert_file(&mut tx, &name, &sha256, parsed.stamp.utc(), now)
        .await
        .map_err(|e| ImportError::store(path, e))?;
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut records_read = 0u64;
    for (index, record) in reader.by_ref().enumerate() {
        records_read += 1;
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                progress.abandon();
                return Err(format_error(path, e));
            }
        };
        // The header is line 1.
        let line = i64::try_from(index).unwrap_or(i64::MAX).saturating_add(2);
        chunk.push(NewOptOut {
            line,
            mbi: record.mbi,
            effective_date: record.effective_date.map(|d| d.midnight().assume_utc()),
            preference: match record.preference {
                Some(Preference::Share) => "Y",
                Some(Preference::DoNotShare) => "N",
                None => "",
            }
            .to_owned(),
            source_code: record.source_code,
            aco_cms_id: record.aco_id,
        });
        if chunk.len() == CHUNK {
            opt_outs::insert_records(&mut tx, file_id, &chunk)
                .await
                .map_err(|e| ImportError::store(path, e))?;
            chunk.clear();
            progress.update(records_read);
        }
    }
    opt_outs::insert_records(&mut tx, file_id, &chunk)
        .await
        .map_err(|e| ImportError::store(path, e))?;
    let count = opt_outs::finish_file(&mut tx, file_id)
        .await
        .map_err(|e| ImportError::store(path, e))?;
    tx.commit().await.map_err(|e| ImportError::store(path, e))?;
    progress.finish(&format!("{count} records"));
    Ok(FileOutcome::Imported {
        records: u64::try_from(count).unwrap_or(0),
    })
}

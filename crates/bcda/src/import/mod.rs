//! Importers: attribution files, opt-out files and FHIR NDJSON into the
//! database.
//!
//! Every importer streams its file (memory stays flat however large it is),
//! writes it in one transaction (a bad file is rejected whole, naming the
//! file, line and field, and leaves the database as it was), and is
//! idempotent (importing the same file again changes nothing).

pub mod attribution;
pub mod opt_outs;
mod packs;
pub mod progress;
mod resource_line;
pub mod resources;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::store::StoreError;

/// Why an import failed.
#[derive(Debug)]
pub struct ImportError {
    /// The file being imported, named first in the message.
    pub file: PathBuf,
    /// The line (1-based), when the problem is in one.
    pub line: Option<u64>,
    /// The field, when the problem is in one.
    pub field: Option<String>,
    /// What is wrong, in words for the operator (the message adds that nothing was imported).
    pub message: String,
}

impl ImportError {
    /// A problem with the file as a whole.
    pub fn file(file: &Path, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            line: None,
            field: None,
            message: message.into(),
        }
    }

    /// A problem on one line.
    pub fn line(file: &Path, line: u64, field: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            line: Some(line),
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }

    /// A database failure while importing `file`.
    pub fn store(file: &Path, error: StoreError) -> Self {
        Self::file(file, format!("database error: {error}"))
    }
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ": line {line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ", field {field}")?;
        }
        write!(
            f,
            ": {} (nothing from this file was imported)",
            self.message
        )
    }
}

impl std::error::Error for ImportError {}

/// What importing one file did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOutcome {
    /// The file was imported: how many records it held.
    Imported {
        /// Records (resources, members, preferences) in the file.
        records: u64,
    },
    /// The same file (same name and bytes) was imported before; nothing changed.
    AlreadyImported,
}

/// The file name of a path, for names recorded in the database.
pub(crate) fn file_name(path: &Path) -> Result<String, ImportError> {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned)
        .ok_or_else(|| ImportError::file(path, "the file name is not valid UTF-8"))
}

/// SHA-256 of a file's bytes, hex, read in a streaming pass.
pub(crate) fn sha256_file(path: &Path) -> Result<String, ImportError> {
    use sha2::Digest;
    use std::io::Read;
    let mut file = std::fs::File::open(path)
        .map_err(|e| ImportError::file(path, format!("cannot open: {e}")))?;
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = file
            .read(&mut buffer)
            .map_err(|e| ImportError::file(path, format!("cannot read: {e}")))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

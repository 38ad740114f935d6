//! What an export run has done, saved beside its files (`bcda-client.json`)
//! after every step, so a second run in the same directory, or `bcda client
//! resume`, continues where the first stopped instead of starting over.
//!
//! The bytes of a half-downloaded file are in `<name>.part`; its length on
//! disk (not a counter here) is where a resumed download starts.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ClientError;
use super::manifest::{Cohort, Expected};
use super::request::ExportRequest;

/// The state file's name.
pub const STATE_FILE: &str = "bcda-client.json";
/// The manifest as received, saved beside the files.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The suffix of a file being downloaded (or inflated).
pub const PART_SUFFIX: &str = ".part";
/// The state file's format; a newer one is refused rather than misread.
const FORMAT: u32 = 1;

/// One export run into one directory.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExportState {
    /// [`FORMAT`].
    pub format: u32,
    /// The server's base URL.
    pub server: String,
    /// The client id (the secret is never saved).
    pub client_id: String,
    /// What was asked for.
    pub request: ExportRequest,
    /// Keep the files gzip-compressed (`.ndjson.gz`).
    pub keep_gzip: bool,
    /// The job's status URL, once kicked off.
    #[serde(default)]
    pub job_url: Option<String>,
    /// When this run started (RFC 3339, UTC).
    pub started_at: String,
    /// The manifest's `transactionTime`, once the job completed.
    #[serde(default)]
    pub transaction_time: Option<String>,
    /// Whether downloads need the bearer token.
    #[serde(default = "yes")]
    pub requires_access_token: bool,
    /// The manifest's files, once the job completed.
    #[serde(default)]
    pub files: Vec<FileState>,
    /// When every file was downloaded and verified (RFC 3339, UTC).
    #[serde(default)]
    pub completed_at: Option<String>,
}

fn yes() -> bool {
    true
}

/// How the bytes of a `.part` file are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// `Content-Encoding: gzip`.
    Gzip,
    /// NDJSON as is.
    Identity,
}

/// One file of the manifest and how far its download got.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileState {
    /// Where it goes, relative to the directory, without `.gz`
    /// (`<uuid>.ndjson`, or `new-beneficiaries/<uuid>.ndjson`).
    pub name: String,
    /// The download URL.
    pub url: String,
    /// Resource type (`OperationOutcome` for error files).
    pub resource_type: String,
    /// Listed under the manifest's `error`.
    #[serde(default)]
    pub error_file: bool,
    /// What the manifest says it must be.
    #[serde(default)]
    pub expected: Expected,
    /// The attribution cohort, for Group/all with `_since`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cohort: Option<Cohort>,
    /// The validator of the bytes in `.part` (for `If-Range`).
    #[serde(default)]
    pub etag: Option<String>,
    /// The encoding of the bytes in `.part`.
    #[serde(default)]
    pub encoding: Option<Encoding>,
    /// Where the verified file was saved, relative to the directory.
    #[serde(default)]
    pub saved_as: Option<String>,
    /// Resources in it, once verified.
    #[serde(default)]
    pub resources: Option<u64>,
    /// Bytes saved (as stored on disk), once verified.
    #[serde(default)]
    pub saved_bytes: Option<u64>,
}

impl FileState {
    /// Downloaded and verified.
    pub fn is_done(&self) -> bool {
        self.saved_as.is_some()
    }

    /// The `.part` file in `dir`.
    pub fn part_path(&self, dir: &Path) -> PathBuf {
        dir.join(format!("{}{PART_SUFFIX}", self.name))
    }
}

impl ExportState {
    /// Loads `dir`'s state, if it has one.
    pub fn load(dir: &Path) -> Result<Option<ExportState>, ClientError> {
        let path = dir.join(STATE_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ClientError::disk("read", &path, &e, dir)),
        };
        let state: ExportState = serde_json::from_slice(&bytes).map_err(|e| {
            ClientError::Usage(format!(
                "{} is not a bcda client state file ({e}); use another directory",
                path.display()
            ))
        })?;
        if state.format > FORMAT {
            return Err(ClientError::Usage(format!(
                "{} was written by a newer bcda (format {}); use that version",
                path.display(),
                state.format
            )));
        }
        Ok(Some(state))
    }

    /// A new run's state.
    pub fn new(
        server: &str,
        client_id: &str,
        request: ExportRequest,
        keep_gzip: bool,
    ) -> ExportState {
        ExportState {
            format: FORMAT,
            server: server.to_owned(),
            client_id: client_id.to_owned(),
            request,
            keep_gzip,
            job_url: None,
            started_at: now_rfc3339(),
            transaction_time: None,
            requires_access_token: true,
            files: Vec::new(),
            completed_at: None,
        }
    }

    /// Saves it: written to a temporary file and renamed over the old one,
    /// so a crash leaves the old state or the new, never half of one.
    pub fn save(&self, dir: &Path) -> Result<(), ClientError> {
        let path = dir.join(STATE_FILE);
        let bytes = serde_json::to_vec_pretty(self).expect("state serializes");
        write_atomically(dir, &path, &bytes)
    }

    /// Files not yet downloaded and verified.
    pub fn pending(&self) -> usize {
        self.files.iter().filter(|f| !f.is_done()).count()
    }
}

/// Writes `bytes` to `path` through a temporary file in `dir` and a rename.
pub fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), ClientError> {
    let temp = path.with_extension(format!("tmp{PART_SUFFIX}"));
    let result = (|| {
        let mut file = private_file(&temp)?;
        file.write_all(bytes)?;
        file.sync_data()?;
        std::fs::rename(&temp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        ClientError::disk("write", path, &e, dir)
    })
}

/// Creates (or truncates) a file only its owner may read: export files
/// hold beneficiaries' data.
pub fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

/// Now, RFC 3339 in UTC.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::request::{Api, Scope};

    #[test]
    fn saves_and_loads() {
        let dir = tempfile::tempdir().expect("dir");
        assert_eq!(ExportState::load(dir.path()).expect("load"), None);
        let request = ExportRequest {
            api: Api::V1,
            scope: Scope::Patient,
            types: vec![],
            since: None,
            type_filters: vec![],
        };
        let state = ExportState::new("http://h", "id", request, false);
        state.save(dir.path()).expect("save");
        assert_eq!(ExportState::load(dir.path()).expect("load"), Some(state));
        std::fs::write(dir.path().join(STATE_FILE), b"{}").expect("write");
        let err = ExportState::load(dir.path()).expect_err("not a state");
        assert!(
            err.to_string().contains("not a bcda client state file"),
            "{err}"
        );
    }
}

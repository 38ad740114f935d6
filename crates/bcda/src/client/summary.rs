//! `bcda client summary DIR`: a look at what an export delivered. Reads
//! every NDJSON file under a directory (`*.ndjson`, `*.ndjson.gz`,
//! recursively; hidden names, the downloader's `.part` files and its JSON
//! manifest and state are not) and reports, per resource type, the count
//! and the range of `meta.lastUpdated`; for ExplanationOfBenefit also the
//! count per claim type and the range of service dates; and the messages of
//! the OperationOutcome lines (error files, `warnings-and-info.ndjson`),
//! grouped with identifiers masked (`summary/mask.rs`: no MBI is shown).
//!
//! Files are streamed line by line and each line is parsed only for the
//! fields counted (`summary/line.rs`), one file per core at a time, so a
//! summary of gigabytes runs in memory that does not grow with them (a few
//! megabytes) and fast: a 2,500-beneficiary synthetic set, 3.9 GB of
//! NDJSON, in 3.9 s on two cores (release build).
//!
//! Times: `meta.lastUpdated` instants are compared as points in time
//! (BFD writes each with its own offset) and shown in UTC: a date in the
//! text, `YYYY-MM-DDThh:mm:ss.mmmZ` in the JSON. Service dates are FHIR
//! dates and shown as written, partial ones (`2019`, `2019-03`) included;
//! a partial date counts from its first day as the start of a range and to
//! its last day as the end.

mod dates;
mod line;
mod mask;
mod read;
mod tally;
mod text;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use dates::{FhirDate, FhirInstant, Range};
pub use read::{MAX_LINE_BYTES, is_ndjson_name};
pub use tally::{EOB_TYPE_SYSTEM, MAX_MESSAGE_GROUPS};

/// What a directory of export files holds. Its JSON form ([`Summary::to_json`])
/// is this struct serialized, field for field:
///
/// ```json
/// {
///   "directory": "out",
///   "files": {"count": 5, "gzip": 3, "stored_bytes": 81234, "ndjson_bytes": 912345},
///   "resources": [
///     {"type": "Patient", "count": 50, "files": 1, "ndjson_bytes": 61234,
///      "last_updated": {"first": "2026-02-27T07:14:20.431Z", "last": "2026-03-01T12:00:00.000Z"}},
///     {"type": "ExplanationOfBenefit", "count": 2055, "files": 2, "ndjson_bytes": 800000,
///      "last_updated": {"first": "...", "last": "..."},
///      "service_dates": {"first": "2019-03-02", "last": "2026-02-28"},
///      "claim_types": [{"code": "CARRIER", "count": 1203}, {"code": "PDE", "count": 512}]}
///   ],
///   "issues": {"files": 1, "lines": 3, "issues": 3, "other": 0,
///     "messages": [{"severity": "error", "count": 3,
///       "message": "Error retrieving Coverage for beneficiary MBI <MBI> in ACO <ACO>"}]}
/// }
/// ```
///
/// `last_updated` is `null` for a type none of whose resources has one;
/// `service_dates` and `claim_types` appear on ExplanationOfBenefit only
/// (`service_dates` `null` when no EOB has any).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The directory summarized, as given.
    pub directory: String,
    /// The files read.
    pub files: FileCounts,
    /// Per resource type: BCDA's types in the order of its documentation
    /// (Patient, Coverage, ExplanationOfBenefit, Claim, ClaimResponse),
    /// then any other alphabetically. OperationOutcome lines are under
    /// `issues`, not here.
    pub resources: Vec<TypeSummary>,
    /// The OperationOutcome lines' messages.
    pub issues: Issues,
}

/// The files a summary read.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct FileCounts {
    /// How many.
    pub count: u64,
    /// How many of them are gzip.
    pub gzip: u64,
    /// Their size as stored.
    pub stored_bytes: u64,
    /// Their size as NDJSON (gzip inflated).
    pub ndjson_bytes: u64,
}

/// One resource type.
#[derive(Debug, Clone, Serialize)]
pub struct TypeSummary {
    /// The `resourceType`.
    #[serde(rename = "type")]
    pub resource_type: String,
    /// How many resources.
    pub count: u64,
    /// How many files hold some.
    pub files: u64,
    /// The size of their lines.
    pub ndjson_bytes: u64,
    /// The first and last `meta.lastUpdated`.
    pub last_updated: Option<Range<FhirInstant>>,
    /// ExplanationOfBenefit's claim types and service dates.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub claims: Option<ClaimDetails>,
}

/// What a summary adds for ExplanationOfBenefit.
#[derive(Debug, Clone, Serialize)]
pub struct ClaimDetails {
    /// The first and last service date: of `billablePeriod`, else of the
    /// items' `servicedDate` or `servicedPeriod`.
    pub service_dates: Option<Range<FhirDate>>,
    /// The count per claim type (the [`EOB_TYPE_SYSTEM`] coding of `type`,
    /// else its first coding, else `unknown`), most first.
    pub claim_types: Vec<ClaimTypeCount>,
}

/// How many EOBs of one claim type.
#[derive(Debug, Clone, Serialize)]
pub struct ClaimTypeCount {
    /// The claim type: `CARRIER`, `DME`, `HHA`, `HOSPICE`, `INPATIENT`,
    /// `OUTPATIENT`, `PDE`, `SNF`; v3's partially adjudicated EOBs
    /// `institutional` (FISS) or `professional` (MCS).
    pub code: String,
    /// How many.
    pub count: u64,
}

/// The OperationOutcome lines: error files and `warnings-and-info`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Issues {
    /// How many files hold some.
    pub files: u64,
    /// How many OperationOutcome lines.
    pub lines: u64,
    /// How many issues they hold.
    pub issues: u64,
    /// The issues grouped by severity and masked message: by severity
    /// (fatal, error, warning, information), then most first.
    pub messages: Vec<MessageGroup>,
    /// Issues not in `messages`: beyond [`MAX_MESSAGE_GROUPS`] distinct
    /// messages.
    pub other: u64,
}

/// Issues of one severity and message.
#[derive(Debug, Clone, Serialize)]
pub struct MessageGroup {
    /// `fatal`, `error`, `warning`, `information` (or `unknown`).
    pub severity: String,
    /// How many issues.
    pub count: u64,
    /// The message (`diagnostics`, else `details.text`), identifiers
    /// replaced by `<MBI>`, `<ACO>`, `<ID>`, `<N>`.
    pub message: String,
}

/// Why a directory could not be summarized.
#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    /// The directory does not exist.
    #[error("{} does not exist", .0.display())]
    NotFound(PathBuf),
    /// The path is not a directory.
    #[error("{} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// No NDJSON file under the directory.
    #[error("no NDJSON files in {} (looked for *.ndjson and *.ndjson.gz, recursively)", .0.display())]
    NoFiles(PathBuf),
    /// A file or directory could not be opened or listed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A file broke off while being read (a truncated or corrupt gzip
    /// stream, a read error).
    #[error("{} after line {after_line}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The last line read whole.
        after_line: u64,
        /// The error.
        source: std::io::Error,
    },
    /// A line is not what an export's file holds.
    #[error("{} line {line}: {problem}", path.display())]
    Line {
        /// The file.
        path: PathBuf,
        /// The line, from 1.
        line: u64,
        /// What is wrong with it.
        problem: LineProblem,
    },
}

/// What is wrong with a line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineProblem {
    /// Not JSON at all.
    #[error("not JSON ({0})")]
    NotJson(String),
    /// JSON, but a field counted has the wrong type.
    #[error("not shaped like a FHIR resource ({0})")]
    UnexpectedShape(String),
    /// JSON, but not an object.
    #[error("not a JSON object")]
    NotAnObject,
    /// No `resourceType`.
    #[error("no resourceType")]
    NoResourceType,
    /// `meta.lastUpdated` is not a FHIR instant.
    #[error("meta.lastUpdated {0:?} is not a FHIR instant")]
    BadInstant(String),
    /// A service date is not a FHIR date.
    #[error("service date {0:?} is not a FHIR date")]
    BadDate(String),
    /// Longer than [`MAX_LINE_BYTES`].
    #[error("longer than {} MiB: not NDJSON", MAX_LINE_BYTES >> 20)]
    TooLong,
}

/// Summarizes the NDJSON files under `dir`. Fails on the first problem
/// found (by file order: the same error whichever thread finds it), naming
/// the file and, for a bad line, its number.
pub fn summarize(dir: &Path) -> Result<Summary, SummaryError> {
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(SummaryError::NotADirectory(dir.to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(SummaryError::NotFound(dir.to_owned()));
        }
        Err(source) => {
            return Err(SummaryError::Io {
                path: dir.to_owned(),
                source,
            });
        }
    }
    let paths = read::find(dir)?;
    if paths.is_empty() {
        return Err(SummaryError::NoFiles(dir.to_owned()));
    }
    let (tally, files) = read::read_all(&paths)?;
    Ok(tally.into_summary(dir.display().to_string(), files))
}

impl FileCounts {
    /// Adds `other`'s counts to these.
    fn add(&mut self, other: FileCounts) {
        self.count += other.count;
        self.gzip += other.gzip;
        self.stored_bytes += other.stored_bytes;
        self.ndjson_bytes += other.ndjson_bytes;
    }
}

impl Summary {
    /// The summary as a table for people (its shape: `summary/text.rs`).
    pub fn to_text(&self) -> String {
        text::render(self)
    }

    /// The summary as JSON, in the shape documented on [`Summary`].
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;

//! `bcda client summary DIR`: a look at what an export delivered. Reads
//! every NDJSON file under a directory (`*.ndjson`, `*.ndjson.gz`,
//! recursively; hidden names, the downloader's `.part` files and its JSON
//! manifest and state are not) and reports, per resource type, the count
//! and the range of `meta.lastUpdated`; for ExplanationOfBenefit also the
//! count per claim type and the range of service dates; and the messages of
//! the OperationOutcome lines (error files, `warnings-and-info.ndjson`),
//! grouped with identifiers masked ([`mask`]'s rules: no MBI is shown).
//!
//! Files are streamed line by line and each line is parsed only for the
//! fields counted ([`line`]), two files at a time on two cores, so a
//! summary of gigabytes runs in memory that does not grow with them.
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
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde::Serialize;

pub use dates::{FhirDate, Instant, Range};
pub use read::{MAX_LINE_BYTES, is_ndjson_name};
pub use tally::{EOB_TYPE_SYSTEM, MAX_MESSAGE_GROUPS};

use tally::Tally;

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
    pub last_updated: Option<Range<Instant>>,
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
    #[error("not a FHIR resource as expected ({0})")]
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
    let (tally, files) = read_all(&paths)?;
    Ok(tally.into_summary(dir.display().to_string(), files))
}

/// Reads `paths` on as many threads as there are cores (at most one per
/// file), each taking the next unread file: the merged tally and the file
/// counts, or the error of the first file (in `paths` order) that failed.
fn read_all(paths: &[PathBuf]) -> Result<(Tally, FileCounts), SummaryError> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(paths.len());
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let first_error: Mutex<Option<(usize, SummaryError)>> = Mutex::new(None);
    let results: Vec<(Tally, FileCounts)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut tally = Tally::default();
                    let mut files = FileCounts::default();
                    while !failed.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = paths.get(i) else {
                            break;
                        };
                        match read::read(path) {
                            Ok((file_tally, file)) => {
                                tally.merge(file_tally);
                                files.add(file);
                            }
                            Err(e) => {
                                // Every file before this one was taken
                                // already and is read to its end; those
                                // after need not be.
                                failed.store(true, Ordering::Relaxed);
                                let mut first =
                                    first_error.lock().unwrap_or_else(|p| p.into_inner());
                                if first.as_ref().is_none_or(|(j, _)| i < *j) {
                                    *first = Some((i, e));
                                }
                            }
                        }
                    }
                    (tally, files)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    if let Some((_, e)) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let mut tally = Tally::default();
    let mut files = FileCounts::default();
    for (t, f) in results {
        tally.merge(t);
        files.add(f);
    }
    Ok((tally, files))
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
    /// The summary as a table for people (see [`text`]).
    pub fn to_text(&self) -> String {
        text::render(self)
    }

    /// The summary as JSON, in the shape documented on [`Summary`].
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const PATIENT_A: &str = r#"{"resourceType":"Patient","id":"-1","meta":{"lastUpdated":"2026-02-27T22:30:00.000-05:00"}}"#;
    const PATIENT_B: &str = r#"{"resourceType":"Patient","id":"-2","meta":{"lastUpdated":"2026-02-28T01:00:00.000+00:00"}}"#;
    const CARRIER: &str = r#"{"resourceType":"ExplanationOfBenefit","meta":{"lastUpdated":"2020-01-01T00:00:00.000+00:00"},"type":{"coding":[{"system":"https://bluebutton.cms.gov/resources/variables/nch_clm_type_cd","code":"71"},{"system":"https://bluebutton.cms.gov/resources/codesystem/eob-type","code":"CARRIER"},{"system":"http://terminology.hl7.org/CodeSystem/claim-type","code":"professional"}]},"billablePeriod":{"start":"2019-03-12","end":"2019-03-14"},"item":[{"servicedPeriod":{"start":"2018-01-01","end":"2018-01-01"}}]}"#;
    // A Part D event without a billable period: its items' dates count.
    const PDE: &str = r#"{"resourceType":"ExplanationOfBenefit","meta":{"lastUpdated":"2021-05-28T02:14:20.431-04:00"},"type":{"coding":[{"system":"https://bluebutton.cms.gov/resources/codesystem/eob-type","code":"PDE"}]},"item":[{"servicedDate":"2019-02"},{"servicedDate":"2019-01-20"}]}"#;
    // v3's partially adjudicated EOB: only the FHIR claim type.
    const PAC: &str = r#"{"resourceType":"ExplanationOfBenefit","meta":{"lastUpdated":"2025-04-11T02:59:08.739-04:00"},"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/claim-type","code":"institutional"}]},"billablePeriod":{"start":"2025"}}"#;
    const UNTYPED: &str =
        r#"{"resourceType":"ExplanationOfBenefit","meta":{"lastUpdated":"2020-06-01T00:00:00Z"}}"#;

    fn error_line(mbi: &str) -> String {
        format!(
            r#"{{"resourceType":"OperationOutcome","issue":[{{"severity":"error","code":"not-found","diagnostics":"Error retrieving Coverage for beneficiary MBI {mbi} in ACO A9994"}}]}}"#
        )
    }

    const WARNING: &str = r#"{"resourceType":"OperationOutcome","issue":[{"severity":"warning","code":"processing","details":{"text":"No _typeFilter was given: the default System-Type tags were applied"}}]}"#;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    /// `members` gzip members one after another in one file.
    fn write_gzip(path: &Path, members: &[&str]) {
        let mut bytes = Vec::new();
        for member in members {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(member.as_bytes()).expect("gzip");
            bytes.extend(encoder.finish().expect("gzip"));
        }
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, bytes).expect("write");
    }

    fn lines(lines: &[&str]) -> String {
        lines.iter().map(|l| format!("{l}\n")).collect()
    }

    #[test]
    fn plain_and_gzip_files_are_read_recursively_and_nothing_else() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(
            &root.join("run-1/patients.ndjson"),
            &lines(&[PATIENT_A, PATIENT_B]),
        );
        // Two gzip members, the second starting mid-file.
        write_gzip(
            &root.join("eob.ndjson.gz"),
            &[&lines(&[CARRIER, PDE]), &lines(&[PAC, UNTYPED, ""])],
        );
        // Kept gzip under a plain name: read by its content.
        write_gzip(&root.join("more-eob.ndjson"), &[&lines(&[CARRIER])]);
        let errors = [
            error_line("1S00E00AA00"),
            error_line("1EG4TE5MK73"),
            WARNING.to_owned(),
        ];
        let errors: Vec<&str> = errors.iter().map(String::as_str).collect();
        write(&root.join("abc-error.ndjson"), &lines(&errors));
        // Not read: a partial download, hidden files and directories, the
        // manifest, other names.
        for skipped in [
            "eob.ndjson.gz.part",
            "eob.ndjson.part",
            ".hidden.ndjson",
            ".cache/x.ndjson",
            "manifest.json",
            "notes.txt",
        ] {
            write(&root.join(skipped), "not JSON at all\n");
        }

        let summary = summarize(root).expect("summary");
        let json = summary.to_json();
        assert_eq!(json["files"]["count"], 4, "{json:#}");
        assert_eq!(json["files"]["gzip"], 2);
        assert!(summary.files.ndjson_bytes > summary.files.stored_bytes / 2);
        let types: Vec<(&str, u64, u64)> = summary
            .resources
            .iter()
            .map(|t| (t.resource_type.as_str(), t.count, t.files))
            .collect();
        assert_eq!(types, [("Patient", 2, 1), ("ExplanationOfBenefit", 5, 2)]);
        // 22:30 at -05:00 is the next day in UTC, and before 01:00 UTC.
        assert_eq!(
            json["resources"][0]["last_updated"],
            serde_json::json!({"first": "2026-02-28T01:00:00.000Z", "last": "2026-02-28T03:30:00.000Z"})
        );
        assert!(json["resources"][0].get("claim_types").is_none());
        let eob = &json["resources"][1];
        assert_eq!(
            eob["last_updated"],
            serde_json::json!({"first": "2020-01-01T00:00:00.000Z", "last": "2025-04-11T06:59:08.739Z"})
        );
        // The PDE's items (2019-01-20) start before the carrier claim's
        // billable period; the carrier claim's item (2018) is not counted
        // as it has a billable period; 2025 ends on its last day.
        assert_eq!(
            eob["service_dates"],
            serde_json::json!({"first": "2019-01-20", "last": "2025"})
        );
        assert_eq!(
            eob["claim_types"],
            serde_json::json!([
                {"code": "CARRIER", "count": 2},
                {"code": "PDE", "count": 1},
                {"code": "institutional", "count": 1},
                {"code": "unknown", "count": 1}
            ])
        );
        assert_eq!(
            json["issues"],
            serde_json::json!({
                "files": 1, "lines": 3, "issues": 3, "other": 0,
                "messages": [
                    {"severity": "error", "count": 2, "message": "Error retrieving Coverage for beneficiary MBI <MBI> in ACO <ACO>"},
                    {"severity": "warning", "count": 1, "message": "No _typeFilter was given: the default System-Type tags were applied"}
                ]
            })
        );
        let text = summary.to_text();
        assert!(
            !text.contains("1S00E00AA00") && !text.contains("1EG4TE5MK73"),
            "{text}"
        );
        assert!(
            text.contains(
                "  error    2×  Error retrieving Coverage for beneficiary MBI <MBI> in ACO <ACO>\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "ExplanationOfBenefit      5  2020-01-01 … 2025-04-11  2019-01-20 … 2025\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_bad_line_is_an_error_naming_the_file_and_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cases: [(&str, &str); 7] = [
            (
                "{\"resourceType\":\"Patient\"",
                "not JSON (EOF while parsing an object, column 25)",
            ),
            ("[1, 2]", "not a JSON object"),
            ("[1, 2", "not JSON (EOF while parsing a list, column 5)"),
            (
                r#"{"resourceType":"Patient","meta":{"lastUpdated":20200101}}"#,
                "not a FHIR resource as expected (invalid type: integer `20200101`, expected a string, column 56)",
            ),
            ("{\"id\":\"x\"}", "no resourceType"),
            (
                r#"{"resourceType":"Patient","meta":{"lastUpdated":"2020-01-01"}}"#,
                r#"meta.lastUpdated "2020-01-01" is not a FHIR instant"#,
            ),
            (
                r#"{"resourceType":"ExplanationOfBenefit","billablePeriod":{"start":"03/12/2019"}}"#,
                r#"service date "03/12/2019" is not a FHIR date"#,
            ),
        ];
        for (n, (bad, problem)) in cases.into_iter().enumerate() {
            let path = dir.path().join(format!("case-{n}/x.ndjson.gz"));
            write_gzip(&path, &[&lines(&[PATIENT_A, "", bad, PATIENT_B])]);
            let error = summarize(path.parent().expect("dir")).expect_err("bad line");
            assert_eq!(
                error.to_string(),
                format!("{} line 3: {problem}", path.display())
            );
        }
    }

    #[test]
    fn the_first_bad_file_in_order_is_the_one_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in ["a.ndjson", "c.ndjson", "e.ndjson"] {
            write(&dir.path().join(name), &lines(&[PATIENT_A; 200]));
        }
        write(&dir.path().join("b.ndjson"), &lines(&[PATIENT_A, "oops"]));
        write(&dir.path().join("d.ndjson"), "oops\n");
        for _ in 0..5 {
            let error = summarize(dir.path()).expect_err("bad");
            assert!(
                error.to_string().starts_with(&format!(
                    "{} line 2: not JSON",
                    dir.path().join("b.ndjson").display()
                )),
                "{error}"
            );
        }
    }

    #[test]
    fn a_truncated_gzip_file_is_an_error_after_its_last_whole_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.ndjson.gz");
        write_gzip(&path, &[&lines(&[PATIENT_A, PATIENT_B, PATIENT_A])]);
        let bytes = std::fs::read(&path).expect("read");
        std::fs::write(&path, &bytes[..bytes.len() - 10]).expect("truncate");
        let error = summarize(dir.path()).expect_err("truncated");
        assert!(matches!(error, SummaryError::Read { .. }), "{error}");
        assert!(
            error
                .to_string()
                .starts_with(&format!("{} after line ", path.display())),
            "{error}"
        );
    }

    #[test]
    fn missing_or_empty_directories_say_so() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nope");
        assert_eq!(
            summarize(&missing).expect_err("missing").to_string(),
            format!("{} does not exist", missing.display())
        );
        let file = dir.path().join("f.ndjson");
        write(&file, &lines(&[PATIENT_A]));
        assert_eq!(
            summarize(&file).expect_err("file").to_string(),
            format!("{} is not a directory", file.display())
        );
        let empty = dir.path().join("empty");
        write(&empty.join("manifest.json"), "{}");
        write(&empty.join("x.ndjson.part"), PATIENT_A);
        assert_eq!(
            summarize(&empty).expect_err("empty").to_string(),
            format!(
                "no NDJSON files in {} (looked for *.ndjson and *.ndjson.gz, recursively)",
                empty.display()
            )
        );
    }

    #[test]
    fn errors_only_and_empty_files_summarize() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(&dir.path().join("x-error.ndjson"), &lines(&[WARNING]));
        write(&dir.path().join("empty.ndjson"), "");
        let summary = summarize(dir.path()).expect("summary");
        assert!(summary.resources.is_empty());
        let text = summary.to_text();
        assert!(text.contains("\nNo resources.\n"), "{text}");
        assert!(
            text.contains("Errors and warnings: 1 issue in 1 file\n  warning  1×  No _typeFilter"),
            "{text}"
        );
    }
}

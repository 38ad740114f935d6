//! `summarize` over real files: what is read, what is skipped, what a
//! bad file's error says.

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
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
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
        text.contains("ExplanationOfBenefit      5  2020-01-01 … 2025-04-11  2019-01-20 … 2025\n"),
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
            "not shaped like a FHIR resource (invalid type: integer `20200101`, expected a string, column 56)",
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

/// The generator's golden files (v1 STU3, v2 R4 with Claim and
/// ClaimResponse, v3 with partially adjudicated EOBs): every EOB gets a
/// claim type of its own, and every line parses.
#[test]
fn the_generators_golden_files_summarize() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/synthetic/golden");
    let summary = summarize(&golden).expect("summary");
    let names: Vec<&str> = summary
        .resources
        .iter()
        .map(|t| t.resource_type.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "Patient",
            "Coverage",
            "ExplanationOfBenefit",
            "Claim",
            "ClaimResponse"
        ]
    );
    let eobs = &summary.resources[2];
    let claims = eobs.claims.as_ref().expect("claims");
    assert_eq!(
        claims.claim_types.iter().map(|c| c.count).sum::<u64>(),
        eobs.count
    );
    let codes: Vec<&str> = claims.claim_types.iter().map(|c| c.code.as_str()).collect();
    for code in [
        "CARRIER",
        "PDE",
        "INPATIENT",
        "OUTPATIENT",
        "institutional",
        "professional",
    ] {
        assert!(codes.contains(&code), "{code} in {codes:?}");
    }
    assert!(!codes.contains(&"unknown"), "{codes:?}");
    assert!(claims.service_dates.is_some() && eobs.last_updated.is_some());
    assert!(summary.resources.iter().all(|t| t.last_updated.is_some()));
}

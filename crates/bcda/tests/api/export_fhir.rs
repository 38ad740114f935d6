//! Every line of every file of full v1, v2 and v3 exports of the sandbox's
//! A9994, and of full v2 and v3 exports of TEST001 (v2: all five types,
//! Claim and ClaimResponse among them; v3: EOBs of every System-Type),
//! validates against the FHIR models of its version (PyPI `fhir.resources`
//! 8.3.0: STU3 for v1, R4B for v2 and v3).

use std::io::Read;
use std::path::Path;

use bcda::auth::tokens::Principal;
use bcda::domain::RequestKind;
use bcda::domain::{ApiVersion, ResourceType};
use bcda::export::request::ExportRequest;
use bcda::jobs::kickoff;
use bcda::jobs::worker::run_until_idle;

use crate::harness::{Backend, TestApp};
use crate::kickoff::{job_id, kick_ok};

/// The Python with `fhir.resources` 8.3.0 (scripts/test makes it and sets
/// `BCDA_TEST_PYTHON`); a test without it fails rather than passing silently.
fn python() -> String {
    std::env::var("BCDA_TEST_PYTHON").unwrap_or_else(|_| {
        panic!("BCDA_TEST_PYTHON is not set: run scripts/test, which provides a Python with fhir.resources==8.3.0")
    })
}

/// Runs `tools/fhir_validate.py` on `paths` and checks that all `lines`
/// passed.
fn validate(python: &str, flag: &str, paths: &[std::path::PathBuf], lines: usize) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/fhir_validate.py");
    let result = std::process::Command::new(python)
        .arg(&script)
        .args(["--version", flag])
        .args(paths)
        .output()
        .expect("run the FHIR validator");
    let stdout = String::from_utf8_lossy(&result.stdout);
    println!("{flag}: {lines} lines in {} files: {stdout}", paths.len());
    assert!(
        result.status.success(),
        "{flag}: {stdout}\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert!(
        stdout.contains(&format!("{lines} passed, 0 failed")),
        "{stdout}"
    );
}

#[tokio::test]
async fn full_a9994_exports_validate_as_fhir() {
    let python = python();
    let app = TestApp::new(Backend::Sqlite).await;
    let data_dir = app.state.data_dir.root().to_owned();
    bcda::sandbox::prepare(app.db(), &app.clock, &data_dir)
        .await
        .expect("sandbox");
    let aco = bcda::store::acos::find_by_cms_id(app.db(), "A9994")
        .await
        .expect("db")
        .expect("aco");
    let principal = Principal {
        aco_id: aco.id,
        cms_id: aco.cms_id,
        client_id: String::new(),
        token_id: String::new(),
    };
    let out = tempfile::tempdir().expect("tempdir");
    // v3 with no _typeFilter: NCH and DDPS EOBs and the warnings file.
    for (version, flag) in [
        (ApiVersion::V1, "stu3"),
        (ApiVersion::V2, "r4b"),
        (ApiVersion::V3, "r4b"),
    ] {
        let job_id = kickoff::start(
            &app.state,
            &principal,
            &ExportRequest {
                version,
                kind: RequestKind::Patient,
                resource_types: ResourceType::ADJUDICATED.to_vec(),
                since: None,
                type_filter: None,
            },
            &format!("http://bcda.test/api/{}/Patient/$export", version.segment()),
        )
        .await
        .expect("kick-off");
        run_until_idle(&app.state.env).await.expect("worker");
        let files = bcda::store::job_files::list(app.db(), job_id)
            .await
            .expect("files");
        assert!(
            files
                .iter()
                .any(|f| f.resource_type == "ExplanationOfBenefit")
        );
        let mut paths = Vec::new();
        let mut lines = 0;
        for file in &files {
            let mut text = String::new();
            flate2::read::GzDecoder::new(
                std::fs::File::open(app.state.files.path(job_id, &file.name)).expect("file"),
            )
            .read_to_string(&mut text)
            .expect("gunzip");
            lines += text.lines().count();
            let path = out.path().join(format!("{flag}-{}", file.name));
            std::fs::write(&path, text).expect("write");
            paths.push(path);
        }
        validate(&python, flag, &paths, lines);
    }
}

/// The sandbox's TEST001 exactly as `bcda sandbox` sets it up (both data
/// sets, sandbox density), one export of `kickoff` (its version's path)
/// driven through the HTTP API (token, kick-off, status, downloads). Every
/// line of every file (outputs and error files) must be valid R4B. Returns
/// the lines per output type, and every output file's text.
async fn test001_export_validates(
    version: &str,
    kickoff: &str,
) -> (
    std::collections::BTreeMap<String, usize>,
    String,
    serde_json::Value,
) {
    let python = python();
    let started = std::time::Instant::now();
    let app = TestApp::new(Backend::Sqlite).await;
    let data_dir = app.state.data_dir.root().to_owned();
    let credentials = bcda::sandbox::prepare(app.db(), &app.clock, &data_dir)
        .await
        .expect("sandbox");
    let c = credentials
        .iter()
        .find(|c| c.cms_id == "TEST001")
        .expect("TEST001");
    let token = app.post_token(&c.client_id, &c.client_secret).await.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let job = job_id(&kick_ok(&app, &token, kickoff).await);
    run_until_idle(&app.state.env).await.expect("worker");
    let done = app
        .get_with_token(&format!("/api/{version}/jobs/{job}"), &token)
        .await;
    assert_eq!(done.status, axum::http::StatusCode::OK, "{}", done.text());
    let manifest = done.json();
    let exported = std::time::Instant::now();

    let out = tempfile::tempdir().expect("tempdir");
    let mut paths = Vec::new();
    let mut lines = 0;
    let mut types = std::collections::BTreeMap::<String, usize>::new();
    let mut all_text = String::new();
    let entries = manifest["output"]
        .as_array()
        .expect("output")
        .iter()
        .chain(manifest["error"].as_array().expect("error"));
    for (n, entry) in entries.enumerate() {
        let resource_type = entry["type"].as_str().expect("type");
        let url = entry["url"].as_str().expect("url");
        let path = url.trim_start_matches("http://bcda.test");
        let file = app.get_with_token(path, &token).await;
        assert_eq!(file.status, axum::http::StatusCode::OK, "{url}");
        let text = String::from_utf8(file.body.to_vec()).expect("utf-8");
        let count = text.lines().count();
        assert_eq!(entry["count"].as_u64(), Some(count as u64), "{url}");
        assert!(
            text.lines()
                .all(|l| l.contains(&format!("\"resourceType\":\"{resource_type}\""))),
            "{url} holds {resource_type} lines only"
        );
        lines += count;
        if resource_type != "OperationOutcome" {
            *types.entry(resource_type.to_owned()).or_default() += count;
            all_text.push_str(&text);
        }
        let local = out.path().join(format!("{n}-{resource_type}.ndjson"));
        std::fs::write(&local, text).expect("write");
        paths.push(local);
    }
    assert!(types.values().all(|&n| n > 0), "{types:?}");
    validate(&python, "r4b", &paths, lines);
    println!(
        "TEST001 {version}: {lines} lines ({types:?}); set-up and export {:.1?}, download and validation {:.1?}",
        exported - started,
        exported.elapsed()
    );
    (types, all_text, manifest)
}

/// A default v2 export of TEST001: all five types, FISS and MCS claims.
#[tokio::test]
async fn full_test001_v2_export_validates_as_fhir() {
    let (types, text, manifest) = test001_export_validates("v2", "/api/v2/Patient/$export").await;
    let names: Vec<&str> = types.keys().map(String::as_str).collect();
    let mut expected: Vec<&str> = ResourceType::ALL.iter().map(|t| t.as_str()).collect();
    expected.sort_unstable();
    assert_eq!(names, expected, "{manifest}");
    // Both shared systems' shapes are validated: FISS and MCS.
    assert!(text.contains("\"id\":\"f-"), "FISS claims");
    assert!(text.contains("\"id\":\"m-"), "MCS claims");
}

/// A full v3 export of TEST001 with every System-Type asked: Patient,
/// Coverage and ExplanationOfBenefit, adjudicated (NCH, DDPS) and partially
/// adjudicated (SharedSystem, FISS and MCS) EOBs all valid R4B.
#[tokio::test]
async fn full_test001_v3_export_validates_as_fhir() {
    let st = "https://bluebutton.cms.gov/fhir/CodeSystem/System-Type";
    let filter =
        format!("ExplanationOfBenefit?_tag={st}|NationalClaimsHistory,{st}|DDPS,{st}|SharedSystem")
            .replace(':', "%3A")
            .replace('/', "%2F")
            .replace('?', "%3F")
            .replace('=', "%3D")
            .replace('|', "%7C")
            .replace(',', "%2C");
    let (types, text, manifest) = test001_export_validates(
        "v3",
        &format!("/api/v3/Patient/$export?_typeFilter={filter}"),
    )
    .await;
    let names: Vec<&str> = types.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["Coverage", "ExplanationOfBenefit", "Patient"],
        "{manifest}"
    );
    for code in ["NationalClaimsHistory", "DDPS", "SharedSystem"] {
        assert!(
            text.contains(&format!("\"code\":\"{code}\"")),
            "{code} EOBs"
        );
    }
    assert!(
        text.contains("\"id\":\"f-") && text.contains("\"id\":\"m-"),
        "FISS and MCS EOBs"
    );
}

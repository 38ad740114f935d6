//! Every line of every file of full v1 and v2 exports of the sandbox's
//! A9994, of a full v2 export of TEST001 (all five types, Claim and
//! ClaimResponse among them), and of full v3 exports of both (A9994's with
//! the default System-Type tags and its warnings-and-info file, TEST001's
//! with every System-Type, SharedSystem EOBs among them) validates against
//! the FHIR models of its version (PyPI `fhir.resources` 8.3.0: STU3 for
//! v1, R4B for v2 and v3).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use bcda::auth::tokens::Principal;
use bcda::domain::RequestKind;
use bcda::domain::eob_facts::SYSTEM_TYPE_SYSTEM;
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
fn validate(python: &str, flag: &str, paths: &[PathBuf], lines: usize) {
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
        scopes: bcda::domain::Scopes::full(),
    };
    let out = tempfile::tempdir().expect("tempdir");
    for (version, flag) in [(ApiVersion::V1, "stu3"), (ApiVersion::V2, "r4b")] {
        let job_id = kickoff::start(
            &app.state,
            &principal,
            &ExportRequest {
                version,
                kind: RequestKind::Patient,
                resource_types: ResourceType::ADJUDICATED.to_vec(),
                since: None,
                until: None,
                patients: Vec::new(),
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
                std::fs::File::open(
                    app.state
                        .files
                        .path(job_id, &file.name)
                        .expect("a directory store"),
                )
                .expect("file"),
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

/// A finished export, driven and downloaded through the HTTP API.
struct Downloaded {
    manifest: serde_json::Value,
    /// Each file of the manifest's `output` array: its type and text.
    output: Vec<(String, String)>,
    /// Each file of its `error` array.
    error: Vec<(String, String)>,
}

impl Downloaded {
    /// How many lines each resource type has in `output`.
    fn counts(&self) -> BTreeMap<&str, usize> {
        let mut counts = BTreeMap::new();
        for (resource_type, text) in &self.output {
            *counts.entry(resource_type.as_str()).or_default() += text.lines().count();
        }
        counts
    }

    /// The file names the manifest's `error` array lists, in order.
    fn error_names(&self) -> Vec<String> {
        self.manifest["error"]
            .as_array()
            .expect("error")
            .iter()
            .map(|e| {
                let url = e["url"].as_str().expect("url");
                url.rsplit('/').next().expect("name").to_owned()
            })
            .collect()
    }

    /// Writes every file (`output` and `error`) into `dir` for the
    /// validator: their paths and total line count.
    fn write_all(&self, dir: &Path) -> (Vec<PathBuf>, usize) {
        let mut paths = Vec::new();
        let mut lines = 0;
        let files = self.output.iter().map(|f| ("output", f));
        let files = files.chain(self.error.iter().map(|f| ("error", f)));
        for (n, (key, (resource_type, text))) in files.enumerate() {
            let path = dir.join(format!("{n}-{key}-{resource_type}.ndjson"));
            std::fs::write(&path, text).expect("write");
            lines += text.lines().count();
            paths.push(path);
        }
        (paths, lines)
    }

    /// Every ExplanationOfBenefit line of `output`, parsed.
    fn eobs(&self) -> impl Iterator<Item = serde_json::Value> + '_ {
        self.output
            .iter()
            .filter(|(t, _)| t == "ExplanationOfBenefit")
            .flat_map(|(_, text)| text.lines())
            .map(|l| serde_json::from_str(l).expect("json"))
    }
}

/// Kicks off `kickoff` (a path) with `token`, runs the worker, reads the
/// manifest from the status URL the kick-off pointed at, and downloads
/// every file it lists; each file must hold exactly its manifest `count`
/// of lines, all of its manifest `type`.
async fn export_over_http(app: &TestApp, token: &str, kickoff: &str) -> Downloaded {
    let kicked = kick_ok(app, token, kickoff).await;
    job_id(&kicked);
    let status_url = kicked.header("content-location").expect("content-location");
    run_until_idle(&app.state.env).await.expect("worker");
    let done = app
        .get_with_token(status_url.trim_start_matches("http://bcda.test"), token)
        .await;
    assert_eq!(done.status, axum::http::StatusCode::OK, "{}", done.text());
    let manifest = done.json();
    let mut files = [Vec::new(), Vec::new()];
    for (key, files) in ["output", "error"].into_iter().zip(&mut files) {
        for entry in manifest[key].as_array().expect(key) {
            let resource_type = entry["type"].as_str().expect("type");
            let url = entry["url"].as_str().expect("url");
            let file = app
                .get_with_token(url.trim_start_matches("http://bcda.test"), token)
                .await;
            assert_eq!(file.status, axum::http::StatusCode::OK, "{url}");
            let text = String::from_utf8(file.body.to_vec()).expect("utf-8");
            assert_eq!(
                entry["count"].as_u64(),
                Some(text.lines().count() as u64),
                "{url}"
            );
            assert!(
                text.lines()
                    .all(|l| l.contains(&format!("\"resourceType\":\"{resource_type}\""))),
                "{url} holds {resource_type} lines only"
            );
            files.push((resource_type.to_owned(), text));
        }
    }
    let [output, error] = files;
    Downloaded {
        manifest,
        output,
        error,
    }
}

/// The sandbox exactly as `bcda sandbox` sets it up (both data sets,
/// sandbox density) and a token for `cms_id`.
async fn sandbox_token(cms_id: &str) -> (TestApp, String) {
    let app = TestApp::new(Backend::Sqlite).await;
    let data_dir = app.state.data_dir.root().to_owned();
    let credentials = bcda::sandbox::prepare(app.db(), &app.clock, &data_dir)
        .await
        .expect("sandbox");
    let c = credentials
        .iter()
        .find(|c| c.cms_id == cms_id)
        .expect(cms_id);
    let token = app.post_token(&c.client_id, &c.client_secret).await.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    (app, token)
}

/// `text` with every byte but RFC 3986's unreserved ones percent-encoded,
/// as a client encodes a query value (`?`, `=`, `|`, `,` and `/` included).
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The System-Type code of a v3 EOB's `meta.tag` (exactly one).
fn system_type(eob: &serde_json::Value) -> String {
    let codes: Vec<&str> = eob["meta"]["tag"]
        .as_array()
        .expect("meta.tag")
        .iter()
        .filter(|t| t["system"] == SYSTEM_TYPE_SYSTEM)
        .map(|t| t["code"].as_str().expect("code"))
        .collect();
    assert_eq!(codes.len(), 1, "one System-Type tag: {}", eob["meta"]);
    codes[0].to_owned()
}

/// The sandbox's TEST001, its default v2 Patient export driven through
/// the HTTP API (token, kick-off, status, downloads): all five types, and
/// every line of every file valid R4B.
#[tokio::test]
async fn full_test001_v2_export_validates_as_fhir() {
    let python = python();
    let started = std::time::Instant::now();
    let (app, token) = sandbox_token("TEST001").await;
    let export = export_over_http(&app, &token, "/api/v2/Patient/$export").await;
    let exported = std::time::Instant::now();

    let types = export.counts();
    let names: Vec<&str> = types.keys().copied().collect();
    let mut expected: Vec<&str> = ResourceType::ALL.iter().map(|t| t.as_str()).collect();
    expected.sort_unstable();
    assert_eq!(names, expected, "{}", export.manifest);
    assert!(types.values().all(|&n| n > 0), "{types:?}");
    // Both shared systems' shapes are validated: FISS and MCS.
    let claims = || export.output.iter().filter(|(t, _)| t == "Claim");
    let fiss = claims().any(|(_, text)| text.contains("\"id\":\"f-"));
    let mcs = claims().any(|(_, text)| text.contains("\"id\":\"m-"));
    assert!(fiss && mcs, "FISS and MCS claims: {fiss} {mcs}");

    let out = tempfile::tempdir().expect("tempdir");
    let (paths, lines) = export.write_all(out.path());
    validate(&python, "r4b", &paths, lines);
    println!(
        "TEST001 v2: {lines} lines ({types:?}); set-up and export {:.1?}, download and validation {:.1?}",
        exported - started,
        exported.elapsed()
    );
}

/// A9994's full v3 export through the HTTP API, default `_typeFilter`:
/// Patient, Coverage and NationalClaimsHistory/DDPS ExplanationOfBenefits,
/// and the warnings-and-info file under `error`; every line valid R4B.
#[tokio::test]
async fn full_a9994_v3_export_validates_as_fhir() {
    let python = python();
    let started = std::time::Instant::now();
    let (app, token) = sandbox_token("A9994").await;
    let export = export_over_http(&app, &token, "/api/v3/Patient/$export").await;
    let exported = std::time::Instant::now();

    let types = export.counts();
    assert_eq!(
        types.keys().copied().collect::<Vec<_>>(),
        ["Coverage", "ExplanationOfBenefit", "Patient"],
        "{}",
        export.manifest
    );
    assert!(types.values().all(|&n| n > 0), "{types:?}");
    let mut systems = BTreeMap::<String, usize>::new();
    for eob in export.eobs() {
        *systems.entry(system_type(&eob)).or_default() += 1;
    }
    assert!(
        systems
            .keys()
            .all(|s| s == "NationalClaimsHistory" || s == "DDPS"),
        "{systems:?}"
    );
    // The default System-Type warning, first of the error files (the
    // others are the sandbox's unmatched beneficiaries, as in BCDA's).
    assert_eq!(
        export.error_names().first().map(String::as_str),
        Some("warnings-and-info.ndjson"),
        "{}",
        export.manifest
    );
    assert!(
        export.error[0].1.contains(r#""severity":"warning""#),
        "{}",
        export.error[0].1
    );
    let error_lines: usize = export.error.iter().map(|(_, t)| t.lines().count()).sum();

    let out = tempfile::tempdir().expect("tempdir");
    let (paths, lines) = export.write_all(out.path());
    validate(&python, "r4b", &paths, lines);
    println!(
        "A9994 v3: {lines} lines ({types:?}, EOBs {systems:?}, {error_lines} OperationOutcomes); \
         set-up and export {:.1?}, download and validation {:.1?}",
        exported - started,
        exported.elapsed()
    );
}

/// TEST001's full v3 export through the HTTP API with a `_typeFilter`
/// asking for every System-Type (one `_tag`, comma-separated, URL-encoded):
/// its SharedSystem (partially adjudicated) EOBs are exported next to the
/// NationalClaimsHistory and DDPS ones, no warning file, every line (the
/// error files' included) valid R4B.
#[tokio::test]
async fn full_test001_v3_export_with_every_system_type_validates_as_fhir() {
    let python = python();
    let started = std::time::Instant::now();
    let (app, token) = sandbox_token("TEST001").await;
    let tags: Vec<String> = ["NationalClaimsHistory", "DDPS", "SharedSystem"]
        .iter()
        .map(|code| format!("{SYSTEM_TYPE_SYSTEM}|{code}"))
        .collect();
    let filter = format!("ExplanationOfBenefit?_tag={}", tags.join(","));
    let encoded = percent_encode(&filter);
    let export = export_over_http(
        &app,
        &token,
        &format!("/api/v3/Patient/$export?_typeFilter={encoded}"),
    )
    .await;
    let exported = std::time::Instant::now();

    let types = export.counts();
    assert_eq!(
        types.keys().copied().collect::<Vec<_>>(),
        ["Coverage", "ExplanationOfBenefit", "Patient"],
        "{}",
        export.manifest
    );
    assert!(types.values().all(|&n| n > 0), "{types:?}");
    let mut systems = BTreeMap::<String, usize>::new();
    for eob in export.eobs() {
        *systems.entry(system_type(&eob)).or_default() += 1;
    }
    assert_eq!(
        systems.keys().map(String::as_str).collect::<Vec<_>>(),
        ["DDPS", "NationalClaimsHistory", "SharedSystem"],
        "EOBs of every System-Type, SharedSystem ones among them"
    );
    assert!(
        !export
            .error_names()
            .contains(&"warnings-and-info.ndjson".to_owned()),
        "a System-Type was named: no warning: {}",
        export.manifest
    );

    let out = tempfile::tempdir().expect("tempdir");
    let (paths, lines) = export.write_all(out.path());
    validate(&python, "r4b", &paths, lines);
    println!(
        "TEST001 v3: {lines} lines ({types:?}, EOBs {systems:?}); \
         set-up and export {:.1?}, download and validation {:.1?}",
        exported - started,
        exported.elapsed()
    );
}

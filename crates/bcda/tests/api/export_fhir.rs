//! Every line of every file of full v1 and v2 exports of the sandbox's
//! A9994 validates against the FHIR models of its version (PyPI
//! `fhir.resources` 8.3.0: STU3 for v1, R4B for v2).

use std::io::Read;
use std::path::Path;

use bcda::auth::tokens::Principal;
use bcda::domain::RequestKind;
use bcda::domain::{ApiVersion, ResourceType};
use bcda::export::request::ExportRequest;
use bcda::jobs::kickoff;
use bcda::jobs::worker::run_until_idle;

use crate::harness::{Backend, TestApp};

#[tokio::test]
async fn full_a9994_exports_validate_as_fhir() {
    let python = std::env::var("BCDA_TEST_PYTHON").unwrap_or_else(|_| {
        panic!("BCDA_TEST_PYTHON is not set: run scripts/test, which provides a Python with fhir.resources==8.3.0")
    });
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
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/fhir_validate.py");
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
        let result = std::process::Command::new(&python)
            .arg(&script)
            .args(["--version", flag])
            .args(&paths)
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
}

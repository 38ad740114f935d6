//! `/api/v1/metadata`, `/api/v2/metadata`, `/api/v3/metadata`, `/_version`, `/_auth`.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bcda::app::HttpSettings;

use crate::harness::{TestApp, backend_test};

backend_test! {
    async fn capability_statements(backend) {
        let app = TestApp::new(backend).await;
        for (name, fhir_version) in [("v1", "3.0.1"), ("v2", "4.0.1"), ("v3", "4.0.1")] {
            let path = format!("/api/{name}/metadata");
            let path = path.as_str();
            let response = app.get(path).await;
            assert_eq!(response.status, StatusCode::OK);
            assert_eq!(response.header("content-type"), Some("application/json"));
            let body = response.json();
            assert_eq!(body["resourceType"], "CapabilityStatement");
            assert_eq!(body["fhirVersion"], fhir_version);
            assert_eq!(
                body["rest"][0]["security"]["extension"][0]["extension"][0]["valueUri"],
                "http://bcda.test/auth/token"
            );
            assert_eq!(body["implementation"]["url"], "http://bcda.test");
            insta::assert_json_snapshot!(format!("capability_statement_{name}"), body, {
                ".date" => "[now]",
                ".software.releaseDate" => "[started]",
                ".software.version" => "[version]",
            });
        }
    }
}

backend_test! {
    async fn metadata_needs_no_token_and_negotiates_fhir_json(backend) {
        let app = TestApp::new(backend).await;
        let fhir = app
            .send(
                Request::get("/api/v2/metadata")
                    .header("accept", "application/fhir+json")
                    .body(Body::empty())
                    .expect("req"),
            )
            .await;
        assert_eq!(fhir.header("content-type"), Some("application/fhir+json"));
        let token = app.token_for("A9994").await;
        let with_token = app.get_with_token("/api/v1/metadata", &token).await;
        assert_eq!(with_token.status, StatusCode::OK, "a bearer token is fine too");
    }
}

backend_test! {
    async fn absolute_urls_follow_the_request_and_trusted_proxies(backend) {
        let untrusting = TestApp::new(backend).await;
        let forwarded = || {
            Request::get("/api/v1/metadata")
                .header("host", "10.0.0.5:3000")
                .header("x-forwarded-proto", "https")
                .header("x-forwarded-host", "api.example.org")
                .body(Body::empty())
                .expect("req")
        };
        let body = untrusting.send(forwarded()).await.json();
        assert_eq!(body["implementation"]["url"], "http://10.0.0.5:3000");

        let trusting = TestApp::builder(backend)
            .http(HttpSettings { trust_forwarded_headers: true, public_base_url: None, ..Default::default() })
            .build()
            .await;
        let body = trusting.send(forwarded()).await.json();
        assert_eq!(body["implementation"]["url"], "https://api.example.org");

        let fixed = TestApp::builder(backend)
            .http(HttpSettings {
                trust_forwarded_headers: false,
                public_base_url: Some("https://bcda.example.gov".into()),
                ..Default::default()
            })
            .build()
            .await;
        let body = fixed.send(forwarded()).await.json();
        assert_eq!(
            body["rest"][0]["security"]["extension"][0]["extension"][0]["valueUri"],
            "https://bcda.example.gov/auth/token"
        );

        let bad_host = untrusting
            .send(Request::get("/api/v1/metadata").header("host", "evil.com/x").body(Body::empty()).expect("req"))
            .await;
        bad_host.assert_outcome(400, "structure", "Invalid Host header");
    }
}

backend_test! {
    async fn version_and_auth_provider(backend) {
        let app = TestApp::new(backend).await;
        let version = app.get("/_version").await;
        assert_eq!(version.status, StatusCode::OK);
        assert_eq!(version.json(), serde_json::json!({ "version": bcda::VERSION }));
        let auth = app.get("/_auth").await;
        assert_eq!(auth.status, StatusCode::OK);
        assert_eq!(auth.json(), serde_json::json!({ "auth_provider": "bcda", "version": bcda::VERSION }));
    }
}

/// Every CapabilityStatement is valid FHIR of its version (PyPI
/// `fhir.resources` 8.3.0: STU3 for v1, R4B for v2 and v3), the types v2
/// lists and v3's search parameters included.
#[tokio::test]
async fn capability_statements_validate_as_fhir() {
    let python = std::env::var("BCDA_TEST_PYTHON").unwrap_or_else(|_| {
        panic!("BCDA_TEST_PYTHON is not set: run scripts/test, which provides a Python with fhir.resources==8.3.0")
    });
    let app = TestApp::new(crate::harness::Backend::Sqlite).await;
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/fhir_validate.py");
    let out = tempfile::tempdir().expect("tempdir");
    for (version, flag) in [("v1", "stu3"), ("v2", "r4b"), ("v3", "r4b")] {
        let statement = app.get(&format!("/api/{version}/metadata")).await;
        assert_eq!(statement.status, StatusCode::OK);
        let path = out.path().join(format!("{version}.ndjson"));
        std::fs::write(&path, statement.json().to_string()).expect("write");
        let result = std::process::Command::new(&python)
            .arg(&script)
            .args(["--version", flag])
            .arg(&path)
            .output()
            .expect("run the FHIR validator");
        let stdout = String::from_utf8_lossy(&result.stdout);
        assert!(
            result.status.success() && stdout.contains("1 passed, 0 failed"),
            "{version}: {stdout}"
        );
    }
    let v2 = app.get("/api/v2/metadata").await.json();
    let types: Vec<&str> = v2["rest"][0]["resource"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|r| r["type"].as_str().expect("type"))
        .collect();
    assert_eq!(
        types,
        [
            "Patient",
            "Group",
            "Coverage",
            "ExplanationOfBenefit",
            "Claim",
            "ClaimResponse"
        ]
    );
}

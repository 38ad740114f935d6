//! API v3 (issue 13): every v2 route under `/api/v3`, its access list,
//! types and errors, the job's transaction time, the default System-Type
//! warning file and the 429 rule per version.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bcda::app::HttpSettings;
use bcda::export::duplicates::ExemptAcos;
use bcda::export::version_access::V3Access;
use bcda::jobs::JobSettings;
use bcda::jobs::worker::run_until_idle;

use crate::harness::{TestApp, TestResponse, backend_test};
use crate::kickoff::{job_id, kick_ok, sandbox_app_with_token, sandbox_with_token};

/// BCDA's v3 default-tag warning line, word for word.
const DEFAULT_TAG_WARNING: &str = r#"{"resourceType":"OperationOutcome","issue":[{"severity":"warning","code":"processing","details":{"text":"Default System-Type behavior includes only claims from NCH and DDPS in this export."}}]}"#;

/// Asserts a v3 OperationOutcome: v1's fields plus `details.text` only.
fn assert_v3_outcome(response: &TestResponse, status: u16, code: &str, message: &str) {
    response.assert_outcome(status, code, message);
    assert_eq!(
        response.json()["issue"][0]["details"],
        serde_json::json!({ "text": message }),
        "v3 details carry the text only"
    );
}

/// A kick-off POST with a Parameters body.
async fn post_kickoff(app: &TestApp, token: &str, path: &str, body: &str) -> TestResponse {
    let request = Request::post(path)
        .header("authorization", format!("Bearer {token}"))
        .header("accept", "application/fhir+json")
        .header("prefer", "respond-async")
        .header("content-type", "application/fhir+json")
        .body(Body::from(body.to_owned()))
        .expect("request");
    app.send(request).await
}

/// The decompressed text of a job's recorded file.
fn file_text(app: &TestApp, job: i64, name: &str) -> String {
    use std::io::Read;
    let mut text = String::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(app.state.files.path(job, name).expect("a directory store"))
            .expect("file"),
    )
    .read_to_string(&mut text)
    .expect("gunzip");
    text
}

/// The file names a manifest lists under `key` (`output` or `error`).
fn listed(manifest: &serde_json::Value, key: &str) -> Vec<String> {
    manifest[key]
        .as_array()
        .expect("array")
        .iter()
        .map(|e| {
            e["url"]
                .as_str()
                .expect("url")
                .rsplit('/')
                .next()
                .expect("name")
                .to_owned()
        })
        .collect()
}

backend_test! {
    async fn every_v2_route_is_served_under_v3(backend) {
        let (app, token) = sandbox_with_token(backend, "A9994").await;

        let metadata = app.get("/api/v3/metadata").await;
        assert_eq!(metadata.status, StatusCode::OK);
        let statement = metadata.json();
        assert_eq!(statement["fhirVersion"], "4.0.1");
        let resources = statement["rest"][0]["resource"].as_array().expect("resources");
        let names: Vec<&str> = resources.iter().map(|r| r["type"].as_str().expect("type")).collect();
        assert_eq!(names, ["Patient", "Group", "Coverage", "ExplanationOfBenefit"]);
        for exporter in &resources[..2] {
            assert_eq!(exporter["operation"][0]["name"], "export");
            assert!(exporter["operation"][0]["documentation"].as_str().expect("doc").contains("NationalClaimsHistory"));
            let params: Vec<(&str, &str)> = exporter["searchParam"].as_array().expect("params").iter()
                .map(|p| (p["name"].as_str().expect("name"), p["type"].as_str().expect("type")))
                .collect();
            assert_eq!(params, [("_since", "date"), ("_until", "date"), ("_type", "string"), ("patient", "reference"), ("_typeFilter", "string")]);
        }
        let eob_params: Vec<(&str, &str)> = resources[3]["searchParam"].as_array().expect("params").iter()
            .map(|p| (p["name"].as_str().expect("name"), p["type"].as_str().expect("type")))
            .collect();
        assert_eq!(eob_params, [("_tag", "token"), ("outcome", "token"), ("service-date", "date")]);

        assert_eq!(app.get("/api/v3/openapi.json").await.status, StatusCode::OK);
        assert_eq!(app.get("/api/v3/swagger/").await.status, StatusCode::OK);
        let status = app.get_with_token("/api/v3/attribution_status", &token).await;
        assert_eq!(status.status, StatusCode::OK, "{}", status.text());

        for path in ["/api/v3/Patient/$export?_type=Patient", "/api/v3/Group/all/$export?_type=Coverage", "/api/v3/Group/runout/$export?_type=Patient"] {
            let kicked = kick_ok(&app, &token, path).await;
            let id = job_id(&kicked);
            assert!(
                kicked.header("content-location").expect("location").ends_with(&format!("/api/v3/jobs/{id}")),
                "{path}"
            );
        }
        let posted = post_kickoff(
            &app,
            &token,
            "/api/v3/Group/all/$export",
            r#"{"resourceType":"Parameters","parameter":[{"name":"_type","valueString":"ExplanationOfBenefit"}]}"#,
        )
        .await;
        let posted_id = job_id(&posted);

        let list = app
            .send(
                Request::get("/api/v3/jobs")
                    .header("authorization", format!("Bearer {token}"))
                    .body(Body::empty())
                    .expect("request"),
            )
            .await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.text());
        assert_eq!(list.json()["total"], 4);
        assert!(list.text().contains("/api/v3/jobs"));

        run_until_idle(&app.state.env).await.expect("worker");
        let done = app.get_with_token(&format!("/api/v3/jobs/{posted_id}"), &token).await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.text());
        let manifest = done.json();
        let job = bcda::store::jobs::find(app.db(), posted_id).await.expect("db").expect("job");
        assert_eq!(job.api_version, bcda::domain::ApiVersion::V3);
        // v3's transaction time is when the job started (was planned).
        let started = job.transaction_time.expect("planned");
        assert!(started >= job.created_at);
        assert_eq!(
            manifest["transactionTime"],
            bcda::fhir::time_format::fhir_instant(started)
        );

        let cancel = app
            .send(
                Request::delete(format!("/api/v3/jobs/{posted_id}"))
                    .header("authorization", format!("Bearer {token}"))
                    .body(Body::empty())
                    .expect("request"),
            )
            .await;
        assert_eq!(cancel.status, StatusCode::ACCEPTED, "{}", cancel.text());
        assert_v3_outcome(
            &app.get_with_token(&format!("/api/v3/jobs/{posted_id}"), &token).await,
            404,
            "not-found",
            "Job has been cancelled.",
        );
    }
}

backend_test! {
    async fn v3_serves_the_adjudicated_types_only_with_v3_errors(backend) {
        let (app, token) = sandbox_with_token(backend, "TEST001").await;
        for t in ["Claim", "ClaimResponse"] {
            assert_v3_outcome(
                &kick_ok(&app, &token, &format!("/api/v3/Patient/$export?_type={t}")).await,
                400,
                "structure",
                &format!("invalid resource type {t}. Supported types [Patient Coverage ExplanationOfBenefit]"),
            );
        }
        assert_v3_outcome(&app.get("/api/v3/Patient/$export").await, 401, "forbidden", "Invalid Token");
        assert_v3_outcome(&kick_ok(&app, &token, "/api/v3/Group/new/$export").await, 400, "structure", "Invalid group ID");
        // An entitled ACO's default types on v3 are still the three: its
        // partially adjudicated claims come as ExplanationOfBenefits.
        let job = job_id(&kick_ok(&app, &token, "/api/v3/Patient/$export").await);
        let record = bcda::store::jobs::find(app.db(), job).await.expect("db").expect("job");
        assert_eq!(record.resource_types, bcda::domain::ResourceType::ADJUDICATED);
    }
}

backend_test! {
    async fn the_v3_list_refuses_other_acos_on_the_guarded_routes(backend) {
        let builder = TestApp::builder(backend).http(HttpSettings {
            v3_access: V3Access::parse("A9990").expect("list"),
            ..Default::default()
        });
        let (app, token) = sandbox_app_with_token(builder, "A9994").await;
        // Refused before any parameter is looked at, as BCDA's middleware.
        for path in ["/api/v3/Patient/$export", "/api/v3/Group/all/$export?_since=bad"] {
            assert_v3_outcome(&kick_ok(&app, &token, path).await, 403, "forbidden", "V3 access not enabled for this ACO");
        }
        assert_v3_outcome(
            &app.get_with_token("/api/v3/jobs", &token).await,
            403,
            "forbidden",
            "V3 access not enabled for this ACO",
        );
        assert_v3_outcome(
            &post_kickoff(&app, &token, "/api/v3/Patient/$export", r#"{"resourceType":"Parameters"}"#).await,
            403,
            "forbidden",
            "V3 access not enabled for this ACO",
        );
        // Not guarded (BCDA: commonAuth only), and v1/v2 are not restricted.
        assert_eq!(app.get_with_token("/api/v3/attribution_status", &token).await.status, StatusCode::OK);
        let v2 = job_id(&kick_ok(&app, &token, "/api/v2/Patient/$export?_type=Patient").await);
        assert_eq!(app.get_with_token(&format!("/api/v3/jobs/{v2}"), &token).await.status, StatusCode::ACCEPTED);

        // A listed ACO is let through.
        let listed = app.token(&app.create_credentials("A9990").await).await;
        job_id(&kick_ok(&app, &listed, "/api/v3/Patient/$export?_type=Patient").await);
    }
}

backend_test! {
    async fn default_system_types_add_the_warning_file(backend) {
        let (app, token) = sandbox_with_token(backend, "A9994").await;
        let with_eob = job_id(&kick_ok(&app, &token, "/api/v3/Patient/$export?_type=Patient,ExplanationOfBenefit").await);
        run_until_idle(&app.state.env).await.expect("worker");
        let manifest = app.get_with_token(&format!("/api/v3/jobs/{with_eob}"), &token).await.json();
        let errors = listed(&manifest, "error");
        assert_eq!(errors.first().map(String::as_str), Some("warnings-and-info.ndjson"), "{manifest}");
        assert_eq!(manifest["error"][0]["type"], "OperationOutcome");
        assert_eq!(file_text(&app, with_eob, "warnings-and-info.ndjson"), format!("{DEFAULT_TAG_WARNING}\n"));
        let download = app
            .get_with_token(&format!("/data/{with_eob}/warnings-and-info.ndjson"), &token)
            .await;
        assert_eq!(download.status, StatusCode::OK);
        assert_eq!(download.text(), format!("{DEFAULT_TAG_WARNING}\n"));
        assert!(!listed(&manifest, "output").contains(&"warnings-and-info.ndjson".to_owned()));

        // No EOB asked, or a System-Type tag given: no default, no warning.
        let fresh = app.token(&app.create_credentials("A9994").await).await;
        let patients = job_id(&kick_ok(&app, &fresh, "/api/v3/Patient/$export?_type=Patient").await);
        let tagged = job_id(
            &kick_ok(
                &app,
                &fresh,
                "/api/v3/Group/all/$export?_type=ExplanationOfBenefit&_typeFilter=ExplanationOfBenefit%3F_tag%3Dhttps%3A%2F%2Fbluebutton.cms.gov%2Ffhir%2FCodeSystem%2FSystem-Type%7CNationalClaimsHistory",
            )
            .await,
        );
        run_until_idle(&app.state.env).await.expect("worker");
        for job in [patients, tagged] {
            let manifest = app.get_with_token(&format!("/api/v3/jobs/{job}"), &fresh).await.json();
            assert!(!listed(&manifest, "error").contains(&"warnings-and-info.ndjson".to_owned()), "{manifest}");
        }
        // v2 never writes one.
        let v2 = job_id(&kick_ok(&app, &fresh, "/api/v2/Patient/$export?_type=ExplanationOfBenefit").await);
        run_until_idle(&app.state.env).await.expect("worker");
        let manifest = app.get_with_token(&format!("/api/v2/jobs/{v2}"), &fresh).await.json();
        assert!(!listed(&manifest, "error").contains(&"warnings-and-info.ndjson".to_owned()), "{manifest}");
    }
}

backend_test! {
    async fn the_one_job_rule_applies_per_version(backend) {
        let jobs = JobSettings { duplicate_exempt: ExemptAcos::NONE, ..Default::default() };
        let (app, token) = sandbox_app_with_token(TestApp::builder(backend).jobs(jobs), "A9994").await;
        job_id(&kick_ok(&app, &token, "/api/v3/Patient/$export?_type=Coverage").await);
        let again = kick_ok(&app, &token, "/api/v3/Group/all/$export?_type=Coverage,Patient").await;
        assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS, "{}", again.text());
        assert!(again.json()["issue"][0]["details"]["text"].as_str().is_some());
        // Another version's job does not collide.
        job_id(&kick_ok(&app, &token, "/api/v2/Patient/$export?_type=Coverage").await);
    }
}

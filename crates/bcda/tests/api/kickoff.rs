//! Kick-off over HTTP: every header and parameter rule of docs/REFERENCES.md
//! ("Kick-off"), the 429 rule, `_since` semantics and opt-outs.

use std::collections::BTreeSet;
use std::io::Read;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bcda::claims::ClaimsSource;
use bcda::export::duplicates::ExemptAcos;
use bcda::jobs::worker::run_until_idle;
use bcda::sandbox;

use crate::harness::{TestApp, TestResponse, backend_test};

/// A sandbox app and a token for `cms_id`.
pub async fn sandbox_with_token(
    backend: crate::harness::Backend,
    cms_id: &str,
) -> (TestApp, String) {
    sandbox_app_with_token(TestApp::builder(backend), cms_id).await
}

/// A sandbox app built by `builder`, and a token for `cms_id`.
pub async fn sandbox_app_with_token(
    builder: crate::harness::TestAppBuilder,
    cms_id: &str,
) -> (TestApp, String) {
    let app = builder.build().await;
    let data_dir = app.state.data_dir.root().to_owned();
    let creds = sandbox::prepare(app.db(), &app.clock, &data_dir)
        .await
        .expect("sandbox");
    let c = creds
        .iter()
        .find(|c| c.cms_id == cms_id)
        .expect("sandbox ACO");
    let token = app.post_token(&c.client_id, &c.client_secret).await.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    (app, token)
}

async fn kick(
    app: &TestApp,
    token: &str,
    path: &str,
    accept: Option<&str>,
    prefer: Option<&str>,
) -> TestResponse {
    let mut request = Request::get(path).header("authorization", format!("Bearer {token}"));
    if let Some(a) = accept {
        request = request.header("accept", a);
    }
    if let Some(p) = prefer {
        request = request.header("prefer", p);
    }
    app.send(request.body(Body::empty()).expect("request"))
        .await
}

pub async fn kick_ok(app: &TestApp, token: &str, path: &str) -> TestResponse {
    kick(
        app,
        token,
        path,
        Some("application/fhir+json"),
        Some("respond-async"),
    )
    .await
}

pub fn job_id(response: &TestResponse) -> i64 {
    assert_eq!(response.status, StatusCode::ACCEPTED, "{}", response.text());
    response
        .header("content-location")
        .and_then(|l| l.rsplit('/').next())
        .and_then(|id| id.parse().ok())
        .expect("Content-Location with a job id")
}

/// Every resource of `resource_type` in a finished job's output, per file.
pub async fn outputs(
    app: &TestApp,
    token: &str,
    version: &str,
    id: i64,
    resource_type: &str,
) -> Vec<Vec<serde_json::Value>> {
    let manifest = app
        .get_with_token(&format!("/api/{version}/jobs/{id}"), token)
        .await;
    assert_eq!(manifest.status, StatusCode::OK, "{}", manifest.text());
    manifest.json()["output"]
        .as_array()
        .expect("output")
        .iter()
        .filter(|e| e["type"] == resource_type)
        .map(|e| {
            let name = e["url"]
                .as_str()
                .expect("url")
                .rsplit('/')
                .next()
                .expect("name")
                .to_owned();
            let mut text = String::new();
            flate2::read::GzDecoder::new(
                std::fs::File::open(app.state.files.path(id, &name).expect("a directory store"))
                    .expect("file"),
            )
            .read_to_string(&mut text)
            .expect("gunzip");
            text.lines()
                .map(|l| serde_json::from_str(l).expect("json"))
                .collect()
        })
        .collect()
}

/// A POST kick-off with a FHIR Parameters body.
pub async fn kick_post(
    app: &TestApp,
    token: &str,
    path: &str,
    body: &serde_json::Value,
) -> TestResponse {
    let request = Request::post(path)
        .header("authorization", format!("Bearer {token}"))
        .header("accept", "application/fhir+json")
        .header("prefer", "respond-async")
        .header("content-type", "application/fhir+json")
        .body(Body::from(body.to_string()))
        .expect("request");
    app.send(request).await
}

/// A Parameters body of `(name, value field, value)` entries.
pub fn parameters(entries: &[(&str, &str, serde_json::Value)]) -> serde_json::Value {
    let parameter: Vec<serde_json::Value> = entries
        .iter()
        .map(|(name, field, value)| serde_json::json!({ "name": name, *field: value }))
        .collect();
    serde_json::json!({ "resourceType": "Parameters", "parameter": parameter })
}

/// Every resource of a finished job, by resource type (the manifest's
/// `output` files read back), each as its JSON.
pub async fn exported(
    app: &TestApp,
    token: &str,
    version: &str,
    id: i64,
) -> std::collections::BTreeMap<String, Vec<serde_json::Value>> {
    let manifest = app
        .get_with_token(&format!("/api/{version}/jobs/{id}"), token)
        .await;
    assert_eq!(manifest.status, StatusCode::OK, "{}", manifest.text());
    let types: BTreeSet<String> = manifest.json()["output"]
        .as_array()
        .expect("output")
        .iter()
        .map(|e| e["type"].as_str().expect("type").to_owned())
        .collect();
    let mut all = std::collections::BTreeMap::new();
    for resource_type in types {
        let resources = outputs(app, token, version, id, &resource_type)
            .await
            .into_iter()
            .flatten()
            .collect();
        all.insert(resource_type, resources);
    }
    all
}

/// The ids of [`exported`]'s resources, by type.
pub fn ids_by_type(
    exported: &std::collections::BTreeMap<String, Vec<serde_json::Value>>,
) -> std::collections::BTreeMap<String, BTreeSet<String>> {
    exported
        .iter()
        .map(|(t, resources)| {
            let ids = resources
                .iter()
                .map(|r| r["id"].as_str().expect("id").to_owned())
                .collect();
            (t.clone(), ids)
        })
        .collect()
}

/// The id of the Patient a resource belongs to: a Patient's own id, a
/// Coverage's `beneficiary`, an ExplanationOfBenefit's `patient`.
pub fn patient_of(resource: &serde_json::Value) -> String {
    let reference = match resource["resourceType"].as_str() {
        Some("Patient") => return resource["id"].as_str().expect("id").to_owned(),
        Some("Coverage") => &resource["beneficiary"]["reference"],
        _ => &resource["patient"]["reference"],
    };
    reference
        .as_str()
        .and_then(|r| r.strip_prefix("Patient/"))
        .unwrap_or_else(|| panic!("no patient reference in {resource}"))
        .to_owned()
}

backend_test! {
    async fn header_and_parameter_errors_have_bcda_messages(backend) {
        let (app, token) = sandbox_with_token(backend, "A9994").await;
        let base = "/api/v1/Patient/$export";
        let cases: Vec<(String, Option<&str>, Option<&str>, &str)> = vec![
            (base.into(), None, Some("respond-async"), "Accept header is required"),
            (base.into(), Some("application/json"), Some("respond-async"), "application/fhir+json is the only supported response format"),
            (base.into(), Some("application/fhir+json"), None, "Prefer header is required"),
            (base.into(), Some("application/fhir+json"), Some("respond-sync"), "Only asynchronous responses are supported"),
            (format!("{base}?_since=123invalid"), Some("application/fhir+json"), Some("respond-async"),
             "Invalid date format supplied in _since parameter.  Date must be in FHIR Instant format."),
            (format!("{base}?_since=2099-01-01T00:00:00Z"), Some("application/fhir+json"), Some("respond-async"),
             "Invalid date format supplied in _since parameter. Date must be a date that has already passed"),
            (format!("{base}?_elements=id"), Some("application/fhir+json"), Some("respond-async"),
             "Invalid parameter: this server does not support the _elements parameter."),
            (format!("{base}?_type=Patient,Patient"), Some("application/fhir+json"), Some("respond-async"), "Repeated resource type Patient"),
            (format!("{base}?_type=Observation"), Some("application/fhir+json"), Some("respond-async"),
             "invalid resource type Observation. Supported types [Patient Coverage ExplanationOfBenefit]"),
            (format!("{base}?_outputFormat=text/csv"), Some("application/fhir+json"), Some("respond-async"),
             "_outputFormat parameter must be one of [ndjson application/fhir+ndjson application/ndjson]"),
            ("/api/v1/Group/sub/$export".into(), Some("application/fhir+json"), Some("respond-async"), "Invalid group ID"),
        ];
        for (path, accept, prefer, message) in cases {
            kick(&app, &token, &path, accept, prefer).await.assert_outcome(400, "structure", message);
        }
        let v2 = kick_ok(&app, &token, "/api/v2/Group/sub/$export").await;
        v2.assert_outcome(400, "structure", "Invalid group ID");
        assert_eq!(v2.json()["issue"][0]["details"]["text"], "Invalid group ID");
        assert!(bcda::store::jobs::list(app.db(), None).await.expect("jobs").is_empty(), "no job for a refused kick-off");
        kick(&app, "not-a-token", base, Some("application/fhir+json"), Some("respond-async"))
            .await
            .assert_outcome(401, "forbidden", "Invalid Token");
    }
}

backend_test! {
    async fn accepted_kick_offs_point_at_their_job(backend) {
        let (app, token) = sandbox_with_token(backend, "A9994").await;
        for (path, version) in [
            ("/api/v1/Patient/$export", "v1"),
            ("/api/v2/Group/all/$export?_type=Patient", "v1x"),
            ("/api/v1/Group/runout/$export?_type=Coverage&_outputFormat=application%2Ffhir%2Bndjson", "v1y"),
        ] {
            let response = kick_ok(&app, &token, path).await;
            let id = job_id(&response);
            let location = response.header("content-location").expect("location");
            let expected_version = if path.starts_with("/api/v2") { "v2" } else { "v1" };
            assert_eq!(location, format!("http://bcda.test/api/{expected_version}/jobs/{id}"), "{version}");
            let job = bcda::store::jobs::find(app.db(), id).await.expect("db").expect("job");
            assert_eq!(job.request_url, format!("http://bcda.test{path}"));
            bcda::jobs::cancel::cancel(&app.state, id).await.expect("cancel");
        }
        // The Bulk Data IG's POST kick-off with a Parameters body.
        let body = serde_json::json!({"resourceType": "Parameters", "parameter": [
            {"name": "_type", "valueString": "Patient"},
            {"name": "_since", "valueInstant": "2021-01-01T00:00:00Z"}
        ]});
        let post = app
            .send(
                Request::post("/api/v2/Patient/$export")
                    .header("authorization", format!("Bearer {token}"))
                    .header("accept", "application/fhir+json")
                    .header("prefer", "respond-async")
                    .header("content-type", "application/fhir+json")
                    .body(Body::from(body.to_string()))
                    .expect("request"),
            )
            .await;
        let id = job_id(&post);
        let job = bcda::store::jobs::find(app.db(), id).await.expect("db").expect("job");
        assert_eq!(job.resource_types, vec![bcda::domain::ResourceType::Patient]);
        assert!(job.since.is_some());
    }
}

backend_test! {
    async fn outdated_attribution_is_404_and_deny_list_403(backend) {
        let (app, token) = sandbox_with_token(backend, "TEST995").await;
        let response = kick_ok(&app, &token, "/api/v1/Patient/$export").await;
        assert_eq!(response.status, StatusCode::NOT_FOUND);
        let diagnostics = response.json()["issue"][0]["diagnostics"].as_str().expect("diagnostics").to_owned();
        assert!(diagnostics.contains("No up-to-date attribution information"), "{diagnostics}");
        let (app, token) = sandbox_with_token(backend, "A9997").await;
        kick_ok(&app, &token, "/api/v1/Patient/$export")
            .await
            .assert_outcome(403, "forbidden", "ACO (CMS_ID: A9997) is unauthorized");
    }
}

backend_test! {
    async fn duplicates_are_429_only_when_types_overlap(backend) {
        // The sandbox started with `--duplicate-job-exempt ''`: the rule
        // applies to its ACOs too.
        let jobs = bcda::jobs::JobSettings { duplicate_exempt: ExemptAcos::NONE, ..Default::default() };
        let (app, token) = sandbox_app_with_token(TestApp::builder(backend).jobs(jobs), "A9994").await;
        job_id(&kick_ok(&app, &token, "/api/v1/Patient/$export?_type=Patient,Coverage").await);
        let dup = kick_ok(&app, &token, "/api/v1/Group/all/$export?_type=Coverage").await;
        assert_eq!(dup.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(dup.header("retry-after").and_then(|r| r.parse::<u64>().ok()).is_some_and(|s| s >= 1));
        let all_types = kick_ok(&app, &token, "/api/v1/Patient/$export").await;
        assert_eq!(all_types.status, StatusCode::TOO_MANY_REQUESTS, "no _type means all types");
        job_id(&kick_ok(&app, &token, "/api/v1/Patient/$export?_type=ExplanationOfBenefit").await);
        job_id(&kick_ok(&app, &token, "/api/v2/Patient/$export?_type=Coverage").await);
        run_until_idle(&app.state.env).await.expect("worker");
        job_id(&kick_ok(&app, &token, "/api/v1/Patient/$export?_type=Coverage").await);
    }
}

backend_test! {
    async fn since_filters_by_last_updated_and_group_all_adds_new_beneficiaries(backend) {
        let (app, token) = sandbox_with_token(backend, "A9994").await;
        let since = "2025-09-01T00:00:00.000Z";
        let since_at = time::macros::datetime!(2025-09-01 0:00 UTC);
        // Patient/$export: only what changed after _since.
        let id = job_id(&kick_ok(&app, &token, &format!("/api/v1/Patient/$export?_type=ExplanationOfBenefit&_since={since}")).await);
        run_until_idle(&app.state.env).await.expect("worker");
        let job = bcda::store::jobs::find(app.db(), id).await.expect("db").expect("job");
        let until = job.transaction_time.expect("planned");
        let aco = bcda::store::acos::find_by_cms_id(app.db(), "A9994").await.expect("db").expect("aco");
        let source = ClaimsSource::for_aco(app.db(), aco.id, "A9994").await.expect("source");
        let files = source.attribution_files().await.expect("files");
        let current = bcda::http::routes::attribution_status::latest(&files, bcda::domain::AttributionKind::Default).expect("current").clone();
        let opted = source.opted_out(until).await.expect("opt-outs");
        assert!(!opted.is_empty(), "the sandbox has a recent opt-out");
        let members: Vec<String> = source.attribution_members(&current).await.expect("members").into_iter().filter(|m| !opted.contains(m)).collect();
        let expected = |since: Option<time::OffsetDateTime>, mbis: Vec<String>, resource_type| {
            let db = app.db().clone();
            async move {
                let query = bcda::claims::ResourceQuery { version: bcda::domain::ApiVersion::V1, resource_type, since, until, as_of: until, claims_through: None, eob_filter: None };
                crate::harness::source_ids(&db, "A9994", &mbis, query).await
            }
        };
        let got: BTreeSet<String> = outputs(&app, &token, "v1", id, "ExplanationOfBenefit").await.into_iter().flatten()
            .map(|r| r["id"].as_str().expect("id").to_owned()).collect();
        let want = expected(Some(since_at), members.clone(), bcda::domain::ResourceType::ExplanationOfBenefit).await;
        assert!(!want.is_empty());
        assert_eq!(got, want, "_since keeps exactly the resources updated after it");
        let everything = expected(None, members.clone(), bcda::domain::ResourceType::ExplanationOfBenefit).await;
        assert!(everything.len() > want.len());

        // Group/all with the same _since: newly attributed beneficiaries get
        // everything, in files of their own.
        let id = job_id(&kick_ok(&app, &token, &format!("/api/v1/Group/all/$export?_type=Patient&_since={since}")).await);
        run_until_idle(&app.state.env).await.expect("worker");
        let previous = files.iter().filter(|f| f.kind == current.kind && f.attributed_at <= since_at).max_by_key(|f| f.attributed_at).expect("older file").clone();
        let before: BTreeSet<String> = source.attribution_members(&previous).await.expect("members").into_iter().collect();
        let (existing, new): (Vec<String>, Vec<String>) = members.iter().cloned().partition(|m| before.contains(m));
        assert!(!new.is_empty() && !existing.is_empty());
        let files_out = outputs(&app, &token, "v1", id, "Patient").await;
        assert!(files_out.len() >= 2, "new and existing beneficiaries in separate files");
        let ids_of = |file: &Vec<serde_json::Value>| file.iter().map(|r| r["id"].as_str().expect("id").to_owned()).collect::<BTreeSet<_>>();
        let new_ids = expected(None, new, bcda::domain::ResourceType::Patient).await;
        let existing_ids = expected(Some(since_at), existing, bcda::domain::ResourceType::Patient).await;
        assert!(files_out.iter().any(|f| ids_of(f) == new_ids), "one file holds exactly the new beneficiaries' full history");
        let all: BTreeSet<String> = files_out.iter().flat_map(ids_of).collect();
        assert_eq!(all, new_ids.union(&existing_ids).cloned().collect::<BTreeSet<_>>());
        // Nobody who opted out is in any file.
        for file in &files_out {
            for patient in file {
                let text = patient.to_string();
                assert!(!opted.iter().any(|mbi| text.contains(mbi.as_str())), "opted-out beneficiary exported");
            }
        }
    }
}

backend_test! {
    async fn jobs_list_is_a_bundle_of_tasks(backend) {
        let (app, token) = sandbox_with_token(backend, "A9994").await;
        let empty = app.get_with_token("/api/v1/jobs", &token).await;
        assert_eq!(empty.status, StatusCode::OK);
        assert_eq!(empty.json()["total"], 0);
        let id = job_id(&kick_ok(&app, &token, "/api/v1/Patient/$export?_type=Patient").await);
        let listed = app.get_with_token("/api/v1/jobs", &token).await.json();
        assert_eq!(listed["total"], 1);
        assert_eq!(listed["entry"][0]["resource"]["status"], "accepted");
        assert_eq!(listed["entry"][0]["resource"]["identifier"][0]["value"], id.to_string());
        let filtered = app.get_with_token("/api/v1/jobs?_status=Completed", &token).await.json();
        assert_eq!(filtered["total"], 0);
        app.get_with_token("/api/v1/jobs?_status=Done", &token)
            .await
            .assert_outcome(400, "structure", "invalid status type Done. Supported types [Pending In Progress Completed Failed Cancelled Archived Expired FailedExpired CancelledExpired]");
    }
}

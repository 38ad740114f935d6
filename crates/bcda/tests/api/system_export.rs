//! The system-level `$export` (issue 14): the ACO's whole current
//! attribution, as Group/all exports it but with `_since` applied to every
//! beneficiary alike (as Patient/$export), under every kick-off rule.

use axum::http::StatusCode;
use bcda::app::HttpSettings;
use bcda::domain::RequestKind;
use bcda::export::duplicates::ExemptAcos;
use bcda::export::version_access::V3Access;
use bcda::jobs::JobSettings;
use bcda::jobs::worker::run_until_idle;
use serde_json::json;

use crate::harness::{TestApp, backend_test};
use crate::kickoff::{
    exported, ids_by_type, job_id, kick_ok, kick_post, parameters, sandbox_app_with_token,
    sandbox_with_token,
};

backend_test! {
    async fn system_export_holds_exactly_group_alls_resources_on_every_version(backend) {
        let (app, token) = sandbox_with_token(backend, "A9994").await;
        let mut full_v3_eobs = 0;
        for version in ["v1", "v2", "v3"] {
            let system_url = format!("/api/{version}/$export");
            let system = job_id(&kick_ok(&app, &token, &system_url).await);
            let posted = job_id(&kick_post(&app, &token, &system_url, &parameters(&[])).await);
            let group = job_id(&kick_ok(&app, &token, &format!("/api/{version}/Group/all/$export")).await);
            run_until_idle(&app.state.env).await.expect("worker");
            let want = ids_by_type(&exported(&app, &token, version, group).await);
            assert!(want.len() >= 3, "{version}: every default type: {:?}", want.keys());
            if version == "v3" {
                full_v3_eobs = want["ExplanationOfBenefit"].len();
            }
            assert!(want.values().all(|ids| !ids.is_empty()));
            for id in [system, posted] {
                assert_eq!(ids_by_type(&exported(&app, &token, version, id).await), want, "{version}");
                let job = bcda::store::jobs::find(app.db(), id).await.expect("db").expect("job");
                assert_eq!(job.request_kind, RequestKind::System);
                let manifest = app.get_with_token(&format!("/api/{version}/jobs/{id}"), &token).await.json();
                assert_eq!(manifest["request"], format!("http://bcda.test{system_url}"));
            }
        }
        // v3's `_typeFilter` applies as on Group/all, refusals included.
        let filter = "_type=ExplanationOfBenefit&_typeFilter=ExplanationOfBenefit%3Fservice-date%3Dge2025-06-01";
        let system = job_id(&kick_ok(&app, &token, &format!("/api/v3/$export?{filter}")).await);
        let group = job_id(&kick_ok(&app, &token, &format!("/api/v3/Group/all/$export?{filter}")).await);
        run_until_idle(&app.state.env).await.expect("worker");
        let filtered = ids_by_type(&exported(&app, &token, "v3", system).await);
        assert_eq!(filtered, ids_by_type(&exported(&app, &token, "v3", group).await));
        assert!(filtered["ExplanationOfBenefit"].len() < full_v3_eobs, "the filter left claims out");
        kick_ok(&app, &token, "/api/v3/$export?_typeFilter=Patient%3Factive%3Dtrue").await.assert_outcome(
            400,
            "structure",
            "invalid _typeFilter Resource Type (Only EOBs valid): Patient",
        );
        // The jobs list shows them as it shows every job.
        let listed = app.get_with_token("/api/v2/jobs?_status=Completed", &token).await.json();
        let inputs: Vec<&str> = listed["entry"].as_array().expect("entries").iter()
            .filter_map(|e| e["resource"]["input"][0]["valueString"].as_str())
            .collect();
        assert!(inputs.contains(&"GET http://bcda.test/api/v2/$export"), "{inputs:?}");
    }
}

backend_test! {
    async fn since_applies_to_everyone_as_on_patient_export(backend) {
        let (app, token) = sandbox_with_token(backend, "A9994").await;
        let since = "_since=2025-09-01T00:00:00.000Z";
        let system = job_id(&kick_ok(&app, &token, &format!("/api/v1/$export?{since}")).await);
        let patient = job_id(&kick_ok(&app, &token, &format!("/api/v1/Patient/$export?{since}")).await);
        let group = job_id(&kick_ok(&app, &token, &format!("/api/v1/Group/all/$export?{since}")).await);
        run_until_idle(&app.state.env).await.expect("worker");
        let system_ids = ids_by_type(&exported(&app, &token, "v1", system).await);
        assert_eq!(system_ids, ids_by_type(&exported(&app, &token, "v1", patient).await));
        // Group/all gives newly attributed beneficiaries their whole history.
        let group_ids = ids_by_type(&exported(&app, &token, "v1", group).await);
        let count = |ids: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>| {
            ids.values().map(std::collections::BTreeSet::len).sum::<usize>()
        };
        assert!(count(&group_ids) > count(&system_ids), "no new-beneficiary rule at system level");
    }
}

backend_test! {
    async fn every_kickoff_rule_applies_and_the_routes_do_not_collide(backend) {
        let jobs = JobSettings { duplicate_exempt: ExemptAcos::NONE, ..Default::default() };
        let builder = TestApp::builder(backend).jobs(jobs).http(HttpSettings {
            v3_access: V3Access::parse("A9990").expect("list"),
            ..Default::default()
        });
        let (app, token) = sandbox_app_with_token(builder, "A9994").await;
        let refusals = [
            ("/api/v1/$export?_since=bad", "Invalid date format supplied in _since parameter.  Date must be in FHIR Instant format."),
            ("/api/v2/$export?_type=Observation", "invalid resource type Observation. Supported types [Patient Coverage ExplanationOfBenefit Claim ClaimResponse]"),
            ("/api/v2/$export?_type=Claim", "unauthorized resource type Claim"),
            ("/api/v1/$export?_elements=id", "Invalid parameter: this server does not support the _elements parameter."),
            ("/api/v2/$export?_until=bad", "Invalid date format supplied in _until parameter.  Date must be in FHIR Instant format."),
        ];
        for (path, message) in refusals {
            kick_ok(&app, &token, path).await.assert_outcome(400, "structure", message);
        }
        let no_prefer = app
            .send(
                axum::http::Request::get("/api/v1/$export")
                    .header("authorization", format!("Bearer {token}"))
                    .header("accept", "application/fhir+json")
                    .body(axum::body::Body::empty())
                    .expect("request"),
            )
            .await;
        no_prefer.assert_outcome(400, "structure", "Prefer header is required");
        // `patient` is not defined for the system level; a GET ignores it.
        let body = parameters(&[("patient", "valueReference", json!({ "reference": "Patient/-1" }))]);
        kick_post(&app, &token, "/api/v2/$export", &body).await.assert_outcome(
            400,
            "structure",
            "Invalid parameter: patient is not applicable to a system-level export; use Patient/$export or Group/all/$export",
        );
        // Version access: v3 only for the ACOs listed.
        kick_ok(&app, &token, "/api/v3/$export").await.assert_outcome(403, "forbidden", "V3 access not enabled for this ACO");
        assert!(bcda::store::jobs::list(app.db(), None).await.expect("jobs").is_empty(), "no job for a refused kick-off");

        let first = job_id(&kick_ok(&app, &token, "/api/v1/$export?_type=Patient&patient=Patient%2F-1").await);
        let job = bcda::store::jobs::find(app.db(), first).await.expect("db").expect("job");
        assert!(job.patient_mbis.is_empty(), "a GET's patient is ignored");
        // The one-job rule counts it as any other kick-off, both ways.
        let dup = kick_ok(&app, &token, "/api/v1/Patient/$export?_type=Patient").await;
        assert_eq!(dup.status, StatusCode::TOO_MANY_REQUESTS);
        job_id(&kick_ok(&app, &token, "/api/v1/Group/all/$export?_type=Coverage").await);
        assert_eq!(kick_ok(&app, &token, "/api/v1/$export?_type=Coverage").await.status, StatusCode::TOO_MANY_REQUESTS);
        job_id(&kick_ok(&app, &token, "/api/v2/$export?_type=Coverage").await);

        // The neighbouring routes still answer as before.
        assert_eq!(app.get("/api/v1/metadata").await.status, StatusCode::OK);
        assert_eq!(app.get_with_token("/api/v1/jobs", &token).await.json()["total"], 3);
        assert!(app.get("/api/v1/swagger/").await.status.is_success());
        assert_eq!(app.get("/api/v1/openapi.json").await.status, StatusCode::OK);
        assert_eq!(
            app.get_with_token(&format!("/api/v1/jobs/{first}"), &token).await.status,
            StatusCode::ACCEPTED
        );
    }
}

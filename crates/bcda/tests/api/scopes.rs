//! SMART scopes (issue 14): what a token limited to some resource types may
//! start and follow. Basic-auth tokens keep full access.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bcda::domain::ResourceType;
use bcda::jobs::worker::run_until_idle;
use serde_json::json;

use crate::harness::backend_test;
use crate::kickoff::{exported, job_id, kick_ok, kick_post, parameters, sandbox_with_token};

const NARROW: &str = "system/Patient.read system/Coverage.rs";

backend_test! {
    async fn a_type_outside_the_scopes_is_403_after_bcdas_own_type_checks(backend) {
        let (app, _) = sandbox_with_token(backend, "A9994").await;
        let token = app.scoped_token("A9994", NARROW).await;
        let cases = [
            ("/api/v1/Patient/$export?_type=ExplanationOfBenefit", "The access token's scopes do not allow ExplanationOfBenefit"),
            ("/api/v2/Group/all/$export?_type=Patient,ExplanationOfBenefit", "The access token's scopes do not allow ExplanationOfBenefit"),
            ("/api/v3/$export?_type=ExplanationOfBenefit", "The access token's scopes do not allow ExplanationOfBenefit"),
        ];
        for (path, message) in cases {
            kick_ok(&app, &token, path).await.assert_outcome(403, "forbidden", message);
        }
        let body = parameters(&[("_type", "valueString", json!("Coverage,ExplanationOfBenefit"))]);
        kick_post(&app, &token, "/api/v2/Patient/$export", &body)
            .await
            .assert_outcome(403, "forbidden", "The access token's scopes do not allow ExplanationOfBenefit");
        // A name BCDA does not know, or a type the ACO is not entitled to,
        // is BCDA's 400 first: never mistaken for a scope problem.
        kick_ok(&app, &token, "/api/v1/Patient/$export?_type=Explanationofbenefit")
            .await
            .assert_outcome(400, "structure", "invalid resource type Explanationofbenefit. Supported types [Patient Coverage ExplanationOfBenefit]");
        kick_ok(&app, &token, "/api/v2/Patient/$export?_type=Claim")
            .await
            .assert_outcome(400, "structure", "unauthorized resource type Claim");
        // A token whose scopes allow none of the defaults.
        let claims_only = app.scoped_token("A9994", "system/Claim.read").await;
        kick_ok(&app, &claims_only, "/api/v1/Patient/$export")
            .await
            .assert_outcome(403, "forbidden", "The access token's scopes do not allow Patient, Coverage, ExplanationOfBenefit");
        assert!(bcda::store::jobs::list(app.db(), None).await.expect("jobs").is_empty(), "no job for a refused kick-off");
    }
}

backend_test! {
    async fn without_type_a_scoped_token_exports_only_its_types(backend) {
        let (app, _) = sandbox_with_token(backend, "A9994").await;
        let token = app.scoped_token("A9994", NARROW).await;
        let id = job_id(&kick_ok(&app, &token, "/api/v2/Patient/$export").await);
        let job = bcda::store::jobs::find(app.db(), id).await.expect("db").expect("job");
        assert_eq!(job.resource_types, [ResourceType::Patient, ResourceType::Coverage]);
        run_until_idle(&app.state.env).await.expect("worker");
        let all = exported(&app, &token, "v2", id).await;
        assert_eq!(all.keys().cloned().collect::<Vec<_>>(), ["Coverage", "Patient"]);
        assert!(all.values().all(|resources| !resources.is_empty()));
        // A wildcard scope is every type, as a Basic-auth token.
        let wildcard = app.scoped_token("A9994", "system/*.read").await;
        let id = job_id(&kick_ok(&app, &wildcard, "/api/v1/Patient/$export").await);
        let job = bcda::store::jobs::find(app.db(), id).await.expect("db").expect("job");
        assert_eq!(job.resource_types, ResourceType::ADJUDICATED);
    }
}

backend_test! {
    async fn following_a_job_needs_scopes_covering_all_its_types(backend) {
        let (app, basic) = sandbox_with_token(backend, "A9994").await;
        let narrow = app.scoped_token("A9994", "system/Patient.read").await;
        let covering = app.scoped_token("A9994", "system/Patient.rs system/Coverage.read").await;
        let id = job_id(&kick_ok(&app, &basic, "/api/v1/Patient/$export?_type=Patient,Coverage").await);
        let status = format!("/api/v1/jobs/{id}");
        let refused = "The access token's scopes do not allow Coverage";
        app.get_with_token(&status, &narrow).await.assert_outcome(403, "forbidden", refused);
        assert_eq!(app.get_with_token(&status, &covering).await.status, StatusCode::ACCEPTED);
        run_until_idle(&app.state.env).await.expect("worker");
        // Status and manifest, and every file.
        app.get_with_token(&status, &narrow).await.assert_outcome(403, "forbidden", refused);
        let manifest = app.get_with_token(&status, &basic).await;
        assert_eq!(manifest.status, StatusCode::OK, "Basic-auth tokens are unchanged");
        assert_eq!(app.get_with_token(&status, &covering).await.status, StatusCode::OK);
        let url = manifest.json()["output"][0]["url"].as_str().expect("url").to_owned();
        let path = url.strip_prefix("http://bcda.test").expect("local url");
        app.get_with_token(path, &narrow).await.assert_outcome(403, "forbidden", refused);
        assert_eq!(app.get_with_token(path, &covering).await.status, StatusCode::OK);
        assert_eq!(app.get_with_token(path, &basic).await.status, StatusCode::OK);
        // Cancel too; a token that covers the job may.
        let cancel = |token: &str| {
            Request::delete(status.as_str())
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .expect("request")
        };
        app.send(cancel(&narrow)).await.assert_outcome(403, "forbidden", refused);
        assert_eq!(app.send(cancel(&covering)).await.status, StatusCode::ACCEPTED);
        // The narrow token follows the jobs it could start.
        let own = job_id(&kick_ok(&app, &narrow, "/api/v1/Patient/$export").await);
        assert_eq!(app.get_with_token(&format!("/api/v1/jobs/{own}"), &narrow).await.status, StatusCode::ACCEPTED);
    }
}

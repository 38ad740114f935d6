//! The one-job rule under concurrency (docs/REFERENCES.md,
//! "Duplicate rule and test ACOs"): simultaneous overlapping kick-offs of an
//! ACO the rule applies to yield exactly one job; BCDA's test ACOs are
//! exempt.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bcda::export::duplicates::ExemptAcos;
use bcda::jobs::JobSettings;

use crate::harness::{Backend, TestApp, backend_test};
use crate::kickoff::{job_id, kick_ok, sandbox_app_with_token};

/// How many kick-offs race.
const RACERS: usize = 20;

/// Sends `RACERS` identical kick-offs at once and returns their statuses.
async fn race(app: Arc<TestApp>, token: &str, path: &'static str) -> Vec<StatusCode> {
    let mut handles = Vec::new();
    for _ in 0..RACERS {
        let app = app.clone();
        let token = token.to_owned();
        handles.push(tokio::spawn(async move {
            let request = Request::get(path)
                .header("authorization", format!("Bearer {token}"))
                .header("accept", "application/fhir+json")
                .header("prefer", "respond-async")
                .body(Body::empty())
                .expect("request");
            let response = app.send(request).await;
            if response.status == StatusCode::TOO_MANY_REQUESTS {
                assert!(
                    response.header("retry-after").is_some(),
                    "429 without Retry-After"
                );
                let body = response.json();
                assert_eq!(body["resourceType"], "OperationOutcome");
            }
            response.status
        }));
    }
    let mut statuses = Vec::new();
    for handle in handles {
        statuses.push(handle.await.expect("kick-off task"));
    }
    statuses
}

fn count(statuses: &[StatusCode], status: StatusCode) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

/// An app whose duplicate rule applies to every ACO, or BCDA's default.
async fn app(backend: Backend, exempt: ExemptAcos, cms_id: &str) -> (Arc<TestApp>, String) {
    let jobs = JobSettings {
        duplicate_exempt: exempt,
        ..Default::default()
    };
    let (app, token) = sandbox_app_with_token(TestApp::builder(backend).jobs(jobs), cms_id).await;
    (Arc::new(app), token)
}

backend_test! {
    async fn simultaneous_overlapping_kickoffs_make_exactly_one_job(backend) {
        let (app, token) = app(backend, ExemptAcos::NONE, "A9994").await;
        let statuses = race(app.clone(), &token, "/api/v2/Group/all/$export?_type=Patient").await;
        assert_eq!(count(&statuses, StatusCode::ACCEPTED), 1, "{statuses:?}");
        assert_eq!(count(&statuses, StatusCode::TOO_MANY_REQUESTS), RACERS - 1, "{statuses:?}");
        let jobs = bcda::store::jobs::list(app.db(), None).await.expect("jobs");
        assert_eq!(jobs.len(), 1, "one job in the database");
    }
}

backend_test! {
    async fn exempt_acos_are_never_refused_as_duplicates(backend) {
        // BCDA's test ACOs are exempt by default, as in BCDA's sandbox.
        let (app, token) = app(backend, ExemptAcos::default(), "A9994").await;
        let statuses = race(app.clone(), &token, "/api/v2/Group/all/$export?_type=Patient").await;
        assert_eq!(count(&statuses, StatusCode::ACCEPTED), RACERS, "{statuses:?}");
        // What client suites written against BCDA's sandbox do: overlapping
        // pairs of types at once.
        for path in [
            "/api/v1/Patient/$export?_type=Patient,Coverage",
            "/api/v1/Patient/$export?_type=Patient,ExplanationOfBenefit",
            "/api/v1/Patient/$export?_type=Coverage,ExplanationOfBenefit",
            "/api/v1/Group/all/$export",
        ] {
            job_id(&kick_ok(&app, &token, path).await);
        }
        let jobs = bcda::store::jobs::list(app.db(), None).await.expect("jobs");
        assert_eq!(jobs.len(), RACERS + 4);
    }
}

backend_test! {
    async fn the_exemption_is_a_pattern_of_cms_ids(backend) {
        // An operator's own pattern replaces BCDA's: A9994 is then subject
        // to the rule, and the rule is per ACO.
        let (app, token) = app(backend, ExemptAcos::parse("A9990").expect("pattern"), "A9994").await;
        job_id(&kick_ok(&app, &token, "/api/v1/Patient/$export?_type=Patient").await);
        let again = kick_ok(&app, &token, "/api/v1/Patient/$export?_type=Patient").await;
        assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS, "{}", again.text());
    }
}

//! Prometheus metrics (`GET /metrics` on its own router): after real token
//! requests, a kick-off, an export drained by a worker, status polls and
//! downloads, the counters, histograms and gauges moved by exactly what
//! happened, under route templates and fixed reasons, and no label carries
//! a CMS ID, client id, secret, token, MBI, job id or file name.
//!
//! Each app has its own recorder (`telemetry::metrics`), so the figures are
//! exact even with other tests running in the same process.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use bcda::auth::backend_services::BackendServicesSettings;
use bcda::auth::client_key_pair::ClientKeyPair;
use bcda::auth::credentials::{self, DEFAULT_SECRET_LIFETIME};
use bcda::jobs::worker::run_until_idle;
use bcda::store::credentials::ClientKeys;
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::harness::{TestApp, backend_test, exportable_members};
use crate::kickoff::{job_id, kick_ok};
use crate::smart_auth::{Signer, claims, request_token, settings};

/// Scrapes the app's metrics router, as Prometheus would.
async fn scrape(app: &TestApp) -> Scrape {
    let router = bcda::http::metrics::router(app.state.env.clone());
    let request = Request::builder()
        .uri("/metrics")
        .body(Body::empty())
        .expect("request");
    let response = router.oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Scrape::parse(String::from_utf8(body.to_vec()).expect("utf-8"))
}

/// A scrape's samples: (name, labels) -> value.
struct Scrape {
    text: String,
    samples: BTreeMap<(String, BTreeMap<String, String>), f64>,
}

impl Scrape {
    fn parse(text: String) -> Scrape {
        let mut samples = BTreeMap::new();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (series, value) = line.rsplit_once(' ').expect("a sample line");
            let value: f64 = value.parse().expect("a number");
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, parse_labels(rest.strip_suffix('}').expect("}"))),
                None => (series, BTreeMap::new()),
            };
            samples.insert((name.to_owned(), labels), value);
        }
        Scrape { text, samples }
    }

    /// The value of `name` with exactly these labels (0 when absent).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.samples
            .get(&(name.to_owned(), labels))
            .copied()
            .unwrap_or(0.0)
    }

    /// Every label value in the scrape but histogram bucket bounds.
    fn label_values(&self) -> Vec<&str> {
        self.samples
            .keys()
            .flat_map(|(_, labels)| {
                labels
                    .iter()
                    .filter(|(name, _)| *name != "le")
                    .map(|(_, value)| value.as_str())
            })
            .collect()
    }
}

/// `a="x",b="y"` (our values hold no quotes or backslashes).
fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (name, after) = rest.split_once("=\"").expect("name=\"");
        let (value, after) = after.split_once('"').expect("closing quote");
        labels.insert(name.to_owned(), value.to_owned());
        rest = after.strip_prefix(',').unwrap_or(after);
    }
    labels
}

backend_test! {
    async fn requests_tokens_and_an_export_move_the_metrics(backend) {
        let app = TestApp::builder(backend)
            .tokens(settings(BackendServicesSettings::default()))
            .build()
            .await;
        let data_dir = app.state.data_dir.root().to_owned();
        let sandbox = bcda::sandbox::prepare(app.db(), &app.clock, &data_dir)
            .await
            .expect("sandbox");
        let a9994 = sandbox.iter().find(|c| c.cms_id == "A9994").expect("A9994");
        let pair = ClientKeyPair::generate().expect("key pair");
        let jwks = serde_json::json!({ "keys": [pair.public_jwk()] }).to_string();
        let key_client = credentials::create_key_client(
            app.db(),
            &app.clock,
            "A9994",
            ClientKeys::Inline(jwks),
            DEFAULT_SECRET_LIFETIME,
        )
        .await
        .expect("register")
        .client_id;
        let signer = Signer::es384(&pair);

        let before = scrape(&app).await;
        assert_eq!(before.value("bcda_tokens_issued_total", &[("flow", "basic")]), 0.0);
        assert_eq!(
            before.value("bcda_tokens_refused_total", &[("flow", "smart"), ("reason", "invalid_scope")]),
            0.0
        );
        assert!(before.text.contains("# TYPE bcda_tokens_refused_total counter"));
        assert_eq!(before.value("bcda_database_up", &[]), 1.0);

        // Tokens: issued and refused, by flow and reason.
        let basic = app.post_token(&a9994.client_id, &a9994.client_secret).await;
        assert_eq!(basic.status, StatusCode::OK);
        let token = basic.json()["access_token"].as_str().expect("token").to_owned();
        assert_eq!(app.post_token(&a9994.client_id, "wrong-secret").await.status, StatusCode::UNAUTHORIZED);
        let bare = Request::builder()
            .method(Method::POST)
            .uri("/auth/token")
            .body(Body::empty())
            .expect("request");
        assert_eq!(app.send(bare).await.status, StatusCode::BAD_REQUEST);
        let smart = request_token(&app, &signer.sign(&claims(&app, &key_client)), "system/*.read").await;
        assert_eq!(smart.status, StatusCode::OK, "{}", smart.text());
        let smart_token = smart.json()["access_token"].as_str().expect("token").to_owned();
        let forged = request_token(&app, "not.a.jwt", "system/*.read").await;
        assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
        let unscoped = request_token(&app, &signer.sign(&claims(&app, &key_client)), "patient/*.read").await;
        assert_eq!(unscoped.status, StatusCode::BAD_REQUEST);

        // A kick-off: the job and its planning task are in the gauges.
        let id = job_id(&kick_ok(&app, &token, "/api/v2/Patient/$export?_type=Patient,Coverage").await);
        app.clock.advance(time::Duration::seconds(30));
        let queued = scrape(&app).await;
        assert_eq!(queued.value("bcda_jobs", &[("status", "Pending")]), 1.0);
        assert_eq!(queued.value("bcda_jobs", &[("status", "Completed")]), 0.0);
        assert_eq!(queued.value("bcda_task_queue_depth", &[("kind", "plan")]), 1.0);
        assert_eq!(queued.value("bcda_task_queue_depth", &[("kind", "export")]), 0.0);
        assert_eq!(queued.value("bcda_task_queue_oldest_age_seconds", &[]), 30.0);

        // The export, drained by a worker.
        let ran = run_until_idle(&app.state.env).await.expect("worker");
        let job = bcda::store::jobs::find(app.db(), id).await.expect("db").expect("job");
        assert_eq!(ran as i64, job.tasks_total + 1, "the plan and every export task");
        let status = app.get_with_token(&format!("/api/v2/jobs/{id}"), &token).await;
        assert_eq!(status.status, StatusCode::OK, "{}", status.text());
        let files = bcda::store::job_files::list(app.db(), id).await.expect("files");
        assert!(files.len() >= 2);
        for file in &files {
            let download = app
                .get_with_token(&format!("/data/{id}/{}", file.name), &token)
                .await;
            assert_eq!(download.status, StatusCode::OK);
        }
        assert_eq!(app.get("/nothing/here").await.status, StatusCode::NOT_FOUND);
        // The API's port does not serve metrics: its usual 404.
        app.get("/metrics")
            .await
            .assert_outcome(404, "not-found", "The requested resource was not found.");

        let after = scrape(&app).await;
        let v = |name: &str, labels: &[(&str, &str)]| after.value(name, labels);
        assert_eq!(v("bcda_tokens_issued_total", &[("flow", "basic")]), 1.0);
        assert_eq!(v("bcda_tokens_issued_total", &[("flow", "smart")]), 1.0);
        for (flow, reason) in [
            ("basic", "invalid_credentials"),
            ("basic", "invalid_request"),
            ("smart", "invalid_client"),
            ("smart", "invalid_scope"),
        ] {
            assert_eq!(
                v("bcda_tokens_refused_total", &[("flow", flow), ("reason", reason)]),
                1.0,
                "{flow} {reason}"
            );
        }
        assert_eq!(v("bcda_tokens_refused_total", &[("flow", "basic"), ("reason", "throttled")]), 0.0);

        // Requests by route template and status, never by path.
        let requests = |method: &str, route: &str, status: &str| {
            v("bcda_http_requests_total", &[("method", method), ("route", route), ("status", status)])
        };
        assert_eq!(requests("POST", "/auth/token", "200"), 2.0);
        assert_eq!(requests("POST", "/auth/token", "401"), 2.0);
        assert_eq!(requests("POST", "/auth/token", "400"), 2.0);
        assert_eq!(requests("GET", "/api/v2/Patient/$export", "202"), 1.0);
        assert_eq!(requests("GET", "/api/v2/jobs/{jobId}", "200"), 1.0);
        assert_eq!(requests("GET", "/data/{jobId}/{filename}", "200"), files.len() as f64);
        assert_eq!(requests("GET", "unmatched", "404"), 2.0);
        assert_eq!(
            v("bcda_http_request_duration_seconds_count", &[("method", "POST"), ("route", "/auth/token")]),
            6.0
        );
        assert_eq!(
            v("bcda_http_request_duration_seconds_bucket", &[("method", "POST"), ("route", "/auth/token"), ("le", "+Inf")]),
            6.0
        );
        assert!(after.text.contains("# TYPE bcda_http_request_duration_seconds histogram"));

        // Tasks: every one done once, none retried.
        assert_eq!(v("bcda_task_duration_seconds_count", &[("kind", "plan"), ("outcome", "done")]), 1.0);
        assert_eq!(
            v("bcda_task_duration_seconds_count", &[("kind", "export"), ("outcome", "done")]),
            job.tasks_total as f64
        );
        assert_eq!(v("bcda_task_retries_total", &[("kind", "export")]), 0.0);

        // What was exported, by type: the recorded files' figures.
        for resource_type in ["Patient", "Coverage"] {
            let of_type: Vec<_> = files.iter().filter(|f| f.resource_type == resource_type).collect();
            assert!(!of_type.is_empty(), "{resource_type}");
            let sum = |field: fn(&&bcda::store::job_files::JobFileRecord) -> i64| {
                of_type.iter().map(field).sum::<i64>() as f64
            };
            let labels = [("resource_type", resource_type)];
            assert_eq!(v("bcda_export_files_total", &labels), of_type.len() as f64);
            assert_eq!(v("bcda_export_resources_total", &labels), sum(|f| f.resource_count));
            assert_eq!(v("bcda_export_bytes_total", &labels), sum(|f| f.ndjson_bytes));
            assert_eq!(v("bcda_export_stored_bytes_total", &labels), sum(|f| f.stored_bytes));
        }

        // The gauges read at this scrape.
        assert_eq!(v("bcda_jobs", &[("status", "Completed")]), 1.0);
        assert_eq!(v("bcda_jobs", &[("status", "Pending")]), 0.0);
        assert_eq!(v("bcda_task_queue_depth", &[("kind", "plan")]), 0.0);
        assert_eq!(v("bcda_tasks_running", &[("kind", "export")]), 0.0);
        assert_eq!(v("bcda_task_queue_oldest_age_seconds", &[]), 0.0);
        let backend_name = app.db().backend_name();
        assert!(v("bcda_db_pool_connections", &[("backend", backend_name)]) >= 1.0);
        assert!(v("bcda_db_pool_max_connections", &[("backend", backend_name)]) >= 1.0);
        assert!(after.text.contains("bcda_db_pool_idle_connections{backend="));
        assert_eq!(v("bcda_store_errors_total", &[("store", "files"), ("during", "request")]), 0.0);

        // No label names a who or a which.
        let until = job.transaction_time.expect("planned");
        let mut forbidden: Vec<String> = vec![
            "A9994".to_owned(),
            a9994.client_id.clone(),
            a9994.client_secret.clone(),
            key_client.clone(),
            token.clone(),
            smart_token.clone(),
        ];
        forbidden.extend(files.iter().map(|f| f.name.clone()));
        forbidden.extend(exportable_members(app.db(), "A9994", until).await);
        for value in after.label_values() {
            for word in &forbidden {
                assert!(!value.contains(word.as_str()), "label value {value:?} holds {word:?}");
            }
        }
        for word in &forbidden[..6] {
            assert!(!after.text.contains(word.as_str()), "the scrape holds {word:?}");
        }
        let id_text = id.to_string();
        for value in after.label_values() {
            assert!(value != id_text && !value.contains(&format!("/{id}")), "label value {value:?} holds the job id");
        }

        // A recorded file that is not as recorded: a 500, counted as a
        // file store error.
        let broken = &files[0];
        std::fs::write(app.state.files.path(id, &broken.name).expect("a directory store"), b"short").expect("write");
        let download = app.get_with_token(&format!("/data/{id}/{}", broken.name), &token).await;
        assert_eq!(download.status, StatusCode::INTERNAL_SERVER_ERROR);
        let last = scrape(&app).await;
        assert_eq!(last.value("bcda_store_errors_total", &[("store", "files"), ("during", "request")]), 1.0);
        assert_eq!(last.value("bcda_store_errors_total", &[("store", "database"), ("during", "request")]), 0.0);
    }
}

backend_test! {
    /// A task whose file cannot be written: counted as retried, with a file
    /// store error met by a task; its second attempt done.
    async fn a_failed_attempt_counts_a_retry_and_a_store_error(backend) {
        let (app, token) = crate::kickoff::sandbox_with_token(backend, "A9994").await;
        let id = job_id(&kick_ok(&app, &token, "/api/v2/Patient/$export?_type=Patient").await);
        let worker = bcda::jobs::worker::Worker::new(app.state.env.clone(), "metrics-test");
        assert!(worker.run_one().await.expect("plan"), "the plan ran");
        // A file where the job's directory should be: the export task
        // cannot create its file (even as root).
        let job_dir = app.state.files.job_dir(id).expect("a directory store");
        std::fs::create_dir_all(job_dir.parent().expect("exports")).expect("mkdir");
        std::fs::write(&job_dir, b"in the way").expect("write");
        assert!(worker.run_one().await.expect("the attempt is recorded"), "the export ran");
        let failed = scrape(&app).await;
        assert_eq!(failed.value("bcda_task_retries_total", &[("kind", "export")]), 1.0);
        assert_eq!(
            failed.value("bcda_task_duration_seconds_count", &[("kind", "export"), ("outcome", "retried")]),
            1.0
        );
        assert_eq!(failed.value("bcda_store_errors_total", &[("store", "files"), ("during", "task")]), 1.0);
        assert_eq!(failed.value("bcda_store_errors_total", &[("store", "database"), ("during", "task")]), 0.0);
        assert_eq!(failed.value("bcda_task_queue_depth", &[("kind", "export")]), 1.0);
        // Not yet due: the retry waits out its backoff.
        assert_eq!(failed.value("bcda_task_queue_oldest_age_seconds", &[]), 0.0);

        std::fs::remove_file(&job_dir).expect("remove");
        app.clock.advance(time::Duration::seconds(5));
        let due = scrape(&app).await;
        assert!(due.value("bcda_task_queue_oldest_age_seconds", &[]) > 0.0);
        run_until_idle(&app.state.env).await.expect("worker");
        let done = scrape(&app).await;
        assert_eq!(
            done.value("bcda_task_duration_seconds_count", &[("kind", "export"), ("outcome", "done")]),
            1.0
        );
        assert_eq!(done.value("bcda_task_retries_total", &[("kind", "export")]), 1.0);
        assert_eq!(done.value("bcda_jobs", &[("status", "Completed")]), 1.0);
    }
}

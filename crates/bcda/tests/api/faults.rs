//! Faults and fairness: a small export is not starved by a large one, a
//! cancelled job or a dead attempt leaves no files, and a database that is
//! down or locked answers 503 with Retry-After (never 500).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bcda::clock::Clock;
use bcda::domain::JobStatus;
use bcda::jobs::JobSettings;
use bcda::jobs::worker::{Worker, run_until_idle};
use bcda::store::jobs;
use bcda::store::{job_files, tasks};
use http_body_util::BodyExt;
use tokio::sync::watch;
use tower::ServiceExt;

use crate::harness::{Backend, TestApp, TestResponse, backend_test};
use crate::kickoff::{job_id, kick_ok, sandbox_app_with_token};

async fn status(app: &TestApp, id: i64) -> jobs::JobRecord {
    jobs::find(app.db(), id).await.expect("db").expect("job")
}

/// The file names in a job's download directory (empty if it is gone).
fn on_disk(app: &TestApp, id: i64) -> BTreeSet<String> {
    match std::fs::read_dir(app.state.files.job_dir(id).expect("a directory store")) {
        Ok(entries) => entries
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => BTreeSet::new(),
    }
}

backend_test! {
    async fn a_small_export_finishes_while_a_large_one_runs(backend) {
        // Two beneficiaries per ExplanationOfBenefit file: ~25 tasks (one
        // per beneficiary would fail the job: the sandbox has a beneficiary
        // the source does not know, and a batch of only unknown ones fails
        // its job, as in BCDA).
        let settings = JobSettings { batch_eob: 2, ..Default::default() };
        let (app, token) = sandbox_app_with_token(TestApp::builder(backend).jobs(settings), "A9994").await;
        let large = job_id(&kick_ok(&app, &token, "/api/v2/Patient/$export?_type=ExplanationOfBenefit").await);
        let worker = Worker::new(app.state.env.clone(), "only-worker");
        assert!(worker.run_one().await.expect("plan the large job"));
        assert!(worker.run_one().await.expect("a first task of the large job"));
        let small = job_id(&kick_ok(&app, &token, "/api/v1/Patient/$export?_type=Patient").await);
        let mut ran = 0;
        while status(&app, small).await.status != JobStatus::Completed {
            assert!(worker.run_one().await.expect("task"), "the queue ran dry first");
            ran += 1;
            assert!(ran <= 4, "the small job waited behind the large one ({ran} tasks ran)");
        }
        let large_now = status(&app, large).await;
        assert_eq!(large_now.status, JobStatus::InProgress);
        assert!(large_now.tasks_total - large_now.tasks_done > 15, "{large_now:?}");
        run_until_idle(&app.state.env).await.expect("worker");
        let failures = tasks::failures(app.db(), large).await.expect("failures");
        assert_eq!(status(&app, large).await.status, JobStatus::Completed, "{failures:?}");
    }
}

backend_test! {
    async fn a_dead_attempts_files_are_removed(backend) {
        let (app, token) = sandbox_app_with_token(TestApp::builder(backend), "A9994").await;
        let id = job_id(&kick_ok(&app, &token, "/api/v2/Patient/$export?_type=Patient").await);
        assert!(Worker::new(app.state.env.clone(), "planner").run_one().await.expect("plan"));
        // A worker claims the export task and dies mid-task: its upload's
        // staged file stays (the directory store's incomplete upload), and
        // so does a whole file it put in place but never recorded (it died
        // before its final transaction).
        let now = app.clock.now();
        let lease = app.state.jobs.task_lease;
        let dead = tasks::claim(app.db(), "dead-worker", now, now + lease)
            .await
            .expect("claim")
            .expect("the export task");
        assert!(dead.fence > 0);
        let staged = app.state.files.job_dir(id).expect("a directory store").join("dead.ndjson.gz#1");
        std::fs::create_dir_all(staged.parent().expect("dir")).expect("mkdir");
        std::fs::write(&staged, b"\x1f\x8b partial gzip").expect("staged");
        let orphan = app.state.files.path(id, "unrecorded.ndjson").expect("a directory store");
        std::fs::write(&orphan, b"whole but unrecorded").expect("orphan");
        // Its lease lapses; another worker takes the task over and finishes.
        app.clock.advance(time::Duration::try_from(lease).expect("lease") + time::Duration::SECOND);
        run_until_idle(&app.state.env).await.expect("worker");
        assert_eq!(status(&app, id).await.status, JobStatus::Completed);
        let recorded: BTreeSet<String> = job_files::list(app.db(), id)
            .await
            .expect("files")
            .into_iter()
            .map(|f| format!("{}.gz", f.name))
            .collect();
        assert!(!recorded.is_empty());
        assert_eq!(on_disk(&app, id), recorded, "only the manifest's files remain");
    }
}

backend_test! {
    async fn a_job_cancelled_mid_write_leaves_no_files(backend) {
        // All of A9990's ExplanationOfBenefits (2,500 beneficiaries) in one
        // file: the task is still writing when the job is cancelled.
        let settings = JobSettings { batch_eob: 10_000, ..Default::default() };
        let (app, token) = sandbox_app_with_token(TestApp::builder(backend).jobs(settings), "A9990").await;
        let id = job_id(&kick_ok(&app, &token, "/api/v2/Patient/$export?_type=ExplanationOfBenefit").await);
        let worker = Worker::new(app.state.env.clone(), "writer");
        assert!(worker.run_one().await.expect("plan"));
        let writing = tokio::spawn(async move { worker.run_one().await });
        let mut waited = 0;
        while !on_disk(&app, id).iter().any(|n| n.contains('#')) {
            assert!(waited < 600, "the export task never started writing");
            tokio::time::sleep(Duration::from_millis(100)).await;
            waited += 1;
        }
        let request = Request::delete(format!("/api/v2/jobs/{id}"))
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request");
        assert_eq!(app.send(request).await.status, StatusCode::ACCEPTED);
        // The task sees the cancellation at its next check and stops.
        writing.await.expect("join").expect("task");
        assert_eq!(status(&app, id).await.status, JobStatus::Cancelled);
        assert!(!app.state.files.job_dir(id).expect("a directory store").exists(), "left behind: {:?}", on_disk(&app, id));
        assert!(!app.state.files.archive_dir(id).expect("a directory store").exists());
    }
}

/// A TCP proxy in front of PostgreSQL that the test can cut: while down,
/// its connections are closed and new ones refused at once.
struct Proxy {
    addr: SocketAddr,
    up: watch::Sender<bool>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (up, up_rx) = watch::channel(true);
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let mut down = up_rx.clone();
                if !*down.borrow() {
                    continue; // dropped: refused
                }
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = down.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Proxy { addr, up }
    }

    fn set_up(&self, up: bool) {
        self.up.send_replace(up);
    }
}

/// Host and port of the test PostgreSQL URL.
fn postgres_addr(url: &str) -> (String, SocketAddr) {
    let after_at = url.rsplit_once('@').expect("user in url").1;
    let host_port = after_at.split('/').next().expect("host");
    let addr = std::net::ToSocketAddrs::to_socket_addrs(host_port)
        .expect("resolve")
        .next()
        .expect("an address");
    (host_port.to_owned(), addr)
}

async fn send(app: &TestApp, method: &str, uri: &str, token: &str) -> TestResponse {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("accept", "application/fhir+json")
        .header("prefer", "respond-async")
        .body(Body::empty())
        .expect("request");
    app.send(request).await
}

fn assert_unavailable(response: &TestResponse, what: &str) {
    assert_eq!(
        response.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{what}: {}",
        response.text()
    );
    let retry: u64 = response
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{what}: no Retry-After"));
    assert!(retry >= 1, "{what}");
}

#[tokio::test]
async fn postgres_down_answers_503_with_retry_after() {
    let (host_port, target) = postgres_addr(&crate::harness::postgres_url());
    let proxy = Arc::new(Proxy::start(target).await);
    let via = proxy.addr.to_string();
    let builder = TestApp::builder(Backend::Postgres)
        .database_wait(Duration::from_secs(1))
        .postgres_rewrite(move |url| url.replacen(&host_port, &via, 1));
    let (app, token) = sandbox_app_with_token(builder, "A9994").await;
    let id = job_id(&kick_ok(&app, &token, "/api/v2/Patient/$export?_type=Patient").await);
    run_until_idle(&app.state.env).await.expect("worker");
    let manifest = send(&app, "GET", &format!("/api/v2/jobs/{id}"), &token).await;
    assert_eq!(manifest.status, StatusCode::OK);
    let file = manifest.json()["output"][0]["url"]
        .as_str()
        .expect("url")
        .rsplit('/')
        .next()
        .expect("name")
        .to_owned();

    proxy.set_up(false);
    let started = std::time::Instant::now();
    for (method, uri) in [
        ("GET", format!("/api/v2/jobs/{id}")),
        ("GET", "/api/v2/jobs".to_owned()),
        ("GET", "/api/v2/Patient/$export?_type=Coverage".to_owned()),
        ("DELETE", format!("/api/v2/jobs/{id}")),
        ("GET", format!("/data/{id}/{file}")),
        ("GET", "/api/v2/attribution_status".to_owned()),
    ] {
        assert_unavailable(&send(&app, method, &uri, &token).await, &uri);
    }
    let health = app.get("/_health").await;
    assert_unavailable(&health, "/_health");
    assert_ne!(health.json()["database"], "ok");
    // Each answer above was a database error, counted as one; a scrape
    // still answers, saying the database is down.
    let metrics = bcda::http::metrics::router(app.state.env.clone())
        .oneshot(
            Request::get("/metrics")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
    assert_eq!(metrics.status(), StatusCode::OK);
    let text = String::from_utf8(
        metrics
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec(),
    )
    .expect("utf-8");
    assert!(text.contains("\nbcda_database_up 0\n"), "{text}");
    assert!(
        text.contains("bcda_store_errors_total{store=\"database\",during=\"request\"} 6\n"),
        "{text}"
    );
    // Each answer came within about the configured wait, not a 10 s pool
    // time-out each (a loose bound: this is not a performance test).
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    let leftovers: Vec<_> = std::fs::read_dir(app.state.data_dir.root())
        .expect("data dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".health"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Back up: the same requests work again.
    proxy.set_up(true);
    let mut answered = false;
    for _ in 0..50 {
        if send(&app, "GET", &format!("/api/v2/jobs/{id}"), &token)
            .await
            .status
            == StatusCode::OK
        {
            answered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(answered, "the server did not recover");
    assert_eq!(
        status(&app, id).await.status,
        JobStatus::Completed,
        "the job was not failed by the outage"
    );
}

#[tokio::test]
async fn a_locked_sqlite_database_answers_writes_503() {
    let builder = TestApp::builder(Backend::Sqlite).database_wait(Duration::from_secs(1));
    let (app, token) = sandbox_app_with_token(builder, "A9994").await;
    let creds = app.create_credentials("A9994").await;
    // Another process holds SQLite's write lock.
    use sqlx::Connection;
    let mut other = sqlx::SqliteConnection::connect(&format!(
        "sqlite:{}",
        app.dir.path().join("bcda.db").display()
    ))
    .await
    .expect("connect");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .expect("lock");
    assert_unavailable(
        &kick_ok(&app, &token, "/api/v1/Patient/$export").await,
        "kick-off",
    );
    let token_answer = app.post_token(&creds.client_id, &creds.client_secret).await;
    assert_unavailable(&token_answer, "/auth/token");
    // Reads go on (WAL): status and lists answer as usual.
    assert_eq!(
        send(&app, "GET", "/api/v1/jobs", &token).await.status,
        StatusCode::OK
    );
    sqlx::query("ROLLBACK")
        .execute(&mut other)
        .await
        .expect("unlock");
    job_id(&kick_ok(&app, &token, "/api/v1/Patient/$export").await);
}

//! Export files in S3: the whole export path against a real S3-compatible
//! server that checks request signatures (`s3s-fs`, started per test on
//! loopback; `scripts/s3-test-server --install-only` installs it, and
//! `scripts/test` does so before the suite). Multipart uploads, ranged
//! reads, archive, delete and the sweep run on the bucket; downloads may be
//! redirected to presigned URLs.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bcda::files::{FileStore, StoreLocation};
use bcda::jobs::JobSettings;
use bcda::jobs::worker::run_until_idle;
use bcda::store::job_files;
use object_store::ObjectStoreExt;
use object_store::aws::AmazonS3Builder;
use sha2::{Digest, Sha256};

use crate::harness::{TestApp, backend_test, gunzip, stored_names};
use crate::kickoff::{job_id, kick_ok, sandbox_app_with_token};

const BUCKET: &str = "bcda-test";

/// An s3s-fs server on a free loopback port, stopped when dropped.
struct S3Server {
    child: Child,
    endpoint: String,
    access_key: String,
    secret_key: String,
    _root: tempfile::TempDir,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn s3s_fs_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("BCDA_TEST_S3S_FS") {
        return PathBuf::from(path);
    }
    let binary =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/tools/s3s-fs/bin/s3s-fs");
    assert!(
        binary.exists(),
        "{} is missing: install the S3 test server with `scripts/s3-test-server --install-only` \
         (scripts/test does), or set BCDA_TEST_S3S_FS",
        binary.display()
    );
    binary
}

impl S3Server {
    fn start() -> S3Server {
        let root = tempfile::tempdir().expect("tempdir");
        // s3s-fs keeps a bucket as a directory under its root.
        std::fs::create_dir(root.path().join(BUCKET)).expect("bucket");
        let access_key = format!("test-{}", uuid::Uuid::new_v4().simple());
        let secret_key = uuid::Uuid::new_v4().simple().to_string();
        let mut child = Command::new(s3s_fs_binary())
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--access-key",
                &access_key,
                "--secret-key",
                &secret_key,
            ])
            .arg(root.path())
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start s3s-fs");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let endpoint = loop {
            let line = lines
                .next()
                .expect("s3s-fs exited before listening")
                .expect("read");
            if let Some(at) = line.find("server is running at ") {
                break line[at + "server is running at ".len()..].trim().to_owned();
            }
        };
        // Drained so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        S3Server {
            child,
            endpoint,
            access_key,
            secret_key,
            _root: root,
        }
    }

    fn builder(&self, secret: &str) -> AmazonS3Builder {
        AmazonS3Builder::new()
            .with_endpoint(&self.endpoint)
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_access_key_id(&self.access_key)
            .with_secret_access_key(secret)
    }

    fn store(&self, prefix: &str) -> FileStore {
        bcda::files::location::s3_store(self.builder(&self.secret_key), BUCKET, prefix)
            .expect("s3 store")
    }
}
fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn download(
    app: &TestApp,
    token: &str,
    uri: &str,
    headers: &[(&str, &str)],
) -> crate::harness::TestResponse {
    let mut request = Request::get(uri).header("authorization", format!("Bearer {token}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    app.send(request.body(Body::empty()).expect("request"))
        .await
}

#[test]
fn a_wrong_secret_is_refused_by_the_test_server() {
    // The server checks signatures: the suite's S3 results mean something.
    let server = S3Server::start();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let wrong = bcda::files::location::s3_store(server.builder("not-the-secret"), BUCKET, "x")
        .expect("store");
    let refused = runtime.block_on(wrong.probe());
    assert!(
        refused.is_err(),
        "a request signed with the wrong secret was accepted"
    );
    runtime
        .block_on(server.store("x").probe())
        .expect("the right secret works");
}

backend_test! {
    async fn an_export_is_written_served_archived_and_deleted_in_s3(backend) {
        let server = S3Server::start();
        let store = server.store(&format!("run-{}", uuid::Uuid::new_v4().simple()));
        // One ExplanationOfBenefit file for all of A9994. (Files of many
        // parts are exercised by scripts/multihost-test's A9990 export.)
        let settings = JobSettings { batch_eob: 10_000, ..Default::default() };
        let builder = TestApp::builder(backend).jobs(settings).store(StoreLocation::Given(store.clone()));
        let (app, token) = sandbox_app_with_token(builder, "A9994").await;
        let id = job_id(&kick_ok(&app, &token, "/api/v2/Group/all/$export").await);
        run_until_idle(&app.state.env).await.expect("worker");
        let recorded = job_files::list(app.db(), id).await.expect("files");
        assert!(recorded.len() >= 3, "{recorded:?}");
        let mut expected: Vec<String> = recorded.iter().map(|f| format!("{}.gz", f.name)).collect();
        expected.sort();
        assert_eq!(stored_names(&store, "exports", id).await, expected, "the bucket holds the manifest's files");
        assert!(app.state.files.local_root().is_none());
        assert!(!app.dir.path().join("data/exports").exists(), "nothing was written locally");

        for file in &recorded {
            let uri = format!("/data/{id}/{}", file.name);
            let gzip = download(&app, &token, &uri, &[("accept-encoding", "gzip")]).await;
            assert_eq!(gzip.status, StatusCode::OK);
            assert_eq!(gzip.body.len() as i64, file.stored_bytes);
            let ndjson = gunzip(&gzip.body);
            assert_eq!(sha256_hex(&ndjson), file.sha256, "{}", file.name);
            assert_eq!(ndjson.iter().filter(|&&b| b == b'\n').count() as i64, file.resource_count);
            let identity = download(&app, &token, &uri, &[]).await;
            assert_eq!(identity.status, StatusCode::OK);
            assert!(identity.body == ndjson, "the inflated download differs");
            // A ranged read of the stored bytes (a ranged GET of the object)
            // and of the NDJSON.
            let tail = file.stored_bytes / 2;
            let part = download(&app, &token, &uri, &[("accept-encoding", "gzip"), ("range", &format!("bytes={tail}-"))]).await;
            assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
            assert!(part.body == gzip.body[tail as usize..], "the ranged gzip bytes differ");
            let middle = download(&app, &token, &uri, &[("range", "bytes=10-99")]).await;
            assert_eq!(middle.status, StatusCode::PARTIAL_CONTENT);
            assert!(middle.body == ndjson[10..100]);
        }

        // A whole file no manifest lists (an attempt that died before its
        // final transaction) goes at the sweep.
        let stray = FileStore::key(id, "stray.ndjson");
        store.object_store().put(&stray, bytes::Bytes::from_static(b"x").into()).await.expect("put");
        bcda::jobs::cleanup::sweep_files(&app.state.env).await.expect("sweep");
        assert_eq!(stored_names(&store, "exports", id).await, expected);

        // Past the download window: archived in the bucket; then deleted.
        app.clock.advance(time::Duration::try_from(app.state.jobs.download_window).expect("window") + time::Duration::SECOND);
        let report = bcda::jobs::cleanup::run_once(&app.state.env).await.expect("cleanup");
        assert_eq!(report.archived, 1);
        assert!(stored_names(&store, "exports", id).await.is_empty());
        assert_eq!(stored_names(&store, "archive", id).await, expected);
        app.clock.advance(time::Duration::try_from(app.state.jobs.archive_window).expect("window") + time::Duration::SECOND);
        let report = bcda::jobs::cleanup::run_once(&app.state.env).await.expect("cleanup");
        assert_eq!(report.expired, 1);
        assert!(stored_names(&store, "archive", id).await.is_empty());
    }
}

backend_test! {
    async fn a_redirected_download_fetches_the_gzip_bytes_from_a_presigned_url(backend) {
        let server = S3Server::start();
        let store = server.store("redirect");
        let http = bcda::app::HttpSettings { download_redirect: true, ..Default::default() };
        let builder = TestApp::builder(backend).http(http).store(StoreLocation::Given(store));
        let (app, token) = sandbox_app_with_token(builder, "A9994").await;
        let id = job_id(&kick_ok(&app, &token, "/api/v2/Patient/$export?_type=Patient").await);
        run_until_idle(&app.state.env).await.expect("worker");
        let file = job_files::list(app.db(), id).await.expect("files").into_iter().next().expect("a file");
        let uri = format!("/data/{id}/{}", file.name);

        let redirected = download(&app, &token, &uri, &[("accept-encoding", "gzip")]).await;
        assert_eq!(redirected.status, StatusCode::TEMPORARY_REDIRECT, "{}", redirected.text());
        assert_eq!(redirected.header("cache-control"), Some("no-store"));
        let location = redirected.header("location").expect("location").to_owned();
        assert!(location.starts_with(&server.endpoint), "{location}");
        assert!(location.contains("X-Amz-Signature="), "{location}");

        // The client follows it without a token: the stored bytes.
        let client = reqwest::Client::new();
        let fetched = client.get(&location).send().await.expect("fetch");
        assert_eq!(fetched.status(), StatusCode::OK);
        let gzip = fetched.bytes().await.expect("body");
        assert_eq!(gzip.len() as i64, file.stored_bytes);
        assert_eq!(sha256_hex(&gunzip(&gzip)), file.sha256);
        // Its Range goes to the store.
        let ranged = client.get(&location).header("range", "bytes=5-").send().await.expect("fetch");
        assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
        assert!(ranged.bytes().await.expect("body") == gzip[5..]);
        // The presigned URL is for this file only.
        let other = location.replacen(&format!("{}.gz", file.name), "other.ndjson.gz", 1);
        let refused = client.get(&other).send().await.expect("fetch");
        assert!(refused.status().is_client_error(), "{}", refused.status());

        // NDJSON (no gzip), HEAD and a current copy are answered by the API.
        let identity = download(&app, &token, &uri, &[]).await;
        assert_eq!(identity.status, StatusCode::OK);
        assert_eq!(sha256_hex(&identity.body), file.sha256);
        let head = app
            .send(Request::head(&uri).header("authorization", format!("Bearer {token}")).header("accept-encoding", "gzip").body(Body::empty()).expect("request"))
            .await;
        assert_eq!(head.status, StatusCode::OK);
        let etag = format!("\"{}-gzip\"", file.sha256);
        let current = download(&app, &token, &uri, &[("accept-encoding", "gzip"), ("if-none-match", &etag)]).await;
        assert_eq!(current.status, StatusCode::NOT_MODIFIED);
    }
}

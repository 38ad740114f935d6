//! `GET|HEAD /data/{jobId}/{fileName}`: both forms of a file (stored gzip,
//! inflated NDJSON), validators, conditional and range requests, and every
//! refusal.

use std::io::Write;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use bcda::domain::{ApiVersion, ResourceType};
use bcda::domain::{JobStatus, RequestKind};
use bcda::store::acos;
use bcda::store::job_files::{self, NewJobFile};
use bcda::store::jobs::{self, NewJob};
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};
use time::Duration;

use crate::harness::{START, TestApp, TestResponse, backend_test, gunzip};

const ACO: &str = "A0001";
const FILE: &str = "3f1c2b9e-5d4a-4e8f-9b7c-1a2b3c4d5e6f.ndjson";

/// An app with one Completed job of `ACO` holding `FILE`.
struct Fixture {
    app: TestApp,
    token: String,
    job_id: i64,
    ndjson: Vec<u8>,
    gzip: Vec<u8>,
    sha256: String,
}

impl Fixture {
    async fn new(backend: crate::harness::Backend) -> Fixture {
        let app = TestApp::new(backend).await;
        let token = app.token_for(ACO).await;
        let job_id = create_job(&app, ACO, &[JobStatus::Completed]).await;
        let ndjson = ndjson(20_000);
        let (gzip, sha256) = store_file(&app, job_id, FILE, &ndjson).await;
        Fixture {
            app,
            token,
            job_id,
            ndjson,
            gzip,
            sha256,
        }
    }

    fn uri(&self) -> String {
        format!("/data/{}/{FILE}", self.job_id)
    }

    /// A request with the fixture's token and the given headers.
    async fn send(&self, method: Method, uri: &str, headers: &[(&str, &str)]) -> TestResponse {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {}", self.token));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.app
            .send(request.body(Body::empty()).expect("request"))
            .await
    }

    async fn get(&self, headers: &[(&str, &str)]) -> TestResponse {
        self.send(Method::GET, &self.uri(), headers).await
    }
}

/// NDJSON of `lines` Patient-like resources, with hex digests in them so it
/// does not compress to almost nothing (the gzip form then spans several
/// 256 KiB chunks too).
fn ndjson(lines: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..lines {
        let digest = hex(&Sha256::digest(i.to_string().as_bytes()));
        writeln!(
            out,
            r#"{{"resourceType":"Patient","id":"-{i:08}","meta":{{"lastUpdated":"2026-03-01T00:00:00.000Z"}},"text":"{digest}"}}"#
        )
        .expect("write");
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Creates a job of `cms_id` (whose ACO exists) and moves it through
/// `statuses`.
async fn create_job(app: &TestApp, cms_id: &str, statuses: &[JobStatus]) -> i64 {
    let aco = acos::find_by_cms_id(app.db(), cms_id)
        .await
        .expect("db")
        .expect("aco");
    let mut tx = app.db().begin().await.expect("tx");
    let id = jobs::insert(
        &mut tx,
        &NewJob {
            aco_id: aco.id,
            api_version: ApiVersion::V2,
            request_url: "https://bcda.test/api/v2/Patient/$export",
            request_kind: RequestKind::Patient,
            resource_types: &[ResourceType::Patient],
            since: None,
            until: None,
            patient_mbis: &[],
            now: START,
            eob_filter: None,
            eob_filter_defaulted: false,
        },
    )
    .await
    .expect("insert job");
    let mut from = JobStatus::Pending;
    for &to in statuses {
        assert!(
            jobs::transition_in(&mut tx, id, &[from], to, START)
                .await
                .expect("transition"),
            "{from} -> {to}"
        );
        from = to;
    }
    tx.commit().await.expect("commit");
    id
}

/// Writes `ndjson` gzip-compressed where the store keeps it and records it;
/// returns the gzip bytes and the NDJSON's SHA-256.
async fn store_file(app: &TestApp, job_id: i64, name: &str, ndjson: &[u8]) -> (Vec<u8>, String) {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(ndjson).expect("gzip");
    let gzip = encoder.finish().expect("gzip");
    let sha256 = hex(&Sha256::digest(ndjson));
    let path = app
        .state
        .files
        .path(job_id, name)
        .expect("a directory store");
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(&path, &gzip).expect("write");
    let mut tx = app.db().begin().await.expect("tx");
    job_files::insert(
        &mut tx,
        &NewJobFile {
            job_id,
            task_id: None,
            name,
            resource_type: "Patient",
            is_error: false,
            resource_count: 20_000,
            ndjson_bytes: ndjson.len() as i64,
            stored_bytes: gzip.len() as i64,
            sha256: &sha256,
            cohort: None,
            created_at: START,
        },
    )
    .await
    .expect("insert file");
    tx.commit().await.expect("commit");
    (gzip, sha256)
}

/// The headers every 200/206 carries, for either form.
fn assert_content_headers(response: &TestResponse, etag: &str, length: usize) {
    assert_eq!(
        response.header("content-type"),
        Some("application/fhir+ndjson")
    );
    assert_eq!(response.header("vary"), Some("accept-encoding"));
    assert_eq!(response.header("accept-ranges"), Some("bytes"));
    assert_eq!(response.header("cache-control"), Some("private, no-store"));
    assert_eq!(
        response.header("last-modified"),
        Some("Mon, 02 Mar 2026 12:00:00 GMT")
    );
    assert_eq!(response.header("etag"), Some(etag));
    assert_eq!(
        response.header("content-length"),
        Some(length.to_string().as_str())
    );
}

backend_test! {
    async fn both_forms_carry_the_same_ndjson(backend) {
        let f = Fixture::new(backend).await;
        assert!(f.gzip.len() > 3 * 256 * 1024, "gzip form spans several chunks: {}", f.gzip.len());
        let identity_tag = format!("\"{}\"", f.sha256);
        let gzip_tag = format!("\"{}-gzip\"", f.sha256);

        let gzip = f.get(&[("accept-encoding", "gzip, deflate, br")]).await;
        assert_eq!(gzip.status, StatusCode::OK);
        assert_content_headers(&gzip, &gzip_tag, f.gzip.len());
        assert_eq!(gzip.header("content-encoding"), Some("gzip"));
        assert!(gzip.body == f.gzip, "gzip download is the stored bytes");
        assert!(gunzip(&gzip.body) == f.ndjson);

        for accept in [None, Some("identity"), Some("gzip;q=0"), Some("br"), Some("gzip;q=0.5, identity")] {
            let headers: Vec<(&str, &str)> = accept.map(|a| ("accept-encoding", a)).into_iter().collect();
            let identity = f.get(&headers).await;
            assert_eq!(identity.status, StatusCode::OK, "{accept:?}");
            assert_content_headers(&identity, &identity_tag, f.ndjson.len());
            assert_eq!(identity.header("content-encoding"), None);
            assert!(identity.body == f.ndjson, "identity download is the NDJSON ({accept:?})");
        }

        let wildcard = f.get(&[("accept-encoding", "*")]).await;
        assert_eq!(wildcard.header("content-encoding"), Some("gzip"));
        assert!(gunzip(&wildcard.body) == f.ndjson);
    }
}

backend_test! {
    async fn head_answers_the_headers_of_get(backend) {
        let f = Fixture::new(backend).await;
        for (accept, length, encoding) in [
            ("gzip", f.gzip.len(), Some("gzip")),
            ("identity", f.ndjson.len(), None),
        ] {
            let head = f.send(Method::HEAD, &f.uri(), &[("accept-encoding", accept)]).await;
            let get = f.get(&[("accept-encoding", accept)]).await;
            assert_eq!(head.status, StatusCode::OK);
            assert!(head.body.is_empty());
            let etag = get.header("etag").expect("etag");
            assert_content_headers(&head, etag, length);
            assert_eq!(head.header("content-encoding"), encoding);
            // Range is defined for GET only: HEAD describes the whole file.
            let ranged = f
                .send(Method::HEAD, &f.uri(), &[("accept-encoding", accept), ("range", "bytes=0-9")])
                .await;
            assert_eq!(ranged.status, StatusCode::OK);
            assert_content_headers(&ranged, etag, length);
        }
    }
}

backend_test! {
    async fn etags_differ_per_form_and_if_none_match_gives_304(backend) {
        let f = Fixture::new(backend).await;
        let gzip_tag = f.get(&[("accept-encoding", "gzip")]).await.header("etag").expect("etag").to_owned();
        let identity_tag = f.get(&[]).await.header("etag").expect("etag").to_owned();
        assert_ne!(gzip_tag, identity_tag);

        for (accept, own, other) in [("gzip", &gzip_tag, &identity_tag), ("identity", &identity_tag, &gzip_tag)] {
            let weak = format!("W/{own}");
            let list = format!("\"something-else\", {own}");
            for condition in [own.as_str(), weak.as_str(), list.as_str(), "*"] {
                for method in [Method::GET, Method::HEAD] {
                    let response = f
                        .send(method.clone(), &f.uri(), &[("accept-encoding", accept), ("if-none-match", condition)])
                        .await;
                    assert_eq!(response.status, StatusCode::NOT_MODIFIED, "{method} {accept} {condition}");
                    assert_eq!(response.header("etag"), Some(own.as_str()));
                    assert_eq!(response.header("vary"), Some("accept-encoding"));
                    assert!(response.body.is_empty());
                }
            }
            // The other form's tag names other bytes: the file is sent.
            let response = f.get(&[("accept-encoding", accept), ("if-none-match", other)]).await;
            assert_eq!(response.status, StatusCode::OK);
            assert_eq!(response.header("etag"), Some(own.as_str()));
        }

        let modified = "Mon, 02 Mar 2026 12:00:00 GMT";
        let earlier = "Mon, 02 Mar 2026 11:59:59 GMT";
        assert_eq!(f.get(&[("if-modified-since", modified)]).await.status, StatusCode::NOT_MODIFIED);
        assert_eq!(f.get(&[("if-modified-since", earlier)]).await.status, StatusCode::OK);
        // If-None-Match wins over If-Modified-Since.
        let both = f.get(&[("if-none-match", "\"nope\""), ("if-modified-since", modified)]).await;
        assert_eq!(both.status, StatusCode::OK);
    }
}

/// Asserts a 206 of `first..=last` of `whole`.
fn assert_partial(response: &TestResponse, whole: &[u8], first: usize, last: usize) {
    assert_eq!(
        response.status,
        StatusCode::PARTIAL_CONTENT,
        "{}",
        response.text()
    );
    assert_eq!(
        response.header("content-range"),
        Some(format!("bytes {first}-{last}/{}", whole.len()).as_str())
    );
    assert_eq!(
        response.header("content-length"),
        Some((last - first + 1).to_string().as_str())
    );
    assert!(response.body == whole[first..=last], "bytes {first}-{last}");
}

backend_test! {
    async fn ranges_of_either_form(backend) {
        let f = Fixture::new(backend).await;
        let n = f.ndjson.len();
        // Across chunk boundaries of the stream (256 KiB) and of the inflater.
        let identity = f.get(&[("range", "bytes=262000-800000")]).await;
        assert_partial(&identity, &f.ndjson, 262_000, 800_000);
        assert_eq!(identity.header("content-encoding"), None);
        let open_ended = format!("bytes={}-", n - 70_000);
        assert_partial(&f.get(&[("range", &open_ended)]).await, &f.ndjson, n - 70_000, n - 1);
        assert_partial(&f.get(&[("range", "bytes=-100000")]).await, &f.ndjson, n - 100_000, n - 1);
        assert_partial(&f.get(&[("range", "bytes=0-0")]).await, &f.ndjson, 0, 0);
        let past_end = format!("bytes=10-{}", n + 1000);
        assert_partial(&f.get(&[("range", &past_end)]).await, &f.ndjson, 10, n - 1);

        let g = f.gzip.len();
        let gzip = f.get(&[("accept-encoding", "gzip"), ("range", "bytes=1000-600000")]).await;
        assert_partial(&gzip, &f.gzip, 1000, 600_000);
        assert_eq!(gzip.header("content-encoding"), Some("gzip"));
        assert_partial(&f.get(&[("accept-encoding", "gzip"), ("range", "bytes=-10")]).await, &f.gzip, g - 10, g - 1);

        // Several ranges: the whole file.
        let several = f.get(&[("range", "bytes=0-9,20-29")]).await;
        assert_eq!(several.status, StatusCode::OK);
        assert!(several.body == f.ndjson);
    }
}

backend_test! {
    async fn a_resumed_download_reassembles_the_file(backend) {
        let f = Fixture::new(backend).await;
        for (accept, whole) in [("identity", &f.ndjson), ("gzip", &f.gzip)] {
            let first = f.get(&[("accept-encoding", accept), ("range", "bytes=0-99999")]).await;
            assert_eq!(first.status, StatusCode::PARTIAL_CONTENT);
            let etag = first.header("etag").expect("etag").to_owned();
            let rest = f
                .get(&[("accept-encoding", accept), ("range", "bytes=100000-"), ("if-range", &etag)])
                .await;
            assert_eq!(rest.status, StatusCode::PARTIAL_CONTENT);
            let mut joined = first.body.to_vec();
            joined.extend_from_slice(&rest.body);
            assert!(joined == *whole, "{accept} reassembled");

            // By date, too.
            let by_date = f
                .get(&[("accept-encoding", accept), ("range", "bytes=100000-"), ("if-range", "Mon, 02 Mar 2026 12:00:00 GMT")])
                .await;
            assert_eq!(by_date.status, StatusCode::PARTIAL_CONTENT);
            assert!(by_date.body == rest.body);

            // A validator that no longer matches: the whole file, 200.
            for stale in ["\"stale\"", "Mon, 02 Mar 2026 11:00:00 GMT", "W/\"stale\""] {
                let changed = f
                    .get(&[("accept-encoding", accept), ("range", "bytes=100000-"), ("if-range", stale)])
                    .await;
                assert_eq!(changed.status, StatusCode::OK, "{stale}");
                assert!(changed.body == *whole);
            }
        }
        assert_eq!(gunzip(&f.gzip), f.ndjson);
    }
}

backend_test! {
    async fn unsatisfiable_ranges_are_416(backend) {
        let f = Fixture::new(backend).await;
        for (accept, length) in [("identity", f.ndjson.len()), ("gzip", f.gzip.len())] {
            for range in [format!("bytes={length}-"), format!("bytes={}-{}", length + 5, length + 10), "bytes=-0".to_owned()] {
                let response = f.get(&[("accept-encoding", accept), ("range", &range)]).await;
                response.assert_outcome(416, "structure", "The requested range is not satisfiable.");
                assert_eq!(
                    response.header("content-range"),
                    Some(format!("bytes */{length}").as_str()),
                    "{accept} {range}"
                );
            }
        }
    }
}

backend_test! {
    async fn refusals(backend) {
        let f = Fixture::new(backend).await;
        let id = f.job_id;

        f.app.get(&f.uri()).await.assert_outcome(401, "forbidden", "Invalid Token");
        let other = f.app.token_for("A0002").await;
        f.app.get_with_token(&f.uri(), &other).await.assert_outcome(401, "forbidden", "Unauthorized");

        for job in ["abc", "0", "-1", "+1", "1.0", "99999999999999999999"] {
            let bad_id = format!("Invalid job ID {job:?}: job IDs are positive whole numbers");
            f.send(Method::GET, &format!("/data/{job}/{FILE}"), &[]).await.assert_outcome(400, "structure", &bad_id);
        }
        f.send(Method::GET, &format!("/data/{}/{FILE}", id + 100), &[])
            .await
            .assert_outcome(404, "not-found", &format!("Job {} not found", id + 100));

        for name in [
            "nope.ndjson".to_owned(),
            FILE.trim_end_matches(".ndjson").to_owned(),
            format!("{FILE}.gz"),
            format!("..%2F{id}%2F{FILE}"),
            format!("%2E%2E%2F..%2Fexports%2F{id}%2F{FILE}"),
            "..%2F..%2F..%2Fetc%2Fpasswd".to_owned(),
            format!("{FILE}%00"),
            "%0A".to_owned(),
        ] {
            f.send(Method::GET, &format!("/data/{id}/{name}"), &[])
                .await
                .assert_outcome(404, "not-found", "File not found");
        }

        // Segments that are not UTF-8 once decoded: an id like any other
        // non-number, a name like any unknown one.
        f.send(Method::GET, &format!("/data/{id}/%FF"), &[])
            .await
            .assert_outcome(404, "not-found", "File not found");
        f.send(Method::GET, &format!("/data/%FF/{FILE}"), &[])
            .await
            .assert_outcome(400, "structure", "Invalid job ID \"%FF\": job IDs are positive whole numbers");

        // Recorded, but gone from disk: 404 with no path in it.
        std::fs::remove_file(f.app.state.files.path(id, FILE).expect("a directory store")).expect("remove");
        f.get(&[]).await.assert_outcome(404, "not-found", "File not found");
    }
}

backend_test! {
    async fn only_completed_jobs_serve_files(backend) {
        let f = Fixture::new(backend).await;
        for (statuses, message) in [
            (&[][..], "Job is not complete: its files are not ready."),
            (&[JobStatus::InProgress][..], "Job is not complete: its files are not ready."),
            (&[JobStatus::InProgress, JobStatus::Failed][..], "Job failed to complete."),
            (&[JobStatus::Cancelled][..], "Job has been cancelled."),
        ] {
            let id = create_job(&f.app, ACO, statuses).await;
            // Even with a finished file on record.
            store_file(&f.app, id, FILE, b"{}\n").await;
            f.send(Method::GET, &format!("/data/{id}/{FILE}"), &[])
                .await
                .assert_outcome(404, "not-found", message);
        }
        let archived = create_job(&f.app, ACO, &[JobStatus::Completed, JobStatus::Archived]).await;
        f.send(Method::GET, &format!("/data/{archived}/{FILE}"), &[])
            .await
            .assert_outcome(410, "not-found", GONE);
    }
}

const GONE: &str =
    "The job's files have expired: they can be downloaded for 24 hours after the job completes.";

backend_test! {
    async fn files_expire_24_hours_after_completion(backend) {
        let f = Fixture::new(backend).await;
        f.app.clock.advance(Duration::hours(24) - Duration::seconds(1));
        // A new token: the fixture's has expired by now.
        let creds = f.app.create_credentials(ACO).await;
        let token = f.app.token(&creds).await;
        let response = f.app.get_with_token(&f.uri(), &token).await;
        assert_eq!(response.status, StatusCode::OK);
        assert!(response.body == f.ndjson);

        f.app.clock.advance(Duration::seconds(1));
        f.app.get_with_token(&f.uri(), &token).await.assert_outcome(410, "not-found", GONE);
    }
}

backend_test! {
    async fn over_a_real_connection(backend) {
        // hyper, not the in-process router: the streamed body must meet the
        // Content-Length we announce, and HEAD must keep it.
        let f = Fixture::new(backend).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let server = tokio::spawn(axum::serve(listener, f.app.router.clone()).into_future());
        let url = format!("http://{address}{}", f.uri());
        let http = reqwest::Client::new();
        let bearer = format!("Bearer {}", f.token);
        let request = |method: Method, accept: &str| {
            http.request(method, &url)
                .header("authorization", &bearer)
                .header("accept-encoding", accept)
        };
        for (accept, whole) in [("gzip", &f.gzip), ("identity", &f.ndjson)] {
            let get = request(Method::GET, accept).send().await.expect("get");
            assert_eq!(get.status(), StatusCode::OK);
            assert_eq!(get.content_length(), Some(whole.len() as u64));
            assert!(get.bytes().await.expect("body") == **whole, "{accept} over the wire");

            let head = request(Method::HEAD, accept).send().await.expect("head");
            assert_eq!(head.status(), StatusCode::OK);
            let length = head.headers().get("content-length").and_then(|v| v.to_str().ok());
            assert_eq!(length, Some(whole.len().to_string().as_str()), "{accept} HEAD");
            assert!(head.bytes().await.expect("body").is_empty());

            let partial = request(Method::GET, accept)
                .header("range", "bytes=70000-")
                .send()
                .await
                .expect("range");
            assert_eq!(partial.status(), StatusCode::PARTIAL_CONTENT);
            assert!(partial.bytes().await.expect("body") == whole[70000..], "{accept} range");
        }
        server.abort();
    }
}

backend_test! {
    async fn a_corrupt_file_cuts_the_download_short(backend) {
        use http_body_util::BodyExt;
        use tower::ServiceExt;

        let f = Fixture::new(backend).await;
        // Same length as recorded, damaged in the middle: gzip's CRC fails.
        let path = f.app.state.files.path(f.job_id, FILE).expect("a directory store");
        let mut damaged = f.gzip.clone();
        let middle = damaged.len() / 2;
        for byte in &mut damaged[middle..middle + 64] {
            *byte = !*byte;
        }
        std::fs::write(&path, &damaged).expect("write");
        let request = Request::builder()
            .uri(f.uri())
            .header("authorization", format!("Bearer {}", f.token))
            .header("host", "bcda.test")
            .body(Body::empty())
            .expect("request");
        let response = f.app.router.clone().oneshot(request).await.expect("infallible");
        // The headers went out before the damage was found...
        assert_eq!(response.status(), StatusCode::OK);
        // ...so the body ends in an error (the connection is cut) instead of
        // ending cleanly with wrong or missing bytes.
        assert!(response.into_body().collect().await.is_err());
    }
}

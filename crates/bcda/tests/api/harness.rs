//! `TestApp`: a fresh application over a fresh database, with helpers that
//! read like a client.

#![allow(dead_code)]

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use base64::Engine;
use bcda::app::{App, AppConfig, AppState, HttpSettings};
use bcda::auth::credentials::{self, DEFAULT_SECRET_LIFETIME, NewCredentials};
use bcda::auth::keys::SealingKey;
use bcda::auth::tokens::TokenSettings;
use bcda::clock::ManualClock;
use bcda::config::DataDir;
use bcda::jobs::JobSettings;
use bcda::store::Db;
use http_body_util::BodyExt;
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use time::OffsetDateTime;
use time::macros::datetime;
use tower::ServiceExt;

/// Which database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where tests start the clock.
pub const START: OffsetDateTime = datetime!(2026-03-02 12:00:00 UTC);

/// Defines one test run twice: `name::sqlite` and `name::postgres`. The
/// body receives the `Backend` to build its `TestApp` with.
macro_rules! backend_test {
    ($(#[$meta:meta])* async fn $name:ident($backend:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $(#[$meta])*
            async fn run($backend: $crate::harness::Backend) $body
            #[tokio::test]
            async fn sqlite() {
                run($crate::harness::Backend::Sqlite).await
            }
            #[tokio::test]
            async fn postgres() {
                run($crate::harness::Backend::Postgres).await
            }
        }
    };
}
pub(crate) use backend_test;

/// The PostgreSQL URL tests use; panics with instructions when unset.
pub fn postgres_url() -> String {
    std::env::var("BCDA_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "BCDA_TEST_POSTGRES_URL is not set: run scripts/test (which starts PostgreSQL and sets it), \
             or set it to a database where the tests may create schemas"
        )
    })
}

/// A fresh, empty PostgreSQL schema: its name and a URL whose connections use it.
pub async fn fresh_postgres_schema() -> (String, String) {
    let url = postgres_url();
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&url)
        .await
        .expect("connect to BCDA_TEST_POSTGRES_URL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .expect("create schema");
    admin.close().await;
    let sep = if url.contains('?') { '&' } else { '?' };
    let scoped = format!("{url}{sep}options=-c%20search_path%3D{schema}");
    (schema, scoped)
}

/// Builder for a `TestApp` with non-default settings.
pub struct TestAppBuilder {
    backend: Backend,
    tokens: TokenSettings,
    http: HttpSettings,
    jobs: JobSettings,
    database_wait: Duration,
    store: bcda::files::StoreLocation,
    postgres_rewrite: Option<Box<dyn FnOnce(String) -> String + Send>>,
}

impl TestAppBuilder {
    /// Connects to PostgreSQL through `rewrite(url)` (e.g. a proxy the
    /// test can cut), the schema having been made over the real URL.
    pub fn postgres_rewrite(
        mut self,
        rewrite: impl FnOnce(String) -> String + Send + 'static,
    ) -> Self {
        self.postgres_rewrite = Some(Box::new(rewrite));
        self
    }

    /// Where export files go (default: the data directory).
    pub fn store(mut self, store: bcda::files::StoreLocation) -> Self {
        self.store = store;
        self
    }

    /// How long statements wait for the database (connection or lock).
    pub fn database_wait(mut self, wait: Duration) -> Self {
        self.database_wait = wait;
        self
    }

    pub fn token_rate_limit(mut self, limit: u64, window: Duration) -> Self {
        self.tokens = TokenSettings {
            rate_limit: limit,
            rate_window: window,
            ..self.tokens
        };
        self
    }

    pub fn tokens(mut self, tokens: TokenSettings) -> Self {
        self.tokens = tokens;
        self
    }

    pub fn jobs(mut self, jobs: JobSettings) -> Self {
        self.jobs = jobs;
        self
    }

    pub fn http(mut self, http: HttpSettings) -> Self {
        self.http = http;
        self
    }

    pub async fn build(self) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let data_dir = DataDir::new(dir.path().join("data"));
        let db = match self.backend {
            Backend::Sqlite => {
                let options = SqliteConnectOptions::new()
                    .filename(dir.path().join("bcda.db"))
                    .create_if_missing(true);
                Db::connect_sqlite(options, self.database_wait)
                    .await
                    .expect("sqlite")
            }
            Backend::Postgres => {
                let (_, url) = fresh_postgres_schema().await;
                let url = match self.postgres_rewrite {
                    Some(rewrite) => rewrite(url),
                    None => url,
                };
                let options = PgConnectOptions::from_str(&url).expect("pg url");
                Db::connect_postgres(options, 5, self.database_wait)
                    .await
                    .expect("postgres")
            }
        };
        let clock = ManualClock::new(START);
        let app = App::open(
            db,
            Arc::new(clock.clone()),
            AppConfig {
                sealing_key: SealingKey::File(dir.path().join("signing-keys.key")),
                data_dir,
                store: self.store,
                tokens: self.tokens,
                http: self.http,
                jobs: self.jobs,
            },
        )
        .await
        .expect("open app");
        let state = AppState(Arc::new(app));
        TestApp {
            router: bcda::http::router(state.clone()),
            state,
            clock,
            backend: self.backend,
            dir,
        }
    }
}

/// The application under test.
pub struct TestApp {
    pub state: AppState,
    pub router: Router,
    pub clock: ManualClock,
    pub backend: Backend,
    pub dir: tempfile::TempDir,
}

/// A response, read whole.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl TestResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an OperationOutcome with this status, issue code and diagnostics.
    pub fn assert_outcome(&self, status: u16, code: &str, diagnostics: &str) {
        assert_eq!(
            self.status.as_u16(),
            status,
            "status; body: {}",
            self.text()
        );
        assert_eq!(self.header("content-type"), Some("application/fhir+json"));
        let body = self.json();
        assert_eq!(body["resourceType"], "OperationOutcome");
        assert_eq!(body["issue"][0]["severity"], "error");
        assert_eq!(body["issue"][0]["code"], code);
        assert_eq!(body["issue"][0]["diagnostics"], diagnostics);
    }
}

impl TestApp {
    pub fn builder(backend: Backend) -> TestAppBuilder {
        TestAppBuilder {
            backend,
            tokens: TokenSettings::default(),
            http: HttpSettings::default(),
            jobs: JobSettings::default(),
            database_wait: bcda::store::DEFAULT_WAIT,
            store: bcda::files::StoreLocation::DataDir,
            postgres_rewrite: None,
        }
    }

    pub async fn new(backend: Backend) -> TestApp {
        Self::builder(backend).build().await
    }

    pub fn db(&self) -> &Db {
        &self.state.db
    }

    /// Sends a request to the router in-process (with a Host header unless
    /// the request has one).
    pub async fn send(&self, mut request: Request<Body>) -> TestResponse {
        if !request.headers().contains_key(header::HOST) {
            request
                .headers_mut()
                .insert(header::HOST, "bcda.test".parse().expect("host"));
        }
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("body").to_bytes();
        TestResponse {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    pub async fn get(&self, uri: &str) -> TestResponse {
        self.send(
            request(Method::GET, uri)
                .body(Body::empty())
                .expect("request"),
        )
        .await
    }

    pub async fn get_with_token(&self, uri: &str, token: &str) -> TestResponse {
        self.get_with_authorization(uri, &format!("Bearer {token}"))
            .await
    }

    pub async fn get_with_authorization(&self, uri: &str, authorization: &str) -> TestResponse {
        self.send(
            request(Method::GET, uri)
                .header(header::AUTHORIZATION, authorization)
                .body(Body::empty())
                .expect("request"),
        )
        .await
    }

    /// `POST /auth/token` with HTTP Basic credentials.
    pub async fn post_token(&self, client_id: &str, secret: &str) -> TestResponse {
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"));
        self.send(
            request(Method::POST, "/auth/token")
                .header(header::AUTHORIZATION, format!("Basic {basic}"))
                .body(Body::empty())
                .expect("request"),
        )
        .await
    }

    pub async fn create_aco(&self, cms_id: &str) {
        bcda::acos::create(
            self.db(),
            &self.clock,
            cms_id,
            &format!("ACO {cms_id}"),
            Default::default(),
        )
        .await
        .expect("create aco");
    }

    pub async fn create_credentials(&self, cms_id: &str) -> NewCredentials {
        credentials::create(self.db(), &self.clock, cms_id, DEFAULT_SECRET_LIFETIME)
            .await
            .expect("create credentials")
    }

    /// Creates the ACO and credentials and returns a fresh token.
    pub async fn token_for(&self, cms_id: &str) -> String {
        self.create_aco(cms_id).await;
        let creds = self.create_credentials(cms_id).await;
        self.token(&creds).await
    }

    /// A token limited to SMART `scope` for new credentials of the
    /// (existing) ACO `cms_id`, minted directly: what the SMART Backend
    /// Services flow ends in, for tests of what scopes allow.
    pub async fn scoped_token(&self, cms_id: &str, scope: &str) -> String {
        let creds = self.create_credentials(cms_id).await;
        let record = bcda::store::credentials::find(self.db(), &creds.client_id)
            .await
            .expect("find credentials")
            .expect("credentials exist");
        let scopes = bcda::domain::Scopes::grant(scope).expect("a grantable scope");
        self.state
            .tokens
            .mint(&record, &scopes, bcda::auth::TOKEN_LIFETIME)
            .await
            .expect("mint")
            .access_token
    }

    /// A fresh token for existing credentials.
    pub async fn token(&self, creds: &NewCredentials) -> String {
        let response = self
            .post_token(&creds.client_id, &creds.client_secret)
            .await;
        assert_eq!(
            response.status,
            StatusCode::OK,
            "token: {}",
            response.text()
        );
        response.json()["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }
}

fn request(method: Method, uri: &str) -> axum::http::request::Builder {
    Request::builder().method(method).uri(uri)
}

/// Decodes a JWT segment (0 = header, 1 = claims).
pub fn jwt_part(token: &str, index: usize) -> serde_json::Value {
    let part = token.split('.').nth(index).expect("jwt part");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("json")
}

/// Encodes JSON as a JWT segment.
pub fn jwt_segment(value: &serde_json::Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(value).expect("json"))
}

/// What the claims source says an export of `cms_id` as of `until` must
/// hold: the current attribution file's members minus those opted out.
pub async fn exportable_members(db: &Db, cms_id: &str, until: OffsetDateTime) -> Vec<String> {
    let source = source_of(db, cms_id).await;
    let files = source.attribution_files().await.expect("files");
    let current = bcda::http::routes::attribution_status::latest(
        &files,
        bcda::domain::AttributionKind::Default,
    )
    .expect("a current attribution file")
    .clone();
    let opted = source.opted_out(until).await.expect("opt-outs");
    source
        .attribution_members(&current)
        .await
        .expect("members")
        .into_iter()
        .filter(|m| !opted.contains(m))
        .collect()
}

/// The ids of the resources the claims source holds for `members`.
pub async fn source_ids(
    db: &Db,
    cms_id: &str,
    members: &[String],
    query: bcda::claims::ResourceQuery,
) -> std::collections::BTreeSet<String> {
    let source = source_of(db, cms_id).await;
    read_all(&source, members, query)
        .await
        .iter()
        .map(|line| {
            let resource: serde_json::Value = serde_json::from_slice(line).expect("json");
            resource["id"].as_str().expect("id").to_owned()
        })
        .collect()
}

/// Every resource a source streams for `mbis` (resolved as of the query's
/// `as_of`, as an export resolves them at its transaction time), in stream
/// order, each as its line of JSON; batches are never empty and hold whole
/// lines. The stream is read twice: as lines only, and taking the stored
/// source's packs as an export does (its batches put through the export's
/// gzip assembly and read back): both must give the same lines.
pub async fn read_all(
    source: &bcda::claims::ClaimsSource,
    mbis: &[String],
    query: bcda::claims::ResourceQuery,
) -> Vec<Vec<u8>> {
    let (lines, _) = read_all_counting_packs(source, mbis, query).await;
    lines
}

/// [`read_all`], and how many packs the read that takes them used.
pub async fn read_all_counting_packs(
    source: &bcda::claims::ClaimsSource,
    mbis: &[String],
    query: bcda::claims::ResourceQuery,
) -> (Vec<Vec<u8>>, usize) {
    let keys: Vec<_> = source
        .resolve(mbis, query.as_of)
        .await
        .expect("resolve")
        .into_iter()
        .flatten()
        .collect();
    let mut stream = source.stream(keys.clone(), query);
    // Streams are read on a thread that may block, as export tasks do.
    let runtime = tokio::runtime::Handle::current();
    let lines = tokio::task::spawn_blocking(move || {
        let mut all = Vec::new();
        while let Some(batch) = stream.next_batch_blocking(&runtime).expect("batch") {
            assert!(batch.resources > 0);
            assert!(batch.packs.is_empty(), "packs only when accepted");
            assert_eq!(batch.ndjson.last(), Some(&b'\n'));
            let lines: Vec<Vec<u8>> = batch.lines().map(<[u8]>::to_vec).collect();
            assert_eq!(lines.len(), batch.resources);
            assert_eq!(
                batch.ndjson.iter().filter(|&&b| b == b'\n').count(),
                batch.resources
            );
            all.extend(lines);
            stream.recycle(batch.ndjson);
        }
        all
    })
    .await
    .expect("reading the stream");

    let mut stream = source.stream(keys, query);
    stream.accept_packs(1);
    let runtime = tokio::runtime::Handle::current();
    let (packed, packs) = tokio::task::spawn_blocking(move || {
        use bcda::claims::BatchPart;
        let mut gzip = bcda::formats::deflate_segments::GzipAssembler::new(Vec::new(), 1);
        let (mut packs, mut resources) = (0, 0);
        while let Some(batch) = stream.next_batch_blocking(&runtime).expect("batch") {
            assert!(batch.resources > 0);
            resources += batch.resources;
            for part in batch.parts() {
                match part {
                    BatchPart::Ndjson(ndjson, lines) => {
                        assert_eq!(ndjson.iter().filter(|&&b| b == b'\n').count(), lines);
                        gzip.write(ndjson).expect("compress");
                    }
                    BatchPart::Pack {
                        deflated,
                        text,
                        lines,
                    } => {
                        packs += 1;
                        let text = match text {
                            Some(text) => text.to_vec(),
                            None => {
                                let mut text = Vec::new();
                                bcda::formats::deflate_segments::SegmentInflater::default()
                                    .inflate_into(deflated, &mut text)
                                    .expect("inflate");
                                text
                            }
                        };
                        assert_eq!(text.iter().filter(|&&b| b == b'\n').count(), lines);
                        gzip.append_segment(deflated, &text).expect("pack");
                    }
                }
            }
            stream.recycle(batch.ndjson);
        }
        let mut text = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(gzip.finish().expect("finish").as_slice()),
            &mut text,
        )
        .expect("gunzip");
        let lines: Vec<Vec<u8>> = text
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        assert_eq!(lines.len(), resources);
        (lines, packs)
    })
    .await
    .expect("reading the stream with packs");
    assert!(lines == packed, "reading packs changed what was read");
    (lines, packs)
}

/// The claims source of an ACO.
pub async fn source_of(db: &Db, cms_id: &str) -> bcda::claims::ClaimsSource {
    let aco = bcda::store::acos::find_by_cms_id(db, cms_id)
        .await
        .expect("db")
        .expect("aco");
    bcda::claims::ClaimsSource::for_aco(db, aco.id, cms_id)
        .await
        .expect("source")
}

/// A gzip body (one or more members) inflated.
pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(bytes), &mut out)
        .expect("gunzip");
    out
}

/// The names of the objects under `top/<job>/` in a file store (`exports`
/// or `archive`), sorted: what the store itself lists.
pub async fn stored_names(store: &bcda::files::FileStore, top: &str, job: i64) -> Vec<String> {
    use futures_util::StreamExt;
    let prefix = object_store::path::Path::from(format!("{top}/{job}"));
    let mut names: Vec<String> = store
        .object_store()
        .list(Some(&prefix))
        .map(|meta| {
            meta.expect("list")
                .location
                .filename()
                .expect("name")
                .to_owned()
        })
        .collect()
        .await;
    names.sort();
    names
}

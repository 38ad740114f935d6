//! The file store failing under an export: an upload that breaks mid-file
//! fails the attempt (retried later), leaves nothing visible, and the retry
//! writes the whole file.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use bcda::domain::JobStatus;
use bcda::files::{FileStore, StoreLocation};
use bcda::jobs::JobSettings;
use bcda::jobs::worker::{Worker, run_until_idle};
use bcda::store::{job_files, jobs, tasks};
use futures_util::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, UploadPart,
};

use crate::harness::{TestApp, backend_test, stored_names};
use crate::kickoff::{job_id, kick_ok, sandbox_app_with_token};

/// A store whose uploads fail at their `fail_at`-th part (counting every
/// part of every upload from 1) once armed; otherwise the directory store.
#[derive(Debug)]
struct BreakingStore {
    inner: LocalFileSystem,
    parts: Arc<AtomicUsize>,
    fail_at: Arc<AtomicUsize>,
}

impl fmt::Display for BreakingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BreakingStore({})", self.inner)
    }
}

#[derive(Debug)]
struct BreakingUpload {
    inner: Box<dyn MultipartUpload>,
    parts: Arc<AtomicUsize>,
    fail_at: Arc<AtomicUsize>,
}

#[async_trait]
impl MultipartUpload for BreakingUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let part = self.parts.fetch_add(1, Ordering::SeqCst) + 1;
        if part == self.fail_at.load(Ordering::SeqCst) {
            return Box::pin(async {
                Err(object_store::Error::Generic {
                    store: "test",
                    source: "connection reset mid-part".into(),
                })
            });
        }
        self.inner.put_part(data)
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        self.inner.complete().await
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.inner.abort().await
    }
}

#[async_trait]
impl ObjectStore for BreakingStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        Ok(Box::new(BreakingUpload {
            inner: self.inner.put_multipart_opts(location, opts).await?,
            parts: self.parts.clone(),
            fail_at: self.fail_at.clone(),
        }))
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}
backend_test! {
    async fn an_upload_broken_mid_file_leaves_nothing_and_the_retry_writes_it_whole(backend) {
        let dir = tempfile::tempdir().expect("tempdir");
        let fail_at = Arc::new(AtomicUsize::new(usize::MAX));
        let parts = Arc::new(AtomicUsize::new(0));
        let breaking = BreakingStore {
            inner: LocalFileSystem::new_with_prefix(dir.path()).expect("local"),
            parts: parts.clone(),
            fail_at: fail_at.clone(),
        };
        // 64 KiB parts: A9994's ExplanationOfBenefit file spans many.
        let store = FileStore::new(Arc::new(breaking), None, "breaking test store".into(), 64 * 1024);
        let settings = JobSettings { batch_eob: 10_000, ..Default::default() };
        let builder = TestApp::builder(backend).jobs(settings).store(StoreLocation::Given(store.clone()));
        let (app, token) = sandbox_app_with_token(builder, "A9994").await;
        let id = job_id(&kick_ok(&app, &token, "/api/v2/Patient/$export?_type=ExplanationOfBenefit").await);
        let worker = Worker::new(app.state.env.clone(), "store-test");
        assert!(worker.run_one().await.expect("plan"));

        // The third part of the next upload breaks.
        fail_at.store(parts.load(Ordering::SeqCst) + 3, Ordering::SeqCst);
        assert!(worker.run_one().await.expect("the attempt is recorded"), "the export ran");
        assert!(parts.load(Ordering::SeqCst) >= 3, "the upload never reached its third part");
        let job = jobs::find(app.db(), id).await.expect("db").expect("job");
        assert!(job.status.is_active(), "one broken upload does not end the job: {:?}", job.status);
        assert_eq!(job.tasks_done, 0);
        assert!(stored_names(&store, "exports", id).await.is_empty(), "a partial file is visible: {:?}", stored_names(&store, "exports", id).await);
        assert!(job_files::list(app.db(), id).await.expect("files").is_empty());
        let failures = tasks::failures(app.db(), id).await.expect("failures");
        assert!(failures.is_empty(), "the task is retried, not given up: {failures:?}");

        // Due again after its backoff: the retry writes the file whole.
        app.clock.advance(time::Duration::try_from(app.state.jobs.retry_backoff).expect("backoff") * 4);
        run_until_idle(&app.state.env).await.expect("worker");
        let job = jobs::find(app.db(), id).await.expect("db").expect("job");
        assert_eq!(job.status, JobStatus::Completed);
        let recorded = job_files::list(app.db(), id).await.expect("files");
        let expected: Vec<String> = {
            let mut names: Vec<String> = recorded.iter().map(|f| format!("{}.gz", f.name)).collect();
            names.sort();
            names
        };
        assert_eq!(stored_names(&store, "exports", id).await, expected, "only the manifest's files are stored");
        let eob = recorded.iter().find(|f| f.resource_type == "ExplanationOfBenefit").expect("an EOB file");
        assert!(eob.stored_bytes > 3 * 64 * 1024, "the file spans more than three parts");
        let served = app
            .get_with_token(&format!("/data/{id}/{}", eob.name), &token)
            .await;
        assert_eq!(served.status, axum::http::StatusCode::OK);
        assert_eq!(served.body.len() as i64, eob.ndjson_bytes);
        assert_eq!(served.text().lines().count() as i64, eob.resource_count);
    }
}

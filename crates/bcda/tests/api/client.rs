//! `bcda client` (issue 16) against an in-process sandbox served on an
//! ephemeral port: a full export, verified and not fetched twice; a
//! download cut mid-file and resumed with Range, within a run and by
//! `resume` after the command gave up; an access token that expires
//! mid-download (the server's clock moved on) renewed; a 429 answered by
//! following the running job; two syncs, the second fetching only what
//! changed; refusals that say what to do. The export queue is drained by a
//! loop the test can pause.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bcda::claims::ResourceQuery;
use bcda::client::ClientError;
use bcda::client::export::{self, ExportOptions, Finished};
use bcda::client::progress::{Display, Reporter};
use bcda::client::request::{Api, ExportRequest, Scope, ServerSettings, Timing};
use bcda::client::session::Session;
use bcda::client::sync::{self, Ledger, SyncOptions};
use bcda::domain::{ApiVersion, ResourceType};
use bcda::http::server::{ConnectionSettings, serve};
use bcda::jobs::JobSettings;
use bcda::sandbox::{self, SandboxCredential};
use time::OffsetDateTime;
use tokio::sync::watch;

use crate::cutting_proxy::CuttingProxy;
use crate::harness::{Backend, TestApp, backend_test, exportable_members, source_ids};

/// The sandbox, served on 127.0.0.1, with its export queue drained.
struct Served {
    app: TestApp,
    addr: SocketAddr,
    credentials: Vec<SandboxCredential>,
    /// While false, the drainer leaves the queue alone.
    working: Arc<AtomicBool>,
    stop: watch::Sender<bool>,
}

impl Served {
    async fn start(backend: Backend, jobs: JobSettings) -> Served {
        Served::start_with(TestApp::builder(backend).jobs(jobs)).await
    }

    async fn start_with(builder: crate::harness::TestAppBuilder) -> Served {
        let app = builder.build().await;
        let data_dir = app.state.data_dir.root().to_owned();
        let credentials = sandbox::prepare(app.db(), &app.clock, &data_dir)
            .await
            .expect("sandbox");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(serve(
            listener,
            app.router.clone(),
            ConnectionSettings::default(),
            stopped.clone(),
        ));
        let working = Arc::new(AtomicBool::new(true));
        let (env, gate, mut stopped) = (app.state.env.clone(), working.clone(), stopped);
        tokio::spawn(async move {
            loop {
                if gate.load(Ordering::SeqCst) {
                    bcda::jobs::worker::run_until_idle(&env)
                        .await
                        .expect("export tasks");
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                    _ = stopped.changed() => break,
                }
            }
        });
        Served {
            app,
            addr,
            credentials,
            working,
            stop,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn credential(&self, cms_id: &str) -> &SandboxCredential {
        self.credentials
            .iter()
            .find(|c| c.cms_id == cms_id)
            .expect("sandbox ACO")
    }

    /// A client session for `cms_id` through `server` (this server or a proxy).
    fn session(&self, server: &str, cms_id: &str) -> Arc<Session> {
        session_with(server, self.credential(cms_id), fast())
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Short waits: the tests' polls and retries need not take seconds.
fn fast() -> Timing {
    Timing {
        max_poll_interval: Duration::from_millis(50),
        retry_delay: Duration::from_millis(20),
        attempts: 4,
        network_timeout: Duration::from_secs(20),
    }
}

fn session_with(server: &str, credential: &SandboxCredential, timing: Timing) -> Arc<Session> {
    let settings = ServerSettings::new(
        server,
        &credential.client_id,
        &credential.client_secret,
        timing,
    )
    .expect("settings");
    Arc::new(Session::new(settings).expect("session"))
}

fn quiet() -> Reporter {
    Reporter::new(Display::Quiet)
}

fn group_all(api: Api) -> ExportRequest {
    ExportRequest {
        api,
        scope: Scope::GroupAll,
        types: Vec::new(),
        since: None,
        type_filters: Vec::new(),
    }
}

fn options(dir: &Path, connections: usize) -> ExportOptions {
    ExportOptions {
        dir: dir.to_owned(),
        keep_gzip: false,
        connections,
    }
}

/// The saved files' resource ids by type (error files aside), read from
/// the directory as a user's tool would.
fn saved_ids(dir: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut ids: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).expect("dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            assert!(
                !name.ends_with(".part"),
                "no temporary file is left: {name}"
            );
            if !name.ends_with(".ndjson") || name.ends_with("-error.ndjson") {
                continue;
            }
            for line in std::fs::read_to_string(&path).expect("read").lines() {
                let resource: serde_json::Value = serde_json::from_str(line).expect("json");
                let kind = resource["resourceType"].as_str().expect("type").to_owned();
                let id = resource["id"].as_str().expect("id").to_owned();
                assert!(ids.entry(kind).or_default().insert(id), "no resource twice");
            }
        }
    }
    ids
}

/// What the generator holds for A9994's exportable members, per type, for
/// a v2 export as of `until` with `since`.
async fn source_v2(
    app: &TestApp,
    since: Option<OffsetDateTime>,
    until: OffsetDateTime,
) -> BTreeMap<String, BTreeSet<String>> {
    let members = exportable_members(app.db(), "A9994", until).await;
    source_of_members(app, &members, since, until).await
}

/// What a v2 Group/all export of A9994 with `_since` holds as of `until`:
/// the newly attributed members' full history, and the others' changes.
async fn source_group_all_since(
    app: &TestApp,
    since: OffsetDateTime,
    until: OffsetDateTime,
) -> (
    BTreeMap<String, BTreeSet<String>>,
    BTreeMap<String, BTreeSet<String>>,
) {
    let source = crate::harness::source_of(app.db(), "A9994").await;
    let files = source.attribution_files().await.expect("files");
    let selection = bcda::jobs::attribution_selection::select(
        &files,
        bcda::domain::RequestKind::GroupAll,
        Some(since),
        until,
        "A9994",
    )
    .expect("files for _since");
    let opted = source.opted_out(until).await.expect("opt-outs");
    let previous: BTreeSet<String> = match &selection.previous {
        Some(file) => source
            .attribution_members(file)
            .await
            .expect("members")
            .into_iter()
            .collect(),
        None => BTreeSet::new(),
    };
    let (new, existing): (Vec<String>, Vec<String>) = source
        .attribution_members(&selection.current)
        .await
        .expect("members")
        .into_iter()
        .filter(|m| !opted.contains(m))
        .partition(|m| !previous.contains(m));
    (
        source_of_members(app, &new, None, until).await,
        source_of_members(app, &existing, Some(since), until).await,
    )
}

async fn source_of_members(
    app: &TestApp,
    members: &[String],
    since: Option<OffsetDateTime>,
    until: OffsetDateTime,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut all = BTreeMap::new();
    if members.is_empty() {
        return all;
    }
    for kind in [
        ResourceType::Patient,
        ResourceType::Coverage,
        ResourceType::ExplanationOfBenefit,
    ] {
        let query = ResourceQuery {
            version: ApiVersion::V2,
            resource_type: kind,
            since,
            until,
            as_of: until,
            claims_through: None,
            eob_filter: None,
        };
        let ids = source_ids(app.db(), "A9994", members, query).await;
        if !ids.is_empty() {
            all.insert(kind.as_str().to_owned(), ids);
        }
    }
    all
}

fn parse_instant(text: &str) -> OffsetDateTime {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).expect("instant")
}

/// The manifest saved beside the files.
fn saved_manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest"))
        .expect("json")
}

fn manifest_files(dir: &Path) -> usize {
    let manifest = saved_manifest(dir);
    manifest["output"].as_array().expect("output").len()
        + manifest["error"].as_array().map_or(0, Vec::len)
}

backend_test! {
    async fn an_export_is_downloaded_verified_and_not_fetched_twice(backend) {
        let served = Served::start(backend, JobSettings::default()).await;
        let out = tempfile::tempdir().expect("dir");
        let session = served.session(&served.url(), "A9994");
        let first = export::export(session.clone(), &group_all(Api::V2), &options(out.path(), 4), &quiet())
            .await
            .expect("export");
        assert_eq!(first.files, manifest_files(out.path()));
        assert_eq!(first.downloaded, first.files);
        let until = parse_instant(&first.transaction_time);
        assert_eq!(saved_ids(out.path()), source_v2(&served.app, None, until).await);
        assert!(first.resources > 1_000, "{first:?}");

        // Files are private to their owner.
        use std::os::unix::fs::PermissionsExt;
        for entry in std::fs::read_dir(out.path()).expect("dir") {
            let mode = entry.expect("entry").metadata().expect("meta").permissions().mode();
            assert_eq!(mode & 0o077, 0, "no access for others");
        }

        // The same command again: nothing downloaded, nothing kicked off.
        let again = export::export(session.clone(), &group_all(Api::V2), &options(out.path(), 4), &quiet())
            .await
            .expect("again");
        assert_eq!((again.downloaded, again.received_bytes, again.job_url.clone()), (0, 0, first.job_url.clone()));

        // Another request in the same directory is refused, naming both.
        let other = ExportRequest { types: vec!["Patient".into()], ..group_all(Api::V2) };
        let err = export::export(session.clone(), &other, &options(out.path(), 4), &quiet())
            .await
            .expect_err("another export");
        assert!(matches!(err, ClientError::Usage(_)), "{err}");
        assert!(err.to_string().contains("already holds another export"), "{err}");

        // --keep-gzip keeps the server's gzip bytes, which inflate to the same resources.
        let gz = tempfile::tempdir().expect("dir");
        let request = ExportRequest { types: vec!["Patient".into()], ..group_all(Api::V1) };
        let kept = export::export(session, &request, &ExportOptions { keep_gzip: true, ..options(gz.path(), 2) }, &quiet())
            .await
            .expect("gzip export");
        let mut lines = 0;
        for entry in std::fs::read_dir(gz.path()).expect("dir") {
            let path = entry.expect("entry").path();
            let name = path.to_string_lossy().into_owned();
            if name.ends_with(".ndjson.gz") && !name.ends_with("-error.ndjson.gz") {
                lines += crate::harness::gunzip(&std::fs::read(&path).expect("read")).split(|&b| b == b'\n').filter(|l| !l.is_empty()).count();
            } else {
                assert!(!name.ends_with(".ndjson"), "kept as gzip: {name}");
            }
        }
        assert_eq!(lines as u64, kept.resources);
    }
}

backend_test! {
    async fn a_download_cut_mid_file_resumes_with_range(backend) {
        let served = Served::start(backend, JobSettings::default()).await;
        let proxy = CuttingProxy::start(served.addr).await;
        // Past the token, kick-off, polls and manifest; inside the
        // ExplanationOfBenefit file (about 2 MB of gzip).
        proxy.cut_after(400_000);
        let out = tempfile::tempdir().expect("dir");
        let finished = export::export(served.session(&proxy.url(), "A9994"), &group_all(Api::V2), &options(out.path(), 1), &quiet())
            .await
            .expect("export");
        assert_eq!(proxy.cuts(), 1);
        assert!(proxy.sent_count("\r\nrange: bytes=") >= 1, "the broken file was resumed, not fetched again");
        assert!(proxy.received_count("HTTP/1.1 206 ") >= 1);
        assert_eq!(finished.files, manifest_files(out.path()));
        let until = parse_instant(&finished.transaction_time);
        assert_eq!(saved_ids(out.path()), source_v2(&served.app, None, until).await);
    }
}

backend_test! {
    async fn a_corrupted_file_is_fetched_again_then_reported(backend) {
        let served = Served::start(backend, JobSettings::default()).await;
        let proxy = CuttingProxy::start(served.addr).await;
        let session = served.session(&proxy.url(), "A9994");

        // One flipped byte: the file fails its check and is fetched again.
        proxy.corrupt_after(400_000, 1);
        let out = tempfile::tempdir().expect("dir");
        let finished = export::export(session.clone(), &group_all(Api::V2), &options(out.path(), 1), &quiet())
            .await
            .expect("export");
        assert_eq!(proxy.corruptions(), 1);
        let until = parse_instant(&finished.transaction_time);
        assert_eq!(saved_ids(out.path()), source_v2(&served.app, None, until).await);

        // Every fetch corrupted: reported after the second, bytes kept aside.
        proxy.corrupt_after(400_000, usize::MAX);
        let out = tempfile::tempdir().expect("dir");
        let request = ExportRequest { types: vec!["ExplanationOfBenefit".into()], ..group_all(Api::V2) };
        let err = export::export(session, &request, &options(out.path(), 1), &quiet())
            .await
            .expect_err("corrupt every time");
        assert!(matches!(err, ClientError::Verification(_)), "{err}");
        assert_eq!(err.exit_code(), 6);
        assert!(err.to_string().contains("did not match the manifest twice"), "{err}");
        let rejected = std::fs::read_dir(out.path())
            .expect("dir")
            .filter(|e| e.as_ref().expect("entry").file_name().to_string_lossy().ends_with(".rejected"))
            .count();
        assert_eq!(rejected, 1);
    }
}

backend_test! {
    async fn a_command_that_gave_up_is_resumed_where_it_stopped(backend) {
        let served = Served::start(backend, JobSettings::default()).await;
        let proxy = CuttingProxy::start(served.addr).await;
        proxy.cut_after(400_000);
        proxy.then_refuse();
        let out = tempfile::tempdir().expect("dir");
        let session = served.session(&proxy.url(), "A9994");
        let err = export::export(session.clone(), &group_all(Api::V2), &options(out.path(), 1), &quiet())
            .await
            .expect_err("the network is gone");
        assert!(matches!(err, ClientError::Network(_)), "{err}");
        assert_eq!(err.exit_code(), 7);
        assert!(err.to_string().contains("continues where it stopped"), "{err}");
        let state = export::state_of(out.path()).expect("state");
        assert!(state.pending() > 0);
        let partial: Vec<u64> = state
            .files
            .iter()
            .filter_map(|f| std::fs::metadata(f.part_path(out.path())).ok())
            .map(|m| m.len())
            .collect();
        assert!(partial.iter().any(|&len| len > 0), "a partial file is kept: {partial:?}");

        proxy.heal();
        let ranges_before = proxy.sent_count("\r\nrange: bytes=");
        let finished = export::resume(session, &options(out.path(), 1), &quiet()).await.expect("resume");
        assert!(proxy.sent_count("\r\nrange: bytes=") > ranges_before, "resumed with Range");
        assert!(finished.downloaded >= 1);
        assert_eq!(export::state_of(out.path()).expect("state").pending(), 0);
        let until = parse_instant(&finished.transaction_time);
        assert_eq!(saved_ids(out.path()), source_v2(&served.app, None, until).await);
    }
}

backend_test! {
    async fn a_token_that_expires_mid_download_is_renewed(backend) {
        let served = Served::start(backend, JobSettings::default()).await;
        let proxy = CuttingProxy::start(served.addr).await;
        proxy.cut_after(400_000);
        // The connection breaks and, before the client comes back, its
        // 20-minute token has expired on the server's clock.
        let clock = served.app.clock.clone();
        proxy.on_cut(move || clock.advance(time::Duration::minutes(21)));
        let out = tempfile::tempdir().expect("dir");
        let finished = export::export(served.session(&proxy.url(), "A9994"), &group_all(Api::V2), &options(out.path(), 1), &quiet())
            .await
            .expect("export");
        assert!(proxy.received_count("HTTP/1.1 401 ") >= 1, "the old token was refused");
        assert_eq!(proxy.sent_count("post /auth/token "), 2, "one renewal");
        assert!(proxy.sent_count("\r\nrange: bytes=") >= 1);
        assert_eq!(finished.files, manifest_files(out.path()));
        let until = parse_instant(&finished.transaction_time);
        assert_eq!(saved_ids(out.path()), source_v2(&served.app, None, until).await);
    }
}

backend_test! {
    async fn a_429_leads_to_the_running_job(backend) {
        // The sandbox ACOs are exempt from the one-job rule by default, as
        // in BCDA; here A9994 is not.
        let jobs = JobSettings { duplicate_exempt: bcda::export::duplicates::ExemptAcos::NONE, ..JobSettings::default() };
        let served = Served::start(backend, jobs).await;
        let proxy = CuttingProxy::start(served.addr).await;
        let session = served.session(&proxy.url(), "A9994");
        let token = session.token().await.expect("token");

        // The same request, already queued: the client follows that job.
        served.working.store(false, Ordering::SeqCst);
        let queued = kick_off(&served, &token, "/api/v2/Group/all/$export").await;
        let out = tempfile::tempdir().expect("dir");
        let run = tokio::spawn({
            let (session, dir) = (session.clone(), out.path().to_owned());
            async move { export::export(session, &group_all(Api::V2), &options(&dir, 2), &quiet()).await }
        });
        wait_for(|| proxy.sent_count("get /api/v2/jobs?_status=") >= 1).await;
        served.working.store(true, Ordering::SeqCst);
        let finished = run.await.expect("task").expect("export");
        assert_eq!(proxy.received_count("HTTP/1.1 429 "), 1);
        assert_eq!(job_id(&finished.job_url), job_id(&queued), "followed the running job");
        assert_eq!(jobs_of_a9994(&served).await, 1);

        // Another request whose types overlap: the client waits for that
        // job to end, then starts its own.
        served.working.store(false, Ordering::SeqCst);
        let other = kick_off(&served, &token, "/api/v2/Group/all/$export?_type=Patient").await;
        let out2 = tempfile::tempdir().expect("dir");
        let run = tokio::spawn({
            let (session, dir) = (session.clone(), out2.path().to_owned());
            async move { export::export(session, &group_all(Api::V2), &options(&dir, 2), &quiet()).await }
        });
        wait_for(|| proxy.sent_count("get /api/v2/jobs?_status=") >= 2).await;
        served.working.store(true, Ordering::SeqCst);
        let finished: Finished = run.await.expect("task").expect("export");
        assert_ne!(job_id(&finished.job_url), job_id(&other));
        assert_eq!(proxy.received_count("HTTP/1.1 429 "), 2);
        assert_eq!(jobs_of_a9994(&served).await, 3);
        let until = parse_instant(&finished.transaction_time);
        assert_eq!(saved_ids(out2.path()), source_v2(&served.app, None, until).await);
    }
}

fn job_id(job_url: &str) -> &str {
    job_url.rsplit('/').next().expect("id")
}

/// Kicks off `path` directly; returns the job URL.
async fn kick_off(served: &Served, token: &str, path: &str) -> String {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", served.url()))
        .bearer_auth(token)
        .header("Accept", "application/fhir+json")
        .header("Prefer", "respond-async")
        .send()
        .await
        .expect("kick-off");
    assert_eq!(response.status(), 202);
    response.headers()["content-location"]
        .to_str()
        .expect("location")
        .to_owned()
}

async fn jobs_of_a9994(served: &Served) -> usize {
    let aco = bcda::store::acos::find_by_cms_id(served.app.db(), "A9994")
        .await
        .expect("db")
        .expect("aco");
    bcda::store::jobs::list(served.app.db(), Some(aco.id))
        .await
        .expect("jobs")
        .len()
}

/// Waits (up to 30 s) until `done` holds.
async fn wait_for(done: impl Fn() -> bool) {
    for _ in 0..3_000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the client never got there");
}

backend_test! {
    async fn a_second_sync_fetches_only_what_changed(backend) {
        let served = Served::start(backend, JobSettings::default()).await;
        let top = tempfile::tempdir().expect("dir");
        let session = served.session(&served.url(), "A9994");
        let sync_options = SyncOptions {
            dir: top.path().to_owned(),
            api: Api::V2,
            scope: Scope::GroupAll,
            types: Vec::new(),
            type_filters: Vec::new(),
            keep_gzip: false,
            connections: 3,
        };
        let first = sync::sync(session.clone(), &sync_options, &quiet()).await.expect("first sync");
        assert_eq!(first.runs.len(), 1);
        let run1 = &first.runs[0];
        let t1 = parse_instant(&run1.transaction_time);
        assert_eq!(saved_ids(&run1.dir), source_v2(&served.app, None, t1).await);
        assert_eq!(first.next_since.as_deref(), Some(run1.transaction_time.as_str()));

        // A month later.
        served.app.clock.advance(time::Duration::days(30));
        let second = sync::sync(session, &sync_options, &quiet()).await.expect("second sync");
        let run2 = &second.runs[0];
        assert_ne!(run1.dir, run2.dir, "each run in its own folder");
        let t2 = parse_instant(&run2.transaction_time);
        // Newly attributed beneficiaries' full history, and the others' changes.
        let (new, existing) = source_group_all_since(&served.app, t1, t2).await;
        let mut changed = existing.clone();
        for (kind, ids) in &new {
            changed.entry(kind.clone()).or_default().extend(ids.iter().cloned());
        }
        assert_eq!(saved_ids(&run2.dir), changed);
        // The newly attributed beneficiaries' files are kept apart (the
        // server marks each file's cohort in the manifest).
        assert!(!new.is_empty(), "the test needs newly attributed beneficiaries");
        assert_eq!(saved_ids(&run2.dir.join(export::NEW_BENEFICIARIES_DIR)), new);
        let changed_count: usize = changed.values().map(BTreeSet::len).sum();
        assert_eq!(run2.resources as usize, changed_count);
        assert!(run2.resources > 0 && run2.resources < run1.resources, "{} then {}", run1.resources, run2.resources);
        assert!(saved_manifest(&run2.dir)["request"].as_str().expect("request").contains("_since="));

        let ledger = Ledger::load(top.path()).expect("ledger");
        let stream = ledger.streams.values().next().expect("one stream");
        assert_eq!(stream.aco, "A9994");
        assert_eq!(stream.since.as_deref(), Some(run2.transaction_time.as_str()));
        assert_eq!(stream.runs.len(), 2);
        assert_eq!(stream.runs[1].since.as_deref(), Some(run1.transaction_time.as_str()));
    }
}

backend_test! {
    async fn refusals_say_what_happened_and_what_to_do(backend) {
        let served = Served::start(backend, JobSettings::default()).await;
        let out = tempfile::tempdir().expect("dir");
        let run = |cms_id: &str| {
            let session = served.session(&served.url(), cms_id);
            let dir = out.path().join(cms_id);
            async move { export::export(session, &group_all(Api::V2), &options(&dir, 1), &quiet()).await }
        };
        let denied = run("A9997").await.expect_err("deny-listed");
        assert_eq!(denied.exit_code(), 4);
        assert!(denied.to_string().contains("deny list"), "{denied}");
        assert!(denied.to_string().contains("ACO (CMS_ID: A9997) is unauthorized"), "{denied}");
        let stale = run("TEST995").await.expect_err("no attribution");
        assert_eq!(stale.exit_code(), 4);
        assert!(stale.to_string().contains("no up-to-date attribution"), "{stale}");

        // A sync the server refuses keeps no run and leaves _since alone.
        let top = out.path().join("sync");
        let sync_options = SyncOptions {
            dir: top.clone(),
            api: Api::V2,
            scope: Scope::GroupAll,
            types: Vec::new(),
            type_filters: Vec::new(),
            keep_gzip: false,
            connections: 1,
        };
        let refused = sync::sync(served.session(&served.url(), "TEST995"), &sync_options, &quiet()).await.expect_err("no attribution");
        assert_eq!(refused.exit_code(), 4);
        assert!(refused.to_string().contains("no up-to-date attribution"), "{refused}");
        let ledger = Ledger::load(&top).expect("ledger");
        let stream = ledger.streams.values().next().expect("the stream is known");
        assert!(stream.runs.is_empty() && stream.since.is_none(), "{stream:?}");
        assert!(!top.join("TEST995").join("v2-all").read_dir().is_ok_and(|mut d| d.next().is_some()), "no run folder left");

        let wrong = SandboxCredential { client_secret: "0".repeat(64), ..served.credential("A9994").clone() };
        let err = export::export(session_with(&served.url(), &wrong, fast()), &group_all(Api::V2), &options(&out.path().join("wrong"), 1), &quiet())
            .await
            .expect_err("wrong secret");
        assert_eq!(err.exit_code(), 3);
        assert!(err.to_string().contains("BCDA_CLIENT_SECRET"), "{err}");

        let nobody = session_with("http://127.0.0.1:9", served.credential("A9994"), fast());
        let err = export::export(nobody, &group_all(Api::V2), &options(&out.path().join("down"), 1), &quiet())
            .await
            .expect_err("no server");
        assert_eq!(err.exit_code(), 7);
        assert!(err.to_string().contains("failed 4 times in a row"), "{err}");
    }
}

backend_test! {
    async fn ctrl_c_leaves_a_resumable_state_or_cancels_the_job(backend) {
        let served = Served::start(backend, JobSettings::default()).await;
        served.working.store(false, Ordering::SeqCst);
        let credential = served.credential("A9994").clone();
        let top = tempfile::tempdir().expect("dir");
        let interrupt = |dir: &Path, extra: &[&str]| {
            let mut command = std::process::Command::new(crate::cli::BIN);
            command
                .env_clear()
                .env("BCDA_CLIENT_SECRET", &credential.client_secret)
                .args(["client", "export", "--server", &served.url(), "--client-id", &credential.client_id, "--out"])
                .arg(dir)
                .args(extra)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped());
            let child = command.spawn().expect("spawn bcda client");
            let dir = dir.to_owned();
            async move {
                // Interrupted while it polls the (paused) job.
                wait_for(|| export::state_of(&dir).is_ok_and(|s| s.job_url.is_some())).await;
                tokio::time::sleep(Duration::from_millis(200)).await;
                let killed = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
                assert!(killed.success());
                let output = tokio::task::spawn_blocking(move || child.wait_with_output()).await.expect("join").expect("wait");
                (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
            }
        };
        let kept = top.path().join("kept");
        let (code, stderr) = interrupt(&kept, &[]).await;
        assert_eq!(code, Some(130), "{stderr}");
        assert!(stderr.contains(&format!("run `bcda client resume {}`", kept.display())), "{stderr}");
        let job = export::state_of(&kept).expect("state").job_url.expect("job");

        let cancelled = top.path().join("cancelled");
        let (code, stderr) = interrupt(&cancelled, &["--cancel-on-interrupt"]).await;
        assert_eq!(code, Some(130), "{stderr}");
        assert!(stderr.contains("was cancelled on the server"), "{stderr}");
        let other = export::state_of(&cancelled).expect("state").job_url.expect("job");
        let status = |url: &str| {
            let id: i64 = job_id(url).parse().expect("id");
            let db = served.app.db().clone();
            async move { bcda::store::jobs::find(&db, id).await.expect("db").expect("job").status }
        };
        assert_eq!(status(&other).await, bcda::domain::JobStatus::Cancelled);
        assert_ne!(status(&job).await, bcda::domain::JobStatus::Cancelled);

        // The first run resumes to the end.
        served.working.store(true, Ordering::SeqCst);
        let finished = export::resume(served.session(&served.url(), "A9994"), &options(&kept, 2), &quiet()).await.expect("resume");
        assert_eq!(job_id(&finished.job_url), job_id(&job));
        assert_eq!(finished.files, manifest_files(&kept));
    }
}

backend_test! {
    async fn signed_file_urls_are_fetched_without_the_token(backend) {
        let http = bcda::app::HttpSettings { signed_urls: Some(Duration::from_secs(900)), ..bcda::app::HttpSettings::default() };
        let served = Served::start_with(TestApp::builder(backend).http(http)).await;
        let proxy = CuttingProxy::start(served.addr).await;
        let out = tempfile::tempdir().expect("dir");
        let finished = export::export(served.session(&proxy.url(), "A9994"), &group_all(Api::V2), &options(out.path(), 2), &quiet())
            .await
            .expect("export");
        assert_eq!(saved_manifest(out.path())["requiresAccessToken"], false);
        let downloads: Vec<String> = proxy.request_heads().into_iter().filter(|h| h.starts_with("get /data/")).collect();
        assert_eq!(downloads.len(), finished.files);
        for head in downloads {
            assert!(head.contains("signature="), "{head}");
            assert!(!head.contains("\r\nauthorization:"), "the manifest said no token is needed: {head}");
        }
    }
}

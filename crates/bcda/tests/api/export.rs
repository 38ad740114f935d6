//! The export engine end to end: a job planned into tasks, run by the
//! worker, its status, manifest and files.

use std::collections::BTreeSet;
use std::io::Read;

use axum::http::StatusCode;
use bcda::auth::tokens::Principal;
use bcda::domain::RequestKind;
use bcda::domain::{ApiVersion, ResourceType};
use bcda::export::request::ExportRequest;
use bcda::jobs::kickoff;
use bcda::jobs::worker::run_until_idle;
use bcda::sandbox;

use crate::harness::{TestApp, backend_test, exportable_members, source_ids};

/// A fresh token for the sandbox's A9994.
async fn a9994_token(app: &TestApp) -> String {
    let data_dir = app.state.data_dir.root().to_owned();
    let saved: Vec<sandbox::SandboxCredential> =
        serde_json::from_slice(&std::fs::read(sandbox::credentials_path(&data_dir)).expect("file"))
            .expect("json");
    app.post_token(&saved[0].client_id, &saved[0].client_secret)
        .await
        .json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned()
}

/// A sandbox app with A9994's principal and a token.
async fn sandbox_app(backend: crate::harness::Backend) -> (TestApp, Principal, String) {
    sandbox_in(TestApp::new(backend).await).await
}

/// The sandbox prepared in `app`, with A9994's principal and a token.
async fn sandbox_in(app: TestApp) -> (TestApp, Principal, String) {
    let data_dir = app.state.data_dir.root().to_owned();
    let creds = sandbox::prepare(app.db(), &app.clock, &data_dir)
        .await
        .expect("sandbox");
    let a9994 = &creds[0];
    let token = a9994_token(&app).await;
    let aco = bcda::store::acos::find_by_cms_id(app.db(), "A9994")
        .await
        .expect("db")
        .expect("aco");
    let principal = Principal {
        aco_id: aco.id,
        cms_id: aco.cms_id,
        client_id: a9994.client_id.clone(),
        token_id: String::new(),
        scopes: bcda::domain::Scopes::full(),
    };
    (app, principal, token)
}

/// A v1 Patient/$export of Patient resources only.
fn v1_patient_request() -> ExportRequest {
    ExportRequest {
        version: ApiVersion::V1,
        kind: RequestKind::Patient,
        resource_types: vec![ResourceType::Patient],
        since: None,
        until: None,
        patients: Vec::new(),
        type_filter: None,
    }
}

/// The URL of [`v1_patient_request`].
const V1_PATIENT_URL: &str = "http://bcda.test/api/v1/Patient/$export?_type=Patient";

/// The resource ids the source holds for the ACO's current, not opted-out
/// members, of one type, as of `until`.
async fn expected_ids(
    app: &TestApp,
    principal: &Principal,
    version: ApiVersion,
    resource_type: ResourceType,
    until: time::OffsetDateTime,
) -> BTreeSet<String> {
    let members = exportable_members(app.db(), &principal.cms_id, until).await;
    let query = bcda::claims::ResourceQuery {
        version,
        resource_type,
        since: None,
        until,
        as_of: until,
        claims_through: None,
        eob_filter: None,
    };
    source_ids(app.db(), &principal.cms_id, &members, query).await
}

backend_test! {
    async fn a_patient_export_runs_to_a_manifest_of_exactly_the_source(backend) {
        let (app, principal, token) = sandbox_app(backend).await;
        let job_id = kickoff::start(
            &app.state,
            &principal,
            &ExportRequest {
                version: ApiVersion::V2,
                kind: RequestKind::Patient,
                resource_types: vec![ResourceType::Patient, ResourceType::Coverage],
                since: None,
                until: None,
                patients: Vec::new(),
                type_filter: None,
            },
            "http://bcda.test/api/v2/Patient/$export?_type=Patient,Coverage",
        )
        .await
        .expect("kick-off");
        let status_url = format!("/api/v2/jobs/{job_id}");
        let pending = app.get_with_token(&status_url, &token).await;
        assert_eq!(pending.status, StatusCode::ACCEPTED);
        assert_eq!(pending.header("x-progress"), Some("Pending"));
        assert!(pending.header("retry-after").is_some());

        let ran = run_until_idle(&app.state.env).await.expect("worker");
        assert!(ran >= 3, "a planning task and at least one task per type, ran {ran}");

        let done = app.get_with_token(&status_url, &token).await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.text());
        assert!(done.header("expires").is_some_and(|e| e.ends_with(" GMT")));
        let manifest = done.json();
        assert_eq!(manifest["JobID"], job_id);
        assert_eq!(manifest["requiresAccessToken"], true);
        assert_eq!(manifest["request"], "http://bcda.test/api/v2/Patient/$export?_type=Patient,Coverage");
        let job = bcda::store::jobs::find(app.db(), job_id).await.expect("db").expect("job");
        let until = job.transaction_time.expect("transaction time");
        for resource_type in [ResourceType::Patient, ResourceType::Coverage] {
            let mut ids = BTreeSet::new();
            let mut total = 0;
            for entry in manifest["output"].as_array().expect("output").iter().filter(|e| e["type"] == resource_type.as_str()) {
                let url = entry["url"].as_str().expect("url");
                let name = url.rsplit('/').next().expect("name");
                assert!(url.starts_with(&format!("http://bcda.test/data/{job_id}/")));
                let path = app.state.files.path(job_id, name).expect("a directory store");
                let mut text = String::new();
                flate2::read::GzDecoder::new(std::fs::File::open(&path).expect("file")).read_to_string(&mut text).expect("gunzip");
                let lines: Vec<&str> = text.lines().collect();
                assert_eq!(entry["count"], lines.len());
                for line in lines {
                    let resource: serde_json::Value = serde_json::from_str(line).expect("json");
                    assert_eq!(resource["resourceType"], resource_type.as_str());
                    assert!(ids.insert(resource["id"].as_str().expect("id").to_owned()), "no duplicates");
                    total += 1;
                }
            }
            assert_eq!(ids, expected_ids(&app, &principal, ApiVersion::V2, resource_type, until).await, "{resource_type:?}");
            assert!(total > 0);
        }
        // Downloads through the API: the gzip and identity forms carry the same NDJSON.
        let url = manifest["output"][0]["url"].as_str().expect("url").trim_start_matches("http://bcda.test").to_owned();
        let download = |encoding: &'static str| {
            let request = axum::http::Request::get(&url)
                .header("authorization", format!("Bearer {token}"))
                .header("accept-encoding", encoding)
                .body(axum::body::Body::empty())
                .expect("request");
            app.send(request)
        };
        let gzip = download("gzip").await;
        assert_eq!(gzip.status, StatusCode::OK);
        assert_eq!(gzip.header("content-encoding"), Some("gzip"));
        let identity = download("identity").await;
        assert_eq!(identity.status, StatusCode::OK);
        assert_eq!(identity.header("content-type"), Some("application/fhir+ndjson"));
        let mut inflated = Vec::new();
        flate2::read::GzDecoder::new(&gzip.body[..]).read_to_end(&mut inflated).expect("gunzip");
        assert_eq!(inflated, identity.body.to_vec());
    }
}

backend_test! {
    async fn cancel_stops_a_job_and_removes_its_files(backend) {
        let (app, principal, token) = sandbox_app(backend).await;
        let request = v1_patient_request();
        let job_id = kickoff::start(&app.state, &principal, &request, V1_PATIENT_URL).await.expect("kick-off");
        let url = format!("/api/v1/jobs/{job_id}");
        let cancel = app.send(axum::http::Request::delete(&url).header("authorization", format!("Bearer {token}")).body(axum::body::Body::empty()).expect("req")).await;
        assert_eq!(cancel.status, StatusCode::ACCEPTED);
        run_until_idle(&app.state.env).await.expect("worker");
        app.get_with_token(&url, &token).await.assert_outcome(404, "not-found", "Job has been cancelled.");
        assert!(!app.state.files.job_dir(job_id).expect("a directory store").exists());
        let again = app.send(axum::http::Request::delete(&url).header("authorization", format!("Bearer {token}")).body(axum::body::Body::empty()).expect("req")).await;
        again.assert_outcome(410, "not-found", "job was not cancelled because it is not Pending, In Progress or Completed");
    }
}

backend_test! {
    async fn completed_jobs_expire_then_archive_then_delete(backend) {
        let (app, principal, token) = sandbox_app(backend).await;
        let request = v1_patient_request();
        let job_id = kickoff::start(&app.state, &principal, &request, V1_PATIENT_URL).await.expect("kick-off");
        run_until_idle(&app.state.env).await.expect("worker");
        let url = format!("/api/v1/jobs/{job_id}");
        assert_eq!(app.get_with_token(&url, &token).await.status, StatusCode::OK);
        app.clock.advance(time::Duration::hours(24));
        let token = a9994_token(&app).await;
        let gone = app.get_with_token(&url, &token).await;
        assert_eq!(gone.status, StatusCode::GONE);
        bcda::housekeeping::run_once(&app.state).await;
        assert_eq!(bcda::store::jobs::find(app.db(), job_id).await.expect("db").expect("job").status, bcda::domain::JobStatus::Archived);
        assert!(!app.state.files.job_dir(job_id).expect("a directory store").exists());
        assert!(app.state.files.archive_dir(job_id).expect("a directory store").exists());
        app.clock.advance(time::Duration::hours(24) + time::Duration::seconds(1));
        bcda::housekeeping::run_once(&app.state).await;
        assert_eq!(bcda::store::jobs::find(app.db(), job_id).await.expect("db").expect("job").status, bcda::domain::JobStatus::Expired);
        assert!(!app.state.files.archive_dir(job_id).expect("a directory store").exists());
        let token = a9994_token(&app).await;
        assert_eq!(app.get_with_token(&url, &token).await.status, StatusCode::GONE);
    }
}

backend_test! {
    async fn status_of_unknown_foreign_and_malformed_jobs(backend) {
        let (app, principal, token) = sandbox_app(backend).await;
        // The same rule and words as the download route (tests/api/data.rs).
        for job in ["abc", "0", "-1", "+1", "1.0", "99999999999999999999"] {
            let bad_id = format!("Invalid job ID {job:?}: job IDs are positive whole numbers");
            app.get_with_token(&format!("/api/v1/jobs/{job}"), &token).await.assert_outcome(400, "structure", &bad_id);
        }
        app.get_with_token("/api/v1/jobs/999999", &token).await.assert_outcome(404, "not-found", "Job 999999 not found");
        let request = v1_patient_request();
        let job_id = kickoff::start(&app.state, &principal, &request, V1_PATIENT_URL).await.expect("kick-off");
        let other = app.token_for("A0001").await;
        app.get_with_token(&format!("/api/v1/jobs/{job_id}"), &other).await.assert_outcome(401, "forbidden", "Unauthorized");
        app.get(&format!("/api/v1/jobs/{job_id}")).await.assert_outcome(401, "forbidden", "Invalid Token");
    }
}

backend_test! {
    async fn an_idle_worker_starts_as_soon_as_this_process_queues_work(backend) {
        // A poll interval no test would wait out: the job can only finish
        // if the kick-off and the plan wake the worker.
        let jobs = bcda::jobs::JobSettings {
            poll_interval: std::time::Duration::from_secs(3_600),
            ..bcda::jobs::JobSettings::default()
        };
        let built = TestApp::builder(backend).jobs(jobs).build().await;
        let (app, principal, token) = sandbox_in(built).await;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let worker = tokio::spawn(
            bcda::jobs::worker::Worker::new(app.state.env.clone(), "waiting-worker").run(stopped),
        );
        let status = kick_off_and_wait(&app, &principal, &token).await;
        assert_eq!(status, StatusCode::OK, "the job never finished: the worker was not woken");
        stop.send(true).expect("stop");
        worker.await.expect("worker stops");
    }
}

/// A worker of another process (PostgreSQL only): a second worker
/// environment on the same database, as `bcda worker` opens, with its own
/// in-process signal, so only the database's notification can wake it.
#[tokio::test]
async fn a_worker_in_another_process_wakes_on_the_databases_notification() {
    let hour = std::time::Duration::from_secs(3_600);
    let jobs = bcda::jobs::JobSettings {
        poll_interval: hour,
        ..bcda::jobs::JobSettings::default()
    };
    let built = TestApp::builder(crate::harness::Backend::Postgres)
        .jobs(jobs.clone())
        .build()
        .await;
    let (app, principal, token) = sandbox_in(built).await;
    let other = std::sync::Arc::new(
        bcda::jobs::env::WorkerEnv::open(
            app.db().clone(),
            std::sync::Arc::new(app.clock.clone()),
            app.state.data_dir.clone(),
            &bcda::files::StoreLocation::Given(app.state.files.clone()),
            jobs,
        )
        .await
        .expect("second worker environment"),
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let forwarder = {
        let other = other.clone();
        let stopped = stopped.clone();
        tokio::spawn(async move {
            let wake = || other.new_tasks.notify_waiters();
            bcda::store::task_signal::listen(&other.db, wake, stopped).await;
        })
    };
    let worker =
        tokio::spawn(bcda::jobs::worker::Worker::new(other.clone(), "other-process").run(stopped));
    let status = kick_off_and_wait(&app, &principal, &token).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the job never finished: the notification did not wake the worker"
    );
    stop.send(true).expect("stop");
    worker.await.expect("worker stops");
    forwarder.await.expect("listener stops");
}

/// With an idle worker waiting: lets it settle into its wait, kicks off a
/// small export and polls its status until it is no longer 202 (or a
/// minute has passed); returns the last status.
async fn kick_off_and_wait(app: &TestApp, principal: &Principal, token: &str) -> StatusCode {
    // Let the worker find the queue empty and settle into its wait.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let job_id = kickoff::start(&app.state, principal, &v1_patient_request(), V1_PATIENT_URL)
        .await
        .expect("kick-off");
    let status_url = format!("/api/v1/jobs/{job_id}");
    let mut status = StatusCode::ACCEPTED;
    // A generous bound on a liveness check, not a measurement.
    for _ in 0..600 {
        status = app.get_with_token(&status_url, token).await.status;
        if status != StatusCode::ACCEPTED {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    status
}

backend_test! {
    async fn the_pipeline_writes_every_batch_in_order_and_stops_when_told(backend) {
        use bcda::jobs::ndjson::NdjsonWriter;
        use bcda::jobs::pipeline::{Interruption, pump};

        let (app, principal, _) = sandbox_app(backend).await;
        let until = crate::harness::START;
        let members = exportable_members(app.db(), &principal.cms_id, until).await;
        let source = crate::harness::source_of(app.db(), &principal.cms_id).await;
        let query = bcda::claims::ResourceQuery {
            version: ApiVersion::V2,
            resource_type: ResourceType::ExplanationOfBenefit,
            since: None,
            until,
            as_of: until,
            claims_through: None,
            eob_filter: None,
        };
        let expected: Vec<u8> = crate::harness::read_all(&source, &members, query)
            .await
            .into_iter()
            .flat_map(|mut line| {
                line.push(b'\n');
                line
            })
            .collect();
        let keys: Vec<_> = source.resolve(&members, until).await.expect("resolve").into_iter().flatten().collect();
        let dir = tempfile::tempdir().expect("tempdir");
        let files = bcda::files::StoreLocation::Directory(dir.path().to_owned())
            .open(dir.path())
            .expect("store");
        let runtime = tokio::runtime::Handle::current();

        // To the end: every resource, in stream order, across many batches.
        let (whole, asked) = {
            let (source, keys) = (source.clone(), keys.clone());
            let path = files.path(1, "whole").expect("a directory store");
            let upload = files.create(1, "whole").await.expect("create");
            let runtime = runtime.clone();
            tokio::task::spawn_blocking(move || {
                let mut writer = NdjsonWriter::new(upload, 1);
                let mut stream = source.stream(keys, query);
                let mut asked = 0;
                let stopped = pump(&runtime, &mut stream, &mut writer, || {
                    asked += 1;
                    Ok(None)
                })
                .expect("pump");
                assert_eq!(stopped, None);
                writer.finish().expect("finish");
                (path, asked)
            })
            .await
            .expect("join")
        };
        let mut written = Vec::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&whole).expect("open"))
            .read_to_end(&mut written)
            .expect("gunzip");
        assert!(written == expected, "the file differs from the source's resources");
        assert!(asked > 3, "A9994's EOBs span several batches, asked {asked}");

        // Told to stop before the second batch: one batch written, no more.
        let upload = files.create(1, "stopped").await.expect("create");
        let (stopped, lines) = tokio::task::spawn_blocking(move || {
            let mut writer = NdjsonWriter::new(upload, 1);
            let mut stream = source.stream(keys, query);
            let mut asked = 0;
            let stopped = pump(&runtime, &mut stream, &mut writer, || {
                asked += 1;
                Ok((asked > 1).then_some(Interruption::LeaseLost))
            })
            .expect("pump");
            let lines = writer.lines();
            writer.discard();
            (stopped, lines)
        })
        .await
        .expect("join");
        assert_eq!(stopped, Some(Interruption::LeaseLost));
        assert_eq!(files.size(1, "stopped").await.expect("head"), None, "a discarded file appeared");
        let total = expected.iter().filter(|&&b| b == b'\n').count();
        assert!(lines > 0 && (lines as usize) < total, "{lines} of {total} lines written");
    }
}

backend_test! {
    async fn group_runout_exports_claims_through_the_runout_year_only(backend) {
        let (app, principal, _token) = sandbox_app(backend).await;
        let job_id = kickoff::start(
            &app.state,
            &principal,
            &ExportRequest {
                version: ApiVersion::V2,
                kind: RequestKind::GroupRunout,
                resource_types: vec![ResourceType::ExplanationOfBenefit],
                since: None,
                until: None,
                patients: Vec::new(),
                type_filter: None,
            },
            "http://bcda.test/api/v2/Group/runout/$export?_type=ExplanationOfBenefit",
        )
        .await
        .expect("kick-off");
        run_until_idle(&app.state.env).await.expect("worker");
        let job = bcda::store::jobs::find(app.db(), job_id).await.expect("db").expect("job");
        assert_eq!(job.status, bcda::domain::JobStatus::Completed);
        let until = job.transaction_time.expect("transaction time");

        // The runout file is of performance year 2025: services through
        // 2025-12-31, while the sandbox has claims into 2026.
        let cap = time::macros::date!(2025 - 12 - 31);
        let mut exported = BTreeSet::new();
        for file in bcda::store::job_files::list(app.db(), job_id).await.expect("files") {
            if file.is_error {
                continue;
            }
            let mut text = String::new();
            flate2::read::GzDecoder::new(std::fs::File::open(app.state.files.path(job_id, &file.name).expect("a directory store")).expect("file"))
                .read_to_string(&mut text)
                .expect("gunzip");
            for line in text.lines() {
                let eob: serde_json::Value = serde_json::from_str(line).expect("json");
                let end = eob["billablePeriod"]["end"].as_str().expect("billablePeriod.end");
                assert!(end <= "2025-12-31", "a claim ending {end} is past the runout cap");
                exported.insert(eob["id"].as_str().expect("id").to_owned());
            }
        }
        assert!(!exported.is_empty());

        // Exactly the source's EOBs of the runout members up to the cap; and
        // the cap did exclude some.
        let source = crate::harness::source_of(app.db(), "A9994").await;
        let files = source.attribution_files().await.expect("files");
        let selection = bcda::jobs::attribution_selection::select(&files, RequestKind::GroupRunout, None, until, "A9994").expect("runout file");
        let opted = source.opted_out(until).await.expect("opt-outs");
        let members: Vec<String> = source
            .attribution_members(&selection.current)
            .await
            .expect("members")
            .into_iter()
            .filter(|m| !opted.contains(m))
            .collect();
        let query = |claims_through| bcda::claims::ResourceQuery {
            version: ApiVersion::V2,
            resource_type: ResourceType::ExplanationOfBenefit,
            since: None,
            until,
            as_of: until,
            claims_through,
            eob_filter: None,
        };
        assert_eq!(exported, source_ids(app.db(), "A9994", &members, query(Some(cap))).await);
        let uncapped = source_ids(app.db(), "A9994", &members, query(None)).await;
        assert!(uncapped.len() > exported.len(), "the sandbox has claims after the runout year");
    }
}

//! Partially adjudicated data per ACO (issue 12): which types a kick-off
//! exports by default and which it refuses, by the ACO's data sets and the
//! API version; and how Claim and ClaimResponse exports read their data
//! (as of the job's creation, `_since` and Group/all's new beneficiaries,
//! the runout cap).

use std::collections::BTreeSet;

use bcda::claims::ResourceQuery;
use bcda::domain::{ApiVersion, DataSets, RequestKind, ResourceType};
use bcda::jobs::worker::run_until_idle;
use time::OffsetDateTime;

use crate::harness::{START, TestApp, backend_test, exportable_members, source_ids, source_of};
use crate::kickoff::{job_id, kick_ok, outputs, sandbox_app_with_token, sandbox_with_token};

backend_test! {
    async fn types_follow_the_acos_data_sets(backend) {
        // A9994: adjudicated only, as every sandbox ACO so far.
        let (app, token) = sandbox_with_token(backend, "A9994").await;
        kick_ok(&app, &token, "/api/v2/Patient/$export?_type=Claim")
            .await
            .assert_outcome(400, "structure", "unauthorized resource type Claim");
        kick_ok(&app, &token, "/api/v2/Patient/$export?_type=Patient,ClaimResponse")
            .await
            .assert_outcome(400, "structure", "unauthorized resource type ClaimResponse");
        kick_ok(&app, &token, "/api/v1/Patient/$export?_type=Claim")
            .await
            .assert_outcome(400, "structure", "invalid resource type Claim. Supported types [Patient Coverage ExplanationOfBenefit]");
        let job = job_id(&kick_ok(&app, &token, "/api/v2/Patient/$export").await);
        let record = bcda::store::jobs::find(app.db(), job).await.expect("db").expect("job");
        assert_eq!(record.resource_types, ResourceType::ADJUDICATED);

        // Entitled to both: v2 defaults add Claim and ClaimResponse, v1 does not.
        bcda::store::acos::set_data_sets(app.db(), "A9994", DataSets::BOTH).await.expect("db");
        let job = job_id(&kick_ok(&app, &token, "/api/v2/Group/all/$export").await);
        let record = bcda::store::jobs::find(app.db(), job).await.expect("db").expect("job");
        assert_eq!(record.resource_types, ResourceType::ALL);
        let job = job_id(&kick_ok(&app, &token, "/api/v1/Group/all/$export").await);
        let record = bcda::store::jobs::find(app.db(), job).await.expect("db").expect("job");
        assert_eq!(record.resource_types, ResourceType::ADJUDICATED);

        // Partially adjudicated only: Claim and ClaimResponse on v2; Patient refused.
        let pac = DataSets::parse("partially-adjudicated").expect("sets");
        bcda::store::acos::set_data_sets(app.db(), "A9994", pac).await.expect("db");
        kick_ok(&app, &token, "/api/v2/Patient/$export?_type=Patient")
            .await
            .assert_outcome(400, "structure", "unauthorized resource type Patient");
        kick_ok(&app, &token, "/api/v1/Patient/$export")
            .await
            .assert_outcome(400, "structure", "this ACO's data (partially-adjudicated) has no resource types on v1; use /api/v2");
        let job = job_id(&kick_ok(&app, &token, "/api/v2/Patient/$export").await);
        let record = bcda::store::jobs::find(app.db(), job).await.expect("db").expect("job");
        assert_eq!(record.resource_types, ResourceType::PARTIALLY_ADJUDICATED);
    }
}

/// The ids in `files` (one list of resources per file).
fn ids_in(files: &[Vec<serde_json::Value>]) -> BTreeSet<String> {
    files
        .iter()
        .flatten()
        .map(|r| r["id"].as_str().expect("id").to_owned())
        .collect()
}

/// The source's ids of `resource_type` (v2) for `members`, updated in
/// `(since, until]`.
async fn source_ids_of(
    app: &TestApp,
    members: &[String],
    resource_type: ResourceType,
    since: Option<OffsetDateTime>,
    until: OffsetDateTime,
) -> BTreeSet<String> {
    let query = ResourceQuery {
        version: ApiVersion::V2,
        resource_type,
        since,
        until,
        as_of: until,
        claims_through: None,
        eob_filter: None,
    };
    source_ids(app.db(), "A9994", members, query).await
}

/// Gives a sandbox ACO full claims density (its partially adjudicated
/// claims at the sandbox's density are too few for a window of a few days)
/// and only this year's adjudicated claims (so it has about as many EOBs as
/// at the sandbox's density over seven years, and the test stays as quick).
async fn full_claims_density(app: &TestApp, cms_id: &str) {
    let aco = bcda::store::acos::find_by_cms_id(app.db(), cms_id)
        .await
        .expect("db")
        .expect("aco");
    let record = bcda::store::synthetic_acos::find(app.db(), aco.id)
        .await
        .expect("db")
        .expect("synthetic");
    let full = bcda::store::synthetic_acos::SyntheticAcoRecord {
        claims_density: bcda::synthetic::FULL_CLAIMS_DENSITY,
        first_service_year: record.anchor.year(),
        ..record
    };
    bcda::store::synthetic_acos::upsert(app.db(), aco.id, &full)
        .await
        .expect("db");
}

backend_test! {
    async fn an_entitled_acos_default_export_holds_every_type_and_reads_claims_as_of_kick_off(backend) {
        let (app, token) = sandbox_with_token(backend, "A9994").await;
        bcda::store::acos::set_data_sets(app.db(), "A9994", DataSets::BOTH).await.expect("db");
        // Enough claims that some are updated in the four days below.
        full_claims_density(&app, "A9994").await;
        let id = job_id(&kick_ok(&app, &token, "/api/v2/Group/all/$export").await);
        // The job is planned (its transaction time fixed) days after it was
        // created: partially adjudicated claims are still read as of creation.
        app.clock.advance(time::Duration::days(4));
        run_until_idle(&app.state.env).await.expect("worker");
        // (A fresh token: the first has expired.)
        let token = app.token(&app.create_credentials("A9994").await).await;
        let job = bcda::store::jobs::find(app.db(), id).await.expect("db").expect("job");
        let until = job.transaction_time.expect("planned");
        assert!(until > job.created_at);

        let manifest = app.get_with_token(&format!("/api/v2/jobs/{id}"), &token).await;
        assert_eq!(manifest.status, axum::http::StatusCode::OK, "{}", manifest.text());
        let types: BTreeSet<String> = manifest.json()["output"]
            .as_array()
            .expect("output")
            .iter()
            .map(|e| e["type"].as_str().expect("type").to_owned())
            .collect();
        let all: BTreeSet<String> = ResourceType::ALL.iter().map(|t| t.as_str().to_owned()).collect();
        assert_eq!(types, all);

        let members = exportable_members(app.db(), "A9994", until).await;
        let claims = outputs(&app, &token, "v2", id, "Claim").await;
        let responses = outputs(&app, &token, "v2", id, "ClaimResponse").await;
        for (file, name) in [(&claims, "Claim"), (&responses, "ClaimResponse")] {
            assert!(file.iter().flatten().all(|r| r["resourceType"] == name));
        }
        let as_of_creation = source_ids_of(&app, &members, ResourceType::Claim, None, job.created_at).await;
        assert!(!as_of_creation.is_empty());
        assert_eq!(ids_in(&claims), as_of_creation);
        assert_eq!(ids_in(&responses), as_of_creation, "each Claim has its ClaimResponse");
        let as_of_transaction = source_ids_of(&app, &members, ResourceType::Claim, None, until).await;
        assert!(
            as_of_transaction.len() > as_of_creation.len(),
            "claims updated between kick-off and planning exist, and are left out"
        );
        // Adjudicated types are read as of the transaction time.
        let eobs = outputs(&app, &token, "v2", id, "ExplanationOfBenefit").await;
        assert!(eobs.iter().flatten().next().is_some(), "EOBs exported");
        assert_eq!(ids_in(&eobs), source_ids_of(&app, &members, ResourceType::ExplanationOfBenefit, None, until).await);
    }
}

backend_test! {
    async fn group_all_since_gives_new_beneficiaries_all_their_claims_and_the_others_what_changed(backend) {
        let (app, token) = sandbox_with_token(backend, "A9994").await;
        bcda::store::acos::set_data_sets(app.db(), "A9994", DataSets::BOTH).await.expect("db");
        // Within the partially adjudicated claims' 90 days, so `_since` cuts them.
        let since_at = START - time::Duration::days(30);
        let since = since_at.format(&time::format_description::well_known::Rfc3339).expect("format");
        let id = job_id(
            &kick_ok(&app, &token, &format!("/api/v2/Group/all/$export?_type=Claim,ClaimResponse&_since={since}")).await,
        );
        run_until_idle(&app.state.env).await.expect("worker");
        let job = bcda::store::jobs::find(app.db(), id).await.expect("db").expect("job");
        let until = job.created_at;
        let source = source_of(app.db(), "A9994").await;
        let files = source.attribution_files().await.expect("files");
        let selection = bcda::jobs::attribution_selection::select(&files, RequestKind::GroupAll, Some(since_at), until, "A9994").expect("files");
        let previous = selection.previous.expect("an older file");
        let before: BTreeSet<String> = source.attribution_members(&previous).await.expect("members").into_iter().collect();
        let members = exportable_members(app.db(), "A9994", job.transaction_time.expect("planned")).await;
        let (existing, new): (Vec<String>, Vec<String>) = members.iter().cloned().partition(|m| before.contains(m));
        assert!(!new.is_empty() && !existing.is_empty());

        for resource_type in ResourceType::PARTIALLY_ADJUDICATED {
            let files_out = outputs(&app, &token, "v2", id, resource_type.as_str()).await;
            assert!(files_out.len() >= 2, "new and existing beneficiaries in separate files");
            let new_ids = source_ids_of(&app, &new, resource_type, None, until).await;
            let existing_ids = source_ids_of(&app, &existing, resource_type, Some(since_at), until).await;
            let existing_all = source_ids_of(&app, &existing, resource_type, None, until).await;
            assert!(!new_ids.is_empty());
            assert!(existing_all.len() > existing_ids.len(), "_since excluded some of the existing beneficiaries' claims");
            assert!(
                files_out.iter().any(|f| ids_in(std::slice::from_ref(f)) == new_ids),
                "one file holds exactly the new beneficiaries' claims"
            );
            assert_eq!(ids_in(&files_out), new_ids.union(&existing_ids).cloned().collect::<BTreeSet<_>>());
        }
    }
}

backend_test! {
    async fn group_runout_caps_partially_adjudicated_claims_by_service_date(backend) {
        // Partially adjudicated claims are of the last 90 days; a runout cap
        // inside that window leaves the later ones out.
        let cap = (START - time::Duration::days(45)).date();
        let jobs = bcda::jobs::JobSettings { runout_claims_through: Some(cap), ..Default::default() };
        let (app, token) = sandbox_app_with_token(TestApp::builder(backend).jobs(jobs), "A9994").await;
        bcda::store::acos::set_data_sets(app.db(), "A9994", DataSets::BOTH).await.expect("db");
        let id = job_id(&kick_ok(&app, &token, "/api/v2/Group/runout/$export?_type=Claim,ClaimResponse").await);
        run_until_idle(&app.state.env).await.expect("worker");
        let job = bcda::store::jobs::find(app.db(), id).await.expect("db").expect("job");
        let claims = outputs(&app, &token, "v2", id, "Claim").await;
        for claim in claims.iter().flatten() {
            let end = claim["billablePeriod"]["end"].as_str().expect("billablePeriod.end");
            assert!(end <= cap.to_string().as_str(), "a claim ending {end} is past the runout cap {cap}");
        }
        let exported = ids_in(&claims);
        assert!(!exported.is_empty());
        assert_eq!(ids_in(&outputs(&app, &token, "v2", id, "ClaimResponse").await), exported);

        let source = source_of(app.db(), "A9994").await;
        let files = source.attribution_files().await.expect("files");
        let until = job.transaction_time.expect("planned");
        let selection = bcda::jobs::attribution_selection::select(&files, RequestKind::GroupRunout, None, until, "A9994").expect("runout file");
        let opted = source.opted_out(until).await.expect("opt-outs");
        let members: Vec<String> = source.attribution_members(&selection.current).await.expect("members").into_iter().filter(|m| !opted.contains(m)).collect();
        let query = |claims_through| ResourceQuery { version: ApiVersion::V2, resource_type: ResourceType::Claim, since: None, until: job.created_at, as_of: job.created_at, claims_through, eob_filter: None };
        assert_eq!(exported, source_ids(app.db(), "A9994", &members, query(Some(cap))).await);
        assert!(source_ids(app.db(), "A9994", &members, query(None)).await.len() > exported.len(), "the cap left claims out");
    }
}

backend_test! {
    async fn no_part2_claim_is_exported_though_the_source_holds_some(backend) {
        let (app, token) = sandbox_with_token(backend, "A9994").await;
        bcda::store::acos::set_data_sets(app.db(), "A9994", DataSets::BOTH).await.expect("db");
        let aco = bcda::store::acos::find_by_cms_id(app.db(), "A9994").await.expect("db").expect("aco");
        let spec = bcda::store::synthetic_acos::find(app.db(), aco.id).await.expect("db").expect("synthetic");
        let world = bcda::synthetic::SyntheticAco::new("A9994", spec.seed, spec.beneficiaries, spec.first_service_year, spec.anchor, spec.stale_attribution)
            .with_claims_density(spec.claims_density);
        for (version, types) in [
            ("v1", &ResourceType::ADJUDICATED[..]),
            ("v2", &ResourceType::ALL[..]),
        ] {
            let id = job_id(&kick_ok(&app, &token, &format!("/api/{version}/Group/all/$export")).await);
            run_until_idle(&app.state.env).await.expect("worker");
            let job = bcda::store::jobs::find(app.db(), id).await.expect("db").expect("job");
            let until = job.transaction_time.expect("planned");
            let members = exportable_members(app.db(), "A9994", until).await;
            for &resource_type in types {
                let as_of = if resource_type.data_set() == bcda::domain::DataSet::PartiallyAdjudicated { job.created_at } else { until };
                // What the world holds for the members, Part 2 claims included
                // (what a store keeps), less what its export stream sends.
                let held: BTreeSet<String> = members
                    .iter()
                    .filter_map(|mbi| world.index_of_mbi(mbi))
                    .flat_map(|index| world.resources(index, job.api_version, resource_type, as_of))
                    .map(|r| r.id)
                    .collect();
                let query = ResourceQuery { version: job.api_version, resource_type, since: None, until: as_of, as_of, claims_through: None, eob_filter: None };
                let sent = source_ids(app.db(), "A9994", &members, query).await;
                let part2: BTreeSet<&String> = held.difference(&sent).collect();
                let exported = ids_in(&outputs(&app, &token, version, id, resource_type.as_str()).await);
                assert_eq!(exported, sent, "{version} {resource_type:?}");
                assert!(exported.iter().all(|id| !part2.contains(id)));
                if resource_type.is_claim() {
                    assert!(!part2.is_empty(), "{version} {resource_type:?}: the sandbox holds Part 2 claims, so the exclusion is tested");
                }
            }
        }
    }
}

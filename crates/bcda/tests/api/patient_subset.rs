//! The Bulk Data IG's `patient` parameter (issue 14): a POST kick-off that
//! names beneficiaries exports only theirs, every type asked for, from
//! either data source; names outside the attribution are refused alike.

use std::collections::{BTreeMap, BTreeSet};

use axum::http::StatusCode;
use bcda::jobs::worker::run_until_idle;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::harness::{TestApp, backend_test, source_of};
use crate::kickoff::{
    exported, ids_by_type, job_id, kick_ok, kick_post, parameters, patient_of, sandbox_with_token,
};

/// `patient` entries for these Patient ids.
pub fn patient_entries(ids: &[&str]) -> Vec<(&'static str, &'static str, Value)> {
    ids.iter()
        .map(|id| {
            (
                "patient",
                "valueReference",
                json!({ "reference": format!("Patient/{id}") }),
            )
        })
        .collect()
}

/// The resources of `all` that belong to `patients` (and pass `keep`), ids by type.
pub fn belonging_to(
    all: &BTreeMap<String, Vec<Value>>,
    patients: &[&str],
    keep: impl Fn(&Value) -> bool,
) -> BTreeMap<String, BTreeSet<String>> {
    all.iter()
        .map(|(t, resources)| {
            let ids = resources
                .iter()
                .filter(|r| patients.contains(&patient_of(r).as_str()) && keep(r))
                .map(|r| r["id"].as_str().expect("id").to_owned())
                .collect::<BTreeSet<_>>();
            (t.clone(), ids)
        })
        .filter(|(_, ids)| !ids.is_empty())
        .collect()
}

/// A resource's `meta.lastUpdated`.
pub fn last_updated(resource: &Value) -> OffsetDateTime {
    let text = resource["meta"]["lastUpdated"]
        .as_str()
        .expect("lastUpdated");
    OffsetDateTime::parse(text, &Rfc3339).expect("an instant")
}

/// Each exported Patient's id by its current MBI.
pub fn patient_ids_by_mbi(all: &BTreeMap<String, Vec<Value>>) -> BTreeMap<String, String> {
    all["Patient"]
        .iter()
        .map(|p| {
            let mbi = p["identifier"]
                .as_array()
                .expect("identifiers")
                .iter()
                .find(|i| i["system"] == "http://hl7.org/fhir/sid/us-mbi")
                .and_then(|i| i["value"].as_str())
                .expect("an MBI");
            (mbi.to_owned(), p["id"].as_str().expect("id").to_owned())
        })
        .collect()
}

/// The MBIs of `cms_id`'s current attribution that are new since `since`
/// (not in the newest default file dated at or before it) and those that
/// are not.
pub async fn new_and_existing(
    app: &TestApp,
    cms_id: &str,
    since: OffsetDateTime,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let source = source_of(app.db(), cms_id).await;
    let files = source.attribution_files().await.expect("files");
    let current = bcda::http::routes::attribution_status::latest(
        &files,
        bcda::domain::AttributionKind::Default,
    )
    .expect("current")
    .clone();
    let previous = files
        .iter()
        .filter(|f| f.kind == current.kind && f.attributed_at <= since)
        .max_by_key(|f| f.attributed_at)
        .expect("older file")
        .clone();
    let before: BTreeSet<String> = source
        .attribution_members(&previous)
        .await
        .expect("members")
        .into_iter()
        .collect();
    source
        .attribution_members(&current)
        .await
        .expect("members")
        .into_iter()
        .partition(|m| !before.contains(m))
}

/// A finished job's ids by type.
async fn finished_ids(
    app: &TestApp,
    token: &str,
    version: &str,
    id: i64,
) -> BTreeMap<String, BTreeSet<String>> {
    run_until_idle(&app.state.env).await.expect("worker");
    ids_by_type(&exported(app, token, version, id).await)
}

backend_test! {
    async fn only_the_chosen_beneficiaries_are_exported_every_type_of_theirs(backend) {
        let (app, token) = sandbox_with_token(backend, "A9994").await;
        let full_id = job_id(&kick_ok(&app, &token, "/api/v2/Group/all/$export").await);
        run_until_idle(&app.state.env).await.expect("worker");
        let full = exported(&app, &token, "v2", full_id).await;
        // Two beneficiaries with claims, one of them named twice.
        let with_claims: BTreeSet<String> = full["ExplanationOfBenefit"].iter().map(patient_of).collect();
        let chosen: Vec<&str> = with_claims.iter().take(2).map(String::as_str).collect();
        let want = belonging_to(&full, &chosen, |_| true);
        assert_eq!(want.keys().collect::<Vec<_>>(), ["Coverage", "ExplanationOfBenefit", "Patient"]);
        assert_eq!(want["Patient"].len(), 2);

        let body = parameters(&patient_entries(&[chosen[0], chosen[1], chosen[0]]));
        let group = job_id(&kick_post(&app, &token, "/api/v2/Group/all/$export", &body).await);
        let job = bcda::store::jobs::find(app.db(), group).await.expect("db").expect("job");
        assert_eq!(job.patient_mbis.len(), 2, "repeats collapse");
        assert_eq!(finished_ids(&app, &token, "v2", group).await, want);
        let manifest = app.get_with_token(&format!("/api/v2/jobs/{group}"), &token).await.json();
        assert_eq!(manifest["request"], "http://bcda.test/api/v2/Group/all/$export", "the URL, not the body");

        // Patient/$export too, with `_type`, on another version.
        let mut entries = patient_entries(&chosen[..1]);
        entries.push(("_type", "valueString", json!("Coverage")));
        let patient = job_id(&kick_post(&app, &token, "/api/v3/Patient/$export", &parameters(&entries)).await);
        let v3_full = job_id(&kick_ok(&app, &token, "/api/v3/Patient/$export?_type=Coverage").await);
        let got = finished_ids(&app, &token, "v3", patient).await;
        let v3_all = exported(&app, &token, "v3", v3_full).await;
        assert_eq!(got, belonging_to(&v3_all, &chosen[..1], |_| true));

        // A GET's `patient` is ignored, as BCDA ignores it.
        let get = job_id(&kick_ok(&app, &token, &format!("/api/v2/Group/all/$export?_type=Patient&patient=Patient%2F{}", chosen[0])).await);
        let ids = finished_ids(&app, &token, "v2", get).await;
        assert_eq!(ids["Patient"], ids_by_type(&full)["Patient"]);
    }
}

backend_test! {
    async fn names_outside_the_attribution_are_refused_alike(backend) {
        let (app, token) = sandbox_with_token(backend, "A9994").await;
        let patients = job_id(&kick_ok(&app, &token, "/api/v1/Group/all/$export?_type=Patient").await);
        let runout = job_id(&kick_ok(&app, &token, "/api/v1/Group/runout/$export?_type=Patient").await);
        // Another sandbox ACO's beneficiary.
        let other_token = app.scoped_token("A9990", "system/*.read").await;
        let other = job_id(&kick_ok(&app, &other_token, "/api/v1/Group/all/$export?_type=Patient").await);
        let current = finished_ids(&app, &token, "v1", patients).await.remove("Patient").expect("patients");
        let in_runout = finished_ids(&app, &token, "v1", runout).await.remove("Patient").expect("patients");
        let elsewhere = finished_ids(&app, &other_token, "v1", other).await["Patient"].first().expect("one").clone();
        let member = current.first().expect("a member").clone();
        let not_in_runout = current.difference(&in_runout).next().expect("a new entrant").clone();

        let refuse = async |path: &str, ids: &[&str], message: &str| {
            kick_post(&app, &token, path, &parameters(&patient_entries(ids)))
                .await
                .assert_outcome(400, "structure", message);
        };
        refuse("/api/v1/Group/all/$export", &["999999"], "Invalid parameter: not in this ACO's current attribution: Patient/999999").await;
        refuse(
            "/api/v2/Patient/$export",
            &[&elsewhere],
            &format!("Invalid parameter: not in this ACO's current attribution: Patient/{elsewhere}"),
        )
        .await;
        refuse(
            "/api/v1/Group/all/$export",
            &["999999", &member, &elsewhere],
            &format!("Invalid parameter: not in this ACO's current attribution: Patient/999999, Patient/{elsewhere}"),
        )
        .await;
        refuse(
            "/api/v1/Group/runout/$export",
            &[&not_in_runout],
            &format!("Invalid parameter: not in this ACO's runout attribution: Patient/{not_in_runout}"),
        )
        .await;
        // Malformed entries, named.
        let malformed = parameters(&[("patient", "valueReference", json!({ "reference": "Practitioner/1" }))]);
        kick_post(&app, &token, "/api/v1/Patient/$export", &malformed).await.assert_outcome(
            400,
            "structure",
            "Invalid parameter: patient reference \"Practitioner/1\" is not of the form Patient/<id>",
        );
        let not_reference = parameters(&[("patient", "valueString", json!("Patient/1"))]);
        kick_post(&app, &token, "/api/v1/Patient/$export", &not_reference).await.assert_outcome(
            400,
            "structure",
            "Invalid parameter: patient must be given as a valueReference with a reference",
        );
        assert_eq!(bcda::store::jobs::list(app.db(), None).await.expect("jobs").len(), 3, "no job for a refused kick-off");
        // A runout member is accepted on Group/runout.
        let runout_member = in_runout.first().expect("a runout member");
        let accepted = kick_post(&app, &token, "/api/v1/Group/runout/$export", &parameters(&patient_entries(&[runout_member]))).await;
        assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.text());
    }
}

backend_test! {
    async fn group_alls_new_beneficiary_rule_applies_to_the_chosen_few(backend) {
        let (app, token) = sandbox_with_token(backend, "A9994").await;
        let since_text = "2025-09-01T00:00:00.000Z";
        let since = OffsetDateTime::parse(since_text, &Rfc3339).expect("since");
        let full_id = job_id(&kick_ok(&app, &token, "/api/v1/Group/all/$export?_type=Patient,ExplanationOfBenefit").await);
        run_until_idle(&app.state.env).await.expect("worker");
        let full = exported(&app, &token, "v1", full_id).await;
        let by_mbi = patient_ids_by_mbi(&full);
        let (new, existing) = new_and_existing(&app, "A9994", since).await;
        let with_claims: BTreeSet<String> = full["ExplanationOfBenefit"].iter().map(patient_of).collect();
        let pick = |mbis: &BTreeSet<String>| {
            mbis.iter()
                .filter_map(|m| by_mbi.get(m))
                .find(|id| with_claims.contains(*id))
                .expect("a beneficiary with claims")
                .clone()
        };
        let (new_id, existing_id) = (pick(&new), pick(&existing));
        let mut entries = patient_entries(&[&new_id, &existing_id]);
        entries.push(("_since", "valueInstant", json!(since_text)));
        entries.push(("_type", "valueString", json!("ExplanationOfBenefit")));
        let id = job_id(&kick_post(&app, &token, "/api/v1/Group/all/$export", &parameters(&entries)).await);
        let got = finished_ids(&app, &token, "v1", id).await;
        let mut want = belonging_to(&full, &[&new_id], |r| r["resourceType"] == "ExplanationOfBenefit");
        let existing_eobs = belonging_to(&full, &[&existing_id], |r| r["resourceType"] == "ExplanationOfBenefit" && last_updated(r) > since);
        let new_count = want["ExplanationOfBenefit"].len();
        want.get_mut("ExplanationOfBenefit").expect("eobs").extend(existing_eobs.into_values().flatten());
        assert_eq!(got, want);
        let older = belonging_to(&full, &[&new_id], |r| r["resourceType"] == "ExplanationOfBenefit" && last_updated(r) <= since);
        assert!(!older.is_empty() && new_count > 0, "the new beneficiary's whole history, older claims included");
    }
}

backend_test! {
    async fn the_stored_source_takes_patient_too(backend) {
        let app = TestApp::new(backend).await;
        let out = tempfile::tempdir().expect("tempdir");
        bcda::synthetic_files::write_all(&crate::claims_data::synthetic(&crate::claims_data::SPEC), out.path(), crate::harness::START)
            .expect("write");
        app.create_aco("A0001").await;
        crate::claims_data::import_everything(&app, out.path()).await;
        assert!(matches!(source_of(app.db(), "A0001").await, bcda::claims::ClaimsSource::Stored(_)));
        let creds = app.create_credentials("A0001").await;
        let token = app.token(&creds).await;
        let full_id = job_id(&kick_ok(&app, &token, "/api/v2/Patient/$export").await);
        run_until_idle(&app.state.env).await.expect("worker");
        let full = exported(&app, &token, "v2", full_id).await;
        let with_claims: BTreeSet<String> = full["ExplanationOfBenefit"].iter().map(patient_of).collect();
        let chosen = with_claims.first().expect("a beneficiary with claims").clone();
        let body = parameters(&patient_entries(&[&chosen]));
        let id = job_id(&kick_post(&app, &token, "/api/v2/Patient/$export", &body).await);
        let got = finished_ids(&app, &token, "v2", id).await;
        assert_eq!(got, belonging_to(&full, &[&chosen], |_| true));
        assert!(got.contains_key("ExplanationOfBenefit") && got.contains_key("Coverage"));
        kick_post(&app, &token, "/api/v2/Patient/$export", &parameters(&patient_entries(&["-1"])))
            .await
            .assert_outcome(400, "structure", "Invalid parameter: not in this ACO's current attribution: Patient/-1");
    }
}

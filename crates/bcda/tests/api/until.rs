//! `_until` (Bulk Data IG STU3; issue 14): on API v2 and later, only
//! resources last updated before it, the manifest's `transactionTime` the
//! last instant included; Group/all's newly attributed beneficiaries and
//! Group/runout are capped by it too. API v1 ignores it.

use std::collections::{BTreeMap, BTreeSet};

use axum::http::StatusCode;
use bcda::fhir::time_format::fhir_instant;
use bcda::jobs::worker::run_until_idle;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use crate::harness::{START, backend_test};
use crate::kickoff::{
    exported, ids_by_type, job_id, kick_ok, kick_post, parameters, patient_of, sandbox_with_token,
};
use crate::patient_subset::{last_updated, new_and_existing, patient_ids_by_mbi};

/// The ids of `resources` that pass `keep`.
fn ids_where(resources: &[Value], keep: impl Fn(&Value) -> bool) -> BTreeSet<String> {
    resources
        .iter()
        .filter(|r| keep(r))
        .map(|r| r["id"].as_str().expect("id").to_owned())
        .collect()
}

/// `_until=<t>` for a query string (no `+` to encode: UTC).
fn until_query(t: OffsetDateTime) -> String {
    format!("_until={}", fhir_instant(t))
}

backend_test! {
    async fn until_is_exclusive_and_the_manifest_says_where_the_data_ends(backend) {
        let (app, token) = sandbox_with_token(backend, "A9994").await;
        let base = "/api/v2/Patient/$export?_type=ExplanationOfBenefit";
        let full = job_id(&kick_ok(&app, &token, base).await);
        run_until_idle(&app.state.env).await.expect("worker");
        let eobs = exported(&app, &token, "v2", full).await.remove("ExplanationOfBenefit").expect("eobs");
        // A resource in the middle of the history.
        let mut times: Vec<OffsetDateTime> = eobs.iter().map(last_updated).collect();
        times.sort();
        let at = times[times.len() / 2];
        let just_after = at + Duration::milliseconds(1);
        let before = job_id(&kick_ok(&app, &token, &format!("{base}&{}", until_query(at))).await);
        let after = job_id(&kick_ok(&app, &token, &format!("{base}&{}", until_query(just_after))).await);
        run_until_idle(&app.state.env).await.expect("worker");
        let got_before = ids_by_type(&exported(&app, &token, "v2", before).await);
        let got_after = ids_by_type(&exported(&app, &token, "v2", after).await);
        let want_before = ids_where(&eobs, |r| last_updated(r) < at);
        let want_after = ids_where(&eobs, |r| last_updated(r) <= at);
        assert!(want_after.len() > want_before.len(), "a resource at exactly {at}");
        assert_eq!(got_before["ExplanationOfBenefit"], want_before);
        assert_eq!(got_after["ExplanationOfBenefit"], want_after);
        // transactionTime: the last instant included, so the next export's
        // `_since` continues exactly where this one stopped.
        for (id, last) in [(before, at - Duration::milliseconds(1)), (after, at)] {
            let manifest = app.get_with_token(&format!("/api/v2/jobs/{id}"), &token).await.json();
            assert_eq!(manifest["transactionTime"], fhir_instant(last));
        }
        let rest = job_id(&kick_ok(&app, &token, &format!("{base}&_since={}", fhir_instant(at - Duration::milliseconds(1)))).await);
        run_until_idle(&app.state.env).await.expect("worker");
        let rest_ids = &ids_by_type(&exported(&app, &token, "v2", rest).await)["ExplanationOfBenefit"];
        assert!(rest_ids.is_disjoint(&want_before));
        assert_eq!(rest_ids.union(&want_before).cloned().collect::<BTreeSet<_>>(), ids_where(&eobs, |_| true));

        // A future `_until` exports what exists now, as of the transaction time.
        let future = job_id(&kick_ok(&app, &token, &format!("{base}&_until=2099-01-01T00:00:00Z")).await);
        run_until_idle(&app.state.env).await.expect("worker");
        assert_eq!(ids_by_type(&exported(&app, &token, "v2", future).await)["ExplanationOfBenefit"], ids_where(&eobs, |_| true));
        let manifest = app.get_with_token(&format!("/api/v2/jobs/{future}"), &token).await.json();
        assert_eq!(manifest["transactionTime"], fhir_instant(START));
    }
}

backend_test! {
    async fn until_is_checked_like_since_on_v2_and_later_and_ignored_on_v1(backend) {
        let (app, token) = sandbox_with_token(backend, "A9994").await;
        let format = "Invalid date format supplied in _until parameter.  Date must be in FHIR Instant format.";
        for path in [
            "/api/v2/Patient/$export?_until=2024-01-01",
            "/api/v3/Group/all/$export?_until=2024-01-01T00:00:00",
            "/api/v2/$export?_until=",
        ] {
            kick_ok(&app, &token, path).await.assert_outcome(400, "structure", format);
        }
        kick_ok(&app, &token, "/api/v2/Patient/$export?_since=2025-01-02T00:00:00Z&_until=2025-01-01T00:00:00Z")
            .await
            .assert_outcome(400, "structure", "Invalid date format supplied in _until parameter. Date must not be before the _since date");
        let body = parameters(&[("_until", "valueInstant", json!("01/01/2025"))]);
        kick_post(&app, &token, "/api/v3/Patient/$export", &body).await.assert_outcome(400, "structure", format);
        // v1 ignores it, as any parameter it does not know.
        for path in ["/api/v1/Patient/$export?_type=Patient&_until=junk", "/api/v1/Group/all/$export?_type=Patient&_until=2025-01-01T00:00:00Z"] {
            let id = job_id(&kick_ok(&app, &token, path).await);
            let job = bcda::store::jobs::find(app.db(), id).await.expect("db").expect("job");
            assert_eq!(job.until, None, "{path}");
        }
        // A POST body's `_until` counts on v3.
        let body = parameters(&[("_until", "valueInstant", json!("2025-01-01T00:00:00.000-05:00")), ("_type", "valueString", json!("Coverage"))]);
        let response = kick_post(&app, &token, "/api/v3/Patient/$export", &body).await;
        assert_eq!(response.status, StatusCode::ACCEPTED, "{}", response.text());
        let job = bcda::store::jobs::find(app.db(), job_id(&response)).await.expect("db").expect("job");
        assert_eq!(job.until, Some(time::macros::datetime!(2025-01-01 04:59:59.999 UTC)));
    }
}

backend_test! {
    async fn until_caps_group_alls_new_beneficiaries_and_runout(backend) {
        let (app, token) = sandbox_with_token(backend, "A9994").await;
        let since = time::macros::datetime!(2025-09-01 0:00 UTC);
        let until = time::macros::datetime!(2026-01-01 0:00 UTC);
        let full = job_id(&kick_ok(&app, &token, "/api/v2/Group/all/$export?_type=Patient,ExplanationOfBenefit").await);
        let runout_full = job_id(&kick_ok(&app, &token, "/api/v2/Group/runout/$export?_type=ExplanationOfBenefit").await);
        let capped = job_id(&kick_ok(
            &app,
            &token,
            &format!("/api/v2/Group/all/$export?_type=ExplanationOfBenefit&_since={}&{}", fhir_instant(since), until_query(until)),
        ).await);
        let runout = job_id(&kick_ok(&app, &token, &format!("/api/v2/Group/runout/$export?_type=ExplanationOfBenefit&{}", until_query(until))).await);
        run_until_idle(&app.state.env).await.expect("worker");
        let all = exported(&app, &token, "v2", full).await;
        let by_mbi = patient_ids_by_mbi(&all);
        let (new, _) = new_and_existing(&app, "A9994", since).await;
        let new_ids: BTreeSet<&str> = new.iter().filter_map(|m| by_mbi.get(m)).map(String::as_str).collect();
        let eobs = &all["ExplanationOfBenefit"];
        let is_new = |r: &Value| new_ids.contains(patient_of(r).as_str());
        // New beneficiaries: their whole history, up to `_until`; the others
        // what changed between `_since` and `_until`.
        let want = ids_where(eobs, |r| {
            let at = last_updated(r);
            at < until && (is_new(r) || at > since)
        });
        let got: BTreeMap<_, _> = ids_by_type(&exported(&app, &token, "v2", capped).await);
        assert_eq!(got["ExplanationOfBenefit"], want);
        assert!(eobs.iter().any(|r| is_new(r) && last_updated(r) <= since), "new beneficiaries' older claims count");
        assert!(eobs.iter().any(|r| is_new(r) && last_updated(r) >= until), "and `_until` cuts their newer ones");
        // Group/runout: its claims-through cap and `_until` together.
        let runout_all = exported(&app, &token, "v2", runout_full).await.remove("ExplanationOfBenefit").expect("eobs");
        let runout_got = ids_by_type(&exported(&app, &token, "v2", runout).await);
        let runout_want = ids_where(&runout_all, |r| last_updated(r) < until);
        assert!(runout_want.len() < runout_all.len());
        assert_eq!(runout_got["ExplanationOfBenefit"], runout_want);
    }
}

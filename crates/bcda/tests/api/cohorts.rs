//! Group/all with `_since` writes newly attributed beneficiaries (their full
//! history) and the others (what changed since `_since`) to separate files;
//! the manifest says which each file holds with the `attribution-cohort`
//! extension. Every other file keeps the checksum and length alone.

use std::collections::{BTreeMap, BTreeSet};

use bcda::claims::ResourceQuery;
use bcda::domain::{ApiVersion, AttributionKind, ResourceType};
use bcda::http::routes::jobs::{EXT_BYTES, EXT_COHORT, EXT_SHA256};
use bcda::jobs::worker::run_until_idle;
use serde_json::Value;
use time::OffsetDateTime;

use crate::harness::{TestApp, backend_test, gunzip, source_ids, source_of};
use crate::kickoff::{job_id, kick_ok, sandbox_with_token};

const SINCE: &str = "2025-09-01T00:00:00.000Z";
const SINCE_AT: OffsetDateTime = time::macros::datetime!(2025-09-01 0:00 UTC);

/// Runs the export `path` kicks off; its id, transaction time and manifest.
async fn export(app: &TestApp, token: &str, path: &str) -> (i64, OffsetDateTime, Value) {
    let id = job_id(&kick_ok(app, token, path).await);
    run_until_idle(&app.state.env).await.expect("worker");
    let job = bcda::store::jobs::find(app.db(), id)
        .await
        .expect("db")
        .expect("job");
    let version = path.split('/').nth(2).expect("version");
    let manifest = app
        .get_with_token(&format!("/api/{version}/jobs/{id}"), token)
        .await;
    assert_eq!(manifest.status, 200, "{}", manifest.text());
    (id, job.transaction_time.expect("planned"), manifest.json())
}

/// The entries a manifest lists under `key` (`output` or `error`).
fn entries<'m>(manifest: &'m Value, key: &str) -> &'m [Value] {
    manifest[key].as_array().expect("array")
}

/// The cohort an entry's extensions name (`None`: it has the checksum and
/// length only), checking their shape on the way.
fn cohort_of(entry: &Value) -> Option<String> {
    let extensions = entry["extension"].as_array().expect("extension");
    assert_eq!(extensions[0]["url"], EXT_SHA256, "{entry}");
    assert_eq!(extensions[1]["url"], EXT_BYTES, "{entry}");
    match extensions.as_slice() {
        [_, _] => None,
        [_, _, cohort] => {
            assert_eq!(cohort["url"], EXT_COHORT, "{entry}");
            assert_eq!(cohort.as_object().expect("object").len(), 2, "{entry}");
            Some(cohort["valueCode"].as_str().expect("valueCode").to_owned())
        }
        _ => panic!("unexpected extensions: {entry}"),
    }
}

/// The lines of the file a manifest entry names.
fn lines(app: &TestApp, job: i64, entry: &Value) -> Vec<Value> {
    let url = entry["url"].as_str().expect("url");
    let name = url.rsplit('/').next().expect("name");
    let path = app.state.files.path(job, name).expect("a directory store");
    let text = String::from_utf8(gunzip(&std::fs::read(path).expect("file"))).expect("utf-8");
    text.lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect()
}

/// The MBI an error line names (`Error retrieving <type> for beneficiary
/// MBI <mbi> in ACO <id>`).
fn mbi_of_error(line: &Value) -> String {
    let diagnostics = line["issue"][0]["diagnostics"]
        .as_str()
        .expect("diagnostics");
    let (_, rest) = diagnostics
        .split_once("beneficiary MBI ")
        .unwrap_or_else(|| panic!("{diagnostics}"));
    rest.split(' ').next().expect("mbi").to_owned()
}

/// The exportable members of `cms_id`'s current attribution as of `as_of`,
/// split as the contract defines the cohorts: "new" are absent from the
/// newest attribution file dated at or before `_since`, "existing" are in it.
async fn cohorts(
    app: &TestApp,
    cms_id: &str,
    as_of: OffsetDateTime,
) -> BTreeMap<String, Vec<String>> {
    let source = source_of(app.db(), cms_id).await;
    let files = source.attribution_files().await.expect("files");
    let previous = files
        .iter()
        .filter(|f| f.kind == AttributionKind::Default && f.attributed_at <= SINCE_AT)
        .max_by_key(|f| f.attributed_at)
        .expect("a file dated before _since");
    let before: BTreeSet<String> = source
        .attribution_members(previous)
        .await
        .expect("members")
        .into_iter()
        .collect();
    let members = crate::harness::exportable_members(app.db(), cms_id, as_of).await;
    let (existing, new): (Vec<String>, Vec<String>) =
        members.into_iter().partition(|m| before.contains(m));
    assert!(
        !new.is_empty() && !existing.is_empty(),
        "the sandbox has both"
    );
    BTreeMap::from([("new".to_owned(), new), ("existing".to_owned(), existing)])
}

backend_test! {
    async fn group_all_since_files_say_which_cohort_they_hold(backend) {
        let (app, token) = sandbox_with_token(backend, "A9994").await;
        let path = format!("/api/v2/Group/all/$export?_type=Patient,ExplanationOfBenefit&_since={SINCE}");
        let (id, as_of, manifest) = export(&app, &token, &path).await;
        let cohorts = cohorts(&app, "A9994", as_of).await;

        // Every data file names its cohort; the resources of each (type,
        // cohort) are exactly that cohort's: the new beneficiaries' whole
        // history, the others' changes since `_since`.
        let mut got: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        for entry in entries(&manifest, "output") {
            let cohort = cohort_of(entry).unwrap_or_else(|| panic!("no cohort: {entry}"));
            let resource_type = entry["type"].as_str().expect("type").to_owned();
            let ids = lines(&app, id, entry).iter().map(|r| r["id"].as_str().expect("id").to_owned()).collect::<Vec<_>>();
            let all = got.entry((resource_type, cohort)).or_default();
            for resource_id in ids {
                assert!(all.insert(resource_id), "a resource in two files");
            }
        }
        let mut want = BTreeMap::new();
        for resource_type in [ResourceType::Patient, ResourceType::ExplanationOfBenefit] {
            for (cohort, since) in [("new", None), ("existing", Some(SINCE_AT))] {
                let query = ResourceQuery { version: ApiVersion::V2, resource_type, since, until: as_of, as_of, claims_through: None, eob_filter: None };
                let ids = source_ids(app.db(), "A9994", &cohorts[cohort], query).await;
                assert!(!ids.is_empty(), "{cohort} {resource_type:?}");
                want.insert((resource_type.as_str().to_owned(), cohort.to_owned()), ids);
            }
        }
        assert_eq!(got, want);
        // The new beneficiaries' history reaches before `_since`: it is not
        // what `_since` alone would keep.
        let query = ResourceQuery { version: ApiVersion::V2, resource_type: ResourceType::ExplanationOfBenefit, since: Some(SINCE_AT), until: as_of, as_of, claims_through: None, eob_filter: None };
        let new_since = source_ids(app.db(), "A9994", &cohorts["new"], query).await;
        assert!(new_since.len() < want[&("ExplanationOfBenefit".to_owned(), "new".to_owned())].len());

        // Every error file names its cohort too, and lists exactly the
        // beneficiaries of that cohort the claims source does not know.
        let source = source_of(app.db(), "A9994").await;
        let mut unknown: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (cohort, members) in &cohorts {
            let keys = source.resolve(members, as_of).await.expect("resolve");
            let missing = members.iter().zip(keys).filter(|(_, k)| k.is_none()).map(|(m, _)| m.clone());
            unknown.insert(cohort.clone(), missing.collect());
        }
        assert!(unknown.values().any(|m| !m.is_empty()), "A9994 has beneficiaries without data");
        let mut errors: BTreeMap<String, BTreeSet<String>> = cohorts.keys().map(|c| (c.clone(), BTreeSet::new())).collect();
        assert!(!entries(&manifest, "error").is_empty());
        for entry in entries(&manifest, "error") {
            let cohort = cohort_of(entry).unwrap_or_else(|| panic!("no cohort: {entry}"));
            let listed = errors.get_mut(&cohort).unwrap_or_else(|| panic!("unknown cohort {cohort}"));
            listed.extend(lines(&app, id, entry).iter().map(mbi_of_error));
        }
        assert_eq!(errors, unknown);
    }
}

backend_test! {
    async fn other_exports_and_the_jobs_own_files_name_no_cohort(backend) {
        let (app, token) = sandbox_with_token(backend, "A9994").await;
        for path in [
            "/api/v2/Group/all/$export?_type=Patient".to_owned(),
            format!("/api/v2/Patient/$export?_type=Patient&_since={SINCE}"),
            format!("/api/v2/$export?_type=Patient&_since={SINCE}"),
        ] {
            let (_, _, manifest) = export(&app, &token, &path).await;
            assert!(!entries(&manifest, "output").is_empty() && !entries(&manifest, "error").is_empty(), "{manifest}");
            for entry in entries(&manifest, "output").iter().chain(entries(&manifest, "error")) {
                assert_eq!(cohort_of(entry), None, "{path}: {entry}");
            }
        }
        // v3's warnings-and-info file belongs to the job, not a cohort;
        // the same job's other files name theirs.
        let path = format!("/api/v3/Group/all/$export?_type=Patient,ExplanationOfBenefit&_since={SINCE}");
        let (_, _, manifest) = export(&app, &token, &path).await;
        for entry in entries(&manifest, "output").iter().chain(entries(&manifest, "error")) {
            let warnings = entry["url"].as_str().expect("url").ends_with("/warnings-and-info.ndjson");
            let cohort = cohort_of(entry);
            assert_eq!(cohort.is_none(), warnings, "{entry}");
            assert!(cohort.is_none_or(|c| c == "new" || c == "existing"), "{entry}");
        }
        assert!(entries(&manifest, "error").iter().any(|e| cohort_of(e).is_none()), "{manifest}");
    }
}

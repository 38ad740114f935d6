//! Pre-compressed packs (`store::resource_packs`): an import leaves one per
//! beneficiary, version and type; exports use them whole, and what they
//! give is what the rows give ([`read_all`] reads every stream both ways
//! and compares); any change to a row drops its pack, and the next import
//! packs the beneficiary again from the rows.

use bcda::claims::stored::StoredSource;
use bcda::claims::{ClaimsSource, ResourceQuery};
use bcda::domain::{ApiVersion, ResourceType};
use bcda::import;
use bcda::store::resource_packs;
use bcda::store::resources::{self, NewResource};
use bcda::synthetic_files;

use crate::claims_data::{SPEC, import_everything, synthetic};
use crate::harness::{START, TestApp, backend_test, read_all, read_all_counting_packs};

fn query(since: Option<time::OffsetDateTime>) -> ResourceQuery {
    ResourceQuery {
        version: ApiVersion::V2,
        resource_type: ResourceType::ExplanationOfBenefit,
        since,
        until: START,
        as_of: START,
        claims_through: None,
        eob_filter: None,
    }
}

async fn pack_count(app: &TestApp) -> i64 {
    resource_packs::count(app.db()).await.expect("count")
}

backend_test! {
    async fn packs_are_made_used_and_dropped_with_any_change(backend) {
        let app = TestApp::new(backend).await;
        let out = tempfile::tempdir().expect("tempdir");
        synthetic_files::write_all(&synthetic(&SPEC), out.path(), START).expect("write");
        app.create_aco("A0001").await;
        import_everything(&app, out.path()).await;
        let aco = bcda::store::acos::find_by_cms_id(app.db(), "A0001").await.expect("db").expect("aco");
        let stored = ClaimsSource::Stored(StoredSource::new(app.db().clone(), aco.id));
        let mbis = bcda::store::attribution_files::list(app.db(), aco.id).await.expect("files");
        let mut members = std::collections::BTreeSet::new();
        for file in &mbis {
            members.extend(bcda::store::attribution_files::members(app.db(), file.id).await.expect("members"));
        }
        let mbis: Vec<String> = members.into_iter().collect();

        // A pack per beneficiary, version and type that has resources
        // (Claim and ClaimResponse are not packed).
        let packs = pack_count(&app).await;
        assert!(packs > 0);
        let (before, used) = read_all_counting_packs(&stored, &mbis, query(None)).await;
        assert!(used > 0, "a full export uses packs");
        assert!(!before.is_empty());
        // A `_since` after some beneficiaries' resources: their packs are
        // not used whole; the rows give the same (read_all compares).
        let since = time::macros::datetime!(2025-09-01 0:00 UTC);
        let (_, used_since) = read_all_counting_packs(&stored, &mbis, query(Some(since))).await;
        assert!(used_since < used);

        // The same files again leave the packs as they were.
        import_everything(&app, out.path()).await;
        assert_eq!(pack_count(&app).await, packs);

        // One resource changed in the store: its beneficiary's pack goes.
        let first: serde_json::Value = serde_json::from_slice(&before[0]).expect("json");
        let patient_id = first["patient"]["reference"].as_str().expect("reference")
            .trim_start_matches("Patient/").to_owned();
        let mut changed = first.clone();
        changed["id"] = serde_json::Value::String("pack-test-1".into());
        let mut tx = app.db().begin().await.expect("begin");
        let beneficiary_id = resources::beneficiary_by_patient_id(&mut tx, &patient_id)
            .await.expect("db").expect("beneficiary");
        resources::upsert(&mut tx, vec![NewResource {
            beneficiary_id,
            version: ApiVersion::V2,
            resource_type: ResourceType::ExplanationOfBenefit,
            resource_id: "pack-test-1".into(),
            last_updated: START - time::Duration::days(1),
            service_end: None,
            samhsa: false,
            eob_facts: None,
            body: serde_json::to_vec(&changed).expect("json"),
        }]).await.expect("upsert");
        tx.commit().await.expect("commit");
        assert_eq!(pack_count(&app).await, packs - 1);
        let after_upsert = read_all(&stored, &mbis, query(None)).await;
        assert_eq!(after_upsert.len(), before.len() + 1);

        // A file changing that beneficiary's resources again (the same id,
        // another body): imported, the beneficiary is packed from the rows.
        changed["total"] = serde_json::json!([{"amount": {"value": 1.5}}]);
        let file = out.path().join("more.ndjson");
        let mut line = serde_json::to_vec(&changed).expect("json");
        line.push(b'\n');
        std::fs::write(&file, &line).expect("write");
        import::resources::import_file(app.db(), ApiVersion::V2, &file, true).await.expect("import");
        assert_eq!(pack_count(&app).await, packs);
        let (after_import, used_after) = read_all_counting_packs(&stored, &mbis, query(None)).await;
        assert_eq!(used_after, used);
        assert_eq!(after_import.len(), before.len() + 1);
        assert!(after_import.contains(&line[..line.len() - 1].to_vec()), "the new body is read, from the pack");

        // Moving a resource to another beneficiary drops both packs.
        let other = resources::beneficiary_by_patient_id(
            &mut app.db().begin().await.expect("begin"),
            serde_json::from_slice::<serde_json::Value>(before.last().expect("line")).expect("json")
                ["patient"]["reference"].as_str().expect("reference").trim_start_matches("Patient/"),
        ).await.expect("db").expect("beneficiary");
        assert_ne!(other, beneficiary_id, "the first and last lines are of different beneficiaries");
        let mut tx = app.db().begin().await.expect("begin");
        resources::upsert(&mut tx, vec![NewResource {
            beneficiary_id: other,
            version: ApiVersion::V2,
            resource_type: ResourceType::ExplanationOfBenefit,
            resource_id: "pack-test-1".into(),
            last_updated: START - time::Duration::days(1),
            service_end: None,
            samhsa: false,
            eob_facts: None,
            body: line[..line.len() - 1].to_vec(),
        }]).await.expect("upsert");
        tx.commit().await.expect("commit");
        assert_eq!(pack_count(&app).await, packs - 2);
        assert_eq!(read_all(&stored, &mbis, query(None)).await.len(), before.len() + 1);
    }
}

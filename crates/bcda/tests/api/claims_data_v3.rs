//! API v3 claims data: `bcda synthetic`'s `fhir/r4-v3` files imported give,
//! byte for byte, what the generator serves under every `_typeFilter` (tags
//! and outcome, service dates) with `_since` and the runout cap; the
//! importer refuses v3 ExplanationOfBenefits without known tags and
//! outcome, and Claims and ClaimResponses.

use bcda::claims::generated::GeneratedSource;
use bcda::claims::stored::StoredSource;
use bcda::claims::{ClaimsSource, ResourceQuery};
use bcda::domain::{ApiVersion, EobFacts, EobFilter, FactSet, ResourceType, SystemType};
use bcda::import;
use bcda::synthetic_files;
use time::macros::{date, datetime};

use crate::claims_data::{SPEC, count_of, import_everything, is_part2_line, synthetic};
use crate::harness::{START, TestApp, backend_test, read_all};

const SYSTEM_TYPE: &str = "https://bluebutton.cms.gov/fhir/CodeSystem/System-Type";

/// The System-Type code of an exported EOB line.
fn system_type(line: &[u8]) -> String {
    let eob: serde_json::Value = serde_json::from_slice(line).expect("json");
    eob["meta"]["tag"]
        .as_array()
        .expect("tags")
        .iter()
        .find(|t| t["system"] == SYSTEM_TYPE)
        .and_then(|t| t["code"].as_str())
        .expect("a System-Type tag")
        .to_owned()
}

backend_test! {
    async fn v3_eobs_read_back_exactly_as_generated_under_every_filter(backend) {
        let app = TestApp::new(backend).await;
        let out = tempfile::tempdir().expect("tempdir");
        synthetic_files::write_all(&synthetic(&SPEC), out.path(), START).expect("write");
        app.create_aco("A0001").await;
        import_everything(&app, out.path()).await;
        let aco = bcda::store::acos::find_by_cms_id(app.db(), "A0001")
            .await
            .expect("db")
            .expect("aco");
        let stored = ClaimsSource::Stored(StoredSource::new(app.db().clone(), aco.id));
        let generated = ClaimsSource::Generated(GeneratedSource::new(app.db().clone(), "A0001", &SPEC));
        let world = synthetic(&SPEC);
        let mbis: Vec<String> = (0..world.pool_size())
            .filter_map(|i| world.beneficiary(i).map(|b| b.mbi))
            .collect();

        // Every v3 EOB is stored with its facts, Part 2 ones flagged (some
        // of them partially adjudicated).
        let held = bcda::store::resources::counts(app.db()).await.expect("counts");
        let held_samhsa = bcda::store::resources::samhsa_counts(app.db()).await.expect("counts");
        let v3_eobs = count_of(&held, ApiVersion::V3, ResourceType::ExplanationOfBenefit);
        assert!(v3_eobs > count_of(&held, ApiVersion::V2, ResourceType::ExplanationOfBenefit));
        assert!(count_of(&held_samhsa, ApiVersion::V3, ResourceType::ExplanationOfBenefit) > 0);

        let nch_and_ddps = FactSet::from_fn(|f| f.system_type != SystemType::SharedSystem);
        let shared = FactSet::from_fn(|f| f.system_type == SystemType::SharedSystem);
        let filters = [
            ("none", None),
            ("all", Some(EobFilter::ALL)),
            ("default", Some(EobFilter { facts: nch_and_ddps, ..EobFilter::ALL })),
            ("shared", Some(EobFilter { facts: shared, ..EobFilter::ALL })),
            ("part d", Some(EobFilter { facts: FactSet::from_fn(|f| f == EobFacts::DDPS), ..EobFilter::ALL })),
            ("window", Some(EobFilter {
                facts: FactSet::ALL,
                service_from: Some(date!(2025 - 06 - 01)),
                service_through: Some(date!(2025 - 08 - 31)),
            })),
            ("shared since 2026", Some(EobFilter {
                facts: shared,
                service_from: Some(date!(2026 - 01 - 01)),
                service_through: None,
            })),
            ("nothing", Some(EobFilter { facts: FactSet::NONE, ..EobFilter::ALL })),
        ];
        let mut everything = 0;
        for (name, eob_filter) in filters {
            for (since, claims_through) in [
                (None, None),
                (Some(datetime!(2025-09-01 0:00 UTC)), None),
                (None, Some(date!(2025 - 12 - 31))),
                (Some(datetime!(2025-09-01 0:00 UTC)), Some(date!(2026 - 01 - 31))),
            ] {
                let query = ResourceQuery {
                    version: ApiVersion::V3,
                    resource_type: ResourceType::ExplanationOfBenefit,
                    since,
                    until: START,
                    as_of: START,
                    claims_through,
                    eob_filter,
                };
                let from_store = read_all(&stored, &mbis, query).await;
                let from_generator = read_all(&generated, &mbis, query).await;
                let label = format!("{name} {since:?} {claims_through:?}");
                assert!(from_store == from_generator, "{label}: the sources differ");
                // Empty only when the bounds leave nothing: no combination,
                // or service from 2026 yet ended by 2025.
                let nothing_possible = name == "nothing"
                    || (name == "shared since 2026" && claims_through == Some(date!(2025 - 12 - 31)));
                assert_eq!(from_generator.is_empty(), nothing_possible, "{label}");
                for line in &from_generator {
                    assert!(!is_part2_line(line), "{label}: a Part 2 claim");
                    let system = system_type(line);
                    match name {
                        "default" => assert_ne!(system, "SharedSystem", "{label}"),
                        "shared" | "shared since 2026" => assert_eq!(system, "SharedSystem", "{label}"),
                        "part d" => assert_eq!(system, "DDPS", "{label}"),
                        _ => {}
                    }
                }
                if (since, claims_through) == (None, None) {
                    match name {
                        // Everything but the Part 2 claims.
                        "none" => {
                            everything = from_store.len();
                            let kept = v3_eobs
                                - count_of(&held_samhsa, ApiVersion::V3, ResourceType::ExplanationOfBenefit);
                            assert_eq!(i64::try_from(everything).expect("count"), kept);
                        }
                        "all" => assert_eq!(from_store.len(), everything),
                        "nothing" => {}
                        _ => assert!(from_store.len() < everything, "{label}"),
                    }
                }
            }
        }

        // Patient and Coverage are v2's, and a filter is ignored where it
        // does not belong (other types, other versions), by both sources.
        let only_shared = Some(EobFilter { facts: shared, ..EobFilter::ALL });
        for (version, resource_type) in [
            (ApiVersion::V3, ResourceType::Patient),
            (ApiVersion::V3, ResourceType::Coverage),
            (ApiVersion::V2, ResourceType::ExplanationOfBenefit),
        ] {
            let query = |eob_filter| ResourceQuery {
                version,
                resource_type,
                since: None,
                until: START,
                as_of: START,
                claims_through: None,
                eob_filter,
            };
            let plain = read_all(&generated, &mbis, query(None)).await;
            assert!(!plain.is_empty());
            assert!(read_all(&stored, &mbis, query(only_shared)).await == plain, "{version:?} {resource_type:?}");
            assert!(read_all(&generated, &mbis, query(only_shared)).await == plain, "{version:?} {resource_type:?}");
            if version == ApiVersion::V3 {
                let v2 = read_all(&generated, &mbis, ResourceQuery { version: ApiVersion::V2, ..query(None) }).await;
                assert!(plain == v2, "{resource_type:?}: v3 is v2's");
            }
        }
    }
}

/// `line` (JSON) changed by `edit`.
fn edited(line: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut value: serde_json::Value = serde_json::from_str(line).expect("json");
    edit(&mut value);
    value.to_string()
}

backend_test! {
    async fn v3_imports_refuse_eobs_without_known_tags_and_claims(backend) {
        let app = TestApp::new(backend).await;
        let out = tempfile::tempdir().expect("tempdir");
        synthetic_files::write_all(&synthetic(&SPEC), out.path(), START).expect("write");
        let v3 = out.path().join("fhir/r4-v3");
        let patients = v3.join("Patient.ndjson");
        import::resources::import_file(app.db(), ApiVersion::V3, &patients, true)
            .await
            .expect("patients");
        let before = bcda::store::resources::counts(app.db()).await.expect("counts");
        let eobs = std::fs::read_to_string(v3.join("ExplanationOfBenefit.ndjson")).expect("read");
        let first = eobs.lines().next().expect("an EOB");
        let secret = "NOT-A-CODE-1S00A00AA00";
        let set_tag = |system: &'static str, code: &'static str| {
            move |v: &mut serde_json::Value| {
                for tag in v["meta"]["tag"].as_array_mut().expect("tags") {
                    if tag["system"] == system {
                        tag["code"] = serde_json::json!(code);
                    }
                }
            }
        };
        let final_action = "https://bluebutton.cms.gov/fhir/CodeSystem/Final-Action";
        let cases: Vec<(String, &str, &str)> = vec![
            (
                edited(first, |v| { v["meta"].as_object_mut().expect("meta").remove("tag"); }),
                "line 2, field meta.tag",
                "needs a System-Type tag",
            ),
            (
                edited(first, set_tag(SYSTEM_TYPE, "NOT-A-CODE-1S00A00AA00")),
                "line 2, field meta.tag",
                "is not NationalClaimsHistory, DDPS or SharedSystem",
            ),
            (
                edited(first, set_tag(final_action, "NOT-A-CODE-1S00A00AA00")),
                "line 2, field meta.tag",
                "is not FinalAction or NotFinalAction",
            ),
            (
                edited(first, |v| {
                    v["meta"]["tag"].as_array_mut().expect("tags").retain(|t| t["system"] != final_action);
                }),
                "line 2, field meta.tag",
                "needs a Final-Action tag",
            ),
            (
                edited(first, |v| {
                    let tags = v["meta"]["tag"].as_array_mut().expect("tags");
                    let again = tags[0].clone();
                    tags.push(again);
                }),
                "line 2, field meta.tag",
                "more than one System-Type tag",
            ),
            (
                edited(first, |v| { v.as_object_mut().expect("eob").remove("outcome"); }),
                "line 2, field outcome",
                "missing",
            ),
            (
                edited(first, |v| v["outcome"] = serde_json::json!(secret)),
                "line 2, field outcome",
                "not complete or partial",
            ),
        ];
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bad.ndjson");
        for (bad, place, reason) in cases {
            // A good line first: the whole file is refused all the same.
            std::fs::write(&path, format!("{first}\n{bad}\n")).expect("write");
            let err = import::resources::import_file(app.db(), ApiVersion::V3, &path, true)
                .await
                .expect_err(reason);
            let message = err.to_string();
            assert!(message.contains(place) && message.contains(reason), "{message}");
            // The line's content is never printed.
            assert!(!message.contains(secret), "{message}");
            assert!(!message.contains(&bad), "{message}");
            assert_eq!(bcda::store::resources::counts(app.db()).await.expect("counts"), before, "{reason}");
        }

        // Claim and ClaimResponse are v2's: refused on v3, by name.
        let r4 = out.path().join("fhir/r4");
        for name in ["Claim", "ClaimResponse"] {
            let lines = std::fs::read_to_string(r4.join(format!("{name}.ndjson"))).expect("read");
            std::fs::write(&path, format!("{first}\n{}\n", lines.lines().next().expect("one"))).expect("write");
            let err = import::resources::import_file(app.db(), ApiVersion::V3, &path, true)
                .await
                .expect_err(name);
            let message = err.to_string();
            assert!(message.contains("line 2, field resourceType"), "{message}");
            assert!(message.contains(&format!("{name} is a v2 (FHIR R4) resource only")), "{message}");
            assert!(message.contains("tagged SharedSystem"), "{message}");
        }
        assert_eq!(bcda::store::resources::counts(app.db()).await.expect("counts"), before);

        // The good file imports, partially adjudicated EOBs and all.
        std::fs::write(&path, &eobs).expect("write");
        import::resources::import_file(app.db(), ApiVersion::V3, &path, true)
            .await
            .expect("the EOBs");
        let pac = eobs.lines().filter(|l| l.contains("\"SharedSystem\"")).count();
        assert!(pac > 0, "the file holds SharedSystem EOBs");
    }
}

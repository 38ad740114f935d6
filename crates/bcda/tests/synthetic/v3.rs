//! API v3 renderings: Patient and Coverage as v2's; every
//! ExplanationOfBenefit tagged with its System-Type and Final-Action and
//! given an outcome, partially adjudicated claims among them (SharedSystem,
//! NotFinalAction, partial); `_typeFilter` applied before rendering.

use bcda::domain::{EobFacts, EobFilter, FactSet, SystemType};
use serde_json::Value;

use super::*;

const SYSTEM_TYPE: &str = "https://bluebutton.cms.gov/fhir/CodeSystem/System-Type";
const FINAL_ACTION: &str = "https://bluebutton.cms.gov/fhir/CodeSystem/Final-Action";

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("json")
}

/// The code of the one tag of `system` an EOB carries.
fn tag(eob: &Value, system: &str) -> String {
    let tags: Vec<&Value> = eob["meta"]["tag"]
        .as_array()
        .expect("meta.tag")
        .iter()
        .filter(|t| t["system"] == system)
        .collect();
    assert_eq!(tags.len(), 1, "one {system} tag: {}", eob["meta"]);
    tags[0]["code"].as_str().expect("code").to_owned()
}

/// `(System-Type, Final-Action, outcome)` as rendered.
fn rendered_facts(eob: &Value) -> (String, String, String) {
    (
        tag(eob, SYSTEM_TYPE),
        tag(eob, FINAL_ACTION),
        eob["outcome"].as_str().expect("outcome").to_owned(),
    )
}

fn codes(facts: EobFacts) -> (String, String, String) {
    (
        facts.system_type.code().to_owned(),
        facts.final_action.code().to_owned(),
        facts.outcome.code().to_owned(),
    )
}

/// The facts an EOB's tags and outcome name.
fn facts_of(eob: &Value) -> EobFacts {
    let rendered = rendered_facts(eob);
    EobFacts::all()
        .find(|f| codes(*f) == rendered)
        .unwrap_or_else(|| panic!("known tags: {rendered:?}"))
}

fn service_end(eob: &Value) -> Date {
    let end = eob["billablePeriod"]["end"].as_str().expect("end");
    Date::parse(
        end,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .expect("date")
}

#[test]
fn golden_v3_eobs_of_each_system() {
    let aco = dev_aco();
    // The first EOB of each kind, scanning the pool in index order: a
    // carrier claim (NationalClaimsHistory), a Part D event (DDPS), a FISS
    // and an MCS claim (SharedSystem).
    let mut first: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
    for index in 0..aco.pool_size() {
        for r in aco.resources(
            index,
            ApiVersion::V3,
            ResourceType::ExplanationOfBenefit,
            PAC_UNTIL,
        ) {
            let kind = ["carrier-", "pde-", "f-", "m-"]
                .into_iter()
                .find(|p| r.id.starts_with(p));
            if let Some(kind) = kind {
                first.entry(kind).or_insert(r.json);
            }
        }
        if first.len() == 4 {
            break;
        }
    }
    assert_eq!(first.len(), 4, "{:?}", first.keys());
    let expected = [
        ("carrier-", EobFacts::NCH),
        ("pde-", EobFacts::DDPS),
        ("f-", EobFacts::SHARED_SYSTEM),
        ("m-", EobFacts::SHARED_SYSTEM),
    ];
    let mut out = Vec::new();
    for (kind, facts) in expected {
        let bytes = &first[kind];
        let eob = json(bytes);
        assert_eq!(eob["resourceType"], "ExplanationOfBenefit");
        assert_eq!(rendered_facts(&eob), codes(facts), "{kind}");
        out.extend_from_slice(bytes);
        out.push(b'\n');
    }
    check_golden("v3_ExplanationOfBenefit.ndjson", &out);
}

#[test]
fn v3_is_v2_with_tags_and_partially_adjudicated_eobs() {
    let aco = dev_aco();
    let mut shared = 0;
    for index in [0, 1, 2, 7, 23, 37] {
        // Patient and Coverage: v2's bytes.
        for rt in [ResourceType::Patient, ResourceType::Coverage] {
            assert!(
                aco.resources(index, ApiVersion::V3, rt, PAC_UNTIL)
                    == aco.resources(index, ApiVersion::V2, rt, PAC_UNTIL),
                "{index} {rt:?}"
            );
        }
        // No Claim or ClaimResponse on v3.
        for rt in [ResourceType::Claim, ResourceType::ClaimResponse] {
            assert!(
                aco.resources(index, ApiVersion::V3, rt, PAC_UNTIL)
                    .is_empty()
            );
        }
        let v2 = aco.resources(
            index,
            ApiVersion::V2,
            ResourceType::ExplanationOfBenefit,
            PAC_UNTIL,
        );
        let v3 = aco.resources(
            index,
            ApiVersion::V3,
            ResourceType::ExplanationOfBenefit,
            PAC_UNTIL,
        );
        let claims = aco.pac_resources(index, PacResource::Claim, PAC_UNTIL);
        assert_eq!(v3.len(), v2.len() + claims.len(), "{index}");
        // One (lastUpdated, id) order for both kinds.
        assert!(
            v3.windows(2)
                .all(|w| (w[0].last_updated, w[0].id.as_bytes())
                    < (w[1].last_updated, w[1].id.as_bytes()))
        );
        for r in &v3 {
            let mut eob = json(&r.json);
            if let Some(adjudicated) = v2.iter().find(|e| e.id == r.id) {
                // The v2 rendering plus the tags; outcome as v2's.
                let facts = if r.id.starts_with("pde-") {
                    EobFacts::DDPS
                } else {
                    EobFacts::NCH
                };
                assert_eq!(rendered_facts(&eob), codes(facts), "{}", r.id);
                assert_eq!(r.last_updated, adjudicated.last_updated);
                eob["meta"].as_object_mut().expect("meta").remove("tag");
                assert_eq!(eob, json(&adjudicated.json), "{}", r.id);
                continue;
            }
            // A partially adjudicated claim: its Claim's id, dates and
            // clinical content, as an ExplanationOfBenefit.
            shared += 1;
            let claim = claims.iter().find(|c| c.id == r.id).expect("its Claim");
            let claim = json(&claim.json);
            assert_eq!(rendered_facts(&eob), codes(EobFacts::SHARED_SYSTEM));
            for field in [
                "id",
                "identifier",
                "type",
                "billablePeriod",
                "created",
                "diagnosis",
                "item",
            ] {
                assert_eq!(eob[field], claim[field], "{} {field}", r.id);
            }
            assert_eq!(
                eob["meta"]["lastUpdated"], claim["meta"]["lastUpdated"],
                "{}",
                r.id
            );
            assert_eq!(eob["meta"]["security"], claim["meta"]["security"]);
            let bene = aco.beneficiary(index).expect("bene");
            assert_eq!(
                eob["patient"]["reference"],
                format!("Patient/{}", bene.bene_id)
            );
            assert_eq!(
                eob["total"][0]["amount"]["value"], claim["total"]["value"],
                "{}",
                r.id
            );
        }
    }
    assert!(shared > 0, "some partially adjudicated EOBs");
}

/// The filters an export may carry: everything, BCDA's default (NCH and
/// DDPS), SharedSystem only, and a service-date window.
fn filters() -> Vec<EobFilter> {
    let default = FactSet::from_fn(|f| f.system_type != SystemType::SharedSystem);
    vec![
        EobFilter::ALL,
        EobFilter {
            facts: default,
            ..EobFilter::ALL
        },
        EobFilter {
            facts: FactSet::from_fn(|f| f.system_type == SystemType::SharedSystem),
            ..EobFilter::ALL
        },
        EobFilter {
            facts: FactSet::ALL,
            service_from: Some(date!(2025 - 03 - 01)),
            service_through: Some(date!(2025 - 05 - 31)),
        },
        EobFilter {
            facts: default,
            service_from: None,
            service_through: Some(date!(2024 - 12 - 31)),
        },
        EobFilter {
            facts: FactSet::NONE,
            ..EobFilter::ALL
        },
    ]
}

#[test]
fn v3_filters_apply_before_rendering_as_if_after() {
    let aco = dev_aco();
    let since = datetime!(2025-04-01 0:00 UTC);
    let mut kept_by_filter = vec![0; filters().len()];
    for index in [0, 2, 7, 37] {
        let all = aco.resources(
            index,
            ApiVersion::V3,
            ResourceType::ExplanationOfBenefit,
            PAC_UNTIL,
        );
        // Each resource's tags and outcome, service end and Part 2
        // diagnosis, read from its JSON once.
        let read: Vec<_> = all
            .iter()
            .map(|r| {
                let eob = json(&r.json);
                (
                    facts_of(&eob),
                    service_end(&eob),
                    has_part2_diagnosis(&r.json),
                )
            })
            .collect();
        for (n, filter) in filters().into_iter().enumerate() {
            for (since, claims_through, exclude_samhsa) in [
                (None, None, false),
                (Some(since), None, true),
                (None, Some(date!(2025 - 04 - 30)), true),
            ] {
                let selection = Selection {
                    since,
                    until: PAC_UNTIL,
                    as_of: PAC_UNTIL,
                    claims_through,
                    eob_filter: Some(filter),
                    exclude_samhsa,
                };
                let filtered: Vec<_> = aco
                    .cursor(
                        index,
                        ApiVersion::V3,
                        ResourceType::ExplanationOfBenefit,
                        &selection,
                    )
                    .collect();
                // The same as reading the rendered resources' tags, outcome,
                // billable period and diagnoses.
                let expected: Vec<_> = all
                    .iter()
                    .zip(&read)
                    .filter(|(r, (facts, end, part2))| {
                        filter.matches(*facts, *end)
                            && since.is_none_or(|s| r.last_updated > s)
                            && claims_through.is_none_or(|cap| *end <= cap)
                            && !(exclude_samhsa && *part2)
                    })
                    .map(|(r, _)| r.clone())
                    .collect();
                assert!(
                    filtered == expected,
                    "{index} {filter:?} {since:?} {claims_through:?}"
                );
                kept_by_filter[n] += filtered.len();
            }
        }
    }
    // Each filter keeps some and leaves some out (but the empty one).
    let everything = kept_by_filter[0];
    let (empty, others) = kept_by_filter.split_last().expect("filters");
    assert_eq!(*empty, 0);
    for (n, kept) in others.iter().enumerate().skip(1) {
        assert!(
            *kept > 0 && *kept < everything,
            "filter {n}: {kept_by_filter:?}"
        );
    }
    // On v1 and v2 the filter is not theirs: nothing changes.
    for v in [ApiVersion::V1, ApiVersion::V2] {
        let only_shared = Selection {
            eob_filter: Some(filters()[2]),
            ..Selection::everything(PAC_UNTIL)
        };
        assert_eq!(
            aco.cursor(0, v, ResourceType::ExplanationOfBenefit, &only_shared)
                .count(),
            aco.resources(0, v, ResourceType::ExplanationOfBenefit, PAC_UNTIL)
                .len()
        );
    }
}

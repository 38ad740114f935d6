//! API v3's `_typeFilter` through the HTTP API (issue 13): every refusal
//! with BCDA's text, the SharedSystem entitlement, and a truth table of
//! sub-parameters (each alone, OR within one, AND across repeats, the
//! default System-Type tags) checked against what the export holds.

use std::collections::BTreeSet;

use bcda::jobs::worker::run_until_idle;
use serde_json::Value;

use crate::harness::{TestApp, backend_test};
use crate::kickoff::{job_id, kick_ok, outputs, sandbox_with_token};

const ST: &str = "https://bluebutton.cms.gov/fhir/CodeSystem/System-Type";
const FA: &str = "https://bluebutton.cms.gov/fhir/CodeSystem/Final-Action";

/// Percent-encodes a query value (everything but unreserved characters),
/// as a client building a URL does.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The v3 kick-off URL with `filter` as its `_typeFilter` (encoded once).
fn with_filter(filter: &str) -> String {
    format!(
        "/api/v3/Patient/$export?_type=ExplanationOfBenefit&_typeFilter={}",
        encode(filter)
    )
}

/// One EOB's tag codes, outcome and last day of service.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Eob {
    id: String,
    system_type: String,
    final_action: String,
    outcome: String,
    service_end: String,
}

fn eob(resource: &Value) -> Eob {
    let tag = |system: &str| {
        let codes: Vec<&str> = resource["meta"]["tag"]
            .as_array()
            .expect("meta.tag")
            .iter()
            .filter(|t| t["system"] == system)
            .map(|t| t["code"].as_str().expect("code"))
            .collect();
        assert_eq!(codes.len(), 1, "one {system} tag: {resource}");
        codes[0].to_owned()
    };
    Eob {
        id: resource["id"].as_str().expect("id").to_owned(),
        system_type: tag(ST),
        final_action: tag(FA),
        outcome: resource["outcome"].as_str().expect("outcome").to_owned(),
        service_end: resource["billablePeriod"]["end"]
            .as_str()
            .expect("billablePeriod.end")[..10]
            .to_owned(),
    }
}

/// Runs a v3 export of `path` and returns its EOBs and whether the
/// manifest lists the default-tag warning file.
async fn export(app: &TestApp, token: &str, path: &str) -> (BTreeSet<Eob>, bool) {
    let id = job_id(&kick_ok(app, token, path).await);
    run_until_idle(&app.state.env).await.expect("worker");
    let manifest = app
        .get_with_token(&format!("/api/v3/jobs/{id}"), token)
        .await
        .json();
    let warned = manifest["error"]
        .as_array()
        .expect("error")
        .iter()
        .any(|e| {
            e["url"]
                .as_str()
                .is_some_and(|u| u.ends_with("/warnings-and-info.ndjson"))
        });
    let eobs = outputs(app, token, "v3", id, "ExplanationOfBenefit")
        .await
        .iter()
        .flatten()
        .map(eob)
        .collect();
    (eobs, warned)
}

backend_test! {
    async fn type_filter_refusals_have_bcdas_texts(backend) {
        let (app, token) = sandbox_with_token(backend, "A9994").await;
        let tag = |code: &str| format!("{ST}|{code}");
        let cases: Vec<(String, String)> = vec![
            ("Patient?_tag=x".into(), "invalid _typeFilter Resource Type (Only EOBs valid): Patient".into()),
            ("ExplanationOfBenefit".into(), "_typeFilter parameter missing question mark ExplanationOfBenefit".into()),
            ("?_tag=x".into(), "_typeFilter parameter missing resource type ?_tag=x".into()),
            ("ExplanationOfBenefit?".into(), "_typeFilter parameter missing value ExplanationOfBenefit?".into()),
            ("ExplanationOfBenefit?service-dateactive".into(), "_typeFilter value missing equals sign: service-dateactive".into()),
            ("ExplanationOfBenefit?status=active".into(), "invalid _typeFilter subquery parameter: status".into()),
            ("ExplanationOfBenefit?_tag=SharedSystem".into(), "invalid _tag parameter value. Searching by tag requires a token (system|code) to be specified".into()),
            (format!("ExplanationOfBenefit?_tag={ST}|Other"), format!("invalid _tag parameter, unsupported code Other for system {ST}")),
            ("ExplanationOfBenefit?_tag=http://x|DDPS".into(), "invalid _tag parameter, unsupported code DDPS for system http://x".into()),
            (format!("ExplanationOfBenefit?_tag:not={}", tag("DDPS")), "invalid _tag parameter; modifier not not supported".into()),
            ("ExplanationOfBenefit?outcome=queued".into(), "invalid outcome code: queued. Supported outcome codes are 'complete' and 'partial'".into()),
            ("ExplanationOfBenefit?outcome=".into(), "token parameter missing value outcome".into()),
            ("ExplanationOfBenefit?service-date=".into(), "date parameter missing value: service-date".into()),
            ("ExplanationOfBenefit?service-date=ge".into(), "value must include a valid FHIR date for date parameter service-date".into()),
            ("ExplanationOfBenefit?service-date=ge2024-13-01".into(), "invalid date parameter value: 2024-13-01".into()),
            ("ExplanationOfBenefit?service-date=ge2024,2025".into(), "invalid service-date parameter value: comma-separated values are not supported".into()),
            ("ExplanationOfBenefit?service-date=ge2024&service-date=gt2025".into(), "invalid service-date parameter value: conflicting prefix conditions".into()),
        ];
        for (filter, message) in &cases {
            let response = kick_ok(&app, &token, &with_filter(filter)).await;
            response.assert_outcome(400, "structure", message);
            assert_eq!(response.json()["issue"][0]["details"]["text"], message.as_str(), "{filter}");
        }
        // More than one `_typeFilter`.
        let two = format!(
            "/api/v3/Patient/$export?_typeFilter={}&_typeFilter={}",
            encode("ExplanationOfBenefit?outcome=complete"),
            encode("ExplanationOfBenefit?outcome=partial"),
        );
        kick_ok(&app, &token, &two)
            .await
            .assert_outcome(400, "structure", "failed to process request given more that one _typeFilter parameter");
        // A bad escape after the second decoding.
        kick_ok(&app, &token, "/api/v3/Patient/$export?_typeFilter=ExplanationOfBenefit%3Foutcome%3D%25zz")
            .await
            .assert_outcome(400, "structure", "failed to unescape ExplanationOfBenefit?outcome=%zz");
        // v1 and v2 ignore `_typeFilter`, as BCDA.
        for v in ["v1", "v2"] {
            let path = format!("/api/{v}/Patient/$export?_type=Patient&_typeFilter=Patient%3Fx");
            job_id(&kick_ok(&app, &token, &path).await);
        }
        // Checked after `_type` (BCDA's order).
        kick_ok(&app, &token, "/api/v3/Patient/$export?_type=Claim&_typeFilter=x")
            .await
            .assert_outcome(400, "structure", "invalid resource type Claim. Supported types [Patient Coverage ExplanationOfBenefit]");
    }
}

backend_test! {
    async fn shared_system_needs_partially_adjudicated_data(backend) {
        let (app, token) = sandbox_with_token(backend, "A9994").await;
        let path = with_filter(&format!("ExplanationOfBenefit?_tag={ST}|SharedSystem"));
        kick_ok(&app, &token, &path)
            .await
            .assert_outcome(400, "structure", "Model entities in SSP are not eligible to access SharedSystem data.");
        // Even among other codes, and even when no EOB is asked for.
        let mixed = format!(
            "/api/v3/Patient/$export?_type=Patient&_typeFilter={}",
            encode(&format!("ExplanationOfBenefit?_tag={ST}|DDPS,{ST}|SharedSystem"))
        );
        kick_ok(&app, &token, &mixed)
            .await
            .assert_outcome(400, "structure", "Model entities in SSP are not eligible to access SharedSystem data.");
        // Without SharedSystem, A9994's v3 EOBs are its adjudicated claims only.
        let all = with_filter(&format!("ExplanationOfBenefit?_tag={ST}|NationalClaimsHistory,{ST}|DDPS"));
        let (eobs, warned) = export(&app, &token, &all).await;
        assert!(!warned);
        assert!(!eobs.is_empty());
        assert!(eobs.iter().all(|e| e.system_type != "SharedSystem" && e.final_action == "FinalAction" && e.outcome == "complete"));
        assert!(eobs.iter().any(|e| e.system_type == "DDPS") && eobs.iter().any(|e| e.system_type == "NationalClaimsHistory"));
    }
}

backend_test! {
    async fn type_filter_truth_table(backend) {
        // TEST001 is entitled to partially adjudicated data: its v3 EOBs
        // include SharedSystem ones when asked.
        let (app, token) = sandbox_with_token(backend, "TEST001").await;
        let every = format!("ExplanationOfBenefit?_tag={ST}|NationalClaimsHistory,{ST}|DDPS,{ST}|SharedSystem");
        let (all, warned) = export(&app, &token, &with_filter(&every)).await;
        assert!(!warned);
        for system in ["NationalClaimsHistory", "DDPS", "SharedSystem"] {
            assert!(all.iter().any(|e| e.system_type == system), "TEST001 has {system} claims");
        }
        // Each System-Type comes with its Final-Action and outcome.
        for e in &all {
            let shared = e.system_type == "SharedSystem";
            assert_eq!(e.final_action, if shared { "NotFinalAction" } else { "FinalAction" }, "{e:?}");
            assert_eq!(e.outcome, if shared { "partial" } else { "complete" }, "{e:?}");
        }
        // A service date splitting the claims.
        let mut ends: Vec<&str> = all.iter().map(|e| e.service_end.as_str()).collect();
        ends.sort_unstable();
        let middle = ends[ends.len() / 2].to_owned();
        let year = &middle[..4];

        type Rule = Box<dyn Fn(&Eob) -> bool>;
        let system = |s: &'static str| -> Rule { Box::new(move |e: &Eob| e.system_type == s) };
        let adjudicated: Rule = Box::new(|e: &Eob| e.system_type != "SharedSystem");
        let m = middle.clone();
        let m2 = middle.clone();
        let m3 = middle.clone();
        let y = year.to_owned();
        let cases: Vec<(String, Rule, bool)> = vec![
            // One sub-parameter at a time.
            (format!("ExplanationOfBenefit?_tag={ST}|NationalClaimsHistory"), system("NationalClaimsHistory"), false),
            (format!("ExplanationOfBenefit?_tag={ST}|DDPS"), system("DDPS"), false),
            (format!("ExplanationOfBenefit?_tag={ST}|SharedSystem"), system("SharedSystem"), false),
            // No System-Type tag: the default NCH + DDPS applies (and warns).
            (format!("ExplanationOfBenefit?_tag={FA}|FinalAction"), Box::new(|e: &Eob| e.system_type != "SharedSystem"), true),
            (format!("ExplanationOfBenefit?_tag={FA}|NotFinalAction"), Box::new(|_: &Eob| false), true),
            ("ExplanationOfBenefit?outcome=partial".to_owned(), Box::new(|_: &Eob| false), true),
            ("ExplanationOfBenefit?outcome=complete".to_owned(), adjudicated, true),
            // Commas are OR.
            (format!("ExplanationOfBenefit?_tag={ST}|DDPS,{ST}|SharedSystem"), Box::new(|e: &Eob| e.system_type != "NationalClaimsHistory"), false),
            (format!("ExplanationOfBenefit?_tag={ST}|DDPS,{FA}|NotFinalAction"), Box::new(|e: &Eob| e.system_type != "NationalClaimsHistory"), false),
            (format!("{every}&outcome=complete,partial"), Box::new(|_: &Eob| true), false),
            // Repeats are AND.
            (format!("{every}&_tag={FA}|NotFinalAction"), system("SharedSystem"), false),
            (format!("{every}&outcome=complete"), Box::new(|e: &Eob| e.system_type != "SharedSystem"), false),
            (format!("ExplanationOfBenefit?_tag={ST}|SharedSystem&_tag={ST}|DDPS"), Box::new(|_: &Eob| false), false),
            // Service dates: each prefix, day and year precision.
            (format!("{every}&service-date=ge{m}"), Box::new(move |e: &Eob| e.service_end >= m), false),
            (format!("{every}&service-date=lt{middle}"), Box::new({ let m = middle.clone(); move |e: &Eob| e.service_end < m }), false),
            (format!("{every}&service-date={middle}"), Box::new(move |e: &Eob| e.service_end == m2), false),
            (format!("{every}&service-date=gt{middle}&outcome=partial"), Box::new(move |e: &Eob| e.service_end > m3 && e.outcome == "partial"), false),
            (format!("{every}&service-date=eq{year}"), Box::new(move |e: &Eob| e.service_end.starts_with(&y)), false),
            (format!("{every}&service-date=le{year}-06&service-date=ge{year}-01-01T00:00:00Z"), Box::new({ let y = year.to_owned(); move |e: &Eob| e.service_end.starts_with(&y) && e.service_end[5..7] <= *"06" }), false),
        ];
        for (filter, keep, warns) in &cases {
            let (got, warned) = export(&app, &token, &with_filter(filter)).await;
            let expected: BTreeSet<Eob> = all.iter().filter(|e| keep(e)).cloned().collect();
            assert_eq!(warned, *warns, "warning file for {filter}");
            assert_eq!(
                got.iter().map(|e| &e.id).collect::<Vec<_>>(),
                expected.iter().map(|e| &e.id).collect::<Vec<_>>(),
                "{filter}"
            );
        }
    }
}

//! Integration tests of the synthetic data generator (`bcda::synthetic`):
//! golden bytes, determinism, volumes, and FHIR validation of everything a
//! 50-beneficiary ACO exports.
//!
//! Goldens live in `tests/synthetic/golden/`; run with `BCDA_UPDATE_GOLDEN=1`
//! to rewrite them after an intended change. FHIR validation needs
//! `BCDA_TEST_PYTHON` (a Python with `fhir.resources==8.3.0`; scripts/test
//! sets it up) and fails without it rather than passing silently.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use bcda::domain::{ApiVersion, ResourceType};
use bcda::synthetic::{PacResource, PacSource, Selection, SyntheticAco};
use time::macros::{date, datetime};
use time::{Date, OffsetDateTime};

const ANCHOR: Date = date!(2025 - 06 - 18);
const UNTIL: OffsetDateTime = datetime!(2025-06-18 23:59:59.999 UTC);

/// The export bounds `lastUpdated` in `(since, until]`, the runout cap
/// `claims_through`, Part 2 claims left out or not; no v3 filter.
fn selection(
    since: Option<OffsetDateTime>,
    until: OffsetDateTime,
    claims_through: Option<Date>,
    exclude_samhsa: bool,
) -> Selection {
    Selection {
        since,
        until,
        as_of: until,
        claims_through,
        eob_filter: None,
        exclude_samhsa,
    }
}

fn dev_aco() -> SyntheticAco {
    SyntheticAco::new("A9994", 1, 50, 2019, ANCHOR, false)
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/synthetic/golden")
}

fn version_name(v: ApiVersion) -> &'static str {
    v.segment()
}

/// Compares `actual` with the golden file `name`, or rewrites it when
/// `BCDA_UPDATE_GOLDEN=1`.
fn check_golden(name: &str, actual: &[u8]) {
    let path = golden_dir().join(name);
    if std::env::var("BCDA_UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::create_dir_all(golden_dir()).expect("create golden dir");
        std::fs::write(&path, actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "read {}: {e} (run with BCDA_UPDATE_GOLDEN=1 to create it)",
            path.display()
        )
    });
    if expected != actual {
        let exp = String::from_utf8_lossy(&expected);
        let act = String::from_utf8_lossy(actual);
        let line = exp
            .lines()
            .zip(act.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "{name} differs from its golden file at line {} (BCDA_UPDATE_GOLDEN=1 rewrites it)\nexpected: {}\nactual:   {}",
            line + 1,
            exp.lines().nth(line).unwrap_or(""),
            act.lines().nth(line).unwrap_or("")
        );
    }
}

fn ndjson(resources: &[bcda::synthetic::SyntheticResource]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in resources {
        out.extend_from_slice(&r.json);
        out.push(b'\n');
    }
    out
}

/// FNV-1a, to pin whole beneficiaries' output in a few bytes of golden text.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xCBF2_9CE4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

#[test]
fn golden_patient_and_coverage() {
    let aco = dev_aco();
    // Ordinary, deceased, historic MBI, odd address characters.
    for v in [ApiVersion::V1, ApiVersion::V2] {
        for rt in [ResourceType::Patient, ResourceType::Coverage] {
            let mut out = Vec::new();
            for index in [0, 3, 13, 43] {
                out.extend(ndjson(&aco.resources(index, v, rt, UNTIL)));
            }
            check_golden(&format!("{}_{}.ndjson", version_name(v), rt.as_str()), &out);
        }
    }
}

#[test]
fn golden_one_eob_per_claim_type() {
    let aco = dev_aco();
    for v in [ApiVersion::V1, ApiVersion::V2] {
        // The first EOB of each type, scanning the pool in index order
        // (hospice claims come only from former members, who may die).
        let mut first: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for index in 0..aco.pool_size() {
            for r in aco.resources(index, v, ResourceType::ExplanationOfBenefit, UNTIL) {
                let prefix = r.id.split('-').next().unwrap_or("").to_string();
                first.entry(prefix).or_insert(r.json);
            }
            if first.len() == 8 {
                break;
            }
        }
        assert_eq!(first.len(), 8, "all eight claim types: {:?}", first.keys());
        let mut out = Vec::new();
        for json in first.values() {
            out.extend_from_slice(json);
            out.push(b'\n');
        }
        check_golden(
            &format!("{}_ExplanationOfBenefit.ndjson", version_name(v)),
            &out,
        );
    }
}

#[test]
fn golden_digests_of_whole_beneficiaries() {
    let aco = dev_aco();
    let mut text = String::new();
    for index in [0, 1, 7, 23] {
        for v in [ApiVersion::V1, ApiVersion::V2] {
            for rt in ResourceType::ADJUDICATED {
                let rs = aco.resources(index, v, rt, UNTIL);
                let bytes = ndjson(&rs);
                text.push_str(&format!(
                    "{index} {} {} count={} bytes={} fnv={:016x}\n",
                    version_name(v),
                    rt.as_str(),
                    rs.len(),
                    bytes.len(),
                    fnv(&bytes)
                ));
            }
        }
    }
    let b = aco.beneficiary(0).expect("bene 0");
    text.push_str(&format!("bene 0: {} {} {}\n", b.bene_id, b.mbi, b.hicn));
    check_golden("digests.txt", text.as_bytes());
}

#[test]
fn deterministic_and_independent_of_anchor_and_size() {
    let a = dev_aco();
    let again = dev_aco();
    let reanchored = SyntheticAco::new("A9994", 1, 50, 2019, date!(2026 - 02 - 03), true);
    let bigger = SyntheticAco::new("A9994", 1, 2_500, 2019, ANCHOR, false);
    for index in [0, 2, 7, 13] {
        for v in [ApiVersion::V1, ApiVersion::V2] {
            for rt in ResourceType::ADJUDICATED {
                let x = a.resources(index, v, rt, UNTIL);
                assert_eq!(x, again.resources(index, v, rt, UNTIL));
                assert_eq!(
                    x,
                    reanchored.resources(index, v, rt, UNTIL),
                    "anchor must not change resources"
                );
                assert_eq!(x, bigger.resources(index, v, rt, UNTIL));
            }
        }
        assert_eq!(a.beneficiary(index), reanchored.beneficiary(index));
    }
    // Another seed or ACO is another world.
    let other = SyntheticAco::new("A9994", 2, 50, 2019, ANCHOR, false);
    assert_ne!(
        a.beneficiary(0).map(|b| b.mbi),
        other.beneficiary(0).map(|b| b.mbi)
    );
    // Resources are sorted by (lastUpdated, id) and filtered by `until`.
    let eobs = a.resources(0, ApiVersion::V1, ResourceType::ExplanationOfBenefit, UNTIL);
    assert!(
        eobs.windows(2)
            .all(|w| (w[0].last_updated, w[0].id.as_bytes())
                < (w[1].last_updated, w[1].id.as_bytes()))
    );
    assert!(eobs.iter().all(|r| r.last_updated <= UNTIL));
    let earlier = datetime!(2022-01-01 0:00 UTC);
    let cut = a.resources(
        0,
        ApiVersion::V1,
        ResourceType::ExplanationOfBenefit,
        earlier,
    );
    assert_eq!(
        cut.len(),
        eobs.iter().filter(|r| r.last_updated <= earlier).count()
    );
    assert_eq!(cut[..], eobs[..cut.len()]);
}

#[test]
fn edge_cases_exist_in_a_small_aco() {
    let aco = dev_aco();
    let counts = |i| aco.eob_counts(i, UNTIL).values().sum::<usize>();
    assert!(!aco.has_claims_record(11), "the bene unknown to BFD");
    assert!(
        aco.resources(11, ApiVersion::V1, ResourceType::Patient, UNTIL)
            .is_empty()
    );
    assert_eq!(counts(5), 0, "the bene with zero EOBs");
    assert_eq!(
        aco.resources(5, ApiVersion::V2, ResourceType::Patient, UNTIL)
            .len(),
        1
    );
    // Current members are alive (attribution drops the deceased); the
    // deceased edge case is a former member (index 53 = 50 + 3).
    for i in 0..aco.beneficiaries() {
        assert!(
            aco.beneficiary(i).expect("bene").death_date.is_none(),
            "current member {i} is alive"
        );
    }
    let dead = aco.beneficiary(53).expect("bene 53");
    let death = dead.death_date.expect("deceased");
    for r in aco.resources(
        53,
        ApiVersion::V1,
        ResourceType::ExplanationOfBenefit,
        UNTIL,
    ) {
        let v: serde_json::Value = serde_json::from_slice(&r.json).expect("json");
        let start = v["billablePeriod"]["start"].as_str().expect("start");
        assert!(
            start <= death.to_string().as_str(),
            "claim after death: {}",
            r.id
        );
    }
    assert!(aco.eob_counts(53, UNTIL).contains_key("HOSPICE"));
    let patient = &aco.resources(53, ApiVersion::V2, ResourceType::Patient, UNTIL)[0];
    assert!(String::from_utf8_lossy(&patient.json).contains("deceasedDateTime"));
    assert!(aco.beneficiary(13).expect("13").historic_mbi.is_some());
    let odd = &aco.resources(43, ApiVersion::V1, ResourceType::Patient, UNTIL)[0];
    let odd = String::from_utf8_lossy(&odd.json);
    assert!(
        odd.contains("\\u0026") && odd.contains("\\u003c") && odd.contains("\\u003e"),
        "{odd}"
    );
    for i in 0..aco.pool_size() {
        let b = aco.beneficiary(i).expect("bene");
        assert_eq!(aco.index_of_mbi(&b.mbi), Some(i));
        assert_eq!(aco.index_of_bene_id(b.bene_id), Some(i));
        assert!(bcda::synthetic::mbi::is_valid_syntax(&b.mbi));
        if let Some(h) = &b.historic_mbi {
            assert_eq!(aco.index_of_historic_mbi(h), Some(i));
            assert_eq!(aco.index_of_mbi(h), None);
        }
    }
    assert_eq!(aco.beneficiary(aco.pool_size()), None);
    assert!(["17", "19", "23"].iter().all(|s| {
        let b = aco.beneficiary(s.parse().expect("n")).expect("bene");
        b.esrd || b.medicare_status == "20" || b.is_dual()
    }));
}

#[test]
fn volumes_are_realistic() {
    // Seven service years (2019-2025) for the whole pool of a 200-beneficiary
    // ACO: current members and former ones (among whom the deaths, and so
    // hospice, are).
    let aco = SyntheticAco::new("A9990", 7, 200, 2019, date!(2026 - 03 - 01), false);
    let until = datetime!(2026-03-01 0:00 UTC);
    let mut totals = Vec::new();
    let mut by_type: BTreeMap<&str, usize> = BTreeMap::new();
    for i in 0..aco.pool_size() {
        let c = aco.eob_counts(i, until);
        totals.push(c.values().sum::<usize>());
        for (k, n) in c {
            *by_type.entry(k).or_insert(0) += n;
        }
    }
    let years = 7.0;
    let total: usize = totals.iter().sum();
    let n = totals.len();
    let mean = total as f64 / (n as f64 * years);
    totals.sort_unstable();
    let per_year = |n: usize| n as f64 / years;
    println!(
        "EOBs per bene-year: mean {mean:.1}, p50 {:.1}, p99 {:.1}, max {:.1}; per bene over 7 years: p50 {} p99 {} max {}",
        per_year(totals[n / 2]),
        per_year(totals[n * 99 / 100]),
        per_year(totals[n - 1]),
        totals[n / 2],
        totals[n * 99 / 100],
        totals[n - 1]
    );
    for (k, count) in &by_type {
        println!(
            "  {k}: {:.2} per bene-year",
            *count as f64 / (n as f64 * years)
        );
    }
    assert!((42.0..=72.0).contains(&mean), "mean {mean}");
    assert!(
        totals[n - 1] > 1_000,
        "a super-utilizer with more than 1,000 EOBs"
    );
    assert_eq!(by_type.len(), 8);
}

#[test]
fn fhir_validation_of_a_whole_aco() {
    let python = std::env::var("BCDA_TEST_PYTHON").unwrap_or_else(|_| {
        panic!(
            "BCDA_TEST_PYTHON is not set: run scripts/test, which provides a Python with fhir.resources==8.3.0 \
             (or: python3 -m venv /tmp/fhirvenv && /tmp/fhirvenv/bin/pip install fhir.resources==8.3.0 \
             && export BCDA_TEST_PYTHON=/tmp/fhirvenv/bin/python)"
        )
    });
    let aco = dev_aco();
    let until = datetime!(2025-06-18 23:59:59.999 UTC);
    let dir = tempfile::tempdir().expect("temp dir");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/fhir_validate.py");
    for (v, flag) in [
        (ApiVersion::V1, "stu3"),
        (ApiVersion::V2, "r4b"),
        (ApiVersion::V3, "r4b"),
    ] {
        let mut files = Vec::new();
        let mut count = 0;
        let mut shared = 0;
        for rt in ResourceType::ADJUDICATED {
            let path = dir
                .path()
                .join(format!("{}_{}.ndjson", v.segment(), rt.as_str()));
            let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
            for i in 0..aco.pool_size() {
                for r in aco.resources(i, v, rt, until) {
                    f.write_all(&r.json).expect("write");
                    f.write_all(b"\n").expect("write");
                    count += 1;
                    // v3: partially adjudicated claims among the EOBs.
                    shared += usize::from(r.id.starts_with("f-") || r.id.starts_with("m-"));
                }
            }
            f.flush().expect("flush");
            files.push(path);
        }
        if v == ApiVersion::V2 {
            // Partially adjudicated claims, SAMHSA-flagged ones included.
            for pr in PacResource::ALL {
                let path = dir
                    .path()
                    .join(format!("{}_{}.ndjson", v.segment(), pr.as_str()));
                let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
                for i in 0..aco.pool_size() {
                    for r in aco.pac_resources(i, pr, until) {
                        f.write_all(&r.json).expect("write");
                        f.write_all(b"\n").expect("write");
                        count += 1;
                    }
                }
                f.flush().expect("flush");
                files.push(path);
            }
        }
        let out = std::process::Command::new(&python)
            .arg(&script)
            .arg("--version")
            .arg(flag)
            .args(&files)
            .output()
            .expect("run the FHIR validator");
        let stdout = String::from_utf8_lossy(&out.stdout);
        println!("{} ({flag}): {count} resources: {stdout}", v.segment());
        assert_eq!(shared > 0, v == ApiVersion::V3, "{shared}");
        assert!(
            out.status.success(),
            "{} ({flag}) validation failed:\n{stdout}\n{}",
            v.segment(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.starts_with(&format!("{count} passed, 0 failed")),
            "{stdout}"
        );
    }
}

/// Generation throughput and resource sizes; run in release:
/// `cargo test --release --test synthetic throughput -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a check: run in release mode on demand"]
fn throughput_and_sizes() {
    let aco = SyntheticAco::new("A9990", 3, 200, 2019, ANCHOR, false);
    for v in [ApiVersion::V1, ApiVersion::V2] {
        let started = std::time::Instant::now();
        let mut bytes = 0usize;
        let mut sizes: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for i in 0..aco.beneficiaries() {
            for rt in ResourceType::ADJUDICATED {
                for r in aco.resources(i, v, rt, UNTIL) {
                    bytes += r.json.len() + 1;
                    let key = match rt {
                        ResourceType::ExplanationOfBenefit => {
                            r.id.split('-').next().unwrap_or("").to_string()
                        }
                        ResourceType::Coverage => r.id[..6].to_string(),
                        ResourceType::Patient => "Patient".to_string(),
                        other => other.as_str().to_string(),
                    };
                    let e = sizes.entry(key).or_insert((0, 0));
                    e.0 += 1;
                    e.1 += r.json.len();
                }
            }
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{}: {:.1} MB in {secs:.2} s = {:.0} MB/s",
            v.segment(),
            bytes as f64 / 1e6,
            bytes as f64 / 1e6 / secs
        );
        for (k, (n, b)) in sizes {
            println!("  {k}: {n} resources, mean {} bytes", b / n.max(1));
        }
    }
}

#[test]
fn cursor_renders_the_same_resources_in_pieces() {
    let a = dev_aco();
    let since = datetime!(2024-03-01 0:00 UTC);
    for index in [0, 2, 7] {
        for v in ApiVersion::ALL {
            for rt in ResourceType::ADJUDICATED {
                let whole = a.resources(index, v, rt, UNTIL);
                // Tiny limits force one resource per call: the cursor must
                // resume exactly where it stopped.
                for limit in [1, 20_000, usize::MAX] {
                    let mut cursor = a.cursor(index, v, rt, &selection(None, UNTIL, None, false));
                    assert_eq!(cursor.remaining(), whole.len());
                    let mut out = Vec::new();
                    let mut lines = 0;
                    while !cursor.is_done() {
                        let start = out.len();
                        let wrote = cursor.write_lines(&mut out, start.saturating_add(limit));
                        assert!(wrote > 0, "a call with room must make progress");
                        lines += wrote;
                    }
                    assert_eq!(lines, whole.len());
                    assert_eq!(out, ndjson(&whole), "{index} {v:?} {rt:?} {limit}");
                }
                // `_since` is applied before rendering, with the same result
                // as filtering the rendered resources.
                let after: Vec<_> = whole
                    .iter()
                    .filter(|r| r.last_updated > since)
                    .cloned()
                    .collect();
                let filtered: Vec<_> = a
                    .cursor(index, v, rt, &selection(Some(since), UNTIL, None, false))
                    .collect();
                assert_eq!(filtered, after);
            }
        }
    }
}

/// All of a beneficiary's partially adjudicated resources of one kind,
/// windowed on the ACO's anchor day.
fn pac_ndjson(aco: &SyntheticAco, index: u32, pr: PacResource) -> Vec<u8> {
    ndjson(&aco.pac_resources(index, pr, PAC_UNTIL))
}

/// Late enough that every claim received by the anchor has been loaded.
const PAC_UNTIL: OffsetDateTime = datetime!(2025-07-31 0:00 UTC);

#[test]
fn pac_golden_claims_of_one_beneficiary() {
    let aco = dev_aco();
    // The first current member with both FISS and MCS claims.
    let index = (0..aco.beneficiaries())
        .find(|&i| {
            let s = aco.pac_claims(i);
            s.iter().any(|c| c.source == PacSource::Fiss)
                && s.iter().any(|c| c.source == PacSource::Mcs)
        })
        .expect("a beneficiary with FISS and MCS claims");
    let bene = aco.beneficiary(index).expect("bene");
    let summaries = aco.pac_claims(index);
    let claims = aco.pac_resources(index, PacResource::Claim, PAC_UNTIL);
    let responses = aco.pac_resources(index, PacResource::ClaimResponse, PAC_UNTIL);
    assert_eq!(claims.len(), summaries.len());
    assert_eq!(responses.len(), summaries.len());
    let window_start = ANCHOR - time::Duration::days(90);
    for ((s, c), r) in summaries.iter().zip(&claims).zip(&responses) {
        assert_eq!(s.id, c.id);
        assert_eq!(c.id, r.id);
        assert_eq!(
            (s.last_updated, c.last_updated),
            (r.last_updated, r.last_updated)
        );
        let (prefix, number) = c.id.split_once('-').expect("prefix-number");
        assert_eq!(
            prefix,
            if s.source == PacSource::Fiss {
                "f"
            } else {
                "m"
            }
        );
        assert!(number.bytes().all(|b| b.is_ascii_digit()), "{}", c.id);
        let claim: serde_json::Value = serde_json::from_slice(&c.json).expect("claim json");
        let resp: serde_json::Value = serde_json::from_slice(&r.json).expect("response json");
        assert_eq!(claim["resourceType"], "Claim");
        assert_eq!(resp["resourceType"], "ClaimResponse");
        assert_eq!(claim["id"], c.id.as_str());
        assert_eq!(claim["identifier"][0]["value"], number);
        assert_eq!(resp["request"]["reference"], format!("Claim/{}", c.id));
        assert_eq!(
            claim["contained"][0]["identifier"][0]["value"],
            bene.mbi.as_str()
        );
        assert_eq!(
            resp["contained"][0]["identifier"][0]["value"],
            bene.mbi.as_str()
        );
        let kind = if s.source == PacSource::Fiss {
            "institutional"
        } else {
            "professional"
        };
        assert_eq!(claim["type"]["coding"][0]["code"], kind);
        assert!(["queued", "partial"].contains(&resp["outcome"].as_str().expect("outcome")));
        let end = claim["billablePeriod"]["end"].as_str().expect("end");
        assert_eq!(end, s.service_end.to_string());
        // Serviced before receipt, received in the window before the anchor.
        assert!(s.service_end < ANCHOR && s.service_end >= window_start - time::Duration::days(21));
        // Loaded on a Friday night load after receipt.
        assert!(s.last_updated.date() > window_start);
        assert_eq!(s.last_updated.weekday(), time::Weekday::Friday);
    }
    check_golden(
        "v2_Claim.ndjson",
        &pac_ndjson(&aco, index, PacResource::Claim),
    );
    check_golden(
        "v2_ClaimResponse.ndjson",
        &pac_ndjson(&aco, index, PacResource::ClaimResponse),
    );
}

#[test]
fn pac_claims_are_deterministic_and_anchored() {
    let a = dev_aco();
    let again = dev_aco();
    let bigger = SyntheticAco::new("A9994", 1, 2_500, 2019, ANCHOR, false);
    let next_week = SyntheticAco::new(
        "A9994",
        1,
        50,
        2019,
        ANCHOR + time::Duration::days(7),
        false,
    );
    let mut shared = 0;
    for index in 0..a.pool_size() {
        for pr in PacResource::ALL {
            let x = pac_ndjson(&a, index, pr);
            assert!(
                x == pac_ndjson(&again, index, pr),
                "same bytes twice: {index}"
            );
            // (Former members of the small ACO are current members of the
            // bigger one, so other people.)
            if index < a.beneficiaries() {
                assert!(
                    x == pac_ndjson(&bigger, index, pr),
                    "independent of ACO size: {index}"
                );
            }
            // Re-anchoring moves the window; a claim in both windows is the
            // same bytes in both.
            let later = next_week.pac_resources(index, pr, PAC_UNTIL);
            for r in a.pac_resources(index, pr, PAC_UNTIL) {
                if let Some(same) = later.iter().find(|l| l.id == r.id) {
                    assert!(same == &r, "{} differs across anchors", r.id);
                    shared += 1;
                }
            }
        }
    }
    assert!(shared > 0, "consecutive windows overlap");
    // `until`, `_since` and the service-date cap, applied before rendering.
    let index = (0..a.pool_size())
        .max_by_key(|&i| a.pac_claims(i).len())
        .expect("pool");
    let all = a.pac_claims(index);
    assert!(all.len() >= 3, "{}", all.len());
    let mid = all[all.len() / 2].last_updated;
    let upto: Vec<_> = a.pac_resources(index, PacResource::Claim, mid);
    assert_eq!(
        upto.len(),
        all.iter().filter(|c| c.last_updated <= mid).count()
    );
    let after: Vec<_> = a
        .pac_cursor(
            index,
            PacResource::Claim,
            &selection(Some(mid), PAC_UNTIL, None, false),
        )
        .collect();
    assert_eq!(upto.len() + after.len(), all.len());
    let cap = all[0].service_end;
    let capped = a
        .pac_cursor(
            index,
            PacResource::ClaimResponse,
            &selection(None, PAC_UNTIL, Some(cap), false),
        )
        .count();
    assert_eq!(capped, all.iter().filter(|c| c.service_end <= cap).count());
    // Rendered a line at a time, the cursor gives the same bytes.
    for pr in PacResource::ALL {
        let mut cursor = a.pac_cursor(index, pr, &selection(None, PAC_UNTIL, None, false));
        let mut out = Vec::new();
        while !cursor.is_done() {
            let start = out.len();
            assert_eq!(cursor.write_lines(&mut out, start + 1), 1);
        }
        assert!(out == pac_ndjson(&a, index, pr), "{pr:?} in pieces");
    }
    // The unknown-to-BFD and no-claims edge cases have none.
    assert!(a.pac_claims(11).is_empty() && a.pac_claims(5).is_empty());
}

#[test]
fn pac_samhsa_claims_are_flagged_and_excluded_on_request() {
    let aco = dev_aco();
    let mut flagged = 0;
    for index in 0..aco.pool_size() {
        let summaries = aco.pac_claims(index);
        for pr in PacResource::ALL {
            let all = aco.pac_resources(index, pr, PAC_UNTIL);
            let kept: Vec<_> = aco
                .pac_cursor(index, pr, &selection(None, PAC_UNTIL, None, true))
                .collect();
            assert_eq!(kept.len(), summaries.iter().filter(|s| !s.samhsa).count());
            for (s, r) in summaries.iter().zip(&all) {
                let v: serde_json::Value = serde_json::from_slice(&r.json).expect("json");
                let security = v["meta"]["security"].to_string();
                assert_eq!(security.contains("42CFRPart2"), s.samhsa, "{}", r.id);
                assert_eq!(kept.iter().any(|k| k.id == r.id), !s.samhsa);
                if pr == PacResource::Claim {
                    let codes: Vec<String> = v["diagnosis"]
                        .as_array()
                        .expect("diagnoses")
                        .iter()
                        .map(|d| {
                            d["diagnosisCodeableConcept"]["coding"][0]["code"]
                                .as_str()
                                .expect("code")
                                .to_string()
                        })
                        .collect();
                    assert_eq!(
                        codes.iter().any(|c| bcda::synthetic::is_part2_diagnosis(c)),
                        s.samhsa,
                        "{} {codes:?}",
                        r.id
                    );
                    flagged += usize::from(s.samhsa);
                }
            }
        }
    }
    assert!(
        flagged > 0,
        "a 50-beneficiary ACO has SAMHSA-flagged claims"
    );
}

#[test]
fn pac_volumes_follow_bfd_proportions() {
    let aco = SyntheticAco::new("A9990", 7, 400, 2019, date!(2026 - 03 - 01), false);
    let (mut fiss, mut mcs, mut samhsa) = (0usize, 0usize, 0usize);
    let n = aco.beneficiaries();
    for i in 0..n {
        for c in aco.pac_claims(i) {
            match c.source {
                PacSource::Fiss => fiss += 1,
                PacSource::Mcs => mcs += 1,
            }
            samhsa += usize::from(c.samhsa);
        }
    }
    let per = |x: usize| x as f64 / f64::from(n);
    println!(
        "PAC claims per beneficiary: FISS {:.2}, MCS {:.2}, SAMHSA {:.3}",
        per(fiss),
        per(mcs),
        per(samhsa)
    );
    assert!((1.0..=2.5).contains(&per(fiss)), "FISS {}", per(fiss));
    assert!((1.0..=2.5).contains(&per(mcs)), "MCS {}", per(mcs));
    let ratio = fiss as f64 / mcs as f64;
    assert!((0.7..=1.4).contains(&ratio), "FISS/MCS {ratio}");
    // Some, and a small share (substance use disorders are a few percent
    // of beneficiaries).
    let share = samhsa as f64 / (fiss + mcs) as f64;
    assert!(
        samhsa > 0 && share < 0.1,
        "SAMHSA {samhsa} ({share:.3} of claims)"
    );
}

mod density;
mod v3;

/// Whether a rendered claim lists a 42 CFR Part 2 diagnosis.
fn has_part2_diagnosis(json: &[u8]) -> bool {
    let v: serde_json::Value = serde_json::from_slice(json).expect("json");
    v["diagnosis"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["diagnosisCodeableConcept"]["coding"].as_array())
        .flatten()
        .any(|c| {
            c["code"]
                .as_str()
                .is_some_and(bcda::synthetic::is_part2_diagnosis)
        })
}

/// An export (`cursor(.., exclude_samhsa: true)`) never sees a claim with a
/// 42 CFR Part 2 diagnosis, EOB or partially adjudicated (BFD's
/// `excludeSAMHSA=true`); what a store holds (`resources`) keeps them.
#[test]
fn export_cursors_exclude_part2_claims_that_resources_keep() {
    let a = dev_aco();
    let mut excluded = 0;
    // 37: the SAMHSA edge case; 0 and 2: ordinary beneficiaries.
    for index in [0, 2, 37] {
        for v in ApiVersion::ALL {
            for (rt, until) in [
                (ResourceType::ExplanationOfBenefit, UNTIL),
                (ResourceType::Claim, PAC_UNTIL),
                (ResourceType::ClaimResponse, PAC_UNTIL),
            ] {
                let held = a.resources(index, v, rt, until);
                let exported: Vec<_> = a
                    .cursor(index, v, rt, &selection(None, until, None, true))
                    .collect();
                // A ClaimResponse has no diagnoses: its Claim's decide.
                let claims = match rt {
                    ResourceType::ClaimResponse => {
                        a.resources(index, v, ResourceType::Claim, until)
                    }
                    _ => held.clone(),
                };
                let expected: Vec<_> = held
                    .iter()
                    .zip(&claims)
                    .filter(|(_, claim)| !has_part2_diagnosis(&claim.json))
                    .map(|(r, _)| r.clone())
                    .collect();
                excluded += held.len() - expected.len();
                let ids = |list: &[bcda::synthetic::SyntheticResource]| {
                    list.iter().map(|r| r.id.clone()).collect::<Vec<_>>()
                };
                assert_eq!(ids(&exported), ids(&expected), "{index} {v:?} {rt:?}");
                assert!(exported == expected, "{index} {v:?} {rt:?}: same bytes");
                if rt == ResourceType::Claim && v == ApiVersion::V2 {
                    let pac: Vec<_> = a.pac_resources(index, PacResource::Claim, until);
                    assert_eq!(held, pac, "resources() holds every Claim");
                }
            }
        }
    }
    assert!(excluded > 0, "some claims carry a Part 2 diagnosis");
}

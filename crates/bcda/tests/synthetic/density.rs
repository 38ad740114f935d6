//! Sandbox claims density: every file of a full sandbox export stays small
//! enough for everyday tools (Postman, a browser's Swagger UI), with BCDA's
//! batch sizes (50 beneficiaries per ExplanationOfBenefit file, 5,000 per
//! Patient file, 4,000 per Coverage, Claim and ClaimResponse file), while
//! full density is unchanged.

use bcda::domain::{ApiVersion, ResourceType};
use bcda::sandbox::{SANDBOX_ACOS, SANDBOX_CLAIMS_DENSITY, SANDBOX_SEED, SANDBOX_YEARS};
use bcda::synthetic::{FULL_CLAIMS_DENSITY, SyntheticAco};
use time::macros::{date, datetime};
use time::{Date, OffsetDateTime};

/// The largest file everyday tools are asked to open, uncompressed.
const LIMIT: usize = 60_000_000;
/// Beneficiaries per ExplanationOfBenefit file (BCDA's default).
const EOB_BATCH: usize = 50;

const ANCHOR: Date = date!(2026 - 11 - 30);
const UNTIL: OffsetDateTime = datetime!(2026-11-30 23:59:59 UTC);

fn sandbox_aco(cms_id: &str, beneficiaries: u32) -> SyntheticAco {
    SyntheticAco::new(
        cms_id,
        SANDBOX_SEED,
        beneficiaries,
        ANCHOR.year() - (SANDBOX_YEARS - 1),
        ANCHOR,
        false,
    )
    .with_claims_density(SANDBOX_CLAIMS_DENSITY)
}

/// NDJSON bytes (one line each) of one type for one beneficiary.
fn bytes_of(aco: &SyntheticAco, index: u32, v: ApiVersion, rt: ResourceType) -> usize {
    aco.resources(index, v, rt, UNTIL)
        .iter()
        .map(|r| r.json.len() + 1)
        .sum()
}

fn eob_count(aco: &SyntheticAco, index: u32) -> usize {
    aco.eob_counts(index, UNTIL).values().sum()
}

#[test]
fn a_full_export_of_a9994_fits_every_file_under_60_mb() {
    let spec = SANDBOX_ACOS
        .iter()
        .find(|a| a.cms_id == "A9994")
        .expect("A9994");
    let aco = sandbox_aco(spec.cms_id, spec.beneficiaries);
    // 50 members: one file per type and version.
    for v in ApiVersion::ALL {
        for rt in ResourceType::ADJUDICATED {
            let bytes: usize = (0..aco.beneficiaries())
                .map(|i| bytes_of(&aco, i, v, rt))
                .sum();
            println!(
                "A9994 {} {}: {:.1} MB",
                v.segment(),
                rt.as_str(),
                bytes as f64 / 1e6
            );
            assert!(
                bytes < LIMIT,
                "{} {}: {bytes} bytes",
                v.segment(),
                rt.as_str()
            );
        }
    }
    // Fewer claims, not emptier ones: about a tenth of full density.
    let full = SyntheticAco::new(
        "A9994",
        SANDBOX_SEED,
        spec.beneficiaries,
        aco.first_service_year(),
        ANCHOR,
        false,
    );
    assert_eq!(full.claims_density(), FULL_CLAIMS_DENSITY);
    let sparse: usize = (0..aco.beneficiaries()).map(|i| eob_count(&aco, i)).sum();
    let dense: usize = (0..full.beneficiaries()).map(|i| eob_count(&full, i)).sum();
    println!("A9994 EOBs: {sparse} at sandbox density, {dense} at full density");
    let ratio = sparse as f64 / dense as f64;
    assert!((0.05..=0.2).contains(&ratio), "ratio {ratio}");
}

/// The largest sandbox ACO's EOB files, estimated from a sample of 1,000
/// current members (its 30,000 take minutes to render in a debug build):
/// every 50-member file of the sample, a normal-tail bound on the fullest
/// of its files, and the sample's mean with its heaviest member in one file.
#[test]
fn the_largest_sandbox_aco_eob_files_stay_under_60_mb() {
    let spec = SANDBOX_ACOS
        .iter()
        .max_by_key(|a| a.beneficiaries)
        .expect("sandbox ACOs");
    let aco = sandbox_aco(spec.cms_id, spec.beneficiaries);
    let sample = 1_000.min(spec.beneficiaries);
    for v in [ApiVersion::V1, ApiVersion::V2] {
        let per_bene: Vec<usize> = (0..sample)
            .map(|i| bytes_of(&aco, i, v, ResourceType::ExplanationOfBenefit))
            .collect();
        let n = per_bene.len() as f64;
        let mean = per_bene.iter().sum::<usize>() as f64 / n;
        let sd = (per_bene
            .iter()
            .map(|&b| (b as f64 - mean).powi(2))
            .sum::<f64>()
            / n)
            .sqrt();
        let fullest_sampled = per_bene
            .chunks(EOB_BATCH)
            .map(|c| c.iter().sum::<usize>())
            .max()
            .unwrap_or(0);
        let heaviest = per_bene.iter().copied().max().unwrap_or(0) as f64;
        let batch = EOB_BATCH as f64;
        let tail_bound = batch * mean + 4.0 * sd * batch.sqrt();
        let heavy_bound = (batch - 1.0) * mean + heaviest;
        println!(
            "{} {} EOB: {:.0} KB per beneficiary (sd {:.0} KB, heaviest {:.1} MB); fullest sampled file {:.1} MB; bounds {:.1} MB (4 sd), {:.1} MB (heaviest)",
            spec.cms_id,
            v.segment(),
            mean / 1e3,
            sd / 1e3,
            heaviest / 1e6,
            fullest_sampled as f64 / 1e6,
            tail_bound / 1e6,
            heavy_bound / 1e6
        );
        assert!(fullest_sampled < LIMIT, "{fullest_sampled}");
        assert!(tail_bound < LIMIT as f64, "{tail_bound}");
        assert!(heavy_bound < LIMIT as f64, "{heavy_bound}");
    }
}

/// Beneficiaries per Claim and ClaimResponse file (BCDA's default).
const CLAIM_BATCH: usize = 4_000;

/// The partially adjudicated sandbox ACOs' Claim and ClaimResponse files
/// follow the sandbox density too: every 4,000-beneficiary file of the
/// largest one (TEST002, 11,000 members) computed whole, under 60 MB, with
/// about a tenth of the claims of full density.
#[test]
fn the_partially_adjudicated_sandbox_files_stay_under_60_mb() {
    let spec = SANDBOX_ACOS
        .iter()
        .filter(|a| a.partially_adjudicated)
        .max_by_key(|a| a.beneficiaries)
        .expect("a partially adjudicated sandbox ACO");
    let aco = sandbox_aco(spec.cms_id, spec.beneficiaries);
    let started = std::time::Instant::now();
    for rt in ResourceType::PARTIALLY_ADJUDICATED {
        let per_bene: Vec<usize> = (0..aco.beneficiaries())
            .map(|i| bytes_of(&aco, i, ApiVersion::V2, rt))
            .collect();
        let files: Vec<usize> = per_bene
            .chunks(CLAIM_BATCH)
            .map(|c| c.iter().sum())
            .collect();
        println!(
            "{} v2 {}: {:.2} KB per beneficiary; files of {CLAIM_BATCH}: {:?} MB ({:?})",
            spec.cms_id,
            rt.as_str(),
            per_bene.iter().sum::<usize>() as f64 / per_bene.len() as f64 / 1e3,
            files
                .iter()
                .map(|b| (*b as f64 / 1e5).round() / 10.0)
                .collect::<Vec<_>>(),
            started.elapsed()
        );
        assert!(files.iter().all(|&b| b > 0 && b < LIMIT), "{files:?}");
    }
    // Fewer claims, not emptier ones: about a tenth of full density (on a
    // sample of 1,000 members, to keep the debug build quick).
    let full = SyntheticAco::new(
        spec.cms_id,
        SANDBOX_SEED,
        spec.beneficiaries,
        aco.first_service_year(),
        ANCHOR,
        false,
    );
    let claims = |aco: &SyntheticAco| -> (usize, usize) {
        (0..1_000)
            .map(|i| aco.resources(i, ApiVersion::V2, ResourceType::Claim, UNTIL))
            .fold((0, 0), |(n, bytes), r| {
                (
                    n + r.len(),
                    bytes + r.iter().map(|r| r.json.len() + 1).sum::<usize>(),
                )
            })
    };
    let (sparse, sparse_bytes) = claims(&aco);
    let (dense, dense_bytes) = claims(&full);
    println!(
        "{} Claims of 1,000 members: {sparse} ({:.0} B each) at sandbox density, {dense} ({:.0} B each, a {CLAIM_BATCH}-member file about {:.1} MB) at full density",
        spec.cms_id,
        sparse_bytes as f64 / sparse as f64,
        dense_bytes as f64 / dense as f64,
        dense_bytes as f64 * (CLAIM_BATCH as f64 / 1_000.0) / 1e6
    );
    let ratio = sparse as f64 / dense as f64;
    assert!((0.05..=0.2).contains(&ratio), "ratio {ratio}");
}

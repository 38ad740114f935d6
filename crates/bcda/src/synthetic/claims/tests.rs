//! Money reconciliation and model invariants over many generated claims.

use super::*;
use crate::synthetic::FULL_CLAIMS_DENSITY;
use crate::synthetic::ids::Namespace;
use crate::synthetic::population::Profile;
use crate::synthetic::rng::Seed;

fn sample_claims() -> Vec<(Profile, Claim)> {
    let world = Seed::new(11).label("A9994");
    let ns = Namespace::new(11, "A9994");
    let mut out = Vec::new();
    for index in 0..60 {
        let p = Profile::generate(world, ns, index, index < 50);
        for year in 2019..=2024 {
            for c in year_claims(ns, &p, year, FULL_CLAIMS_DENSITY) {
                out.push((p.clone(), c));
            }
        }
    }
    out
}

#[test]
fn amounts_reconcile() {
    let claims = sample_claims();
    assert!(claims.len() > 10_000);
    for (_, c) in &claims {
        let t = &c.totals;
        for l in &c.lines {
            assert!(
                l.charge >= 0 && l.allowed >= 0 && l.payment >= 0,
                "{}",
                c.id()
            );
            if c.kind.family() == Family::Professional || c.kind == ClaimKind::Outpatient {
                assert_eq!(
                    l.payment,
                    l.allowed - l.deductible - l.coinsurance - l.primary_payer,
                    "{}",
                    c.id()
                );
            }
        }
        if c.kind != ClaimKind::Pde {
            assert_eq!(
                t.charge,
                c.lines.iter().map(|l| l.charge).sum::<i64>(),
                "{}",
                c.id()
            );
        }
        match c.kind {
            ClaimKind::Inpatient | ClaimKind::Snf => {
                assert!(t.payment >= 0);
                assert!(c.lines.iter().all(|l| l.payment == 0));
            }
            ClaimKind::Pde => {
                let rx = c.rx.expect("PDE detail");
                assert_eq!(
                    rx.total_cost,
                    rx.plan_paid
                        + rx.patient_pay
                        + rx.lics
                        + rx.other_troop
                        + rx.plro
                        + rx.gap_discount
                );
                assert_eq!(rx.total_cost, rx.gdc_below + rx.gdc_above);
                assert!(rx.plan_paid >= 0 && rx.patient_pay >= 0);
            }
            _ => {
                assert_eq!(
                    t.payment,
                    c.lines.iter().map(|l| l.payment).sum::<i64>(),
                    "{}",
                    c.id()
                );
                assert_eq!(
                    t.deductible,
                    c.lines.iter().map(|l| l.deductible).sum::<i64>()
                );
                assert_eq!(t.provider_payment + t.bene_payment, t.payment);
            }
        }
    }
}

#[test]
fn part_b_deductible_is_met_once_a_year() {
    let claims = sample_claims();
    let mut by_bene_year: std::collections::BTreeMap<(u32, i32), i64> = Default::default();
    for (p, c) in &claims {
        if c.kind.part() == 'b' {
            *by_bene_year
                .entry((p.bene.index, c.from.year()))
                .or_default() += c.totals.deductible;
        }
    }
    for ((_, year), ded) in by_bene_year {
        assert!(ded <= part_b_deductible(year) * 100, "{year}: {ded}");
    }
}

#[test]
fn claims_respect_coverage_and_death_and_have_unique_ids() {
    let claims = sample_claims();
    let mut ids = std::collections::BTreeSet::new();
    for (p, c) in &claims {
        assert!(ids.insert(c.id()), "duplicate id {}", c.id());
        assert!(c.clm_id < 0 && c.group_id < 0);
        if let Some(d) = p.bene.death_date {
            assert!(c.thru <= d && c.from <= d, "{} after death", c.id());
        }
        match c.kind.part() {
            'a' => assert!(c.from >= p.bene.part_a_start),
            'b' => assert!(p.bene.part_b_start.is_some_and(|s| c.from >= s)),
            _ => assert!(p.bene.part_d.as_ref().is_some_and(|d| c.from >= d.start)),
        }
        assert!(
            c.last_updated.date() >= c.processed
                || c.last_updated == crate::synthetic::timeline::FALLBACK_LAST_UPDATED
        );
    }
    // SAMHSA-coded claims exist (for excludeSAMHSA tests downstream).
    assert!(
        claims
            .iter()
            .any(|(_, c)| c.diagnoses.iter().any(|d| d.is_samhsa()))
    );
    // Some amounts are whole dollars (rendered `N.0`).
    assert!(
        claims
            .iter()
            .any(|(_, c)| c.totals.payment > 0 && c.totals.payment % 100 == 0)
    );
    // Some loads carry the legacy fallback timestamp.
    assert!(
        claims
            .iter()
            .any(|(_, c)| c.last_updated == crate::synthetic::timeline::FALLBACK_LAST_UPDATED)
    );
}

/// A Part 2 DRG always comes with a Part 2 principal diagnosis, so a claim
/// flagged by either is flagged by its diagnoses too: the partially
/// adjudicated generator, which flags claims by their diagnoses, agrees
/// with [`Claim::is_part2`] and with the importer.
#[test]
fn part2_drg_events_have_a_part2_principal_diagnosis() {
    use crate::domain::part2;
    use crate::synthetic::codes::DRG_EVENTS;
    let mut part2_events = 0;
    for event in DRG_EVENTS {
        if part2::is_part2_drg(event.drg) {
            part2_events += 1;
            assert!(
                part2::is_part2_diagnosis(event.principal.code),
                "{}",
                event.drg
            );
        }
    }
    assert!(
        part2_events > 0,
        "the generator makes Part 2 inpatient stays"
    );
}

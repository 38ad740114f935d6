//! Carrier (physician/supplier) and DME claims: one to four priced lines,
//! Part B deductible on the year's first claims, 20 % coinsurance.

use super::plan::Stub;
use super::{Claim, ClaimKind, Ctx, Line, YearState, blank, noise, scale};
use crate::synthetic::codes::{
    ACUTE, CARRIER_SERVICES, CHRONIC, DME_ITEMS, DME_SUPPLIER, PCP, SPECIALTIES, Service,
};
use crate::synthetic::providers::{OrgKind, Organization, PER_SPECIALTY, Practitioner};
use crate::synthetic::rng::Rng;
use crate::synthetic::timeline::add_days;

/// MAC (carrier) numbers by state, as in `carr_num`.
const CARRIER_NUMBERS: &[&str] = &[
    "12302", "12502", "09102", "04412", "15202", "01112", "13282", "03102", "10212", "08102",
];

pub(super) fn build(ctx: &Ctx<'_>, stub: &Stub, rng: &mut Rng, state: &mut YearState) -> Claim {
    let p = ctx.profile;
    let dme = stub.kind == ClaimKind::Dme;
    let table: &[Service] = if dme { DME_ITEMS } else { CARRIER_SERVICES };
    let first = rng.weighted(table, |s| s.weight);
    let performer = practitioner(p, first.specialty, rng);
    let mut claim = blank(stub.kind, stub.from, stub.thru, performer);
    claim.carrier_number = CARRIER_NUMBERS[p.state % CARRIER_NUMBERS.len()];
    claim.control_number = rng.below(9_000_000_000_000) + 1_000_000_000_000;
    claim.assigned = rng.chance(970);
    if dme {
        claim.organization = Some(Organization::new(OrgKind::DmeSupplier, p.state, p.orgs[5]));
    }

    // Diagnoses: mostly the chronic conditions the visit manages.
    let chronic_first = !p.conditions.is_empty() && rng.chance(700);
    if chronic_first {
        let c = p.conditions[rng.index(p.conditions.len())];
        claim.diagnoses.push(&CHRONIC[c]);
    } else {
        claim.diagnoses.push(rng.weighted(ACUTE, |d| d.weight));
    }
    for _ in 0..rng.range(0, 3) {
        if let Some(&c) = p.conditions.get(rng.index(p.conditions.len().max(1))) {
            let dx = &CHRONIC[c];
            if !claim.diagnoses.iter().any(|d| std::ptr::eq(*d, dx)) {
                claim.diagnoses.push(dx);
            }
        }
    }

    let n_lines = if dme {
        rng.range(1, 2)
    } else {
        rng.weighted(&[(1i64, 50u32), (2, 25), (3, 15), (4, 10)], |w| w.1)
            .0
    };
    let mut service = first;
    for n in 0..n_lines {
        if n > 0 {
            service = rng.weighted(table, |s| s.weight);
            if claim.lines.iter().any(|l| l.hcpcs == Some(service.hcpcs)) {
                continue;
            }
        }
        let qty = if service.hcpcs.starts_with('A') {
            rng.range(1, 3) as u32
        } else {
            1
        };
        // DME fee-schedule amounts are whole dollars (they render as `80.0`).
        let unit = if dme {
            service.allowed
        } else {
            scale(service.allowed, noise(rng, 0.3))
        };
        let allowed = unit * i64::from(qty);
        let charge = scale(allowed, 1.5 + rng.unit() * 1.5);
        let deductible = allowed.min(state.part_b_left);
        state.part_b_left -= deductible;
        let coinsurance = (allowed - deductible) / 5;
        let primary_payer = if rng.chance(30) {
            (allowed - deductible - coinsurance) / 2
        } else {
            0
        };
        let payment = allowed - deductible - coinsurance - primary_payer;
        let performer = if n == 0 || service.specialty == first.specialty {
            claim.practitioner
        } else {
            practitioner(p, service.specialty, rng)
        };
        claim.lines.push(Line {
            revenue: None,
            hcpcs: Some(service.hcpcs),
            modifier: service.modifier.filter(|_| rng.chance(400)),
            type_srvc: service.type_srvc,
            pos: service.pos,
            from: stub.from,
            thru: if dme {
                add_days(stub.from, 29).min(stub.thru)
            } else {
                stub.from
            },
            qty,
            performer: Some(performer),
            charge,
            allowed,
            deductible,
            coinsurance,
            primary_payer,
            noncovered: 0,
            payment,
        });
    }
    claim.total_lines(true);
    claim
}

/// The beneficiary's preferred practitioner of a specialty 80 % of the
/// time, another of the same specialty and state otherwise.
pub(super) fn practitioner(
    p: &crate::synthetic::population::Profile,
    specialty: usize,
    rng: &mut Rng,
) -> Practitioner {
    let specialty = if specialty == DME_SUPPLIER {
        PCP
    } else {
        specialty % SPECIALTIES.len()
    };
    let k = if rng.chance(800) {
        p.preferred[specialty]
    } else {
        rng.below(u64::from(PER_SPECIALTY)) as u32
    };
    Practitioner::new(p.state, specialty, k)
}

//! Part D events: one fill each, with the drug cost split the way the PDE
//! record reports it (plan paid, patient pay, low-income subsidy, coverage
//! gap discount) so the parts always add up to the total.

use super::plan::{Detail, Stub};
use super::professional::practitioner;
use super::{Claim, ClaimKind, Ctx, Prescription, blank, noise, scale};
use crate::synthetic::codes::{DRUGS, PCP, SPECIALIST};
use crate::synthetic::providers::{OrgKind, Organization};
use crate::synthetic::rng::Rng;
use crate::synthetic::timeline::add_days;

pub(super) fn build(ctx: &Ctx<'_>, stub: &Stub, rng: &mut Rng) -> Claim {
    let p = ctx.profile;
    let (drug_index, days, fill, rx_key) = match stub.detail {
        Detail::Refill { med, fill, rx } => {
            let m = p.meds[med % p.meds.len().max(1)];
            (m.drug, m.supply, fill, p.seed.label("rx").num(rx).0)
        }
        Detail::Acute { drug } => (drug, rng.range(5, 14) as u32, 1, rng.next_u64()),
        _ => (0, 30, 1, rng.next_u64()),
    };
    let drug = &DRUGS[drug_index % DRUGS.len()];
    let prescriber = practitioner(p, if rng.chance(700) { PCP } else { SPECIALIST }, rng);
    let mut claim = blank(ClaimKind::Pde, stub.from, stub.thru, prescriber);
    let pharmacy_k = if rng.chance(900) {
        p.orgs[4]
    } else {
        rng.below(8) as u32
    };
    let pharmacy = Organization::new(OrgKind::Pharmacy, p.state, pharmacy_k);
    claim.organization = Some(pharmacy);

    let ingredient_cost = scale(drug.cost_30 * i64::from(days) / 30, noise(rng, 0.1)).max(100);
    let dispensing_fee = *rng.pick(&[0i64, 100, 150, 200, 250]);
    let total_cost = ingredient_cost + dispensing_fee;
    let months = i64::from(days.div_ceil(30).max(1));
    // Copays are whole dollars (rendering `4.0`); brand drugs 25 % coinsurance.
    let mut patient_pay = if drug.brand {
        if rng.chance(500) {
            4_700 * months
        } else {
            total_cost / 4
        }
    } else {
        *rng.pick(&[0i64, 100, 400, 1_000]) * months
    }
    .min(total_cost);
    let low_income = p
        .bene
        .part_d
        .as_ref()
        .is_some_and(|d| d.cost_share_group != "00");
    let lics = if low_income {
        let copay = (if drug.brand { 1_100 } else { 450 }).min(patient_pay);
        let l = patient_pay - copay;
        patient_pay = copay;
        l
    } else {
        0
    };
    let gap_discount = if drug.brand && !low_income && rng.chance(150) {
        (total_cost - patient_pay) * 7 / 10
    } else {
        0
    };
    let plro = if rng.chance(20) {
        (total_cost - patient_pay - lics - gap_discount) / 10
    } else {
        0
    };
    let plan_paid = total_cost - patient_pay - lics - gap_discount - plro;
    claim.rx = Some(Prescription {
        drug,
        quantity: days,
        days_supply: days,
        fill_number: fill,
        rx_number: 100_000_000_000 + rx_key % 900_000_000_000,
        paid: add_days(stub.from, rng.range(1, 14)),
        total_cost,
        plan_paid,
        patient_pay,
        lics,
        other_troop: 0,
        plro,
        gap_discount,
        gdc_below: total_cost,
        gdc_above: 0,
    });
    claim.totals.payment = plan_paid;
    claim.totals.charge = total_cost;
    claim
}

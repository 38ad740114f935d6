//! Institutional claims: inpatient (DRG-priced stays), outpatient (priced
//! revenue-centre lines), SNF (per diem with day-21+ coinsurance), home
//! health (30-day periods) and hospice (routine home care per diem).

use super::plan::{Detail, Stub};
use super::professional::practitioner;
use super::{Claim, ClaimKind, Ctx, Line, Stay, YearState, blank, noise, scale};
use crate::synthetic::codes::{
    ACUTE, CARDIOLOGY, CHRONIC, DRG_EVENTS, Dx, HHA_LINES, INPATIENT_ANCILLARY, ORTHO,
    OUTPATIENT_LINES, PCP, RevenueLine, SNF_LINES, SPECIALIST,
};
use crate::synthetic::providers::{OrgKind, Organization};
use crate::synthetic::rng::Rng;
use crate::synthetic::timeline::{add_days, part_a_deductible, snf_daily_coinsurance_cents};

/// The diagnosis hospice claims carry when no chronic condition explains
/// the terminal decline.
const FAILURE_TO_THRIVE: Dx = Dx {
    code: "R627",
    display: "Adult failure to thrive",
    weight: 0,
};

pub(super) fn build(ctx: &Ctx<'_>, stub: &Stub, rng: &mut Rng, state: &mut YearState) -> Claim {
    let p = ctx.profile;
    let (org_kind, org_slot) = match stub.kind {
        ClaimKind::Snf => (OrgKind::Snf, 1),
        ClaimKind::Hha => (OrgKind::HomeHealth, 2),
        ClaimKind::Hospice => (OrgKind::Hospice, 3),
        _ => (OrgKind::Hospital, 0),
    };
    // Mostly the usual facility; sometimes another one in the state.
    let k = if rng.chance(850) {
        p.orgs[org_slot]
    } else {
        rng.below(8) as u32
    };
    let attending = practitioner(p, if rng.chance(600) { PCP } else { SPECIALIST }, rng);
    let mut claim = blank(stub.kind, stub.from, stub.thru, attending);
    claim.organization = Some(Organization::new(org_kind, p.state, k));
    add_diagnoses(&mut claim, ctx, stub, rng);
    match stub.kind {
        ClaimKind::Inpatient => inpatient(&mut claim, ctx, stub, rng, state),
        ClaimKind::Outpatient => outpatient(&mut claim, rng, state),
        ClaimKind::Snf => snf(&mut claim, ctx, rng),
        ClaimKind::Hha => hha(&mut claim, rng),
        _ => hospice(&mut claim, ctx, rng),
    }
    claim
}

fn add_diagnoses(claim: &mut Claim, ctx: &Ctx<'_>, stub: &Stub, rng: &mut Rng) {
    let p = ctx.profile;
    match stub.detail {
        Detail::Inpatient(e) => claim
            .diagnoses
            .push(&DRG_EVENTS[e % DRG_EVENTS.len()].principal),
        _ if stub.kind == ClaimKind::Hospice => {
            let terminal = p.conditions.iter().map(|&c| &CHRONIC[c]).find(|d| {
                matches!(
                    d.code,
                    "I509" | "J449" | "G309" | "N186" | "N1830" | "I2510"
                )
            });
            claim.diagnoses.push(terminal.unwrap_or(&FAILURE_TO_THRIVE));
        }
        _ if !p.conditions.is_empty() && rng.chance(650) => {
            claim
                .diagnoses
                .push(&CHRONIC[p.conditions[rng.index(p.conditions.len())]]);
        }
        _ => claim.diagnoses.push(rng.weighted(ACUTE, |d| d.weight)),
    }
    let others = if stub.kind == ClaimKind::Outpatient {
        rng.range(0, 2)
    } else {
        rng.range(1, 5)
    };
    for &c in p.conditions.iter().take(others as usize) {
        let dx = &CHRONIC[c];
        if !claim.diagnoses.iter().any(|d| d.code == dx.code) {
            claim.diagnoses.push(dx);
        }
    }
}

fn revenue_line(t: &RevenueLine, from: time::Date, qty: u32, charge: i64) -> Line {
    Line {
        revenue: Some(t.revenue),
        hcpcs: t.hcpcs,
        modifier: None,
        type_srvc: "",
        pos: "",
        from,
        thru: from,
        qty,
        performer: None,
        charge,
        allowed: 0,
        deductible: 0,
        coinsurance: 0,
        primary_payer: 0,
        noncovered: 0,
        payment: 0,
    }
}

/// Adds `n` distinct lines drawn from `table`, charges scaled by `per_unit_factor`.
fn ancillaries(
    claim: &mut Claim,
    table: &'static [RevenueLine],
    n: i64,
    rng: &mut Rng,
    factor: f64,
) {
    for _ in 0..n {
        let t = rng.weighted(table, |l| l.weight);
        if claim
            .lines
            .iter()
            .any(|l| l.revenue == Some(t.revenue) && l.hcpcs == t.hcpcs)
        {
            continue;
        }
        let day = add_days(
            claim.from,
            rng.range(0, (claim.thru - claim.from).whole_days().max(0)),
        );
        let qty = rng.range(1, 3) as u32;
        let charge = scale(t.charge, noise(rng, 0.35) * factor) * i64::from(qty);
        claim.lines.push(revenue_line(t, day, qty, charge));
    }
}

fn room_and_board(claim: &mut Claim, days: i64, daily_charge: i64) {
    const ROOM: RevenueLine = RevenueLine {
        revenue: "0120",
        hcpcs: None,
        charge: 0,
        weight: 0,
    };
    let mut line = revenue_line(&ROOM, claim.from, days as u32, daily_charge * days);
    line.allowed = daily_charge;
    claim.lines.push(line);
}

fn inpatient(claim: &mut Claim, ctx: &Ctx<'_>, stub: &Stub, rng: &mut Rng, state: &mut YearState) {
    let Detail::Inpatient(e) = stub.detail else {
        return;
    };
    let event = &DRG_EVENTS[e % DRG_EVENTS.len()];
    claim.drg = Some(event);
    let days = (claim.thru - claim.from).whole_days().max(1);
    claim.utilization_days = days as u32;
    claim.type_of_bill = "111";
    for (i, (code, display)) in event.procedures.iter().enumerate() {
        let day = add_days(claim.from, (i as i64 + 1).min(days));
        claim.procedures.push((code, display, day));
    }
    if !event.procedures.is_empty() {
        let specialty = if event.drg == "247" {
            CARDIOLOGY
        } else {
            ORTHO
        };
        claim.operating = Some(practitioner(ctx.profile, specialty, rng));
    }
    let died = ctx.profile.bene.death_date == Some(claim.thru);
    claim.stay = Some(Stay {
        admitted: claim.from,
        discharged: claim.thru,
        discharge_status: if died {
            "20"
        } else {
            rng.weighted(
                &[("01", 65u32), ("03", 12), ("06", 15), ("62", 4), ("07", 4)],
                |s| s.1,
            )
            .0
        },
        admission_type: if event.drg == "470" { "3" } else { "1" },
        source: if event.drg == "470" { "1" } else { "7" },
    });
    room_and_board(claim, days, (rng.range(2_500, 4_500)) * 100);
    let n = rng.range(3, 7);
    ancillaries(claim, INPATIENT_ANCILLARY, n, rng, 1.0 + days as f64 / 4.0);

    // DRG pricing: relative weight × a base rate of about $6,500.
    let drg_amount = scale(650_000 * event.weight_milli / 1_000, noise(rng, 0.1));
    let new_benefit_period = state
        .last_discharge
        .is_none_or(|d| claim.from > add_days(d, 60));
    state.last_discharge = Some(claim.thru);
    let deductible = if new_benefit_period {
        (part_a_deductible(ctx.year) * 100).min(drg_amount)
    } else {
        0
    };
    let primary_payer = if rng.chance(30) {
        (drg_amount - deductible) / 3
    } else {
        0
    };
    claim.totals.deductible = deductible;
    claim.totals.primary_payer = primary_payer;
    claim.totals.payment = drg_amount - deductible - primary_payer;
    claim.totals.pass_thru_per_diem = rng.range(0, 6) * 5_000;
    claim.total_lines(false);
}

fn outpatient(claim: &mut Claim, rng: &mut Rng, state: &mut YearState) {
    claim.type_of_bill = "131";
    let n = *rng.weighted(
        &[(1i64, 25u32), (2, 25), (3, 20), (4, 12), (6, 10), (9, 8)],
        |w| w.1,
    );
    ancillaries(claim, OUTPATIENT_LINES, n.0, rng, 1.0);
    for line in &mut claim.lines {
        // Packaged lines (no HCPCS) are paid within the visit: rate 0.
        if line.hcpcs.is_none() {
            continue;
        }
        line.allowed = scale(line.charge, 0.25 + rng.unit() * 0.2);
        line.deductible = line.allowed.min(state.part_b_left);
        state.part_b_left -= line.deductible;
        line.coinsurance = (line.allowed - line.deductible) / 5;
        line.payment = line.allowed - line.deductible - line.coinsurance;
    }
    claim.total_lines(true);
}

fn snf(claim: &mut Claim, ctx: &Ctx<'_>, rng: &mut Rng) {
    claim.type_of_bill = "211";
    let days = (claim.thru - claim.from).whole_days().max(1);
    claim.utilization_days = days as u32;
    claim.coinsurance_days = (days - 20).clamp(0, 80) as u32;
    let died = ctx.profile.bene.death_date == Some(claim.thru);
    claim.stay = Some(Stay {
        admitted: claim.from,
        discharged: claim.thru,
        discharge_status: if died {
            "20"
        } else if rng.chance(700) {
            "01"
        } else {
            "06"
        },
        admission_type: "3",
        source: "4",
    });
    room_and_board(claim, days, rng.range(600, 950) * 100);
    let n = rng.range(2, 4);
    ancillaries(claim, SNF_LINES, n, rng, 1.0 + days as f64 / 10.0);
    let gross = scale(55_000 * days, noise(rng, 0.1));
    let coinsurance =
        (i64::from(claim.coinsurance_days) * snf_daily_coinsurance_cents(ctx.year)).min(gross);
    claim.totals.coinsurance = coinsurance;
    claim.totals.payment = gross - coinsurance;
    claim.total_lines(false);
}

fn hha(claim: &mut Claim, rng: &mut Rng) {
    claim.type_of_bill = "329";
    let visits = rng.range(4, 16);
    claim.visits = visits as u32;
    let span = (claim.thru - claim.from).whole_days().max(0);
    let mut left = visits;
    for (i, t) in HHA_LINES.iter().enumerate() {
        if left == 0 {
            break;
        }
        let n = if i == HHA_LINES.len() - 1 || rng.chance(300) {
            left
        } else {
            rng.range(1, left)
        };
        if n == 0 {
            continue;
        }
        left -= n;
        let mut line = revenue_line(
            t,
            add_days(claim.from, rng.range(0, span)),
            n as u32,
            t.charge * n,
        );
        line.thru = claim.thru;
        claim.lines.push(line);
    }
    // The 30-day period payment, shared out over the lines by charge so the
    // lines add up to the header exactly.
    let period_payment = scale(210_000, noise(rng, 0.15));
    let total_charge: i64 = claim.lines.iter().map(|l| l.charge).sum();
    let mut paid = 0;
    let last = claim.lines.len().saturating_sub(1);
    for (i, line) in claim.lines.iter_mut().enumerate() {
        line.payment = if i == last {
            period_payment - paid
        } else {
            period_payment * line.charge / total_charge.max(1)
        };
        line.allowed = line.payment;
        paid += line.payment;
    }
    claim.total_lines(true);
}

fn hospice(claim: &mut Claim, ctx: &Ctx<'_>, rng: &mut Rng) {
    claim.type_of_bill = if claim.from == ctx.profile.hospice_start.unwrap_or(claim.from) {
        "812"
    } else {
        "813"
    };
    let days = (claim.thru - claim.from).whole_days() + 1;
    claim.utilization_days = days as u32;
    let died = ctx.profile.bene.death_date == Some(claim.thru);
    claim.stay = Some(Stay {
        admitted: ctx.profile.hospice_start.unwrap_or(claim.from),
        discharged: claim.thru,
        discharge_status: if died { "40" } else { "30" },
        admission_type: "3",
        source: "1",
    });
    // Routine home care per diem, a whole-dollar rate.
    const RHC: RevenueLine = RevenueLine {
        revenue: "0651",
        hcpcs: Some("Q5001"),
        charge: 0,
        weight: 0,
    };
    let rate = 21_000;
    let mut line = revenue_line(&RHC, claim.from, days as u32, rate * days * 12 / 10);
    line.thru = claim.thru;
    line.allowed = rate;
    line.payment = rate * days;
    claim.lines.push(line);
    if rng.chance(600) {
        const NURSE: RevenueLine = RevenueLine {
            revenue: "0551",
            hcpcs: Some("G0299"),
            charge: 0,
            weight: 0,
        };
        let visits = rng.range(2, 8);
        claim.visits = visits as u32;
        claim.lines.push(revenue_line(
            &NURSE,
            claim.from,
            visits as u32,
            15_000 * visits,
        ));
    }
    claim.total_lines(true);
}

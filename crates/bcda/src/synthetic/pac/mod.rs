//! Partially adjudicated claims: the FISS (institutional) and MCS
//! (professional) claims of a beneficiary received in the ~90 days before
//! the ACO's anchor day and not yet final, as BFD serves them from CMS's
//! shared systems (docs/REFERENCES.md, "Partially adjudicated claims").
//!
//! Claims are generated week by week of receipt: the claims received in one
//! week are a pure function of (world seed, pool index, week), like
//! everything else, so a claim is the same bytes whatever the anchor; the
//! anchor only chooses which weeks are in the window (the sandbox
//! re-anchors to its start day, so its window follows the calendar). Each
//! claim's clinical content comes from the adjudicated claim builders
//! (`claims::build_single`), so codes, providers and charges look like the
//! beneficiary's EOBs. Some carry a substance use disorder diagnosis and are
//! flagged ([`super::PacSummary::samhsa`]): BCDA never exports those.

use time::{Date, OffsetDateTime};

use super::claims::plan::Detail;
use super::claims::{self, Claim, ClaimKind};
use super::codes::{CHRONIC, DRG_EVENTS};
use super::ids::Namespace;
use super::population::{Profile, Special};
use super::timeline::{add_days, load_time};
use crate::domain::EobFacts;
use crate::domain::part2 as samhsa;

/// Days before the anchor (inclusive of the anchor day) whose receipts are
/// in the window.
pub(crate) const WINDOW_DAYS: i64 = 90;

/// Mean claims received per week at frailty 1, per system. Over the 90-day
/// window this gives about 1.6 FISS and 1.6 MCS claims per beneficiary,
/// the proportions of BFD's 2025 synthetic release (docs/REFERENCES.md,
/// "Partially adjudicated claims").
const FISS_WEEKLY_RATE: f64 = 0.13;
const MCS_WEEKLY_RATE: f64 = 0.13;

/// The shared system a claim comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PacSource {
    /// Fiscal Intermediary Shared System: institutional (Part A and
    /// outpatient) claims; ids `f-<claim id>`.
    Fiss,
    /// Multi-Carrier System: professional (Part B carrier) claims; ids
    /// `m-<ICN>`.
    Mcs,
}

impl PacSource {
    /// The id prefix: `f` or `m`.
    pub fn prefix(self) -> &'static str {
        match self {
            PacSource::Fiss => "f",
            PacSource::Mcs => "m",
        }
    }
}

/// A claim's processing status in its shared system and what BFD makes of
/// it (`ClaimResponse.outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PacStatus {
    /// FISS `curr_status` / MCS `idr_status_code`.
    pub(crate) code: &'static str,
    /// `queued` or `partial`: none of these claims is final.
    pub(crate) outcome: &'static str,
    pub(crate) weight: u32,
}

/// FISS statuses of claims still in process (BFD's mapping to outcomes).
const FISS_STATUSES: &[PacStatus] = &[
    status("a", "queued", 50),
    status("s", "partial", 25),
    status("m", "partial", 10),
    status("t", "partial", 10),
    status("i", "partial", 5),
];

/// MCS statuses of claims still in process.
const MCS_STATUSES: &[PacStatus] = &[
    status("a", "queued", 30),
    status("1", "queued", 20),
    status("b", "queued", 10),
    status("c", "partial", 20),
    status("3", "partial", 10),
    status("8", "partial", 10),
];

const fn status(code: &'static str, outcome: &'static str, weight: u32) -> PacStatus {
    PacStatus {
        code,
        outcome,
        weight,
    }
}

/// One partially adjudicated claim: rendered as a `Claim` and as its
/// `ClaimResponse` (same id).
#[derive(Debug, Clone)]
pub(crate) struct PacClaim {
    pub(crate) source: PacSource,
    /// The FISS claim id / MCS ICN (also the DCN / ICN identifier value).
    pub(crate) number: u64,
    /// The day the shared system received the claim.
    pub(crate) received: Date,
    pub(crate) status: PacStatus,
    /// The day of the current status (after receipt).
    pub(crate) status_date: Date,
    /// The weekly BFD load after the status change.
    pub(crate) last_updated: OffsetDateTime,
    /// Carries a 42 CFR Part 2 diagnosis ([`samhsa::is_part2_diagnosis`]).
    pub(crate) samhsa: bool,
    /// The clinical content: dates, diagnoses, lines, providers, charges.
    pub(crate) claim: Claim,
}

impl PacClaim {
    /// `f-<number>` / `m-<number>`, as BFD's ids.
    pub(crate) fn id(&self) -> String {
        format!("{}-{}", self.source.prefix(), self.number)
    }

    /// Its tags and outcome as an API v3 ExplanationOfBenefit: from the
    /// shared systems, not final, partially processed.
    pub(crate) fn eob_facts(&self) -> EobFacts {
        EobFacts::SHARED_SYSTEM
    }
}

/// The week (Monday to Sunday) a day falls in, numbered from the Julian
/// day epoch (a Monday).
fn week_of(day: Date) -> i64 {
    i64::from(day.to_julian_day()).div_euclid(7)
}

/// Every partially adjudicated claim of `profile` received in the window
/// ending on `anchor`, in (receipt, source, number) order.
///
/// `density_percent` (1 to 100, the ACO's claims density) scales the weekly
/// rates as `claims::plan::plan_year` scales the adjudicated ones: fewer
/// claims, each built as at full density. At 100 the rates are unchanged
/// (multiplied by exactly 1), so full-density claims are the same bytes.
/// The SAMHSA edge case keeps its full rate: it is there so that every
/// ACO, sandbox ones included, has flagged claims for the export to leave
/// out (one beneficiary in fifty, a few claims each).
pub(crate) fn window_claims(
    ns: Namespace,
    profile: &Profile,
    anchor: Date,
    density_percent: u8,
) -> Vec<PacClaim> {
    let mut out = Vec::new();
    if matches!(profile.special, Special::NoClaims | Special::UnknownToBfd) {
        return out;
    }
    let first = add_days(anchor, 1 - WINDOW_DAYS);
    for week in week_of(first)..=week_of(anchor) {
        for claim in week_claims(ns, profile, week, density_percent) {
            if claim.received >= first && claim.received <= anchor {
                out.push(claim);
            }
        }
    }
    out
}

/// The claims received in one week: independent of the anchor and of any
/// other week.
fn week_claims(ns: Namespace, profile: &Profile, week: i64, density_percent: u8) -> Vec<PacClaim> {
    let seed = profile.seed.label("pac").num(week as u64);
    let mut rng = seed.rng();
    let bene = &profile.bene;
    let sud = profile
        .conditions
        .iter()
        .map(|&c| &CHRONIC[c])
        .find(|d| samhsa::is_part2_diagnosis(d.code));
    // The SAMHSA edge case has claims every few weeks whatever their
    // frailty, so even a small ACO has flagged claims within any window.
    let intensity = if profile.special == Special::Samhsa {
        1.5
    } else {
        profile.frailty * (f64::from(density_percent.clamp(1, 100)) / 100.0)
    };
    let monday = Date::from_julian_day((week * 7) as i32).unwrap_or(Date::MIN);
    let mut out = Vec::new();
    for (source, rate, base) in [
        (PacSource::Fiss, FISS_WEEKLY_RATE, 0u32),
        (PacSource::Mcs, MCS_WEEKLY_RATE, 50u32),
    ] {
        let n = rng.poisson(rate * intensity).min(49);
        for k in 0..n {
            let claim_seed = seed.label(source.prefix()).num(u64::from(k));
            let mut crng = claim_seed.rng();
            let received = add_days(monday, crng.range(0, 4));
            let (kind, detail, los) = match source {
                PacSource::Mcs => (ClaimKind::Carrier, Detail::None, 0),
                PacSource::Fiss => {
                    let pick = crng.below(100);
                    if pick < 70 {
                        (ClaimKind::Outpatient, Detail::None, 0)
                    } else if pick < 82 {
                        let e = crng.index(DRG_EVENTS.len());
                        let los = i64::from(DRG_EVENTS[e].los).max(1);
                        (ClaimKind::Inpatient, Detail::Inpatient(e), los)
                    } else if pick < 88 {
                        (ClaimKind::Snf, Detail::None, crng.range(7, 30))
                    } else {
                        (ClaimKind::Hha, Detail::None, 29)
                    }
                }
            };
            // Providers bill a few days to a few weeks after the service.
            let thru = add_days(received, -crng.range(2, 21));
            let from = add_days(thru, -los);
            let entitled = match source {
                PacSource::Fiss => bene.part_a_start <= from,
                PacSource::Mcs => bene.part_b_start.is_some_and(|b| b <= from),
            };
            if !entitled || bene.death_date.is_some_and(|d| d < thru) {
                continue;
            }
            let mut claim = claims::build_single(profile, kind, from, thru, claim_seed, detail);
            if let Some(dx) = sud
                && (profile.special == Special::Samhsa || crng.chance(250))
                && !claim.diagnoses.iter().any(|d| std::ptr::eq(*d, dx))
            {
                // Treatment for the disorder itself: the principal diagnosis.
                claim.diagnoses.insert(0, dx);
            }
            let statuses = match source {
                PacSource::Fiss => FISS_STATUSES,
                PacSource::Mcs => MCS_STATUSES,
            };
            let status = *crng.weighted(statuses, |s| s.weight);
            let status_date = add_days(received, crng.range(0, 6));
            let samhsa = claim
                .diagnoses
                .iter()
                .any(|d| samhsa::is_part2_diagnosis(d.code));
            out.push(PacClaim {
                source,
                number: ns.pac_number(bene.index, week, base + k),
                received,
                status,
                status_date,
                last_updated: load_time(status_date, crng.next_u64()),
                samhsa,
                claim,
            });
        }
    }
    out
}

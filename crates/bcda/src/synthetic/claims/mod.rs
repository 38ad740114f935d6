//! The version-independent claim model, and the generation of one
//! beneficiary's claims for one service year.
//!
//! Generation runs in two steps. [`plan`] decides which claims exist (type,
//! service dates and a sub-seed each) from the beneficiary's profile and the
//! year's own sub-seed; the claim builders then fill in codes, providers and
//! money, in service-date order, because cost sharing (the Part B deductible,
//! the Part A benefit period) depends on the claims before. Both renderers
//! read the same [`Claim`], so v1 and v2 always agree.

mod institutional;
mod pde;
pub(crate) mod plan;
mod professional;

use time::{Date, OffsetDateTime};

use super::codes::{DrgEvent, Drug, Dx};
use super::ids::Namespace;
use super::population::Profile;
use super::providers::{Organization, Practitioner};
use super::rng::Rng;
use super::timeline::{load_time, part_b_deductible};
use crate::domain::{EobFacts, part2};

/// The eight adjudicated claim types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ClaimKind {
    Carrier,
    Dme,
    Hha,
    Hospice,
    Inpatient,
    Outpatient,
    Pde,
    Snf,
}

impl ClaimKind {
    /// The `eob-type` code.
    pub(crate) fn eob_type(self) -> &'static str {
        match self {
            ClaimKind::Carrier => "CARRIER",
            ClaimKind::Dme => "DME",
            ClaimKind::Hha => "HHA",
            ClaimKind::Hospice => "HOSPICE",
            ClaimKind::Inpatient => "INPATIENT",
            ClaimKind::Outpatient => "OUTPATIENT",
            ClaimKind::Pde => "PDE",
            ClaimKind::Snf => "SNF",
        }
    }

    /// The EOB id prefix (`carrier` in `carrier--100...`).
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            ClaimKind::Carrier => "carrier",
            ClaimKind::Dme => "dme",
            ClaimKind::Hha => "hha",
            ClaimKind::Hospice => "hospice",
            ClaimKind::Inpatient => "inpatient",
            ClaimKind::Outpatient => "outpatient",
            ClaimKind::Pde => "pde",
            ClaimKind::Snf => "snf",
        }
    }

    /// `nch_clm_type_cd` (PDE has none).
    pub(crate) fn nch_type(self) -> &'static str {
        match self {
            ClaimKind::Carrier => "71",
            ClaimKind::Dme => "82",
            ClaimKind::Hha => "10",
            ClaimKind::Hospice => "50",
            ClaimKind::Inpatient => "60",
            ClaimKind::Outpatient => "40",
            ClaimKind::Pde => "",
            ClaimKind::Snf => "20",
        }
    }

    /// `nch_near_line_rec_ident_cd`.
    pub(crate) fn near_line(self) -> &'static str {
        match self {
            ClaimKind::Carrier => "O",
            ClaimKind::Dme => "M",
            ClaimKind::Hha | ClaimKind::Outpatient => "W",
            ClaimKind::Hospice | ClaimKind::Inpatient | ClaimKind::Snf => "V",
            ClaimKind::Pde => "",
        }
    }

    /// The Medicare part that pays: `a`, `b` or `d` (the Coverage id prefix).
    pub(crate) fn part(self) -> char {
        match self {
            ClaimKind::Carrier | ClaimKind::Dme | ClaimKind::Outpatient => 'b',
            ClaimKind::Hha | ClaimKind::Hospice | ClaimKind::Inpatient | ClaimKind::Snf => 'a',
            ClaimKind::Pde => 'd',
        }
    }

    /// Professional (carrier, DME) vs institutional vs pharmacy.
    pub(crate) fn family(self) -> Family {
        match self {
            ClaimKind::Carrier | ClaimKind::Dme => Family::Professional,
            ClaimKind::Pde => Family::Pharmacy,
            _ => Family::Institutional,
        }
    }

    /// Whether the claim is an inpatient-style stay (admission period, DRG or
    /// per-diem, utilisation days).
    pub(crate) fn is_stay(self) -> bool {
        matches!(
            self,
            ClaimKind::Inpatient | ClaimKind::Snf | ClaimKind::Hospice
        )
    }
}

/// The three claim shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Professional,
    Institutional,
    Pharmacy,
}

/// One claim line (a professional line or a revenue-centre line).
#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub(crate) revenue: Option<&'static str>,
    pub(crate) hcpcs: Option<&'static str>,
    pub(crate) modifier: Option<&'static str>,
    /// `line_cms_type_srvc_cd` (professional).
    pub(crate) type_srvc: &'static str,
    /// `line_place_of_srvc_cd` (professional).
    pub(crate) pos: &'static str,
    pub(crate) from: Date,
    pub(crate) thru: Date,
    pub(crate) qty: u32,
    pub(crate) performer: Option<Practitioner>,
    /// Submitted / total charge, cents.
    pub(crate) charge: i64,
    /// Allowed amount (professional) or rate (institutional), cents.
    pub(crate) allowed: i64,
    pub(crate) deductible: i64,
    pub(crate) coinsurance: i64,
    pub(crate) primary_payer: i64,
    pub(crate) noncovered: i64,
    /// Medicare payment = allowed - deductible - coinsurance - primary payer.
    pub(crate) payment: i64,
}

/// An inpatient-style stay.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stay {
    pub(crate) admitted: Date,
    pub(crate) discharged: Date,
    /// `ptnt_dschrg_stus_cd`.
    pub(crate) discharge_status: &'static str,
    /// `clm_ip_admsn_type_cd`.
    pub(crate) admission_type: &'static str,
    /// `clm_src_ip_admsn_cd`.
    pub(crate) source: &'static str,
}

/// Header money: each field is the sum of the lines' (except where noted).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Totals {
    pub(crate) charge: i64,
    pub(crate) allowed: i64,
    pub(crate) deductible: i64,
    pub(crate) coinsurance: i64,
    pub(crate) primary_payer: i64,
    pub(crate) noncovered: i64,
    /// `clm_pmt_amt`: for DRG and per-diem claims the header payment, not a line sum.
    pub(crate) payment: i64,
    pub(crate) provider_payment: i64,
    pub(crate) bene_payment: i64,
    /// Inpatient pass-through per diem (capital, education), cents.
    pub(crate) pass_thru_per_diem: i64,
}

/// Part D event detail.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prescription {
    pub(crate) drug: &'static Drug,
    pub(crate) quantity: u32,
    pub(crate) days_supply: u32,
    pub(crate) fill_number: u32,
    /// `rx_srvc_rfrnc_num`: the prescription service reference number.
    pub(crate) rx_number: u64,
    pub(crate) paid: Date,
    /// `tot_rx_cst_amt` = ingredient + dispensing fee =
    /// plan paid + patient pay + LICS + other TrOOP + PLRO + gap discount.
    pub(crate) total_cost: i64,
    pub(crate) plan_paid: i64,
    pub(crate) patient_pay: i64,
    pub(crate) lics: i64,
    pub(crate) other_troop: i64,
    pub(crate) plro: i64,
    pub(crate) gap_discount: i64,
    /// Gross drug cost below / above the out-of-pocket threshold (sum = total cost).
    pub(crate) gdc_below: i64,
    pub(crate) gdc_above: i64,
}

/// One adjudicated claim.
#[derive(Debug, Clone)]
pub(crate) struct Claim {
    pub(crate) kind: ClaimKind,
    pub(crate) clm_id: i64,
    pub(crate) group_id: i64,
    pub(crate) from: Date,
    pub(crate) thru: Date,
    /// NCH weekly processing date / PDE processing date.
    pub(crate) processed: Date,
    pub(crate) last_updated: OffsetDateTime,
    /// Diagnoses, principal first.
    pub(crate) diagnoses: Vec<&'static Dx>,
    /// ICD-10-PCS procedures: (code, display, date).
    pub(crate) procedures: Vec<(&'static str, &'static str, Date)>,
    pub(crate) lines: Vec<Line>,
    /// Rendering / attending / prescribing practitioner.
    pub(crate) practitioner: Practitioner,
    /// Operating physician (surgical stays).
    pub(crate) operating: Option<Practitioner>,
    /// Facility, supplier or pharmacy.
    pub(crate) organization: Option<Organization>,
    pub(crate) drg: Option<&'static DrgEvent>,
    pub(crate) stay: Option<Stay>,
    /// Type of bill (institutional).
    pub(crate) type_of_bill: &'static str,
    pub(crate) utilization_days: u32,
    pub(crate) coinsurance_days: u32,
    pub(crate) visits: u32,
    pub(crate) totals: Totals,
    pub(crate) rx: Option<Prescription>,
    /// Carrier/DME: the MAC number and claim control number.
    pub(crate) carrier_number: &'static str,
    pub(crate) control_number: u64,
    /// Whether the provider accepted assignment (payment to provider).
    pub(crate) assigned: bool,
}

impl Claim {
    /// The EOB id, `<type>-<clm_id>`.
    pub(crate) fn id(&self) -> String {
        format!("{}-{}", self.kind.prefix(), self.clm_id)
    }

    /// Its tags and outcome on API v3: a Part D event comes from the Drug
    /// Data Processing System, every other claim from the National Claims
    /// History; all are final.
    pub(crate) fn eob_facts(&self) -> EobFacts {
        if self.kind == ClaimKind::Pde {
            EobFacts::DDPS
        } else {
            EobFacts::NCH
        }
    }

    /// Whether the claim is 42 CFR Part 2 data: a substance use disorder
    /// diagnosis or DRG (what the importer reads back from the rendered
    /// diagnoses and DRG coding). BCDA never exports such a claim.
    pub(crate) fn is_part2(&self) -> bool {
        self.diagnoses
            .iter()
            .any(|d| part2::is_part2_diagnosis(d.code))
            || self.drg.is_some_and(|e| part2::is_part2_drg(e.drg))
    }

    /// Sums the lines into the header; `payment_from_lines` false keeps a
    /// header payment set by DRG / per-diem pricing.
    fn total_lines(&mut self, payment_from_lines: bool) {
        let mut t = Totals {
            pass_thru_per_diem: self.totals.pass_thru_per_diem,
            ..Totals::default()
        };
        for l in &self.lines {
            t.charge += l.charge;
            t.allowed += l.allowed;
            t.deductible += l.deductible;
            t.coinsurance += l.coinsurance;
            t.primary_payer += l.primary_payer;
            t.noncovered += l.noncovered;
            t.payment += l.payment;
        }
        if !payment_from_lines {
            t.payment = self.totals.payment;
            t.deductible = self.totals.deductible;
            t.coinsurance = self.totals.coinsurance;
            t.primary_payer = self.totals.primary_payer;
        }
        if self.assigned {
            t.provider_payment = t.payment;
        } else {
            t.bene_payment = t.payment;
        }
        self.totals = t;
    }
}

/// Cost-sharing state carried through one service year in date order.
#[derive(Debug, Clone)]
pub(crate) struct YearState {
    /// Part B deductible still to meet, cents.
    pub(crate) part_b_left: i64,
    /// Last inpatient discharge (a new benefit period starts 60 days later).
    pub(crate) last_discharge: Option<Date>,
}

/// Everything a claim builder needs besides its own random stream.
pub(crate) struct Ctx<'a> {
    pub(crate) profile: &'a Profile,
    pub(crate) year: i32,
}

/// Every claim of one beneficiary for one service year, in service order,
/// at `density_percent` of the full claim rates (see [`plan::plan_year`]).
pub(crate) fn year_claims(
    ns: Namespace,
    profile: &Profile,
    year: i32,
    density_percent: u8,
) -> Vec<Claim> {
    let stubs = plan::plan_year(profile, year, density_percent);
    let mut state = YearState {
        part_b_left: part_b_deductible(year) * 100,
        last_discharge: None,
    };
    let ctx = Ctx { profile, year };
    let mut out = Vec::with_capacity(stubs.len());
    for (seq, stub) in stubs.iter().enumerate() {
        let seq = seq as u32 + 1;
        let mut rng = stub.seed.rng();
        let mut claim = match stub.kind.family() {
            Family::Professional => professional::build(&ctx, stub, &mut rng, &mut state),
            Family::Institutional => institutional::build(&ctx, stub, &mut rng, &mut state),
            Family::Pharmacy => pde::build(&ctx, stub, &mut rng),
        };
        claim.clm_id = ns.claim_id(profile.bene.index, year, seq);
        claim.group_id = ns.claim_group_id(profile.bene.index, year, seq);
        let lag = match stub.kind {
            ClaimKind::Pde => rng.range(1, 21),
            ClaimKind::Carrier | ClaimKind::Dme => 7 + (rng.log_normal(1.9, 0.6) as i64).min(50),
            _ => 10 + (rng.log_normal(2.2, 0.6) as i64).min(60),
        };
        claim.processed = super::timeline::add_days(claim.thru.max(claim.from), lag);
        claim.last_updated = load_time(claim.processed, rng.next_u64());
        out.push(claim);
    }
    out
}

/// One claim of `kind` (carrier or an institutional kind) built on its own,
/// outside any service year's sequence: what a partially adjudicated claim
/// is drawn from (`synthetic::pac`). Cost sharing starts from a fresh year
/// (no deductible met), which only the adjudicated amounts would show.
pub(crate) fn build_single(
    profile: &Profile,
    kind: ClaimKind,
    from: Date,
    thru: Date,
    seed: super::rng::Seed,
    detail: plan::Detail,
) -> Claim {
    let year = from.year();
    let stub = plan::Stub {
        kind,
        from,
        thru,
        seed,
        detail,
    };
    let mut state = YearState {
        part_b_left: part_b_deductible(year) * 100,
        last_discharge: None,
    };
    let ctx = Ctx { profile, year };
    let mut rng = seed.rng();
    match kind.family() {
        Family::Professional => professional::build(&ctx, &stub, &mut rng, &mut state),
        Family::Institutional => institutional::build(&ctx, &stub, &mut rng, &mut state),
        Family::Pharmacy => pde::build(&ctx, &stub, &mut rng),
    }
}

/// The template of a new claim: every field at its neutral value.
pub(crate) fn blank(kind: ClaimKind, from: Date, thru: Date, practitioner: Practitioner) -> Claim {
    Claim {
        kind,
        clm_id: 0,
        group_id: 0,
        from,
        thru,
        processed: from,
        last_updated: super::timeline::FALLBACK_LAST_UPDATED,
        diagnoses: Vec::new(),
        procedures: Vec::new(),
        lines: Vec::new(),
        practitioner,
        operating: None,
        organization: None,
        drg: None,
        stay: None,
        type_of_bill: "",
        utilization_days: 0,
        coinsurance_days: 0,
        visits: 0,
        totals: Totals::default(),
        rx: None,
        carrier_number: "",
        control_number: 0,
        assigned: true,
    }
}

/// `cents × factor`, rounded to the cent.
pub(crate) fn scale(cents: i64, factor: f64) -> i64 {
    (cents as f64 * factor).round() as i64
}

/// A multiplicative noise factor around 1 (log-normal, `sigma`).
pub(crate) fn noise(rng: &mut Rng, sigma: f64) -> f64 {
    rng.log_normal(-sigma * sigma / 2.0, sigma)
}

#[cfg(test)]
mod tests;

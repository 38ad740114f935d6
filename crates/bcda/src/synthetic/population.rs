//! Beneficiaries: demographics, entitlement, and the hidden health profile
//! (frailty, chronic conditions, medications, preferred providers) that
//! drives their claims.
//!
//! Everything is a pure function of the world seed and the pool index.
//! Ages and dates are laid out on the fixed calendar (reference year 2019),
//! never relative to the sandbox's anchor day, so re-anchoring changes no
//! resource. Some index residues mod 50 are fixed edge cases (see
//! [`Special`]), so even a 50-beneficiary ACO has one of each.

use time::{Date, Month};

use super::codes::{self, CHRONIC, DRUGS, SPECIALTIES};
use super::geo::{FEMALE_NAMES, LAST_NAMES, MALE_NAMES, PLACES, STREETS, state_index};
use super::ids::Namespace;
use super::providers::{PER_KIND, PER_SPECIALTY};
use super::rng::{Rng, Seed};
use super::timeline::{add_days, clamped_date, jan1};

/// A beneficiary's sex as Medicare records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    /// CCLF code 1, FHIR `male`.
    Male,
    /// CCLF code 2, FHIR `female`.
    Female,
}

impl Sex {
    /// The CCLF8 `BENE_SEX_CD` (`1` male, `2` female).
    pub fn cclf_code(self) -> char {
        match self {
            Sex::Male => '1',
            Sex::Female => '2',
        }
    }

    /// The 1-800-MEDICARE file's gender letter (`M`/`F`).
    pub fn letter(self) -> char {
        match self {
            Sex::Male => 'M',
            Sex::Female => 'F',
        }
    }

    /// The FHIR `Patient.gender` code.
    pub fn fhir_gender(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
        }
    }

    /// The SNOMED CT code BFD puts in the `us-core-sex` extension.
    pub fn snomed(self) -> &'static str {
        match self {
            Sex::Male => "248153007",
            Sex::Female => "248152002",
        }
    }
}

/// Part D enrollment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartD {
    /// Enrollment start (first of a month).
    pub start: Date,
    /// Part D contract (`Z0001`...).
    pub contract_id: String,
    /// Plan benefit package (`001`...).
    pub pbp_id: String,
    /// Segment (`000`).
    pub segment_id: String,
    /// Low-income subsidy cost-share group (`00` none, `01`-`03` LIS).
    pub cost_share_group: String,
}

/// One synthetic beneficiary: what CCLF8, the 1-800-MEDICARE file and the
/// Patient/Coverage resources say about them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Beneficiary {
    /// Pool index within the ACO.
    pub index: u32,
    /// The BFD bene id (negative, as for all synthetic data).
    pub bene_id: i64,
    /// Current MBI (synthetic: `S` in position 2).
    pub mbi: String,
    /// The MBI this one replaced, if any.
    pub historic_mbi: Option<String>,
    /// The day the current MBI took effect (the historic one ended the day before).
    pub mbi_effective_date: Date,
    /// Legacy HICN (CCLF8 `BENE_HIC_NUM`).
    pub hicn: String,
    /// Given name, drawn from the female or male list (`geo`) by `sex`.
    pub first_name: String,
    /// Middle initial, if any.
    pub middle_name: Option<String>,
    /// Family name, drawn from `geo`'s list.
    pub last_name: String,
    /// About 55% are female; drives the first name and the CCLF/FHIR gender codes.
    pub sex: Sex,
    /// CCW race code: 0 unknown, 1 White, 2 Black, 3 Other, 4 Asian, 5 Hispanic, 6 North American Native.
    pub race_code: u8,
    /// Date of birth: an age in 2019 drawn by band, then a random day of the birth year.
    pub birth_date: Date,
    /// Date of death on the world's timeline; callers writing files "as of"
    /// a day should use [`Beneficiary::death_date_as_of`].
    pub death_date: Option<Date>,
    /// `<number> <street>`; the odd-address edge case (`index % 50 == 43`) adds `&`, `<` and `>`.
    pub address_line: String,
    /// City of a place drawn by population weight from `geo::PLACES`, upper case as USPS writes it.
    pub city: String,
    /// USPS state code of the same place (it agrees with the FIPS codes).
    pub state: String,
    /// Five-digit ZIP within the place's ZIP range.
    pub zip5: String,
    /// ZIP+4 extension.
    pub zip4: String,
    /// FIPS state code (2 digits).
    pub fips_state: String,
    /// FIPS county code (3 digits).
    pub fips_county: String,
    /// Medicare status code `ms_cd`: 10 aged, 11 aged + ESRD, 20 disabled, 21 disabled + ESRD, 31 ESRD only.
    pub medicare_status: String,
    /// Original reason for entitlement (`orec`): 0 old age, 1 disability, 2 ESRD, 3 disability + ESRD.
    pub original_entitlement_reason: u8,
    /// Current reason for entitlement (`crec`), same codes.
    pub current_entitlement_reason: u8,
    /// End-stage renal disease indicator.
    pub esrd: bool,
    /// Dual status code (`NA` not dual; `01`-`08` Medicaid categories).
    pub dual_status: String,
    /// CCLF8 entitlement buy-in indicator (`1` A only, `3` A and B, `A`/`C` state buy-in).
    pub buy_in: char,
    /// Part A entitlement start: the first of the month of the 65th birthday, or a month 1 to 15
    /// years before 2019 when entitled by disability.
    pub part_a_start: Date,
    /// Part B entitlement start, if enrolled.
    pub part_b_start: Option<Date>,
    /// Part D enrollment, if any.
    pub part_d: Option<PartD>,
}

impl Beneficiary {
    /// The death date if it happened on or before `day`.
    pub fn death_date_as_of(&self, day: Date) -> Option<Date> {
        self.death_date.filter(|d| *d <= day)
    }

    /// Whether the beneficiary is dual-eligible for Medicaid.
    pub fn is_dual(&self) -> bool {
        self.dual_status != "NA"
    }
}

/// Fixed edge cases by `index % 50`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Special {
    None,
    /// Dies in 2021 after hospice care.
    Deceased,
    /// Enrolled, known to BFD, and never has a claim.
    NoClaims,
    /// Frailty 6: well over 1,000 EOBs in seven years.
    SuperUtilizer,
    /// Not known to BFD at all (BCDA writes an error line).
    UnknownToBfd,
    /// Has a historic MBI.
    HistoricMbi,
    /// Aged with ESRD.
    Esrd,
    /// Under 65, entitled by disability.
    Disabled,
    /// Full-benefit dual eligible.
    Dual,
    /// Has an alcohol-dependence diagnosis (SAMHSA-protected claims).
    Samhsa,
    /// Address with `&`, `<` and `>`.
    OddAddress,
}

impl Special {
    pub(crate) fn of(index: u32) -> Self {
        match index % 50 {
            3 => Special::Deceased,
            5 => Special::NoClaims,
            7 => Special::SuperUtilizer,
            11 => Special::UnknownToBfd,
            13 => Special::HistoricMbi,
            17 => Special::Esrd,
            19 => Special::Disabled,
            23 => Special::Dual,
            37 => Special::Samhsa,
            43 => Special::OddAddress,
            _ => Special::None,
        }
    }
}

/// A chronic medication: refilled every `supply` days from `phase`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Med {
    /// Index into [`DRUGS`].
    pub(crate) drug: usize,
    /// Days supply per fill (30 or 90).
    pub(crate) supply: u32,
    /// Offset of the fill schedule, `0..supply`.
    pub(crate) phase: u32,
    /// Fills per prescription before a new one is written.
    pub(crate) fills_per_rx: u32,
}

/// A beneficiary with the hidden state their claims are drawn from.
#[derive(Debug, Clone)]
pub(crate) struct Profile {
    pub(crate) bene: Beneficiary,
    pub(crate) seed: Seed,
    pub(crate) special: Special,
    /// Latent sickness multiplier (mean about 1): sick beneficiaries are sick
    /// in every claim type.
    pub(crate) frailty: f64,
    /// Indices into [`CHRONIC`].
    pub(crate) conditions: Vec<usize>,
    pub(crate) meds: Vec<Med>,
    /// Index into [`super::geo::STATES`].
    pub(crate) state: usize,
    /// Preferred practitioner (`k`) per specialty.
    pub(crate) preferred: [u32; SPECIALTIES.len()],
    /// Preferred organisation (`k`) per kind: hospital, SNF, HHA, hospice, pharmacy, DME.
    pub(crate) orgs: [u32; 6],
    /// First day of hospice care before death, if any.
    pub(crate) hospice_start: Option<Date>,
}

impl Profile {
    /// The profile of pool index `index`.
    /// `current`: the beneficiary is on the ACO's current roster (an index
    /// below its size). Current members are alive: attribution drops the
    /// deceased, so deaths happen only among former members (they left the
    /// roster because they died, or moved on).
    pub(crate) fn generate(world: Seed, ns: Namespace, index: u32, current: bool) -> Profile {
        let seed = world.label("bene").num(u64::from(index));
        let mut rng = seed.rng();
        let special = match Special::of(index) {
            Special::Deceased if current => Special::None,
            other => other,
        };

        let sex = if rng.chance(550) {
            Sex::Female
        } else {
            Sex::Male
        };
        let race_code = *rng.weighted(
            &[
                (1u8, 750u32),
                (2, 100),
                (5, 70),
                (4, 30),
                (3, 20),
                (6, 10),
                (0, 20),
            ],
            |r| r.1,
        );
        let race_code = race_code.0;

        // Entitlement category.
        let disabled =
            special == Special::Disabled || (special == Special::None && rng.chance(130));
        let esrd = special == Special::Esrd || (special == Special::None && rng.chance(10));
        let aging_in = !disabled && special == Special::None && rng.chance(60);
        let age_2019: i32 = if disabled {
            rng.range(30, 64) as i32
        } else if aging_in {
            rng.range(60, 64) as i32
        } else {
            let band = *rng.weighted(
                &[
                    (65, 300u32),
                    (70, 250),
                    (75, 180),
                    (80, 130),
                    (85, 90),
                    (90, 50),
                ],
                |b| b.1,
            );
            band.0 + rng.range(0, 4) as i32
        };
        let birth_year = 2019 - age_2019;
        let birth_date = add_days(jan1(birth_year), rng.range(0, 364));
        let (medicare_status, orec, crec) = match (disabled, esrd) {
            (false, false) => ("10", 0, 0),
            (false, true) => ("11", 0, 2),
            (true, false) => ("20", 1, 1),
            (true, true) => ("21", 1, 3),
        };
        let part_a_start = if disabled {
            let years_ago = rng.range(1, 15) as i32;
            clamped_date(2019 - years_ago, month(rng.range(1, 12)), 1)
        } else {
            // The first of the month of the 65th birthday.
            clamped_date(birth_year + 65, birth_date.month(), 1)
        };

        let super_user = special == Special::SuperUtilizer;
        let part_b_start = (super_user || rng.chance(930)).then_some(part_a_start);

        // Dual eligibility: likelier for the disabled, as in real Medicare.
        let dual_per_mille = if disabled { 400 } else { 140 };
        let dual_status = if special == Special::Dual {
            "02"
        } else if special != Special::NoClaims && rng.chance(dual_per_mille) {
            rng.weighted(
                &[
                    ("02", 40u32),
                    ("04", 15),
                    ("08", 25),
                    ("01", 10),
                    ("03", 10),
                ],
                |d| d.1,
            )
            .0
        } else {
            "NA"
        };
        let is_dual = dual_status != "NA";
        let buy_in = match (is_dual, part_b_start.is_some()) {
            (true, true) => 'C',
            (true, false) => 'A',
            (false, true) => '3',
            (false, false) => '1',
        };

        let part_d = (special != Special::NoClaims && (super_user || is_dual || rng.chance(720)))
            .then(|| {
                let start = part_a_start
                    .max(Date::from_calendar_date(2006, Month::January, 1).unwrap_or(part_a_start));
                PartD {
                    start,
                    contract_id: format!("Z{:04}", 1 + rng.below(12)),
                    pbp_id: format!("{:03}", 1 + rng.below(3)),
                    segment_id: "000".to_string(),
                    cost_share_group: if is_dual {
                        format!("{:02}", 1 + rng.below(3))
                    } else {
                        "00".to_string()
                    },
                }
            });

        // Latent frailty: log-normal with mean 1, heavier for the disabled,
        // ESRD and the old.
        let mut frailty = rng.log_normal(-0.32, 0.8).clamp(0.08, 6.0);
        if disabled || esrd {
            frailty *= 1.4;
        }
        if age_2019 >= 85 {
            frailty *= 1.3;
        }
        if super_user {
            frailty = 6.0;
        }

        // Mortality from 2019 on, by age band and frailty (about 2 % a year:
        // lower than Medicare's 4-5 % so that a current ACO roster is mostly
        // alive, as attribution would make it).
        let mut death_date = None;
        if special == Special::Deceased {
            death_date = Some(add_days(jan1(2021), rng.range(120, 300)));
        } else if special == Special::None && !current {
            let mut year = 2019.max(part_a_start.year());
            while year < 2060 && death_date.is_none() {
                let age = year - birth_year;
                let base: f64 = if age < 75 {
                    8.0
                } else if age < 85 {
                    20.0
                } else {
                    50.0
                };
                let hazard = (base * frailty.clamp(0.5, 3.0)) as u32;
                if rng.chance(hazard) {
                    death_date = Some(add_days(jan1(year), rng.range(0, 364)));
                }
                year += 1;
            }
        }
        let death_date = death_date.filter(|d| *d > add_days(part_a_start, 60));
        let hospice_start = death_date.and_then(|d| {
            (special == Special::Deceased || rng.chance(550))
                .then(|| add_days(d, -rng.range(14, 150)).max(part_a_start))
        });

        // Names and address.
        let first_name = match sex {
            Sex::Female => rng.pick(FEMALE_NAMES),
            Sex::Male => rng.pick(MALE_NAMES),
        }
        .to_string();
        let middle_name = rng
            .chance(700)
            .then(|| char::from(b'A' + rng.below(26) as u8).to_string());
        let last_name = rng.pick(LAST_NAMES).to_string();
        let place = rng.weighted(PLACES, |p| p.weight);
        let number = rng.range(1, 9_899);
        let address_line = if special == Special::OddAddress {
            format!("{number} MARKET & VINE ST <REAR>")
        } else {
            format!("{number} {}", rng.pick(STREETS))
        };
        let zip5 = format!(
            "{:05}",
            place.zip5_base + rng.below(u64::from(place.zip_span)) as u32
        );
        let zip4 = format!("{:04}", rng.below(10_000));

        let has_historic =
            special == Special::HistoricMbi || (special == Special::None && rng.chance(20));
        let mbi_effective_date = if has_historic {
            add_days(
                Date::from_calendar_date(2019, Month::March, 1).unwrap_or(part_a_start),
                rng.range(0, 1_000),
            )
        } else {
            part_a_start
                .max(Date::from_calendar_date(2018, Month::April, 1).unwrap_or(part_a_start))
        };

        // Health profile.
        let mut conditions: Vec<usize> = Vec::new();
        let n_conditions = 1 + rng.poisson(0.8 + 1.2 * frailty).min(9) as usize;
        for _ in 0..n_conditions * 3 {
            if conditions.len() >= n_conditions {
                break;
            }
            let c = pick_condition(&mut rng);
            if !conditions.contains(&c) {
                conditions.push(c);
            }
        }
        if esrd {
            conditions.push(codes::ESRD_DX);
            conditions.push(codes::DIALYSIS_DX);
        }
        if special == Special::Samhsa && !conditions.contains(&codes::ALCOHOL_DX) {
            conditions.push(codes::ALCOHOL_DX);
        }

        let mut meds: Vec<Med> = Vec::new();
        for &c in &conditions {
            let code = CHRONIC[c].code;
            let candidates: Vec<usize> = (0..DRUGS.len())
                .filter(|&d| !DRUGS[d].treats.is_empty() && code.starts_with(DRUGS[d].treats))
                .collect();
            if candidates.is_empty() {
                continue;
            }
            for take in 0..2 {
                if rng.chance(if take == 0 { 850 } else { 250 }) {
                    let drug = *rng.pick(&candidates);
                    if !meds.iter().any(|m| m.drug == drug) {
                        meds.push(new_med(&mut rng, drug));
                    }
                }
            }
        }
        let extra = rng.poisson(0.9 * frailty).min(10);
        for _ in 0..extra {
            let drug = rng.index(DRUGS.len());
            if !DRUGS[drug].treats.is_empty() && !meds.iter().any(|m| m.drug == drug) {
                meds.push(new_med(&mut rng, drug));
            }
        }

        let mut preferred = [0u32; SPECIALTIES.len()];
        for p in &mut preferred {
            *p = rng.below(u64::from(PER_SPECIALTY)) as u32;
        }
        let mut orgs = [0u32; 6];
        for o in &mut orgs {
            *o = rng.below(u64::from(PER_KIND)) as u32;
        }

        let bene = Beneficiary {
            index,
            bene_id: ns.bene_id(index),
            mbi: ns.mbi(index),
            historic_mbi: has_historic.then(|| ns.historic_mbi(index)),
            mbi_effective_date,
            hicn: ns.hicn(index),
            first_name,
            middle_name,
            last_name,
            sex,
            race_code,
            birth_date,
            death_date,
            address_line,
            city: place.city.to_string(),
            state: place.state.to_string(),
            zip5,
            zip4,
            fips_state: place.fips_state.to_string(),
            fips_county: place.fips_county.to_string(),
            medicare_status: medicare_status.to_string(),
            original_entitlement_reason: orec,
            current_entitlement_reason: crec,
            esrd,
            dual_status: dual_status.to_string(),
            buy_in,
            part_a_start,
            part_b_start,
            part_d,
        };
        Profile {
            state: state_index(place.state),
            bene,
            seed,
            special,
            frailty,
            conditions,
            meds,
            preferred,
            orgs,
            hospice_start,
        }
    }
}

fn pick_condition(rng: &mut Rng) -> usize {
    let c = rng.weighted(CHRONIC, |d| d.weight);
    CHRONIC.iter().position(|d| std::ptr::eq(d, c)).unwrap_or(0)
}

fn new_med(rng: &mut Rng, drug: usize) -> Med {
    let supply = if rng.chance(700) { 30 } else { 90 };
    Med {
        drug,
        supply,
        phase: rng.below(u64::from(supply)) as u32,
        fills_per_rx: if supply == 30 { 12 } else { 4 },
    }
}

fn month(n: i64) -> Month {
    Month::try_from(n.clamp(1, 12) as u8).unwrap_or(Month::January)
}

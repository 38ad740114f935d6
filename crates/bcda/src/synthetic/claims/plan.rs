//! Which claims a beneficiary has in a service year: counts drawn from the
//! latent frailty, dates inside the coverage windows and before death,
//! post-acute care chained to inpatient stays, hospice before death, and
//! Part D refills on each chronic drug's schedule.

use time::Date;

use super::ClaimKind;
use crate::synthetic::codes::{DRG_EVENTS, DRUGS};
use crate::synthetic::population::{Profile, Special};
use crate::synthetic::rng::{Rng, Seed};
use crate::synthetic::timeline::{add_days, dec31, jan1, month_end};

/// Mean claims per fully covered year at frailty 1.
const CARRIER_RATE: f64 = 24.0;
const OUTPATIENT_RATE: f64 = 6.0;
const DME_RATE: f64 = 1.3;
const INPATIENT_RATE: f64 = 0.27;
const HHA_RATE: f64 = 0.12;
const ACUTE_RX_RATE: f64 = 4.0;

/// What kind-specific input a planned claim carries.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Detail {
    None,
    /// An inpatient stay: index into [`DRG_EVENTS`].
    Inpatient(usize),
    /// A fill of chronic medication `med` (index into the profile's meds),
    /// fill number `fill` of its prescription, prescription number `rx`.
    Refill {
        med: usize,
        fill: u32,
        rx: u64,
    },
    /// A one-off prescription of drug `drug`.
    Acute {
        drug: usize,
    },
}

/// A planned claim.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stub {
    pub(crate) kind: ClaimKind,
    pub(crate) from: Date,
    pub(crate) thru: Date,
    pub(crate) seed: Seed,
    pub(crate) detail: Detail,
}

/// A span of covered days.
#[derive(Debug, Clone, Copy)]
struct Window {
    from: Date,
    thru: Date,
}

impl Window {
    fn new(from: Date, thru: Date) -> Option<Self> {
        (from <= thru).then_some(Window { from, thru })
    }

    fn days(self) -> i64 {
        (self.thru - self.from).whole_days() + 1
    }

    /// Fraction of a year covered.
    fn fraction(self) -> f64 {
        self.days() as f64 / 365.0
    }

    fn random_day(self, rng: &mut Rng) -> Date {
        add_days(self.from, rng.range(0, self.days() - 1))
    }

    /// A random day, redrawn once if it falls on a weekend (offices are
    /// mostly closed) or in summer (fewer visits), which gives the weekday
    /// pattern and a winter bump.
    fn office_day(self, rng: &mut Rng) -> Date {
        let d = self.random_day(rng);
        let weekend = matches!(d.weekday(), time::Weekday::Saturday | time::Weekday::Sunday);
        let summer = matches!(u8::from(d.month()), 6..=8);
        if (weekend && rng.chance(850)) || (summer && rng.chance(150)) {
            self.random_day(rng)
        } else {
            d
        }
    }
}

/// The claims of `profile` in service year `year`, in service order.
///
/// `density_percent` (1 to 100) scales how many claims a beneficiary has:
/// the per-year rates of every drawn claim type are multiplied by it, and
/// each chronic medication is kept with that chance (a kept one keeps its
/// whole refill schedule). Each claim is built exactly as at full density;
/// at 100 no extra random number is drawn, so full-density claims are
/// unchanged. The sandbox uses a low density (`sandbox.rs`) so its export
/// files stay small enough for everyday tools.
pub(crate) fn plan_year(p: &Profile, year: i32, density_percent: u8) -> Vec<Stub> {
    let mut out = Vec::new();
    if p.special == Special::NoClaims || p.special == Special::UnknownToBfd {
        return out;
    }
    let bene = &p.bene;
    let end = bene.death_date.map_or(dec31(year), |d| d.min(dec31(year)));
    let Some(a) = Window::new(bene.part_a_start.max(jan1(year)), end) else {
        return out;
    };
    let b = bene
        .part_b_start
        .and_then(|s| Window::new(s.max(jan1(year)), end));
    let d = bene
        .part_d
        .as_ref()
        .and_then(|pd| Window::new(pd.start.max(jan1(year)), end));

    let density = f64::from(density_percent.clamp(1, 100)) / 100.0;
    let year_seed = p.seed.label("year").num(year as u64);
    let mut rng = year_seed.rng();
    let mut n = 0u64;
    let mut next_seed = || {
        n += 1;
        year_seed.label("claim").num(n)
    };
    // A sick year or a healthy year: same person, varying intensity.
    let intensity = p.frailty * rng.log_normal(-0.045, 0.3);

    // Inpatient stays and the post-acute care that follows them.
    let stays = rng
        .poisson(INPATIENT_RATE * density * intensity * a.fraction())
        .min(40);
    for _ in 0..stays {
        let admitted = a.random_day(&mut rng);
        let event = rng.weighted(DRG_EVENTS, |e| e.weight);
        let event_index = DRG_EVENTS
            .iter()
            .position(|e| std::ptr::eq(e, event))
            .unwrap_or(0);
        let los = ((f64::from(event.los) * rng.log_normal(-0.1, 0.45)).round() as i64).clamp(1, 60);
        let discharged = add_days(admitted, los).min(bene.death_date.unwrap_or(Date::MAX));
        push(
            &mut out,
            ClaimKind::Inpatient,
            admitted,
            discharged,
            next_seed(),
            Detail::Inpatient(event_index),
        );
        if bene.death_date.is_some_and(|dd| dd <= discharged) {
            continue;
        }
        if los >= 3 && rng.chance(250) {
            let days = rng.range(7, 45);
            let thru = add_days(discharged, days).min(bene.death_date.unwrap_or(Date::MAX));
            push(
                &mut out,
                ClaimKind::Snf,
                discharged,
                thru,
                next_seed(),
                Detail::None,
            );
        } else if rng.chance(250) {
            let from = add_days(discharged, rng.range(1, 5));
            let thru = add_days(from, 29).min(bene.death_date.unwrap_or(Date::MAX));
            if from <= thru {
                push(
                    &mut out,
                    ClaimKind::Hha,
                    from,
                    thru,
                    next_seed(),
                    Detail::None,
                );
            }
        }
    }
    for _ in 0..rng
        .poisson(HHA_RATE * density * intensity * a.fraction())
        .min(12)
    {
        let from = a.random_day(&mut rng);
        let thru = add_days(from, 29).min(end);
        push(
            &mut out,
            ClaimKind::Hha,
            from,
            thru,
            next_seed(),
            Detail::None,
        );
    }

    // Hospice: one claim per calendar month from hospice start to death.
    if let (Some(start), Some(death)) = (p.hospice_start, bene.death_date) {
        let mut from = start;
        while from <= death {
            let thru = month_end(from).min(death);
            if from.year() == year {
                push(
                    &mut out,
                    ClaimKind::Hospice,
                    from,
                    thru,
                    next_seed(),
                    Detail::None,
                );
            }
            from = add_days(thru, 1);
        }
    }

    if let Some(b) = b {
        for _ in 0..rng
            .poisson(OUTPATIENT_RATE * density * intensity * b.fraction())
            .min(1_000)
        {
            let day = b.office_day(&mut rng);
            push(
                &mut out,
                ClaimKind::Outpatient,
                day,
                day,
                next_seed(),
                Detail::None,
            );
        }
        for _ in 0..rng
            .poisson(CARRIER_RATE * density * intensity * b.fraction())
            .min(2_000)
        {
            let day = b.office_day(&mut rng);
            push(
                &mut out,
                ClaimKind::Carrier,
                day,
                day,
                next_seed(),
                Detail::None,
            );
        }
        for _ in 0..rng
            .poisson(DME_RATE * density * intensity * b.fraction())
            .min(200)
        {
            let day = b.office_day(&mut rng);
            push(
                &mut out,
                ClaimKind::Dme,
                day,
                add_days(day, 29).min(end),
                next_seed(),
                Detail::None,
            );
        }
    }

    if let (Some(d), Some(part_d)) = (d, bene.part_d.as_ref()) {
        // Chronic refills: fill k of a drug falls on origin + k × supply
        // (plus a small per-fill delay), so any year is computed directly.
        for (m, med) in p.meds.iter().enumerate() {
            // Below full density a medication is kept or dropped for good (its
            // own sub-seed, the same every year), so refills stay in sequence.
            if density_percent < 100
                && !p
                    .seed
                    .label("density-med")
                    .num(m as u64)
                    .rng()
                    .chance(u32::from(density_percent) * 10)
            {
                continue;
            }
            let origin = add_days(part_d.start, i64::from(med.phase));
            let supply = i64::from(med.supply);
            let first_k = ((d.from - origin).whole_days() - 7).max(0) / supply;
            let mut k = first_k;
            loop {
                let fill_seed = p.seed.label("fill").num(m as u64).num(k as u64);
                let mut fill_rng = fill_seed.rng();
                let day = add_days(origin, k * supply + fill_rng.range(0, 4));
                if day > d.thru {
                    break;
                }
                // About one fill in twelve is missed (non-adherence).
                if day >= d.from && !fill_rng.chance(80) {
                    let fills = i64::from(med.fills_per_rx);
                    let rx = (m as u64) << 32 | (k / fills) as u64;
                    let detail = Detail::Refill {
                        med: m,
                        fill: (k % fills) as u32 + 1,
                        rx,
                    };
                    push(&mut out, ClaimKind::Pde, day, day, fill_seed, detail);
                }
                k += 1;
            }
        }
        let acute: Vec<usize> = (0..DRUGS.len())
            .filter(|&i| DRUGS[i].treats.is_empty())
            .collect();
        for _ in 0..rng
            .poisson(ACUTE_RX_RATE * density * intensity * d.fraction())
            .min(500)
        {
            let day = d.random_day(&mut rng);
            let drug = *rng.pick(&acute);
            push(
                &mut out,
                ClaimKind::Pde,
                day,
                day,
                next_seed(),
                Detail::Acute { drug },
            );
        }
    }

    out.sort_by_key(|s| (s.from, s.kind, s.seed.0));
    out
}

fn push(out: &mut Vec<Stub>, kind: ClaimKind, from: Date, thru: Date, seed: Seed, detail: Detail) {
    out.push(Stub {
        kind,
        from,
        thru,
        seed,
        detail,
    });
}

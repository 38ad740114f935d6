//! 1-800-MEDICARE data-sharing preferences (opt-outs) of the pool.
//!
//! About 2 % of the pool opt out at some point, a third of them opt back in
//! later. Two current members are fixed cases relative to the anchor: one
//! whose latest event is an opt-out inside BCDA's 60-day lookback (exports
//! must exclude them) and one whose opt-out is older (it no longer applies).

use time::{Date, Duration};

use super::population::Special;
use super::rng::Seed;
use super::timeline::{add_days, jan1};

/// A beneficiary's data-sharing preference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptOutPreference {
    /// `Y`: share data.
    OptIn,
    /// `N`: do not share data.
    OptOut,
}

impl OptOutPreference {
    /// The preference indicator of the 1-800-MEDICARE file.
    pub fn indicator(self) -> char {
        match self {
            OptOutPreference::OptIn => 'Y',
            OptOutPreference::OptOut => 'N',
        }
    }
}

/// One recorded preference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptOutEvent {
    /// Pool index of the beneficiary
    /// ([`SyntheticAco::beneficiary`](super::SyntheticAco::beneficiary)).
    pub index: u32,
    /// The day the preference takes effect; the latest event inside the lookback window decides.
    pub effective_date: Date,
    /// Share or do not share; an `N` as the latest event suppresses the beneficiary's data.
    pub preference: OptOutPreference,
}

/// Every event, sorted by (effective date, index).
pub(crate) fn events(
    world: Seed,
    beneficiaries: u32,
    pool_size: u32,
    anchor: Date,
) -> Vec<OptOutEvent> {
    let seed = world.label("optout");
    let start = jan1(2019);
    let span = (anchor - start).whole_days().max(1);
    let recent = fixed_member(seed.label("recent"), beneficiaries, None);
    let old = fixed_member(seed.label("old"), beneficiaries, recent);
    let mut out = Vec::new();
    for index in 0..pool_size {
        let mut rng = seed.num(u64::from(index)).rng();
        if Some(index) == recent {
            out.push(OptOutEvent {
                index,
                effective_date: add_days(anchor, -rng.range(3, 40)),
                preference: OptOutPreference::OptOut,
            });
            continue;
        }
        if Some(index) == old {
            out.push(OptOutEvent {
                index,
                effective_date: add_days(anchor, -rng.range(90, 400)),
                preference: OptOutPreference::OptOut,
            });
            continue;
        }
        if !rng.chance(20) {
            continue;
        }
        let out_date = add_days(start, rng.range(0, span - 1));
        out.push(OptOutEvent {
            index,
            effective_date: out_date,
            preference: OptOutPreference::OptOut,
        });
        if rng.chance(330) {
            let back = out_date + Duration::days(rng.range(30, 400));
            if back < anchor {
                out.push(OptOutEvent {
                    index,
                    effective_date: back,
                    preference: OptOutPreference::OptIn,
                });
            }
        }
    }
    out.sort_by_key(|e| (e.effective_date, e.index));
    out
}

/// A current member without a fixed edge-case role, other than `not`.
fn fixed_member(seed: Seed, beneficiaries: u32, not: Option<u32>) -> Option<u32> {
    if beneficiaries == 0 {
        return None;
    }
    let start = (seed.0 % u64::from(beneficiaries)) as u32;
    let candidates = (0..beneficiaries).map(|k| (start + k) % beneficiaries);
    let mut fallback = None;
    for i in candidates {
        if Some(i) == not {
            continue;
        }
        fallback.get_or_insert(i);
        if Special::of(i) == Special::None && !matches!(i % 50, 1 | 2 | 25..=30) {
            return Some(i);
        }
    }
    fallback
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn fixed_cases_and_rate() {
        let anchor = date!(2025 - 06 - 18);
        let ev = events(Seed::new(3), 2_000, 2_500, anchor);
        assert!(
            ev.windows(2)
                .all(|w| (w[0].effective_date, w[0].index) <= (w[1].effective_date, w[1].index))
        );
        assert!(ev.iter().all(|e| e.effective_date <= anchor));
        let latest = |i: u32| ev.iter().rfind(|e| e.index == i).cloned();
        let current: Vec<u32> = (0..2_000).collect();
        let recent = current.iter().filter_map(|&i| latest(i)).any(|e| {
            e.preference == OptOutPreference::OptOut
                && e.effective_date >= anchor - Duration::days(60)
        });
        let old = current.iter().filter_map(|&i| latest(i)).any(|e| {
            e.preference == OptOutPreference::OptOut
                && e.effective_date < anchor - Duration::days(60)
        });
        assert!(recent && old);
        let opted_out = ev
            .iter()
            .filter(|e| e.preference == OptOutPreference::OptOut)
            .count();
        assert!((25..=90).contains(&opted_out), "{opted_out}");
        assert!(ev.iter().any(|e| e.preference == OptOutPreference::OptIn));
    }

    #[test]
    fn tiny_acos_still_have_both_cases() {
        let anchor = date!(2025 - 06 - 18);
        let ev = events(Seed::new(3), 2, 4, anchor);
        let idx: Vec<u32> = ev.iter().filter(|e| e.index < 2).map(|e| e.index).collect();
        assert!(idx.contains(&0) && idx.contains(&1));
    }
}

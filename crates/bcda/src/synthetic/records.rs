//! Which version of a beneficiary's Patient or Coverage record BFD holds at
//! a given instant: records are reloaded every January (new reference year)
//! and once more after a death is reported.

use time::{Date, OffsetDateTime};

use super::population::Beneficiary;
use super::rng::Seed;
use super::timeline::{add_days, jan1, load_time};

/// One loaded version of a beneficiary-level record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordVersion {
    pub(crate) last_updated: OffsetDateTime,
    /// `rfrnc_yr`: the enrollment year the record describes.
    pub(crate) reference_year: i32,
    /// Whether this version reports the death.
    pub(crate) deceased: bool,
}

/// The newest version, loaded at or before `until`, of a record that exists
/// from `start` (entitlement to the part, or Part A for Patient). Yearly
/// loads begin with `first_year`.
pub(crate) fn version_at(
    bene: &Beneficiary,
    seed: Seed,
    start: Date,
    first_year: i32,
    until: OffsetDateTime,
) -> Option<RecordVersion> {
    let mut best = None;
    let last_year = until.to_offset(time::UtcOffset::UTC).year();
    for year in first_year.max(start.year())..=last_year {
        if bene.death_date.is_some_and(|d| d < jan1(year)) {
            break;
        }
        // Known to BFD a month before entitlement begins.
        let processed = jan1(year).max(add_days(start, -30));
        let t = load_time(processed, seed.num(year as u64).0);
        if t > until {
            break;
        }
        best = Some(RecordVersion {
            last_updated: t,
            reference_year: year,
            deceased: false,
        });
    }
    if let Some(death) = bene.death_date {
        let t = load_time(add_days(death, 14), seed.label("death").0);
        // BFD keeps the record of a beneficiary who died before the yearly
        // loads began: its only version is the one reporting the death.
        let died_before_loads = death < jan1(first_year.max(start.year())) && start <= death;
        if t <= until && (best.is_some() || died_before_loads) {
            best = Some(RecordVersion {
                last_updated: t,
                reference_year: death.year(),
                deceased: true,
            });
        }
    }
    best
}

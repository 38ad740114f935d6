//! Calendar rules of the synthetic BFD: weekly load batches (`meta.lastUpdated`),
//! the legacy fallback timestamp, US Eastern offsets, and the yearly Medicare
//! cost-sharing amounts.

use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset, Weekday};

use super::rng::Seed;

/// BFD's `FALLBACK_LAST_UPDATED`: what rows loaded before BFD tracked load
/// times report (docs/REFERENCES.md, "BFD lastUpdated fallback").
pub(crate) const FALLBACK_LAST_UPDATED: OffsetDateTime =
    time::macros::datetime!(2020-01-01 0:00 UTC);

/// The `n`th (1-based) Sunday of a month.
fn nth_sunday(year: i32, month: Month, n: u8) -> Date {
    let first = Date::from_calendar_date(year, month, 1).unwrap_or(Date::MIN);
    let offset = (7 - first.weekday().number_days_from_sunday()) % 7;
    first + Duration::days(i64::from(offset) + 7 * (i64::from(n) - 1))
}

/// The US Eastern offset in force on `date` (at the early-morning batch
/// hours; the changeover itself happens on a Sunday, when BFD loads nothing).
pub(crate) fn us_eastern_offset(date: Date) -> UtcOffset {
    let year = date.year();
    let dst_start = nth_sunday(year, Month::March, 2);
    let dst_end = nth_sunday(year, Month::November, 1);
    let hours = if date > dst_start && date < dst_end {
        -4
    } else {
        -5
    };
    UtcOffset::from_hms(hours, 0, 0).unwrap_or(UtcOffset::UTC)
}

/// The `meta.lastUpdated` of a record processed on `processed`: the weekly
/// BFD load on the first Friday after it, starting between 01:30 and 02:30
/// US Eastern (fixed per week for the whole world, as one batch loads every
/// ACO) plus the record's own position within the batch (`record_seed`, up
/// to 40 minutes, millisecond precision). Loads before 2020 report the
/// legacy fallback.
pub(crate) fn load_time(processed: Date, record_seed: u64) -> OffsetDateTime {
    let friday = processed.next_occurrence(Weekday::Friday);
    let week = Seed::new(0x0B_FD).num(friday.to_julian_day() as u64);
    let batch_start_s = 5_400 + (week.0 % 3_600) as i64; // 01:30 + up to 1 h
    let record_ms = (record_seed % 2_400_000) as i64;
    let offset = us_eastern_offset(friday);
    let local = PrimitiveDateTime::new(friday, Time::MIDNIGHT)
        + Duration::seconds(batch_start_s)
        + Duration::milliseconds(record_ms);
    let t = local.assume_offset(offset);
    if t < FALLBACK_LAST_UPDATED {
        FALLBACK_LAST_UPDATED
    } else {
        t
    }
}

/// The Part A inpatient deductible (whole dollars) for a year.
pub(crate) fn part_a_deductible(year: i32) -> i64 {
    extrapolate(
        year,
        &[
            (2017, 1_316),
            (2018, 1_340),
            (2019, 1_364),
            (2020, 1_408),
            (2021, 1_484),
            (2022, 1_556),
            (2023, 1_600),
            (2024, 1_632),
            (2025, 1_676),
            (2026, 1_736),
        ],
    )
}

/// The Part B annual deductible (whole dollars) for a year.
pub(crate) fn part_b_deductible(year: i32) -> i64 {
    extrapolate(
        year,
        &[
            (2017, 183),
            (2018, 183),
            (2019, 185),
            (2020, 198),
            (2021, 203),
            (2022, 233),
            (2023, 226),
            (2024, 240),
            (2025, 257),
            (2026, 283),
        ],
    )
}

/// The SNF daily coinsurance for days 21-100, in cents.
pub(crate) fn snf_daily_coinsurance_cents(year: i32) -> i64 {
    extrapolate(
        year,
        &[
            (2017, 16_450),
            (2018, 16_750),
            (2019, 17_050),
            (2020, 17_600),
            (2021, 18_550),
            (2022, 19_450),
            (2023, 20_000),
            (2024, 20_400),
            (2025, 20_950),
            (2026, 21_700),
        ],
    )
}

/// The table value for `year`; before the table the first value, after it
/// the last value grown by 3 % a year (integer arithmetic, so portable).
fn extrapolate(year: i32, table: &[(i32, i64)]) -> i64 {
    let (first_year, first) = table[0];
    let (last_year, last) = table[table.len() - 1];
    if year <= first_year {
        return first;
    }
    if let Some(&(_, v)) = table.iter().find(|(y, _)| *y == year) {
        return v;
    }
    let mut v = last;
    for _ in last_year..year {
        v = v * 103 / 100;
    }
    v
}

/// January 1 of `year`.
pub(crate) fn jan1(year: i32) -> Date {
    Date::from_calendar_date(year, Month::January, 1).unwrap_or(Date::MIN)
}

/// December 31 of `year`.
pub(crate) fn dec31(year: i32) -> Date {
    Date::from_calendar_date(year, Month::December, 31).unwrap_or(Date::MAX)
}

/// The last day of the month `date` falls in.
pub(crate) fn month_end(date: Date) -> Date {
    date.replace_day(date.month().length(date.year()))
        .unwrap_or(date)
}

/// Day `day` of the given month, clamped to the month's length.
pub(crate) fn clamped_date(year: i32, month: Month, day: u8) -> Date {
    let day = day.min(month.length(year));
    Date::from_calendar_date(year, month, day).unwrap_or(Date::MIN)
}

/// `date` plus `days`.
pub(crate) fn add_days(date: Date, days: i64) -> Date {
    date.checked_add(Duration::days(days)).unwrap_or(date)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn eastern_offsets_follow_dst() {
        assert_eq!(us_eastern_offset(date!(2024 - 03 - 08)).whole_hours(), -5);
        assert_eq!(us_eastern_offset(date!(2024 - 03 - 15)).whole_hours(), -4);
        assert_eq!(us_eastern_offset(date!(2024 - 11 - 01)).whole_hours(), -4);
        assert_eq!(us_eastern_offset(date!(2024 - 11 - 08)).whole_hours(), -5);
    }

    #[test]
    fn loads_happen_on_friday_nights_after_processing() {
        let t = load_time(date!(2024 - 03 - 08), 12_345);
        assert_eq!(t.date(), date!(2024 - 03 - 15));
        assert!(t.hour() >= 1 && t.hour() <= 3);
        assert_eq!(t.offset().whole_hours(), -4);
        assert!(t.to_offset(UtcOffset::UTC).date() >= date!(2024 - 03 - 15));
        assert_eq!(load_time(date!(2019 - 06 - 01), 1), FALLBACK_LAST_UPDATED);
        assert!(load_time(date!(2019 - 12 - 31), 1) > datetime!(2020-01-01 0:00 UTC));
    }

    #[test]
    fn cost_sharing_tables() {
        assert_eq!(part_b_deductible(2024), 240);
        assert_eq!(part_a_deductible(2019), 1_364);
        assert_eq!(part_b_deductible(2027), 291);
        assert_eq!(part_b_deductible(2010), 183);
    }
}

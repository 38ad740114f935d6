//! The two kinds of time a summary ranges over: `meta.lastUpdated` (a FHIR
//! instant, compared as a point in time whatever its offset, shown in UTC)
//! and service dates (FHIR dates, possibly partial: `YYYY`, `YYYY-MM`).

use std::cmp::Ordering;

use serde::{Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// A FHIR instant (`meta.lastUpdated`): its point in time. Offsets differ
/// between resources (BFD writes each in its own), so instants are compared
/// as points and shown in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FhirInstant(OffsetDateTime);

impl FhirInstant {
    /// Parses a FHIR instant (RFC 3339: seconds and a zone are required).
    pub fn parse(text: &str) -> Option<Self> {
        OffsetDateTime::parse(text, &Rfc3339)
            .ok()
            .map(|t| Self(t.to_offset(UtcOffset::UTC)))
    }

    /// The UTC date, `YYYY-MM-DD`: what the text table shows.
    pub fn utc_date(&self) -> String {
        let format = format_description!("[year]-[month]-[day]");
        self.0.format(&format).unwrap_or_default()
    }

    /// `YYYY-MM-DDThh:mm:ss.mmmZ`: the instant in UTC to the millisecond
    /// (finer digits are dropped), what the JSON shows.
    pub fn utc_text(&self) -> String {
        let format = format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        self.0.format(&format).unwrap_or_default()
    }
}

impl Serialize for FhirInstant {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.utc_text())
    }
}

/// A FHIR date as written, to the year, month or day. A dateTime (a
/// Period's `start`) counts by its date as written, before its time and
/// zone. A partial date stands for the whole year or month: it sorts by
/// its first day as the start of a range and by its last day as the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FhirDate {
    year: u16,
    month: Option<u8>,
    day: Option<u8>,
}

impl FhirDate {
    /// Parses `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, or a dateTime by its date.
    pub fn parse(text: &str) -> Option<Self> {
        let date = text.split_once('T').map_or(text, |(date, _)| date);
        let mut parts = date.split('-');
        let year = number(parts.next()?, 4)?;
        let month = match parts.next() {
            Some(m) => Some(number(m, 2)?),
            None => None,
        };
        let day = match parts.next() {
            Some(d) => Some(number(d, 2)?),
            None => None,
        };
        if parts.next().is_some()
            || month.is_some_and(|m| !(1..=12).contains(&m))
            || day.is_some_and(|d| !(1..=31).contains(&d))
        {
            return None;
        }
        Some(Self {
            year,
            month: month.map(|m| m as u8),
            day: day.map(|d| d as u8),
        })
    }

    /// The earliest day it may stand for, then its precision (the coarser
    /// first, so ties order the same whichever is seen first).
    fn start_key(&self) -> (u16, u8, u8, u8) {
        (
            self.year,
            self.month.unwrap_or(1),
            self.day.unwrap_or(1),
            self.precision(),
        )
    }

    /// The latest day it may stand for, then its precision.
    fn end_key(&self) -> (u16, u8, u8, u8) {
        (
            self.year,
            self.month.unwrap_or(12),
            self.day.unwrap_or(31),
            self.precision(),
        )
    }

    fn precision(&self) -> u8 {
        u8::from(self.month.is_some()) + u8::from(self.day.is_some())
    }

    /// Whether `self` starts before `other` (as the first of a range).
    pub fn starts_before(&self, other: &Self) -> bool {
        self.start_key().cmp(&other.start_key()) == Ordering::Less
    }

    /// Whether `self` ends after `other` (as the last of a range).
    pub fn ends_after(&self, other: &Self) -> bool {
        self.end_key().cmp(&other.end_key()) == Ordering::Greater
    }
}

impl std::fmt::Display for FhirDate {
    /// As written, to its precision.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}", self.year)?;
        if let Some(month) = self.month {
            write!(f, "-{month:02}")?;
        }
        if let Some(day) = self.day {
            write!(f, "-{day:02}")?;
        }
        Ok(())
    }
}

impl Serialize for FhirDate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// `text` as a number when it is exactly `digits` ASCII digits.
fn number(text: &str, digits: usize) -> Option<u16> {
    (text.len() == digits && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// The first and last of a range: of instants, or of service dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Range<T> {
    /// The earliest.
    pub first: T,
    /// The latest.
    pub last: T,
}

impl Range<FhirInstant> {
    /// The range widened to take in `t`.
    pub fn widen(range: &mut Option<Self>, t: FhirInstant) {
        match range {
            None => *range = Some(Self { first: t, last: t }),
            Some(r) => {
                r.first = r.first.min(t);
                r.last = r.last.max(t);
            }
        }
    }

    /// Two ranges as one.
    pub fn union(a: Option<Self>, b: Option<Self>) -> Option<Self> {
        match (a, b) {
            (Some(a), Some(b)) => Some(Self {
                first: a.first.min(b.first),
                last: a.last.max(b.last),
            }),
            (a, b) => a.or(b),
        }
    }
}

impl Range<FhirDate> {
    /// The range widened to take in a span from `first` to `last`.
    pub fn widen(range: &mut Option<Self>, first: &FhirDate, last: &FhirDate) {
        match range {
            None => {
                *range = Some(Self {
                    first: first.clone(),
                    last: last.clone(),
                })
            }
            Some(r) => {
                if first.starts_before(&r.first) {
                    r.first = first.clone();
                }
                if last.ends_after(&r.last) {
                    r.last = last.clone();
                }
            }
        }
    }

    /// Two ranges as one.
    pub fn union(a: Option<Self>, b: Option<Self>) -> Option<Self> {
        match (a, b) {
            (Some(a), Some(b)) => {
                let mut range = Some(a);
                Self::widen(&mut range, &b.first, &b.last);
                range
            }
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_with_different_offsets_compare_as_points_in_time() {
        let new_york = FhirInstant::parse("2021-05-28T02:14:20.431-04:00").expect("instant");
        let utc = FhirInstant::parse("2021-05-28T05:00:00.000+00:00").expect("instant");
        // 02:14 in New York is 06:14 UTC: later than 05:00 UTC.
        assert!(new_york > utc);
        assert_eq!(new_york.utc_text(), "2021-05-28T06:14:20.431Z");
        assert_eq!(new_york.utc_date(), "2021-05-28");
        // Late evening west of UTC is the next day in UTC.
        let evening = FhirInstant::parse("2020-12-31T22:30:00-05:00").expect("instant");
        assert_eq!(evening.utc_date(), "2021-01-01");
        assert_eq!(evening.utc_text(), "2021-01-01T03:30:00.000Z");
        let mut range = None;
        Range::<FhirInstant>::widen(&mut range, new_york);
        Range::<FhirInstant>::widen(&mut range, utc);
        Range::<FhirInstant>::widen(&mut range, evening);
        let range = range.expect("range");
        assert_eq!((range.first, range.last), (evening, new_york));
    }

    #[test]
    fn an_instant_needs_seconds_and_a_zone() {
        for text in [
            "2021-05-28",
            "2021-05-28T02:14",
            "2021-05-28T02:14:20",
            "yesterday",
        ] {
            assert_eq!(FhirInstant::parse(text), None, "{text}");
        }
        assert!(FhirInstant::parse("2021-05-28T02:14:20Z").is_some());
    }

    #[test]
    fn partial_dates_stand_for_their_whole_year_or_month() {
        let date = |t| FhirDate::parse(t).expect(t);
        assert_eq!(date("2019").to_string(), "2019");
        assert_eq!(date("2019-03").to_string(), "2019-03");
        assert_eq!(date("2019-03-02").to_string(), "2019-03-02");
        assert_eq!(date("2019-03-02T10:00:00-05:00").to_string(), "2019-03-02");
        // As a start, 2019 is its first day; as an end, its last.
        assert!(date("2019").starts_before(&date("2019-01-02")));
        assert!(date("2019").ends_after(&date("2019-12-30")));
        assert!(date("2019-02").ends_after(&date("2019-02-28")));
        assert!(!date("2019-02").ends_after(&date("2019-03-01")));
        // Ties keep the coarser as the start and the finer as the end,
        // whichever came first.
        assert!(date("2019").starts_before(&date("2019-01-01")));
        assert!(!date("2019-01-01").starts_before(&date("2019")));
        assert!(date("2019-12-31").ends_after(&date("2019")));
        let mut range = None;
        Range::<FhirDate>::widen(&mut range, &date("2019-05"), &date("2019-05"));
        Range::<FhirDate>::widen(&mut range, &date("2019-04-30"), &date("2019-05-31"));
        Range::<FhirDate>::widen(&mut range, &date("2018"), &date("2018"));
        let range = range.expect("range");
        assert_eq!(
            (range.first.to_string(), range.last.to_string()),
            ("2018".into(), "2019-05-31".into())
        );
    }

    #[test]
    fn malformed_dates_are_refused() {
        for text in [
            "19",
            "2019-3",
            "2019-13",
            "2019-02-32",
            "2019-01-01-01",
            "",
            "abcd",
        ] {
            assert_eq!(FhirDate::parse(text), None, "{text}");
        }
    }

    #[test]
    fn the_union_of_ranges_does_not_depend_on_their_order() {
        let date = |t| FhirDate::parse(t).expect(t);
        let a = Some(Range {
            first: date("2019"),
            last: date("2019-06-01"),
        });
        let b = Some(Range {
            first: date("2019-01-01"),
            last: date("2020"),
        });
        let ab = Range::<FhirDate>::union(a.clone(), b.clone()).expect("range");
        let ba = Range::<FhirDate>::union(b, a).expect("range");
        assert_eq!(ab, ba);
        assert_eq!(
            (ab.first.to_string(), ab.last.to_string()),
            ("2019".into(), "2020".into())
        );
    }
}

//! HTTP-dates (RFC 9110 §5.6.7): `Last-Modified`, `Expires`, `If-Modified-Since` and
//! the date form of `If-Range`.

use time::format_description::FormatItem;
use time::macros::format_description;
use time::{Month, OffsetDateTime, PrimitiveDateTime, UtcOffset, Weekday};

/// The preferred form, IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
const IMF_FIXDATE: &[FormatItem<'static>] = format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);

/// ANSI C's `asctime()` form: `Sun Nov  6 08:49:37 1994`.
const ASCTIME: &[FormatItem<'static>] = format_description!(
    "[weekday repr:short] [month repr:short] [day padding:space] [hour]:[minute]:[second] [year]"
);

/// Formats an instant as an IMF-fixdate, truncated to the second.
pub fn format(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        weekday_name(t.weekday()),
        t.day(),
        month_name(t.month()),
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parses an HTTP-date in IMF-fixdate or asctime form. The obsolete RFC 850
/// form (two-digit years) is not accepted: a caller then ignores the header,
/// which for every header here means sending the whole file — always safe.
pub fn parse(value: &str) -> Option<OffsetDateTime> {
    let value = value.trim();
    [IMF_FIXDATE, ASCTIME]
        .into_iter()
        .find_map(|format| PrimitiveDateTime::parse(value, format).ok())
        .map(PrimitiveDateTime::assume_utc)
}

/// An instant as an HTTP-date can carry it: whole seconds.
pub fn truncate_to_seconds(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(0).unwrap_or(t)
}

fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Monday => "Mon",
        Weekday::Tuesday => "Tue",
        Weekday::Wednesday => "Wed",
        Weekday::Thursday => "Thu",
        Weekday::Friday => "Fri",
        Weekday::Saturday => "Sat",
        Weekday::Sunday => "Sun",
    }
}

fn month_name(month: Month) -> &'static str {
    match month {
        Month::January => "Jan",
        Month::February => "Feb",
        Month::March => "Mar",
        Month::April => "Apr",
        Month::May => "May",
        Month::June => "Jun",
        Month::July => "Jul",
        Month::August => "Aug",
        Month::September => "Sep",
        Month::October => "Oct",
        Month::November => "Nov",
        Month::December => "Dec",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn formats_imf_fixdate() {
        assert_eq!(
            format(datetime!(1994-11-06 08:49:37.999 UTC)),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(
            format(datetime!(2026-03-02 07:00:00 -5)),
            "Mon, 02 Mar 2026 12:00:00 GMT"
        );
    }

    #[test]
    fn parses_both_accepted_forms() {
        let expected = Some(datetime!(1994-11-06 08:49:37 UTC));
        assert_eq!(parse("Sun, 06 Nov 1994 08:49:37 GMT"), expected);
        assert_eq!(parse(" Sun, 06 Nov 1994 08:49:37 GMT "), expected);
        assert_eq!(parse("Sun Nov  6 08:49:37 1994"), expected);
    }

    #[test]
    fn rejects_other_text() {
        assert_eq!(parse("Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(parse("06 Nov 1994"), None);
        assert_eq!(parse("\"abc\""), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn round_trips() {
        let t = datetime!(2026-03-02 12:00:00.123 UTC);
        assert_eq!(parse(&format(t)), Some(truncate_to_seconds(t)));
    }
}

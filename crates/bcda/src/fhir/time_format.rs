//! FHIR's textual forms of a point in time, as BCDA writes them.

use time::OffsetDateTime;

/// Formats an instant as a FHIR `instant` in UTC with milliseconds
/// (`2020-02-20T17:00:00.000Z`).
pub fn fhir_instant(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Formats an instant as a FHIR `dateTime` to the second in UTC
/// (`2020-02-20T17:00:00Z`), the form BCDA uses in CapabilityStatements.
pub fn fhir_date_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn fhir_formats() {
        let t = datetime!(2020-02-20 12:00:00.5 -5);
        assert_eq!(fhir_instant(t), "2020-02-20T17:00:00.500Z");
        assert_eq!(fhir_date_time(t), "2020-02-20T17:00:00Z");
    }
}

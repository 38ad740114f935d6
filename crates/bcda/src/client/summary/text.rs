//! The summary as a table for people (ACO analysts):
//!
//! ```text
//! Summary of out: 5 files (3 gzip), 912.3 kB NDJSON, 81.2 kB stored
//!
//! Resource type          Count  lastUpdated (UTC)          Service dates
//! Patient                   50  2026-02-27 … 2026-03-01
//! ExplanationOfBenefit   2,055  2020-01-01 … 2026-03-01   2019-01-01 … 2026-02-28
//!   CARRIER              1,203
//!   PDE                    852
//!
//! Errors and warnings: 3 issues in 1 file
//!   error  3×  Error retrieving Coverage for beneficiary MBI <MBI> in ACO <ACO>
//! ```
//!
//! Counts have thousands separators, sizes decimal units; dates of
//! `meta.lastUpdated` are UTC, service dates as written.

use std::fmt::Write;

use super::{Range, Summary};

/// Renders `summary`; every line ends with a newline.
pub fn render(summary: &Summary) -> String {
    let mut out = String::new();
    header(&mut out, summary);
    out.push('\n');
    types(&mut out, summary);
    out.push('\n');
    issues(&mut out, summary);
    out
}

fn header(out: &mut String, summary: &Summary) {
    let files = &summary.files;
    let gzip = if files.gzip > 0 {
        format!(" ({} gzip)", thousands(files.gzip))
    } else {
        String::new()
    };
    let _ = write!(
        out,
        "Summary of {}: {}{gzip}, {} NDJSON",
        summary.directory,
        plural(files.count, "file"),
        bytes(files.ndjson_bytes),
    );
    if files.stored_bytes != files.ndjson_bytes {
        let _ = write!(out, ", {} stored", bytes(files.stored_bytes));
    }
    out.push('\n');
}

fn types(out: &mut String, summary: &Summary) {
    if summary.resources.is_empty() {
        out.push_str("No resources.\n");
        return;
    }
    const NAME: &str = "Resource type";
    const COUNT: &str = "Count";
    const UPDATED: &str = "lastUpdated (UTC)";
    // Rows: (name, count, lastUpdated, service dates).
    let mut rows: Vec<[String; 4]> = Vec::new();
    for t in &summary.resources {
        let updated = t
            .last_updated
            .as_ref()
            .map_or_else(|| "-".to_owned(), |r| range(r, |i| i.utc_date()));
        let claims = t.claims.as_ref();
        let service = claims
            .and_then(|c| c.service_dates.as_ref())
            .map_or_else(String::new, |r| range(r, ToString::to_string));
        rows.push([
            t.resource_type.clone(),
            thousands(t.count),
            updated,
            service,
        ]);
        for claim_type in claims.map_or(&[][..], |c| &c.claim_types[..]) {
            rows.push([
                format!("  {}", claim_type.code),
                thousands(claim_type.count),
                String::new(),
                String::new(),
            ]);
        }
    }
    let with_service = rows.iter().any(|r| !r[3].is_empty());
    let width = |i: usize, title: &str| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain([title.len()])
            .max()
            .unwrap_or(0)
    };
    let (name_w, count_w, updated_w) = (width(0, NAME), width(1, COUNT), width(2, UPDATED));
    let mut line = |cells: [&str; 4]| {
        let [name, count, updated, service] = cells;
        let mut text = format!("{name:<name_w$}  {count:>count_w$}  {updated:<updated_w$}");
        if with_service {
            let _ = write!(text, "  {service}");
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line([NAME, COUNT, UPDATED, "Service dates"]);
    for row in &rows {
        line([&row[0], &row[1], &row[2], &row[3]]);
    }
}

fn issues(out: &mut String, summary: &Summary) {
    let issues = &summary.issues;
    if issues.lines == 0 {
        out.push_str("No errors or warnings.\n");
        return;
    }
    let _ = writeln!(
        out,
        "Errors and warnings: {} in {}",
        plural(issues.issues, "issue"),
        plural(issues.files, "file"),
    );
    let severity_w = issues
        .messages
        .iter()
        .map(|m| m.severity.len())
        .max()
        .unwrap_or(0);
    let counts: Vec<String> = issues
        .messages
        .iter()
        .map(|m| format!("{}×", thousands(m.count)))
        .collect();
    let count_w = counts.iter().map(|c| c.chars().count()).max().unwrap_or(0);
    for (m, count) in issues.messages.iter().zip(&counts) {
        let _ = writeln!(
            out,
            "  {:<severity_w$}  {count:>count_w$}  {}",
            m.severity, m.message
        );
    }
    if issues.other > 0 {
        let _ = writeln!(
            out,
            "  and {} with other messages (more than {} distinct)",
            plural(issues.other, "issue"),
            thousands(super::MAX_MESSAGE_GROUPS as u64),
        );
    }
}

/// `first … last`, each shown by `show`.
fn range<T>(r: &Range<T>, show: impl Fn(&T) -> String) -> String {
    format!("{} … {}", show(&r.first), show(&r.last))
}

/// `1 file`, `2,055 files`.
fn plural(n: u64, noun: &str) -> String {
    let s = if n == 1 { "" } else { "s" };
    format!("{} {noun}{s}", thousands(n))
}

/// `n` with a comma every three digits: `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A size in decimal units to one decimal: `512 bytes`, `48.2 MB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if n < 1000 {
        return plural(n, "byte");
    }
    let mut value = n as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.95 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_sizes_read_easily() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(2_055), "2,055");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(bytes(1), "1 byte");
        assert_eq!(bytes(999), "999 bytes");
        assert_eq!(bytes(1_000), "1.0 kB");
        assert_eq!(bytes(48_200_000), "48.2 MB");
        assert_eq!(bytes(999_960), "1.0 MB");
        assert_eq!(bytes(3_500_000_000), "3.5 GB");
    }
}

//! The running counts of a summary: one `Tally` per file, added line by
//! line, merged across files (in any order: every merge is a sum, a union
//! of ranges or of counts, so the result does not depend on which thread
//! read which file first), and finally sorted into a [`Summary`].

use std::collections::HashMap;

use super::dates::{FhirDate, FhirInstant, Range};
use super::line::{Concept, Line, Period};
use super::mask::mask;
use super::{
    ClaimDetails, ClaimTypeCount, FileCounts, Issues, LineProblem, MessageGroup, Summary,
    TypeSummary,
};

/// The code system of an EOB's claim type (`CARRIER`, `INPATIENT`, `PDE`,
/// ...), which BFD and our generator put in `type.coding` of every
/// adjudicated EOB, v1 to v3.
pub const EOB_TYPE_SYSTEM: &str = "https://bluebutton.cms.gov/resources/codesystem/eob-type";

const EOB: &str = "ExplanationOfBenefit";
const OPERATION_OUTCOME: &str = "OperationOutcome";

/// How many distinct (severity, message) groups are kept; issues beyond
/// are counted, not shown. Masked messages collapse to a handful in
/// practice; the bound keeps memory flat whatever the files say.
pub const MAX_MESSAGE_GROUPS: usize = 1000;

/// The counts of one file, or of several merged.
#[derive(Debug, Default)]
pub struct Tally {
    /// By resource type: a list, as there are a handful (at most FHIR's
    /// ~150), which a linear search finds as fast as a hash.
    types: Vec<(String, TypeTally)>,
    issues: IssueTally,
}

#[derive(Debug, Default)]
struct TypeTally {
    count: u64,
    files: u64,
    ndjson_bytes: u64,
    last_updated: Option<Range<FhirInstant>>,
    service_dates: Option<Range<FhirDate>>,
    claim_types: HashMap<String, u64>,
}

#[derive(Debug, Default)]
struct IssueTally {
    files: u64,
    lines: u64,
    issues: u64,
    groups: HashMap<(String, String), u64>,
    ungrouped: u64,
}

impl Tally {
    /// Counts one line of `bytes` bytes (its newline included) of the file
    /// this tally is for.
    pub fn add(&mut self, line: &Line<'_>, bytes: u64) -> Result<(), LineProblem> {
        let resource_type = line
            .resource_type
            .as_ref()
            .ok_or(LineProblem::NoResourceType)?
            .as_str();
        if resource_type == OPERATION_OUTCOME {
            self.add_outcome(line);
            return Ok(());
        }
        let last_updated = match line.meta.as_ref().and_then(|m| m.last_updated.as_ref()) {
            Some(text) => Some(
                FhirInstant::parse(text.as_str())
                    .ok_or_else(|| LineProblem::BadInstant(text.as_str().to_owned()))?,
            ),
            None => None,
        };
        let entry = type_tally(&mut self.types, resource_type);
        // This tally is of one file: the type is in this one.
        entry.files = 1;
        entry.count += 1;
        entry.ndjson_bytes += bytes;
        if let Some(t) = last_updated {
            Range::<FhirInstant>::widen(&mut entry.last_updated, t);
        }
        if resource_type == EOB {
            count_claim_type(&mut entry.claim_types, line.kind.0.as_ref());
            add_service_dates(&mut entry.service_dates, line)?;
        }
        Ok(())
    }

    fn add_outcome(&mut self, line: &Line<'_>) {
        let issues = &mut self.issues;
        issues.files = 1;
        issues.lines += 1;
        for issue in &line.issue.0 {
            issues.issues += 1;
            let severity = issue.severity.as_ref().map_or("unknown", |s| s.as_str());
            let message = mask(issue.message().unwrap_or("(no message)"));
            issues.add_group((severity.to_owned(), message), 1);
        }
    }

    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: Tally) {
        for (name, theirs) in other.types {
            let ours = type_tally(&mut self.types, &name);
            ours.count += theirs.count;
            ours.files += theirs.files;
            ours.ndjson_bytes += theirs.ndjson_bytes;
            ours.last_updated =
                Range::<FhirInstant>::union(ours.last_updated.take(), theirs.last_updated);
            ours.service_dates =
                Range::<FhirDate>::union(ours.service_dates.take(), theirs.service_dates);
            for (code, n) in theirs.claim_types {
                *ours.claim_types.entry(code).or_default() += n;
            }
        }
        let issues = &mut self.issues;
        issues.files += other.issues.files;
        issues.lines += other.issues.lines;
        issues.issues += other.issues.issues;
        issues.ungrouped += other.issues.ungrouped;
        for (key, n) in other.issues.groups {
            issues.add_group(key, n);
        }
    }

    /// The summary of these counts over `files`.
    pub fn into_summary(self, directory: String, files: FileCounts) -> Summary {
        let mut resources: Vec<TypeSummary> = self
            .types
            .into_iter()
            .map(|(name, t)| {
                let claims = (name == EOB).then(|| ClaimDetails {
                    service_dates: t.service_dates,
                    claim_types: sorted_claim_types(t.claim_types),
                });
                TypeSummary {
                    resource_type: name,
                    count: t.count,
                    files: t.files,
                    ndjson_bytes: t.ndjson_bytes,
                    last_updated: t.last_updated,
                    claims,
                }
            })
            .collect();
        resources.sort_by(|a, b| {
            type_rank(&a.resource_type)
                .cmp(&type_rank(&b.resource_type))
                .then_with(|| a.resource_type.cmp(&b.resource_type))
        });
        let mut messages: Vec<MessageGroup> = self
            .issues
            .groups
            .into_iter()
            .map(|((severity, message), count)| MessageGroup {
                severity,
                count,
                message,
            })
            .collect();
        messages.sort_by(|a, b| {
            severity_rank(&a.severity)
                .cmp(&severity_rank(&b.severity))
                .then_with(|| a.severity.cmp(&b.severity))
                .then_with(|| b.count.cmp(&a.count))
                .then_with(|| a.message.cmp(&b.message))
        });
        Summary {
            directory,
            files,
            resources,
            issues: Issues {
                files: self.issues.files,
                lines: self.issues.lines,
                issues: self.issues.issues,
                messages,
                other: self.issues.ungrouped,
            },
        }
    }
}

/// The tally of `name` in `types`, added if new.
fn type_tally<'a>(types: &'a mut Vec<(String, TypeTally)>, name: &str) -> &'a mut TypeTally {
    let i = match types.iter().position(|(n, _)| n == name) {
        Some(i) => i,
        None => {
            types.push((name.to_owned(), TypeTally::default()));
            types.len() - 1
        }
    };
    &mut types[i].1
}

impl IssueTally {
    fn add_group(&mut self, key: (String, String), n: u64) {
        if let Some(count) = self.groups.get_mut(&key) {
            *count += n;
        } else if self.groups.len() < MAX_MESSAGE_GROUPS {
            self.groups.insert(key, n);
        } else {
            self.ungrouped += n;
        }
    }
}

/// The claim type of an EOB: the `eob-type` coding's code, else the first
/// coding's (v3's partially adjudicated EOBs carry only the FHIR claim
/// type: `institutional`, `professional`), else `unknown`.
fn count_claim_type(counts: &mut HashMap<String, u64>, kind: Option<&Concept<'_>>) {
    let codings = kind.map_or(&[][..], |k| &k.coding[..]);
    let code = codings
        .iter()
        .find(|c| {
            c.system
                .as_ref()
                .is_some_and(|s| s.as_str() == EOB_TYPE_SYSTEM)
        })
        .or(codings.first())
        .and_then(|c| c.code.as_ref())
        .map_or("unknown", |c| c.as_str());
    match counts.get_mut(code) {
        Some(n) => *n += 1,
        None => {
            counts.insert(code.to_owned(), 1);
        }
    }
}

/// Widens `range` by an EOB's service dates: its `billablePeriod`, else
/// its items' `servicedDate` and `servicedPeriod`.
fn add_service_dates(
    range: &mut Option<Range<FhirDate>>,
    line: &Line<'_>,
) -> Result<(), LineProblem> {
    if let Some(period) = &line.billable_period.0
        && add_period(range, period)?
    {
        return Ok(());
    }
    for item in &line.item.0 {
        if let Some(date) = &item.serviced_date {
            let date = service_date(date.as_str())?;
            Range::<FhirDate>::widen(range, &date, &date);
        }
        if let Some(period) = &item.serviced_period {
            add_period(range, period)?;
        }
    }
    Ok(())
}

/// Widens `range` by `period` (one end standing for both when the other
/// is missing); whether it had a date.
fn add_period(
    range: &mut Option<Range<FhirDate>>,
    period: &Period<'_>,
) -> Result<bool, LineProblem> {
    let start = period
        .start
        .as_ref()
        .map(|s| service_date(s.as_str()))
        .transpose()?;
    let end = period
        .end
        .as_ref()
        .map(|e| service_date(e.as_str()))
        .transpose()?;
    let (Some(first), Some(last)) = (
        start.as_ref().or(end.as_ref()),
        end.as_ref().or(start.as_ref()),
    ) else {
        return Ok(false);
    };
    Range::<FhirDate>::widen(range, first, last);
    Ok(true)
}

fn service_date(text: &str) -> Result<FhirDate, LineProblem> {
    FhirDate::parse(text).ok_or_else(|| LineProblem::BadDate(text.to_owned()))
}

fn sorted_claim_types(counts: HashMap<String, u64>) -> Vec<ClaimTypeCount> {
    let mut types: Vec<ClaimTypeCount> = counts
        .into_iter()
        .map(|(code, count)| ClaimTypeCount { code, count })
        .collect();
    types.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.code.cmp(&b.code)));
    types
}

/// BCDA's types in the order of its docs, then any other alphabetically.
fn type_rank(name: &str) -> usize {
    ["Patient", "Coverage", EOB, "Claim", "ClaimResponse"]
        .iter()
        .position(|t| *t == name)
        .unwrap_or(usize::MAX)
}

fn severity_rank(severity: &str) -> usize {
    ["fatal", "error", "warning", "information"]
        .iter()
        .position(|s| *s == severity)
        .unwrap_or(usize::MAX)
}

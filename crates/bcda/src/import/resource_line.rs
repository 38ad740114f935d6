//! One line of a FHIR NDJSON resource file: the checks that need only the
//! line, and what the store keeps of it (see [`super::resources`] for what
//! is read and why). The checks that need the database (finding the
//! beneficiary) are left to the writer as a [`Link`].

use std::path::Path;

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::ImportError;
use crate::domain::eob_facts::{FINAL_ACTION_SYSTEM, SYSTEM_TYPE_SYSTEM};
use crate::domain::part2::{PART2_SECURITY_CODE, is_part2_diagnosis, is_part2_drg};
use crate::domain::{ApiVersion, ClaimOutcome, EobFacts, FinalAction, ResourceType, SystemType};
use crate::store::resources::NewResource;

/// The MBI identifier system.
const MBI_SYSTEM: &str = "http://hl7.org/fhir/sid/us-mbi";

/// The parts of a resource the importer reads; everything else is kept as
/// bytes. Deserializing still checks the whole line is valid JSON.
#[derive(Debug, Deserialize)]
struct Head<'a> {
    #[serde(rename = "resourceType", borrow)]
    resource_type: Option<&'a str>,
    #[serde(borrow)]
    id: Option<&'a str>,
    #[serde(borrow)]
    meta: Option<Meta<'a>>,
    #[serde(default, borrow)]
    identifier: Vec<Identifier<'a>>,
    #[serde(borrow)]
    beneficiary: Option<Reference<'a>>,
    #[serde(borrow)]
    patient: Option<Reference<'a>>,
    #[serde(rename = "billablePeriod", borrow)]
    billable_period: Option<Period<'a>>,
    /// Claim / ClaimResponse: the contained Patient the `patient` reference
    /// points to.
    #[serde(default, borrow)]
    contained: Vec<Contained<'a>>,
    #[serde(default, borrow)]
    diagnosis: Vec<Diagnosis<'a>>,
    /// R4 ExplanationOfBenefit and Claim: where the DRG is.
    #[serde(rename = "supportingInfo", default, borrow)]
    supporting_info: Vec<Information<'a>>,
    /// STU3 ExplanationOfBenefit: where the DRG is.
    #[serde(default, borrow)]
    information: Vec<Information<'a>>,
    /// API v3 ExplanationOfBenefit: `complete`, or `partial` for a
    /// partially adjudicated claim.
    #[serde(borrow)]
    outcome: Option<std::borrow::Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
struct Contained<'a> {
    #[serde(rename = "resourceType", borrow)]
    resource_type: Option<&'a str>,
    #[serde(borrow)]
    id: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    identifier: Vec<Identifier<'a>>,
}

#[derive(Debug, Deserialize)]
struct Diagnosis<'a> {
    #[serde(rename = "diagnosisCodeableConcept", borrow)]
    concept: Option<Concept<'a>>,
    /// Where early BFD STU3 EOBs put the DRG.
    #[serde(rename = "packageCode", borrow)]
    package_code: Option<Concept<'a>>,
}

#[derive(Debug, Deserialize)]
struct Information<'a> {
    #[serde(borrow)]
    code: Option<Concept<'a>>,
}

#[derive(Debug, Default, Deserialize)]
struct Concept<'a> {
    #[serde(default, borrow)]
    coding: Vec<Coding<'a>>,
}

#[derive(Debug, Deserialize)]
struct Coding<'a> {
    #[serde(borrow)]
    system: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    code: Option<std::borrow::Cow<'a, str>>,
}

impl Coding<'_> {
    /// A DRG coding (BFD's `.../variables/clm_drg_cd` system).
    fn is_drg(&self) -> bool {
        self.system
            .as_deref()
            .is_some_and(|s| s.ends_with("/clm_drg_cd"))
    }
}

#[derive(Debug, Deserialize)]
struct Period<'a> {
    #[serde(borrow)]
    end: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
struct Meta<'a> {
    #[serde(rename = "lastUpdated", borrow)]
    last_updated: Option<&'a str>,
    #[serde(default, borrow)]
    security: Vec<Coding<'a>>,
    /// API v3 ExplanationOfBenefit: the System-Type and Final-Action tags.
    #[serde(default, borrow)]
    tag: Vec<Coding<'a>>,
}

#[derive(Debug, Deserialize)]
struct Identifier<'a> {
    /// A `Cow`: JSON escapes in a string cannot be borrowed.
    #[serde(borrow)]
    system: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    value: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    extension: Vec<serde_json::Value>,
    #[serde(rename = "type")]
    identifier_type: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct Reference<'a> {
    #[serde(borrow)]
    reference: Option<std::borrow::Cow<'a, str>>,
    /// A logical reference (an MBI identifier).
    #[serde(borrow)]
    identifier: Option<Identifier<'a>>,
}

/// Why an API v3 ExplanationOfBenefit's tags or outcome cannot be read:
/// the field, and what is wrong (never the line's content).
type FactsError = (&'static str, String);

impl Head<'_> {
    /// An API v3 ExplanationOfBenefit's tags and outcome: exactly one
    /// System-Type tag and one Final-Action tag with known codes, and an
    /// outcome of `complete` or `partial`.
    fn eob_facts(&self) -> Result<EobFacts, FactsError> {
        let tags = self.meta.as_ref().map_or(&[][..], |m| &m.tag[..]);
        let system_type = one_tag(tags, SYSTEM_TYPE_SYSTEM, "System-Type")?;
        let system_type = SystemType::parse(system_type).ok_or_else(|| {
            (
                "meta.tag",
                "the System-Type tag's code is not NationalClaimsHistory, DDPS or SharedSystem"
                    .to_owned(),
            )
        })?;
        let final_action = one_tag(tags, FINAL_ACTION_SYSTEM, "Final-Action")?;
        let final_action = FinalAction::parse(final_action).ok_or_else(|| {
            (
                "meta.tag",
                "the Final-Action tag's code is not FinalAction or NotFinalAction".to_owned(),
            )
        })?;
        let outcome = self
            .outcome
            .as_deref()
            .ok_or(("outcome", "missing".to_owned()))?;
        let outcome = ClaimOutcome::parse(outcome).ok_or_else(|| {
            (
                "outcome",
                "not complete or partial (the outcomes API v3 exports)".to_owned(),
            )
        })?;
        Ok(EobFacts {
            system_type,
            final_action,
            outcome,
        })
    }

    /// Whether the resource is a 42 CFR Part 2 claim by its own content: a
    /// substance use disorder diagnosis or DRG, or BFD's security label.
    /// (A ClaimResponse has neither diagnoses nor DRG: its Claim decides
    /// too, in the store.)
    fn is_part2(&self) -> bool {
        let labelled = self.meta.as_ref().is_some_and(|m| {
            m.security
                .iter()
                .any(|c| c.code.as_deref() == Some(PART2_SECURITY_CODE))
        });
        let diagnosed = self
            .diagnosis
            .iter()
            .filter_map(|d| d.concept.as_ref())
            .flat_map(|c| &c.coding)
            .filter_map(|c| c.code.as_deref())
            .any(is_part2_diagnosis);
        let drg = self
            .supporting_info
            .iter()
            .chain(&self.information)
            .filter_map(|i| i.code.as_ref())
            .chain(
                self.diagnosis
                    .iter()
                    .filter_map(|d| d.package_code.as_ref()),
            )
            .flat_map(|c| &c.coding)
            .filter(|c| c.is_drg())
            .filter_map(|c| c.code.as_deref())
            .any(is_part2_drg);
        labelled || diagnosed || drg
    }

    /// The current MBI of the patient a Claim or ClaimResponse is about:
    /// from the contained Patient its `patient` reference points to, or an
    /// MBI identifier on the reference itself.
    fn patient_mbi(&self) -> Option<&str> {
        let patient = self.patient.as_ref()?;
        if let Some(identifier) = patient
            .identifier
            .as_ref()
            .filter(|i| i.system.as_deref() == Some(MBI_SYSTEM) && !i.is_historic())
        {
            return identifier.value.as_deref();
        }
        let local = patient.reference.as_deref()?.strip_prefix('#')?;
        self.contained
            .iter()
            .find(|c| c.resource_type == Some("Patient") && c.id.as_deref() == Some(local))?
            .identifier
            .iter()
            .filter(|i| i.system.as_deref() == Some(MBI_SYSTEM) && !i.is_historic())
            .find_map(|i| i.value.as_deref())
    }
}

/// The code of the one tag of `system` (`name` in messages).
fn one_tag<'t>(tags: &'t [Coding<'_>], system: &str, name: &str) -> Result<&'t str, FactsError> {
    let mut of_system = tags.iter().filter(|c| c.system.as_deref() == Some(system));
    let tag = of_system.next().ok_or_else(|| {
        (
            "meta.tag",
            format!("an API v3 ExplanationOfBenefit needs a {name} tag ({system})"),
        )
    })?;
    if of_system.next().is_some() {
        return Err(("meta.tag", format!("more than one {name} tag")));
    }
    tag.code
        .as_deref()
        .ok_or_else(|| ("meta.tag", format!("the {name} tag has no code")))
}

impl Identifier<'_> {
    /// BFD marks old MBIs `historic` with an identifier-currency extension
    /// (on the identifier in STU3, on its type coding in R4).
    fn is_historic(&self) -> bool {
        let mentions_historic = |v: &serde_json::Value| v.to_string().contains("\"historic\"");
        self.extension.iter().any(mentions_historic)
            || self.identifier_type.as_ref().is_some_and(mentions_historic)
    }
}

/// How a line's resource finds its beneficiary: the part of the line's
/// checks that needs the database, done by the writer in line order.
#[derive(Debug)]
pub(super) enum Link {
    /// A Patient: records its (MBI, id) pair.
    Patient {
        /// The current MBI (already checked to be a valid one).
        mbi: String,
    },
    /// A `Patient/<id>` reference (Coverage, ExplanationOfBenefit, or a
    /// Claim or ClaimResponse that has one).
    Reference {
        /// The field it was read from, for messages.
        field: &'static str,
        /// The reference as written (`Patient/<id>`, the id a valid FHIR id).
        reference: String,
    },
    /// A Claim or ClaimResponse: the MBI of its patient.
    Mbi(String),
}

impl Link {
    /// The Patient id of a [`Link::Reference`].
    pub(super) fn patient_id(reference: &str) -> &str {
        reference.strip_prefix("Patient/").unwrap_or(reference)
    }
}

/// One line checked as far as it can be without the database.
#[derive(Debug)]
pub(super) struct ParsedLine {
    /// 1-based line number.
    pub number: u64,
    /// How to find the beneficiary.
    pub link: Link,
    /// The row to store (its `beneficiary_id` not yet set), or the error
    /// of a check the line fails after the beneficiary lookup: reported
    /// only if the lookup succeeds, so a bad line gets the same message as
    /// when each check ran in turn.
    pub resource: Result<NewResource, ImportError>,
}

/// Checks one non-blank line of a `version` file and reads what the store
/// keeps of it. An error here is the line's first failing check.
pub(super) fn parse_line(
    path: &Path,
    version: ApiVersion,
    number: u64,
    bytes: &[u8],
) -> Result<ParsedLine, ImportError> {
    let fail =
        |field: Option<&str>, message: String| ImportError::line(path, number, field, message);
    let head: Head<'_> =
        serde_json::from_slice(bytes).map_err(|e| fail(None, format!("invalid JSON: {e}")))?;
    let type_name = head
        .resource_type
        .ok_or_else(|| fail(Some("resourceType"), "missing".to_owned()))?;
    let resource_type = ResourceType::parse(type_name).ok_or_else(|| {
        fail(
            Some("resourceType"),
            format!(
                "{type_name:?} is not Patient, Coverage, ExplanationOfBenefit, Claim or ClaimResponse"
            ),
        )
    })?;
    if !ResourceType::of_version(version).contains(&resource_type) {
        // Partially adjudicated claims are Claims and ClaimResponses in
        // API v2 (FHIR R4) only; v3 has them as ExplanationOfBenefits.
        let v3 = if version == ApiVersion::V3 {
            " (r4-v3 has partially adjudicated claims as ExplanationOfBenefits tagged SharedSystem)"
        } else {
            ""
        };
        return Err(fail(
            Some("resourceType"),
            format!(
                "{type_name} is a v2 (FHIR R4) resource only; import it with --fhir-version r4{v3}"
            ),
        ));
    }
    let id = head
        .id
        .ok_or_else(|| fail(Some("id"), "missing".to_owned()))?;
    if !is_fhir_id(id) {
        return Err(fail(Some("id"), format!("{id:?} is not a valid FHIR id")));
    }
    let last_updated = head
        .meta
        .as_ref()
        .and_then(|m| m.last_updated)
        .ok_or_else(|| fail(Some("meta.lastUpdated"), "missing".to_owned()))?;
    let last_updated = OffsetDateTime::parse(last_updated, &Rfc3339).map_err(|_| {
        fail(
            Some("meta.lastUpdated"),
            format!("{last_updated:?} is not a FHIR instant with a time zone"),
        )
    })?;
    let link = match resource_type {
        ResourceType::Patient => {
            let mbi = head
                .identifier
                .iter()
                .filter(|i| i.system.as_deref() == Some(MBI_SYSTEM) && !i.is_historic())
                .find_map(|i| i.value.as_deref())
                .ok_or_else(|| {
                    fail(
                        Some("identifier"),
                        format!("Patient {id} has no current MBI identifier ({MBI_SYSTEM})"),
                    )
                })?;
            if !crate::formats::mbi::is_valid_mbi(mbi) {
                return Err(fail(
                    Some("identifier"),
                    format!("{mbi:?} is not a valid MBI"),
                ));
            }
            Link::Patient {
                mbi: mbi.to_owned(),
            }
        }
        // Partially adjudicated claims come keyed by MBI.
        ResourceType::Claim | ResourceType::ClaimResponse
            if !head
                .patient
                .as_ref()
                .and_then(|p| p.reference.as_deref())
                .is_some_and(|r| r.starts_with("Patient/")) =>
        {
            let mbi = head.patient_mbi().ok_or_else(|| {
                fail(
                    Some("patient"),
                    format!(
                        "{type_name} {id} names no patient MBI ({MBI_SYSTEM}) in a contained Patient or its patient reference"
                    ),
                )
            })?;
            Link::Mbi(mbi.to_owned())
        }
        ResourceType::Coverage
        | ResourceType::ExplanationOfBenefit
        | ResourceType::Claim
        | ResourceType::ClaimResponse => {
            let (field, reference) = if resource_type == ResourceType::Coverage {
                ("beneficiary.reference", head.beneficiary.as_ref())
            } else {
                ("patient.reference", head.patient.as_ref())
            };
            let reference = reference
                .and_then(|r| r.reference.as_deref())
                .ok_or_else(|| fail(Some(field), "missing".to_owned()))?;
            if !reference.strip_prefix("Patient/").is_some_and(is_fhir_id) {
                return Err(fail(
                    Some(field),
                    format!("{reference:?} is not a Patient/<id> reference"),
                ));
            }
            Link::Reference {
                field,
                reference: reference.to_owned(),
            }
        }
    };
    let resource = (|| {
        // What API v3's `_typeFilter` selects on.
        let eob_facts = match (version, resource_type) {
            (ApiVersion::V3, ResourceType::ExplanationOfBenefit) => Some(
                head.eob_facts()
                    .map_err(|(field, message)| fail(Some(field), message))?,
            ),
            _ => None,
        };
        // A claim's service end, for Group/runout's claims-through cap (a
        // ClaimResponse takes its Claim's in the store).
        let service_end = match (
            resource_type,
            head.billable_period.as_ref().and_then(|p| p.end),
        ) {
            (ResourceType::ExplanationOfBenefit | ResourceType::Claim, Some(end)) => {
                Some(period_end_date(end).ok_or_else(|| {
                    fail(
                        Some("billablePeriod.end"),
                        format!("{end:?} is not a FHIR dateTime"),
                    )
                })?)
            }
            _ => None,
        };
        Ok(NewResource {
            // Set by the writer once the beneficiary is found.
            beneficiary_id: 0,
            version,
            resource_type,
            resource_id: id.to_owned(),
            last_updated,
            service_end,
            samhsa: match resource_type {
                ResourceType::Patient | ResourceType::Coverage => false,
                ResourceType::ExplanationOfBenefit
                | ResourceType::Claim
                | ResourceType::ClaimResponse => head.is_part2(),
            },
            eob_facts,
            body: bytes.to_vec(),
        })
    })();
    Ok(ParsedLine {
        number,
        link,
        resource,
    })
}

/// Whether the first line of a file is a Patient (for
/// [`super::resources::patient_files_first`]).
pub(super) fn is_patient_line(line: &[u8]) -> bool {
    serde_json::from_slice::<Head<'_>>(line.trim_ascii())
        .is_ok_and(|h| h.resource_type == Some("Patient"))
}

/// FHIR `id`: 1 to 64 of `A-Z a-z 0-9 - .`.
fn is_fhir_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// The last day a FHIR `dateTime` period end covers: the date itself, or
/// for a partial one (`2025`, `2025-06`) the last day of that year or month.
fn period_end_date(end: &str) -> Option<time::Date> {
    let year = |y: &str| y.parse::<i32>().ok().filter(|_| y.len() == 4);
    match end.len() {
        4 => time::Date::from_calendar_date(year(end)?, time::Month::December, 31).ok(),
        7 => {
            let month = time::Month::try_from(end.get(5..7)?.parse::<u8>().ok()?).ok()?;
            let first = time::Date::from_calendar_date(year(end.get(..4)?)?, month, 1).ok()?;
            Some(first.replace_day(first.month().length(first.year())).ok()?)
        }
        _ => crate::config::parse_date(end.get(..10)?).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_ends_of_every_precision() {
        use time::macros::date;
        assert_eq!(period_end_date("2025-12-31"), Some(date!(2025 - 12 - 31)));
        assert_eq!(
            period_end_date("2025-06-30T10:00:00Z"),
            Some(date!(2025 - 06 - 30))
        );
        assert_eq!(period_end_date("2024-02"), Some(date!(2024 - 02 - 29)));
        assert_eq!(period_end_date("2025"), Some(date!(2025 - 12 - 31)));
        for bad in ["2025-02-30", "2025-13", "25", "soon", "", "2025-1"] {
            assert_eq!(period_end_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn part2_claims_by_diagnosis_drg_or_label() {
        let head = |json: &str| {
            serde_json::from_str::<Head<'_>>(json)
                .expect("json")
                .is_part2()
        };
        for json in [
            r#"{"diagnosis":[{"diagnosisCodeableConcept":{"coding":[{"code":"I10"},{"code":"F11.20"}]}}]}"#,
            r#"{"supportingInfo":[{"code":{"coding":[{"system":"https://bluebutton.cms.gov/resources/variables/clm_drg_cd","code":"896"}]}}]}"#,
            r#"{"information":[{"code":{"coding":[{"system":"https://bluebutton.cms.gov/resources/variables/clm_drg_cd","code":"897"}]}}]}"#,
            r#"{"diagnosis":[{"packageCode":{"coding":[{"system":"https://bluebutton.cms.gov/resources/variables/clm_drg_cd","code":"895"}]}}]}"#,
            r#"{"meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"42CFRPart2"}]}}"#,
        ] {
            assert!(head(json), "{json}");
        }
        for json in [
            r#"{"diagnosis":[{"diagnosisCodeableConcept":{"coding":[{"code":"F1720"}]}}]}"#,
            // A DRG number outside a DRG coding is not a DRG.
            r#"{"supportingInfo":[{"code":{"coding":[{"system":"other","code":"896"}]}}]}"#,
            r#"{"meta":{"security":[{"code":"N"}]}}"#,
            "{}",
        ] {
            assert!(!head(json), "{json}");
        }
    }

    #[test]
    fn claims_name_their_patient_by_mbi() {
        let mbi = |json: &str| {
            serde_json::from_str::<Head<'_>>(json)
                .expect("json")
                .patient_mbi()
                .map(str::to_owned)
        };
        let contained = r##"{"contained":[{"resourceType":"Organization","id":"patient"},{"resourceType":"Patient","id":"patient","identifier":[{"system":"http://hl7.org/fhir/sid/us-mbi","value":"1S00A00AA00"}]}],"patient":{"reference":"#patient"}}"##;
        assert_eq!(mbi(contained).as_deref(), Some("1S00A00AA00"));
        let logical = r#"{"patient":{"identifier":{"system":"http://hl7.org/fhir/sid/us-mbi","value":"1S00A00AA01"}}}"#;
        assert_eq!(mbi(logical).as_deref(), Some("1S00A00AA01"));
        let dangling = r##"{"contained":[],"patient":{"reference":"#patient"}}"##;
        assert_eq!(mbi(dangling), None);
    }

    #[test]
    fn fhir_ids() {
        assert!(is_fhir_id("carrier--10000000001234"));
        assert!(is_fhir_id("-10000000000001"));
        assert!(!is_fhir_id(""));
        assert!(!is_fhir_id("a/b"));
        assert!(!is_fhir_id(&"x".repeat(65)));
    }
}

//! OperationOutcome, in the three shapes BCDA sends (docs/REFERENCES.md,
//! "OperationOutcome shapes").

use serde::Serialize;

use crate::domain::ApiVersion;

/// The FHIR issue type codes the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IssueType {
    /// Malformed request (400).
    Structure,
    /// Not allowed (401, 403).
    Forbidden,
    /// Nothing there (404, 410).
    NotFound,
    /// Too many requests (429).
    Throttled,
    /// Method not supported (405).
    NotSupported,
    /// Server-side failure (5xx).
    Exception,
    /// A processing failure inside an export (error files).
    Processing,
}

/// An OperationOutcome with a single issue.
#[derive(Debug, Clone, Serialize)]
pub struct OperationOutcome {
    #[serde(rename = "resourceType")]
    resource_type: &'static str,
    issue: [Issue; 1],
}

#[derive(Debug, Clone, Serialize)]
struct Issue {
    severity: &'static str,
    code: IssueType,
    #[serde(skip_serializing_if = "Option::is_none")]
    diagnostics: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<Details>,
}

#[derive(Debug, Clone, Serialize)]
struct Details {
    #[serde(skip_serializing_if = "Option::is_none")]
    coding: Option<[Coding; 1]>,
    text: String,
}

#[derive(Debug, Clone, Serialize)]
struct Coding {
    system: &'static str,
    code: &'static str,
    display: String,
}

impl OperationOutcome {
    /// An error outcome in the shape of `version`: v1 carries the message in
    /// `diagnostics`; v2 adds BCDA's `details` (a constant "Request Error"
    /// coding plus the message); v3 adds `details` with the message as its
    /// text only. An empty message is left out, as BCDA does.
    pub fn error(version: ApiVersion, code: IssueType, message: &str) -> Self {
        let diagnostics = (!message.is_empty()).then(|| message.to_owned());
        let details = match version {
            ApiVersion::V1 => None,
            ApiVersion::V2 => diagnostics.as_ref().map(|text| Details {
                coding: Some([Coding {
                    system: "http://hl7.org/fhir/ValueSet/operation-outcome",
                    code: "Request Error",
                    display: text.clone(),
                }]),
                text: text.clone(),
            }),
            ApiVersion::V3 => diagnostics.as_ref().map(|text| Details {
                coding: None,
                text: text.clone(),
            }),
        };
        Self {
            resource_type: "OperationOutcome",
            issue: [Issue {
                severity: "error",
                code,
                diagnostics,
                details,
            }],
        }
    }
}

impl OperationOutcome {
    /// A warning about how an export was processed, as BCDA writes it into
    /// an export's `warnings-and-info` file: the message in `details.text`
    /// only.
    pub fn processing_warning(message: &str) -> Self {
        Self {
            resource_type: "OperationOutcome",
            issue: [Issue {
                severity: "warning",
                code: IssueType::Processing,
                diagnostics: None,
                details: Some(Details {
                    coding: None,
                    text: message.to_owned(),
                }),
            }],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_of_each_version() {
        let v1 = serde_json::to_string(&OperationOutcome::error(
            ApiVersion::V1,
            IssueType::Structure,
            "Invalid group ID",
        ))
        .expect("json");
        assert_eq!(
            v1,
            r#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"structure","diagnostics":"Invalid group ID"}]}"#
        );
        let v2 = serde_json::to_string(&OperationOutcome::error(
            ApiVersion::V2,
            IssueType::Structure,
            "Invalid group ID",
        ))
        .expect("json");
        assert_eq!(
            v2,
            r#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"structure","diagnostics":"Invalid group ID","details":{"coding":[{"system":"http://hl7.org/fhir/ValueSet/operation-outcome","code":"Request Error","display":"Invalid group ID"}],"text":"Invalid group ID"}}]}"#
        );
        let v3 = serde_json::to_string(&OperationOutcome::error(
            ApiVersion::V3,
            IssueType::Forbidden,
            "Invalid Token",
        ))
        .expect("json");
        assert_eq!(
            v3,
            r#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"forbidden","diagnostics":"Invalid Token","details":{"text":"Invalid Token"}}]}"#
        );
    }

    #[test]
    fn processing_warnings_carry_details_text_only() {
        let line = serde_json::to_string(&OperationOutcome::processing_warning(
            "Default System-Type behavior includes only claims from NCH and DDPS in this export.",
        ))
        .expect("json");
        assert_eq!(
            line,
            r#"{"resourceType":"OperationOutcome","issue":[{"severity":"warning","code":"processing","details":{"text":"Default System-Type behavior includes only claims from NCH and DDPS in this export."}}]}"#
        );
    }
}

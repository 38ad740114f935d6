//! The CapabilityStatements of `/api/v1/metadata` (STU3) and
//! `/api/v2/metadata` (R4).

use crate::domain::{ApiVersion, ResourceType};
use crate::fhir::time_format::fhir_date_time;
use serde_json::{Value, json};
use time::OffsetDateTime;

const BULK_DATA_CAPABILITY: &str = "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data";
const PATIENT_EXPORT: &str = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export";
const GROUP_EXPORT: &str = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export";

const DESCRIPTION: &str = "The Beneficiary Claims Data API (BCDA) enables Accountable Care Organizations (ACOs) \
participating in the Shared Savings Program to retrieve Medicare Part A, Part B, and Part D claims data for their \
prospectively assigned or assignable beneficiaries, as FHIR bulk exports (Patient, Coverage and \
ExplanationOfBenefit resources in NDJSON files).";

/// What v2 adds to [`DESCRIPTION`].
const PARTIALLY_ADJUDICATED_NOTE: &str = " ACOs entitled to partially adjudicated claims (claims from the \
Fiscal Intermediary Shared System and the Multi-Carrier System, days to weeks before they are final) also get \
them as Claim and ClaimResponse resources.";

/// How each type a v2 export may hold is documented in `rest.resource`.
fn exported_type_documentation(resource_type: ResourceType) -> &'static str {
    match resource_type {
        ResourceType::Patient => "Exported by $export: one per beneficiary.",
        ResourceType::Coverage => {
            "Exported by $export: the beneficiary's Part A, B and D coverage."
        }
        ResourceType::ExplanationOfBenefit => {
            "Exported by $export: adjudicated claims (Part A, Part B and Part D events)."
        }
        ResourceType::Claim => {
            "Exported by $export to ACOs entitled to partially adjudicated claims: FISS and MCS \
             claims not yet final."
        }
        ResourceType::ClaimResponse => {
            "Exported by $export to ACOs entitled to partially adjudicated claims: the \
             adjudication status of each partially adjudicated Claim (same id)."
        }
    }
}

/// What varies between two renderings of the same statement.
#[derive(Debug, Clone)]
pub struct CapabilityContext<'a> {
    /// The server's base URL as the client reached it (no trailing slash).
    pub base_url: &'a str,
    /// The statement's `date`: the time of the request (app clock).
    pub now: OffsetDateTime,
    /// When this server started (the software's release date, as far as a
    /// client can tell).
    pub started_at: OffsetDateTime,
    /// `software.version`: this build's version ([`crate::VERSION`] when served).
    pub version: &'a str,
}

/// The CapabilityStatement for `version`.
pub fn capability_statement(version: ApiVersion, ctx: &CapabilityContext<'_>) -> Value {
    let security = json!({
        "cors": true,
        "service": [{
            "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                "code": "OAuth",
                "display": "OAuth"
            }],
            "text": "OAuth"
        }],
        "extension": [{
            "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
            "extension": [{ "url": "token", "valueUri": format!("{}/auth/token", ctx.base_url) }]
        }]
    });
    let interaction = json!([{ "code": "batch" }, { "code": "search-system" }]);
    let mut statement = json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": fhir_date_time(ctx.now),
        "publisher": "Centers for Medicare & Medicaid Services",
        "kind": "instance",
        "instantiates": [BULK_DATA_CAPABILITY],
        "software": {
            "name": "Beneficiary Claims Data API",
            "version": ctx.version,
            "releaseDate": fhir_date_time(ctx.started_at)
        },
        "implementation": {
            "description": match version {
                ApiVersion::V1 => DESCRIPTION.to_owned(),
                ApiVersion::V2 => format!("{DESCRIPTION}{PARTIALLY_ADJUDICATED_NOTE}"),
            },
            "url": ctx.base_url
        },
        "fhirVersion": version.fhir_version(),
        "format": ["application/json", "application/fhir+json"],
    });
    let fields = statement
        .as_object_mut()
        .expect("a json! object literal is an object");
    match version {
        ApiVersion::V1 => {
            // STU3: operations are declared at the system level, references
            // are Reference objects, and acceptUnknown is required.
            fields.insert("acceptUnknown".into(), json!("extensions"));
            fields.insert(
                "format".into(),
                json!(["application/json", "application/fhir+json"]),
            );
            fields.insert(
                "rest".into(),
                json!([{
                    "mode": "server",
                    "security": security,
                    "interaction": interaction,
                    "operation": [
                        { "name": "patient-export", "definition": { "reference": PATIENT_EXPORT } },
                        { "name": "group-export", "definition": { "reference": GROUP_EXPORT } }
                    ]
                }]),
            );
        }
        ApiVersion::V2 => {
            // R4: the Bulk Data IG declares the exports on the Patient and
            // Group resources, with canonical URLs; the other types an
            // export may hold are listed after them.
            let mut resources = vec![
                json!({
                    "type": "Patient",
                    "documentation": exported_type_documentation(ResourceType::Patient),
                    "operation": [{ "name": "patient-export", "definition": PATIENT_EXPORT }]
                }),
                json!({
                    "type": "Group",
                    "operation": [{ "name": "group-export", "definition": GROUP_EXPORT }]
                }),
            ];
            resources.extend(
                ResourceType::of_version(version)
                    .iter()
                    .filter(|t| **t != ResourceType::Patient)
                    .map(|t| {
                        json!({
                            "type": t.as_str(),
                            "documentation": exported_type_documentation(*t),
                        })
                    }),
            );
            fields.insert(
                "format".into(),
                json!(["application/json", "application/fhir+json"]),
            );
            fields.insert(
                "rest".into(),
                json!([{
                    "mode": "server",
                    "security": security,
                    "resource": resources,
                    "interaction": interaction
                }]),
            );
        }
    }
    statement
}

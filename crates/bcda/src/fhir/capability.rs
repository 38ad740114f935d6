//! The CapabilityStatements of `/api/v1/metadata` (STU3),
//! `/api/v2/metadata` (R4) and `/api/v3/metadata` (R4, BCDA's v3 shape).

use crate::domain::eob_facts::{FINAL_ACTION_SYSTEM, SYSTEM_TYPE_SYSTEM};
use crate::domain::{ApiVersion, ResourceType, SystemType};
use crate::fhir::time_format::fhir_date_time;
use serde_json::{Value, json};
use time::OffsetDateTime;

const BULK_DATA_CAPABILITY: &str = "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data";
const PATIENT_EXPORT: &str = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export";
const GROUP_EXPORT: &str = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export";
const SYSTEM_EXPORT: &str = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export";
const SECURITY_SERVICE: &str = "http://terminology.hl7.org/CodeSystem/restful-security-service";

/// v2's export operations: what they take beyond BCDA's parameters (v2's
/// statement has no search parameters to list them in).
const V2_EXPORT_DOCUMENTATION: &str = "Bulk export of the ACO's beneficiaries' data. Parameters: _type, \
_since, _until (only resources last updated before this FHIR instant; not before _since), _outputFormat; a POST \
with a Parameters body may also name beneficiaries with patient entries (valueReference Patient/<id>, each \
attributed to the ACO; not on the system-level export).";

/// What the system-level export is, on every version that documents
/// operations.
const SYSTEM_EXPORT_NOTE: &str = " System level ([base]/$export): every beneficiary currently attributed to the \
ACO, as Group/all, with _since applied to every beneficiary alike.";

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
    /// How long signed file URLs work (`--signed-urls`), if the server
    /// signs them: said in `rest.security.description`.
    pub signed_urls: Option<std::time::Duration>,
}

/// The CapabilityStatement for `version`.
pub fn capability_statement(version: ApiVersion, ctx: &CapabilityContext<'_>) -> Value {
    let mut security = json!({
        "cors": true,
        "service": [
            {
                "coding": [{ "system": SECURITY_SERVICE, "code": "OAuth", "display": "OAuth" }],
                "text": "OAuth"
            },
            {
                "coding": [{
                    "system": SECURITY_SERVICE,
                    "code": "SMART-on-FHIR",
                    "display": "SMART-on-FHIR"
                }],
                "text": "SMART Backend Services: a client_credentials grant with a signed JWT \
                    assertion at the token endpoint, and system scopes (system/*.read, \
                    system/<Type>.read, system/<Type>.rs)"
            }
        ],
        "extension": [{
            "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
            "extension": [{ "url": "token", "valueUri": format!("{}/auth/token", ctx.base_url) }]
        }]
    });
    if let Some(ttl) = ctx.signed_urls {
        security["description"] = json!(signed_urls_description(ttl));
    }
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
                ApiVersion::V3 => format!("{DESCRIPTION}{V3_NOTE}"),
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
                        { "name": "group-export", "definition": { "reference": GROUP_EXPORT } },
                        { "name": "export", "definition": { "reference": SYSTEM_EXPORT } }
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
                    "operation": [{
                        "name": "patient-export",
                        "definition": PATIENT_EXPORT,
                        "documentation": V2_EXPORT_DOCUMENTATION
                    }]
                }),
                json!({
                    "type": "Group",
                    "operation": [{
                        "name": "group-export",
                        "definition": GROUP_EXPORT,
                        "documentation": V2_EXPORT_DOCUMENTATION
                    }]
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
                    "interaction": interaction,
                    "operation": [{
                        "name": "export",
                        "definition": SYSTEM_EXPORT,
                        "documentation": format!("{V2_EXPORT_DOCUMENTATION}{SYSTEM_EXPORT_NOTE}")
                    }]
                }]),
            );
        }
        ApiVersion::V3 => {
            fields.insert(
                "rest".into(),
                json!([{
                    "mode": "server",
                    "security": security,
                    "resource": v3_resources(),
                    "interaction": interaction,
                    "operation": [{
                        "name": "export",
                        "definition": SYSTEM_EXPORT,
                        "documentation": format!("{V3_EXPORT_DOCUMENTATION}{SYSTEM_EXPORT_NOTE}")
                    }]
                }]),
            );
        }
    }
    statement
}

/// `rest.security.description` of a server that signs file URLs.
fn signed_urls_description(ttl: std::time::Duration) -> String {
    format!(
        "Completed jobs' manifests say requiresAccessToken false: each file URL \
         (/data/{{jobId}}/{{filename}}) carries the query parameters expires, kid and signature, \
         and works without a bearer token for {} seconds after the status request that returned \
         it, for that file only. A bearer token works as well.",
        ttl.as_secs()
    )
}

/// What v3 adds to [`DESCRIPTION`].
const V3_NOTE: &str = " API v3 serves R4 resources in the shape of the Blue Button API's v3 server: every \
ExplanationOfBenefit is tagged with the system its claim came from and whether the claim is final, ACOs entitled \
to partially adjudicated claims get them as ExplanationOfBenefits, and _typeFilter selects claims by tag, outcome \
and service date.";

/// The export operations' documentation on v3: what an export holds when
/// `_typeFilter` names no claim source.
const V3_EXPORT_DOCUMENTATION: &str = "Bulk export of the ACO's beneficiaries' Patient, Coverage and \
ExplanationOfBenefit resources. By default (no _typeFilter naming a System-Type _tag) ExplanationOfBenefit \
resources are filtered to _tag=https://bluebutton.cms.gov/fhir/CodeSystem/System-Type|NationalClaimsHistory,\
https://bluebutton.cms.gov/fhir/CodeSystem/System-Type|DDPS (adjudicated claims of the National Claims History and \
Part D events), and the manifest's error array lists an OperationOutcome saying so. Use \
_typeFilter=ExplanationOfBenefit?_tag=https://bluebutton.cms.gov/fhir/CodeSystem/System-Type|SharedSystem for \
partially adjudicated claims (ACOs entitled to them only).";

/// The export parameters v3 documents on Patient and Group.
fn v3_export_search_params() -> Value {
    json!([
        {
            "name": "_since",
            "type": "date",
            "documentation": "Only resources updated after this FHIR instant."
        },
        {
            "name": "_until",
            "type": "date",
            "documentation": "Only resources updated before this FHIR instant; not before _since."
        },
        {
            "name": "_type",
            "type": "string",
            "documentation": "Comma-separated resource types: Patient, Coverage, ExplanationOfBenefit."
        },
        {
            "name": "patient",
            "type": "reference",
            "documentation": "POST only (Parameters valueReference entries): Patient/<id> of \
                beneficiaries attributed to the ACO; only they are exported. Not on the \
                system-level export."
        },
        {
            "name": "_typeFilter",
            "type": "string",
            "documentation": "One ExplanationOfBenefit search, URL-encoded: \
                ExplanationOfBenefit?<_tag|outcome|service-date>=<value>[&...]. Commas separate \
                alternatives (OR), repeated parameters must all hold (AND)."
        }
    ])
}

/// The resources of v3's `rest`: the exports on Patient and Group, and the
/// ExplanationOfBenefit search parameters `_typeFilter` takes.
fn v3_resources() -> Value {
    let codes: Vec<&str> = SystemType::ALL.iter().map(|s| s.code()).collect();
    json!([
        {
            "type": "Patient",
            "documentation": exported_type_documentation(ResourceType::Patient),
            "operation": [{
                "name": "export",
                "definition": PATIENT_EXPORT,
                "documentation": V3_EXPORT_DOCUMENTATION
            }],
            "searchParam": v3_export_search_params()
        },
        {
            "type": "Group",
            "operation": [{
                "name": "export",
                "definition": GROUP_EXPORT,
                "documentation": V3_EXPORT_DOCUMENTATION
            }],
            "searchParam": v3_export_search_params()
        },
        {
            "type": "Coverage",
            "documentation": exported_type_documentation(ResourceType::Coverage)
        },
        {
            "type": "ExplanationOfBenefit",
            "documentation": "Exported by $export: adjudicated claims (National Claims History and Part D \
                events) and, for ACOs entitled to them, partially adjudicated claims (SharedSystem, \
                NotFinalAction, outcome partial). Select with _typeFilter on these parameters.",
            "searchParam": [
                {
                    "name": "_tag",
                    "type": "token",
                    "documentation": format!(
                        "{SYSTEM_TYPE_SYSTEM}|code with code one of {}; default NationalClaimsHistory and DDPS. \
                         Also {FINAL_ACTION_SYSTEM}|FinalAction or |NotFinalAction.",
                        codes.join(", ")
                    )
                },
                {
                    "name": "outcome",
                    "type": "token",
                    "documentation": "complete (adjudicated) or partial (partially adjudicated)."
                },
                {
                    "name": "service-date",
                    "type": "date",
                    "documentation": "The claim's last day of service, with an optional prefix eq, lt, gt, le \
                        or ge, e.g. gt2026-01-14."
                }
            ]
        }
    ])
}

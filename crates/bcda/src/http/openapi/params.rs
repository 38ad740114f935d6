//! The request parameters of the API, written out by hand (`IntoParams`)
//! so each has exactly the schema, description and example a person using
//! the Swagger page needs.
//!
//! Swagger UI pre-fills "Try it out" with a parameter's `example` or
//! `default`. So the required headers with one allowed value (`Accept`,
//! `Prefer`) get it as `default`, and "Execute" sends them; the optional
//! filters (`_type`, `_since`, ...) carry their examples in the schema's
//! `examples` and in the description instead, which Swagger UI shows but
//! does not pre-fill: "Execute" with empty fields must export everything,
//! as the walkthrough expects.

use serde_json::json;
use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn, ParameterStyle};
use utoipa::openapi::{KnownFormat, ObjectBuilder, Required, SchemaFormat, Type};

use crate::auth::url_signing;
use crate::domain::ResourceType;
use crate::domain::{ApiVersion, JobStatus};
use crate::export::rejection::OUTPUT_FORMATS;

/// A FHIR instant, as the FHIR specification's regular expression for the
/// type writes it, less leap seconds (which the server's parser refuses).
/// The server also refuses instants in the future.
const FHIR_INSTANT_PATTERN: &str = "^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-\
    (0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\
    (\\.[0-9]+)?(Z|(\\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$";

/// `` `a`, `b`, `c` ``.
fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The names of the types `version` serves.
fn type_names(version: ApiVersion) -> Vec<&'static str> {
    ResourceType::of_version(version)
        .iter()
        .map(|t| t.as_str())
        .collect()
}

/// A regular expression for a comma-separated list of `names` (repeats
/// are refused by the server but not by the expression).
fn comma_list_pattern(names: &[&str]) -> String {
    let one = format!("({})", names.join("|"));
    format!("^{one}(,{one})*$")
}

/// The schema of a `_type` list (query string or POST body) on `version`.
pub fn type_list(version: ApiVersion) -> ObjectBuilder {
    let examples: &[&str] = match version {
        ApiVersion::V1 | ApiVersion::V3 => &["Coverage", "Patient,Coverage,ExplanationOfBenefit"],
        ApiVersion::V2 => &[
            "Coverage",
            "Patient,Coverage,ExplanationOfBenefit",
            "Claim,ClaimResponse",
        ],
    };
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(comma_list_pattern(&type_names(version))))
        .examples(examples.iter().copied())
}

/// The description of the `_type` parameter on `version`: which types it
/// takes, and which an export gives without it.
pub fn type_description(version: ApiVersion) -> String {
    let names = quoted(&type_names(version));
    match version {
        ApiVersion::V1 => format!(
            "Resource types requested, comma-separated, each at most once: any of {names}, \
             e.g. `Coverage` or `Patient,ExplanationOfBenefit`. Leave empty for every type."
        ),
        ApiVersion::V3 => format!(
            "Resource types requested, comma-separated, each at most once: any of {names}, \
             e.g. `Coverage` or `Patient,ExplanationOfBenefit`. Leave empty for every type. \
             Partially adjudicated claims come as ExplanationOfBenefits on v3 (see `_typeFilter`)."
        ),
        ApiVersion::V2 => format!(
            "Resource types requested, comma-separated, each at most once: any of {names}, \
             e.g. `Coverage` or `Patient,ExplanationOfBenefit`. `Claim` and `ClaimResponse` \
             (partially adjudicated claims) are for ACOs entitled to them; others get 400 \
             `unauthorized resource type`. Leave empty for every type your ACO is entitled to: \
             `Patient`, `Coverage`, `ExplanationOfBenefit`, plus `Claim` and `ClaimResponse` \
             if it has partially adjudicated data."
        ),
    }
}

/// The description of v3's `_typeFilter` (query string or POST body).
pub const TYPE_FILTER_DESCRIPTION: &str = "API v3 only. One ExplanationOfBenefit search that selects \
    which claims are exported: `ExplanationOfBenefit?` followed by `_tag`, `outcome` and `service-date` \
    parameters joined with `&`. `_tag` takes `system|code` tokens: \
    `https://bluebutton.cms.gov/fhir/CodeSystem/System-Type|` `NationalClaimsHistory`, `DDPS` or \
    `SharedSystem` (partially adjudicated claims; ACOs entitled to them only), and \
    `https://bluebutton.cms.gov/fhir/CodeSystem/Final-Action|` `FinalAction` or `NotFinalAction`. \
    `outcome` is `complete` or `partial`. `service-date` is the claim's last day of service, with an \
    optional prefix `eq`, `lt`, `gt`, `le` or `ge` and a year, month, date or dateTime, e.g. \
    `ge2024-01-01`. Commas separate alternatives (any may match); repeated parameters must all match. \
    Without a System-Type `_tag`, ExplanationOfBenefits are limited to NationalClaimsHistory and DDPS \
    and the manifest's `error` array lists a `warnings-and-info` file saying so.";

/// The schema of v3's `_typeFilter` value.
pub fn type_filter_value() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(r"^ExplanationOfBenefit\?.+$"))
        .examples([
            "ExplanationOfBenefit?_tag=https://bluebutton.cms.gov/fhir/CodeSystem/System-Type|SharedSystem",
            "ExplanationOfBenefit?service-date=ge2024-01-01&outcome=complete",
        ])
}

/// v3's `_typeFilter` query parameter (added to v3's kick-offs by
/// `openapi::document`).
pub fn type_filter_parameter() -> Parameter {
    param("_typeFilter", ParameterIn::Query, false)
        .description(Some(TYPE_FILTER_DESCRIPTION))
        .schema(Some(type_filter_value()))
        .build()
}

/// The description of `_until` (API v2 and later; query string or POST
/// body).
pub const UNTIL_DESCRIPTION: &str = "API v2 and later. Only resources last updated before this \
    time, as a FHIR instant (`YYYY-MM-DDThh:mm:ss.sss+zz:zz`), e.g. `2024-01-01T00:00:00.000-05:00`. \
    It may not be before `_since`; a time in the future exports everything up to now. With `_until`, \
    the manifest's `transactionTime` is the last instant before it (when that is earlier than the \
    export), so it can be the next export's `_since`. On `Group/all` with `_since`, newly attributed \
    beneficiaries' full history also stops at `_until`.";

/// `_until` as a query parameter (added to v2's and v3's kick-offs by
/// `openapi::document`; v1 ignores it).
pub fn until_parameter() -> Parameter {
    param("_until", ParameterIn::Query, false)
        .description(Some(UNTIL_DESCRIPTION))
        .schema(Some(
            fhir_instant().examples(["2024-01-01T00:00:00.000-05:00"]),
        ))
        .build()
}

/// The description of a POST body's `patient` entries.
pub const PATIENT_DESCRIPTION: &str = "POST only (a GET ignores `patient`). One entry per \
    beneficiary, `{\"name\": \"patient\", \"valueReference\": {\"reference\": \"Patient/<id>\"}}`, \
    where `<id>` is the `id` of the beneficiary's Patient resource in an earlier export: only those \
    beneficiaries are exported, with every type asked for. Each must be in the ACO's attribution for \
    the route (the runout attribution for `Group/runout`), else 400 naming it; repeats count once; at \
    most 1000 entries. Not applicable to the system-level `$export` (400).";

/// The schema of a `patient` entry's `valueReference`.
pub fn patient_reference() -> ObjectBuilder {
    ObjectBuilder::new()
        .property(
            "reference",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(r"^Patient/[A-Za-z0-9\-\.]{1,64}$"))
                .examples(["Patient/-10000000000001"]),
        )
        .required("reference")
}

/// The schema of a `_since` instant (query string or POST body).
pub fn fhir_instant() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        .pattern(Some(FHIR_INSTANT_PATTERN))
        .examples(["2020-02-13T08:00:00.000-05:00"])
}

/// A string schema with the one allowed value, which is also the default.
fn only_value(value: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some([value]))
        .default(Some(json!(value)))
}

fn param(name: &str, location: ParameterIn, required: bool) -> ParameterBuilder {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(location)
        .required(if required {
            Required::True
        } else {
            Required::False
        })
}

/// The kick-off's required headers, `Accept` and `Prefer`.
#[derive(Debug)]
pub struct KickoffHeaders;

impl IntoParams for KickoffHeaders {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            param("Accept", ParameterIn::Header, true)
                // Shown for people and other tools; Swagger UI itself sends
                // Accept from the responses' media type (see
                // `KickoffResponses`).
                .description(Some(
                    "Must be `application/fhir+json` (the format of the status and error \
                     answers). On this page it is sent from the responses' media type, \
                     `application/fhir+json`.",
                ))
                .schema(Some(only_value("application/fhir+json")))
                .build(),
            param("Prefer", ParameterIn::Header, true)
                .description(Some(
                    "Must be `respond-async`: the export runs in the background; \
                     poll the job's status URL for the result.",
                ))
                .schema(Some(only_value("respond-async")))
                .build(),
        ]
    }
}

/// The kick-off's optional query parameters: `_type`, `_since`,
/// `_outputFormat`.
#[derive(Debug)]
pub struct KickoffQuery;

impl IntoParams for KickoffQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            // v1's; the v2 document swaps in v2's (`openapi::document`).
            param("_type", ParameterIn::Query, false)
                .description(Some(type_description(ApiVersion::V1)))
                .schema(Some(type_list(ApiVersion::V1)))
                .style(Some(ParameterStyle::Form))
                .explode(Some(false))
                .build(),
            param("_since", ParameterIn::Query, false)
                .description(Some(
                    "Only resources updated after this time, as a FHIR instant \
                     (`YYYY-MM-DDThh:mm:ss.sss+zz:zz`), e.g. `2020-02-13T08:00:00.000-05:00`. \
                     It must be in the past; do not use dates before 2020-02-12. On \
                     `Group/all`, beneficiaries newly attributed since then get their full history.",
                ))
                .schema(Some(fhir_instant()))
                .build(),
            param("_outputFormat", ParameterIn::Query, false)
                .description(Some(
                    "The file format. Files are always NDJSON; any of these values may be given.",
                ))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(OUTPUT_FORMATS)),
                ))
                .build(),
        ]
    }
}

/// The `groupId` path segment of the Group kick-off.
#[derive(Debug)]
pub struct GroupId;

impl IntoParams for GroupId {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            param("groupId", ParameterIn::Path, true)
                .description(Some(
                    "`all`: every beneficiary attributed to the ACO. `runout`: last performance \
                     year's runout attribution, with claims up to the runout cut-off.",
                ))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(["all", "runout"]))
                        .default(Some(json!("all"))),
                ))
                .build(),
        ]
    }
}

/// The path parameter naming an export job.
fn job_id() -> Parameter {
    param("jobId", ParameterIn::Path, true)
        .description(Some(
            "The job number: the last part of the kick-off's `Content-Location` URL.",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .minimum(Some(1))
                .examples([42]),
        ))
        .build()
}

/// `{jobId}` of the job routes.
#[derive(Debug)]
pub struct JobId;

impl IntoParams for JobId {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![job_id()]
    }
}

/// `{jobId}/{filename}` of the download route.
#[derive(Debug)]
pub struct DataFile;

impl IntoParams for DataFile {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            job_id(),
            param("filename", ParameterIn::Path, true)
                .description(Some(
                    "The file's name: the last part of its `url` in the job's manifest \
                     (it ends in `.ndjson`).",
                ))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .examples(["0f8fad5b-d9cb-469f-a165-70867728950e.ndjson"]),
                ))
                .build(),
            signed_url_param(
                url_signing::EXPIRES_PARAM,
                "When the signed URL stops working (Unix seconds).",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^[0-9]+$")),
            ),
            signed_url_param(
                url_signing::KID_PARAM,
                "The key that signed the URL.",
                ObjectBuilder::new().schema_type(Type::String),
            ),
            signed_url_param(
                url_signing::SIGNATURE_PARAM,
                "The URL's signature (base64url HMAC-SHA256 over job, file, ACO and \
                 expiry).",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^[A-Za-z0-9_-]{43}$")),
            ),
        ]
    }
}

/// One of a signed download URL's query parameters: present only in the
/// manifest's URLs of a server run with `--signed-urls`.
fn signed_url_param(name: &str, what: &str, schema: ObjectBuilder) -> Parameter {
    param(name, ParameterIn::Query, false)
        .description(Some(format!(
            "{what} Part of a signed file URL, copied as the job's manifest gives it when the \
             server signs URLs (then `requiresAccessToken` is false and the URL works without a \
             bearer token until it expires; a token still works too). Leave empty otherwise."
        )))
        .schema(Some(schema))
        .build()
}

/// `_status` of the jobs list.
#[derive(Debug)]
pub struct StatusFilter;

impl IntoParams for StatusFilter {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let names = JobStatus::ALL.map(JobStatus::as_str);
        vec![
            param("_status", ParameterIn::Query, false)
                .description(Some(format!(
                    "Only jobs in these states, comma-separated, each at most once, exactly as \
                     written: {}. Leave empty for all jobs.",
                    quoted(&names)
                )))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .pattern(Some(comma_list_pattern(&names)))
                        .examples(["Completed", "Pending,In Progress"]),
                ))
                .build(),
        ]
    }
}

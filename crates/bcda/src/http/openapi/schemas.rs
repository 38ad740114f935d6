//! Schemas of bodies that are built as JSON values, not typed structs (the
//! FHIR resources), so the document can still describe them.
//!
//! These types exist only for the document: nothing constructs them. The
//! typed response bodies (token, manifest, health, ...) derive `ToSchema`
//! where they are defined, next to their handlers.

use serde_json::json;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type,
};

use crate::domain::ApiVersion;
use crate::export::rejection::OUTPUT_FORMATS;

/// A FHIR OperationOutcome with one issue: the body of every error answer
/// (`Content-Type: application/fhir+json`). v1 carries the message in
/// `diagnostics`; v2 adds `details` with the same text.
#[derive(ToSchema)]
#[schema(example = json!({
    "resourceType": "OperationOutcome",
    "issue": [{ "severity": "error", "code": "forbidden", "diagnostics": "Invalid Token" }]
}))]
pub struct OperationOutcome {
    /// Always `OperationOutcome`.
    #[schema(rename = "resourceType", value_type = String)]
    pub resource_type: (),
    /// Exactly one issue.
    pub issue: Vec<OutcomeIssue>,
}

/// The issue of an [`OperationOutcome`].
#[derive(ToSchema)]
pub struct OutcomeIssue {
    /// `error`.
    pub severity: String,
    /// The FHIR issue type: `structure`, `forbidden`, `not-found`,
    /// `throttled`, `not-supported`, `exception`, ...
    pub code: String,
    /// What went wrong, for a person.
    pub diagnostics: Option<String>,
    /// v2 only: BCDA's constant "Request Error" coding plus the message.
    #[schema(value_type = Option<Object>)]
    pub details: Option<()>,
}

/// A FHIR CapabilityStatement (STU3 for v1, R4 for v2), as the FHIR
/// specification defines it; described here as a free-form object.
#[derive(ToSchema)]
#[schema(value_type = Object, example = json!({
    "resourceType": "CapabilityStatement",
    "status": "active",
    "kind": "instance",
    "fhirVersion": "4.0.1",
    "format": ["application/json", "application/fhir+json"]
}))]
pub struct CapabilityStatement(());

/// The jobs list: a FHIR `searchset` Bundle with one Task per export job
/// of the caller's ACO. An empty list has `total` 0 and no `entry`.
#[derive(ToSchema)]
pub struct JobsBundle {
    /// Always `Bundle`.
    #[schema(rename = "resourceType", value_type = String, example = "Bundle")]
    pub resource_type: (),
    /// Always `searchset`.
    #[schema(rename = "type", value_type = String, example = "searchset")]
    pub kind: (),
    /// The number of entries.
    pub total: u64,
    /// One entry per job; absent when there are none.
    pub entry: Option<Vec<JobsBundleEntry>>,
}

/// One entry of a [`JobsBundle`].
#[derive(ToSchema)]
pub struct JobsBundleEntry {
    /// The job as a Task.
    pub resource: JobTask,
}

/// An export job as a FHIR Task.
#[derive(ToSchema)]
#[schema(example = json!({
    "resourceType": "Task",
    "id": "42",
    "identifier": [{ "use": "official", "system": "https://sandbox.example/api/v2/jobs", "value": "42" }],
    "status": "completed",
    "intent": "order",
    "input": [{ "type": { "text": "BULK FHIR Export" }, "valueString": "GET https://sandbox.example/api/v2/Patient/$export" }],
    "executionPeriod": { "start": "2026-03-02T12:00:00+00:00", "end": "2026-03-02T12:01:00+00:00" }
}))]
pub struct JobTask {
    /// Always `Task`.
    #[schema(rename = "resourceType", value_type = String)]
    pub resource_type: (),
    /// The job id.
    pub id: String,
    /// The jobs URL as system, the job id as value.
    #[schema(value_type = Vec<Object>)]
    pub identifier: (),
    /// `accepted` (Pending), `in-progress`, `completed`, `failed` or
    /// `cancelled`.
    pub status: String,
    /// Always `order`.
    pub intent: String,
    /// `GET <kick-off URL>`.
    #[schema(value_type = Vec<Object>)]
    pub input: (),
    /// When the job was created and last updated.
    #[schema(rename = "executionPeriod", value_type = Object)]
    pub execution_period: (),
}

/// The body of a POST kick-off: a FHIR Parameters resource with the same
/// parameters the GET kick-off takes in its query string, one entry each:
/// `_type` (`valueString`), `_since` (`valueInstant`), `_until`
/// (`valueInstant`, v2 and later), `_outputFormat` (`valueString`),
/// `_typeFilter` (`valueString`, v3), and the POST-only `patient`
/// (`valueReference`), one entry per beneficiary.
#[derive(Debug)]
pub struct ExportParameters;

impl ExportParameters {
    /// The schema on `version`, whose `_type` takes that version's types.
    pub fn schema_for(version: ApiVersion) -> RefOr<Schema> {
        let entry = |name: &str, value_field: &str, value: ObjectBuilder| {
            ObjectBuilder::new()
                .property("name", only(name))
                .required("name")
                .property(value_field, value)
                .required(value_field)
                .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        };
        let mut entries = OneOfBuilder::new()
            .item(entry(
                "_type",
                "valueString",
                super::params::type_list(version),
            ))
            .item(entry(
                "_since",
                "valueInstant",
                super::params::fhir_instant(),
            ));
        let mut listed = vec!["`_type` (`valueString`)", "`_since` (`valueInstant`)"];
        if version != ApiVersion::V1 {
            entries = entries.item(entry(
                "_until",
                "valueInstant",
                super::params::fhir_instant()
                    .description(Some(super::params::UNTIL_DESCRIPTION))
                    .examples(["2024-01-01T00:00:00.000-05:00"]),
            ));
            listed.push("`_until` (`valueInstant`)");
        }
        entries = entries.item(entry(
            "_outputFormat",
            "valueString",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(OUTPUT_FORMATS)),
        ));
        listed.push("`_outputFormat` (`valueString`)");
        if version == ApiVersion::V3 {
            entries = entries.item(entry(
                "_typeFilter",
                "valueString",
                super::params::type_filter_value(),
            ));
            listed.push("`_typeFilter` (`valueString`)");
        }
        entries = entries.item(entry(
            "patient",
            "valueReference",
            super::params::patient_reference()
                .description(Some(super::params::PATIENT_DESCRIPTION)),
        ));
        let description = format!(
            "A FHIR Parameters resource with the export parameters, one entry each: {}; and \
             `patient` (`valueReference`), one entry per beneficiary to export (not on the \
             system-level `$export`).",
            listed.join(", ")
        );
        ObjectBuilder::new()
            .description(Some(description))
            .property("resourceType", only("Parameters"))
            .required("resourceType")
            .property("parameter", ArrayBuilder::new().items(entries))
            .examples([json!({
                "resourceType": "Parameters",
                "parameter": [{ "name": "_type", "valueString": "Coverage" }]
            })])
            .into()
    }
}

/// v1's schema; the v2 document swaps in v2's (`openapi::document`).
impl utoipa::PartialSchema for ExportParameters {
    fn schema() -> RefOr<Schema> {
        Self::schema_for(ApiVersion::V1)
    }
}

impl ToSchema for ExportParameters {}

/// A string that can only be `value`.
fn only(value: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some([value]))
}

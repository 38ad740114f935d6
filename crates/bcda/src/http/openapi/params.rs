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

use crate::export::request::OUTPUT_FORMATS;
use crate::store::jobs::JobStatus;

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
                .description(Some(
                    "Must be `application/fhir+json` (the format of the status and error answers).",
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
            param("_type", ParameterIn::Query, false)
                .description(Some(
                    "Resource types requested, comma-separated: any of `Patient`, `Coverage`, \
                     `ExplanationOfBenefit` (on v2 also `Claim`, `ClaimResponse` for ACOs entitled \
                     to partially adjudicated claims), e.g. `Coverage` or \
                     `Patient,ExplanationOfBenefit`. Leave empty for every type the ACO may see.",
                ))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .examples(["Coverage", "Patient,Coverage,ExplanationOfBenefit"]),
                ))
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
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
                        .examples(["2020-02-13T08:00:00.000-05:00"]),
                ))
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
        ]
    }
}

/// `_status` of the jobs list.
#[derive(Debug)]
pub struct StatusFilter;

impl IntoParams for StatusFilter {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let names: Vec<_> = JobStatus::ALL
            .iter()
            .map(|s| format!("`{}`", s.as_str()))
            .collect();
        vec![
            param("_status", ParameterIn::Query, false)
                .description(Some(format!(
                    "Only jobs in these states, comma-separated, exactly as written: {}. \
                     Leave empty for all jobs.",
                    names.join(", ")
                )))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .examples(["Completed", "Pending,In Progress"]),
                ))
                .build(),
        ]
    }
}

//! Kick-off validation: a `$export` request in, an [`ExportRequest`] or
//! BCDA's exact 400 out.
//!
//! # Order of the checks
//!
//! A request with several problems gets the diagnostics of the first check it
//! fails, so the order is part of the contract:
//!
//! 1. the group id (`all` or `runout`);
//! 2. for a POST: export parameters in the query string, the
//!    `Content-Type`, and the `Parameters` body itself;
//! 3. the parameters, in the order of BCDA's `ValidateRequestURL`:
//!    `_outputFormat`, `_elements`, (POST only: `patient`, see below), query
//!    keys that start with `?`, `_since`, (API v2 and later: `_until`), then
//!    `_type` (more than
//!    [`MAX_LIST_ITEMS`] items, counted over every POST entry, is a 400
//!    naming `_type`; then repeats over the whole list, then unknown names;
//!    all linear in the request's size), then on API v3 `_typeFilter`
//!    ([`super::type_filter`]);
//! 4. the headers, as BCDA's `ValidateRequestHeaders`: `Accept`, then
//!    `Prefer`.
//!
//! BCDA checks the group id and unknown `_type` names later, in its handler
//! (after the headers and even after the 429 check); we check every URL and
//! parameter problem before the headers, as docs/REFERENCES.md ("Kick-off")
//! records. Only requests with two problems at once can tell the difference.
//!
//! # GET query strings
//!
//! Keys and values are form-decoded as Go's `url.ParseQuery` does (BCDA's
//! `r.URL.Query()`): `%XX` escapes are decoded and `+` becomes a space.
//! Invalid escapes are kept literally (Go drops the whole pair instead; we
//! keep it so that, say, a broken `_since` is reported rather than silently
//! ignored, which would widen the export).
//!
//! For `_since`, `_type` and `_outputFormat` only the **first** occurrence
//! counts, as in BCDA (`params[0]`); the IG's "repeat means comma-join" rule
//! is not applied to GET, so existing BCDA clients see the same export.
//!
//! Neither a FHIR instant nor an output format can contain a space, so in
//! `_since` and `_outputFormat` a space can only be an unencoded `+` that
//! form-decoding turned into a space. **We read such spaces back as `+`**:
//! `_since=2020-02-13T08:00:00.000+05:00` and
//! `_outputFormat=application/fhir+ndjson` sent without `%2B` are accepted
//! (BCDA answers 400 to both). No request BCDA accepts changes meaning.
//!
//! On API v3 every `_typeFilter` value counts (more than one is BCDA's 400);
//! on v1 and v2 `_typeFilter` is ignored, as BCDA ignores it there. Every
//! other query parameter (`patient`, `includeAssociatedData`, unknown names)
//! is ignored on GET, as BCDA ignores them.
//!
//! # `_until` (Bulk Data IG STU3)
//!
//! API v2 and v3 read `_until` (a FHIR instant, parsed exactly as `_since`):
//! only resources whose `meta.lastUpdated` is **earlier** than it, as the
//! IG words it ("changed before the supplied time"). It may not be before
//! `_since` (400); it may be in the future, which exports what exists at
//! the transaction time (AB2D, CMS's other bulk API, does the same: a
//! future bound cannot widen an export, so refusing it would only break
//! clients that send "now" from a clock a little ahead of ours). API v1
//! ignores `_until` like any parameter it does not know, as BCDA's v1 does.
//!
//! # `patient` (Bulk Data IG 2.0, POST only)
//!
//! Entries `{"name":"patient","valueReference":{"reference":"Patient/<id>"}}`
//! restrict an export to those beneficiaries; `<id>` is a FHIR id (the
//! Patient resource id our exports write). Here only the form is checked:
//! a missing `valueReference`, or a reference that is not `Patient/<id>`,
//! is a 400 naming it; repeats collapse; at most [`MAX_PATIENTS`] entries.
//! On the system-level `$export` the IG does not define `patient`, so any
//! entry is a 400. Whether each is attributed to the ACO is checked at
//! kick-off (`jobs::kickoff`), which alone knows the ACO's data.
//!
//! # POST kick-off (Bulk Data IG 2.0)
//!
//! The body is a FHIR `Parameters` resource (`Content-Type`
//! `application/fhir+json` or `application/json`). Its `parameter` entries:
//! `_type` (`valueString`; repeated entries and comma lists are joined, as
//! the IG requires), `_since` (`valueInstant`, `valueDateTime` or
//! `valueString`, parsed as a FHIR instant), `_until` (API v2 and later;
//! as `_since`), `_outputFormat` (`valueString`), `_elements` (400:
//! unsupported), `patient` (`valueReference`, see below), `_typeFilter`
//! (`valueString`; on API v3 every entry counts, as every value on GET;
//! ignored on v1 and v2), unknown names (ignored, as on GET). Repeated
//! `_since`, `_until` or `_outputFormat` entries: the first counts, as on
//! GET.
//!
//! The IG puts POST parameters in the body only, so an export parameter in
//! the query string of a POST is rejected instead of being silently
//! overridden by (or merged with) the body: either choice could export
//! something other than what the client meant. A GET body is ignored.

use std::collections::HashSet;

use axum::http::{HeaderMap, Method, header};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::list_param::{MAX_LIST_ITEMS, first_repeat};
use super::query::{first_value, query_pairs, restore_plus};
use super::rejection::{OUTPUT_FORMATS, Rejection};
use super::type_filter::{TypeFilter, parse_type_filter};
use crate::domain::{ApiVersion, RequestKind, ResourceType};

/// The most `patient` entries a POST kick-off may hold. The Group
/// membership pattern of the IG sends a group's new members, a few hundred
/// for a large ACO in a month; the 64 KiB body limit allows about a
/// thousand compact entries anyway, and this cap gives that a clear 400
/// (and bounds the lookups behind one kick-off).
pub const MAX_PATIENTS: usize = 1000;

/// The kick-off route a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KickoffRoute<'a> {
    /// `[base]/$export` (system level).
    System,
    /// `[base]/Patient/$export`.
    Patient,
    /// `[base]/Group/{groupId}/$export`, with the raw `groupId` segment.
    Group(&'a str),
}

/// A validated kick-off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRequest {
    /// The API version of the route (`/api/v1` or `/api/v2`), which fixes the FHIR version.
    pub version: ApiVersion,
    /// Which kick-off route: `Patient/$export`, `Group/all/$export`,
    /// `Group/runout/$export` or the system-level `$export`.
    pub kind: RequestKind,
    /// The types the client gave (`_type`), in its order; empty when it gave
    /// none (never from a given `_type`: an empty name is refused), meaning
    /// the ACO's default types, resolved at kick-off
    /// (`export::entitlement::export_types`).
    pub resource_types: Vec<ResourceType>,
    /// `_since`, if given (never in the future).
    pub since: Option<OffsetDateTime>,
    /// `_until` as given (API v2 and later; `None` on v1, which ignores
    /// it): resources last updated **before** it. Never before `_since`;
    /// it may be in the future.
    pub until: Option<OffsetDateTime>,
    /// The `patient` references' ids (`Patient/<id>` without `Patient/`),
    /// each once, in the client's order; empty when it gave none (every
    /// beneficiary). POST only; never on the system-level export.
    pub patients: Vec<String>,
    /// The client's `_typeFilter` (API v3 only; `None` when it gave none and
    /// on v1 and v2, which ignore it). The default System-Type tags and the
    /// ACO's entitlement are applied at kick-off
    /// (`export::type_filter::effective_eob_filter`).
    pub type_filter: Option<TypeFilter>,
}

/// The export parameters this parser knows; on a POST they belong in the
/// body, never the query string.
const EXPORT_PARAMETERS: [&str; 7] = [
    "_outputFormat",
    "_elements",
    "patient",
    "_since",
    "_until",
    "_type",
    "_typeFilter",
];

/// Validates a kick-off.
///
/// `route` is the kick-off route (with the raw `groupId` path segment of
/// `Group/{groupId}/$export`); `query` is the raw query string (without `?`);
/// `body` is the request body (read only for POST). `now` bounds `_since`.
/// See the module documentation for the order of the checks and every
/// decision beyond BCDA. Every refusal is a [`Rejection`] whose text is
/// BCDA's exact diagnostics (a 400), except a method other than GET or POST
/// ([`Rejection::MethodNotAllowed`]; the router should not route one here).
pub fn parse_kickoff(
    version: ApiVersion,
    route: KickoffRoute<'_>,
    method: &Method,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Option<&[u8]>,
    now: OffsetDateTime,
) -> Result<ExportRequest, Rejection> {
    let kind = request_kind(route)?;
    let pairs = query_pairs(query.unwrap_or(""));
    let raw = if *method == Method::GET {
        RawParams::from_query(&pairs, version)
    } else if *method == Method::POST {
        reject_query_export_parameters(&pairs)?;
        check_content_type(headers)?;
        RawParams::from_body(body, version)?
    } else {
        return Err(Rejection::MethodNotAllowed);
    };
    let params = raw.validate(&pairs, version, kind, now)?;
    check_accept(headers)?;
    check_prefer(headers)?;
    Ok(ExportRequest {
        version,
        kind,
        resource_types: params.resource_types,
        since: params.since,
        until: params.until,
        patients: params.patients,
        type_filter: params.type_filter,
    })
}

/// The kind of job a route makes. Runout is always enabled (BCDA:
/// `BCDA_ENABLE_RUNOUT`, default true); any other group id, `new`
/// included, is BCDA's 400.
fn request_kind(route: KickoffRoute<'_>) -> Result<RequestKind, Rejection> {
    match route {
        KickoffRoute::System => Ok(RequestKind::System),
        KickoffRoute::Patient => Ok(RequestKind::Patient),
        KickoffRoute::Group("all") => Ok(RequestKind::GroupAll),
        KickoffRoute::Group("runout") => Ok(RequestKind::GroupRunout),
        KickoffRoute::Group(_) => Err(Rejection::InvalidGroup),
    }
}

// ---------------------------------------------------------------------------
// Query strings

/// BCDA's check for a doubled `?` (`...$export?_type=X&?_since=...`).
fn check_question_mark_keys(pairs: &[(String, String)]) -> Result<(), Rejection> {
    if pairs.iter().any(|(key, _)| key.starts_with('?')) {
        return Err(Rejection::QuestionMarkKey);
    }
    Ok(())
}

/// On a POST the export parameters come from the body only.
fn reject_query_export_parameters(pairs: &[(String, String)]) -> Result<(), Rejection> {
    match pairs
        .iter()
        .find(|(key, _)| EXPORT_PARAMETERS.contains(&key.as_str()))
    {
        Some((key, _)) => Err(Rejection::ParameterInPostQuery(key.clone())),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------------
// Parameters, wherever they came from

/// The export parameters as given, before validation.
#[derive(Debug, Default)]
struct RawParams {
    output_format: Option<String>,
    elements: bool,
    patient: PatientEntries,
    since: Option<String>,
    /// `_until` (API v2 and later only; `None` otherwise).
    until: Option<String>,
    /// The `_type` items, already split on commas (at most
    /// [`MAX_LIST_ITEMS`]).
    types: Option<Vec<String>>,
    /// Whether `_type` had more items than that (reported in `_type`'s turn).
    too_many_types: bool,
    /// Every `_typeFilter` value, in order (API v3 only; empty otherwise).
    type_filters: Vec<String>,
}

/// The `patient` entries of a POST body, as read.
#[derive(Debug, Default)]
struct PatientEntries {
    /// How many entries there were (reported in turn when any is not
    /// allowed, or more than [`MAX_PATIENTS`]).
    count: usize,
    /// The ids of the well-formed entries, each once, in order (read up to
    /// [`MAX_PATIENTS`] entries).
    ids: Vec<String>,
    /// The ids seen, to drop repeats in linear time.
    seen: HashSet<String>,
    /// The first malformed entry's refusal.
    malformed: Option<Rejection>,
}

impl PatientEntries {
    /// Records one entry.
    fn add(&mut self, entry: &Value) {
        self.count += 1;
        if self.count > MAX_PATIENTS || self.malformed.is_some() {
            return;
        }
        match patient_id(entry) {
            Ok(id) => {
                if self.seen.insert(id.clone()) {
                    self.ids.push(id);
                }
            }
            Err(rejection) => self.malformed = Some(rejection),
        }
    }

    /// The ids, or why the entries are refused on a kick-off of `kind`.
    fn validate(self, kind: RequestKind) -> Result<Vec<String>, Rejection> {
        if self.count == 0 {
            return Ok(Vec::new());
        }
        if kind == RequestKind::System {
            return Err(Rejection::PatientOnSystemExport);
        }
        if self.count > MAX_PATIENTS {
            return Err(Rejection::TooManyItems {
                parameter: "patient",
                max: MAX_PATIENTS,
            });
        }
        match self.malformed {
            Some(rejection) => Err(rejection),
            None => Ok(self.ids),
        }
    }
}

/// The id of a `patient` entry: its `valueReference.reference` must be
/// `Patient/<id>` with `<id>` a FHIR id (1 to 64 letters, digits, `-` and
/// `.`), the form our Patient resources' ids take.
fn patient_id(entry: &Value) -> Result<String, Rejection> {
    let reference = entry
        .get("valueReference")
        .filter(|v| v.is_object())
        .ok_or(Rejection::PatientNotReference)?
        .get("reference")
        .and_then(Value::as_str)
        .ok_or(Rejection::PatientNotReference)?;
    let id = reference
        .strip_prefix("Patient/")
        .filter(|id| is_fhir_id(id))
        .ok_or_else(|| Rejection::PatientReferenceForm(reference.to_owned()))?;
    Ok(id.to_owned())
}

/// FHIR's `id`: `[A-Za-z0-9\-\.]{1,64}`.
fn is_fhir_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// The validated parameters.
struct ValidParams {
    resource_types: Vec<ResourceType>,
    since: Option<OffsetDateTime>,
    until: Option<OffsetDateTime>,
    patients: Vec<String>,
    type_filter: Option<TypeFilter>,
}

impl RawParams {
    /// The parameters of a GET: first occurrences only, as BCDA, except
    /// `_typeFilter` (every value, on API v3 only).
    fn from_query(pairs: &[(String, String)], version: ApiVersion) -> Self {
        let type_filters = if version == ApiVersion::V3 {
            pairs
                .iter()
                .filter(|(key, _)| key == "_typeFilter")
                .map(|(_, value)| value.clone())
                .collect()
        } else {
            Vec::new()
        };
        RawParams {
            output_format: first_value(pairs, "_outputFormat").map(restore_plus),
            elements: first_value(pairs, "_elements").is_some(),
            // BCDA ignores `patient` on GET; the IG defines it for POST only.
            patient: PatientEntries::default(),
            since: first_value(pairs, "_since").map(restore_plus),
            // v1 ignores `_until`, as BCDA's v1 ignores what it does not know.
            until: first_value(pairs, "_until")
                .filter(|_| reads_until(version))
                .map(restore_plus),
            type_filters,
            ..RawParams::default()
        }
        .with_types(first_value(pairs, "_type"))
    }

    /// Adds a `_type` value's items, up to [`MAX_LIST_ITEMS`] in all.
    fn with_types(mut self, value: Option<&str>) -> Self {
        if let Some(value) = value {
            let types = self.types.get_or_insert_with(Vec::new);
            for item in value.split(',') {
                if types.len() == MAX_LIST_ITEMS {
                    self.too_many_types = true;
                    break;
                }
                types.push(item.to_owned());
            }
        }
        self
    }

    /// The parameters of a POST body.
    fn from_body(body: Option<&[u8]>, version: ApiVersion) -> Result<Self, Rejection> {
        let body = body
            .filter(|b| !b.iter().all(u8::is_ascii_whitespace))
            .ok_or(Rejection::BodyMissing)?;
        let json: Value = serde_json::from_slice(body).map_err(|_| Rejection::BodyNotJson)?;
        if json.get("resourceType").and_then(Value::as_str) != Some("Parameters") {
            return Err(Rejection::BodyNotParameters);
        }
        let mut raw = RawParams::default();
        for (name, entry) in parameter_entries(&json)? {
            raw.add_body_parameter(name, entry, version)?;
        }
        Ok(raw)
    }

    /// Records one `Parameters.parameter` entry.
    fn add_body_parameter(
        &mut self,
        name: &str,
        entry: &Value,
        version: ApiVersion,
    ) -> Result<(), Rejection> {
        match name {
            "_outputFormat" if self.output_format.is_none() => {
                self.output_format = Some(value_string(entry, name)?.to_owned());
            }
            "_since" if self.since.is_none() => {
                let since = instant_value(entry).ok_or(Rejection::SinceFormat)?;
                self.since = Some(since.to_owned());
            }
            "_until" if self.until.is_none() && reads_until(version) => {
                let until = instant_value(entry).ok_or(Rejection::UntilFormat)?;
                self.until = Some(until.to_owned());
            }
            // The IG: repeated `_type` entries are joined like a comma list.
            "_type" => {
                let value = value_string(entry, name)?;
                *self = std::mem::take(self).with_types(Some(value));
            }
            "_elements" => self.elements = true,
            "patient" => self.patient.add(entry),
            "_typeFilter" if version == ApiVersion::V3 => {
                self.type_filters
                    .push(value_string(entry, name)?.to_owned());
            }
            // `_typeFilter` is ignored on v1/v2, as BCDA; unknown names too.
            _ => {}
        }
        Ok(())
    }

    /// Checks every parameter in BCDA's order.
    fn validate(
        self,
        pairs: &[(String, String)],
        version: ApiVersion,
        kind: RequestKind,
        now: OffsetDateTime,
    ) -> Result<ValidParams, Rejection> {
        check_output_format(self.output_format.as_deref())?;
        if self.elements {
            return Err(Rejection::ElementsUnsupported);
        }
        let patients = self.patient.validate(kind)?;
        check_question_mark_keys(pairs)?;
        let since = self
            .since
            .as_deref()
            .map(|s| parse_since(s, now))
            .transpose()?;
        let until = self
            .until
            .as_deref()
            .map(|u| parse_until(u, since))
            .transpose()?;
        let types = match self.types {
            Some(_) if self.too_many_types => {
                return Err(Rejection::TooManyItems {
                    parameter: "_type",
                    max: MAX_LIST_ITEMS,
                });
            }
            Some(items) => parse_types(&items, version)?,
            // The ACO's defaults, resolved at kick-off (`export::entitlement`).
            None => Vec::new(),
        };
        let type_filters: Vec<&str> = self.type_filters.iter().map(String::as_str).collect();
        let type_filter = parse_type_filter(&type_filters)?;
        Ok(ValidParams {
            resource_types: types,
            since,
            until,
            patients,
            type_filter,
        })
    }
}

/// `(name, entry)` for each entry of `Parameters.parameter` (absent: none).
fn parameter_entries(json: &Value) -> Result<Vec<(&str, &Value)>, Rejection> {
    let Some(list) = json.get("parameter") else {
        return Ok(Vec::new());
    };
    list.as_array()
        .ok_or(Rejection::BodyBadParameterList)?
        .iter()
        .map(|entry| {
            entry
                .get("name")
                .and_then(Value::as_str)
                .map(|name| (name, entry))
                .ok_or(Rejection::BodyBadParameterList)
        })
        .collect()
}

fn value_string<'a>(entry: &'a Value, name: &str) -> Result<&'a str, Rejection> {
    entry
        .get("valueString")
        .and_then(Value::as_str)
        .ok_or_else(|| Rejection::NotValueString(name.to_owned()))
}

/// `_outputFormat`: absent or one of [`OUTPUT_FORMATS`]. The value changes
/// nothing else: every export is NDJSON.
fn check_output_format(format: Option<&str>) -> Result<(), Rejection> {
    match format {
        Some(f) if !OUTPUT_FORMATS.contains(&f) => Err(Rejection::OutputFormat),
        _ => Ok(()),
    }
}

/// Whether `version` reads `_until` (the IG's STU3 parameter; BCDA's v1
/// knows nothing of it, so v1 ignores it as any unknown parameter).
fn reads_until(version: ApiVersion) -> bool {
    version != ApiVersion::V1
}

/// A POST entry's instant, as `_since` and `_until` take it:
/// `valueInstant`, `valueDateTime` or `valueString`.
fn instant_value(entry: &Value) -> Option<&str> {
    ["valueInstant", "valueDateTime", "valueString"]
        .iter()
        .find_map(|field| entry.get(*field).and_then(Value::as_str))
}

/// A FHIR instant: an RFC 3339 date-time with a required offset, optional
/// fraction, upper-case `T` and `Z` (Go's `time.RFC3339Nano`, which BCDA
/// uses for `_since`, and the FHIR `instant` grammar).
fn parse_instant(value: &str) -> Option<OffsetDateTime> {
    // The `time` crate's RFC 3339 parser takes any date-time separator and
    // lower-case letters; Go's layout and FHIR take only `T` and `Z`.
    if value.as_bytes().get(10) != Some(&b'T') || value.contains(['t', 'z']) {
        return None;
    }
    OffsetDateTime::parse(value, &Rfc3339).ok()
}

/// `_since`: a FHIR instant ([`parse_instant`]) not after `now`.
fn parse_since(value: &str, now: OffsetDateTime) -> Result<OffsetDateTime, Rejection> {
    let since = parse_instant(value).ok_or(Rejection::SinceFormat)?;
    if since > now {
        return Err(Rejection::SinceInFuture);
    }
    Ok(since)
}

/// `_until`: a FHIR instant ([`parse_instant`]) not before `since`. (An
/// `_until` equal to `_since` is allowed, and exports nothing.)
fn parse_until(value: &str, since: Option<OffsetDateTime>) -> Result<OffsetDateTime, Rejection> {
    let until = parse_instant(value).ok_or(Rejection::UntilFormat)?;
    if since.is_some_and(|since| until < since) {
        return Err(Rejection::UntilBeforeSince);
    }
    Ok(until)
}

/// `_type` items: repeats are checked over the whole list before names (as
/// BCDA, whose middleware finds repeats and whose handler finds unknown
/// names), and the client's order is kept. Linear: a set of seen items.
/// Only the version's types are names (`Claim` is not a v1 type).
fn parse_types(items: &[String], version: ApiVersion) -> Result<Vec<ResourceType>, Rejection> {
    if let Some(repeat) = first_repeat(items) {
        return Err(Rejection::RepeatedType(repeat.to_owned()));
    }
    items
        .iter()
        .map(|item| {
            ResourceType::parse(item)
                .filter(|t| ResourceType::of_version(version).contains(t))
                .ok_or_else(|| Rejection::InvalidType {
                    item: item.clone(),
                    supported: supported_types(version),
                })
        })
        .collect()
}

/// The version's types in a fixed order (`Patient Coverage
/// ExplanationOfBenefit`, and on v2 `Claim ClaimResponse`), where BCDA
/// prints a Go map (random order).
fn supported_types(version: ApiVersion) -> String {
    ResourceType::of_version(version)
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------
// Headers

/// The tokens of a comma-separated header (every line of it): each item up
/// to its first `;`, trimmed. Values that are not visible ASCII give no
/// tokens.
fn header_tokens<'a>(headers: &'a HeaderMap, name: &header::HeaderName) -> Vec<&'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|item| item.split(';').next().unwrap_or("").trim())
        .filter(|token| !token.is_empty())
        .collect()
}

/// Whether the header is absent or blank (Go's `h.Get(name) == ""`).
fn header_missing(headers: &HeaderMap, name: &header::HeaderName) -> bool {
    headers
        .get_all(name)
        .iter()
        .all(|value| value.as_bytes().iter().all(u8::is_ascii_whitespace))
}

/// Whether the header lists `wanted` (case-insensitive, parameters ignored).
fn header_has(headers: &HeaderMap, name: &header::HeaderName, wanted: &str) -> bool {
    header_tokens(headers, name)
        .iter()
        .any(|token| token.eq_ignore_ascii_case(wanted))
}

/// `Accept` must list `application/fhir+json`.
fn check_accept(headers: &HeaderMap) -> Result<(), Rejection> {
    if header_missing(headers, &header::ACCEPT) {
        return Err(Rejection::AcceptRequired);
    }
    if !header_has(headers, &header::ACCEPT, "application/fhir+json") {
        return Err(Rejection::AcceptUnsupported);
    }
    Ok(())
}

/// `Prefer` must list `respond-async`.
fn check_prefer(headers: &HeaderMap) -> Result<(), Rejection> {
    let prefer = header::HeaderName::from_static("prefer");
    if header_missing(headers, &prefer) {
        return Err(Rejection::PreferRequired);
    }
    if !header_has(headers, &prefer, "respond-async") {
        return Err(Rejection::PreferUnsupported);
    }
    Ok(())
}

/// A POST body must be FHIR JSON (parameters such as `charset` ignored).
fn check_content_type(headers: &HeaderMap) -> Result<(), Rejection> {
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(str::trim);
    match media_type {
        Some(t)
            if t.eq_ignore_ascii_case("application/fhir+json")
                || t.eq_ignore_ascii_case("application/json") =>
        {
            Ok(())
        }
        _ => Err(Rejection::ContentTypeUnsupported),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2024-06-01 12:00 UTC);
    const ALL_TYPES: &str = "Patient Coverage ExplanationOfBenefit";
    const V2_TYPES: &str = "Patient Coverage ExplanationOfBenefit Claim ClaimResponse";

    // BCDA's exact texts, written out here so the tests pin the wording
    // independently of `Rejection`'s display strings.
    const INVALID_GROUP: &str = "Invalid group ID";
    const QUESTION_MARK_KEY: &str = "Invalid parameter: query parameters cannot start with ?";
    const ELEMENTS_UNSUPPORTED: &str =
        "Invalid parameter: this server does not support the _elements parameter.";
    const SINCE_FORMAT: &str =
        "Invalid date format supplied in _since parameter.  Date must be in FHIR Instant format.";
    const SINCE_FUTURE: &str = "Invalid date format supplied in _since parameter. Date must be a date that has already passed";
    const ACCEPT_REQUIRED: &str = "Accept header is required";
    const ACCEPT_UNSUPPORTED: &str = "application/fhir+json is the only supported response format";
    const PREFER_REQUIRED: &str = "Prefer header is required";
    const PREFER_UNSUPPORTED: &str = "Only asynchronous responses are supported";
    const CONTENT_TYPE_UNSUPPORTED: &str =
        "Content-Type of a POST kick-off must be application/fhir+json or application/json";
    const BODY_MISSING: &str =
        "Invalid request body: a POST kick-off needs a FHIR Parameters resource as its body";
    const BODY_NOT_JSON: &str = "Invalid request body: not valid JSON";
    const BODY_NOT_PARAMETERS: &str =
        "Invalid request body: expected a FHIR Parameters resource (resourceType Parameters)";
    const BODY_BAD_PARAMETER_LIST: &str =
        "Invalid request body: Parameters.parameter must be an array of objects with a name";

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            let name = header::HeaderName::from_bytes(name.as_bytes()).expect("header name");
            map.append(name, HeaderValue::from_str(value).expect("header value"));
        }
        map
    }

    fn good_headers() -> HeaderMap {
        headers(&[
            ("accept", "application/fhir+json"),
            ("prefer", "respond-async"),
        ])
    }

    fn post_headers() -> HeaderMap {
        let mut map = good_headers();
        map.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/fhir+json"),
        );
        map
    }

    fn get(group: Option<&str>, query: &str) -> Result<ExportRequest, Rejection> {
        parse_kickoff(
            ApiVersion::V2,
            group.map_or(KickoffRoute::Patient, KickoffRoute::Group),
            &Method::GET,
            Some(query),
            &good_headers(),
            None,
            NOW,
        )
    }

    fn post(query: &str, body: &str) -> Result<ExportRequest, Rejection> {
        parse_kickoff(
            ApiVersion::V1,
            KickoffRoute::Group("all"),
            &Method::POST,
            Some(query),
            &post_headers(),
            Some(body.as_bytes()),
            NOW,
        )
    }

    fn parameters(entries: &str) -> String {
        format!(r#"{{"resourceType":"Parameters","parameter":[{entries}]}}"#)
    }

    fn message(result: Result<ExportRequest, Rejection>) -> String {
        match result {
            Err(rejection) if rejection != Rejection::MethodNotAllowed => rejection.to_string(),
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    fn since_of(result: Result<ExportRequest, Rejection>) -> OffsetDateTime {
        match result {
            Ok(ExportRequest {
                since: Some(since), ..
            }) => since,
            other => panic!("expected a _since, got {other:?}"),
        }
    }

    fn types_of(result: Result<ExportRequest, Rejection>) -> Vec<ResourceType> {
        match result {
            Ok(request) => request.resource_types,
            Err(e) => panic!("expected success, got {e:?}"),
        }
    }

    #[test]
    fn get_errors_have_bcda_messages() {
        let outfmt = "_outputFormat parameter must be one of [ndjson application/fhir+ndjson application/ndjson]";
        let unknown = |t: &str| format!("invalid resource type {t}. Supported types [{V2_TYPES}]");
        let cases: Vec<(Option<&str>, &str, String)> = vec![
            (Some("sub"), "", INVALID_GROUP.into()),
            (Some("new"), "", INVALID_GROUP.into()),
            (Some("ALL"), "", INVALID_GROUP.into()),
            (Some(""), "", INVALID_GROUP.into()),
            (
                None,
                "?_since=2020-02-13T08:00:00Z",
                QUESTION_MARK_KEY.into(),
            ),
            (
                None,
                "_type=Patient&?_since=2020-02-13T08:00:00Z",
                QUESTION_MARK_KEY.into(),
            ),
            (None, "%3F_type=Patient", QUESTION_MARK_KEY.into()),
            (None, "_outputFormat=text/html", outfmt.into()),
            (None, "_outputFormat=", outfmt.into()),
            (None, "_outputFormat=NDJSON", outfmt.into()),
            (None, "_outputFormat=application/fhir%2Bjson", outfmt.into()),
            (None, "_elements=Patient.id", ELEMENTS_UNSUPPORTED.into()),
            (None, "_elements", ELEMENTS_UNSUPPORTED.into()),
            (None, "_since=123invalid", SINCE_FORMAT.into()),
            (None, "_since=05-25-1977", SINCE_FORMAT.into()),
            (None, "_since=2020-02-13", SINCE_FORMAT.into()),
            (None, "_since=2020-02-13T08:00:00", SINCE_FORMAT.into()),
            (
                None,
                "_since=2020-02-13T08:00:00.000-05:00dfghj",
                SINCE_FORMAT.into(),
            ),
            (
                None,
                "_since=erty2020-02-13T08:00:00.000-05:00",
                SINCE_FORMAT.into(),
            ),
            (None, "_since=2020-02-13t08:00:00z", SINCE_FORMAT.into()),
            (None, "_since=2020-02-13 08:00:00Z", SINCE_FORMAT.into()),
            (None, "_since=2020-13-13T08:00:00Z", SINCE_FORMAT.into()),
            (None, "_since=2020-02-13X08:00:00Z", SINCE_FORMAT.into()),
            (None, "_since=2020-02-13T8:00:00Z", SINCE_FORMAT.into()),
            (None, "_since=2020-02-13T08:00:00.Z", SINCE_FORMAT.into()),
            (
                None,
                "_since=2020-02-13T08:00:00%2B0500",
                SINCE_FORMAT.into(),
            ),
            (None, "_since=2020-02-13T24:00:00Z", SINCE_FORMAT.into()),
            (None, "_since=", SINCE_FORMAT.into()),
            (None, "_since=2024-06-01T12:00:00.001Z", SINCE_FUTURE.into()),
            (
                None,
                "_since=2030-01-01T00:00:00-05:00",
                SINCE_FUTURE.into(),
            ),
            (
                None,
                "_type=Patient,Patient",
                "Repeated resource type Patient".into(),
            ),
            (
                None,
                "_type=ExplanationOfBenefit,Coverage,ExplanationOfBenefit",
                "Repeated resource type ExplanationOfBenefit".into(),
            ),
            // Repeats are found before unknown names, as in BCDA.
            (
                None,
                "_type=Foo,Patient,Patient",
                "Repeated resource type Patient".into(),
            ),
            (None, "_type=Patient,,", "Repeated resource type ".into()),
            (None, "_type=Observation", unknown("Observation")),
            (None, "_type=Patient,Observation", unknown("Observation")),
            (None, "_type=patient", unknown("patient")),
            (None, "_type=", unknown("")),
            (None, "_type=Patient,", unknown("")),
            (None, "_type=Patient,%20Coverage", unknown(" Coverage")),
        ];
        for (group, query, want) in cases {
            assert_eq!(
                message(get(group, query)),
                want,
                "group {group:?}, query {query:?}"
            );
        }
    }

    #[test]
    fn parameter_checks_follow_bcda_order() {
        let cases = [
            (
                "_since=bad&_outputFormat=x",
                "_outputFormat parameter must be one of",
            ),
            (
                "_elements=x&_outputFormat=x",
                "_outputFormat parameter must be one of",
            ),
            ("?x=1&_elements=x", ELEMENTS_UNSUPPORTED),
            ("_since=bad&?x=1", QUESTION_MARK_KEY),
            ("_type=Foo&_since=bad", SINCE_FORMAT),
        ];
        for (query, want) in cases {
            assert!(
                message(get(None, query)).starts_with(want),
                "query {query:?}"
            );
        }
        // The group id comes first of all.
        assert_eq!(message(get(Some("x"), "_since=bad")), INVALID_GROUP);
    }

    #[test]
    fn header_errors_have_bcda_messages() {
        let cases: [(&[(&str, &str)], &str); 11] = [
            (&[("prefer", "respond-async")], ACCEPT_REQUIRED),
            (
                &[("accept", ""), ("prefer", "respond-async")],
                ACCEPT_REQUIRED,
            ),
            (
                &[("accept", "application/json"), ("prefer", "respond-async")],
                ACCEPT_UNSUPPORTED,
            ),
            (
                &[("accept", "*/*"), ("prefer", "respond-async")],
                ACCEPT_UNSUPPORTED,
            ),
            (
                &[
                    ("accept", "application/fhir+ndjson"),
                    ("prefer", "respond-async"),
                ],
                ACCEPT_UNSUPPORTED,
            ),
            (&[("accept", "application/fhir+json")], PREFER_REQUIRED),
            (
                &[("accept", "application/fhir+json"), ("prefer", " ")],
                PREFER_REQUIRED,
            ),
            (
                &[
                    ("accept", "application/fhir+json"),
                    ("prefer", "respond-sync"),
                ],
                PREFER_UNSUPPORTED,
            ),
            (
                &[
                    ("accept", "application/fhir+json"),
                    ("prefer", "handling=lenient"),
                ],
                PREFER_UNSUPPORTED,
            ),
            // Accept is checked before Prefer.
            (&[], ACCEPT_REQUIRED),
            (&[("accept", "text/html")], ACCEPT_UNSUPPORTED),
        ];
        for (given, want) in cases {
            let result = parse_kickoff(
                ApiVersion::V1,
                KickoffRoute::Patient,
                &Method::GET,
                None,
                &headers(given),
                None,
                NOW,
            );
            assert_eq!(message(result), want, "headers {given:?}");
        }
    }

    #[test]
    fn parameters_are_checked_before_headers() {
        let result = parse_kickoff(
            ApiVersion::V1,
            KickoffRoute::Group("all"),
            &Method::GET,
            Some("_type=Foo"),
            &HeaderMap::new(),
            None,
            NOW,
        );
        assert!(message(result).starts_with("invalid resource type Foo"));
        let result = parse_kickoff(
            ApiVersion::V1,
            KickoffRoute::Group("x"),
            &Method::GET,
            None,
            &HeaderMap::new(),
            None,
            NOW,
        );
        assert_eq!(message(result), INVALID_GROUP);
    }

    #[test]
    fn accepted_header_forms() {
        let cases: [&[(&str, &str)]; 6] = [
            &[
                ("accept", "application/fhir+json"),
                ("prefer", "respond-async"),
            ],
            &[
                ("accept", "Application/FHIR+JSON"),
                ("prefer", "Respond-Async"),
            ],
            &[
                ("accept", "application/json, application/fhir+json;q=0.9"),
                ("prefer", "respond-async"),
            ],
            &[
                ("accept", "application/fhir+json; fhirVersion=4.0"),
                ("prefer", "respond-async, handling=lenient"),
            ],
            &[
                ("accept", "text/html"),
                ("accept", "application/fhir+json"),
                ("prefer", "handling=strict; x=y, respond-async"),
            ],
            &[
                ("accept", " application/fhir+json "),
                ("prefer", "respond-async;wait=10"),
            ],
        ];
        for given in cases {
            let result = parse_kickoff(
                ApiVersion::V1,
                KickoffRoute::Patient,
                &Method::GET,
                None,
                &headers(given),
                None,
                NOW,
            );
            assert!(result.is_ok(), "headers {given:?}: {result:?}");
        }
    }

    #[test]
    fn routes_give_request_kinds() {
        let kind = |group| get(group, "").map(|r| r.kind).ok();
        assert_eq!(kind(None), Some(RequestKind::Patient));
        assert_eq!(kind(Some("all")), Some(RequestKind::GroupAll));
        assert_eq!(kind(Some("runout")), Some(RequestKind::GroupRunout));
        let system = on_route(ApiVersion::V2, KickoffRoute::System, &Method::GET, "");
        assert_eq!(system.map(|r| r.kind).ok(), Some(RequestKind::System));
    }

    /// A kick-off of `version` on `route`: a GET with `query` as its query
    /// string, or a POST with `query` as its body.
    fn on_route(
        version: ApiVersion,
        route: KickoffRoute<'_>,
        method: &Method,
        query_or_body: &str,
    ) -> Result<ExportRequest, Rejection> {
        let is_post = *method == Method::POST;
        parse_kickoff(
            version,
            route,
            method,
            (!is_post).then_some(query_or_body),
            &post_headers(),
            is_post.then_some(query_or_body.as_bytes()),
            NOW,
        )
    }

    fn patient_entry(reference: &str) -> String {
        format!(r#"{{"name":"patient","valueReference":{{"reference":"{reference}"}}}}"#)
    }

    #[test]
    fn patient_entries_are_read_once_each_in_order() {
        let body = parameters(
            &[
                patient_entry("Patient/-10000000000002"),
                patient_entry("Patient/a-b.C9"),
                patient_entry("Patient/-10000000000002"),
                r#"{"name":"_type","valueString":"Coverage"}"#.to_owned(),
            ]
            .join(","),
        );
        for route in [
            KickoffRoute::Patient,
            KickoffRoute::Group("all"),
            KickoffRoute::Group("runout"),
        ] {
            let request = on_route(ApiVersion::V1, route, &Method::POST, &body).expect("valid");
            assert_eq!(request.patients, ["-10000000000002", "a-b.C9"], "{route:?}");
            assert_eq!(request.resource_types, [ResourceType::Coverage]);
        }
        let none = on_route(
            ApiVersion::V2,
            KickoffRoute::Patient,
            &Method::POST,
            &parameters(""),
        );
        assert_eq!(none.expect("valid").patients, Vec::<String>::new());
        // A GET ignores `patient`, as BCDA does.
        let get = get(None, "patient=Patient%2F1&patient=junk").expect("valid");
        assert!(get.patients.is_empty());
    }

    #[test]
    fn patient_refusals_in_turn() {
        let not_reference =
            "Invalid parameter: patient must be given as a valueReference with a reference";
        let form = |r: &str| {
            format!("Invalid parameter: patient reference {r:?} is not of the form Patient/<id>")
        };
        let long_id = format!("Patient/{}", "1".repeat(65));
        let cases: Vec<(String, String)> = vec![
            (
                r#"{"name":"patient","valueString":"Patient/1"}"#.into(),
                not_reference.into(),
            ),
            (
                r#"{"name":"patient","valueReference":"Patient/1"}"#.into(),
                not_reference.into(),
            ),
            (
                r#"{"name":"patient","valueReference":{"display":"x"}}"#.into(),
                not_reference.into(),
            ),
            (
                r#"{"name":"patient","valueReference":{"reference":7}}"#.into(),
                not_reference.into(),
            ),
            (patient_entry("Practitioner/1"), form("Practitioner/1")),
            (patient_entry("Patient/"), form("Patient/")),
            (patient_entry("patient/1"), form("patient/1")),
            (patient_entry("Patient/a b"), form("Patient/a b")),
            (
                patient_entry("Patient/1/_history/2"),
                form("Patient/1/_history/2"),
            ),
            (
                patient_entry("https://x.test/Patient/1"),
                form("https://x.test/Patient/1"),
            ),
            (patient_entry(&long_id), form(&long_id)),
            // The first malformed entry is named.
            (
                [
                    patient_entry("Patient/1"),
                    patient_entry("Group/2"),
                    patient_entry("x"),
                ]
                .join(","),
                form("Group/2"),
            ),
            // `_elements` speaks first; `patient` before `_since` and `_type`.
            (
                [
                    patient_entry("x"),
                    r#"{"name":"_elements","valueString":"id"}"#.into(),
                ]
                .join(","),
                ELEMENTS_UNSUPPORTED.into(),
            ),
            (
                [
                    patient_entry("x"),
                    r#"{"name":"_since","valueInstant":"bad"}"#.into(),
                ]
                .join(","),
                form("x"),
            ),
            (
                [
                    patient_entry("Patient/1"),
                    r#"{"name":"_since","valueInstant":"bad"}"#.into(),
                ]
                .join(","),
                SINCE_FORMAT.into(),
            ),
        ];
        for (entries, want) in cases {
            let body = parameters(&entries);
            let result = on_route(
                ApiVersion::V2,
                KickoffRoute::Group("all"),
                &Method::POST,
                &body,
            );
            assert_eq!(message(result), want, "{body}");
        }
        // More entries than the cap, however they repeat.
        let many = vec![patient_entry("Patient/1"); MAX_PATIENTS + 1].join(",");
        let result = on_route(
            ApiVersion::V2,
            KickoffRoute::Patient,
            &Method::POST,
            &parameters(&many),
        );
        assert_eq!(
            message(result),
            "Invalid parameter: patient lists more than 1000 items"
        );
        let most = vec![patient_entry("Patient/1"); MAX_PATIENTS].join(",");
        let result = on_route(
            ApiVersion::V2,
            KickoffRoute::Patient,
            &Method::POST,
            &parameters(&most),
        );
        assert_eq!(result.expect("at the cap").patients, ["1"]);
        // The system-level export does not take `patient`, well-formed or not.
        let system = "Invalid parameter: patient is not applicable to a system-level export; \
                      use Patient/$export or Group/all/$export";
        for entry in [patient_entry("Patient/1"), patient_entry("junk")] {
            let result = on_route(
                ApiVersion::V3,
                KickoffRoute::System,
                &Method::POST,
                &parameters(&entry),
            );
            assert_eq!(message(result), system);
        }
        // `patient` in the query string of a POST.
        let result = parse_kickoff(
            ApiVersion::V2,
            KickoffRoute::Patient,
            &Method::POST,
            Some("patient=Patient%2F1"),
            &post_headers(),
            Some(parameters("").as_bytes()),
            NOW,
        );
        assert!(matches!(result, Err(Rejection::ParameterInPostQuery(p)) if p == "patient"));
    }

    const UNTIL_FORMAT: &str =
        "Invalid date format supplied in _until parameter.  Date must be in FHIR Instant format.";
    const UNTIL_BEFORE_SINCE: &str =
        "Invalid date format supplied in _until parameter. Date must not be before the _since date";

    fn until_of(result: Result<ExportRequest, Rejection>) -> Option<OffsetDateTime> {
        match result {
            Ok(request) => request.until,
            Err(e) => panic!("expected success, got {e:?}"),
        }
    }

    #[test]
    fn until_is_read_on_v2_and_later_only() {
        let query = "_until=2024-01-01T00:00:00.000-05:00";
        for version in [ApiVersion::V2, ApiVersion::V3] {
            assert_eq!(
                until_of(get_version(version, query)),
                Some(datetime!(2024-01-01 5:00 UTC))
            );
            let body = parameters(
                r#"{"name":"_until","valueInstant":"2024-01-01T00:00:00Z"},{"name":"_until","valueString":"bad"}"#,
            );
            assert_eq!(
                until_of(post_version(version, &body)),
                Some(datetime!(2024-01-01 0:00 UTC)),
                "the first entry counts"
            );
        }
        // v1 ignores it, however malformed.
        assert_eq!(until_of(get_version(ApiVersion::V1, "_until=junk")), None);
        let body = parameters(r#"{"name":"_until","valueCode":"junk"}"#);
        assert_eq!(until_of(post_version(ApiVersion::V1, &body)), None);
        // A future `_until` is taken (it exports what exists at the time).
        assert_eq!(
            until_of(get_version(ApiVersion::V2, "_until=2099-01-01T00:00:00Z")),
            Some(datetime!(2099-01-01 0:00 UTC))
        );
        // Equal to `_since`: allowed (an empty window).
        let equal = "_since=2024-01-01T00:00:00Z&_until=2024-01-01T00:00:00Z";
        assert!(until_of(get_version(ApiVersion::V2, equal)).is_some());
        // A `+` sent unencoded reads back as `+`, as for `_since`.
        assert_eq!(
            until_of(get_version(
                ApiVersion::V2,
                "_until=2024-01-01T08:00:00+05:00"
            )),
            Some(datetime!(2024-01-01 3:00 UTC))
        );
    }

    #[test]
    fn until_refusals_in_turn() {
        let cases = [
            ("_until=2024-01-01", UNTIL_FORMAT),
            ("_until=2024-01-01T00:00:00", UNTIL_FORMAT),
            ("_until=2024-01-01t00:00:00z", UNTIL_FORMAT),
            ("_until=", UNTIL_FORMAT),
            (
                "_since=2024-01-02T00:00:00Z&_until=2024-01-01T23:59:59.999Z",
                UNTIL_BEFORE_SINCE,
            ),
            // `_since` speaks first, `_type` after.
            ("_since=bad&_until=bad", SINCE_FORMAT),
            ("_until=bad&_type=Observation", UNTIL_FORMAT),
        ];
        for (query, want) in cases {
            assert_eq!(message(get_version(ApiVersion::V2, query)), want, "{query}");
        }
        let body = parameters(r#"{"name":"_until","valueDate":"2024-01-01"}"#);
        assert_eq!(message(post_version(ApiVersion::V3, &body)), UNTIL_FORMAT);
        // In the query string of a POST, on any version.
        let result = parse_kickoff(
            ApiVersion::V1,
            KickoffRoute::Patient,
            &Method::POST,
            Some("_until=2024-01-01T00:00:00Z"),
            &post_headers(),
            Some(parameters("").as_bytes()),
            NOW,
        );
        assert!(matches!(result, Err(Rejection::ParameterInPostQuery(p)) if p == "_until"));
    }

    #[test]
    fn defaults_without_parameters() {
        for query in [None, Some(""), Some("&&")] {
            let result = parse_kickoff(
                ApiVersion::V1,
                KickoffRoute::Patient,
                &Method::GET,
                query,
                &good_headers(),
                None,
                NOW,
            );
            assert_eq!(
                result.ok(),
                Some(ExportRequest {
                    version: ApiVersion::V1,
                    kind: RequestKind::Patient,
                    // None given: the ACO's defaults, resolved at kick-off.
                    resource_types: Vec::new(),
                    since: None,
                    until: None,
                    patients: Vec::new(),
                    type_filter: None,
                })
            );
        }
    }

    #[test]
    fn valid_since_forms() {
        let cases = [
            (
                "2020-02-13T08:00:00.000-05:00",
                datetime!(2020-02-13 13:00 UTC),
            ),
            ("2020-02-13T08:00:00Z", datetime!(2020-02-13 08:00 UTC)),
            (
                "2020-02-13T08:00:00.123456789Z",
                datetime!(2020-02-13 08:00:00.123456789 UTC),
            ),
            (
                "2020-02-13T08:00:00.5%2B05:00",
                datetime!(2020-02-13 03:00:00.5 UTC),
            ),
            (
                "2020-02-13T08:00:00%2B05:00",
                datetime!(2020-02-13 03:00 UTC),
            ),
            // An unencoded `+` arrives as a space; read back as `+`.
            (
                "2020-02-13T08:00:00.000+05:00",
                datetime!(2020-02-13 03:00 UTC),
            ),
            (
                "2020-02-13T08:00:00.000%2005:00",
                datetime!(2020-02-13 03:00 UTC),
            ),
            ("2020-02-13T08%3A00%3A00Z", datetime!(2020-02-13 08:00 UTC)),
            // BCDA enforces no lower bound.
            ("1999-12-31T23:59:59Z", datetime!(1999-12-31 23:59:59 UTC)),
            // Exactly now has already passed (Go's `After` is strict).
            ("2024-06-01T12:00:00Z", NOW),
        ];
        for (value, want) in cases {
            let since = since_of(get(Some("all"), &format!("_since={value}")));
            assert_eq!(since, want, "_since={value}");
        }
    }

    #[test]
    fn type_lists_are_capped_in_turn() {
        let over = ["Patient"; 33].join(",");
        assert_eq!(
            message(get(None, &format!("_type={over}"))),
            "Invalid parameter: _type lists more than 32 items"
        );
        // The cap is `_type`'s check: earlier parameters speak first.
        assert_eq!(
            message(get(None, &format!("_since=bad&_type={over}"))),
            SINCE_FORMAT
        );
        let distinct: Vec<String> = (0..20_000).map(|i| format!("T{i}")).collect();
        assert_eq!(
            message(get(None, &format!("_type={}", distinct.join(",")))),
            "Invalid parameter: _type lists more than 32 items"
        );
    }

    #[test]
    fn first_occurrence_wins() {
        let since = since_of(get(None, "_since=2020-01-01T00:00:00Z&_since=bad"));
        assert_eq!(since, datetime!(2020-01-01 0:00 UTC));
        assert_eq!(
            message(get(None, "_since=bad&_since=2020-01-01T00:00:00Z")),
            SINCE_FORMAT
        );
        let types = types_of(get(None, "_type=Coverage&_type=Patient"));
        assert_eq!(types, [ResourceType::Coverage]);
        assert!(get(None, "_outputFormat=ndjson&_outputFormat=bad").is_ok());
    }

    #[test]
    fn valid_output_formats() {
        for value in [
            "ndjson",
            "application/fhir%2Bndjson",
            "application/fhir+ndjson",
            "application/ndjson",
            "application%2Fndjson",
        ] {
            assert!(
                get(None, &format!("_outputFormat={value}")).is_ok(),
                "{value}"
            );
        }
    }

    #[test]
    fn partially_adjudicated_types_are_v2_names_only() {
        let types = types_of(get(None, "_type=ClaimResponse,Claim"));
        assert_eq!(types, [ResourceType::ClaimResponse, ResourceType::Claim]);
        // v1 (the POST helper's version) does not know them.
        assert_eq!(
            message(post(
                "",
                &parameters(r#"{"name":"_type","valueString":"Claim"}"#)
            )),
            format!("invalid resource type Claim. Supported types [{ALL_TYPES}]")
        );
    }

    #[test]
    fn types_keep_the_clients_order() {
        let types = types_of(get(None, "_type=ExplanationOfBenefit,Patient"));
        assert_eq!(
            types,
            [ResourceType::ExplanationOfBenefit, ResourceType::Patient]
        );
        let types = types_of(get(None, "_type=Coverage%2CPatient,ExplanationOfBenefit"));
        assert_eq!(
            types,
            [
                ResourceType::Coverage,
                ResourceType::Patient,
                ResourceType::ExplanationOfBenefit
            ]
        );
    }

    #[test]
    fn other_query_parameters_are_ignored() {
        let query = "patient=Patient/1&_typeFilter=ExplanationOfBenefit%3Fservice-date%3Dgt2001&includeAssociatedData=x&foo=bar&=x";
        let types = types_of(get(None, query));
        assert!(types.is_empty(), "no _type: the ACO's defaults");
    }

    const SHARED_SYSTEM_TAG: &str =
        "https://bluebutton.cms.gov/fhir/CodeSystem/System-Type|SharedSystem";

    fn get_version(version: ApiVersion, query: &str) -> Result<ExportRequest, Rejection> {
        parse_kickoff(
            version,
            KickoffRoute::Patient,
            &Method::GET,
            Some(query),
            &good_headers(),
            None,
            NOW,
        )
    }

    fn post_version(version: ApiVersion, body: &str) -> Result<ExportRequest, Rejection> {
        parse_kickoff(
            version,
            KickoffRoute::Group("all"),
            &Method::POST,
            None,
            &post_headers(),
            Some(body.as_bytes()),
            NOW,
        )
    }

    fn type_filter_of(result: Result<ExportRequest, Rejection>) -> Option<TypeFilter> {
        match result {
            Ok(request) => request.type_filter,
            Err(e) => panic!("expected success, got {e:?}"),
        }
    }

    /// The `_typeFilter` a client means, parsed on its own.
    fn expected_filter(value: &str) -> Option<TypeFilter> {
        parse_type_filter(&[value]).expect("a valid _typeFilter")
    }

    #[test]
    fn v3_get_reads_type_filter() {
        // Encoded once, as a browser or curl --data-urlencode sends it.
        let query = "_type=ExplanationOfBenefit&_typeFilter=ExplanationOfBenefit%3F_tag%3Dhttps%3A%2F%2Fbluebutton.cms.gov%2Ffhir%2FCodeSystem%2FSystem-Type%7CSharedSystem%26service-date%3Dge2024";
        let filter = type_filter_of(get_version(ApiVersion::V3, query));
        let want = format!("ExplanationOfBenefit?_tag={SHARED_SYSTEM_TAG}&service-date=ge2024");
        assert_eq!(filter, expected_filter(&want));
        let filter = filter.expect("a filter");
        assert!(filter.asks_shared_system && filter.names_system_type);
        // Encoded twice: `%252C` is a comma once both decodings are done.
        let query = "_typeFilter=ExplanationOfBenefit%3Foutcome%3Dcomplete%252Cpartial";
        assert_eq!(
            type_filter_of(get_version(ApiVersion::V3, query)),
            expected_filter("ExplanationOfBenefit?outcome=complete,partial")
        );
        assert_eq!(
            type_filter_of(get_version(ApiVersion::V3, "_type=Patient")),
            None
        );
    }

    #[test]
    fn v3_get_type_filter_refusals_in_turn() {
        let cases = [
            (
                "_typeFilter=ExplanationOfBenefit%3Foutcome%3Dcomplete&_typeFilter=ExplanationOfBenefit%3Foutcome%3Dpartial",
                "failed to process request given more that one _typeFilter parameter",
            ),
            (
                "_typeFilter=Patient%3Factive%3Dtrue",
                "invalid _typeFilter Resource Type (Only EOBs valid): Patient",
            ),
            (
                "_typeFilter=ExplanationOfBenefit%3Fstatus%3Dactive",
                "invalid _typeFilter subquery parameter: status",
            ),
            // An invalid escape the first decoding kept is refused by the second.
            (
                "_typeFilter=ExplanationOfBenefit%3Foutcome%3D%zz",
                "failed to unescape ExplanationOfBenefit?outcome=%zz",
            ),
            // `_since` and `_type` speak first.
            ("_since=bad&_typeFilter=x", SINCE_FORMAT),
            (
                "_typeFilter=x&_type=Claim",
                "invalid resource type Claim. Supported types [Patient Coverage ExplanationOfBenefit]",
            ),
        ];
        for (query, want) in cases {
            assert_eq!(message(get_version(ApiVersion::V3, query)), want, "{query}");
        }
        // `_typeFilter` is checked before the headers.
        let result = parse_kickoff(
            ApiVersion::V3,
            KickoffRoute::Patient,
            &Method::GET,
            Some("_typeFilter=x"),
            &HeaderMap::new(),
            None,
            NOW,
        );
        assert_eq!(
            message(result),
            "_typeFilter parameter missing question mark x"
        );
    }

    #[test]
    fn v3_post_reads_type_filter() {
        let value = format!("ExplanationOfBenefit?_tag={SHARED_SYSTEM_TAG}");
        let body = parameters(&format!(
            r#"{{"name":"_typeFilter","valueString":"{value}"}}"#
        ));
        assert_eq!(
            type_filter_of(post_version(ApiVersion::V3, &body)),
            expected_filter(&value)
        );
        let cases = [
            (
                parameters(
                    r#"{"name":"_typeFilter","valueString":"ExplanationOfBenefit?outcome=complete"},
                       {"name":"_typeFilter","valueString":"ExplanationOfBenefit?outcome=partial"}"#,
                ),
                "failed to process request given more that one _typeFilter parameter",
            ),
            (
                parameters(r#"{"name":"_typeFilter","valueCode":"x"}"#),
                "Invalid parameter: _typeFilter must be given as a valueString",
            ),
            (
                parameters(
                    r#"{"name":"_typeFilter","valueString":"ExplanationOfBenefit?service-date=ge2024,2025"}"#,
                ),
                "invalid service-date parameter value: comma-separated values are not supported",
            ),
            (
                parameters(
                    r#"{"name":"_typeFilter","valueString":"x"},{"name":"_type","valueString":"Claim"}"#,
                ),
                "invalid resource type Claim. Supported types [Patient Coverage ExplanationOfBenefit]",
            ),
        ];
        for (body, want) in cases {
            assert_eq!(message(post_version(ApiVersion::V3, &body)), want, "{body}");
        }
        assert_eq!(
            type_filter_of(post_version(ApiVersion::V3, &parameters(""))),
            None
        );
    }

    #[test]
    fn v1_and_v2_ignore_type_filter() {
        let query = "_typeFilter=x&_typeFilter=Patient%3Fy%3D%zz";
        let body = parameters(
            r#"{"name":"_typeFilter","valueString":"x"},{"name":"_typeFilter","valueCode":"y"}"#,
        );
        for version in [ApiVersion::V1, ApiVersion::V2] {
            assert_eq!(
                type_filter_of(get_version(version, query)),
                None,
                "{version:?}"
            );
            assert_eq!(
                type_filter_of(post_version(version, &body)),
                None,
                "{version:?}"
            );
        }
    }

    #[test]
    fn other_methods_are_not_allowed() {
        let result = parse_kickoff(
            ApiVersion::V1,
            KickoffRoute::Patient,
            &Method::DELETE,
            None,
            &good_headers(),
            None,
            NOW,
        );
        assert!(matches!(result, Err(Rejection::MethodNotAllowed)));
    }

    #[test]
    fn get_ignores_a_body() {
        let result = parse_kickoff(
            ApiVersion::V1,
            KickoffRoute::Patient,
            &Method::GET,
            None,
            &good_headers(),
            Some(b"junk"),
            NOW,
        );
        assert!(result.is_ok());
    }

    #[test]
    fn form_decoding() {
        let pairs = query_pairs("a=1+2&b=%41%zz%4&c&=v&d=x=y&e=%E2%9C%93&f=%FF");
        let want = [
            ("a", "1 2"),
            ("b", "A%zz%4"),
            ("c", ""),
            ("", "v"),
            ("d", "x=y"),
            ("e", "\u{2713}"),
            ("f", "\u{FFFD}"),
        ];
        let got: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(got, want);
        assert_eq!(first_value(&pairs, "c"), Some(""));
        assert_eq!(first_value(&pairs, "z"), None);
    }

    #[test]
    fn post_errors() {
        let types = |v: &str| parameters(&format!(r#"{{"name":"_type","valueString":"{v}"}}"#));
        let unknown = |t: &str| format!("invalid resource type {t}. Supported types [{ALL_TYPES}]");
        let cases: Vec<(&str, String, String)> = vec![
            ("", String::new(), BODY_MISSING.into()),
            ("", "  \n".into(), BODY_MISSING.into()),
            ("", "{".into(), BODY_NOT_JSON.into()),
            ("", "[]".into(), BODY_NOT_PARAMETERS.into()),
            ("", r#"{"resourceType":"Bundle"}"#.into(), BODY_NOT_PARAMETERS.into()),
            ("", r#"{"parameter":[]}"#.into(), BODY_NOT_PARAMETERS.into()),
            ("", r#"{"resourceType":"Parameters","parameter":{}}"#.into(), BODY_BAD_PARAMETER_LIST.into()),
            ("", parameters(r#"{"valueString":"Patient"}"#), BODY_BAD_PARAMETER_LIST.into()),
            ("", parameters(r#""_type""#), BODY_BAD_PARAMETER_LIST.into()),
            (
                "",
                parameters(r#"{"name":"_type","valueCode":"Patient"}"#),
                "Invalid parameter: _type must be given as a valueString".into(),
            ),
            (
                "",
                parameters(r#"{"name":"_outputFormat"}"#),
                "Invalid parameter: _outputFormat must be given as a valueString".into(),
            ),
            (
                "",
                parameters(r#"{"name":"_outputFormat","valueString":"text/csv"}"#),
                "_outputFormat parameter must be one of [ndjson application/fhir+ndjson application/ndjson]".into(),
            ),
            ("", parameters(r#"{"name":"_elements","valueString":"id"}"#), ELEMENTS_UNSUPPORTED.into()),
            ("", parameters(r#"{"name":"_since","valueInstant":"2020-02-13"}"#), SINCE_FORMAT.into()),
            ("", parameters(r#"{"name":"_since","valueDate":"2020-02-13"}"#), SINCE_FORMAT.into()),
            ("", parameters(r#"{"name":"_since","valueInstant":"2020-02-13T08:00:00 05:00"}"#), SINCE_FORMAT.into()),
            ("", parameters(r#"{"name":"_since","valueInstant":"2099-02-13T08:00:00Z"}"#), SINCE_FUTURE.into()),
            ("", types("Patient,Patient"), "Repeated resource type Patient".into()),
            (
                "",
                parameters(r#"{"name":"_type","valueString":"Coverage"},{"name":"_type","valueString":"Coverage"}"#),
                "Repeated resource type Coverage".into(),
            ),
            ("", types("Claim"), unknown("Claim")),
            // More than 32 items, in one entry or over several: the cap,
            // before repeats or unknown names.
            (
                "",
                types(&["Patient"; 33].join(",")),
                "Invalid parameter: _type lists more than 32 items".into(),
            ),
            (
                "",
                parameters(&[r#"{"name":"_type","valueString":"A,B,C,D,E,F,G,H,I,J,K"}"#; 3].join(",")),
                "Invalid parameter: _type lists more than 32 items".into(),
            ),
            ("", types(&["Patient"; 32].join(",")), "Repeated resource type Patient".into()),
            ("", types(""), unknown("")),
            // Export parameters belong in the body of a POST.
            (
                "_since=2020-02-13T08:00:00Z",
                parameters(""),
                "Invalid parameter: _since is in the query string of a POST kick-off; \
                 a POST takes its parameters from the Parameters body only"
                    .into(),
            ),
            (
                "foo=1&_type=Patient",
                types("Patient"),
                "Invalid parameter: _type is in the query string of a POST kick-off; \
                 a POST takes its parameters from the Parameters body only"
                    .into(),
            ),
            ("?_type=Patient", parameters(""), QUESTION_MARK_KEY.into()),
        ];
        for (query, body, want) in cases {
            assert_eq!(
                message(post(query, &body)),
                want,
                "query {query:?}, body {body}"
            );
        }
    }

    #[test]
    fn post_content_type() {
        let body = parameters("");
        for (content_type, ok) in [
            (Some("application/fhir+json"), true),
            (Some("application/json"), true),
            (Some("Application/FHIR+JSON; charset=utf-8"), true),
            (Some("application/x-www-form-urlencoded"), false),
            (Some("text/plain"), false),
            (None, false),
        ] {
            let mut map = good_headers();
            if let Some(value) = content_type {
                map.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
            }
            let result = parse_kickoff(
                ApiVersion::V2,
                KickoffRoute::Patient,
                &Method::POST,
                None,
                &map,
                Some(body.as_bytes()),
                NOW,
            );
            match result {
                Ok(_) => assert!(ok, "{content_type:?}"),
                Err(e) => {
                    assert!(!ok, "{content_type:?}");
                    assert_eq!(e.to_string(), CONTENT_TYPE_UNSUPPORTED);
                }
            }
        }
    }

    #[test]
    fn post_checks_headers_after_the_body() {
        let mut map = HeaderMap::new();
        map.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let body = parameters(r#"{"name":"_since","valueInstant":"bad"}"#);
        let result = parse_kickoff(
            ApiVersion::V2,
            KickoffRoute::Patient,
            &Method::POST,
            None,
            &map,
            Some(body.as_bytes()),
            NOW,
        );
        assert_eq!(message(result), SINCE_FORMAT);
        let body = parameters("");
        let result = parse_kickoff(
            ApiVersion::V2,
            KickoffRoute::Patient,
            &Method::POST,
            None,
            &map,
            Some(body.as_bytes()),
            NOW,
        );
        assert_eq!(message(result), ACCEPT_REQUIRED);
    }

    #[test]
    fn valid_posts() {
        /// (query, body, types, since)
        type Case = (
            &'static str,
            String,
            Vec<ResourceType>,
            Option<OffsetDateTime>,
        );
        // No `_type`: empty, the ACO's defaults.
        let all = Vec::new();
        let cases: Vec<Case> = vec![
            (
                "",
                r#"{"resourceType":"Parameters"}"#.into(),
                all.clone(),
                None,
            ),
            ("", parameters(""), all.clone(), None),
            (
                "",
                parameters(
                    r#"{"name":"_type","valueString":"ExplanationOfBenefit"},
                       {"name":"_type","valueString":"Patient,Coverage"},
                       {"name":"_since","valueInstant":"2020-02-13T08:00:00.000+05:00"},
                       {"name":"_outputFormat","valueString":"application/fhir+ndjson"},
                       {"name":"_typeFilter","valueString":"ExplanationOfBenefit?service-date=gt2020"},
                       {"name":"includeAssociatedData","valueString":"x"}"#,
                ),
                vec![
                    ResourceType::ExplanationOfBenefit,
                    ResourceType::Patient,
                    ResourceType::Coverage,
                ],
                Some(datetime!(2020-02-13 03:00 UTC)),
            ),
            (
                "",
                parameters(
                    r#"{"name":"_since","valueDateTime":"2020-02-13T08:00:00Z"},{"name":"_since","valueString":"bad"}"#,
                ),
                all.clone(),
                Some(datetime!(2020-02-13 08:00 UTC)),
            ),
            (
                // Other query parameters are ignored, as on GET.
                "foo=bar",
                parameters(r#"{"name":"_since","valueString":"2020-02-13T08:00:00-05:00"}"#),
                all.clone(),
                Some(datetime!(2020-02-13 13:00 UTC)),
            ),
        ];
        for (query, body, types, since) in cases {
            let request = post(query, &body);
            let want = ExportRequest {
                version: ApiVersion::V1,
                kind: RequestKind::GroupAll,
                resource_types: types,
                since,
                until: None,
                patients: Vec::new(),
                type_filter: None,
            };
            assert_eq!(request.ok(), Some(want), "body {body}");
        }
    }
}

//! Why a request's parameters or headers were refused, with BCDA's exact
//! diagnostics as the display text. The HTTP layer turns every one into a
//! 400 OperationOutcome (or a 405) in one place (`http/error.rs`).

/// The `_outputFormat` values BCDA accepts, in the order its message lists
/// them.
pub const OUTPUT_FORMATS: [&str; 3] = ["ndjson", "application/fhir+ndjson", "application/ndjson"];

/// A refused kick-off or jobs-list request. The display text is the
/// OperationOutcome's diagnostics, word for word as BCDA writes them (or,
/// for checks BCDA does not make, in its style).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// A kick-off method other than GET or POST (a 405; the router does not
    /// route one to the parser).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// `Group/{id}/$export` with an id other than `all` or `runout`.
    #[error("Invalid group ID")]
    InvalidGroup,
    /// A doubled `?` (`...$export?_type=X&?_since=...`).
    #[error("Invalid parameter: query parameters cannot start with ?")]
    QuestionMarkKey,
    /// `_elements` (BCDA does not support it).
    #[error("Invalid parameter: this server does not support the _elements parameter.")]
    ElementsUnsupported,
    /// A `patient` entry without a `valueReference` holding a `reference`.
    #[error("Invalid parameter: patient must be given as a valueReference with a reference")]
    PatientNotReference,
    /// A `patient` reference that is not `Patient/<id>` (a FHIR id).
    #[error("Invalid parameter: patient reference {0:?} is not of the form Patient/<id>")]
    PatientReferenceForm(String),
    /// `patient` on the system-level `$export`, where the IG does not
    /// define it.
    #[error(
        "Invalid parameter: patient is not applicable to a system-level export; use Patient/$export or Group/all/$export"
    )]
    PatientOnSystemExport,
    /// `patient` references that are not members of the attribution the
    /// export reads (the same answer for an id that exists nowhere and one
    /// attributed to another ACO). `references` lists them, comma-separated.
    #[error("Invalid parameter: not in this ACO's {attribution} attribution: {references}")]
    PatientsNotAttributed {
        /// `Patient/<id>, Patient/<id>`, in the client's order.
        references: String,
        /// `current` (Patient/$export, Group/all) or `runout`.
        attribution: &'static str,
    },
    /// `_since` is not a FHIR instant. (Two spaces after the first full
    /// stop: BCDA's text, asserted by its Postman suite.)
    #[error(
        "Invalid date format supplied in _since parameter.  Date must be in FHIR Instant format."
    )]
    SinceFormat,
    /// `_since` is in the future.
    #[error(
        "Invalid date format supplied in _since parameter. Date must be a date that has already passed"
    )]
    SinceInFuture,
    /// `_until` is not a FHIR instant (`_since`'s text, double space
    /// included).
    #[error(
        "Invalid date format supplied in _until parameter.  Date must be in FHIR Instant format."
    )]
    UntilFormat,
    /// `_until` is before `_since`.
    #[error(
        "Invalid date format supplied in _until parameter. Date must not be before the _since date"
    )]
    UntilBeforeSince,
    /// `_outputFormat` is not one of [`OUTPUT_FORMATS`] (Go's `%v` of a
    /// string slice: `[a b c]`).
    #[error("_outputFormat parameter must be one of [{}]", OUTPUT_FORMATS.join(" "))]
    OutputFormat,
    /// A list parameter with more items than the most allowed
    /// (`list_param::MAX_LIST_ITEMS`; `patient`: `request::MAX_PATIENTS`).
    #[error("Invalid parameter: {parameter} lists more than {max} items")]
    TooManyItems {
        /// `_type`, `_status` or `patient`.
        parameter: &'static str,
        /// The most items allowed (`MAX_LIST_ITEMS`).
        max: usize,
    },
    /// A `_type` item given twice.
    #[error("Repeated resource type {0}")]
    RepeatedType(String),
    /// A `_type` item that names no exportable type. `supported` is the
    /// list in a fixed order (BCDA prints a Go map, in random order).
    #[error("invalid resource type {item}. Supported types [{supported}]")]
    InvalidType {
        /// The item as given.
        item: String,
        /// The supported names, space-separated.
        supported: String,
    },
    /// A `_type` the ACO's data sets do not include (BCDA's text).
    #[error("unauthorized resource type {0}")]
    UnauthorizedType(&'static str),
    /// No `_type`, and none of the version's types is in the ACO's data
    /// sets (a partially-adjudicated-only ACO on v1).
    #[error("this ACO's data ({data}) has no resource types on {version}; use /api/v2")]
    NoTypesInVersion {
        /// The ACO's data sets.
        data: String,
        /// `v1`.
        version: &'static str,
    },
    /// A `_status` item given twice.
    #[error("Repeated status type {0}")]
    RepeatedStatus(String),
    /// A `_status` item that names no job status.
    #[error("invalid status type {item}. Supported types [{supported}]")]
    InvalidStatus {
        /// The item as given.
        item: String,
        /// The statuses, space-separated, in BCDA's order.
        supported: String,
    },
    /// No `Accept` header.
    #[error("Accept header is required")]
    AcceptRequired,
    /// `Accept` does not list `application/fhir+json`.
    #[error("application/fhir+json is the only supported response format")]
    AcceptUnsupported,
    /// No `Prefer` header.
    #[error("Prefer header is required")]
    PreferRequired,
    /// `Prefer` does not list `respond-async`.
    #[error("Only asynchronous responses are supported")]
    PreferUnsupported,
    /// An export parameter in the query string of a POST kick-off.
    #[error(
        "Invalid parameter: {0} is in the query string of a POST kick-off; a POST takes its parameters from the Parameters body only"
    )]
    ParameterInPostQuery(String),
    /// A POST kick-off body that is not FHIR JSON.
    #[error("Content-Type of a POST kick-off must be application/fhir+json or application/json")]
    ContentTypeUnsupported,
    /// A POST kick-off without a body.
    #[error("Invalid request body: a POST kick-off needs a FHIR Parameters resource as its body")]
    BodyMissing,
    /// A POST body that is not JSON.
    #[error("Invalid request body: not valid JSON")]
    BodyNotJson,
    /// A POST body that is not a `Parameters` resource.
    #[error("Invalid request body: expected a FHIR Parameters resource (resourceType Parameters)")]
    BodyNotParameters,
    /// `Parameters.parameter` is not a list of named entries.
    #[error("Invalid request body: Parameters.parameter must be an array of objects with a name")]
    BodyBadParameterList,
    /// A POST parameter that must be a `valueString` is not.
    #[error("Invalid parameter: {0} must be given as a valueString")]
    NotValueString(String),
    /// An API v3 `_typeFilter` BCDA refuses; the text is its parser's, word
    /// for word (`export::type_filter`).
    #[error("{0}")]
    TypeFilter(String),
    /// An API v3 `_typeFilter` asks for SharedSystem (partially adjudicated)
    /// claims and the ACO is not entitled to them (BCDA's text).
    #[error("Model entities in {model} are not eligible to access SharedSystem data.")]
    SharedSystemNotEligible {
        /// The ACO's model, as the kick-off names it.
        model: String,
    },
}

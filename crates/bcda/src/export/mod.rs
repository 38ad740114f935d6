//! The pure rules of a bulk export request, before any database or route
//! is involved.
//!
//! * [`request`] validates a kick-off (`Patient/$export`,
//!   `Group/{all,runout}/$export`, the system-level `$export`, GET with
//!   query parameters or POST with a FHIR `Parameters` body) into an
//!   [`request::ExportRequest`].
//! * [`scopes`] is what a token's SMART scopes allow: which types a
//!   kick-off exports, and which jobs the token may follow (403 otherwise).
//! * [`type_filter`] parses API v3's `_typeFilter` into the filter an export
//!   applies to ExplanationOfBenefits, with BCDA's defaults and refusals.
//! * [`status_filter`] parses the jobs list's `_status`.
//! * [`rejection`] is why either refused a request, with BCDA's exact
//!   diagnostics; [`query`] and [`list_param`] read query strings and
//!   comma-separated lists as BCDA does, bounded.
//! * [`duplicates`] applies the 429 rule: an ACO may not start an export that
//!   overlaps, type for type, a Pending or In Progress job of the same API
//!   version that is less than a day old.
//! * [`version_access`] says which ACOs may use API v3 (`--v3-acos`).
//!
//! The export engine (`jobs::kickoff`) and the HTTP layer call these; the
//! HTTP layer turns a [`rejection::Rejection`] into a response in one place
//! (`http/error.rs`).

pub mod duplicates;
pub mod entitlement;
pub mod list_param;
pub mod query;
pub mod rejection;
pub mod request;
pub mod scopes;
pub mod status_filter;
pub mod type_filter;
pub mod version_access;

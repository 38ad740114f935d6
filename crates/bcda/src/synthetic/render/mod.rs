//! Rendering the model as minified FHIR JSON (one resource per buffer, no
//! trailing newline), straight into bytes.

pub(crate) mod common;
pub(crate) mod coverage;
pub(crate) mod eob;
pub(crate) mod json;
pub(crate) mod patient;

//! Rendering the model as minified FHIR JSON (one resource per buffer, no
//! trailing newline), straight into bytes.

pub(crate) mod amounts;
pub(crate) mod claim;
pub(crate) mod claim_response;
pub(crate) mod coverage;
pub(crate) mod datatypes;
pub(crate) mod eob;
pub(crate) mod json;
pub(crate) mod pac_eob;
pub(crate) mod patient;
pub(crate) mod references;
pub(crate) mod systems;

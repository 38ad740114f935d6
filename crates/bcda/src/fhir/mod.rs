//! FHIR shapes the API returns: OperationOutcome, CapabilityStatement.
//!
//! Plain serde structures and `serde_json` values; the field order of each
//! shape follows BCDA's so byte-for-byte comparisons by existing clients
//! keep working.

pub mod capability;
pub mod operation_outcome;
pub mod task;
pub mod time_format;

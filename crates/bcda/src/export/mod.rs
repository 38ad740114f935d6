//! The pure rules of a bulk export, before any database or route is involved.
//!
//! * [`request`] validates a kick-off (`Patient/$export`,
//!   `Group/{all,runout}/$export`, GET with query parameters or POST with a
//!   FHIR `Parameters` body) into an [`request::ExportRequest`], answering
//!   with BCDA's exact 400 diagnostics.
//! * [`duplicates`] applies the 429 rule: an ACO may not start an export that
//!   overlaps, type for type, a Pending or In Progress job of the same API
//!   version that is less than a day old.
//!
//! The export engine calls these; the HTTP layer only turns their answers
//! into responses.

pub mod duplicates;
pub mod request;

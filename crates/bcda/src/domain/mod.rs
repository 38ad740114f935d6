//! The domain's shared vocabulary: small value types that every layer uses
//! (the store persists them, the export engine and the FHIR shapes read
//! them, the HTTP layer parses them), so none of those layers has to import
//! another for them. Nothing here does I/O or knows about any layer.

pub mod aco_model;
pub mod api;
pub mod attribution_kind;
pub mod data_sets;
pub mod eob_facts;
pub mod job;
pub mod part2;
pub mod scopes;
pub mod task;

pub use api::{ApiVersion, ResourceType};
pub use attribution_kind::AttributionKind;
pub use data_sets::{DataSet, DataSets};
pub use eob_facts::{ClaimOutcome, EobFacts, EobFilter, FactSet, FinalAction, SystemType};
pub use job::{JobStatus, RequestKind};
pub use scopes::Scopes;

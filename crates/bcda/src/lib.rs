//! bcda-rs: a BCDA-compatible bulk claims API.
//!
//! The crate is one library with one binary (`bcda`, see `main.rs`). The
//! modules follow the layers of `docs/ARCHITECTURE.md`; data flows one way,
//! from `http` down to `store` and `fhir`, never up.

pub mod acos;
pub mod app;
pub mod auth;
pub mod bench;
pub mod claims;
pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod domain;
pub mod export;
pub mod fhir;
pub mod files;
pub mod formats;
pub mod housekeeping;
pub mod http;
pub mod import;
pub mod jobs;
pub mod runtime;
pub mod sandbox;
pub mod store;
pub mod synthetic;
pub mod synthetic_files;
pub mod telemetry;

/// The version of this build, reported by `/_version`, `/_auth` and the
/// CapabilityStatements.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

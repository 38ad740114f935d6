//! Integration tests: the real HTTP API (the router in-process, or the real
//! binary on an ephemeral port), each test run against SQLite and against
//! PostgreSQL.
//!
//! PostgreSQL tests need `BCDA_TEST_POSTGRES_URL` (scripts/test sets it up);
//! without it they fail rather than pass silently.

mod harness;

mod attribution_status;
mod bearer;
mod bench;
mod claims_data;
mod claims_data_v3;
mod cli;
mod client;
mod client_summary;
mod cohorts;
mod connections;
mod cutting_proxy;
mod data;
mod entitlements;
mod errors;
mod export;
mod export_fhir;
mod faults;
mod health;
mod import_bounds;
mod kickoff;
mod list_params;
mod metadata;
mod metrics;
mod one_job_rule;
mod openapi;
mod packs;
mod patient_subset;
mod private_files_and_full_disk;
mod s3_store;
mod sandbox;
mod scale_out;
mod scopes;
mod sealing_key;
mod signed_urls;
mod smart_auth;
mod smart_cli;
mod store_failures;
mod system_export;
mod token;
mod token_abuse;
mod until;
mod v3;
mod v3_type_filter;

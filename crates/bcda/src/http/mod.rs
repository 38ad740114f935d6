//! The HTTP API: routes, extractors, middleware, the one mapping of errors
//! to OperationOutcome (`error`) and, for SMART token requests only, to
//! OAuth errors (`oauth_error`); and, on a listener of its own, `GET
//! /metrics` (`metrics`). No SQL here: handlers call the layers below.

pub mod auth;
pub mod base_url;
pub mod error;
pub mod form;
pub mod http_date;
pub mod limits;
pub mod metrics;
pub mod middleware;
pub mod oauth_error;
pub mod openapi;
pub mod router;
pub mod routes;
pub mod server;

pub use error::ApiError;
pub use router::router;

//! Route handlers, one file per group of actions.

pub mod attribution_status;
pub mod data;
pub mod export;
pub mod jobs;
pub mod meta;
pub mod metadata;
pub mod smart_configuration;
pub mod token;

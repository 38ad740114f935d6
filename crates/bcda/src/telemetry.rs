//! Logging setup: human-readable or JSON lines on standard error; and the
//! process's Prometheus metrics ([`metrics`]).

pub mod metrics;

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber. `filter` is an `EnvFilter` directive list
/// such as `info,sqlx=warn`; an invalid one is reported, not ignored.
pub fn init(format: LogFormat, filter: &str) -> Result<(), String> {
    let filter = EnvFilter::try_new(filter)
        .map_err(|e| format!("invalid log filter {filter:?} (--log / BCDA_LOG): {e}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colour only for a person at a terminal: in a file, a pipe or a
        // log collector the escape codes are noise in every line.
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    // Already installed (a test harness did it): keep the existing one.
    let _ = result;
    Ok(())
}

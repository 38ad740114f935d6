//! The benchmark's result for one source: one JSON object.

use std::collections::BTreeMap;

use serde::Serialize;

use super::export::ExportRun;
use super::limit::Limit;
use super::setup::Imported;
use super::{BenchOptions, Source};
use crate::domain::ResourceType;

/// MB: 10^6 bytes.
const MB: f64 = 1e6;

/// What one source's run measured (keys explained in docs/BENCHMARKS.md).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `generated` or `stored`.
    pub source: &'static str,
    /// Which run of the source this is, from 1.
    pub run: u32,
    /// `sqlite` or `postgres`.
    pub database: &'static str,
    /// Where the export files were stored (a directory or s3://...).
    pub store: String,
    /// Beneficiaries in the ACO's attribution.
    pub beneficiaries: u32,
    /// Years of claims.
    pub years: i32,
    /// Generator seed.
    pub seed: u64,
    /// Export workers.
    pub workers: usize,
    /// gzip level of the server's files.
    pub gzip_level: u32,
    /// Seconds importing the stored source (not part of export figures):
    /// attribution, opt-outs and resources.
    pub import_seconds: Option<f64>,
    /// Seconds of `bcda import resources` alone.
    pub import_resources_seconds: Option<f64>,
    /// Bytes of the NDJSON files it imported.
    pub import_ndjson_bytes: Option<u64>,
    /// `import_ndjson_bytes / 10^6` per second of `import_resources_seconds`.
    pub import_mb_per_s: Option<f64>,
    /// The import processes' highest peak RSS, MB (stored source).
    pub import_peak_rss_mb: Option<f64>,
    /// Files in the manifest.
    pub files: usize,
    /// OperationOutcome files (not counted in resources or bytes).
    pub error_files: usize,
    /// The resource types asked for (`--types`, or the benchmark ACO's
    /// defaults: the adjudicated types).
    pub types: Vec<&'static str>,
    /// Resources exported.
    pub resources: u64,
    /// Resources exported per type (types with no resource are absent).
    pub resources_by_type: BTreeMap<String, u64>,
    /// Uncompressed NDJSON bytes exported.
    pub ndjson_bytes: u64,
    /// gzip bytes stored and transferred.
    pub stored_bytes: u64,
    /// Kick-off request latency, ms.
    pub kickoff_ms: f64,
    /// Kick-off sent to the status route's 200, seconds.
    pub seconds_to_manifest: f64,
    /// Resources per second, kick-off to manifest.
    pub e2e_resources_per_s: f64,
    /// MB of NDJSON per second, kick-off to manifest.
    pub e2e_mb_per_s: f64,
    /// Passes over every file measuring downloads.
    pub download_passes: usize,
    /// Seconds downloading every file, the median pass.
    pub download_seconds: f64,
    /// MB transferred (gzip) per second of downloading, the median pass.
    pub download_mb_per_s: f64,
    /// MB transferred (gzip) per second in the first pass, right after the
    /// manifest.
    pub download_first_mb_per_s: f64,
    /// Peak RSS (VmHWM) of this process, which runs the server, MB (the
    /// stored source's import runs in child processes, not counted here).
    pub peak_rss_mb: Option<f64>,
    /// Whether the peak was reset before kick-off (else it includes setup).
    pub peak_rss_reset: bool,
    /// CPU seconds (user + system) of this process, kick-off to manifest.
    pub cpu_seconds: Option<f64>,
    /// The gzip + write limit for the same bytes, seconds.
    pub limit_seconds: f64,
    /// Wall seconds of the limit run, inflating the input included.
    pub limit_wall_seconds: f64,
    /// `seconds_to_manifest / limit_seconds`.
    pub limit_ratio: f64,
    /// CPU model and cores.
    pub machine: serde_json::Value,
}

/// The measurements a report is made from.
pub(super) struct Measured<'a> {
    pub store: String,
    pub source: Source,
    pub number: u32,
    pub database: &'static str,
    pub options: &'a BenchOptions,
    pub run: &'a ExportRun,
    pub import: Option<Imported>,
    pub stored_bytes: u64,
    pub downloads: Downloads,
    pub peak_rss_mb: Option<f64>,
    pub peak_rss_reset: bool,
    pub cpu_seconds: Option<f64>,
    pub limit: Limit,
    pub machine: serde_json::Value,
}

/// Timings of the passes downloading every file of the export.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Downloads {
    /// Passes made.
    pub passes: usize,
    /// The median pass's seconds (for an even count, as for `--runs`, the
    /// mean of the middle two).
    pub median_seconds: f64,
    /// Seconds of the first pass.
    pub first_seconds: f64,
}

impl Downloads {
    /// The passes that took `seconds` each, in order.
    pub fn of(seconds: &[f64]) -> Self {
        Self {
            passes: seconds.len(),
            median_seconds: super::median::median(seconds.to_vec()).unwrap_or(0.0),
            first_seconds: seconds.first().copied().unwrap_or(0.0),
        }
    }
}

/// `a / b`, or 0 when `b` is 0 (a run too small to time).
fn per(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

/// Rounds to 3 decimals: finer digits are noise and clutter the JSON.
fn r3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

/// Rounds to 6 decimals, for times a tiny run may measure in microseconds.
fn r6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

impl Report {
    pub(super) fn new(m: Measured<'_>) -> Self {
        let resources: u64 = m.run.files.iter().map(|f| f.count).sum();
        let mut resources_by_type = BTreeMap::new();
        for file in &m.run.files {
            *resources_by_type
                .entry(file.resource_type.clone())
                .or_insert(0) += file.count;
        }
        let types = if m.options.types.is_empty() {
            &ResourceType::ADJUDICATED[..]
        } else {
            &m.options.types[..]
        };
        let ndjson_bytes: u64 = m.run.files.iter().map(|f| f.ndjson_bytes).sum();
        let seconds = m.run.to_manifest.as_secs_f64();
        Self {
            source: m.source.as_str(),
            run: m.number,
            database: m.database,
            store: m.store,
            beneficiaries: m.options.aco.beneficiaries,
            years: m.options.aco.years,
            seed: m.options.aco.seed,
            workers: m.options.workers,
            gzip_level: m.options.jobs.gzip_level,
            import_seconds: m.import.map(|i| r3(i.seconds)),
            import_resources_seconds: m.import.map(|i| r3(i.resources_seconds)),
            import_ndjson_bytes: m.import.map(|i| i.ndjson_bytes),
            import_mb_per_s: m
                .import
                .map(|i| r3(per(i.ndjson_bytes as f64 / MB, i.resources_seconds))),
            import_peak_rss_mb: m.import.and_then(|i| i.peak_rss_mb).map(r3),
            files: m.run.files.len(),
            error_files: m.run.error_files,
            types: types.iter().map(|t| t.as_str()).collect(),
            resources,
            resources_by_type,
            ndjson_bytes,
            stored_bytes: m.stored_bytes,
            kickoff_ms: r3(m.run.kickoff.as_secs_f64() * 1000.0),
            seconds_to_manifest: r6(seconds),
            e2e_resources_per_s: r3(per(resources as f64, seconds)),
            e2e_mb_per_s: r3(per(ndjson_bytes as f64 / MB, seconds)),
            download_passes: m.downloads.passes,
            download_seconds: r3(m.downloads.median_seconds),
            download_mb_per_s: r3(per(m.stored_bytes as f64 / MB, m.downloads.median_seconds)),
            download_first_mb_per_s: r3(per(m.stored_bytes as f64 / MB, m.downloads.first_seconds)),
            peak_rss_mb: m.peak_rss_mb.map(r3),
            peak_rss_reset: m.peak_rss_reset,
            cpu_seconds: m.cpu_seconds.map(r3),
            limit_seconds: r6(m.limit.seconds),
            limit_wall_seconds: r6(m.limit.wall_seconds),
            limit_ratio: r3(per(seconds, m.limit.seconds)),
            machine: m.machine,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downloads_report_the_median_pass_and_the_first() {
        let downloads = Downloads::of(&[0.9, 0.5, 0.6]);
        assert_eq!(downloads.passes, 3);
        assert_eq!(downloads.median_seconds, 0.6);
        assert_eq!(downloads.first_seconds, 0.9);
        // An even count takes the mean of the middle two, as `--runs` does.
        assert_eq!(Downloads::of(&[0.4, 0.8, 0.5, 0.7]).median_seconds, 0.6);
        let none = Downloads::of(&[]);
        assert_eq!((none.passes, none.median_seconds), (0, 0.0));
    }
}

//! `bcda bench export` as a library call: a tiny ACO from both sources,
//! checked for the report's keys and invariants (never its timings).

use bcda::bench::{AcoSpec, BenchOptions, Source};
use bcda::jobs::JobSettings;

/// The keys docs/BENCHMARKS.md promises.
const KEYS: [&str; 16] = [
    "source",
    "beneficiaries",
    "resources",
    "ndjson_bytes",
    "stored_bytes",
    "kickoff_ms",
    "seconds_to_manifest",
    "e2e_resources_per_s",
    "e2e_mb_per_s",
    "download_mb_per_s",
    "peak_rss_mb",
    "cpu_seconds",
    "limit_seconds",
    "limit_ratio",
    "machine",
    "import_seconds",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_export_reports_both_sources_alike() {
    let options = BenchOptions {
        aco: AcoSpec {
            beneficiaries: 20,
            years: 1,
            seed: 1,
        },
        sources: vec![Source::Generated, Source::Stored],
        workers: 2,
        keep: None,
        jobs: JobSettings::default(),
    };
    let reports = bcda::bench::run(&options).await.expect("bench");
    assert_eq!(reports.len(), 2);
    let json: Vec<serde_json::Value> = reports
        .iter()
        .map(|r| serde_json::to_value(r).expect("json"))
        .collect();
    for (report, source) in json.iter().zip(["generated", "stored"]) {
        for key in KEYS {
            assert!(report.get(key).is_some(), "{source}: no {key} in {report}");
        }
        assert_eq!(report["source"], source);
        assert_eq!(report["beneficiaries"], 20);
        assert!(report["machine"]["cores"].as_u64().is_some_and(|c| c >= 1));
    }
    for report in &reports {
        assert!(report.resources > 0, "{report:?}");
        assert!(report.stored_bytes > 0, "{report:?}");
        assert!(report.stored_bytes < report.ndjson_bytes, "{report:?}");
        assert!(report.limit_seconds > 0.0, "{report:?}");
        assert!(report.seconds_to_manifest > 0.0, "{report:?}");
        assert!(report.limit_ratio > 0.0, "{report:?}");
    }
    assert!(reports[0].import_seconds.is_none());
    assert!(reports[1].import_seconds.is_some());
    // The same ACO, from either source, exports the same resources and bytes.
    assert_eq!(reports[0].resources, reports[1].resources);
    assert_eq!(reports[0].ndjson_bytes, reports[1].ndjson_bytes);
}

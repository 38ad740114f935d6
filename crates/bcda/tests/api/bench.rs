//! `bcda bench export` as a library call and as the real binary: a tiny ACO
//! from both sources, checked for the report's keys and invariants (never
//! its timings), and `--types`.

use bcda::bench::{AcoSpec, BenchOptions, Source};
use bcda::jobs::JobSettings;

/// The keys docs/BENCHMARKS.md promises.
const KEYS: [&str; 18] = [
    "source",
    "beneficiaries",
    "types",
    "resources",
    "resources_by_type",
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
    // Export files in a directory of their own (`--store DIR`): each
    // source's run gets a subdirectory.
    let files = tempfile::tempdir().expect("tempdir");
    let options = BenchOptions {
        aco: AcoSpec {
            beneficiaries: 20,
            years: 1,
            seed: 1,
            claims_density: bcda::synthetic::FULL_CLAIMS_DENSITY,
        },
        sources: vec![Source::Generated, Source::Stored],
        types: Vec::new(),
        workers: 2,
        keep: None,
        jobs: JobSettings::default(),
        store: bcda::files::StoreLocation::Directory(files.path().to_owned()),
    };
    let reports = bcda::bench::run(&options).await.expect("bench");
    for report in &reports {
        assert!(
            report.store.starts_with(
                &files
                    .path()
                    .join(format!("bench-{}-", report.source))
                    .display()
                    .to_string()
            ),
            "{}",
            report.store
        );
    }
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
        // No --types: the benchmark ACO's defaults, the adjudicated types.
        assert_eq!(
            report["types"],
            serde_json::json!(["Patient", "Coverage", "ExplanationOfBenefit"])
        );
        let by_type: Vec<&str> = report["resources_by_type"]
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            by_type,
            ["Coverage", "ExplanationOfBenefit", "Patient"],
            "{report}"
        );
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

/// The real binary with `--types`: only the types asked for are exported,
/// Claim and ClaimResponse among them (the ACO is entitled to them because
/// they are asked for); a bad name is a usage error naming the flag.
#[test]
fn bench_export_types_choose_what_is_exported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut command = crate::cli::bcda(dir.path(), None);
    command.args([
        "bench",
        "export",
        "--beneficiaries",
        "20",
        "--years",
        "1",
        "--workers",
        "2",
        "--source",
        "generated",
        "--types",
        "Patient,Claim,ClaimResponse",
        "--claims-density",
        "10",
    ]);
    let stdout = crate::cli::run_ok(command);
    let reports: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(reports.len(), 1, "{stdout}");
    let report = &reports[0];
    assert_eq!(
        report["types"],
        serde_json::json!(["Patient", "Claim", "ClaimResponse"])
    );
    let by_type = report["resources_by_type"].as_object().expect("object");
    let names: Vec<&str> = by_type.keys().map(String::as_str).collect();
    assert_eq!(names, ["Claim", "ClaimResponse", "Patient"], "{report}");
    assert!(
        by_type.values().all(|n| n.as_u64().is_some_and(|n| n > 0)),
        "{report}"
    );
    assert_eq!(by_type["Claim"], by_type["ClaimResponse"], "{report}");
    let sum: u64 = by_type.values().filter_map(serde_json::Value::as_u64).sum();
    assert_eq!(report["resources"], sum);

    for (types, expected) in [
        (
            "Patient,Claims",
            "error: invalid value 'Patient,Claims' for '--types <LIST>': unknown resource type \"Claims\": expected some of Patient, Coverage, ExplanationOfBenefit, Claim, ClaimResponse",
        ),
        (
            ",",
            "error: invalid value ',' for '--types <LIST>': no resource type given",
        ),
    ] {
        let mut bad = crate::cli::bcda(dir.path(), None);
        bad.args(["bench", "export", "--beneficiaries", "20", "--types", types]);
        let output = bad.output().expect("run");
        assert_eq!(output.status.code(), Some(2), "{types}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().next(), Some(expected), "{stderr}");
        assert!(output.stdout.is_empty());
    }
    let mut bad = crate::cli::bcda(dir.path(), None);
    bad.args(["bench", "export", "--claims-density", "0"]);
    let output = bad.output().expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.lines().next(),
        Some(
            "error: invalid value '0' for '--claims-density <PERCENT>': expected a percentage from 1 to 100"
        ),
        "{stderr}"
    );
}

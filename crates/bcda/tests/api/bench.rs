//! `bcda bench export` as a library call and as the real binary: a tiny ACO
//! from both sources, checked for the report's keys and invariants (never
//! its timings), `--types`, and `--runs` with its median on both databases.

use bcda::bench::{AcoSpec, BenchDatabase, BenchOptions, Source};
use bcda::jobs::JobSettings;

use crate::harness::{Backend, backend_test, postgres_url};

/// The keys docs/BENCHMARKS.md promises.
const KEYS: [&str; 26] = [
    "source",
    "run",
    "database",
    "import_peak_rss_mb",
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
    "download_first_mb_per_s",
    "download_passes",
    "peak_rss_mb",
    "cpu_seconds",
    "limit_seconds",
    "limit_ratio",
    "machine",
    "import_seconds",
    "import_resources_seconds",
    "import_ndjson_bytes",
    "import_mb_per_s",
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
        runs: 1,
        database: BenchDatabase::Sqlite,
        bcda: crate::cli::BIN.into(),
        types: Vec::new(),
        workers: 2,
        keep: None,
        jobs: JobSettings::default(),
        store: bcda::files::StoreLocation::Directory(files.path().to_owned()),
    };
    let mut emitted = Vec::new();
    let sources = bcda::bench::run(&options, |line| emitted.push(line.clone()))
        .await
        .expect("bench");
    assert!(
        sources.iter().all(|s| s.median.is_none()),
        "one run: no median"
    );
    let reports: Vec<bcda::bench::Report> = sources.into_iter().flat_map(|s| s.runs).collect();
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
    assert_eq!(emitted, json, "each report is emitted as it is made");
    for (report, source) in json.iter().zip(["generated", "stored"]) {
        for key in KEYS {
            assert!(report.get(key).is_some(), "{source}: no {key} in {report}");
        }
        assert_eq!(report["source"], source);
        assert_eq!(report["run"], 1);
        assert_eq!(report["database"], "sqlite");
        assert_eq!(report["beneficiaries"], 20);
        assert_eq!(report["download_passes"], 3);
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
    assert!(reports[0].import_mb_per_s.is_none());
    assert!(reports[0].import_peak_rss_mb.is_none());
    // The resources are part of the imports, and their files were read.
    let stored = &reports[1];
    assert!(
        stored
            .import_resources_seconds
            .zip(stored.import_seconds)
            .is_some_and(|(resources, all)| 0.0 < resources && resources <= all),
        "{stored:?}"
    );
    assert!(
        stored
            .import_ndjson_bytes
            .is_some_and(|bytes| bytes >= stored.ndjson_bytes),
        "{stored:?}"
    );
    assert!(stored.import_mb_per_s.is_some_and(|rate| rate > 0.0));
    // The import ran in child processes, which reported their peak.
    assert!(
        reports[1].import_peak_rss_mb.is_some_and(|mb| mb > 0.0),
        "{:?}",
        reports[1]
    );
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

backend_test! {
    /// The real binary, `--runs 2` of the stored source (written and
    /// imported by child processes) on either database: a line per run,
    /// then the median line, each of whose numeric figures is the median
    /// (the mean, for two) of the runs' values of that figure. On
    /// PostgreSQL each run's schema is gone afterwards.
    async fn bench_export_runs_end_with_their_median(backend) {
        let dir = tempfile::tempdir().expect("tempdir");
        let (database, url) = match backend {
            Backend::Sqlite => ("sqlite", None),
            Backend::Postgres => ("postgres", Some(postgres_url())),
        };
        let mut command = crate::cli::bcda(dir.path(), url.as_deref());
        command.args([
            "bench", "export", "--beneficiaries", "20", "--years", "1", "--workers", "2",
            "--source", "stored", "--claims-density", "10", "--runs", "2", "--database", database,
        ]);
        let output = command.output().expect("run");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        let stdout = String::from_utf8(output.stdout).expect("utf-8");
        let lines: Vec<serde_json::Value> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).expect("only JSON on stdout"))
            .collect();
        assert_eq!(lines.len(), 3, "{stdout}");
        let (runs, median) = (&lines[..2], &lines[2]);
        for (i, run) in runs.iter().enumerate() {
            assert_eq!(run["run"], i + 1);
            assert_eq!(run["database"], database);
            assert_eq!(run["source"], "stored");
            assert!(run.get("runs").is_none(), "{run}");
            assert!(run["import_peak_rss_mb"].as_f64().is_some_and(|mb| mb > 0.0), "{run}");
        }
        assert_eq!(median["run"], "median");
        assert_eq!(median["runs"], 2);
        let first = runs[0].as_object().expect("object");
        let keys: Vec<&String> = median.as_object().expect("object").keys().collect();
        let mut expected_keys: Vec<&String> = first.keys().collect();
        let runs_key = "runs".to_owned();
        expected_keys.insert(2, &runs_key);
        assert_eq!(keys, expected_keys, "the runs' keys, in order, and runs after run");
        for (key, value) in first {
            if key == "run" {
                continue;
            }
            let other = &runs[1][key];
            match (value.as_f64(), other.as_f64()) {
                (Some(a), Some(b)) => {
                    let got = median[key].as_f64().expect("a number");
                    assert!((got - (a + b) / 2.0).abs() < 1e-6, "{key}: {a} and {b} gave {got}");
                }
                _ if value.is_object() => {
                    for (inner, a) in value.as_object().expect("object") {
                        if let (Some(a), Some(b)) = (a.as_f64(), other[inner].as_f64()) {
                            let got = median[key][inner].as_f64().expect("a number");
                            assert!((got - (a + b) / 2.0).abs() < 1e-6, "{key}.{inner}");
                        }
                    }
                }
                _ => assert_eq!(&median[key], value, "{key} is run 1's"),
            }
        }
        // Whole figures that agree stay whole.
        assert_eq!(median["resources"], runs[0]["resources"]);
        assert!(median["resources"].is_u64());

        if let Some(url) = url {
            let schemas: Vec<&str> = stderr
                .lines()
                .filter_map(|l| l.strip_prefix("bench: PostgreSQL schema "))
                .collect();
            assert_eq!(schemas.len(), 2, "{stderr}");
            let admin = sqlx::PgPool::connect(&url).await.expect("connect");
            for schema in schemas {
                assert!(schema.starts_with("bench_"), "{schema}");
                let left: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1",
                )
                .bind(schema)
                .fetch_one(&admin)
                .await
                .expect("query");
                assert_eq!(left, 0, "{schema} was not dropped");
            }
            admin.close().await;
        }
    }
}

/// `--database postgres` needs DATABASE_URL, and says so before any run.
#[test]
fn bench_export_on_postgres_needs_database_url() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (url, expected) in [
        (
            None,
            "error: --database postgres needs DATABASE_URL set to a postgres:// URL (each run makes a schema of its own there)",
        ),
        (
            Some("sqlite:/nowhere/x.db"),
            "error: --database postgres: DATABASE_URL is a sqlite: URL; set it to a postgres:// URL",
        ),
    ] {
        let mut command = crate::cli::bcda(dir.path(), url);
        command.args([
            "bench",
            "export",
            "--beneficiaries",
            "20",
            "--database",
            "postgres",
        ]);
        let output = command.output().expect("run");
        assert_eq!(output.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().next(), Some(expected), "{stderr}");
        assert!(output.stdout.is_empty());
    }
}

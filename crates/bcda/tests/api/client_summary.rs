//! `bcda client summary` over real export files: the sandbox's A9994
//! exported through the HTTP API (v2: Patient, Coverage and
//! ExplanationOfBenefit; v3: ExplanationOfBenefit with its
//! warnings-and-info file and its error files of unmatched beneficiaries),
//! downloaded as a client keeps them (some files gzip as served, some
//! inflated) into one folder per run, beside a manifest and a partial
//! download that a summary must pass over. The harness's clock starts at
//! a fixed instant, so the data, and the summary, are the same every run
//! and on both databases (the one snapshot serves both).

use std::collections::BTreeMap;
use std::path::Path;

use bcda::client::summary::{Summary, summarize};
use bcda::jobs::worker::run_until_idle;

use crate::harness::{TestApp, backend_test, gunzip};
use crate::kickoff::{job_id, kick_ok, sandbox_with_token};

/// What a run put in its folder.
#[derive(Default)]
struct Written {
    /// Resources per type, by the manifests' `count`s.
    counts: BTreeMap<String, u64>,
    /// OperationOutcome lines, by the manifests' `count`s.
    outcomes: u64,
    /// NDJSON files written, and of them gzip.
    files: u64,
    gzip: u64,
    /// Their NDJSON bytes, inflated.
    ndjson_bytes: u64,
    /// The text of every file, inflated: to look for MBIs in.
    text: String,
}

/// Runs the export `kickoff` (a path) for `token`, then downloads every
/// file its manifest lists into `dir` as a client would: data files of the
/// types in `keep_gzip` as served with `Accept-Encoding: gzip`
/// (`<type>-<n>.ndjson.gz`), every other file inflated (`.ndjson`, error
/// files under their own names); the manifest beside them.
async fn export_into(
    app: &TestApp,
    token: &str,
    kickoff: &str,
    dir: &Path,
    keep_gzip: &[&str],
    written: &mut Written,
) {
    let kicked = kick_ok(app, token, kickoff).await;
    job_id(&kicked);
    let status_url = kicked
        .header("content-location")
        .expect("content-location")
        .trim_start_matches("http://bcda.test")
        .to_owned();
    run_until_idle(&app.state.env).await.expect("worker");
    let done = app.get_with_token(&status_url, token).await;
    assert_eq!(done.status, axum::http::StatusCode::OK, "{}", done.text());
    let manifest = done.json();
    std::fs::create_dir_all(dir).expect("mkdir");
    std::fs::write(dir.join("manifest.json"), done.text()).expect("manifest");
    for key in ["output", "error"] {
        for (n, entry) in manifest[key].as_array().expect(key).iter().enumerate() {
            let resource_type = entry["type"].as_str().expect("type");
            let url = entry["url"]
                .as_str()
                .expect("url")
                .trim_start_matches("http://bcda.test");
            let count = entry["count"].as_u64().expect("count");
            let gzip = key == "output" && keep_gzip.contains(&resource_type);
            let request = axum::http::Request::get(url)
                .header("authorization", format!("Bearer {token}"))
                .header("accept-encoding", if gzip { "gzip" } else { "identity" })
                .body(axum::body::Body::empty())
                .expect("request");
            let file = app.send(request).await;
            assert_eq!(file.status, axum::http::StatusCode::OK, "{url}");
            let ndjson = if gzip {
                assert_eq!(file.header("content-encoding"), Some("gzip"), "{url}");
                gunzip(&file.body)
            } else {
                file.body.to_vec()
            };
            let name = match (key, gzip) {
                ("error", _) => url.rsplit('/').next().expect("name").to_owned(),
                (_, true) => format!("{resource_type}-{n}.ndjson.gz"),
                (_, false) => format!("{resource_type}-{n}.ndjson"),
            };
            std::fs::write(dir.join(&name), &file.body).expect("write");
            if key == "output" {
                *written.counts.entry(resource_type.to_owned()).or_default() += count;
            } else {
                written.outcomes += count;
            }
            written.files += 1;
            written.gzip += u64::from(gzip);
            written.ndjson_bytes += ndjson.len() as u64;
            written
                .text
                .push_str(std::str::from_utf8(&ndjson).expect("utf-8"));
        }
    }
}

/// Every MBI in `text`: patients' identifiers and error messages' MBIs.
fn mbis(text: &str) -> Vec<String> {
    let pattern =
        regex::Regex::new(r#"mbi","value":"([0-9A-Z]{11})"|MBI ([0-9A-Z]{11})"#).expect("regex");
    let mut found: Vec<String> = pattern
        .captures_iter(text)
        .filter_map(|c| c.get(1).or(c.get(2)))
        .map(|m| m.as_str().to_owned())
        .collect();
    found.sort();
    found.dedup();
    found
}

/// The text table without what depends on gzip's byte-exact output (the
/// stored size) or on the temporary directory.
fn stable_text(summary: &Summary) -> String {
    let text = summary.to_text().replace(&summary.directory, "[out]");
    let (header, rest) = text.split_once('\n').expect("header");
    let header = header
        .rsplit_once(", ")
        .filter(|(_, last)| last.ends_with(" stored"))
        .map_or(header, |(kept, _)| kept);
    format!("{header}, [stored size]\n{rest}")
}

backend_test! {
    async fn a_summary_of_sandbox_exports(backend) {
        let (app, token) = sandbox_with_token(backend, "A9994").await;
        let out = tempfile::tempdir().expect("tempdir");
        let mut written = Written::default();
        export_into(&app, &token, "/api/v2/Patient/$export", &out.path().join("v2"), &["Patient", "ExplanationOfBenefit"], &mut written).await;
        export_into(&app, &token, "/api/v3/Patient/$export?_type=ExplanationOfBenefit", &out.path().join("v3"), &["ExplanationOfBenefit"], &mut written).await;
        // A download cut off half way, under the downloader's temporary
        // name: not read (it would not parse).
        let eob = std::fs::read(out.path().join("v3/ExplanationOfBenefit-0.ndjson.gz")).expect("eob file");
        std::fs::write(out.path().join("v3/ExplanationOfBenefit-1.ndjson.gz.part"), &eob[..eob.len() / 2]).expect("part");

        let summary = summarize(out.path()).expect("summary");

        // Exactly what the manifests listed.
        let counts: BTreeMap<String, u64> = summary.resources.iter().map(|t| (t.resource_type.clone(), t.count)).collect();
        assert_eq!(counts, written.counts);
        assert_eq!(summary.issues.lines, written.outcomes);
        assert!(written.outcomes > 1, "a warning and unmatched beneficiaries' errors: {}", written.outcomes);
        assert_eq!((summary.files.count, summary.files.gzip), (written.files, written.gzip));
        assert_eq!(summary.files.ndjson_bytes, written.ndjson_bytes);
        assert_eq!(summary.resources.iter().map(|t| t.ndjson_bytes).sum::<u64>() + outcome_bytes(&written.text), written.ndjson_bytes);
        let eobs = summary.resources.iter().find(|t| t.resource_type == "ExplanationOfBenefit").expect("EOBs");
        let claims = eobs.claims.as_ref().expect("claim details");
        assert_eq!(claims.claim_types.iter().map(|c| c.count).sum::<u64>(), eobs.count);
        assert!(claims.claim_types.iter().all(|c| c.code != "unknown"), "{:?}", claims.claim_types);
        assert!(claims.service_dates.is_some());

        // No MBI of the files is shown.
        let text = summary.to_text();
        let json = summary.to_json().to_string();
        let mbis = mbis(&written.text);
        assert!(mbis.len() > 10, "{} MBIs", mbis.len());
        for mbi in &mbis {
            assert!(!text.contains(mbi.as_str()) && !json.contains(mbi.as_str()), "{mbi} shown");
        }

        insta::assert_snapshot!("client_summary_text", stable_text(&summary));
        insta::assert_json_snapshot!("client_summary_json", summary.to_json(), {
            ".directory" => "[out]",
            ".files.stored_bytes" => "[stored size]",
        });
    }
}

/// The bytes of the OperationOutcome lines in `text`.
fn outcome_bytes(text: &str) -> u64 {
    text.lines()
        .filter(|l| l.contains(r#""resourceType":"OperationOutcome""#))
        .map(|l| l.len() as u64 + 1)
        .sum()
}

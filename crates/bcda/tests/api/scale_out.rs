//! Scale-out on PostgreSQL: one `bcda api` and two `bcda worker` processes
//! share a database and data directory; a worker killed with SIGKILL in the
//! middle of an export loses nothing and duplicates nothing.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use bcda::claims::ResourceQuery;
use bcda::clock::SystemClock;
use bcda::domain::{ApiVersion, ResourceType};
use bcda::store::Db;

use crate::harness::{exportable_members, fresh_postgres_schema, source_ids};

const BIN: &str = env!("CARGO_BIN_EXE_bcda");

/// A child process killed (and reaped) when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `bcda <args>` and waits for its first line containing `ready`;
/// returns the process and that line.
// The child moves into `Proc`, whose `Drop` kills and waits for it.
#[allow(clippy::zombie_processes)]
fn start(
    data_dir: &std::path::Path,
    database_url: &str,
    args: &[&str],
    ready: &str,
) -> (Proc, String) {
    let mut child = Command::new(BIN)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("BCDA_DATA_DIR", data_dir)
        .env("DATABASE_URL", database_url)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn bcda");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    loop {
        line.clear();
        if stdout.read_line(&mut line).expect("read") == 0 {
            let _ = child.kill();
            let _ = child.wait();
            panic!("bcda {args:?} exited before it was ready");
        }
        if line.contains(ready) {
            return (Proc(child), line.trim().to_owned());
        }
    }
}

#[tokio::test]
async fn a_killed_worker_loses_and_duplicates_nothing() {
    let (_, url) = fresh_postgres_schema().await;
    let dir = tempfile::tempdir().expect("tempdir");
    // The sandbox ACOs, made through the library against the shared database.
    let db = Db::connect_postgres(
        sqlx::postgres::PgConnectOptions::from_str(&url).expect("url"),
        2,
        bcda::store::DEFAULT_WAIT,
    )
    .await
    .expect("connect");
    db.migrate().await.expect("migrate");
    let creds = bcda::sandbox::prepare(&db, &SystemClock, dir.path())
        .await
        .expect("sandbox");
    let a9994 = creds
        .iter()
        .find(|c| c.cms_id == "A9994")
        .expect("A9994")
        .clone();

    let (_api, line) = start(
        dir.path(),
        &url,
        &["api", "--listen", "127.0.0.1:0"],
        "listening on",
    );
    let base = line.rsplit(' ').next().expect("url").to_owned();
    let worker_args = [
        "worker",
        "--workers",
        "2",
        "--task-lease-seconds",
        "2",
        "--batch-eob",
        "2",
    ];
    let (mut doomed, _) = start(dir.path(), &url, &worker_args, "worker running");
    let (_survivor, _) = start(dir.path(), &url, &worker_args, "worker running");

    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .post(format!("{base}/auth/token"))
        .basic_auth(&a9994.client_id, Some(&a9994.client_secret))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let token = token["access_token"].as_str().expect("token").to_owned();
    let kickoff = http
        .get(format!(
            "{base}/api/v2/Patient/$export?_type=ExplanationOfBenefit"
        ))
        .bearer_auth(&token)
        .header("accept", "application/fhir+json")
        .header("prefer", "respond-async")
        .send()
        .await
        .expect("kick-off");
    assert_eq!(kickoff.status(), 202);
    let status_url = kickoff.headers()["content-location"]
        .to_str()
        .expect("location")
        .to_owned();
    let job_id: i64 = status_url
        .rsplit('/')
        .next()
        .and_then(|id| id.parse().ok())
        .expect("job id");

    // Kill one worker once the export is under way.
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut killed = false;
    let manifest = loop {
        assert!(Instant::now() < deadline, "the export did not finish");
        let response = http
            .get(&status_url)
            .bearer_auth(&token)
            .send()
            .await
            .expect("status");
        match response.status().as_u16() {
            200 => {
                break response
                    .json::<serde_json::Value>()
                    .await
                    .expect("manifest");
            }
            202 => {
                let progress = response.headers()["x-progress"]
                    .to_str()
                    .expect("progress")
                    .to_owned();
                if !killed && progress.starts_with("In Progress") && progress != "In Progress (0%)"
                {
                    doomed.0.kill().expect("SIGKILL");
                    let _ = doomed.0.wait();
                    killed = true;
                }
            }
            other => panic!(
                "unexpected status {other}: {}",
                response.text().await.unwrap_or_default()
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(killed, "the worker was killed mid-export");

    // Exactly the source's resources: none missing, none twice.
    let mut exported = Vec::new();
    for entry in manifest["output"].as_array().expect("output") {
        let name = entry["url"]
            .as_str()
            .expect("url")
            .rsplit('/')
            .next()
            .expect("name");
        let path = dir
            .path()
            .join("exports")
            .join(job_id.to_string())
            .join(format!("{name}.gz"));
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(path).expect("file"))
            .read_to_string(&mut text)
            .expect("gunzip");
        for line in text.lines() {
            let resource: serde_json::Value = serde_json::from_str(line).expect("json");
            exported.push(resource["id"].as_str().expect("id").to_owned());
        }
    }
    let unique: BTreeSet<String> = exported.iter().cloned().collect();
    assert_eq!(unique.len(), exported.len(), "no resource exported twice");

    let job = bcda::store::jobs::find(&db, job_id)
        .await
        .expect("db")
        .expect("job");
    let until = job.transaction_time.expect("planned");
    let members = exportable_members(&db, "A9994", until).await;
    let query = ResourceQuery {
        version: ApiVersion::V2,
        resource_type: ResourceType::ExplanationOfBenefit,
        since: None,
        until,
        as_of: until,
        claims_through: None,
        eob_filter: None,
    };
    let expected = source_ids(&db, "A9994", &members, query).await;
    assert_eq!(unique, expected, "exactly the resources of the source");

    // Nothing of the killed worker's attempts is left: the job's directory
    // holds exactly the files of its manifest (no temporary files, no file
    // put in place but never recorded).
    let listed: BTreeSet<String> = manifest["output"]
        .as_array()
        .expect("output")
        .iter()
        .chain(manifest["error"].as_array().expect("error"))
        .map(|e| {
            format!(
                "{}.gz",
                e["url"]
                    .as_str()
                    .expect("url")
                    .rsplit('/')
                    .next()
                    .expect("name")
            )
        })
        .collect();
    let on_disk: BTreeSet<String> =
        std::fs::read_dir(dir.path().join("exports").join(job_id.to_string()))
            .expect("job dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
    assert_eq!(on_disk, listed, "only the manifest's files remain");
}

//! The real server as an operator runs it: files private whatever the
//! umask, and a disk that fills up (a file-size limit) fails the export
//! after its attempts without spinning, while the server stays up.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::cli::{BIN, Server, run_ok, with_clean_env};
use crate::harness::{Backend, backend_test, fresh_postgres_schema};

/// `bcda` started through a shell that first applies `limits` (e.g.
/// `umask 000; ulimit -f 8192`), with a clean environment.
fn limited_bcda(limits: &str, data_dir: &Path, database_url: Option<&str>) -> Command {
    let mut command = Command::new("bash");
    command.args(["-c", &format!("{limits}; exec \"$0\" \"$@\""), BIN]);
    with_clean_env(command, data_dir, database_url)
}

/// A token for a sandbox ACO, from the credentials the sandbox saved.
async fn sandbox_token(
    http: &reqwest::Client,
    base: &str,
    data_dir: &Path,
    cms_id: &str,
) -> String {
    let saved: Vec<serde_json::Value> = serde_json::from_slice(
        &std::fs::read(data_dir.join("sandbox-credentials.json")).expect("credentials"),
    )
    .expect("json");
    let entry = saved.iter().find(|e| e["cms_id"] == cms_id).expect("ACO");
    let response = http
        .post(format!("{base}/auth/token"))
        .basic_auth(
            entry["client_id"].as_str().expect("id"),
            entry["client_secret"].as_str(),
        )
        .send()
        .await
        .expect("token");
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    body["access_token"].as_str().expect("token").to_owned()
}

/// Kicks off `path` and returns the status URL.
async fn kick_off(http: &reqwest::Client, base: &str, token: &str, path: &str) -> String {
    let response = http
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .header("accept", "application/fhir+json")
        .header("prefer", "respond-async")
        .send()
        .await
        .expect("kick-off");
    assert_eq!(
        response.status(),
        202,
        "{}",
        response.text().await.unwrap_or_default()
    );
    response.headers()["content-location"]
        .to_str()
        .expect("location")
        .to_owned()
}

/// Polls a job until it is no longer 202; returns the final answer.
async fn wait_for_job(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    limit: Duration,
) -> (u16, String) {
    let started = Instant::now();
    loop {
        let response = http
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .expect("status");
        let status = response.status().as_u16();
        if status != 202 {
            return (status, response.text().await.unwrap_or_default());
        }
        assert!(
            started.elapsed() < limit,
            "the job did not finish in {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

backend_test! {
    async fn files_are_private_whatever_the_umask(backend) {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        // A data directory that others may read, as a careless operator made it.
        std::fs::create_dir(&data).expect("mkdir");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(fresh_postgres_schema().await.1),
        };
        let (server, _) = Server::start_as(limited_bcda("umask 000", &data, pg.as_deref()), "sandbox");
        let http = reqwest::Client::new();
        let token = sandbox_token(&http, &server.base, &data, "A9994").await;
        let url = kick_off(&http, &server.base, &token, "/api/v1/Patient/$export?_type=Patient,Coverage").await;
        let (status, _) = wait_for_job(&http, &url, &token, Duration::from_secs(120)).await;
        assert_eq!(status, 200);
        let job_dir = data.join("exports").join(url.rsplit('/').next().expect("id"));
        let mut checked = vec![
            (data.clone(), 0o700),
            (data.join("exports"), 0o700),
            (job_dir.clone(), 0o700),
            (data.join("signing-keys.key"), 0o600),
            (data.join("sandbox-credentials.json"), 0o600),
        ];
        if backend == Backend::Sqlite {
            for name in ["bcda.db", "bcda.db-wal", "bcda.db-shm"] {
                checked.push((data.join(name), 0o600));
            }
        }
        let files: Vec<_> = std::fs::read_dir(&job_dir).expect("job dir").map(|e| e.expect("entry").path()).collect();
        assert!(files.len() >= 2);
        checked.extend(files.into_iter().map(|f| (f, 0o600)));
        #[cfg(unix)]
        for (path, want) in checked {
            assert_eq!(mode(&path), want, "{}", path.display());
        }
        server.terminate();
    }
}

/// CPU seconds a process has used (user + system), from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    // Fields after the command name (which may hold spaces), from field 3.
    let rest = stat.rsplit_once(')').expect("stat format").1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 =
        fields[11].parse::<f64>().expect("utime") + fields[12].parse::<f64>().expect("stime");
    ticks / 100.0
}

backend_test! {
    async fn a_full_disk_fails_the_job_without_spinning(backend) {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(fresh_postgres_schema().await.1),
        };
        // No file may grow past 8 MiB: the database stays well under, an
        // ExplanationOfBenefit file of 500 A9990 beneficiaries (~17 MB of
        // gzip) cannot be written.
        let mut command = limited_bcda("ulimit -f 8192", &data, pg.as_deref());
        command.env("BCDA_TASK_MAX_ATTEMPTS", "3")
            .env("BCDA_TASK_RETRY_SECONDS", "1")
            .env("BCDA_BATCH_EOB", "500")
            .env("BCDA_WORKERS", "2");
        let (server, _) = Server::start_as(command, "sandbox");
        let pid = server.child.id();
        let http = reqwest::Client::new();
        let token = sandbox_token(&http, &server.base, &data, "A9990").await;
        let url = kick_off(&http, &server.base, &token, "/api/v2/Patient/$export?_type=ExplanationOfBenefit").await;
        let (status, body) = wait_for_job(&http, &url, &token, Duration::from_secs(300)).await;
        assert_eq!(status, 500, "{body}");
        assert!(body.contains("Job failed to complete"), "{body}");

        // Idle once the job has failed (and its other tasks have seen that,
        // within their 2 s cancellation check): no retry loop, no log flood.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let before = cpu_seconds(pid);
        tokio::time::sleep(Duration::from_secs(5)).await;
        let spent = cpu_seconds(pid) - before;
        assert!(spent < 0.5, "{spent} s of CPU in 5 s while idle");
        // Still serving, and the job's files are gone.
        let version = http.get(format!("{}/_version", server.base)).send().await.expect("version");
        assert_eq!(version.status(), 200);
        let id = url.rsplit('/').next().expect("id").to_owned();
        assert!(!data.join("exports").join(&id).exists());
        // The operator can see why.
        let mut show = crate::cli::bcda(&data, pg.as_deref());
        show.args(["jobs", "show", &id]);
        let shown = run_ok(show);
        assert!(shown.contains("status:           Failed"), "{shown}");
        assert!(shown.contains("failed:") && shown.contains("File too large"), "{shown}");
        server.terminate();
    }
}

//! The real `bcda` binary: admin commands and `bcda serve` on an ephemeral
//! port, driven as an operator and a client would.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{Backend, backend_test, fresh_postgres_schema, jwt_part};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_bcda");

/// `bcda` with a clean environment pointing at one data directory and
/// database.
pub(crate) fn bcda(data_dir: &Path, database_url: Option<&str>) -> Command {
    with_clean_env(Command::new(BIN), data_dir, database_url)
}

/// `command` with only PATH and the data directory and database of `bcda`.
pub(crate) fn with_clean_env(
    mut command: Command,
    data_dir: &Path,
    database_url: Option<&str>,
) -> Command {
    command.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    command.env("BCDA_DATA_DIR", data_dir);
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    command
}

pub(crate) fn run_ok(mut command: Command) -> String {
    let output = command.output().expect("run bcda");
    assert!(
        output.status.success(),
        "bcda failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A running `bcda serve`, killed if the test ends early.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) base: String,
}

impl Server {
    fn start(command: Command) -> Server {
        Self::start_as(command, "serve").0
    }

    /// Starts `bcda <subcommand> --listen 127.0.0.1:0`; returns the server
    /// and what it printed before it listened.
    // The child moves into `Server`, whose `Drop` kills and waits for it.
    #[allow(clippy::zombie_processes)]
    pub(crate) fn start_as(mut command: Command, subcommand: &str) -> (Server, String) {
        command
            .args([subcommand, "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = command.spawn().expect("spawn bcda");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut printed = String::new();
        loop {
            let mut line = String::new();
            if stdout.read_line(&mut line).expect("read") == 0 {
                let _ = child.kill();
                let _ = child.wait();
                panic!("bcda {subcommand} exited before listening; it printed: {printed}");
            }
            if line.contains(" listening on http://") {
                let base = line
                    .trim()
                    .rsplit(' ')
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                return (Server { child, base }, printed);
            }
            printed.push_str(&line);
        }
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub(crate) fn terminate(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(status.success(), "graceful shutdown exits 0, got {status}");
                return;
            }
            assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

backend_test! {
    async fn operator_and_client_walkthrough(backend) {
        let dir = tempfile::tempdir().expect("tempdir");
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(fresh_postgres_schema().await.1),
        };
        let pg = pg.as_deref();
        let cmd = |args: &[&str]| {
            let mut c = bcda(dir.path(), pg);
            c.args(args);
            c
        };

        let created = run_ok(cmd(&["aco", "create", "--cms-id", "A9994", "--name", "ACO Dev"]));
        assert!(created.contains("created ACO A9994"), "{created}");
        let creds: serde_json::Value =
            serde_json::from_str(&run_ok(cmd(&["credentials", "create", "--cms-id", "A9994", "--json"]))).expect("json");
        let keys: Vec<_> = creds.as_object().expect("object").keys().cloned().collect();
        assert_eq!(keys, ["client_id", "client_secret", "expires_at"]);
        let (id, secret) = (creds["client_id"].as_str().expect("id"), creds["client_secret"].as_str().expect("secret"));

        let server = Server::start(bcda(dir.path(), pg));
        let http = reqwest::Client::new();
        let token = |http: reqwest::Client, base: String| async move {
            let response = http.post(format!("{base}/auth/token")).basic_auth(id, Some(secret)).send().await.expect("send");
            assert_eq!(response.status(), 200);
            let body: serde_json::Value = response.json().await.expect("json");
            body["access_token"].as_str().expect("token").to_owned()
        };
        let status_of = |http: reqwest::Client, url: String, token: String| async move {
            http.get(url).bearer_auth(token).send().await.expect("send").status().as_u16()
        };
        let first = token(http.clone(), server.base.clone()).await;
        assert_eq!(status_of(http.clone(), format!("{}/api/v1/metadata", server.base), first.clone()).await, 200);
        assert_eq!(status_of(http.clone(), format!("{}/auth/welcome", server.base), first.clone()).await, 200);
        let health = http.get(format!("{}/_health", server.base)).send().await.expect("send");
        assert_eq!(health.status(), 200);

        // Key rotation by an admin command beside the running server.
        let rotated = run_ok(cmd(&["keys", "rotate"]));
        assert!(rotated.contains("now current"), "{rotated}");
        let second = token(http.clone(), server.base.clone()).await;
        assert_ne!(jwt_part(&first, 0)["kid"], jwt_part(&second, 0)["kid"]);
        assert_eq!(status_of(http.clone(), format!("{}/auth/welcome", server.base), first.clone()).await, 200);

        // Revocation by an admin command takes effect on the next request.
        let revoked = run_ok(cmd(&["token", "revoke", "--token", &first]));
        assert!(revoked.contains("revoked"), "{revoked}");
        assert_eq!(status_of(http.clone(), format!("{}/auth/welcome", server.base), first.clone()).await, 401);
        assert_eq!(status_of(http.clone(), format!("{}/auth/welcome", server.base), second.clone()).await, 200);

        // The deny list too.
        run_ok(cmd(&["aco", "deny", "--cms-id", "A9994"]));
        assert_eq!(status_of(http.clone(), format!("{}/auth/welcome", server.base), second.clone()).await, 403);
        let listed: serde_json::Value = serde_json::from_str(&run_ok(cmd(&["aco", "list", "--json"]))).expect("json");
        assert_eq!(listed[0]["cms_id"], "A9994");
        assert_eq!(listed[0]["status"], "denied");
        run_ok(cmd(&["aco", "undeny", "--cms-id", "A9994"]));
        assert_eq!(status_of(http.clone(), format!("{}/auth/welcome", server.base), second.clone()).await, 200);

        server.terminate();
    }
}

/// Arguments, an environment variable to set, and what stderr must name.
type BadValueCase<'a> = (&'a [&'a str], Option<(&'a str, &'a str)>, &'a str);

#[test]
fn bad_values_name_their_flag_or_variable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: [BadValueCase<'_>; 5] = [
        (
            &["serve"],
            Some(("BCDA_LISTEN", "nonsense")),
            "environment variable BCDA_LISTEN",
        ),
        (&["serve", "--listen", "nonsense"], None, "--listen"),
        (
            &["migrate"],
            Some(("DATABASE_URL", "mysql://db/x")),
            "environment variable DATABASE_URL",
        ),
        (
            &["serve"],
            Some(("BCDA_TOKEN_RATE_LIMIT", "0")),
            "environment variable BCDA_TOKEN_RATE_LIMIT",
        ),
        (
            &["migrate"],
            Some(("BCDA_LOG_FORMAT", "xml")),
            "environment variable BCDA_LOG_FORMAT",
        ),
    ];
    for (args, env, expected) in cases {
        let mut command = bcda(dir.path(), None);
        command.args(args);
        if let Some((name, value)) = env {
            command.env(name, value);
        }
        let output = command.output().expect("run");
        assert_eq!(output.status.code(), Some(2), "{args:?} {env:?}");
        let stderr = stderr_of(&output);
        assert!(stderr.contains(expected), "{args:?} {env:?}: {stderr}");
    }
}

#[test]
fn admin_mistakes_get_one_line_errors() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // A data directory bcda makes itself (owner-only), so no warning about
    // its mode joins the one-line errors.
    let dir = tmp.path().join("data");
    let dir = dir.as_path();
    let cases: [(&[&str], &str); 5] = [
        (
            &["credentials", "create", "--cms-id", "A0000"],
            "error: no ACO with CMS ID A0000",
        ),
        (
            &["aco", "deny", "--cms-id", "A0000"],
            "error: no ACO with CMS ID A0000",
        ),
        (
            &["credentials", "revoke", "--client-id", "nope"],
            "error: no credentials with client id nope",
        ),
        (
            &["token", "revoke", "--id", "nope"],
            "error: no such token on record (unknown id, or expired long ago)",
        ),
        (
            &["aco", "create", "--cms-id", "a9994", "--name", "x"],
            "error: invalid CMS ID \"a9994\": expected 3 to 20 characters of capital letters, digits and hyphens, starting with a letter (e.g. A9994)",
        ),
    ];
    for (args, expected) in cases {
        let mut command = bcda(dir, None);
        command.args(args);
        let output = command.output().expect("run");
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert_eq!(stderr_of(&output).trim_end(), expected, "{args:?}");
    }
    let mut create = bcda(dir, None);
    create.args(["aco", "create", "--cms-id", "A9994", "--name", "ACO Dev"]);
    run_ok(create);
    let mut again = bcda(dir, None);
    again.args(["aco", "create", "--cms-id", "A9994", "--name", "ACO Dev"]);
    let output = again.output().expect("run");
    assert_eq!(
        stderr_of(&output).trim_end(),
        "error: an ACO with CMS ID A9994 already exists"
    );
}

#[tokio::test]
async fn sandbox_prints_working_credentials_and_reuses_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let (server, printed) = Server::start_as(bcda(dir.path(), None), "sandbox");
    eprintln!("sandbox ready in {:?} (debug build)", started.elapsed());
    assert!(
        printed.contains("A9994") && printed.contains("curl -s -X POST -u"),
        "{printed}"
    );
    let path = dir.path().join("sandbox-credentials.json");
    let saved: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&path).expect("credentials file")).expect("json");
    assert_eq!(saved.len(), bcda::sandbox::SANDBOX_ACOS.len());
    for entry in &saved {
        assert!(printed.contains(entry["client_secret"].as_str().expect("secret")));
    }
    let http = reqwest::Client::new();
    for entry in &saved {
        let response = http
            .post(format!("{}/auth/token", server.base))
            .basic_auth(
                entry["client_id"].as_str().expect("id"),
                entry["client_secret"].as_str(),
            )
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), 200, "{}", entry["cms_id"]);
    }
    // The SMART Backend Services client of A9994 and its key-pair files.
    let key_file = dir.path().join("sandbox-smart-key.jwks");
    let smart_line = printed
        .lines()
        .find(|l| l.starts_with("SMART Backend Services client of A9994: "))
        .unwrap_or_else(|| panic!("{printed}"))
        .to_owned();
    assert!(
        printed.contains(&format!(
            "  key pair: {} (JWKS with the private key; PEM: {})",
            key_file.display(),
            dir.path().join("sandbox-smart-key.pem").display()
        )),
        "{printed}"
    );
    assert!(key_file.exists());

    // The printed client command works as printed.
    let client_line = printed
        .lines()
        .find(|l| l.contains(" client export --server "))
        .unwrap_or_else(|| panic!("{printed}"))
        .trim()
        .to_owned();
    let mut words = client_line.split_whitespace();
    let secret = words
        .next()
        .expect("secret")
        .strip_prefix("BCDA_CLIENT_SECRET=")
        .expect("secret variable");
    let program = words.next().expect("program");
    let args: Vec<String> = words
        .map(|w| {
            if w.starts_with("http://") {
                server.base.clone()
            } else {
                w.to_owned()
            }
        })
        .collect();
    assert_eq!(program, BIN, "the program as started");
    let out_dir = tempfile::tempdir().expect("tempdir");
    let mut client = with_clean_env(Command::new(program), dir.path(), None);
    client.args(&args).current_dir(out_dir.path());
    // Without the secret: a one-line message, exit 2.
    let output = client.output().expect("run client");
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr_of(&output).trim_end(),
        "error: set the client secret in the environment variable BCDA_CLIENT_SECRET (it is never a flag)"
    );
    client.env("BCDA_CLIENT_SECRET", secret);
    let output = client.output().expect("run client");
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), stderr_of(&output));
    assert!(output.status.success(), "{stdout}\n{stderr}");
    // Not a terminal: plain lines, one per file.
    assert!(stderr.contains("job 1 completed: "), "{stderr}");
    let saved_lines = stderr.lines().filter(|l| l.contains("] saved ")).count();
    let export_dir = out_dir.path().join("A9994-export");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(export_dir.join("manifest.json")).expect("manifest"))
            .expect("json");
    let files = manifest["output"].as_array().expect("output").len()
        + manifest["error"].as_array().map_or(0, Vec::len);
    assert_eq!(saved_lines, files, "{stderr}");
    assert!(stdout.contains(&format!("{files} files")), "{stdout}");
    // And a look at what arrived.
    let mut summary = with_clean_env(Command::new(BIN), dir.path(), None);
    summary.args(["client", "summary"]).arg(&export_dir);
    let table = run_ok(summary);
    let eobs = manifest["output"]
        .as_array()
        .expect("output")
        .iter()
        .filter(|f| f["type"] == "ExplanationOfBenefit")
        .map(|f| f["count"].as_u64().expect("count"))
        .sum::<u64>();
    let eob_row = table
        .lines()
        .find(|l| l.starts_with("ExplanationOfBenefit"))
        .unwrap_or_else(|| panic!("{table}"));
    let shown: u64 = eob_row
        .split_whitespace()
        .nth(1)
        .expect("count")
        .replace(',', "")
        .parse()
        .expect("number");
    assert_eq!(shown, eobs, "{table}");
    server.terminate();

    let (again, printed_again) = Server::start_as(bcda(dir.path(), None), "sandbox");
    let reread: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&path).expect("file")).expect("json");
    assert_eq!(saved, reread, "the second start reuses the credentials");
    assert!(
        printed_again.contains(&smart_line),
        "the second start reuses the key client: {printed_again}"
    );
    again.terminate();
}

/// `bcda worker` opens only the worker environment: it neither reads nor
/// makes a signing-key file, and stops cleanly on SIGTERM.
#[test]
fn a_worker_needs_no_signing_key_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut command = bcda(dir.path(), None);
    command
        .args(["worker", "--workers", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command.spawn().expect("spawn bcda");
    // Kept open until the worker stops, so it never writes to a closed pipe.
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let worker = Server {
        child,
        base: String::new(),
    };
    let running = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|line| line.contains("worker running 1 workers"));
    assert!(running, "bcda worker exited before it was running");
    worker.terminate();
    assert!(
        !dir.path().join("signing-keys.key").exists(),
        "bcda worker made a signing-key file"
    );
}

#[test]
fn synthetic_files_import_with_the_cli() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("files");
    let data = dir.path().join("data");
    let cmd = |args: &[&str]| {
        let mut c = bcda(&data, None);
        c.args(args);
        c
    };
    let out_str = out.to_str().expect("utf-8");
    let wrote = run_ok(cmd(&[
        "synthetic",
        "--aco",
        "A0001",
        "--beneficiaries",
        "5",
        "--years",
        "1",
        "--seed",
        "3",
        "--as-of",
        "2026-03-02",
        "--out",
        out_str,
    ]));
    assert!(wrote.contains("attribution packages"), "{wrote}");
    run_ok(cmd(&[
        "aco",
        "create",
        "--cms-id",
        "A0001",
        "--name",
        "Synthetic",
    ]));
    let listed = |sub: &str| -> Vec<String> {
        let mut files: Vec<String> = std::fs::read_dir(out.join(sub))
            .expect("dir")
            .map(|e| e.expect("entry").path().to_string_lossy().into_owned())
            .collect();
        files.sort();
        files
    };
    let import = |kind: &str, extra: &[&str], files: Vec<String>| {
        let mut args = vec!["import", kind];
        args.extend_from_slice(extra);
        args.extend(files.iter().map(String::as_str));
        run_ok(cmd(&args))
    };
    for _ in 0..2 {
        let a = import("attribution", &[], listed("attribution"));
        let o = import("opt-outs", &[], listed("opt-outs"));
        let s = import(
            "resources",
            &["--fhir-version", "stu3"],
            listed("fhir/stu3"),
        );
        let r = import("resources", &["--fhir-version", "r4"], listed("fhir/r4"));
        let v3 = import(
            "resources",
            &["--fhir-version", "r4-v3"],
            listed("fhir/r4-v3"),
        );
        assert!(
            a.lines()
                .all(|l| l.contains("imported") || l.contains("already imported")),
            "{a}"
        );
        assert!(!o.is_empty() && !s.is_empty() && !r.is_empty());
        assert_eq!(v3.lines().count(), 3, "Patient, Coverage, EOB: {v3}");
    }
    let again = import("attribution", &[], listed("attribution"));
    assert!(
        again
            .lines()
            .all(|l| l.ends_with("already imported; nothing changed")),
        "{again}"
    );

    // A bad file: exit 1, a one-line error naming file and line, nothing else printed for it.
    let bad = dir.path().join("bad.ndjson");
    std::fs::write(&bad, "{\"resourceType\":\"Patient\"\n").expect("write");
    let output = cmd(&[
        "import",
        "resources",
        "--fhir-version",
        "r4",
        bad.to_str().expect("utf-8"),
    ])
    .output()
    .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let stderr = stderr_of(&output);
    assert!(
        stderr.starts_with(&format!("error: {}: line 1: invalid JSON", bad.display())),
        "{stderr}"
    );
}

#[test]
fn logs_written_to_a_pipe_carry_no_colour_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut command = bcda(dir.path(), None);
    command.env("BCDA_LOG", "debug").arg("migrate");
    let output = command.output().expect("run bcda");
    assert!(output.status.success(), "{}", stderr_of(&output));
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains("DEBUG"),
        "the migration logs something: {stderr}"
    );
    assert!(
        !stderr.contains('\x1b'),
        "plain lines in a pipe: {stderr:?}"
    );
}

backend_test! {
    async fn aco_data_sets_are_set_shown_and_changed(backend) {
        let dir = tempfile::tempdir().expect("tempdir");
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(fresh_postgres_schema().await.1),
        };
        let pg = pg.as_deref();
        let cmd = |args: &[&str]| {
            let mut c = bcda(dir.path(), pg);
            c.args(args);
            c
        };
        let data_of = |cms_id: &str| -> serde_json::Value {
            let listed: serde_json::Value =
                serde_json::from_str(&run_ok(cmd(&["aco", "list", "--json"]))).expect("json");
            listed.as_array().expect("array").iter().find(|a| a["cms_id"] == cms_id).expect("listed")["data"].clone()
        };
        // Every ACO model gets adjudicated data unless told otherwise.
        run_ok(cmd(&["aco", "create", "--cms-id", "A9994", "--name", "SSP"]));
        assert_eq!(data_of("A9994"), serde_json::json!(["adjudicated"]));
        let created = run_ok(cmd(&["aco", "create", "--cms-id", "D0001", "--name", "REACH", "--data", "partially-adjudicated,adjudicated"]));
        assert!(created.contains("data: adjudicated,partially-adjudicated"), "{created}");
        assert_eq!(data_of("D0001"), serde_json::json!(["adjudicated", "partially-adjudicated"]));
        let table = run_ok(cmd(&["aco", "list"]));
        let row = table.lines().find(|l| l.starts_with("D0001")).expect("row");
        assert!(row.contains("adjudicated,partially-adjudicated"), "{table}");

        let changed = run_ok(cmd(&["aco", "set-data", "--cms-id", "A9994", "--data", "partially-adjudicated"]));
        assert_eq!(changed.trim_end(), "ACO A9994 now exports: partially-adjudicated");
        assert_eq!(data_of("A9994"), serde_json::json!(["partially-adjudicated"]));

        // Bad values: clap's usage error naming the flag and the item, or a
        // one-line error for an unknown ACO; nothing changes.
        for (args, code, expected) in [
            (&["aco", "set-data", "--cms-id", "A9994", "--data", "claims"][..], 2, "unknown data set \"claims\""),
            (&["aco", "set-data", "--cms-id", "A9994", "--data", ""][..], 2, "no data set given"),
            (&["aco", "create", "--cms-id", "A9995", "--name", "x", "--data", "Adjudicated"][..], 2, "--data"),
            (&["aco", "set-data", "--cms-id", "A0000", "--data", "adjudicated"][..], 1, "error: no ACO with CMS ID A0000"),
        ] {
            let output = cmd(args).output().expect("run");
            assert_eq!(output.status.code(), Some(code), "{args:?}");
            assert!(stderr_of(&output).contains(expected), "{args:?}: {}", stderr_of(&output));
        }
        assert_eq!(data_of("A9994"), serde_json::json!(["partially-adjudicated"]));
        assert!(!run_ok(cmd(&["aco", "list"])).contains("A9995"));
    }
}

/// The metrics URL a server printed (`bcda <version> metrics on <url>`).
fn metrics_url(printed: &str) -> String {
    printed
        .lines()
        .find(|line| line.contains(" metrics on http://"))
        .and_then(|line| line.trim().rsplit(' ').next())
        .unwrap_or_else(|| panic!("no metrics line in: {printed}"))
        .to_owned()
}

backend_test! {
    /// `--metrics-listen` (here by its variable, BCDA_METRICS_LISTEN) serves
    /// `GET /metrics` on a port of its own, printed before the listening
    /// line; the API's port answers `/metrics` with its usual 404, and the
    /// metrics port serves nothing of the API.
    async fn metrics_are_served_on_their_own_port(backend) {
        let dir = tempfile::tempdir().expect("tempdir");
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(fresh_postgres_schema().await.1),
        };
        let mut command = bcda(dir.path(), pg.as_deref());
        command.env("BCDA_METRICS_LISTEN", "127.0.0.1:0");
        let (server, printed) = Server::start_as(command, "serve");
        let metrics = metrics_url(&printed);
        assert!(metrics.starts_with("http://127.0.0.1:") && metrics.ends_with("/metrics"), "{metrics}");
        assert!(!metrics.starts_with(&server.base), "a port of its own: {metrics}");
        let http = reqwest::Client::new();
        assert_eq!(http.get(format!("{}/_version", server.base)).send().await.expect("send").status(), 200);

        let scraped = http.get(&metrics).send().await.expect("send");
        assert_eq!(scraped.status(), 200);
        assert_eq!(
            scraped.headers().get("content-type").and_then(|v| v.to_str().ok()),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        let text = scraped.text().await.expect("text");
        assert!(
            text.contains(r#"bcda_http_requests_total{method="GET",route="/_version",status="200"} 1"#),
            "{text}"
        );
        assert!(text.contains("bcda_database_up 1"), "{text}");

        let on_api = http.get(format!("{}/metrics", server.base)).send().await.expect("send");
        assert_eq!(on_api.status(), 404);
        assert_eq!(
            on_api.headers().get("content-type").and_then(|v| v.to_str().ok()),
            Some("application/fhir+json")
        );
        let outcome: serde_json::Value = on_api.json().await.expect("json");
        assert_eq!(outcome["resourceType"], "OperationOutcome");
        let metrics_base = metrics.trim_end_matches("/metrics");
        let api_on_metrics = http.get(format!("{metrics_base}/_version")).send().await.expect("send");
        assert_eq!(api_on_metrics.status(), 404);
        server.terminate();
    }
}

/// `bcda worker --metrics-listen` serves the worker's metrics: no API, but
/// its tasks, the queue and the database pool.
#[tokio::test]
async fn a_worker_serves_metrics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut command = bcda(dir.path(), None);
    command
        .args([
            "worker",
            "--workers",
            "1",
            "--metrics-listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command.spawn().expect("spawn bcda");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let worker = Server {
        child,
        base: String::new(),
    };
    let mut printed = String::new();
    for line in lines.by_ref().map_while(Result::ok) {
        printed.push_str(&line);
        printed.push('\n');
        if line.contains("worker running 1 workers") {
            break;
        }
    }
    let url = metrics_url(&printed);
    let text = reqwest::get(&url)
        .await
        .expect("scrape")
        .text()
        .await
        .expect("text");
    assert!(
        text.contains(r#"bcda_task_queue_depth{kind="export"} 0"#),
        "{text}"
    );
    assert!(
        text.contains(r#"bcda_db_pool_max_connections{backend="sqlite"}"#),
        "{text}"
    );
    worker.terminate();
}

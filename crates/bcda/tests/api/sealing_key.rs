//! The sealing key from the environment (`BCDA_SEALING_KEY`): hosts that
//! share a database and a secret, but no file system.

use std::path::Path;
use std::process::Command;

use crate::cli::{Server, bcda, run_ok};
use crate::harness::{Backend, backend_test, fresh_postgres_schema, jwt_part};

/// `bcda` on `data_dir` and `database_url` with `BCDA_SEALING_KEY` = `key`.
fn with_key(data_dir: &Path, database_url: &str, key: &str) -> Command {
    let mut command = bcda(data_dir, Some(database_url));
    command.env("BCDA_SEALING_KEY", key);
    command
}

fn new_sealing_key() -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut command = bcda(&dir.path().join("never-made"), None);
    command.args(["keys", "new-sealing-key"]);
    let printed = run_ok(command);
    let key = printed.trim_end_matches('\n');
    assert!(
        key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit()),
        "{printed:?}"
    );
    assert!(
        !dir.path().join("never-made").exists(),
        "new-sealing-key touches no data directory"
    );
    key.to_owned()
}

/// A token from `base` for the client `id`/`secret`.
async fn token(http: &reqwest::Client, base: &str, id: &str, secret: &str) -> String {
    let response = http
        .post(format!("{base}/auth/token"))
        .basic_auth(id, Some(secret))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    body["access_token"].as_str().expect("token").to_owned()
}

async fn welcome(http: &reqwest::Client, base: &str, token: &str) -> u16 {
    http.get(format!("{base}/auth/welcome"))
        .bearer_auth(token)
        .send()
        .await
        .expect("send")
        .status()
        .as_u16()
}

backend_test! {
    /// Two servers with their own empty data directories, one database and
    /// one BCDA_SEALING_KEY: each opens the signing key the other sealed (a
    /// server refuses to start otherwise), tokens either issues work at
    /// both, after a rotation too, and no key file is made anywhere. A
    /// third with another key refuses to start.
    async fn two_hosts_share_a_sealing_key_not_a_file(backend) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let database_url = match backend {
            Backend::Sqlite => format!("sqlite:{}", tmp.path().join("shared.db").display()),
            Backend::Postgres => fresh_postgres_schema().await.1,
        };
        let (dir_a, dir_b) = (tmp.path().join("a"), tmp.path().join("b"));
        let key = new_sealing_key();

        let mut create = with_key(&dir_a, &database_url, &key);
        create.args(["aco", "create", "--cms-id", "A9994", "--name", "ACO Dev"]);
        run_ok(create);
        let mut credentials = with_key(&dir_a, &database_url, &key);
        credentials.args(["credentials", "create", "--cms-id", "A9994", "--json"]);
        let creds: serde_json::Value =
            serde_json::from_str(&run_ok(credentials)).expect("json");
        let (id, secret) = (
            creds["client_id"].as_str().expect("id"),
            creds["client_secret"].as_str().expect("secret"),
        );

        let (a, _) = Server::start_as(with_key(&dir_a, &database_url, &key), "serve");
        let (b, _) = Server::start_as(with_key(&dir_b, &database_url, &key), "api");
        let http = reqwest::Client::new();
        let from_a = token(&http, &a.base, id, secret).await;
        let from_b = token(&http, &b.base, id, secret).await;
        assert_eq!(jwt_part(&from_a, 0)["kid"], jwt_part(&from_b, 0)["kid"]);
        for base in [&a.base, &b.base] {
            assert_eq!(welcome(&http, base, &from_a).await, 200);
            assert_eq!(welcome(&http, base, &from_b).await, 200);
        }

        // A rotation by an admin command on a third "host": B signs with
        // the new key, which it unseals with the shared key.
        let mut rotate = with_key(&tmp.path().join("c"), &database_url, &key);
        rotate.args(["keys", "rotate"]);
        let rotated = run_ok(rotate);
        assert!(rotated.contains("new URL signing key"), "{rotated}");
        let after = token(&http, &b.base, id, secret).await;
        assert_ne!(jwt_part(&after, 0)["kid"], jwt_part(&from_a, 0)["kid"]);
        assert_eq!(welcome(&http, &a.base, &after).await, 200);

        for dir in [&dir_a, &dir_b, &tmp.path().join("c")] {
            assert!(!dir.join("signing-keys.key").exists(), "{}", dir.display());
        }

        // Another key cannot open what this one sealed: no start.
        let mut wrong = with_key(&tmp.path().join("d"), &database_url, &new_sealing_key());
        wrong.args(["serve", "--listen", "127.0.0.1:0"]);
        let output = wrong.output().expect("run");
        assert_eq!(output.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("cannot be unsealed with this sealing key") && stderr.contains("BCDA_SEALING_KEY"),
            "{stderr}"
        );
        a.terminate();
        b.terminate();
    }
}

/// A malformed BCDA_SEALING_KEY, or one beside a key file, stops every
/// command with one line naming the variable (and never its value).
#[test]
fn sealing_key_mistakes_get_one_line_errors() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let key = new_sealing_key();
    let malformed = [
        "secret-value-0123".to_owned(),
        key[..63].to_owned(),
        format!("{key}00"),
        String::new(),
    ];
    for value in &malformed {
        let mut command = bcda(&dir, None);
        command.env("BCDA_SEALING_KEY", value).arg("migrate");
        let output = command.output().expect("run");
        assert_eq!(output.status.code(), Some(2), "{value:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            stderr.trim_end(),
            "error: environment variable BCDA_SEALING_KEY: expected 64 hexadecimal characters \
             (`bcda keys new-sealing-key` makes a key)",
            "{value:?}"
        );
    }
    let both = "error: both BCDA_SEALING_KEY and --key-file / BCDA_KEY_FILE are set: give the \
                sealing key one way";
    let mut by_variable = bcda(&dir, None);
    by_variable
        .env("BCDA_SEALING_KEY", &key)
        .env("BCDA_KEY_FILE", tmp.path().join("k.key"))
        .arg("migrate");
    let mut by_flag = bcda(&dir, None);
    by_flag
        .env("BCDA_SEALING_KEY", &key)
        .args(["serve", "--key-file"])
        .arg(tmp.path().join("k.key"));
    for mut command in [by_variable, by_flag] {
        let output = command.output().expect("run");
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim_end(), both);
        assert!(!stderr.contains(&key));
    }
    assert!(!tmp.path().join("k.key").exists());
    assert!(!dir.exists(), "nothing was started");
}

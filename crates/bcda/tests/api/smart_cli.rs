//! The real binary: registering SMART Backend Services clients with
//! `bcda credentials create --jwks/--jwks-url`, rotating their keys with
//! `bcda credentials keys`, every JWKS refusal as one line, and a token
//! obtained with an assertion from `bcda serve`.

use std::path::Path;

use bcda::auth::client_key_pair::ClientKeyPair;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::cli::{Server, bcda, run_ok};
use crate::harness::{Backend, backend_test, fresh_postgres_schema, jwt_part};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/smart");

fn write(dir: &Path, name: &str, contents: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write");
    path.display().to_string()
}

/// A signed assertion for `client_id` at the token URL `token_url`.
fn assertion(pair: &ClientKeyPair, client_id: &str, token_url: &str) -> String {
    let mut header = Header::new(Algorithm::ES384);
    header.kid = Some(pair.kid().to_owned());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({
        "iss": client_id, "sub": client_id, "aud": token_url,
        "exp": now + 120, "iat": now, "jti": uuid::Uuid::new_v4().to_string(),
    });
    let pem = pair.private_key_pem().expect("pem");
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_ec_pem(pem.as_bytes()).expect("key"),
    )
    .expect("sign")
}

async fn token_status(http: &reqwest::Client, base: &str, assertion: &str) -> (u16, Value) {
    let body = format!(
        "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer\
         &client_assertion={assertion}&scope=system%2F*.read"
    );
    let response = http
        .post(format!("{base}/auth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("send");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

backend_test! {
    async fn key_clients_are_registered_rotated_and_get_tokens(backend) {
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
        run_ok(cmd(&["aco", "create", "--cms-id", "A9994", "--name", "ACO Dev"]));
        let (key_a, key_b) = (ClientKeyPair::generate().expect("pair"), ClientKeyPair::generate().expect("pair"));
        let jwks_a = write(dir.path(), "a.json", &key_a.public_jwks());
        let jwks_b = write(dir.path(), "b.json", &key_b.public_jwks());

        let printed = run_ok(cmd(&["credentials", "create", "--cms-id", "A9994", "--jwks", &jwks_a]));
        let lines: Vec<&str> = printed.lines().collect();
        assert_eq!(lines.len(), 5, "{printed}");
        let client_id = lines[0].strip_prefix("client_id:     ").expect("client id line").to_owned();
        assert_eq!(lines[1], "auth_method:   private_key_jwt");
        assert_eq!(lines[2], format!("kids:          {}", key_a.kid()));
        assert!(lines[3].starts_with("expires_at:    "), "{printed}");
        assert!(!printed.contains("client_secret"), "no secret is made");

        let by_url: Value = serde_json::from_str(&run_ok(cmd(&[
            "credentials", "create", "--cms-id", "A9994", "--jwks-url", "https://client.example.org/jwks.json", "--json",
        ])))
        .expect("json");
        let keys: Vec<_> = by_url.as_object().expect("object").keys().cloned().collect();
        assert_eq!(keys, ["client_id", "auth_method", "kids", "jwks_url", "expires_at"]);
        assert_eq!(by_url["jwks_url"], "https://client.example.org/jwks.json");

        let listed = run_ok(cmd(&["credentials", "list", "--cms-id", "A9994"]));
        let line = |id: &str| listed.lines().find(|l| l.starts_with(id)).map(str::to_owned).expect("listed");
        assert!(line(&client_id).ends_with("private_key_jwt (JWKS)"), "{listed}");
        assert!(line(by_url["client_id"].as_str().expect("id")).ends_with("private_key_jwt (https://client.example.org/jwks.json)"), "{listed}");

        let server = Server::start_as(bcda(dir.path(), pg), "serve").0;
        let token_url = format!("{}/auth/token", server.base);
        let http = reqwest::Client::new();
        let (status, body) = token_status(&http, &server.base, &assertion(&key_a, &client_id, &token_url)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["expires_in"], 300);
        assert_eq!(body["scope"], "system/*.read");
        let token = body["access_token"].as_str().expect("token").to_owned();
        assert_eq!(jwt_part(&token, 1)["scope"], "system/*.read");
        let welcome = http.get(format!("{}/auth/welcome", server.base)).bearer_auth(&token).send().await.expect("send");
        assert_eq!(welcome.status(), 200);

        // Rotation by an admin command beside the running server.
        let rotated: Value = serde_json::from_str(&run_ok(cmd(&[
            "credentials", "keys", "--client-id", &client_id, "--jwks", &jwks_b, "--json",
        ])))
        .expect("json");
        assert_eq!(rotated["client_id"], client_id.as_str());
        assert_eq!(rotated["kids"], json!([key_b.kid()]));
        let (status, body) = token_status(&http, &server.base, &assertion(&key_a, &client_id, &token_url)).await;
        assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{body}");
        let (status, body) = token_status(&http, &server.base, &assertion(&key_b, &client_id, &token_url)).await;
        assert_eq!(status, 200, "{body}");

        // A key client has no secret to reset; revoking works as for secrets.
        let mut reset = cmd(&["credentials", "reset", "--client-id", &client_id]);
        let output = reset.output().expect("run");
        assert_eq!(output.status.code(), Some(1));
        assert_eq!(
            String::from_utf8_lossy(&output.stderr).trim_end(),
            format!("error: credentials {client_id} authenticate with registered keys and have no secret; replace their keys with `bcda credentials keys`")
        );
        run_ok(cmd(&["credentials", "revoke", "--client-id", &client_id]));
        let (status, _) = token_status(&http, &server.base, &assertion(&key_b, &client_id, &token_url)).await;
        assert_eq!(status, 401);
        let discovery: Value = http
            .get(format!("{}/api/v2/.well-known/smart-configuration", server.base))
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        assert_eq!(discovery["token_endpoint"], token_url.as_str());
        server.terminate();
    }
}

#[test]
fn each_jwks_refusal_is_one_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // A data directory bcda makes itself (owner-only), so no warning about
    // its mode joins the one-line errors.
    let dir = tmp.path().join("data");
    let mut create = bcda(&dir, None);
    create.args(["aco", "create", "--cms-id", "A9994", "--name", "ACO Dev"]);
    run_ok(create);
    let pair = ClientKeyPair::generate().expect("pair");
    let public = pair.public_jwk();
    let small: Value = serde_json::from_slice(
        &std::fs::read(format!("{FIXTURES}/rsa-1024.public.jwk.json")).expect("fixture"),
    )
    .expect("json");
    let mut no_kid = public.clone();
    no_kid.as_object_mut().expect("jwk").remove("kid");
    let file = |name: &str, contents: String| write(tmp.path(), name, &contents);
    let private = file("private.json", pair.private_jwks());
    let no_keys = file("no-keys.json", "{}".to_owned());
    let not_json = file("not-json.json", "keys: []".to_owned());
    let missing_kid = file("no-kid.json", json!({"keys": [no_kid]}).to_string());
    let too_small = file("small.json", json!({"keys": [small]}).to_string());
    let missing = tmp.path().join("absent.json").display().to_string();
    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["--jwks", &private], format!("error: {private}: key \"{}\" holds private key material (\"d\"): register only public keys", pair.kid())),
        (vec!["--jwks", &no_keys], format!("error: {no_keys}: not a JWKS: it has no \"keys\" array")),
        (vec!["--jwks", &not_json], format!("error: {not_json}: not a JWKS: expected value at line 1 column 1")),
        (vec!["--jwks", &missing_kid], format!("error: {missing_kid}: key 0 has no \"kid\"")),
        (vec!["--jwks", &too_small], format!(
            "error: {too_small}: no key usable for RS384 (RSA, 2048 to 4096 bits) or ES384 (EC, curve P-384) with \"use\" sig and \"key_ops\" verify if given"
        )),
        (vec!["--jwks", &missing], format!("error: cannot read {missing}: No such file or directory (os error 2)")),
        (vec!["--jwks-url", "ftp://client.example.org/jwks"], "error: invalid JWKS URL \"ftp://client.example.org/jwks\": expected an https:// (or http://) URL".to_owned()),
        (vec!["--jwks-url", "jwks.json"], "error: invalid JWKS URL \"jwks.json\": not a URL (relative URL without a base)".to_owned()),
    ];
    for (args, expected) in cases {
        let mut command = bcda(&dir, None);
        command
            .args(["credentials", "create", "--cms-id", "A9994"])
            .args(&args);
        let output = command.output().expect("run");
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&output.stderr).trim_end(),
            expected,
            "{args:?}"
        );
    }
    // The same checks when replacing keys; and keys only for key clients.
    let mut create = bcda(&dir, None);
    create.args(["credentials", "create", "--cms-id", "A9994", "--json"]);
    let secret_client: Value = serde_json::from_str(&run_ok(create)).expect("json");
    let id = secret_client["client_id"].as_str().expect("id");
    let good = file("good.json", pair.public_jwks());
    for (args, expected) in [
        (
            vec!["--client-id", id, "--jwks", &private],
            format!(
                "error: {private}: key \"{}\" holds private key material (\"d\"): register only public keys",
                pair.kid()
            ),
        ),
        (
            vec!["--client-id", id, "--jwks", &good],
            format!(
                "error: credentials {id} authenticate with a secret; create a key client for keys"
            ),
        ),
        (
            vec!["--client-id", "nope", "--jwks", &good],
            "error: no credentials with client id nope".to_owned(),
        ),
    ] {
        let mut command = bcda(&dir, None);
        command.args(["credentials", "keys"]).args(&args);
        let output = command.output().expect("run");
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&output.stderr).trim_end(),
            expected,
            "{args:?}"
        );
    }
    // --jwks and --jwks-url together, or `keys` with neither: usage errors.
    for args in [
        vec![
            "credentials",
            "create",
            "--cms-id",
            "A9994",
            "--jwks",
            &good,
            "--jwks-url",
            "https://x/jwks",
        ],
        vec!["credentials", "keys", "--client-id", id],
    ] {
        let mut command = bcda(&dir, None);
        command.args(&args);
        assert_eq!(
            command.output().expect("run").status.code(),
            Some(2),
            "{args:?}"
        );
    }
}

//! Signed download URLs (`--signed-urls`): the manifest's file URLs carry
//! an expiring signature bound to job, file and ACO, and work without a
//! bearer token; a token still works; without the setting, BCDA's plain
//! URLs and `requiresAccessToken: true`.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use bcda::app::HttpSettings;
use bcda::jobs::worker::run_until_idle;

use crate::harness::{START, TestApp, TestResponse, backend_test, gunzip};
use crate::kickoff::{job_id, kick_ok, sandbox_app_with_token};

const TTL: Duration = Duration::from_secs(15 * 60);
const INVALID: &str = "Invalid signed URL";
const EXPIRED: &str = "Expired signed URL: request the job's status again for fresh file URLs";

/// A sandbox app signing URLs for `ttl` (or not at all), and A9994's token.
async fn app_signing(backend: crate::harness::Backend, ttl: Option<Duration>) -> (TestApp, String) {
    let http = HttpSettings {
        signed_urls: ttl,
        ..HttpSettings::default()
    };
    sandbox_app_with_token(TestApp::builder(backend).http(http), "A9994").await
}

/// A new token for new credentials of the sandbox ACO `cms_id`.
async fn fresh_token(app: &TestApp, cms_id: &str) -> String {
    let creds = app.create_credentials(cms_id).await;
    app.token(&creds).await
}

/// Kicks off a v2 export of `types` for A9994, runs it, and returns the
/// job id and its manifest.
async fn finished_export(app: &TestApp, token: &str, types: &str) -> (i64, serde_json::Value) {
    let id = job_id(
        &kick_ok(
            app,
            token,
            &format!("/api/v2/Patient/$export?_type={types}"),
        )
        .await,
    );
    run_until_idle(&app.state.env).await.expect("export runs");
    (id, manifest(app, token, id).await)
}

async fn manifest(app: &TestApp, token: &str, id: i64) -> serde_json::Value {
    let response = app
        .get_with_token(&format!("/api/v2/jobs/{id}"), token)
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    response.json()
}

/// The manifest's `output` URLs, as paths with their query strings.
fn output_paths(manifest: &serde_json::Value) -> Vec<String> {
    manifest["output"]
        .as_array()
        .expect("output")
        .iter()
        .map(|entry| {
            entry["url"]
                .as_str()
                .expect("url")
                .strip_prefix("http://bcda.test")
                .expect("an absolute URL on the test host")
                .to_owned()
        })
        .collect()
}

/// `GET`/`HEAD` of `uri` with these headers (no token unless one is among them).
async fn fetch(app: &TestApp, method: Method, uri: &str, headers: &[(&str, &str)]) -> TestResponse {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    app.send(request.body(Body::empty()).expect("request"))
        .await
}

async fn get(app: &TestApp, uri: &str) -> TestResponse {
    fetch(app, Method::GET, uri, &[]).await
}

/// The path and the query of a URL path.
fn split(uri: &str) -> (&str, &str) {
    uri.split_once('?').expect("a query string")
}

/// The value of query parameter `name` in `uri`.
fn param<'a>(uri: &'a str, name: &str) -> &'a str {
    split(uri)
        .1
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("{name} in {uri}"))
}

/// `uri` with parameter `name` set to `value`.
fn with_param(uri: &str, name: &str, value: &str) -> String {
    let (path, query) = split(uri);
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((n, _)) if n == name => format!("{n}={value}"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{path}?{}", query.join("&"))
}

/// Moves the app's clock forward.
fn advance(app: &TestApp, by: Duration) {
    app.clock
        .advance(time::Duration::try_from(by).expect("a short duration"));
}

backend_test! {
    async fn manifest_urls_are_signed_and_download_without_a_token(backend) {
        let (app, token) = app_signing(backend, Some(TTL)).await;
        let (id, manifest) = finished_export(&app, &token, "Patient,Coverage").await;
        assert_eq!(manifest["requiresAccessToken"], false);
        let urls = output_paths(&manifest);
        assert!(urls.len() >= 2, "{urls:?}");
        let expires = (START + TTL).unix_timestamp().to_string();
        for url in &urls {
            assert!(url.starts_with(&format!("/data/{id}/")), "{url}");
            assert_eq!(param(url, "expires"), expires);
            assert_eq!(param(url, "kid").len(), 32);
            assert_eq!(param(url, "signature").len(), 43, "base64url of 32 bytes");

            // The same bytes as with a token, in both forms.
            let plain = split(url).0;
            let gzip = fetch(&app, Method::GET, url, &[("accept-encoding", "gzip")]).await;
            assert_eq!(gzip.status, StatusCode::OK, "{}", gzip.text());
            assert_eq!(gzip.header("content-encoding"), Some("gzip"));
            let identity = get(&app, url).await;
            assert_eq!(identity.status, StatusCode::OK, "{}", identity.text());
            assert_eq!(identity.header("content-encoding"), None);
            let with_token = app.get_with_token(plain, &token).await;
            assert_eq!(with_token.status, StatusCode::OK);
            assert_eq!(identity.body, with_token.body);
            assert_eq!(gunzip(&gzip.body), identity.body.to_vec());
            assert!(!identity.body.is_empty());

            let range = fetch(&app, Method::GET, url, &[("range", "bytes=0-9")]).await;
            assert_eq!(range.status, StatusCode::PARTIAL_CONTENT);
            assert_eq!(range.body, identity.body.slice(0..10));
            let head = fetch(&app, Method::HEAD, url, &[]).await;
            assert_eq!(head.status, StatusCode::OK);
            assert_eq!(head.header("content-length"), identity.header("content-length"));
        }
        // The error files' URLs are signed too.
        let errors: Vec<&str> = manifest["error"]
            .as_array()
            .expect("error")
            .iter()
            .map(|entry| entry["url"].as_str().expect("url"))
            .collect();
        assert!(!errors.is_empty(), "A9994's export has an error file");
        for url in errors {
            let path = url.strip_prefix("http://bcda.test").expect("test host");
            assert_eq!(param(path, "expires"), expires);
            let response = get(&app, path).await;
            assert_eq!(response.status, StatusCode::OK, "{}", response.text());
            assert!(response.text().contains("OperationOutcome"));
        }

        // The plain URL still needs a token.
        let plain = split(&urls[0]).0;
        get(&app, plain).await.assert_outcome(401, "forbidden", "Invalid Token");
    }
}

backend_test! {
    async fn a_signature_opens_no_other_file_or_job(backend) {
        let (app, token) = app_signing(backend, Some(TTL)).await;
        let (first, manifest) = finished_export(&app, &token, "Patient,Coverage").await;
        let urls = output_paths(&manifest);
        let (a, b) = (&urls[0], &urls[1]);
        // Another file of the same job with the first file's signature.
        let swapped = format!("{}?{}", split(b).0, split(a).1);
        get(&app, &swapped).await.assert_outcome(401, "forbidden", INVALID);
        // The same file name under another job of the same ACO.
        let (second, _) = finished_export(&app, &token, "Patient,Coverage").await;
        let other_job = a.replacen(&format!("/data/{first}/"), &format!("/data/{second}/"), 1);
        get(&app, &other_job).await.assert_outcome(401, "forbidden", INVALID);
        // A job of another ACO: the signature binds the owner, not only ids.
        let other_token = fresh_token(&app, "TEST001").await;
        let (theirs, their_manifest) = finished_export(&app, &other_token, "Patient").await;
        let their_url = &output_paths(&their_manifest)[0];
        assert_eq!(get(&app, their_url).await.status, StatusCode::OK);
        let mine_on_theirs = format!("{}?{}", split(their_url).0, split(a).1);
        get(&app, &mine_on_theirs).await.assert_outcome(401, "forbidden", INVALID);
        // A9994's token cannot use TEST001's file either, signature or not.
        let theirs_with_my_token = app
            .get_with_token(&format!("/data/{theirs}/{}", split(their_url).0.rsplit('/').next().expect("name")), &token)
            .await;
        assert_eq!(theirs_with_my_token.status, StatusCode::UNAUTHORIZED);
        // Each file still opens with its own signed URL.
        assert_eq!(get(&app, a).await.status, StatusCode::OK);
        assert_eq!(get(&app, b).await.status, StatusCode::OK);
    }
}

backend_test! {
    async fn tampered_and_malformed_signatures_are_refused(backend) {
        let (app, token) = app_signing(backend, Some(TTL)).await;
        let (_, manifest) = finished_export(&app, &token, "Patient").await;
        let url = &output_paths(&manifest)[0];
        let expires: i64 = param(url, "expires").parse().expect("number");
        let signature = param(url, "signature");
        let mut flipped = signature.to_owned().into_bytes();
        flipped[5] = if flipped[5] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).expect("ascii");
        let tampered = [
            with_param(url, "expires", &(expires + 3600).to_string()),
            with_param(url, "expires", &(expires - 1).to_string()),
            with_param(url, "kid", "0123456789abcdef0123456789abcdef"),
            with_param(url, "signature", &flipped),
        ];
        for uri in &tampered {
            get(&app, uri).await.assert_outcome(401, "forbidden", INVALID);
        }
        let (path, query) = split(url);
        let malformed = [
            format!("{path}?{}", query.split("&signature=").next().expect("prefix")),
            format!("{path}?{query}&kid=other"),
            with_param(url, "signature", "not*base64"),
            with_param(url, "expires", "soon"),
            format!("{path}?signature={signature}"),
        ];
        for uri in &malformed {
            get(&app, uri).await.assert_outcome(401, "forbidden", INVALID);
        }
        // Other parameters beside a valid signature change nothing.
        assert_eq!(get(&app, &format!("{url}&_format=x")).await.status, StatusCode::OK);
        assert_eq!(get(&app, url).await.status, StatusCode::OK);
    }
}

backend_test! {
    async fn signed_urls_expire_but_a_token_still_works(backend) {
        let (app, token) = app_signing(backend, Some(TTL)).await;
        let (_, manifest) = finished_export(&app, &token, "Patient").await;
        let url = &output_paths(&manifest)[0];
        advance(&app, TTL - Duration::from_secs(1));
        assert_eq!(get(&app, url).await.status, StatusCode::OK);
        advance(&app, Duration::from_secs(1));
        get(&app, url).await.assert_outcome(401, "forbidden", EXPIRED);
        // A valid token opens the file whatever the signature says.
        let fresh = app.get_with_token(url, &token).await;
        assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.text());
        let mut flipped = url.clone();
        flipped.push('A');
        assert_eq!(app.get_with_token(&flipped, &token).await.status, StatusCode::OK);
        // ...but an invalid token with an expired signature opens nothing.
        let bad_token = app.get_with_token(url, "not-a-token").await;
        bad_token.assert_outcome(401, "forbidden", "Invalid Token");
    }
}

backend_test! {
    async fn the_download_window_still_applies(backend) {
        let (app, token) = app_signing(backend, Some(Duration::from_secs(2 * 24 * 3600))).await;
        let (id, manifest) = finished_export(&app, &token, "Patient").await;
        let url = &output_paths(&manifest)[0];
        assert_eq!(get(&app, url).await.status, StatusCode::OK);
        advance(&app, Duration::from_secs(25 * 3600));
        let gone = get(&app, url).await;
        assert_eq!(gone.status, StatusCode::GONE, "{}", gone.text());
        // A cancelled job's signed URL opens nothing either.
        let token = fresh_token(&app, "A9994").await;
        let (second, manifest) = finished_export(&app, &token, "Patient").await;
        assert_ne!(second, id);
        let url = &output_paths(&manifest)[0];
        let cancel = fetch(
            &app,
            Method::DELETE,
            &format!("/api/v2/jobs/{second}"),
            &[("authorization", &format!("Bearer {token}"))],
        )
        .await;
        assert_eq!(cancel.status, StatusCode::ACCEPTED);
        assert_eq!(get(&app, url).await.status, StatusCode::NOT_FOUND);
    }
}

backend_test! {
    async fn a_deny_listed_aco_signed_urls_are_refused(backend) {
        let (app, token) = app_signing(backend, Some(TTL)).await;
        let (_, manifest) = finished_export(&app, &token, "Patient").await;
        let url = &output_paths(&manifest)[0];
        bcda::acos::set_denied(app.db(), &app.clock, "A9994", true)
            .await
            .expect("deny");
        get(&app, url)
            .await
            .assert_outcome(403, "forbidden", "ACO (CMS_ID: A9994) is unauthorized");
    }
}

backend_test! {
    async fn without_the_setting_urls_are_plain_and_need_a_token(backend) {
        let (app, token) = app_signing(backend, None).await;
        let (id, manifest) = finished_export(&app, &token, "Patient").await;
        assert_eq!(manifest["requiresAccessToken"], true);
        let url = &output_paths(&manifest)[0];
        assert!(!url.contains('?'), "{url}");
        get(&app, url).await.assert_outcome(401, "forbidden", "Invalid Token");
        assert_eq!(app.get_with_token(url, &token).await.status, StatusCode::OK);

        // A URL signed while the setting was on opens nothing once it is off.
        let signing = bcda::auth::url_signing::UrlKeys::new(
            app.db().clone(),
            bcda::auth::keys::KeySealer::from_key(&[1u8; 32]),
        );
        signing.ensure_key(START).await.expect("a key");
        let key = signing.current().await.expect("current");
        let job = bcda::store::jobs::find(app.db(), id).await.expect("db").expect("job");
        let name = url.rsplit('/').next().expect("name");
        let signature = key.sign(
            &bcda::auth::url_signing::SignedFile { job_id: id, name, aco_id: job.aco_id },
            (START + TTL).unix_timestamp(),
        );
        let signed = format!("{url}?{}", signature.query());
        get(&app, &signed).await.assert_outcome(401, "forbidden", "Invalid Token");
        assert_eq!(app.get_with_token(&signed, &token).await.status, StatusCode::OK);
    }
}

backend_test! {
    async fn after_rotation_old_urls_work_until_they_expire(backend) {
        let (app, token) = app_signing(backend, Some(TTL)).await;
        let (id, manifest) = finished_export(&app, &token, "Patient").await;
        let old = output_paths(&manifest)[0].clone();
        advance(&app, Duration::from_secs(60));
        let rotated = app.state.url_keys.rotate(app.state.clock.now()).await.expect("rotate");
        let new = output_paths(&self::manifest(&app, &token, id).await)[0].clone();
        assert_eq!(param(&new, "kid"), rotated.kid);
        assert_ne!(param(&old, "kid"), param(&new, "kid"));
        assert_eq!(split(&old).0, split(&new).0);
        assert_eq!(get(&app, &old).await.status, StatusCode::OK);
        assert_eq!(get(&app, &new).await.status, StatusCode::OK);
        // The old key's URL expires on time; the newer one lives on.
        advance(&app, TTL - Duration::from_secs(60));
        get(&app, &old).await.assert_outcome(401, "forbidden", EXPIRED);
        assert_eq!(get(&app, &new).await.status, StatusCode::OK);
        let keys = bcda::store::url_signing_keys::list(app.db()).await.expect("keys");
        assert_eq!(keys.len(), 2);
        assert!(keys[1].retired_at.is_some() && keys[0].retired_at.is_none());
    }
}

backend_test! {
    async fn the_capability_statements_say_so(backend) {
        let (app, _) = app_signing(backend, Some(TTL)).await;
        for version in ["v1", "v2", "v3"] {
            let statement = app.get(&format!("/api/{version}/metadata")).await.json();
            let description = statement["rest"][0]["security"]["description"]
                .as_str()
                .unwrap_or_else(|| panic!("{version}: a security description"));
            assert!(description.contains("requiresAccessToken false"), "{description}");
            assert!(description.contains("900 seconds"), "{description}");
        }
        let (plain, _) = app_signing(backend, None).await;
        let statement = plain.get("/api/v2/metadata").await.json();
        assert!(statement["rest"][0]["security"].get("description").is_none());
    }
}

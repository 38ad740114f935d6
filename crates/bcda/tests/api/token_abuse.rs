//! `POST /auth/token` under attack: failed attempts throttled per client id
//! and per address (without revealing which ids exist), a bound on
//! concurrent secret verifications, the per-ACO limit exact under a burst,
//! and credential resets and revocations ending live tokens.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine;
use bcda::app::HttpSettings;
use bcda::auth::throttle::ThrottleSettings;
use bcda::auth::tokens::TokenSettings;
use bcda::auth::verifier::VerifierSettings;

use crate::harness::{Backend, TestApp, TestResponse, backend_test};

/// `POST /auth/token` as a real server sees it: from `peer` (the extension
/// the server's connection layer inserts), with extra headers.
async fn post_token_from(
    app: &TestApp,
    client_id: &str,
    secret: &str,
    peer: Option<&str>,
    headers: &[(&str, &str)],
) -> TestResponse {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"));
    let mut request = Request::builder()
        .method(Method::POST)
        .uri("/auth/token")
        .header(header::AUTHORIZATION, format!("Basic {basic}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(peer) = peer {
        let addr: SocketAddr = peer.parse().expect("socket address");
        request = request.extension(ConnectInfo(addr));
    }
    app.send(request.body(Body::empty()).expect("request"))
        .await
}

fn settings(per_client: u32, per_address: u32) -> TokenSettings {
    TokenSettings {
        throttle: ThrottleSettings {
            per_client,
            per_address,
            window: Duration::from_secs(60),
        },
        ..TokenSettings::default()
    }
}

const THROTTLED: &str = "Too many failed attempts to obtain an access token. Try again later.";

fn unknown_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

backend_test! {
    async fn throttled_answers_do_not_tell_known_ids_from_unknown(backend) {
        let app = TestApp::builder(backend).tokens(settings(3, 1000)).build().await;
        app.create_aco("A9994").await;
        let creds = app.create_credentials("A9994").await;
        let unknown = unknown_id();
        for id in [creds.client_id.as_str(), unknown.as_str()] {
            for _ in 0..3 {
                app.post_token(id, "wrong").await.assert_outcome(401, "forbidden", "Invalid client id or secret");
            }
        }
        app.clock.advance(time::Duration::seconds(15));
        let verified = app.state.tokens.verifier_stats().total;
        let known = app.post_token(&creds.client_id, "wrong").await;
        let other = app.post_token(&unknown, "wrong").await;
        for response in [&known, &other] {
            response.assert_outcome(429, "throttled", THROTTLED);
            assert_eq!(response.header("retry-after"), Some("45"));
        }
        assert_eq!(known.body, other.body);
        // Even the right secret is not looked at while the id is throttled,
        // and no throttled answer cost a verification (same timing class).
        post_token_from(&app, &creds.client_id, &creds.client_secret, None, &[])
            .await
            .assert_outcome(429, "throttled", THROTTLED);
        assert_eq!(app.state.tokens.verifier_stats().total, verified);

        // Once the window has passed, the owner gets a token again.
        app.clock.advance(time::Duration::seconds(45));
        app.token(&creds).await;
    }
}

backend_test! {
    async fn an_address_is_throttled_whatever_ids_it_tries(backend) {
        let app = TestApp::builder(backend).tokens(settings(1000, 4)).build().await;
        app.create_aco("A9994").await;
        let good = app.create_credentials("A9994").await;
        let (a, b) = (Some("192.0.2.10:40000"), Some("198.51.100.20:40000"));
        for _ in 0..3 {
            post_token_from(&app, &unknown_id(), "wrong", a, &[]).await.assert_outcome(401, "forbidden", "Invalid client id or secret");
        }
        // A success from the same address does not forgive the others' failures.
        let ok = post_token_from(&app, &good.client_id, &good.client_secret, a, &[]).await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
        post_token_from(&app, &unknown_id(), "wrong", a, &[]).await.assert_outcome(401, "forbidden", "Invalid client id or secret");

        let limited = post_token_from(&app, &unknown_id(), "wrong", a, &[]).await;
        limited.assert_outcome(429, "throttled", THROTTLED);
        assert_eq!(limited.header("retry-after"), Some("60"));
        // The address's good client waits too; a client elsewhere does not.
        post_token_from(&app, &good.client_id, &good.client_secret, a, &[])
            .await
            .assert_outcome(429, "throttled", THROTTLED);
        let elsewhere = post_token_from(&app, &good.client_id, &good.client_secret, b, &[]).await;
        assert_eq!(elsewhere.status, StatusCode::OK, "{}", elsewhere.text());
        // Without a trusted proxy, X-Forwarded-For is the client's own words.
        post_token_from(&app, &unknown_id(), "wrong", a, &[("x-forwarded-for", "203.0.113.5")])
            .await
            .assert_outcome(429, "throttled", THROTTLED);

        app.clock.advance(time::Duration::seconds(60));
        let after = post_token_from(&app, &good.client_id, &good.client_secret, a, &[]).await;
        assert_eq!(after.status, StatusCode::OK, "{}", after.text());
    }
}

backend_test! {
    async fn behind_a_trusted_proxy_the_last_forwarded_address_counts(backend) {
        let app = TestApp::builder(backend)
            .tokens(settings(1000, 2))
            .http(HttpSettings { trust_forwarded_headers: true, public_base_url: None, ..Default::default() })
            .build()
            .await;
        let proxy = Some("10.0.0.1:50000");
        for _ in 0..2 {
            // The client's own "1.2.3.4" is not what counts: the proxy's entry is.
            post_token_from(&app, &unknown_id(), "wrong", proxy, &[("x-forwarded-for", "1.2.3.4, 192.0.2.10")])
                .await
                .assert_outcome(401, "forbidden", "Invalid client id or secret");
        }
        post_token_from(&app, &unknown_id(), "wrong", proxy, &[("x-forwarded-for", "5.6.7.8, 192.0.2.10")])
            .await
            .assert_outcome(429, "throttled", THROTTLED);
        // Another client behind the same proxy is not affected.
        post_token_from(&app, &unknown_id(), "wrong", proxy, &[("x-forwarded-for", "192.0.2.11")])
            .await
            .assert_outcome(401, "forbidden", "Invalid client id or secret");
    }
}

backend_test! {
    async fn concurrent_verifications_are_bounded_and_the_overflow_is_503(backend) {
        let app = Arc::new(
            TestApp::builder(backend)
                .tokens(TokenSettings {
                    verifier: VerifierSettings { limit: 1, wait: Duration::from_millis(20) },
                    ..settings(1000, 1000)
                })
                .build()
                .await,
        );
        app.create_aco("A9994").await;
        let good = app.create_credentials("A9994").await;
        let attempts: Vec<_> = (0..24)
            .map(|i| {
                let app = app.clone();
                let id = if i % 2 == 0 { good.client_id.clone() } else { unknown_id() };
                tokio::spawn(async move {
                    post_token_from(&app, &id, "wrong", Some("192.0.2.10:1"), &[]).await
                })
            })
            .collect();
        let mut unavailable = 0;
        for attempt in attempts {
            let response = attempt.await.expect("request task");
            match response.status.as_u16() {
                401 => response.assert_outcome(401, "forbidden", "Invalid client id or secret"),
                503 => {
                    response.assert_outcome(503, "exception", "The token service is busy. Please try again shortly.");
                    assert!(response.header("retry-after").is_some(), "503 without Retry-After");
                    unavailable += 1;
                }
                other => panic!("unexpected {other}: {}", response.text()),
            }
        }
        assert!(unavailable > 0, "24 verifications cannot all fit one slot in 20 ms");
        assert_eq!(app.state.tokens.verifier_stats().peak, 1);
        // Once the flood has passed, the good client gets its token.
        app.token(&good).await;
    }
}

/// Twice the limit of simultaneous good requests: exactly the limit gets
/// tokens, on a runtime with real parallelism.
async fn burst_gets_exactly_the_limit(backend: Backend) {
    let app = Arc::new(
        TestApp::builder(backend)
            .tokens(TokenSettings {
                rate_limit: 10,
                verifier: VerifierSettings {
                    limit: 4,
                    wait: Duration::from_secs(60),
                },
                ..TokenSettings::default()
            })
            .build()
            .await,
    );
    app.create_aco("A9994").await;
    let creds = app.create_credentials("A9994").await;
    let barrier = Arc::new(tokio::sync::Barrier::new(20));
    let requests: Vec<_> = (0..20)
        .map(|_| {
            let (app, creds, barrier) = (app.clone(), creds.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                app.post_token(&creds.client_id, &creds.client_secret).await
            })
        })
        .collect();
    let mut issued = 0;
    for request in requests {
        let response = request.await.expect("request task");
        match response.status {
            StatusCode::OK => issued += 1,
            StatusCode::TOO_MANY_REQUESTS => assert!(response.header("retry-after").is_some()),
            other => panic!("unexpected {other}: {}", response.text()),
        }
    }
    assert_eq!(issued, 10, "the per-ACO limit is 10");
}

mod per_aco_limit_is_exact_under_a_burst {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite() {
        burst_gets_exactly_the_limit(Backend::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres() {
        burst_gets_exactly_the_limit(Backend::Postgres).await
    }
}

backend_test! {
    async fn reset_and_revoke_end_the_clients_live_tokens(backend) {
        let app = TestApp::new(backend).await;
        app.create_aco("A9994").await;
        let creds = app.create_credentials("A9994").await;
        let before = app.token(&creds).await;
        let other_client = app.create_credentials("A9994").await;
        let bystander = app.token(&other_client).await;

        let reset = bcda::auth::credentials::reset(
            app.db(),
            &app.clock,
            &creds.client_id,
            bcda::auth::credentials::DEFAULT_SECRET_LIFETIME,
        )
        .await
        .expect("reset");
        app.get_with_token("/auth/welcome", &before)
            .await
            .assert_outcome(401, "forbidden", "Expired Token");
        // Another client of the same ACO keeps its token.
        assert_eq!(app.get_with_token("/auth/welcome", &bystander).await.status, StatusCode::OK);
        let after = app.token(&reset).await;
        assert_eq!(app.get_with_token("/auth/welcome", &after).await.status, StatusCode::OK);

        bcda::auth::credentials::revoke(app.db(), &app.clock, &creds.client_id).await.expect("revoke");
        app.get_with_token("/auth/welcome", &after)
            .await
            .assert_outcome(401, "forbidden", "Expired Token");
        // The token records themselves say revoked, not only the credential.
        let (_, claims) = app.state.tokens.verify_signature(&after).await.expect("ours");
        let standing = bcda::store::access_tokens::standing(app.db(), &claims.jti)
            .await
            .expect("db")
            .expect("recorded");
        assert!(standing.token_revoked_at.is_some());
    }
}

#[test]
fn the_throttle_stays_bounded_under_a_flood_of_random_ids_and_addresses() {
    use bcda::auth::throttle::{FailureThrottle, MAX_ENTRIES};
    let throttle = FailureThrottle::new(ThrottleSettings::default());
    let now = crate::harness::START;
    for i in 0..(MAX_ENTRIES as u32 + 10_000) {
        let address = std::net::IpAddr::from(i.to_be_bytes());
        throttle.record_failure(&format!("id-{i}"), Some(address), now);
    }
    let (ids, addresses) = throttle.tracked();
    assert!(
        ids <= MAX_ENTRIES && addresses <= MAX_ENTRIES,
        "{ids} ids, {addresses} addresses"
    );
}

/// The real server's peak resident memory stays bounded while 64 clients
/// send wrong secrets at once (it grew by one 19 MiB argon2 block per
/// concurrent request before verifications were bounded).
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_wrong_secrets_keeps_the_servers_memory_bounded() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    struct Child(std::process::Child);
    impl Drop for Child {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_bcda"));
    command.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    command
        .env("BCDA_DATA_DIR", dir.path())
        .args(["serve", "--listen", "127.0.0.1:0", "--workers", "1"])
        // Two verifications at once, whatever this machine's core count;
        // throttling out of the way so every request reaches the verifier.
        .args([
            "--token-verifications",
            "2",
            "--token-failures-per-client",
            "100000",
        ])
        .args(["--token-failures-per-address", "100000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = Child(command.spawn().expect("spawn bcda"));
    let stdout = child.0.stdout.take().expect("stdout");
    let base = tokio::task::spawn_blocking(move || {
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("read");
            if let Some((_, url)) = line.split_once(" listening on ") {
                return url.trim().to_owned();
            }
        }
        panic!("bcda serve exited before listening");
    })
    .await
    .expect("stdout reader");
    let pid = child.0.id();
    let peak_kb = || -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM")
    };

    let client = reqwest::Client::new();
    let url = format!("{base}/auth/token");
    // A trivial request first: the baseline the flood is compared with.
    let warm = client
        .post(&url)
        .basic_auth("nobody", Some("wrong"))
        .send()
        .await
        .expect("send");
    assert_eq!(warm.status().as_u16(), 401);
    let before = peak_kb();
    let flood: Vec<_> = (0..64)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move {
                let id = uuid::Uuid::new_v4().to_string();
                client
                    .post(&url)
                    .basic_auth(id, Some("wrong"))
                    .send()
                    .await
                    .expect("send")
                    .status()
                    .as_u16()
            })
        })
        .collect();
    for request in flood {
        let status = request.await.expect("request task");
        assert!(status == 401 || status == 503, "unexpected {status}");
    }
    let growth_mb = peak_kb().saturating_sub(before) / 1024;
    // Two verifications hold 2 x 19 MiB; 64 unbounded ones held over 1 GB.
    assert!(
        growth_mb < 150,
        "peak memory grew by {growth_mb} MB under the flood"
    );
}

//! SMART Backend Services at `POST /auth/token`: client assertions signed
//! RS384 or ES384 with registered keys (inline or at a JWKS URL) for
//! scoped tokens, every refusal as an OAuth error, and the discovery
//! documents.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine;
use bcda::app::{App, AppConfig, AppState, HttpSettings};
use bcda::auth::backend_services::BackendServicesSettings;
use bcda::auth::client_key_pair::ClientKeyPair;
use bcda::auth::credentials::{self, DEFAULT_SECRET_LIFETIME};
use bcda::auth::throttle::ThrottleSettings;
use bcda::auth::tokens::TokenSettings;
use bcda::clock::Clock;
use bcda::config::DataDir;
use bcda::store::credentials::ClientKeys;
use http_body_util::BodyExt;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::harness::{
    Backend, TestApp, TestAppBuilder, TestResponse, backend_test, jwt_part, jwt_segment,
};
use crate::kickoff::{job_id, kick_ok};

/// The token URL as the harness's requests reach it (`Host: bcda.test`).
const TOKEN_URL: &str = "http://bcda.test/auth/token";

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Token settings that never throttle (the refusal tests fail often on
/// purpose), with the default assertion settings unless given.
pub(crate) fn settings(backend_services: BackendServicesSettings) -> TokenSettings {
    TokenSettings {
        throttle: ThrottleSettings {
            per_client: 1000,
            per_address: 1000,
            window: Duration::from_secs(60),
        },
        backend_services,
        ..TokenSettings::default()
    }
}

fn builder(backend: Backend) -> TestAppBuilder {
    TestApp::builder(backend).tokens(settings(BackendServicesSettings::default()))
}

/// A private key the tests sign assertions with.
pub(crate) struct Signer {
    kid: String,
    alg: Algorithm,
    key: EncodingKey,
}

impl Signer {
    pub(crate) fn es384(pair: &ClientKeyPair) -> Signer {
        let pem = pair.private_key_pem().expect("pem");
        Signer {
            kid: pair.kid().to_owned(),
            alg: Algorithm::ES384,
            key: EncodingKey::from_ec_pem(pem.as_bytes()).expect("ec key"),
        }
    }

    /// A fixture RSA key (tests/fixtures/smart/, made with openssl), with
    /// its public JWK (kid = the fixture's name).
    fn rsa(name: &str, alg: Algorithm) -> (Signer, Value) {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/smart");
        let pem = std::fs::read(format!("{dir}/{name}.pem")).expect("fixture key");
        let jwk: Value = serde_json::from_slice(
            &std::fs::read(format!("{dir}/{name}.public.jwk.json")).expect("fixture jwk"),
        )
        .expect("json");
        (
            Signer {
                kid: name.to_owned(),
                alg,
                key: EncodingKey::from_rsa_pem(&pem).expect("rsa key"),
            },
            jwk,
        )
    }

    fn header(&self) -> Header {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        header.typ = Some("JWT".to_owned());
        header
    }

    pub(crate) fn sign(&self, claims: &Value) -> String {
        self.sign_with(self.header(), claims)
    }

    fn sign_with(&self, header: Header, claims: &Value) -> String {
        jsonwebtoken::encode(&header, claims, &self.key).expect("sign")
    }
}

/// Assertion claims for `client_id` at the app's current time: valid for
/// four minutes, a fresh jti.
pub(crate) fn claims(app: &TestApp, client_id: &str) -> Value {
    let now = app.clock.now().unix_timestamp();
    json!({
        "iss": client_id,
        "sub": client_id,
        "aud": TOKEN_URL,
        "exp": now + 240,
        "iat": now,
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}

fn with(mut claims: Value, changes: Value) -> Value {
    for (name, value) in changes.as_object().expect("object") {
        claims[name] = value.clone();
    }
    claims
}

/// `name=value&...`, URL-encoded.
fn form(pairs: &[(&str, &str)]) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_owned(),
                other => format!("%{other:02X}"),
            })
            .collect()
    };
    pairs
        .iter()
        .map(|(n, v)| format!("{}={}", encode(n), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn token_request(body: String, authorization: Option<&str>) -> Request<Body> {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri("/auth/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    request.body(Body::from(body)).expect("request")
}

/// The form of a complete assertion request.
fn assertion_form(assertion: &str, scope: &str) -> String {
    form(&[
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion),
        ("scope", scope),
    ])
}

pub(crate) async fn request_token(app: &TestApp, assertion: &str, scope: &str) -> TestResponse {
    app.send(token_request(assertion_form(assertion, scope), None))
        .await
}

/// Asserts an OAuth error answer and returns its description.
fn assert_oauth_error(response: &TestResponse, status: u16, error: &str) -> String {
    assert_eq!(response.status.as_u16(), status, "{}", response.text());
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(response.header("cache-control"), Some("no-store"));
    let body = response.json();
    assert_eq!(body["error"], error, "{body}");
    let keys: Vec<_> = body.as_object().expect("object").keys().cloned().collect();
    assert_eq!(keys, ["error", "error_description"]);
    body["error_description"]
        .as_str()
        .expect("description")
        .to_owned()
}

/// The access token of a successful answer, after checking its shape.
fn assert_token(response: &TestResponse, scope: &str) -> String {
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(response.header("cache-control"), Some("no-store"));
    assert_eq!(response.header("pragma"), Some("no-cache"));
    let body = response.json();
    let keys: Vec<_> = body.as_object().expect("object").keys().cloned().collect();
    assert_eq!(keys, ["access_token", "token_type", "expires_in", "scope"]);
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 300, "a number");
    assert_eq!(body["scope"], scope);
    let token = body["access_token"].as_str().expect("token").to_owned();
    let claims = jwt_part(&token, 1);
    assert_eq!(claims["scope"], scope);
    assert_eq!(
        claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat"),
        300
    );
    token
}

/// Registers a key client for `cms_id` with these public keys.
async fn register(app: &TestApp, cms_id: &str, keys: Vec<Value>) -> String {
    let jwks = json!({ "keys": keys }).to_string();
    credentials::create_key_client(
        app.db(),
        &app.clock,
        cms_id,
        ClientKeys::Inline(jwks),
        DEFAULT_SECRET_LIFETIME,
    )
    .await
    .expect("register")
    .client_id
}

/// An app with the sandbox ACOs, and A9994's key client registered with an
/// ES384 key and an RS384 key.
async fn app_with_key_client(backend: Backend) -> (TestApp, String, Signer, Signer) {
    let app = builder(backend).build().await;
    let data_dir = app.state.data_dir.root().to_owned();
    bcda::sandbox::prepare(app.db(), &app.clock, &data_dir)
        .await
        .expect("sandbox");
    let pair = ClientKeyPair::generate().expect("key pair");
    let (rsa, rsa_jwk) = Signer::rsa("rsa-2048-a", Algorithm::RS384);
    let client_id = register(&app, "A9994", vec![pair.public_jwk(), rsa_jwk]).await;
    (app, client_id, Signer::es384(&pair), rsa)
}

backend_test! {
    async fn rs384_and_es384_assertions_get_scoped_tokens_that_work(backend) {
        let (app, client_id, es384, rs384) = app_with_key_client(backend).await;
        for signer in [&es384, &rs384] {
            let response = request_token(&app, &signer.sign(&claims(&app, &client_id)), "system/*.read").await;
            let token = assert_token(&response, "system/*.read");
            let claims = jwt_part(&token, 1);
            assert_eq!(claims["sub"], client_id.as_str());
            assert_eq!(claims["aco"], "A9994");
            assert_eq!(app.get_with_token("/auth/welcome", &token).await.status, StatusCode::OK);
            // (A9994 is a test ACO, exempt from the one-job rule.)
            job_id(&kick_ok(&app, &token, "/api/v2/Patient/$export?_type=Patient").await);
        }

        // What cannot be granted is left out; the grant is what the token says.
        let asked = "launch system/Patient.read patient/*.read system/Coverage.rs system/Observation.read";
        let response = request_token(&app, &es384.sign(&claims(&app, &client_id)), asked).await;
        assert_token(&response, "system/Patient.read system/Coverage.rs");

        // An aud array holding the token URL, and a client_id parameter
        // naming the client, are accepted too.
        let assertion = es384.sign(&with(claims(&app, &client_id), json!({"aud": ["https://other", TOKEN_URL]})));
        let mut body = assertion_form(&assertion, "system/*.rs");
        body.push_str(&format!("&client_id={client_id}"));
        assert_token(&app.send(token_request(body, None)).await, "system/*.rs");
    }
}

backend_test! {
    async fn every_assertion_refusal_is_invalid_client(backend) {
        let (app, client_id, es384, rs384) = app_with_key_client(backend).await;
        let pair_b = ClientKeyPair::generate().expect("key pair");
        let impostor = Signer::es384(&pair_b).clone_with_kid(&es384.kid);
        let (rs256, _) = Signer::rsa("rsa-2048-a", Algorithm::RS256);
        // HMAC keyed with what an attacker knows: the registered public keys.
        let record = bcda::store::credentials::find(app.db(), &client_id).await.expect("db").expect("client");
        let Some(ClientKeys::Inline(registered)) = record.keys else { panic!("inline keys") };
        let hs256 = Signer { kid: es384.kid.clone(), alg: Algorithm::HS256, key: EncodingKey::from_secret(registered.as_bytes()) };
        let now = app.clock.now().unix_timestamp();
        let good = claims(&app, &client_id);
        let unsigned = format!(
            "{}.{}.",
            jwt_segment(&json!({"alg": "none", "kid": es384.kid, "typ": "JWT"})),
            jwt_segment(&good)
        );
        let cases: Vec<(&str, String, Option<&str>)> = vec![
            ("bad signature", impostor.sign(&claims(&app, &client_id)), None),
            ("RS256", rs256.sign(&claims(&app, &client_id)), Some("The client assertion's alg \"RS256\" is not accepted: sign it with RS384 or ES384.")),
            ("HS256 keyed with a public key", hs256.sign(&claims(&app, &client_id)), Some("The client assertion's alg \"HS256\" is not accepted: sign it with RS384 or ES384.")),
            ("alg none", unsigned, Some("The client assertion's alg \"none\" is not accepted: sign it with RS384 or ES384.")),
            ("wrong aud", es384.sign(&with(claims(&app, &client_id), json!({"aud": "https://bcda.test/auth/token"}))),
                Some("The client assertion's aud must be this server's token URL, http://bcda.test/auth/token.")),
            ("expired", es384.sign(&with(claims(&app, &client_id), json!({"exp": now - 61}))), Some("The client assertion has expired.")),
            ("exp too far ahead", es384.sign(&with(claims(&app, &client_id), json!({"exp": now + 361}))),
                Some("The client assertion's exp is more than 5 minutes ahead.")),
            ("no jti", es384.sign(&with(claims(&app, &client_id), json!({"jti": null}))),
                Some("The client assertion needs a jti: a unique id of at most 255 characters.")),
            ("iss is not sub", es384.sign(&with(claims(&app, &client_id), json!({"sub": "someone"}))),
                Some("The client assertion's iss and sub must both be your client id.")),
            ("unknown kid", es384.clone_with_kid("no-such-kid").sign(&claims(&app, &client_id)), None),
            ("the ES384 kid with RS384", rs384.clone_with_kid(&es384.kid).sign(&claims(&app, &client_id)), None),
            ("unknown client", {
                let stranger = uuid::Uuid::new_v4().to_string();
                es384.sign(&claims(&app, &stranger))
            }, None),
            ("not a JWT", "not-a-jwt".to_owned(), Some("The client assertion is not a signed JWT.")),
        ];
        for (case, assertion, description) in cases {
            let response = request_token(&app, &assertion, "system/*.read").await;
            let got = assert_oauth_error(&response, 401, "invalid_client");
            let expected = description.unwrap_or(bcda::auth::backend_services::AUTHENTICATION_FAILED);
            assert_eq!(got, expected, "{case}");
        }

        // A replayed assertion: the first use works, the second is refused.
        let assertion = es384.sign(&claims(&app, &client_id));
        assert_token(&request_token(&app, &assertion, "system/*.read").await, "system/*.read");
        let replay = request_token(&app, &assertion, "system/*.read").await;
        let description = assert_oauth_error(&replay, 401, "invalid_client");
        assert!(description.contains("already used"), "{description}");
        // ... also with another jti-sharing assertion of the same client.
        let same_jti = es384.sign(&with(claims(&app, &client_id), json!({"jti": jwt_part(&assertion, 1)["jti"]})));
        assert_oauth_error(&request_token(&app, &same_jti, "system/*.read").await, 401, "invalid_client");

        // Within the clock-skew tolerance an assertion is still good.
        let late = es384.sign(&with(claims(&app, &client_id), json!({"exp": now - 30, "iat": now - 100})));
        assert_token(&request_token(&app, &late, "system/*.read").await, "system/*.read");
    }
}

impl Signer {
    /// The same key under another kid.
    fn clone_with_kid(&self, kid: &str) -> Signer {
        Signer {
            kid: kid.to_owned(),
            alg: self.alg,
            key: self.key.clone(),
        }
    }
}

backend_test! {
    async fn revoked_expired_and_secret_clients_cannot_use_assertions(backend) {
        let (app, client_id, es384, _) = app_with_key_client(backend).await;
        // A secret client's id, with a key that would verify.
        let secret_client = app.create_credentials("A9994").await;
        let response = request_token(&app, &es384.sign(&claims(&app, &secret_client.client_id)), "system/*.read").await;
        assert_eq!(assert_oauth_error(&response, 401, "invalid_client"), bcda::auth::backend_services::AUTHENTICATION_FAILED);

        // A key client has no secret: Basic with its id is the usual 401.
        app.post_token(&client_id, "anything").await.assert_outcome(401, "forbidden", "Invalid client id or secret");
        app.post_token(&client_id, "").await.assert_outcome(
            400,
            "structure",
            "HTTP Basic authentication with your client id and secret is required",
        );

        // Expiry: the registration lasts 90 days; renewing the keys renews it.
        app.clock.advance(time::Duration::days(90));
        let response = request_token(&app, &es384.sign(&claims(&app, &client_id)), "system/*.read").await;
        let description = assert_oauth_error(&response, 401, "invalid_client");
        assert!(description.contains("registration has expired"), "{description}");
        let record = bcda::store::credentials::find(app.db(), &client_id).await.expect("db").expect("client");
        let Some(ClientKeys::Inline(jwks)) = record.keys else { panic!("inline keys") };
        credentials::replace_keys(app.db(), &app.clock, &client_id, ClientKeys::Inline(jwks), DEFAULT_SECRET_LIFETIME)
            .await
            .expect("renew");
        let token = assert_token(&request_token(&app, &es384.sign(&claims(&app, &client_id)), "system/*.read").await, "system/*.read");

        // Revoking ends the client and its tokens.
        credentials::revoke(app.db(), &app.clock, &client_id).await.expect("revoke");
        let response = request_token(&app, &es384.sign(&claims(&app, &client_id)), "system/*.read").await;
        assert_eq!(assert_oauth_error(&response, 401, "invalid_client"), bcda::auth::backend_services::AUTHENTICATION_FAILED);
        app.get_with_token("/auth/welcome", &token).await.assert_outcome(401, "forbidden", "Expired Token");
    }
}

backend_test! {
    async fn request_problems_are_400s(backend) {
        let (app, client_id, es384, _) = app_with_key_client(backend).await;
        let assertion = || es384.sign(&claims(&app, &client_id));
        let bad_grant = form(&[
            ("grant_type", "password"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &assertion()),
            ("scope", "system/*.read"),
        ]);
        let response = app.send(token_request(bad_grant, None)).await;
        assert_oauth_error(&response, 400, "unsupported_grant_type");

        let cases: Vec<(&str, String)> = vec![
            ("no grant_type", form(&[("client_assertion_type", JWT_BEARER), ("client_assertion", &assertion()), ("scope", "system/*.read")])),
            ("no client_assertion_type", form(&[("grant_type", "client_credentials"), ("client_assertion", &assertion()), ("scope", "system/*.read")])),
            ("wrong client_assertion_type", form(&[("grant_type", "client_credentials"), ("client_assertion_type", "urn:x"), ("client_assertion", &assertion()), ("scope", "system/*.read")])),
            ("no client_assertion", form(&[("grant_type", "client_credentials"), ("client_assertion_type", JWT_BEARER), ("scope", "system/*.read")])),
            ("no scope", form(&[("grant_type", "client_credentials"), ("client_assertion_type", JWT_BEARER), ("client_assertion", &assertion())])),
            ("a repeated parameter", format!("{}&scope=system%2F*.rs", assertion_form(&assertion(), "system/*.read"))),
        ];
        for (case, body) in cases {
            let response = app.send(token_request(body, None)).await;
            assert_oauth_error(&response, 400, "invalid_request");
            assert!(!response.text().contains("eyJ"), "{case}: the assertion is not echoed");
        }

        // Basic credentials beside an assertion: BCDA's flow answers and
        // ignores the body (here: no secret for a key client, so its 401
        // OperationOutcome), and the assertion is not spent.
        let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:x")));
        let unspent = assertion();
        let response = app.send(token_request(assertion_form(&unspent, "system/*.read"), Some(&basic))).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{}", response.text());
        assert_eq!(response.json()["resourceType"], "OperationOutcome");
        let response = request_token(&app, &unspent, "system/*.read").await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());

        // Nothing grantable (after authentication).
        for scope in ["", "patient/*.read launch", "system/Observation.read", "system/*.write"] {
            let response = request_token(&app, &assertion(), scope).await;
            assert_oauth_error(&response, 400, "invalid_scope");
        }
    }
}

backend_test! {
    async fn the_basic_flow_is_unchanged_beside_form_bodies(backend) {
        let app = builder(backend).build().await;
        app.create_aco("A9994").await;
        let creds = app.create_credentials("A9994").await;
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", creds.client_id, creds.client_secret))
        );
        // A form without an assertion (what some OAuth libraries add) is
        // still BCDA's flow, answered in BCDA's shape.
        let body = form(&[("grant_type", "client_credentials"), ("scope", "system/*.read")]);
        let response = app.send(token_request(body.clone(), Some(&basic))).await;
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(response.json()["expires_in"], "1200");
        assert!(response.json().get("scope").is_none());
        app.send(token_request(body, None)).await.assert_outcome(
            400,
            "structure",
            "HTTP Basic authentication with your client id and secret is required",
        );
        // A body that is not a form is ignored, as before.
        let json_body = Request::builder()
            .method(Method::POST)
            .uri("/auth/token")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, &basic)
            .body(Body::from(r#"{"client_assertion": "x"}"#))
            .expect("request");
        assert_eq!(app.send(json_body).await.json()["expires_in"], "1200");
    }
}

backend_test! {
    async fn failed_assertions_count_in_the_failure_throttle_and_the_rate_limit_holds(backend) {
        let app = TestApp::builder(backend)
            .tokens(TokenSettings {
                throttle: ThrottleSettings { per_client: 3, per_address: 1000, window: Duration::from_secs(60) },
                rate_limit: 2,
                ..TokenSettings::default()
            })
            .build()
            .await;
        app.create_aco("A9994").await;
        let pair = ClientKeyPair::generate().expect("pair");
        let client_id = register(&app, "A9994", vec![pair.public_jwk()]).await;
        let signer = Signer::es384(&pair);
        let impostor = Signer::es384(&ClientKeyPair::generate().expect("pair")).clone_with_kid(pair.kid());
        for _ in 0..3 {
            let response = request_token(&app, &impostor.sign(&claims(&app, &client_id)), "system/*.read").await;
            assert_oauth_error(&response, 401, "invalid_client");
        }
        // Refused before the assertion is looked at, even a good one.
        let response = request_token(&app, &signer.sign(&claims(&app, &client_id)), "system/*.read").await;
        assert_oauth_error(&response, 429, "temporarily_unavailable");
        assert_eq!(response.header("retry-after"), Some("60"));
        app.clock.advance(time::Duration::seconds(60));

        // The ACO's token rate limit counts assertion tokens too.
        for _ in 0..2 {
            assert_token(&request_token(&app, &signer.sign(&claims(&app, &client_id)), "system/*.read").await, "system/*.read");
        }
        let limited = request_token(&app, &signer.sign(&claims(&app, &client_id)), "system/*.read").await;
        let description = assert_oauth_error(&limited, 429, "temporarily_unavailable");
        assert!(description.starts_with("A9994 exceeded the rate limit for /auth/token."), "{description}");
        assert_eq!(limited.header("retry-after"), Some("300"));
    }
}

backend_test! {
    async fn a_replay_is_caught_by_another_process_on_the_same_database(backend) {
        let (app, client_id, es384, _) = app_with_key_client(backend).await;
        let other = App::open(
            app.db().clone(),
            Arc::new(app.clock.clone()),
            AppConfig {
                data_dir: DataDir::new(app.state.data_dir.root()),
                store: Default::default(),
                sealing_key: bcda::auth::keys::SealingKey::File(app.dir.path().join("signing-keys.key")),
                tokens: settings(BackendServicesSettings::default()),
                http: HttpSettings::default(),
                jobs: Default::default(),
            },
        )
        .await
        .expect("second app");
        let other = bcda::http::router(AppState(Arc::new(other)));
        let assertion = es384.sign(&claims(&app, &client_id));
        assert_token(&request_token(&app, &assertion, "system/*.read").await, "system/*.read");
        let mut request = token_request(assertion_form(&assertion, "system/*.read"), None);
        request.headers_mut().insert(header::HOST, "bcda.test".parse().expect("host"));
        let response = other.oneshot(request).await.expect("infallible");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body: Value = serde_json::from_slice(&response.into_body().collect().await.expect("body").to_bytes()).expect("json");
        assert_eq!(body["error"], "invalid_client");
        assert!(body["error_description"].as_str().is_some_and(|d| d.contains("already used")), "{body}");
    }
}

/// A JWKS URL server on an ephemeral port: what it serves can change, and
/// it counts the fetches.
struct JwksServer {
    url: String,
    jwks: Arc<Mutex<(StatusCode, String, Option<String>)>>,
    hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl JwksServer {
    async fn start(jwks: String) -> JwksServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/jwks.json", listener.local_addr().expect("addr"));
        let served = Arc::new(Mutex::new((StatusCode::OK, jwks, None::<String>)));
        let hits = Arc::new(AtomicUsize::new(0));
        let router = axum::Router::new().route(
            "/jwks.json",
            axum::routing::get({
                let (served, hits) = (served.clone(), hits.clone());
                move || async move {
                    hits.fetch_add(1, Ordering::SeqCst);
                    let (status, body, cache) = served.lock().expect("lock").clone();
                    let mut response = axum::response::IntoResponse::into_response((status, body));
                    if let Some(cache) = cache {
                        response
                            .headers_mut()
                            .insert(header::CACHE_CONTROL, cache.parse().expect("value"));
                    }
                    response
                }
            }),
        );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        JwksServer {
            url,
            jwks: served,
            hits,
            task,
        }
    }

    fn serve(&self, status: StatusCode, body: String, cache_control: Option<&str>) {
        *self.jwks.lock().expect("lock") = (status, body, cache_control.map(str::to_owned));
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

backend_test! {
    async fn jwks_url_clients_are_fetched_cached_and_refetched_on_rotation(backend) {
        let app = builder(backend).build().await;
        app.create_aco("A9994").await;
        let key_a = ClientKeyPair::generate().expect("pair");
        let key_b = ClientKeyPair::generate().expect("pair");
        let server = JwksServer::start(key_a.public_jwks()).await;
        let client_id = credentials::create_key_client(app.db(), &app.clock, "A9994", ClientKeys::Url(server.url.clone()), DEFAULT_SECRET_LIFETIME)
            .await
            .expect("register")
            .client_id;
        let (a, b) = (Signer::es384(&key_a), Signer::es384(&key_b));
        let ok = |response: TestResponse| assert_token(&response, "system/*.read");

        ok(request_token(&app, &a.sign(&claims(&app, &client_id)), "system/*.read").await);
        ok(request_token(&app, &a.sign(&claims(&app, &client_id)), "system/*.read").await);
        assert_eq!(server.hits(), 1, "cached");

        // jku: the registered URL is fine, any other is refused.
        let mut header = a.header();
        header.jku = Some(server.url.clone());
        ok(request_token(&app, &a.sign_with(header.clone(), &claims(&app, &client_id)), "system/*.read").await);
        header.jku = Some("https://attacker.example/jwks.json".to_owned());
        assert_oauth_error(&request_token(&app, &a.sign_with(header, &claims(&app, &client_id)), "system/*.read").await, 401, "invalid_client");
        assert_eq!(server.hits(), 1);

        // Rotation: the URL now serves key B. An unknown kid refetches, at
        // most once per interval whatever is sent.
        server.serve(StatusCode::OK, key_b.public_jwks(), Some("max-age=60"));
        app.clock.advance(time::Duration::seconds(11));
        ok(request_token(&app, &b.sign(&claims(&app, &client_id)), "system/*.read").await);
        assert_eq!(server.hits(), 2);
        for kid in ["made-up-1", "made-up-2", "made-up-3"] {
            let response = request_token(&app, &b.clone_with_kid(kid).sign(&claims(&app, &client_id)), "system/*.read").await;
            assert_oauth_error(&response, 401, "invalid_client");
        }
        assert_eq!(server.hits(), 2, "no refetch within the interval");
        app.clock.advance(time::Duration::seconds(11));
        assert_oauth_error(&request_token(&app, &b.clone_with_kid("made-up-4").sign(&claims(&app, &client_id)), "system/*.read").await, 401, "invalid_client");
        assert_eq!(server.hits(), 3, "one refetch after it");
        // The withdrawn key A no longer works.
        assert_oauth_error(&request_token(&app, &a.sign(&claims(&app, &client_id)), "system/*.read").await, 401, "invalid_client");

        // max-age=60 is honoured: fresh for a minute, then fetched again.
        app.clock.advance(time::Duration::seconds(61));
        ok(request_token(&app, &b.sign(&claims(&app, &client_id)), "system/*.read").await);
        assert_eq!(server.hits(), 4);

        // A URL answering other than 200, or not a JWKS: invalid_client.
        app.clock.advance(time::Duration::seconds(61));
        server.serve(StatusCode::INTERNAL_SERVER_ERROR, key_b.public_jwks(), None);
        assert_oauth_error(&request_token(&app, &b.sign(&claims(&app, &client_id)), "system/*.read").await, 401, "invalid_client");
        app.clock.advance(time::Duration::seconds(11));
        server.serve(StatusCode::OK, key_b.private_jwks(), None);
        assert_oauth_error(&request_token(&app, &b.sign(&claims(&app, &client_id)), "system/*.read").await, 401, "invalid_client");
        app.clock.advance(time::Duration::seconds(11));
        server.serve(StatusCode::OK, key_b.public_jwks(), None);
        ok(request_token(&app, &b.sign(&claims(&app, &client_id)), "system/*.read").await);

        // The URL down: once the cached keys are stale, invalid_client.
        let url = server.url.clone();
        server.stop().await;
        app.clock.advance(time::Duration::seconds(301));
        let response = request_token(&app, &b.sign(&claims(&app, &client_id)), "system/*.read").await;
        assert_eq!(assert_oauth_error(&response, 401, "invalid_client"), bcda::auth::backend_services::AUTHENTICATION_FAILED);
        // ... and for a client whose URL never answered.
        let never = credentials::create_key_client(app.db(), &app.clock, "A9994", ClientKeys::Url(url), DEFAULT_SECRET_LIFETIME)
            .await
            .expect("register")
            .client_id;
        assert_oauth_error(&request_token(&app, &b.sign(&claims(&app, &never)), "system/*.read").await, 401, "invalid_client");
    }
}

backend_test! {
    async fn discovery_documents_at_the_root_and_each_version(backend) {
        let app = builder(backend).build().await;
        for (path, types) in [
            ("/.well-known/smart-configuration", &["Patient", "Coverage", "ExplanationOfBenefit", "Claim", "ClaimResponse"][..]),
            ("/api/v1/.well-known/smart-configuration", &["Patient", "Coverage", "ExplanationOfBenefit"][..]),
            ("/api/v2/.well-known/smart-configuration", &["Patient", "Coverage", "ExplanationOfBenefit", "Claim", "ClaimResponse"][..]),
            ("/api/v3/.well-known/smart-configuration", &["Patient", "Coverage", "ExplanationOfBenefit"][..]),
        ] {
            let response = app.get(path).await;
            assert_eq!(response.status, StatusCode::OK, "{path}");
            assert_eq!(response.header("content-type"), Some("application/json"), "{path}");
            let body = response.json();
            let mut scopes = vec!["system/*.read".to_owned(), "system/*.rs".to_owned()];
            for t in types {
                scopes.push(format!("system/{t}.read"));
                scopes.push(format!("system/{t}.rs"));
            }
            assert_eq!(
                body,
                json!({
                    "token_endpoint": TOKEN_URL,
                    "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic"],
                    "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
                    "grant_types_supported": ["client_credentials"],
                    "scopes_supported": scopes,
                    "capabilities": ["client-confidential-asymmetric", "permission-v1", "permission-v2"],
                }),
                "{path}"
            );
        }
    }
}

backend_test! {
    async fn behind_a_proxy_the_token_url_is_the_public_one(backend) {
        let app = TestApp::builder(backend)
            .tokens(settings(BackendServicesSettings::default()))
            .http(HttpSettings { trust_forwarded_headers: true, ..HttpSettings::default() })
            .build()
            .await;
        app.create_aco("A9994").await;
        let pair = ClientKeyPair::generate().expect("pair");
        let client_id = register(&app, "A9994", vec![pair.public_jwk()]).await;
        let signer = Signer::es384(&pair);
        let public = "https://bcda.example.org/auth/token";
        let forwarded = |mut request: Request<Body>| {
            request.headers_mut().insert("x-forwarded-proto", "https".parse().expect("value"));
            request.headers_mut().insert("x-forwarded-host", "bcda.example.org".parse().expect("value"));
            request
        };
        let discovery = app
            .send(forwarded(Request::get("/api/v2/.well-known/smart-configuration").body(Body::empty()).expect("request")))
            .await;
        assert_eq!(discovery.json()["token_endpoint"], public);
        let assertion = signer.sign(&with(claims(&app, &client_id), json!({"aud": public})));
        let response = app.send(forwarded(token_request(assertion_form(&assertion, "system/*.read"), None))).await;
        assert_token(&response, "system/*.read");
        // The host's own URL is not this server's token URL from there.
        let assertion = signer.sign(&claims(&app, &client_id));
        let response = app.send(forwarded(token_request(assertion_form(&assertion, "system/*.read"), None))).await;
        assert_oauth_error(&response, 401, "invalid_client");
    }
}

backend_test! {
    async fn the_sandbox_key_pair_works_and_is_reused(backend) {
        let app = builder(backend).build().await;
        let data_dir = app.state.data_dir.root().to_owned();
        bcda::sandbox::prepare(app.db(), &app.clock, &data_dir).await.expect("sandbox");
        let first = bcda::sandbox::prepare_key_client(app.db(), &app.clock, &data_dir).await.expect("key client");
        assert_eq!(first.cms_id, "A9994");
        assert_eq!(first.key_file, data_dir.join("sandbox-smart-key.jwks"));
        for file in [&first.key_file, &first.pem_file] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(file).expect("file").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", file.display());
        }
        // The JWKS smart-fetch's --smart-key reads: the private JWK with
        // key_ops sign, kid and alg.
        let jwks: Value = serde_json::from_slice(&std::fs::read(&first.key_file).expect("file")).expect("json");
        let keys = jwks["keys"].as_array().expect("keys");
        assert_eq!(keys.len(), 1);
        let key = &keys[0];
        let mut members: Vec<_> = key.as_object().expect("jwk").keys().cloned().collect();
        members.sort();
        assert_eq!(members, ["alg", "crv", "d", "key_ops", "kid", "kty", "x", "y"]);
        assert_eq!((&key["kty"], &key["crv"], &key["alg"]), (&json!("EC"), &json!("P-384"), &json!("ES384")));
        assert_eq!(key["key_ops"], json!(["sign"]));
        assert_eq!(key["kid"], first.kid.as_str());

        // Sign with the PEM and the JWKS's key alike.
        let pem = std::fs::read(&first.pem_file).expect("pem");
        let from_pem = Signer { kid: first.kid.clone(), alg: Algorithm::ES384, key: EncodingKey::from_ec_pem(&pem).expect("pem key") };
        let from_jwks = Signer::es384(&ClientKeyPair::from_private_jwks(&jwks.to_string()).expect("pair"));
        for signer in [from_pem, from_jwks] {
            let token = assert_token(&request_token(&app, &signer.sign(&claims(&app, &first.client_id)), "system/*.read").await, "system/*.read");
            assert_eq!(jwt_part(&token, 1)["aco"], "A9994");
        }

        // A restart reuses file and client; a revoked client is replaced,
        // an expired one renewed.
        let again = bcda::sandbox::prepare_key_client(app.db(), &app.clock, &data_dir).await.expect("again");
        assert_eq!(again, first);
        credentials::revoke(app.db(), &app.clock, &first.client_id).await.expect("revoke");
        let replaced = bcda::sandbox::prepare_key_client(app.db(), &app.clock, &data_dir).await.expect("replaced");
        assert_ne!(replaced.client_id, first.client_id);
        assert_eq!(replaced.kid, first.kid);
        app.clock.advance(time::Duration::days(91));
        let renewed = bcda::sandbox::prepare_key_client(app.db(), &app.clock, &data_dir).await.expect("renewed");
        assert_eq!(renewed.client_id, replaced.client_id);
        let signer = Signer::es384(&ClientKeyPair::from_private_jwks(&jwks.to_string()).expect("pair"));
        assert_token(&request_token(&app, &signer.sign(&claims(&app, &renewed.client_id)), "system/*.read").await, "system/*.read");
    }
}

//! `POST /auth/token`: client credentials for a bearer token.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};

use crate::harness::{TestApp, backend_test, jwt_part};

backend_test! {
    async fn issues_a_token_in_bcda_shape(backend) {
        let app = TestApp::new(backend).await;
        app.create_aco("A9994").await;
        let creds = app.create_credentials("A9994").await;
        let response = app.post_token(&creds.client_id, &creds.client_secret).await;
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(response.header("content-type"), Some("application/json"));
        assert_eq!(response.header("cache-control"), Some("no-store"));
        assert_eq!(response.header("pragma"), Some("no-cache"));
        let body = response.json();
        assert_eq!(body["expires_in"], "1200", "a string, as BCDA sends it");
        assert_eq!(body["token_type"], "bearer");
        let keys: Vec<_> = body.as_object().expect("object").keys().cloned().collect();
        assert_eq!(keys, ["access_token", "expires_in", "token_type"]);

        let token = body["access_token"].as_str().expect("token");
        let header = jwt_part(token, 0);
        assert_eq!(header["alg"], "EdDSA");
        assert!(header["kid"].as_str().is_some_and(|k| !k.is_empty()));
        let claims = jwt_part(token, 1);
        assert_eq!(claims["sub"], creds.client_id.as_str());
        assert_eq!(claims["aco"], "A9994");
        assert_eq!(claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat"), 1200);

        let welcome = app.get_with_token("/auth/welcome", token).await;
        assert_eq!(welcome.status, StatusCode::OK);
        assert_eq!(welcome.json()["success"], "Welcome to the Beneficiary Claims Data API!");
    }
}

backend_test! {
    async fn wrong_secret_or_unknown_client_is_401(backend) {
        let app = TestApp::new(backend).await;
        app.create_aco("A9994").await;
        let creds = app.create_credentials("A9994").await;
        app.post_token(&creds.client_id, "not-the-secret")
            .await
            .assert_outcome(401, "forbidden", "Invalid client id or secret");
        app.post_token("00000000-0000-0000-0000-000000000000", &creds.client_secret)
            .await
            .assert_outcome(401, "forbidden", "Invalid client id or secret");
    }
}

backend_test! {
    async fn missing_or_malformed_basic_is_400(backend) {
        let app = TestApp::new(backend).await;
        let expected = "HTTP Basic authentication with your client id and secret is required";
        let no_header = app
            .send(Request::builder().method(Method::POST).uri("/auth/token").body(Body::empty()).expect("req"))
            .await;
        no_header.assert_outcome(400, "structure", expected);
        for bad in ["Bearer abc", "Basic not-base64!", "Basic Zm9vYmFy" /* "foobar": no colon */] {
            let response = app
                .send(
                    Request::builder()
                        .method(Method::POST)
                        .uri("/auth/token")
                        .header("authorization", bad)
                        .body(Body::empty())
                        .expect("req"),
                )
                .await;
            response.assert_outcome(400, "structure", expected);
        }
    }
}

backend_test! {
    async fn expired_secret_is_401(backend) {
        let app = TestApp::new(backend).await;
        app.create_aco("A9994").await;
        let creds = app.create_credentials("A9994").await;
        app.clock.advance(time::Duration::days(89));
        assert_eq!(app.post_token(&creds.client_id, &creds.client_secret).await.status, StatusCode::OK);
        app.clock.advance(time::Duration::days(1));
        app.post_token(&creds.client_id, &creds.client_secret).await.assert_outcome(
            401,
            "forbidden",
            "The client secret has expired. Ask your administrator to reset your credentials.",
        );
    }
}

backend_test! {
    async fn reset_replaces_the_secret_and_revoke_ends_everything(backend) {
        let app = TestApp::new(backend).await;
        app.create_aco("A9994").await;
        let old = app.create_credentials("A9994").await;
        let token = app.token(&old).await;
        let new = bcda::auth::credentials::reset(
            app.db(),
            &app.clock,
            &old.client_id,
            bcda::auth::credentials::DEFAULT_SECRET_LIFETIME,
        )
        .await
        .expect("reset");
        assert_eq!(new.client_id, old.client_id);
        assert_ne!(new.client_secret, old.client_secret);
        assert_eq!(app.post_token(&old.client_id, &old.client_secret).await.status, StatusCode::UNAUTHORIZED);
        let fresh = app.token(&new).await;

        bcda::auth::credentials::revoke(app.db(), &app.clock, &old.client_id).await.expect("revoke");
        assert_eq!(app.post_token(&new.client_id, &new.client_secret).await.status, StatusCode::UNAUTHORIZED);
        for t in [&token, &fresh] {
            app.get_with_token("/auth/welcome", t)
                .await
                .assert_outcome(401, "forbidden", "Expired Token");
        }
        let again = bcda::auth::credentials::reset(
            app.db(),
            &app.clock,
            &old.client_id,
            bcda::auth::credentials::DEFAULT_SECRET_LIFETIME,
        )
        .await;
        assert!(again.is_err(), "revoked credentials cannot be reset");
    }
}

backend_test! {
    async fn rate_limit_answers_429_with_retry_after(backend) {
        let app = TestApp::builder(backend)
            .token_rate_limit(3, Duration::from_secs(300))
            .build()
            .await;
        app.create_aco("A9994").await;
        app.create_aco("A9990").await;
        let creds = app.create_credentials("A9994").await;
        let other = app.create_credentials("A9990").await;
        for _ in 0..3 {
            assert_eq!(app.post_token(&creds.client_id, &creds.client_secret).await.status, StatusCode::OK);
            app.clock.advance(time::Duration::seconds(10));
        }
        let limited = app.post_token(&creds.client_id, &creds.client_secret).await;
        limited.assert_outcome(
            429,
            "throttled",
            "A9994 exceeded the rate limit for /auth/token. Access tokens last 20 minutes; please cache and reuse them.",
        );
        // The first token was issued 30 s ago: one slot frees 270 s from now.
        assert_eq!(limited.header("retry-after"), Some("270"));
        // Another ACO is not affected.
        assert_eq!(app.post_token(&other.client_id, &other.client_secret).await.status, StatusCode::OK);
        app.clock.advance(time::Duration::seconds(270));
        assert_eq!(app.post_token(&creds.client_id, &creds.client_secret).await.status, StatusCode::OK);
        assert_eq!(
            app.post_token(&creds.client_id, &creds.client_secret).await.status,
            StatusCode::TOO_MANY_REQUESTS
        );
    }
}

backend_test! {
    async fn secrets_are_stored_only_as_argon2id_hashes(backend) {
        let app = TestApp::new(backend).await;
        app.create_aco("A9994").await;
        let creds = app.create_credentials("A9994").await;
        let stored = bcda::store::credentials::find(app.db(), &creds.client_id)
            .await
            .expect("find")
            .expect("stored");
        assert!(stored.secret_hash.starts_with("$argon2id$"));
        assert!(!stored.secret_hash.contains(&creds.client_secret));
    }
}

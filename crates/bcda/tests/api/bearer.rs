//! The bearer-token extractor, through the authenticated probe
//! `GET /auth/welcome` (v1 shapes) — every authenticated route uses it.

use axum::http::StatusCode;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use bcda::clock::Clock;

use crate::harness::{TestApp, backend_test, jwt_part, jwt_segment};

const PROBE: &str = "/auth/welcome";

backend_test! {
    async fn missing_or_malformed_token_is_invalid(backend) {
        let app = TestApp::new(backend).await;
        app.get(PROBE).await.assert_outcome(401, "forbidden", "Invalid Token");
        let token = app.token_for("A9994").await;
        for authorization in [
            token.clone(),                       // "Bearer " left out, as the guide warns
            format!("Token {token}"),
            "Bearer".to_owned(),
            "Bearer not-a-jwt".to_owned(),
            "Bearer a.b.c".to_owned(),
        ] {
            app.get_with_authorization(PROBE, &authorization)
                .await
                .assert_outcome(401, "forbidden", "Invalid Token");
        }
        assert_eq!(app.get_with_token(PROBE, &token).await.status, StatusCode::OK);
    }
}

backend_test! {
    async fn token_expires_after_twenty_minutes_of_clock_time(backend) {
        let app = TestApp::new(backend).await;
        let token = app.token_for("A9994").await;
        app.clock.advance(time::Duration::seconds(20 * 60 - 1));
        assert_eq!(app.get_with_token(PROBE, &token).await.status, StatusCode::OK);
        app.clock.advance(time::Duration::seconds(1));
        app.get_with_token(PROBE, &token)
            .await
            .assert_outcome(401, "forbidden", "Expired Token");
    }
}

backend_test! {
    async fn revoked_token_is_expired(backend) {
        let app = TestApp::new(backend).await;
        let by_jwt = app.token_for("A9994").await;
        let creds = app.create_credentials("A9994").await;
        let by_id = app.token(&creds).await;
        let untouched = app.token(&creds).await;

        let jti = app.state.tokens.revoke(&by_jwt).await.expect("revoke").expect("known");
        assert_eq!(jwt_part(&by_jwt, 1)["jti"], jti.as_str());
        let id = jwt_part(&by_id, 1)["jti"].as_str().expect("jti").to_owned();
        assert_eq!(app.state.tokens.revoke(&id).await.expect("revoke"), Some(id.clone()));
        assert_eq!(app.state.tokens.revoke("no-such-token").await.expect("revoke"), None);

        for token in [&by_jwt, &by_id] {
            app.get_with_token(PROBE, token)
                .await
                .assert_outcome(401, "forbidden", "Expired Token");
        }
        assert_eq!(app.get_with_token(PROBE, &untouched).await.status, StatusCode::OK);
    }
}

backend_test! {
    async fn forged_tokens_are_invalid(backend) {
        let app = TestApp::new(backend).await;
        let token = app.token_for("A9994").await;
        let parts: Vec<&str> = token.split('.').collect();

        // Claims changed (a later expiry) under the original signature.
        let mut claims = jwt_part(&token, 1);
        claims["exp"] = json!(claims["exp"].as_i64().expect("exp") + 86_400);
        let tampered = format!("{}.{}.{}", parts[0], jwt_segment(&claims), parts[2]);
        // Signature bytes flipped.
        let mut signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[2])
            .expect("signature");
        signature[0] ^= 0xff;
        let bad_signature = format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&signature)
        );
        // `alg: none`, unsigned.
        let mut none_header = jwt_part(&token, 0);
        none_header["alg"] = json!("none");
        let alg_none = format!("{}.{}.", jwt_segment(&none_header), parts[1]);
        // HS256 with our kid, keyed with something an attacker might guess.
        let kid = jwt_part(&token, 0)["kid"].as_str().expect("kid").to_owned();
        let mut hs_header = Header::new(Algorithm::HS256);
        hs_header.kid = Some(kid.clone());
        let hs256 = jsonwebtoken::encode(&hs_header, &jwt_part(&token, 1), &EncodingKey::from_secret(kid.as_bytes()))
            .expect("encode");
        // A different Ed25519 key claiming our kid.
        let stranger = ed25519_dalek::SigningKey::from_bytes(&[42u8; 32]);
        let der = ed25519_dalek::pkcs8::EncodePrivateKey::to_pkcs8_der(&stranger).expect("der");
        let mut ed_header = Header::new(Algorithm::EdDSA);
        ed_header.kid = Some(kid);
        let foreign_key = jsonwebtoken::encode(&ed_header, &jwt_part(&token, 1), &EncodingKey::from_ed_der(der.as_bytes()))
            .expect("encode");
        // An unknown kid.
        let mut unknown_kid_header = jwt_part(&token, 0);
        unknown_kid_header["kid"] = json!("nope");
        let unknown_kid = format!("{}.{}.{}", jwt_segment(&unknown_kid_header), parts[1], parts[2]);

        for forged in [tampered, bad_signature, alg_none, hs256, foreign_key, unknown_kid] {
            app.get_with_token(PROBE, &forged)
                .await
                .assert_outcome(401, "forbidden", "Invalid Token");
        }
        assert_eq!(app.get_with_token(PROBE, &token).await.status, StatusCode::OK);
    }
}

backend_test! {
    async fn rotation_keeps_old_tokens_until_they_expire(backend) {
        let app = TestApp::new(backend).await;
        app.create_aco("A9994").await;
        let creds = app.create_credentials("A9994").await;
        let old = app.token(&creds).await;
        let old_kid = jwt_part(&old, 0)["kid"].clone();

        app.clock.advance(time::Duration::minutes(5));
        let rotated = app.state.tokens.keyring().rotate(app.clock.now()).await.expect("rotate");
        let new = app.token(&creds).await;
        assert_eq!(jwt_part(&new, 0)["kid"], rotated.kid.as_str());
        assert_ne!(jwt_part(&new, 0)["kid"], old_kid);

        assert_eq!(app.get_with_token(PROBE, &old).await.status, StatusCode::OK, "old key still verifies");
        assert_eq!(app.get_with_token(PROBE, &new).await.status, StatusCode::OK);

        app.clock.advance(time::Duration::minutes(15));
        app.get_with_token(PROBE, &old)
            .await
            .assert_outcome(401, "forbidden", "Expired Token");
        assert_eq!(app.get_with_token(PROBE, &new).await.status, StatusCode::OK);
    }
}

backend_test! {
    async fn deny_listed_aco_is_403_but_still_gets_tokens(backend) {
        let app = TestApp::new(backend).await;
        app.create_aco("A9997").await;
        let creds = app.create_credentials("A9997").await;
        let before = app.token(&creds).await;
        bcda::acos::set_denied(app.db(), &app.clock, "A9997", true).await.expect("deny");

        // As in BCDA: the credentials still obtain tokens; the 403 comes on use.
        let after = app.token(&creds).await;
        for token in [&before, &after] {
            app.get_with_token(PROBE, token)
                .await
                .assert_outcome(403, "forbidden", "ACO (CMS_ID: A9997) is unauthorized");
        }
        bcda::acos::set_denied(app.db(), &app.clock, "A9997", false).await.expect("undeny");
        assert_eq!(app.get_with_token(PROBE, &after).await.status, StatusCode::OK);
    }
}

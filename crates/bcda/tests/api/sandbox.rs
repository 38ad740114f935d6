//! `bcda sandbox`: the synthetic sandbox ACOs and their credentials.

use axum::http::StatusCode;
use bcda::sandbox::{self, SANDBOX_ACOS};

use crate::harness::{TestApp, backend_test};

backend_test! {
    async fn prepare_creates_acos_and_reuses_credentials(backend) {
        let app = TestApp::new(backend).await;
        let data_dir = app.state.data_dir.root().to_owned();
        let first = sandbox::prepare(app.db(), &app.clock, &data_dir).await.expect("prepare");
        assert_eq!(first.len(), SANDBOX_ACOS.len());
        let sizes: Vec<_> = first.iter().map(|c| (c.cms_id.as_str(), c.beneficiaries)).collect();
        assert_eq!(
            sizes,
            [("A9994", 50), ("A9990", 2_500), ("A9991", 7_500), ("A9992", 20_000), ("A9993", 30_000), ("A9997", 50), ("TEST995", 50)]
        );
        let saved: serde_json::Value =
            serde_json::from_slice(&std::fs::read(sandbox::credentials_path(&data_dir)).expect("file")).expect("json");
        let keys: Vec<_> = saved[0].as_object().expect("object").keys().cloned().collect();
        assert_eq!(keys, ["cms_id", "client_id", "client_secret", "beneficiaries"]);
        // Every sandbox ACO serves sandbox-density claims (small export files).
        for spec in SANDBOX_ACOS {
            let aco = bcda::store::acos::find_by_cms_id(app.db(), spec.cms_id).await.expect("db").expect("aco");
            let record = bcda::store::synthetic_acos::find(app.db(), aco.id).await.expect("db").expect("synthetic");
            assert_eq!(record.claims_density, sandbox::SANDBOX_CLAIMS_DENSITY, "{}", spec.cms_id);
        }

        app.clock.advance(time::Duration::days(3));
        let second = sandbox::prepare(app.db(), &app.clock, &data_dir).await.expect("prepare again");
        assert_eq!(first, second, "a second start reuses the same credentials");

        for c in &second {
            let response = app.post_token(&c.client_id, &c.client_secret).await;
            assert_eq!(response.status, StatusCode::OK, "{}", c.cms_id);
        }
        let denied = second.iter().find(|c| c.cms_id == "A9997").expect("A9997");
        let creds = bcda::auth::credentials::NewCredentials {
            client_id: denied.client_id.clone(),
            client_secret: denied.client_secret.clone(),
            expires_at: app.clock.now(),
        };
        let token = app.token(&creds).await;
        app.get_with_token("/auth/welcome", &token)
            .await
            .assert_outcome(403, "forbidden", "ACO (CMS_ID: A9997) is unauthorized");
    }
}

backend_test! {
    async fn revoked_saved_credentials_are_replaced(backend) {
        let app = TestApp::new(backend).await;
        let data_dir = app.state.data_dir.root().to_owned();
        let first = sandbox::prepare(app.db(), &app.clock, &data_dir).await.expect("prepare");
        bcda::auth::credentials::revoke(app.db(), &app.clock, &first[0].client_id).await.expect("revoke");
        let second = sandbox::prepare(app.db(), &app.clock, &data_dir).await.expect("prepare again");
        assert_ne!(first[0].client_id, second[0].client_id);
        assert_eq!(first[1..], second[1..]);
        assert_eq!(app.post_token(&second[0].client_id, &second[0].client_secret).await.status, StatusCode::OK);
    }
}

use bcda::clock::Clock;

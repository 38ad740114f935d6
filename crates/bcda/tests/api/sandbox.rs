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
            [("A9994", 50), ("A9990", 2_500), ("A9991", 7_500), ("A9992", 20_000), ("A9993", 30_000), ("TEST001", 110), ("TEST002", 11_000), ("A9997", 50), ("TEST995", 50)]
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

backend_test! {
    async fn the_partially_adjudicated_sandbox_acos_export_claims(backend) {
        let app = TestApp::new(backend).await;
        let data_dir = app.state.data_dir.root().to_owned();
        // A bcda-data from an older sandbox: TEST001 already there with
        // adjudicated data only, a credentials file without TEST001/TEST002.
        bcda::acos::create(app.db(), &app.clock, "TEST001", "made earlier", DataSets::default()).await.expect("aco");
        let first = sandbox::prepare(app.db(), &app.clock, &data_dir).await.expect("prepare");
        let older: Vec<_> = first.iter().filter(|c| !c.cms_id.starts_with("TEST00")).cloned().collect();
        std::fs::write(sandbox::credentials_path(&data_dir), serde_json::to_vec(&older).expect("json")).expect("write");
        let later = sandbox::prepare(app.db(), &app.clock, &data_dir).await.expect("prepare again");
        for c in &older {
            assert!(later.contains(c), "{} keeps its credentials", c.cms_id);
        }
        for (cms_id, beneficiaries) in [("TEST001", 110), ("TEST002", 11_000)] {
            let c = later.iter().find(|c| c.cms_id == cms_id).expect("listed");
            assert_eq!(c.beneficiaries, beneficiaries);
            assert_eq!(app.post_token(&c.client_id, &c.client_secret).await.status, StatusCode::OK, "{cms_id}");
            let aco = bcda::store::acos::find_by_cms_id(app.db(), cms_id).await.expect("db").expect("aco");
            assert_eq!(aco.data_sets, DataSets::BOTH, "{cms_id}");
            let record = bcda::store::synthetic_acos::find(app.db(), aco.id).await.expect("db").expect("synthetic");
            assert_eq!((record.beneficiaries, record.claims_density), (beneficiaries, sandbox::SANDBOX_CLAIMS_DENSITY));
            // BCDA's test-ACO pattern: exempt from the one-job rule.
            assert!(bcda::export::duplicates::ExemptAcos::default().exempts(cms_id), "{cms_id}");
        }
        let saved: Vec<sandbox::SandboxCredential> =
            serde_json::from_slice(&std::fs::read(sandbox::credentials_path(&data_dir)).expect("file")).expect("json");
        assert_eq!(saved, later);

        // A default v2 Patient export of TEST001 through the API: the five types.
        let c = later.iter().find(|c| c.cms_id == "TEST001").expect("TEST001");
        let token = app.post_token(&c.client_id, &c.client_secret).await.json()["access_token"].as_str().expect("token").to_owned();
        let job = job_id(&kick_ok(&app, &token, "/api/v2/Patient/$export").await);
        run_until_idle(&app.state.env).await.expect("worker");
        let done = app.get_with_token(&format!("/api/v2/jobs/{job}"), &token).await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.text());
        let manifest = done.json();
        let mut counts = std::collections::BTreeMap::<String, u64>::new();
        for entry in manifest["output"].as_array().expect("output") {
            *counts.entry(entry["type"].as_str().expect("type").to_owned()).or_default() += entry["count"].as_u64().expect("count");
        }
        let types: Vec<&str> = counts.keys().map(String::as_str).collect();
        assert_eq!(types, ["Claim", "ClaimResponse", "Coverage", "ExplanationOfBenefit", "Patient"], "{manifest}");
        assert!(counts.values().all(|&n| n > 0), "{counts:?}");
        assert_eq!(counts["Claim"], counts["ClaimResponse"], "a ClaimResponse per Claim");
    }
}

use bcda::clock::Clock;
use bcda::domain::DataSets;
use bcda::jobs::worker::run_until_idle;

use crate::kickoff::{job_id, kick_ok};

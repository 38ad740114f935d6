//! `GET /api/{v1,v2}/attribution_status`.

use axum::http::StatusCode;
use bcda::domain::AttributionKind;
use bcda::sandbox;
use bcda::store::attribution_files::{self, NewAttributionFile};
use time::macros::datetime;

use crate::harness::{TestApp, backend_test};

backend_test! {
    async fn stored_files(backend) {
        let app = TestApp::new(backend).await;
        let token = app.token_for("A0001").await;
        app.get_with_token("/api/v1/attribution_status", &token)
            .await
            .assert_outcome(404, "not-found", "No attribution files have been received for ACO A0001.");

        let aco = bcda::store::acos::find_by_cms_id(app.db(), "A0001").await.expect("db").expect("aco");
        let mut tx = app.db().begin().await.expect("tx");
        for (name, kind, year, at) in [
            ("f1", AttributionKind::Default, 2025, datetime!(2025-12-01 10:00 UTC)),
            ("f2", AttributionKind::Default, 2026, datetime!(2026-01-15 10:00 UTC)),
            ("f3", AttributionKind::Runout, 2025, datetime!(2026-02-01 10:00 UTC)),
            // A later file of an older performance year does not win.
            ("f4", AttributionKind::Default, 2025, datetime!(2026-02-20 10:00 UTC)),
        ] {
            attribution_files::insert_file(
                &mut tx,
                &NewAttributionFile {
                    aco_id: aco.id,
                    name,
                    sha256: "0",
                    kind,
                    performance_year: year,
                    attributed_at: at,
                    imported_at: at,
                },
            )
            .await
            .expect("insert");
        }
        tx.commit().await.expect("commit");
        for version in ["v1", "v2"] {
            let response = app.get_with_token(&format!("/api/{version}/attribution_status"), &token).await;
            assert_eq!(response.status, StatusCode::OK);
            assert_eq!(
                response.json(),
                serde_json::json!({"ingestion_dates": [
                    {"timestamp": "2026-01-15T10:00:00Z", "type": "last_attribution_update"},
                    {"timestamp": "2026-02-01T10:00:00Z", "type": "last_runout_update"}
                ]})
            );
        }
        app.get("/api/v1/attribution_status").await.assert_outcome(401, "forbidden", "Invalid Token");
    }
}

backend_test! {
    async fn sandbox_attribution_is_current(backend) {
        let app = TestApp::new(backend).await;
        let data_dir = app.state.data_dir.root().to_owned();
        let creds = sandbox::prepare(app.db(), &app.clock, &data_dir).await.expect("prepare");
        let a9994 = &creds[0];
        let response = app.post_token(&a9994.client_id, &a9994.client_secret).await;
        let token = response.json()["access_token"].as_str().expect("token").to_owned();
        let status = app.get_with_token("/api/v2/attribution_status", &token).await;
        assert_eq!(status.status, StatusCode::OK);
        let body = status.json();
        // The clock starts at 2026-03-02 12:00 UTC: the newest file is from the day before.
        assert_eq!(body["ingestion_dates"][0]["type"], "last_attribution_update");
        assert_eq!(body["ingestion_dates"][0]["timestamp"], "2026-03-01T00:00:00Z");
        assert_eq!(body["ingestion_dates"][1]["type"], "last_runout_update");
        assert_eq!(body["ingestion_dates"][1]["timestamp"], "2026-01-31T00:00:00Z");
    }
}

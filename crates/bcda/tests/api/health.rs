//! `GET /_health` checks the database and the data directory for real.

use axum::http::StatusCode;

use crate::harness::{TestApp, backend_test};

backend_test! {
    async fn healthy(backend) {
        let app = TestApp::new(backend).await;
        let response = app.get("/_health").await;
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(response.json(), serde_json::json!({ "database": "ok", "storage": "ok" }));
        // The probe file is cleaned up.
        let left: Vec<_> = std::fs::read_dir(app.state.data_dir.root()).expect("dir").collect();
        assert!(left.is_empty(), "{left:?}");
    }
}

backend_test! {
    async fn unwritable_data_directory_is_503(backend) {
        let app = TestApp::new(backend).await;
        // Replace the directory with a file: no file can be created in it
        // (permission bits would not stop root, which CI runs as).
        let root = app.state.data_dir.root().to_owned();
        std::fs::remove_dir_all(&root).expect("remove");
        std::fs::write(&root, b"not a directory").expect("write");
        let response = app.get("/_health").await;
        assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.json(),
            serde_json::json!({ "database": "ok", "storage": "data directory is not writable" })
        );
    }
}

backend_test! {
    async fn unreachable_database_is_503(backend) {
        let app = TestApp::new(backend).await;
        app.db().close().await;
        let response = app.get("/_health").await;
        assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.json(),
            serde_json::json!({ "database": "database ping error", "storage": "ok" })
        );
    }
}

//! OperationOutcome shapes (CONTRACT.md section 6) for v1 and v2 paths.

use axum::body::Body;
use axum::http::Request;

use crate::harness::{TestApp, backend_test};

backend_test! {
    async fn unknown_routes_are_404_operation_outcomes_in_the_path_version(backend) {
        let app = TestApp::new(backend).await;
        let v1 = app.get("/api/v1/Nothing").await;
        v1.assert_outcome(404, "not-found", "The requested resource was not found.");
        assert_eq!(
            v1.text(),
            r#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found","diagnostics":"The requested resource was not found."}]}"#
        );
        let v2 = app.get("/api/v2/Nothing").await;
        v2.assert_outcome(404, "not-found", "The requested resource was not found.");
        assert_eq!(
            v2.text(),
            r#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found","diagnostics":"The requested resource was not found.","details":{"coding":[{"system":"http://hl7.org/fhir/ValueSet/operation-outcome","code":"Request Error","display":"The requested resource was not found."}],"text":"The requested resource was not found."}}]}"#
        );
        app.get("/").await.assert_outcome(404, "not-found", "The requested resource was not found.");
    }
}

backend_test! {
    async fn wrong_method_is_405_operation_outcome(backend) {
        let app = TestApp::new(backend).await;
        let response = app
            .send(Request::delete("/api/v2/metadata").body(Body::empty()).expect("req"))
            .await;
        response.assert_outcome(405, "not-supported", "Method not allowed for this path.");
        assert!(response.json()["issue"][0]["details"].is_object(), "v2 shape");
        let get_token = app.get("/auth/token").await;
        get_token.assert_outcome(405, "not-supported", "Method not allowed for this path.");
    }
}

backend_test! {
    async fn every_response_carries_a_request_id(backend) {
        let app = TestApp::new(backend).await;
        let response = app.get("/_version").await;
        assert!(response.header("x-request-id").is_some_and(|id| id.len() >= 32));
        let echoed = app
            .send(Request::get("/nope").header("x-request-id", "client-chosen-1").body(Body::empty()).expect("req"))
            .await;
        assert_eq!(echoed.header("x-request-id"), Some("client-chosen-1"));
    }
}

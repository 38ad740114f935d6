//! OperationOutcome shapes (docs/REFERENCES.md, "OperationOutcome shapes") for
//! v1 and v2 paths.

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

/// The v2 `details` of an outcome carry the diagnostics; v1 has none.
fn assert_shape(response: &crate::harness::TestResponse, version: &str) {
    let issue = &response.json()["issue"][0];
    match version {
        "v1" => assert!(issue.get("details").is_none(), "v1 shape: {issue}"),
        _ => assert_eq!(issue["details"]["text"], issue["diagnostics"], "v2 shape"),
    }
}

backend_test! {
    async fn an_oversized_body_is_a_413_operation_outcome(backend) {
        let app = TestApp::new(backend).await;
        let message = "The request body is too large: at most 65536 bytes are accepted.";
        for (path, version) in [("/auth/token", "v1"), ("/api/v1/Group/all/$export", "v1"), ("/api/v2/Group/all/$export", "v2")] {
            // Announced by Content-Length: refused before it is read.
            let response = app
                .send(
                    Request::post(path)
                        .header("content-type", "application/fhir+json")
                        .header("content-length", "70000")
                        .body(Body::from(vec![b' '; 70_000]))
                        .expect("req"),
                )
                .await;
            response.assert_outcome(413, "structure", message);
            assert_shape(&response, version);
        }
        // Not announced (chunked): refused when the body is read.
        let token = app.token_for("A0001").await;
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..20).map(|_| Ok(vec![b' '; 4096])).collect();
        let response = app
            .send(
                Request::post("/api/v2/Group/all/$export")
                    .header("authorization", format!("Bearer {token}"))
                    .header("content-type", "application/fhir+json")
                    .header("accept", "application/fhir+json")
                    .header("prefer", "respond-async")
                    .body(Body::from_stream(chunked_stream(chunks)))
                    .expect("req"),
            )
            .await;
        response.assert_outcome(413, "structure", message);
        assert_shape(&response, "v2");
    }
}

/// A stream of chunks (a body without Content-Length).
fn chunked_stream(
    chunks: Vec<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    struct Chunks(std::vec::IntoIter<Result<Vec<u8>, std::io::Error>>);
    impl futures_core::Stream for Chunks {
        type Item = Result<Vec<u8>, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Ready(self.0.next())
        }
    }
    Chunks(chunks.into_iter())
}

backend_test! {
    async fn a_long_uri_is_a_414_operation_outcome(backend) {
        let app = TestApp::new(backend).await;
        let message = "The request URI is too long: at most 8192 bytes are accepted.";
        let long = "x".repeat(9000);
        for (path, version) in [
            (format!("/api/v1/jobs?_status={long}"), "v1"),
            (format!("/api/v2/jobs?_status={long}"), "v2"),
            (format!("/_version/{long}"), "v1"),
        ] {
            let response = app.get(&path).await;
            response.assert_outcome(414, "structure", message);
            assert_shape(&response, version);
        }
        // Just under the limit is routed as usual (401: no token).
        let under = format!("/api/v1/jobs?_status={}", "x".repeat(8000));
        app.get(&under).await.assert_outcome(401, "forbidden", "Invalid Token");
    }
}

backend_test! {
    async fn large_headers_are_a_431_operation_outcome(backend) {
        let app = TestApp::new(backend).await;
        let message = "The request headers are too large: at most 100 fields and 16384 bytes are accepted.";
        let big = app
            .send(Request::get("/api/v2/metadata").header("x-big", "b".repeat(17_000)).body(Body::empty()).expect("req"))
            .await;
        big.assert_outcome(431, "structure", message);
        assert_shape(&big, "v2");
        let mut many = Request::get("/api/v1/metadata");
        for i in 0..101 {
            many = many.header(format!("x-h{i}"), "1");
        }
        let many = app.send(many.body(Body::empty()).expect("req")).await;
        many.assert_outcome(431, "structure", message);
        assert_shape(&many, "v1");
        // A bearer token's worth of headers is fine.
        let fine = app
            .send(Request::get("/api/v1/metadata").header("x-ok", "o".repeat(8000)).body(Body::empty()).expect("req"))
            .await;
        assert_eq!(fine.status, 200);
    }
}

backend_test! {
    async fn undecodable_paths_are_operation_outcomes(backend) {
        let app = TestApp::new(backend).await;
        let token = app.token_for("A0001").await;
        let bad_id = "Invalid job ID \"%FF\": job IDs are positive whole numbers";
        for (path, version) in [("/api/v1/jobs/%FF", "v1"), ("/api/v2/jobs/%FF", "v2"), ("/data/%FF/x.ndjson", "v1")] {
            let response = app.get_with_token(path, &token).await;
            response.assert_outcome(400, "structure", bad_id);
            assert_shape(&response, version);
        }
        let cancel = app
            .send(Request::delete("/api/v1/jobs/%C3%28").header("authorization", format!("Bearer {token}")).body(Body::empty()).expect("req"))
            .await;
        cancel.assert_outcome(400, "structure", "Invalid job ID \"%C3%28\": job IDs are positive whole numbers");
        // Without a token, 401 first, as for any id.
        app.get("/api/v1/jobs/%FF").await.assert_outcome(401, "forbidden", "Invalid Token");
        // Other routes' undecodable segments: a fixed message, never the bytes sent.
        let group = app.get_with_token("/api/v2/Group/%FF/$export", &token).await;
        group.assert_outcome(
            400,
            "structure",
            "The request is malformed (for example, a path segment is not valid UTF-8 once percent-decoded).",
        );
        assert_shape(&group, "v2");
    }
}

backend_test! {
    async fn only_short_plain_request_ids_are_echoed(backend) {
        let app = TestApp::new(backend).await;
        let with_id = |id: String| Request::get("/_version").header("x-request-id", id).body(Body::empty()).expect("req");
        let long = "a".repeat(5000);
        for id in [long.as_str(), "has space", "semi;colon", "\u{7f}", "x".repeat(65).as_str()] {
            let Ok(value) = axum::http::HeaderValue::from_str(id) else { continue };
            let response = app
                .send(Request::get("/_version").header("x-request-id", value).body(Body::empty()).expect("req"))
                .await;
            let echoed = response.header("x-request-id").expect("an id").to_owned();
            assert_ne!(echoed, id, "not echoed");
            assert!(uuid::Uuid::parse_str(&echoed).is_ok(), "replaced with a fresh UUID: {echoed}");
        }
        // Two ids: neither is the request's.
        let two = app
            .send(Request::get("/_version").header("x-request-id", "one").header("x-request-id", "two").body(Body::empty()).expect("req"))
            .await;
        assert!(uuid::Uuid::parse_str(two.header("x-request-id").expect("id")).is_ok());
        let plain = "A-plain_id-64".to_owned();
        assert_eq!(app.send(with_id(plain.clone())).await.header("x-request-id"), Some(plain.as_str()));
        let longest = "y".repeat(64);
        assert_eq!(app.send(with_id(longest.clone())).await.header("x-request-id"), Some(longest.as_str()));
    }
}

//! The OpenAPI documents (`/api/{v}/openapi.json`) and the Swagger UI
//! (`/api/{v}/swagger/`): every route the router serves is documented, and
//! every documented operation is served; the security schemes are the ones
//! CMS's walkthrough expects; the page and its assets are served; and a
//! snapshot of each document is kept so changes are reviewed.
//!
//! None of this depends on the database, so it runs on SQLite only.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use base64::Engine;
use bcda::jobs::worker::run_until_idle;
use bcda::sandbox;
use serde_json::Value;

use crate::harness::{Backend, TestApp, TestResponse};

const VERSIONS: [&str; 3] = ["v1", "v2", "v3"];

/// Every operation of a version's document, as the contract lists them
/// (docs/REFERENCES.md, "Routes", plus `/auth/welcome`, SMART discovery
/// and the system-level export). `{v}` is the version.
const OPERATIONS: [(&str, &str); 19] = [
    ("POST", "/auth/token"),
    ("GET", "/auth/welcome"),
    ("GET", "/.well-known/smart-configuration"),
    ("GET", "/api/{v}/.well-known/smart-configuration"),
    ("GET", "/_version"),
    ("GET", "/_auth"),
    ("GET", "/_health"),
    ("GET", "/data/{jobId}/{filename}"),
    ("GET", "/api/{v}/metadata"),
    ("GET", "/api/{v}/attribution_status"),
    ("GET", "/api/{v}/Patient/$export"),
    ("POST", "/api/{v}/Patient/$export"),
    ("GET", "/api/{v}/Group/{groupId}/$export"),
    ("POST", "/api/{v}/Group/{groupId}/$export"),
    ("GET", "/api/{v}/$export"),
    ("POST", "/api/{v}/$export"),
    ("GET", "/api/{v}/jobs"),
    ("GET", "/api/{v}/jobs/{jobId}"),
    ("DELETE", "/api/{v}/jobs/{jobId}"),
];

/// The operations that need no credentials at all.
const PUBLIC: [&str; 6] = [
    "/_version",
    "/_auth",
    "/_health",
    "/api/{v}/metadata",
    "/.well-known/smart-configuration",
    "/api/{v}/.well-known/smart-configuration",
];

async fn document(app: &TestApp, version: &str) -> Value {
    let response = app.get(&format!("/api/{version}/openapi.json")).await;
    assert_eq!(response.status, StatusCode::OK, "{version} document");
    assert_eq!(response.header("content-type"), Some("application/json"));
    response.json()
}

/// `(METHOD, path)` of every operation in a document.
fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            found.push((method.to_uppercase(), path.clone()));
        }
    }
    found.sort();
    found
}

fn expected_operations(version: &str) -> Vec<(String, String)> {
    let mut expected: Vec<_> = OPERATIONS
        .iter()
        .map(|(m, p)| ((*m).to_owned(), p.replace("{v}", version)))
        .collect();
    expected.sort();
    expected
}

fn operation<'a>(doc: &'a Value, method: &str, path: &str) -> &'a Value {
    &doc["paths"][path][method.to_lowercase()]
}

/// Follows a local `$ref` (`#/components/...`).
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(reference) => {
            let pointer = reference.strip_prefix('#').expect("local reference");
            doc.pointer(pointer).expect("reference resolves")
        }
        None => value,
    }
}

/// The media type Swagger UI sends as `Accept` for an operation: that of
/// the first 2xx response with content, else of `default` (its
/// `getAcceptControllingResponse`). It never sends a header parameter
/// named Accept, Authorization or Content-Type.
fn swagger_accept(doc: &Value, op: &Value) -> Option<String> {
    let responses = op["responses"].as_object()?;
    let media_type = |response: &Value| {
        resolve(doc, response)["content"]
            .as_object()
            .and_then(|content| content.keys().next().cloned())
    };
    responses
        .iter()
        .filter(|(code, _)| code.starts_with('2'))
        .find_map(|(_, response)| media_type(response))
        .or_else(|| responses.get("default").and_then(media_type))
}

/// A concrete URL for a documented path.
fn probe_url(path: &str) -> String {
    path.replace("{jobId}", "1")
        .replace("{filename}", "x.ndjson")
        .replace("{groupId}", "all")
}

#[tokio::test]
async fn documents_are_openapi_3_with_this_version() {
    let app = TestApp::new(Backend::Sqlite).await;
    for version in VERSIONS {
        let doc = document(&app, version).await;
        assert!(
            doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
            "{}",
            doc["openapi"]
        );
        assert_eq!(doc["info"]["version"], bcda::VERSION);
        assert!(
            doc["info"]["title"]
                .as_str()
                .is_some_and(|t| t.contains(version))
        );
        assert_eq!(doc["servers"], serde_json::json!([{ "url": "/" }]));
        let tags: Vec<_> = doc["tags"]
            .as_array()
            .expect("tags")
            .iter()
            .map(|t| t["name"].as_str().expect("tag name"))
            .collect();
        assert_eq!(tags, ["auth", "Metadata", "bulkData", "jobs", "data"]);
    }
}

#[tokio::test]
async fn every_documented_operation_is_listed_and_served() {
    let app = TestApp::new(Backend::Sqlite).await;
    for version in VERSIONS {
        let doc = document(&app, version).await;
        assert_eq!(operations(&doc), expected_operations(version), "{version}");
        for (method, path) in operations(&doc) {
            let request = Request::builder()
                .method(Method::from_bytes(method.as_bytes()).expect("method"))
                .uri(probe_url(&path))
                .body(Body::empty())
                .expect("request");
            let response = app.send(request).await;
            // Without credentials an authenticated route answers 401 before
            // anything else; the public ones answer; /auth/token wants Basic.
            let expected = if PUBLIC.contains(&path.replace(version, "{v}").as_str()) {
                StatusCode::OK
            } else if path == "/auth/token" {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::UNAUTHORIZED
            };
            assert_eq!(response.status, expected, "{method} {path}");
            let op = operation(&doc, &method, &path);
            assert!(
                op["responses"][expected.as_str()].is_object(),
                "{method} {path} does not document its {expected}"
            );
        }
    }
}

/// Routes enter the router only through `utoipa_axum::routes!`, which
/// documents them too; a plain `.route(...)` would serve a route the
/// documents do not list.
#[test]
fn router_registers_routes_only_with_their_documentation() {
    let source = include_str!("../../src/http/router.rs");
    let code: String = source
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    for call in [".route(", ".route_service(", ".nest_service(", "routing::"] {
        assert!(
            !code.contains(call),
            "router.rs calls `{call}`: register routes with `.routes(routes!(handler))` \
             so they are documented in the OpenAPI documents"
        );
    }
    assert!(code.contains(".routes(routes!("));
}

#[tokio::test]
async fn security_schemes_are_basic_for_the_token_and_an_authorization_api_key() {
    let app = TestApp::new(Backend::Sqlite).await;
    for version in VERSIONS {
        let doc = document(&app, version).await;
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes.as_object().expect("schemes").len(), 2);
        assert_eq!(schemes["BasicAuth"]["type"], "http");
        assert_eq!(schemes["BasicAuth"]["scheme"], "basic");
        let bearer = &schemes["BearerToken"];
        assert_eq!(bearer["type"], "apiKey");
        assert_eq!(bearer["in"], "header");
        assert_eq!(bearer["name"], "Authorization");
        assert!(
            bearer["description"]
                .as_str()
                .is_some_and(|d| d.contains("`Bearer`")),
            "the scheme tells the user to type Bearer"
        );
        for (method, path) in operations(&doc) {
            let security = &operation(&doc, &method, &path)["security"];
            // The token route takes HTTP Basic, or no credentials at all
            // with a SMART client assertion in the body.
            let expected = if path == "/auth/token" {
                serde_json::json!([{ "BasicAuth": [] }, {}])
            } else if PUBLIC.contains(&path.replace(version, "{v}").as_str()) {
                Value::Null
            } else {
                serde_json::json!([{ "BearerToken": [] }])
            };
            assert_eq!(security, &expected, "{method} {path}");
        }
    }
}

/// The walkthrough warns that a token pasted without `Bearer ` gives 401.
#[tokio::test]
async fn a_token_without_bearer_is_refused() {
    let app = TestApp::new(Backend::Sqlite).await;
    let token = app.token_for("A9994").await;
    let without = app.get_with_authorization("/api/v1/jobs", &token).await;
    assert_eq!(without.status, StatusCode::UNAUTHORIZED);
    let with = app
        .get_with_authorization("/api/v1/jobs", &format!("Bearer {token}"))
        .await;
    assert_eq!(with.status, StatusCode::OK);
}

#[tokio::test]
async fn export_headers_are_parameters_with_one_allowed_value() {
    let app = TestApp::new(Backend::Sqlite).await;
    for version in VERSIONS {
        let doc = document(&app, version).await;
        for (method, path) in operations(&doc) {
            if !path.ends_with("/$export") {
                continue;
            }
            let params = operation(&doc, &method, &path)["parameters"]
                .as_array()
                .expect("parameters");
            for (name, value) in [
                ("Accept", "application/fhir+json"),
                ("Prefer", "respond-async"),
            ] {
                let param = params
                    .iter()
                    .find(|p| p["name"] == name)
                    .unwrap_or_else(|| panic!("{method} {path} lacks {name}"));
                assert_eq!(param["in"], "header");
                assert_eq!(param["required"], true);
                assert_eq!(param["schema"]["enum"], serde_json::json!([value]));
                assert_eq!(param["schema"]["default"], value);
            }
            if method == "GET" {
                let names: Vec<_> = params.iter().map(|p| p["name"].clone()).collect();
                for query in ["_type", "_since", "_outputFormat"] {
                    assert!(names.contains(&Value::from(query)), "{path} {query}");
                }
            }
            assert_eq!(
                swagger_accept(&doc, operation(&doc, &method, &path)).as_deref(),
                Some("application/fhir+json"),
                "Swagger UI must send Accept: application/fhir+json for {method} {path}"
            );
            let content_location = &resolve(
                &doc,
                &operation(&doc, &method, &path)["responses"]["202"],
            )["headers"]["Content-Location"];
            assert!(content_location.is_object(), "{method} {path}");
        }
        let since =
            &operation(&doc, "GET", &format!("/api/{version}/Patient/$export"))["parameters"][1];
        assert_eq!(since["name"], "_since");
        assert_eq!(
            since["schema"]["examples"][0],
            "2020-02-13T08:00:00.000-05:00"
        );
        let group = &operation(
            &doc,
            "GET",
            &format!("/api/{version}/Group/{{groupId}}/$export"),
        )["parameters"];
        let group_id = group
            .as_array()
            .expect("parameters")
            .iter()
            .find(|p| p["name"] == "groupId")
            .expect("groupId");
        assert_eq!(
            group_id["schema"]["enum"],
            serde_json::json!(["all", "runout"])
        );
    }
}

#[tokio::test]
async fn every_error_is_an_operation_outcome_and_the_file_is_ndjson() {
    let app = TestApp::new(Backend::Sqlite).await;
    for version in VERSIONS {
        let doc = document(&app, version).await;
        for (method, path) in operations(&doc) {
            let responses = operation(&doc, &method, &path)["responses"]
                .as_object()
                .expect("responses");
            for (status, response) in responses {
                let response = resolve(&doc, response);
                let is_error = status.starts_with('4') || status.starts_with('5');
                if !is_error || path == "/_health" {
                    continue;
                }
                assert_eq!(
                    response["content"]["application/fhir+json"]["schema"]["$ref"],
                    "#/components/schemas/OperationOutcome",
                    "{method} {path} {status}"
                );
            }
        }
        let download = &operation(&doc, "GET", "/data/{jobId}/{filename}")["responses"]["200"];
        assert!(download["content"]["application/fhir+ndjson"].is_object());
        let status =
            &operation(&doc, "GET", &format!("/api/{version}/jobs/{{jobId}}"))["responses"];
        assert!(status["202"]["headers"]["X-Progress"].is_object());
        assert!(status["202"]["headers"]["Retry-After"].is_object());
        assert!(status["200"]["headers"]["Expires"].is_object());
        let manifest = &doc["components"]["schemas"]["Manifest"];
        assert!(manifest["properties"]["JobID"].is_object());
        let too_many = resolve(&doc, &doc["components"]["responses"]["TooManyRequests"]);
        assert!(too_many["headers"]["Retry-After"].is_object());
    }
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary() {
    let app = TestApp::new(Backend::Sqlite).await;
    for version in VERSIONS {
        let base = format!("/api/{version}/swagger");
        let bare = app.get(&base).await;
        assert!(bare.status.is_redirection(), "{base}: {}", bare.status);
        assert_eq!(bare.header("location"), Some(format!("{base}/").as_str()));

        let page = app.get(&format!("{base}/")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.header("content-type")
                .is_some_and(|t| t.starts_with("text/html"))
        );
        assert!(page.text().contains("swagger-ui"));

        let init = app.get(&format!("{base}/swagger-initializer.js")).await;
        assert_eq!(init.status, StatusCode::OK);
        let init = init.text();
        assert!(
            init.contains(&format!("/api/{version}/openapi.json")),
            "{init}"
        );
        assert!(init.contains(r#""validatorUrl": "none""#), "{init}");

        for (asset, media_type) in [
            ("swagger-ui-bundle.js", "text/javascript"),
            ("swagger-ui-standalone-preset.js", "text/javascript"),
            ("swagger-ui.css", "text/css"),
            ("index.css", "text/css"),
        ] {
            let response = app.get(&format!("{base}/{asset}")).await;
            assert_eq!(response.status, StatusCode::OK, "{asset}");
            assert!(
                response
                    .header("content-type")
                    .is_some_and(|t| t.starts_with(media_type)),
                "{asset}: {:?}",
                response.header("content-type")
            );
            assert!(!response.body.is_empty(), "{asset}");
        }
    }
}

/// v3's kick-offs take `_typeFilter` (query and POST body); v1's and v2's
/// do not list it (they ignore it, as BCDA).
#[tokio::test]
async fn only_v3_documents_type_filter() {
    let app = TestApp::new(Backend::Sqlite).await;
    for version in VERSIONS {
        let doc = document(&app, version).await;
        for path in [
            "/api/{v}/Patient/$export",
            "/api/{v}/Group/{groupId}/$export",
        ] {
            let path = path.replace("{v}", version);
            let names: Vec<&str> = operation(&doc, "get", &path)["parameters"]
                .as_array()
                .expect("parameters")
                .iter()
                .filter_map(|p| p["name"].as_str())
                .collect();
            assert_eq!(
                names.contains(&"_typeFilter"),
                version == "v3",
                "{version} {path}: {names:?}"
            );
        }
        let body = doc["components"]["schemas"]["ExportParameters"].to_string();
        assert_eq!(
            body.contains("_typeFilter"),
            version == "v3",
            "{version} ExportParameters"
        );
    }
}

/// v2's and v3's kick-offs take `_until` (query, right after `_since`, and
/// POST body); v1's do not list it (it ignores it). Every version's POST
/// body takes `patient`, and the system-level export is documented on
/// every version.
#[tokio::test]
async fn until_and_patient_are_documented_where_they_are_read() {
    let app = TestApp::new(Backend::Sqlite).await;
    for version in VERSIONS {
        let doc = document(&app, version).await;
        for path in [
            "/api/{v}/Patient/$export",
            "/api/{v}/Group/{groupId}/$export",
            "/api/{v}/$export",
        ] {
            let path = path.replace("{v}", version);
            let names: Vec<&str> = operation(&doc, "get", &path)["parameters"]
                .as_array()
                .unwrap_or_else(|| panic!("{version} {path} parameters"))
                .iter()
                .filter_map(|p| p["name"].as_str())
                .collect();
            let expected: &[&str] = if version == "v1" {
                &["_type", "_since", "_outputFormat"]
            } else {
                &["_type", "_since", "_until", "_outputFormat"]
            };
            assert_eq!(&names[..expected.len()], expected, "{version} {path}");
            assert!(
                operation(&doc, "post", &path)["requestBody"].is_object(),
                "{version} {path}"
            );
        }
        let body = doc["components"]["schemas"]["ExportParameters"].to_string();
        assert_eq!(
            body.contains("_until"),
            version != "v1",
            "{version} ExportParameters"
        );
        assert!(
            body.contains("valueReference") && body.contains("Patient/<id>"),
            "{version}"
        );
    }
}

#[tokio::test]
async fn documents_snapshot() {
    let app = TestApp::new(Backend::Sqlite).await;
    for version in VERSIONS {
        let doc = document(&app, version).await;
        insta::assert_json_snapshot!(format!("openapi_{version}"), doc, {
            ".info.version" => "[version]",
        });
    }
}

/// Sends what Swagger UI's "Try it out" sends for a documented operation:
/// the path with its parameters filled in, `query`, the header parameters'
/// defaults (less Accept), Accept from the responses' media type, and the
/// `Authorization` value the user entered.
async fn try_it_out(
    app: &TestApp,
    doc: &Value,
    method: &str,
    path: &str,
    fill: &[(&str, &str)],
    query: &str,
    authorization: &str,
) -> TestResponse {
    let op = operation(doc, method, path);
    let mut url = path.to_owned();
    for (name, value) in fill {
        url = url.replace(&format!("{{{name}}}"), value);
    }
    if !query.is_empty() {
        url = format!("{url}?{query}");
    }
    let mut request = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).expect("method"))
        .uri(url)
        .header("authorization", authorization)
        .header(
            "accept",
            swagger_accept(doc, op).unwrap_or_else(|| "*/*".to_owned()),
        );
    for param in op["parameters"].as_array().into_iter().flatten() {
        let name = param["name"].as_str().expect("name");
        if param["in"] == "header" && !name.eq_ignore_ascii_case("accept") {
            let value = param["schema"]["default"].as_str().expect("header default");
            request = request.header(name, value);
        }
    }
    app.send(request.body(Body::empty()).expect("request"))
        .await
}

/// CMS's walkthrough, click by click, as the document makes Swagger UI
/// send it: a token with Basic credentials, `Bearer <token>`, a Coverage
/// export, its status and the download of an NDJSON file.
#[tokio::test]
async fn the_walkthrough_works_as_swagger_ui_sends_it() {
    let app = TestApp::new(Backend::Sqlite).await;
    let data_dir = app.state.data_dir.root().to_owned();
    let creds = sandbox::prepare(app.db(), &app.clock, &data_dir)
        .await
        .expect("sandbox");
    let aco = creds.iter().find(|c| c.cms_id == "A9994").expect("A9994");
    let doc = document(&app, "v1").await;

    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", aco.client_id, aco.client_secret));
    let token = try_it_out(
        &app,
        &doc,
        "POST",
        "/auth/token",
        &[],
        "",
        &format!("Basic {basic}"),
    )
    .await;
    assert_eq!(token.status, StatusCode::OK);
    let token = token.json()["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned();
    let bearer = format!("Bearer {token}");

    let auth = try_it_out(&app, &doc, "GET", "/_auth", &[], "", "").await;
    assert_eq!(auth.status, StatusCode::OK);

    let kickoff = try_it_out(
        &app,
        &doc,
        "GET",
        "/api/v1/Patient/$export",
        &[],
        "_type=Coverage",
        &bearer,
    )
    .await;
    assert_eq!(kickoff.status, StatusCode::ACCEPTED, "{}", kickoff.text());
    let location = kickoff
        .header("content-location")
        .expect("content-location");
    let job_id = location.rsplit('/').next().expect("job id").to_owned();

    run_until_idle(&app.state.env).await.expect("worker");
    let status = try_it_out(
        &app,
        &doc,
        "GET",
        "/api/v1/jobs/{jobId}",
        &[("jobId", &job_id)],
        "",
        &bearer,
    )
    .await;
    assert_eq!(status.status, StatusCode::OK);
    let url = status.json()["output"][0]["url"]
        .as_str()
        .expect("file url")
        .to_owned();
    let filename = url.rsplit('/').next().expect("file name");

    let file = try_it_out(
        &app,
        &doc,
        "GET",
        "/data/{jobId}/{filename}",
        &[("jobId", &job_id), ("filename", filename)],
        "",
        &bearer,
    )
    .await;
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(file.header("content-type"), Some("application/fhir+ndjson"));
    // What makes Swagger UI offer a "Download file" link with the bytes.
    assert_eq!(
        file.header("content-disposition"),
        Some(format!("attachment; filename=\"{filename}\"").as_str())
    );
    let first = file
        .text()
        .lines()
        .next()
        .map(str::to_owned)
        .expect("a line");
    let resource: Value = serde_json::from_str(&first).expect("NDJSON line");
    assert_eq!(resource["resourceType"], "Coverage");
}

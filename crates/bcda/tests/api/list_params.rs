//! List parameters (issue 10, item 4): `_status`, `_type` and POST
//! Parameters are parsed in linear time with a cap on items. Each worst
//! case gets its answer and costs little more than a trivial request
//! measured in the same test (medians of a few runs; no absolute timings).

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;

use crate::harness::{TestApp, TestResponse, backend_test};

/// Runs a worst-case request and a trivial one alternately, a few times
/// each (so both see the same load on a busy machine); the worst case's
/// last response and both median times.
async fn timed(
    app: &TestApp,
    trivial: impl Fn() -> Request<Body>,
    worst: impl Fn() -> Request<Body>,
) -> (TestResponse, Duration, Duration) {
    let (mut worst_times, mut trivial_times) = (Vec::new(), Vec::new());
    let mut last = None;
    for _ in 0..7 {
        let started = Instant::now();
        let response = app.send(trivial()).await;
        trivial_times.push(started.elapsed());
        assert_eq!(response.status, 200, "{}", response.text());
        let started = Instant::now();
        last = Some(app.send(worst()).await);
        worst_times.push(started.elapsed());
    }
    let median = |mut times: Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    (
        last.expect("ran"),
        median(worst_times),
        median(trivial_times),
    )
}

fn get(path: &str, token: &str) -> Request<Body> {
    Request::get(path)
        .header("authorization", format!("Bearer {token}"))
        .header("accept", "application/fhir+json")
        .header("prefer", "respond-async")
        .body(Body::empty())
        .expect("request")
}

fn post(path: &str, token: &str, body: &str) -> Request<Body> {
    Request::post(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/fhir+json")
        .header("accept", "application/fhir+json")
        .header("prefer", "respond-async")
        .body(Body::from(body.to_owned()))
        .expect("request")
}

/// `prefix` followed by comma-separated `item(i)` for i = 0.. while the
/// whole stays within `max` bytes.
fn list(prefix: &str, max: usize, item: impl Fn(usize) -> String) -> String {
    let mut out = prefix.to_owned();
    for i in 0.. {
        let next = item(i);
        if out.len() + next.len() + 1 > max {
            break;
        }
        if i > 0 {
            out.push(',');
        }
        out.push_str(&next);
    }
    out
}

/// A Parameters body just under `max` bytes of `_type` entries.
fn parameters_body(max: usize, value: impl Fn(usize) -> String) -> String {
    let mut entries = Vec::new();
    let mut size = 64;
    for i in 0.. {
        let entry = format!(r#"{{"name":"_type","valueString":"{}"}}"#, value(i));
        if size + entry.len() + 1 > max {
            break;
        }
        size += entry.len() + 1;
        entries.push(entry);
    }
    let body = format!(
        r#"{{"resourceType":"Parameters","parameter":[{}]}}"#,
        entries.join(",")
    );
    assert!(body.len() <= max, "{} bytes", body.len());
    body
}

/// Within the request limits (8 KiB of URI, 64 KiB of body).
const URI_ROOM: usize = 8 * 1024;
const BODY_ROOM: usize = 64 * 1024;

backend_test! {
    async fn worst_case_lists_are_answered_quickly(backend) {
        let app = TestApp::new(backend).await;
        let token = app.token_for("A0001").await;
        let trivial = || get("/api/v1/jobs", &token);

        let status_cap = "Invalid parameter: _status lists more than 32 items";
        let type_cap = "Invalid parameter: _type lists more than 32 items";
        let distinct_statuses = list("/api/v1/jobs?_status=", URI_ROOM, |i| format!("s{i}"));
        let repeated_statuses = list("/api/v2/jobs?_status=", URI_ROOM, |_| "Completed".to_owned());
        let long_status = format!("/api/v1/jobs?_status={}", "Q".repeat(URI_ROOM - 40));
        let thirty_two = format!("/api/v1/jobs?_status={}", ["Pending"; 32].join(","));
        // 10,000 distinct items (what the http crate can carry in a URI):
        // refused whole, before anyone reads the list.
        let huge = format!(
            "/api/v1/jobs?_status={}",
            (0..10_000).map(|i| format!("s{i}")).collect::<Vec<_>>().join(",")
        );
        let distinct_types = list("/api/v1/Patient/$export?_type=", URI_ROOM, |i| format!("T{i}"));
        let repeated_types = list("/api/v2/Group/all/$export?_type=", URI_ROOM, |_| "Patient".to_owned());
        let long_type = format!("/api/v1/Patient/$export?_type={}", "Q".repeat(URI_ROOM - 40));

        // (request, status, diagnostics; None: only the start is checked)
        let get_cases: Vec<(String, u16, Option<&str>)> = vec![
            (distinct_statuses, 400, Some(status_cap)),
            (repeated_statuses, 400, Some(status_cap)),
            (long_status, 400, None),
            // Within the cap, BCDA's message.
            (thirty_two, 400, Some("Repeated status type Pending")),
            (huge, 414, Some("The request URI is too long: at most 8192 bytes are accepted.")),
            (distinct_types, 400, Some(type_cap)),
            (repeated_types, 400, Some(type_cap)),
            (long_type, 400, None),
        ];
        for (path, status, diagnostics) in &get_cases {
            let (response, time, trivial_time) = timed(&app, trivial, || get(path, &token)).await;
            check(&response, *status, *diagnostics, path);
            assert_fast(time, trivial_time, path);
        }

        let post_path = "/api/v2/Group/all/$export";
        let distinct_entries = parameters_body(BODY_ROOM, |i| format!("T{i}"));
        let repeated_entries = parameters_body(BODY_ROOM, |_| "Patient".to_owned());
        let one_long_list = parameters_body(BODY_ROOM, |i| {
            if i == 0 { list("", BODY_ROOM - 200, |j| format!("T{j}")) } else { String::new() }
        });
        let long_value = format!(
            r#"{{"resourceType":"Parameters","parameter":[{{"name":"_type","valueString":"{}"}}]}}"#,
            "Q".repeat(BODY_ROOM - 200)
        );
        let post_cases: Vec<(String, u16, Option<&str>)> = vec![
            (distinct_entries, 400, Some(type_cap)),
            (repeated_entries, 400, Some(type_cap)),
            (one_long_list, 400, Some(type_cap)),
            (long_value, 400, None),
        ];
        for (body, status, diagnostics) in &post_cases {
            let (response, time, trivial_time) =
                timed(&app, trivial, || post(post_path, &token, body)).await;
            check(&response, *status, *diagnostics, &body[..80]);
            assert_fast(time, trivial_time, &body[..80]);
        }
    }
}

fn check(response: &TestResponse, status: u16, diagnostics: Option<&str>, what: &str) {
    assert_eq!(
        response.status.as_u16(),
        status,
        "{what}: {}",
        response.text()
    );
    let body = response.json();
    assert_eq!(body["resourceType"], "OperationOutcome", "{what}");
    let text = body["issue"][0]["diagnostics"]
        .as_str()
        .expect("diagnostics");
    match diagnostics {
        Some(want) => assert_eq!(text, want, "{what}"),
        None => assert!(text.starts_with("invalid "), "{what}: {text}"),
    }
}

/// Worst cases may cost a little more than a trivial authenticated request
/// (parsing a few kilobytes), never an order of magnitude more.
fn assert_fast(worst: Duration, trivial: Duration, what: &str) {
    assert!(
        worst < trivial * 20,
        "{what}: median {worst:?} against a trivial request's {trivial:?}"
    );
}

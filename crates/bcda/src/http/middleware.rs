//! Request ids, the request span and the request metrics.
//!
//! Every request gets an `x-request-id` (the client's, if it sent a short,
//! plain one; else a fresh UUID) echoed on the response, and a span `request{id, method, route, aco,
//! status, duration_ms}` closed by one "request completed" event. Headers,
//! query strings and bodies are never logged: they carry tokens and secrets.
//! [`record_metrics`] counts every request by method, route template and
//! status, with its latency (`bcda_http_*`, `telemetry::metrics`).

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{MatchedPath, State};
use axum::http::{Method, Request, Response};
use axum::middleware::Next;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{MakeSpan, OnResponse, TraceLayer};
use tracing::Span;

use super::error::StoreFailure;
use crate::telemetry::metrics::{During, Metrics};

/// The request id header: a client's loggable id is kept, otherwise one is made (a UUID); echoed on
/// the response.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The tracing layer with our span and completion event.
pub fn trace_layer()
-> TraceLayer<SharedClassifier<ServerErrorsAsFailures>, RequestSpan, (), LogCompletion, (), (), ()>
{
    TraceLayer::new_for_http()
        .make_span_with(RequestSpan)
        .on_request(())
        .on_response(LogCompletion)
        .on_body_chunk(())
        .on_eos(())
        .on_failure(())
}

/// Makes the request span: request id, method and route template (never the path, which can carry
/// identifiers).
#[derive(Debug, Clone, Copy)]
pub struct RequestSpan;

impl MakeSpan<Body> for RequestSpan {
    fn make_span(&mut self, request: &Request<Body>) -> Span {
        let id = request
            .headers()
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|v| is_loggable_id(v))
            .unwrap_or("-");
        // The route template, not the path: paths can carry identifiers.
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or("(unmatched)", MatchedPath::as_str);
        tracing::info_span!(
            "request",
            id = %id,
            method = %request.method(),
            route = %route,
            aco = tracing::field::Empty,
            status = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        )
    }
}

/// Records status and duration and logs the completion.
#[derive(Debug, Clone, Copy)]
pub struct LogCompletion;

impl<B> OnResponse<B> for LogCompletion {
    fn on_response(self, response: &Response<B>, latency: Duration, span: &Span) {
        span.record("status", response.status().as_u16());
        span.record(
            "duration_ms",
            u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
        );
        tracing::info!("request completed");
    }
}

/// The `route` label of a request no route matched (the fallback 404, and
/// answers of the request limits before routing).
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Records the request in `metrics`: method, route template (never the
/// path: it can carry job ids and file names), status and the latency to
/// the response's head; and a store error when the answer reports one
/// (`StoreFailure`, set by `ApiError` and `OAuthError`).
pub async fn record_metrics(
    State(metrics): State<Metrics>,
    request: Request<Body>,
    next: Next,
) -> axum::response::Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let response = next.run(request).await;
    let route = route.as_deref().unwrap_or(UNMATCHED_ROUTE);
    metrics.http_request(method, route, response.status().as_u16(), started.elapsed());
    if let Some(StoreFailure(store)) = response.extensions().get::<StoreFailure>() {
        metrics.store_error(*store, During::Request);
    }
    response
}

/// The `method` label: the methods HTTP defines, anything else `other` (a
/// client choosing methods must not choose label values).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// Removes a client's `x-request-id` that is not short and plain, so the
/// request-id layer gives the request a fresh UUID instead: only ids we
/// would log are echoed (a 5 KB id once came back verbatim).
pub async fn drop_unloggable_request_id(mut request: Request<Body>) -> Request<Body> {
    let headers = request.headers_mut();
    let acceptable = {
        let mut values = headers.get_all(REQUEST_ID_HEADER).iter();
        match (values.next(), values.next()) {
            (None, _) => true,
            (Some(value), None) => value.to_str().is_ok_and(is_loggable_id),
            // Several ids: none is the request's.
            (Some(_), Some(_)) => false,
        }
    };
    if !acceptable {
        headers.remove(REQUEST_ID_HEADER);
    }
    request
}

/// Client-supplied ids are logged (and echoed) only when short and plain.
fn is_loggable_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

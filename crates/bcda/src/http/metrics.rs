//! `GET /metrics`: the process's metrics in the Prometheus text format, on
//! a listener of its own (`--metrics-listen`, started with the process by
//! `runtime::Process::metrics`).
//!
//! A router of its own, not a route of the API's: metrics say how busy the
//! service is and which routes fail, which is for operators, so they must
//! not be reachable on the public port (the API answers `/metrics` with
//! its usual 404). Nothing here is documented in the OpenAPI documents.
//!
//! Event metrics (requests, tokens, tasks, exports, store errors) are
//! counted as they happen; the gauges that describe the database (jobs by
//! status, the queue, the pool) are read at each scrape, with two cheap
//! grouped queries over indexed columns.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::jobs::env::WorkerEnv;
use crate::store::{jobs, tasks};
use crate::telemetry::metrics::{PoolGauges, QueueGauges};

/// The path metrics are served at.
pub const METRICS_PATH: &str = "/metrics";

/// The Prometheus text format's media type (exposition format 0.0.4).
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The metrics router: `GET /metrics` over `env`'s metrics and database;
/// every other path is a plain 404.
pub fn router(env: Arc<WorkerEnv>) -> Router {
    Router::new()
        .route(METRICS_PATH, get(scrape))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .with_state(env)
}

/// Refreshes the database gauges and renders every metric.
async fn scrape(State(env): State<Arc<WorkerEnv>>) -> Response {
    refresh_gauges(&env).await;
    let mut response = env.metrics.render().into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    response
}

/// Reads the gauges that describe the database into `env`'s metrics: the
/// pool's use, jobs by status, the queue's depth and its oldest due task.
/// When the database cannot answer, `bcda_database_up` is 0 and the other
/// database gauges keep their last values; the scrape still answers, so
/// the process's own metrics stay visible while the database is down.
pub async fn refresh_gauges(env: &WorkerEnv) {
    let pool = env.db.pool_stats();
    env.metrics.set_pool(PoolGauges {
        backend: env.db.backend_name(),
        size: pool.size,
        idle: pool.idle,
        max: pool.max,
    });
    let now = env.clock.now();
    let read = async {
        let jobs = jobs::count_by_status(&env.db).await?;
        let queue = tasks::queue_stats(&env.db, now).await?;
        Ok::<_, crate::store::StoreError>((jobs, queue))
    };
    match read.await {
        Ok((jobs, queue)) => {
            env.metrics.set_jobs(&jobs);
            let oldest_age = queue.oldest_due.map_or(std::time::Duration::ZERO, |due| {
                (now - due).try_into().unwrap_or_default()
            });
            env.metrics.set_queue(&QueueGauges {
                queued: queue.queued,
                running: queue.running,
                oldest_age,
            });
            env.metrics.set_database_up(true);
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics: reading the database gauges failed");
            env.metrics.set_database_up(false);
        }
    }
}

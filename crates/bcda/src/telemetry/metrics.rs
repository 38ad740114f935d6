//! Prometheus metrics: every metric's name, type, labels and description,
//! and the typed calls that record them (docs/METRICS.md is the table).
//!
//! Each process's worker environment owns one [`Metrics`]: a recorder of
//! `metrics-exporter-prometheus` that is never installed as the `metrics`
//! facade's global recorder. Recording enters it as the thread's local
//! recorder for the one call (`metrics::with_local_recorder`), and `GET
//! /metrics` (`http/metrics.rs`) renders it. A process has one environment,
//! so one recorder; tests, which build many apps in one process, each read
//! their own app's figures, exactly, with no global state to share or race
//! on.
//!
//! Recording happens in few places: the HTTP middleware (requests, and
//! store errors behind an answer), the token route (tokens issued and
//! refused), a task's end (durations, retries, exported files, store
//! errors), and the scrape itself (gauges read from the database).
//!
//! Labels come from small fixed sets (route templates, never paths;
//! statuses; the enums below): never a CMS ID, client id, token, MBI, job
//! id or file name.

use std::sync::Arc;
use std::time::Duration;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusRecorder};

use crate::domain::JobStatus;
use crate::domain::task::TaskKind;

/// Requests answered, by method, route template and status.
pub const HTTP_REQUESTS: &str = "bcda_http_requests_total";
/// Seconds from a request's arrival to its response's head, by method and
/// route template.
pub const HTTP_DURATION: &str = "bcda_http_request_duration_seconds";
/// Access tokens issued, by flow.
pub const TOKENS_ISSUED: &str = "bcda_tokens_issued_total";
/// Token requests refused, by flow and reason.
pub const TOKENS_REFUSED: &str = "bcda_tokens_refused_total";
/// Jobs in each status (read from the database at each scrape).
pub const JOBS: &str = "bcda_jobs";
/// Tasks waiting to run, by kind (read at each scrape).
pub const QUEUE_DEPTH: &str = "bcda_task_queue_depth";
/// Seconds the oldest due task has waited (read at each scrape).
pub const QUEUE_OLDEST_AGE: &str = "bcda_task_queue_oldest_age_seconds";
/// Tasks being run, by kind (read at each scrape).
pub const TASKS_RUNNING: &str = "bcda_tasks_running";
/// Seconds from a task's claim to its end, by kind and outcome.
pub const TASK_DURATION: &str = "bcda_task_duration_seconds";
/// Tasks queued again after a failed attempt, by kind.
pub const TASK_RETRIES: &str = "bcda_task_retries_total";
/// Resources written to export files, by resource type.
pub const EXPORT_RESOURCES: &str = "bcda_export_resources_total";
/// NDJSON bytes written to export files (before gzip), by resource type.
pub const EXPORT_BYTES: &str = "bcda_export_bytes_total";
/// Bytes stored for export files (gzip), by resource type.
pub const EXPORT_STORED_BYTES: &str = "bcda_export_stored_bytes_total";
/// Export files recorded, by resource type.
pub const EXPORT_FILES: &str = "bcda_export_files_total";
/// Connections the database pool holds open (read at each scrape).
pub const DB_POOL_CONNECTIONS: &str = "bcda_db_pool_connections";
/// Idle connections in the database pool (read at each scrape).
pub const DB_POOL_IDLE: &str = "bcda_db_pool_idle_connections";
/// The most connections the database pool opens.
pub const DB_POOL_MAX: &str = "bcda_db_pool_max_connections";
/// Whether the scrape's database reads succeeded (1) or failed (0).
pub const DB_UP: &str = "bcda_database_up";
/// Errors of the database or the export file store, by store and by what
/// met them.
pub const STORE_ERRORS: &str = "bcda_store_errors_total";

/// Latency buckets of API requests, in seconds: token requests take tens
/// of milliseconds (argon2id), kick-offs and status polls a few, and a
/// download's head is answered at once (its body streams after).
const HTTP_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Duration buckets of tasks, in seconds: a plan takes well under a second,
/// an export batch from a second to minutes.
const TASK_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
];

/// How a token was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFlow {
    /// BCDA's HTTP Basic client id and secret.
    Basic,
    /// SMART Backend Services: a signed client assertion.
    Smart,
}

impl TokenFlow {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenFlow::Basic => "basic",
            TokenFlow::Smart => "smart",
        }
    }
}

/// Why a token request was refused: the `reason` label, a fixed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    /// Unknown client id, wrong secret or revoked credential (Basic).
    InvalidCredentials,
    /// The right secret, past its expiry (Basic).
    ExpiredSecret,
    /// Too many recent failures from the client id or address.
    Throttled,
    /// The ACO's token rate limit.
    RateLimited,
    /// A client assertion that does not authenticate a client (SMART).
    InvalidClient,
    /// Nothing of the requested scope can be granted (SMART).
    InvalidScope,
    /// Missing or malformed credentials or parameters (both flows; SMART's
    /// `unsupported_grant_type` too).
    InvalidRequest,
    /// The server's side: the verifier busy, the database or keys failing.
    Other,
}

impl TokenRefusal {
    /// Every reason.
    pub const ALL: [TokenRefusal; 8] = [
        TokenRefusal::InvalidCredentials,
        TokenRefusal::ExpiredSecret,
        TokenRefusal::Throttled,
        TokenRefusal::RateLimited,
        TokenRefusal::InvalidClient,
        TokenRefusal::InvalidScope,
        TokenRefusal::InvalidRequest,
        TokenRefusal::Other,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenRefusal::InvalidCredentials => "invalid_credentials",
            TokenRefusal::ExpiredSecret => "expired_secret",
            TokenRefusal::Throttled => "throttled",
            TokenRefusal::RateLimited => "rate_limited",
            TokenRefusal::InvalidClient => "invalid_client",
            TokenRefusal::InvalidScope => "invalid_scope",
            TokenRefusal::InvalidRequest => "invalid_request",
            TokenRefusal::Other => "other",
        }
    }

    /// Whether `flow` can be refused for this reason (the series shown at
    /// zero before the first refusal).
    fn applies_to(self, flow: TokenFlow) -> bool {
        match self {
            TokenRefusal::InvalidCredentials | TokenRefusal::ExpiredSecret => {
                flow == TokenFlow::Basic
            }
            TokenRefusal::InvalidClient | TokenRefusal::InvalidScope => flow == TokenFlow::Smart,
            _ => true,
        }
    }
}

/// How a claimed task ended: the `outcome` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskOutcome {
    /// It did its work.
    Done,
    /// It failed and was queued again.
    Retried,
    /// It failed for good (and its job with it).
    Failed,
    /// Its claim was lost to another worker: nothing was recorded.
    Lost,
    /// Its end could not be recorded (the database failed); the lapsed
    /// lease makes it run again.
    Unrecorded,
}

impl TaskOutcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskOutcome::Done => "done",
            TaskOutcome::Retried => "retried",
            TaskOutcome::Failed => "failed",
            TaskOutcome::Lost => "lost",
            TaskOutcome::Unrecorded => "unrecorded",
        }
    }
}

/// Which store failed: the `store` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// The database.
    Database,
    /// The export file store (the data directory's files).
    Files,
}

impl Store {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Store::Database => "database",
            Store::Files => "files",
        }
    }
}

/// What met a store error: the `during` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum During {
    /// An API request (its answer was a 5xx).
    Request,
    /// A task, or a worker claiming or recording one.
    Task,
}

impl During {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            During::Request => "request",
            During::Task => "task",
        }
    }
}

/// One export file recorded by a task, for the export counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportedFile<'a> {
    /// Its resource type (`OperationOutcome` for an error file).
    pub resource_type: &'a str,
    /// Resources (lines) in it.
    pub resources: u64,
    /// Its NDJSON size.
    pub ndjson_bytes: u64,
    /// Its stored (gzip) size.
    pub stored_bytes: u64,
}

/// The queue gauges, as read from the database at a scrape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueGauges {
    /// Tasks waiting, by kind (a kind left out has none).
    pub queued: Vec<(TaskKind, i64)>,
    /// Tasks running, by kind (a kind left out has none).
    pub running: Vec<(TaskKind, i64)>,
    /// How long the oldest due task has waited (zero: none is due).
    pub oldest_age: Duration,
}

/// The database pool gauges, as read at a scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolGauges {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// Connections open.
    pub size: u32,
    /// Connections idle.
    pub idle: u32,
    /// The pool's maximum.
    pub max: u32,
}

/// A process's metrics: its own Prometheus recorder, cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Every task kind, for gauges that list each one (zero when none).
const TASK_KINDS: [TaskKind; 2] = [TaskKind::Plan, TaskKind::Export];

impl Metrics {
    /// A fresh recorder with every metric described, the histograms'
    /// buckets set, and the fixed-label counters at zero (so a rate over
    /// them is defined before their first event).
    pub fn new() -> Self {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.to_owned()), HTTP_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full(TASK_DURATION.to_owned()), TASK_BUCKETS)
            });
        // Only an empty bucket list is refused, and ours are constants.
        let recorder = match builder {
            Ok(builder) => builder.build_recorder(),
            Err(_) => PrometheusBuilder::new().build_recorder(),
        };
        let metrics = Self {
            recorder: Arc::new(recorder),
        };
        metrics.record(|| {
            describe_all();
            for flow in [TokenFlow::Basic, TokenFlow::Smart] {
                counter!(TOKENS_ISSUED, "flow" => flow.as_str()).absolute(0);
                for reason in TokenRefusal::ALL.into_iter().filter(|r| r.applies_to(flow)) {
                    counter!(TOKENS_REFUSED, "flow" => flow.as_str(), "reason" => reason.as_str())
                        .absolute(0);
                }
            }
            for kind in TASK_KINDS {
                counter!(TASK_RETRIES, "kind" => kind.as_str()).absolute(0);
            }
            for store in [Store::Database, Store::Files] {
                for during in [During::Request, During::Task] {
                    counter!(STORE_ERRORS, "store" => store.as_str(), "during" => during.as_str())
                        .absolute(0);
                }
            }
        });
        metrics
    }

    /// Runs `f` with this recorder as the thread's recorder.
    fn record<T>(&self, f: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(self.recorder.as_ref(), f)
    }

    /// An API request answered: `route` is the matched route template
    /// (`unmatched` for none), never the path.
    pub fn http_request(&self, method: &str, route: &str, status: u16, latency: Duration) {
        let (method, route) = (method.to_owned(), route.to_owned());
        self.record(|| {
            let status = status.to_string();
            counter!(HTTP_REQUESTS, "method" => method.clone(), "route" => route.clone(), "status" => status)
                .increment(1);
            histogram!(HTTP_DURATION, "method" => method, "route" => route)
                .record(latency.as_secs_f64());
        });
    }

    /// A token issued.
    pub fn token_issued(&self, flow: TokenFlow) {
        self.record(|| counter!(TOKENS_ISSUED, "flow" => flow.as_str()).increment(1));
    }

    /// A token request refused.
    pub fn token_refused(&self, flow: TokenFlow, reason: TokenRefusal) {
        self.record(|| {
            counter!(TOKENS_REFUSED, "flow" => flow.as_str(), "reason" => reason.as_str())
                .increment(1);
        });
    }

    /// A claimed task ended after `duration`.
    pub fn task_ended(&self, kind: TaskKind, outcome: TaskOutcome, duration: Duration) {
        self.record(|| {
            histogram!(TASK_DURATION, "kind" => kind.as_str(), "outcome" => outcome.as_str())
                .record(duration.as_secs_f64());
            if outcome == TaskOutcome::Retried {
                counter!(TASK_RETRIES, "kind" => kind.as_str()).increment(1);
            }
        });
    }

    /// An export file recorded by a task whose end was committed.
    pub fn file_exported(&self, file: ExportedFile<'_>) {
        let resource_type = file.resource_type.to_owned();
        self.record(|| {
            let labels = [("resource_type", resource_type)];
            counter!(EXPORT_FILES, &labels).increment(1);
            counter!(EXPORT_RESOURCES, &labels).increment(file.resources);
            counter!(EXPORT_BYTES, &labels).increment(file.ndjson_bytes);
            counter!(EXPORT_STORED_BYTES, &labels).increment(file.stored_bytes);
        });
    }

    /// A store error met during a request or a task.
    pub fn store_error(&self, store: Store, during: During) {
        self.record(|| {
            counter!(STORE_ERRORS, "store" => store.as_str(), "during" => during.as_str())
                .increment(1);
        });
    }

    /// Sets the jobs gauge: `counts` as read, every other status zero.
    pub fn set_jobs(&self, counts: &[(JobStatus, i64)]) {
        self.record(|| {
            for status in JobStatus::ALL {
                let count = counts
                    .iter()
                    .find(|(s, _)| *s == status)
                    .map_or(0, |(_, n)| *n);
                gauge!(JOBS, "status" => status.as_str()).set(count as f64);
            }
        });
    }

    /// Sets the queue gauges (kinds left out: zero).
    pub fn set_queue(&self, queue: &QueueGauges) {
        let count_of = |list: &[(TaskKind, i64)], kind| {
            list.iter().find(|(k, _)| *k == kind).map_or(0, |(_, n)| *n) as f64
        };
        self.record(|| {
            for kind in TASK_KINDS {
                gauge!(QUEUE_DEPTH, "kind" => kind.as_str()).set(count_of(&queue.queued, kind));
                gauge!(TASKS_RUNNING, "kind" => kind.as_str()).set(count_of(&queue.running, kind));
            }
            gauge!(QUEUE_OLDEST_AGE).set(queue.oldest_age.as_secs_f64());
        });
    }

    /// Sets the database pool gauges.
    pub fn set_pool(&self, pool: PoolGauges) {
        self.record(|| {
            let labels = [("backend", pool.backend)];
            gauge!(DB_POOL_CONNECTIONS, &labels).set(f64::from(pool.size));
            gauge!(DB_POOL_IDLE, &labels).set(f64::from(pool.idle));
            gauge!(DB_POOL_MAX, &labels).set(f64::from(pool.max));
        });
    }

    /// Sets whether the scrape's database reads succeeded.
    pub fn set_database_up(&self, up: bool) {
        self.record(|| gauge!(DB_UP).set(if up { 1.0 } else { 0.0 }));
    }

    /// Every metric in the Prometheus text format (0.0.4).
    pub fn render(&self) -> String {
        self.recorder.handle().render()
    }

    /// Folds the latency samples recorded since the last render into the
    /// histograms, so they do not pile up when nobody scrapes (the process
    /// runs this every few seconds, `runtime.rs`).
    pub fn run_upkeep(&self) {
        self.recorder.handle().run_upkeep();
    }
}

/// The `# HELP` text of every metric.
fn describe_all() {
    describe_counter!(
        HTTP_REQUESTS,
        "API requests answered, by method, route template and status."
    );
    describe_histogram!(
        HTTP_DURATION,
        "Seconds from an API request's arrival to its response's head (a download's body streams \
         after), by method and route template."
    );
    describe_counter!(
        TOKENS_ISSUED,
        "Access tokens issued, by flow (basic, smart)."
    );
    describe_counter!(
        TOKENS_REFUSED,
        "Token requests refused, by flow and reason."
    );
    describe_gauge!(
        JOBS,
        "Export jobs in each status, read from the database at the scrape."
    );
    describe_gauge!(
        QUEUE_DEPTH,
        "Tasks waiting to run (due, or waiting out a retry's backoff), by kind, read at the \
         scrape."
    );
    describe_gauge!(
        QUEUE_OLDEST_AGE,
        "Seconds the oldest due task has waited to run (0 when none is due), read at the scrape."
    );
    describe_gauge!(
        TASKS_RUNNING,
        "Tasks held by a worker, by kind, read at the scrape."
    );
    describe_histogram!(
        TASK_DURATION,
        "Seconds from a task's claim to its end, by kind and outcome (done, retried, failed, \
         lost, unrecorded)."
    );
    describe_counter!(
        TASK_RETRIES,
        "Tasks queued again after a failed attempt, by kind."
    );
    describe_counter!(
        EXPORT_RESOURCES,
        "Resources written to recorded export files, by resource type (OperationOutcome: error \
         files)."
    );
    describe_counter!(
        EXPORT_BYTES,
        "NDJSON bytes of recorded export files, before compression, by resource type."
    );
    describe_counter!(
        EXPORT_STORED_BYTES,
        "Stored (gzip) bytes of recorded export files, by resource type."
    );
    describe_counter!(EXPORT_FILES, "Export files recorded, by resource type.");
    describe_gauge!(
        DB_POOL_CONNECTIONS,
        "Connections the database pool holds open, read at the scrape."
    );
    describe_gauge!(
        DB_POOL_IDLE,
        "Idle connections in the database pool, read at the scrape."
    );
    describe_gauge!(DB_POOL_MAX, "The most connections the database pool opens.");
    describe_gauge!(
        DB_UP,
        "1 when the scrape's database reads succeeded, 0 when they failed (the database gauges \
         then keep their last values)."
    );
    describe_counter!(
        STORE_ERRORS,
        "Errors of the database or the export file store, by store and by what met them \
         (request: an API answer was 5xx because of it; task: a task or a worker's claim failed)."
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_instance_counts_only_its_own_events() {
        let (a, b) = (Metrics::new(), Metrics::new());
        a.token_issued(TokenFlow::Smart);
        a.token_issued(TokenFlow::Smart);
        let text = a.render();
        assert!(
            text.contains("bcda_tokens_issued_total{flow=\"smart\"} 2"),
            "{text}"
        );
        let text = b.render();
        assert!(
            text.contains("bcda_tokens_issued_total{flow=\"smart\"} 0"),
            "{text}"
        );
    }

    #[test]
    fn fixed_label_counters_start_at_zero_with_help() {
        let text = Metrics::new().render();
        assert!(text.contains("# HELP bcda_tokens_refused_total "), "{text}");
        assert!(
            text.contains("# TYPE bcda_tokens_refused_total counter"),
            "{text}"
        );
        assert!(
            text.contains("bcda_tokens_refused_total{flow=\"smart\",reason=\"invalid_client\"} 0"),
            "{text}"
        );
        // A reason a flow cannot meet is not shown for it.
        assert!(
            !text.contains("flow=\"basic\",reason=\"invalid_client\""),
            "{text}"
        );
    }

    #[test]
    fn latencies_fall_into_buckets() {
        let metrics = Metrics::new();
        metrics.http_request("GET", "/_health", 200, Duration::from_millis(3));
        metrics.run_upkeep();
        let text = metrics.render();
        assert!(
            text.contains("# TYPE bcda_http_request_duration_seconds histogram"),
            "{text}"
        );
        assert!(
            text.contains(
                "bcda_http_request_duration_seconds_bucket{method=\"GET\",route=\"/_health\",le=\"0.005\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "bcda_http_request_duration_seconds_bucket{method=\"GET\",route=\"/_health\",le=\"0.0025\"} 0"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "bcda_http_requests_total{method=\"GET\",route=\"/_health\",status=\"200\"} 1"
            ),
            "{text}"
        );
    }

    #[test]
    fn gauges_list_every_status_and_kind() {
        let metrics = Metrics::new();
        metrics.set_jobs(&[(JobStatus::InProgress, 3)]);
        metrics.set_queue(&QueueGauges {
            queued: vec![(TaskKind::Export, 7)],
            running: vec![],
            oldest_age: Duration::from_secs(90),
        });
        let text = metrics.render();
        assert!(
            text.contains("bcda_jobs{status=\"In Progress\"} 3"),
            "{text}"
        );
        assert!(text.contains("bcda_jobs{status=\"Pending\"} 0"), "{text}");
        assert!(
            text.contains("bcda_task_queue_depth{kind=\"export\"} 7"),
            "{text}"
        );
        assert!(
            text.contains("bcda_task_queue_depth{kind=\"plan\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("bcda_task_queue_oldest_age_seconds 90"),
            "{text}"
        );
    }
}

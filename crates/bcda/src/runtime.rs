//! A running server process: export workers, the listener that wakes them
//! when another process queues tasks (PostgreSQL `NOTIFY`,
//! `store/task_signal.rs`), housekeeping, the metrics' upkeep, and
//! optionally the HTTP API and the metrics listener, started together and
//! stopped together.
//!
//! `bcda serve`, `api`, `worker` and `sandbox` (`cli/serve.rs`) run one
//! until SIGINT or SIGTERM; the benchmark (`bench/mod.rs`) runs one in its
//! own process, so what it measures is what `bcda serve` runs.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::{App, AppState};
use crate::http::server::ConnectionSettings;
use crate::jobs::env::WorkerEnv;
use crate::jobs::worker::Worker;

/// The background work of a process, running until [`Process::stop`].
#[derive(Debug)]
pub struct Process {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Process {
    /// Starts housekeeping and `workers` export workers over `env`, and,
    /// when there are workers, the listener for tasks other processes
    /// queue: `bcda worker`.
    pub fn workers(env: Arc<WorkerEnv>, workers: usize) -> Self {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::with_capacity(workers + 5);
        tasks.push(tokio::spawn(crate::housekeeping::run(
            env.clone(),
            stopped.clone(),
        )));
        tasks.push(tokio::spawn(metrics_upkeep(env.clone(), stopped.clone())));
        // Lease owners: unique across processes and hosts sharing a database.
        let instance = uuid::Uuid::new_v4().simple().to_string();
        for n in 0..workers {
            let name = format!("{}-{}-{n}", &instance[..8], std::process::id());
            let worker = Worker::new(env.clone(), name);
            tasks.push(tokio::spawn(worker.run(stopped.clone())));
        }
        if workers > 0 {
            tasks.push(tokio::spawn(async move {
                let wake = || env.new_tasks.notify_waiters();
                crate::store::task_signal::listen(&env.db, wake, stopped).await;
            }));
        }
        Self { stop, tasks }
    }

    /// [`Process::workers`] over `app`'s environment, and `app`'s HTTP API
    /// on `listener`: `bcda serve` (`bcda api` with no workers).
    pub fn server(
        app: Arc<App>,
        listener: TcpListener,
        connections: ConnectionSettings,
        workers: usize,
    ) -> Self {
        let mut process = Self::workers(app.env.clone(), workers);
        let router = crate::http::router(AppState(app));
        let stopped = process.stop.subscribe();
        process.tasks.push(tokio::spawn(crate::http::server::serve(
            listener,
            router,
            connections,
            stopped,
        )));
        process
    }

    /// Also serves `GET /metrics` over `env` on `listener` (its own router,
    /// `http::metrics`; never the API's), until [`Process::stop`].
    pub fn metrics(mut self, env: Arc<WorkerEnv>, listener: TcpListener) -> Self {
        let stopped = self.stop.subscribe();
        self.tasks.push(tokio::spawn(crate::http::server::serve(
            listener,
            crate::http::metrics::router(env),
            // A scraper or two, not the public: a small cap.
            ConnectionSettings {
                max_connections: METRICS_MAX_CONNECTIONS,
                ..ConnectionSettings::default()
            },
            stopped,
        )));
        self
    }

    /// Stops everything and waits: the HTTP API stops accepting and lets
    /// requests in flight finish, workers finish their tasks.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Connections the metrics listener holds open at once.
const METRICS_MAX_CONNECTIONS: usize = 16;

/// How often latency samples are folded into their histograms.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);

/// Folds recorded latencies into the histograms every few seconds, so
/// memory stays flat however long nobody scrapes.
async fn metrics_upkeep(env: Arc<WorkerEnv>, mut stopped: watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(METRICS_UPKEEP);
    loop {
        tokio::select! {
            _ = ticker.tick() => env.metrics.run_upkeep(),
            _ = stopped.changed() => return,
        }
    }
}

//! The real server, started in this process as `bcda serve` runs it: the
//! router on a TCP listener (127.0.0.1, a free port), `workers` export
//! workers and housekeeping, all stopped together.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::{App, AppState};
use crate::jobs::worker::Worker;

/// A running server.
#[derive(Debug)]
pub struct RunningServer {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningServer {
    /// Starts the HTTP API, `workers` workers and housekeeping over `app`.
    pub async fn start(app: Arc<App>, workers: usize) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = Vec::with_capacity(workers + 2);
        tasks.push(tokio::spawn(crate::housekeeping::run(
            app.clone(),
            stop_rx.clone(),
        )));
        for n in 0..workers {
            let worker = Worker::new(app.clone(), format!("bench-{}-{n}", std::process::id()));
            tasks.push(tokio::spawn(worker.run(stop_rx.clone())));
        }
        let router = crate::http::router(AppState(app));
        let mut stopped = stop_rx;
        tasks.push(tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "bench server stopped with an error");
            }
        }));
        Ok(Self { addr, stop, tasks })
    }

    /// Stops everything and waits for requests and tasks in flight.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

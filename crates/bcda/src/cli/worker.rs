//! `bcda api` and `bcda worker`: the two halves of `bcda serve`, for
//! several processes sharing one PostgreSQL database and data directory.

use std::sync::Arc;

use clap::Args;

use super::Context;
use super::serve::{JobArgs, MetricsArgs, ServeArgs, serve, serve_workers, worker_count};
use crate::config::parse_positive;

/// Options of `bcda worker`.
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// Export workers in this process (default: two per CPU core).
    #[arg(long, env = "BCDA_WORKERS", value_parser = parse_positive, value_name = "N")]
    pub workers: Option<u64>,
    #[command(flatten)]
    pub metrics: MetricsArgs,
    #[command(flatten)]
    pub jobs: JobArgs,
}

/// `bcda api`: the HTTP API and housekeeping, no workers.
pub(super) async fn run_api(ctx: &Context, args: ServeArgs) -> anyhow::Result<()> {
    let app = args.open_app(ctx).await?;
    serve(Arc::new(app), args.listen_on(), 0).await
}

/// `bcda worker`: export workers and housekeeping, no HTTP. It opens only
/// the worker environment: no token service, no signing-key file.
pub(super) async fn run_worker(ctx: &Context, args: WorkerArgs) -> anyhow::Result<()> {
    let env = ctx.worker_env(args.jobs.settings()).await?;
    serve_workers(
        Arc::new(env),
        worker_count(args.workers),
        args.metrics.metrics_listen,
    )
    .await
}

//! Announcing queued tasks across processes (PostgreSQL `NOTIFY`).
//!
//! Within a process, a kick-off or plan wakes its own idle workers directly
//! (`WorkerEnv::new_tasks`). Workers in other processes (`bcda api` + `bcda
//! worker` on a shared PostgreSQL) would otherwise find new tasks only at
//! their next poll; instead the transaction that queues tasks also sends a
//! notification, delivered when it commits, and each process listening
//! passes it on to its workers. Polling stays as the fallback, so a lost
//! notification (or a listener reconnecting) only delays work by one poll.
//! On SQLite there is nothing to do: it is one process's file.

use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::sync::watch;

use super::{Db, StoreError, Tx};

/// The channel. Channels are per database, not per schema: deployments
/// sharing a database only wake each other's workers, who then find no task
/// of theirs and wait again.
const CHANNEL: &str = "bcda_tasks";

/// How long a listener that lost its connection waits before reconnecting.
const RECONNECT_DELAY: Duration = Duration::from_secs(5);

/// Announces, when `tx` commits, that it queued tasks.
pub async fn announce(tx: &mut Tx) -> Result<(), StoreError> {
    if let Tx::Postgres(t) = tx {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(CHANNEL)
            .execute(&mut **t)
            .await?;
    }
    Ok(())
}

/// Calls `on_queued` each time any process announces queued tasks, until
/// `stop` turns true. Returns at once on SQLite.
pub async fn listen(db: &Db, on_queued: impl Fn(), mut stop: watch::Receiver<bool>) {
    let Db::Postgres(pool) = db else {
        return;
    };
    loop {
        let mut listener = match subscribe(pool).await {
            Ok(listener) => listener,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for queued tasks; polling only until it can");
                if wait_or_stop(&mut stop).await {
                    return;
                }
                continue;
            }
        };
        // Anything announced while not listening is picked up now.
        on_queued();
        loop {
            tokio::select! {
                received = listener.try_recv() => match received {
                    Ok(Some(_)) => on_queued(),
                    // The connection dropped and was re-established: what
                    // was sent meanwhile is lost, so look now.
                    Ok(None) => on_queued(),
                    Err(e) => {
                        tracing::warn!(error = %e, "lost the queued-task listener; reconnecting");
                        break;
                    }
                },
                _ = stop.wait_for(|stop| *stop) => return,
            }
        }
        if wait_or_stop(&mut stop).await {
            return;
        }
    }
}

/// A listener on the channel.
async fn subscribe(pool: &sqlx::PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Waits before reconnecting; `true` if told to stop meanwhile.
async fn wait_or_stop(stop: &mut watch::Receiver<bool>) -> bool {
    let stopped = tokio::select! {
        _ = tokio::time::sleep(RECONNECT_DELAY) => false,
        _ = stop.wait_for(|stop| *stop) => true,
    };
    stopped || *stop.borrow()
}

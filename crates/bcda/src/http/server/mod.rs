//! The HTTP server: our own accept loop over hyper's HTTP/1.1 connections,
//! so that slow or idle clients cannot hold the server's connections (and
//! file descriptors) forever.
//!
//! - **Header-read timeout**: a request's head, and its body if it has one,
//!   must arrive within `header_read_timeout` of its first byte (of the
//!   accept, for a connection's first request); else the connection is
//!   closed without an answer.
//! - **Idle timeout**: a keep-alive connection with no request in flight for
//!   `idle_timeout` is closed. (hyper's own `header_read_timeout` is not
//!   used: hyper 1.x arms it whenever it starts reading a head, which on a
//!   keep-alive connection is as soon as the previous response is sent, so
//!   it would close idle connections after the header timeout and make a
//!   separate idle timeout impossible.)
//! - **Connection cap**: at most `max_connections` are open. At the cap, a
//!   new connection takes the place of the one that has waited longest with
//!   nothing in flight (idle, or sending its head for a second or more),
//!   which is closed; if there is none, the new one waits until a
//!   connection ends or becomes evictable (further clients wait in the
//!   kernel's listen backlog). A request in flight, or a head that has only
//!   just begun (likely sent whole and not yet read by a busy server), is
//!   never cut off to make room.
//!
//! A handler's work and a response being sent (a long download) have no
//! time limit here. On shutdown the listener closes, connections with
//! nothing in flight close at once, and requests in flight finish.

mod activity;
mod connection;
mod registry;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use self::registry::Registry;

/// Limits on client connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// Time for a request's head (and body) from its first byte.
    pub header_read_timeout: Duration,
    /// Time a connection may wait for its next request.
    pub idle_timeout: Duration,
    /// Most connections open at once; at the cap a new one replaces the longest-waiting one with
    /// nothing in flight, or waits.
    pub max_connections: usize,
    /// How long a request head must have been arriving before its
    /// connection may be evicted at the cap (1 s by default,
    /// `HEAD_EVICTION_GRACE` in `registry.rs`; tests lengthen it to keep
    /// timing out of their checks).
    pub head_eviction_grace: Duration,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            max_connections: default_max_connections(),
            head_eviction_grace: registry::HEAD_EVICTION_GRACE,
        }
    }
}

/// The default connection cap: half the process's open-file limit (the
/// rest is for the database pool, export files and the accept backlog),
/// between 64 and 4096; 1024 where the limit cannot be read.
pub fn default_max_connections() -> usize {
    open_file_limit().map_or(1024, |limit| (limit / 2).clamp(64, 4096))
}

/// The soft `RLIMIT_NOFILE` (Linux: from /proc, as std has no call for it
/// and `unsafe` is forbidden here).
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Serves `router` on `listener` until `stop` turns true, then stops
/// accepting, lets requests in flight finish, and returns when every
/// connection has closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: ConnectionSettings,
    mut stop: watch::Receiver<bool>,
) {
    let max = settings
        .max_connections
        .clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
    let slots = Arc::new(Semaphore::new(max));
    let registry = Arc::new(Registry::default());
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(&error).await;
                    continue;
                }
            },
            () = stopped(&mut stop) => break,
        };
        let slot = tokio::select! {
            slot = take_slot(&slots, &registry, settings.head_eviction_grace) => slot,
            () = stopped(&mut stop) => break,
        };
        // Answers are small and written whole: do not hold them back.
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection::run(
            stream,
            peer,
            router.clone(),
            settings,
            registry.clone(),
            slot,
            stop.clone(),
        ));
    }
    drop(listener);
    // Each connection holds a slot until it closes.
    let _ = slots
        .acquire_many(u32::try_from(max).unwrap_or(u32::MAX))
        .await;
}

/// Resolves once `stop` is true. (The guard `wait_for` returns is not
/// `Send`; it is dropped here, before the caller's next await.)
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// A free connection slot: at once if there is one, else the slot of the
/// connection that has waited longest with nothing in flight, else the
/// first slot freed by a request finishing.
async fn take_slot(
    slots: &Arc<Semaphore>,
    registry: &Registry,
    head_grace: Duration,
) -> OwnedSemaphorePermit {
    let mut warned = false;
    loop {
        if let Ok(slot) = slots.clone().try_acquire_owned() {
            return slot;
        }
        if !warned {
            // Once per waiting connection, at debug level: under a flood of
            // connections an info line each would flood the log instead.
            tracing::debug!("at the connection limit");
            warned = true;
        }
        registry.evict_longest_waiting(head_grace);
        // An evicted connection closes at once. Look again shortly either
        // way: a busy connection may have gone idle meanwhile.
        let wait = tokio::time::timeout(Duration::from_millis(50), slots.clone().acquire_owned());
        if let Ok(Ok(slot)) = wait.await {
            return slot;
        }
    }
}

/// After a failed accept: the client's own failures are skipped; anything
/// else (out of file descriptors) is logged and waited out briefly, as
/// hyper's and axum's servers do, instead of spinning.
async fn accept_failed(error: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::warn!(%error, "accepting a connection failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

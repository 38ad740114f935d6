//! The open connections, so that a new one can take the place of the one
//! that has waited longest without a request in flight.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use super::activity::{Activity, Phase};

/// How long a request head must have been arriving before its connection
/// may be closed for a new one. A head that has just begun is most likely
/// already sent in full and waiting to be read by a busy server: cutting
/// it off would lose an honest request (the client sees a reset), while a
/// slow-sending client holds its connection for seconds and is still
/// evicted.
pub const HEAD_EVICTION_GRACE: Duration = Duration::from_secs(1);

/// Every open connection's activity and a way to ask it to close.
#[derive(Debug, Default)]
pub struct Registry {
    next_id: AtomicU64,
    connections: Mutex<HashMap<u64, Entry>>,
}

#[derive(Debug)]
struct Entry {
    activity: watch::Receiver<Activity>,
    evict: Arc<Notify>,
}

/// One connection's place in the registry; leaving it (dropping this)
/// removes the connection.
#[derive(Debug)]
pub struct Registration {
    id: u64,
    evict: Arc<Notify>,
    registry: Arc<Registry>,
}

impl Registration {
    /// Resolves when the accept loop wants this connection's slot.
    pub async fn evicted(&self) {
        self.evict.notified().await;
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
    }
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Entry>> {
        // The map stays consistent whatever panicked while holding it.
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a connection.
    pub fn register(self: &Arc<Self>, activity: watch::Receiver<Activity>) -> Registration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let evict = Arc::new(Notify::new());
        self.lock().insert(
            id,
            Entry {
                activity,
                evict: evict.clone(),
            },
        );
        Registration {
            id,
            evict,
            registry: self.clone(),
        }
    }

    /// Asks the connection that has waited longest with nothing in flight
    /// (idle, or sending a request head for at least `head_grace`, by
    /// default [`HEAD_EVICTION_GRACE`]) to close. False when there is none.
    pub fn evict_longest_waiting(&self, head_grace: Duration) -> bool {
        let now = Instant::now();
        let connections = self.lock();
        let victim = connections
            .values()
            .filter_map(|entry| {
                let activity = *entry.activity.borrow();
                let evictable = match activity.phase {
                    Phase::Idle => true,
                    Phase::Head => now.duration_since(activity.since) >= head_grace,
                    Phase::Body | Phase::Busy => false,
                };
                evictable.then_some((activity.since, entry))
            })
            .min_by_key(|(since, _)| *since);
        match victim {
            Some((_, entry)) => {
                entry.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

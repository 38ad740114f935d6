//! A bound on concurrent secret verifications.
//!
//! One argon2id verification takes 19 MiB and tens of milliseconds of CPU
//! on a blocking thread. Unbounded, tokio's blocking pool (up to 512
//! threads) let 64 concurrent wrong-secret requests take the server from
//! 46 MB to 770 MB resident. Here at most `limit` verifications run at
//! once; a request waits up to `wait` for a turn and is otherwise refused
//! (503 with `Retry-After`), so memory is bounded by `limit` × 19 MiB and
//! good clients keep their place in line instead of starving behind a
//! flood.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;

use super::secrets;

/// How the verifier is bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifierSettings {
    /// Verifications running at once (default: the number of cores, since
    /// each one keeps a core busy; more only queue on the CPU while each
    /// holds its 19 MiB).
    pub limit: usize,
    /// How long a request waits for a turn before it is refused. Two
    /// seconds: longer than a burst of honest clients takes to clear (a
    /// verification takes tens of milliseconds), short enough that a flood
    /// is answered quickly instead of piling up waiting requests.
    pub wait: Duration,
}

impl Default for VerifierSettings {
    fn default() -> Self {
        Self {
            limit: default_limit(),
            wait: Duration::from_secs(2),
        }
    }
}

/// The number of cores (at least 1).
pub fn default_limit() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// What the verifier did so far (for tests and diagnostics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifierStats {
    /// The most verifications that ever ran at once.
    pub peak: usize,
    /// Verifications run (real and decoy).
    pub total: u64,
}

/// No turn came up within the wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// Runs secret verifications on blocking threads, at most `limit` at once.
#[derive(Debug)]
pub struct SecretVerifier {
    permits: Arc<Semaphore>,
    wait: Duration,
    gauge: Arc<Gauge>,
}

#[derive(Debug, Default)]
struct Gauge {
    running: AtomicUsize,
    peak: AtomicUsize,
    total: AtomicU64,
}

impl SecretVerifier {
    /// A verifier with these bounds (a limit of 0 is taken as 1).
    pub fn new(settings: VerifierSettings) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(settings.limit.max(1))),
            wait: settings.wait,
            gauge: Arc::new(Gauge::default()),
        }
    }

    /// Checks `secret` against `hash`, or against a decoy hash when there is
    /// none (an unknown client id), so both cost the same. `Err(Busy)` when
    /// no turn came within the wait.
    pub async fn verify(&self, secret: String, hash: Option<String>) -> Result<bool, Busy> {
        self.verify_when(secret, hash, || Ok(())).await
    }

    /// [`SecretVerifier::verify`], but once the turn comes `still_wanted`
    /// may call it off (its error is returned and nothing is verified):
    /// the state that let the request queue may have changed meanwhile.
    pub async fn verify_when<E: From<Busy>>(
        &self,
        secret: String,
        hash: Option<String>,
        still_wanted: impl FnOnce() -> Result<(), E>,
    ) -> Result<bool, E> {
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| Busy)?
            // The semaphore is never closed.
            .map_err(|_| Busy)?;
        still_wanted()?;
        let gauge = self.gauge.clone();
        // The permit moves into the blocking closure: if the request is
        // dropped (the client went away), the verification still holds its
        // turn until it has finished and freed its memory.
        let verified = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let running = gauge.running.fetch_add(1, Ordering::SeqCst) + 1;
            gauge.peak.fetch_max(running, Ordering::SeqCst);
            gauge.total.fetch_add(1, Ordering::Relaxed);
            let ok = match hash {
                Some(hash) => secrets::verify_secret(&secret, &hash),
                None => {
                    secrets::verify_against_decoy(&secret);
                    false
                }
            };
            gauge.running.fetch_sub(1, Ordering::SeqCst);
            ok
        })
        .await;
        // A panicked verification proves nothing.
        Ok(verified.unwrap_or(false))
    }

    /// The high-water mark and count of verifications.
    pub fn stats(&self) -> VerifierStats {
        VerifierStats {
            peak: self.gauge.peak.load(Ordering::SeqCst),
            total: self.gauge.total.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn at_most_limit_run_at_once_and_the_rest_are_refused_after_the_wait() {
        let verifier = Arc::new(SecretVerifier::new(VerifierSettings {
            limit: 1,
            wait: Duration::from_millis(1),
        }));
        let hash = secrets::hash_secret("right").expect("hash");
        let attempts: Vec<_> = (0..8)
            .map(|_| {
                let v = verifier.clone();
                let hash = hash.clone();
                tokio::spawn(async move { v.verify("wrong".into(), Some(hash)).await })
            })
            .collect();
        let mut refused = 0;
        for a in attempts {
            match a.await.expect("task") {
                Ok(ok) => assert!(!ok),
                Err(Busy) => refused += 1,
            }
        }
        assert!(refused > 0, "a 1 ms wait cannot fit 8 verifications");
        assert_eq!(verifier.stats().peak, 1);
        assert!(
            verifier
                .verify("right".into(), Some(hash))
                .await
                .expect("turn")
        );
        assert!(!verifier.verify("x".into(), None).await.expect("turn"));
    }
}

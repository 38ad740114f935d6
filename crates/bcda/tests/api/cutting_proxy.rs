//! A TCP proxy for client tests that can break a connection after a number
//! of response bytes (a connection dropped mid-download), then optionally
//! refuse new connections (the network gone), or flip a byte after a number
//! of response bytes (a corrupting middlebox), and that keeps what clients
//! sent and received so tests can see Range requests, token requests and
//! 401s.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A proxy in front of `upstream` on 127.0.0.1, for the life of the test.
pub struct CuttingProxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    state: Arc<ProxyState>,
}

type Hook = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct ProxyState {
    /// Response bytes still let through before a cut; negative: unarmed.
    budget: AtomicI64,
    refuse_after_cut: AtomicBool,
    /// Response bytes before the next flipped byte; negative: unarmed.
    corrupt_budget: AtomicI64,
    /// The distance between flipped bytes, and how many more to flip.
    corrupt_every: AtomicI64,
    corruptions_left: AtomicUsize,
    flipped: AtomicUsize,
    refusing: AtomicBool,
    cuts: AtomicUsize,
    on_cut: Mutex<Option<Hook>>,
    sent: Mutex<Vec<u8>>,
    received: Mutex<Vec<u8>>,
}

impl CuttingProxy {
    /// Starts a proxy to `upstream`.
    pub async fn start(upstream: SocketAddr) -> CuttingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(ProxyState::default());
        state.budget.store(-1, Ordering::SeqCst);
        state.corrupt_budget.store(-1, Ordering::SeqCst);
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if shared.refusing.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let shared = shared.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        relay(client, server, shared).await;
                    }
                });
            }
        });
        CuttingProxy { addr, state }
    }

    /// The proxy's base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Cuts the connection whose response bytes take the total past
    /// `bytes` from now (once).
    pub fn cut_after(&self, bytes: i64) {
        self.state.budget.store(bytes, Ordering::SeqCst);
    }

    /// Flips one response byte `bytes` from now, and again `bytes` after
    /// that, `times` times in all.
    pub fn corrupt_after(&self, bytes: i64, times: usize) {
        self.state.corrupt_every.store(bytes, Ordering::SeqCst);
        self.state.corruptions_left.store(times, Ordering::SeqCst);
        self.state.corrupt_budget.store(bytes, Ordering::SeqCst);
    }

    /// After the cut, refuses every new connection until [`heal`](Self::heal).
    pub fn then_refuse(&self) {
        self.state.refuse_after_cut.store(true, Ordering::SeqCst);
    }

    /// Runs `hook` when the cut happens.
    pub fn on_cut(&self, hook: impl FnOnce() + Send + 'static) {
        *self.state.on_cut.lock().expect("lock") = Some(Box::new(hook));
    }

    /// Accepts connections again.
    pub fn heal(&self) {
        self.state.refuse_after_cut.store(false, Ordering::SeqCst);
        self.state.refusing.store(false, Ordering::SeqCst);
    }

    /// Bytes flipped so far (while armed with a finite count).
    pub fn corruptions(&self) -> usize {
        self.state.flipped.load(Ordering::SeqCst)
    }

    /// Connections cut so far.
    pub fn cuts(&self) -> usize {
        self.state.cuts.load(Ordering::SeqCst)
    }

    /// How many times clients sent `needle` (case-insensitive), e.g.
    /// `"\r\nrange: bytes="` or `"post /auth/token "`.
    pub fn sent_count(&self, needle: &str) -> usize {
        count(&self.state.sent.lock().expect("lock"), needle)
    }

    /// Every request head clients sent, lower-cased (the requests these
    /// tests make have no bodies).
    pub fn request_heads(&self) -> Vec<String> {
        let sent = self.state.sent.lock().expect("lock");
        String::from_utf8_lossy(&sent)
            .to_ascii_lowercase()
            .split("\r\n\r\n")
            .filter(|head| !head.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// How many times the server sent `needle` (case-insensitive), e.g.
    /// `"http/1.1 401 "`.
    pub fn received_count(&self, needle: &str) -> usize {
        count(&self.state.received.lock().expect("lock"), needle)
    }
}

fn count(haystack: &[u8], needle: &str) -> usize {
    let needle = needle.to_ascii_lowercase().into_bytes();
    haystack
        .windows(needle.len())
        .filter(|w| w.eq_ignore_ascii_case(&needle))
        .count()
}

async fn relay(client: TcpStream, server: TcpStream, state: Arc<ProxyState>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let up_state = state.clone();
    let up = tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            up_state
                .sent
                .lock()
                .expect("lock")
                .extend_from_slice(&buf[..n]);
            if server_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    });
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match server_read.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        corrupt(&state, &mut buf[..n]);
        let pass = take_budget(&state, n);
        // The first 4 KiB of each read: whole API responses, and the
        // heads of downloads (whose bodies may be megabytes).
        let kept = &buf[..pass.min(4096)];
        state.received.lock().expect("lock").extend_from_slice(kept);
        if client_write.write_all(&buf[..pass]).await.is_err() {
            break;
        }
        if pass < n {
            state.cuts.fetch_add(1, Ordering::SeqCst);
            if state.refuse_after_cut.load(Ordering::SeqCst) {
                state.refusing.store(true, Ordering::SeqCst);
            }
            if let Some(hook) = state.on_cut.lock().expect("lock").take() {
                hook();
            }
            break;
        }
    }
    up.abort();
    let _ = client_write.shutdown().await;
}

/// Flips the byte of `chunk` where the corruption budget runs out, if it
/// does, and re-arms for the next.
fn corrupt(state: &ProxyState, chunk: &mut [u8]) {
    let n = chunk.len() as i64;
    loop {
        let budget = state.corrupt_budget.load(Ordering::SeqCst);
        if budget < 0 {
            return;
        }
        if budget >= n {
            if state
                .corrupt_budget
                .compare_exchange(budget, budget - n, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                return;
            }
            continue;
        }
        let left = state
            .corruptions_left
            .load(Ordering::SeqCst)
            .saturating_sub(1);
        let next = if left > 0 {
            state.corrupt_every.load(Ordering::SeqCst)
        } else {
            -1
        };
        if state
            .corrupt_budget
            .compare_exchange(budget, next, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            state.corruptions_left.store(left, Ordering::SeqCst);
            chunk[budget as usize] ^= 0x55;
            state.flipped.fetch_add(1, Ordering::SeqCst);
            return;
        }
    }
}

/// How many of `n` bytes may pass; when the budget runs out, it is
/// disarmed and the caller cuts after what passes.
fn take_budget(state: &ProxyState, n: usize) -> usize {
    loop {
        let budget = state.budget.load(Ordering::SeqCst);
        if budget < 0 {
            return n;
        }
        let n64 = n as i64;
        if budget >= n64 {
            if state
                .budget
                .compare_exchange(budget, budget - n64, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                return n;
            }
        } else if state
            .budget
            .compare_exchange(budget, -1, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return budget as usize;
        }
    }
}

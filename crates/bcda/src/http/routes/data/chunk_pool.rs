//! Download chunk buffers, kept for reuse across chunks and downloads.
//!
//! A chunk is read into a buffer that must be initialised first (safe Rust
//! cannot read a file into uninitialised memory), and zeroing a fresh
//! buffer for every chunk was a tenth of the server's CPU in a download
//! (docs/BENCHMARKS.md, issue 17, sixth stop). A pooled buffer is zeroed
//! once, when it is first made; a sent chunk's buffer comes back to the
//! pool when the response drops it, and the next chunk of any download is
//! read into it.

use std::sync::{Mutex, PoisonError};

use axum::body::Bytes;

/// Buffers of one size, kept idle for reuse up to a bound.
#[derive(Debug)]
pub struct ChunkPool {
    idle: Mutex<Vec<Vec<u8>>>,
    buffer_bytes: usize,
    keep_idle: usize,
}

impl ChunkPool {
    /// A pool of `buffer_bytes` buffers that keeps at most `keep_idle` of
    /// them idle: beyond that a returned buffer is freed, so an idle server
    /// holds at most `keep_idle * buffer_bytes`.
    pub const fn new(buffer_bytes: usize, keep_idle: usize) -> Self {
        Self {
            idle: Mutex::new(Vec::new()),
            buffer_bytes,
            keep_idle,
        }
    }

    /// A buffer to read a chunk into: an idle one if there is one, else a
    /// new zeroed one.
    pub fn take(&self) -> Vec<u8> {
        let reused = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        reused.unwrap_or_else(|| vec![0; self.buffer_bytes])
    }

    /// The first `len` bytes of `buffer` (from [`ChunkPool::take`]) as a
    /// chunk to send; the buffer comes back to the pool when the last
    /// handle on the chunk is dropped, not before.
    pub fn chunk(&'static self, buffer: Vec<u8>, len: usize) -> Bytes {
        let len = len.min(buffer.len());
        Bytes::from_owner(Pooled { pool: self, buffer }).slice(..len)
    }

    fn give_back(&self, buffer: Vec<u8>) {
        if buffer.len() != self.buffer_bytes {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.keep_idle {
            idle.push(buffer);
        }
    }
}

/// Owns a chunk's buffer while the chunk is alive.
struct Pooled {
    pool: &'static ChunkPool,
    buffer: Vec<u8>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buffer
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.buffer));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(keep_idle: usize) -> &'static ChunkPool {
        Box::leak(Box::new(ChunkPool::new(8, keep_idle)))
    }

    #[test]
    fn a_buffer_is_reused_only_once_every_handle_on_its_chunk_is_gone() {
        let pool = pool(4);
        let mut buffer = pool.take();
        buffer.copy_from_slice(b"abcdefgh");
        let address = buffer.as_ptr();
        let sent = pool.chunk(buffer, 5);
        assert_eq!(&sent[..], b"abcde");
        let clone = sent.clone();
        drop(sent);
        // Still held by the clone: a take must not hand it out.
        let other = pool.take();
        assert_ne!(other.as_ptr(), address);
        assert_eq!(other, vec![0; 8]);
        assert_eq!(&clone[..], b"abcde");
        drop(clone);
        let again = pool.take();
        assert_eq!(again.as_ptr(), address);
        assert_eq!(again, b"abcdefgh");
    }

    #[test]
    fn no_more_than_the_bound_is_kept_idle() {
        let pool = pool(2);
        let chunks: Vec<Bytes> = (0..3).map(|_| pool.chunk(pool.take(), 8)).collect();
        drop(chunks);
        assert_eq!(pool.idle.lock().map(|idle| idle.len()).ok(), Some(2));
    }
}

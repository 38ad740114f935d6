//! Batch buffers shared by every export task of the process.
//!
//! Each task streams its resources through two ~1 MB buffers (one being
//! compressed while the other fills). Allocating them per task made the
//! allocator spread them over its per-thread arenas, which kept what was
//! freed: resident memory crept up task after task. Reusing a few buffers
//! for the life of the process keeps it flat.

use std::sync::Mutex;

/// A bounded stack of reusable byte buffers.
#[derive(Debug)]
pub struct BufferPool {
    buffers: Mutex<Vec<Vec<u8>>>,
    keep: usize,
}

impl BufferPool {
    /// A pool that keeps at most `keep` idle buffers.
    pub fn new(keep: usize) -> Self {
        Self {
            buffers: Mutex::new(Vec::new()),
            keep,
        }
    }

    /// An idle buffer (empty, perhaps with capacity), or a new one.
    pub fn take(&self) -> Vec<u8> {
        self.buffers
            .lock()
            .ok()
            .and_then(|mut b| b.pop())
            .unwrap_or_default()
    }

    /// Returns buffers for reuse; those beyond the pool's bound are freed.
    pub fn give_back(&self, buffers: impl IntoIterator<Item = Vec<u8>>) {
        if let Ok(mut idle) = self.buffers.lock() {
            for mut buffer in buffers {
                if idle.len() >= self.keep {
                    break;
                }
                buffer.clear();
                // One a big stored pack grew is kept at a batch's size.
                buffer.shrink_to(crate::claims::BATCH_CAPACITY);
                idle.push(buffer);
            }
        }
    }

    /// Idle buffers held.
    pub fn idle(&self) -> usize {
        self.buffers.lock().map_or(0, |b| b.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_up_to_its_bound() {
        let pool = BufferPool::new(2);
        let mut a = pool.take();
        a.extend_from_slice(b"abc");
        let capacity = a.capacity();
        pool.give_back([a, Vec::with_capacity(8), Vec::with_capacity(16)]);
        assert_eq!(pool.idle(), 2);
        let b = pool.take();
        assert!(b.is_empty());
        let c = pool.take();
        assert!(
            c.is_empty() && c.capacity() == capacity,
            "the first one back is reused last"
        );
        assert_eq!(pool.idle(), 0);
        assert_eq!(pool.take().capacity(), 0);
    }
}

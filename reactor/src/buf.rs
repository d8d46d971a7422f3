//! Buffer pools: memory only for connections that need it right now.
//!
//! An idle keep-alive connection should cost almost nothing. So a
//! connection owns no read buffer while nothing is pending: the shard reads
//! into one shard-wide scratch buffer, the protocol consumes what it can in
//! place, and only an unconsumed tail (half a request) is copied into a
//! buffer taken from a [`BufPool`]. When the tail is consumed the buffer goes
//! back to the pool. Small writes are staged the same way.
//!
//! ```text
//!   read() -> [ scratch 64 KiB ] -> on_data consumes 3 requests + half of one
//!                                   \-> tail copied into pool buffer (conn)
//!   next read() appends to the conn's buffer -> on_data -> all consumed
//!                                   \-> buffer back to the pool
//! ```
//!
//! A buffer that grew past the pool's size (a huge request head, a big
//! pipelined burst) is freed rather than pooled, so the pool's memory stays
//! bounded by `max_free * buf_capacity`.

/// A LIFO pool of equally sized byte buffers.
#[derive(Debug)]
pub struct BufPool {
    free: Vec<Vec<u8>>,
    buf_capacity: usize,
    max_free: usize,
}

impl BufPool {
    /// A pool of buffers of `buf_capacity` bytes, keeping at most `max_free` idle ones.
    pub fn new(buf_capacity: usize, max_free: usize) -> BufPool {
        BufPool { free: Vec::new(), buf_capacity: buf_capacity.max(64), max_free }
    }

    /// The capacity of each pooled buffer.
    pub fn buf_capacity(&self) -> usize {
        self.buf_capacity
    }

    /// Takes an empty buffer with at least `buf_capacity` bytes of capacity.
    pub fn take(&mut self) -> Vec<u8> {
        self.free.pop().unwrap_or_else(|| Vec::with_capacity(self.buf_capacity))
    }

    /// Returns a buffer. Buffers that grew (or shrank) are freed, not kept.
    pub fn give(&mut self, mut buf: Vec<u8>) {
        if buf.capacity() == self.buf_capacity && self.free.len() < self.max_free {
            buf.clear();
            self.free.push(buf);
        }
    }

    /// True if `buf` looks like one of ours (same capacity), so returning it is worthwhile.
    pub fn owns_size_of(&self, buf: &Vec<u8>) -> bool {
        buf.capacity() == self.buf_capacity
    }

    /// Number of idle buffers held.
    pub fn idle(&self) -> usize {
        self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_and_bounds() {
        let mut pool = BufPool::new(128, 2);
        let a = pool.take();
        let ptr = a.as_ptr();
        pool.give(a);
        let b = pool.take();
        assert_eq!(b.as_ptr(), ptr, "LIFO reuse");
        let mut grown = pool.take();
        grown.extend_from_slice(&[0; 1000]);
        pool.give(grown);
        assert_eq!(pool.idle(), 0, "grown buffers are freed");
        pool.give(b);
        pool.give(Vec::with_capacity(128));
        pool.give(Vec::with_capacity(128));
        assert_eq!(pool.idle(), 2, "bounded");
    }
}

//! Per-shard counters, readable from any thread.
//!
//! Each shard is the only writer of its counters, so an increment is a plain
//! load and store (no `lock`-prefixed instruction on the hot path); readers
//! on other threads see values that are at most a moment old.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Live counters of one shard.
#[derive(Debug, Default)]
pub struct ShardStats {
    /// Connections accepted.
    pub accepted: AtomicU64,
    /// Connections closed.
    pub closed: AtomicU64,
    /// Times `accept` failed with `EMFILE`/`ENFILE`/`ENOBUFS`/`ENOMEM`.
    pub fd_exhausted: AtomicU64,
    /// Connections accepted and closed at once because the shard was full
    /// or out of descriptors.
    pub rejected: AtomicU64,
    /// Other `accept` errors.
    pub accept_errors: AtomicU64,
    /// Bytes read from connections.
    pub bytes_in: AtomicU64,
    /// Bytes written to connections.
    pub bytes_out: AtomicU64,
    /// Iterations of the event loop (one `epoll_wait` each).
    pub loop_iterations: AtomicU64,
    /// Messages and worker results dropped because their connection had closed.
    pub dropped_messages: AtomicU64,
    /// Outbound connections opened (`connect`).
    pub connected: AtomicU64,
    /// Outbound connections that failed to establish (refused, timed out).
    pub connect_failed: AtomicU64,
    /// Messages refused because the shard's bounded data inbox was full.
    pub inbox_full: AtomicU64,
}

impl ShardStats {
    /// Adds `n` to a counter. Only the owning shard calls this.
    #[inline]
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.store(counter.load(Relaxed).wrapping_add(n), Relaxed);
    }

    /// A consistent-enough copy of all counters.
    pub fn snapshot(&self) -> StatsSnapshot {
        let accepted = self.accepted.load(Relaxed);
        let closed = self.closed.load(Relaxed);
        let connected = self.connected.load(Relaxed);
        StatsSnapshot {
            accepted,
            closed,
            open: (accepted + connected).saturating_sub(closed),
            connected,
            connect_failed: self.connect_failed.load(Relaxed),
            inbox_full: self.inbox_full.load(Relaxed),
            fd_exhausted: self.fd_exhausted.load(Relaxed),
            rejected: self.rejected.load(Relaxed),
            accept_errors: self.accept_errors.load(Relaxed),
            bytes_in: self.bytes_in.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
            loop_iterations: self.loop_iterations.load(Relaxed),
            dropped_messages: self.dropped_messages.load(Relaxed),
        }
    }
}

/// A copy of a shard's counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections closed.
    pub closed: u64,
    /// Connections open now (accepted and outbound).
    pub open: u64,
    /// Outbound connections opened.
    pub connected: u64,
    /// Outbound connections that failed to establish.
    pub connect_failed: u64,
    /// Messages refused by a full data inbox.
    pub inbox_full: u64,
    /// `accept` failures for lack of descriptors or memory.
    pub fd_exhausted: u64,
    /// Connections rejected at accept.
    pub rejected: u64,
    /// Other `accept` errors.
    pub accept_errors: u64,
    /// Bytes read.
    pub bytes_in: u64,
    /// Bytes written.
    pub bytes_out: u64,
    /// Event-loop iterations.
    pub loop_iterations: u64,
    /// Messages dropped for closed connections.
    pub dropped_messages: u64,
}

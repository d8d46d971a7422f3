//! Rate limits: a token bucket per client key, in one table shared by
//! every shard.
//!
//! # The bucket: GCRA
//!
//! A token bucket of `burst` tokens refilled at `rate` per second is kept
//! as one number per key, its *theoretical arrival time* (TAT, the
//! generic cell rate algorithm of ATM networks): with the emission
//! interval `T = 1/rate` and the tolerance `τ = burst · T`,
//!
//! ```text
//!   tat' = max(tat, now)
//!   if tat' + T - now > τ: refuse; retry after tat' + T - τ - now
//!   else:                  admit;  tat = tat' + T
//! ```
//!
//! A fresh key admits `burst` requests at once, then one every `T`;
//! `tat - now` is how far in debt the key is (`burst - tokens`, in time).
//! All arithmetic is in integer nanoseconds of a monotonic clock that the
//! caller passes in, so tests drive the clock by hand.
//!
//! # Why one shared table
//!
//! With one table per shard, a client opening N connections that the
//! kernel spreads over N shards would get N buckets, N times its rate.
//! Here every shard consults the same table, so a key has one bucket
//! wherever its requests land. The table is split into sets of
//! 8 slots (`WAYS`), each set behind its own mutex (held for a few
//! instructions): shards contend only when two of them look up keys of
//! the same set at the same instant.
//!
//! # Bounded memory
//!
//! The table has a fixed number of slots (`table_size`, rounded up to a
//! whole number of sets), 16 bytes each, allocated once. A key is hashed
//! (with a per-process random seed) to a set; a new key takes an empty
//! slot of its set, or else the slot whose TAT is smallest — the key
//! closest to a full bucket, whose forgetting costs least. A key evicted
//! while in debt starts over with a full bucket: only when more than
//! 8 keys active at once hash to the same set, which a table sized
//! for the expected number of clients makes rare.

use std::hash::{BuildHasher, Hasher};
use std::sync::{Mutex, PoisonError};

/// Slots per set.
pub const WAYS: usize = 8;

/// A slot: the key's hash (0: empty) and its theoretical arrival time.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    key: u64,
    tat: u64,
}

/// The outcome of one request against a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the limit.
    Allow,
    /// Over it: answer 429 with `Retry-After` of this many seconds
    /// (rounded up, at least 1).
    Deny {
        /// Whole seconds until one more request would be admitted.
        retry_after: u64,
    },
}

/// A token-bucket limit on requests per key, shared by every shard.
pub struct RateLimiter {
    /// `T`: nanoseconds per token.
    interval_ns: u64,
    /// `τ`: the bucket's depth, in nanoseconds of tokens.
    tolerance_ns: u64,
    sets: Box<[Mutex<[Slot; WAYS]>]>,
    hasher: std::collections::hash_map::RandomState,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("interval_ns", &self.interval_ns)
            .field("tolerance_ns", &self.tolerance_ns)
            .field("slots", &(self.sets.len() * WAYS))
            .finish()
    }
}

impl RateLimiter {
    /// `per_second` requests per second (may be fractional: 0.5 is one
    /// every two seconds), bursts of up to `burst`, in a table of about
    /// `table_size` keys.
    pub fn new(per_second: f64, burst: u32, table_size: usize) -> RateLimiter {
        let interval_ns =
            if per_second > 0.0 { (1e9 / per_second).round().max(1.0) as u64 } else { u64::MAX / 4 };
        let sets = table_size.div_ceil(WAYS).max(1);
        RateLimiter {
            interval_ns,
            tolerance_ns: interval_ns.saturating_mul(u64::from(burst.max(1))),
            sets: (0..sets).map(|_| Mutex::new([Slot::default(); WAYS])).collect(),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    /// The slots the table holds (its memory is 16 bytes per slot plus a
    /// mutex per set).
    pub fn capacity(&self) -> usize {
        self.sets.len() * WAYS
    }

    /// The key for `bytes` (an address, a header value).
    pub fn key(&self, bytes: &[u8]) -> u64 {
        let mut h = self.hasher.build_hasher();
        h.write(bytes);
        // 0 marks an empty slot.
        h.finish().max(1)
    }

    /// Counts one request of `key` at `now_ns` (a monotonic clock).
    pub fn check(&self, key: u64, now_ns: u64) -> Verdict {
        let set = &self.sets[(key % self.sets.len() as u64) as usize];
        let mut slots = set.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = match slots.iter().position(|s| s.key == key) {
            Some(i) => i,
            None => {
                // An empty slot, or the one closest to a full bucket.
                let i =
                    slots.iter().enumerate().min_by_key(|(_, s)| if s.key == 0 { 0 } else { s.tat.max(1) });
                let i = i.map_or(0, |(i, _)| i);
                slots[i] = Slot { key, tat: now_ns };
                i
            }
        };
        let tat = slots[slot].tat.max(now_ns);
        let next = tat.saturating_add(self.interval_ns);
        if next - now_ns > self.tolerance_ns {
            let wait_ns = next - self.tolerance_ns - now_ns;
            return Verdict::Deny { retry_after: wait_ns.div_ceil(1_000_000_000).max(1) };
        }
        slots[slot].tat = next;
        Verdict::Allow
    }
}

/// Nanoseconds of the process's monotonic clock (for [`RateLimiter::check`]).
pub(crate) fn now_ns() -> u64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static BASE: OnceLock<Instant> = OnceLock::new();
    let base = *BASE.get_or_init(Instant::now);
    u64::try_from(base.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn burst_then_refill_then_retry_after() {
        // 2 per second, bursts of 5.
        let rl = RateLimiter::new(2.0, 5, 64);
        let k = rl.key(b"10.0.0.1");
        let t0 = 100 * S;
        for i in 0..5 {
            assert_eq!(rl.check(k, t0), Verdict::Allow, "request {i} of the burst");
        }
        // The sixth at the same instant: one token is 0.5 s away -> 1 s.
        assert_eq!(rl.check(k, t0), Verdict::Deny { retry_after: 1 });
        // Refused requests cost nothing: after 0.5 s exactly one more.
        assert_eq!(rl.check(k, t0 + S / 2), Verdict::Allow);
        assert_eq!(rl.check(k, t0 + S / 2), Verdict::Deny { retry_after: 1 });
        // After 10 s idle the bucket is full again (and no fuller).
        let t1 = t0 + 10 * S;
        for _ in 0..5 {
            assert_eq!(rl.check(k, t1), Verdict::Allow);
        }
        assert!(matches!(rl.check(k, t1), Verdict::Deny { .. }));
    }

    #[test]
    fn retry_after_rounds_up_whole_seconds() {
        // One per 10 s, burst 1: after one request the next is 10 s away.
        let rl = RateLimiter::new(0.1, 1, 64);
        let k = rl.key(b"a");
        assert_eq!(rl.check(k, S), Verdict::Allow);
        assert_eq!(rl.check(k, S), Verdict::Deny { retry_after: 10 });
        assert_eq!(rl.check(k, S + 2_500_000_000), Verdict::Deny { retry_after: 8 });
        assert_eq!(rl.check(k, 11 * S - 1), Verdict::Deny { retry_after: 1 });
        assert_eq!(rl.check(k, 11 * S), Verdict::Allow);
    }

    #[test]
    fn keys_are_independent() {
        let rl = RateLimiter::new(1.0, 1, 1024);
        let (a, b) = (rl.key(b"a"), rl.key(b"b"));
        assert_eq!(rl.check(a, S), Verdict::Allow);
        assert_eq!(rl.check(b, S), Verdict::Allow);
        assert!(matches!(rl.check(a, S), Verdict::Deny { .. }));
    }

    #[test]
    fn memory_is_bounded_and_eviction_takes_the_fullest_bucket() {
        let rl = RateLimiter::new(1.0, 1, 8); // one set of 8
        assert_eq!(rl.capacity(), WAYS);
        // 8 keys in debt, then a 9th evicts the one in least debt.
        for k in 1..=8u64 {
            assert_eq!(rl.check(k, k * S), Verdict::Allow);
        }
        assert_eq!(rl.check(9, 9 * S), Verdict::Allow);
        // Key 1 (the oldest, TAT 2 s) was evicted: it starts again full.
        assert_eq!(rl.check(1, 9 * S), Verdict::Allow);
        // Key 8 (TAT 9 s) was kept and is still in debt.
        assert!(matches!(rl.check(8, 8 * S + S / 2), Verdict::Deny { .. }));
    }

    /// N threads standing for N shards share one bucket: together they get
    /// the burst, not N bursts.
    #[test]
    fn shards_cannot_multiply_a_clients_rate() {
        let rl = std::sync::Arc::new(RateLimiter::new(1.0, 10, 4096));
        let k = rl.key(b"192.0.2.7");
        let admitted: usize = (0..4)
            .map(|_| {
                let rl = rl.clone();
                std::thread::spawn(move || (0..100).filter(|_| rl.check(k, 50 * S) == Verdict::Allow).count())
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .sum();
        assert_eq!(admitted, 10);
    }
}

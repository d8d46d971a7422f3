//! The monotonic clock, read once per loop turn.
//!
//! `std::time::Instant` reads the same clock (`CLOCK_MONOTONIC`), but the
//! shard only needs "milliseconds since start" for its timers, and deriving
//! that from two `Instant`s (a checked `timespec` subtraction, then a
//! `Duration` division) costs more than the clock read itself. A plain
//! nanosecond count subtracts and divides in a few instructions.

/// Nanoseconds on `CLOCK_MONOTONIC` (since an unspecified start, usually boot).
#[inline]
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec on our stack; CLOCK_MONOTONIC
    // is always supported on Linux, so the call cannot fail (it is served by
    // the vDSO, without entering the kernel).
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

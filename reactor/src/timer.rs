//! A hashed timing wheel with lazily re-armed, one-per-connection deadlines.
//!
//! Servers set a deadline on nearly every event (head timeout, keep-alive
//! idle, write stall), and almost none of them fire. The wheel makes both
//! cheap:
//!
//! ```text
//!   tick = 10 ms, 512 slots (5.12 s per turn)
//!   slot = due_tick % 512          entries: (token, due_tick)
//!
//!   advance(now): for each tick since last time, walk its slot:
//!     due_tick <= now_tick -> fire     due_tick > now_tick -> a later turn, keep
//! ```
//!
//! *Lazy re-arming.* A connection keeps its own `deadline`; the wheel holds
//! at most the entry it was armed with. Pushing a deadline *later* (the usual
//! case: "another request arrived, extend the idle timeout") touches only the
//! connection's field — no wheel operation at all. When the old entry comes
//! due, the shard sees the deadline has moved and re-inserts the entry once.
//! Only a deadline moved *earlier* than the armed entry needs a new entry;
//! the older one is then recognised as stale and skipped when it comes due.
//!
//! Timers fire at most one tick late and never early (due times are rounded
//! up to the next tick).

use crate::token::Token;

/// Default tick length: the resolution of every deadline.
pub const DEFAULT_TICK_MS: u64 = 10;
/// Default number of slots (a power of two).
pub const DEFAULT_SLOTS: usize = 512;

/// One scheduled entry: fire `token` at tick `due_tick`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// The connection (or other owner) to notify.
    pub token: Token,
    /// The tick at which it is due.
    pub due_tick: u64,
}

/// The wheel. Time is in milliseconds since an arbitrary origin (the shard's
/// start), supplied by the caller: the wheel never reads a clock itself, which
/// keeps it deterministic and testable.
#[derive(Debug)]
pub struct TimerWheel {
    slots: Box<[Vec<Entry>]>,
    mask: u64,
    tick_ms: u64,
    /// The last tick whose slot has been processed.
    current_tick: u64,
    /// The first millisecond of the tick after `current_tick`: before it,
    /// `advance` has nothing to do (one compare, no division).
    next_tick_ms: u64,
    len: usize,
    /// A lower bound on the earliest due tick, so that asking "how long may
    /// the loop sleep?" costs nothing on the hot path; recomputed by a slot
    /// scan only after time has passed it.
    earliest: u64,
}

impl TimerWheel {
    /// A wheel with the given tick length and slot count (rounded up to a power of two).
    pub fn new(tick_ms: u64, slots: usize) -> TimerWheel {
        let n = slots.max(1).next_power_of_two();
        TimerWheel {
            slots: (0..n).map(|_| Vec::new()).collect(),
            mask: n as u64 - 1,
            tick_ms: tick_ms.max(1),
            current_tick: 0,
            next_tick_ms: tick_ms.max(1),
            len: 0,
            earliest: u64::MAX,
        }
    }

    /// The tick (rounded up) at which a deadline of `due_ms` fires.
    pub fn tick_for(&self, due_ms: u64) -> u64 {
        due_ms.div_ceil(self.tick_ms).max(self.current_tick + 1)
    }

    /// Schedules `token` for `due_ms`; returns the tick it was placed at
    /// (the caller remembers it to recognise stale entries).
    pub fn schedule(&mut self, token: Token, due_ms: u64) -> u64 {
        let due_tick = self.tick_for(due_ms);
        self.slots[(due_tick & self.mask) as usize].push(Entry { token, due_tick });
        self.len += 1;
        self.earliest = self.earliest.min(due_tick);
        due_tick
    }

    /// Number of entries in the wheel (including stale ones not yet swept).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no entry is scheduled.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Moves time forward to `now_ms`, appending every entry now due to `fired`.
    #[inline]
    pub fn advance(&mut self, now_ms: u64, fired: &mut Vec<Entry>) {
        if self.is_due(now_ms) {
            self.advance_ticks(now_ms, fired);
        }
    }

    /// True when `advance(now_ms)` would move to a new tick (and may fire
    /// entries); false within the current tick, where it does nothing.
    #[inline]
    pub fn is_due(&self, now_ms: u64) -> bool {
        now_ms >= self.next_tick_ms
    }

    fn advance_ticks(&mut self, now_ms: u64, fired: &mut Vec<Entry>) {
        let now_tick = now_ms / self.tick_ms;
        if now_tick <= self.current_tick {
            return;
        }
        // After a long pause every slot is visited once; visiting it again
        // would find nothing new.
        let first = if now_tick - self.current_tick > self.mask + 1 {
            now_tick - self.mask
        } else {
            self.current_tick + 1
        };
        for tick in first..=now_tick {
            let slot = &mut self.slots[(tick & self.mask) as usize];
            let mut i = 0;
            while i < slot.len() {
                if slot[i].due_tick <= now_tick {
                    fired.push(slot.swap_remove(i));
                    self.len -= 1;
                } else {
                    i += 1;
                }
            }
        }
        self.current_tick = now_tick;
        self.next_tick_ms = (now_tick + 1) * self.tick_ms;
    }

    /// How long until the next entry may be due, in milliseconds from
    /// `now_ms`; `None` when the wheel is empty. A lower bound: the shard may
    /// wake early (and find nothing due), never late.
    pub fn next_timeout_ms(&mut self, now_ms: u64) -> Option<u64> {
        if self.len == 0 {
            self.earliest = u64::MAX;
            return None;
        }
        if self.earliest <= self.current_tick {
            // Time has passed the cached bound: find the next occupied slot.
            // Its tick is a lower bound (its entries may be for later turns).
            let start = self.current_tick + 1;
            self.earliest = (start..start + self.mask + 1)
                .find(|&tick| !self.slots[(tick & self.mask) as usize].is_empty())
                .unwrap_or(start + self.mask);
        }
        Some((self.earliest * self.tick_ms).saturating_sub(now_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(i: u32) -> Token {
        Token::new(i, 0)
    }

    fn fired_at(w: &mut TimerWheel, now: u64) -> Vec<u32> {
        let mut out = Vec::new();
        w.advance(now, &mut out);
        let mut v: Vec<u32> = out.iter().map(|e| e.token.index()).collect();
        v.sort();
        v
    }

    #[test]
    fn fires_never_early_at_most_one_tick_late() {
        let mut w = TimerWheel::new(10, 8);
        w.schedule(tok(1), 25); // tick 3
        assert!(fired_at(&mut w, 20).is_empty());
        assert!(fired_at(&mut w, 29).is_empty());
        assert_eq!(fired_at(&mut w, 30), vec![1]);
        assert!(w.is_empty());
    }

    #[test]
    fn entries_for_later_turns_stay() {
        let mut w = TimerWheel::new(10, 8); // one turn = 80 ms
        w.schedule(tok(1), 30);
        w.schedule(tok(2), 30 + 80); // same slot, next turn
        assert_eq!(fired_at(&mut w, 35), vec![1]);
        assert!(fired_at(&mut w, 100).is_empty());
        assert_eq!(fired_at(&mut w, 110), vec![2]);
    }

    #[test]
    fn long_pause_fires_everything_once() {
        let mut w = TimerWheel::new(10, 8);
        for i in 0..20 {
            w.schedule(tok(i), 10 + u64::from(i) * 15);
        }
        assert_eq!(fired_at(&mut w, 10_000), (0..20).collect::<Vec<_>>());
        assert!(w.is_empty());
    }

    #[test]
    fn next_timeout_is_a_lower_bound() {
        let mut w = TimerWheel::new(10, 8);
        assert_eq!(w.next_timeout_ms(0), None);
        w.schedule(tok(1), 45); // tick 5 -> 50 ms
        assert_eq!(w.next_timeout_ms(3), Some(47));
    }

    #[test]
    fn past_due_goes_to_next_tick() {
        let mut w = TimerWheel::new(10, 8);
        let mut out = Vec::new();
        w.advance(100, &mut out);
        let t = w.schedule(tok(1), 50); // already past
        assert_eq!(t, 11);
        assert_eq!(fired_at(&mut w, 110), vec![1]);
    }
}

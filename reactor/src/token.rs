//! Generational tokens and the connection slab.
//!
//! Every registered descriptor carries a 64-bit token in its epoll events.
//! A token is a slab index (low 32 bits) plus the *generation* of that slot
//! (high 32 bits). When a connection closes, its slot's generation is bumped
//! before the slot is reused, so anything still holding the old token — an
//! event already sitting in this batch of `epoll_wait` results, a worker-pool
//! result, a message from another thread, a timer — no longer matches and is
//! dropped instead of reaching the new connection:
//!
//! ```text
//!   slot 7, gen 3: conn A     token (3,7)   closes -> gen 4
//!   slot 7, gen 4: conn B     token (4,7)
//!   late result for (3,7)  -> slab.get((3,7)) == None -> dropped
//! ```
//!
//! (nginx does the same with its "instance" bit, one bit wide; with 32 bits a
//! slot would have to be reused four billion times while one stale token is
//! in flight to fool us.)

use std::fmt;

/// Identifies one connection of one shard for its whole life, and never
/// another one. Cheap to copy and to send between threads.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token(u64);

impl Token {
    /// Indices at or above this are reserved for the shard's own descriptors
    /// (listeners, waker); the slab never hands them out.
    pub(crate) const RESERVED_BASE: u32 = u32::MAX - 1024;

    /// No connection (an unlinked connection's link).
    pub(crate) const NONE: Token = Token(u64::MAX);

    pub(crate) fn new(index: u32, generation: u32) -> Token {
        Token((u64::from(generation) << 32) | u64::from(index))
    }

    /// A token for one of the shard's own descriptors (not a connection).
    pub(crate) fn reserved(n: u32) -> Token {
        Token::new(Self::RESERVED_BASE + n, 0)
    }

    /// The slab index.
    pub fn index(self) -> u32 {
        self.0 as u32
    }

    /// The slot generation.
    pub fn generation(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// The raw 64-bit form carried in `epoll_event.data`.
    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// The inverse of [`Token::as_u64`].
    pub fn from_u64(raw: u64) -> Token {
        Token(raw)
    }

    pub(crate) fn is_reserved(self) -> bool {
        self.index() >= Self::RESERVED_BASE
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({}v{})", self.index(), self.generation())
    }
}

enum Slot<T> {
    Occupied { generation: u32, value: T },
    Vacant { generation: u32, next_free: u32 },
}

const NO_FREE: u32 = u32::MAX;

/// A slab of values addressed by generational [`Token`]s: O(1) insert,
/// lookup and removal, slots reused LIFO (the most recently freed slot is
/// warmest in cache).
pub struct Slab<T> {
    slots: Vec<Slot<T>>,
    free_head: u32,
    len: usize,
}

impl<T> fmt::Debug for Slab<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slab").field("len", &self.len).field("slots", &self.slots.len()).finish()
    }
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab::new()
    }
}

impl<T> Slab<T> {
    /// An empty slab.
    pub fn new() -> Slab<T> {
        Slab { slots: Vec::new(), free_head: NO_FREE, len: 0 }
    }

    /// Number of occupied slots.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no slot is occupied.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The token the next [`Slab::insert`] will return, or `None` when the
    /// slab is full (2^32 - 1025 slots).
    pub fn next_token(&self) -> Option<Token> {
        if self.free_head != NO_FREE {
            match &self.slots[self.free_head as usize] {
                Slot::Vacant { generation, .. } => Some(Token::new(self.free_head, *generation)),
                Slot::Occupied { .. } => unreachable!("free list points at an occupied slot"),
            }
        } else if (self.slots.len() as u64) < u64::from(Token::RESERVED_BASE) {
            Some(Token::new(self.slots.len() as u32, 0))
        } else {
            None
        }
    }

    /// Stores `value`, returning its token.
    ///
    /// # Panics
    ///
    /// When the slab already holds 2^32 - 1025 values.
    pub fn insert(&mut self, value: T) -> Token {
        let token = self.next_token().expect("slab index space exhausted");
        let index = token.index();
        if index as usize == self.slots.len() {
            self.slots.push(Slot::Occupied { generation: 0, value });
        } else {
            let slot = &mut self.slots[index as usize];
            let next = match slot {
                Slot::Vacant { next_free, .. } => *next_free,
                Slot::Occupied { .. } => unreachable!("free list points at an occupied slot"),
            };
            *slot = Slot::Occupied { generation: token.generation(), value };
            self.free_head = next;
        }
        self.len += 1;
        token
    }

    /// The value for `token`, if that exact connection is still here.
    pub fn get(&self, token: Token) -> Option<&T> {
        match self.slots.get(token.index() as usize) {
            Some(Slot::Occupied { generation, value }) if *generation == token.generation() => Some(value),
            _ => None,
        }
    }

    /// Mutable access to the values of two different tokens at once (a
    /// connection and the one linked to it). `None` if either is gone or
    /// they are the same slot.
    pub fn get2_mut(&mut self, a: Token, b: Token) -> Option<(&mut T, &mut T)> {
        let (ia, ib) = (a.index() as usize, b.index() as usize);
        if ia == ib || ia >= self.slots.len() || ib >= self.slots.len() {
            return None;
        }
        let (lo, hi) = self.slots.split_at_mut(ia.max(ib));
        let (first, second) = (&mut lo[ia.min(ib)], &mut hi[0]);
        let (sa, sb) = if ia < ib { (first, second) } else { (second, first) };
        match (sa, sb) {
            (Slot::Occupied { generation: ga, value: va }, Slot::Occupied { generation: gb, value: vb })
                if *ga == a.generation() && *gb == b.generation() =>
            {
                Some((va, vb))
            }
            _ => None,
        }
    }

    /// Mutable access to the value for `token`, if it is still here.
    pub fn get_mut(&mut self, token: Token) -> Option<&mut T> {
        match self.slots.get_mut(token.index() as usize) {
            Some(Slot::Occupied { generation, value }) if *generation == token.generation() => Some(value),
            _ => None,
        }
    }

    /// Removes and returns the value for `token`; its slot's generation is
    /// bumped so the token never matches again.
    pub fn remove(&mut self, token: Token) -> Option<T> {
        let index = token.index() as usize;
        match self.slots.get(index) {
            Some(Slot::Occupied { generation, .. }) if *generation == token.generation() => {}
            _ => return None,
        }
        let next_gen = token.generation().wrapping_add(1);
        let old = std::mem::replace(
            &mut self.slots[index],
            Slot::Vacant { generation: next_gen, next_free: self.free_head },
        );
        self.free_head = index as u32;
        self.len -= 1;
        match old {
            Slot::Occupied { value, .. } => Some(value),
            Slot::Vacant { .. } => unreachable!("checked occupied above"),
        }
    }

    /// Tokens of all occupied slots (allocates; for shutdown and rare sweeps).
    pub fn tokens(&self) -> Vec<Token> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s {
                Slot::Occupied { generation, .. } => Some(Token::new(i as u32, *generation)),
                Slot::Vacant { .. } => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_token_never_matches_reused_slot() {
        let mut slab = Slab::new();
        let a = slab.insert("a");
        assert_eq!(slab.remove(a), Some("a"));
        let b = slab.insert("b");
        assert_eq!(a.index(), b.index(), "slot reused");
        assert_ne!(a, b);
        assert_eq!(slab.get(a), None);
        assert_eq!(slab.remove(a), None);
        assert_eq!(slab.get(b), Some(&"b"));
    }

    #[test]
    fn lifo_reuse_and_len() {
        let mut slab = Slab::new();
        let t: Vec<_> = (0..5).map(|i| slab.insert(i)).collect();
        assert_eq!(slab.len(), 5);
        slab.remove(t[1]);
        slab.remove(t[3]);
        assert_eq!(slab.len(), 3);
        assert_eq!(slab.insert(30).index(), 3);
        assert_eq!(slab.insert(10).index(), 1);
        assert_eq!(slab.insert(5).index(), 5);
        assert_eq!(slab.tokens().len(), 6);
    }

    #[test]
    fn token_round_trip() {
        let t = Token::new(7, 9);
        assert_eq!(Token::from_u64(t.as_u64()), t);
        assert_eq!((t.index(), t.generation()), (7, 9));
        assert!(Token::reserved(0).is_reserved());
        assert!(!t.is_reserved());
    }
}

//! The cost budget: what a connection's peer may spend on frames that do
//! no useful work, before it is told GOAWAY `ENHANCE_YOUR_CALM`.
//!
//! Every known HTTP/2 denial of service makes the server work for frames
//! that produce nothing: streams opened and reset at once (Rapid Reset,
//! 2023), streams the server is provoked into resetting (MadeYouReset,
//! 2025), CONTINUATION frames that never end (2024), header blocks that
//! expand past any limit (HPACK bombs), and floods of SETTINGS, PING,
//! PRIORITY, WINDOW_UPDATE or empty frames (2019). Instead of one counter
//! per attack, each such frame is charged one unit of [`Budget::spent`]
//! and each unit of useful work (a response completed, a DATA frame with
//! bytes received or sent) earns one; a connection whose spending passes
//! `allowance + earned` is over budget. A client doing real work never
//! comes near it; one that does nothing else gets there after `allowance`
//! frames, however it spreads them across the attack families.
//!
//! Counters per [`Cost`] say which reason was spent, for metrics.

/// A reason a frame costs the peer budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost {
    /// The peer reset a stream before its response was complete (Rapid Reset).
    PeerReset,
    /// The peer's frame made the server reset a stream (MadeYouReset).
    ServerReset,
    /// A stream refused: over `max_concurrent_streams`, or after GOAWAY.
    Refused,
    /// A DATA frame without data and without END_STREAM, or an empty
    /// HEADERS/CONTINUATION fragment that does not end the block.
    EmptyFrame,
    /// A SETTINGS frame after the first.
    Settings,
    /// A PING.
    Ping,
    /// A WINDOW_UPDATE.
    WindowUpdate,
    /// A PRIORITY or PRIORITY_UPDATE frame, or an unknown frame type.
    Priority,
    /// A CONTINUATION frame.
    Continuation,
    /// A header block over the header list or field limit.
    HeaderBomb,
}

impl Cost {
    /// Every reason, in counter order.
    pub const ALL: [Cost; 10] = [
        Cost::PeerReset,
        Cost::ServerReset,
        Cost::Refused,
        Cost::EmptyFrame,
        Cost::Settings,
        Cost::Ping,
        Cost::WindowUpdate,
        Cost::Priority,
        Cost::Continuation,
        Cost::HeaderBomb,
    ];

    /// A short name for metrics labels.
    pub fn name(self) -> &'static str {
        match self {
            Cost::PeerReset => "peer_reset",
            Cost::ServerReset => "server_reset",
            Cost::Refused => "refused",
            Cost::EmptyFrame => "empty_frame",
            Cost::Settings => "settings",
            Cost::Ping => "ping",
            Cost::WindowUpdate => "window_update",
            Cost::Priority => "priority",
            Cost::Continuation => "continuation",
            Cost::HeaderBomb => "header_bomb",
        }
    }

    fn weight(self) -> u64 {
        match self {
            // A header block past the limits costs the decoder the whole
            // block: charged as several frames.
            Cost::HeaderBomb => 8,
            _ => 1,
        }
    }
}

/// One connection's budget.
#[derive(Debug, Clone)]
pub struct Budget {
    allowance: u64,
    spent: u64,
    earned: u64,
    counts: [u64; Cost::ALL.len()],
}

impl Budget {
    /// A budget of `allowance` units beyond what useful work earns.
    pub fn new(allowance: u32) -> Budget {
        Budget { allowance: u64::from(allowance), spent: 0, earned: 0, counts: [0; Cost::ALL.len()] }
    }

    /// Charges `cost`; true when the budget is now exhausted.
    pub fn charge(&mut self, cost: Cost) -> bool {
        self.counts[cost as usize] += 1;
        self.spent += cost.weight();
        self.is_exhausted()
    }

    /// Credits `units` of useful work.
    pub fn earn(&mut self, units: u64) {
        self.earned = self.earned.saturating_add(units);
    }

    /// True once spending passed the allowance plus what was earned.
    pub fn is_exhausted(&self) -> bool {
        self.spent > self.allowance.saturating_add(self.earned)
    }

    /// Units spent.
    pub fn spent(&self) -> u64 {
        self.spent
    }

    /// How often each reason was charged, in [`Cost::ALL`] order.
    pub fn counts(&self) -> &[u64; Cost::ALL.len()] {
        &self.counts
    }

    /// How often `cost` was charged.
    pub fn count(&self, cost: Cost) -> u64 {
        self.counts[cost as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_earns_room_for_overhead() {
        let mut b = Budget::new(3);
        assert!(!b.charge(Cost::Ping));
        assert!(!b.charge(Cost::Settings));
        assert!(!b.charge(Cost::PeerReset));
        assert!(b.charge(Cost::PeerReset), "the fourth unit passes an allowance of 3");
        b.earn(5);
        assert!(!b.is_exhausted());
        assert!(b.charge(Cost::HeaderBomb), "a bomb weighs 8");
        assert_eq!(b.count(Cost::PeerReset), 2);
        assert_eq!(b.counts().iter().sum::<u64>(), 5);
        assert_eq!(Cost::ALL.iter().map(|c| *c as usize).collect::<Vec<_>>(), (0..10).collect::<Vec<_>>());
    }
}

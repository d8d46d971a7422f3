//! The poller: the shard's view of epoll, in domain terms.
//!
//! [`crate::sys::epoll`] is the system call; this is the policy weir applies
//! to it, in one place:
//!
//! * **Every descriptor is registered once**, when it is opened, and never
//!   modified: connections with `EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET`,
//!   listeners and the waker with `EPOLLIN | EPOLLET` (a listener shared by
//!   all shards adds `EPOLLEXCLUSIVE`). There is no `epoll_ctl` per request.
//! * **Readiness is kept by the shard**, per connection, as flags set from
//!   these events and cleared only on `EAGAIN` or a short transfer
//!   ([`Readiness`]); see "Draining readiness" in the shard's docs.
//! * **Events carry tokens**, so a stale event is recognised by generation.

use std::io;
use std::os::fd::AsFd;

use crate::sys::epoll::{self, Epoll, Events};
use crate::token::Token;

/// What an event says about a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness(u32);

impl Readiness {
    /// Data (or EOF, or an error) can be read.
    pub fn readable(self) -> bool {
        self.0 & (epoll::READABLE | epoll::READ_HUP | epoll::HUP | epoll::ERROR) != 0
    }

    /// The peer's FIN (or an error) came with this event: read on to EOF.
    pub fn peer_closed(self) -> bool {
        self.0 & (epoll::READ_HUP | epoll::HUP | epoll::ERROR) != 0
    }

    /// The send buffer has room again (or an error is pending).
    pub fn writable(self) -> bool {
        self.0 & (epoll::WRITABLE | epoll::HUP | epoll::ERROR) != 0
    }
}

/// An epoll instance used the weir way.
#[derive(Debug)]
pub(crate) struct Poller {
    epoll: Epoll,
}

impl Poller {
    pub(crate) fn new() -> io::Result<Poller> {
        Ok(Poller { epoll: Epoll::new()? })
    }

    /// Registers a connection, once, for both directions, edge-triggered.
    pub(crate) fn register_conn(&self, fd: &impl AsFd, token: Token) -> io::Result<()> {
        let interest = epoll::READABLE | epoll::WRITABLE | epoll::READ_HUP | epoll::EDGE;
        self.epoll.add(fd, interest, token.as_u64())
    }

    /// Registers a listener or the waker (readable only). `exclusive`: the
    /// descriptor is shared with other shards; wake only one of them.
    pub(crate) fn register_source(&self, fd: &impl AsFd, token: Token, exclusive: bool) -> io::Result<()> {
        let mut interest = epoll::READABLE | epoll::EDGE;
        if exclusive {
            interest |= epoll::EXCLUSIVE;
        }
        self.epoll.add(fd, interest, token.as_u64())
    }

    /// Removes a descriptor that other descriptors (dups) may keep alive.
    pub(crate) fn deregister(&self, fd: &impl AsFd) -> io::Result<()> {
        self.epoll.delete(fd)
    }

    /// Waits for events (see [`Epoll::wait`]).
    pub(crate) fn poll(&self, events: &mut Events, timeout_ms: i32) -> io::Result<usize> {
        self.epoll.wait(events, timeout_ms)
    }
}

/// Event `i` of the last wait as `(token, readiness)`, if there is one.
#[inline]
pub(crate) fn event(events: &Events, i: usize) -> Option<(Token, Readiness)> {
    events.get(i).map(|(data, mask)| (Token::from_u64(data), Readiness(mask)))
}

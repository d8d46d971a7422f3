//! `epoll(7)`: the kernel's readiness queue.
//!
//! An [`Epoll`] instance is a set of watched file descriptors plus a ready
//! list. `epoll_ctl(2)` changes the set; `epoll_wait(2)` takes events off the
//! ready list. weir registers every descriptor exactly once, in
//! edge-triggered mode (`EPOLLET`): the kernel reports a *change* to ready,
//! and the reactor keeps the readiness itself until a call returns `EAGAIN`.
//! That is why this wrapper has [`Epoll::add`] and [`Epoll::delete`] but the
//! hot path never calls [`Epoll::modify`].

use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use super::cvt;

/// Readable (`EPOLLIN`).
pub const READABLE: u32 = libc::EPOLLIN as u32;
/// Writable (`EPOLLOUT`).
pub const WRITABLE: u32 = libc::EPOLLOUT as u32;
/// The peer shut down its writing half (`EPOLLRDHUP`).
pub const READ_HUP: u32 = libc::EPOLLRDHUP as u32;
/// Both halves closed (`EPOLLHUP`); always reported, never requested.
pub const HUP: u32 = libc::EPOLLHUP as u32;
/// An error is pending on the socket (`EPOLLERR`); always reported.
pub const ERROR: u32 = libc::EPOLLERR as u32;
/// Edge-triggered mode (`EPOLLET`).
pub const EDGE: u32 = libc::EPOLLET as u32;
/// Wake only one of several epoll instances waiting on the same
/// descriptor (`EPOLLEXCLUSIVE`, Linux 4.5): used for a listener shared by
/// all shards, to avoid a thundering herd.
pub const EXCLUSIVE: u32 = libc::EPOLLEXCLUSIVE as u32;

/// An epoll instance (`epoll_create1(EPOLL_CLOEXEC)`).
#[derive(Debug)]
pub struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    /// Creates a new epoll instance, close-on-exec.
    ///
    /// # Errors
    ///
    /// As `epoll_create1(2)`: `EMFILE`/`ENFILE` when out of descriptors, `ENOMEM`.
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: epoll_create1 takes no pointers; any flag value is checked
        // by the kernel.
        let fd = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: epoll_create1 succeeded, so `fd` is a fresh descriptor that
        // nothing else owns.
        Ok(Epoll { fd: unsafe { OwnedFd::from_raw_fd(fd) } })
    }

    /// Adds `fd` to the interest list with the event mask `events`; every
    /// event for it will carry `data`.
    ///
    /// # Errors
    ///
    /// As `epoll_ctl(2)` with `EPOLL_CTL_ADD`: `EEXIST` if `fd` is already
    /// registered, `EPERM` for a descriptor epoll cannot watch (a regular file),
    /// `ENOSPC` past `/proc/sys/fs/epoll/max_user_watches`.
    pub fn add(&self, fd: &impl AsFd, events: u32, data: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, events, data)
    }

    /// Changes the mask or data of a registered descriptor.
    ///
    /// # Errors
    ///
    /// As `epoll_ctl(2)` with `EPOLL_CTL_MOD`: `ENOENT` if `fd` is not registered.
    pub fn modify(&self, fd: &impl AsFd, events: u32, data: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd, events, data)
    }

    /// Removes `fd` from the interest list.
    ///
    /// Closing a descriptor removes it too, but only once *every* descriptor
    /// referring to the same open file is closed. A listener shared through
    /// `dup` must therefore be deleted explicitly.
    ///
    /// # Errors
    ///
    /// As `epoll_ctl(2)` with `EPOLL_CTL_DEL`: `ENOENT` if `fd` is not registered.
    pub fn delete(&self, fd: &impl AsFd) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0)
    }

    fn ctl(&self, op: libc::c_int, fd: &impl AsFd, events: u32, data: u64) -> io::Result<()> {
        let mut event = libc::epoll_event { events, u64: data };
        // SAFETY: both descriptors are borrowed from live owners, and `event`
        // is a valid epoll_event on our stack for the duration of the call
        // (the kernel copies it).
        cvt(unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd.as_fd().as_raw_fd(), &mut event) })?;
        Ok(())
    }

    /// Waits for events, up to `timeout_ms` milliseconds (`-1`: forever,
    /// `0`: do not block). Fills `events` and returns how many arrived.
    /// `EINTR` is reported as zero events, not as an error.
    ///
    /// # Errors
    ///
    /// As `epoll_wait(2)`, but for `EINTR` (zero events): in practice only a
    /// broken invariant (`EBADF`, `EINVAL`).
    pub fn wait(&self, events: &mut Events, timeout_ms: i32) -> io::Result<usize> {
        let cap = events.buf.capacity().min(libc::c_int::MAX as usize) as libc::c_int;
        // SAFETY: the pointer and capacity describe the spare storage of a
        // live Vec<epoll_event>; the kernel writes at most `cap` entries.
        let res =
            unsafe { super::raw::epoll_wait(self.fd.as_raw_fd(), events.buf.as_mut_ptr(), cap, timeout_ms) };
        match res {
            Ok(n) => {
                // SAFETY: the kernel initialised the first `n` entries, and
                // n <= cap = capacity.
                unsafe { events.buf.set_len(n) };
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                events.buf.clear();
                Ok(0)
            }
            Err(e) => Err(e),
        }
    }
}

/// A reusable buffer of events filled by [`Epoll::wait`].
#[derive(Debug, Default)]
pub struct Events {
    buf: Vec<libc::epoll_event>,
}

impl Events {
    /// A buffer for up to `capacity` events per wait.
    pub fn with_capacity(capacity: usize) -> Events {
        Events { buf: Vec::with_capacity(capacity.max(1)) }
    }

    /// The events of the last wait as `(data, event mask)` pairs.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        // epoll_event is `packed` on x86-64: copy fields out, never borrow them.
        self.buf.iter().map(|e| {
            let data = e.u64;
            let mask = e.events;
            (data, mask)
        })
    }

    /// Event `i` of the last wait as `(data, event mask)`.
    pub fn get(&self, i: usize) -> Option<(u64, u32)> {
        self.buf.get(i).map(|e| {
            let data = e.u64;
            let mask = e.events;
            (data, mask)
        })
    }

    /// Number of events from the last wait.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True when the last wait returned no events.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

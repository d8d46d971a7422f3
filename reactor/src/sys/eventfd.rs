//! `eventfd(2)`: a counter in the kernel that another thread can bump to wake
//! a shard blocked in `epoll_wait`.
//!
//! Writing adds to the counter and makes the descriptor readable; reading
//! returns the counter and resets it to zero. The shard registers its eventfd
//! with its epoll instance like any socket.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr;

use super::cvt_size;

/// A non-blocking, close-on-exec eventfd.
#[derive(Debug)]
pub struct EventFd {
    fd: OwnedFd,
}

impl EventFd {
    /// Creates an eventfd with counter 0.
    ///
    /// # Errors
    ///
    /// As `eventfd(2)`: `EMFILE`/`ENFILE` when out of descriptors.
    pub fn new() -> io::Result<EventFd> {
        // SAFETY: no pointers are passed; the flags are valid constants.
        let fd = super::cvt(unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) })?;
        // SAFETY: eventfd succeeded, so `fd` is a fresh descriptor owned by no one else.
        Ok(EventFd { fd: unsafe { OwnedFd::from_raw_fd(fd) } })
    }

    /// Adds one to the counter, waking any epoll waiter. Safe to call from any thread.
    ///
    /// # Errors
    ///
    /// As `write(2)` on an eventfd; a saturated counter (`EAGAIN`) is not an
    /// error, since the reader has wake-ups pending.
    pub fn notify(&self) -> io::Result<()> {
        let one: u64 = 1;
        // SAFETY: we pass a pointer to a live u64 and its exact size, as
        // eventfd(2) requires for write.
        let res = unsafe { libc::write(self.fd.as_raw_fd(), ptr::from_ref(&one).cast(), 8) };
        match cvt_size(res) {
            Ok(_) => Ok(()),
            // The counter is saturated: the reader has plenty of wake-ups pending.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Resets the counter to zero; returns the value it had (0 if it was not signalled).
    ///
    /// # Errors
    ///
    /// As `read(2)` on an eventfd; an unsignalled counter (`EAGAIN`) is not an
    /// error but `Ok(0)`.
    pub fn drain(&self) -> io::Result<u64> {
        let mut value: u64 = 0;
        // SAFETY: we pass a pointer to a live u64 and its exact size, as
        // eventfd(2) requires for read.
        let res = unsafe { libc::read(self.fd.as_raw_fd(), ptr::from_mut(&mut value).cast(), 8) };
        match cvt_size(res) {
            Ok(_) => Ok(value),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            Err(e) => Err(e),
        }
    }
}

impl AsFd for EventFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

//! The system layer: the only place in `weir-reactor` that calls the kernel.
//!
//! Every function here is a thin, safe wrapper over one Linux system call
//! (`epoll_ctl(2)`, `accept4(2)`, `sendfile(2)`, ...). The rest of the crate
//! is written against these wrappers and contains no `unsafe` at all.
//!
//! # Rules of this module
//!
//! * Raw file descriptors never cross the public boundary: wrappers take
//!   [`BorrowedFd`](std::os::fd::BorrowedFd) (through [`AsFd`](std::os::fd::AsFd))
//!   and return owning types ([`OwnedFd`](std::os::fd::OwnedFd),
//!   [`TcpStream`](std::net::TcpStream), ...), so a descriptor can neither be
//!   used after close nor closed twice.
//! * Each `unsafe` block carries a `// SAFETY:` comment naming the fact that
//!   makes it sound: usually "the pointer and length come from a live slice"
//!   and "the fd is borrowed, so it is open for the duration of the call".
//! * A return of `-1` becomes [`io::Error::last_os_error`] through `cvt`;
//!   callers match on [`io::ErrorKind::WouldBlock`] for `EAGAIN`.
//! * The calls made once or more per request — `read`, `write`, `writev`,
//!   `epoll_wait` — go through the private `raw` module, which issues the
//!   `syscall` instruction itself on x86_64 (glibc's wrappers are thread
//!   cancellation points, bookkeeping weir never needs) and turns `-errno`
//!   into an [`io::Error`] without touching `errno`. Built with
//!   `--cfg weir_sanitize` (`.ci/sanitizers.sh`) it calls glibc instead, so
//!   that AddressSanitizer and ThreadSanitizer check the buffers the kernel
//!   reads and writes.
//!
//! Linux only, by design: weir is built around epoll's edge-triggered mode and
//! makes no attempt to abstract over kqueue or IOCP.

use std::io;

pub mod affinity;
pub mod clock;
pub mod epoll;
pub mod eventfd;
pub mod io_ops;
mod raw;
pub mod rlimit;
pub mod signal;
pub mod socket;
#[cfg(feature = "tls")]
pub mod tls;

/// Turns the `-1`-on-error convention of libc into an [`io::Result`].
#[inline]
pub(crate) fn cvt(res: libc::c_int) -> io::Result<libc::c_int> {
    if res == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(res)
    }
}

/// [`cvt`] for calls that return `ssize_t` (read, write, sendfile, ...).
#[inline]
pub(crate) fn cvt_size(res: libc::ssize_t) -> io::Result<usize> {
    if res == -1 {
        Err(io::Error::last_os_error())
    } else {
        // A non-negative ssize_t always fits in usize.
        Ok(res as usize)
    }
}

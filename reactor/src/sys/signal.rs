//! Signals as file descriptors: `signalfd(2)`.
//!
//! A server must not do real work inside an asynchronous signal handler. The
//! clean way on Linux is to *block* the signals in every thread
//! (`pthread_sigmask`) and read them from a signalfd, where they arrive as
//! ordinary readable data. Block them before spawning threads: new threads
//! inherit the mask.

use std::io;
use std::mem;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr;

use super::{cvt, cvt_size};

/// `SIGINT` (Ctrl-C).
pub const SIGINT: i32 = libc::SIGINT;
/// `SIGTERM` (polite stop request).
pub const SIGTERM: i32 = libc::SIGTERM;
/// `SIGHUP` (conventionally: reload).
pub const SIGHUP: i32 = libc::SIGHUP;
/// `SIGPIPE` (write to a closed socket; a server ignores it and takes `EPIPE`).
pub const SIGPIPE: i32 = libc::SIGPIPE;

/// A set of signals (`sigset_t`).
#[derive(Clone, Copy)]
pub struct SignalSet {
    set: libc::sigset_t,
}

impl std::fmt::Debug for SignalSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignalSet").finish_non_exhaustive()
    }
}

impl SignalSet {
    /// A set holding `signals`.
    ///
    /// # Errors
    ///
    /// As `sigaddset(3)`: `EINVAL` for a number that is not a signal.
    pub fn new(signals: &[i32]) -> io::Result<SignalSet> {
        // SAFETY: sigset_t is plain data; sigemptyset initialises it fully.
        let mut set: libc::sigset_t = unsafe { mem::zeroed() };
        // SAFETY: `set` is a live sigset_t.
        cvt(unsafe { libc::sigemptyset(&mut set) })?;
        for &sig in signals {
            // SAFETY: `set` is a live, initialised sigset_t; the kernel
            // validates `sig` and returns EINVAL for a bad number.
            cvt(unsafe { libc::sigaddset(&mut set, sig) })?;
        }
        Ok(SignalSet { set })
    }

    /// Blocks the set in the calling thread (and in threads spawned after).
    ///
    /// # Errors
    ///
    /// As `pthread_sigmask(3)` (in practice never: the set holds valid signals).
    pub fn block(&self) -> io::Result<()> {
        // SAFETY: `self.set` is an initialised sigset_t; a null old-set
        // pointer is allowed.
        let res = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &self.set, std::ptr::null_mut()) };
        if res != 0 {
            return Err(io::Error::from_raw_os_error(res));
        }
        Ok(())
    }
}

/// Ignores `SIGPIPE` for the whole process, so that writing to a socket the
/// peer has closed returns `EPIPE` instead of killing the server.
///
/// # Errors
///
/// As `signal(2)` (in practice never).
pub fn ignore_sigpipe() -> io::Result<()> {
    // SAFETY: SIG_IGN is a valid disposition for SIGPIPE; no handler code runs.
    let prev = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    if prev == libc::SIG_ERR {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sends `signal` to process `pid` (`kill(2)`), e.g. SIGHUP to a running
/// server from `weir reload`.
///
/// # Errors
///
/// As `kill(2)`: `ESRCH` (no such process), `EPERM` (another user's).
pub fn send_signal(pid: i32, signal: i32) -> io::Result<()> {
    if pid <= 0 {
        // 0 and negative pids name process groups: never what is meant here.
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("not a process id: {pid}")));
    }
    // SAFETY: kill(2) takes no pointers; a positive pid names one process.
    cvt(unsafe { libc::kill(pid, signal) })?;
    Ok(())
}

/// A signalfd: blocked signals from the set arrive as readable records.
#[derive(Debug)]
pub struct SignalFd {
    fd: OwnedFd,
}

impl SignalFd {
    /// Creates a blocking, close-on-exec signalfd for `set`. The signals must
    /// also be blocked ([`SignalSet::block`]) or they are delivered normally.
    ///
    /// # Errors
    ///
    /// As `signalfd(2)`: `EMFILE`/`ENFILE` when out of descriptors.
    pub fn new(set: &SignalSet) -> io::Result<SignalFd> {
        // SAFETY: `set.set` is an initialised sigset_t; -1 asks for a new fd.
        let raw = cvt(unsafe { libc::signalfd(-1, &set.set, libc::SFD_CLOEXEC) })?;
        // SAFETY: signalfd succeeded, so `raw` is a fresh descriptor owned by no one else.
        Ok(SignalFd { fd: unsafe { OwnedFd::from_raw_fd(raw) } })
    }

    /// Blocks until one signal arrives and returns its number.
    ///
    /// # Errors
    ///
    /// As `read(2)` on the signalfd (`EINTR` is retried); a short read is
    /// [`io::ErrorKind::UnexpectedEof`].
    pub fn wait(&self) -> io::Result<i32> {
        loop {
            // SAFETY: signalfd_siginfo is plain data; all-zero is valid.
            let mut info: libc::signalfd_siginfo = unsafe { mem::zeroed() };
            let size = mem::size_of::<libc::signalfd_siginfo>();
            // SAFETY: we read into a live signalfd_siginfo of exactly the size
            // signalfd(2) writes; the fd is owned and open.
            let res = unsafe { libc::read(self.fd.as_raw_fd(), ptr::from_mut(&mut info).cast(), size) };
            match cvt_size(res) {
                Ok(n) if n == size => return Ok(info.ssi_signo as i32),
                Ok(_) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "short signalfd read")),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

impl AsFd for SignalFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

//! Resource limits: `getrlimit(2)` / `setrlimit(2)` for `RLIMIT_NOFILE`.
//!
//! Every connection costs one descriptor. A server raises its soft limit to
//! the hard limit at start; tests lower it to provoke `EMFILE`.

use std::io;

/// The soft and hard limits on open descriptors.
///
/// # Errors
///
/// As `getrlimit(2)` (in practice never).
pub fn nofile_limit() -> io::Result<(u64, u64)> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: we pass a live rlimit for the kernel to fill.
    super::cvt(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) })?;
    Ok((lim.rlim_cur, lim.rlim_max))
}

/// Sets the soft limit on open descriptors (the hard limit is unchanged).
///
/// # Errors
///
/// As `setrlimit(2)`: `EINVAL` when `soft` is above the hard limit.
pub fn set_nofile_soft_limit(soft: u64) -> io::Result<()> {
    let (_, hard) = nofile_limit()?;
    let lim = libc::rlimit { rlim_cur: soft.min(hard), rlim_max: hard };
    // SAFETY: we pass a live, initialised rlimit.
    super::cvt(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) })?;
    Ok(())
}

/// Raises the soft limit to the hard limit; returns the new soft limit.
///
/// # Errors
///
/// As `getrlimit(2)` and `setrlimit(2)`.
pub fn raise_nofile_limit() -> io::Result<u64> {
    let (_, hard) = nofile_limit()?;
    set_nofile_soft_limit(hard)?;
    Ok(hard)
}

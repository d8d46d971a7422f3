//! CPU affinity: `sched_setaffinity(2)`.
//!
//! A shard pinned to one core keeps its caches warm and never migrates
//! mid-request; with one shard per core and `SO_REUSEPORT`, each connection
//! lives its whole life on one core.

use std::io;
use std::mem;

/// Pins the calling thread to CPU `cpu`.
///
/// # Errors
///
/// As `sched_setaffinity(2)`: `EINVAL` when `cpu` is not one the thread may
/// run on (outside its cpuset or beyond the machine).
pub fn pin_current_thread(cpu: usize) -> io::Result<()> {
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "cpu index beyond CPU_SETSIZE"));
    }
    // SAFETY: cpu_set_t is plain data; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { mem::zeroed() };
    // SAFETY: `cpu` < CPU_SETSIZE was checked above, so CPU_SET stays in bounds.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: pid 0 means the calling thread; we pass a live cpu_set_t and its size.
    super::cvt(unsafe { libc::sched_setaffinity(0, mem::size_of::<libc::cpu_set_t>(), &set) })?;
    Ok(())
}

/// The CPUs the calling thread may run on, in increasing order.
///
/// # Errors
///
/// As `sched_getaffinity(2)` (in practice never, for the calling thread).
pub fn allowed_cpus() -> io::Result<Vec<usize>> {
    // SAFETY: cpu_set_t is plain data; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { mem::zeroed() };
    // SAFETY: pid 0 means the calling thread; the kernel fills the live set.
    super::cvt(unsafe { libc::sched_getaffinity(0, mem::size_of::<libc::cpu_set_t>(), &mut set) })?;
    Ok((0..libc::CPU_SETSIZE as usize)
        // SAFETY: i < CPU_SETSIZE, so CPU_ISSET stays in bounds.
        .filter(|&i| unsafe { libc::CPU_ISSET(i, &set) })
        .collect())
}

//! Direct system calls for the hot path: `read`, `write`, `writev` and `epoll_wait`.
//!
//! glibc's wrappers for these calls are *cancellation points*: each one
//! switches POSIX thread cancellation on and off around the `syscall`
//! instruction and reads the result back through `errno`. weir never cancels
//! a thread, so that bookkeeping is pure cost — about 35 instructions per
//! call, three calls per keep-alive request. On x86_64 Linux these functions
//! issue the `syscall` instruction themselves (the kernel ABI: number in
//! `rax`, arguments in `rdi rsi rdx r10`, result in `rax`, `rcx` and `r11`
//! clobbered) and turn a result in `-4095..=-1` into an [`io::Error`]
//! without touching `errno`. Elsewhere they fall back to libc.
//!
//! The functions are `unsafe`: they pass raw pointers to the kernel, and the
//! caller (the safe wrappers in [`super::io_ops`] and [`super::epoll`])
//! states why those pointers are valid.

use std::io;

/// Converts the kernel's return convention (`-errno` on failure) to a result.
#[inline(always)]
fn cvt(ret: isize) -> io::Result<usize> {
    // -4095..=-1, as one unsigned compare.
    if ret as usize > -4096isize as usize {
        Err(io::Error::from_raw_os_error(-ret as i32))
    } else {
        Ok(ret as usize)
    }
}

/// A system call with up to four arguments.
///
/// # Safety
///
/// The arguments must be valid for system call `nr`: every pointer must
/// point to memory the kernel may read or write as that call documents, for
/// the lengths given.
#[inline(always)]
pub(crate) unsafe fn syscall4(nr: libc::c_long, a: usize, b: usize, c: usize, d: usize) -> io::Result<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        let ret: isize;
        // SAFETY: the caller guarantees the arguments are valid for `nr`. The
        // asm follows the x86_64 Linux syscall ABI: `syscall` clobbers only
        // rcx and r11 (declared) and rax (the result); it does not touch the
        // stack (`nostack`), and the kernel may read/write the memory the
        // arguments point to (so no `nomem`/`readonly`).
        unsafe {
            std::arch::asm!(
                "syscall",
                inlateout("rax") nr as isize => ret,
                in("rdi") a,
                in("rsi") b,
                in("rdx") c,
                in("r10") d,
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack, preserves_flags),
            );
        }
        cvt(ret)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        // SAFETY: as above; libc::syscall is the portable spelling.
        let ret = unsafe { libc::syscall(nr, a, b, c, d) };
        if ret == -1 {
            Err(io::Error::last_os_error())
        } else {
            Ok(ret as usize)
        }
    }
}

/// `read(2)`.
///
/// # Safety
///
/// `fd` must be open for the duration of the call and `buf..buf+len` writable.
#[inline(always)]
pub(crate) unsafe fn read(fd: i32, buf: *mut u8, len: usize) -> io::Result<usize> {
    // SAFETY: forwarded from the caller's contract.
    unsafe { syscall4(libc::SYS_read, fd as usize, buf as usize, len, 0) }
}

/// `write(2)`.
///
/// # Safety
///
/// `fd` must be open for the duration of the call and `buf..buf+len` readable.
#[inline(always)]
pub(crate) unsafe fn write(fd: i32, buf: *const u8, len: usize) -> io::Result<usize> {
    // SAFETY: forwarded from the caller's contract.
    unsafe { syscall4(libc::SYS_write, fd as usize, buf as usize, len, 0) }
}

/// `writev(2)`.
///
/// # Safety
///
/// `fd` must be open and `iov` must point to `count` valid iovecs whose
/// buffers stay readable for the call.
#[inline(always)]
pub(crate) unsafe fn writev(fd: i32, iov: *const libc::iovec, count: usize) -> io::Result<usize> {
    // SAFETY: forwarded from the caller's contract.
    unsafe { syscall4(libc::SYS_writev, fd as usize, iov as usize, count, 0) }
}

/// `epoll_wait(2)`.
///
/// # Safety
///
/// `epfd` must be an open epoll descriptor and `events` must have room for
/// `max` entries.
#[inline(always)]
pub(crate) unsafe fn epoll_wait(
    epfd: i32,
    events: *mut libc::epoll_event,
    max: i32,
    timeout: i32,
) -> io::Result<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: forwarded from the caller's contract.
        unsafe {
            syscall4(libc::SYS_epoll_wait, epfd as usize, events as usize, max as usize, timeout as usize)
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        // SAFETY: forwarded from the caller's contract (not every
        // architecture has an `epoll_wait` system call; libc maps it).
        let ret = unsafe { libc::epoll_wait(epfd, events, max, timeout) };
        if ret == -1 {
            Err(io::Error::last_os_error())
        } else {
            Ok(ret as usize)
        }
    }
}

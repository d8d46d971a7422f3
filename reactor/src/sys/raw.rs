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
//!
//! # Under a sanitizer
//!
//! A `syscall` instruction is invisible to AddressSanitizer and
//! ThreadSanitizer: they check memory the kernel touches only by
//! intercepting glibc's wrappers (`read` marks the bytes it returned as
//! written, `write` and `writev` the bytes sent as read, `epoll_wait` the
//! events filled in). So a length one past a buffer would let the kernel
//! write into the heap unseen. Built with `--cfg weir_sanitize`, as
//! `.ci/sanitizers.sh` does, these functions call glibc instead
//! ([`VIA_LIBC`]): the pointers and lengths are the very ones the
//! instruction would get, now checked.

use std::io;

/// Whether `read`, `write`, `writev` and `epoll_wait` go through glibc's
/// wrappers instead of the `syscall` instruction: only under a sanitizer
/// (see the module docs). A constant, so the branch costs nothing.
const VIA_LIBC: bool = cfg!(weir_sanitize);

/// Turns glibc's `-1`-and-`errno` convention into a result.
#[inline(always)]
fn cvt_libc(ret: isize) -> io::Result<usize> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    }
}

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
        cvt_libc(unsafe { libc::syscall(nr, a, b, c, d) } as isize)
    }
}

/// `read(2)`.
///
/// # Safety
///
/// `fd` must be open for the duration of the call and `buf..buf+len` writable.
#[inline(always)]
pub(crate) unsafe fn read(fd: i32, buf: *mut u8, len: usize) -> io::Result<usize> {
    if VIA_LIBC {
        // SAFETY: forwarded from the caller's contract.
        return cvt_libc(unsafe { libc::read(fd, buf.cast(), len) });
    }
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
    if VIA_LIBC {
        // SAFETY: forwarded from the caller's contract.
        return cvt_libc(unsafe { libc::write(fd, buf.cast(), len) });
    }
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
    if VIA_LIBC {
        // SAFETY: forwarded from the caller's contract; the callers pass at
        // most `IOV_MAX` iovecs, so the count fits a `c_int`.
        return cvt_libc(unsafe { libc::writev(fd, iov, count as libc::c_int) });
    }
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
    if !VIA_LIBC {
        // SAFETY: forwarded from the caller's contract.
        return unsafe {
            syscall4(libc::SYS_epoll_wait, epfd as usize, events as usize, max as usize, timeout as usize)
        };
    }
    // Under a sanitizer, and where there is no `epoll_wait` system call
    // (libc maps it to `epoll_pwait`).
    // SAFETY: forwarded from the caller's contract.
    cvt_libc(unsafe { libc::epoll_wait(epfd, events, max, timeout) } as isize)
}

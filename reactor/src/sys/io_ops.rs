//! Data transfer: `read(2)`, `readv(2)`, `write(2)`, `writev(2)` and
//! `sendfile(2)` on borrowed descriptors.
//!
//! These return the raw byte counts; the edge-triggered draining logic
//! (loop until `EAGAIN`, treat a short transfer as "drained") lives above, in
//! the shard and the write queue.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd};

use super::cvt_size;

/// The most iovecs one `writev` accepts (`IOV_MAX` on Linux, from `<limits.h>`).
pub const IOV_MAX: usize = 1024;

/// The most bytes one `sendfile` call moves: Linux caps every transfer at
/// `0x7ffff000` (2 GiB minus a page), whatever count is asked for.
pub const SENDFILE_MAX: usize = 0x7fff_f000;

/// `read(2)` into `buf`. Returns 0 at end of stream.
///
/// # Errors
///
/// As `read(2)`: [`io::ErrorKind::WouldBlock`] (`EAGAIN`) when a
/// non-blocking descriptor has nothing to read; `ECONNRESET` and the like.
pub fn read(fd: &impl AsFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: pointer and length come from a live, exclusively borrowed
    // slice; the fd is borrowed, so it stays open during the call.
    unsafe { super::raw::read(fd.as_fd().as_raw_fd(), buf.as_mut_ptr(), buf.len()) }
}

/// `read(2)` into the spare capacity of `buf` (at most `max` bytes), extending
/// its length by the number of bytes read. Avoids zero-filling the buffer
/// before each read.
///
/// # Errors
///
/// As [`read()`].
pub fn read_into_spare(fd: &impl AsFd, buf: &mut Vec<u8>, max: usize) -> io::Result<usize> {
    let spare = buf.spare_capacity_mut();
    let len = spare.len().min(max);
    // SAFETY: `spare` is the uninitialised tail of a live Vec we borrow
    // exclusively; the kernel writes at most `len <= spare.len()` bytes
    // there. The fd is borrowed, so it is open.
    let n = unsafe { super::raw::read(fd.as_fd().as_raw_fd(), spare.as_mut_ptr().cast(), len) }?;
    // SAFETY: the kernel initialised exactly `n <= len` bytes after the old
    // length, so the new length covers only initialised bytes.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

/// `readv(2)` into several buffers.
///
/// # Errors
///
/// As `readv(2)`, like [`read()`].
pub fn readv(fd: &impl AsFd, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
    let count = bufs.len().min(IOV_MAX) as libc::c_int;
    // SAFETY: IoSliceMut is guaranteed ABI-compatible with `struct iovec` on
    // Unix; the slices are live and exclusively borrowed for the call.
    cvt_size(unsafe { libc::readv(fd.as_fd().as_raw_fd(), bufs.as_mut_ptr().cast(), count) })
}

/// `write(2)` from `buf`.
///
/// # Errors
///
/// As `write(2)`: [`io::ErrorKind::WouldBlock`] (`EAGAIN`) when the socket
/// buffer is full; `EPIPE`/`ECONNRESET` when the peer is gone.
pub fn write(fd: &impl AsFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: pointer and length come from a live slice; the fd is borrowed.
    unsafe { super::raw::write(fd.as_fd().as_raw_fd(), buf.as_ptr(), buf.len()) }
}

/// `writev(2)` of up to [`IOV_MAX`] slices (extra slices are ignored; the
/// caller sees a short count and continues).
///
/// # Errors
///
/// As `writev(2)`, like [`write()`].
pub fn writev(fd: &impl AsFd, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    let count = bufs.len().min(IOV_MAX) as libc::c_int;
    // SAFETY: IoSlice is guaranteed ABI-compatible with `struct iovec` on
    // Unix; the slices are live for the call and only read by the kernel.
    cvt_size(unsafe { libc::writev(fd.as_fd().as_raw_fd(), bufs.as_ptr().cast(), count) })
}

/// A reusable array of `iovec`s, so a flush can gather up to [`IOV_MAX`]
/// slices without a fresh allocation or a 16 KiB array on the stack.
///
/// The array holds raw pointers only *during* [`IoVecs::writev`], which
/// takes the slices by reference for exactly that long; between calls it is
/// empty, so it never outlives what it points to.
#[derive(Debug, Default)]
pub struct IoVecs {
    vecs: Vec<libc::iovec>,
}

// SAFETY: the vector is empty outside `writev` (it is cleared before
// returning), so no pointer is ever shared between threads.
unsafe impl Send for IoVecs {}

impl IoVecs {
    /// An empty set with room for `IOV_MAX` entries.
    pub fn new() -> IoVecs {
        IoVecs { vecs: Vec::with_capacity(IOV_MAX) }
    }

    /// Gathers the slices yielded by `bufs` (at most [`IOV_MAX`]; empty ones
    /// skipped) and writes them with one `writev(2)`.
    ///
    /// # Errors
    ///
    /// As `writev(2)`, like [`write()`].
    pub fn writev<'a>(
        &mut self,
        fd: &impl AsFd,
        bufs: impl IntoIterator<Item = &'a [u8]>,
    ) -> io::Result<usize> {
        self.vecs.clear();
        for buf in bufs {
            if self.vecs.len() == IOV_MAX {
                break;
            }
            if !buf.is_empty() {
                // `iovec` is shared by readv and writev, hence `*mut`; writev
                // only reads through it (the SAFETY note below).
                self.vecs.push(libc::iovec { iov_base: buf.as_ptr().cast_mut().cast(), iov_len: buf.len() });
            }
        }
        // SAFETY: every iovec points into a slice borrowed for 'a, which
        // outlives this call; the kernel only reads them. The fd is borrowed.
        let res = unsafe { super::raw::writev(fd.as_fd().as_raw_fd(), self.vecs.as_ptr(), self.vecs.len()) };
        self.vecs.clear();
        res
    }
}

/// `sendfile(2)`: copies up to `count` bytes from `file` at `*offset` to the
/// socket `out` inside the kernel, advancing `*offset` by the bytes sent.
///
/// Offsets are 64-bit (`off_t` with large-file support), so files larger than
/// 4 GiB work; `count` is clamped to [`SENDFILE_MAX`].
///
/// # Errors
///
/// As `sendfile(2)`: [`io::ErrorKind::WouldBlock`] (`EAGAIN`) when the socket
/// buffer is full, `EPIPE`/`ECONNRESET` when the peer is gone, `EIO` for a
/// read error on `file`.
pub fn sendfile(out: &impl AsFd, file: &impl AsFd, offset: &mut u64, count: usize) -> io::Result<usize> {
    let mut off: libc::off64_t = i64::try_from(*offset)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file offset beyond i64"))?;
    let count = count.min(SENDFILE_MAX);
    // SAFETY: both fds are borrowed and open; `off` is a live local the
    // kernel reads and updates.
    let n = cvt_size(unsafe {
        libc::sendfile64(out.as_fd().as_raw_fd(), file.as_fd().as_raw_fd(), &mut off, count)
    })?;
    *offset += n as u64;
    Ok(n)
}

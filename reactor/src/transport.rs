//! Transports: what lies between a connection's socket and its protocol.
//!
//! A connection is a **transport** carrying a **protocol**. The protocol
//! (HTTP/1.1, WebSocket, ...) sees plaintext bytes through [`Ctx`](crate::Ctx)
//! and never learns how they travel; the transport decides that:
//!
//! ```text
//!   protocol   on_data(&mut [u8])            Ctx::write(Chunk)
//!                  ^                                |
//!   shard      read_once                      write queue / output batch
//!                  |                                v
//!   transport  None: read(2)          None: write(2), writev(2), sendfile(2)
//!              Some(t): t.read(sock)  Some(t): t.write(sock, bytes); file
//!                                             ranges read into a bounded
//!                                             buffer unless t.sends_files()
//! ```
//!
//! **Plaintext is not a transport object.** A plain connection's
//! `ConnIo::layer` is `None`, and every I/O path tests that one field and
//! calls the same system calls as before the seam existed: no virtual call,
//! no copy, `sendfile` from the page cache. Only a connection accepted on a
//! listener with a [`TransportFactory`] (TLS, or a test transport) pays for
//! the indirection, and its own work (encryption) dwarfs it.
//!
//! What a transport must get right, because the shard relies on it:
//!
//! * **Readiness.** [`Transport::read`] and [`Transport::write`] return
//!   `WouldBlock` only when the socket itself did; the shard then waits for
//!   the next edge. A short read or write proves nothing for a transport (a
//!   TLS record may be decrypted while more wait in the socket; a write may
//!   take one record's worth), so the shard reads and writes a transported
//!   connection until `WouldBlock` — never stopping early on a short
//!   transfer as it does for plaintext, where a short transfer proves the
//!   socket drained or full.
//! * **Output it owes.** A transport may have bytes of its own to send (a
//!   handshake message, an encrypted record the socket refused): the shard
//!   calls [`Transport::flush`] whenever the socket is writable, before it
//!   offers more, and waits for `EPOLLOUT` when that reports
//!   [`Flush::Blocked`].
//! * **Files.** [`Transport::sends_files`] says whether file ranges may go
//!   by `sendfile(2)` straight to the socket (plaintext, kernel TLS). When it
//!   is false, the write queue reads each range in pieces of at most
//!   [`FILE_PIECE_LEN`] bytes with `pread(2)` and hands them to
//!   [`Transport::write`]: memory stays bounded whatever the file's size.
//! * **Closing.** [`Transport::close_write`] ends the sending half (a TLS
//!   `close_notify`, then `FIN`); the lingering close and graceful shutdown
//!   go through it.

use std::fmt;
use std::fs::File;
use std::io;
use std::net::TcpStream;
use std::os::unix::fs::FileExt;

use crate::sys::{io_ops, socket};
use crate::write_queue::Flush;

/// Most bytes of a file read into memory at once for a transport that
/// cannot `sendfile`: four TLS records' worth of plaintext, so one `pread`
/// feeds four record writes (the buffer is the shard's, not a connection's).
pub const FILE_PIECE_LEN: usize = 64 * 1024;

/// One connection's transport: it turns the socket's bytes into the
/// protocol's and back. Lives on the shard that owns the connection, so it
/// need not be `Send`.
pub trait Transport: fmt::Debug {
    /// Reads plaintext into `buf`. `Ok(0)` is the end of input (the peer's
    /// FIN or its transport-level close).
    ///
    /// # Errors
    ///
    /// `WouldBlock` only when the socket had nothing more to give; any other
    /// error closes the connection.
    fn read(&mut self, sock: &TcpStream, buf: &mut [u8]) -> io::Result<usize>;

    /// Takes plaintext from `buf` and returns how many bytes it took (at
    /// least one). It may take fewer than offered (one record's worth, say);
    /// the queue offers the rest at once.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when it took nothing because the socket is full (the
    /// shard then waits for the writable edge); any other error closes the
    /// connection.
    fn write(&mut self, sock: &TcpStream, buf: &[u8]) -> io::Result<usize>;

    /// Sends output the transport holds on its own (handshake messages,
    /// encrypted records the socket refused).
    ///
    /// # Errors
    ///
    /// Any error but `WouldBlock` (report that as [`Flush::Blocked`]).
    fn flush(&mut self, sock: &TcpStream) -> io::Result<Flush> {
        let _ = sock;
        Ok(Flush::Done)
    }

    /// True if file ranges may be sent by `sendfile(2)` on the raw socket
    /// (plaintext, or TLS done by the kernel).
    fn sends_files(&self) -> bool {
        false
    }

    /// True if the transport holds input the protocol has not read (a TLS
    /// library that read ahead while it finished the handshake inside a
    /// flush or write). No socket edge will announce it, so the shard
    /// reads again when this says so after a flush.
    fn has_buffered_input(&self) -> bool {
        false
    }

    /// The application protocol the peer and this side agreed on during the
    /// transport's handshake (TLS ALPN, RFC 7301), e.g. `b"h2"`; `None`
    /// when none was, or the transport has no such step.
    fn alpn(&self) -> Option<&[u8]> {
        None
    }

    /// Ends the sending half: whatever the transport says at its end, then
    /// `shutdown(SHUT_WR)`.
    ///
    /// # Errors
    ///
    /// As `shutdown(2)`.
    fn close_write(&mut self, sock: &TcpStream) -> io::Result<()> {
        socket::shutdown_write(sock)
    }
}

/// Makes the transport of each connection accepted on a listener (one
/// factory per listener, shared by every shard).
pub trait TransportFactory: Send + Sync + fmt::Debug + 'static {
    /// Wraps a freshly accepted socket.
    ///
    /// # Errors
    ///
    /// The connection cannot be served (it is closed at once).
    fn wrap(&self, sock: &TcpStream) -> io::Result<Box<dyn Transport>>;

    /// A connection is turned away at the connection cap or for lack of
    /// descriptors. `reply` is the configured plaintext overload answer; a
    /// transport that cannot send it before its handshake does nothing and
    /// the socket is simply closed (the default).
    fn refuse(&self, sock: &TcpStream, reply: &[u8]) {
        let _ = (sock, reply);
    }
}

/// The reactor's part of a transported connection: the transport and the
/// buffer file pieces are read into. Boxed behind one pointer in `ConnIo`,
/// so a plaintext connection pays eight bytes for the seam.
#[derive(Debug)]
pub(crate) struct Layer {
    pub(crate) transport: Box<dyn Transport>,
}

/// Writes `buf` to the connection: with `write(2)`, or through its transport.
#[inline]
pub(crate) fn write(sock: &TcpStream, layer: Option<&mut Layer>, buf: &[u8]) -> io::Result<usize> {
    match layer {
        None => io_ops::write(sock, buf),
        Some(l) => l.transport.write(sock, buf),
    }
}

/// Reads up to `len` bytes of `file` at `offset` into `piece` (cleared
/// first): how a file range reaches a transport that cannot `sendfile`.
///
/// # Errors
///
/// As `pread(2)`; `UnexpectedEof` when the file ends before the range does.
pub(crate) fn read_file_piece(file: &File, offset: u64, len: u64, piece: &mut Vec<u8>) -> io::Result<()> {
    let want = len.min(FILE_PIECE_LEN as u64) as usize;
    piece.clear();
    piece.resize(want, 0);
    let n = file.read_at(piece, offset)?;
    if n == 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file shorter than the queued range"));
    }
    piece.truncate(n);
    Ok(())
}

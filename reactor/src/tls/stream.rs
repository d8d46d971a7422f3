//! One TLS connection as a [`Transport`]: the handshake, then records.
//!
//! OpenSSL reads and writes the socket itself (`SSL_set_fd`), so this type
//! only drives it and translates its verdicts into what the shard expects:
//! `WANT_READ`/`WANT_WRITE` become `WouldBlock` (the shard waits for the
//! next edge and calls again), the peer's `close_notify` or FIN becomes the
//! end of input, anything else an error that closes the connection.
//!
//! The handshake runs inside whichever call comes first — the shard's read
//! when the ClientHello arrives, or [`Transport::flush`] when the socket
//! becomes writable with handshake output pending. It is counted when it
//! completes (full or resumed, and how long it took) or when it fails
//! (by reason); a connection dropped mid-handshake (the handshake timeout,
//! or the client leaving) counts as abandoned.
//!
//! A plaintext HTTP request on the TLS port is recognised by OpenSSL
//! (`SSL_R_HTTP_REQUEST`) and answered, as nginx does, with a plaintext
//! `400` before the connection closes, so a user who typed `http://` sees
//! why nothing works.

use std::io;
use std::net::TcpStream;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use openssl::error::ErrorStack;
use openssl::ex_data::Index;
use openssl::ssl::{Ssl, SslContextRef, SslRef, SslSession};

use super::stats::{Failure, TlsStats};
use crate::sys::tls::{self as ffi, Outcome};
use crate::sys::{io_ops, socket};
use crate::transport::Transport;
use crate::write_queue::Flush;

/// What a plaintext HTTP request on the TLS port gets back.
const PLAIN_HTTP_400: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 48\r\n\
Connection: close\r\n\r\nThis port speaks HTTPS: use https:// to reach it\n";

// OpenSSL reason codes (sslerr.h) the failure counters tell apart.
const R_HTTP_REQUEST: i32 = 156;
const R_HTTPS_PROXY_REQUEST: i32 = 155;
const R_UNSUPPORTED_PROTOCOL: i32 = 258;
const R_VERSION_TOO_LOW: i32 = 396;
const R_NO_PROTOCOLS_AVAILABLE: i32 = 191;
const R_WRONG_VERSION_NUMBER: i32 = 267;
const R_NO_SHARED_CIPHER: i32 = 193;
const R_NO_SUITABLE_SIGNATURE_ALGORITHM: i32 = 118;
const R_NO_SHARED_GROUP: i32 = 410;
const R_NO_APPLICATION_PROTOCOL: i32 = 235;
const R_PEER_DID_NOT_RETURN_A_CERTIFICATE: i32 = 199;
const R_CERTIFICATE_VERIFY_FAILED: i32 = 134;

/// Marks on an `Ssl` set by the ClientHello callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    /// Admitted as a full handshake: counted in the shard's in-flight bound.
    Counted,
    /// Turned away by the in-flight bound.
    Overload,
    /// The loopback check's server side: not admitted, not counted.
    Probe,
}

fn mark_index() -> Option<Index<Ssl, Mark>> {
    static INDEX: OnceLock<Option<Index<Ssl, Mark>>> = OnceLock::new();
    *INDEX.get_or_init(|| Ssl::new_ex_index().ok())
}

pub(super) fn mark_counted(ssl: &mut SslRef) {
    if let Some(i) = mark_index() {
        ssl.set_ex_data(i, Mark::Counted);
    }
}

pub(super) fn mark_probe(ssl: &mut SslRef) {
    if let Some(i) = mark_index() {
        ssl.set_ex_data(i, Mark::Probe);
    }
}

pub(super) fn is_probe(ssl: &SslRef) -> bool {
    mark(ssl) == Some(Mark::Probe)
}

pub(super) fn mark_overload(ssl: &mut SslRef) {
    if let Some(i) = mark_index() {
        ssl.set_ex_data(i, Mark::Overload);
    }
}

fn mark(ssl: &SslRef) -> Option<Mark> {
    mark_index().and_then(|i| ssl.ex_data(i).copied())
}

/// Where a client connection keeps the session it can resume.
pub(super) type SessionSlot = Arc<Mutex<Option<SslSession>>>;

#[derive(Debug)]
enum State {
    /// Handshaking since the first call that did handshake work.
    Handshake(Option<Instant>),
    Open,
    /// Failed or closed: no more TLS calls.
    Done,
}

/// A TLS connection (server or client side).
pub(crate) struct TlsStream {
    ssl: Ssl,
    state: State,
    /// Server side: the listener's counters.
    stats: Option<Arc<TlsStats>>,
    /// Client side: where to keep the session for the next connection.
    session: Option<SessionSlot>,
    /// Kernel TLS is sending (files may go by `sendfile`).
    ktls: bool,
    /// Its place in the shard's in-flight bound was given back.
    released: bool,
    /// The handshake waits for the socket to take its output.
    wants_write: bool,
}

impl std::fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsStream")
            .field("state", &self.state)
            .field("ktls", &self.ktls)
            .finish_non_exhaustive()
    }
}

impl TlsStream {
    /// The server side of a freshly accepted socket.
    pub(super) fn accept(
        ctx: &SslContextRef,
        sock: &TcpStream,
        stats: Arc<TlsStats>,
    ) -> io::Result<TlsStream> {
        let mut ssl = Ssl::new(ctx).map_err(tls_error)?;
        ssl.set_accept_state();
        ffi::attach_socket(&mut ssl, sock).map_err(tls_error)?;
        Ok(TlsStream {
            ssl,
            state: State::Handshake(None),
            stats: Some(stats),
            session: None,
            ktls: false,
            released: false,
            wants_write: false,
        })
    }

    /// The client side of a connected (or connecting) socket.
    pub(super) fn connect(ssl: Ssl, sock: &TcpStream, session: Option<SessionSlot>) -> io::Result<TlsStream> {
        let mut ssl = ssl;
        ssl.set_connect_state();
        ffi::attach_socket(&mut ssl, sock).map_err(tls_error)?;
        Ok(TlsStream {
            ssl,
            state: State::Handshake(None),
            stats: None,
            session,
            ktls: false,
            released: false,
            wants_write: false,
        })
    }

    /// Runs the handshake as far as the socket allows: `Ok(())` once it is
    /// complete, `WouldBlock` while it waits, another error if it failed.
    fn handshake(&mut self, sock: &TcpStream) -> io::Result<()> {
        let State::Handshake(started) = &mut self.state else {
            return match self.state {
                State::Open => Ok(()),
                _ => Err(io::Error::new(io::ErrorKind::NotConnected, "TLS connection closed")),
            };
        };
        let started = *started.get_or_insert_with(Instant::now);
        match ffi::handshake(&mut self.ssl) {
            Outcome::Done(_) => {
                self.state = State::Open;
                self.release();
                self.ktls = ffi::ktls_sending(&self.ssl);
                if let Some(stats) = &self.stats {
                    stats.completed(self.ssl.session_reused(), started.elapsed());
                }
                self.keep_session();
                Ok(())
            }
            Outcome::WantRead => {
                self.wants_write = false;
                Err(io::ErrorKind::WouldBlock.into())
            }
            Outcome::WantWrite => {
                self.wants_write = true;
                Err(io::ErrorKind::WouldBlock.into())
            }
            Outcome::Closed => {
                self.state = State::Done;
                self.release();
                if let Some(stats) = &self.stats {
                    stats.failed(Failure::Abandoned);
                }
                Err(io::ErrorKind::UnexpectedEof.into())
            }
            Outcome::Io(e) => {
                let _ = self.fail(Failure::Abandoned, sock);
                Err(e)
            }
            Outcome::Tls(errors) => {
                let why = if mark(&self.ssl) == Some(Mark::Overload) {
                    Failure::Overload
                } else {
                    classify(&errors)
                };
                let _ = self.fail(why, sock);
                Err(io::Error::new(io::ErrorKind::InvalidData, errors))
            }
        }
    }

    /// Ends a failed handshake: counted, answered if it was plain HTTP.
    fn fail(&mut self, why: Failure, sock: &TcpStream) -> io::Error {
        self.state = State::Done;
        self.release();
        if let Some(stats) = &self.stats {
            stats.failed(why);
            if why == Failure::PlainHttp {
                let _ = io_ops::write(sock, PLAIN_HTTP_400);
                let _ = socket::shutdown_write(sock);
            }
        }
        io::Error::new(io::ErrorKind::InvalidData, why.name())
    }

    /// Gives back this connection's place in the shard's in-flight bound.
    fn release(&mut self) {
        if !self.released && mark(&self.ssl) == Some(Mark::Counted) {
            self.released = true;
            super::release_handshake();
        }
    }

    /// Client side: keeps the session for the next connection to resume.
    fn keep_session(&self) {
        if let (Some(slot), Some(session)) = (&self.session, self.ssl.session()) {
            if ffi::session_resumable(session) {
                // A private copy: the connection's own object is marked
                // unusable by OpenSSL if the connection ends badly.
                let copy = session.to_der().ok().and_then(|der| SslSession::from_der(&der).ok());
                if let (Ok(mut s), Some(copy)) = (slot.lock(), copy) {
                    *s = Some(copy);
                }
            }
        }
    }

    fn rw_result(&mut self, outcome: Outcome) -> io::Result<usize> {
        match outcome {
            Outcome::Done(n) => Ok(n),
            Outcome::WantRead | Outcome::WantWrite => Err(io::ErrorKind::WouldBlock.into()),
            Outcome::Closed => {
                self.state = State::Done;
                Ok(0)
            }
            Outcome::Io(e) => {
                self.state = State::Done;
                Err(e)
            }
            Outcome::Tls(errors) => {
                self.state = State::Done;
                Err(tls_error(errors))
            }
        }
    }
}

impl Transport for TlsStream {
    fn read(&mut self, sock: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
        match self.handshake(sock) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
            Err(e) => return Err(e),
        }
        let outcome = ffi::read(&mut self.ssl, buf);
        let n = self.rw_result(outcome)?;
        if self.session.is_some() {
            // TLS 1.3 sends its tickets after the handshake: keep the newest.
            self.keep_session();
        }
        Ok(n)
    }

    fn write(&mut self, sock: &TcpStream, buf: &[u8]) -> io::Result<usize> {
        match self.handshake(sock) {
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Err(io::ErrorKind::BrokenPipe.into())
            }
            other => other?,
        }
        let outcome = ffi::write(&mut self.ssl, buf);
        match self.rw_result(outcome)? {
            0 => Err(io::ErrorKind::BrokenPipe.into()),
            n => Ok(n),
        }
    }

    fn flush(&mut self, sock: &TcpStream) -> io::Result<Flush> {
        if let State::Handshake(_) = self.state {
            match self.handshake(sock) {
                Ok(()) => {}
                // Blocked only if it waits to write; waiting for the peer's
                // next message is the reading side's business.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Ok(if self.wants_write { Flush::Blocked } else { Flush::Done });
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Flush::Done)
    }

    fn sends_files(&self) -> bool {
        self.ktls
    }

    fn alpn(&self) -> Option<&[u8]> {
        self.ssl.selected_alpn_protocol()
    }

    fn has_buffered_input(&self) -> bool {
        matches!(self.state, State::Open) && ffi::has_pending(&self.ssl)
    }

    fn close_write(&mut self, sock: &TcpStream) -> io::Result<()> {
        if let State::Open = self.state {
            // close_notify (RFC 8446 §6.1), best effort: a full socket
            // loses it, and the FIN that follows still ends the stream.
            let _ = ffi::shutdown(&mut self.ssl);
            self.state = State::Done;
        }
        socket::shutdown_write(sock)
    }
}

impl Drop for TlsStream {
    fn drop(&mut self) {
        if let State::Handshake(started) = self.state {
            // Closed mid-handshake: the handshake timeout, or the client
            // left. (A connection that never sent a byte had none.)
            if let Some(stats) = self.stats.as_ref().filter(|_| started.is_some()) {
                stats.failed(Failure::Abandoned);
            }
            self.release();
        }
    }
}

/// Which failure an OpenSSL error stack describes.
fn classify(errors: &ErrorStack) -> Failure {
    for e in errors.errors() {
        return match e.reason_code() {
            R_HTTP_REQUEST | R_HTTPS_PROXY_REQUEST => Failure::PlainHttp,
            R_UNSUPPORTED_PROTOCOL | R_VERSION_TOO_LOW | R_NO_PROTOCOLS_AVAILABLE => Failure::Version,
            R_NO_SHARED_CIPHER | R_NO_SUITABLE_SIGNATURE_ALGORITHM | R_NO_SHARED_GROUP => {
                Failure::NoCommonCipher
            }
            R_NO_APPLICATION_PROTOCOL => Failure::Alpn,
            R_PEER_DID_NOT_RETURN_A_CERTIFICATE | R_CERTIFICATE_VERIFY_FAILED => Failure::ClientCertificate,
            R_WRONG_VERSION_NUMBER => Failure::Protocol,
            _ => continue,
        };
    }
    Failure::Protocol
}

fn tls_error(e: ErrorStack) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

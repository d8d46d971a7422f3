//! The OpenSSL calls the `openssl` crate does not wrap (the `tls` feature).
//!
//! The crate owns the objects (`SslContext`, `Ssl`, `X509`, ...) and their
//! lifetimes; this module adds the few calls weir's TLS transport needs that
//! it lacks, each a thin safe wrapper, so that [`crate::tls`] has no
//! `unsafe` at all:
//!
//! * [`attach_socket`] — `SSL_set_fd`: OpenSSL reads and writes the socket
//!   itself through its own socket BIO, with no Rust callback per record
//!   (the crate's `SslStream` would go through a callback BIO).
//! * [`handshake`], [`read`], [`write()`], [`shutdown`] — `SSL_do_handshake`,
//!   `SSL_read_ex`, `SSL_write_ex`, `SSL_shutdown`, with `SSL_get_error`
//!   folded into one [`Outcome`], and the thread's error queue drained on
//!   every failure so a stale error never leaks into another connection's
//!   verdict.
//! * [`client_hello_ext`] — `SSL_client_hello_get0_ext`: the raw bytes of an
//!   extension, read in the ClientHello callback (before OpenSSL has parsed
//!   anything, which is why the certificate is chosen there).
//! * [`add_chain_cert`] — `SSL_CTX_add1_chain_cert`: a chain per
//!   certificate, so an RSA and an ECDSA certificate in one context each
//!   send their own intermediates.
//! * [`set_ticket_key_callback`] — `SSL_CTX_set_tlsext_ticket_key_cb`: the
//!   session ticket keys come from weir ([`crate::tls`] derives them from a
//!   secret), not from OpenSSL's per-context random key, so every shard and
//!   every restart accept each other's tickets.
//! * [`ktls_sending`] — `BIO_get_ktls_send`: whether the kernel encrypts
//!   this connection's output (then `sendfile(2)` still works).

use std::ffi::{c_int, c_long, c_uchar, c_void};
use std::io;
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::ptr;

use foreign_types_shared::ForeignTypeRef;
use openssl::error::ErrorStack;
use openssl::ssl::{SslContextBuilder, SslContextRef, SslRef};
use openssl::x509::X509Ref;
use openssl_sys as ffi;

/// What one `SSL_*` call did.
#[derive(Debug)]
pub enum Outcome {
    /// It succeeded; for reads and writes, this many bytes.
    Done(usize),
    /// It needs the socket to be readable first.
    WantRead,
    /// It needs the socket to be writable first.
    WantWrite,
    /// The peer closed: its `close_notify`, or the end of the stream.
    Closed,
    /// The socket failed.
    Io(io::Error),
    /// TLS failed (a bad record, an alert, no shared cipher, ...).
    Tls(ErrorStack),
}

/// One session ticket key: a name the ticket carries, and the keys that
/// authenticate (HMAC-SHA256) and encrypt (AES-256-CBC) it, as RFC 5077's
/// recommended ticket construction has them.
#[derive(Clone)]
pub struct TicketKey {
    /// Sent in the clear at the start of each ticket.
    pub name: [u8; 16],
    /// HMAC-SHA256 key.
    pub hmac: [u8; 32],
    /// AES-256 key.
    pub aes: [u8; 32],
}

impl std::fmt::Debug for TicketKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key material.
        f.debug_struct("TicketKey").field("name", &self.name).finish_non_exhaustive()
    }
}

/// Where the ticket key callback finds keys: the key to seal new tickets
/// with, and the key a received ticket names (and whether to replace that
/// ticket with one under the current key).
pub trait TicketKeySource: Send + Sync + 'static {
    /// The key new tickets are sealed with.
    fn current(&self) -> Option<TicketKey>;
    /// The key named `name`, and whether the ticket should be renewed.
    fn find(&self, name: &[u8; 16]) -> Option<(TicketKey, bool)>;
}

// `SSL_CTRL_SET_TLSEXT_TICKET_KEY_CB` (tls1.h) and `BIO_CTRL_GET_KTLS_SEND` (bio.h).
const SSL_CTRL_SET_TLSEXT_TICKET_KEY_CB: c_int = 72;
const BIO_CTRL_GET_KTLS_SEND: c_int = 73;

type TicketKeyCb = unsafe extern "C" fn(
    *mut ffi::SSL,
    *mut c_uchar,
    *mut c_uchar,
    *mut ffi::EVP_CIPHER_CTX,
    *mut ffi::HMAC_CTX,
    c_int,
) -> c_int;

extern "C" {
    fn SSL_set_fd(ssl: *mut ffi::SSL, fd: c_int) -> c_int;
    fn SSL_has_pending(ssl: *const ffi::SSL) -> c_int;
    fn SSL_SESSION_is_resumable(session: *const ffi::SSL_SESSION) -> c_int;
    fn SSL_CTX_set_timeout(ctx: *mut ffi::SSL_CTX, seconds: c_long) -> c_long;
    #[link_name = "SSL_CTX_callback_ctrl"]
    fn ctx_callback_ctrl_ticket(ctx: *mut ffi::SSL_CTX, cmd: c_int, cb: Option<TicketKeyCb>) -> c_long;
}

/// Makes `sock` the connection's transport: OpenSSL reads and writes it
/// with `read(2)`/`write(2)` through a socket BIO that does not close it.
///
/// # Errors
///
/// OpenSSL could not allocate the BIO.
pub fn attach_socket(ssl: &mut SslRef, sock: &TcpStream) -> Result<(), ErrorStack> {
    // SAFETY: `ssl` is a live SSL object (a `&mut SslRef`). The descriptor is
    // only stored; SSL_set_fd's BIO is created with BIO_NOCLOSE, so OpenSSL
    // never closes it. The caller keeps the socket open for as long as the
    // SSL object is used (both belong to the same connection).
    let ok = unsafe { SSL_set_fd(ssl.as_ptr(), sock.as_raw_fd()) };
    if ok == 1 {
        Ok(())
    } else {
        Err(ErrorStack::get())
    }
}

/// `SSL_do_handshake`: one step of the handshake.
pub fn handshake(ssl: &mut SslRef) -> Outcome {
    // SAFETY: `ssl` is a live SSL object with a socket attached.
    let ret = unsafe { ffi::SSL_do_handshake(ssl.as_ptr()) };
    if ret == 1 {
        Outcome::Done(0)
    } else {
        outcome(ssl, ret)
    }
}

/// `SSL_read_ex`: decrypted bytes into `buf` (it also runs the handshake if
/// it has not finished).
pub fn read(ssl: &mut SslRef, buf: &mut [u8]) -> Outcome {
    let mut n = 0usize;
    // SAFETY: the pointer and length come from a live, writable slice;
    // `n` is a valid out-pointer for the call's duration.
    let ret = unsafe { ffi::SSL_read_ex(ssl.as_ptr(), buf.as_mut_ptr().cast(), buf.len(), &mut n) };
    if ret == 1 {
        Outcome::Done(n)
    } else {
        outcome(ssl, ret)
    }
}

/// `SSL_write_ex`: `buf` encrypted and sent (with
/// `SSL_MODE_ENABLE_PARTIAL_WRITE`, possibly only part of it).
pub fn write(ssl: &mut SslRef, buf: &[u8]) -> Outcome {
    let mut n = 0usize;
    // SAFETY: the pointer and length come from a live slice; `n` is a valid
    // out-pointer for the call's duration.
    let ret = unsafe { ffi::SSL_write_ex(ssl.as_ptr(), buf.as_ptr().cast(), buf.len(), &mut n) };
    if ret == 1 {
        Outcome::Done(n)
    } else {
        outcome(ssl, ret)
    }
}

/// `SSL_shutdown`, once: sends our `close_notify` (`Done(0)` when sent).
pub fn shutdown(ssl: &mut SslRef) -> Outcome {
    // SAFETY: `ssl` is a live SSL object.
    let ret = unsafe { ffi::SSL_shutdown(ssl.as_ptr()) };
    if ret >= 0 {
        Outcome::Done(0)
    } else {
        outcome(ssl, ret)
    }
}

/// Classifies a failed call with `SSL_get_error`, draining the thread's
/// OpenSSL error queue either way.
fn outcome(ssl: &SslRef, ret: c_int) -> Outcome {
    // SAFETY: `ssl` is live and `ret` is the value the last call on it
    // returned, as SSL_get_error requires.
    let code = unsafe { ffi::SSL_get_error(ssl.as_ptr(), ret) };
    let errors = ErrorStack::get();
    match code {
        ffi::SSL_ERROR_WANT_READ => Outcome::WantRead,
        ffi::SSL_ERROR_WANT_WRITE => Outcome::WantWrite,
        ffi::SSL_ERROR_ZERO_RETURN => Outcome::Closed,
        ffi::SSL_ERROR_SYSCALL => {
            let e = io::Error::last_os_error();
            if !errors.errors().is_empty() {
                Outcome::Tls(errors)
            } else if e.raw_os_error().unwrap_or(0) == 0 {
                // No errno: the peer closed the stream without close_notify.
                Outcome::Closed
            } else {
                Outcome::Io(e)
            }
        }
        _ => Outcome::Tls(errors),
    }
}

/// The body of extension `kind` in the ClientHello being processed (call
/// only from the ClientHello callback).
pub fn client_hello_ext(ssl: &SslRef, kind: u32) -> Option<&[u8]> {
    let mut data: *const c_uchar = ptr::null();
    let mut len = 0usize;
    // SAFETY: `ssl` is live; the out-pointers are valid for the call. On
    // success OpenSSL points `data` into the ClientHello it holds, which
    // outlives this borrow of `ssl` (it is freed only after the callback).
    let found = unsafe { ffi::SSL_client_hello_get0_ext(ssl.as_ptr(), kind, &mut data, &mut len) };
    if found != 1 || data.is_null() {
        return None;
    }
    // SAFETY: OpenSSL returned a pointer to `len` readable bytes (see above).
    Some(unsafe { std::slice::from_raw_parts(data, len) })
}

/// Adds `cert` to the chain of the certificate most recently set on `ctx`
/// (`SSL_CTX_add1_chain_cert`: the context takes its own reference).
///
/// # Errors
///
/// OpenSSL refused it.
pub fn add_chain_cert(ctx: &mut SslContextBuilder, cert: &X509Ref) -> Result<(), ErrorStack> {
    // SAFETY: both objects are live; with larg = 1 (add1) OpenSSL takes its
    // own reference to `cert`, so ours stays valid and owned by the caller.
    let ok = unsafe {
        ffi::SSL_CTX_ctrl(ctx.as_ptr(), ffi::SSL_CTRL_CHAIN_CERT, 1, cert.as_ptr().cast::<c_void>())
    };
    if ok == 1 {
        Ok(())
    } else {
        Err(ErrorStack::get())
    }
}

/// Has the contexts built by weir take ticket keys from `source`: it is
/// stored in the context's ex-data and read by the callback.
///
/// # Errors
///
/// OpenSSL could not store it.
pub fn set_ticket_key_callback(
    ctx: &mut SslContextBuilder,
    source: std::sync::Arc<dyn TicketKeySource>,
) -> Result<(), ErrorStack> {
    ctx.set_ex_data(ticket_index()?, source);
    // SAFETY: `ticket_key_cb` has exactly the C signature OpenSSL calls for
    // SSL_CTRL_SET_TLSEXT_TICKET_KEY_CB; the context is live.
    unsafe { ctx_callback_ctrl_ticket(ctx.as_ptr(), SSL_CTRL_SET_TLSEXT_TICKET_KEY_CB, Some(ticket_key_cb)) };
    Ok(())
}

fn ticket_index(
) -> Result<openssl::ex_data::Index<openssl::ssl::SslContext, std::sync::Arc<dyn TicketKeySource>>, ErrorStack>
{
    static INDEX: std::sync::OnceLock<
        openssl::ex_data::Index<openssl::ssl::SslContext, std::sync::Arc<dyn TicketKeySource>>,
    > = std::sync::OnceLock::new();
    if let Some(i) = INDEX.get() {
        return Ok(*i);
    }
    let i = openssl::ssl::SslContext::new_ex_index()?;
    Ok(*INDEX.get_or_init(|| i))
}

/// OpenSSL's ticket key callback (RFC 5077 tickets, and TLS 1.3's stateless
/// ones). Sealing (`enc == 1`): write the current key's name and a fresh
/// IV, set up AES-256-CBC and HMAC-SHA256 with its keys; return 1, or 0 to
/// issue no ticket. Opening (`enc == 0`): find the named key; 0 means
/// unknown (a full handshake follows), 1 accepted, 2 accepted and renewed.
unsafe extern "C" fn ticket_key_cb(
    ssl: *mut ffi::SSL,
    name: *mut c_uchar,
    iv: *mut c_uchar,
    cipher: *mut ffi::EVP_CIPHER_CTX,
    hmac: *mut ffi::HMAC_CTX,
    enc: c_int,
) -> c_int {
    // A panic must not unwind into OpenSSL.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: OpenSSL passes the live SSL object of the handshake.
        let ssl = unsafe { SslRef::from_ptr(ssl) };
        // Every context weir builds for a listener holds the same source in
        // its ex-data, so whichever one the connection has now will do.
        // SAFETY: SSL_get_SSL_CTX returns the SSL's live context; we only borrow it.
        let ctx = unsafe { SslContextRef::from_ptr(ffi::SSL_get_SSL_CTX(ssl.as_ptr())) };
        let Some(source) = ticket_index().ok().and_then(|i| ctx.ex_data(i)) else {
            return 0;
        };
        let (key, ret) = if enc == 1 {
            let Some(key) = source.current() else { return 0 };
            // SAFETY: OpenSSL passes `name` with room for 16 bytes and `iv`
            // with room for EVP_MAX_IV_LENGTH (16) bytes.
            unsafe {
                ptr::copy_nonoverlapping(key.name.as_ptr(), name, 16);
                if ffi::RAND_bytes(iv, 16) != 1 {
                    return -1;
                }
            }
            (key, 1)
        } else {
            let mut wanted = [0u8; 16];
            // SAFETY: `name` points to the ticket's 16-byte key name.
            unsafe { ptr::copy_nonoverlapping(name, wanted.as_mut_ptr(), 16) };
            match source.find(&wanted) {
                Some((key, renew)) => (key, if renew { 2 } else { 1 }),
                None => return 0,
            }
        };
        // SAFETY: `hmac` and `cipher` are the live contexts OpenSSL passed;
        // the key buffers are 32 bytes (HMAC key, AES-256 key) and `iv` is 16
        // bytes as above; the algorithm objects are static.
        let ok = unsafe {
            let h = ffi::HMAC_Init_ex(hmac, key.hmac.as_ptr().cast(), 32, ffi::EVP_sha256(), ptr::null_mut());
            let c = if enc == 1 {
                ffi::EVP_EncryptInit_ex(cipher, ffi::EVP_aes_256_cbc(), ptr::null_mut(), key.aes.as_ptr(), iv)
            } else {
                ffi::EVP_DecryptInit_ex(cipher, ffi::EVP_aes_256_cbc(), ptr::null_mut(), key.aes.as_ptr(), iv)
            };
            h == 1 && c == 1
        };
        if ok {
            ret
        } else {
            -1
        }
    }))
    .unwrap_or(-1)
}

/// True if the kernel encrypts this connection's output (kernel TLS for
/// sending is on), so `sendfile(2)` on the raw socket sends valid records.
pub fn ktls_sending(ssl: &SslRef) -> bool {
    // SAFETY: `ssl` is live; SSL_get_wbio returns its write BIO (or null),
    // which BIO_ctrl only queries.
    unsafe {
        let wbio = ffi::SSL_get_wbio(ssl.as_ptr());
        !wbio.is_null() && ffi::BIO_ctrl(wbio, BIO_CTRL_GET_KTLS_SEND, 0, ptr::null_mut()) > 0
    }
}

/// `SSL_CTX_set_timeout`: how long a session (and so a ticket) may be
/// resumed, in seconds.
pub fn set_session_timeout(ctx: &mut SslContextBuilder, seconds: u32) {
    // SAFETY: the context is live; the call only stores the value.
    unsafe { SSL_CTX_set_timeout(ctx.as_ptr(), c_long::from(seconds)) };
}

/// `SSL_set_session`: offers `session` for resumption on a client
/// connection. Only for sessions obtained from connections of the same
/// context (the client connector keeps that rule: it stores sessions of its
/// own connections only).
///
/// # Errors
///
/// OpenSSL refused the session.
pub fn offer_session(ssl: &mut SslRef, session: &openssl::ssl::SslSessionRef) -> Result<(), ErrorStack> {
    // SAFETY: both objects are live; SSL_set_session takes its own
    // reference. The session comes from the same SSL_CTX (see above), the
    // condition the crate's `unsafe fn set_session` asks for.
    let ok = unsafe { ffi::SSL_set_session(ssl.as_ptr(), session.as_ptr()) };
    if ok == 1 {
        Ok(())
    } else {
        Err(ErrorStack::get())
    }
}

/// `SSL_has_pending`: OpenSSL holds input not yet returned by a read
/// (decrypted, or read ahead from the socket), which no new socket edge
/// will announce.
pub fn has_pending(ssl: &SslRef) -> bool {
    // SAFETY: `ssl` is live; the call only inspects its buffers.
    unsafe { SSL_has_pending(ssl.as_ptr()) == 1 }
}

/// `SSL_SESSION_is_resumable`: the session can be offered again (a TLS 1.3
/// session is only once its ticket has arrived).
pub fn session_resumable(session: &openssl::ssl::SslSessionRef) -> bool {
    // SAFETY: the session is live; the call only reads it.
    unsafe { SSL_SESSION_is_resumable(session.as_ptr()) == 1 }
}

//! The client side: TLS on outbound connections ([`TlsConnector`]), and the
//! loopback handshake that proves a certificate before it is served.
//!
//! An outbound connection gets TLS once `connect(2)` has completed: in
//! `Protocol::on_connected`, the protocol calls
//! [`Ctx::start_transport`](crate::Ctx::start_transport) with
//! [`TlsConnector::wrap`]; the shard then drives the handshake (the
//! ClientHello goes out on the next flush) and the protocol writes and
//! reads plaintext as before. `weir bench https://` is built this way.
//!
//! A connector can keep the last session it was given and offer it on the
//! next connection, so a load generator can measure resumed handshakes as
//! well as full ones.

use std::io;
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::{Arc, Mutex};

use openssl::ssl::{
    HandshakeError, Ssl, SslConnector, SslContext, SslContextBuilder, SslMethod, SslMode, SslSession,
    SslStream, SslVerifyMode, SslVersion,
};

use super::certs::{KeyKind, Loaded};
use super::stream::{SessionSlot, TlsStream};
use super::TlsError;
use crate::sys::tls as ffi;
use crate::transport::Transport;

/// Makes client-side TLS transports for outbound connections.
pub struct TlsConnector {
    ctx: SslContext,
    verify: bool,
    /// Where the last session is kept, when resuming.
    session: Option<SessionSlot>,
}

impl std::fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConnector")
            .field("verify", &self.verify)
            .field("resume", &self.session.is_some())
            .finish_non_exhaustive()
    }
}

impl TlsConnector {
    /// A connector offering `alpn` (wire format). With `ca`, the server's
    /// certificate must verify against it and name the host; without, it
    /// is not checked at all (a load generator against a test certificate).
    /// With `resume`, each connection offers the session of the last one.
    ///
    /// # Errors
    ///
    /// The CA file cannot be read, or OpenSSL refuses a setting.
    pub fn new(alpn: &[u8], ca: Option<&Path>, resume: bool) -> Result<TlsConnector, TlsError> {
        let e = |e: openssl::error::ErrorStack| TlsError::new("TLS client", e.to_string());
        let mut b = SslContextBuilder::new(SslMethod::tls_client()).map_err(e)?;
        b.set_min_proto_version(Some(SslVersion::TLS1_2)).map_err(e)?;
        b.set_mode(
            SslMode::RELEASE_BUFFERS | SslMode::ENABLE_PARTIAL_WRITE | SslMode::ACCEPT_MOVING_WRITE_BUFFER,
        );
        b.set_read_ahead(true);
        b.set_alpn_protos(alpn).map_err(e)?;
        match ca {
            Some(path) => {
                b.set_ca_file(path).map_err(|err| TlsError::new(path, err.to_string()))?;
                b.set_verify(SslVerifyMode::PEER);
            }
            None => b.set_verify(SslVerifyMode::NONE),
        }
        Ok(TlsConnector {
            ctx: b.build(),
            verify: ca.is_some(),
            session: resume.then(|| Arc::new(Mutex::new(None))),
        })
    }

    /// A client transport for `sock` (connected), sending `server_name` as
    /// SNI (and checking the certificate names it, when verifying).
    ///
    /// # Errors
    ///
    /// OpenSSL could not set the connection up.
    pub fn wrap(&self, sock: &TcpStream, server_name: Option<&str>) -> io::Result<Box<dyn Transport>> {
        let err = |e: openssl::error::ErrorStack| io::Error::new(io::ErrorKind::InvalidInput, e);
        let mut ssl = Ssl::new(&self.ctx).map_err(err)?;
        if let Some(name) = server_name.filter(|n| n.parse::<std::net::IpAddr>().is_err()) {
            ssl.set_hostname(name).map_err(err)?;
            if self.verify {
                ssl.param_mut().set_host(name).map_err(err)?;
            }
        }
        if let Some(slot) = &self.session {
            // Each connection gets its own copy: OpenSSL marks a session it
            // has used in ways that would spoil it for the next connection.
            let kept = slot.lock().ok().and_then(|s| s.as_ref().and_then(|s| s.to_der().ok()));
            if let Some(session) = kept.and_then(|der| SslSession::from_der(&der).ok()) {
                ffi::offer_session(&mut ssl, &session).map_err(err)?;
            }
        }
        Ok(Box::new(TlsStream::connect(ssl, sock, self.session.clone())?))
    }
}

/// Proves that `cert` is served for `name` by `dispatch`: a full handshake
/// over a socket pair, the client accepting only `cert`'s key kind, and the
/// certificate it receives compared with `cert`.
pub(super) fn loopback_check(dispatch: &SslContext, name: &str, cert: &Loaded) -> Result<(), TlsError> {
    let fail = |why: String| TlsError::new(&cert.pair.cert, format!("loopback handshake as {name}: {why}"));
    let (a, b) = UnixStream::pair().map_err(|e| fail(e.to_string()))?;
    for s in [&a, &b] {
        s.set_nonblocking(true).map_err(|e| fail(e.to_string()))?;
    }
    let mut client = SslConnector::builder(SslMethod::tls_client()).map_err(|e| fail(e.to_string()))?;
    client.set_verify(SslVerifyMode::NONE);
    let sigalgs = match cert.kind {
        KeyKind::Ecdsa => Some("ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512"),
        KeyKind::Rsa => Some("RSA-PSS+SHA256:RSA-PSS+SHA384:RSA+SHA256:RSA+SHA384"),
        KeyKind::Other => None,
    };
    if let Some(list) = sigalgs {
        client.set_sigalgs_list(list).map_err(|e| fail(e.to_string()))?;
    }
    // No ALPN offered: the check is about the certificate, whatever the
    // listener speaks.
    let client = client.build();
    let mut config = client.configure().map_err(|e| fail(e.to_string()))?;
    config.set_verify_hostname(false);
    let mut server_ssl = Ssl::new(dispatch).map_err(|e| fail(e.to_string()))?;
    // A mutual-TLS listener would ask for a client certificate the check
    // does not have: the server side checks nothing of the client here.
    server_ssl.set_verify(SslVerifyMode::NONE);
    // Not a client: the shard's in-flight bound does not apply.
    super::stream::mark_probe(&mut server_ssl);
    let mut server = Side::Start(server_ssl, b, false);
    let mut client = Side::Start(config.into_ssl(name).map_err(|e| fail(e.to_string()))?, a, true);
    for _ in 0..64 {
        server = server.step().map_err(&fail)?;
        client = client.step().map_err(&fail)?;
        if let (Side::Done(_), Side::Done(c)) = (&server, &client) {
            let got = c.ssl().peer_certificate().ok_or_else(|| fail("no certificate".into()))?;
            let want = cert.chain[0].to_der().map_err(|e| fail(e.to_string()))?;
            if got.to_der().map_err(|e| fail(e.to_string()))? != want {
                return Err(fail("another certificate was served".into()));
            }
            return Ok(());
        }
    }
    Err(fail("did not complete".into()))
}

/// One side of the loopback handshake.
enum Side {
    Start(Ssl, UnixStream, bool),
    Mid(openssl::ssl::MidHandshakeSslStream<UnixStream>),
    Done(SslStream<UnixStream>),
}

impl Side {
    fn step(self) -> Result<Side, String> {
        let res = match self {
            Side::Start(ssl, sock, true) => ssl.connect(sock),
            Side::Start(ssl, sock, false) => ssl.accept(sock),
            Side::Mid(mid) => mid.handshake(),
            done @ Side::Done(_) => return Ok(done),
        };
        match res {
            Ok(s) => Ok(Side::Done(s)),
            Err(HandshakeError::WouldBlock(mid)) => Ok(Side::Mid(mid)),
            Err(HandshakeError::Failure(mid)) => Err(mid.error().to_string()),
            Err(HandshakeError::SetupFailure(e)) => Err(e.to_string()),
        }
    }
}

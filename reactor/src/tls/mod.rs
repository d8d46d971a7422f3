//! TLS 1.2 and 1.3 as a [`Transport`], through OpenSSL
//! (the `tls` feature, on by default).
//!
//! A listener gets TLS by carrying a [`TlsAcceptor`] as its transport
//! factory ([`Endpoint::transport`](crate::Endpoint::transport)); the
//! protocol above (HTTP/1.1, WebSocket, later HTTP/2) sees plaintext and
//! never knows. `docs/tls.md` follows one connection from ClientHello to
//! the first encrypted byte of a response.
//!
//! ```text
//!  accept4 ─ TlsAcceptor::wrap: SSL_new on the dispatch context, SSL_set_fd
//!    │
//!  ClientHello ─ client_hello callback (before OpenSSL parses anything):
//!    │             admit (bound on full handshakes in flight per shard,
//!    │             resumptions always admitted), read SNI, switch to that
//!    │             name's certificate set (SSL_set_SSL_CTX) and so to its
//!    │             session ID context
//!    │           ─ ALPN callback (`alpn`), session lookup / ticket key
//!    │             callback (`tickets`), certificate by signature algorithms
//!  Finished ─ counted (full or resumed, time); kernel TLS looked up
//!    │
//!  SSL_read_ex / SSL_write_ex on the socket until WANT_READ / WANT_WRITE
//! ```
//!
//! What it is configured with ([`TlsSettings`]): certificate pairs (the
//! first is the default; ECDSA and RSA for the same names form one set),
//! an optional client CA for mTLS, the ALPN protocols, the ticket secret
//! and rotation, a bound on handshakes in flight per shard. The profile is
//! Mozilla's *intermediate*: TLS 1.2 and 1.3 only; at 1.2 only ECDHE with
//! AES-GCM or ChaCha20-Poly1305, in the server's order; no compression, no
//! renegotiation; `SSL_MODE_RELEASE_BUFFERS`, so an idle connection holds
//! no TLS buffers.
//!
//! Why the certificate is chosen in the ClientHello callback and not in
//! the classic SNI callback: OpenSSL runs the SNI callback after it has
//! looked at the client's session (for TLS 1.3, its PSK), so a session
//! issued for one name could resume under another name's certificate —
//! the CVE-2025-23419 class. Switching context first makes every
//! resumption check run against the chosen set's own session ID context,
//! which is derived from its names: a session never crosses sets.
//!
//! [`TlsAcceptor::reload`] re-reads every file, checks each certificate,
//! tries a loopback handshake with each, and only then swaps the contexts
//! in one step; connections already open keep theirs.

mod certs;
mod client;
mod stats;
mod stream;
mod tickets;

use std::fmt;
use std::io;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use openssl::ssl::{
    AlpnError, ClientHelloResponse, SslAlert, SslContext, SslContextBuilder, SslMethod, SslMode, SslOptions,
    SslRef, SslSessionCacheMode, SslVerifyMode, SslVersion,
};
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::X509;

pub use certs::{CertInfo, CertPair, KeyKind};
pub use client::TlsConnector;
pub use stats::{Failure, TlsStatsSnapshot, HANDSHAKE_BUCKETS_US};

use crate::sys::{socket, tls as ffi};
use crate::transport::{Transport, TransportFactory};
use certs::{Loaded, NameMap};
use stats::TlsStats;
use stream::TlsStream;
use tickets::TicketKeys;

/// ALPN wire format (RFC 7301 §3.1) for HTTP/1.1 only.
pub const ALPN_HTTP1: &[u8] = b"\x08http/1.1";
/// ALPN wire format for HTTP/2, then HTTP/1.1.
pub const ALPN_H2_HTTP1: &[u8] = b"\x02h2\x08http/1.1";

/// The TLS 1.2 cipher suites of Mozilla's intermediate profile that need no
/// Diffie-Hellman parameters, strongest first (TLS 1.3's suites are
/// OpenSSL's defaults, all AEAD).
const TLS12_CIPHERS: &str = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:\
ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:\
ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

/// Key exchange groups, in preference order.
const GROUPS: &str = "X25519:P-256:P-384";

/// A TLS configuration problem, with the file (or setting) it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsError {
    /// The file or setting.
    pub what: String,
    /// What is wrong with it.
    pub message: String,
}

impl TlsError {
    pub(crate) fn new(what: impl AsRef<Path>, message: impl Into<String>) -> TlsError {
        TlsError { what: what.as_ref().display().to_string(), message: message.into() }
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.message)
    }
}

impl std::error::Error for TlsError {}

impl From<TlsError> for io::Error {
    fn from(e: TlsError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidInput, e)
    }
}

/// Where session ticket keys come from (see `tickets`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketSecret {
    /// A random secret drawn once per process: tickets survive reloads,
    /// not restarts.
    Random,
    /// The SHA-256 of this file's contents (at least 32 bytes of random
    /// data, e.g. `openssl rand 48 > ticket.key`): tickets survive restarts
    /// and are accepted by every process sharing the file.
    File(PathBuf),
}

/// What a TLS listener serves.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// Certificate pairs; the first is the default (no SNI, unknown name).
    pub certs: Vec<CertPair>,
    /// mTLS: require a client certificate that verifies against this CA file.
    pub client_ca: Option<PathBuf>,
    /// ALPN protocols in wire format ([`ALPN_HTTP1`], [`ALPN_H2_HTTP1`]).
    pub alpn: &'static [u8],
    /// The ticket key secret.
    pub ticket_secret: TicketSecret,
    /// How often the ticket key changes.
    pub ticket_rotation: Duration,
    /// How long a session or ticket can be resumed.
    pub session_lifetime: Duration,
    /// Full handshakes in flight per shard before new ones are turned away
    /// (resumptions are still admitted).
    pub max_handshakes: usize,
    /// TLS 1.2 session IDs remembered (shared by the listener's shards).
    pub session_cache_size: usize,
}

impl TlsSettings {
    /// Settings serving `certs` (the first is the default) with the defaults.
    pub fn new(certs: Vec<CertPair>) -> TlsSettings {
        TlsSettings {
            certs,
            client_ca: None,
            alpn: ALPN_HTTP1,
            ticket_secret: TicketSecret::Random,
            ticket_rotation: Duration::from_secs(3600),
            session_lifetime: Duration::from_secs(2 * 3600),
            max_handshakes: 1024,
            session_cache_size: 20_480,
        }
    }
}

/// The contexts of one load of the settings: built once, shared by every
/// connection until a reload replaces them.
struct Contexts {
    /// New connections start here; its ClientHello callback picks the set.
    dispatch: SslContext,
    /// What each served certificate is.
    certs: Vec<CertInfo>,
    /// A name of each set, for the loopback check.
    set_names: Vec<String>,
}

/// The [`TransportFactory`] of a TLS listener.
pub struct TlsAcceptor {
    /// The settings of the last successful load (the certificate list
    /// changes with [`TlsAcceptor::reload_with`]).
    settings: RwLock<TlsSettings>,
    keys: Arc<TicketKeys>,
    current: RwLock<Arc<Contexts>>,
    stats: Arc<TlsStats>,
}

impl fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let settings = self.settings.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        f.debug_struct("TlsAcceptor").field("certs", &settings.certs).finish_non_exhaustive()
    }
}

impl TlsAcceptor {
    /// Loads and checks the certificates and builds the contexts.
    ///
    /// # Errors
    ///
    /// A file that cannot be read, a key that does not match its
    /// certificate, an expired certificate, a chain that does not build, a
    /// loopback handshake that fails, or a bad ticket secret.
    pub fn new(settings: TlsSettings) -> Result<TlsAcceptor, TlsError> {
        let secret = load_secret(&settings.ticket_secret)?;
        let keys = Arc::new(TicketKeys::new(
            secret,
            settings.ticket_rotation.as_secs(),
            settings.session_lifetime.as_secs(),
        ));
        let contexts = build(&settings, &keys)?;
        Ok(TlsAcceptor {
            settings: RwLock::new(settings),
            keys,
            current: RwLock::new(Arc::new(contexts)),
            stats: Arc::default(),
        })
    }

    /// Re-reads the certificates and keys and, if every one checks out and
    /// completes a loopback handshake, serves them to new connections from
    /// now on (connections already open keep their certificate). On error
    /// the current certificates stay.
    ///
    /// # Errors
    ///
    /// As [`TlsAcceptor::new`]; nothing changed.
    pub fn reload(&self) -> Result<(), TlsError> {
        let settings = self.settings.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let contexts = build(&settings, &self.keys)?;
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(contexts);
        Ok(())
    }

    /// As [`TlsAcceptor::reload`], from another list of certificates and
    /// client CA (a configuration file that changed). The ticket keys stay,
    /// so sessions resume across the change.
    ///
    /// # Errors
    ///
    /// As [`TlsAcceptor::new`]; nothing changed.
    pub fn reload_with(&self, certs: Vec<CertPair>, client_ca: Option<PathBuf>) -> Result<(), TlsError> {
        let mut settings = self.settings.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        settings.certs = certs;
        settings.client_ca = client_ca;
        let contexts = build(&settings, &self.keys)?;
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(contexts);
        *self.settings.write().unwrap_or_else(std::sync::PoisonError::into_inner) = settings;
        Ok(())
    }

    /// The certificates served now.
    pub fn certificates(&self) -> Vec<CertInfo> {
        self.contexts().certs.clone()
    }

    /// The handshake counters.
    pub fn stats(&self) -> TlsStatsSnapshot {
        self.stats.snapshot()
    }

    fn contexts(&self) -> Arc<Contexts> {
        self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

impl TransportFactory for TlsAcceptor {
    fn wrap(&self, sock: &TcpStream) -> io::Result<Box<dyn Transport>> {
        let contexts = self.contexts();
        let stream = TlsStream::accept(&contexts.dispatch, sock, self.stats.clone())?;
        Ok(Box::new(stream))
    }
}

/// True if this kernel offers kernel TLS (`TCP_ULP "tls"`), probed once on
/// a loopback connection. Where it does, OpenSSL hands each connection's
/// keys to the kernel after the handshake and files still go by
/// `sendfile(2)`; where not, file ranges are read into 64 KiB pieces and
/// encrypted by OpenSSL.
pub fn kernel_tls_available() -> bool {
    static PROBE: OnceLock<bool> = OnceLock::new();
    *PROBE.get_or_init(|| probe_kernel_tls().is_ok())
}

fn probe_kernel_tls() -> io::Result<()> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let client = TcpStream::connect(listener.local_addr()?)?;
    let (_server, _) = listener.accept()?;
    socket::set_tls_ulp(&client)
}

fn load_secret(secret: &TicketSecret) -> Result<[u8; 32], TlsError> {
    match secret {
        TicketSecret::Random => {
            let mut s = [0u8; 32];
            openssl::rand::rand_bytes(&mut s).map_err(|e| TlsError::new("ticket secret", e.to_string()))?;
            Ok(s)
        }
        TicketSecret::File(path) => {
            let bytes = std::fs::read(path).map_err(|e| TlsError::new(path, format!("cannot read: {e}")))?;
            if bytes.len() < 32 {
                return Err(TlsError::new(
                    path,
                    "a ticket secret needs at least 32 bytes (openssl rand 48 > FILE)",
                ));
            }
            Ok(openssl::sha::sha256(&bytes))
        }
    }
}

/// Loads, checks and builds everything, then proves each certificate with
/// a loopback handshake.
fn build(settings: &TlsSettings, keys: &Arc<TicketKeys>) -> Result<Contexts, TlsError> {
    if settings.certs.is_empty() {
        return Err(TlsError::new("TLS", "no certificate configured"));
    }
    let loaded = settings.certs.iter().map(certs::load).collect::<Result<Vec<_>, _>>()?;
    let infos = loaded
        .iter()
        .map(|c| CertInfo {
            file: c.pair.cert.clone(),
            names: c.names.clone(),
            kind: c.kind,
            not_after_unix: c.not_after_unix,
        })
        .collect();
    let sets = certs::group(loaded)?;
    let names = NameMap::new(sets.iter().map(|s| s[0].names.as_slice()));
    let client_ca = match &settings.client_ca {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| TlsError::new(path, format!("cannot read: {e}")))?;
            let cas = X509::stack_from_pem(&pem)
                .map_err(|e| TlsError::new(path, format!("not a PEM CA file: {e}")))?;
            if cas.is_empty() {
                return Err(TlsError::new(path, "no certificate in the CA file"));
            }
            Some(cas)
        }
        None => None,
    };
    let mut set_contexts = Vec::with_capacity(sets.len());
    for set in &sets {
        let mut b = base_context(settings, keys, client_ca.as_deref(), &set[0].names)?;
        add_certs(&mut b, set)?;
        set_contexts.push(b.build());
    }
    // The dispatch context serves the default set too (a ClientHello that
    // never reaches the callback cannot happen, but it must still be sound),
    // and holds the callback that switches every connection to its set.
    let mut dispatch = base_context(settings, keys, client_ca.as_deref(), &["weir dispatch".to_owned()])?;
    add_certs(&mut dispatch, &sets[0])?;
    // A session cache of its own: TLS 1.2 session IDs live in the context a
    // connection started on, so this one holds them for every set.
    dispatch.set_session_cache_mode(SslSessionCacheMode::SERVER);
    dispatch.set_session_cache_size(i32::try_from(settings.session_cache_size).unwrap_or(i32::MAX));
    let max_handshakes = settings.max_handshakes;
    let set_contexts = Arc::new(set_contexts);
    dispatch.set_client_hello_callback(move |ssl, alert| {
        client_hello(ssl, alert, &set_contexts, &names, max_handshakes)
    });
    let contexts = Contexts {
        dispatch: dispatch.build(),
        certs: infos,
        set_names: sets.iter().map(|s| probe_name(&s[0].names)).collect(),
    };
    for (i, set) in sets.iter().enumerate() {
        for cert in set {
            client::loopback_check(&contexts.dispatch, &contexts.set_names[i], cert)?;
        }
    }
    Ok(contexts)
}

/// A name to ask for a set by in the loopback check (`x.` for a wildcard).
fn probe_name(names: &[String]) -> String {
    let name = &names[0];
    match name.strip_prefix('*') {
        Some(rest) => format!("x{rest}"),
        None => name.clone(),
    }
}

/// A context with the listener's common settings: protocol versions,
/// ciphers, options, session handling, ALPN, client certificates.
fn base_context(
    settings: &TlsSettings,
    keys: &Arc<TicketKeys>,
    client_ca: Option<&[X509]>,
    names: &[String],
) -> Result<SslContextBuilder, TlsError> {
    let e = |e: openssl::error::ErrorStack| TlsError::new("TLS context", e.to_string());
    let mut b = SslContextBuilder::new(SslMethod::tls_server()).map_err(e)?;
    b.set_min_proto_version(Some(SslVersion::TLS1_2)).map_err(e)?;
    let mut options = SslOptions::NO_COMPRESSION
        | SslOptions::NO_RENEGOTIATION
        | SslOptions::CIPHER_SERVER_PREFERENCE
        | SslOptions::IGNORE_UNEXPECTED_EOF;
    if kernel_tls_available() {
        // SSL_OP_ENABLE_KTLS: hand the keys to the kernel after the handshake.
        options |= SslOptions::from_bits_retain(1 << 3);
    }
    b.set_options(options);
    b.set_mode(
        SslMode::RELEASE_BUFFERS | SslMode::ENABLE_PARTIAL_WRITE | SslMode::ACCEPT_MOVING_WRITE_BUFFER,
    );
    // Read whole records (and whatever else has arrived) in one read(2)
    // rather than a header and then a body.
    b.set_read_ahead(true);
    b.set_cipher_list(TLS12_CIPHERS).map_err(e)?;
    b.set_groups_list(GROUPS).map_err(e)?;
    // The session ID context: what a session is bound to. Derived from the
    // set's names (and whether clients are verified), so it is the same in
    // every process and after every reload, and differs between sets.
    let mut id = names.join(",");
    if let Some(path) = &settings.client_ca {
        id.push_str(";mtls=");
        id.push_str(&path.display().to_string());
    }
    b.set_session_id_context(&openssl::sha::sha256(id.as_bytes())).map_err(e)?;
    ffi::set_session_timeout(&mut b, u32::try_from(settings.session_lifetime.as_secs()).unwrap_or(u32::MAX));
    ffi::set_ticket_key_callback(&mut b, keys.clone()).map_err(e)?;
    // TLS 1.3: one ticket per full handshake, not OpenSSL's two (each is
    // sealed, sent and mostly never used: an HTTP client resumes one
    // connection at a time, and a resumption brings a fresh ticket).
    b.set_num_tickets(1).map_err(e)?;
    let alpn = settings.alpn;
    b.set_alpn_select_callback(move |_, offered| select_alpn(alpn, offered).ok_or(AlpnError::ALERT_FATAL));
    if let Some(cas) = client_ca {
        let mut store = X509StoreBuilder::new().map_err(e)?;
        for ca in cas {
            store.add_cert(ca.clone()).map_err(e)?;
            b.add_client_ca(ca).map_err(e)?;
        }
        b.set_verify_cert_store(store.build()).map_err(e)?;
        b.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
    }
    Ok(b)
}

/// Puts each certificate of a set, its chain and key into the context.
fn add_certs(b: &mut SslContextBuilder, set: &[Loaded]) -> Result<(), TlsError> {
    for cert in set {
        let e = |e: openssl::error::ErrorStack| TlsError::new(&cert.pair.cert, e.to_string());
        b.set_certificate(&cert.chain[0]).map_err(e)?;
        for link in &cert.chain[1..] {
            ffi::add_chain_cert(b, link).map_err(e)?;
        }
        b.set_private_key(&cert.key).map_err(e)?;
        b.check_private_key().map_err(e)?;
    }
    Ok(())
}

/// ALPN (RFC 7301 §3.2): the first of our protocols the client offers;
/// none in common is a fatal `no_application_protocol`. The one place that
/// decides which application protocol a TLS connection speaks.
pub fn select_alpn<'a>(ours: &'a [u8], offered: &'a [u8]) -> Option<&'a [u8]> {
    openssl::ssl::select_next_proto(ours, offered)
}

thread_local! {
    /// Full handshakes in flight on this shard (a shard is a thread).
    static IN_FLIGHT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The ClientHello callback: admission, then the certificate set by SNI.
fn client_hello(
    ssl: &mut SslRef,
    alert: &mut SslAlert,
    sets: &[SslContext],
    names: &NameMap,
    max_handshakes: usize,
) -> Result<ClientHelloResponse, openssl::error::ErrorStack> {
    let probe = stream::is_probe(ssl);
    let resuming = probe || offers_resumption(ssl);
    if !resuming && IN_FLIGHT.get() >= max_handshakes {
        stream::mark_overload(ssl);
        *alert = SslAlert::HANDSHAKE_FAILURE;
        return Err(openssl::error::ErrorStack::get());
    }
    let set = ffi::client_hello_ext(ssl, 0)
        .and_then(certs::parse_sni)
        .and_then(|host| names.find(&host))
        .unwrap_or(0);
    if let Some(ctx) = sets.get(set) {
        ssl.set_ssl_context(ctx)?;
    }
    if !resuming {
        IN_FLIGHT.set(IN_FLIGHT.get() + 1);
        stream::mark_counted(ssl);
    }
    Ok(ClientHelloResponse::SUCCESS)
}

/// A full handshake on this shard finished or was abandoned.
fn release_handshake() {
    IN_FLIGHT.set(IN_FLIGHT.get().saturating_sub(1));
}

/// Whether a ClientHello tries to resume: a TLS 1.3 `pre_shared_key`
/// (41), a non-empty TLS 1.2 `session_ticket` (35), or a TLS 1.2-only
/// client (no `supported_versions`, 43) naming a session ID. (A TLS 1.3
/// client always sends a session ID, for middlebox compatibility.)
fn offers_resumption(ssl: &SslRef) -> bool {
    ffi::client_hello_ext(ssl, 41).is_some()
        || ffi::client_hello_ext(ssl, 35).is_some_and(|t| !t.is_empty())
        || (ffi::client_hello_ext(ssl, 43).is_none()
            && ssl.client_hello_session_id().is_some_and(|s| !s.is_empty()))
}

//! The opening handshake, server side (RFC 6455 §4.2; RFC 7692 §5 for extensions).
//!
//! The HTTP layer parses the request; this module only looks at the method,
//! the version and the header fields (as byte slices, so it needs no HTTP
//! crate), decides, and writes the `101 Switching Protocols` head:
//!
//! ```text
//! GET /chat HTTP/1.1                        HTTP/1.1 101 Switching Protocols
//! Host: example.com                         Upgrade: websocket
//! Upgrade: websocket                 --->   Connection: Upgrade
//! Connection: Upgrade                       Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
//! Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==     Sec-WebSocket-Protocol: chat
//! Sec-WebSocket-Version: 13                 Sec-WebSocket-Extensions: permessage-deflate
//! Sec-WebSocket-Protocol: chat, superchat
//! Sec-WebSocket-Extensions: permessage-deflate
//! ```
//!
//! # Checks (§4.2.1), and the answer when one fails
//!
//! | requirement | failure |
//! |---|---|
//! | "An HTTP/1.1 or higher GET request" | 400 |
//! | "A \|Host\| header field" | 400 |
//! | "An \|Upgrade\| header field containing the value "websocket"" (case-insensitive token) | 426 + `Upgrade: websocket` |
//! | "A \|Connection\| header field that includes the token "Upgrade"" | 400 |
//! | "A \|Sec-WebSocket-Key\| header field with a base64-encoded value that, when decoded, is 16 bytes in length" | 400 |
//! | "A \|Sec-WebSocket-Version\| header field, with a value of 13" | 426 (§4.4) |
//! | Origin refused by the configured check (§4.2.2 "such as 403 Forbidden") | 403 |
//!
//! Every error response carries `Sec-WebSocket-Version: 13` (§4.4: "send an
//! appropriate HTTP error code ... and a |Sec-WebSocket-Version| header field
//! indicating the version(s) the server is capable of understanding").
//!
//! Subprotocols: "the server ... selects one or none of the acceptable
//! protocols and echoes that value" — we take the first of *our* list (server
//! preference order) that the client offered. A client offering only unknown
//! protocols gets no `Sec-WebSocket-Protocol` and may then close.

use std::fmt;
use std::sync::Arc;

use crate::deflate::DeflateConfig;
use crate::{base64, extension, sha1};

/// The GUID of §1.3, appended to the key before hashing.
const WS_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Length of `Sec-WebSocket-Accept` (base64 of a 20-byte digest).
pub const ACCEPT_KEY_LEN: usize = base64::encoded_len(sha1::DIGEST_LEN);

/// The origin check: gets the `Origin` value (`None` if absent), returns
/// whether to accept. Non-browser clients usually send no `Origin`.
pub type OriginCheck = Arc<dyn Fn(Option<&[u8]>) -> bool + Send + Sync>;

/// Server preferences for permessage-deflate (RFC 7692).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeflateOptions {
    /// Agree `server_no_context_takeover` even when the client did not ask.
    /// Default `true`: each outgoing message is then self-contained, so a
    /// frame can be compressed once per shard and shared by every subscriber
    /// ([`crate::deflate::encode_message_once`]), and no compressor (~256 KiB)
    /// lives per connection between messages.
    pub server_no_context_takeover: bool,
    /// Ask the client to reset its compressor per message
    /// (`client_no_context_takeover`), so our decompressor (~40 KiB) is dropped
    /// between messages. Default `true`: an idle connection then holds no
    /// zlib state. Set `false` for a better ratio on streams of similar small
    /// messages, at that memory cost per connection.
    pub client_no_context_takeover: bool,
    /// Largest window our compressor uses (9..=15). Default 15.
    pub server_max_window_bits: u8,
    /// Window we ask the client to stay within when it allows us to
    /// (8..=15). Default 15 (no request).
    pub client_max_window_bits: u8,
    /// Messages shorter than this many bytes are sent uncompressed. Default 64.
    pub threshold: usize,
    /// zlib level 0..=9. Default 6.
    pub level: u8,
}

impl Default for DeflateOptions {
    fn default() -> Self {
        DeflateOptions {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            threshold: 64,
            level: 6,
        }
    }
}

/// What the server accepts in an opening handshake.
#[derive(Clone, Default)]
pub struct HandshakeConfig {
    /// Subprotocols we speak, most preferred first.
    pub protocols: Vec<String>,
    /// Origin check; `None` accepts every origin.
    pub origin_check: Option<OriginCheck>,
    /// permessage-deflate preferences; `None` never negotiates it.
    pub deflate: Option<DeflateOptions>,
}

impl fmt::Debug for HandshakeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandshakeConfig")
            .field("protocols", &self.protocols)
            .field("origin_check", &self.origin_check.is_some())
            .field("deflate", &self.deflate)
            .finish()
    }
}

impl HandshakeConfig {
    /// Accept these subprotocols (most preferred first).
    #[must_use]
    pub fn protocols<I, S>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.protocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// Accept only requests whose `Origin` passes `check`.
    #[must_use]
    pub fn origin_check(mut self, check: impl Fn(Option<&[u8]>) -> bool + Send + Sync + 'static) -> Self {
        self.origin_check = Some(Arc::new(check));
        self
    }

    /// Negotiate permessage-deflate with these options.
    #[must_use]
    pub fn deflate(mut self, options: DeflateOptions) -> Self {
        self.deflate = Some(options);
        self
    }
}

/// Why a handshake was refused. [`status`](Self::status) is the HTTP answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// Not a GET request.
    Method,
    /// HTTP/1.0 (WebSocket needs 1.1).
    HttpVersion,
    /// No `Host` header.
    MissingHost,
    /// No `Upgrade: websocket`.
    NotUpgrade,
    /// No `upgrade` token in `Connection`.
    ConnectionHeader,
    /// `Sec-WebSocket-Key` missing, repeated, or not 16 base64-encoded bytes.
    Key,
    /// `Sec-WebSocket-Version` missing or not 13.
    Version,
    /// The origin check refused the request.
    Origin,
}

impl HandshakeError {
    /// The HTTP status to answer with: 400, 403 (origin) or 426 (not an
    /// upgrade, or an unsupported version).
    pub fn status(self) -> u16 {
        match self {
            HandshakeError::NotUpgrade | HandshakeError::Version => 426,
            HandshakeError::Origin => 403,
            _ => 400,
        }
    }

    /// A short static description.
    pub fn as_str(self) -> &'static str {
        match self {
            HandshakeError::Method => "WebSocket handshake must be a GET request",
            HandshakeError::HttpVersion => "WebSocket handshake needs HTTP/1.1",
            HandshakeError::MissingHost => "missing Host header",
            HandshakeError::NotUpgrade => "missing Upgrade: websocket",
            HandshakeError::ConnectionHeader => "Connection header lacks the upgrade token",
            HandshakeError::Key => "missing or invalid Sec-WebSocket-Key",
            HandshakeError::Version => "unsupported Sec-WebSocket-Version (13 expected)",
            HandshakeError::Origin => "origin not allowed",
        }
    }

    /// Appends a complete error response head (no body) to `out`:
    /// status line, `Sec-WebSocket-Version: 13`, `Upgrade: websocket` for 426,
    /// `Content-Length: 0`, `Connection: close`.
    pub fn write_response(self, out: &mut Vec<u8>) {
        let line: &[u8] = match self.status() {
            426 => b"HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nConnection: Upgrade, close\r\n",
            403 => b"HTTP/1.1 403 Forbidden\r\nConnection: close\r\n",
            _ => b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n",
        };
        out.extend_from_slice(line);
        out.extend_from_slice(b"Sec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n");
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.as_str(), self.status())
    }
}

impl std::error::Error for HandshakeError {}

/// An accepted handshake: what to answer and what was agreed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    accept_key: [u8; ACCEPT_KEY_LEN],
    protocol: Option<String>,
    deflate: Option<DeflateConfig>,
}

impl Accepted {
    /// The `Sec-WebSocket-Accept` value.
    pub fn accept_key(&self) -> &str {
        core::str::from_utf8(&self.accept_key).expect("base64 is ASCII")
    }

    /// The selected subprotocol, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The agreed permessage-deflate parameters, if it was negotiated.
    pub fn deflate(&self) -> Option<DeflateConfig> {
        self.deflate
    }

    /// Appends the header lines of the 101 response (each ending in CRLF,
    /// without the status line and the final empty line), for servers that
    /// add their own headers.
    pub fn write_headers(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ");
        out.extend_from_slice(&self.accept_key);
        out.extend_from_slice(b"\r\n");
        if let Some(p) = &self.protocol {
            out.extend_from_slice(b"Sec-WebSocket-Protocol: ");
            out.extend_from_slice(p.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if let Some(d) = &self.deflate {
            out.extend_from_slice(b"Sec-WebSocket-Extensions: ");
            d.write_response_value(out);
            out.extend_from_slice(b"\r\n");
        }
    }

    /// Appends the complete `101 Switching Protocols` response head.
    pub fn write_response(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\n");
        self.write_headers(out);
        out.extend_from_slice(b"\r\n");
    }
}

/// Length of a client's `Sec-WebSocket-Key`: a 16-byte nonce, base64.
pub const CLIENT_KEY_LEN: usize = base64::encoded_len(16);

/// The `Sec-WebSocket-Key` a client sends (§4.1, item 7): its `nonce` — 16
/// random bytes, fresh for each connection — in base64. The server answers
/// with [`accept_key`] of it.
pub fn client_key(nonce: &[u8; 16]) -> [u8; CLIENT_KEY_LEN] {
    let mut out = Vec::with_capacity(CLIENT_KEY_LEN);
    base64::encode(nonce, &mut out);
    out.try_into().expect("24 base64 characters")
}

/// `Sec-WebSocket-Accept` for a key (§4.2.2 step 5.4): base64(SHA-1(key ++ GUID)).
pub fn accept_key(key: &[u8]) -> [u8; ACCEPT_KEY_LEN] {
    let mut h = sha1::Sha1::new();
    h.update(key);
    h.update(WS_GUID);
    let mut out = Vec::with_capacity(ACCEPT_KEY_LEN);
    base64::encode(&h.finish(), &mut out);
    out.try_into().expect("28 base64 characters")
}

/// Validates an upgrade request and decides the response (§4.2.1, §4.2.2).
///
/// `method` is the request method, `version_minor` the `x` of `HTTP/1.x`,
/// `headers` every header field as (name, value) in order; names are
/// compared case-insensitively, values are trimmed of spaces and tabs.
///
/// # Errors
///
/// A [`HandshakeError`]; answer with [`HandshakeError::write_response`].
pub fn accept<'h>(
    method: &[u8],
    version_minor: u8,
    headers: impl IntoIterator<Item = (&'h [u8], &'h [u8])>,
    config: &HandshakeConfig,
) -> Result<Accepted, HandshakeError> {
    if method != b"GET" {
        return Err(HandshakeError::Method);
    }
    if version_minor < 1 {
        return Err(HandshakeError::HttpVersion);
    }
    let mut host = false;
    let mut upgrade = false;
    let mut connection = false;
    let mut key: Option<&[u8]> = None;
    let mut key_count = 0;
    let mut version: Option<&[u8]> = None;
    let mut version_count = 0;
    let mut origin: Option<&[u8]> = None;
    let mut protocols: Vec<&[u8]> = Vec::new();
    let mut extensions: Vec<&[u8]> = Vec::new();
    for (name, value) in headers {
        let value = trim(value);
        if name.eq_ignore_ascii_case(b"host") {
            host = true;
        } else if name.eq_ignore_ascii_case(b"upgrade") {
            upgrade |= has_token(value, b"websocket");
        } else if name.eq_ignore_ascii_case(b"connection") {
            connection |= has_token(value, b"upgrade");
        } else if name.eq_ignore_ascii_case(b"sec-websocket-key") {
            key = Some(value);
            key_count += 1;
        } else if name.eq_ignore_ascii_case(b"sec-websocket-version") {
            version = Some(value);
            version_count += 1;
        } else if name.eq_ignore_ascii_case(b"origin") {
            origin = Some(value);
        } else if name.eq_ignore_ascii_case(b"sec-websocket-protocol") {
            protocols.extend(value.split(|&b| b == b',').map(trim).filter(|p| !p.is_empty()));
        } else if name.eq_ignore_ascii_case(b"sec-websocket-extensions") {
            extensions.push(value);
        }
    }
    if !upgrade {
        return Err(HandshakeError::NotUpgrade);
    }
    if !host {
        return Err(HandshakeError::MissingHost);
    }
    if !connection {
        return Err(HandshakeError::ConnectionHeader);
    }
    if version_count != 1 || version != Some(b"13") {
        return Err(HandshakeError::Version);
    }
    let key = match key {
        Some(k) if key_count == 1 && is_valid_key(k) => k,
        _ => return Err(HandshakeError::Key),
    };
    if let Some(check) = &config.origin_check {
        if !check(origin) {
            return Err(HandshakeError::Origin);
        }
    }
    let protocol = config.protocols.iter().find(|ours| protocols.contains(&ours.as_bytes())).cloned();
    let deflate = config.deflate.as_ref().and_then(|opts| extension::negotiate(extensions, opts));
    Ok(Accepted { accept_key: accept_key(key), protocol, deflate })
}

/// "a base64-encoded value that, when decoded, is 16 bytes in length"
fn is_valid_key(key: &[u8]) -> bool {
    let mut raw = Vec::with_capacity(18);
    key.len() == 24 && base64::decode(key, &mut raw).is_ok() && raw.len() == 16
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|b| !matches!(b, b' ' | b'\t')).unwrap_or(v.len());
    let end = v.iter().rposition(|b| !matches!(b, b' ' | b'\t')).map_or(start, |i| i + 1);
    &v[start..end]
}

/// Whether the comma-separated list `value` holds `token` (ASCII case-insensitive).
fn has_token(value: &[u8], token: &[u8]) -> bool {
    value.split(|&b| b == b',').any(|t| trim(t).eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("Host", "server.example.com"),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", KEY),
            ("Sec-WebSocket-Version", "13"),
        ]
    }

    fn run(
        method: &str,
        minor: u8,
        h: &[(&str, &str)],
        cfg: &HandshakeConfig,
    ) -> Result<Accepted, HandshakeError> {
        accept(method.as_bytes(), minor, h.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())), cfg)
    }

    #[test]
    fn rfc_example_client_key() {
        // §1.3: the nonce "the sample nonce" is sent as "dGhlIHNhbXBsZSBub25jZQ==".
        assert_eq!(&client_key(b"the sample nonce"), KEY.as_bytes());
    }

    #[test]
    fn rfc_example_accept_key() {
        // §1.3: the key "dGhlIHNhbXBsZSBub25jZQ==" gives "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".
        assert_eq!(&accept_key(KEY.as_bytes()), b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        let a = run("GET", 1, &base(), &HandshakeConfig::default()).unwrap();
        let mut out = Vec::new();
        a.write_response(&mut out);
        assert_eq!(
            out,
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        );
        assert_eq!(a.deflate(), None);
        assert_eq!(a.protocol(), None);
    }

    #[test]
    fn header_variants_accepted() {
        let mut h = base();
        h[1] = ("upgrade", "WebSocket");
        h[2] = ("CONNECTION", "keep-alive, Upgrade");
        h[3] = ("sec-websocket-key", "  dGhlIHNhbXBsZSBub25jZQ==\t");
        assert!(run("GET", 1, &h, &HandshakeConfig::default()).is_ok());
        // Connection split over two fields.
        let mut h = base();
        h[2] = ("Connection", "keep-alive");
        h.push(("Connection", "upgrade"));
        assert!(run("GET", 1, &h, &HandshakeConfig::default()).is_ok());
    }

    #[test]
    fn refusals_and_statuses() {
        let cfg = HandshakeConfig::default();
        let without = |name: &str| base().into_iter().filter(|(n, _)| *n != name).collect::<Vec<_>>();
        // Names and values are literals, so the case table borrows them for
        // `'static`; nothing is allocated to outlive the test.
        let with = |name: &'static str, value: &'static str| {
            let mut h = without(name);
            h.push((name, value));
            h
        };
        type Case = (&'static str, u8, Vec<(&'static str, &'static str)>, HandshakeError, u16);
        let cases: Vec<Case> = vec![
            ("POST", 1, base(), HandshakeError::Method, 400),
            ("GET", 0, base(), HandshakeError::HttpVersion, 400),
            ("GET", 1, without("Host"), HandshakeError::MissingHost, 400),
            ("GET", 1, without("Upgrade"), HandshakeError::NotUpgrade, 426),
            ("GET", 1, with("Upgrade", "h2c"), HandshakeError::NotUpgrade, 426),
            ("GET", 1, without("Connection"), HandshakeError::ConnectionHeader, 400),
            ("GET", 1, with("Connection", "Upgraded"), HandshakeError::ConnectionHeader, 400),
            ("GET", 1, without("Sec-WebSocket-Key"), HandshakeError::Key, 400),
            ("GET", 1, with("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ"), HandshakeError::Key, 400),
            ("GET", 1, with("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZXg="), HandshakeError::Key, 400),
            ("GET", 1, without("Sec-WebSocket-Version"), HandshakeError::Version, 426),
            ("GET", 1, with("Sec-WebSocket-Version", "8"), HandshakeError::Version, 426),
        ];
        for (m, minor, h, err, status) in cases {
            let got = run(m, minor, &h, &cfg).unwrap_err();
            assert_eq!((got, got.status()), (err, status), "{m} {h:?}");
            let mut out = Vec::new();
            got.write_response(&mut out);
            let text = String::from_utf8(out).unwrap();
            assert!(text.starts_with(&format!("HTTP/1.1 {status} ")), "{text}");
            assert!(text.contains("\r\nSec-WebSocket-Version: 13\r\n"), "{text}");
            assert!(text.ends_with("\r\n\r\n"));
        }
        // Two keys.
        let mut h = base();
        h.push(("Sec-WebSocket-Key", KEY));
        assert_eq!(run("GET", 1, &h, &cfg), Err(HandshakeError::Key));
    }

    #[test]
    fn origin_hook() {
        let cfg = HandshakeConfig::default().origin_check(|o| o == Some(b"https://good.example"));
        let mut h = base();
        assert_eq!(run("GET", 1, &h, &cfg), Err(HandshakeError::Origin));
        h.push(("Origin", "https://evil.example"));
        assert_eq!(run("GET", 1, &h, &cfg).unwrap_err().status(), 403);
        h.pop();
        h.push(("Origin", "https://good.example"));
        assert!(run("GET", 1, &h, &cfg).is_ok());
    }

    #[test]
    fn subprotocol_in_server_preference_order() {
        let cfg = HandshakeConfig::default().protocols(["v2.chat", "chat"]);
        let mut h = base();
        h.push(("Sec-WebSocket-Protocol", "chat, superchat"));
        h.push(("Sec-WebSocket-Protocol", " v2.chat"));
        let a = run("GET", 1, &h, &cfg).unwrap();
        assert_eq!(a.protocol(), Some("v2.chat"));
        let mut out = Vec::new();
        a.write_headers(&mut out);
        assert!(String::from_utf8(out).unwrap().contains("Sec-WebSocket-Protocol: v2.chat\r\n"));
        let mut h = base();
        h.push(("Sec-WebSocket-Protocol", "superchat"));
        assert_eq!(run("GET", 1, &h, &cfg).unwrap().protocol(), None);
    }

    #[test]
    fn deflate_negotiated_only_when_enabled() {
        let mut h = base();
        h.push(("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"));
        assert_eq!(run("GET", 1, &h, &HandshakeConfig::default()).unwrap().deflate(), None);
        let cfg = HandshakeConfig::default().deflate(DeflateOptions::default());
        let a = run("GET", 1, &h, &cfg).unwrap();
        assert!(a.deflate().is_some());
        let mut out = Vec::new();
        a.write_headers(&mut out);
        assert!(String::from_utf8(out).unwrap().contains(
            "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"
        ));
    }
}

//! The parsed request head: byte ranges into the caller's buffer plus the
//! framing and connection facts computed during the single parsing pass.
//!
//! Nothing here copies a byte of the request. A [`RequestHead`] is a set of
//! [`Span`]s (`u32` start/end offsets) into the buffer the parser was fed; the
//! accessors take that buffer back as `buf: &[u8]`. Offsets are `u32` because
//! a head is bounded by [`Limits::max_head`](crate::Limits), and small spans
//! keep the head (and the per-connection memory) small.
//!
//! All accessors taking `buf` index it with the stored spans: passing a buffer
//! other than the one parsed (or one shorter than [`RequestHead::head_len`]) is
//! a caller bug and panics. A peer cannot cause it.

use crate::table::TOKEN;

/// A range `start..end` of the caller's buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

impl Span {
    #[inline]
    pub(crate) const fn new(start: usize, end: usize) -> Self {
        Self { start: start as u32, end: end as u32 }
    }

    /// The bytes this span covers in `buf`.
    ///
    /// # Panics
    ///
    /// If `buf` is shorter than `end` (a buffer other than the one parsed).
    #[inline]
    pub fn get(self, buf: &[u8]) -> &[u8] {
        &buf[self.start as usize..self.end as usize]
    }

    /// As a `usize` range.
    #[inline]
    pub const fn range(self) -> core::ops::Range<usize> {
        self.start as usize..self.end as usize
    }

    /// Length in bytes.
    #[inline]
    pub const fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    /// True if empty.
    #[inline]
    pub const fn is_empty(self) -> bool {
        self.end == self.start
    }
}

/// One header field line: name and value (OWS trimmed) as spans.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeaderSpan {
    /// The field name (case preserved as sent).
    pub name: Span,
    /// The field value, leading and trailing whitespace removed.
    pub value: Span,
}

/// The request method (RFC 9110 §9). Methods are case-sensitive: `get` is
/// [`Method::Other`]. The bytes of any method are in [`RequestHead::method_bytes`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    #[default]
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
    /// `CONNECT`
    Connect,
    /// `OPTIONS`
    Options,
    /// `TRACE`
    Trace,
    /// `PATCH` (RFC 5789)
    Patch,
    /// Any other token; read it with [`RequestHead::method_bytes`].
    Other,
}

impl Method {
    /// Classifies a method token (exact, case-sensitive match).
    #[inline]
    pub fn from_bytes(m: &[u8]) -> Method {
        // Slice patterns of literal bytes compile to a length switch and a few
        // byte compares: no memcmp call on the hot path.
        match *m {
            [b'G', b'E', b'T'] => Method::Get,
            [b'H', b'E', b'A', b'D'] => Method::Head,
            [b'P', b'O', b'S', b'T'] => Method::Post,
            [b'P', b'U', b'T'] => Method::Put,
            [b'D', b'E', b'L', b'E', b'T', b'E'] => Method::Delete,
            [b'C', b'O', b'N', b'N', b'E', b'C', b'T'] => Method::Connect,
            [b'O', b'P', b'T', b'I', b'O', b'N', b'S'] => Method::Options,
            [b'T', b'R', b'A', b'C', b'E'] => Method::Trace,
            [b'P', b'A', b'T', b'C', b'H'] => Method::Patch,
            _ => Method::Other,
        }
    }

    /// The method name, or `None` for [`Method::Other`].
    pub const fn as_str(self) -> Option<&'static str> {
        Some(match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Connect => "CONNECT",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
            Method::Patch => "PATCH",
            Method::Other => return None,
        })
    }
}

/// HTTP version of the request. `HTTP/1.2`..`HTTP/1.9` are read as 1.1
/// (RFC 9110 §6.2: a higher minor version is compatible).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// HTTP/1.0
    Http10,
    /// HTTP/1.1
    #[default]
    Http11,
}

impl Version {
    /// The minor version: 0 or 1.
    pub const fn minor(self) -> u8 {
        match self {
            Version::Http10 => 0,
            Version::Http11 => 1,
        }
    }
}

/// How the request body is delimited (RFC 9112 §6.3), decided once the head is parsed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body (no `Content-Length`, no `Transfer-Encoding`): length zero.
    #[default]
    None,
    /// `Content-Length: n` (already checked against `Limits::max_body`).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

pub(crate) const F_KEEP_ALIVE: u8 = 1;
pub(crate) const F_EXPECT_CONTINUE: u8 = 1 << 1;
pub(crate) const F_UPGRADE: u8 = 1 << 2;
pub(crate) const F_UPGRADE_HEADER: u8 = 1 << 3;
pub(crate) const F_HOST: u8 = 1 << 4;
pub(crate) const F_PLAIN_PATH: u8 = 1 << 5;

/// A parsed request head. See the [module docs](self) for how spans work.
#[derive(Clone, Debug, Default)]
pub struct RequestHead {
    pub(crate) method: Method,
    pub(crate) method_span: Span,
    pub(crate) target: Span,
    pub(crate) version: Version,
    pub(crate) headers: Vec<HeaderSpan>,
    pub(crate) head_len: usize,
    pub(crate) framing: BodyFraming,
    pub(crate) flags: u8,
}

impl RequestHead {
    /// The method, classified.
    #[inline]
    pub fn method(&self) -> Method {
        self.method
    }
    /// The method bytes as sent (a token, RFC 9110 §9.1).
    #[inline]
    pub fn method_bytes<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        self.method_span.get(buf)
    }
    /// The request-target bytes as sent (RFC 9112 §3.2); see [`crate::Target`].
    #[inline]
    pub fn target<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        self.target.get(buf)
    }
    /// The request-target span.
    #[inline]
    pub fn target_span(&self) -> Span {
        self.target
    }
    /// The parsed request-target (form, path, query).
    ///
    /// # Errors
    ///
    /// Never for a head this parser produced (the target was validated); kept
    /// fallible so that it can be called on any bytes.
    pub fn parsed_target<'b>(&self, buf: &'b [u8]) -> Result<crate::Target<'b>, crate::ParseError> {
        crate::Target::parse(self.method, self.target(buf))
    }
    /// The HTTP version.
    #[inline]
    pub fn version(&self) -> Version {
        self.version
    }
    /// Bytes of `buf` taken by the head, final CRLF included: the body (if any)
    /// starts at `buf[head_len..]`.
    #[inline]
    pub fn head_len(&self) -> usize {
        self.head_len
    }
    /// How the body is framed.
    #[inline]
    pub fn framing(&self) -> BodyFraming {
        self.framing
    }
    /// The `Content-Length` value, if the body is length-delimited.
    #[inline]
    pub fn content_length(&self) -> Option<u64> {
        match self.framing {
            BodyFraming::Length(n) => Some(n),
            _ => None,
        }
    }
    /// Whether the connection may stay open after this exchange (RFC 9112 §9.3):
    /// HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`.
    #[inline]
    pub fn keep_alive(&self) -> bool {
        self.flags & F_KEEP_ALIVE != 0
    }
    /// `Expect: 100-continue` on an HTTP/1.1 request (RFC 9110 §10.1.1).
    #[inline]
    pub fn expect_continue(&self) -> bool {
        self.flags & F_EXPECT_CONTINUE != 0
    }
    /// An HTTP/1.1 upgrade request: an `Upgrade` field and `Connection: upgrade`
    /// (RFC 9110 §7.8). Read the protocol with `header(buf, b"upgrade")`.
    #[inline]
    pub fn upgrade(&self) -> bool {
        self.flags & F_UPGRADE != 0
    }
    /// An `Upgrade` field is present (whatever `Connection` says).
    #[inline]
    pub fn has_upgrade_header(&self) -> bool {
        self.flags & F_UPGRADE_HEADER != 0
    }
    /// A `Host` field is present (exactly one; two are rejected).
    #[inline]
    pub fn has_host(&self) -> bool {
        self.flags & F_HOST != 0
    }
    /// The target is an origin-form path that needs no percent-decoding and
    /// no dot-segment removal (RFC 3986 §5.2.4), and has no query: only
    /// `[A-Za-z0-9-._/]`, starting with `/`, with no `//` and no `/.`.
    /// Such a path can be routed and served as it is; any other target
    /// should go through [`crate::normalize_path`] first.
    #[inline]
    pub fn plain_path(&self) -> bool {
        self.flags & F_PLAIN_PATH != 0
    }
    /// True for `HEAD` (the response has no body, RFC 9110 §9.3.2).
    #[inline]
    pub fn is_head(&self) -> bool {
        self.method == Method::Head
    }
    /// The field spans in the order received.
    #[inline]
    pub fn header_spans(&self) -> &[HeaderSpan] {
        &self.headers
    }
    /// Number of header fields.
    #[inline]
    pub fn header_count(&self) -> usize {
        self.headers.len()
    }
    /// Iterates `(name, value)` over the fields in the order received.
    #[inline]
    pub fn headers<'h, 'b>(&'h self, buf: &'b [u8]) -> Headers<'h, 'b> {
        Headers { iter: self.headers.iter(), buf }
    }
    /// The value of the first field named `name` (ASCII case-insensitive).
    pub fn header<'b>(&self, buf: &'b [u8], name: &[u8]) -> Option<&'b [u8]> {
        self.headers.iter().find(|h| h.name.get(buf).eq_ignore_ascii_case(name)).map(|h| h.value.get(buf))
    }
    /// All values of fields named `name` (ASCII case-insensitive), in order.
    pub fn header_all<'h, 'b>(&'h self, buf: &'b [u8], name: &'h [u8]) -> impl Iterator<Item = &'b [u8]> + 'h
    where
        'b: 'h,
    {
        self.headers
            .iter()
            .filter(move |h| h.name.get(buf).eq_ignore_ascii_case(name))
            .map(move |h| h.value.get(buf))
    }
}

/// Iterator over `(name, value)` pairs of a [`RequestHead`].
#[derive(Debug, Clone)]
pub struct Headers<'h, 'b> {
    iter: core::slice::Iter<'h, HeaderSpan>,
    buf: &'b [u8],
}

impl<'b> Iterator for Headers<'_, 'b> {
    type Item = (&'b [u8], &'b [u8]);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.iter.next().map(|h| (h.name.get(self.buf), h.value.get(self.buf)))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.iter.size_hint()
    }
}

impl ExactSizeIterator for Headers<'_, '_> {}

/// True if the comma-separated list `value` contains `token` (ASCII
/// case-insensitive), as `Connection: keep-alive, Upgrade` (RFC 9110 §5.6.1).
pub fn list_contains(value: &[u8], token: &[u8]) -> bool {
    value.split(|&b| b == b',').any(|t| crate::table::trim_ows(t).eq_ignore_ascii_case(token))
}

/// True if every byte is a `tchar` and there is at least one.
pub fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| TOKEN[b as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods() {
        for m in [
            Method::Get,
            Method::Head,
            Method::Post,
            Method::Put,
            Method::Delete,
            Method::Connect,
            Method::Options,
            Method::Trace,
            Method::Patch,
        ] {
            assert_eq!(Method::from_bytes(m.as_str().unwrap().as_bytes()), m);
        }
        assert_eq!(Method::from_bytes(b"get"), Method::Other);
        assert_eq!(Method::from_bytes(b"PROPFIND"), Method::Other);
    }

    #[test]
    fn lists() {
        assert!(list_contains(b"keep-alive, Upgrade", b"upgrade"));
        assert!(list_contains(b" close ", b"close"));
        assert!(!list_contains(b"closed", b"close"));
        assert!(!list_contains(b"", b"close"));
        assert!(is_token(b"X-Foo"));
        assert!(!is_token(b"X Foo"));
        assert!(!is_token(b""));
    }
}

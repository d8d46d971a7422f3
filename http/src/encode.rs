//! Response head encoding (RFC 9112 §4, §6, §7) into a reused buffer.
//!
//! ```text
//! status-line = HTTP-version SP status-code SP [ reason-phrase ]   ; RFC 9112 §4
//! ```
//!
//! The head goes into a `Vec<u8>` the connection keeps and clears, so a
//! steady keep-alive connection allocates nothing. The body is never copied
//! into it: with chunked framing, each chunk's header (`1a2b\r\n`) is encoded
//! into a tiny stack buffer and the writer sends three segments
//! `[header][body bytes][CRLF]` with one `writev`, as hyper chains its
//! chunked encoder around the body.
//!
//! Body rules (RFC 9110 §6.4.1, RFC 9112 §6.3): responses to `HEAD`, and
//! `1xx`, `204` and `304` responses, have no body; `1xx` and `204` carry
//! neither `Content-Length` nor `Transfer-Encoding`.

use crate::date::DateCache;

/// `"0\r\n\r\n"`: the last chunk with an empty trailer section.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";
/// The CRLF that follows each chunk's data.
pub const CRLF: &[u8] = b"\r\n";
/// Enough for `u64::MAX` in hex (16) plus CRLF.
pub const CHUNK_HEADER_MAX: usize = 18;

/// Why a header could not be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// The name is not a token.
    InvalidName,
    /// The value holds CR, LF or NUL (response splitting).
    InvalidValue,
}

impl core::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            EncodeError::InvalidName => "invalid header name",
            EncodeError::InvalidValue => "CR, LF or NUL in header value",
        })
    }
}

impl std::error::Error for EncodeError {}

/// The canonical reason phrase of a status (RFC 9110 §15), `""` if unknown.
pub const fn status_reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// True if a response with this status may carry content (not 1xx, 204, 304).
pub const fn status_allows_body(status: u16) -> bool {
    !(status < 200 || status == 204 || status == 304)
}

/// True if the response is sent with content bytes: the status allows it and
/// the request was not `HEAD` (whose response has framing headers but no body).
pub const fn response_has_body(is_head: bool, status: u16) -> bool {
    !is_head && status_allows_body(status)
}

/// True if framing headers (`Content-Length`/`Transfer-Encoding`) may be sent:
/// never for 1xx and 204 (RFC 9110 §8.6, RFC 9112 §6.1).
pub const fn status_allows_framing(status: u16) -> bool {
    !(status < 200 || status == 204)
}

/// Two-digit lookup for decimal formatting ("00".."99").
static DEC_DIGITS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Formats `n` in decimal into `buf`, returning the digits (itoa-style: two
/// digits per division, written from the end).
#[inline]
pub fn encode_u64(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    while n >= 100 {
        let d = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DEC_DIGITS[d..d + 2]);
    }
    if n >= 10 {
        let d = n as usize * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DEC_DIGITS[d..d + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + n as u8;
    }
    &buf[i..]
}

/// `HTTP/1.1 <status> <reason>\r\n`. An empty `reason` uses [`status_reason`].
///
/// # Panics
///
/// If `status` is not a three-digit code (100..=999): a programming error.
pub fn encode_status_line(out: &mut Vec<u8>, status: u16, reason: &str) {
    assert!((100..=999).contains(&status), "status code must have 3 digits");
    let reason = if reason.is_empty() { status_reason(status) } else { reason };
    // Fast path: the common statuses are whole static lines.
    match (status, reason) {
        (200, "OK") => return out.extend_from_slice(b"HTTP/1.1 200 OK\r\n"),
        (404, "Not Found") => return out.extend_from_slice(b"HTTP/1.1 404 Not Found\r\n"),
        _ => {}
    }
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(&[
        b'0' + (status / 100) as u8,
        b'0' + (status / 10 % 10) as u8,
        b'0' + (status % 10) as u8,
        b' ',
    ]);
    // reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ): drop anything else.
    out.extend(reason.bytes().filter(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f)));
    out.extend_from_slice(CRLF);
}

/// `name: value\r\n`, after checking the name is a token and the value holds
/// no CR, LF or NUL (so a handler cannot split the response).
///
/// # Errors
///
/// [`EncodeError`]; nothing is written then.
#[inline]
pub fn encode_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) -> Result<(), EncodeError> {
    if !crate::head::is_token(name) {
        return Err(EncodeError::InvalidName);
    }
    if memchr::memchr3(b'\r', b'\n', 0, value).is_some() {
        return Err(EncodeError::InvalidValue);
    }
    out.reserve(name.len() + value.len() + 4);
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(CRLF);
    Ok(())
}

/// `Content-Length: n\r\n`.
#[inline]
pub fn encode_content_length(out: &mut Vec<u8>, n: u64) {
    let mut b = [0; 20];
    out.extend_from_slice(b"Content-Length: ");
    out.extend_from_slice(encode_u64(n, &mut b));
    out.extend_from_slice(CRLF);
}

/// `Transfer-Encoding: chunked\r\n`.
#[inline]
pub fn encode_chunked(out: &mut Vec<u8>) {
    out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
}

/// `Date: <IMF-fixdate>\r\n` from the cache.
#[inline]
pub fn encode_date(out: &mut Vec<u8>, date: &DateCache) {
    out.extend_from_slice(date.header_line());
}

/// The empty line ending the head.
#[inline]
pub fn encode_end_of_head(out: &mut Vec<u8>) {
    out.extend_from_slice(CRLF);
}

/// A chunk header `HEX(len)\r\n` in `buf`; send it, then the data, then [`CRLF`].
/// `len` must not be 0 (that is [`LAST_CHUNK`]).
///
/// ```
/// let mut b = [0; weir_http::CHUNK_HEADER_MAX];
/// assert_eq!(weir_http::encode_chunk_header(0x1a2b, &mut b), b"1a2b\r\n");
/// ```
#[inline]
pub fn encode_chunk_header(len: u64, buf: &mut [u8; CHUNK_HEADER_MAX]) -> &[u8] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digits = (64 - len.leading_zeros()).div_ceil(4).max(1) as usize;
    for (k, slot) in buf[..digits].iter_mut().enumerate() {
        let shift = (digits - 1 - k) * 4;
        *slot = HEX[(len >> shift) as usize & 0xf];
    }
    buf[digits..digits + 2].copy_from_slice(CRLF);
    &buf[..digits + 2]
}

/// How the response body is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseFraming {
    /// `Content-Length: n`.
    Length(u64),
    /// `Transfer-Encoding: chunked`: the body follows as chunks.
    Chunked,
    /// No framing header (1xx/204, or a body delimited by closing the connection).
    None,
}

/// A response head to encode in one call. `headers` must not contain
/// `Content-Length`, `Transfer-Encoding`, `Date` or `Connection`: they come
/// from the other fields.
#[derive(Clone, Copy, Debug)]
pub struct ResponseHead<'a> {
    /// Status code.
    pub status: u16,
    /// Reason phrase; empty = canonical.
    pub reason: &'a str,
    /// Extra fields.
    pub headers: &'a [(&'a str, &'a [u8])],
    /// Body framing.
    pub framing: ResponseFraming,
    /// `false` adds `Connection: close`.
    pub keep_alive: bool,
}

impl ResponseHead<'_> {
    /// Encodes the whole head (status line, Date, framing, Connection, fields, CRLF).
    /// Framing headers are left out for 1xx and 204 whatever `framing` says.
    ///
    /// # Errors
    ///
    /// [`EncodeError`] from a bad extra field; `out` is then restored.
    pub fn encode(&self, out: &mut Vec<u8>, date: &DateCache) -> Result<(), EncodeError> {
        let start = out.len();
        encode_status_line(out, self.status, self.reason);
        encode_date(out, date);
        if status_allows_framing(self.status) {
            match self.framing {
                ResponseFraming::Length(n) => encode_content_length(out, n),
                ResponseFraming::Chunked => encode_chunked(out),
                ResponseFraming::None => {}
            }
        }
        if !self.keep_alive {
            out.extend_from_slice(b"Connection: close\r\n");
        }
        for (n, v) in self.headers {
            if let Err(e) = encode_header(out, n.as_bytes(), v) {
                out.truncate(start);
                return Err(e);
            }
        }
        encode_end_of_head(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        for n in [0u64, 1, 9, 10, 99, 100, 101, 999, 1000, 12345, 1 << 32, u64::MAX] {
            let mut b = [0; 20];
            assert_eq!(encode_u64(n, &mut b), n.to_string().as_bytes());
            let mut h = [0; CHUNK_HEADER_MAX];
            assert_eq!(encode_chunk_header(n, &mut h), format!("{n:x}\r\n").as_bytes());
        }
    }

    #[test]
    fn status_lines() {
        let table: &[(u16, &str, &[u8])] = &[
            (200, "", b"HTTP/1.1 200 OK\r\n"),
            (404, "", b"HTTP/1.1 404 Not Found\r\n"),
            (201, "", b"HTTP/1.1 201 Created\r\n"),
            (599, "", b"HTTP/1.1 599 \r\n"),
            (200, "Fine\r\nX: y", b"HTTP/1.1 200 FineX: y\r\n"),
        ];
        for (s, r, want) in table {
            let mut out = Vec::new();
            encode_status_line(&mut out, *s, r);
            assert_eq!(&out, want);
        }
    }

    #[test]
    fn body_rules() {
        // RFC 9110 §15.2, §15.3.5, §15.4.5 / §9.3.2
        assert!(!status_allows_body(100));
        assert!(!status_allows_body(101));
        assert!(!status_allows_body(204));
        assert!(!status_allows_body(304));
        assert!(status_allows_body(200));
        assert!(!response_has_body(true, 200));
        assert!(status_allows_framing(304));
        assert!(!status_allows_framing(204));
    }

    #[test]
    fn headers_and_head() {
        let mut out = Vec::new();
        assert_eq!(encode_header(&mut out, b"X-A", b"a\r\nb"), Err(EncodeError::InvalidValue));
        assert_eq!(encode_header(&mut out, b"X A", b"a"), Err(EncodeError::InvalidName));
        assert!(out.is_empty());
        let mut date = DateCache::new();
        date.update(0);
        let head = ResponseHead {
            status: 204,
            reason: "",
            headers: &[("X-A", b"1")],
            framing: ResponseFraming::Length(5),
            keep_alive: false,
        };
        head.encode(&mut out, &date).unwrap();
        assert_eq!(
            out,
            b"HTTP/1.1 204 No Content\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\nConnection: close\r\nX-A: 1\r\n\r\n"
        );
    }
}

//! Response heads, encoded from a per-shard memo.
//!
//! Most responses a server sends share their first lines with the response
//! before: the same status, the same `Content-Type`, the same connection
//! header. [`HeadEncoder`] keeps those lines, already encoded and followed
//! by the current `Date` line and `Content-Length: `, for the last few
//! combinations it saw, and builds a head from two or three pieces:
//!
//! ```text
//! HTTP/1.1 200 OK\r\n                      ┐ memo slot (one copy): status
//! Content-Type: text/plain\r\n             │ line, Connection, Content-Type,
//! Date: Sun, 22 Nov 2026 10:00:00 GMT\r\n  │ Date (rewritten once a second
//! Content-Length:                          ┘ in every slot), the field name
//!                 13\r\n\r\n                 digits + blank line, kept from
//!                                          the last length
//! ```
//!
//! A response with headers of its own takes the memo up to the `Date` line,
//! its headers (checked), then the framing field. Each piece is one copy of
//! a known or cached length instead of a dozen small appends, which matters
//! at a few hundred instructions per request. Header order carries no
//! meaning in HTTP (RFC 9110 §5.3, except among fields of the same name), so
//! the framing field comes last: that lets the digits and the blank line be
//! written together.
//!
//! # The server owns framing
//!
//! How a response is framed — `Content-Length`, `Transfer-Encoding`, and
//! whether the connection stays open — is decided here from the body and
//! the connection's state, never by a handler: a second `Content-Length`,
//! or `Transfer-Encoding` beside `Content-Length`, is exactly the response
//! a proxy in front of us can desync on (RFC 9112 §6.3). So
//! [`Response::add_header`](crate::Response::add_header) does not store
//! those fields (a handler's `Connection: close` becomes `with_close()`),
//! and [`HeadEncoder::encode`] skips them again ([`server_owned`]), so that
//! no path — a response built in the crate, a future one — can emit a
//! second framing header.

use weir_http::{encode_header, encode_status_line, DateCache};

/// How many (status, content type, connection) combinations are kept.
const SLOTS: usize = 4;

/// `Date: <29 bytes>\r\n`.
const DATE_LINE: usize = 37;

/// The framing field's name, ending every slot.
const CONTENT_LENGTH: &[u8] = b"Content-Length: ";

/// The connection header a response carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnHeader {
    /// None: HTTP/1.1 keep-alive is the default.
    None,
    /// `Connection: close`.
    Close,
    /// `Connection: keep-alive` (for HTTP/1.0 clients).
    KeepAlive,
}

/// How the body's length is announced.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Framing {
    /// `Content-Length: n`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Nothing (1xx/204/304 and bodies that end at close).
    None,
}

#[derive(Debug)]
struct Slot {
    status: u16,
    content_type: Option<&'static str>,
    conn: ConnHeader,
    /// Status line, connection header, content type, `Date` line,
    /// `Content-Length: `.
    bytes: Vec<u8>,
    /// Where the `Date` line starts in `bytes`.
    date_at: usize,
}

/// The per-shard memo of encoded head prefixes (each with the current date).
#[derive(Debug)]
pub(crate) struct HeadEncoder {
    slots: Vec<Slot>,
    /// The slot replaced next on a miss (round robin).
    next: usize,
    /// The slot that answered last: checked first.
    last: usize,
    /// The current `Date` line, for slots filled later.
    date_line: [u8; DATE_LINE],
    /// The last Content-Length written and its digits + blank line.
    last_len: u64,
    last_len_bytes: [u8; 24],
    last_len_n: usize,
}

impl HeadEncoder {
    pub(crate) fn new(date: &DateCache) -> HeadEncoder {
        let mut e = HeadEncoder {
            slots: Vec::with_capacity(SLOTS),
            next: 0,
            last: 0,
            date_line: [0; DATE_LINE],
            last_len: 0,
            last_len_bytes: decimal_and_end(0).0,
            last_len_n: decimal_and_end(0).1,
        };
        e.set_date(date);
        e
    }

    /// Takes the current `Date` line (call whenever the date cache changes).
    pub(crate) fn set_date(&mut self, date: &DateCache) {
        self.date_line.copy_from_slice(date.header_line());
        for slot in &mut self.slots {
            slot.bytes[slot.date_at..slot.date_at + DATE_LINE].copy_from_slice(&self.date_line);
        }
    }

    /// Appends a complete response head to `out`: status line, connection
    /// header, content type, `Date`, `headers` (a value with CR, LF or NUL,
    /// or an invalid name, is dropped: it could split the response; a
    /// [`server_owned`] field is dropped: `conn` and `framing` decide those),
    /// framing, and the blank line.
    pub(crate) fn encode<'h>(
        &mut self,
        out: &mut Vec<u8>,
        status: u16,
        content_type: Option<&'static str>,
        conn: ConnHeader,
        headers: impl ExactSizeIterator<Item = (&'h str, &'h [u8])>,
        framing: Framing,
    ) {
        let i = self.slot_for(status, content_type, conn);
        let slot = &self.slots[i];
        let n = match framing {
            // The usual answer: the whole memo, then the digits.
            Framing::Length(n) if headers.len() == 0 => {
                out.extend_from_slice(&slot.bytes);
                n
            }
            _ => {
                out.extend_from_slice(&slot.bytes[..slot.date_at + DATE_LINE]);
                for (name, value) in headers {
                    if !server_owned(name.as_bytes()) {
                        let _ = encode_header(out, name.as_bytes(), value);
                    }
                }
                match framing {
                    Framing::Length(n) => {
                        out.extend_from_slice(CONTENT_LENGTH);
                        n
                    }
                    Framing::Chunked => return out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n"),
                    Framing::None => return out.extend_from_slice(b"\r\n"),
                }
            }
        };
        if n != self.last_len {
            // Responses of one size tend to follow each other: keep the
            // digits of the last one.
            (self.last_len_bytes, self.last_len_n) = decimal_and_end(n);
            self.last_len = n;
        }
        let len = out.len();
        out.extend_from_slice(&self.last_len_bytes);
        out.truncate(len + self.last_len_n);
    }

    /// The slot for this status, content type and connection header.
    fn slot_for(&mut self, status: u16, content_type: Option<&'static str>, conn: ConnHeader) -> usize {
        let same_type = |a: Option<&'static str>| match (a, content_type) {
            // Pointer and length first (the same literal, the usual case), then bytes.
            (Some(a), Some(b)) => std::ptr::eq(a, b) || a == b,
            (None, None) => true,
            _ => false,
        };
        let matches = |s: &Slot| s.status == status && s.conn == conn && same_type(s.content_type);
        let i = match self.slots.get(self.last) {
            Some(s) if matches(s) => self.last,
            _ => match self.slots.iter().position(matches) {
                Some(i) => i,
                None => self.fill(status, content_type, conn),
            },
        };
        self.last = i;
        i
    }

    #[cold]
    fn fill(&mut self, status: u16, content_type: Option<&'static str>, conn: ConnHeader) -> usize {
        let mut bytes = Vec::with_capacity(128);
        encode_status_line(&mut bytes, status, "");
        match conn {
            ConnHeader::None => {}
            ConnHeader::Close => bytes.extend_from_slice(b"Connection: close\r\n"),
            ConnHeader::KeepAlive => bytes.extend_from_slice(b"Connection: keep-alive\r\n"),
        }
        if let Some(ct) = content_type {
            // A `&'static str` chosen by the application, not by a client;
            // still checked like any header: a type that could split the
            // response is not written.
            let _ = encode_header(&mut bytes, b"Content-Type", ct.as_bytes());
        }
        let date_at = bytes.len();
        bytes.extend_from_slice(&self.date_line);
        bytes.extend_from_slice(CONTENT_LENGTH);
        let slot = Slot { status, content_type, conn, bytes, date_at };
        if self.slots.len() < SLOTS {
            self.slots.push(slot);
            self.slots.len() - 1
        } else {
            let i = self.next;
            self.next = (self.next + 1) % SLOTS;
            self.slots[i] = slot;
            i
        }
    }
}

/// True for the fields the server writes itself and a handler may not:
/// `Content-Length`, `Transfer-Encoding`, `Connection` (any case). The
/// length is checked first, so most names cost one compare.
#[inline]
pub(crate) fn server_owned(name: &[u8]) -> bool {
    match name.len() {
        10 => name.eq_ignore_ascii_case(b"connection"),
        14 => name.eq_ignore_ascii_case(b"content-length"),
        17 => name.eq_ignore_ascii_case(b"transfer-encoding"),
        _ => false,
    }
}

/// The decimal digits of `n`, then `\r\n\r\n`, and how many bytes that is.
fn decimal_and_end(n: u64) -> ([u8; 24], usize) {
    let mut digits = [0; 20];
    let d = weir_http::encode_u64(n, &mut digits);
    let mut out = [0; 24];
    out[..d.len()].copy_from_slice(d);
    out[d.len()..d.len() + 4].copy_from_slice(b"\r\n\r\n");
    (out, d.len() + 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(
        e: &mut HeadEncoder,
        status: u16,
        ct: Option<&'static str>,
        conn: ConnHeader,
        f: Framing,
    ) -> String {
        let mut out = Vec::new();
        e.encode(&mut out, status, ct, conn, std::iter::empty(), f);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn heads_are_complete_and_memo_hits_match_misses() {
        let mut date = DateCache::new();
        date.update(784_111_777);
        let mut e = HeadEncoder::new(&date);
        let want = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\
                    Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Length: 13\r\n\r\n";
        // First a miss, then a hit: same bytes.
        for _ in 0..2 {
            assert_eq!(head(&mut e, 200, Some("text/plain"), ConnHeader::None, Framing::Length(13)), want);
        }
        // More combinations than slots, each round: every answer still exact.
        for round in 0..3 {
            for status in [200u16, 404, 500, 204, 301, 503] {
                for conn in [ConnHeader::None, ConnHeader::Close, ConnHeader::KeepAlive] {
                    // Lengths change with the round and repeat within it.
                    let got = head(&mut e, status, Some("a/b"), conn, Framing::Length(round * 1000));
                    let mut line = Vec::new();
                    encode_status_line(&mut line, status, "");
                    assert!(got.starts_with(std::str::from_utf8(&line).unwrap()), "{got}");
                    assert_eq!(got.contains("Connection: close\r\n"), conn == ConnHeader::Close);
                    assert_eq!(got.contains("Connection: keep-alive\r\n"), conn == ConnHeader::KeepAlive);
                    assert!(got.contains("Content-Type: a/b\r\n"));
                    let want = format!("\r\nContent-Length: {}\r\n\r\n", round * 1000);
                    assert!(got.ends_with(&want), "{got}");
                }
            }
        }
        let chunked = head(&mut e, 200, None, ConnHeader::None, Framing::Chunked);
        assert!(chunked.ends_with("GMT\r\nTransfer-Encoding: chunked\r\n\r\n"));
        assert!(!chunked.contains("Content-Type"));
        let none = head(&mut e, 304, None, ConnHeader::None, Framing::None);
        assert!(none.ends_with("GMT\r\n\r\n") && !none.contains("Content-Length"));
    }

    #[test]
    fn server_owned_fields_are_never_written_from_headers() {
        let mut date = DateCache::new();
        date.update(0);
        let mut e = HeadEncoder::new(&date);
        let headers = [
            ("content-length", &b"99"[..]),
            ("Transfer-Encoding", &b"chunked"[..]),
            ("CONNECTION", &b"keep-alive"[..]),
            ("X-Kept", &b"yes"[..]),
        ];
        for framing in [Framing::Length(5), Framing::Chunked, Framing::None] {
            let mut out = Vec::new();
            e.encode(&mut out, 200, None, ConnHeader::Close, headers.iter().copied(), framing);
            let s = String::from_utf8(out).unwrap().to_ascii_lowercase();
            let count = |name: &str| s.lines().filter(|l| l.starts_with(name)).count();
            assert_eq!(count("content-length:"), usize::from(matches!(framing, Framing::Length(_))), "{s}");
            assert_eq!(count("transfer-encoding:"), usize::from(matches!(framing, Framing::Chunked)), "{s}");
            assert_eq!(count("connection:"), 1, "{s}");
            assert!(s.contains("\r\nconnection: close\r\n") && s.contains("\r\nx-kept: yes\r\n"), "{s}");
        }
        for name in ["Content-Length", "transfer-encoding", "Connection"] {
            assert!(server_owned(name.as_bytes()), "{name}");
        }
        for name in ["Content-Type", "Content-Lengths", "Transfer-Encodinx", "Connectio", "Keep-Alive"] {
            assert!(!server_owned(name.as_bytes()), "{name}");
        }
    }

    #[test]
    fn content_length_digits() {
        for n in [0u64, 7, 9, 10, 99, 100, 999, 1000, 9999, 10_000, 99_999, 100_000, 123_456_789, u64::MAX] {
            let (bytes, len) = decimal_and_end(n);
            assert_eq!(&bytes[..len], format!("{n}\r\n\r\n").as_bytes());
        }
    }

    #[test]
    fn custom_headers_are_checked_and_the_date_follows_updates() {
        let mut date = DateCache::new();
        date.update(0);
        let mut e = HeadEncoder::new(&date);
        let mut out = Vec::new();
        let headers = [("X-Ok", &b"fine"[..]), ("X-Bad", &b"a\r\nSet-Cookie: x"[..])];
        e.encode(&mut out, 200, None, ConnHeader::None, headers.iter().copied(), Framing::Length(0));
        let s = String::from_utf8(out).unwrap();
        // The memo up to the date, the checked headers, the framing field last.
        assert_eq!(
            s,
            "HTTP/1.1 200 OK\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\nX-Ok: fine\r\nContent-Length: 0\r\n\r\n"
        );
        // The same check for the content type, which goes through the memo.
        let s = head(&mut e, 200, Some("text/plain\r\nSet-Cookie: x"), ConnHeader::None, Framing::Length(0));
        assert!(!s.contains("Content-Type") && !s.contains("Set-Cookie"), "{s}");
        assert!(s.contains("Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n"));
        date.update(86_400);
        e.set_date(&date);
        let s = head(&mut e, 200, None, ConnHeader::None, Framing::Length(0));
        assert!(s.contains("Date: Fri, 02 Jan 1970 00:00:00 GMT\r\n"), "{s}");
    }
}

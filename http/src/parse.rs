//! The incremental, resumable request-head parser (RFC 9112 §2–§6).
//!
//! ```text
//! HTTP-message   = start-line CRLF *( field-line CRLF ) CRLF [ message-body ]
//! request-line   = method SP request-target SP HTTP-version      ; §3
//! field-line     = field-name ":" OWS field-value OWS            ; §5
//! ```
//!
//! # Data flow
//!
//! ```text
//!  caller's buffer (grows between calls, always starts at the request's first byte)
//!  ┌──────────────────────────────┬──────────────────┬─────────────┐
//!  │ lines already parsed         │ current line ... │ not yet read│
//!  └──────────────────────────────┴──────────────────┴─────────────┘
//!                                 ^ line_start        ^ scan
//! ```
//!
//! The whole resumable state is two offsets and a few counters: `line_start`
//! (where the current, incomplete line begins) and `scan` (how far we already
//! know it holds no control byte). A call resumes the scan at `scan`, so a
//! slow sender, one byte per `read()`, costs each byte one look: never a
//! rescan from byte 0 (the picohttpparser `last_len` idea, taken further).
//!
//! A line is handled only once it is complete (its CRLF is in the buffer):
//! then the method/target/name bytes are classified with the 256-entry
//! tables, and the known fields (`Content-Length`, `Transfer-Encoding`,
//! `Host`, `Connection`, `Expect`, `Upgrade`) update the framing facts at once,
//! so nothing is rescanned after the head either.
//!
//! # Strictness
//!
//! This is a hardened server's parser: where RFC 9112 lets a recipient choose
//! between leniency and rejection, it rejects (bare LF §2.2, bare CR §2.2,
//! obs-fold §5.2, whitespace before the colon §5.1, several `Content-Length`
//! values §6.3, `Content-Length` with `Transfer-Encoding` §6.3). Each case
//! is listed in `tests/rules.rs` beside its RFC section.

use crate::head::{HeaderSpan, Method, RequestHead, Span, Version};
use crate::scan::{eq_lower, fast_run, find_byte, find_ctl, path_run, path_scan, SET_HOST, SET_NAME};
use crate::table::{hex_val, or_class, TARGET_CLASS, TOKEN, TOKEN_BAD, T_BAD, T_PCT};
use crate::{Limits, ParseError};

mod framing;

const HTTP_11: u64 = u64::from_le_bytes(*b"HTTP/1.1");
const HTTP_10: u64 = u64::from_le_bytes(*b"HTTP/1.0");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Before the request line: empty lines may still be skipped.
    RequestLine,
    /// Field lines, until the empty line.
    Headers,
    /// A head was handed out by reference ([`RequestParser::parse_ref`]): the
    /// next call starts a new request.
    Done,
}

/// Facts gathered from the known fields while the head is parsed.
#[derive(Clone, Copy, Debug, Default)]
struct Facts {
    content_length: Option<u64>,
    host_count: u8,
    conn_close: bool,
    conn_keep_alive: bool,
    conn_upgrade: bool,
    expect_continue: bool,
    upgrade_header: bool,
    /// Number of transfer codings seen over all `Transfer-Encoding` fields.
    te_codings: u16,
    te_chunked: u16,
    te_last_chunked: bool,
    te_unknown: bool,
    /// The target is a plain origin-form path (set by the request line).
    plain_path: bool,
}

/// An incremental request-head parser. See the [module docs](self).
///
/// ```
/// use weir_http::{Limits, RequestParser};
/// let mut p = RequestParser::new(Limits::default());
/// let mut buf = b"GET / HTTP/1.1\r\nHo".to_vec();
/// assert!(p.parse(&buf).unwrap().is_none()); // needs more bytes
/// buf.extend_from_slice(b"st: a\r\n\r\n");
/// let head = p.parse(&buf).unwrap().unwrap();
/// assert_eq!(head.header(&buf, b"host"), Some(&b"a"[..]));
/// assert_eq!(head.head_len(), buf.len());
/// ```
#[derive(Debug, Clone)]
pub struct RequestParser {
    limits: Limits,
    phase: Phase,
    line_start: usize,
    scan: usize,
    empty_lines: u8,
    facts: Facts,
    head: RequestHead,
}

impl RequestParser {
    /// A parser with these limits.
    pub fn new(limits: Limits) -> Self {
        let mut head = RequestHead::default();
        head.headers.reserve(limits.max_headers.min(16));
        Self {
            limits: limits.max_head(limits.max_head),
            phase: Phase::RequestLine,
            line_start: 0,
            scan: 0,
            empty_lines: 0,
            facts: Facts::default(),
            head,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Forgets any partial request, so the next [`parse`](Self::parse) starts a
    /// new one. Not needed after a successful parse (the parser resets itself).
    pub fn reset(&mut self) {
        self.phase = Phase::RequestLine;
        self.line_start = 0;
        self.scan = 0;
        self.empty_lines = 0;
        self.facts = Facts::default();
        self.head.headers.clear();
    }

    /// Gives back the header storage of a head the caller is done with, so the
    /// next request reuses its allocation (zero allocation in steady state).
    #[inline]
    pub fn recycle(&mut self, mut head: RequestHead) {
        if self.head.headers.is_empty() {
            // No parse in progress (the usual case): just take the storage.
            if head.headers.capacity() > self.head.headers.capacity() {
                head.headers.clear();
                self.head.headers = head.headers;
            }
        } else if head.headers.capacity() > self.head.headers.capacity() {
            head.headers.clear();
            // Keep the parse in progress (if any): copy its fields over.
            head.headers.extend_from_slice(&self.head.headers);
            self.head.headers = head.headers;
        }
    }

    /// Parses the request head at the start of `buf`.
    ///
    /// `buf` must start at the first byte of the request and, between calls
    /// that return `Ok(None)`, only grow at the end (the caller appends what it
    /// reads). Parsing resumes where the previous call stopped.
    ///
    /// Returns `Ok(None)` when more bytes are needed, or `Ok(Some(head))` once
    /// the head is complete; the body (if any) starts at `buf[head.head_len()..]`.
    /// After `Some`, the parser is ready for the next request, whose first byte
    /// must be at the start of the next `buf`.
    ///
    /// # Errors
    ///
    /// A [`ParseError`] whose [`status`](ParseError::status) is the answer to
    /// send; the connection should then be closed. The parser's state is then
    /// unspecified: call [`reset`](Self::reset) before parsing anything else.
    pub fn parse(&mut self, buf: &[u8]) -> Result<Option<RequestHead>, ParseError> {
        if self.parse_ref(buf)?.is_none() {
            return Ok(None);
        }
        let h = &mut self.head;
        let head = RequestHead {
            method: h.method,
            method_span: h.method_span,
            target: h.target,
            version: h.version,
            headers: core::mem::take(&mut h.headers),
            head_len: h.head_len,
            framing: h.framing,
            flags: h.flags,
        };
        self.reset();
        Ok(Some(head))
    }

    /// Like [`parse`](Self::parse), but the complete head stays in the parser
    /// and is lent out: no move of the head and no [`recycle`](Self::recycle)
    /// needed. The next call (with the next request's bytes) starts over and
    /// reuses the header storage.
    ///
    /// ```
    /// use weir_http::{Limits, RequestParser};
    /// let mut p = RequestParser::new(Limits::default());
    /// let buf = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
    /// let n = {
    ///     let head = p.parse_ref(buf).unwrap().unwrap();
    ///     assert_eq!(head.target(buf), b"/a");
    ///     head.head_len()
    /// };
    /// let next = &buf[n..];
    /// assert_eq!(p.parse_ref(next).unwrap().unwrap().target(next), b"/b");
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`parse`](Self::parse).
    #[inline]
    pub fn parse_ref(&mut self, buf: &[u8]) -> Result<Option<&RequestHead>, ParseError> {
        if self.phase == Phase::Done {
            self.reset();
        }
        // Never look past max_head bytes: whatever follows cannot be head.
        let window = &buf[..buf.len().min(self.limits.max_head)];
        if self.phase == Phase::RequestLine && !(self.scan == 0 && self.fast_request_line(window)) {
            loop {
                // The request line's CR must come within max_request_line
                // bytes; not scanning further keeps the error the same for
                // any split of the input.
                let limit = window.len().min(self.line_start + self.limits.max_request_line + 1);
                let Some(cr) = self.line_end(window, limit)? else {
                    return self.incomplete(buf.len());
                };
                let start = self.line_start;
                self.line_start = cr + 2;
                self.scan = cr + 2;
                if cr != start {
                    self.request_line(window, start, cr)?;
                    self.phase = Phase::Headers;
                    break;
                }
                // RFC 9112 §2.2: "SHOULD ignore at least one empty line
                // (CRLF) received prior to the request-line" — bounded.
                if self.empty_lines >= self.limits.max_empty_lines {
                    return Err(ParseError::TooManyEmptyLines);
                }
                self.empty_lines += 1;
            }
        }
        loop {
            // The empty line ending the head: no scan needed. (A CR at
            // `line_start` cannot have been passed over by an earlier scan.)
            // A field line starts with a name byte, so one byte decides.
            if window.get(self.line_start) == Some(&b'\r') && window.get(self.line_start + 1) == Some(&b'\n')
            {
                self.finish(self.line_start + 2)?;
                return Ok(Some(&self.head));
            }
            // A complete, ordinary field line in one pass (nothing scanned
            // of it yet: a line resumed after a partial read goes on below).
            if self.scan == self.line_start && self.fast_field_line(window)? {
                continue;
            }
            let Some(cr) = self.line_end(window, window.len())? else {
                return self.incomplete(buf.len());
            };
            let start = self.line_start;
            self.line_start = cr + 2;
            self.scan = cr + 2;
            if cr == start {
                self.finish(cr + 2)?;
                return Ok(Some(&self.head));
            }
            self.field_line(window, start, cr)?;
        }
    }

    /// The usual request line, `GET <path> HTTP/1.1` with a path of only
    /// [`FAST_PATH`](crate::scan::FAST_PATH) bytes, read in one pass: the
    /// path scan stops at the SP before the version, which is then compared
    /// whole with its CRLF, so the line's end needs no search of its own.
    /// Returns false, having changed nothing, for anything else (another
    /// method, a query, `%`, an incomplete line, an error): the general path
    /// decides those. What this accepts, the general path accepts with the
    /// same result (the split tests compare the two: a head fed whole takes
    /// this path, fed byte by byte it cannot).
    #[inline(always)]
    fn fast_request_line(&mut self, window: &[u8]) -> bool {
        if window.get(..5) != Some(b"GET /") {
            return false;
        }
        let Some((end, no_pair)) = path_scan(window, 4) else {
            return false;
        };
        // ` HTTP/1.x\r\n`, and the line (CR excluded) within its limit.
        let Some(tail) = window.get(end..end + 11) else {
            return false;
        };
        let version = match u64::from_le_bytes(tail[1..9].try_into().expect("8 bytes")) {
            HTTP_11 => Version::Http11,
            HTTP_10 => Version::Http10,
            _ => return false,
        };
        if tail[0] != b' ' || tail[9..] != *b"\r\n" || end + 9 > self.limits.max_request_line {
            return false;
        }
        self.facts.plain_path = no_pair;
        self.head.method = Method::Get;
        self.head.method_span = Span::new(0, 3);
        self.head.target = Span::new(4, end);
        self.head.version = version;
        self.line_start = end + 11;
        self.scan = end + 11;
        self.phase = Phase::Headers;
        true
    }

    /// A complete field line whose name is all `[A-Za-z0-9-]`, with at most
    /// one SP before the value and none after, read in one pass: the name
    /// scan finds the colon, and the value scan (the `Host` character set
    /// for `Host`, the control-byte scan for others) ends at the CR. `Ok(false)`,
    /// having changed nothing, sends every other line to the general path
    /// ([`line_end`](Self::line_end) + [`field_line`](Self::field_line)),
    /// which accepts what this accepts with the same result.
    #[inline(always)]
    fn fast_field_line(&mut self, window: &[u8]) -> Result<bool, ParseError> {
        let start = self.line_start;
        let colon = fast_run::<{ SET_NAME }>(window, start, window.len());
        if colon == start
            || window.get(colon) != Some(&b':')
            || self.head.headers.len() >= self.limits.max_headers
        {
            return Ok(false);
        }
        let mut vs = colon + 1;
        if window.get(vs) == Some(&b' ') {
            vs += 1;
        }
        let name = &window[start..colon];
        let host = name.len() == 4 && eq_lower(name, b"host");
        if host && self.facts.host_count != 0 {
            return Ok(false); // a second Host: the general path says which error
        }
        let ve = if host { fast_run::<{ SET_HOST }>(window, vs, window.len()) } else { find_ctl(window, vs) };
        if window.get(ve..ve + 2) != Some(b"\r\n") {
            return Ok(false); // HTAB, another byte the set lacks, or not here yet
        }
        // OWS the general path would trim (the control-byte scan let no byte
        // below SP through but HTAB, which stopped it).
        if ve > vs && (window[vs] <= b' ' || window[ve - 1] <= b' ') {
            return Ok(false);
        }
        self.head.headers.push(HeaderSpan { name: Span::new(start, colon), value: Span::new(vs, ve) });
        self.line_start = ve + 2;
        self.scan = ve + 2;
        if host {
            // The value was all host characters: nothing for the general
            // `Host` check in `known_field` to reject (a second `Host` was
            // sent there above).
            self.facts.host_count = 1;
        } else {
            self.known_field(name, &window[vs..ve], window, vs)?;
        }
        Ok(true)
    }

    /// Finds the CR ending the current line in `window[..limit]`, resuming at
    /// `scan`: the first control byte must be that CR (HTAB aside), followed
    /// by LF. `Ok(None)`: the line is incomplete (`scan` records progress).
    #[inline(always)]
    fn line_end(&mut self, window: &[u8], limit: usize) -> Result<Option<usize>, ParseError> {
        let hay = &window[..limit];
        let mut i = self.scan;
        loop {
            i = find_ctl(hay, i);
            match hay.get(i) {
                Some(b'\r') => break,
                Some(b'\t') => i += 1,
                None => {
                    self.scan = limit;
                    return Ok(None);
                }
                Some(b'\n') => return Err(ParseError::BareLf),
                Some(_) => return Err(ParseError::ControlByte),
            }
        }
        match window.get(i + 1) {
            Some(b'\n') => Ok(Some(i)),
            None => {
                // A CR ends the window: look at it again next time.
                self.scan = i;
                Ok(None)
            }
            Some(_) => Err(ParseError::BareCr),
        }
    }

    /// No line end in the window: either more bytes are needed or a limit is hit.
    #[cold]
    fn incomplete(&self, len: usize) -> Result<Option<&RequestHead>, ParseError> {
        // `scan - line_start` is the length of the line so far, CR excluded.
        if self.phase == Phase::RequestLine
            && self.scan.saturating_sub(self.line_start) > self.limits.max_request_line
        {
            return Err(ParseError::RequestLineTooLong);
        }
        // The window is cut at max_head and holds no complete head.
        if len >= self.limits.max_head {
            return Err(ParseError::HeadTooLarge);
        }
        Ok(None)
    }

    /// `request-line = method SP request-target SP HTTP-version` (RFC 9112 §3).
    /// The line is `window[start..cr]`; the vector scans may read past it.
    fn request_line(&mut self, window: &[u8], start: usize, cr: usize) -> Result<(), ParseError> {
        let line = &window[start..cr];
        // `parse` only looks for the CR within `max_request_line` bytes.
        debug_assert!(line.len() <= self.limits.max_request_line);
        // method = token (RFC 9110 §9.1). GET is most requests: one compare.
        let (i, method) = if line.starts_with(b"GET ") {
            (3, Method::Get)
        } else {
            let mut i = 0;
            while i < line.len() && TOKEN[line[i] as usize] {
                i += 1;
            }
            if i == 0 || line.get(i) != Some(&b' ') {
                return Err(ParseError::InvalidMethod);
            }
            (i, Method::from_bytes(&line[..i]))
        };
        // The version has a fixed length, so the target is everything between
        // the method's SP and the SP 9 bytes before the end: no scan for it.
        let ts = i + 1;
        if line.len() < ts + 10 || line[line.len() - 9] != b' ' {
            return Err(ParseError::InvalidVersion);
        }
        let j = line.len() - 9;
        // request-target: bytes from the TARGET_CLASS table, "%" HEXDIG HEXDIG.
        let target = &line[ts..j];
        // Branch-free classification: OR the classes of all bytes, then decide once.
        let (run_end, plain) = path_run(window, start + ts, start + j);
        let fast = run_end - (start + ts);
        // A path of only [A-Za-z0-9-._/] starting with '/', with no empty or
        // dot segment: nothing to decode or normalise (see `plain_path`).
        self.facts.plain_path = plain && target.first() == Some(&b'/');
        let class = if fast < target.len() { or_class(&target[fast..], &TARGET_CLASS) } else { 0 };
        if class & T_BAD != 0 {
            return Err(ParseError::InvalidTarget);
        }
        if class & T_PCT != 0 {
            for p in memchr::memchr_iter(b'%', target) {
                let ok = matches!(target.get(p + 1..p + 3), Some(&[h, l])
                    if hex_val(h).is_some() && hex_val(l).is_some());
                if !ok {
                    return Err(ParseError::InvalidTarget);
                }
            }
        }
        check_target_form(method, target)?;
        // HTTP-version = HTTP-name "/" DIGIT "." DIGIT   (RFC 9112 §2.3)
        // One 8-byte compare for the two versions that matter.
        let v: [u8; 8] = line[j + 1..].try_into().expect("8 bytes by construction");
        let version = match u64::from_le_bytes(v) {
            HTTP_11 => Version::Http11,
            HTTP_10 => Version::Http10,
            _ => match v {
                [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
                    if major.is_ascii_digit() && minor.is_ascii_digit() =>
                {
                    if major != b'1' {
                        return Err(ParseError::UnsupportedVersion);
                    }
                    Version::Http11
                }
                _ => return Err(ParseError::InvalidVersion),
            },
        };
        self.head.method = method;
        self.head.method_span = Span::new(start, start + i);
        self.head.target = Span::new(start + ts, start + j);
        self.head.version = version;
        Ok(())
    }

    /// `field-line = field-name ":" OWS field-value OWS` (RFC 9112 §5).
    /// The value bytes were already checked by the control-byte scan.
    /// The line is `window[start..cr]`; the vector scans may read past it.
    fn field_line(&mut self, window: &[u8], start: usize, cr: usize) -> Result<(), ParseError> {
        let line = &window[start..cr];
        // field-name = token, then ":". Find the colon 16 bytes at a time and
        // check the name with one OR-fold; classify errors off the hot path.
        // `fast_run` stops at `cr` at the latest, and `window[cr]` is the CR.
        let mut i = fast_run::<{ SET_NAME }>(window, start, cr) - start;
        if i == 0 || window[start + i] != b':' {
            // A name with other tchars ("X_Y", "a.b"), or an error.
            i = find_byte(line, b':');
            if i == 0 || i == line.len() || or_class(&line[..i], &TOKEN_BAD) != 0 {
                return Err(name_error(line));
            }
        }
        if self.head.headers.len() >= self.limits.max_headers {
            return Err(ParseError::TooManyHeaders);
        }
        let name = &line[..i];
        // OWS around the value: usually exactly one SP before, none after.
        // The control-byte scan let no byte below SP through except HTAB,
        // so `b <= b' '` is exactly "SP or HTAB" here.
        let n = line.len(); // >= 1: line[i] is the colon
        let mut vs = i + 1;
        let mut ve = n;
        if vs < n && line[vs] == b' ' {
            vs += 1;
        }
        if (vs < n && line[vs] <= b' ') || line[n - 1] <= b' ' {
            while vs < ve && line[vs] <= b' ' {
                vs += 1;
            }
            while ve > vs && line[ve - 1] <= b' ' {
                ve -= 1;
            }
        }
        let value = &line[vs..ve];
        self.head
            .headers
            .push(HeaderSpan { name: Span::new(start, start + i), value: Span::new(start + vs, start + ve) });
        self.known_field(name, value, window, start + vs)
    }
}

/// Why a field line has no valid `field-name ":"` prefix.
#[cold]
fn name_error(line: &[u8]) -> ParseError {
    let i = line.iter().take_while(|&&b| TOKEN[b as usize]).count();
    match line.get(i) {
        // RFC 9112 §5.2: obs-fold; a server MUST reject or replace it.
        Some(b' ' | b'\t') if i == 0 => ParseError::ObsFold,
        // RFC 9112 §5.1: "MUST reject ... whitespace between a header field
        // name and colon with a response status code of 400".
        Some(b' ' | b'\t') => ParseError::WhitespaceBeforeColon,
        _ => ParseError::InvalidHeaderName,
    }
}

/// The four forms of request-target (RFC 9112 §3.2), checked against the method.
#[inline]
fn check_target_form(method: Method, t: &[u8]) -> Result<(), ParseError> {
    // origin-form, nearly every request: one compare.
    if t[0] == b'/' && method != Method::Connect {
        return Ok(());
    }
    check_other_target_form(method, t)
}

/// [`check_target_form`] for everything but origin-form with a non-CONNECT method.
#[cold]
fn check_other_target_form(method: Method, t: &[u8]) -> Result<(), ParseError> {
    match t[0] {
        b'/' if method != Method::Connect => Ok(()),
        // asterisk-form = "*" : only for OPTIONS (§3.2.4)
        b'*' if t.len() == 1 => match method {
            Method::Options => Ok(()),
            _ => Err(ParseError::InvalidTarget),
        },
        // authority-form = uri-host ":" port : only for CONNECT (§3.2.3)
        _ if method == Method::Connect => crate::target::check_authority_form(t),
        // absolute-form = absolute-URI (§3.2.2)
        _ => crate::target::check_absolute_form(t).map(|_| ()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::BodyFraming;

    fn parse(input: &[u8]) -> Result<Option<RequestHead>, ParseError> {
        RequestParser::new(Limits::default()).parse(input)
    }

    #[test]
    fn plain_path_flag() {
        let cases: &[(&str, bool)] = &[
            ("/", true),
            ("/plaintext", true),
            ("/static/app-1.2_min.js", true),
            ("/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q", true),
            ("/a?x=1", false),
            ("/a%20b", false),
            ("/a//b", false),
            ("/a/./b", false),
            ("/a/../b", false),
            ("/.well-known/x", false),
            ("/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p//", false),
            ("/a/", true),
            ("/a~b", false),
            ("*", false),
            ("http://h/a", false),
        ];
        for &(target, plain) in cases {
            let method = if target == "*" { "OPTIONS" } else { "GET" };
            let req = format!("{method} {target} HTTP/1.1\r\nHost: h\r\n\r\n");
            let h = parse(req.as_bytes()).unwrap().unwrap();
            assert_eq!(h.plain_path(), plain, "{target}");
            if plain {
                // A plain path is already what normalisation would give.
                assert_eq!(crate::normalize_path(target.as_bytes()).unwrap(), target, "{target}");
            }
        }
    }

    #[test]
    fn minimal_get() {
        let buf = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let h = parse(buf).unwrap().unwrap();
        assert_eq!(h.method(), Method::Get);
        assert_eq!(h.target(buf), b"/");
        assert_eq!(h.version(), Version::Http11);
        assert_eq!(h.head_len(), buf.len());
        assert!(h.keep_alive());
        assert_eq!(h.framing(), BodyFraming::None);
    }

    #[test]
    fn resumes_without_rescan_state() {
        let full = b"POST /a?b=c HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
        let mut p = RequestParser::new(Limits::default());
        for n in 0..full.len() {
            match p.parse(&full[..n]) {
                Ok(None) => {}
                Ok(Some(h)) => {
                    assert_eq!(n, h.head_len());
                    assert_eq!(h.content_length(), Some(5));
                    return;
                }
                Err(e) => panic!("{e} at {n}"),
            }
        }
        panic!("never completed");
    }

    #[test]
    fn parser_resets_after_success() {
        let buf = b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.0\r\n\r\n";
        let mut p = RequestParser::new(Limits::default());
        let h1 = p.parse(buf).unwrap().unwrap();
        let rest = &buf[h1.head_len()..];
        p.recycle(h1);
        let h2 = p.parse(rest).unwrap().unwrap();
        assert_eq!(h2.target(rest), b"/2");
        assert!(!h2.keep_alive());
    }
}

//! Where one response ends: just enough HTTP/1.1 (RFC 9112 §6) and
//! WebSocket (RFC 6455 §5.2) to count answers on a stream.
//!
//! A load generator must delimit responses exactly — a miscount on a
//! pipelined connection pairs every later response with the wrong request
//! and its latency — but it has no use for header values or bodies. So these
//! readers are sans-IO state machines that *skip*: the caller feeds bytes
//! as they arrive, each call consumes what it can and reports at most one
//! completed response, and bodies are never buffered (a 1 MiB file is
//! counted off as it streams past).
//!
//! ```text
//!   HTTP:  Head ──(Content-Length: n)──> Body(n) ─────────────────> done
//!               ──(chunked)──> ChunkSize ─> ChunkData ─> ChunkCrlf ┐
//!                               ^ └──(size 0)──> Trailers ──> done │
//!                               └──────────────────────────────────┘
//!               ──(neither)──> UntilClose ──(EOF, see `finish`)──> done
//!   WS:    Head ──> Payload(n) ──(FIN of a data frame)──> done
//! ```
//!
//! The contract of `feed(buf) -> (consumed, Option<Completion>)`: bytes
//! consumed are gone; a partial head or chunk-size line is not consumed (the
//! caller keeps it and calls again with more). When no completion is
//! reported, everything consumable was consumed.

use weir_ws::frame::{decode_head, OpCode};

/// The longest response head accepted (status line + headers).
pub const MAX_HEAD_LEN: usize = 64 * 1024;
/// The longest chunk-size or trailer line accepted.
const MAX_LINE_LEN: usize = 4096;

/// One complete response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completion {
    /// The HTTP status (0 for a WebSocket message).
    pub status: u16,
    /// The server will close the connection after this response.
    pub close: bool,
}

/// A response that cannot be delimited: the connection is unusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramingError(pub &'static str);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    Body { remaining: u64 },
    ChunkSize,
    ChunkData { remaining: u64 },
    ChunkCrlf { remaining: u8 },
    Trailers,
    UntilClose,
}

/// Delimits HTTP/1.1 responses on one connection.
#[derive(Debug, Clone)]
pub struct ResponseReader {
    state: State,
    status: u16,
    close: bool,
    /// Requests are `HEAD`: responses carry no body whatever their headers say.
    head_method: bool,
}

/// Finds the end of the line starting at `buf[0]`: index just after `\n`.
fn line_end(buf: &[u8]) -> Option<usize> {
    buf.iter().position(|&b| b == b'\n').map(|i| i + 1)
}

/// Trims spaces, tabs, CR and LF.
fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t' | b'\r' | b'\n', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t' | b'\r' | b'\n'] = s {
        s = rest;
    }
    s
}

/// True when a comma-separated header value lists `token` (case-insensitive).
fn has_token(value: &[u8], token: &[u8]) -> bool {
    value.split(|&b| b == b',').any(|t| trim(t).eq_ignore_ascii_case(token))
}

/// The parsed head: status, framing, and its length.
struct Head {
    len: usize,
    status: u16,
    close: bool,
    content_length: Option<u64>,
    chunked: bool,
}

/// Parses a complete head, if `buf` holds one (`Ok(None)`: need more).
fn parse_head(buf: &[u8]) -> Result<Option<Head>, FramingError> {
    // status-line = HTTP-version SP status-code SP [ reason-phrase ]
    let Some(first) = line_end(buf) else {
        return if buf.len() > MAX_HEAD_LEN { Err(FramingError("response head too long")) } else { Ok(None) };
    };
    let line = trim(&buf[..first]);
    let (minor, status) = match line {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', m @ (b'0' | b'1'), b' ', d0, d1, d2, rest @ ..]
            if [d0, d1, d2].iter().all(|d| d.is_ascii_digit()) && (rest.is_empty() || rest[0] == b' ') =>
        {
            (m - b'0', u16::from(d0 - b'0') * 100 + u16::from(d1 - b'0') * 10 + u16::from(d2 - b'0'))
        }
        _ => return Err(FramingError("malformed status line")),
    };
    let mut head = Head { len: 0, status, close: minor == 0, content_length: None, chunked: false };
    let mut pos = first;
    loop {
        let Some(n) = line_end(&buf[pos..]) else {
            return if buf.len() > MAX_HEAD_LEN {
                Err(FramingError("response head too long"))
            } else {
                Ok(None)
            };
        };
        let line = &buf[pos..pos + n];
        pos += n;
        if line == b"\r\n" || line == b"\n" {
            head.len = pos;
            return Ok(Some(head));
        }
        let colon =
            line.iter().position(|&b| b == b':').ok_or(FramingError("header line without a colon"))?;
        let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or(FramingError("bad Content-Length"))?;
            if head.content_length.is_some_and(|old| old != n) {
                return Err(FramingError("differing Content-Length values"));
            }
            head.content_length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            // RFC 9112 §6.3: chunked framing applies when chunked is the final coding.
            head.chunked =
                value.rsplit(|&b| b == b',').next().is_some_and(|t| trim(t).eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case(b"connection") {
            if has_token(value, b"close") {
                head.close = true;
            } else if has_token(value, b"keep-alive") {
                head.close = false;
            }
        }
    }
}

impl ResponseReader {
    /// A reader for responses to requests of the given method.
    pub fn new(head_method: bool) -> ResponseReader {
        ResponseReader { state: State::Head, status: 0, close: false, head_method }
    }

    /// True between responses (no partial response consumed).
    #[cfg(test)]
    pub fn is_idle(&self) -> bool {
        self.state == State::Head
    }

    fn complete(&mut self) -> Option<Completion> {
        self.state = State::Head;
        Some(Completion { status: self.status, close: self.close })
    }

    /// Consumes what it can of `buf`; see the module contract.
    ///
    /// # Errors
    ///
    /// A response that cannot be delimited.
    pub fn feed(&mut self, buf: &[u8]) -> Result<(usize, Option<Completion>), FramingError> {
        let mut pos = 0;
        loop {
            let rest = &buf[pos..];
            match self.state {
                State::Head => {
                    let Some(head) = parse_head(rest)? else {
                        return Ok((pos, None));
                    };
                    pos += head.len;
                    self.status = head.status;
                    self.close = head.close;
                    // RFC 9112 §6.3 rule 1: no body after HEAD, 1xx, 204, 304.
                    if (100..200).contains(&head.status) {
                        continue; // an interim response: the real one follows
                    }
                    if self.head_method || head.status == 204 || head.status == 304 {
                        return Ok((pos, self.complete()));
                    }
                    if head.chunked {
                        self.state = State::ChunkSize;
                    } else if let Some(n) = head.content_length {
                        if n == 0 {
                            return Ok((pos, self.complete()));
                        }
                        self.state = State::Body { remaining: n };
                    } else {
                        // Rule 8: the body runs until the server closes.
                        self.close = true;
                        self.state = State::UntilClose;
                    }
                }
                State::Body { remaining } | State::ChunkData { remaining } => {
                    let take = remaining.min(rest.len() as u64);
                    pos += take as usize;
                    let left = remaining - take;
                    match (self.state, left) {
                        (State::Body { .. }, 0) => return Ok((pos, self.complete())),
                        (State::Body { .. }, _) => self.state = State::Body { remaining: left },
                        (_, 0) => self.state = State::ChunkCrlf { remaining: 2 },
                        _ => self.state = State::ChunkData { remaining: left },
                    }
                    if left > 0 {
                        return Ok((pos, None));
                    }
                }
                State::ChunkCrlf { mut remaining } => {
                    // chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
                    for &b in rest.iter().take(usize::from(remaining)) {
                        let want = if remaining == 2 { b'\r' } else { b'\n' };
                        if b != want {
                            return Err(FramingError("chunk data not followed by CRLF"));
                        }
                        pos += 1;
                        remaining -= 1;
                    }
                    if remaining > 0 {
                        self.state = State::ChunkCrlf { remaining };
                        return Ok((pos, None));
                    }
                    self.state = State::ChunkSize;
                }
                State::ChunkSize => {
                    let Some(n) = line_end(rest) else {
                        return if rest.len() > MAX_LINE_LEN {
                            Err(FramingError("chunk-size line too long"))
                        } else {
                            Ok((pos, None))
                        };
                    };
                    // chunk-size = 1*HEXDIG, then optional ";ext"
                    let line = trim(&rest[..n]);
                    let digits = line.split(|&b| b == b';').next().map(trim).unwrap_or_default();
                    if digits.is_empty() || digits.len() > 15 {
                        return Err(FramingError("bad chunk size"));
                    }
                    let size = digits
                        .iter()
                        .try_fold(0u64, |acc, &b| (b as char).to_digit(16).map(|d| acc * 16 + u64::from(d)));
                    let size = size.ok_or(FramingError("bad chunk size"))?;
                    pos += n;
                    self.state =
                        if size == 0 { State::Trailers } else { State::ChunkData { remaining: size } };
                }
                State::Trailers => {
                    let Some(n) = line_end(rest) else {
                        return if rest.len() > MAX_LINE_LEN {
                            Err(FramingError("trailer line too long"))
                        } else {
                            Ok((pos, None))
                        };
                    };
                    pos += n;
                    if trim(&rest[..n]).is_empty() {
                        return Ok((pos, self.complete()));
                    }
                }
                State::UntilClose => return Ok((buf.len(), None)),
            }
        }
    }

    /// The stream ended: completes a body delimited by the close, if any.
    ///
    /// # Errors
    ///
    /// The stream ended in the middle of a response.
    pub fn finish(&mut self) -> Result<Option<Completion>, FramingError> {
        match self.state {
            State::Head => Ok(None),
            State::UntilClose => Ok(self.complete()),
            _ => Err(FramingError("connection closed mid-response")),
        }
    }
}

/// Delimits WebSocket messages sent by a server (unmasked frames).
#[derive(Debug, Clone, Default)]
pub struct WsReader {
    /// Payload bytes left in the current frame, and whether it ends a data message.
    payload: Option<(u64, bool)>,
}

impl WsReader {
    /// A reader at a frame boundary.
    pub fn new() -> WsReader {
        WsReader::default()
    }

    /// Consumes what it can of `buf`; a completion is one whole data
    /// message. Pings and pongs are skipped.
    ///
    /// # Errors
    ///
    /// A malformed frame, or a Close frame (the server ended the session).
    pub fn feed(&mut self, buf: &[u8]) -> Result<(usize, Option<Completion>), FramingError> {
        let mut pos = 0;
        loop {
            match self.payload {
                None => {
                    let Some((head, n)) =
                        decode_head(&buf[pos..]).map_err(|_| FramingError("malformed frame"))?
                    else {
                        return Ok((pos, None));
                    };
                    pos += n;
                    if head.opcode == OpCode::Close {
                        return Err(FramingError("server sent Close"));
                    }
                    let ends_message = head.fin && !head.opcode.is_control();
                    self.payload = Some((head.payload_len, ends_message));
                }
                Some((remaining, ends_message)) => {
                    let take = remaining.min((buf.len() - pos) as u64);
                    pos += take as usize;
                    if take < remaining {
                        self.payload = Some((remaining - take, ends_message));
                        return Ok((pos, None));
                    }
                    self.payload = None;
                    if ends_message {
                        return Ok((pos, Some(Completion { status: 0, close: false })));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` split at `split` (the caller keeps unconsumed bytes,
    /// as the client does) and collects the completions.
    fn run(
        reader: &mut ResponseReader,
        input: &[u8],
        splits: &[usize],
    ) -> Result<Vec<Completion>, FramingError> {
        let mut pending = Vec::new();
        let mut out = Vec::new();
        let mut last = 0;
        for &cut in splits.iter().chain(std::iter::once(&input.len())) {
            pending.extend_from_slice(&input[last..cut]);
            last = cut;
            loop {
                let (n, done) = reader.feed(&pending)?;
                pending.drain(..n);
                match done {
                    Some(c) => out.push(c),
                    None => break,
                }
            }
        }
        Ok(out)
    }

    fn ok(status: u16) -> Completion {
        Completion { status, close: false }
    }

    #[test]
    fn delimits_every_framing_at_every_split() {
        let cases: Vec<(&[u8], Vec<Completion>)> = vec![
            (b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, World!", vec![ok(200)]),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n", vec![ok(200), ok(404)]),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n1\r\n!\r\n0\r\nX-T: 1\r\n\r\n", vec![ok(200)]),
            (b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", vec![ok(204), ok(304)]),
            (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx", vec![ok(201)]),
            (b"HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 1\r\n\r\nx", vec![Completion { status: 200, close: true }]),
            (b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", vec![Completion { status: 200, close: true }]),
            (b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", vec![ok(200)]),
            (b"HTTP/1.1 503 Busy\nContent-Length: 0\n\n", vec![ok(503)]),
        ];
        for (input, want) in &cases {
            assert_eq!(
                &run(&mut ResponseReader::new(false), input, &[]).unwrap(),
                want,
                "{}",
                String::from_utf8_lossy(input)
            );
            for cut in 0..=input.len() {
                let got = run(&mut ResponseReader::new(false), input, &[cut]).unwrap();
                assert_eq!(&got, want, "split at {cut}: {}", String::from_utf8_lossy(input));
            }
            let bytewise: Vec<usize> = (1..input.len()).collect();
            assert_eq!(&run(&mut ResponseReader::new(false), input, &bytewise).unwrap(), want);
        }
    }

    #[test]
    fn body_until_close_and_head_requests() {
        let mut r = ResponseReader::new(false);
        assert_eq!(run(&mut r, b"HTTP/1.1 200 OK\r\n\r\nsome body", &[]).unwrap(), vec![]);
        assert_eq!(r.finish().unwrap(), Some(Completion { status: 200, close: true }));

        let mut r = ResponseReader::new(true);
        let two =
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
        assert_eq!(run(&mut r, two, &[]).unwrap(), vec![ok(200), ok(200)]);
        assert!(r.is_idle());

        let mut r = ResponseReader::new(false);
        run(&mut r, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", &[]).unwrap();
        assert!(r.finish().is_err());
    }

    #[test]
    fn large_bodies_are_skipped_not_buffered() {
        let mut r = ResponseReader::new(false);
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n";
        assert_eq!(r.feed(head).unwrap(), (head.len(), None));
        let chunk = vec![b'x'; 65536];
        for _ in 0..15 {
            assert_eq!(r.feed(&chunk).unwrap(), (65536, None));
        }
        assert_eq!(r.feed(&chunk).unwrap(), (65536, Some(ok(200))));
    }

    #[test]
    fn refuses_what_cannot_be_delimited() {
        for input in [
            &b"HTTP/2 200 OK\r\n\r\n"[..],
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"ICY 200 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxyz",
        ] {
            assert!(
                run(&mut ResponseReader::new(false), input, &[]).is_err(),
                "{}",
                String::from_utf8_lossy(input)
            );
        }
        let huge = [b"HTTP/1.1 200 OK\r\nX: ".as_slice(), &vec![b'a'; MAX_HEAD_LEN + 1]].concat();
        assert!(ResponseReader::new(false).feed(&huge).is_err());
    }

    #[test]
    fn ws_messages_and_control_frames() {
        let mut stream = Vec::new();
        weir_ws::frame::encode_frame(true, OpCode::Binary, false, &[7; 300], &mut stream);
        weir_ws::frame::encode_frame(true, OpCode::Ping, false, b"p", &mut stream);
        weir_ws::frame::encode_frame(false, OpCode::Text, false, b"ab", &mut stream);
        weir_ws::frame::encode_frame(true, OpCode::Continuation, false, b"c", &mut stream);
        weir_ws::frame::encode_frame(true, OpCode::Binary, false, b"", &mut stream);
        for cut in 0..=stream.len() {
            let mut r = WsReader::new();
            let mut pending = Vec::new();
            let mut messages = 0;
            for part in [&stream[..cut], &stream[cut..]] {
                pending.extend_from_slice(part);
                loop {
                    let (n, done) = r.feed(&pending).unwrap();
                    pending.drain(..n);
                    if done.is_none() {
                        break;
                    }
                    messages += 1;
                }
            }
            assert_eq!(messages, 3, "split at {cut}");
        }
        let mut close = Vec::new();
        weir_ws::frame::encode_frame(true, OpCode::Close, false, &[3, 232], &mut close);
        assert!(WsReader::new().feed(&close).is_err());
    }
}

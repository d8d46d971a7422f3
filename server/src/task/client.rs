//! A minimal HTTP/1.1 client for async handlers, on the shard's own
//! outbound connections.
//!
//! ```text
//!   handler: client::get(addr, "/x").send().await
//!     Fetch (first poll) ── Connect{addr, exchange} ──> thread-local queue
//!     on_turn: ShardCtx::connect(addr, Conn::Upstream(Upstream))
//!     on_connected: write the request (Connection: close)
//!     on_data: status line, then the field section and framing checked by
//!              weir-http's RequestParser, then the body (length | chunked | to EOF)
//!     done: the exchange holds the result; its waker wakes the task (same thread)
//! ```
//!
//! The connection lives on the same shard as the request that asked for
//! it, so the whole exchange — connect, write, read, parse, wake — happens
//! on one thread, inside the event loop, with no locks: the future and the
//! connection share the exchange through an `Rc<RefCell<_>>`.
//!
//! # What it checks (RFC 9112)
//!
//! * The status line (§4): `HTTP/1.1` or `HTTP/1.0`, a space, three
//!   digits, a space, a reason of visible characters. Interim `1xx`
//!   answers are skipped (§15.2 of RFC 9110).
//! * The field section and the framing: weir-http has no response parser,
//!   so the fields are fed to its **request** parser behind a fixed request
//!   line (`GET / HTTP/1.1`, `Host: upstream`): the same rules reject
//!   obs-fold, whitespace before a colon, bare CR, NUL and control bytes,
//!   differing or malformed `Content-Length`, `Content-Length` with
//!   `Transfer-Encoding`, and a chunked coding that is not final. A
//!   response that repeats `Host` is refused with it (a response has no
//!   use for one).
//! * The body (§6.3): none for `HEAD`, `204` and `304`; chunked; a
//!   `Content-Length`; else everything until the upstream closes.
//!
//! # Limits and what it is not
//!
//! One request per connection (`Connection: close`), no pooling, no TLS,
//! no redirects, no proxy: a small, correct client for calling a service
//! next door. Every failure is a value ([`FetchError`]): refused, timed
//! out (one deadline for the whole exchange), malformed, too large.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use weir_http::{BodyDecoder, BodyFraming, Decoded, Limits, ParseError, RequestHead, RequestParser};
use weir_reactor::{duration_ms, ConnectOptions, Ctx, Token};

use super::with_local;
use crate::msg::Msg;

/// The default deadline for a whole exchange (connect, send, receive).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default largest response body accepted.
const DEFAULT_MAX_BODY: u64 = 16 * 1024 * 1024;
/// The largest response head (status line and fields).
const MAX_RESPONSE_HEAD: usize = 64 * 1024;
/// What the field section is parsed behind (see the module docs).
const FIXED_REQUEST_LINE: &[u8] = b"GET / HTTP/1.1\r\nHost: upstream\r\n";

/// Why a [`Fetch`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// The request could not be written as HTTP/1.1 (a method, target or
    /// header with bytes that are not allowed there).
    InvalidRequest(&'static str),
    /// The connection could not be made (refused, unreachable, no descriptors).
    Connect(io::ErrorKind),
    /// The deadline passed before the whole response arrived.
    Timeout,
    /// The upstream closed (or reset) the connection before the response was complete.
    Closed,
    /// The status line was malformed.
    InvalidStatusLine,
    /// The head or body broke HTTP/1.1 framing rules (weir-http's verdict).
    Invalid(ParseError),
    /// The head or body was larger than allowed.
    TooLarge,
    /// Used outside a shard's async handler.
    NotOnShard,
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::InvalidRequest(what) => write!(f, "invalid request: {what}"),
            FetchError::Connect(kind) => write!(f, "connect failed: {kind}"),
            FetchError::Timeout => f.write_str("upstream timed out"),
            FetchError::Closed => f.write_str("upstream closed before the response was complete"),
            FetchError::InvalidStatusLine => f.write_str("invalid status line"),
            FetchError::Invalid(e) => write!(f, "invalid response: {e}"),
            FetchError::TooLarge => f.write_str("response too large"),
            FetchError::NotOnShard => f.write_str("fetch used outside a shard's async handler"),
        }
    }
}

impl std::error::Error for FetchError {}

/// A request to send: build it with [`get`] or [`request`], then
/// [`ClientRequest::send`] and await.
///
/// ```no_run
/// use std::net::SocketAddr;
/// use weir_server::{async_handler, task::client, App, Body, Response};
///
/// let upstream: SocketAddr = "127.0.0.1:9000".parse().unwrap();
/// let app = App::new().route("GET", "/via", async_handler(move |_req| async move {
///     match client::get(upstream, "/status").send().await {
///         Ok(resp) => Response::new(resp.status()).with_body(Body::Bytes(resp.into_body())),
///         Err(e) => Response::text(e.to_string()).with_status(502),
///     }
/// }));
/// # let _ = app;
/// ```
#[derive(Debug, Clone)]
pub struct ClientRequest {
    addr: SocketAddr,
    method: String,
    target: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    timeout: Duration,
    max_body: u64,
}

/// A `GET` of `target` (origin form: `/path?query`) from `addr`.
pub fn get(addr: SocketAddr, target: &str) -> ClientRequest {
    request("GET", addr, target)
}

/// A request with any method.
pub fn request(method: &str, addr: SocketAddr, target: &str) -> ClientRequest {
    ClientRequest {
        addr,
        method: method.to_string(),
        target: target.to_string(),
        headers: Vec::new(),
        body: Vec::new(),
        timeout: DEFAULT_TIMEOUT,
        max_body: DEFAULT_MAX_BODY,
    }
}

impl ClientRequest {
    /// Adds a header (a `Host` given here replaces the default, the address).
    #[must_use]
    pub fn header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// The request body (sent with `Content-Length`).
    #[must_use]
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The deadline for the whole exchange (default 10 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The largest response body accepted (default 16 MiB).
    #[must_use]
    pub fn max_body(mut self, max: u64) -> Self {
        self.max_body = max;
        self
    }

    /// Sends the request when first polled; resolves to the response.
    pub fn send(self) -> Fetch {
        Fetch { state: FetchState::Start(Box::new(self)) }
    }

    /// The request in canonical HTTP/1.1 form.
    fn encode(&self) -> Result<Vec<u8>, FetchError> {
        if self.method.is_empty() || !weir_http::is_token(self.method.as_bytes()) {
            return Err(FetchError::InvalidRequest("method"));
        }
        if !self.target.starts_with('/') || self.target.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(FetchError::InvalidRequest("target"));
        }
        let mut out = Vec::with_capacity(128 + self.body.len());
        out.extend_from_slice(format!("{} {} HTTP/1.1\r\n", self.method, self.target).as_bytes());
        if !self.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
            out.extend_from_slice(format!("Host: {}\r\n", self.addr).as_bytes());
        }
        for (name, value) in &self.headers {
            if !weir_http::is_token(name.as_bytes()) || name.is_empty() {
                return Err(FetchError::InvalidRequest("header name"));
            }
            if value.iter().any(|&b| (b < b' ' && b != b'\t') || b == 0x7f) {
                return Err(FetchError::InvalidRequest("header value"));
            }
            let framing = ["content-length", "transfer-encoding", "connection"];
            if framing.iter().any(|f| name.eq_ignore_ascii_case(f)) {
                return Err(FetchError::InvalidRequest("framing headers are the client's"));
            }
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        if !self.body.is_empty() || matches!(self.method.as_str(), "POST" | "PUT" | "PATCH") {
            out.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        out.extend_from_slice(b"Connection: close\r\n\r\n");
        out.extend_from_slice(&self.body);
        Ok(out)
    }
}

/// A response from an upstream: status, fields, body.
#[derive(Debug)]
pub struct UpstreamResponse {
    status: u16,
    /// The fixed request line and the response's field section: `fields`
    /// are ranges into it.
    head_buf: Vec<u8>,
    fields: RequestHead,
    body: Vec<u8>,
}

impl UpstreamResponse {
    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.fields.header(&self.head_buf, name.as_bytes())
    }

    /// Every header, in order (without the fixed `Host` the parser needed).
    pub fn headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.fields.headers(&self.head_buf).skip(1)
    }

    /// The body (de-chunked).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body, owned.
    pub fn into_body(self) -> Vec<u8> {
        self.body
    }
}

// ------------------------------------------------------------ the exchange

/// What the future and its connection share (same thread: `Rc<RefCell>`).
#[derive(Debug)]
pub(crate) struct Exchange {
    /// The encoded request, until the connection takes it.
    request: Vec<u8>,
    head_request: bool,
    max_body: u64,
    /// The shard time by which the whole response must be in.
    deadline_ms: u64,
    result: Option<Result<UpstreamResponse, FetchError>>,
    waker: Option<Waker>,
    /// The connection, once opened.
    token: Option<Token>,
    /// The future was dropped: nobody waits for the answer.
    abandoned: bool,
    /// The outcome is known (the first one counts: a close after a
    /// complete response is not an error).
    finished: bool,
}

impl Exchange {
    fn finish(&mut self, result: Result<UpstreamResponse, FetchError>) {
        if self.finished || self.abandoned {
            return;
        }
        self.finished = true;
        self.result = Some(result);
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}

/// A connection a future asked for, opened by the shard in `on_turn`.
#[derive(Debug)]
pub(crate) struct Connect {
    pub(crate) addr: SocketAddr,
    pub(crate) timeout: Duration,
    pub(crate) exchange: Rc<RefCell<Exchange>>,
}

impl Connect {
    /// The connection's options, and whether it is still wanted.
    pub(crate) fn options(&self, now_ms: u64) -> Option<ConnectOptions> {
        let mut ex = self.exchange.borrow_mut();
        if ex.abandoned {
            return None;
        }
        ex.deadline_ms = now_ms + duration_ms(self.timeout);
        Some(ConnectOptions::default().timeout(self.timeout))
    }

    /// The shard opened it as `token`, or could not.
    pub(crate) fn opened(&self, result: io::Result<Token>) {
        let mut ex = self.exchange.borrow_mut();
        match result {
            Ok(token) => ex.token = Some(token),
            Err(e) => ex.finish(Err(FetchError::Connect(e.kind()))),
        }
    }

    /// The connection's state.
    pub(crate) fn upstream(&self) -> Upstream {
        Upstream { ex: self.exchange.clone(), buf: Vec::new(), phase: Phase::Head }
    }
}

// ---------------------------------------------------------- the future

/// The future of [`ClientRequest::send`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Fetch {
    state: FetchState,
}

#[derive(Debug)]
enum FetchState {
    Start(Box<ClientRequest>),
    Waiting(Rc<RefCell<Exchange>>),
    Done,
}

impl Future for Fetch {
    type Output = Result<UpstreamResponse, FetchError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match &this.state {
            FetchState::Start(req) => {
                let request = match req.encode() {
                    Ok(r) => r,
                    Err(e) => {
                        this.state = FetchState::Done;
                        return Poll::Ready(Err(e));
                    }
                };
                let exchange = Rc::new(RefCell::new(Exchange {
                    request,
                    head_request: req.method == "HEAD",
                    max_body: req.max_body,
                    deadline_ms: 0,
                    result: None,
                    waker: Some(cx.waker().clone()),
                    token: None,
                    abandoned: false,
                    finished: false,
                }));
                let connect = Connect { addr: req.addr, timeout: req.timeout, exchange: exchange.clone() };
                if with_local(|l| l.connects.push(connect)).is_none() {
                    this.state = FetchState::Done;
                    return Poll::Ready(Err(FetchError::NotOnShard));
                }
                this.state = FetchState::Waiting(exchange);
                Poll::Pending
            }
            FetchState::Waiting(ex) => {
                let mut e = ex.borrow_mut();
                match e.result.take() {
                    Some(result) => {
                        drop(e);
                        this.state = FetchState::Done;
                        Poll::Ready(result)
                    }
                    None => {
                        if !e.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                            e.waker = Some(cx.waker().clone());
                        }
                        Poll::Pending
                    }
                }
            }
            FetchState::Done => Poll::Ready(Err(FetchError::Closed)),
        }
    }
}

impl Drop for Fetch {
    fn drop(&mut self) {
        if let FetchState::Waiting(ex) = &self.state {
            let mut e = ex.borrow_mut();
            if !e.finished {
                // Cancelled: the connection, if open, is aborted in the
                // shard's next turn; if not yet open, it never will be.
                e.abandoned = true;
                e.waker = None;
                if let Some(token) = e.token {
                    with_local(|l| l.aborts.push(token));
                }
            }
        }
    }
}

// ------------------------------------------------------ the connection

/// What the response bytes are.
#[derive(Debug)]
enum Phase {
    /// The status line and fields, collected in `buf`.
    Head,
    /// The body (boxed: the head's parts are large, and only this phase has them).
    Body(Box<BodyPhase>),
    /// Finished (or failed): the rest is ignored.
    Done,
}

/// The head is in; the body is arriving.
#[derive(Debug)]
struct BodyPhase {
    status: u16,
    head_buf: Vec<u8>,
    fields: RequestHead,
    /// The body's framing (`None`: until the upstream closes).
    decoder: Option<BodyDecoder>,
    body: Vec<u8>,
}

/// An outbound connection's state (`Conn::Upstream`): one exchange.
#[derive(Debug)]
pub(crate) struct Upstream {
    ex: Rc<RefCell<Exchange>>,
    buf: Vec<u8>,
    phase: Phase,
}

impl Upstream {
    fn finish(&mut self, cx: &mut Ctx<'_, Msg>, result: Result<UpstreamResponse, FetchError>) {
        let failed = result.is_err();
        self.phase = Phase::Done;
        self.ex.borrow_mut().finish(result);
        if failed {
            cx.abort();
        } else {
            cx.close();
        }
    }

    pub(crate) fn on_connected(&mut self, cx: &mut Ctx<'_, Msg>) {
        let (request, deadline, abandoned) = {
            let mut ex = self.ex.borrow_mut();
            (std::mem::take(&mut ex.request), ex.deadline_ms, ex.abandoned)
        };
        if abandoned {
            cx.abort();
            return;
        }
        cx.write(request);
        cx.set_deadline_ms(deadline.saturating_sub(cx.now_ms()));
    }

    pub(crate) fn on_data(&mut self, cx: &mut Ctx<'_, Msg>, data: &[u8]) -> usize {
        if self.ex.borrow().abandoned {
            self.phase = Phase::Done;
            cx.abort();
        }
        match self.phase {
            Phase::Head => self.read_head(cx, data),
            Phase::Body(_) => self.read_body(cx, data),
            Phase::Done => {}
        }
        data.len()
    }

    fn read_head(&mut self, cx: &mut Ctx<'_, Msg>, data: &[u8]) {
        self.buf.extend_from_slice(data);
        loop {
            let Some(end) = find_end_of_head(&self.buf) else {
                if self.buf.len() > MAX_RESPONSE_HEAD {
                    self.finish(cx, Err(FetchError::TooLarge));
                }
                return;
            };
            let (status, fields_at) = match parse_status_line(&self.buf[..end]) {
                Ok(s) => s,
                Err(e) => return self.finish(cx, Err(e)),
            };
            if (100..200).contains(&status) {
                // An interim answer (100 Continue, 103 Early Hints): skip it.
                self.buf.drain(..end);
                continue;
            }
            let max_body = self.ex.borrow().max_body;
            let mut head_buf = Vec::with_capacity(FIXED_REQUEST_LINE.len() + end - fields_at);
            head_buf.extend_from_slice(FIXED_REQUEST_LINE);
            head_buf.extend_from_slice(&self.buf[fields_at..end]);
            let limits = Limits { max_body, max_head: MAX_RESPONSE_HEAD + 64, ..Limits::default() };
            let fields = match RequestParser::new(limits).parse(&head_buf) {
                Ok(Some(fields)) => fields,
                Ok(None) => return self.finish(cx, Err(FetchError::InvalidStatusLine)),
                Err(ParseError::BodyTooLarge) => return self.finish(cx, Err(FetchError::TooLarge)),
                Err(e) => return self.finish(cx, Err(FetchError::Invalid(e))),
            };
            let no_body = self.ex.borrow().head_request || status == 204 || status == 304;
            let decoder = match fields.framing() {
                _ if no_body => Some(BodyDecoder::new(BodyFraming::Length(0), &limits)),
                BodyFraming::None => None, // until close (RFC 9112 §6.3, item 8)
                framing => Some(BodyDecoder::new(framing, &limits)),
            };
            let rest = self.buf.split_off(end);
            self.buf = Vec::new();
            self.phase =
                Phase::Body(Box::new(BodyPhase { status, head_buf, fields, decoder, body: Vec::new() }));
            return self.read_body(cx, &rest);
        }
    }

    fn read_body(&mut self, cx: &mut Ctx<'_, Msg>, input: &[u8]) {
        let max_body = self.ex.borrow().max_body;
        let Phase::Body(phase) = &mut self.phase else { return };
        let BodyPhase { decoder, body, .. } = &mut **phase;
        let Some(decoder) = decoder else {
            if (body.len() + input.len()) as u64 > max_body {
                return self.finish(cx, Err(FetchError::TooLarge));
            }
            body.extend_from_slice(input);
            return;
        };
        let mut pos = 0;
        loop {
            match decoder.decode(&input[pos..]) {
                Err(ParseError::BodyTooLarge) => return self.finish(cx, Err(FetchError::TooLarge)),
                Err(e) => return self.finish(cx, Err(FetchError::Invalid(e))),
                Ok((n, Decoded::Data(range))) => {
                    let piece = &input[pos..][range];
                    if (body.len() + piece.len()) as u64 > max_body {
                        return self.finish(cx, Err(FetchError::TooLarge));
                    }
                    body.extend_from_slice(piece);
                    pos += n;
                }
                Ok((_, Decoded::NeedMore)) => return,
                Ok((_, Decoded::Done)) => return self.complete(cx),
            }
        }
    }

    /// The whole response is in.
    fn complete(&mut self, cx: &mut Ctx<'_, Msg>) {
        let Phase::Body(phase) = std::mem::replace(&mut self.phase, Phase::Done) else {
            return;
        };
        let BodyPhase { status, head_buf, fields, body, .. } = *phase;
        self.finish(cx, Ok(UpstreamResponse { status, head_buf, fields, body }));
    }

    pub(crate) fn on_eof(&mut self, cx: &mut Ctx<'_, Msg>) {
        match &self.phase {
            // A body that ends at close has ended.
            Phase::Body(phase) if phase.decoder.is_none() => self.complete(cx),
            Phase::Done => cx.close(),
            _ => self.finish(cx, Err(FetchError::Closed)),
        }
    }

    pub(crate) fn on_timer(&mut self, cx: &mut Ctx<'_, Msg>) {
        self.finish(cx, Err(FetchError::Timeout));
    }

    /// The connection is gone (reset, aborted, or closed after finishing).
    pub(crate) fn on_close(self) {
        self.ex.borrow_mut().finish(Err(FetchError::Closed));
    }

    /// The connection could not be made.
    pub(crate) fn on_connect_failed(self, error: &io::Error) {
        let err = match error.kind() {
            io::ErrorKind::TimedOut => FetchError::Timeout,
            kind => FetchError::Connect(kind),
        };
        self.ex.borrow_mut().finish(Err(err));
    }
}

/// The end of a head: the index just past its empty line.
fn find_end_of_head(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// `HTTP-version SP status-code SP [ reason-phrase ] CRLF` (RFC 9112 §4).
/// Returns the status and where the fields start.
fn parse_status_line(head: &[u8]) -> Result<(u16, usize), FetchError> {
    let line_end = head.windows(2).position(|w| w == b"\r\n").ok_or(FetchError::InvalidStatusLine)?;
    let line = &head[..line_end];
    let rest = line
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| line.strip_prefix(b"HTTP/1.0 "))
        .ok_or(FetchError::InvalidStatusLine)?;
    let (code, reason) = match rest {
        [a, b, c] => ([*a, *b, *c], &[][..]),
        [a, b, c, b' ', reason @ ..] => ([*a, *b, *c], reason),
        _ => return Err(FetchError::InvalidStatusLine),
    };
    if !code.iter().all(u8::is_ascii_digit) || code[0] == b'0' {
        return Err(FetchError::InvalidStatusLine);
    }
    // reason-phrase = 1*( HTAB / SP / VCHAR / obs-text )
    if reason.iter().any(|&b| (b < b' ' && b != b'\t') || b == 0x7f) {
        return Err(FetchError::InvalidStatusLine);
    }
    let status = code.iter().fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    Ok((status, line_end + 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_are_checked() {
        let ok: &[(&[u8], u16)] = &[
            (b"HTTP/1.1 200 OK\r\n", 200),
            (b"HTTP/1.0 404 Not Found\r\n", 404),
            (b"HTTP/1.1 204 \r\n", 204),
            (b"HTTP/1.1 599\r\n", 599),
        ];
        for (line, status) in ok {
            assert_eq!(parse_status_line(line), Ok((*status, line.len())), "{line:?}");
        }
        let bad: &[&[u8]] = &[
            b"HTTP/2 200 OK\r\n",
            b"HTTP/1.1 20 OK\r\n",
            b"HTTP/1.1 2000 OK\r\n",
            b"HTTP/1.1 099 OK\r\n",
            b"HTTP/1.1  200 OK\r\n",
            b"HTTP/1.1 200 O\x00K\r\n",
            b"http/1.1 200 OK\r\n",
            b"HTTP/1.1 200 OK",
        ];
        for line in bad {
            assert_eq!(parse_status_line(line), Err(FetchError::InvalidStatusLine), "{line:?}");
        }
    }

    #[test]
    fn requests_are_encoded_canonically_and_checked() {
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let req = request("POST", addr, "/a?b=1").header("X-Id", "7").body("hi");
        assert_eq!(
            req.encode().unwrap(),
            b"POST /a?b=1 HTTP/1.1\r\nHost: 127.0.0.1:9\r\nX-Id: 7\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
        );
        assert!(get(addr, "/x")
            .header("Host", "svc")
            .encode()
            .unwrap()
            .starts_with(b"GET /x HTTP/1.1\r\nHost: svc\r\n"));
        assert!(get(addr, "/a b").encode().is_err());
        assert!(get(addr, "x").encode().is_err());
        assert!(request("G T", addr, "/").encode().is_err());
        assert!(get(addr, "/").header("X", "a\r\nB: c").encode().is_err());
        assert!(get(addr, "/").header("Content-Length", "5").encode().is_err());
    }
}

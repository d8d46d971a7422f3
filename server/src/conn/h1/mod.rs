//! HTTP/1.1 on a connection: its states, and its input.
//!
//! ```text
//!            bytes                      complete head
//!   Idle ----------> Head (partial) ------------------+--> dispatch ---> answer
//!     ^                                               |      (inline | workers | deferred | async)
//!     |              body framed by Content-Length    |
//!     |              or chunked (100-continue first)  v
//!     |                                         Body (decoding)
//!     +--- keep-alive <--- writing <--- answers, strictly in request order
//! ```
//!
//! A connection's HTTP/1 state is two small state machines, kept as types
//! rather than bits: [`Reading`] (what the next input bytes are: a new
//! request, the rest of a head, a body, or nothing more) and [`Writing`]
//! (answers flow in order, or a streamed body holds the line). Answers that
//! cannot be written yet wait in a pipeline allocated only while they exist,
//! so an idle keep-alive connection holds a few words.
//!
//! * **Zero copy on the fast path.** A request whose head (and
//!   Content-Length body, if any) is complete in the bytes just read is
//!   parsed and dispatched in place: the [`Request`](crate::Request)
//!   borrows the reactor's read buffer. Only a request that arrives in
//!   pieces costs anything: a partial head keeps its parser (state: two
//!   offsets), a partial body copies the head (a few hundred bytes) and
//!   accumulates the body.
//! * **Pipelining.** Requests are parsed ahead of their answers (module
//!   `output`); at `max_pipeline` waiting answers, reading pauses.
//! * **Errors end the connection.** A parse error becomes its status (400,
//!   413, 414, 431, 501, 505) with `Connection: close`, answered after the
//!   requests before it; nothing after it is read (RFC 9112 §9.6). The same
//!   holds for any answer that closes: the moment it is decided, reading
//!   stops, even if earlier answers are still pending.
//! * **One deadline** per connection, chosen by state: head, body,
//!   handler, keep-alive idle, or a write stall.

use std::collections::VecDeque;
use std::mem;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use weir_http::{BodyDecoder, BodyFraming, DateCache, Decoded, RequestHead, RequestParser, Version};
use weir_reactor::{duration_ms, Ctx};

use super::HttpShard;
use crate::config::ServerConfig;
use crate::head::HeadEncoder;
use crate::middleware::Chain;
use crate::msg::Msg;
use crate::request::OwnedRequest;
use crate::response::Response;
use crate::task::TaskGuard;

pub(super) mod dispatch;
mod output;
mod site;
mod tasks;

/// What the next input bytes of a connection are.
pub(crate) enum Reading {
    /// The start of a request (parsed in place with the shard's parser).
    Idle,
    /// The rest of a head that arrived in pieces, with the parser that has
    /// read it so far. The head timeout was armed when it began.
    Head(Box<RequestParser>),
    /// The rest of a body.
    Body(Box<BodyState>),
    /// Nothing: no more requests are read on this connection (an error, a
    /// `Connection: close`, the peer's EOF, shutdown). What is pending is
    /// answered, then the connection closes.
    Done,
}

/// How answers leave.
pub(crate) enum Writing {
    /// In request order, as each becomes ready.
    Answers,
    /// A streamed body is being written; later answers wait behind it.
    Streaming(Box<Stream>),
}

/// A streamed body in progress.
pub(crate) struct Stream {
    /// No chunked framing: an HTTP/1.0 body that ends at close.
    raw: bool,
    /// Chunks written so far.
    chunks: u64,
    /// The producer finished after this many chunks (its end travels on
    /// the control lane and may overtake chunks still in the data lane).
    end_after: Option<u64>,
    /// Set when the connection closes: the producer's next send is refused
    /// (`SinkError::Closed`) instead of going to nobody.
    gone: Arc<AtomicBool>,
}

impl Drop for Stream {
    fn drop(&mut self) {
        // The stream is over (ended, or its connection closed, upgraded or
        // aborted): tell the producer.
        self.gone.store(true, Ordering::Release);
    }
}

/// Facts about a request that its answer needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Meta {
    is_head: bool,
    keep_alive: bool,
    http10: bool,
}

/// An answer that cannot be written yet (an earlier one is pending).
pub(crate) struct Pending {
    seq: u32,
    meta: Meta,
    resp: Option<Response>,
    /// For deferred answers: the request and chain, to run `after` hooks.
    after: Option<(Box<OwnedRequest>, Chain)>,
    /// For async answers: the task, cancelled if this entry goes unanswered
    /// (timeout, close) — see `crate::task::TaskGuard`.
    task: Option<TaskGuard>,
}

/// A request whose body is still arriving.
pub(crate) struct BodyState {
    head_buf: Vec<u8>,
    head: RequestHead,
    decoder: BodyDecoder,
    body: Vec<u8>,
    /// Body bytes decoded so far (the size limit counts these).
    decoder_seen: u64,
    /// Where the body goes: collected for a dispatch at its end, or
    /// streamed to a handler dispatched at the head (`task::body`).
    sink: BodySink,
}

/// Where a body being read goes.
enum BodySink {
    /// Into `BodyState::body`; the request is dispatched at the end.
    Collect,
    /// To an async handler already running.
    Stream(crate::task::body::BodyFeed),
    /// Nowhere: the request was answered at its head without reading it
    /// (a middleware's answer); the body is read past, within the limits.
    Discard,
}

/// One connection's HTTP/1 state.
pub(crate) struct H1 {
    reading: Reading,
    writing: Writing,
    /// Answers waiting their turn, in request order; `None` while there
    /// are none. Boxed on purpose: an idle connection holds one word here,
    /// not a `VecDeque`'s four (answers wait only on the slow paths).
    #[allow(clippy::box_collection)]
    pipeline: Option<Box<VecDeque<Pending>>>,
    /// The sequence number of the next answer that has to wait.
    next_seq: u32,
    /// Answers written.
    served: u32,
    /// `TCP_NODELAY` is set (see `output`).
    nodelay: bool,
    /// Bytes queued when the write deadline last passed: a stall is a
    /// whole write timeout with no byte leaving, not a long transfer.
    write_mark: u32,
    /// The client's address, once a configuration file's rule asked for it.
    pub(super) peer: Option<std::net::IpAddr>,
}

impl H1 {
    pub(crate) fn new() -> H1 {
        H1 {
            reading: Reading::Idle,
            writing: Writing::Answers,
            pipeline: None,
            next_seq: 0,
            served: 0,
            nodelay: false,
            write_mark: 0,
            peer: None,
        }
    }

    /// Waiting answers.
    fn pending(&self) -> usize {
        self.pipeline.as_ref().map_or(0, |p| p.len())
    }

    fn is_streaming(&self) -> bool {
        matches!(self.writing, Writing::Streaming(_))
    }

    /// Between requests, with nothing to answer: safe to close at shutdown.
    pub(crate) fn is_idle(&self) -> bool {
        matches!(self.reading, Reading::Idle) && self.pipeline.is_none() && !self.is_streaming()
    }

    /// Nothing read or answered yet: the connection may still turn out to
    /// be HTTP/2 (its preface is sniffed, see `crate::conn::h2`).
    pub(crate) fn is_fresh(&self) -> bool {
        self.served == 0 && matches!(self.reading, Reading::Idle) && self.pipeline.is_none()
    }

    /// No more requests will be read.
    fn stop_reading(&mut self) {
        self.reading = Reading::Done;
    }
}

/// [`ServerConfig`]'s timeouts in whole milliseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimeoutsMs {
    pub(crate) head: u64,
    /// TLS connections: from accept to the first byte of a request.
    pub(crate) tls_handshake: u64,
    body: u64,
    pub(crate) handler: u64,
    pub(crate) keep_alive: u64,
    /// Output is still queued: the write timeout, or the idle one if shorter.
    pub(crate) write_or_idle: u64,
}

/// HTTP/1's per-shard state.
pub(crate) struct ShardH1 {
    /// The parser for requests that arrive whole (boxed, so it can be
    /// taken out cheaply while its head is handled).
    parser: Option<Box<RequestParser>>,
    date: DateCache,
    heads: HeadEncoder,
    /// When (shard milliseconds, see `Ctx::now_ms`) the `Date` cache next
    /// needs refreshing; 0: at once.
    next_date_ms: u64,
    pub(crate) timeouts: TimeoutsMs,
}

impl ShardH1 {
    pub(crate) fn new(c: &ServerConfig) -> ShardH1 {
        let date = DateCache::new();
        ShardH1 {
            parser: Some(Box::new(RequestParser::new(c.limits))),
            heads: HeadEncoder::new(&date),
            date,
            next_date_ms: 0,
            timeouts: TimeoutsMs {
                head: duration_ms(c.head_timeout),
                tls_handshake: duration_ms(c.tls_handshake_timeout),
                body: duration_ms(c.body_timeout),
                handler: duration_ms(c.handler_timeout),
                keep_alive: duration_ms(c.keep_alive_timeout),
                write_or_idle: duration_ms(c.write_timeout.min(c.keep_alive_timeout)),
            },
        }
    }

    /// Refreshes the cached `Date` header at most once per wall-clock second.
    #[inline]
    pub(crate) fn refresh_date(&mut self, now_ms: u64) {
        if now_ms < self.next_date_ms {
            return;
        }
        self.update_date(now_ms);
    }

    /// The cached `Date` value (refreshed by [`ShardH1::refresh_date`]).
    pub(crate) fn date(&self) -> &[u8] {
        self.date.as_bytes()
    }

    #[cold]
    fn update_date(&mut self, now_ms: u64) {
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        if self.date.update(wall.as_secs()) {
            self.heads.set_date(&self.date);
        }
        // The next wall-clock second, rounded up to a whole millisecond.
        let left_ms = (1_000_000_000 - u64::from(wall.subsec_nanos())).div_ceil(1_000_000);
        self.next_date_ms = now_ms + left_ms;
    }
}

impl HttpShard {
    // ------------------------------------------------- reactor callbacks

    pub(super) fn h1_data(&mut self, conn: &mut H1, cx: &mut Ctx<'_, Msg>, data: &mut [u8]) -> usize {
        self.h1.refresh_date(cx.now_ms());
        let used = self.read_requests(conn, cx, data);
        if self.upgraded.is_none() {
            self.rearm(conn, cx);
        }
        used
    }

    pub(super) fn h1_eof(&mut self, conn: &mut H1, cx: &mut Ctx<'_, Msg>) {
        // Half-close: answer what was asked, then close. A partial request
        // can never complete.
        conn.stop_reading();
        if self.async_pending(conn) {
            // An async handler still runs: take the EOF for a client that
            // left, and drop its future (see `tasks`).
            return self.abandon_async(conn, cx);
        }
        if conn.pipeline.is_none() && !conn.is_streaming() {
            cx.close();
        }
    }

    pub(super) fn h1_writable(&mut self, conn: &mut H1, cx: &mut Ctx<'_, Msg>) {
        self.maybe_resume(conn, cx);
        self.rearm(conn, cx);
    }

    pub(super) fn h1_timer(&mut self, conn: &mut H1, cx: &mut Ctx<'_, Msg>) {
        self.h1.refresh_date(cx.now_ms());
        let queued = cx.queued_bytes();
        if queued > 0 {
            // A write stall is a whole write timeout with no progress (like
            // nginx's send_timeout, between two writes): a large answer on a
            // slow but steady link keeps going.
            let mark = queued.min(u64::from(u32::MAX)) as u32;
            if mark == conn.write_mark {
                cx.abort(); // the client stopped reading
            } else {
                conn.write_mark = mark;
                cx.set_deadline_ms(self.h1.timeouts.write_or_idle);
            }
        } else if matches!(conn.reading, Reading::Head(_) | Reading::Body(_)) {
            conn.reading = Reading::Idle;
            self.fail(conn, cx, 408);
        } else if let Some(seq) = conn.pipeline.as_ref().and_then(|p| p.iter().find(|p| p.resp.is_none())) {
            let seq = seq.seq;
            conn.stop_reading();
            self.resolve(conn, cx, seq, Response::error(503).with_close());
        } else if !conn.is_streaming() {
            cx.close(); // idle keep-alive: quiet close
        }
    }

    pub(super) fn h1_message(&mut self, conn: &mut H1, cx: &mut Ctx<'_, Msg>, msg: Msg) {
        self.h1.refresh_date(cx.now_ms());
        match msg {
            Msg::Response(seq, resp) => self.resolve(conn, cx, seq, resp),
            Msg::StreamChunk(chunk) => self.stream_chunk(conn, cx, chunk),
            Msg::StreamEnd(chunks) => self.stream_end(conn, cx, chunks),
            Msg::Ws(_) | Msg::Wake(_) | Msg::H2Chunk(..) | Msg::H2End(..) => {}
        }
        self.rearm(conn, cx);
    }

    pub(super) fn h1_job_panicked(&mut self, conn: &mut H1, cx: &mut Ctx<'_, Msg>) {
        // Worker jobs catch their handler's panic and answer 500 for their
        // own request (see `dispatch`); this is a panic outside the handler.
        self.h1.refresh_date(cx.now_ms());
        conn.stop_reading();
        cx.abort();
    }

    // --------------------------------------------------------------- input

    /// Parses and dispatches every request in `data`. Returns bytes consumed.
    fn read_requests(&mut self, conn: &mut H1, cx: &mut Ctx<'_, Msg>, data: &[u8]) -> usize {
        let mut used = 0;
        while used < data.len() {
            if matches!(conn.reading, Reading::Done) || self.upgraded.is_some() {
                break;
            }
            if conn.pending() >= self.shared.config.max_pipeline
                || cx.queued_bytes() > self.shared.config.max_queued_output
            {
                // Backpressure: resumed by `pump` or `on_writable`.
                cx.pause_reading();
                cx.notify_when_drained();
                break;
            }
            if let Reading::Body(_) = conn.reading {
                match self.feed_body(conn, cx, &data[used..]) {
                    Some(n) => used += n,
                    None => return data.len(),
                }
                if let Reading::Body(_) = conn.reading {
                    break; // need more body bytes
                }
                continue;
            }
            let input = &data[used..];
            // The head is lent by the parser that read it (`parse_ref`): the
            // shard's own, or the connection's if its head came in pieces.
            // The parser is taken out of `self` while the head is handled.
            let (mut parser, from_conn) = match mem::replace(&mut conn.reading, Reading::Idle) {
                Reading::Head(p) => (p, true),
                _ => (self.h1.parser.take().expect("the shard's parser is in place between requests"), false),
            };
            match parser.parse_ref(input) {
                Ok(None) => {
                    // A partial head: its parser stays with the connection,
                    // and the whole head must arrive within head_timeout of
                    // its first byte (slowloris); more bytes do not extend it.
                    if !from_conn {
                        self.h1.parser = Some(Box::new(RequestParser::new(self.shared.config.limits)));
                        cx.set_deadline_ms(self.h1.timeouts.head);
                    }
                    conn.reading = Reading::Head(parser);
                    break;
                }
                Err(e) => {
                    if !from_conn {
                        // The shard's parser is shared by every connection: leave it clean.
                        parser.reset();
                        self.h1.parser = Some(parser);
                    }
                    self.fail(conn, cx, e.status());
                    return data.len();
                }
                Ok(Some(head)) => {
                    let n = self.on_head(conn, cx, head, input);
                    if !from_conn {
                        self.h1.parser = Some(parser);
                    }
                    used += n;
                }
            }
        }
        used
    }

    /// A complete head at the start of `input`: dispatch it now if its body
    /// is here too, else start collecting the body. Returns bytes consumed.
    fn on_head(&mut self, conn: &mut H1, cx: &mut Ctx<'_, Msg>, head: &RequestHead, input: &[u8]) -> usize {
        let head_len = head.head_len();
        let max_body = self.shared.config.limits.max_body;
        match head.framing() {
            BodyFraming::None => {
                self.dispatch(conn, cx, &input[..head_len], head, &[]);
                head_len
            }
            BodyFraming::Length(n) if n > max_body => {
                self.fail(conn, cx, 413);
                input.len()
            }
            BodyFraming::Length(n) if (input.len() - head_len) as u64 >= n => {
                let end = head_len + n as usize;
                self.dispatch(conn, cx, &input[..head_len], head, &input[head_len..end]);
                end
            }
            framing => {
                // The body is not all here: copy the head (small) and collect the body.
                if head.expect_continue() {
                    // RFC 9110 §10.1.1: answer 100 only if we will read the body.
                    if let Some(status) = self.early_rejection(head, &input[..head_len]) {
                        self.fail(conn, cx, status);
                        return input.len();
                    }
                    if input.len() == head_len && head.version() == Version::Http11 {
                        cx.write(&b"HTTP/1.1 100 Continue\r\n\r\n"[..]);
                    }
                }
                let decoder = BodyDecoder::new(framing, &self.shared.config.limits);
                let mut sink = BodySink::Collect;
                if self.streams_body(head, &input[..head_len]) {
                    // Dispatched now; the body follows through the feed.
                    let (stream, feed) = crate::task::body::BodyStream::open();
                    crate::task::body::offer(stream);
                    self.dispatch(conn, cx, &input[..head_len], head, &[]);
                    sink =
                        if crate::task::body::taken() { BodySink::Stream(feed) } else { BodySink::Discard };
                    if matches!(conn.reading, Reading::Done) {
                        return input.len();
                    }
                }
                conn.reading = Reading::Body(Box::new(BodyState {
                    head_buf: input[..head_len].to_vec(),
                    head: head.clone(),
                    decoder,
                    body: Vec::new(),
                    decoder_seen: 0,
                    sink,
                }));
                head_len
            }
        }
    }

    /// Feeds body bytes; dispatches when the body completes. Returns bytes
    /// consumed, or `None` after a fatal error (the connection is closing).
    fn feed_body(&mut self, conn: &mut H1, cx: &mut Ctx<'_, Msg>, input: &[u8]) -> Option<usize> {
        let max_body = self.shared.config.limits.max_body;
        let Reading::Body(state) = &mut conn.reading else {
            unreachable!("feed_body is called while reading a body")
        };
        let mut pos = 0;
        loop {
            match state.decoder.decode(&input[pos..]) {
                Err(e) => {
                    if let BodySink::Stream(feed) = &state.sink {
                        feed.fail(e.status());
                    }
                    self.fail(conn, cx, e.status());
                    return None;
                }
                Ok((n, Decoded::Data(range))) => {
                    let piece = &input[pos..][range];
                    // `body` counts what went by for every sink: the limit
                    // holds whether the body is collected or streamed.
                    if state.decoder_seen + piece.len() as u64 > max_body {
                        if let BodySink::Stream(feed) = &state.sink {
                            feed.fail(413);
                        }
                        self.fail(conn, cx, 413);
                        return None;
                    }
                    state.decoder_seen += piece.len() as u64;
                    match &state.sink {
                        BodySink::Collect => state.body.extend_from_slice(piece),
                        BodySink::Stream(feed) => feed.push(piece),
                        BodySink::Discard => {}
                    }
                    pos += n;
                }
                Ok((n, Decoded::NeedMore)) => return Some(pos + n),
                Ok((n, Decoded::Done)) => {
                    pos += n;
                    let Reading::Body(state) = mem::replace(&mut conn.reading, Reading::Idle) else {
                        unreachable!("still reading the body")
                    };
                    let BodyState { head_buf, head, body, sink, .. } = *state;
                    match sink {
                        BodySink::Collect => self.dispatch(conn, cx, &head_buf, &head, &body),
                        BodySink::Stream(feed) => feed.finish(),
                        BodySink::Discard => {}
                    }
                    return Some(pos);
                }
            }
        }
    }
}

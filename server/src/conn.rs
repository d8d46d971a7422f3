//! The HTTP/1.1 connection: a [`Protocol`] for the reactor.
//!
//! ```text
//!            bytes                      complete head
//!   Idle ----------> Head (partial) ------------------+--> dispatch ---> answer
//!     ^                                               |      (inline | workers | deferred)
//!     |              body framed by Content-Length    |
//!     |              or chunked (100-continue first)  v
//!     |                                         Body (decoding)
//!     +--- keep-alive <--- writing <--- answers, strictly in request order
//! ```
//!
//! * **Zero copy on the fast path.** A request whose head (and
//!   Content-Length body, if any) is complete in the bytes just read is
//!   parsed and dispatched in place: the [`Request`] borrows the reactor's
//!   read buffer. Only a request that arrives in pieces costs anything: a
//!   partial head keeps its parser (state: two offsets), a partial body
//!   copies the head (a few hundred bytes) and accumulates the body.
//! * **Pipelining.** Requests are parsed ahead of their answers. Inline
//!   answers go straight to the write queue — sixteen pipelined requests
//!   become one `writev`. When an earlier answer is still pending (worker
//!   pool, deferred, a stream), later answers wait in order in
//!   `pending`; at `max_pipeline` waiting answers, reading pauses.
//! * **Errors end the connection.** A parse error becomes its status (400,
//!   413, 414, 431, 501, 505) with `Connection: close`, answered after the
//!   requests before it; nothing after it is read (RFC 9112 §9.6).
//! * **One deadline** per connection, chosen by state: head, body,
//!   handler, keep-alive idle, or a write stall.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use weir_http::{
    encode_chunk_header, normalize_path, response_has_body, status_allows_body, BodyDecoder, BodyFraming,
    DateCache, Decoded, LookupError, Method, PathError, RequestHead, RequestParser, Target, Version,
    CHUNK_HEADER_MAX, LAST_CHUNK,
};
use weir_reactor::{
    duration_ms, Chunk, CloseReason, Ctx, FileRange, Protocol, ShardCtx, SharedBytes, WorkerPool,
};

use crate::app::{CompiledApp, Route};
use crate::config::ServerConfig;
use crate::handler::{Handler, Responder};
use crate::head::{ConnHeader, Framing, HeadEncoder};
use crate::middleware::{run_after, run_chain, Chain};
use crate::request::{OwnedRequest, Params, Request, MAX_PARAMS};
use crate::response::{Body, BodySink, Part, Response};
use crate::stats::{HttpStats, StatsRegistry};

/// Bodies up to this size are copied next to the response head (one
/// iovec, one small copy) instead of being queued as a separate chunk.
const INLINE_BODY_MAX: usize = 1024;

/// Room asked of the staging buffer for a response head (a typical head is
/// 100–300 bytes; a bigger one simply grows the buffer).
const HEAD_RESERVE: usize = 512;

/// What other threads send to a connection.
#[derive(Debug)]
pub enum Msg {
    /// The answer to the pipelined request with this sequence number.
    Response(u64, Response),
    /// A piece of a streamed body.
    StreamChunk(Vec<u8>),
    /// The streamed body is complete.
    StreamEnd,
    /// WebSocket traffic (see [`crate::ws`]).
    Ws(crate::ws::WsMsg),
}

/// Everything the shards share.
pub(crate) struct Shared {
    pub(crate) app: CompiledApp,
    pub(crate) config: ServerConfig,
    pub(crate) pool: WorkerPool,
    pub(crate) stats: Arc<StatsRegistry>,
    pub(crate) pubsub: Arc<crate::ws::PubSub>,
}

/// Facts about a request that its answer needs.
#[derive(Debug, Clone, Copy)]
struct Meta {
    is_head: bool,
    keep_alive: bool,
    http10: bool,
}

/// An answer that cannot be written yet (an earlier one is pending).
struct Pending {
    seq: u64,
    meta: Meta,
    resp: Option<Response>,
    /// For deferred answers: the request and chain, to run `after` hooks.
    after: Option<(Box<OwnedRequest>, Chain)>,
}

/// A request whose body is still arriving.
struct BodyState {
    head_buf: Vec<u8>,
    head: RequestHead,
    decoder: BodyDecoder,
    body: Vec<u8>,
}

const STREAMING: u8 = 1;
/// No more requests on this connection: answer what is pending, then close.
const CLOSE_AFTER: u8 = 1 << 1;
/// The head timeout is armed for the current partial head.
const HEAD_TIMER: u8 = 1 << 2;
const STREAM_RAW: u8 = 1 << 3;
/// `TCP_NODELAY` is set (see `write_response`).
const NODELAY: u8 = 1 << 4;

/// Per-connection state.
pub struct Conn {
    partial: Option<Box<RequestParser>>,
    body: Option<Box<BodyState>>,
    pending: VecDeque<Pending>,
    next_seq: u64,
    served: u64,
    flags: u8,
    pub(crate) ws: Option<Box<crate::ws::WsConnState>>,
}

/// The per-shard protocol.
pub(crate) struct HttpShard {
    pub(crate) shared: Arc<Shared>,
    /// The parser for requests that arrive whole (boxed, so it can be
    /// taken out cheaply while its head is handled).
    parser: Option<Box<RequestParser>>,
    date: DateCache,
    heads: HeadEncoder,
    /// When (shard milliseconds, see `Ctx::now_ms`) the `Date` cache next
    /// needs refreshing; 0: at once.
    next_date_ms: u64,
    /// The configured timeouts in milliseconds, converted once.
    timeouts: TimeoutsMs,
    pub(crate) stats: Arc<HttpStats>,
    stopping: bool,
    pub(crate) ws: crate::ws::ShardWs,
}

/// [`ServerConfig`]'s timeouts in whole milliseconds.
#[derive(Debug, Clone, Copy)]
struct TimeoutsMs {
    head: u64,
    body: u64,
    handler: u64,
    keep_alive: u64,
    /// Output is still queued: the write timeout, or the idle one if shorter.
    write_or_idle: u64,
}

impl TimeoutsMs {
    fn new(c: &ServerConfig) -> TimeoutsMs {
        TimeoutsMs {
            head: duration_ms(c.head_timeout),
            body: duration_ms(c.body_timeout),
            handler: duration_ms(c.handler_timeout),
            keep_alive: duration_ms(c.keep_alive_timeout),
            write_or_idle: duration_ms(c.write_timeout.min(c.keep_alive_timeout)),
        }
    }
}

impl HttpShard {
    pub(crate) fn new(shared: Arc<Shared>, id: usize) -> HttpShard {
        let stats = shared.stats.http[id].clone();
        let date = DateCache::new();
        HttpShard {
            parser: Some(Box::new(RequestParser::new(shared.config.limits))),
            heads: HeadEncoder::new(&date),
            date,
            next_date_ms: 0,
            timeouts: TimeoutsMs::new(&shared.config),
            stats,
            stopping: false,
            ws: crate::ws::ShardWs::new(id),
            shared,
        }
    }

    /// Refreshes the cached `Date` header at most once per wall-clock second.
    #[inline]
    fn refresh_date(&mut self, now_ms: u64) {
        if now_ms < self.next_date_ms {
            return;
        }
        self.update_date(now_ms);
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

    // --------------------------------------------------------------- input

    fn on_http_data(&mut self, conn: &mut Conn, cx: &mut Ctx<'_, Msg>, data: &mut [u8]) -> usize {
        let mut used = 0;
        while used < data.len() {
            if conn.flags & CLOSE_AFTER != 0 || conn.ws.is_some() {
                break;
            }
            if conn.pending.len() >= self.shared.config.max_pipeline
                || cx.queued_bytes() > self.shared.config.max_queued_output
            {
                // Backpressure: resumed by `pump` or `on_writable`.
                cx.pause_reading();
                cx.notify_when_drained();
                break;
            }
            if conn.body.is_some() {
                match self.feed_body(conn, cx, &data[used..]) {
                    Some(n) => used += n,
                    None => return data.len(),
                }
                if conn.body.is_some() {
                    break; // need more body bytes
                }
                continue;
            }
            let input = &data[used..];
            // The head is lent by the parser that read it (`parse_ref`): the
            // shard's own, or the connection's if its head came in pieces.
            // The parser is taken out of `self` while the head is handled.
            let from_conn = conn.partial.is_some();
            let mut parser = match conn.partial.take() {
                Some(p) => p,
                None => self.parser.take().expect("the shard's parser is in place between requests"),
            };
            match parser.parse_ref(input) {
                Ok(None) => {
                    // A partial head: its parser stays with the connection.
                    if !from_conn {
                        self.parser = Some(Box::new(RequestParser::new(self.shared.config.limits)));
                    }
                    conn.partial = Some(parser);
                    break;
                }
                Err(e) => {
                    if !from_conn {
                        // The shard's parser is shared by every connection: leave it clean.
                        parser.reset();
                        self.parser = Some(parser);
                    }
                    self.fail(conn, cx, e.status());
                    return data.len();
                }
                Ok(Some(head)) => {
                    conn.flags &= !HEAD_TIMER;
                    let n = self.on_head(conn, cx, head, input);
                    if !from_conn {
                        self.parser = Some(parser);
                    }
                    used += n;
                }
            }
        }
        used
    }

    /// A complete head at the start of `input`: dispatch it now if its body
    /// is here too, else start collecting the body. Returns bytes consumed.
    fn on_head(&mut self, conn: &mut Conn, cx: &mut Ctx<'_, Msg>, head: &RequestHead, input: &[u8]) -> usize {
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
                conn.body = Some(Box::new(BodyState {
                    head_buf: input[..head_len].to_vec(),
                    head: head.clone(),
                    decoder,
                    body: Vec::new(),
                }));
                head_len
            }
        }
    }

    /// For `Expect: 100-continue`: the status to answer instead of reading
    /// the body (no such route, wrong method), if any. It routes exactly the path dispatch will ([`route_target`],
    /// [`routing_path`]): `/%61pi/x` finds `/api/x` here too.
    fn early_rejection(&self, head: &RequestHead, buf: &[u8]) -> Option<u16> {
        let path = match route_target(head, buf) {
            RouteTarget::Path { raw, needs_norm, .. } => match routing_path(raw, needs_norm) {
                Ok(path) => path,
                Err(_) => return Some(400),
            },
            RouteTarget::Invalid(status) => return Some(status),
            // Answered by dispatch whatever the body: let it come.
            RouteTarget::Asterisk | RouteTarget::Authority => return None,
        };
        match self.shared.app.router.lookup(head.method_bytes(buf), &path) {
            Ok(_) => None,
            Err(LookupError::NotFound) => Some(404),
            Err(LookupError::MethodNotAllowed { .. }) => Some(405),
        }
    }

    /// Feeds body bytes; dispatches when the body completes. Returns bytes
    /// consumed, or `None` after a fatal error (the connection is closing).
    fn feed_body(&mut self, conn: &mut Conn, cx: &mut Ctx<'_, Msg>, input: &[u8]) -> Option<usize> {
        let max_body = self.shared.config.limits.max_body;
        let state = conn.body.as_mut().expect("body state present");
        let mut pos = 0;
        loop {
            match state.decoder.decode(&input[pos..]) {
                Err(e) => {
                    conn.body = None;
                    self.fail(conn, cx, e.status());
                    return None;
                }
                Ok((n, Decoded::Data(range))) => {
                    let piece = &input[pos..][range];
                    if (state.body.len() + piece.len()) as u64 > max_body {
                        conn.body = None;
                        self.fail(conn, cx, 413);
                        return None;
                    }
                    state.body.extend_from_slice(piece);
                    pos += n;
                }
                Ok((n, Decoded::NeedMore)) => return Some(pos + n),
                Ok((n, Decoded::Done)) => {
                    pos += n;
                    let state = conn.body.take().expect("body state present");
                    self.dispatch(conn, cx, &state.head_buf, &state.head, &state.body);
                    return Some(pos);
                }
            }
        }
    }

    // ------------------------------------------------------------ dispatch

    fn dispatch(
        &mut self,
        conn: &mut Conn,
        cx: &mut Ctx<'_, Msg>,
        buf: &[u8],
        head: &RequestHead,
        body: &[u8],
    ) {
        let meta = Meta {
            is_head: head.is_head(),
            keep_alive: head.keep_alive(),
            http10: head.version() == Version::Http10,
        };
        let (raw_path, query, needs_norm) = match route_target(head, buf) {
            RouteTarget::Path { raw, query, needs_norm } => (raw, query, needs_norm),
            RouteTarget::Asterisk => {
                // OPTIONS * (RFC 9110 §9.3.7): the server as a whole.
                let resp = if head.method() == Method::Options {
                    Response::new(204)
                        .with_header("Allow", &b"GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS"[..])
                } else {
                    Response::error(400)
                };
                return self.complete(conn, cx, resp, meta);
            }
            RouteTarget::Authority => {
                return self.complete(conn, cx, Response::error(501).with_close(), meta)
            }
            RouteTarget::Invalid(status) => return self.fail(conn, cx, status),
        };
        let query = query.and_then(|q| std::str::from_utf8(q).ok());
        let shared = self.shared.clone();
        let app = &shared.app;
        let method = head.method_bytes(buf);
        // A plain path that names a parameter-free route exactly: the
        // route's own pattern is the path, as a `&str`, with no UTF-8 pass.
        let exact = if needs_norm { None } else { app.exact(method, raw_path) };
        // Anything else routes on the normalised path, so `/a/../admin` or
        // `/%61dmin` cannot slip past a route or a middleware guarding `/admin`.
        let routed;
        let path: &str = match exact {
            Some((pattern, _)) => pattern,
            None => match routing_path(raw_path, needs_norm) {
                Ok(p) => {
                    routed = p;
                    &routed
                }
                Err(_) => return self.fail(conn, cx, 400),
            },
        };
        let lookup;
        let exact = match exact {
            Some((_, route)) => Some(route),
            None if needs_norm => app.exact(method, path.as_bytes()).map(|(_, route)| route),
            None => None,
        };
        let pairs;
        let (route, params): (&Route, Params<'_>) = match exact {
            Some(route) => (route, Params::EMPTY),
            None => {
                lookup = app.router.lookup(method, path);
                match &lookup {
                    Ok(m) => {
                        let mut list = [("", ""); MAX_PARAMS];
                        let mut n = 0;
                        for (slot, pair) in list.iter_mut().zip(m.params.iter()) {
                            *slot = pair;
                            n += 1;
                        }
                        pairs = list;
                        (m.value, Params::from_slice(&pairs[..n]))
                    }
                    Err(err) => {
                        let req = Request { buf, head, path, query, params: Params::EMPTY, body };
                        let resp = match err {
                            LookupError::NotFound => run_chain(&app.global, &req, || Response::error(404)),
                            LookupError::MethodNotAllowed { allow } => run_chain(&app.global, &req, || {
                                Response::error(405).with_header("Allow", allow.as_bytes().to_vec())
                            }),
                        };
                        return self.complete(conn, cx, resp, meta);
                    }
                }
            }
        };
        let req = Request { buf, head, path, query, params, body };

        if let Some(ws_route) = &route.ws {
            if head.has_upgrade_header() {
                let route = route.clone();
                let ws_route = ws_route.clone();
                return self.upgrade(conn, cx, &req, &route, &ws_route, meta);
            }
        }

        match &route.handler {
            Handler::Inline(f) => {
                let resp = run_chain(&route.chain, &req, || f(&req));
                self.complete(conn, cx, resp, meta);
            }
            Handler::Workers(f) => {
                let seq = self.push_waiting(conn, meta, None);
                let owned = req.to_owned();
                let f = f.clone();
                let chain = route.chain.clone();
                let job = move || {
                    let req = owned.as_request();
                    Msg::Response(seq, run_chain(&chain, &req, || f(&req)))
                };
                if cx.spawn(&shared.pool, job).is_err() {
                    // The pool is saturated: shed load now rather than queue.
                    self.resolve(conn, cx, seq, Response::error(503).with_header("Retry-After", &b"1"[..]));
                }
            }
            Handler::Deferred(f) => {
                // `before` hooks run now; `after` hooks when the answer arrives.
                for (i, m) in route.chain.iter().enumerate() {
                    if let Some(mut resp) = m.before(&req) {
                        run_after(&route.chain[..=i], &req, &mut resp);
                        return self.complete(conn, cx, resp, meta);
                    }
                }
                let after =
                    (!route.chain.is_empty()).then(|| (Box::new(req.to_owned()), route.chain.clone()));
                let seq = self.push_waiting(conn, meta, after);
                f(&req, Responder::new(cx.handle(), cx.token(), seq));
            }
        }
    }

    fn push_waiting(
        &mut self,
        conn: &mut Conn,
        meta: Meta,
        after: Option<(Box<OwnedRequest>, Chain)>,
    ) -> u64 {
        let seq = conn.next_seq;
        conn.next_seq += 1;
        conn.pending.push_back(Pending { seq, meta, resp: None, after });
        seq
    }

    /// An answer for the pending request `seq` arrived.
    fn resolve(&mut self, conn: &mut Conn, cx: &mut Ctx<'_, Msg>, seq: u64, mut resp: Response) {
        let Some(p) = conn.pending.iter_mut().find(|p| p.seq == seq && p.resp.is_none()) else {
            return; // already answered (e.g. timed out)
        };
        if let Some((req, chain)) = p.after.take() {
            run_after(&chain, &req.as_request(), &mut resp);
        }
        p.resp = Some(resp);
        self.pump(conn, cx);
    }

    /// An answer ready now: written at once unless earlier ones are pending.
    #[inline]
    fn complete(&mut self, conn: &mut Conn, cx: &mut Ctx<'_, Msg>, resp: Response, meta: Meta) {
        if conn.pending.is_empty() && conn.flags & STREAMING == 0 {
            self.write_response(conn, cx, resp, meta);
        } else {
            let seq = conn.next_seq;
            conn.next_seq += 1;
            conn.pending.push_back(Pending { seq, meta, resp: Some(resp), after: None });
        }
    }

    /// Writes every answer at the front of the queue that is ready.
    fn pump(&mut self, conn: &mut Conn, cx: &mut Ctx<'_, Msg>) {
        while conn.flags & STREAMING == 0 {
            match conn.pending.front() {
                Some(p) if p.resp.is_some() => {
                    let p = conn.pending.pop_front().expect("front exists");
                    self.write_response(conn, cx, p.resp.expect("checked"), p.meta);
                }
                _ => break,
            }
        }
        self.maybe_resume(conn, cx);
    }

    /// Resumes reading once neither bound of the backpressure holds.
    fn maybe_resume(&self, conn: &Conn, cx: &mut Ctx<'_, Msg>) {
        let c = &self.shared.config;
        if conn.flags & CLOSE_AFTER == 0
            && conn.pending.len() < c.max_pipeline
            && cx.queued_bytes() <= c.max_queued_output
        {
            cx.resume_reading();
        }
    }

    /// Answers with `status` and closes: nothing after this request is read.
    fn fail(&mut self, conn: &mut Conn, cx: &mut Ctx<'_, Msg>, status: u16) {
        let meta = Meta { is_head: false, keep_alive: false, http10: false };
        self.complete(conn, cx, Response::error(status).with_close(), meta);
        conn.flags |= CLOSE_AFTER;
        cx.pause_reading();
    }

    // -------------------------------------------------------------- output

    fn write_response(&mut self, conn: &mut Conn, cx: &mut Ctx<'_, Msg>, resp: Response, meta: Meta) {
        let Response { status, content_type, headers, body, close } = resp;
        // Nagle's algorithm only delays a small segment sent while an
        // earlier one is unacknowledged, which cannot happen on a
        // connection's first response. So `TCP_NODELAY` is set lazily, at
        // the second response or the first stream: a connection that asks
        // one question and closes saves the syscall (nginx does the same).
        if conn.flags & NODELAY == 0 && (conn.served > 0 || matches!(body, Body::Stream(_))) {
            let _ = weir_reactor::sys::socket::set_nodelay(cx.socket(), true);
            conn.flags |= NODELAY;
        }
        let max = self.shared.config.max_requests_per_connection;
        let mut keep_alive = meta.keep_alive
            && !close
            && conn.flags & CLOSE_AFTER == 0
            && !self.stopping
            && (max == 0 || conn.served + 1 < max);
        let has_body = response_has_body(meta.is_head, status);
        let mut raw_stream = false;
        if status_allows_body(status) && body.len().is_none() && meta.http10 {
            // HTTP/1.0 has no chunked coding: the body ends at close.
            keep_alive = false;
            raw_stream = true;
        }
        // Small in-memory bodies travel in the same buffer as the head (one
        // iovec, one small copy); others are queued as their own chunk.
        let inline = has_body && body.as_bytes().is_some_and(|b| b.len() <= INLINE_BODY_MAX);
        let conn_header = if !keep_alive {
            ConnHeader::Close
        } else if meta.http10 {
            ConnHeader::KeepAlive
        } else {
            ConnHeader::None
        };
        let framing = match body.len() {
            // 1xx, 204, 304: no framing field. §8.6 allows a 304 the length
            // a 200 would have, but clients then wait for that many bytes
            // (nginx and h2o send none either).
            _ if !status_allows_body(status) => Framing::None,
            Some(n) => Framing::Length(n),
            None if raw_stream => Framing::None,
            None => Framing::Chunked,
        };
        let heads = &mut self.heads;
        cx.write_with(HEAD_RESERVE, |out| {
            let fields = headers.iter().map(|(name, value)| (name.as_str(), value.as_bytes()));
            heads.encode(out, status, content_type, conn_header, fields, framing);
            if inline {
                out.extend_from_slice(body.as_bytes().unwrap_or_default());
            }
        });
        self.stats.count_status(status);
        conn.served += 1;

        if has_body && !inline {
            match body {
                Body::Empty => {}
                Body::Static(b) => cx.write(Chunk::Static(b)),
                Body::Bytes(v) => cx.write(v),
                Body::Shared(a) => cx.write(SharedBytes::new(a)),
                Body::File { file, offset, len } => cx.write(FileRange { file, offset, len }),
                Body::Parts(parts) => {
                    for part in parts {
                        match part {
                            Part::Bytes(v) => cx.write(v),
                            Part::File { file, offset, len } => cx.write(FileRange { file, offset, len }),
                        }
                    }
                }
                Body::Stream(start) => {
                    conn.flags |= STREAMING;
                    if raw_stream {
                        conn.flags |= STREAM_RAW;
                    }
                    if !keep_alive {
                        conn.flags |= CLOSE_AFTER;
                    }
                    start(BodySink::new(cx.handle(), cx.token()));
                    return;
                }
            }
        }
        if !keep_alive {
            conn.flags |= CLOSE_AFTER;
            cx.close();
        }
    }

    fn stream_chunk(&mut self, conn: &mut Conn, cx: &mut Ctx<'_, Msg>, chunk: Vec<u8>) {
        if conn.flags & STREAMING == 0 || chunk.is_empty() {
            return;
        }
        if conn.flags & STREAM_RAW != 0 {
            cx.write(chunk);
            return;
        }
        let mut hdr = [0u8; CHUNK_HEADER_MAX];
        cx.write_copy(encode_chunk_header(chunk.len() as u64, &mut hdr));
        cx.write(chunk);
        cx.write(&b"\r\n"[..]);
    }

    fn stream_end(&mut self, conn: &mut Conn, cx: &mut Ctx<'_, Msg>) {
        if conn.flags & STREAMING == 0 {
            return;
        }
        if conn.flags & STREAM_RAW == 0 {
            cx.write(LAST_CHUNK);
        }
        conn.flags &= !(STREAMING | STREAM_RAW);
        if conn.flags & CLOSE_AFTER != 0 && conn.pending.is_empty() {
            cx.close();
        } else {
            self.pump(conn, cx);
        }
    }

    /// Picks the connection's deadline for its current state.
    fn rearm(&self, conn: &mut Conn, cx: &mut Ctx<'_, Msg>) {
        let t = &self.timeouts;
        if conn.flags & STREAMING != 0 {
            cx.clear_deadline();
        } else if conn.body.is_some() {
            cx.set_deadline_ms(t.body);
        } else if conn.partial.is_some() {
            // Slowloris: the whole head must arrive within head_timeout of
            // its first byte; more bytes do not extend it.
            if conn.flags & HEAD_TIMER == 0 {
                conn.flags |= HEAD_TIMER;
                cx.set_deadline_ms(t.head);
            }
        } else if !conn.pending.is_empty() {
            cx.set_deadline_ms(t.handler);
        } else if cx.queued_bytes() > 0 {
            cx.set_deadline_ms(t.write_or_idle);
        } else {
            cx.set_deadline_ms(t.keep_alive);
        }
    }

    fn upgrade(
        &mut self,
        conn: &mut Conn,
        cx: &mut Ctx<'_, Msg>,
        req: &Request<'_>,
        route: &Route,
        ws_route: &Arc<crate::ws::WsRoute>,
        meta: Meta,
    ) {
        if !conn.pending.is_empty() || conn.flags & STREAMING != 0 {
            // An upgrade must not overtake earlier answers; refuse it.
            return self.complete(conn, cx, Response::error(400).with_close(), meta);
        }
        match crate::ws::accept(self, cx, req, route, ws_route) {
            Ok(state) => {
                let _ = weir_reactor::sys::socket::set_nodelay(cx.socket(), true);
                self.stats.count_upgrade();
                conn.ws = Some(state);
            }
            Err(resp) => {
                let mut resp = resp;
                run_after(&route.chain, req, &mut resp);
                self.complete(conn, cx, resp.with_close(), meta);
                conn.flags |= CLOSE_AFTER;
            }
        }
    }
}

/// Splits an origin-form target (`/path?query`) at the first `?`, and says
/// whether the path needs percent-decoding or dot-segment removal before
/// routing (rare: most paths are plain). One pass over the bytes.
fn split_origin(target: &[u8]) -> (&[u8], Option<&[u8]>, bool) {
    let mut needs = false;
    let mut prev = 0u8;
    for (i, &b) in target.iter().enumerate() {
        match b {
            b'?' => return (&target[..i], Some(&target[i + 1..]), needs),
            b'%' | b'\\' => needs = true,
            b'.' | b'/' if prev == b'/' => needs = true,
            _ => {}
        }
        prev = b;
    }
    (target, None, needs)
}

/// A request target taken apart for routing.
enum RouteTarget<'b> {
    /// Origin or absolute form: the raw path, the query, and whether the
    /// path needs normalising ([`routing_path`]).
    Path { raw: &'b [u8], query: Option<&'b [u8]>, needs_norm: bool },
    /// Asterisk form (`OPTIONS *`).
    Asterisk,
    /// Authority form (`CONNECT host:port`).
    Authority,
    /// A target that does not parse: the status to answer.
    Invalid(u16),
}

/// Takes the target of `head` apart for routing. Shared by dispatch and
/// the early answer to `Expect: 100-continue`, so both route one path.
#[inline]
fn route_target<'b>(head: &RequestHead, buf: &'b [u8]) -> RouteTarget<'b> {
    let raw = head.target(buf);
    match raw.first() {
        // The parser saw a path with nothing to decode or normalise.
        Some(_) if head.plain_path() && head.method() != Method::Connect => {
            RouteTarget::Path { raw, query: None, needs_norm: false }
        }
        // Origin form, the common case: one pass splits off the query
        // and spots anything that needs normalising.
        Some(b'/') if head.method() != Method::Connect => {
            let (raw, query, needs_norm) = split_origin(raw);
            RouteTarget::Path { raw, query, needs_norm }
        }
        _ => match head.parsed_target(buf) {
            Ok(Target::Origin { path, query }) | Ok(Target::Absolute { path, query, .. }) => {
                RouteTarget::Path { raw: path, query, needs_norm: true }
            }
            Ok(Target::Asterisk) => RouteTarget::Asterisk,
            Ok(Target::Authority(_)) => RouteTarget::Authority,
            Err(e) => RouteTarget::Invalid(e.status()),
        },
    }
}

/// The path a request routes on: the raw path itself when it needs
/// nothing (the usual case: borrowed, no copy), else percent-decoded with
/// its dot segments resolved ([`normalize_path`]). Shared by dispatch and
/// the early answer to `Expect: 100-continue`.
///
/// # Errors
///
/// A path [`normalize_path`] refuses (answered 400).
#[inline]
fn routing_path(raw: &[u8], needs_norm: bool) -> Result<Cow<'_, str>, PathError> {
    if !needs_norm {
        if let Ok(path) = std::str::from_utf8(raw) {
            return Ok(Cow::Borrowed(path));
        }
    }
    normalize_path(raw).map(Cow::Owned)
}

impl Protocol for HttpShard {
    type Conn = Conn;
    type Message = Msg;

    fn on_open(&mut self, cx: &mut Ctx<'_, Msg>) -> Conn {
        // A connection that never sends a byte is closed quietly after the head timeout.
        cx.set_deadline(self.shared.config.head_timeout);
        Conn {
            partial: None,
            body: None,
            pending: VecDeque::new(),
            next_seq: 0,
            served: 0,
            flags: 0,
            ws: None,
        }
    }

    fn on_data(&mut self, conn: &mut Conn, cx: &mut Ctx<'_, Msg>, data: &mut [u8]) -> usize {
        if conn.ws.is_some() {
            return crate::ws::on_data(self, conn, cx, data);
        }
        self.refresh_date(cx.now_ms());
        let used = self.on_http_data(conn, cx, data);
        if conn.ws.is_some() {
            // Upgraded mid-buffer: the rest belongs to the WebSocket.
            return used + crate::ws::on_data(self, conn, cx, &mut data[used..]);
        }
        self.rearm(conn, cx);
        used
    }

    fn on_eof(&mut self, conn: &mut Conn, cx: &mut Ctx<'_, Msg>) {
        if conn.ws.is_some() {
            return crate::ws::on_eof(self, conn, cx);
        }
        // Half-close: answer what was asked, then close. A partial request
        // can never complete.
        conn.flags |= CLOSE_AFTER;
        if conn.pending.is_empty() && conn.flags & STREAMING == 0 {
            cx.close();
        }
    }

    fn on_writable(&mut self, conn: &mut Conn, cx: &mut Ctx<'_, Msg>) {
        if conn.ws.is_some() {
            return crate::ws::on_writable(self, conn, cx);
        }
        self.maybe_resume(conn, cx);
        self.rearm(conn, cx);
    }

    fn on_timer(&mut self, conn: &mut Conn, cx: &mut Ctx<'_, Msg>) {
        if conn.ws.is_some() {
            return crate::ws::on_timer(self, conn, cx);
        }
        if cx.queued_bytes() > 0 {
            cx.abort(); // write stall: the client stopped reading
        } else if conn.body.is_some() || conn.partial.is_some() {
            conn.body = None;
            conn.partial = None;
            self.refresh_date(cx.now_ms());
            self.fail(conn, cx, 408);
        } else if let Some(p) = conn.pending.iter().find(|p| p.resp.is_none()) {
            let seq = p.seq;
            self.refresh_date(cx.now_ms());
            conn.flags |= CLOSE_AFTER;
            self.resolve(conn, cx, seq, Response::error(503).with_close());
        } else if conn.flags & STREAMING == 0 {
            cx.close(); // idle keep-alive: quiet close
        }
    }

    fn on_message(&mut self, conn: &mut Conn, cx: &mut Ctx<'_, Msg>, msg: Msg) {
        self.refresh_date(cx.now_ms());
        match msg {
            Msg::Response(seq, resp) => self.resolve(conn, cx, seq, resp),
            Msg::StreamChunk(chunk) => self.stream_chunk(conn, cx, chunk),
            Msg::StreamEnd => self.stream_end(conn, cx),
            Msg::Ws(m) => return crate::ws::on_message(self, conn, cx, m),
        }
        if conn.ws.is_none() {
            self.rearm(conn, cx);
        }
    }

    fn on_job_panicked(&mut self, conn: &mut Conn, cx: &mut Ctx<'_, Msg>) {
        // A worker handler panicked: its answer is a 500, in order.
        if let Some(seq) = conn.pending.iter().find(|p| p.resp.is_none()).map(|p| p.seq) {
            self.refresh_date(cx.now_ms());
            self.resolve(conn, cx, seq, Response::error(500));
        }
    }

    fn on_close(&mut self, conn: Conn, _reason: CloseReason) {
        if let Some(ws) = conn.ws {
            crate::ws::on_close(self, ws);
        }
    }

    fn on_shard_message(&mut self, shard: &mut ShardCtx<'_, Self>, msg: Msg) {
        if let Msg::Ws(m) = msg {
            crate::ws::on_shard_message(self, shard, m);
        }
    }

    fn on_shutdown(&mut self, shard: &mut ShardCtx<'_, Self>) {
        self.stopping = true;
        self.refresh_date(shard.now_ms());
        for token in shard.tokens() {
            shard.with_conn(token, |conn, cx| {
                if conn.ws.is_some() {
                    crate::ws::on_shutdown(&mut self.ws, conn, cx);
                    return;
                }
                // Busy connections finish their request; its answer carries
                // `Connection: close` (see `write_response`).
                let idle = conn.pending.is_empty()
                    && conn.body.is_none()
                    && conn.partial.is_none()
                    && conn.flags & STREAMING == 0;
                if idle {
                    cx.close();
                }
            });
        }
    }
}

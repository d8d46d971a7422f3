//! HTTP/2 on a connection: weir-h2's sans-IO [`Connection`] driven by the
//! shard, and the same `App` (routes, middleware, handlers, static files)
//! answering its streams.
//!
//! ```text
//!   bytes ──▶ Connection::recv ──▶ Request ─▶ (body via Data) ─▶ dispatch
//!                                                  │ inline | workers | deferred | async
//!   answers, in the order they finish ◀────────────┘
//!     respond: HEADERS (+ DATA as the windows allow: pump)
//!   Connection::take_output ──▶ cx.write
//! ```
//!
//! * **How a connection becomes HTTP/2.** With `ServerConfig::http2` set,
//!   a connection whose first bytes are the client preface (`PRI *
//!   HTTP/2.0`) switches from `Conn::H1` before anything is parsed: on
//!   plaintext that is h2c with prior knowledge (RFC 9113 §3.3), over TLS
//!   it is what a client that chose `h2` by ALPN sends first (§3.2). The
//!   check costs HTTP/1.1 one byte comparison per read of a fresh connection.
//! * **Requests reach handlers as HTTP/1.1 requests do.** The pseudo-header
//!   fields and fields of a valid request (weir-h2 checked RFC 9113 §8) are
//!   written out as an HTTP/1.1 head and parsed by weir-http's
//!   `RequestParser` with the server's `Limits`, so `Request`, routing,
//!   path normalisation and every limit (414, 431, 413) are the ones
//!   HTTP/1.1 has. Cookie fields are joined with `; ` (§8.2.3). The body
//!   is collected up to `Limits::max_body` (413 beyond) and each DATA frame
//!   is released to flow control as it is stored.
//! * **Answers go out as they finish**, each stream on its own: a slow
//!   worker-pool answer does not hold back an inline one. Bodies are sent
//!   as the peer's windows allow; files are read into bounded buffers
//!   (no `sendfile`: the bytes must be framed), at most
//!   `max_queued_output` ahead of the socket.
//! * **Bounds.** Everything weir-h2 bounds (streams, header lists,
//!   CONTINUATION, the cost budget), plus the write queue: past
//!   `max_queued_output`, reading stops until the client reads (a client
//!   that floods PINGs and never reads gets nothing more read).
//! * **Shutdown** sends GOAWAY in two phases and lets open streams finish.

use std::collections::VecDeque;
use std::os::unix::fs::FileExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use weir_h2::{Connection, ErrorCode, Event, RequestHead as H2Head};
use weir_http::{response_has_body, LookupError, RequestParser};
use weir_reactor::Ctx;

use super::h1::dispatch::{https_redirect, route_target, routing_path, Routed};
use super::{HttpShard, TAG_KIND, TAG_PLAIN, TAG_TLS};
use crate::app::Route;
use crate::handler::{Handler, Responder};
use crate::middleware::{run_after, run_chain, Chain};
use crate::msg::{ConnAddr, H2StreamTarget, Msg};
use crate::request::{OwnedRequest, Params, Request, MAX_PARAMS};
use crate::response::{Body, BodySink, Part, Response};
use crate::task::{Owner, TaskGuard};

/// The largest piece of a body handed to the connection at once (and the
/// buffer a file is read into).
const PIECE: usize = 64 * 1024;

/// Whether `data`, the first bytes of a connection, are the HTTP/2 preface.
pub(super) enum Sniff {
    H2,
    /// A prefix of the preface: wait for more bytes.
    NeedMore,
    No,
}

pub(super) fn sniff(data: &[u8]) -> Sniff {
    let p = weir_h2::frame::PREFACE;
    let n = data.len().min(p.len());
    if data[..n] != p[..n] {
        Sniff::No
    } else if n < p.len() {
        Sniff::NeedMore
    } else {
        Sniff::H2
    }
}

/// A response body still to send.
enum Out {
    /// In memory; `pos` bytes sent.
    Bytes { body: Body, pos: usize },
    /// A file range, read a piece at a time.
    File { file: Arc<std::fs::File>, offset: u64, left: u64 },
    /// Segments in order.
    Parts(VecDeque<Part>),
    /// Chunks from a producer on another thread.
    Stream(Box<Streamed>),
}

struct Streamed {
    queue: VecDeque<Vec<u8>>,
    /// Bytes of the front chunk already sent.
    pos: usize,
    chunks: u64,
    end_after: Option<u64>,
    gone: Arc<AtomicBool>,
}

impl Drop for Streamed {
    fn drop(&mut self) {
        self.gone.store(true, std::sync::atomic::Ordering::Release);
    }
}

enum State {
    /// The body is arriving.
    Receiving { head: Box<H2Head>, body: Vec<u8> },
    /// A handler elsewhere (worker, deferred, async) will answer.
    Waiting { is_head: bool, after: Option<(Box<OwnedRequest>, Chain)>, task: Option<TaskGuard> },
    /// Sending the body.
    Sending(Out),
}

struct H2Stream {
    id: u32,
    state: State,
}

/// One connection's HTTP/2 state.
pub(crate) struct H2 {
    conn: Connection,
    streams: Vec<H2Stream>,
    /// Body bytes handed to the connection: progress, for the stall check.
    sent: u64,
    mark: u64,
    /// The peer sent GOAWAY: close once the streams are done.
    peer_gone: bool,
}

impl H2 {
    pub(super) fn new(cfg: weir_h2::Config) -> H2 {
        H2 { conn: Connection::new(cfg), streams: Vec::new(), sent: 0, mark: 0, peer_gone: false }
    }

    fn find(&self, id: u32) -> Option<usize> {
        self.streams.iter().position(|s| s.id == id)
    }

    fn remove(&mut self, id: u32) -> Option<H2Stream> {
        self.find(id).map(|i| self.streams.swap_remove(i))
    }
}

/// An HTTP/1.1 head for a request HTTP/2 carried: request line, `host`
/// from `:authority`, the fields (cookies joined, §8.2.3), blank line.
fn synthesize_head(h: &H2Head) -> Vec<u8> {
    let mut buf = Vec::with_capacity(128 + h.list_size());
    buf.extend_from_slice(h.method());
    buf.push(b' ');
    buf.extend_from_slice(h.path().unwrap_or(b"/"));
    buf.extend_from_slice(b" HTTP/1.1\r\n");
    if let Some(a) = h.authority() {
        buf.extend_from_slice(b"host: ");
        buf.extend_from_slice(a);
        buf.extend_from_slice(b"\r\n");
    }
    let mut cookie: Option<Vec<u8>> = None;
    for (n, v) in h.fields() {
        if n == b"cookie" {
            let c = cookie.get_or_insert_with(Vec::new);
            if !c.is_empty() {
                c.extend_from_slice(b"; ");
            }
            c.extend_from_slice(v);
            continue;
        }
        // `:authority` wins over `host` (§8.3.1).
        if n == b"host" && h.authority().is_some() {
            continue;
        }
        buf.extend_from_slice(n);
        buf.extend_from_slice(b": ");
        buf.extend_from_slice(v);
        buf.extend_from_slice(b"\r\n");
    }
    if let Some(c) = cookie {
        buf.extend_from_slice(b"cookie: ");
        buf.extend_from_slice(&c);
        buf.extend_from_slice(b"\r\n");
    }
    buf.extend_from_slice(b"\r\n");
    buf
}

/// Response fields HTTP/2 forbids (§8.2.2).
fn connection_specific(name: &str) -> bool {
    ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n))
}

impl HttpShard {
    /// Switches a fresh HTTP/1 connection to HTTP/2.
    pub(super) fn h2_start(&mut self, cx: &mut Ctx<'_, Msg>, cfg: weir_h2::Config) -> H2 {
        let _ = cx.set_nodelay(true);
        self.stats.count_h2_connection();
        let mut h2 = H2::new(cfg);
        self.h2_flush(&mut h2, cx);
        cx.set_deadline_ms(self.h1.timeouts.keep_alive);
        h2
    }

    fn h2_flush(&mut self, h2: &mut H2, cx: &mut Ctx<'_, Msg>) {
        let out = h2.conn.take_output();
        if !out.is_empty() {
            cx.write(out);
        }
    }

    /// Output is past the bound: stop taking input (and body pieces).
    fn h2_full(&self, h2: &H2, cx: &Ctx<'_, Msg>) -> bool {
        cx.queued_bytes() + h2.conn.output().len() as u64 > self.shared.config.max_queued_output
    }

    pub(super) fn h2_data(&mut self, h2: &mut H2, cx: &mut Ctx<'_, Msg>, data: &[u8]) -> usize {
        self.h1.refresh_date(cx.now_ms());
        let mut used = 0;
        loop {
            if self.h2_full(h2, cx) {
                // Backpressure: resumed by `h2_writable`.
                cx.pause_reading();
                cx.notify_when_drained();
                break;
            }
            let (n, ev) = h2.conn.recv(&data[used..]);
            used += n;
            if let Some(ev) = ev {
                self.h2_event(h2, cx, ev);
            }
            if n == 0 || h2.conn.is_done() {
                break;
            }
        }
        self.h2_after(h2, cx);
        if h2.conn.is_done() {
            return data.len();
        }
        used
    }

    /// After any callback: write the output, close when done, pick the deadline.
    fn h2_after(&mut self, h2: &mut H2, cx: &mut Ctx<'_, Msg>) {
        self.h2_flush(h2, cx);
        if h2.conn.is_done() || (h2.peer_gone && h2.streams.is_empty()) {
            cx.close();
            return;
        }
        let t = &self.h1.timeouts;
        if h2.streams.iter().any(|s| matches!(s.state, State::Waiting { .. })) {
            cx.set_deadline_ms(t.handler);
        } else if !h2.streams.is_empty() || cx.queued_bytes() > 0 {
            cx.set_deadline_ms(t.write_or_idle);
        } else {
            cx.set_deadline_ms(t.keep_alive);
        }
    }

    fn h2_event(&mut self, h2: &mut H2, cx: &mut Ctx<'_, Msg>, ev: Event<'_>) {
        match ev {
            Event::Request { stream, head, end_stream } => {
                if end_stream {
                    self.h2_dispatch(h2, cx, stream, &head, &[]);
                } else {
                    h2.streams
                        .push(H2Stream { id: stream, state: State::Receiving { head, body: Vec::new() } });
                }
            }
            Event::Data { stream, data, end_stream } => {
                h2.conn.release(stream, data.len());
                let Some(i) = h2.find(stream) else { return };
                let State::Receiving { body, .. } = &mut h2.streams[i].state else { return };
                if body.len() as u64 + data.len() as u64 > self.shared.config.limits.max_body {
                    h2.streams.swap_remove(i);
                    return self.h2_respond(h2, cx, stream, false, Response::error(413));
                }
                body.extend_from_slice(data);
                if end_stream {
                    if let Some(H2Stream { state: State::Receiving { head, body }, .. }) = h2.remove(stream) {
                        self.h2_dispatch(h2, cx, stream, &head, &body);
                    }
                }
            }
            Event::Reset { stream, .. } => {
                // Its task (if any) is cancelled and its producer told, by dropping.
                h2.remove(stream);
            }
            Event::WindowOpened => self.h2_pump_all(h2, cx),
            Event::GoAway { .. } => h2.peer_gone = true,
            Event::Closed { .. } => {}
        }
    }

    // ---------------------------------------------------------- dispatch

    /// Routes a complete request and answers it (or starts answering).
    fn h2_dispatch(&mut self, h2: &mut H2, cx: &mut Ctx<'_, Msg>, id: u32, h: &H2Head, body: &[u8]) {
        self.stats.count_h2_request();
        if h.method() == b"CONNECT" {
            // Extended CONNECT (RFC 8441) is not offered; weir is no proxy.
            return self.h2_respond(h2, cx, id, false, Response::error(501));
        }
        let buf = synthesize_head(h);
        let mut parser = RequestParser::new(self.shared.config.limits);
        let head = match parser.parse(&buf) {
            Ok(Some(head)) => head,
            Ok(None) => return self.h2_respond(h2, cx, id, false, Response::error(400)),
            Err(e) => return self.h2_respond(h2, cx, id, false, Response::error(e.status())),
        };
        let is_head = head.is_head();
        if let Some(port) = self.shared.config.redirect_https {
            if cx.tag() & TAG_KIND == TAG_PLAIN {
                return self.h2_respond(h2, cx, id, is_head, https_redirect(&head, &buf, port));
            }
        }
        let (raw_path, query, needs_norm) = match route_target(&head, &buf) {
            Routed::Path { raw, query, needs_norm } => (raw, query, needs_norm),
            Routed::Answer(special) => return self.h2_respond(h2, cx, id, is_head, special.answer()),
            Routed::Fail(status) => return self.h2_respond(h2, cx, id, is_head, Response::error(status)),
        };
        let query = query.and_then(|q| std::str::from_utf8(q).ok());
        let Some(path) = routing_path(raw_path, needs_norm) else {
            return self.h2_respond(h2, cx, id, is_head, Response::error(400));
        };
        let shared = self.shared.clone();
        let app = &shared.app;
        let method = head.method_bytes(&buf);
        let lookup = app.router.lookup(method, &path);
        let mut list = [("", ""); MAX_PARAMS];
        let (route, params): (&Route, Params<'_>) = match &lookup {
            Ok(m) => {
                let mut n = 0;
                for (slot, pair) in list.iter_mut().zip(m.params.iter()) {
                    *slot = pair;
                    n += 1;
                }
                (m.value, Params::from_slice(&list[..n]))
            }
            Err(err) => {
                let req = Request { buf: &buf, head: &head, path: &path, query, params: Params::EMPTY, body };
                let resp = match err {
                    LookupError::NotFound => run_chain(&app.global, &req, || Response::error(404)),
                    LookupError::MethodNotAllowed { allow } => run_chain(&app.global, &req, || {
                        Response::error(405).with_header("Allow", allow.as_bytes().to_vec())
                    }),
                };
                return self.h2_respond(h2, cx, id, is_head, resp);
            }
        };
        let req = Request { buf: &buf, head: &head, path: &path, query, params, body };
        match &route.handler {
            Handler::Inline(f) => {
                let resp = run_chain(&route.chain, &req, || f(&req));
                self.h2_respond(h2, cx, id, is_head, resp);
            }
            Handler::Workers(f) => {
                let owned = req.to_owned();
                let f = f.clone();
                let chain = route.chain.clone();
                let job = move || {
                    let req = owned.as_request();
                    let run = AssertUnwindSafe(|| run_chain(&chain, &req, || f(&req)));
                    Msg::Response(id, catch_unwind(run).unwrap_or_else(|_| Response::error(500)))
                };
                if cx.spawn(&shared.pool, job).is_err() {
                    let resp = Response::error(503).with_header("Retry-After", "1");
                    return self.h2_respond(h2, cx, id, is_head, resp);
                }
                h2.streams.push(H2Stream { id, state: State::Waiting { is_head, after: None, task: None } });
            }
            Handler::Deferred(f) => {
                for (i, m) in route.chain.iter().enumerate() {
                    if let Some(mut resp) = m.before(&req) {
                        run_after(&route.chain[..=i], &req, &mut resp);
                        return self.h2_respond(h2, cx, id, is_head, resp);
                    }
                }
                let after =
                    (!route.chain.is_empty()).then(|| (Box::new(req.to_owned()), route.chain.clone()));
                h2.streams.push(H2Stream { id, state: State::Waiting { is_head, after, task: None } });
                f(&req, Responder::new(ConnAddr { shard: cx.handle(), token: cx.token() }, id));
            }
            Handler::Async(f) | Handler::AsyncBody(f) => {
                for (i, m) in route.chain.iter().enumerate() {
                    if let Some(mut resp) = m.before(&req) {
                        run_after(&route.chain[..=i], &req, &mut resp);
                        return self.h2_respond(h2, cx, id, is_head, resp);
                    }
                }
                let Some(tasks) = self.tasks.as_mut() else {
                    return self.h2_respond(h2, cx, id, is_head, Response::error(500));
                };
                if !tasks.has_room() {
                    let mut resp = Response::error(503).with_header("Retry-After", "1");
                    run_after(&route.chain, &req, &mut resp);
                    return self.h2_respond(h2, cx, id, is_head, resp);
                }
                let Ok(fut) = catch_unwind(AssertUnwindSafe(|| f(req.to_owned()))) else {
                    return self.h2_respond(h2, cx, id, is_head, Response::error(500));
                };
                match tasks.first_poll(fut, cx.now_ms()) {
                    Ok(mut resp) => {
                        run_after(&route.chain, &req, &mut resp);
                        self.h2_respond(h2, cx, id, is_head, resp);
                    }
                    Err(parked) => {
                        let guard = tasks.park(parked, Owner { token: cx.token(), seq: id });
                        let after = (!route.chain.is_empty())
                            .then(|| (Box::new(req.to_owned()), route.chain.clone()));
                        let state = State::Waiting { is_head, after, task: Some(guard) };
                        h2.streams.push(H2Stream { id, state });
                    }
                }
            }
        }
    }

    /// The answer of a handler that ran elsewhere.
    fn h2_resolve(&mut self, h2: &mut H2, cx: &mut Ctx<'_, Msg>, id: u32, mut resp: Response) {
        let Some(i) = h2.find(id) else { return }; // reset meanwhile
        let State::Waiting { is_head, after, task } = &mut h2.streams[i].state else { return };
        let is_head = *is_head;
        if let Some(guard) = task.as_mut() {
            guard.disarm();
        }
        if let Some((req, chain)) = after.take() {
            run_after(&chain, &req.as_request(), &mut resp);
        }
        h2.streams.swap_remove(i);
        self.h2_respond(h2, cx, id, is_head, resp);
    }

    /// Sends a response: HEADERS, then as much body as the windows allow.
    fn h2_respond(&mut self, h2: &mut H2, cx: &mut Ctx<'_, Msg>, id: u32, is_head: bool, resp: Response) {
        let resp = match &self.shared.config.hsts {
            Some(v)
                if cx.tag() & TAG_KIND == TAG_TLS && resp.header("strict-transport-security").is_none() =>
            {
                resp.with_header("Strict-Transport-Security", v.clone())
            }
            _ => resp,
        };
        let Response { status, content_type, headers, body, close: _ } = resp;
        self.stats.count_status(status);
        let has_body = response_has_body(is_head, status);
        let len = body.len();
        let mut digits = itoa_buf();
        let length: Option<&[u8]> = match len {
            Some(n) if status != 304 && status >= 200 && status != 204 => Some(fmt_u64(n, &mut digits)),
            _ => None,
        };
        let mut names: Vec<Vec<u8>> = Vec::with_capacity(headers.len());
        for (n, _) in &headers {
            names.push(n.as_str().to_ascii_lowercase().into_bytes());
        }
        let date = self.h1.date().to_vec();
        let fields = content_type
            .map(|ct| (&b"content-type"[..], ct.as_bytes()))
            .into_iter()
            .chain(
                headers
                    .iter()
                    .zip(names.iter())
                    .filter(|((n, v), _)| !connection_specific(n.as_str()) && valid_value(v.as_bytes()))
                    .map(|((_, v), n)| (&n[..], v.as_bytes())),
            )
            .chain(length.map(|l| (&b"content-length"[..], l)))
            .chain(std::iter::once((&b"date"[..], &date[..])));
        let empty = !has_body || len == Some(0);
        if !h2.conn.send_response(id, status, fields, empty) {
            return;
        }
        if empty {
            return;
        }
        let out = match body {
            Body::Empty => return,
            b @ (Body::Static(_) | Body::Bytes(_) | Body::Shared(_)) => Out::Bytes { body: b, pos: 0 },
            Body::File { file, offset, len } => Out::File { file, offset, left: len },
            Body::Parts(parts) => Out::Parts(parts.into()),
            Body::Stream(start) => {
                let gone = Arc::new(AtomicBool::new(false));
                let to = ConnAddr { shard: cx.handle(), token: cx.token() };
                let streamed = Streamed {
                    queue: VecDeque::new(),
                    pos: 0,
                    chunks: 0,
                    end_after: None,
                    gone: gone.clone(),
                };
                h2.streams.push(H2Stream { id, state: State::Sending(Out::Stream(Box::new(streamed))) });
                start(BodySink::new(Box::new(H2StreamTarget { to, stream: id, gone })));
                return;
            }
        };
        h2.streams.push(H2Stream { id, state: State::Sending(out) });
        self.h2_pump(h2, cx, id);
    }

    // ------------------------------------------------------------ output

    fn h2_pump_all(&mut self, h2: &mut H2, cx: &mut Ctx<'_, Msg>) {
        let ids: Vec<u32> =
            h2.streams.iter().filter(|s| matches!(s.state, State::Sending(_))).map(|s| s.id).collect();
        for id in ids {
            self.h2_pump(h2, cx, id);
        }
    }

    /// Sends what the windows and the write bound allow of stream `id`'s body.
    fn h2_pump(&mut self, h2: &mut H2, cx: &mut Ctx<'_, Msg>, id: u32) {
        loop {
            let Some(i) = h2.find(id) else { return };
            let cap = h2.conn.send_capacity(id);
            if cap == 0 || self.h2_full(h2, cx) {
                return;
            }
            let State::Sending(out) = &mut h2.streams[i].state else { return };
            let done = match out {
                Out::Bytes { body, pos } => {
                    let bytes = body.as_bytes().unwrap_or_default();
                    let start = *pos;
                    let end = bytes.len().min(start + cap.min(PIECE));
                    let last = end == bytes.len();
                    let n = h2.conn.send_data(id, &bytes[start..end], last);
                    *pos = start + n;
                    h2.sent += n as u64;
                    if n < end - start {
                        return;
                    }
                    last
                }
                Out::File { file, offset, left } => {
                    let want = (*left).min(cap.min(PIECE) as u64) as usize;
                    let mut buf = vec![0u8; want];
                    let got = match file.read_at(&mut buf, *offset) {
                        Ok(0) | Err(_) => {
                            // The file shrank or failed: the body cannot be completed.
                            h2.streams.swap_remove(i);
                            h2.conn.reset(id, ErrorCode::InternalError);
                            return;
                        }
                        Ok(n) => n,
                    };
                    let last = got as u64 == *left;
                    let n = h2.conn.send_data(id, &buf[..got], last);
                    *offset += n as u64;
                    *left -= n as u64;
                    h2.sent += n as u64;
                    *left == 0
                }
                Out::Parts(_) => return self.h2_pump_parts(h2, cx, id),
                Out::Stream(s) => {
                    while let Some(front) = s.queue.front() {
                        let cap = h2.conn.send_capacity(id);
                        if cap == 0 {
                            return;
                        }
                        let end = front.len().min(s.pos + cap.min(PIECE));
                        let n = h2.conn.send_data(id, &front[s.pos..end], false);
                        s.pos += n;
                        h2.sent += n as u64;
                        if s.pos == front.len() {
                            s.queue.pop_front();
                            s.pos = 0;
                        }
                        if n == 0 {
                            return;
                        }
                    }
                    if s.end_after.is_some_and(|n| n == s.chunks) {
                        h2.conn.send_data(id, &[], true);
                        true
                    } else {
                        return;
                    }
                }
            };
            if done {
                if let Some(j) = h2.find(id) {
                    h2.streams.swap_remove(j);
                }
                return;
            }
        }
    }

    /// Walks a `Parts` body: each part's bytes as DATA, END_STREAM after the last.
    fn h2_pump_parts(&mut self, h2: &mut H2, cx: &mut Ctx<'_, Msg>, id: u32) {
        loop {
            let Some(i) = h2.find(id) else { return };
            let cap = h2.conn.send_capacity(id);
            if cap == 0 || self.h2_full(h2, cx) {
                return;
            }
            let State::Sending(Out::Parts(parts)) = &mut h2.streams[i].state else { return };
            let Some(front) = parts.front_mut() else {
                h2.conn.send_data(id, &[], true);
                h2.streams.swap_remove(i);
                return;
            };
            let n = match front {
                Part::Bytes(v) => {
                    let take = v.len().min(cap.min(PIECE));
                    let n = h2.conn.send_data(id, &v[..take], false);
                    v.drain(..n);
                    n
                }
                Part::File { file, offset, len } => {
                    let want = (*len).min(cap.min(PIECE) as u64) as usize;
                    let mut buf = vec![0u8; want];
                    match file.read_at(&mut buf, *offset) {
                        Ok(got) if got > 0 => {
                            let n = h2.conn.send_data(id, &buf[..got], false);
                            *offset += n as u64;
                            *len -= n as u64;
                            n
                        }
                        _ => {
                            h2.streams.swap_remove(i);
                            h2.conn.reset(id, ErrorCode::InternalError);
                            return;
                        }
                    }
                }
            };
            h2.sent += n as u64;
            if front_is_empty(parts) {
                parts.pop_front();
            }
        }
    }

    // ---------------------------------------------------- other callbacks

    pub(super) fn h2_writable(&mut self, h2: &mut H2, cx: &mut Ctx<'_, Msg>) {
        self.h2_pump_all(h2, cx);
        if !self.h2_full(h2, cx) {
            cx.resume_reading();
        }
        self.h2_after(h2, cx);
    }

    pub(super) fn h2_timer(&mut self, h2: &mut H2, cx: &mut Ctx<'_, Msg>) {
        self.h1.refresh_date(cx.now_ms());
        let waiting: Vec<u32> =
            h2.streams.iter().filter(|s| matches!(s.state, State::Waiting { .. })).map(|s| s.id).collect();
        if !waiting.is_empty() {
            // The handler timeout: 503 for the streams still waiting.
            for id in waiting {
                self.h2_resolve(h2, cx, id, Response::error(503));
            }
        } else if !h2.streams.is_empty() || cx.queued_bytes() > 0 {
            // A whole write timeout without a byte of progress: the client
            // stopped reading, or keeps its windows shut (a zero-window stall).
            let progress = h2.sent + cx.queued_bytes();
            if progress == h2.mark {
                return cx.abort();
            }
            h2.mark = progress;
        } else {
            // Idle: GOAWAY, then close.
            h2.conn.final_goaway();
            self.h2_flush(h2, cx);
            return cx.close();
        }
        self.h2_after(h2, cx);
    }

    pub(super) fn h2_message(&mut self, h2: &mut H2, cx: &mut Ctx<'_, Msg>, msg: Msg) {
        self.h1.refresh_date(cx.now_ms());
        match msg {
            Msg::Response(id, resp) => self.h2_resolve(h2, cx, id, resp),
            Msg::H2Chunk(id, chunk) => {
                let Some(i) = h2.find(id) else { return };
                let State::Sending(Out::Stream(s)) = &mut h2.streams[i].state else { return };
                s.chunks += 1;
                s.queue.push_back(chunk);
                if s.queue.len() > 1024 {
                    // The producer outruns a client that does not read.
                    h2.streams.swap_remove(i);
                    h2.conn.reset(id, ErrorCode::Cancel);
                } else {
                    self.h2_pump(h2, cx, id);
                }
            }
            Msg::H2End(id, chunks) => {
                let Some(i) = h2.find(id) else { return };
                let State::Sending(Out::Stream(s)) = &mut h2.streams[i].state else { return };
                s.end_after = Some(chunks);
                self.h2_pump(h2, cx, id);
            }
            _ => {}
        }
        self.h2_after(h2, cx);
    }

    pub(crate) fn h2_task_done(&mut self, h2: &mut H2, cx: &mut Ctx<'_, Msg>, id: u32, resp: Response) {
        self.h1.refresh_date(cx.now_ms());
        self.h2_resolve(h2, cx, id, resp);
        self.h2_after(h2, cx);
    }

    /// Graceful shutdown: GOAWAY; an idle connection closes at once.
    pub(super) fn h2_shutdown(&mut self, h2: &mut H2, cx: &mut Ctx<'_, Msg>) {
        h2.conn.shutdown();
        if h2.streams.is_empty() {
            h2.conn.final_goaway();
            self.h2_flush(h2, cx);
            return cx.close();
        }
        self.h2_after(h2, cx);
    }

    pub(super) fn h2_close(&mut self, h2: &H2) {
        self.stats.add_h2_budget(h2.conn.budget());
    }
}

fn front_is_empty(parts: &VecDeque<Part>) -> bool {
    parts.front().is_some_and(Part::is_empty)
}

fn valid_value(v: &[u8]) -> bool {
    !v.iter().any(|&b| matches!(b, 0 | b'\r' | b'\n'))
}

fn itoa_buf() -> [u8; 20] {
    [0; 20]
}

fn fmt_u64(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preface_is_sniffed() {
        assert!(matches!(sniff(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0"), Sniff::H2));
        assert!(matches!(sniff(b"PRI * HT"), Sniff::NeedMore));
        assert!(matches!(sniff(b"PRI /x HTTP/1.1\r\n"), Sniff::No));
        assert!(matches!(sniff(b"GET / HTTP/1.1\r\n"), Sniff::No));
        let mut b = itoa_buf();
        assert_eq!(fmt_u64(0, &mut b), b"0");
        assert_eq!(fmt_u64(1_048_576, &mut b), b"1048576");
    }
}

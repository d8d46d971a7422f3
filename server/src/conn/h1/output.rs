//! Answers, in request order: written at once when nothing is ahead of
//! them, else queued in the connection's pipeline; the response head (one
//! encoder, which owns framing), the body as chunks the reactor writes
//! without copying, streamed bodies, and the connection's deadline.
//!
//! An answer that closes the connection (`Connection: close`, an error,
//! shutdown, the last request's answer after the peer's EOF) ends it: the
//! reading side stops as soon as the close is decided, and answers behind
//! it are dropped, never written after a `Connection: close`.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use weir_http::{
    encode_chunk_header, response_has_body, status_allows_framing, CHUNK_HEADER_MAX, LAST_CHUNK,
};

use weir_reactor::{Chunk, Ctx, FileRange, SharedBytes};

use super::{Meta, Pending, Reading, Stream, Writing, H1};
use crate::conn::{HttpShard, TAG_KIND, TAG_TLS};
use crate::head::{ConnHeader, Framing};
use crate::middleware::{run_after, Chain};
use crate::msg::{ConnAddr, Msg, StreamTarget};
use crate::request::OwnedRequest;
use crate::response::{Body, BodySink, Part, Response};

/// Bodies up to this size are copied next to the response head (one
/// iovec, one small copy) instead of being queued as a separate chunk.
const INLINE_BODY_MAX: usize = 1024;

/// A streamed body may queue this many times `max_queued_output` for a
/// client that does not keep up before the connection is aborted (the
/// producer is on another thread and cannot be paused from here).
const STREAM_QUEUE_FACTOR: u64 = 8;

/// Room asked of the staging buffer for a response head (a typical head is
/// 100–300 bytes; a bigger one simply grows the buffer).
const HEAD_RESERVE: usize = 512;

impl HttpShard {
    /// Queues a place for an answer that will come later (worker, deferred).
    pub(super) fn push_waiting(
        &mut self,
        conn: &mut H1,
        meta: Meta,
        after: Option<(Box<OwnedRequest>, Chain)>,
    ) -> u32 {
        let seq = conn.next_seq;
        conn.next_seq = conn.next_seq.wrapping_add(1);
        conn.pipeline.get_or_insert_with(Default::default).push_back(Pending {
            seq,
            meta,
            resp: None,
            after,
            task: None,
        });
        seq
    }

    /// An answer for the pending request `seq` arrived.
    pub(super) fn resolve(&mut self, conn: &mut H1, cx: &mut Ctx<'_, Msg>, seq: u32, mut resp: Response) {
        let Some(p) =
            conn.pipeline.as_mut().and_then(|q| q.iter_mut().find(|p| p.seq == seq && p.resp.is_none()))
        else {
            return; // already answered (timed out), or dropped behind a close
        };
        if let Some((req, chain)) = p.after.take() {
            run_after(&chain, &req.as_request(), &mut resp);
        }
        let close = resp.close;
        p.resp = Some(resp);
        if close {
            conn.stop_reading();
        }
        self.pump(conn, cx);
    }

    /// An answer ready now: written at once unless earlier ones are pending.
    /// (Inlined: on the hot path it is two tests in front of `write_response`.)
    #[inline(always)]
    pub(super) fn complete(&mut self, conn: &mut H1, cx: &mut Ctx<'_, Msg>, resp: Response, meta: Meta) {
        if resp.close {
            // Nothing after a closing answer is read (RFC 9112 §9.6), even
            // while earlier answers are still being prepared.
            conn.stop_reading();
        }
        if conn.pipeline.is_none() && !conn.is_streaming() {
            self.write_response(conn, cx, resp, meta);
        } else {
            let seq = conn.next_seq;
            conn.next_seq = conn.next_seq.wrapping_add(1);
            let pending = Pending { seq, meta, resp: Some(resp), after: None, task: None };
            conn.pipeline.get_or_insert_with(Default::default).push_back(pending);
        }
    }

    /// Writes every answer at the front of the pipeline that is ready.
    pub(super) fn pump(&mut self, conn: &mut H1, cx: &mut Ctx<'_, Msg>) {
        while !conn.is_streaming() {
            let Some(queue) = conn.pipeline.as_mut() else { break };
            let ready = matches!(queue.front(), Some(p) if p.resp.is_some());
            if !ready {
                break;
            }
            let p = queue.pop_front().expect("front exists");
            if queue.is_empty() {
                // An idle connection keeps no pipeline.
                conn.pipeline = None;
            }
            self.write_response(conn, cx, p.resp.expect("checked"), p.meta);
        }
        self.maybe_resume(conn, cx);
    }

    /// Resumes reading once neither bound of the backpressure holds.
    pub(super) fn maybe_resume(&self, conn: &H1, cx: &mut Ctx<'_, Msg>) {
        let c = &self.shared.config;
        if !matches!(conn.reading, Reading::Done)
            && conn.pending() < c.max_pipeline
            && cx.queued_bytes() <= c.max_queued_output
        {
            cx.resume_reading();
        }
    }

    /// Answers with `status` and closes: nothing after this request is read.
    pub(super) fn fail(&mut self, conn: &mut H1, cx: &mut Ctx<'_, Msg>, status: u16) {
        let meta = Meta { is_head: false, keep_alive: false, http10: false };
        conn.stop_reading();
        self.complete(conn, cx, Response::error(status).with_close(), meta);
        cx.pause_reading();
    }

    fn write_response(&mut self, conn: &mut H1, cx: &mut Ctx<'_, Msg>, resp: Response, meta: Meta) {
        let resp = match &self.shared.config.hsts {
            Some(v) if cx.tag() & TAG_KIND == TAG_TLS => with_hsts(resp, v),
            _ => resp,
        };
        let Response { status, content_type, headers, body, close } = resp;
        // Nagle's algorithm only delays a small segment sent while an
        // earlier one is unacknowledged, which cannot happen on a
        // connection's first response. So `TCP_NODELAY` is set lazily, at
        // the second response or the first stream: a connection that asks
        // one question and closes saves the syscall (nginx does the same).
        if !conn.nodelay && (conn.served > 0 || matches!(body, Body::Stream(_))) {
            let _ = cx.set_nodelay(true);
            conn.nodelay = true;
        }
        let max = self.shared.config.max_requests_per_connection;
        // The last answer the connection will give closes it.
        let last = matches!(conn.reading, Reading::Done) && conn.pipeline.is_none();
        let mut keep_alive = meta.keep_alive
            && !close
            && !last
            && !self.stopping
            && (max == 0 || u64::from(conn.served) + 1 < max);
        let has_body = response_has_body(meta.is_head, status);
        // 1xx, 204 and 304 carry no framing field: RFC 9110 §8.6 allows a
        // 304 its Content-Length, but clients then wait for a body that
        // never comes (nginx and h2o omit it too).
        let frames = status_allows_framing(status) && status != 304;
        let mut raw_stream = false;
        if frames && body.len().is_none() && meta.http10 {
            // HTTP/1.0 has no chunked coding: the body ends at close.
            keep_alive = false;
            raw_stream = true;
        }
        if !keep_alive {
            // Nothing is read after this answer, and nothing written after it.
            conn.stop_reading();
            conn.pipeline = None;
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
            _ if !frames => Framing::None,
            Some(n) => Framing::Length(n),
            None if raw_stream => Framing::None,
            None => Framing::Chunked,
        };
        let heads = &mut self.h1.heads;
        cx.write_with(HEAD_RESERVE, |out| {
            let fields = headers.iter().map(|(name, value)| (name.as_str(), value.as_bytes()));
            heads.encode(out, status, content_type, conn_header, fields, framing);
            if inline {
                out.extend_from_slice(body.as_bytes().unwrap_or_default());
            }
        });
        self.stats.count_status(status);
        conn.served = conn.served.saturating_add(1);

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
                    let gone = Arc::new(AtomicBool::new(false));
                    let stream = Stream { raw: raw_stream, chunks: 0, end_after: None, gone: gone.clone() };
                    conn.writing = Writing::Streaming(Box::new(stream));
                    let to = ConnAddr { shard: cx.handle(), token: cx.token() };
                    start(BodySink::new(Box::new(StreamTarget { to, gone })));
                    return;
                }
            }
        }
        if !keep_alive {
            cx.close();
        }
    }

    pub(super) fn stream_chunk(&mut self, conn: &mut H1, cx: &mut Ctx<'_, Msg>, chunk: Vec<u8>) {
        let Writing::Streaming(stream) = &mut conn.writing else { return };
        stream.chunks += 1;
        if cx.queued_bytes() > STREAM_QUEUE_FACTOR * self.shared.config.max_queued_output {
            // The producer outruns a client that does not read: its chunks
            // would pile up without bound. The connection goes; the
            // producer's next send sees it closed.
            cx.abort();
            return;
        }
        if stream.raw {
            cx.write(chunk);
        } else {
            let mut hdr = [0u8; CHUNK_HEADER_MAX];
            cx.write_copy(encode_chunk_header(chunk.len() as u64, &mut hdr));
            cx.write(chunk);
            cx.write(&b"\r\n"[..]);
        }
        if let Some(chunks) = stream.end_after.filter(|&n| n == stream.chunks) {
            self.stream_end(conn, cx, chunks);
        }
    }

    /// The producer finished after `chunks` chunks; the body ends once they
    /// are all written.
    pub(super) fn stream_end(&mut self, conn: &mut H1, cx: &mut Ctx<'_, Msg>, chunks: u64) {
        let Writing::Streaming(stream) = &mut conn.writing else { return };
        if stream.chunks < chunks {
            stream.end_after = Some(chunks); // chunks still in the data lane
            return;
        }
        if !stream.raw {
            cx.write(LAST_CHUNK);
        }
        conn.writing = Writing::Answers;
        if matches!(conn.reading, Reading::Done) && conn.pipeline.is_none() {
            cx.close();
        } else {
            self.pump(conn, cx);
        }
    }

    /// Picks the connection's deadline for its current state.
    pub(super) fn rearm(&self, conn: &H1, cx: &mut Ctx<'_, Msg>) {
        let t = &self.h1.timeouts;
        if conn.is_streaming() {
            // A stream may be quiet for as long as its producer likes, but
            // not stuck on a client that stopped reading.
            if cx.queued_bytes() > 0 {
                cx.set_deadline_ms(t.write_or_idle);
            } else {
                cx.clear_deadline();
            }
        } else if let Reading::Body(_) = conn.reading {
            cx.set_deadline_ms(t.body);
        } else if let Reading::Head(_) = conn.reading {
            // Armed when the head began: more bytes do not extend it.
        } else if conn.pipeline.is_some() {
            cx.set_deadline_ms(t.handler);
        } else if cx.queued_bytes() > 0 {
            cx.set_deadline_ms(t.write_or_idle);
        } else {
            cx.set_deadline_ms(t.keep_alive);
        }
    }
}

/// `Strict-Transport-Security` (RFC 6797 §6.1) on a TLS response, unless
/// the handler set its own.
#[cold]
fn with_hsts(resp: Response, value: &str) -> Response {
    if resp.header("strict-transport-security").is_some() {
        resp
    } else {
        resp.with_header("Strict-Transport-Security", value.to_owned())
    }
}

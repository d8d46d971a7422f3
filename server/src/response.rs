//! The response a handler returns: status, headers, and a body that is
//! never copied on its way to the socket.
//!
//! Bodies come in the shapes the write queue can send without copying:
//! `'static` bytes, owned bytes, shared bytes (`Arc<[u8]>`, e.g. a cached
//! file), a file range (sent with `sendfile`), or a stream — chunks produced
//! later, from any thread, framed with chunked transfer coding (enough for
//! server-sent events).

use std::fs::File;
use std::sync::Arc;

use crate::header::{HeaderName, HeaderValue};

/// Where a [`BodySink`] delivers: the connection's shard (see `crate::msg`).
pub(crate) trait StreamOut: Send + std::fmt::Debug {
    /// One chunk, on the shard's bounded data lane.
    fn chunk(&self, chunk: Vec<u8>) -> Result<(), SinkError>;
    /// The end, after `chunks` chunks.
    fn end(&self, chunks: u64);
}

/// Why [`BodySink::send`] did not take a chunk.
#[derive(Debug)]
pub enum SinkError {
    /// The shard's inbox is full: the chunk is handed back; send it again
    /// later (backpressure — the client reads slower than you produce).
    Full(Vec<u8>),
    /// The connection is gone: stop producing.
    Closed,
}

impl std::fmt::Display for SinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SinkError::Full(_) => f.write_str("the connection's shard is behind; retry the chunk later"),
            SinkError::Closed => f.write_str("the connection has closed"),
        }
    }
}

impl std::error::Error for SinkError {}

/// Where a streamed body's chunks go: produced by any thread, written by
/// the connection's shard with chunked framing. Dropping it ends the body.
///
/// Chunks travel through the shard's bounded inbox: when it is full,
/// [`BodySink::send`] hands the chunk back ([`SinkError::Full`]) instead of
/// blocking or growing memory, and the producer retries later.
#[derive(Debug)]
pub struct BodySink {
    out: Box<dyn StreamOut>,
    chunks: u64,
    done: bool,
}

impl BodySink {
    pub(crate) fn new(out: Box<dyn StreamOut>) -> BodySink {
        BodySink { out, chunks: 0, done: false }
    }

    /// Sends one chunk (an empty one is ignored).
    ///
    /// # Errors
    ///
    /// [`SinkError::Full`] with the chunk when the shard is behind,
    /// [`SinkError::Closed`] once the connection is gone.
    pub fn send(&mut self, chunk: impl Into<Vec<u8>>) -> Result<(), SinkError> {
        let chunk = chunk.into();
        if chunk.is_empty() {
            return Ok(());
        }
        self.out.chunk(chunk)?;
        self.chunks += 1;
        Ok(())
    }

    /// Ends the body (the last, empty chunk is written).
    pub fn finish(mut self) {
        self.end();
    }

    fn end(&mut self) {
        if !self.done {
            self.done = true;
            self.out.end(self.chunks);
        }
    }
}

impl Drop for BodySink {
    fn drop(&mut self) {
        self.end();
    }
}

/// A function that starts producing a streamed body once the response head is queued.
pub type StreamStart = Box<dyn FnOnce(BodySink) + Send + 'static>;

/// A response body.
pub enum Body {
    /// No body (`Content-Length: 0` where a body is allowed).
    Empty,
    /// Bytes that live forever.
    Static(&'static [u8]),
    /// Owned bytes.
    Bytes(Vec<u8>),
    /// Shared bytes (cached content).
    Shared(Arc<[u8]>),
    /// A range of an open file, sent with `sendfile(2)`.
    File {
        /// The open file.
        file: Arc<File>,
        /// First byte.
        offset: u64,
        /// Number of bytes.
        len: u64,
    },
    /// A body of unknown length, produced later (chunked).
    Stream(StreamStart),
    /// Segments sent in order, each without copying: e.g. a
    /// `multipart/byteranges` body (part heads in memory, file ranges by `sendfile`).
    Parts(Vec<Part>),
}

/// One segment of a [`Body::Parts`] body.
#[derive(Debug)]
pub enum Part {
    /// Bytes in memory.
    Bytes(Vec<u8>),
    /// A range of an open file, sent with `sendfile(2)`.
    File {
        /// The open file.
        file: Arc<File>,
        /// First byte.
        offset: u64,
        /// Number of bytes.
        len: u64,
    },
}

impl Part {
    /// The number of bytes.
    pub fn len(&self) -> u64 {
        match self {
            Part::Bytes(b) => b.len() as u64,
            Part::File { len, .. } => *len,
        }
    }

    /// True for an empty segment.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Empty => f.write_str("Empty"),
            Body::Static(b) => write!(f, "Static({} bytes)", b.len()),
            Body::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Body::Shared(b) => write!(f, "Shared({} bytes)", b.len()),
            Body::File { offset, len, .. } => write!(f, "File({offset}+{len})"),
            Body::Stream(_) => f.write_str("Stream"),
            Body::Parts(p) => write!(f, "Parts({} segments)", p.len()),
        }
    }
}

impl Body {
    /// The length, when known in advance.
    pub fn len(&self) -> Option<u64> {
        match self {
            Body::Empty => Some(0),
            Body::Static(b) => Some(b.len() as u64),
            Body::Bytes(b) => Some(b.len() as u64),
            Body::Shared(b) => Some(b.len() as u64),
            Body::File { len, .. } => Some(*len),
            Body::Stream(_) => None,
            Body::Parts(p) => Some(p.iter().map(Part::len).sum()),
        }
    }

    /// True for a known-empty body.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// The bytes, for in-memory bodies.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Body::Empty => Some(b""),
            Body::Static(b) => Some(b),
            Body::Bytes(b) => Some(b),
            Body::Shared(b) => Some(b),
            Body::File { .. } | Body::Stream(_) | Body::Parts(_) => None,
        }
    }
}

/// An HTTP response.
#[derive(Debug)]
pub struct Response {
    pub(crate) status: u16,
    pub(crate) content_type: Option<&'static str>,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) body: Body,
    pub(crate) close: bool,
}

impl Response {
    /// A response with `status` and no body.
    pub fn new(status: u16) -> Response {
        Response { status, content_type: None, headers: Vec::new(), body: Body::Empty, close: false }
    }

    /// 200 with a `text/plain; charset=utf-8` body.
    pub fn text(body: impl Into<TextBody>) -> Response {
        Response::new(200).with_content_type("text/plain; charset=utf-8").with_body(body.into().0)
    }

    /// 200 with a `text/html; charset=utf-8` body.
    pub fn html(body: impl Into<TextBody>) -> Response {
        Response::new(200).with_content_type("text/html; charset=utf-8").with_body(body.into().0)
    }

    /// 200 with `value` serialised as JSON.
    pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> Response {
        match serde_json::to_vec(value) {
            Ok(bytes) => {
                Response::new(200).with_content_type("application/json").with_body(Body::Bytes(bytes))
            }
            Err(_) => Response::error(500),
        }
    }

    /// A short plain-text error page for `status`.
    pub fn error(status: u16) -> Response {
        let reason = weir_http::status_reason(status);
        let mut body = Vec::with_capacity(reason.len() + 1);
        body.extend_from_slice(reason.as_bytes());
        body.push(b'\n');
        Response::new(status).with_content_type("text/plain; charset=utf-8").with_body(Body::Bytes(body))
    }

    /// A streamed (chunked) body: `start` receives a [`BodySink`] once the
    /// head is queued and may move it to any thread.
    pub fn stream(content_type: &'static str, start: impl FnOnce(BodySink) + Send + 'static) -> Response {
        Response::new(200).with_content_type(content_type).with_body(Body::Stream(Box::new(start)))
    }

    /// Server-sent events: a `text/event-stream` stream, not cached.
    pub fn sse(start: impl FnOnce(BodySink) + Send + 'static) -> Response {
        Response::stream("text/event-stream", start).with_header("Cache-Control", "no-cache")
    }

    /// Sets the status.
    #[must_use]
    pub fn with_status(mut self, status: u16) -> Response {
        self.status = status;
        self
    }

    /// Sets `Content-Type`.
    #[must_use]
    pub fn with_content_type(mut self, ct: &'static str) -> Response {
        self.content_type = Some(ct);
        self
    }

    /// Adds a header. Names are `&'static str` (no allocation) or `String`;
    /// values are text or bytes, `'static` or owned (see [`HeaderValue`]).
    /// A name that is not a token, or a value with CR, LF or NUL, is
    /// dropped when the response is encoded (it could split the response).
    ///
    /// # Fields the server owns
    ///
    /// The body decides how the response is framed, so a handler cannot
    /// contradict it (two `Content-Length`s, or `Transfer-Encoding` beside
    /// `Content-Length`, is a response a proxy can desync on). These names,
    /// in any case, are not stored, so [`Response::header`] does not report
    /// them either:
    ///
    /// * `Content-Length` and `Transfer-Encoding`: dropped; the server
    ///   writes the framing the body needs.
    /// * `Connection`: dropped, and the server decides keep-alive; but a
    ///   value whose token list holds `close` (any case, e.g.
    ///   `keep-alive, Close`) becomes [`Response::with_close`].
    #[must_use]
    pub fn with_header(mut self, name: impl Into<HeaderName>, value: impl Into<HeaderValue>) -> Response {
        self.add_header(name, value);
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn with_body(mut self, body: Body) -> Response {
        // Usually the body replaced is `Body::Empty` from `Response::new`,
        // which owns nothing: forgetting it spares the call that would drop it.
        if matches!(self.body, Body::Empty) {
            std::mem::forget(std::mem::replace(&mut self.body, body));
        } else {
            self.body = body;
        }
        self
    }

    /// Closes the connection after this response.
    #[must_use]
    pub fn with_close(mut self) -> Response {
        self.close = true;
        self
    }

    /// The status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Adds a header in place; `Content-Length`, `Transfer-Encoding` and
    /// `Connection` are the server's, as for [`Response::with_header`].
    pub fn add_header(&mut self, name: impl Into<HeaderName>, value: impl Into<HeaderValue>) {
        let (name, value) = (name.into(), value.into());
        if crate::head::server_owned(name.as_str().as_bytes()) {
            if name.as_str().eq_ignore_ascii_case("connection") && has_close_token(value.as_bytes()) {
                self.close = true;
            }
            return;
        }
        self.headers.push((name, value));
    }

    /// The first header named `name` (case-insensitive), if set.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        if name.eq_ignore_ascii_case("content-type") {
            if let Some(ct) = self.content_type {
                return Some(ct.as_bytes());
            }
        }
        self.headers.iter().find(|(n, _)| n.as_str().eq_ignore_ascii_case(name)).map(|(_, v)| v.as_bytes())
    }

    /// The body.
    pub fn body(&self) -> &Body {
        &self.body
    }
}

/// True when a `Connection` value's token list holds `close` (RFC 9110
/// §7.6.1: `Connection = #connection-option`, tokens are case-insensitive).
fn has_close_token(value: &[u8]) -> bool {
    value.split(|&b| b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"))
}

/// Text for [`Response::text`] and [`Response::html`]: static or owned.
#[derive(Debug)]
pub struct TextBody(Body);

impl From<&'static str> for TextBody {
    fn from(s: &'static str) -> TextBody {
        TextBody(Body::Static(s.as_bytes()))
    }
}

impl From<String> for TextBody {
    fn from(s: String) -> TextBody {
        TextBody(Body::Bytes(s.into_bytes()))
    }
}

impl From<Vec<u8>> for TextBody {
    fn from(v: Vec<u8>) -> TextBody {
        TextBody(Body::Bytes(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_and_connection_headers_are_the_servers() {
        for name in ["Content-Length", "content-length", "Transfer-Encoding", "TRANSFER-ENCODING"] {
            let r = Response::text("hello").with_header(name, "7");
            assert_eq!(r.header(name), None, "{name} is not stored");
            assert!(r.headers.is_empty() && !r.close, "{name}");
        }
        for (value, close) in [
            (&b"close"[..], true),
            (b"Keep-Alive, CLOSE", true),
            (b" close ,upgrade", true),
            (b"keep-alive", false),
            (b"closed", false),
            (b"", false),
        ] {
            let mut r = Response::new(200);
            r.add_header("Connection", value);
            assert_eq!(r.header("connection"), None);
            assert!(r.headers.is_empty());
            assert_eq!(r.close, close, "{}", String::from_utf8_lossy(value));
        }
        let r = Response::new(200).with_header("X-Other", "v");
        assert_eq!(r.header("x-other"), Some(&b"v"[..]));
    }
}

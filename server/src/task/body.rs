//! A request body an async handler reads as it arrives: [`BodyStream`].
//!
//! An [`async_body_handler`](crate::async_body_handler) is dispatched as
//! soon as its request head is read — not when the whole body has been —
//! and awaits the body chunk by chunk, as the connection decodes it
//! (`Content-Length` or chunked). So a handler can start work (check a
//! signature, open an upstream, refuse early) before an upload ends.
//!
//! ```text
//!   head read ─▶ route streams its body? ─▶ dispatch now, with a BodyStream
//!                                             ▲ chunks      │ .chunk().await
//!   body bytes ─▶ decoder ─▶ BodyFeed::push ──┘             ▼
//!   body end   ─▶ BodyFeed::finish (or fail: 400/413, the client left)
//! ```
//!
//! Both ends live on the shard's thread (the feed in the connection, the
//! stream in the handler's future), so they share an `Rc<RefCell<_>>` and a
//! push wakes the task through its `Waker` without any lock. Memory is
//! bounded as for every body: at most `Limits::max_body` bytes are ever
//! queued (past it, the stream ends with a 413 error). A body that was
//! already whole when the head was read (a small upload, one packet)
//! reaches the handler as one chunk; HTTP/2 requests, whose bodies are
//! buffered by the HTTP/2 layer, too.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

use crate::request::OwnedRequest;

/// Why a body stream ended before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyError {
    /// The status the server answers the framing error with (400, 413), or
    /// 499 when the client closed the connection mid-body.
    pub status: u16,
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            499 => f.write_str("the client closed the connection before the body ended"),
            s => write!(f, "the request body was refused ({s})"),
        }
    }
}

impl std::error::Error for BodyError {}

#[derive(Default)]
struct Incoming {
    chunks: VecDeque<Vec<u8>>,
    done: bool,
    failed: Option<u16>,
    waker: Option<Waker>,
}

/// The body of a request, chunk by chunk, as it arrives.
pub struct BodyStream {
    inner: Rc<RefCell<Incoming>>,
}

impl fmt::Debug for BodyStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = self.inner.borrow();
        f.debug_struct("BodyStream").field("queued", &i.chunks.len()).field("done", &i.done).finish()
    }
}

impl BodyStream {
    /// A stream of a body that is already whole (one chunk, then the end).
    pub(crate) fn whole(body: Vec<u8>) -> BodyStream {
        let mut incoming = Incoming { done: true, ..Incoming::default() };
        if !body.is_empty() {
            incoming.chunks.push_back(body);
        }
        BodyStream { inner: Rc::new(RefCell::new(incoming)) }
    }

    /// A stream and the feed the connection fills it through.
    pub(crate) fn open() -> (BodyStream, BodyFeed) {
        let inner = Rc::new(RefCell::new(Incoming::default()));
        (BodyStream { inner: inner.clone() }, BodyFeed { inner })
    }

    /// The next chunk of the body; `None` at its end.
    ///
    /// # Errors
    ///
    /// The body was refused (bad chunked framing: 400; over the size
    /// limit: 413) or the client closed the connection first (499).
    pub async fn chunk(&mut self) -> Option<Result<Vec<u8>, BodyError>> {
        poll_fn(|cx| {
            let mut i = self.inner.borrow_mut();
            if let Some(c) = i.chunks.pop_front() {
                return Poll::Ready(Some(Ok(c)));
            }
            if let Some(status) = i.failed {
                return Poll::Ready(Some(Err(BodyError { status })));
            }
            if i.done {
                return Poll::Ready(None);
            }
            i.waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// The whole body, once it has all arrived.
    ///
    /// # Errors
    ///
    /// As [`BodyStream::chunk`].
    pub async fn to_vec(mut self) -> Result<Vec<u8>, BodyError> {
        let mut all = Vec::new();
        while let Some(c) = self.chunk().await {
            all.extend_from_slice(&c?);
        }
        Ok(all)
    }
}

/// The connection's end of a [`BodyStream`]. Dropped before `finish` (the
/// connection closed, or stopped reading): the stream ends with 499.
pub(crate) struct BodyFeed {
    inner: Rc<RefCell<Incoming>>,
}

impl BodyFeed {
    fn wake(i: &mut Incoming) {
        if let Some(w) = i.waker.take() {
            w.wake();
        }
    }

    /// More body bytes.
    pub(crate) fn push(&self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let mut i = self.inner.borrow_mut();
        i.chunks.push_back(bytes.to_vec());
        Self::wake(&mut i);
    }

    /// The body ended.
    pub(crate) fn finish(self) {
        let mut i = self.inner.borrow_mut();
        i.done = true;
        Self::wake(&mut i);
    }

    /// The body was refused with `status`.
    pub(crate) fn fail(&self, status: u16) {
        let mut i = self.inner.borrow_mut();
        if !i.done && i.failed.is_none() {
            i.failed = Some(status);
        }
        Self::wake(&mut i);
    }
}

impl Drop for BodyFeed {
    fn drop(&mut self) {
        // Gone before the end: the client left (or the connection stopped
        // reading). `finish` set `done`, so this is a no-op after it.
        self.fail(499);
    }
}

thread_local! {
    /// The stream of the request being dispatched at its head, handed from
    /// the connection to the handler that takes it (this shard's thread).
    static PENDING: RefCell<Option<BodyStream>> = const { RefCell::new(None) };
}

/// Offers `stream` to the handler about to be dispatched.
pub(crate) fn offer(stream: BodyStream) {
    PENDING.with(|p| *p.borrow_mut() = Some(stream));
}

/// True if the dispatched handler took the offered stream (and clears it).
pub(crate) fn taken() -> bool {
    PENDING.with(|p| p.borrow_mut().take().is_none())
}

/// The stream offered for this request, or one of its whole body.
pub(crate) fn take_or_whole(req: &OwnedRequest) -> BodyStream {
    PENDING.with(|p| p.borrow_mut().take()).unwrap_or_else(|| BodyStream::whole(req.body().to_vec()))
}

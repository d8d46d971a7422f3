//! Handlers, and the ways to answer a request.
//!
//! | mode | where the handler runs | use it for | what it costs |
//! |---|---|---|---|
//! | inline (`App::get`, ...) | on the shard, in the event loop | anything quick and non-blocking: routing, small JSON, cached data. It must never block: every connection of the core waits while it runs. | nothing: the baseline |
//! | [`workers`] | on the worker pool | CPU-bound work (hashing, compression, rendering) or a blocking library call. A full pool answers 503 at once. | a copy of the request, two thread hops |
//! | [`deferred`] | starts on the shard, answers later from any thread via a [`Responder`] | callbacks from elsewhere: a queue, a long poll, another thread's event. | an answer through the shard's inbox |
//! | [`async_handler`] | a future polled on the shard (see [`crate::task`]) | `.await` on weir's own I/O: a timer ([`task::sleep`](crate::task::sleep)), an upstream HTTP request ([`task::client`](crate::task::client)), a worker job ([`task::spawn_blocking`](crate::task::spawn_blocking)), pub/sub with backpressure ([`task::publish`](crate::task::publish)). Like inline code, it must not block between two `.await`s. | a copy of the request and a boxed future; a future that is ready at once is answered on the spot (no task); one that waits takes a task slot (bounded per shard: 503 past it) and an answer on the shard's own thread, no thread hop |
//! | `tokio_handler` (feature `tokio`) | a future on a tokio runtime's worker threads, awaited by a shard task | the crate ecosystem: `sqlx`, `reqwest`, anything that needs a tokio reactor. | all of `async_handler`'s, plus a `Send` future, a tokio spawn and two thread hops with their wake-ups |
//!
//! Which async to use: on the shard when the handler waits on what weir
//! itself offers (it is the cheapest, and the future need not be `Send`);
//! tokio when a library needs tokio. Both share the limits: the per-shard
//! task bound, the handler timeout, `500` for a panic, and cancellation (a
//! client that leaves drops its handler's future).
//!
//! Pipelined requests are still answered strictly in order: a later inline
//! answer waits behind an earlier worker, deferred or async one. Middleware
//! wraps every mode alike: `before` runs at dispatch (and may answer
//! early), `after` when the answer is there.

use std::future::Future;
use std::sync::Arc;

use crate::msg::{ConnAddr, Msg};
use crate::request::{OwnedRequest, Request};
use crate::response::Response;
use crate::task::LocalBoxFuture;

/// A handler function: a request in, a response out.
pub type HandlerFn = dyn Fn(&Request<'_>) -> Response + Send + Sync + 'static;

/// A deferred handler: a request and a [`Responder`] to answer through later.
pub type DeferredFn = dyn Fn(&Request<'_>, Responder) + Send + Sync + 'static;

/// An async handler: an owned request in, a future of the response out
/// (the future runs on the shard that made it; it need not be `Send`).
pub type AsyncFn = dyn Fn(OwnedRequest) -> LocalBoxFuture + Send + Sync + 'static;

/// A route's handler and where it runs.
#[derive(Clone)]
pub enum Handler {
    /// On the shard.
    Inline(Arc<HandlerFn>),
    /// On the worker pool.
    Workers(Arc<HandlerFn>),
    /// Answered later through a [`Responder`].
    Deferred(Arc<DeferredFn>),
    /// A future polled on the shard (see [`crate::task`]).
    Async(Arc<AsyncFn>),
    /// As `Async`, dispatched when the head arrives, the body awaited as
    /// it comes ([`async_body_handler`]).
    AsyncBody(Arc<AsyncFn>),
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Handler::Inline(_) => "Handler::Inline",
            Handler::Workers(_) => "Handler::Workers",
            Handler::Deferred(_) => "Handler::Deferred",
            Handler::Async(_) => "Handler::Async",
            Handler::AsyncBody(_) => "Handler::AsyncBody",
        })
    }
}

/// An inline handler (runs on the shard; must not block).
pub fn inline<F>(f: F) -> Handler
where
    F: Fn(&Request<'_>) -> Response + Send + Sync + 'static,
{
    Handler::Inline(Arc::new(f))
}

/// A handler that runs on the worker pool (for CPU-bound or blocking work).
pub fn workers<F>(f: F) -> Handler
where
    F: Fn(&Request<'_>) -> Response + Send + Sync + 'static,
{
    Handler::Workers(Arc::new(f))
}

/// A handler that answers later, from any thread, through a [`Responder`].
pub fn deferred<F>(f: F) -> Handler
where
    F: Fn(&Request<'_>, Responder) + Send + Sync + 'static,
{
    Handler::Deferred(Arc::new(f))
}

/// An async handler: `f` gets the request, owned (a future outlives the
/// connection's buffer), and returns a future of the response, which the
/// shard polls on its own thread (see [`crate::task`]).
///
/// ```no_run
/// use std::time::Duration;
/// use weir_server::{async_handler, task, App, Response};
///
/// let app = App::new().route("GET", "/hello/:name", async_handler(|req| async move {
///     task::sleep(Duration::from_millis(10)).await;
///     Response::text(format!("hello, {}", req.param("name").unwrap_or("you")))
/// }));
/// # let _ = app;
/// ```
pub fn async_handler<F, Fut>(f: F) -> Handler
where
    F: Fn(OwnedRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + 'static,
{
    Handler::Async(Arc::new(move |req| Box::pin(f(req))))
}

/// An async handler that reads its request body as it arrives: dispatched
/// as soon as the head is read, it awaits the body chunk by chunk through a
/// [`BodyStream`](crate::task::BodyStream) (see `task::body`). The request
/// it gets has an empty body.
///
/// ```no_run
/// use weir_server::{async_body_handler, App, Response};
///
/// let app = App::new().route("POST", "/upload", async_body_handler(|_req, mut body| async move {
///     let mut n = 0;
///     while let Some(chunk) = body.chunk().await {
///         match chunk {
///             Ok(c) => n += c.len(),
///             Err(e) => return Response::error(e.status),
///         }
///     }
///     Response::text(format!("{n} bytes\n"))
/// }));
/// # let _ = app;
/// ```
pub fn async_body_handler<F, Fut>(f: F) -> Handler
where
    F: Fn(OwnedRequest, crate::task::BodyStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + 'static,
{
    Handler::AsyncBody(Arc::new(move |req| {
        let body = crate::task::body::take_or_whole(&req);
        Box::pin(f(req, body))
    }))
}

/// A handler whose future runs on a tokio runtime (feature `tokio`), for
/// libraries built on tokio. The runtime is [`crate::task::tokio_runtime`];
/// the answer comes back to the shard like a deferred one, and the limits
/// of [`async_handler`] apply (see `task::tokio_bridge`).
///
/// ```no_run
/// use weir_server::{tokio_handler, App, Response};
///
/// let app = App::new().route("GET", "/slow", tokio_handler(|_req| async move {
///     tokio::time::sleep(std::time::Duration::from_millis(10)).await;
///     Response::text("done on tokio")
/// }));
/// # let _ = app;
/// ```
#[cfg(feature = "tokio")]
pub fn tokio_handler<F, Fut>(f: F) -> Handler
where
    F: Fn(OwnedRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    let f = Arc::new(f);
    async_handler(move |req| {
        let runtime = crate::task::tokio_runtime();
        let fut = f(req);
        crate::task::on_tokio(&runtime, fut)
    })
}

/// Answers one deferred request from any thread. Dropping it unanswered
/// sends `500 Internal Server Error`, so a request is never left hanging.
///
/// The answer travels on the shard's control lane, which never refuses (see
/// `crate::msg`): a request's one answer is never lost to backpressure.
#[derive(Debug)]
pub struct Responder {
    to: ConnAddr,
    seq: u32,
    answered: bool,
}

impl Responder {
    pub(crate) fn new(to: ConnAddr, seq: u32) -> Responder {
        Responder { to, seq, answered: false }
    }

    /// Sends the response. Returns `false` if the server has stopped.
    pub fn respond(mut self, response: Response) -> bool {
        self.answered = true;
        self.to.send(Msg::Response(self.seq, response))
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        if !self.answered {
            self.to.send(Msg::Response(self.seq, Response::error(500)));
        }
    }
}

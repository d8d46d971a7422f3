//! Handlers, and the three ways to answer a request.
//!
//! | mode | where the handler runs | use it for |
//! |---|---|---|
//! | inline (`App::get`, ...) | on the shard, in the event loop | anything quick and non-blocking: routing, small JSON, cached data. It must never block: every connection of the core waits while it runs. |
//! | [`workers`] | on the worker pool | CPU-bound work (hashing, compression, rendering) or a blocking library call. A full pool answers 503 at once. |
//! | [`deferred`] | starts on the shard, answers later from any thread via a [`Responder`] | waiting on something else: another service, a queue, a timer, a long poll. |
//!
//! Pipelined requests are still answered strictly in order: a later inline
//! answer waits behind an earlier worker or deferred one.

use std::sync::Arc;

use crate::msg::{ConnAddr, Msg};
use crate::request::Request;
use crate::response::Response;

/// A handler function: a request in, a response out.
pub type HandlerFn = dyn Fn(&Request<'_>) -> Response + Send + Sync + 'static;

/// A deferred handler: a request and a [`Responder`] to answer through later.
pub type DeferredFn = dyn Fn(&Request<'_>, Responder) + Send + Sync + 'static;

/// A route's handler and where it runs.
#[derive(Clone)]
pub enum Handler {
    /// On the shard.
    Inline(Arc<HandlerFn>),
    /// On the worker pool.
    Workers(Arc<HandlerFn>),
    /// Answered later through a [`Responder`].
    Deferred(Arc<DeferredFn>),
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Handler::Inline(_) => "Handler::Inline",
            Handler::Workers(_) => "Handler::Workers",
            Handler::Deferred(_) => "Handler::Deferred",
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

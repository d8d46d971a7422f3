//! The `tokio` feature: a handler's future on a tokio runtime.
//!
//! ```text
//!   shard: dispatch ─ spawn(fut) on the runtime ─> shard task awaits the JoinHandle
//!   tokio worker thread: fut runs (reqwest, sqlx, tokio::time ...)
//!   done: the JoinHandle wakes the shard task ─ inbox (Msg::Wake) + eventfd
//!   shard: the task is polled, the answer takes its place in the pipeline
//! ```
//!
//! The future runs on the runtime's worker threads, never on a shard, so it
//! may use anything built on tokio. The shard keeps a small task that awaits
//! the runtime's `JoinHandle`, so a tokio handler has exactly the limits of
//! an on-shard one: the per-shard task bound (503), the handler timeout,
//! `500` for a panic (tokio catches it and reports it in the `JoinError`),
//! and cancellation — dropping the shard task aborts the tokio task, which
//! tokio drops at its next `.await`.
//!
//! The answer crosses back like a deferred handler's (the inbox's control
//! lane and the shard's eventfd). What it costs over an on-shard async
//! handler: the future must be `Send`, one tokio task spawn, two thread
//! hops (to a tokio worker and back) and the wake-ups they need.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use tokio::runtime::{Handle, Runtime};
use tokio::task::JoinHandle;

use crate::response::Response;

/// The runtime [`tokio_handler`](crate::tokio_handler) uses: built on first
/// use with one worker thread per CPU (threads named `weir-tokio`), with
/// its I/O and time drivers, and kept for the life of the process.
///
/// # Panics
///
/// If the runtime cannot be built (the system refuses to start threads).
pub fn tokio_runtime() -> Handle {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .thread_name("weir-tokio")
                .enable_all()
                .build()
                .expect("the tokio runtime for tokio handlers starts")
        })
        .handle()
        .clone()
}

/// Runs `fut` on `runtime` and resolves to its response, from a shard task:
/// the bridge [`tokio_handler`](crate::tokio_handler) is built on. Dropping
/// the returned future aborts the tokio task. A panic in `fut` is a `500`.
pub fn on_tokio<F>(runtime: &Handle, fut: F) -> impl Future<Output = Response>
where
    F: Future<Output = Response> + Send + 'static,
{
    OnTokio { join: runtime.spawn(fut) }
}

/// Awaits a tokio task from a shard; aborts it when dropped first.
struct OnTokio {
    join: JoinHandle<Response>,
}

impl Future for OnTokio {
    type Output = Response;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response> {
        match Pin::new(&mut self.join).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(resp)) => Poll::Ready(resp),
            // Panicked (or cancelled by the runtime shutting down).
            Poll::Ready(Err(_)) => Poll::Ready(Response::error(500)),
        }
    }
}

impl Drop for OnTokio {
    fn drop(&mut self) {
        // A finished task ignores it.
        self.join.abort();
    }
}

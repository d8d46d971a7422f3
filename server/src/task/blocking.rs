//! `spawn_blocking`: a closure on the worker pool, its result awaited.
//!
//! ```text
//!   shard task                      worker thread
//!   spawn_blocking(f) ── job ──>    r = catch_unwind(f)
//!   .await: Pending                 slot = r; slot.waker.wake()
//!                                        └──> inbox (Msg::Wake) + eventfd
//!   polled again: Ready(r)  <────── shard: on_turn
//! ```
//!
//! The job is queued when `spawn_blocking` is called, on the server's
//! bounded pool ([`ServerConfig::worker_queue`](crate::ServerConfig::worker_queue)):
//! a full queue is an error at once ([`BlockingError::Busy`]), never a wait.
//! A running job cannot be stopped: dropping the future (the client left)
//! only discards its result.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use super::with_local;

/// Why a [`spawn_blocking`] job gave no result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockingError {
    /// The worker pool's queue was full (answer 503, or try later).
    Busy,
    /// The closure panicked.
    Panicked,
    /// Called outside a shard's async handler: there is no pool to run on.
    NotOnShard,
}

impl std::fmt::Display for BlockingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BlockingError::Busy => "the worker pool is full",
            BlockingError::Panicked => "the blocking job panicked",
            BlockingError::NotOnShard => "spawn_blocking called outside a shard's async handler",
        })
    }
}

impl std::error::Error for BlockingError {}

/// Where the job leaves its result and finds the task to wake.
struct Slot<T> {
    result: Option<Result<T, BlockingError>>,
    waker: Option<Waker>,
}

/// Runs `f` on the server's worker pool and resolves to its result. For
/// CPU-bound work or a blocking call inside an async handler:
///
/// ```no_run
/// use weir_server::{async_handler, task::spawn_blocking, App, Response};
///
/// let app = App::new().route("POST", "/hash", async_handler(|req| async move {
///     let body = req.body().to_vec();
///     match spawn_blocking(move || body.iter().fold(0u64, |h, &b| h.rotate_left(5) ^ u64::from(b))).await {
///         Ok(h) => Response::text(format!("{h:x}")),
///         Err(_) => Response::error(503),
///     }
/// }));
/// # let _ = app;
/// ```
pub fn spawn_blocking<T, F>(f: F) -> Blocking<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let slot = Arc::new(Mutex::new(Slot { result: None, waker: None }));
    let Some(pool) = with_local(|l| l.pool.clone()).flatten() else {
        return Blocking { slot, early: Some(BlockingError::NotOnShard) };
    };
    let theirs = slot.clone();
    let job = move || {
        let result = catch_unwind(AssertUnwindSafe(f)).map_err(|_| BlockingError::Panicked);
        let waker = {
            let mut s = theirs.lock().unwrap_or_else(PoisonError::into_inner);
            s.result = Some(result);
            s.waker.take()
        };
        // Woken outside the lock: the waker posts to the shard's inbox.
        if let Some(w) = waker {
            w.wake();
        }
    };
    let early = pool.try_execute(job).err().map(|_| BlockingError::Busy);
    Blocking { slot, early }
}

/// The future of [`spawn_blocking`].
#[must_use = "futures do nothing unless awaited (the job runs anyway)"]
pub struct Blocking<T> {
    slot: Arc<Mutex<Slot<T>>>,
    /// An error known before any job ran.
    early: Option<BlockingError>,
}

impl<T> std::fmt::Debug for Blocking<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blocking").field("early", &self.early).finish_non_exhaustive()
    }
}

impl<T> Future for Blocking<T> {
    type Output = Result<T, BlockingError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Some(e) = this.early.take() {
            return Poll::Ready(Err(e));
        }
        let mut s = this.slot.lock().unwrap_or_else(PoisonError::into_inner);
        match s.result.take() {
            Some(r) => Poll::Ready(r),
            None => {
                if !s.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    s.waker = Some(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
}

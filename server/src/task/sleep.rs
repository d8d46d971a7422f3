//! `sleep`: a timer on the shard's clock.
//!
//! A [`Sleep`] registers `(due, waker)` in its shard's timer heap on its
//! first pending poll; `Executor::run` pops the due entries at the start of
//! each loop turn and wakes their tasks, and the shard's `epoll_wait`
//! timeout is bounded by the earliest entry (`turn_timeout_ms`), so a
//! sleeping shard uses no CPU. The clock is the shard's millisecond clock,
//! cached per loop turn ([`weir_reactor::Ctx::now_ms`]).
//!
//! A dropped `Sleep` leaves its entry in the heap (removing from the
//! middle of a binary heap costs more than the entry): it fires once,
//! wakes a task that is gone or no longer waiting on it, and is forgotten.
//! So the heap holds at most one entry per `sleep` started within the
//! longest sleep's duration.

use std::cmp::Ordering;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::{with_local, NOT_ON_SHARD};

/// An entry of the timer heap (a max-heap, so the order is reversed: the
/// earliest `due`, then the earliest registered, on top).
pub(super) struct Timer {
    pub(super) due: u64,
    seq: u64,
    pub(super) waker: Waker,
}

impl PartialEq for Timer {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}

impl Eq for Timer {}

impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Timer {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.due, other.seq).cmp(&(self.due, self.seq))
    }
}

/// Waits for `duration` on the shard's timer, then completes. Await it in
/// an [`async_handler`](crate::async_handler):
///
/// ```no_run
/// use std::time::Duration;
/// use weir_server::{async_handler, task::sleep, App, Response};
///
/// let app = App::new().route("GET", "/later", async_handler(|_req| async move {
///     sleep(Duration::from_millis(100)).await;
///     Response::text("a tenth of a second later")
/// }));
/// # let _ = app;
/// ```
///
/// Resolution is the shard's millisecond clock: a `Sleep` is never early,
/// and late by at most a millisecond plus whatever the loop turn it wakes
/// in takes. The time starts at the first poll (futures are lazy).
///
/// # Panics
///
/// When polled outside a shard's async handler (on a worker or tokio
/// thread): there is no shard clock there. Use the runtime's own timer.
pub fn sleep(duration: Duration) -> Sleep {
    // Whole milliseconds, rounded up: never shorter than asked.
    let ms = u64::try_from(duration.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX);
    Sleep { ms, due: None, armed: None }
}

/// The future of [`sleep`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    ms: u64,
    /// The shard time it completes at, fixed by the first poll.
    due: Option<u64>,
    /// The waker registered with the timer heap (registered again only if
    /// the task polls with another one).
    armed: Option<Waker>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let ready = with_local(|l| {
            // +1: the clock is the loop turn's start, truncated to a whole
            // millisecond; without it a sleep could end up to 1 ms early.
            let due = *this
                .due
                .get_or_insert(l.now_ms.saturating_add(this.ms).saturating_add(u64::from(this.ms > 0)));
            if l.now_ms >= due {
                return true;
            }
            if !this.armed.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                l.timer_seq += 1;
                l.timers.push(Timer { due, seq: l.timer_seq, waker: cx.waker().clone() });
                this.armed = Some(cx.waker().clone());
            }
            false
        });
        match ready {
            Some(true) => Poll::Ready(()),
            Some(false) => Poll::Pending,
            None => panic!("{NOT_ON_SHARD}"),
        }
    }
}

/// Gives the shard a turn: the task wakes itself and is polled again at
/// the end of this loop turn, after the events that were ready. For a long
/// computation split into steps, so that other connections are served
/// between them. Works on any executor (it only uses its waker).
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future of [`yield_now`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.yielded {
            return Poll::Ready(());
        }
        this.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

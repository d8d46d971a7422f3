//! Async handlers: a small executor per shard, and what its futures can
//! await.
//!
//! # What
//!
//! An [`async_handler`](crate::async_handler) returns a `Future` instead of
//! a response. The shard that read the request polls that future on its own
//! thread, in its own event loop, next to its connections: no runtime, no
//! thread hop, no `Send` bound. While the future waits (a timer, an upstream
//! answer, a worker job), the shard serves everything else; when it is
//! woken, the shard polls it again at the end of that loop turn; when it
//! returns a [`Response`], the answer takes its place in the connection's
//! pipeline like a deferred one.
//!
//! ```text
//!   dispatch ── poll once ──> Ready(resp) ───────────────> answered like inline
//!                  │
//!                  └─ Pending: the task is parked in the shard's slab
//!                          ▲                 │
//!          Waker::wake ────┘                 │  on_turn (every loop turn):
//!    on the shard: push to the ready list    │    fire due timers, open upstream
//!    elsewhere: the inbox (Msg::Wake) +      │    connections, poll ready tasks;
//!               the shard's eventfd          └──> Ready(resp) -> resolve(seq)
//! ```
//!
//! # Why this way
//!
//! * **Polling on the shard** makes the common case cost a box and a poll:
//!   a future that is ready at once (no `.await` actually waits) is answered
//!   on the spot, exactly like an inline handler, without a task slot.
//! * **Wakers never spin and never block.** A wake on the shard's own
//!   thread (a timer, an upstream response, another task) pushes the task's
//!   id onto a thread-local ready list; the shard sees the list when it
//!   computes its `epoll_wait` timeout (0 while work is ready, see
//!   [`weir_reactor::Protocol::turn_timeout_ms`]) and polls it in
//!   [`weir_reactor::Protocol::on_turn`]. A wake from any other thread (a
//!   worker job, tokio) posts the id on the shard's inbox, whose eventfd
//!   wakes the loop. A task's `scheduled` flag makes a thousand wakes one
//!   entry. Wakers are `Arc`s implementing [`std::task::Wake`]: no raw
//!   vtable, no `unsafe`.
//! * **Futures need not be `Send`**: they run where they started, so they
//!   may hold `Rc`s and shard-local state.
//! * **A task's id carries a generation** (like the reactor's tokens), so a
//!   late wake for a finished or cancelled task, whose slot was reused,
//!   finds nothing and is dropped.
//!
//! # Limits
//!
//! * At most [`ServerConfig::max_tasks_per_shard`](crate::ServerConfig::max_tasks_per_shard)
//!   parked tasks per shard; past it a new async request is answered `503`
//!   with `Retry-After`, at once, without running the handler.
//! * The handler timeout ([`ServerConfig::handler_timeout`](crate::ServerConfig::handler_timeout))
//!   applies as to every handler: `503` and close, and the future is dropped.
//! * A future that panics answers `500` for its own request; the shard and
//!   the connection go on.
//! * **Cancellation is dropping.** A client that goes away (its connection
//!   closes, or its end of input arrives while an async answer is still
//!   pending: a half-closed HTTP client is taken for one that left, as
//!   nginx does for proxied requests) drops its handler's future at the end
//!   of that loop turn: its `Drop`s run, its timers and upstream
//!   connections are abandoned. Code after an `.await` never runs for a
//!   request nobody waits for.
//!
//! # What a future can await
//!
//! | await | module | how it wakes |
//! |---|---|---|
//! | [`sleep`] | `sleep` | the executor's timer heap, fired in `on_turn` (millisecond resolution, never early) |
//! | [`yield_now`] | `sleep` | at once: the task is polled again at the end of the loop turn |
//! | [`spawn_blocking`] | `blocking` | a worker-pool job; its result wakes the task through the inbox |
//! | [`client::Fetch`] (an HTTP/1.1 request to an upstream) | `client` | an outbound connection on this shard (`ShardCtx::connect`), parsed with weir-http's strict rules |
//! | [`publish`] (pub/sub with backpressure) | `publish` | retried on the timer heap while a shard's inbox is full |
//! | [`BodyStream::chunk`] (the request body as it arrives) | `body` | the connection's reads: each decoded piece wakes the task |
//! | any other future that only needs a `Waker` | | its own |
//!
//! An [`async_handler`](crate::async_handler) gets its body whole in the
//! [`OwnedRequest`](crate::OwnedRequest) (read up to `Limits::max_body`
//! before dispatch); an [`async_body_handler`](crate::async_body_handler)
//! is dispatched at the head and awaits the body through a [`BodyStream`].
//!
//! Futures that need tokio (database drivers, `reqwest`) cannot run here:
//! the `tokio` feature's `tokio_handler` runs them
//! on a tokio runtime instead (see [`crate::handler`] for which to use when).

use std::cell::RefCell;
use std::collections::BinaryHeap;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use weir_reactor::{ShardHandle, Token, WorkerPool};

use crate::msg::Msg;
use crate::response::Response;
use crate::ws::PubSub;

mod blocking;
pub(crate) mod body;
pub mod client;
mod publish;
mod sleep;
#[cfg(feature = "tokio")]
mod tokio_bridge;

pub use blocking::{spawn_blocking, Blocking, BlockingError};
pub use body::{BodyError, BodyStream};
pub use publish::{publish, PublishError};
pub use sleep::{sleep, yield_now, Sleep, YieldNow};
#[cfg(feature = "tokio")]
pub use tokio_bridge::{on_tokio, tokio_runtime};

/// A handler's future, boxed: it runs on the shard that made it, so it
/// need not be `Send`.
pub type LocalBoxFuture = Pin<Box<dyn Future<Output = Response> + 'static>>;

/// Tasks polled per loop turn at most, so a task that keeps waking itself
/// cannot hold the loop: what is left waits for the next turn (which does
/// not sleep, `turn_timeout_ms` being 0).
const POLLS_PER_TURN: usize = 4096;

/// A task: its slot's index (low 32 bits) and the slot's generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TaskId(u64);

impl TaskId {
    fn new(index: u32, gen: u32) -> TaskId {
        TaskId(u64::from(gen) << 32 | u64::from(index))
    }

    fn index(self) -> usize {
        (self.0 & 0xffff_ffff) as usize
    }

    fn gen(self) -> u32 {
        (self.0 >> 32) as u32
    }
}

/// Which request a task answers: its connection and its pipeline place.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Owner {
    pub(crate) token: Token,
    pub(crate) seq: u32,
}

// ------------------------------------------------------------------ wakers

/// What every waker of one executor shares: which executor, and the way to
/// its shard from other threads.
#[derive(Debug)]
struct Remote {
    exec: u64,
    shard: ShardHandle<Msg>,
}

/// A task's waker (an `Arc`, turned into a [`Waker`] by [`std::task::Wake`]).
#[derive(Debug)]
struct TaskWaker {
    id: TaskId,
    /// Already on a ready list (or in the inbox): further wakes are free.
    /// Cleared by the executor just before it polls the task.
    scheduled: AtomicBool,
    remote: Arc<Remote>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        // On the shard's own thread: the ready list, no syscall. The list
        // is borrowed only for a push or a swap, never while user code runs,
        // but a failed borrow still takes the inbox rather than panicking.
        let exec = self.remote.exec;
        let local = LOCAL
            .try_with(|l| match l.try_borrow_mut() {
                Ok(mut l) if l.exec == exec => {
                    l.ready.push(self.id);
                    true
                }
                _ => false,
            })
            .unwrap_or(false);
        if !local {
            // Another thread: the inbox's control lane (never refused; at
            // most one entry per task thanks to `scheduled`) and its eventfd.
            self.remote.shard.send_to_shard(Msg::Wake(self.id.0));
        }
    }
}

// ------------------------------------------------- the shard's local state

/// What a shard's futures reach without a handle: the state of the shard
/// whose executor runs on this thread (one shard, one thread).
#[derive(Default)]
struct Local {
    /// The executor on this thread (0: none, e.g. a worker or tokio thread).
    exec: u64,
    /// Tasks woken on this thread, to poll in `on_turn`.
    ready: Vec<TaskId>,
    /// The shard's clock for this loop turn (`ShardCtx::now_ms`).
    now_ms: u64,
    timers: BinaryHeap<sleep::Timer>,
    timer_seq: u64,
    /// Tasks to drop (their request was answered otherwise, or its
    /// connection went away): see [`TaskGuard`].
    cancelled: Vec<TaskId>,
    /// Outbound connections futures asked for, opened in `on_turn`.
    connects: Vec<client::Connect>,
    /// Outbound connections whose future was dropped: aborted in `on_turn`.
    aborts: Vec<Token>,
    pool: Option<WorkerPool>,
    pubsub: Option<Arc<PubSub>>,
}

thread_local! {
    static LOCAL: RefCell<Local> = RefCell::new(Local::default());
}

/// Runs `f` on this thread's shard state, if a shard's executor runs here.
/// Never called while user code runs (see [`TaskWaker::wake_by_ref`]).
fn with_local<R>(f: impl FnOnce(&mut Local) -> R) -> Option<R> {
    LOCAL
        .try_with(|l| {
            let mut l = l.try_borrow_mut().ok()?;
            (l.exec != 0).then(|| f(&mut l))
        })
        .ok()
        .flatten()
}

/// The message for the panic of a shard-only future polled elsewhere.
const NOT_ON_SHARD: &str =
    "a weir_server::task future (sleep, client, publish) was polled outside a shard's async handler";

// ---------------------------------------------------------------- the guard

/// Ties a parked task to the request it answers: dropping the guard (the
/// request was answered by the timeout, its connection closed, an answer
/// ahead of it closed the connection) cancels the task at the end of the
/// loop turn. A task that answered disarms it first.
#[derive(Debug)]
pub(crate) struct TaskGuard(Option<TaskId>);

impl TaskGuard {
    /// The task answered: nothing to cancel.
    pub(crate) fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if let Some(id) = self.0.take() {
            with_local(|l| l.cancelled.push(id));
        }
    }
}

// ---------------------------------------------------------------- executor

/// A parked task.
struct Task {
    fut: LocalBoxFuture,
    waker: Arc<TaskWaker>,
    /// `waker` as a [`Waker`], made once.
    as_waker: Waker,
    owner: Owner,
}

struct Slot {
    gen: u32,
    task: Option<Task>,
}

/// A future that did not finish at its first poll, with the waker it saw.
pub(crate) struct Parked {
    id: TaskId,
    fut: LocalBoxFuture,
    waker: Arc<TaskWaker>,
    as_waker: Waker,
}

/// One shard's executor: a generational slab of parked tasks. The ready
/// list, timers and queued connects live in the thread-local [`Local`],
/// where wakers and futures reach them.
pub(crate) struct Executor {
    remote: Arc<Remote>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    len: usize,
    max: usize,
    /// A waker no future kept (its task finished at the first poll), for
    /// the next task: the ready-at-once path allocates no waker.
    spare: Option<Arc<TaskWaker>>,
    /// Tasks finished this turn, to answer.
    done: Vec<(Owner, Response)>,
    /// The last turn left work for the next (connections to open or
    /// abort, tasks to drop) with no task parked. While a task is parked
    /// the thread-local lists are looked at directly; with none, they can
    /// only be filled by what a turn's own drops did, which `run` records
    /// here, so an idle shard never reads the thread-local.
    leftovers: bool,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor").field("tasks", &self.len).field("max", &self.max).finish()
    }
}

/// Tells executors apart (a process may run several servers, and a waker
/// must never push onto another executor's list).
static NEXT_EXEC: AtomicU64 = AtomicU64::new(1);

impl Executor {
    /// An executor for the shard whose thread this is; installs the
    /// thread-local state its futures reach.
    pub(crate) fn new(
        shard: ShardHandle<Msg>,
        pool: WorkerPool,
        pubsub: Arc<PubSub>,
        max: usize,
    ) -> Executor {
        let exec = NEXT_EXEC.fetch_add(1, Ordering::Relaxed);
        LOCAL.with(|l| {
            *l.borrow_mut() = Local { exec, pool: Some(pool), pubsub: Some(pubsub), ..Local::default() };
        });
        Executor {
            remote: Arc::new(Remote { exec, shard }),
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
            max,
            spare: None,
            done: Vec::new(),
            leftovers: false,
        }
    }

    /// Room for one more parked task (the bound of tasks in flight).
    pub(crate) fn has_room(&self) -> bool {
        self.len < self.max
    }

    /// The id the next parked task will get.
    fn vacant(&self) -> TaskId {
        match self.free.last() {
            Some(&i) => TaskId::new(i, self.slots[i as usize].gen),
            None => TaskId::new(self.slots.len() as u32, 0),
        }
    }

    /// Polls a new future once, at dispatch (`now_ms`: the shard's clock).
    /// Ready: its response (the task never existed). Pending: the parked
    /// future, to [`Executor::park`] once its pipeline place is known.
    pub(crate) fn first_poll(&mut self, mut fut: LocalBoxFuture, now_ms: u64) -> Result<Response, Parked> {
        let id = self.vacant();
        let waker = match self.spare.take() {
            Some(mut w) => {
                if let Some(inner) = Arc::get_mut(&mut w) {
                    inner.id = id;
                    inner.scheduled = AtomicBool::new(false);
                }
                w
            }
            None => {
                Arc::new(TaskWaker { id, scheduled: AtomicBool::new(false), remote: self.remote.clone() })
            }
        };
        let as_waker = Waker::from(waker.clone());
        with_local(|l| l.now_ms = now_ms);
        match poll_caught(&mut fut, &as_waker) {
            Poll::Ready(resp) => {
                drop(as_waker);
                if Arc::strong_count(&waker) == 1 {
                    self.spare = Some(waker);
                }
                // It may have started (and dropped) an upstream request.
                self.leftovers |= clean_up_left();
                Ok(resp)
            }
            Poll::Pending => Err(Parked { id, fut, waker, as_waker }),
        }
    }

    /// Parks a future that is waiting, as the answer to `owner`. Returns
    /// the guard that cancels it when the request no longer wants it.
    pub(crate) fn park(&mut self, parked: Parked, owner: Owner) -> TaskGuard {
        let Parked { id, fut, waker, as_waker } = parked;
        debug_assert_eq!(id, self.vacant(), "nothing was parked between first_poll and park");
        let task = Task { fut, waker, as_waker, owner };
        match self.free.pop() {
            Some(i) => self.slots[i as usize].task = Some(task),
            None => self.slots.push(Slot { gen: 0, task: Some(task) }),
        }
        self.len += 1;
        TaskGuard(Some(id))
    }

    fn remove(&mut self, id: TaskId) -> Option<Task> {
        let slot = self.slots.get_mut(id.index())?;
        if slot.gen != id.gen() {
            return None; // finished or cancelled; the slot may hold another task now
        }
        let task = slot.task.take()?;
        slot.gen = slot.gen.wrapping_add(1);
        self.free.push(id.index() as u32);
        self.len -= 1;
        Some(task)
    }

    /// A wake that came through the inbox (from another thread).
    pub(crate) fn wake_from_inbox(&mut self, id: u64) {
        with_local(|l| l.ready.push(TaskId(id)));
    }

    /// How long the shard may sleep as far as tasks are concerned (see
    /// `Protocol::turn_timeout_ms`).
    pub(crate) fn timeout_ms(&self, now_ms: u64) -> Option<u64> {
        if self.len == 0 {
            // Nothing parked (the common case of a server without async
            // handlers, checked without touching the thread-local): at most
            // clean-up left by the last turn, and timers of dropped sleeps.
            return self.leftovers.then_some(0);
        }
        with_local(|l| {
            if !l.ready.is_empty()
                || !l.cancelled.is_empty()
                || !l.connects.is_empty()
                || !l.aborts.is_empty()
            {
                return Some(0);
            }
            l.timers.peek().map(|t| t.due.saturating_sub(now_ms))
        })
        .flatten()
    }

    /// True when a turn has nothing to do (the fast exit of `on_turn`).
    pub(crate) fn is_idle(&self) -> bool {
        self.len == 0 && !self.leftovers
    }

    /// The outbound connections futures asked for, and those to abort.
    pub(crate) fn take_connects(&mut self) -> (Vec<client::Connect>, Vec<Token>) {
        with_local(|l| (std::mem::take(&mut l.connects), std::mem::take(&mut l.aborts))).unwrap_or_default()
    }

    /// One loop turn: drops cancelled tasks, fires due timers, polls the
    /// ready tasks. Returns the tasks that finished, with their answers
    /// (the buffer is lent: give it back with [`Executor::give_done`]).
    pub(crate) fn run(&mut self, now_ms: u64) -> Vec<(Owner, Response)> {
        let (cancelled, due) = with_local(|l| {
            l.now_ms = now_ms;
            let mut due = Vec::new();
            while l.timers.peek().is_some_and(|t| t.due <= now_ms) {
                due.push(l.timers.pop().expect("peeked").waker);
            }
            (std::mem::take(&mut l.cancelled), due)
        })
        .unwrap_or_default();
        for id in cancelled {
            // Dropped here, outside any borrow: its `Drop`s may wake others.
            drop(self.remove(id));
        }
        for waker in due {
            waker.wake();
        }
        let mut done = std::mem::take(&mut self.done);
        let mut polls = 0;
        while polls < POLLS_PER_TURN {
            let ready = with_local(|l| std::mem::take(&mut l.ready)).unwrap_or_default();
            if ready.is_empty() {
                break;
            }
            let mut rest = ready.into_iter();
            for id in rest.by_ref() {
                polls += 1;
                if let Some(resp) = self.poll_task(id) {
                    done.push(resp);
                }
                if polls == POLLS_PER_TURN {
                    break;
                }
            }
            // Over budget: what was not polled goes back for the next turn.
            let left: Vec<TaskId> = rest.collect();
            if !left.is_empty() {
                with_local(|l| l.ready.extend(left));
            }
        }
        self.leftovers = clean_up_left();
        done
    }

    /// Lends the `done` buffer back (keeps its capacity).
    pub(crate) fn give_done(&mut self, mut done: Vec<(Owner, Response)>) {
        done.clear();
        self.done = done;
    }

    fn poll_task(&mut self, id: TaskId) -> Option<(Owner, Response)> {
        let slot = self.slots.get_mut(id.index())?;
        if slot.gen != id.gen() {
            return None; // a late wake for a task that is gone
        }
        let task = slot.task.as_mut()?;
        task.waker.scheduled.store(false, Ordering::Release);
        match poll_caught(&mut task.fut, &task.as_waker) {
            Poll::Pending => None,
            Poll::Ready(resp) => {
                let task = self.remove(id).expect("the task was just polled");
                Some((task.owner, resp))
            }
        }
    }
}

/// Connections to open or abort, or tasks to drop, are queued.
fn clean_up_left() -> bool {
    with_local(|l| !(l.cancelled.is_empty() && l.aborts.is_empty() && l.connects.is_empty())).unwrap_or(false)
}

/// Polls `fut` once; a panic inside it is its request's `500`.
fn poll_caught(fut: &mut LocalBoxFuture, waker: &Waker) -> Poll<Response> {
    let mut cx = Context::from_waker(waker);
    match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(&mut cx))) {
        Ok(poll) => poll,
        Err(_) => Poll::Ready(Response::error(500)),
    }
}

#[cfg(test)]
mod tests {
    use super::TaskId;

    #[test]
    fn task_ids_keep_index_and_generation_apart() {
        for (i, g) in [(0u32, 0u32), (1, 0), (0, 1), (u32::MAX, u32::MAX), (12345, 678)] {
            let id = TaskId::new(i, g);
            assert_eq!((id.index(), id.gen()), (i as usize, g));
        }
    }
}

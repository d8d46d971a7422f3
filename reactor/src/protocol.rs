//! The embedding API: a [`Protocol`] is what a shard runs for each connection.
//!
//! The reactor owns sockets, buffers, timers and the write queue; a protocol
//! owns meaning. The shard calls the protocol when something happens to a
//! connection and hands it a [`Ctx`] — the connection's handle — to act:
//!
//! ```text
//!   start   -> on_start(shard)           (once, on the shard's thread)
//!   accept  -> on_open(cx)            -> Self::Conn (per-connection state)
//!   connect -> ShardCtx::connect / Ctx::connect (state given by the caller)
//!              -> on_connected(conn, cx) | on_connect_failed(conn, error)
//!   bytes   -> on_data(conn, cx, buf) -> bytes consumed (the rest is kept)
//!   EOF     -> on_eof(conn, cx)          (default: close)
//!   drained -> on_writable(conn, cx)     (queue emptied after it had filled)
//!   timer   -> on_timer(conn, cx)        (the deadline set with cx passed)
//!   message -> on_message(conn, cx, m)   (from another thread or a worker)
//!   peer    -> on_peer_closed(conn, cx)  (the linked connection closed)
//!   gone    -> on_close(conn, reason)
//!   tick    -> on_tick(shard)            (every `ShardConfig::tick`)
//! ```
//!
//! # Transports, tags and links
//!
//! Each listener carries a tag ([`Endpoint`](crate::Endpoint)) that
//! [`Ctx::tag`] reports, so one shard can serve a plaintext port and a TLS
//! port differently; the listener's [`TransportFactory`](crate::TransportFactory)
//! (if any) sits between the socket and the protocol, which still sees
//! plaintext only (see [`crate::transport`]).
//!
//! Two connections of one shard can be **linked** (a client and the
//! upstream opened for it with [`ConnectOptions::linked`], or
//! [`ShardCtx::link`]). While a callback runs for one of them,
//! [`Ctx::peer`] reaches the other's reactor side: write to it, pause or
//! resume its reading (backpressure both ways), close it. When one closes,
//! the other hears [`Protocol::on_peer_closed`] (by default: close too).
//!
//! Callbacks never perform I/O themselves and never block: they push output
//! with [`Ctx::write`] and the shard flushes it when they return. Everything
//! a callback needs to touch is in its arguments, so a protocol is plain
//! single-threaded code: no locks, no `Send` bound on the per-shard state.

use std::any::{Any, TypeId};
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::buf::BufPool;
use crate::config::ShardConfig;
use crate::handle::{Envelope, ShardHandle};
use crate::poller::Poller;
use crate::stats::ShardStats;
use crate::sys::io_ops::{self, IoVecs};
use crate::sys::socket;
use crate::timer::TimerWheel;
use crate::token::{Slab, Token};
use crate::transport::Layer;
use crate::worker::{PoolFull, WorkerPool};
use crate::write_queue::{Chunk, WriteQueue};

/// Why a connection closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The protocol closed it ([`Ctx::close`]) and its output was flushed.
    Local,
    /// The protocol aborted it ([`Ctx::abort`]); queued output was dropped.
    Aborted,
    /// The peer closed it (EOF while lingering, or after `on_eof`).
    Peer,
    /// A socket error (reset, broken pipe, ...).
    Error(io::ErrorKind),
    /// The runtime's grace period ran out during shutdown.
    Shutdown,
}

/// How [`ShardCtx::connect`] and [`Ctx::connect`] open a connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnectOptions {
    /// Give up (with `TimedOut`) if the connection is not established in this time.
    pub timeout: Duration,
    /// What [`Ctx::tag`] reports for the new connection.
    pub tag: u16,
    /// Set `TCP_NODELAY` on it.
    pub nodelay: bool,
    /// Link it to the connection that asked for it ([`Ctx::connect`] only).
    pub link: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions { timeout: Duration::from_secs(10), tag: 0, nodelay: true, link: false }
    }
}

impl ConnectOptions {
    /// The defaults, linked to the asking connection.
    pub fn linked() -> ConnectOptions {
        ConnectOptions { link: true, ..ConnectOptions::default() }
    }

    /// With this connect timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// With this tag.
    pub fn tag(mut self, tag: u16) -> Self {
        self.tag = tag;
        self
    }
}

/// A protocol run by each shard: one value per shard (created on the shard's
/// thread, so it need not be `Send`) and one [`Protocol::Conn`] per connection.
pub trait Protocol: Sized + 'static {
    /// Per-connection state.
    type Conn: 'static;
    /// What other threads (and worker jobs) send to connections or the shard.
    type Message: Send + 'static;

    /// A connection was accepted. Return its state.
    fn on_open(&mut self, cx: &mut Ctx<'_, Self::Message>) -> Self::Conn;

    /// Bytes arrived. `data` holds every byte not yet consumed (the tail kept
    /// from earlier calls, then the new bytes). Return how many bytes from the
    /// start of `data` are consumed; the rest is kept and offered again with
    /// more. `data` is mutable so a protocol may transform it in place (e.g.
    /// unmask WebSocket payloads).
    fn on_data(&mut self, conn: &mut Self::Conn, cx: &mut Ctx<'_, Self::Message>, data: &mut [u8]) -> usize;

    /// An outbound connection ([`ShardCtx::connect`], [`Ctx::connect`]) is
    /// established. Output queued before now goes out when this returns.
    fn on_connected(&mut self, conn: &mut Self::Conn, cx: &mut Ctx<'_, Self::Message>) {
        let _ = (conn, cx);
    }

    /// An outbound connection could not be established (refused,
    /// unreachable, `TimedOut` after [`ConnectOptions::timeout`]). Its state
    /// is handed back; `on_close` is not called. By default: dropped. A
    /// linked connection hears [`Protocol::on_peer_closed`] next.
    fn on_connect_failed(&mut self, conn: Self::Conn, error: io::Error) {
        let _ = (conn, error);
    }

    /// The connection linked to this one closed (or failed to connect); the
    /// link is gone. By default: close this one too, after flushing.
    fn on_peer_closed(&mut self, conn: &mut Self::Conn, cx: &mut Ctx<'_, Self::Message>) {
        let _ = conn;
        cx.close();
    }

    /// The peer shut down its sending half. By default: close (after
    /// flushing what is queued).
    fn on_eof(&mut self, conn: &mut Self::Conn, cx: &mut Ctx<'_, Self::Message>) {
        let _ = conn;
        cx.close();
    }

    /// The write queue emptied after the socket had been full (or after
    /// [`Ctx::notify_when_drained`]): a chance to queue more (streaming) or
    /// to resume reading (backpressure).
    fn on_writable(&mut self, conn: &mut Self::Conn, cx: &mut Ctx<'_, Self::Message>) {
        let _ = (conn, cx);
    }

    /// The connection's deadline ([`Ctx::set_deadline`]) passed. By default: close.
    fn on_timer(&mut self, conn: &mut Self::Conn, cx: &mut Ctx<'_, Self::Message>) {
        let _ = conn;
        cx.close();
    }

    /// A message for this connection arrived (see [`ShardHandle::send`] and [`Ctx::spawn`]).
    fn on_message(&mut self, conn: &mut Self::Conn, cx: &mut Ctx<'_, Self::Message>, msg: Self::Message) {
        let _ = (conn, cx, msg);
    }

    /// A job started with [`Ctx::spawn`] panicked instead of producing a message.
    /// By default: abort the connection.
    fn on_job_panicked(&mut self, conn: &mut Self::Conn, cx: &mut Ctx<'_, Self::Message>) {
        let _ = conn;
        cx.abort();
    }

    /// The connection is gone; its state is handed back for cleanup.
    fn on_close(&mut self, conn: Self::Conn, reason: CloseReason) {
        let _ = (conn, reason);
    }

    /// A message for the shard as a whole ([`ShardHandle::send_to_shard`]).
    fn on_shard_message(&mut self, shard: &mut ShardCtx<'_, Self>, msg: Self::Message) {
        let _ = (shard, msg);
    }

    /// The shard's loop is starting (before any accept): open outbound
    /// connections here, for instance.
    fn on_start(&mut self, shard: &mut ShardCtx<'_, Self>) {
        let _ = shard;
    }

    /// [`ShardConfig::tick`] passed: periodic work for the shard as a whole
    /// (publishing counters, housekeeping).
    fn on_tick(&mut self, shard: &mut ShardCtx<'_, Self>) {
        let _ = shard;
    }

    /// A graceful stop began: the shard no longer accepts. Close idle
    /// connections here and let busy ones finish; the shard exits when all
    /// are gone or the grace period ends.
    fn on_shutdown(&mut self, shard: &mut ShardCtx<'_, Self>) {
        let _ = shard;
    }
}

pub(crate) mod flags {
    pub const READABLE: u16 = 1 << 0;
    pub const WRITABLE: u16 = 1 << 1;
    pub const READ_PAUSED: u16 = 1 << 2;
    pub const EOF: u16 = 1 << 3;
    pub const CLOSING: u16 = 1 << 4;
    pub const ABORT: u16 = 1 << 5;
    pub const DIRTY: u16 = 1 << 6;
    pub const WRITE_BLOCKED: u16 = 1 << 7;
    pub const LINGERING: u16 = 1 << 8;
    pub const WANT_READ: u16 = 1 << 9;
    /// The peer's FIN has been reported (`EPOLLRDHUP`): read on until EOF,
    /// since a short read no longer proves the socket is drained.
    pub const PEER_HUP: u16 = 1 << 10;
    /// An outbound `connect` is in progress: the first writable or error
    /// event decides (`SO_ERROR`).
    pub const CONNECTING: u16 = 1 << 11;
    /// Opened by `connect`, not accepted.
    pub const OUTBOUND: u16 = 1 << 12;
    /// Send FIN once the queue has drained (a half-close).
    pub const SHUT_WR: u16 = 1 << 13;
}

/// The reactor's side of a connection: socket, buffers, deadline, readiness.
#[derive(Debug)]
pub(crate) struct ConnIo {
    pub(crate) stream: TcpStream,
    /// The transport, for a connection that is not plaintext (see
    /// [`crate::transport`]): `None` is the zero-cost plain path.
    pub(crate) layer: Option<Box<Layer>>,
    /// The linked connection ([`Token::NONE`]: none).
    pub(crate) link: Token,
    pub(crate) wq: WriteQueue,
    /// Unconsumed input (only while a partial message is pending).
    pub(crate) rbuf: Option<Vec<u8>>,
    /// When the protocol's deadline passes (ms since shard start; 0 = none).
    pub(crate) deadline_ms: u64,
    /// The wheel tick of this connection's live wheel entry (0 = none).
    pub(crate) armed_tick: u64,
    pub(crate) flags: u16,
    /// The listener's (or the connect's) tag.
    pub(crate) tag: u16,
    pub(crate) lingered: u32,
}

impl ConnIo {
    pub(crate) fn new(stream: TcpStream, tag: u16) -> ConnIo {
        ConnIo {
            stream,
            layer: None,
            link: Token::NONE,
            tag,
            wq: WriteQueue::new(),
            rbuf: None,
            deadline_ms: 0,
            armed_tick: 0,
            flags: 0,
            lingered: 0,
        }
    }

    /// One read of input: `read(2)`, or through the transport.
    #[inline(always)]
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.layer.as_deref_mut() {
            None => io_ops::read(&self.stream, buf),
            Some(l) => l.transport.read(&self.stream, buf),
        }
    }

    /// One read into the spare capacity of `buf` (which grows by what came).
    pub(crate) fn read_into_spare(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        match self.layer.as_deref_mut() {
            None => io_ops::read_into_spare(&self.stream, buf, usize::MAX),
            Some(l) => {
                // No uninitialised memory outside `sys`: zero the room first
                // (a transported connection's read costs far more anyway).
                let len = buf.len();
                buf.resize(buf.capacity(), 0);
                let res = l.transport.read(&self.stream, &mut buf[len..]);
                buf.truncate(len + *res.as_ref().unwrap_or(&0));
                res
            }
        }
    }
}

/// One slab entry: the reactor's part and the protocol's part.
#[derive(Debug)]
pub(crate) struct Slot<C> {
    pub(crate) io: ConnIo,
    pub(crate) state: C,
}

/// Shard-wide state a connection callback may touch.
#[derive(Debug)]
pub(crate) struct Core<M> {
    pub(crate) id: usize,
    /// The shard's start, as an `Instant` and on the raw monotonic clock.
    pub(crate) start: Instant,
    pub(crate) start_ns: u64,
    /// This loop turn's time: raw nanoseconds, and milliseconds since start.
    pub(crate) now_ns: u64,
    pub(crate) now_ms: u64,
    pub(crate) wheel: TimerWheel,
    pub(crate) read_pool: BufPool,
    pub(crate) write_pool: BufPool,
    pub(crate) iov: IoVecs,
    /// The shard's output batch (a buffer from `write_pool`): bytes copied
    /// out by the connection being driven (`Ctx::write_with`,
    /// `Ctx::write_copy`) while its own queue is empty. `Shard::drive` writes
    /// them straight from here with one `write(2)` before it returns, so a
    /// small answer never takes a queue entry; if a chunk must follow them
    /// (`Ctx::write`) or the socket takes nothing, the buffer itself moves
    /// into the connection's queue and the pool supplies a new batch. Holds
    /// bytes of `batch_token` only.
    pub(crate) batch: Vec<u8>,
    pub(crate) batch_token: Token,
    /// Connections with work for the end of this loop iteration.
    pub(crate) dirty: Vec<Token>,
    pub(crate) handle: ShardHandle<M>,
    pub(crate) config: ShardConfig,
    pub(crate) stopping: bool,
    pub(crate) poller: Poller,
    /// Connections asked for by `Ctx::connect`, opened by the shard once
    /// the asking callback returns (it alone can reach the slab).
    pub(crate) connects: Vec<PendingConnect>,
    /// `TypeId` of the protocol's `Conn`, to check `Ctx::connect`'s state.
    pub(crate) conn_type: TypeId,
    /// Where a file piece is read for a transport that cannot `sendfile`.
    pub(crate) piece: Vec<u8>,
    /// Why the connect being closed failed (read by `close_now`).
    pub(crate) connect_error: Option<io::Error>,
}

/// A connection asked for by [`Ctx::connect`]: its socket (connecting) and state.
#[derive(Debug)]
pub(crate) struct PendingConnect {
    pub(crate) stream: TcpStream,
    pub(crate) connected: bool,
    pub(crate) opts: ConnectOptions,
    pub(crate) state: Box<dyn Any>,
    /// The asking connection, to link with.
    pub(crate) from: Token,
}

impl<M> Core<M> {
    pub(crate) fn stats(&self) -> &ShardStats {
        &self.handle.stats
    }
}

/// A connection's handle, passed to every [`Protocol`] callback.
#[derive(Debug)]
pub struct Ctx<'a, M> {
    pub(crate) token: Token,
    pub(crate) io: &'a mut ConnIo,
    pub(crate) core: &'a mut Core<M>,
    /// The shard drives this connection as soon as the callback returns
    /// (the callback runs inside `Shard::drive`, or `drive` follows it), so
    /// its writes and flag changes need no entry in the dirty list.
    pub(crate) driven: bool,
    /// The linked connection's reactor side, if linked.
    pub(crate) peer: Option<(Token, &'a mut ConnIo)>,
}

/// Marks connection `token` for a `drive` at the end of the loop turn.
fn mark_dirty<M>(core: &mut Core<M>, token: Token, io: &mut ConnIo) {
    if io.flags & flags::DIRTY == 0 {
        io.flags |= flags::DIRTY;
        core.dirty.push(token);
    }
}

impl<M: Send + 'static> Ctx<'_, M> {
    fn mark(&mut self) {
        if !self.driven {
            mark_dirty(self.core, self.token, self.io);
        }
    }

    /// The tag of the listener this connection was accepted on, or of the
    /// [`ConnectOptions`] it was opened with.
    pub fn tag(&self) -> u16 {
        self.io.tag
    }

    /// True for a connection this shard opened (not accepted).
    pub fn is_outbound(&self) -> bool {
        self.io.flags & flags::OUTBOUND != 0
    }

    /// This connection's token: give it to other threads (with
    /// [`Ctx::handle`]) to reach this exact connection later.
    pub fn token(&self) -> Token {
        self.token
    }

    /// A handle to this shard, usable from any thread.
    pub fn handle(&self) -> ShardHandle<M> {
        self.core.handle.clone()
    }

    /// The index of the shard running this connection.
    pub fn shard_id(&self) -> usize {
        self.core.id
    }

    /// The time the current batch of events started (cheap, cached per loop turn).
    pub fn now(&self) -> Instant {
        self.core.start + Duration::from_nanos(self.core.now_ns - self.core.start_ns)
    }

    /// The same moment as [`Ctx::now`], in milliseconds since the shard
    /// started: the cheapest clock to compare against (no `Instant` math).
    pub fn now_ms(&self) -> u64 {
        self.core.now_ms
    }

    /// Queues `chunk` for writing (flushed when the callback returns).
    pub fn write(&mut self, chunk: impl Into<Chunk>) {
        self.spill_batch();
        self.io.wq.push(chunk.into());
        self.mark();
    }

    /// Queues a copy of `bytes`: for small pieces such as response heads,
    /// cheaper than an allocation.
    pub fn write_copy(&mut self, bytes: &[u8]) {
        if self.batching() {
            self.core.batch.extend_from_slice(bytes);
            return;
        }
        self.io.wq.push_copy(bytes, &mut self.core.write_pool);
        self.mark();
    }

    /// Lets `fill` append bytes directly into an output buffer with at least
    /// `reserve` bytes of room: encode a response head in place instead of
    /// building it elsewhere and copying.
    pub fn write_with(&mut self, reserve: usize, fill: impl FnOnce(&mut Vec<u8>)) {
        // `fill` is called in one place, so it is inlined here (a response
        // head encoder is large; called from two branches it would be a
        // function of its own).
        let batching = self.batching();
        let out = if batching {
            self.core.batch.reserve(reserve);
            &mut self.core.batch
        } else {
            self.io.wq.stage_tail(&mut self.core.write_pool, reserve)
        };
        let before = out.len();
        fill(out);
        let added = out.len() - before;
        if !batching {
            self.io.wq.end_stage(added, &mut self.core.write_pool);
            self.mark();
        }
    }

    /// Copied bytes go to the shard's output batch (see `Core::batch`) when
    /// the shard drives this connection right after the callback and
    /// nothing else is queued ahead of them.
    #[inline]
    fn batching(&mut self) -> bool {
        if !self.driven || !self.io.wq.is_empty() {
            return false;
        }
        debug_assert!(self.core.batch.is_empty() || self.core.batch_token == self.token);
        self.core.batch_token = self.token;
        true
    }

    /// Moves batched bytes into the connection's queue, ahead of a chunk
    /// that must follow them.
    fn spill_batch(&mut self) {
        if self.driven && !self.core.batch.is_empty() {
            debug_assert!(self.core.batch_token == self.token);
            // The batch is a pool buffer: it joins the queue as it is and a
            // fresh one takes its place (no copy).
            let full = std::mem::replace(&mut self.core.batch, self.core.write_pool.take());
            self.io.wq.push(Chunk::Owned(full));
        }
    }

    /// Bytes queued and not yet accepted by the kernel.
    pub fn queued_bytes(&self) -> u64 {
        let batched =
            if self.driven && self.core.batch_token == self.token { self.core.batch.len() } else { 0 };
        self.io.wq.queued_bytes() + batched as u64
    }

    /// Asks for `on_writable` once everything queued has been written,
    /// even if the socket never filled up (by default it fires only after
    /// the kernel pushed back). For backpressure: pause reading while
    /// output piles up, resume when it is gone.
    pub fn notify_when_drained(&mut self) {
        self.io.flags |= flags::WRITE_BLOCKED;
        self.mark();
    }

    /// Closes gracefully: no more input is delivered; queued output is
    /// flushed; then the connection closes (lingering briefly to drain any
    /// unread input, so the peer sees our last bytes rather than a reset).
    pub fn close(&mut self) {
        self.io.flags |= flags::CLOSING;
        self.mark();
    }

    /// Closes at once, dropping queued output.
    pub fn abort(&mut self) {
        self.io.flags |= flags::ABORT;
        self.mark();
    }

    /// Half-closes: once everything queued is written, the sending half is
    /// shut (`FIN`, through the transport); reading goes on. For tunnels,
    /// which pass a peer's end of input along.
    pub fn shutdown_write(&mut self) {
        self.io.flags |= flags::SHUT_WR;
        self.mark();
    }

    /// True once [`Ctx::close`] or [`Ctx::abort`] was called.
    pub fn is_closing(&self) -> bool {
        self.io.flags & (flags::CLOSING | flags::ABORT) != 0
    }

    /// Stops delivering input (backpressure). Readiness is remembered.
    pub fn pause_reading(&mut self) {
        self.io.flags |= flags::READ_PAUSED;
    }

    /// Resumes input: kept bytes are offered again to `on_data` and the
    /// socket is read if it has data.
    pub fn resume_reading(&mut self) {
        if self.io.flags & flags::READ_PAUSED != 0 {
            self.io.flags &= !flags::READ_PAUSED;
            self.io.flags |= flags::WANT_READ;
            self.mark();
        }
    }

    /// True while input is paused.
    pub fn is_reading_paused(&self) -> bool {
        self.io.flags & flags::READ_PAUSED != 0
    }

    /// Sets the connection's single deadline to `after` from now, replacing
    /// any earlier one. `on_timer` runs when it passes.
    pub fn set_deadline(&mut self, after: Duration) {
        self.set_deadline_ms(duration_ms(after));
    }

    /// [`Ctx::set_deadline`] in whole milliseconds (at least 1): for a caller
    /// that converted its timeouts once, not on every request.
    #[inline]
    pub fn set_deadline_ms(&mut self, after_ms: u64) {
        let due = self.core.now_ms.saturating_add(after_ms.max(1));
        if due == self.io.deadline_ms {
            return; // the same deadline again (several requests in one millisecond)
        }
        self.io.deadline_ms = due;
        // Lazy re-arming: only a deadline earlier than the live wheel entry
        // needs a new entry. A later one is handled when that entry fires.
        if self.io.armed_tick == 0 || self.core.wheel.tick_for(due) < self.io.armed_tick {
            self.io.armed_tick = self.core.wheel.schedule(self.token, due);
        }
    }

    /// Removes the deadline (its wheel entry is dropped lazily when it comes up).
    pub fn clear_deadline(&mut self) {
        self.io.deadline_ms = 0;
    }

    /// Runs `job` on `pool`; its result arrives in `Protocol::on_message`
    /// for this connection (or is dropped if it has closed by then).
    ///
    /// # Errors
    ///
    /// [`PoolFull`] at once when the pool's queue is full — answer "busy"
    /// (HTTP 503) rather than wait.
    pub fn spawn<F>(&mut self, pool: &WorkerPool, job: F) -> Result<(), PoolFull>
    where
        F: FnOnce() -> M + Send + 'static,
    {
        let handle = self.core.handle.clone();
        let token = self.token;
        pool.try_execute(move || match std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)) {
            Ok(msg) => {
                handle.send(token, msg);
            }
            Err(_) => {
                handle.post(Envelope::JobPanicked(token));
            }
        })
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// As `getpeername(2)` (e.g. the peer already reset the connection).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.stream.peer_addr()
    }

    /// The local address the connection was accepted on.
    ///
    /// # Errors
    ///
    /// As `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.stream.local_addr()
    }

    /// Sets `TCP_NODELAY` (send small segments at once, no Nagle delay).
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_nodelay(&mut self, on: bool) -> io::Result<()> {
        socket::set_nodelay(&self.io.stream, on)
    }

    /// Sets the kernel's send buffer size (`SO_SNDBUF`).
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_send_buffer(&mut self, bytes: usize) -> io::Result<()> {
        socket::set_send_buffer(&self.io.stream, bytes)
    }

    /// Opens a connection to `addr` from this connection's callback. The
    /// socket is created and `connect(2)` started now; the shard adds the
    /// connection (with `state`, which must be the protocol's `Conn` type)
    /// when this callback returns, and calls `on_connected` or
    /// `on_connect_failed` when the outcome is known. With
    /// [`ConnectOptions::link`] the two connections are linked.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `state` is not the protocol's `Conn`; what
    /// `socket(2)`/`connect(2)` report at once (no descriptors, no route).
    pub fn connect<C: 'static>(
        &mut self,
        addr: SocketAddr,
        opts: ConnectOptions,
        state: C,
    ) -> io::Result<()> {
        if TypeId::of::<C>() != self.core.conn_type {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "connect: state is not the protocol's Conn",
            ));
        }
        let (stream, connected) = socket::connect(addr)?;
        self.core.connects.push(PendingConnect {
            stream,
            connected,
            opts,
            state: Box::new(state),
            from: self.token,
        });
        if !self.driven {
            // The shard opens pending connections when it drives the dirty list.
            self.mark();
        }
        Ok(())
    }

    /// The linked connection's reactor side, while linked.
    pub fn peer(&mut self) -> Option<Peer<'_, M>> {
        let (token, io) = self.peer.as_mut()?;
        Some(Peer { token: *token, io, core: self.core })
    }

    /// Ends the link with the other connection (neither is closed).
    pub fn unlink(&mut self) {
        if let Some((_, peer)) = self.peer.take() {
            peer.link = Token::NONE;
        }
        self.io.link = Token::NONE;
    }
}

/// The other connection of a linked pair, reached from a callback of one
/// (see [`Ctx::peer`]): enough to forward bytes and to apply backpressure.
#[derive(Debug)]
pub struct Peer<'a, M> {
    token: Token,
    io: &'a mut ConnIo,
    core: &'a mut Core<M>,
}

impl<M> Peer<'_, M> {
    /// The peer's token.
    pub fn token(&self) -> Token {
        self.token
    }

    fn mark(&mut self) {
        mark_dirty(self.core, self.token, self.io);
    }

    /// Queues `chunk` on the peer (flushed at the end of this loop turn).
    pub fn write(&mut self, chunk: impl Into<Chunk>) {
        self.io.wq.push(chunk.into());
        self.mark();
    }

    /// Queues a copy of `bytes` on the peer.
    pub fn write_copy(&mut self, bytes: &[u8]) {
        self.io.wq.push_copy(bytes, &mut self.core.write_pool);
        self.mark();
    }

    /// Bytes queued on the peer and not yet accepted by the kernel.
    pub fn queued_bytes(&self) -> u64 {
        self.io.wq.queued_bytes()
    }

    /// Asks for the peer's `on_writable` once its queue has drained.
    pub fn notify_when_drained(&mut self) {
        self.io.flags |= flags::WRITE_BLOCKED;
        self.mark();
    }

    /// Stops delivering the peer's input (backpressure).
    pub fn pause_reading(&mut self) {
        self.io.flags |= flags::READ_PAUSED;
    }

    /// Resumes the peer's input.
    pub fn resume_reading(&mut self) {
        if self.io.flags & flags::READ_PAUSED != 0 {
            self.io.flags &= !flags::READ_PAUSED;
            self.io.flags |= flags::WANT_READ;
            self.mark();
        }
    }

    /// True while the peer's input is paused.
    pub fn is_reading_paused(&self) -> bool {
        self.io.flags & flags::READ_PAUSED != 0
    }

    /// Half-closes the peer once its queue has drained (see [`Ctx::shutdown_write`]).
    pub fn shutdown_write(&mut self) {
        self.io.flags |= flags::SHUT_WR;
        self.mark();
    }

    /// Closes the peer gracefully (its queue is flushed first).
    pub fn close(&mut self) {
        self.io.flags |= flags::CLOSING;
        self.mark();
    }

    /// Closes the peer at once, dropping its queued output.
    pub fn abort(&mut self) {
        self.io.flags |= flags::ABORT;
        self.mark();
    }
}

/// The shard as a whole, for shard-level callbacks: reach any connection.
#[derive(Debug)]
pub struct ShardCtx<'a, P: Protocol> {
    pub(crate) slab: &'a mut Slab<Slot<P::Conn>>,
    pub(crate) core: &'a mut Core<P::Message>,
}

impl<P: Protocol> ShardCtx<'_, P> {
    /// The shard's index.
    pub fn shard_id(&self) -> usize {
        self.core.id
    }

    /// A handle to this shard.
    pub fn handle(&self) -> ShardHandle<P::Message> {
        self.core.handle.clone()
    }

    /// This loop turn's time in milliseconds since the shard started (see [`Ctx::now_ms`]).
    pub fn now_ms(&self) -> u64 {
        self.core.now_ms
    }

    /// Open connections.
    pub fn connections(&self) -> usize {
        self.slab.len()
    }

    /// True once a graceful stop has begun.
    pub fn is_stopping(&self) -> bool {
        self.core.stopping
    }

    /// Tokens of all open connections.
    pub fn tokens(&self) -> Vec<Token> {
        self.slab.tokens()
    }

    /// Runs `f` on the connection `token`, if it is still open.
    pub fn with_conn<R>(
        &mut self,
        token: Token,
        f: impl FnOnce(&mut P::Conn, &mut Ctx<'_, P::Message>) -> R,
    ) -> Option<R> {
        with_slot(self.slab, self.core, token, false, |state, cx| f(state, cx))
    }

    /// Opens a connection to `addr` with per-connection `state`; the
    /// protocol hears `on_connected` or `on_connect_failed`. Returns its
    /// token at once (usable with [`ShardCtx::with_conn`] and
    /// [`ShardCtx::link`]).
    ///
    /// # Errors
    ///
    /// What `socket(2)`/`connect(2)` report at once (no descriptors, no
    /// route), or a full slab.
    pub fn connect(&mut self, addr: SocketAddr, opts: ConnectOptions, state: P::Conn) -> io::Result<Token> {
        let (stream, connected) = socket::connect(addr)?;
        open_outbound(self.slab, self.core, stream, connected, opts, state).map_err(|(e, _)| e)
    }

    /// Links two open connections (each then reaches the other with
    /// [`Ctx::peer`]); any earlier link of either is replaced. Returns
    /// `false` if either is gone or they are the same.
    pub fn link(&mut self, a: Token, b: Token) -> bool {
        let Some((sa, sb)) = self.slab.get2_mut(a, b) else {
            return false;
        };
        let (old_a, old_b) = (sa.io.link, sb.io.link);
        sa.io.link = b;
        sb.io.link = a;
        for old in [old_a, old_b] {
            if let Some(s) = self.slab.get_mut(old) {
                if s.io.link == a || s.io.link == b {
                    s.io.link = Token::NONE;
                }
            }
        }
        true
    }

    /// Runs `f` on every open connection.
    pub fn for_each(&mut self, mut f: impl FnMut(&mut P::Conn, &mut Ctx<'_, P::Message>)) {
        for token in self.slab.tokens() {
            self.with_conn(token, &mut f);
        }
    }
}

/// Whole milliseconds of `d`, saturating (no u128 `as_millis`).
pub fn duration_ms(d: Duration) -> u64 {
    d.as_secs().saturating_mul(1000).saturating_add(u64::from(d.subsec_millis()))
}

/// Runs `f` with a [`Ctx`] for `token` (reaching its linked peer, if any).
pub(crate) fn with_slot<C, M, R>(
    slab: &mut Slab<Slot<C>>,
    core: &mut Core<M>,
    token: Token,
    driven: bool,
    f: impl FnOnce(&mut C, &mut Ctx<'_, M>) -> R,
) -> Option<R> {
    let link = slab.get(token)?.io.link;
    let (slot, peer) = match slab.get2_mut(token, link) {
        Some((slot, peer)) => (slot, Some((link, &mut peer.io))),
        None => (slab.get_mut(token)?, None),
    };
    let mut cx = Ctx { token, io: &mut slot.io, core, driven, peer };
    Some(f(&mut slot.state, &mut cx))
}

/// Adds an outbound connection to the slab and registers it. A socket
/// connected at once is marked writable and driven through `on_connected`
/// by the dirty list; otherwise its first event decides.
pub(crate) fn open_outbound<C, M>(
    slab: &mut Slab<Slot<C>>,
    core: &mut Core<M>,
    stream: TcpStream,
    connected: bool,
    opts: ConnectOptions,
    state: C,
) -> Result<Token, (io::Error, C)> {
    let Some(token) = slab.next_token() else {
        return Err((io::Error::new(io::ErrorKind::OutOfMemory, "connect: no free connection slot"), state));
    };
    if opts.nodelay {
        let _ = socket::set_nodelay(&stream, true);
    }
    if let Err(e) = core.poller.register_conn(&stream, token) {
        return Err((e, state));
    }
    let mut io = ConnIo::new(stream, opts.tag);
    io.flags |= flags::CONNECTING | flags::OUTBOUND | flags::DIRTY;
    if connected {
        io.flags |= flags::WRITABLE;
    }
    let due = core.now_ms.saturating_add(duration_ms(opts.timeout).max(1));
    io.deadline_ms = due;
    io.armed_tick = core.wheel.schedule(token, due);
    let inserted = slab.insert(Slot { io, state });
    debug_assert_eq!(inserted, token);
    core.dirty.push(token);
    ShardStats::add(&core.stats().connected, 1);
    Ok(token)
}

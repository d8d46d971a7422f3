//! The handles a protocol acts through: [`Ctx`] for one connection (and
//! [`Peer`] for the connection linked to it), [`ShardCtx`] for the shard as
//! a whole. Callbacks never perform I/O themselves: they queue output and
//! set flags here, and the shard does the system calls when they return.

use std::any::TypeId;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::conn::{flags, open_outbound, with_slot, ConnIo, Core, PendingConnect, Slot};
use crate::handle::{Envelope, ShardHandle};
use crate::protocol::{duration_ms, ConnectOptions, Protocol};
use crate::sys::socket;
use crate::token::{Slab, Token};
use crate::worker::{PoolFull, WorkerPool};
use crate::write_queue::Chunk;

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

    /// Sets a request flag the shard carries out when it drives the connection.
    fn request(&mut self, flag: u16) {
        self.io.flags |= flag;
        self.mark();
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
        self.request(flags::WRITE_BLOCKED);
    }

    /// Closes gracefully: no more input is delivered; queued output is
    /// flushed; then the connection closes (lingering briefly to drain any
    /// unread input, so the peer sees our last bytes rather than a reset).
    pub fn close(&mut self) {
        self.request(flags::CLOSING);
    }

    /// Closes at once, dropping queued output.
    pub fn abort(&mut self) {
        self.request(flags::ABORT);
    }

    /// Half-closes: once everything queued is written, the sending half is
    /// shut (`FIN`, through the transport); reading goes on. For tunnels,
    /// which pass a peer's end of input along.
    pub fn shutdown_write(&mut self) {
        self.request(flags::SHUT_WR);
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
        if self.io.resume_reading() {
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

    /// The protocol chosen by the transport's handshake (TLS ALPN: e.g.
    /// `b"h2"`), if any; see [`Transport::alpn`](crate::Transport::alpn).
    pub fn alpn(&self) -> Option<&[u8]> {
        self.io.layer.as_ref().and_then(|l| l.transport.alpn())
    }

    /// Sets `TCP_NODELAY` (send small segments at once, no Nagle delay).
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_nodelay(&mut self, on: bool) -> io::Result<()> {
        socket::set_nodelay(&self.io.stream, on)
    }

    /// Puts a transport under this connection from now on (TLS on an
    /// outbound connection, in `on_connected`; or a STARTTLS-style switch
    /// once the plaintext part is over). `make` gets the socket; a client
    /// transport's first flight (a ClientHello) goes out on the next flush.
    ///
    /// # Errors
    ///
    /// `make`'s error; or `InvalidInput` if the connection already has a
    /// transport, or still has output queued or input kept (bytes that
    /// belong to the old framing).
    pub fn start_transport(
        &mut self,
        make: impl FnOnce(&std::net::TcpStream) -> io::Result<Box<dyn crate::Transport>>,
    ) -> io::Result<()> {
        if self.io.layer.is_some() || !self.io.wq.is_empty() || self.io.rbuf.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "start_transport: the connection has a transport, or bytes in flight",
            ));
        }
        let transport = make(&self.io.stream)?;
        self.io.layer = Some(Box::new(crate::transport::Layer { transport }));
        self.io.flags |= flags::TRANSPORT;
        mark_dirty(self.core, self.token, self.io);
        Ok(())
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
        // The shard opens pending connections when it next walks the dirty
        // list: make sure it does, even from a callback `drive` runs (whose
        // own entry is then skipped as clean).
        mark_dirty(self.core, self.token, self.io);
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

    /// Sets a request flag the shard carries out when it drives the peer.
    fn request(&mut self, flag: u16) {
        self.io.flags |= flag;
        self.mark();
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
        self.request(flags::WRITE_BLOCKED);
    }

    /// Stops delivering the peer's input (backpressure).
    pub fn pause_reading(&mut self) {
        self.io.flags |= flags::READ_PAUSED;
    }

    /// Resumes the peer's input.
    pub fn resume_reading(&mut self) {
        if self.io.resume_reading() {
            self.mark();
        }
    }

    /// True while the peer's input is paused.
    pub fn is_reading_paused(&self) -> bool {
        self.io.flags & flags::READ_PAUSED != 0
    }

    /// Half-closes the peer once its queue has drained (see [`Ctx::shutdown_write`]).
    pub fn shutdown_write(&mut self) {
        self.request(flags::SHUT_WR);
    }

    /// Closes the peer gracefully (its queue is flushed first).
    pub fn close(&mut self) {
        self.request(flags::CLOSING);
    }

    /// Closes the peer at once, dropping its queued output.
    pub fn abort(&mut self) {
        self.request(flags::ABORT);
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

    /// The time this loop turn started, as an `Instant` (see [`Ctx::now`]).
    pub fn now(&self) -> Instant {
        self.core.start + Duration::from_nanos(self.core.now_ns - self.core.start_ns)
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

//! The shard: one thread, one epoll instance, its own listeners and
//! connections — the event loop itself.
//!
//! ```text
//!   loop {
//!       epoll_wait(timeout = next timer | 0 if work is queued)
//!       for each event:
//!           waker     -> drain the inbox (messages, worker results, stop)
//!           listener  -> accept4 until EAGAIN, register each socket once
//!           conn      -> note readiness, then drive(conn):
//!                          flush the write queue (writev / sendfile)
//!                          read -> Protocol::on_data -> flush -> read ...
//!                          until the socket is drained (EAGAIN or a short read)
//!       expire timers (lazily re-armed deadlines)
//!       Protocol::on_turn (the protocol's own queued work, e.g. ready tasks)
//!       drive the connections touched by other callbacks (the dirty list)
//!   }
//! ```
//!
//! # Draining readiness (edge-triggered epoll)
//!
//! Each socket is registered once with `EPOLLIN | EPOLLOUT | EPOLLRDHUP |
//! EPOLLET`. The kernel reports a socket when it *becomes* readable or
//! writable, not while it *is*. So the shard keeps two flags per connection,
//! `READABLE` and `WRITABLE`, set by events and cleared only by the kernel's
//! own word: `EAGAIN`, or a short read/write (a stream socket that returned
//! fewer bytes than asked has been emptied, and any later arrival raises a
//! new edge). Forgetting to drain loses the connection forever; draining
//! past a short read costs a wasted syscall. Readiness is remembered while
//! a protocol pauses reading, so resuming needs no `epoll_ctl`.
//!
//! # Spurious and stale events
//!
//! An event may name a connection that closed earlier in the same batch, and
//! whose slot (and even descriptor number) was already reused. The event's
//! token carries the slot's generation, so the lookup fails and the event is
//! dropped (see [`crate::token`]). Spurious readiness (a flag set, then
//! `EAGAIN`) is harmless by construction.

use std::fs::File;
use std::io;
use std::mem;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Receiver;

use crate::buf::BufPool;
use crate::config::ShardConfig;
use crate::conn::{flags, with_slot, ConnIo, Core, Slot};
use crate::ctx::{Ctx, ShardCtx};
use crate::handle::{Envelope, ShardHandle, Waker};
use crate::poller::{self, Poller, Readiness};
use crate::protocol::duration_ms;
use crate::protocol::{CloseReason, Protocol};
use crate::stats::ShardStats;
use crate::sys::epoll::Events;
use crate::sys::io_ops::{self, IoVecs};
use crate::sys::{self, socket};
use crate::timer::{Entry, TimerWheel, DEFAULT_SLOTS};
use crate::token::{Slab, Token};
use crate::transport::{self, TransportFactory};
use crate::write_queue::{Chunk, Flush};

mod accept;
mod inbox;
mod outbound;
mod timers;

use self::outbound::settle_connect;

/// Reserved token numbers (offsets from `Token::RESERVED_BASE`).
const WAKER: u32 = 0;
const ACCEPT_RETRY: u32 = 1;
const TICK: u32 = 2;
const LISTENER_BASE: u32 = 16;

/// How long accepting pauses when descriptors run out and the reserve
/// descriptor is gone too.
const ACCEPT_RETRY_MS: u64 = 100;

/// Passes over the dirty list per loop turn (see `Shard::drain_dirty_list`).
const DIRTY_PASSES: usize = 4;

/// Inbox envelopes handled per wake-up before other events get a turn.
const INBOX_BATCH: usize = 4096;

/// The control lane and the bounded data lane of a shard's inbox (see `crate::handle`).
pub(crate) type Inbox<M> = (Receiver<Envelope<M>>, Receiver<Envelope<M>>);

/// A listening socket with its tag and transport (see [`crate::Endpoint`]).
pub(crate) struct Listener {
    pub(crate) socket: TcpListener,
    pub(crate) tag: u16,
    pub(crate) transport: Option<Arc<dyn TransportFactory>>,
    /// Shared with other shards (a dup registered with `EPOLLEXCLUSIVE`).
    pub(crate) shared: bool,
}

/// Everything a shard thread owns. Built on the spawning thread (so setup
/// errors surface synchronously), then moved into the shard's thread.
pub(crate) struct ShardParts<M> {
    pub(crate) id: usize,
    pub(crate) poller: Poller,
    pub(crate) listeners: Vec<Listener>,
    pub(crate) inbox: Inbox<M>,
    pub(crate) handle: ShardHandle<M>,
    pub(crate) waker: Arc<Waker>,
    pub(crate) config: ShardConfig,
}

pub(crate) struct Shard<P: Protocol> {
    proto: P,
    slab: Slab<Slot<P::Conn>>,
    core: Core<P::Message>,
    events: Events,
    scratch: Vec<u8>,
    listeners: Vec<Listener>,
    inbox: Inbox<P::Message>,
    waker: Arc<Waker>,
    /// A descriptor kept in reserve: when `accept` fails with `EMFILE`,
    /// closing it frees one slot to accept (and turn away) a pending
    /// connection, so the listener's queue is drained instead of staying
    /// readable forever.
    reserve_fd: Option<File>,
    fired: Vec<Entry>,
    dirty_spare: Vec<Token>,
    /// Accepting is paused: at the connection cap, or out of descriptors.
    accept_paused: bool,
    /// Listeners that used up their accepts for a turn with connections
    /// still queued: the edge-triggered poller will not report them again,
    /// so the loop comes back to them itself.
    accept_again: Vec<usize>,
    stop_deadline_ms: Option<u64>,
}

impl<P: Protocol> Shard<P> {
    pub(crate) fn new(parts: ShardParts<P::Message>, proto: P) -> Shard<P> {
        let ShardParts { id, poller, listeners, inbox, handle, waker, config } = parts;
        let start = Instant::now();
        let start_ns = sys::clock::monotonic_ns();
        let mut write_pool = BufPool::new(config.write_buffer, 1024);
        let batch = write_pool.take();
        let core = Core {
            id,
            start,
            start_ns,
            now_ns: start_ns,
            now_ms: 0,
            wheel: TimerWheel::new(config.timer_tick.as_millis().max(1) as u64, DEFAULT_SLOTS),
            read_pool: BufPool::new(config.read_buffer, 1024),
            write_pool,
            iov: IoVecs::new(),
            batch,
            batch_token: Token::reserved(WAKER),
            dirty: Vec::new(),
            handle,
            config,
            stopping: false,
            poller,
            connects: Vec::new(),
            conn_type: std::any::TypeId::of::<P::Conn>(),
            piece: Vec::new(),
            connect_error: None,
        };
        Shard {
            proto,
            slab: Slab::new(),
            events: Events::with_capacity(core.config.events_per_wait),
            scratch: vec![0; core.config.read_scratch.max(1024)],
            core,
            listeners,
            inbox,
            waker,
            reserve_fd: File::open("/dev/null").ok(),
            fired: Vec::new(),
            dirty_spare: Vec::new(),
            accept_paused: false,
            accept_again: Vec::new(),
            stop_deadline_ms: None,
        }
    }

    fn stats(&self) -> &ShardStats {
        self.core.stats()
    }

    /// Runs the event loop until a graceful stop completes.
    pub(crate) fn run(mut self) -> io::Result<()> {
        self.tick_clock();
        if let Some(tick) = self.core.config.tick {
            let due = self.core.now_ms + duration_ms(tick).max(1);
            self.core.wheel.schedule(Token::reserved(TICK), due);
        }
        let mut sc = ShardCtx { slab: &mut self.slab, core: &mut self.core };
        self.proto.on_start(&mut sc);
        self.drain_dirty();
        loop {
            let timeout = self.next_timeout();
            let waited = self.core.poller.poll(&mut self.events, timeout);
            self.tick_clock();
            ShardStats::add(&self.stats().loop_iterations, 1);
            waited?;
            // By index: `dispatch` needs all of `self`, events included.
            let mut i = 0;
            while let Some((token, readiness)) = poller::event(&self.events, i) {
                self.dispatch(token, readiness);
                i += 1;
            }
            if !self.accept_again.is_empty() {
                for index in mem::take(&mut self.accept_again) {
                    self.accept_ready(index);
                }
            }
            self.expire_timers();
            let mut sc = ShardCtx { slab: &mut self.slab, core: &mut self.core };
            self.proto.on_turn(&mut sc);
            self.drain_dirty();
            if let Some(deadline) = self.stop_deadline_ms {
                if self.slab.is_empty() {
                    return Ok(());
                }
                if self.core.now_ms >= deadline {
                    for token in self.slab.tokens() {
                        self.close_now(token, CloseReason::Shutdown);
                    }
                    return Ok(());
                }
            }
        }
    }

    fn tick_clock(&mut self) {
        self.core.now_ns = sys::clock::monotonic_ns();
        self.core.now_ms = (self.core.now_ns - self.core.start_ns) / 1_000_000;
    }

    /// Milliseconds `epoll_wait` may block: 0 if work is queued, else until
    /// the next timer or the stop deadline, else forever.
    fn next_timeout(&mut self) -> i32 {
        if !self.core.dirty.is_empty() || !self.accept_again.is_empty() {
            return 0;
        }
        let now = self.core.now_ms;
        let timer = match (self.core.wheel.next_timeout_ms(now), self.proto.turn_timeout_ms(now)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let stop = self.stop_deadline_ms.map(|d| d.saturating_sub(now));
        match (timer, stop) {
            (None, None) => -1,
            (Some(a), Some(b)) => a.min(b).min(i32::MAX as u64) as i32,
            (Some(a), None) | (None, Some(a)) => a.min(i32::MAX as u64) as i32,
        }
    }

    fn dispatch(&mut self, token: Token, readiness: Readiness) {
        if token.is_reserved() {
            match token.index() - Token::RESERVED_BASE {
                WAKER => self.drain_inbox(),
                n if n >= LISTENER_BASE => self.accept_ready((n - LISTENER_BASE) as usize),
                _ => {}
            }
            return;
        }
        let Some(slot) = self.slab.get_mut(token) else {
            return; // stale: the connection closed earlier in this batch
        };
        if readiness.readable() {
            slot.io.flags |= flags::READABLE;
        }
        if readiness.peer_closed() {
            // The FIN (or error) arrives with the last data in one edge: a
            // short read must not end the draining, or the EOF is never seen.
            slot.io.flags |= flags::PEER_HUP;
        }
        if readiness.writable() {
            slot.io.flags |= flags::WRITABLE;
        }
        self.drive(token);
    }

    // ------------------------------------------------------------ connection

    /// Moves one connection forward as far as it can go without blocking.
    fn drive(&mut self, token: Token) {
        let Shard { proto, slab, core, scratch, .. } = self;
        let end = match slab.get_mut(token) {
            None => return,
            Some(slot) if slot.io.link == Token::NONE => {
                Self::drive_slot(proto, core, scratch, token, slot, None)
            }
            Some(slot) => {
                // Linked: the callbacks may reach the other connection too.
                let link = slot.io.link;
                match slab.get2_mut(token, link) {
                    Some((slot, peer)) => {
                        Self::drive_slot(proto, core, scratch, token, slot, Some((link, &mut peer.io)))
                    }
                    None => {
                        let slot = slab.get_mut(token).expect("looked up above");
                        slot.io.link = Token::NONE;
                        Self::drive_slot(proto, core, scratch, token, slot, None)
                    }
                }
            }
        };
        // Every way out of `drive_slot` after a callback passes its flush,
        // so the batch is empty unless the connection is closing at once.
        if !core.batch.is_empty() {
            debug_assert!(end.is_some(), "batched output left behind");
            core.batch.clear();
        }
        if !core.write_pool.owns_size_of(&core.batch) {
            // It grew (a burst of pipelined answers): back to a pool-sized one.
            core.batch = core.write_pool.take();
        }
        if let Some(reason) = end {
            self.close_now(token, reason);
        }
    }

    /// The body of [`Shard::drive`], on a slot looked up once. Returns why
    /// the connection must close now, if it must.
    #[inline(always)]
    fn drive_slot(
        proto: &mut P,
        core: &mut Core<P::Message>,
        scratch: &mut [u8],
        token: Token,
        slot: &mut Slot<P::Conn>,
        mut peer: Option<(Token, &mut ConnIo)>,
    ) -> Option<CloseReason> {
        let mut reads = 0;
        loop {
            let io = &mut slot.io;
            io.flags &= !flags::DIRTY;
            // One test for both rare states on the hot path.
            if io.flags & (flags::ABORT | flags::CONNECTING) != 0 {
                if io.flags & flags::ABORT != 0 {
                    return Some(CloseReason::Aborted);
                }
                // connect(2), EINPROGRESS: the first writable (or error)
                // edge settles it; SO_ERROR says how.
                if io.flags & flags::WRITABLE == 0 {
                    return None;
                }
                if let Err(reason) = settle_connect(io, core) {
                    return Some(reason);
                }
                let mut cx = Ctx { token, io, core, driven: true, peer: reborrow(&mut peer) };
                proto.on_connected(&mut slot.state, &mut cx);
                continue;
            }

            // 1. Flush the batch (see `Core::batch`), then queued output.
            if !core.batch.is_empty() {
                debug_assert!(core.batch_token == token);
                if let Err(e) = Self::flush_batch(core, io) {
                    core.batch.clear();
                    return Some(CloseReason::Error(e.kind()));
                }
            }
            if !io.wq.is_empty() {
                if io.flags & flags::WRITABLE != 0 {
                    let before = io.wq.queued_bytes();
                    let res = match io.layer.as_deref_mut() {
                        None => io.wq.flush(&io.stream, &mut core.iov, &mut core.write_pool),
                        Some(l) => {
                            let res = io.wq.flush_through(
                                &io.stream,
                                &mut *l.transport,
                                &mut core.write_pool,
                                &mut core.piece,
                            );
                            if l.transport.has_buffered_input() {
                                io.flags |= flags::READABLE;
                            }
                            res
                        }
                    };
                    ShardStats::add(&core.stats().bytes_out, before - io.wq.queued_bytes());
                    match res {
                        Ok(Flush::Done) => {}
                        Ok(Flush::Blocked) => io.flags = (io.flags & !flags::WRITABLE) | flags::WRITE_BLOCKED,
                        Err(e) => return Some(CloseReason::Error(e.kind())),
                    }
                } else {
                    io.flags |= flags::WRITE_BLOCKED;
                }
            } else if io.flags & (flags::TRANSPORT | flags::WRITABLE) == flags::TRANSPORT | flags::WRITABLE {
                // Output the transport owes on its own (a handshake reply).
                if let Err(e) = flush_transport(io) {
                    return Some(CloseReason::Error(e.kind()));
                }
            }

            // 2. Output drained: finish a close, or tell the protocol.
            if io.wq.is_empty() {
                if io.flags & flags::CLOSING != 0 {
                    if io.flags & flags::LINGERING == 0 {
                        let unread = io.rbuf.is_some() || io.flags & flags::READABLE != 0;
                        if io.flags & flags::EOF != 0 {
                            // The peer had finished first (its FIN came before our close).
                            return Some(CloseReason::Peer);
                        }
                        if !unread {
                            return Some(CloseReason::Local);
                        }
                        // Input is still arriving: send FIN, then read and
                        // discard until the peer closes, so our last bytes
                        // are not destroyed by a reset.
                        let _ = match io.layer.as_deref_mut() {
                            None => socket::shutdown_write(&io.stream),
                            Some(l) => l.transport.close_write(&io.stream),
                        };
                        io.flags |= flags::LINGERING;
                        if let Some(buf) = io.rbuf.take() {
                            core.read_pool.give(buf);
                        }
                        let due = core.now_ms + duration_ms(core.config.linger);
                        io.deadline_ms = due;
                        if io.armed_tick == 0 || core.wheel.tick_for(due) < io.armed_tick {
                            io.armed_tick = core.wheel.schedule(token, due);
                        }
                    }
                } else if io.flags & flags::WRITE_BLOCKED != 0 {
                    io.flags &= !flags::WRITE_BLOCKED;
                    let mut cx = Ctx { token, io, core, driven: true, peer: reborrow(&mut peer) };
                    proto.on_writable(&mut slot.state, &mut cx);
                    continue;
                } else if io.flags & flags::SHUT_WR != 0 {
                    // A half-close asked for (`Ctx::shutdown_write`): FIN
                    // after the last queued byte.
                    io.flags &= !flags::SHUT_WR;
                    let res = match io.layer.as_deref_mut() {
                        None => socket::shutdown_write(&io.stream),
                        Some(l) => l.transport.close_write(&io.stream),
                    };
                    if let Err(e) = res {
                        return Some(CloseReason::Error(e.kind()));
                    }
                }
            }

            // 3. Read, unless paused or closing (lingering reads discard).
            let lingering = io.flags & flags::LINGERING != 0;
            if !lingering && io.flags & (flags::READ_PAUSED | flags::CLOSING) != 0 {
                return None;
            }
            let replay = io.flags & flags::WANT_READ != 0 && io.rbuf.is_some();
            io.flags &= !flags::WANT_READ;
            if io.flags & flags::READABLE == 0 && !replay {
                return None;
            }
            if reads == core.config.reads_per_turn {
                // Fairness: let other connections run; come back next turn.
                io.flags |= flags::DIRTY;
                if replay {
                    io.flags |= flags::WANT_READ;
                }
                core.dirty.push(token);
                return None;
            }
            reads += 1;
            if let Some(reason) =
                Self::read_once(proto, core, scratch, token, slot, replay, reborrow(&mut peer))
            {
                return Some(reason);
            }
        }
    }

    /// Writes the shard's batch for `io` with one `write(2)` when nothing is
    /// queued ahead of it and the socket is writable; whatever is left is
    /// copied into the connection's queue (whose flush follows at once and
    /// records the blocked socket). Empties the batch.
    #[inline(always)]
    fn flush_batch(core: &mut Core<P::Message>, io: &mut ConnIo) -> io::Result<()> {
        let mut sent = 0;
        if io.wq.is_empty() && io.flags & flags::WRITABLE != 0 {
            match transport::write(&io.stream, io.layer.as_deref_mut(), &core.batch) {
                Ok(n) => sent = n,
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => {}
                Err(e) => return Err(e),
            }
            ShardStats::add(&core.stats().bytes_out, sent as u64);
        }
        if sent == 0 {
            // Nothing went: the batch itself (a pool buffer) joins the queue.
            let full = mem::replace(&mut core.batch, core.write_pool.take());
            io.wq.push(Chunk::Owned(full));
        } else {
            if sent < core.batch.len() {
                io.wq.push_copy(&core.batch[sent..], &mut core.write_pool);
            }
            core.batch.clear();
        }
        Ok(())
    }

    /// One `read` (or one replay of kept input) and its delivery to the
    /// protocol. Returns why the connection must close, if it must.
    #[inline(always)]
    fn read_once(
        proto: &mut P,
        core: &mut Core<P::Message>,
        scratch: &mut [u8],
        token: Token,
        slot: &mut Slot<P::Conn>,
        replay: bool,
        peer: Option<(Token, &mut ConnIo)>,
    ) -> Option<CloseReason> {
        let Slot { io, state } = slot;
        if io.flags & flags::LINGERING != 0 {
            return match io_ops::read(&io.stream, scratch) {
                Ok(0) => Some(CloseReason::Local),
                Ok(n) => {
                    io.lingered = io.lingered.saturating_add(n as u32);
                    if io.lingered as usize > core.config.max_linger_bytes {
                        return Some(CloseReason::Local);
                    }
                    if n < scratch.len() && io.flags & flags::PEER_HUP == 0 {
                        io.flags &= !flags::READABLE;
                    }
                    None
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    io.flags &= !flags::READABLE;
                    None
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => None,
                Err(e) => Some(CloseReason::Error(e.kind())),
            };
        }

        let mut kept = io.rbuf.take();
        let mut fresh = 0;
        if !replay {
            let res = match &mut kept {
                Some(buf) => {
                    if buf.len() >= core.config.max_pending_input {
                        return Some(CloseReason::Error(io::ErrorKind::OutOfMemory));
                    }
                    if buf.capacity() - buf.len() < 1024 {
                        buf.reserve(buf.capacity().max(4096));
                    }
                    let room = buf.capacity() - buf.len();
                    io.read_into_spare(buf).map(|n| (n, room))
                }
                None => io.read(scratch).map(|n| (n, scratch.len())),
            };
            match res {
                Ok((0, _)) => {
                    io.rbuf = kept;
                    io.flags = (io.flags | flags::EOF) & !flags::READABLE;
                    let mut cx = Ctx { token, io, core, driven: true, peer };
                    proto.on_eof(state, &mut cx);
                    return None;
                }
                Ok((n, room)) => {
                    ShardStats::add(&core.stats().bytes_in, n as u64);
                    if n < room && io.flags & (flags::PEER_HUP | flags::TRANSPORT) == 0 {
                        // A short read empties a stream socket: the next
                        // arrival raises a new edge. Skip the EAGAIN read.
                        // (Not through a transport: it may have decrypted
                        // one record while more wait in the socket.)
                        io.flags &= !flags::READABLE;
                    }
                    fresh = n;
                }
                Err(e) => {
                    io.rbuf = kept;
                    return match e.kind() {
                        io::ErrorKind::WouldBlock => {
                            io.flags &= !flags::READABLE;
                            None
                        }
                        io::ErrorKind::Interrupted => None,
                        kind => Some(CloseReason::Error(kind)),
                    };
                }
            }
        }

        match kept {
            Some(mut buf) => {
                let consumed = {
                    let mut cx = Ctx { token, io: &mut *io, core: &mut *core, driven: true, peer };
                    proto.on_data(state, &mut cx, &mut buf[..]).min(buf.len())
                };
                buf.drain(..consumed);
                if buf.is_empty() {
                    core.read_pool.give(buf);
                } else {
                    io.rbuf = Some(buf);
                }
            }
            None => {
                let consumed = {
                    let mut cx = Ctx { token, io: &mut *io, core: &mut *core, driven: true, peer };
                    proto.on_data(state, &mut cx, &mut scratch[..fresh]).min(fresh)
                };
                if consumed < fresh {
                    // Only the unconsumed tail is copied, into a pooled buffer.
                    let mut buf = core.read_pool.take();
                    buf.extend_from_slice(&scratch[consumed..fresh]);
                    io.rbuf = Some(buf);
                }
            }
        }
        None
    }

    fn close_now(&mut self, token: Token, reason: CloseReason) {
        let Some(Slot { mut io, state }) = self.slab.remove(token) else {
            return;
        };
        io.wq.clear(&mut self.core.write_pool);
        if let Some(buf) = io.rbuf.take() {
            self.core.read_pool.give(buf);
        }
        if reason == CloseReason::Local {
            if let Some(l) = io.layer.as_deref_mut() {
                // The transport's goodbye (a TLS close_notify), best effort.
                let _ = l.transport.close_write(&io.stream);
            }
        }
        let (link, connecting) = (io.link, io.flags & flags::CONNECTING != 0);
        // Dropping the stream closes the descriptor, which also removes it
        // from the epoll set (it was never dup'ed).
        drop(io);
        ShardStats::add(&self.stats().closed, 1);
        if connecting {
            ShardStats::add(&self.stats().connect_failed, 1);
            let error = self.core.connect_error.take().unwrap_or_else(|| match reason {
                CloseReason::Error(kind) => io::Error::from(kind),
                _ => io::Error::new(io::ErrorKind::TimedOut, "connect timed out"),
            });
            self.proto.on_connect_failed(state, error);
        } else {
            self.proto.on_close(state, reason);
        }
        if link != Token::NONE {
            let proto = &mut self.proto;
            let heard = with_slot(&mut self.slab, &mut self.core, link, false, |peer_state, cx| {
                cx.io.link = Token::NONE;
                cx.peer = None;
                proto.on_peer_closed(peer_state, cx);
            });
            if heard.is_some() {
                self.drive(link);
            }
        }
        if self.accept_paused
            && self.slab.len() < self.core.config.max_connections
            && self.reserve_fd.is_some()
        {
            self.accept_paused = false;
            self.accept_all();
        }
    }

    /// Drives every connection some callback touched outside its own turn.
    #[inline]
    fn drain_dirty(&mut self) {
        if !self.core.dirty.is_empty() {
            self.drain_dirty_list();
        }
    }

    fn drain_dirty_list(&mut self) {
        if !self.core.connects.is_empty() {
            self.open_pending_connects();
        }
        // Driving a connection can dirty others (a linked peer, a pub/sub
        // fan-out from a callback): walk the list again for those, but a
        // few times only, so two connections that keep dirtying each other
        // cannot hold the loop; what is left waits for the next turn.
        for _ in 0..DIRTY_PASSES {
            if self.core.dirty.is_empty() {
                break;
            }
            let mut list = mem::replace(&mut self.core.dirty, mem::take(&mut self.dirty_spare));
            for &token in &list {
                let dirty = self.slab.get(token).is_some_and(|s| s.io.flags & flags::DIRTY != 0);
                if dirty {
                    self.drive(token);
                }
            }
            list.clear();
            self.dirty_spare = list;
        }
        let slab = &self.slab;
        self.core.dirty.retain(|&t| slab.get(t).is_some_and(|s| s.io.flags & flags::DIRTY != 0));
    }
}

/// Registers the shard's own descriptors; used while building the parts.
pub(crate) fn register_parts<M>(parts: &ShardParts<M>) -> io::Result<()> {
    parts.poller.register_source(&parts.waker.eventfd, Token::reserved(WAKER), false)?;
    for (i, listener) in parts.listeners.iter().enumerate() {
        let token = Token::reserved(LISTENER_BASE + i as u32);
        parts.poller.register_source(&listener.socket, token, listener.shared)?;
    }
    Ok(())
}

/// Sends what a connection's transport holds on its own; a full socket
/// clears `WRITABLE` (the next edge brings us back).
#[cold]
fn flush_transport(io: &mut ConnIo) -> io::Result<()> {
    if let Some(l) = io.layer.as_deref_mut() {
        if l.transport.flush(&io.stream)? == Flush::Blocked {
            io.flags &= !flags::WRITABLE;
        }
        if l.transport.has_buffered_input() {
            io.flags |= flags::READABLE;
        }
    }
    Ok(())
}

/// A second borrow of a linked peer for one more `Ctx`.
#[inline(always)]
fn reborrow<'b>(peer: &'b mut Option<(Token, &mut ConnIo)>) -> Option<(Token, &'b mut ConnIo)> {
    peer.as_mut().map(|(t, io)| (*t, &mut **io))
}

//! The reactor's side of a connection (socket, transport, buffers,
//! deadline, readiness flags, link) and the shard-wide state callbacks may
//! touch: what `Ctx` and `ShardCtx` are views of.

use std::any::{Any, TypeId};
use std::io;
use std::net::TcpStream;
use std::time::Instant;

use crate::buf::BufPool;
use crate::config::ShardConfig;
use crate::ctx::Ctx;
use crate::handle::ShardHandle;
use crate::poller::Poller;
use crate::protocol::{duration_ms, ConnectOptions};
use crate::stats::ShardStats;
use crate::sys::io_ops::{self, IoVecs};
use crate::sys::socket;
use crate::timer::TimerWheel;
use crate::token::{Slab, Token};
use crate::transport::Layer;
use crate::write_queue::WriteQueue;

pub(crate) mod flags {
    //! A connection's state bits, kept in `ConnIo::flags` so the hot path
    //! tests several with one load and one `and`.

    /// The kernel said the socket has input; cleared by `EAGAIN` or a short read.
    pub const READABLE: u16 = 1 << 0;
    /// The socket's send buffer has room; cleared by `EAGAIN` or a short write.
    pub const WRITABLE: u16 = 1 << 1;
    /// The protocol paused input (`Ctx::pause_reading`); readiness is kept.
    pub const READ_PAUSED: u16 = 1 << 2;
    /// The peer's end of input was read (`on_eof` has run).
    pub const EOF: u16 = 1 << 3;
    /// Close once the queue is flushed (`Ctx::close`).
    pub const CLOSING: u16 = 1 << 4;
    /// Close at once, dropping the queue (`Ctx::abort`).
    pub const ABORT: u16 = 1 << 5;
    /// On the shard's dirty list: driven at the end of this loop turn.
    pub const DIRTY: u16 = 1 << 6;
    /// The queue filled the socket (or `notify_when_drained` asked):
    /// `on_writable` runs once it is empty again.
    pub const WRITE_BLOCKED: u16 = 1 << 7;
    /// Our FIN is sent; reading and discarding until the peer's, or the linger deadline.
    pub const LINGERING: u16 = 1 << 8;
    /// Offer the kept input again (`Ctx::resume_reading`), even without new bytes.
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
    /// The connection has a transport (`ConnIo::layer` is `Some`): the
    /// hot path tests this bit instead of loading the pointer.
    pub const TRANSPORT: u16 = 1 << 14;
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

    /// Ends a pause of input (`Ctx::resume_reading`): kept input is offered
    /// again. True if it was paused (the connection then needs driving).
    pub(crate) fn resume_reading(&mut self) -> bool {
        if self.flags & flags::READ_PAUSED == 0 {
            return false;
        }
        self.flags = (self.flags & !flags::READ_PAUSED) | flags::WANT_READ;
        true
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

/// Runs `f` with a [`Ctx`] for `token` (reaching its linked peer, if any).
pub(crate) fn with_slot<C, M, R>(
    slab: &mut Slab<Slot<C>>,
    core: &mut Core<M>,
    token: Token,
    driven: bool,
    f: impl FnOnce(&mut C, &mut Ctx<'_, M>) -> R,
) -> Option<R> {
    let slot = slab.get_mut(token)?;
    let link = slot.io.link;
    if link == Token::NONE {
        // The usual case: one lookup.
        let mut cx = Ctx { token, io: &mut slot.io, core, driven, peer: None };
        return Some(f(&mut slot.state, &mut cx));
    }
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

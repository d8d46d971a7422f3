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
//!   turn    -> on_turn(shard)            (every loop turn; `turn_timeout_ms`
//!                                         bounds how long the shard sleeps)
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

use std::io;
use std::time::Duration;

use crate::ctx::{Ctx, ShardCtx};

/// Why a connection closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The protocol closed it ([`Ctx::close`]) and its output was flushed.
    Local,
    /// The protocol aborted it ([`Ctx::abort`]); queued output was dropped.
    Aborted,
    /// The peer finished first: its end of input (FIN) had arrived when the
    /// connection closed (after `on_eof`, by default).
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
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// With this tag.
    #[must_use]
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

    /// A message for this connection arrived (see [`ShardHandle::send`](crate::ShardHandle::send) and [`Ctx::spawn`]).
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

    /// A message for the shard as a whole ([`ShardHandle::send_to_shard`](crate::ShardHandle::send_to_shard)).
    fn on_shard_message(&mut self, shard: &mut ShardCtx<'_, Self>, msg: Self::Message) {
        let _ = (shard, msg);
    }

    /// The shard's loop is starting (before any accept): open outbound
    /// connections here, for instance.
    fn on_start(&mut self, shard: &mut ShardCtx<'_, Self>) {
        let _ = shard;
    }

    /// [`ShardConfig::tick`](crate::ShardConfig::tick) passed: periodic work for the shard as a whole
    /// (publishing counters, housekeeping).
    fn on_tick(&mut self, shard: &mut ShardCtx<'_, Self>) {
        let _ = shard;
    }

    /// Once per turn of the event loop, after the turn's events and
    /// timers and before the connections they touched are flushed: work
    /// the protocol queued for itself (a task executor's ready list, its
    /// own timers). A protocol that uses it says when it next needs a turn
    /// with [`Protocol::turn_timeout_ms`]; the default does nothing.
    fn on_turn(&mut self, shard: &mut ShardCtx<'_, Self>) {
        let _ = shard;
    }

    /// How long the shard may sleep in `epoll_wait`, as far as the
    /// protocol's own work is concerned: `Some(0)` when `on_turn` has work
    /// ready now, `Some(ms)` for its next own deadline (the shard's clock,
    /// [`ShardCtx::now_ms`], is `now_ms`), `None` (the default) for none.
    /// Called once per loop turn, so keep it to a few compares.
    fn turn_timeout_ms(&self, now_ms: u64) -> Option<u64> {
        let _ = now_ms;
        None
    }

    /// A graceful stop began: the shard no longer accepts. Close idle
    /// connections here and let busy ones finish; the shard exits when all
    /// are gone or the grace period ends.
    fn on_shutdown(&mut self, shard: &mut ShardCtx<'_, Self>) {
        let _ = shard;
    }
}

/// Whole milliseconds of `d`, saturating (no u128 `as_millis`).
pub fn duration_ms(d: Duration) -> u64 {
    d.as_secs().saturating_mul(1000).saturating_add(u64::from(d.subsec_millis()))
}

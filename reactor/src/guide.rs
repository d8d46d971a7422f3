//! # Guide: from an empty loop to an echo server
//!
//! This guide builds up the ideas behind `weir-reactor` one step at a
//! time, ending with the echo server of `examples/echo.rs`. Read it next to
//! `src/shard.rs`; every step below is a few lines there.
//!
//! ## 1. An empty loop
//!
//! An event loop is a thread that asks the kernel "which of my descriptors
//! can make progress?" and then makes that progress without ever blocking:
//!
//! ```text
//! let epoll = epoll_create1(EPOLL_CLOEXEC);
//! loop {
//!     let n = epoll_wait(epoll, events, timeout);
//!     for e in &events[..n] { handle(e) }
//! }
//! ```
//!
//! In weir this is [`crate::sys::epoll::Epoll`] and the `run` method of the
//! shard. Nothing else blocks: every socket is non-blocking, so a `read`
//! with nothing to read returns `EAGAIN` instead of sleeping.
//!
//! ## 2. Accepting: one listener per core
//!
//! A listener is registered like any descriptor. When it is readable,
//! connections are waiting: call `accept4(SOCK_NONBLOCK | SOCK_CLOEXEC)`
//! until it says `EAGAIN` — at most `ShardConfig::accepts_per_turn` per
//! turn, so a flood of new connections cannot starve the established ones;
//! a listener with connections left is put on a list the loop comes back to
//! by itself (edge-triggered, it would not be reported again). With
//! `SO_REUSEPORT`, each shard binds *its own* listener to the same port and
//! the kernel spreads new connections among them by a hash of the 4-tuple —
//! no lock, no shared accept queue, and each connection lives its whole
//! life on one core. For protocols whose clients speak first (HTTP),
//! `ShardConfig::read_on_accept` reads a new connection at once: its first
//! request usually arrived with the handshake.
//!
//! When descriptors run out (`EMFILE`), `accept` fails but the connection
//! stays queued, and the listener stays readable. An edge-triggered loop
//! would never hear about it again; a level-triggered one would spin. weir
//! keeps one descriptor in reserve (`/dev/null`): on `EMFILE` it closes the
//! reserve, accepts the pending connection, closes it (turning it away, with
//! an optional canned response), and reopens the reserve. One trap: Linux's
//! `accept4` takes a descriptor *before* it looks at the queue, so it fails
//! with `EMFILE` even when nobody waits; if the reserve then finds the
//! queue empty, the loop must stop there, or it spins until a descriptor
//! frees up.
//!
//! ## 3. Edge-triggered readiness, and draining
//!
//! Registering with `EPOLLET` means the kernel reports *changes*: "this
//! socket became readable". It will not repeat itself while the socket stays
//! readable. That saves the loop from re-arming or re-checking descriptors
//! (one `epoll_ctl` per connection, ever), but it imposes one rule:
//!
//! > after an event, read (or write) until the kernel says `EAGAIN`.
//!
//! weir keeps the readiness in two flags per connection, `READABLE` and
//! `WRITABLE`. Events set them; only `EAGAIN` — or a *short* transfer,
//! which on a stream socket means the buffer was emptied (or filled) — clears
//! them. Keeping the flags also makes backpressure free: a protocol that
//! pauses reading leaves `READABLE` set, and resuming simply reads again,
//! with no system call to re-arm anything.
//!
//! ## 4. Tokens: which connection is this event for?
//!
//! Each epoll registration carries 64 bits of user data. weir stores a
//! [`Token`](crate::Token): a slab index plus the slot's *generation*.
//! Closing a connection bumps its slot's generation, so an event still
//! queued for it, a worker result computed for it, or a timer armed for it
//! carries an old token and is dropped — even if the slot (and the file
//! descriptor number) already belongs to a new connection.
//!
//! ## 5. Reading without a buffer per connection
//!
//! A connection that is idle between requests should cost a few dozen
//! bytes, not a 4 KiB buffer. So every `read` goes into one shard-wide
//! scratch buffer, and the protocol's `on_data` consumes what it can in
//! place, returning the number of bytes consumed. Only if a message is
//! incomplete is the unconsumed tail copied into a buffer taken from a pool
//! ([`crate::buf`]). The next read appends to it; once it is consumed, the
//! buffer goes back to the pool.
//!
//! ## 6. Writing: the write queue
//!
//! A protocol never calls `write`. It pushes chunks — owned, shared,
//! `'static`, or a file range — onto the connection's
//! [`WriteQueue`](crate::write_queue::WriteQueue), and the shard flushes
//! after the callback returns: byte chunks with one `writev` (up to
//! `IOV_MAX` iovecs), file ranges with `sendfile`. The kernel may accept
//! any prefix; the queue advances by exactly that many bytes and waits for
//! the next `EPOLLOUT` edge. Sixteen pipelined responses become one
//! `writev`, and no body is ever copied into a contiguous buffer.
//!
//! Small copied answers take a shortcut: while a connection has nothing
//! queued, `Ctx::write_copy` and `Ctx::write_with` append to one
//! shard-wide *output batch*, which the shard sends with a single `write`
//! before it moves on. Only bytes the socket refuses, or bytes a chunk must
//! follow, ever reach the connection's queue — so a keep-alive connection
//! that asks small questions never allocates one.
//!
//! ## 7. Time: one deadline per connection
//!
//! Timeouts are everywhere (slow clients, idle keep-alive) and almost never
//! fire. Each connection has one deadline; the
//! [`TimerWheel`](crate::timer::TimerWheel) holds at most one entry for it.
//! Moving a deadline later — the common case — only writes a field; when
//! the old entry comes due, the shard notices and re-arms it once.
//!
//! ## 8. Other threads: the inbox and the waker
//!
//! A [`ShardHandle`](crate::ShardHandle) lets any thread send a message to a
//! connection or to the shard: the message goes into a channel and an
//! eventfd in the shard's epoll set is bumped to wake it. Worker-pool
//! results travel the same way ([`Ctx::spawn`](crate::Ctx::spawn)).
//!
//! The inbox has two lanes. What must arrive — a request's answer, a
//! worker's result, the stop — takes the control lane, bounded by its
//! producers (one answer per request). What may be refused — a WebSocket
//! send from another thread, a publish, a streamed chunk — takes the data
//! lane, which holds [`ShardConfig::inbox_capacity`](crate::ShardConfig::inbox_capacity)
//! envelopes and refuses the rest at once
//! ([`ShardHandle::try_send`](crate::ShardHandle::try_send)), so a fast
//! producer cannot grow a shard's memory without bound.
//!
//! ## 9. Between the socket and the protocol: transports
//!
//! A protocol sees plaintext. What carries it is the connection's
//! [`Transport`](crate::Transport), chosen by the listener's
//! [`Endpoint`](crate::Endpoint): none for plaintext — the shard then calls
//! `read`, `write`, `writev` and `sendfile` itself, exactly as above — or a
//! transport object (TLS) that reads and writes through the socket on the
//! protocol's behalf. Two rules change for a transport, and the shard
//! applies them: a short read or write proves nothing (a TLS record may be
//! decrypted while more wait in the socket), so it reads and writes until
//! `EAGAIN`; and a file cannot go by `sendfile` through encryption, so the
//! write queue reads it in 16 KiB pieces with `pread` (see
//! [`transport`](crate::transport)). The tag of the endpoint
//! ([`Ctx::tag`](crate::Ctx::tag)) lets one shard treat a plaintext port
//! and a TLS port differently.
//!
//! ## 10. Opening connections
//!
//! A shard can be a client too: [`ShardCtx::connect`](crate::ShardCtx::connect)
//! (or [`Ctx::connect`](crate::Ctx::connect) from a connection's callback)
//! starts a non-blocking `connect(2)`. The kernel answers `EINPROGRESS`;
//! the socket is registered like any other, and its first writable edge
//! settles the outcome, read with `getsockopt(SO_ERROR)`:
//! [`Protocol::on_connected`](crate::Protocol::on_connected), or
//! [`Protocol::on_connect_failed`](crate::Protocol::on_connect_failed) — also
//! when the connect timeout, an ordinary deadline, passes first. A
//! connection opened for another (a proxy's upstream) can be *linked* to
//! it: from either one's callbacks, [`Ctx::peer`](crate::Ctx::peer) writes to the
//! other, pauses its reading while this side's queue is full, and resumes
//! it from `on_writable` — backpressure both ways, with no buffer growing
//! between them. When one closes, the other hears `on_peer_closed`.
//!
//! ## 11. The echo server
//!
//! All of the above is behind the [`Protocol`](crate::Protocol) trait. An
//! echo server writes back whatever arrives and consumes all of it:
//!
//! ```no_run
//! use std::time::Duration;
//! use weir_reactor::{Ctx, Protocol, Runtime};
//!
//! /// Per-shard state: nothing. Per-connection state: nothing.
//! struct Echo;
//!
//! impl Protocol for Echo {
//!     type Conn = ();
//!     type Message = ();
//!
//!     fn on_open(&mut self, cx: &mut Ctx<'_, ()>) {
//!         // Close connections that stay silent for a minute.
//!         cx.set_deadline(Duration::from_secs(60));
//!     }
//!
//!     fn on_data(&mut self, _: &mut (), cx: &mut Ctx<'_, ()>, data: &mut [u8]) -> usize {
//!         cx.write_copy(data); // sent with one write(2) after we return
//!         cx.set_deadline(Duration::from_secs(60)); // lazily re-armed: no wheel work
//!         data.len() // everything consumed: no buffer is kept
//!     }
//! }
//!
//! fn main() -> std::io::Result<()> {
//!     let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:7000".into());
//!     let rt = Runtime::builder().listen(addr.parse().expect("address")).serve(|_| Echo)?;
//!     println!("echo listening on {:?}", rt.local_addrs());
//!     rt.join()
//! }
//! ```
//!
//! Things this server gets right without a line of code: a 1 MiB burst
//! against a tiny socket buffer is echoed exactly (partial writes resume on
//! the `EPOLLOUT` edge); a peer that closes is cleaned up and its late
//! events are dropped; an idle connection holds no buffer.

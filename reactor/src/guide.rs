//! # Guide: from an empty loop to an echo server, and on to real protocols
//!
//! This guide builds up the ideas behind `weir-reactor` one step at a
//! time. Steps 1 to 11 end with the echo server of `examples/echo.rs`;
//! read them next to `reactor/src/shard.rs`, where every step is a few
//! lines. Steps 12 to 17 go on from there, one feature of the
//! [`Protocol`](crate::Protocol) trait at a time: input in pieces, timers,
//! the worker pool, backpressure, a graceful stop, and a client. Each of
//! those is a complete program that `cargo test -p weir-reactor --doc`
//! runs: it starts a runtime on an ephemeral loopback port, talks to it
//! with `std::net::TcpStream`, checks the answers and stops it (only the
//! signal-handling sketch of step 16, which waits for a real `SIGTERM`, is
//! compiled without being run).
//!
//! `docs/reactor.md` explains each mechanism in depth, with the code that
//! does it; `docs/network-layers.md` explains what the kernel does below.
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
//! keeps one descriptor in reserve (/dev/null): on `EMFILE` it closes the
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
//! write queue reads it in 64 KiB pieces with `pread` (see
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
//!
//! ## 12. A line protocol: input that arrives in pieces
//!
//! TCP carries a stream of bytes, not messages: a line sent with one `write`
//! may arrive in three reads, and three lines may arrive in one. A protocol
//! therefore consumes what it can and returns how much that was. The
//! reactor keeps the rest — the unfinished line — in a buffer from its
//! pool, appends the next read to it, and offers the whole again. The
//! protocol never copies a byte to keep it.
//!
//! ```
//! use std::io::{BufRead, BufReader, Write};
//! use std::net::TcpStream;
//! use std::time::Duration;
//! use weir_reactor::{Ctx, Protocol, Runtime};
//!
//! /// Answers each line with its length in bytes: "hello\n" -> "5\n".
//! struct LineLength;
//!
//! /// A line longer than this is an error, not a reason to buffer forever.
//! const MAX_LINE: usize = 1024;
//!
//! impl Protocol for LineLength {
//!     type Conn = ();
//!     type Message = ();
//!
//!     fn on_open(&mut self, _: &mut Ctx<'_, ()>) {}
//!
//!     fn on_data(&mut self, _: &mut (), cx: &mut Ctx<'_, ()>, data: &mut [u8]) -> usize {
//!         let mut consumed = 0;
//!         // Every complete line, however many arrived together.
//!         while let Some(nl) = data[consumed..].iter().position(|&b| b == b'\n') {
//!             cx.write_copy(format!("{nl}\n").as_bytes());
//!             consumed += nl + 1;
//!         }
//!         if data.len() - consumed > MAX_LINE {
//!             cx.write_copy(b"line too long\n");
//!             cx.close();
//!             return data.len();
//!         }
//!         consumed // the unfinished line stays with the reactor
//!     }
//! }
//!
//! let rt = Runtime::builder().shards(1).listen("127.0.0.1:0".parse()?).serve(|_| LineLength)?;
//! let mut client = TcpStream::connect(rt.local_addrs()[0])?;
//! client.set_nodelay(true)?; // send each piece at once
//! let mut answers = BufReader::new(client.try_clone()?);
//!
//! // One line cut in three, then two lines in one write.
//! for piece in ["hel", "lo, wor", "ld\n", "a\nbc\n"] {
//!     client.write_all(piece.as_bytes())?;
//!     std::thread::sleep(Duration::from_millis(10)); // (separate reads, most likely)
//! }
//! let mut got = String::new();
//! for _ in 0..3 {
//!     answers.read_line(&mut got)?;
//! }
//! assert_eq!(got, "12\n1\n2\n");
//!
//! rt.stop(Duration::from_secs(1));
//! rt.join()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The pauses between the pieces only make separate reads likely; the
//! answers are the same either way, which is the point. Two rules keep this
//! cheap and safe. `on_data` must consume *every* complete message it is
//! given: the reactor offers the kept bytes again only with new bytes (or
//! after [`Ctx::resume_reading`](crate::Ctx::resume_reading)), not on its
//! own. And a protocol must bound what it leaves unconsumed; as a last line
//! of defence the reactor closes a connection whose kept input passes
//! [`ShardConfig::max_pending_input`](crate::ShardConfig::max_pending_input).
//!
//! ## 13. Timers: an idle timeout
//!
//! Each connection has one deadline. [`Ctx::set_deadline`](crate::Ctx::set_deadline)
//! replaces it; when it passes, [`Protocol::on_timer`](crate::Protocol::on_timer)
//! runs (by default it closes the connection). Moving the deadline later on
//! every message is the common case, and it costs one field write: the timer
//! wheel's entry is re-armed only when it comes due (step 7).
//!
//! ```
//! use std::io::{BufRead, BufReader, Read, Write};
//! use std::net::TcpStream;
//! use std::time::Duration;
//! use weir_reactor::{Ctx, Protocol, Runtime};
//!
//! const IDLE: Duration = Duration::from_millis(100);
//!
//! /// Echoes, and says goodbye to a connection silent for `IDLE`.
//! struct IdleEcho;
//!
//! impl Protocol for IdleEcho {
//!     type Conn = ();
//!     type Message = ();
//!
//!     fn on_open(&mut self, cx: &mut Ctx<'_, ()>) {
//!         cx.set_deadline(IDLE);
//!     }
//!
//!     fn on_data(&mut self, _: &mut (), cx: &mut Ctx<'_, ()>, data: &mut [u8]) -> usize {
//!         cx.write_copy(data);
//!         cx.set_deadline(IDLE); // later than before: no timer-wheel work
//!         data.len()
//!     }
//!
//!     fn on_timer(&mut self, _: &mut (), cx: &mut Ctx<'_, ()>) {
//!         cx.write_copy(b"idle, bye\n");
//!         cx.close(); // after the goodbye has been written
//!     }
//! }
//!
//! let rt = Runtime::builder().shards(1).listen("127.0.0.1:0".parse()?).serve(|_| IdleEcho)?;
//! let mut client = TcpStream::connect(rt.local_addrs()[0])?;
//! client.set_read_timeout(Some(Duration::from_secs(10)))?; // fail, never hang
//! let mut reader = BufReader::new(client.try_clone()?);
//!
//! client.write_all(b"ping\n")?;
//! let mut line = String::new();
//! reader.read_line(&mut line)?;
//! assert_eq!(line, "ping\n");
//!
//! // Say nothing more: the deadline passes, the server writes and closes.
//! let mut rest = String::new();
//! reader.read_to_string(&mut rest)?; // returns at the server's FIN
//! assert_eq!(rest, "idle, bye\n");
//!
//! rt.stop(Duration::from_secs(1));
//! rt.join()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A deadline never fires early and at most one wheel tick late
//! ([`ShardConfig::timer_tick`](crate::ShardConfig::timer_tick), 10 ms by
//! default). [`Ctx::clear_deadline`](crate::Ctx::clear_deadline) removes
//! it. One deadline per connection is enough for a server (head timeout,
//! then idle timeout, then write stall, one after the other); a protocol
//! that needs several keeps them in its own state and sets the earliest.
//!
//! ## 14. Work off the shard: the worker pool
//!
//! A shard runs every connection of its core, so a callback that computes
//! for a millisecond delays all of them by a millisecond. CPU-heavy or
//! blocking work goes to a [`WorkerPool`](crate::WorkerPool) with
//! [`Ctx::spawn`](crate::Ctx::spawn); its result comes back to the same
//! connection as a message, in [`Protocol::on_message`](crate::Protocol::on_message),
//! on the shard's thread again.
//!
//! ```
//! use std::io::{BufRead, BufReader, Write};
//! use std::net::TcpStream;
//! use std::time::Duration;
//! use weir_reactor::{Ctx, Protocol, Runtime, WorkerPool};
//!
//! /// Each line is a number n; the answer is the n-th Fibonacci number,
//! /// computed on the worker pool (slowly, on purpose).
//! struct Fibonacci {
//!     pool: WorkerPool,
//! }
//!
//! fn fib(n: u64) -> u64 {
//!     if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
//! }
//!
//! impl Protocol for Fibonacci {
//!     type Conn = ();
//!     type Message = u64; // what a job sends back
//!
//!     fn on_open(&mut self, _: &mut Ctx<'_, u64>) {}
//!
//!     fn on_data(&mut self, _: &mut (), cx: &mut Ctx<'_, u64>, data: &mut [u8]) -> usize {
//!         let mut consumed = 0;
//!         while let Some(nl) = data[consumed..].iter().position(|&b| b == b'\n') {
//!             let line = std::str::from_utf8(&data[consumed..consumed + nl]).unwrap_or("");
//!             consumed += nl + 1;
//!             let Ok(n @ 0..=60) = line.trim().parse::<u64>() else {
//!                 cx.write_copy(b"not a number up to 60\n");
//!                 continue;
//!             };
//!             // The closure runs on a worker thread; the shard goes on at once.
//!             if cx.spawn(&self.pool, move || fib(n)).is_err() {
//!                 cx.write_copy(b"busy\n"); // the pool's queue is full: say so, never wait
//!             }
//!         }
//!         consumed
//!     }
//!
//!     fn on_message(&mut self, _: &mut (), cx: &mut Ctx<'_, u64>, answer: u64) {
//!         cx.write_copy(format!("{answer}\n").as_bytes());
//!     }
//! }
//!
//! let pool = WorkerPool::new(2, 64); // 2 threads, at most 64 jobs waiting
//! let rt = Runtime::builder()
//!     .shards(1)
//!     .listen("127.0.0.1:0".parse()?)
//!     .serve(move |_| Fibonacci { pool: pool.clone() })?;
//! let mut client = TcpStream::connect(rt.local_addrs()[0])?;
//! let mut reader = BufReader::new(client.try_clone()?);
//! let exchanges = [("25\n", "75025\n"), ("x\n", "not a number up to 60\n"), ("10\n", "55\n")];
//! for (question, answer) in exchanges {
//!     client.write_all(question.as_bytes())?;
//!     let mut line = String::new();
//!     reader.read_line(&mut line)?;
//!     assert_eq!(line, answer);
//! }
//! rt.stop(Duration::from_secs(1));
//! rt.join()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The round trip: the job is queued without blocking (a full queue is
//! [`PoolFull`](crate::PoolFull) at once — answer "busy", as an HTTP server
//! answers 503); a worker runs it and sends the result to the connection's
//! [`Token`](crate::Token) through the shard's inbox, waking the shard with
//! its eventfd (step 8). If the connection closed meanwhile, the token is
//! stale and the result is dropped and counted; if the job panics,
//! [`Protocol::on_job_panicked`](crate::Protocol::on_job_panicked) runs
//! instead (by default: abort the connection). With several workers, two
//! jobs of one connection may finish in either order: a protocol that must
//! answer in order (HTTP/1.1 pipelining) holds a finished answer in a queue
//! of its own until the answers before it are ready.
//!
//! ## 15. Backpressure: a fast asker, a slow reader
//!
//! A client can send requests faster than it reads the answers — a slow
//! reader, or an attacker. If the server kept answering, the answers would
//! pile up in the connection's write queue without bound. The remedy is to
//! stop *reading* while output is piled up: the unread requests then wait in
//! the kernel's receive buffer, which fills, and TCP's flow control stops the
//! client. [`Ctx::pause_reading`](crate::Ctx::pause_reading) stops delivering
//! input, [`Ctx::notify_when_drained`](crate::Ctx::notify_when_drained) asks
//! for [`Protocol::on_writable`](crate::Protocol::on_writable) once the
//! queue is empty, and [`Ctx::resume_reading`](crate::Ctx::resume_reading)
//! there starts again — with the kept input first.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::TcpStream;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::sync::Arc;
//! use std::time::Duration;
//! use weir_reactor::{Ctx, Protocol, Runtime};
//!
//! /// Each line "n" asks for n KiB of output.
//! struct Blob {
//!     pauses: Arc<AtomicUsize>,
//! }
//!
//! /// Stop reading while more than this is waiting to be sent.
//! const HIGH_WATER: u64 = 64 * 1024;
//!
//! impl Protocol for Blob {
//!     type Conn = ();
//!     type Message = ();
//!
//!     fn on_open(&mut self, _: &mut Ctx<'_, ()>) {}
//!
//!     fn on_data(&mut self, _: &mut (), cx: &mut Ctx<'_, ()>, data: &mut [u8]) -> usize {
//!         let mut consumed = 0;
//!         while let Some(nl) = data[consumed..].iter().position(|&b| b == b'\n') {
//!             let line = std::str::from_utf8(&data[consumed..consumed + nl]).unwrap_or("");
//!             let kib: usize = line.trim().parse().unwrap_or(0).min(1024);
//!             consumed += nl + 1;
//!             cx.write(vec![b'x'; kib * 1024]); // queued, written when we return
//!             if cx.queued_bytes() > HIGH_WATER {
//!                 cx.pause_reading();
//!                 cx.notify_when_drained();
//!                 self.pauses.fetch_add(1, Ordering::Relaxed);
//!                 break; // the rest of `data` is kept and offered again on resume
//!             }
//!         }
//!         consumed
//!     }
//!
//!     fn on_writable(&mut self, _: &mut (), cx: &mut Ctx<'_, ()>) {
//!         cx.resume_reading(); // the queue is empty: take the next request
//!     }
//! }
//!
//! let pauses = Arc::new(AtomicUsize::new(0));
//! let counter = pauses.clone();
//! let rt = Runtime::builder()
//!     .shards(1)
//!     .listen("127.0.0.1:0".parse()?)
//!     .serve(move |_| Blob { pauses: counter.clone() })?;
//! let mut client = TcpStream::connect(rt.local_addrs()[0])?;
//! client.set_read_timeout(Some(Duration::from_secs(10)))?;
//!
//! // Eight requests at once, 2 MiB of answers, read only afterwards.
//! client.write_all("256\n".repeat(8).as_bytes())?;
//! let mut answers = vec![0; 8 * 256 * 1024];
//! client.read_exact(&mut answers)?;
//! assert!(answers.iter().all(|&b| b == b'x'));
//! // Each answer went over the high-water mark: one pause per request, so at
//! // most one answer was ever queued.
//! assert_eq!(pauses.load(Ordering::Relaxed), 8);
//!
//! rt.stop(Duration::from_secs(1));
//! rt.join()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Pausing costs no system call: the reactor only stops reading and
//! remembers that the socket is readable, so resuming reads at once without
//! asking epoll again. `on_writable` also runs on its own, without
//! `notify_when_drained`, whenever the queue empties after the socket had
//! been full: the place to queue the next piece of a long stream. The same
//! calls exist on the linked peer of a pair ([`Ctx::peer`](crate::Ctx::peer)):
//! a tunnel pauses the side that reads while the side that writes is full
//! (`reactor/tests/outbound.rs`, `Tunnel`).
//!
//! ## 16. Stopping gracefully
//!
//! [`Runtime::stop`](crate::Runtime::stop) asks every shard to stop within a
//! grace period. A shard closes its listeners (no new connections), calls
//! [`Protocol::on_shutdown`](crate::Protocol::on_shutdown), and exits once
//! its last connection has closed — or, when the grace period ends, closes
//! what is left. What "idle" means is the protocol's to say: here, a
//! connection inside a transaction may finish it.
//!
//! ```
//! use std::io::{BufRead, BufReader, Read, Write};
//! use std::net::TcpStream;
//! use std::time::Duration;
//! use weir_reactor::{Ctx, Protocol, Runtime, ShardCtx};
//!
//! /// Lines "begin" ... "end" make a transaction; other lines are echoed.
//! #[derive(Default)]
//! struct Transactions {
//!     stopping: bool,
//! }
//!
//! impl Protocol for Transactions {
//!     type Conn = bool; // inside a transaction?
//!     type Message = ();
//!
//!     fn on_open(&mut self, _: &mut Ctx<'_, ()>) -> bool {
//!         false
//!     }
//!
//!     fn on_data(&mut self, open: &mut bool, cx: &mut Ctx<'_, ()>, data: &mut [u8]) -> usize {
//!         let mut consumed = 0;
//!         while let Some(nl) = data[consumed..].iter().position(|&b| b == b'\n') {
//!             match &data[consumed..consumed + nl] {
//!                 b"begin" => {
//!                     *open = true;
//!                     cx.write_copy(b"ok\n");
//!                 }
//!                 b"end" => {
//!                     *open = false;
//!                     cx.write_copy(b"done\n");
//!                     if self.stopping {
//!                         cx.close(); // finished: now it may go
//!                     }
//!                 }
//!                 line => cx.write_copy(&[line, b"\n"].concat()),
//!             }
//!             consumed += nl + 1;
//!         }
//!         consumed
//!     }
//!
//!     fn on_shutdown(&mut self, shard: &mut ShardCtx<'_, Self>) {
//!         self.stopping = true;
//!         // Idle connections go now; one inside a transaction may finish it.
//!         shard.for_each(|open, cx| {
//!             if !*open {
//!                 cx.write_copy(b"bye\n");
//!                 cx.close();
//!             }
//!         });
//!     }
//! }
//!
//! let rt = Runtime::builder()
//!     .shards(1)
//!     .listen("127.0.0.1:0".parse()?)
//!     .serve(|_| Transactions::default())?;
//! let addr = rt.local_addrs()[0];
//! let talk = |stream: &mut TcpStream, line: &str| -> std::io::Result<String> {
//!     stream.write_all(line.as_bytes())?;
//!     let mut answer = String::new();
//!     BufReader::new(stream.try_clone()?).read_line(&mut answer)?;
//!     Ok(answer)
//! };
//! let mut idle = TcpStream::connect(addr)?;
//! let mut busy = TcpStream::connect(addr)?;
//! assert_eq!(talk(&mut idle, "hi\n")?, "hi\n"); // (both are served before the stop)
//! assert_eq!(talk(&mut busy, "begin\n")?, "ok\n");
//!
//! rt.stop(Duration::from_secs(10));
//! let mut rest = String::new();
//! idle.read_to_string(&mut rest)?; // on_shutdown has run: goodbye, then FIN
//! assert_eq!(rest, "bye\n");
//!
//! busy.write_all(b"end\n")?; // the open transaction finishes after the stop
//! let mut rest = String::new();
//! busy.read_to_string(&mut rest)?;
//! assert_eq!(rest, "done\n");
//!
//! rt.join()?; // every connection is gone: the shards have exited
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! (Reading one line through a fresh `BufReader` is safe here only because
//! each answer is one line and nothing else is in flight.) A server stops on
//! `SIGTERM`. Signal handlers may do almost nothing safely, so weir blocks
//! the signals in every thread and reads them from a signalfd as plain data
//! ([`sys::signal`](crate::sys::signal)); block them before the runtime
//! starts, because threads inherit the mask of the thread that spawns them:
//!
//! ```no_run
//! use std::time::Duration;
//! use weir_reactor::sys::signal::{SignalFd, SignalSet, SIGINT, SIGTERM};
//! use weir_reactor::{Ctx, Protocol, Runtime};
//! # struct Echo;
//! # impl Protocol for Echo {
//! #     type Conn = ();
//! #     type Message = ();
//! #     fn on_open(&mut self, _: &mut Ctx<'_, ()>) {}
//! #     fn on_data(&mut self, _: &mut (), cx: &mut Ctx<'_, ()>, d: &mut [u8]) -> usize {
//! #         cx.write_copy(d);
//! #         d.len()
//! #     }
//! # }
//!
//! let signals = SignalSet::new(&[SIGINT, SIGTERM])?;
//! signals.block()?; // first: the shard threads inherit the mask
//! let rt = Runtime::builder().listen("127.0.0.1:7000".parse()?).serve(|_| Echo)?;
//! SignalFd::new(&signals)?.wait()?; // blocks until SIGINT or SIGTERM
//! rt.stop(Duration::from_secs(10));
//! rt.join()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## 17. A client: opening connections
//!
//! A shard can open connections as well as accept them (step 10). A runtime
//! built without any listener is a client: its protocol opens connections
//! from [`Protocol::on_start`](crate::Protocol::on_start) with
//! [`ShardCtx::connect`](crate::ShardCtx::connect), giving each its state.
//! The connect runs in the background; [`Protocol::on_connected`](crate::Protocol::on_connected)
//! says it is established (output queued there leaves when it returns), and
//! [`Protocol::on_connect_failed`](crate::Protocol::on_connect_failed) hands
//! the state back if it is refused or times out.
//!
//! ```
//! use std::net::SocketAddr;
//! use std::sync::mpsc;
//! use std::time::Duration;
//! use weir_reactor::{ConnectOptions, Ctx, Protocol, Runtime, ShardCtx};
//!
//! /// The server: an echo.
//! struct Echo;
//!
//! impl Protocol for Echo {
//!     type Conn = ();
//!     type Message = ();
//!     fn on_open(&mut self, _: &mut Ctx<'_, ()>) {}
//!     fn on_data(&mut self, _: &mut (), cx: &mut Ctx<'_, ()>, data: &mut [u8]) -> usize {
//!         cx.write_copy(data);
//!         data.len()
//!     }
//! }
//!
//! /// The client: connects at start, says hello, reports the echo.
//! struct Hello {
//!     server: SocketAddr,
//!     report: mpsc::Sender<String>,
//! }
//!
//! impl Protocol for Hello {
//!     type Conn = Vec<u8>; // what has come back so far
//!     type Message = ();
//!
//!     fn on_start(&mut self, shard: &mut ShardCtx<'_, Self>) {
//!         let opts = ConnectOptions::default().timeout(Duration::from_secs(5));
//!         if let Err(e) = shard.connect(self.server, opts, Vec::new()) {
//!             let _ = self.report.send(format!("cannot connect: {e}"));
//!         }
//!     }
//!
//!     fn on_open(&mut self, _: &mut Ctx<'_, ()>) -> Vec<u8> {
//!         unreachable!("no listener: nothing is ever accepted")
//!     }
//!
//!     fn on_connected(&mut self, _: &mut Vec<u8>, cx: &mut Ctx<'_, ()>) {
//!         cx.write_copy(b"hello\n");
//!     }
//!
//!     fn on_data(&mut self, got: &mut Vec<u8>, cx: &mut Ctx<'_, ()>, data: &mut [u8]) -> usize {
//!         got.extend_from_slice(data);
//!         if got.ends_with(b"\n") {
//!             let _ = self.report.send(String::from_utf8_lossy(got).into_owned());
//!             cx.close();
//!         }
//!         data.len()
//!     }
//!
//!     fn on_connect_failed(&mut self, _: Vec<u8>, error: std::io::Error) {
//!         let _ = self.report.send(format!("failed: {error}"));
//!     }
//! }
//!
//! let server = Runtime::builder().shards(1).listen("127.0.0.1:0".parse()?).serve(|_| Echo)?;
//! let addr = server.local_addrs()[0];
//! let (report, reports) = mpsc::channel();
//! // No `listen`: a client runtime.
//! let client = Runtime::builder()
//!     .shards(1)
//!     .serve(move |_| Hello { server: addr, report: report.clone() })?;
//!
//! assert_eq!(reports.recv_timeout(Duration::from_secs(10))?, "hello\n");
//!
//! for rt in [client, server] {
//!     rt.stop(Duration::from_secs(1));
//!     rt.join()?;
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! From inside a connection's callback, [`Ctx::connect`](crate::Ctx::connect)
//! does the same, and [`ConnectOptions::linked`](crate::ConnectOptions::linked)
//! links the new connection to the asking one: the start of a proxy.
//! `reactor/tests/outbound.rs` has a complete TCP tunnel built that way, and
//! `weir bench` (`src/bench/`) is a load generator built on a client
//! runtime like this one.

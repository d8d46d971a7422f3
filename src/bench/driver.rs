//! The main thread's side of a run, shared by the workloads: a client
//! runtime of reactor shards (one per load thread, no listeners), the
//! commands the main thread sends them, the events they send back, the live
//! counters behind the progress line, and the stop.
//!
//! ```text
//!   main thread                             shard i (a reactor Protocol)
//!   start: Runtime, no listeners ─────────> on_start: ShardCtx::connect ...
//!          <──────────── Event::Ready ───── every connection open (or given up)
//!   Cmd::Go ──────────────────────────────> on_shard_message: the clock starts
//!   progress line <────── Live counters ─── on_tick, every 100 ms
//!          <───────── Event::Finished ───── the deadline passed, the quota is done
//!   Runtime::stop ────────────────────────> on_shutdown: Event::Done(results)
//!   join, merge, report
//! ```
//!
//! A shard never blocks: the warm-up that a blocking client would do with a
//! barrier is a pair of messages here (`Ready` up, `Go` down), so every
//! connection is open before any shard's clock starts.

use std::io::{self, IsTerminal, Write as _};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use weir_reactor::{Protocol, Runtime, ShardConfig};

/// How often a shard runs its housekeeping (`Protocol::on_tick`): request
/// timeouts, reconnects, live counters, the end of a timed run.
pub const TICK: Duration = Duration::from_millis(100);
/// The timer wheel's resolution: rate mode schedules sends to the millisecond.
pub const TIMER_TICK: Duration = Duration::from_millis(1);
/// [`TIMER_TICK`] in nanoseconds.
pub const TIMER_TICK_NS: u64 = 1_000_000;

/// What the main thread tells a shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    /// Broadcast: the publisher starts its warm-up messages.
    Warm,
    /// Start measuring.
    Go,
    /// Sent by a shard to itself: open the replacements asked for by
    /// connection callbacks. (`Ctx::connect` from a callback the shard is
    /// driving is not opened until some other connection is marked dirty,
    /// so replacements are opened from the shard's own context instead.)
    Reopen,
}

/// What a shard tells the main thread.
#[derive(Debug)]
pub enum Event<T> {
    /// Every connection of the shard is open (HTTP: connected; WebSocket:
    /// upgraded) or has given up; `error` is the first failure, if any.
    Ready {
        /// Connections open.
        open: usize,
        /// Why the others are not.
        error: Option<io::Error>,
    },
    /// Broadcast: every subscriber of the shard has heard from the publisher.
    Subscribed,
    /// The shard's measurement is over (its deadline, its quota, or the
    /// publisher's schedule).
    Finished,
    /// The shard's results, sent when the runtime stops it.
    Done(usize, T),
}

/// Live counters, written by a shard every [`TICK`], read by the main thread.
#[derive(Debug, Default)]
pub struct Live {
    /// Responses (messages) completed so far.
    pub completed: AtomicU64,
    /// Errors so far.
    pub errors: AtomicU64,
    /// Broadcast: messages published so far (the publisher's shard).
    pub published: AtomicU64,
}

/// How a shard reaches the main thread.
#[derive(Debug)]
pub struct ToMain<T> {
    /// The shard's index.
    pub id: usize,
    events: Sender<Event<T>>,
    lives: Arc<[Live]>,
}

impl<T> ToMain<T> {
    /// Sends an event (a main thread that has gone away is not an error).
    pub fn send(&self, event: Event<T>) {
        let _ = self.events.send(event);
    }

    /// This shard's live counters.
    pub fn live(&self) -> &Live {
        &self.lives[self.id]
    }
}

/// A shard's warm-up: counts its connections as they open or give up,
/// and sends [`Event::Ready`] once every one has.
#[derive(Debug)]
pub struct WarmUp {
    expected: usize,
    settled: usize,
    open: usize,
    error: Option<io::Error>,
}

impl WarmUp {
    /// Waiting for `expected` connections.
    pub fn new(expected: usize) -> WarmUp {
        WarmUp { expected, settled: 0, open: 0, error: None }
    }

    /// True once every connection has settled ([`Event::Ready`] was sent).
    pub fn is_done(&self) -> bool {
        self.settled >= self.expected
    }

    /// One more connection is open (`ok`) or has given up (`failure`: why).
    pub fn settle<T>(&mut self, ok: bool, failure: Option<io::Error>, link: &ToMain<T>) {
        self.settled += 1;
        if ok {
            self.open += 1;
        } else if self.error.is_none() {
            self.error = Some(failure.unwrap_or_else(|| io::Error::other("connection failed")));
        }
        if self.settled == self.expected {
            link.send(Event::Ready { open: self.open, error: self.error.take() });
        }
    }
}

/// A running set of load shards.
#[derive(Debug)]
pub struct Shards<T> {
    rt: Runtime<Cmd>,
    events: Receiver<Event<T>>,
    lives: Arc<[Live]>,
}

impl<T: Send + 'static> Shards<T> {
    /// Starts `threads` shards: a [`Runtime`] without listeners, so a
    /// client, with a 1 ms timer wheel and a 100 ms tick; `configure` may
    /// adjust the rest. `factory` builds each shard's protocol on its thread.
    ///
    /// # Errors
    ///
    /// The runtime's setup (epoll, eventfd, threads).
    pub fn start<P, F>(
        threads: usize,
        configure: impl FnOnce(&mut ShardConfig),
        factory: F,
    ) -> io::Result<Self>
    where
        P: Protocol<Message = Cmd>,
        F: Fn(ToMain<T>) -> P + Send + Sync + 'static,
    {
        let (tx, events) = mpsc::channel();
        let lives: Arc<[Live]> = (0..threads).map(|_| Live::default()).collect();
        let shared = lives.clone();
        let rt = Runtime::builder()
            .shards(threads)
            .configure(|c| {
                c.timer_tick = TIMER_TICK;
                c.tick = Some(TICK);
                configure(c);
            })
            .serve(move |info| factory(ToMain { id: info.id, events: tx.clone(), lives: shared.clone() }))?;
        Ok(Shards { rt, events, lives })
    }

    /// The next event, or `None` after `timeout`.
    pub fn next_event(&self, timeout: Duration) -> Option<Event<T>> {
        self.events.recv_timeout(timeout).ok()
    }

    /// Waits for every shard's [`Event::Ready`]. A shard with no
    /// connection open fails the run; with `require_all`, so does any
    /// connection that could not be opened.
    ///
    /// # Errors
    ///
    /// A shard's first failure (with `addr` for context), or no answer in `timeout`.
    pub fn wait_ready(&self, addr: SocketAddr, timeout: Duration, require_all: bool) -> io::Result<()> {
        self.ready(timeout, require_all)
            .map_err(|e| io::Error::new(e.kind(), format!("connect to {addr}: {e}")))
    }

    fn ready(&self, timeout: Duration, require_all: bool) -> io::Result<()> {
        let deadline = Instant::now() + timeout;
        let mut ready = 0;
        while ready < self.lives.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_event(left) {
                Some(Event::Ready { open, error: Some(e), .. }) if open == 0 || require_all => return Err(e),
                Some(Event::Ready { open: 0, .. }) => {
                    return Err(io::Error::other("no connection could be opened"))
                }
                Some(Event::Ready { .. }) => ready += 1,
                Some(_) => {}
                None => return Err(io::Error::new(io::ErrorKind::TimedOut, "connections not ready in time")),
            }
        }
        Ok(())
    }

    /// Sends `cmd` to shard `shard`.
    pub fn send(&self, shard: usize, cmd: Cmd) {
        self.rt.handles()[shard].send_to_shard(cmd);
    }

    /// Sends `cmd` to every shard.
    pub fn send_all(&self, cmd: Cmd) {
        for h in self.rt.handles().iter() {
            h.send_to_shard(cmd);
        }
    }

    /// The sum of one live counter over the shards.
    pub fn live_sum(&self, counter: impl Fn(&Live) -> &AtomicU64) -> u64 {
        self.lives.iter().map(|l| counter(l).load(Ordering::Relaxed)).sum()
    }

    /// Stops every shard ([`Runtime::stop`]: each sends [`Event::Done`] from
    /// `on_shutdown` and drops its connections), waits for them, and returns
    /// their results in shard order.
    ///
    /// # Errors
    ///
    /// A shard that failed or panicked.
    pub fn finish(self) -> io::Result<Vec<T>> {
        self.rt.stop(Duration::ZERO);
        self.rt.join()?;
        let mut done: Vec<(usize, T)> = self
            .events
            .try_iter()
            .filter_map(|e| match e {
                Event::Done(id, t) => Some((id, t)),
                _ => None,
            })
            .collect();
        if done.len() != self.lives.len() {
            return Err(io::Error::other("a load thread ended without its results"));
        }
        done.sort_by_key(|(id, _)| *id);
        Ok(done.into_iter().map(|(_, t)| t).collect())
    }
}

/// The progress line (terminals only): rate over the last second, totals.
#[derive(Debug)]
pub struct Progress {
    tty: bool,
    started: Instant,
    last: (Instant, u64),
}

impl Progress {
    /// Shown on stderr if it is a terminal and the output is not JSON.
    pub fn new(json: bool) -> Progress {
        let now = Instant::now();
        Progress { tty: io::stderr().is_terminal() && !json, started: now, last: (now, 0) }
    }

    /// Redraws the line if a second has passed.
    pub fn update(&mut self, done: u64, errors: u64) {
        let now = Instant::now();
        if !self.tty || now - self.last.0 < Duration::from_secs(1) {
            return;
        }
        let rate = done.saturating_sub(self.last.1) as f64 / (now - self.last.0).as_secs_f64();
        eprint!(
            "\r\x1b[2K  {:>6.1}s  {rate:>12.0} /s  {done:>12} done  {errors} errors",
            (now - self.started).as_secs_f64()
        );
        let _ = io::stderr().flush();
        self.last = (now, done);
    }

    /// Erases the line.
    pub fn clear(&self) {
        if self.tty {
            eprint!("\r\x1b[2K");
        }
    }
}

/// Nanoseconds from `epoch` to `t` (0 if `t` is earlier).
pub fn ns_since(epoch: Instant, t: Instant) -> u64 {
    let d = t.saturating_duration_since(epoch);
    d.as_secs() * 1_000_000_000 + u64::from(d.subsec_nanos())
}

/// How a request can fail, as reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// `connect(2)` failed or timed out.
    Connect,
    /// Reading failed (e.g. reset by peer).
    Read,
    /// Writing failed (broken pipe).
    Write,
    /// No complete response within `--timeout`.
    Timeout,
    /// The server closed the connection with requests outstanding.
    Closed,
    /// A response that could not be delimited, or a failed WebSocket handshake.
    Parse,
    /// A TLS handshake or record the client refused (a plaintext server,
    /// a certificate that does not verify, a protocol error).
    Tls,
    /// A 4xx response (counted as a response too).
    Status4xx,
    /// A 5xx response (counted as a response too).
    Status5xx,
}

impl ErrorKind {
    /// Every kind, in report order.
    pub const ALL: [ErrorKind; 9] = [
        ErrorKind::Connect,
        ErrorKind::Read,
        ErrorKind::Write,
        ErrorKind::Timeout,
        ErrorKind::Closed,
        ErrorKind::Parse,
        ErrorKind::Tls,
        ErrorKind::Status4xx,
        ErrorKind::Status5xx,
    ];

    /// The name used in reports and JSON.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Read => "read",
            ErrorKind::Write => "write",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Closed => "closed",
            ErrorKind::Parse => "parse",
            ErrorKind::Tls => "tls",
            ErrorKind::Status4xx => "status_4xx",
            ErrorKind::Status5xx => "status_5xx",
        }
    }

    /// The kind of a connection the reactor closed on a socket error: the
    /// reactor does not say whether a read or a write failed, but a broken
    /// pipe only comes from writing, and `InvalidData` only from a TLS
    /// transport (no system call reports it).
    pub fn of_socket_error(kind: io::ErrorKind) -> ErrorKind {
        match kind {
            io::ErrorKind::BrokenPipe => ErrorKind::Write,
            io::ErrorKind::InvalidData => ErrorKind::Tls,
            _ => ErrorKind::Read,
        }
    }
}

/// Error counters, indexed like [`ErrorKind::ALL`].
pub type Errors = [u64; ErrorKind::ALL.len()];

/// A small, fast PRNG (xorshift64*): masking keys, handshake keys and
/// schedule jitter need variety, not cryptographic strength.
#[derive(Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seeded from the clock and `salt`.
    pub fn new(salt: u64) -> Rng {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        Rng((t ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Four random bytes: a WebSocket masking key.
    pub fn mask(&mut self) -> [u8; 4] {
        let b = self.next_u64().to_le_bytes();
        [b[0], b[1], b[2], b[3]]
    }
}

//! One load thread: a small client-side event loop built from the reactor's
//! parts (`sys::epoll`, `sys::io_ops`, `token::Slab`, `timer::TimerWheel`).
//!
//! The server side of weir *accepts* connections; a load generator *opens*
//! them, so it cannot use `Runtime` (which owns listeners). The loop is the
//! same shape, though, and the same rules hold: every socket registered
//! once, edge-triggered, read until a short read, written until the kernel
//! takes less than offered; tokens carry a generation so an event for a
//! socket that was closed and replaced in the same batch is dropped.
//!
//! ```text
//!   connect all (blocking connect on loopback is immediate) -> barrier
//!   loop:
//!     epoll_wait(timeout = min(next send tick, next housekeeping, end))
//!     readable -> read into scratch -> framing reader -> Completion
//!                 -> record (now - start) in the histogram -> pump (write)
//!     writable -> flush the connection's pending output
//!     timer    -> pump (rate mode: the next request is due)
//!     every 100 ms: request timeouts, reconnects, publish live counters
//! ```
//!
//! # Latency and coordinated omission
//!
//! Each connection keeps a FIFO of *start times*, one per request in
//! flight; a response pops the oldest (responses come in request order).
//! In closed-loop mode (the default, like wrk) the start is the moment the
//! request is written, so a server stall that stops the generator from
//! sending hides the requests it would have sent: the classic coordinated
//! omission. In rate mode (`-R`, like wrk2) each connection has a fixed
//! schedule, and the start is the *intended* send time: a request that goes
//! out late because the previous answer was slow is charged for the wait.
//! Sends are driven by a 1 ms timer wheel and may go out up to one tick
//! early; the start is then the actual send time, never a time in the future.

use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use weir_reactor::sys::epoll::{self, Epoll, Events};
use weir_reactor::sys::io_ops;
use weir_reactor::timer::{Entry, TimerWheel};
use weir_reactor::token::{Slab, Token};

use super::framing::{Completion, ResponseReader, WsReader, MAX_HEAD_LEN};
use super::histogram::Histogram;

/// Bytes taken by one `read(2)`.
const READ_SCRATCH_LEN: usize = 64 * 1024;
/// Timeouts, reconnects and live counters are handled this often.
const HOUSEKEEPING_NS: u64 = 100_000_000;
/// The rate-mode timer resolution (one wheel tick).
const TICK_NS: u64 = 1_000_000;

/// How a request can fail, as reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// `connect(2)` failed or timed out.
    Connect,
    /// `read(2)` failed (e.g. reset by peer).
    Read,
    /// `write(2)` failed.
    Write,
    /// No complete response within `--timeout`.
    Timeout,
    /// The server closed the connection with requests outstanding.
    Closed,
    /// A response that could not be delimited, or a failed WebSocket handshake.
    Parse,
    /// A 4xx response (counted as a response too).
    Status4xx,
    /// A 5xx response (counted as a response too).
    Status5xx,
}

impl ErrorKind {
    /// Every kind, in report order.
    pub const ALL: [ErrorKind; 8] = [
        ErrorKind::Connect,
        ErrorKind::Read,
        ErrorKind::Write,
        ErrorKind::Timeout,
        ErrorKind::Closed,
        ErrorKind::Parse,
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
            ErrorKind::Status4xx => "status_4xx",
            ErrorKind::Status5xx => "status_5xx",
        }
    }
}

/// What every connection of every shard sends: fixed for the run.
#[derive(Debug)]
pub struct Plan {
    /// The target address.
    pub addr: SocketAddr,
    /// One request (HTTP) repeated `depth` times, or `None` for WebSocket.
    pub http_batch: Option<Vec<u8>>,
    /// For WebSocket: the upgrade request head without `Sec-WebSocket-Key`
    /// and the final CRLF; and the message payload size.
    pub ws: Option<(String, usize)>,
    /// Requests (or messages) in flight per connection.
    pub depth: usize,
    /// Responses carry no body (`--method HEAD`).
    pub head_method: bool,
    /// Open a new connection after each response (`--close`).
    pub close_each: bool,
    /// Rate mode: nanoseconds between requests on one connection.
    pub interval_ns: Option<u64>,
    /// Per-request timeout.
    pub timeout: Duration,
}

/// Live counters, written by the shard, read by the progress line.
#[derive(Debug, Default)]
pub struct Live {
    /// Responses completed so far.
    pub completed: AtomicU64,
    /// Errors so far.
    pub errors: AtomicU64,
}

/// What a shard measured.
#[derive(Debug)]
pub struct Tally {
    /// Latency of every response, in nanoseconds.
    pub latency: Histogram,
    /// Responses (or WebSocket messages) completed.
    pub completed: u64,
    /// Bytes read from the sockets.
    pub bytes_read: u64,
    /// Errors, indexed like [`ErrorKind::ALL`].
    pub errors: [u64; ErrorKind::ALL.len()],
    /// When the shard started sending, after the barrier.
    pub started: Instant,
    /// When the shard stopped (its deadline, or its last response).
    pub finished: Instant,
}

impl Tally {
    fn error(&mut self, kind: ErrorKind) {
        self.errors[kind as usize] += 1;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// WebSocket: upgrade request sent, waiting for `101`.
    Upgrading,
    Open,
    /// The server announced a close: wait for its FIN, then reconnect.
    Closing,
}

#[derive(Debug)]
enum Reader {
    Http(ResponseReader),
    Ws(WsReader),
}

#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    phase: Phase,
    reader: Reader,
    /// Unconsumed input: a partial head or chunk-size line.
    rbuf: Vec<u8>,
    /// Output not yet taken by the kernel.
    out: Vec<u8>,
    out_pos: usize,
    /// The last write was complete: the socket may take more.
    writable: bool,
    /// Start times (ns since the epoch) of the requests in flight, oldest first.
    inflight: VecDeque<u64>,
    /// Since when the oldest outstanding request has waited for bytes.
    waiting_since: u64,
    /// Rate mode: the intended start of the next request.
    next_due: u64,
    timer_armed: bool,
    /// WebSocket: the expected `Sec-WebSocket-Accept`.
    ws_accept: [u8; weir_ws::handshake::ACCEPT_KEY_LEN],
}

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
}

/// The thread's state.
struct Shard<'a> {
    plan: &'a Plan,
    epoll: Epoll,
    conns: Slab<Conn>,
    wheel: TimerWheel,
    scratch: Vec<u8>,
    tally: Tally,
    epoch: Instant,
    rng: Rng,
    /// The WebSocket message frame, masked, repeated `depth` times.
    ws_batch: Vec<u8>,
    /// Requests this shard may still start (`-n`), `None` for a timed run.
    quota: Option<u64>,
    /// Requests in flight on all connections.
    outstanding: u64,
    /// Connections to reopen at the next housekeeping.
    dead: usize,
    running: bool,
}

/// Runs one shard: opens `conns` connections, waits at `barrier`, then loads
/// the target until `end` (a timed run), until `quota` requests are done, or
/// until `stop` is set.
///
/// # Errors
///
/// Failing to create the epoll instance or to open the first connection.
#[allow(clippy::too_many_arguments)]
pub fn run(
    plan: &Plan,
    index: usize,
    conns: usize,
    quota: Option<u64>,
    duration: Option<Duration>,
    barrier: &Barrier,
    stop: &AtomicBool,
    live: &Arc<Live>,
) -> io::Result<Tally> {
    let epoch = Instant::now();
    let mut rng = Rng::new(index as u64 + 1);
    let mut ws_batch = Vec::new();
    if let Some((_, size)) = &plan.ws {
        let payload: Vec<u8> = (0..*size).map(|i| b'a' + (i % 26) as u8).collect();
        for _ in 0..plan.depth {
            let mask = rng.next_u64().to_le_bytes();
            let op = weir_ws::frame::OpCode::Binary;
            weir_ws::frame::encode_frame_masked(
                true,
                op,
                false,
                &payload,
                [mask[0], mask[1], mask[2], mask[3]],
                &mut ws_batch,
            );
        }
    }
    let mut shard = Shard {
        plan,
        epoll: Epoll::new()?,
        conns: Slab::new(),
        wheel: TimerWheel::new(1, 1024),
        scratch: vec![0; READ_SCRATCH_LEN],
        tally: Tally {
            latency: Histogram::new(),
            completed: 0,
            bytes_read: 0,
            errors: [0; ErrorKind::ALL.len()],
            started: epoch,
            finished: epoch,
        },
        epoch,
        rng,
        ws_batch,
        quota,
        outstanding: 0,
        dead: 0,
        running: false,
    };
    let mut first_error = None;
    for _ in 0..conns {
        if let Err(e) = shard.open(0) {
            first_error.get_or_insert(e);
        }
    }
    // Every shard reaches the barrier, even a failing one, so none waits forever.
    barrier.wait();
    if let Some(e) = first_error {
        if shard.conns.is_empty() {
            return Err(io::Error::new(e.kind(), format!("connect to {}: {e}", plan.addr)));
        }
    }
    shard.running = true;
    shard.tally.started = Instant::now();
    let start = shard.now();
    let end = duration.map(|d| start + d.as_nanos() as u64);
    for token in shard.conns.tokens() {
        if let Some(c) = shard.conns.get_mut(token) {
            // Rate mode: spread the connections' schedules over one interval.
            c.next_due = start + plan.interval_ns.map_or(0, |iv| shard.rng.next_u64() % iv.max(1));
            c.waiting_since = start;
        }
        shard.flush(token); // the WebSocket upgrade requests
        shard.pump(token, start);
    }
    shard.event_loop(end, stop, live)?;
    Ok(shard.tally)
}

impl Shard<'_> {
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    fn quota_left(&self) -> bool {
        self.quota != Some(0)
    }

    fn event_loop(&mut self, end: Option<u64>, stop: &AtomicBool, live: &Live) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        let mut fired: Vec<Entry> = Vec::new();
        let mut housekeeping = self.now() + HOUSEKEEPING_NS;
        loop {
            let now = self.now();
            let done = self.quota == Some(0) && self.outstanding == 0;
            if done || end.is_some_and(|e| now >= e) || stop.load(Ordering::Relaxed) {
                self.tally.finished = if done {
                    Instant::now()
                } else {
                    self.epoch + Duration::from_nanos(end.unwrap_or(now).min(now))
                };
                self.publish(live);
                return Ok(());
            }
            if now >= housekeeping {
                self.housekeeping(now);
                self.publish(live);
                housekeeping = now + HOUSEKEEPING_NS;
            }
            let mut wait_ns = housekeeping.saturating_sub(now);
            if let Some(e) = end {
                wait_ns = wait_ns.min(e.saturating_sub(now));
            }
            if let Some(ms) = self.wheel.next_timeout_ms(now / TICK_NS) {
                wait_ns = wait_ns.min(ms * TICK_NS);
            }
            // Round up so a wait never ends just before its deadline.
            let timeout_ms = wait_ns.div_ceil(1_000_000).min(i32::MAX as u64) as i32;
            self.epoll.wait(&mut events, timeout_ms)?;
            let now = self.now();
            for (data, mask) in events.iter() {
                let token = Token::from_u64(data);
                if mask & epoll::WRITABLE != 0 {
                    if let Some(c) = self.conns.get_mut(token) {
                        c.writable = true;
                    }
                    self.flush(token);
                }
                if mask & (epoll::READABLE | epoll::READ_HUP | epoll::HUP | epoll::ERROR) != 0 {
                    let hup = mask & (epoll::READ_HUP | epoll::HUP | epoll::ERROR) != 0;
                    self.on_readable(token, now, hup);
                }
            }
            fired.clear();
            self.wheel.advance(now / TICK_NS, &mut fired);
            for entry in &fired {
                if let Some(c) = self.conns.get_mut(entry.token) {
                    c.timer_armed = false;
                }
                self.pump(entry.token, now);
            }
        }
    }

    fn publish(&self, live: &Live) {
        live.completed.store(self.tally.completed, Ordering::Relaxed);
        live.errors.store(self.tally.errors.iter().sum(), Ordering::Relaxed);
    }

    /// Opens one connection and registers it. `now` is 0 before the start.
    fn open(&mut self, now: u64) -> io::Result<Token> {
        let stream = match TcpStream::connect_timeout(&self.plan.addr, self.plan.timeout) {
            Ok(s) => s,
            Err(e) => {
                if self.running {
                    self.tally.error(ErrorKind::Connect);
                    // A failed connection attempt uses up a request of a
                    // counted run, so a dead target cannot make it hang.
                    if let Some(q) = &mut self.quota {
                        *q = q.saturating_sub(1);
                    }
                }
                self.dead += 1;
                return Err(e);
            }
        };
        stream.set_nodelay(true)?;
        stream.set_nonblocking(true)?;
        let reader = match self.plan.ws {
            Some(_) => Reader::Ws(WsReader::new()),
            None => Reader::Http(ResponseReader::new(self.plan.head_method)),
        };
        let mut conn = Conn {
            stream,
            phase: if self.plan.ws.is_some() { Phase::Upgrading } else { Phase::Open },
            reader,
            rbuf: Vec::new(),
            out: Vec::new(),
            out_pos: 0,
            writable: true,
            inflight: VecDeque::with_capacity(self.plan.depth),
            waiting_since: now,
            next_due: now,
            timer_armed: false,
            ws_accept: [0; weir_ws::handshake::ACCEPT_KEY_LEN],
        };
        if let Some((head, _)) = &self.plan.ws {
            let key_bytes = [self.rng.next_u64().to_le_bytes(), self.rng.next_u64().to_le_bytes()].concat();
            let mut key = Vec::new();
            weir_ws::base64::encode(&key_bytes, &mut key);
            conn.ws_accept = weir_ws::handshake::accept_key(&key);
            conn.out.extend_from_slice(head.as_bytes());
            conn.out.extend_from_slice(b"Sec-WebSocket-Key: ");
            conn.out.extend_from_slice(&key);
            conn.out.extend_from_slice(b"\r\n\r\n");
        }
        let events = epoll::READABLE | epoll::WRITABLE | epoll::READ_HUP | epoll::EDGE;
        let token = self.conns.insert(conn);
        let conn = self.conns.get(token).expect("just inserted");
        if let Err(e) = self.epoll.add(&conn.stream, events, token.as_u64()) {
            self.conns.remove(token);
            return Err(e);
        }
        if self.running {
            self.flush(token);
        }
        Ok(token)
    }

    /// Drops a connection; its requests in flight are lost. Reopens it at
    /// once while the run goes on.
    fn close(&mut self, token: Token, now: u64, error: Option<ErrorKind>) {
        let Some(conn) = self.conns.remove(token) else { return };
        if let Some(kind) = error {
            self.tally.error(kind);
        }
        self.outstanding -= conn.inflight.len() as u64;
        drop(conn); // closing the fd also removes it from the epoll set
        if self.running && self.quota_left() {
            if let Ok(t) = self.open(now) {
                self.pump(t, now);
            }
        }
    }

    /// Starts as many requests as the plan allows and flushes them.
    fn pump(&mut self, token: Token, now: u64) {
        let plan = self.plan;
        let Some(conn) = self.conns.get_mut(token) else { return };
        if conn.phase != Phase::Open {
            return;
        }
        let mut n = 0;
        while conn.inflight.len() < plan.depth && self.quota != Some(0) {
            let start = match plan.interval_ns {
                None => now,
                Some(iv) => {
                    if conn.next_due > now + TICK_NS {
                        if !conn.timer_armed {
                            self.wheel.schedule(token, conn.next_due / TICK_NS);
                            conn.timer_armed = true;
                        }
                        break;
                    }
                    let due = conn.next_due;
                    conn.next_due += iv;
                    due.max(now)
                }
            };
            if conn.inflight.is_empty() {
                conn.waiting_since = now;
            }
            conn.inflight.push_back(start);
            if let Some(q) = &mut self.quota {
                *q -= 1;
            }
            n += 1;
        }
        if n == 0 {
            return;
        }
        self.outstanding += n as u64;
        let batch = plan.http_batch.as_deref().unwrap_or(&self.ws_batch);
        let unit = batch.len() / plan.depth;
        conn.out.extend_from_slice(&batch[..n * unit]);
        // Written at once, not after the whole batch of events: deferring
        // the writes hands the server bigger batches and measurably raised
        // nginx's rate above what wrk gets from it (see BENCHMARKS.md).
        self.flush(token);
    }

    /// Writes pending output until the kernel takes less than offered.
    fn flush(&mut self, token: Token) {
        let Some(conn) = self.conns.get_mut(token) else { return };
        while conn.writable && conn.out_pos < conn.out.len() {
            let want = conn.out.len() - conn.out_pos;
            match io_ops::write(&conn.stream, &conn.out[conn.out_pos..]) {
                Ok(n) => {
                    conn.out_pos += n;
                    // A short write means the socket buffer is full: the
                    // EPOLLOUT edge will say when it has room again.
                    conn.writable = n == want;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => conn.writable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    let now = self.now();
                    return self.close(token, now, Some(ErrorKind::Write));
                }
            }
        }
        if conn.out_pos == conn.out.len() {
            conn.out.clear();
            conn.out_pos = 0;
        }
    }

    /// Reads until a short read (or, when the peer hung up, until EOF: the
    /// edge that announced the FIN will not come again).
    fn on_readable(&mut self, token: Token, now: u64, hup: bool) {
        loop {
            let Some(conn) = self.conns.get_mut(token) else { return };
            match io_ops::read(&conn.stream, &mut self.scratch) {
                Ok(0) => return self.on_eof(token, now),
                Ok(n) => {
                    self.tally.bytes_read += n as u64;
                    match consume(conn, &self.scratch[..n], now, &mut self.tally) {
                        Ok(completed) => {
                            self.outstanding -= completed;
                            // --close, and the server kept the connection
                            // open anyway: close it ourselves.
                            if self.plan.close_each && completed > 0 && conn.phase == Phase::Open {
                                return self.close(token, now, None);
                            }
                            self.pump(token, now);
                        }
                        Err(kind) => return self.close(token, now, Some(kind)),
                    }
                    if n < self.scratch.len() && !hup {
                        return; // a short read drained the socket
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.close(token, now, Some(ErrorKind::Read)),
            }
        }
    }

    fn on_eof(&mut self, token: Token, now: u64) {
        let Some(conn) = self.conns.get_mut(token) else { return };
        if let Reader::Http(r) = &mut conn.reader {
            match r.finish() {
                Ok(Some(c)) => {
                    if record(conn, c, now, &mut self.tally).is_ok() {
                        self.outstanding -= 1;
                    }
                }
                Ok(None) => {}
                Err(_) => return self.close(token, now, Some(ErrorKind::Closed)),
            }
        }
        let error =
            (!conn.inflight.is_empty() || conn.phase == Phase::Upgrading).then_some(ErrorKind::Closed);
        self.close(token, now, error);
    }

    /// Timeouts and reconnects.
    fn housekeeping(&mut self, now: u64) {
        let timeout = self.plan.timeout.as_nanos() as u64;
        for token in self.conns.tokens() {
            let Some(c) = self.conns.get(token) else { continue };
            if now.saturating_sub(c.waiting_since) <= timeout {
                continue;
            }
            if !c.inflight.is_empty() || c.phase == Phase::Upgrading {
                self.close(token, now, Some(ErrorKind::Timeout));
            } else if c.phase == Phase::Closing {
                self.close(token, now, None); // announced a close, never sent FIN
            }
        }
        let dead = std::mem::take(&mut self.dead);
        for _ in 0..dead {
            if self.quota_left() {
                if let Ok(t) = self.open(now) {
                    self.pump(t, now);
                }
            }
        }
    }
}

/// Feeds `data` to the connection's reader; returns how many requests completed.
fn consume(conn: &mut Conn, data: &[u8], now: u64, tally: &mut Tally) -> Result<u64, ErrorKind> {
    let mut tail = std::mem::take(&mut conn.rbuf);
    let buf: &[u8] = if tail.is_empty() {
        data
    } else {
        tail.extend_from_slice(data);
        &tail
    };
    let mut pos = 0;
    let mut completed = 0;
    let result = loop {
        if conn.phase == Phase::Upgrading {
            match check_upgrade(&buf[pos..], &conn.ws_accept) {
                Ok(Some(n)) => {
                    pos += n;
                    conn.phase = Phase::Open;
                    continue;
                }
                Ok(None) => break Ok(completed),
                Err(kind) => break Err(kind),
            }
        }
        let step = match &mut conn.reader {
            Reader::Http(r) => r.feed(&buf[pos..]),
            Reader::Ws(r) => r.feed(&buf[pos..]),
        };
        let (n, done) = match step {
            Ok(x) => x,
            Err(_) => break Err(ErrorKind::Parse),
        };
        pos += n;
        match done {
            Some(c) => {
                if let Err(kind) = record(conn, c, now, tally) {
                    break Err(kind);
                }
                completed += 1;
            }
            None => break Ok(completed),
        }
    };
    // Keep the unconsumed tail (a partial head) for the next read.
    if pos < buf.len() {
        let rest = buf[pos..].to_vec();
        conn.rbuf = rest;
    } else if !tail.is_empty() {
        tail.clear();
        conn.rbuf = tail;
    }
    result
}

/// Accounts for one completed response.
fn record(conn: &mut Conn, c: Completion, now: u64, tally: &mut Tally) -> Result<(), ErrorKind> {
    let start = conn.inflight.pop_front().ok_or(ErrorKind::Parse)?; // a response nobody asked for
    conn.waiting_since = now;
    tally.latency.record(now.saturating_sub(start));
    tally.completed += 1;
    match c.status {
        400..=499 => tally.error(ErrorKind::Status4xx),
        500..=599 => tally.error(ErrorKind::Status5xx),
        _ => {}
    }
    if c.close {
        conn.phase = Phase::Closing;
    }
    Ok(())
}

/// Checks the server's answer to the upgrade request (RFC 6455 §4.1: status
/// 101 and `Sec-WebSocket-Accept` = base64(SHA-1(key ++ GUID))). Returns the
/// head's length, or `None` while it is incomplete.
fn check_upgrade(buf: &[u8], expected: &[u8]) -> Result<Option<usize>, ErrorKind> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() > MAX_HEAD_LEN { Err(ErrorKind::Parse) } else { Ok(None) };
    };
    let head = &buf[..end];
    if !head.starts_with(b"HTTP/1.1 101") {
        return Err(match head.get(9) {
            Some(b'4') => ErrorKind::Status4xx,
            Some(b'5') => ErrorKind::Status5xx,
            _ => ErrorKind::Parse,
        });
    }
    let accepted = head.split(|&b| b == b'\n').any(|line| {
        line.split_once_colon().is_some_and(|(name, value)| {
            name.eq_ignore_ascii_case(b"sec-websocket-accept") && value.trim_ascii() == expected
        })
    });
    if accepted {
        Ok(Some(end + 4))
    } else {
        Err(ErrorKind::Parse)
    }
}

trait SplitColon {
    fn split_once_colon(&self) -> Option<(&[u8], &[u8])>;
}

impl SplitColon for [u8] {
    fn split_once_colon(&self) -> Option<(&[u8], &[u8])> {
        let i = self.iter().position(|&b| b == b':')?;
        Some((&self[..i], &self[i + 1..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrade_response_is_checked() {
        let key = b"dGhlIHNhbXBsZSBub25jZQ==";
        let accept = weir_ws::handshake::accept_key(key);
        let ok = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x00";
        assert_eq!(check_upgrade(ok, &accept), Ok(Some(ok.len() - 2)));
        assert_eq!(check_upgrade(&ok[..40], &accept), Ok(None));
        assert_eq!(check_upgrade(b"HTTP/1.1 404 Not Found\r\n\r\n", &accept), Err(ErrorKind::Status4xx));
        let wrong = b"HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n";
        assert_eq!(check_upgrade(wrong, &accept), Err(ErrorKind::Parse));
    }
}

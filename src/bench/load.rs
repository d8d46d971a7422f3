//! The request/response load — HTTP keep-alive, pipelined, a connection per
//! request, WebSocket echo — as a reactor [`Protocol`]: what one load
//! thread (one shard) does for each of its connections.
//!
//! The server side of weir *accepts* connections; a load generator *opens*
//! them. The reactor does both: a runtime without listeners is a client,
//! whose shards open connections with [`ShardCtx::connect`]. Everything
//! else is the server's loop — edge-triggered epoll, reads until a short
//! read, output written with one `write(2)` when a callback returns,
//! generational tokens, the timer wheel — and this file only says what a
//! connection means:
//!
//! ```text
//!   on_start      open this shard's share of -c (non-blocking connects)
//!   on_connected  TLS: start the transport (tls.rs); then
//!                 HTTP: ready (TLS keep-alive warm-up: one untimed request);
//!                 WebSocket: send the upgrade request
//!   on_data       upgrading: check the 101, then ready
//!                 TLS warm-up: its response, then ready
//!                 ready -> Event::Ready once all are (the main thread answers Go)
//!                 framing.rs reader -> Completion -> pop the oldest start time
//!                 -> histogram -> pump: the next requests (one write(2))
//!   on_timer      rate mode: the connection's next request is due
//!   on_eof        a close-delimited body ends; reconnect (--close: each time)
//!   on_close      a socket error the reactor saw: counted, reopened
//!   on_tick       every 100 ms: request timeouts, reconnects, live
//!                 counters, the end of a timed run
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
//! Sends are driven by the connection's deadline on a 1 ms timer wheel
//! ([`Ctx::set_deadline_ms`]) and may go out up to one tick early; the start
//! is then the actual send time, never a time in the future.
//!
//! Times are the shard's loop-turn clock ([`Ctx::now`]): a response is
//! stamped when the `epoll_wait` that reported it returned.
//!
//! # TLS
//!
//! The reactor tells a client protocol when `connect(2)` completes, not
//! when the TLS handshake does. So that the handshakes of the warm-up's
//! connections are not charged to the first requests of a keep-alive run,
//! each such connection sends one request before the clock starts and is
//! ready when its response arrives (a WebSocket connection has its upgrade
//! for that). A connection opened while the run goes on — every one with
//! `--close`, a replacement otherwise — charges its handshake to its first
//! request, as it charges the TCP connect it waited for.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use weir_reactor::{CloseReason, ConnectOptions, Ctx, Protocol, ShardCtx, ShardHandle};

use super::driver::{
    ns_since, Cmd, ErrorKind, Errors, Event, Progress, Rng, Shards, ToMain, WarmUp, TIMER_TICK_NS,
};
use super::framing::{Completion, ResponseReader, WsReader};
use super::histogram::Histogram;
use super::tls::ClientTls;
use super::ws_client::{check_upgrade, write_upgrade, AcceptKey};

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
    /// Per-request timeout (and connect timeout).
    pub timeout: Duration,
    /// How long to measure (`None`: until the quota is done).
    pub duration: Option<Duration>,
    /// `https://`, `wss://`: the TLS client, one connector per shard.
    pub tls: Option<ClientTls>,
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
    pub errors: Errors,
    /// When the shard started measuring (its `Go`).
    pub started: Instant,
    /// When it stopped (its deadline, or its last response).
    pub finished: Instant,
}

impl Tally {
    fn new() -> Tally {
        let now = Instant::now();
        Tally {
            latency: Histogram::new(),
            completed: 0,
            bytes_read: 0,
            errors: [0; ErrorKind::ALL.len()],
            started: now,
            finished: now,
        }
    }

    fn error(&mut self, kind: ErrorKind) {
        self.errors[kind as usize] += 1;
    }
}

/// Runs the load on `threads` shards (`conns[i]` connections and `quotas[i]`
/// requests for shard i) and returns each shard's tally.
///
/// # Errors
///
/// A shard that could open no connection, or the runtime's setup.
pub fn run(
    plan: Arc<Plan>,
    conns: Vec<usize>,
    quotas: Vec<Option<u64>>,
    json: bool,
) -> io::Result<Vec<Tally>> {
    let threads = conns.len();
    let (addr, timeout, duration) = (plan.addr, plan.timeout, plan.duration);
    let shards = Shards::start(
        threads,
        |_| {},
        move |link: ToMain<Tally>| {
            let id = link.id;
            LoadShard::new(plan.clone(), link, conns[id], quotas[id])
        },
    )?;
    // Connect, then (WebSocket) upgrade: each may take up to --timeout.
    if let Err(e) = shards.wait_ready(addr, timeout * 2 + Duration::from_secs(1), false) {
        let _ = shards.finish();
        return Err(e);
    }
    shards.send_all(Cmd::Go);
    let started = Instant::now();
    // A counted run with a dead target must still end: -d caps it, and
    // without -d a counted run is capped at ten minutes.
    let cap = duration.unwrap_or(Duration::from_secs(600)) + timeout + Duration::from_secs(1);
    let mut progress = Progress::new(json);
    let mut finished = 0;
    while finished < threads && started.elapsed() < cap {
        if let Some(Event::Finished) = shards.next_event(Duration::from_millis(100)) {
            finished += 1;
        }
        progress.update(shards.live_sum(|l| &l.completed), shards.live_sum(|l| &l.errors));
    }
    progress.clear();
    shards.finish()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// `connect(2)` in progress.
    Connecting,
    /// WebSocket: upgrade request sent, waiting for `101`.
    Upgrading,
    /// TLS keep-alive warm-up: one untimed request sent; its response
    /// proves the handshake done.
    Handshaking,
    Open,
    /// The server announced a close: wait for its FIN, then reconnect.
    Closing,
}

impl Phase {
    /// Connected, but not yet carrying requests: waiting for the answer
    /// to the upgrade or to the TLS warm-up request.
    fn is_opening(self) -> bool {
        matches!(self, Phase::Upgrading | Phase::Handshaking)
    }
}

#[derive(Debug)]
enum Reader {
    Http(ResponseReader),
    Ws(WsReader),
}

/// One connection's state.
#[derive(Debug)]
pub struct Conn {
    phase: Phase,
    reader: Reader,
    /// Start times (ns since the shard's epoch) of the requests in flight, oldest first.
    inflight: VecDeque<u64>,
    /// Since when the oldest outstanding request has waited for bytes.
    waiting_since: u64,
    /// Rate mode: the intended start of the next request.
    next_due: u64,
    /// WebSocket: the expected `Sec-WebSocket-Accept`.
    ws_accept: AcceptKey,
    /// Counted in the warm-up (open or given up).
    settled: bool,
    /// Taken out of the run by us (accounted, replaced): `on_close` has nothing to do.
    retired: bool,
}

#[derive(Debug)]
enum State {
    /// Opening connections.
    Warming(WarmUp),
    /// Measuring until `end` (a timed run) or until the quota is done.
    Running { end: Option<Instant> },
    /// Measured; waiting for the stop.
    Done,
}

/// One load thread's protocol.
#[derive(Debug)]
pub struct LoadShard {
    plan: Arc<Plan>,
    link: ToMain<Tally>,
    /// Connections this shard keeps open.
    conns: usize,
    state: State,
    tally: Tally,
    epoch: Instant,
    rng: Rng,
    /// The WebSocket message frame, masked, repeated `depth` times.
    ws_batch: Vec<u8>,
    /// Requests this shard may still start (`-n`), `None` for a timed run.
    quota: Option<u64>,
    /// Requests in flight on all connections.
    outstanding: u64,
    /// Failed connection attempts, retried at the next tick.
    dead: usize,
    /// Connections to replace at once (see [`Cmd::Reopen`]), and whether
    /// the message that does it is on its way.
    replace: usize,
    reopen_posted: bool,
    /// This shard, to post [`Cmd::Reopen`] to.
    handle: Option<ShardHandle<Cmd>>,
}

impl LoadShard {
    fn new(plan: Arc<Plan>, link: ToMain<Tally>, conns: usize, quota: Option<u64>) -> LoadShard {
        let mut rng = Rng::new(link.id as u64 + 1);
        let mut ws_batch = Vec::new();
        if let Some((_, size)) = &plan.ws {
            let payload: Vec<u8> = (0..*size).map(|i| b'a' + (i % 26) as u8).collect();
            for _ in 0..plan.depth {
                let op = weir_ws::frame::OpCode::Binary;
                weir_ws::frame::encode_frame_masked(true, op, false, &payload, rng.mask(), &mut ws_batch);
            }
        }
        LoadShard {
            plan,
            link,
            conns,
            state: State::Warming(WarmUp::new(conns)),
            tally: Tally::new(),
            epoch: Instant::now(),
            rng,
            ws_batch,
            quota,
            outstanding: 0,
            dead: 0,
            replace: 0,
            reopen_posted: false,
            handle: None,
        }
    }

    fn running(&self) -> bool {
        matches!(self.state, State::Running { .. })
    }

    fn quota_left(&self) -> bool {
        self.quota != Some(0)
    }

    fn now(&self, cx: &Ctx<'_, Cmd>) -> u64 {
        ns_since(self.epoch, cx.now())
    }

    fn new_conn(&self) -> Conn {
        let reader = match self.plan.ws {
            Some(_) => Reader::Ws(WsReader::new()),
            None => Reader::Http(ResponseReader::new(self.plan.head_method)),
        };
        Conn {
            phase: Phase::Connecting,
            reader,
            inflight: VecDeque::with_capacity(self.plan.depth),
            waiting_since: 0,
            next_due: 0,
            ws_accept: [0; weir_ws::handshake::ACCEPT_KEY_LEN],
            settled: false,
            retired: false,
        }
    }

    fn connect_options(&self) -> ConnectOptions {
        ConnectOptions::default().timeout(self.plan.timeout)
    }

    /// Opens a connection from the shard (start, reopening the dead).
    fn open(&mut self, sc: &mut ShardCtx<'_, Self>) {
        let (addr, opts) = (self.plan.addr, self.connect_options());
        if let Err(e) = sc.connect(addr, opts, self.new_conn()) {
            self.connect_failed(e);
        }
    }

    /// Opens the replacements asked for, while the run goes on (a
    /// replacement asked for during the warm-up waits for the start).
    fn reopen(&mut self, sc: &mut ShardCtx<'_, Self>) {
        if !self.running() {
            return;
        }
        for _ in 0..std::mem::take(&mut self.replace) {
            if self.quota_left() {
                self.open(sc);
            }
        }
    }

    /// Replaces a connection that left the run, as soon as the shard gets
    /// to its inbox (see [`Cmd::Reopen`]).
    fn replace_soon(&mut self) {
        self.replace += 1;
        if !self.reopen_posted {
            if let Some(h) = &self.handle {
                self.reopen_posted = h.send_to_shard(Cmd::Reopen);
            }
        }
    }

    fn connect_failed(&mut self, error: io::Error) {
        match self.state {
            State::Warming(_) => self.settle(false, Some(error)),
            State::Running { .. } => {
                self.tally.error(ErrorKind::Connect);
                // A failed connection attempt uses up a request of a
                // counted run, so a dead target cannot make it hang.
                if let Some(q) = &mut self.quota {
                    *q = q.saturating_sub(1);
                }
            }
            State::Done => return,
        }
        self.dead += 1;
    }

    /// Warm-up: one more connection is open (`ok`) or has given up.
    fn settle(&mut self, ok: bool, failure: Option<io::Error>) {
        if let State::Warming(w) = &mut self.state {
            w.settle(ok, failure, &self.link);
        }
    }

    /// The connection can carry requests.
    fn ready(&mut self, conn: &mut Conn, cx: &mut Ctx<'_, Cmd>, now: u64) {
        conn.phase = Phase::Open;
        conn.waiting_since = now;
        conn.next_due = now;
        if !conn.settled {
            conn.settled = true;
            self.settle(true, None);
        }
        self.pump(conn, cx, now);
    }

    /// Starts as many requests as the plan allows; they are written when
    /// the callback returns.
    fn pump(&mut self, conn: &mut Conn, cx: &mut Ctx<'_, Cmd>, now: u64) {
        if !self.running() || conn.phase != Phase::Open {
            return;
        }
        let plan = &*self.plan;
        let mut n = 0;
        while conn.inflight.len() < plan.depth && self.quota != Some(0) {
            let start = match plan.interval_ns {
                None => now,
                Some(iv) => {
                    if conn.next_due > now + TIMER_TICK_NS {
                        // Not due yet: the deadline brings us back (`on_timer`).
                        cx.set_deadline_ms((conn.next_due - now) / TIMER_TICK_NS);
                        break;
                    }
                    let due = conn.next_due;
                    conn.next_due += iv;
                    // Late: charged from the intended time. Early (by less
                    // than a tick): from now, never from the future.
                    due.min(now)
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
        // Written at once when the callback returns, not after the whole
        // batch of events: deferring the writes hands the server bigger
        // batches and measurably raised nginx's rate above what wrk gets
        // from it (see BENCHMARKS.md).
        cx.write_copy(&batch[..n * unit]);
    }

    /// Accounts for one completed response.
    fn record(&mut self, conn: &mut Conn, c: Completion, now: u64) -> Result<(), ErrorKind> {
        let start = conn.inflight.pop_front().ok_or(ErrorKind::Parse)?; // a response nobody asked for
        self.outstanding -= 1;
        conn.waiting_since = now;
        if c.close {
            conn.phase = Phase::Closing;
        }
        if self.running() {
            self.tally.latency.record(now.saturating_sub(start));
            self.tally.completed += 1;
            match c.status {
                400..=499 => self.tally.error(ErrorKind::Status4xx),
                500..=599 => self.tally.error(ErrorKind::Status5xx),
                _ => {}
            }
        }
        Ok(())
    }

    /// Feeds `data` to the connection's reader; returns the bytes consumed
    /// (a partial head stays with the reactor until more arrives).
    fn consume(
        &mut self,
        conn: &mut Conn,
        cx: &mut Ctx<'_, Cmd>,
        data: &[u8],
        now: u64,
    ) -> Result<(usize, u64), ErrorKind> {
        let mut pos = 0;
        let mut completed = 0;
        loop {
            match conn.phase {
                Phase::Upgrading => match check_upgrade(&data[pos..], &conn.ws_accept)? {
                    Some(n) => {
                        pos += n;
                        self.ready(conn, cx, now);
                        continue;
                    }
                    None => return Ok((pos, completed)),
                },
                Phase::Handshaking => {
                    let Reader::Http(r) = &mut conn.reader else { return Err(ErrorKind::Parse) };
                    let (n, done) = r.feed(&data[pos..]).map_err(|_| ErrorKind::Parse)?;
                    pos += n;
                    let Some(c) = done else { return Ok((pos, completed)) };
                    self.ready(conn, cx, now);
                    if c.close {
                        conn.phase = Phase::Closing;
                    }
                    continue;
                }
                _ => {}
            }
            let step = match &mut conn.reader {
                Reader::Http(r) => r.feed(&data[pos..]),
                Reader::Ws(r) => r.feed(&data[pos..]),
            };
            let (n, done) = step.map_err(|_| ErrorKind::Parse)?;
            pos += n;
            match done {
                Some(c) => {
                    self.record(conn, c, now)?;
                    completed += 1;
                }
                None => return Ok((pos, completed)),
            }
        }
    }

    /// Takes a connection out of the run — the caller closes or aborts it:
    /// counts its error, forgets its requests in flight, and asks for a
    /// replacement.
    fn retire(&mut self, conn: &mut Conn, error: Option<ErrorKind>) {
        conn.retired = true;
        self.forget(conn, error);
        self.replace_soon();
    }

    /// A connection is gone: its requests in flight are lost.
    fn forget(&mut self, conn: &mut Conn, error: Option<ErrorKind>) {
        self.outstanding -= conn.inflight.len() as u64;
        conn.inflight.clear();
        match (&self.state, error) {
            (State::Running { .. }, Some(kind)) => self.tally.error(kind),
            (State::Warming(_), _) if !conn.settled => {
                conn.settled = true;
                let what = match conn.phase {
                    Phase::Upgrading => "WebSocket upgrade",
                    Phase::Handshaking => "TLS warm-up request",
                    _ => "connection",
                };
                let why = error.map(|k| io::Error::other(format!("{what} failed ({})", k.name())));
                self.settle(false, why);
            }
            _ => {}
        }
        self.check_done();
    }

    /// A counted run is done when its quota is spent and nothing is in flight.
    fn check_done(&mut self) {
        if self.running() && self.quota == Some(0) && self.outstanding == 0 {
            self.finish(Instant::now());
        }
    }

    /// A timed run ends at its deadline.
    fn check_deadline(&mut self, now: Instant) {
        if let State::Running { end: Some(end) } = self.state {
            if now >= end {
                self.finish(end);
            }
        }
    }

    fn finish(&mut self, at: Instant) {
        self.state = State::Done;
        self.tally.finished = at;
        self.publish();
        self.link.send(Event::Finished);
    }

    fn publish(&self) {
        let live = self.link.live();
        live.completed.store(self.tally.completed, std::sync::atomic::Ordering::Relaxed);
        live.errors.store(self.tally.errors.iter().sum(), std::sync::atomic::Ordering::Relaxed);
    }

    /// Request timeouts; a server that announced a close and never sent its FIN.
    fn housekeep(&mut self, conn: &mut Conn, cx: &mut Ctx<'_, Cmd>, now: u64) {
        if conn.retired || now.saturating_sub(conn.waiting_since) <= self.plan.timeout.as_nanos() as u64 {
            return;
        }
        if !conn.inflight.is_empty() || conn.phase.is_opening() {
            self.retire(conn, Some(ErrorKind::Timeout));
            cx.abort();
        } else if conn.phase == Phase::Closing {
            self.retire(conn, None);
            cx.abort();
        }
    }
}

impl Protocol for LoadShard {
    type Conn = Conn;
    type Message = Cmd;

    fn on_open(&mut self, _cx: &mut Ctx<'_, Cmd>) -> Conn {
        unreachable!("a load runtime has no listeners, so it accepts nothing")
    }

    fn on_start(&mut self, sc: &mut ShardCtx<'_, Self>) {
        self.handle = Some(sc.handle());
        for _ in 0..self.conns {
            self.open(sc);
        }
    }

    fn on_connected(&mut self, conn: &mut Conn, cx: &mut Ctx<'_, Cmd>) {
        let now = self.now(cx);
        if let Some(tls) = &self.plan.tls {
            if let Err(e) = tls.start(self.link.id, cx) {
                // Like a failed connect: counted, retried at the next tick.
                (conn.retired, conn.settled) = (true, true);
                self.connect_failed(e);
                cx.abort();
                return;
            }
            if self.plan.ws.is_none() && !self.plan.close_each && matches!(self.state, State::Warming(_)) {
                let batch = self.plan.http_batch.as_deref().unwrap_or_default();
                cx.write_copy(&batch[..batch.len() / self.plan.depth]);
                conn.phase = Phase::Handshaking;
                conn.waiting_since = now;
                return;
            }
        }
        match &self.plan.ws {
            None => self.ready(conn, cx, now),
            Some((head, _)) => {
                let rng = &mut self.rng;
                let mut accept = None;
                cx.write_with(head.len() + 64, |out| accept = Some(write_upgrade(head.as_bytes(), rng, out)));
                conn.ws_accept = accept.expect("write_with calls its closure");
                conn.phase = Phase::Upgrading;
                conn.waiting_since = now;
            }
        }
    }

    fn on_connect_failed(&mut self, _conn: Conn, error: io::Error) {
        self.connect_failed(error);
    }

    fn on_data(&mut self, conn: &mut Conn, cx: &mut Ctx<'_, Cmd>, data: &mut [u8]) -> usize {
        self.check_deadline(cx.now());
        let now = self.now(cx);
        match self.consume(conn, cx, data, now) {
            Err(kind) => {
                self.retire(conn, Some(kind));
                cx.abort();
                data.len()
            }
            Ok((consumed, completed)) => {
                if self.running() {
                    self.tally.bytes_read += consumed as u64;
                }
                self.check_done();
                // --close, and the server kept the connection open anyway:
                // close it ourselves. Over TLS, close it ourselves even when
                // the server announced its close: our close sends
                // close_notify before the FIN (the reactor lingers for the
                // server's), whereas after the server's FIN it sends
                // nothing, and OpenSSL marks the session of a connection
                // that ends without our close_notify as not resumable —
                // the very session the connector keeps for the next
                // connection to offer (--tls-resume).
                if self.plan.close_each
                    && completed > 0
                    && (conn.phase == Phase::Open || self.plan.tls.is_some())
                {
                    self.retire(conn, None);
                    cx.close();
                    return data.len();
                }
                self.pump(conn, cx, now);
                consumed
            }
        }
    }

    fn on_eof(&mut self, conn: &mut Conn, cx: &mut Ctx<'_, Cmd>) {
        let now = self.now(cx);
        let mut error = None;
        if let Reader::Http(r) = &mut conn.reader {
            match r.finish() {
                // A body delimited by the close.
                Ok(Some(c)) => error = self.record(conn, c, now).err(),
                Ok(None) => {}
                Err(_) => error = Some(ErrorKind::Closed),
            }
        }
        if !conn.inflight.is_empty() || conn.phase.is_opening() {
            error = error.or(Some(ErrorKind::Closed));
        }
        self.retire(conn, error);
        self.check_done();
        cx.close();
    }

    fn on_timer(&mut self, conn: &mut Conn, cx: &mut Ctx<'_, Cmd>) {
        let now = self.now(cx);
        self.pump(conn, cx, now);
    }

    fn on_close(&mut self, mut conn: Conn, reason: CloseReason) {
        if conn.retired {
            return;
        }
        // The reactor closed it: a socket error, or the stop.
        let error = match reason {
            CloseReason::Error(kind) => Some(ErrorKind::of_socket_error(kind)),
            CloseReason::Shutdown => return,
            _ if !conn.inflight.is_empty() || conn.phase.is_opening() => Some(ErrorKind::Closed),
            _ => None,
        };
        self.forget(&mut conn, error);
        self.replace_soon();
    }

    fn on_shard_message(&mut self, sc: &mut ShardCtx<'_, Self>, cmd: Cmd) {
        if cmd == Cmd::Reopen {
            self.reopen_posted = false;
            self.reopen(sc);
            return;
        }
        if cmd != Cmd::Go || !matches!(self.state, State::Warming(_)) {
            return;
        }
        let t = Instant::now();
        self.tally.started = t;
        self.state = State::Running { end: self.plan.duration.map(|d| t + d) };
        let start = ns_since(self.epoch, t);
        for token in sc.tokens() {
            sc.with_conn(token, |conn, cx| {
                if conn.phase == Phase::Open {
                    // Rate mode: spread the connections' schedules over one interval.
                    let jitter = self.plan.interval_ns.map_or(0, |iv| self.rng.next_u64() % iv.max(1));
                    conn.next_due = start + jitter;
                    conn.waiting_since = start;
                    self.pump(conn, cx, start);
                }
            });
        }
        self.on_tick(sc);
    }

    fn on_tick(&mut self, sc: &mut ShardCtx<'_, Self>) {
        let t = Instant::now();
        self.check_deadline(t);
        if !matches!(self.state, State::Done) {
            let now = ns_since(self.epoch, t);
            for token in sc.tokens() {
                sc.with_conn(token, |conn, cx| self.housekeep(conn, cx, now));
            }
        }
        if self.running() {
            self.replace += std::mem::take(&mut self.dead);
            self.reopen(sc);
        }
        self.check_done();
        self.publish();
    }

    fn on_shutdown(&mut self, sc: &mut ShardCtx<'_, Self>) {
        if self.running() {
            // Stopped by the main thread's cap (a dead target).
            self.finish(Instant::now());
        }
        self.state = State::Done;
        let tally = std::mem::replace(&mut self.tally, Tally::new());
        self.link.send(Event::Done(self.link.id, tally));
        sc.for_each(|conn, cx| {
            conn.retired = true;
            cx.abort();
        });
    }
}

//! The broadcast workload: many subscribers and one publisher on a pub/sub
//! WebSocket endpoint.
//!
//! ```text
//!   weir bench ws://127.0.0.1:8080/ws/pubsub/t --subscribers 10000 --publish-rate 100 -d 10s
//!
//!   publisher ── [seq | sent_ns | padding] ──> server ──> every subscriber (N connections)
//!   (1 connection, R msg/s)                    topic t    latency = now - sent_ns
//!                                                         seq jumps = dropped messages
//! ```
//!
//! The publisher and the subscribers live in this one process, so the send
//! timestamp (monotonic nanoseconds since the run's epoch) is read back on
//! the same clock: no clock skew between machines to correct for.
//!
//! # Phases
//!
//! 1. **Connect and upgrade** (over `wss://`: handshake, then upgrade)
//!    every connection; subscribers are spread over
//!    the `-t` shards, the publisher is on shard 0 (`Event::Ready`).
//! 2. **Warm-up**: the publisher sends a flagged message (another every
//!    500 ms) until every subscriber has heard one (`Event::Subscribed`).
//!    Then every subscription is in place, however the server makes them,
//!    and no warm-up backlog is left for the measured messages.
//! 3. **Measure**: R messages per second for `-d`, each stamped with its
//!    sequence number and the moment it was written.
//! 4. **Drain**: wait until every subscriber has every message, or
//!    `--timeout`; what never arrived is counted as dropped.
//!
//! # What is measured
//!
//! * Latency runs from the publisher's write to the subscriber's read: the
//!   server's fan-out, both kernels' loopback hops, and the time the bench
//!   takes to get to the socket (it reads the clock once per `read(2)`). A
//!   bench that cannot keep up shows up here too; watch its CPU.
//! * Delivered messages per second count every subscriber's copy, over the
//!   time from the first publish to the last delivery.
//! * Drops: messages published during the measurement and never delivered.
//!   A server that drops for slow consumers (weir's `SlowConsumer::Drop`)
//!   shows them here; "gaps" are the drops seen mid-stream as jumps in the
//!   sequence numbers.
//! * Every subscriber answers the server's pings, so a long run is not cut
//!   short by keep-alive timeouts; the publisher ignores the copies of its
//!   own messages that a relay sends back to it.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use weir_reactor::{CloseReason, ConnectOptions, Ctx, Protocol, ShardCtx, Token};
use weir_ws::frame::{decode_head, encode_frame_masked, OpCode};

use super::driver::{
    ns_since, Cmd, ErrorKind, Errors, Event, Progress, Rng, Shards, ToMain, WarmUp, TIMER_TICK_NS,
};
use super::histogram::Histogram;
use super::tls::ClientTls;
use super::ws_client::{check_upgrade, write_upgrade, AcceptKey};

/// Bytes at the start of every message: the sequence number and the send time.
pub const STAMP_LEN: usize = 16;
/// Set in the sequence number of a warm-up message.
const WARM_BIT: u64 = 1 << 63;
/// How long the warm-up waits for every subscriber to hear a flagged
/// message before the publisher sends another. One is enough for a relay
/// that subscribes on open; sending them faster than the server fans them
/// out would leave a backlog for the measured messages to queue behind.
const WARM_RETRY: Duration = Duration::from_millis(500);
/// The largest message a subscriber takes (whole frames are kept until complete).
const MAX_MESSAGE_LEN: u64 = 16 * 1024 * 1024;

/// The run, fixed for every shard.
#[derive(Debug)]
pub struct Plan {
    /// The target address.
    pub addr: SocketAddr,
    /// The upgrade request head, without `Sec-WebSocket-Key` and the final CRLF.
    pub head: String,
    /// Subscribers across all shards.
    pub subscribers: usize,
    /// Messages published per second.
    pub rate: f64,
    /// Message size in bytes (at least [`STAMP_LEN`]).
    pub size: usize,
    /// How long to publish.
    pub duration: Duration,
    /// Connect, upgrade, warm-up and drain timeout.
    pub timeout: Duration,
    /// Time zero of the send stamps, shared by every shard.
    pub epoch: Instant,
    /// `wss://`: the TLS client, one connector per shard.
    pub tls: Option<ClientTls>,
}

/// What a shard measured.
#[derive(Debug)]
pub struct Tally {
    /// Publish-to-delivery latency of every delivered message, in nanoseconds.
    pub latency: Histogram,
    /// Messages delivered to this shard's subscribers.
    pub delivered: u64,
    /// Messages missing between two delivered ones.
    pub gaps: u64,
    /// Messages that arrived after a later one (never expected).
    pub out_of_order: u64,
    /// The last delivery, ns since the epoch.
    pub last_delivery: u64,
    /// Bytes read by the subscribers.
    pub bytes_read: u64,
    /// Errors, indexed like [`ErrorKind::ALL`].
    pub errors: Errors,
    /// The publisher (shard 0): messages published.
    pub published: u64,
    /// When publishing began and ended (its schedule, or the publisher's
    /// failure), ns since the epoch.
    pub publish_window: (u64, u64),
}

impl Tally {
    fn new() -> Tally {
        Tally {
            latency: Histogram::new(),
            delivered: 0,
            gaps: 0,
            out_of_order: 0,
            last_delivery: 0,
            bytes_read: 0,
            errors: [0; ErrorKind::ALL.len()],
            published: 0,
            publish_window: (0, 0),
        }
    }
}

/// Runs the broadcast on `threads` shards and returns each shard's tally.
///
/// # Errors
///
/// A connection that could not be opened or upgraded, subscribers that
/// never hear the publisher, the runtime's setup.
pub fn run(plan: Arc<Plan>, threads: usize, json: bool) -> io::Result<Vec<Tally>> {
    let subs: Vec<usize> = (0..threads)
        .map(|i| plan.subscribers / threads + usize::from(i < plan.subscribers % threads))
        .collect();
    let p = plan.clone();
    let frame_room = plan.size + 64;
    let shards = Shards::start(
        threads,
        |c| c.max_pending_input = c.max_pending_input.max(frame_room),
        move |link: ToMain<Tally>| {
            let id = link.id;
            BroadcastShard::new(p.clone(), link, subs[id], id == 0)
        },
    )?;
    let result = measure(&shards, &plan, threads, json);
    let tallies = shards.finish()?;
    result.map(|()| tallies)
}

/// The phases the main thread leads (see the module docs).
fn measure(shards: &Shards<Tally>, plan: &Plan, threads: usize, json: bool) -> io::Result<()> {
    shards.wait_ready(plan.addr, plan.timeout * 2 + Duration::from_secs(1), true)?;
    let deadline = Instant::now() + plan.timeout;
    let mut subscribed = 0;
    let mut retry = Instant::now();
    while subscribed < threads {
        let now = Instant::now();
        if now >= retry {
            shards.send(0, Cmd::Warm);
            retry = now + WARM_RETRY;
        }
        match shards.next_event(retry.min(deadline).saturating_duration_since(now)) {
            Some(Event::Subscribed) => subscribed += 1,
            Some(_) => {}
            None if Instant::now() < deadline => {}
            None => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "some subscribers heard nothing from the publisher in {:?}: does the URL \
                         relay every message to every connection? (weir: /ws/pubsub/TOPIC)",
                        plan.timeout
                    ),
                ))
            }
        }
    }
    shards.send(0, Cmd::Go);
    let started = Instant::now();
    let cap = plan.duration + plan.timeout + Duration::from_secs(1);
    let mut progress = Progress::new(json);
    loop {
        if let Some(Event::Finished) = shards.next_event(Duration::from_millis(100)) {
            break;
        }
        progress.update(shards.live_sum(|l| &l.completed), shards.live_sum(|l| &l.errors));
        if started.elapsed() > cap {
            break;
        }
    }
    // Drain: every copy of every message, or the timeout.
    let expected = shards.live_sum(|l| &l.published) * plan.subscribers as u64;
    let drain_until = Instant::now() + plan.timeout;
    while shards.live_sum(|l| &l.completed) < expected && Instant::now() < drain_until {
        std::thread::sleep(Duration::from_millis(10));
        progress.update(shards.live_sum(|l| &l.completed), shards.live_sum(|l| &l.errors));
    }
    progress.clear();
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Subscriber,
    Publisher,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connecting,
    Upgrading,
    Open,
}

/// One connection's state.
#[derive(Debug)]
pub struct Conn {
    role: Role,
    phase: Phase,
    ws_accept: AcceptKey,
    /// When the upgrade request went out (ns since the epoch).
    since: u64,
    /// The sequence number expected next.
    next_seq: u64,
    /// Has heard a warm-up message.
    warmed: bool,
    /// Closed by us and accounted: `on_close` has nothing to do.
    retired: bool,
}

/// The publisher's schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Publish {
    Idle,
    /// Measured messages: the next sequence number and its due time, the end (ns).
    On {
        seq: u64,
        due: u64,
        end: u64,
    },
    Over,
}

/// One load thread's protocol: this shard's subscribers, and on shard 0 the publisher.
#[derive(Debug)]
pub struct BroadcastShard {
    plan: Arc<Plan>,
    link: ToMain<Tally>,
    subscribers: usize,
    /// Shard 0 also runs the publisher.
    has_publisher: bool,
    warm_up: WarmUp,
    /// The main thread stopped the run.
    stopped: bool,
    /// Subscribers that heard a warm-up message.
    warmed: usize,
    rng: Rng,
    tally: Tally,
    /// The publisher's connection (shard 0) and its schedule.
    publisher: Option<Token>,
    publish: Publish,
    /// The message being published: its stamp is rewritten each time.
    payload: Vec<u8>,
}

impl BroadcastShard {
    fn new(plan: Arc<Plan>, link: ToMain<Tally>, subscribers: usize, publisher: bool) -> BroadcastShard {
        let expected = subscribers + usize::from(publisher);
        let payload = (0..plan.size).map(|i| b'a' + (i % 26) as u8).collect();
        BroadcastShard {
            rng: Rng::new(link.id as u64 + 1),
            warm_up: WarmUp::new(expected),
            stopped: false,
            has_publisher: publisher,
            plan,
            link,
            subscribers,
            warmed: 0,
            tally: Tally::new(),
            publisher: None,
            publish: Publish::Idle,
            payload,
        }
    }

    fn now(&self) -> u64 {
        ns_since(self.plan.epoch, Instant::now())
    }

    fn open(&mut self, sc: &mut ShardCtx<'_, Self>, role: Role) -> Option<Token> {
        let conn = Conn {
            role,
            phase: Phase::Connecting,
            ws_accept: [0; 28],
            since: 0,
            next_seq: 0,
            warmed: false,
            retired: false,
        };
        let opts = ConnectOptions::default().timeout(self.plan.timeout);
        match sc.connect(self.plan.addr, opts, conn) {
            Ok(token) => Some(token),
            Err(e) => {
                self.warm_up.settle(false, Some(e), &self.link);
                None
            }
        }
    }

    /// The connection is gone or unusable (the caller aborts it, or it is closed).
    fn fail(&mut self, conn: &mut Conn, kind: ErrorKind) {
        conn.retired = true;
        if self.stopped {
            return;
        }
        if conn.phase != Phase::Open {
            // It never became usable: the warm-up fails the run.
            let why = io::Error::other(format!("WebSocket connection failed ({})", kind.name()));
            self.warm_up.settle(false, Some(why), &self.link);
        }
        self.tally.errors[kind as usize] += 1;
        if conn.role == Role::Publisher && matches!(self.publish, Publish::On { .. }) {
            // No publisher, no run: end it with what was published.
            self.end_publishing();
        }
    }

    /// Writes one message: `seq` and the moment it is written.
    fn send(&mut self, cx: &mut Ctx<'_, Cmd>, seq: u64) {
        let sent = self.now();
        self.payload[..8].copy_from_slice(&seq.to_le_bytes());
        self.payload[8..STAMP_LEN].copy_from_slice(&sent.to_le_bytes());
        let (payload, mask) = (&self.payload, self.rng.mask());
        cx.write_with(payload.len() + 14, |out| {
            encode_frame_masked(true, OpCode::Binary, false, payload, mask, out);
        });
    }

    /// The publisher's timer: every message now due.
    fn publish_due(&mut self, cx: &mut Ctx<'_, Cmd>) {
        match self.publish {
            Publish::On { mut seq, mut due, end } => {
                let interval = (1e9 / self.plan.rate).max(1.0) as u64;
                loop {
                    // The next thing to do: a message, or the end of the schedule.
                    let next = due.min(end);
                    let now = self.now();
                    if next > now {
                        // Rounded up: a message never leaves before its time.
                        cx.set_deadline_ms((next - now).div_ceil(TIMER_TICK_NS));
                        break;
                    }
                    if due >= end {
                        self.publish = Publish::On { seq, due, end };
                        self.end_publishing();
                        return;
                    }
                    self.send(cx, seq);
                    seq += 1;
                    due += interval;
                }
                self.tally.published = seq;
                self.publish = Publish::On { seq, due, end };
            }
            Publish::Idle | Publish::Over => {}
        }
    }

    fn end_publishing(&mut self) {
        if let Publish::On { seq, end, .. } = self.publish {
            self.tally.published = seq;
            self.tally.publish_window.1 = end.min(self.now());
        }
        self.publish = Publish::Over;
        self.publish_counters();
        self.link.send(Event::Finished);
    }

    fn publish_counters(&self) {
        let live = self.link.live();
        live.completed.store(self.tally.delivered, Ordering::Relaxed);
        live.errors.store(self.tally.errors.iter().sum(), Ordering::Relaxed);
        live.published.store(self.tally.published, Ordering::Relaxed);
    }

    /// A subscriber got a whole message.
    fn deliver(&mut self, conn: &mut Conn, payload: &[u8], now: u64) -> Result<(), ErrorKind> {
        let stamp = payload.get(..STAMP_LEN).ok_or(ErrorKind::Parse)?;
        let seq = u64::from_le_bytes(stamp[..8].try_into().expect("8 bytes"));
        let sent = u64::from_le_bytes(stamp[8..].try_into().expect("8 bytes"));
        if seq & WARM_BIT != 0 {
            if !conn.warmed {
                conn.warmed = true;
                self.warmed += 1;
                if self.warmed == self.subscribers {
                    self.link.send(Event::Subscribed);
                }
            }
            return Ok(());
        }
        self.tally.latency.record(now.saturating_sub(sent));
        self.tally.delivered += 1;
        self.tally.last_delivery = self.tally.last_delivery.max(now);
        if seq >= conn.next_seq {
            self.tally.gaps += seq - conn.next_seq;
            conn.next_seq = seq + 1;
        } else {
            self.tally.out_of_order += 1;
        }
        Ok(())
    }

    /// Takes every whole frame at the start of `data`; returns the bytes taken.
    fn frames(&mut self, conn: &mut Conn, cx: &mut Ctx<'_, Cmd>, data: &[u8]) -> Result<usize, ErrorKind> {
        let now = self.now();
        let mut pos = 0;
        loop {
            let rest = &data[pos..];
            let Some((head, n)) = decode_head(rest).map_err(|_| ErrorKind::Parse)? else { break };
            if head.payload_len > MAX_MESSAGE_LEN {
                return Err(ErrorKind::Parse);
            }
            let end = n + head.payload_len as usize;
            if rest.len() < end {
                break; // the reactor keeps the partial frame
            }
            let payload = &rest[n..end];
            match head.opcode {
                OpCode::Ping => {
                    let mask = self.rng.mask();
                    cx.write_with(payload.len() + 14, |out| {
                        encode_frame_masked(true, OpCode::Pong, false, payload, mask, out);
                    });
                }
                OpCode::Close => return Err(ErrorKind::Closed),
                // A message is counted at its first frame (which holds the stamp).
                OpCode::Text | OpCode::Binary if conn.role == Role::Subscriber => {
                    self.deliver(conn, payload, now)?;
                }
                _ => {}
            }
            pos += end;
        }
        Ok(pos)
    }
}

impl Protocol for BroadcastShard {
    type Conn = Conn;
    type Message = Cmd;

    fn on_open(&mut self, _cx: &mut Ctx<'_, Cmd>) -> Conn {
        unreachable!("a load runtime has no listeners, so it accepts nothing")
    }

    fn on_start(&mut self, sc: &mut ShardCtx<'_, Self>) {
        if self.has_publisher {
            self.publisher = self.open(sc, Role::Publisher);
        }
        for _ in 0..self.subscribers {
            self.open(sc, Role::Subscriber);
        }
    }

    fn on_connected(&mut self, conn: &mut Conn, cx: &mut Ctx<'_, Cmd>) {
        if let Some(tls) = &self.plan.tls {
            // The upgrade below waits for the handshake, so the warm-up
            // covers it.
            if tls.start(self.link.id, cx).is_err() {
                self.fail(conn, ErrorKind::Tls);
                cx.abort();
                return;
            }
        }
        let (head, rng) = (self.plan.head.as_bytes(), &mut self.rng);
        let mut accept = None;
        cx.write_with(head.len() + 64, |out| accept = Some(write_upgrade(head, rng, out)));
        conn.ws_accept = accept.expect("write_with calls its closure");
        conn.phase = Phase::Upgrading;
        conn.since = self.now();
    }

    fn on_connect_failed(&mut self, _conn: Conn, error: io::Error) {
        if !self.stopped {
            self.tally.errors[ErrorKind::Connect as usize] += 1;
            self.warm_up.settle(false, Some(error), &self.link);
        }
    }

    fn on_data(&mut self, conn: &mut Conn, cx: &mut Ctx<'_, Cmd>, data: &mut [u8]) -> usize {
        let mut pos = 0;
        if conn.phase == Phase::Upgrading {
            match check_upgrade(data, &conn.ws_accept) {
                Ok(Some(n)) => {
                    pos = n;
                    conn.phase = Phase::Open;
                    self.warm_up.settle(true, None, &self.link);
                }
                Ok(None) => return 0,
                Err(kind) => {
                    self.fail(conn, kind);
                    cx.abort();
                    return data.len();
                }
            }
        }
        match self.frames(conn, cx, &data[pos..]) {
            Ok(n) => {
                self.tally.bytes_read += n as u64;
                pos + n
            }
            Err(kind) => {
                self.fail(conn, kind);
                cx.abort();
                data.len()
            }
        }
    }

    fn on_eof(&mut self, conn: &mut Conn, cx: &mut Ctx<'_, Cmd>) {
        self.fail(conn, ErrorKind::Closed);
        cx.close();
    }

    fn on_timer(&mut self, conn: &mut Conn, cx: &mut Ctx<'_, Cmd>) {
        if conn.role == Role::Publisher {
            self.publish_due(cx);
        }
    }

    fn on_close(&mut self, mut conn: Conn, reason: CloseReason) {
        if conn.retired || reason == CloseReason::Shutdown {
            return;
        }
        let kind = match reason {
            CloseReason::Error(kind) => ErrorKind::of_socket_error(kind),
            _ => ErrorKind::Closed,
        };
        self.fail(&mut conn, kind);
    }

    fn on_shard_message(&mut self, sc: &mut ShardCtx<'_, Self>, cmd: Cmd) {
        let Some(token) = self.publisher else { return };
        match (cmd, self.publish) {
            // One flagged message (see WARM_RETRY).
            (Cmd::Warm, Publish::Idle) => {
                sc.with_conn(token, |_, cx| self.send(cx, WARM_BIT));
            }
            (Cmd::Go, Publish::Idle) => {
                let start = self.now();
                let end = start.saturating_add(self.plan.duration.as_nanos() as u64);
                self.tally.publish_window = (start, end);
                self.publish = Publish::On { seq: 0, due: start, end };
                sc.with_conn(token, |_, cx| self.publish_due(cx));
            }
            _ => {}
        }
    }

    fn on_tick(&mut self, sc: &mut ShardCtx<'_, Self>) {
        if !self.warm_up.is_done() {
            // Upgrades that never complete (connects time out by themselves).
            let now = self.now();
            for token in sc.tokens() {
                sc.with_conn(token, |conn, cx| {
                    let late = now.saturating_sub(conn.since) > self.plan.timeout.as_nanos() as u64;
                    if conn.phase == Phase::Upgrading && late {
                        self.fail(conn, ErrorKind::Timeout);
                        cx.abort();
                    }
                });
            }
        }
        self.publish_counters();
    }

    fn on_shutdown(&mut self, sc: &mut ShardCtx<'_, Self>) {
        self.stopped = true;
        self.publish_counters();
        let tally = std::mem::replace(&mut self.tally, Tally::new());
        self.link.send(Event::Done(self.link.id, tally));
        sc.for_each(|conn, cx| {
            conn.retired = true;
            cx.abort();
        });
    }
}

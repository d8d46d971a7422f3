//! WebSocket endpoints: what an application writes ([`WsHandler`],
//! [`WsRoute`]) and the handles it sends with ([`WsCtx`] on the shard,
//! [`WsSender`] and [`PubSub`] from anywhere). The connection state that
//! runs the protocol (`weir-ws`, sans-IO) lives with the other protocol
//! states, in `crate::conn::ws`.
//!
//! ```text
//!   GET /chat Upgrade: websocket ──> handshake::accept ──> 101 written
//!        the connection becomes Conn::Ws; bytes now go to WsConn::feed
//!   open ──> WsHandler::on_open(ws, req) ──> State (kept per connection)
//!   feed ──> Event::Message ──> WsHandler::on_message(state, ws, msg)
//!                                 ws.send(..)        written at once (same shard)
//!                                 ws.publish(t, ..)  fanned out to every shard
//!   other thread ── WsSender::send ──> shard inbox ──> encoded and written there
//! ```
//!
//! * **Backpressure.** Each connection has a bound on queued output
//!   ([`WsRoute::max_send_buffer`]). A send that would exceed it follows the
//!   route's [`SlowConsumer`] policy: drop the message, or close with 1008.
//!   Crossing the high-water mark makes `send` report
//!   [`SendStatus::Congested`]; [`WsHandler::on_drain`] fires when the queue
//!   empties again. One slow client never grows the server's memory without bound.
//! * **Pub/sub.** A publish goes to every shard's inbox; each shard encodes
//!   the frame once (and compresses it once, with a shared deflater, for
//!   subscribers that agreed `server_no_context_takeover`) and queues the
//!   same shared bytes to each local subscriber. Per publisher, every
//!   subscriber sees messages in publish order.
//! * **Shutdown** sends Close 1001 (Going Away) and waits for the echo.
//! * **From other threads**, sends and publishes travel through the shard's
//!   bounded data inbox: a full inbox refuses at once
//!   ([`SendStatus::Dropped`], or a count of refusing shards from
//!   [`PubSub::publish`]) rather than queueing without bound.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use weir_reactor::{Ctx, SendError, ShardHandle, Token};
use weir_ws::{Deflater, HandshakeConfig, Limits, Message};

pub use weir_ws::{DeflateOptions, Message as WsMessage};

pub use crate::msg::OwnedMessage;
use crate::msg::{ConnAddr, Msg, WsMsg};
use crate::request::Request;

/// How long a peer has to answer our Close (and read what is queued before
/// it) before the connection is dropped.
pub(crate) const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// What to do when a client reads slower than it is sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlowConsumer {
    /// Drop messages that do not fit in the send buffer.
    Drop,
    /// Close the connection with 1008 (policy violation).
    Close,
}

/// The outcome of a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendStatus {
    /// Queued; the connection keeps up.
    Queued,
    /// Queued, but output is piling up past the high-water mark: slow down
    /// until `on_drain`.
    Congested,
    /// Not queued: the send buffer is full (policy [`SlowConsumer::Drop`]).
    Dropped,
    /// Not queued: the connection is closing or closed.
    Closed,
}

/// The application's side of a WebSocket endpoint. Callbacks run on the
/// connection's shard and must not block; use a [`WsSender`] to send from
/// other threads.
///
/// Each connection has a [`WsHandler::State`], made by `on_open` and
/// handed to every later callback: a chat's nickname and rooms, a
/// session, a rate-limit budget. It lives on the connection's shard, so it
/// needs no lock and no `Send`; a handler without state says `type State = ();`.
///
/// ```
/// use weir_server::ws::{WsCtx, WsHandler, WsMessage};
/// use weir_server::Request;
///
/// /// Numbers each message a connection sends.
/// struct Counter;
///
/// impl WsHandler for Counter {
///     type State = u64;
///     fn on_open(&self, _ws: &mut WsCtx<'_, '_>, _req: &Request<'_>) -> u64 {
///         0
///     }
///     fn on_message(&self, seen: &mut u64, ws: &mut WsCtx<'_, '_>, _msg: WsMessage<'_>) {
///         *seen += 1;
///         ws.send_text(&seen.to_string());
///     }
/// }
/// ```
pub trait WsHandler: Send + Sync + 'static {
    /// What the handler keeps for each connection (`()` for nothing).
    type State: 'static;
    /// The handshake completed; `req` is the upgrade request (path,
    /// route parameters, query, headers such as cookies). Returns the
    /// connection's state.
    fn on_open(&self, ws: &mut WsCtx<'_, '_>, req: &Request<'_>) -> Self::State;
    /// A whole message arrived (text is valid UTF-8, already decompressed).
    fn on_message(&self, state: &mut Self::State, ws: &mut WsCtx<'_, '_>, msg: Message<'_>);
    /// The send queue emptied after `send` reported [`SendStatus::Congested`].
    fn on_drain(&self, state: &mut Self::State, ws: &mut WsCtx<'_, '_>) {
        let _ = (state, ws);
    }
    /// The connection closed (`code`: the peer's close code, if it sent
    /// one); its state is handed back.
    fn on_close(&self, state: Self::State, sender: &WsSender, code: Option<u16>) {
        let _ = (state, sender, code);
    }
}

/// [`WsHandler`] with its state type erased, so routes with different
/// state types can sit in one table.
pub(crate) trait DynHandler: Send + Sync {
    fn open(&self, ws: &mut WsCtx<'_, '_>, req: &Request<'_>) -> Box<dyn Any>;
    fn message(&self, state: &mut dyn Any, ws: &mut WsCtx<'_, '_>, msg: Message<'_>);
    fn drain(&self, state: &mut dyn Any, ws: &mut WsCtx<'_, '_>);
    fn close(&self, state: Box<dyn Any>, sender: &WsSender, code: Option<u16>);
}

impl<H: WsHandler> DynHandler for H {
    fn open(&self, ws: &mut WsCtx<'_, '_>, req: &Request<'_>) -> Box<dyn Any> {
        // A zero-sized state (`()`) is boxed without an allocation.
        Box::new(self.on_open(ws, req))
    }
    fn message(&self, state: &mut dyn Any, ws: &mut WsCtx<'_, '_>, msg: Message<'_>) {
        self.on_message(own(state), ws, msg);
    }
    fn drain(&self, state: &mut dyn Any, ws: &mut WsCtx<'_, '_>) {
        self.on_drain(own(state), ws);
    }
    fn close(&self, state: Box<dyn Any>, sender: &WsSender, code: Option<u16>) {
        let state = state.downcast::<H::State>().expect("the state this handler's on_open made");
        self.on_close(*state, sender, code);
    }
}

fn own<T: 'static>(state: &mut dyn Any) -> &mut T {
    state.downcast_mut::<T>().expect("the state this handler's on_open made")
}

/// A WebSocket endpoint: its handler and settings. Add it with `App::ws`.
pub struct WsRoute {
    pub(crate) handler: Arc<dyn DynHandler>,
    pub(crate) handshake: HandshakeConfig,
    pub(crate) limits: Limits,
    pub(crate) max_send_buffer: u64,
    pub(crate) high_water: u64,
    pub(crate) slow_consumer: SlowConsumer,
    pub(crate) ping_interval: Option<Duration>,
}

impl std::fmt::Debug for WsRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsRoute").field("max_send_buffer", &self.max_send_buffer).finish_non_exhaustive()
    }
}

impl WsRoute {
    /// An endpoint run by `handler`, with permessage-deflate offered, a
    /// 1 MiB send buffer (dropping on overflow), 16 MiB messages, and a
    /// keep-alive ping every 30 s.
    pub fn new(handler: impl WsHandler) -> WsRoute {
        WsRoute {
            handler: Arc::new(handler),
            handshake: HandshakeConfig::default().deflate(DeflateOptions::default()),
            limits: Limits::default(),
            max_send_buffer: 1024 * 1024,
            high_water: 256 * 1024,
            slow_consumer: SlowConsumer::Drop,
            ping_interval: Some(Duration::from_secs(30)),
        }
    }

    /// Replaces the handshake settings (subprotocols, origin check, deflate).
    #[must_use]
    pub fn handshake(mut self, config: HandshakeConfig) -> Self {
        self.handshake = config;
        self
    }

    /// Turns permessage-deflate off.
    #[must_use]
    pub fn without_compression(mut self) -> Self {
        self.handshake.deflate = None;
        self
    }

    /// Frame, message and inflate limits.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The most bytes queued for one connection, and the policy past it. A
    /// message is always accepted into an empty queue, so a connection holds
    /// at most this plus one message.
    #[must_use]
    pub fn max_send_buffer(mut self, bytes: u64, policy: SlowConsumer) -> Self {
        self.max_send_buffer = bytes;
        self.high_water = self.high_water.min(bytes);
        self.slow_consumer = policy;
        self
    }

    /// Keep-alive pings every `interval` (`None`: never); a connection
    /// silent for two intervals is closed.
    #[must_use]
    pub fn ping_interval(mut self, interval: Option<Duration>) -> Self {
        self.ping_interval = interval;
        self
    }
}

impl OwnedMessage {
    pub(crate) fn as_message(&self) -> Message<'_> {
        match self {
            OwnedMessage::Text(s) => Message::Text(s),
            OwnedMessage::Binary(b) => Message::Binary(b),
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct SenderShared {
    pub(crate) congested: AtomicBool,
    pub(crate) closed: AtomicBool,
}

/// Sends to one WebSocket connection from any thread. `Send + Clone`.
#[derive(Debug, Clone)]
pub struct WsSender {
    pub(crate) to: ConnAddr,
    pub(crate) shared: Arc<SenderShared>,
    pub(crate) pubsub: Arc<PubSub>,
}

impl WsSender {
    /// Queues a message for the connection (encoded on its shard).
    /// Returns [`SendStatus::Congested`] while the connection is behind,
    /// [`SendStatus::Dropped`] when its shard's inbox is full (the message
    /// is not sent), and [`SendStatus::Closed`] once it is gone.
    pub fn send(&self, msg: OwnedMessage) -> SendStatus {
        if self.shared.closed.load(Ordering::Acquire) {
            return SendStatus::Closed;
        }
        match self.to.try_send(Msg::Ws(WsMsg::Send(msg))) {
            Ok(()) if self.shared.congested.load(Ordering::Acquire) => SendStatus::Congested,
            Ok(()) => SendStatus::Queued,
            Err(SendError::Full(_)) => SendStatus::Dropped,
            Err(SendError::Closed(_)) => SendStatus::Closed,
        }
    }

    /// Sends text.
    pub fn send_text(&self, text: impl Into<String>) -> SendStatus {
        self.send(OwnedMessage::Text(text.into()))
    }

    /// Starts the close handshake with `code` (after messages sent before it).
    pub fn close(&self, code: u16, reason: &str) {
        // Behind the sends on the data lane; if that is full, the control
        // lane still carries it (messages are being dropped anyway).
        if let Err(SendError::Full(msg)) = self.to.try_send(Msg::Ws(WsMsg::Close(code, reason.to_string()))) {
            self.to.send(msg);
        }
    }

    /// True once the connection has closed.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// Publishes to a topic (every shard); returns how many shards refused
    /// it (see [`PubSub::publish`]).
    pub fn publish(&self, topic: &str, msg: Message<'_>) -> usize {
        self.pubsub.publish(topic, msg)
    }

    /// The connection's token (unique within its shard for its lifetime).
    pub fn token(&self) -> Token {
        self.to.token
    }

    /// The shard the connection lives on; with [`WsSender::token`], a
    /// server-wide unique id.
    pub fn shard(&self) -> usize {
        self.to.shard.id()
    }
}

/// Publishes to topics from any thread; every shard delivers to its
/// subscribers. Get one from `Server::pubsub`.
#[derive(Debug, Default)]
pub struct PubSub {
    pub(crate) shards: OnceLock<Arc<[ShardHandle<Msg>]>>,
}

impl PubSub {
    /// Sends `msg` to every subscriber of `topic`, on every shard. Returns
    /// how many shards refused it because their inbox was full (their
    /// subscribers miss this message; counted as `inbox_full` in the
    /// shard's stats); 0 when every shard took it.
    pub fn publish(&self, topic: &str, msg: Message<'_>) -> usize {
        let Some(shards) = self.shards.get() else { return 0 };
        let (text, bytes) = match msg {
            Message::Text(t) => (true, t.as_bytes()),
            Message::Binary(b) => (false, b),
        };
        let topic: Arc<str> = topic.into();
        let payload: Arc<[u8]> = bytes.into();
        let mut refused = 0;
        for h in shards.iter() {
            let msg = Msg::Ws(WsMsg::Publish { topic: topic.clone(), text, payload: payload.clone() });
            if h.try_send_to_shard(msg).is_err() {
                refused += 1;
            }
        }
        refused
    }
}

/// Per-shard WebSocket state: topic subscriptions and a shared compressor.
pub(crate) struct ShardWs {
    pub(crate) topics: HashMap<Arc<str>, Vec<Token>>,
    /// Shared compressors, one per compression level in use (routes may
    /// choose different levels), each with the largest window.
    shared_deflaters: Vec<Deflater>,
    pub(crate) out: Vec<u8>,
}

impl ShardWs {
    pub(crate) fn new() -> ShardWs {
        ShardWs { topics: HashMap::new(), shared_deflaters: Vec::new(), out: Vec::new() }
    }

    /// The compressor every `server_no_context_takeover` peer of this shard shares.
    pub(crate) fn deflater(&mut self, level: u8) -> &mut Deflater {
        deflater_for(&mut self.shared_deflaters, level)
    }
}

/// The handler's view of its connection, on the shard.
pub struct WsCtx<'a, 'c> {
    pub(crate) tx: &'a mut weir_ws::Writer,
    pub(crate) cx: &'a mut Ctx<'c, Msg>,
    pub(crate) route: &'a WsRoute,
    pub(crate) sender: &'a WsSender,
    pub(crate) topics: &'a mut Vec<Arc<str>>,
    pub(crate) shard: &'a mut ShardWs,
}

impl std::fmt::Debug for WsCtx<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsCtx").field("token", &self.sender.to.token).finish_non_exhaustive()
    }
}

impl WsCtx<'_, '_> {
    /// Sends a message (compressed if agreed and worthwhile).
    pub fn send(&mut self, msg: Message<'_>) -> SendStatus {
        send_on(self.tx, self.cx, self.route, self.sender, self.shard, msg)
    }

    /// Sends text.
    pub fn send_text(&mut self, text: &str) -> SendStatus {
        self.send(Message::Text(text))
    }

    /// Sends binary data.
    pub fn send_binary(&mut self, data: &[u8]) -> SendStatus {
        self.send(Message::Binary(data))
    }

    /// Starts the close handshake.
    pub fn close(&mut self, code: u16, reason: &str) {
        let _ = self.tx.close(code, reason);
        flush_pending(self.tx, self.cx, &mut self.shard.out);
        // The peer has this long to echo the Close (and to read what is queued).
        self.cx.set_deadline(CLOSE_GRACE);
    }

    /// Subscribes this connection to `topic`.
    pub fn subscribe(&mut self, topic: &str) {
        if self.topics.iter().any(|t| &**t == topic) {
            return;
        }
        let key: Arc<str> = match self.shard.topics.get_key_value(topic) {
            Some((k, _)) => k.clone(),
            None => topic.into(),
        };
        self.shard.topics.entry(key.clone()).or_default().push(self.sender.to.token);
        self.topics.push(key);
    }

    /// Unsubscribes this connection from `topic`.
    pub fn unsubscribe(&mut self, topic: &str) {
        self.topics.retain(|t| &**t != topic);
        unsubscribe(self.shard, topic, self.sender.to.token);
    }

    /// The topics this connection is subscribed to.
    pub fn topics(&self) -> impl Iterator<Item = &str> {
        self.topics.iter().map(|t| &**t)
    }

    /// Publishes to `topic` on every shard (this connection too, if
    /// subscribed); returns how many shards refused it (see [`PubSub::publish`]).
    pub fn publish(&self, topic: &str, msg: Message<'_>) -> usize {
        self.sender.pubsub.publish(topic, msg)
    }

    /// A handle for sending from other threads.
    pub fn sender(&self) -> WsSender {
        self.sender.clone()
    }

    /// Bytes queued for this connection and not yet sent.
    pub fn queued_bytes(&self) -> u64 {
        self.cx.queued_bytes()
    }
}

/// The shared compressor for `level`, made on first use.
fn deflater_for(deflaters: &mut Vec<Deflater>, level: u8) -> &mut Deflater {
    let level = level.min(9);
    let i = match deflaters.iter().position(|d| d.level() == level) {
        Some(i) => i,
        None => {
            deflaters.push(Deflater::new(level, 15));
            deflaters.len() - 1
        }
    };
    &mut deflaters[i]
}

pub(crate) fn unsubscribe(shard: &mut ShardWs, topic: &str, token: Token) {
    if let Some(list) = shard.topics.get_mut(topic) {
        list.retain(|t| *t != token);
        if list.is_empty() {
            shard.topics.remove(topic);
        }
    }
}

/// Applies the send-buffer policy; true if `len` more bytes may be queued.
pub(crate) fn admit(
    cx: &mut Ctx<'_, Msg>,
    tx: &mut weir_ws::Writer,
    route: &WsRoute,
    len: u64,
    out: &mut Vec<u8>,
) -> Result<(), SendStatus> {
    if !tx.can_send() {
        return Err(SendStatus::Closed);
    }
    // A message is always admitted into an empty queue, however large (a
    // 16 MiB echo must be possible with a 1 MiB buffer); otherwise it must
    // fit. Memory per connection stays below max_send_buffer plus one message.
    let queued = cx.queued_bytes();
    if queued > 0 && queued + len > route.max_send_buffer {
        return match route.slow_consumer {
            SlowConsumer::Drop => Err(SendStatus::Dropped),
            SlowConsumer::Close => {
                let _ = tx.close(1008, "send buffer overflow");
                flush_pending(tx, cx, out);
                cx.set_deadline(CLOSE_GRACE);
                Err(SendStatus::Closed)
            }
        };
    }
    Ok(())
}

pub(crate) fn after_send(cx: &mut Ctx<'_, Msg>, route: &WsRoute, sender: &WsSender) -> SendStatus {
    if cx.queued_bytes() > route.high_water {
        sender.shared.congested.store(true, Ordering::Release);
        // `on_drain` must come even if the kernel then takes the whole
        // queue at once (no EPOLLOUT edge would follow).
        cx.notify_when_drained();
        SendStatus::Congested
    } else {
        SendStatus::Queued
    }
}

pub(crate) fn send_on(
    tx: &mut weir_ws::Writer,
    cx: &mut Ctx<'_, Msg>,
    route: &WsRoute,
    sender: &WsSender,
    shard: &mut ShardWs,
    msg: Message<'_>,
) -> SendStatus {
    let (opcode, payload) = msg.parts();
    if let Err(s) = admit(cx, tx, route, payload.len() as u64 + 14, &mut shard.out) {
        return s;
    }
    let compress = tx.deflate().is_some_and(|d| d.should_compress(payload.len()));
    if compress {
        // Without context takeover every message starts from a fresh
        // window, so one per-shard compressor serves every connection
        // (a zlib compressor is ~256 KiB: never one per message).
        let out = &mut shard.out;
        out.clear();
        let level = tx.deflate().map_or(6, |d| d.level);
        let deflater = deflater_for(&mut shard.shared_deflaters, level);
        let res = if tx.can_share_compressed(deflater) {
            tx.encode_message_shared(msg, deflater, out)
        } else {
            tx.encode_message(msg, out)
        };
        if res.is_err() {
            return SendStatus::Closed;
        }
        cx.write_copy(out);
    } else {
        // Head on the stack, payload copied once into the write queue.
        match tx.message_header(opcode, payload.len()) {
            Ok(h) => {
                cx.write_copy(h.as_bytes());
                cx.write_copy(payload);
            }
            Err(_) => return SendStatus::Closed,
        }
    }
    after_send(cx, route, sender)
}

pub(crate) fn flush_pending(tx: &mut weir_ws::Writer, cx: &mut Ctx<'_, Msg>, out: &mut Vec<u8>) {
    if tx.has_pending() {
        out.clear();
        tx.take_pending(out);
        cx.write_copy(out);
    }
}

/// The built-in echo endpoint (`/ws/echo`): every message is sent back.
#[derive(Debug, Default, Clone, Copy)]
pub struct Echo;

impl WsHandler for Echo {
    type State = ();
    fn on_open(&self, _: &mut WsCtx<'_, '_>, _: &Request<'_>) {}
    fn on_message(&self, (): &mut (), ws: &mut WsCtx<'_, '_>, msg: Message<'_>) {
        ws.send(msg);
    }
}

//! WebSocket endpoints: the glue between `weir-ws` (sans-IO protocol) and
//! the connection.
//!
//! ```text
//!   GET /chat Upgrade: websocket ──> handshake::accept ──> 101 written
//!        the connection switches to WsConnState; bytes now go to WsConn::feed
//!   feed ──> Event::Message ──> WsHandler::on_message(ws, msg)
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

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use weir_reactor::{Ctx, ShardCtx, ShardHandle, SharedBytes, Token};
use weir_ws::{
    encode_message_once, Deflater, Event, HandshakeConfig, Keepalive, Limits, Message, OpCode, WsConn,
};

pub use weir_ws::{DeflateOptions, Message as WsMessage};

use crate::app::Route;
use crate::conn::{Conn, HttpShard, Msg};
use crate::request::Request;
use crate::response::Response;

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
pub trait WsHandler: Send + Sync + 'static {
    /// The handshake completed; `req` is the upgrade request (path,
    /// route parameters, query, headers such as cookies).
    fn on_open(&self, ws: &mut WsCtx<'_, '_>, req: &Request<'_>) {
        let _ = (ws, req);
    }
    /// A whole message arrived (text is valid UTF-8, already decompressed).
    fn on_message(&self, ws: &mut WsCtx<'_, '_>, msg: Message<'_>);
    /// The send queue emptied after `send` reported [`SendStatus::Congested`].
    fn on_drain(&self, ws: &mut WsCtx<'_, '_>) {
        let _ = ws;
    }
    /// The connection closed (`code`: the peer's close code, if it sent one).
    fn on_close(&self, sender: &WsSender, code: Option<u16>) {
        let _ = (sender, code);
    }
}

/// A WebSocket endpoint: its handler and settings. Add it with `App::ws`.
pub struct WsRoute {
    pub(crate) handler: Arc<dyn WsHandler>,
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
    pub fn handshake(mut self, config: HandshakeConfig) -> Self {
        self.handshake = config;
        self
    }

    /// Turns permessage-deflate off.
    pub fn without_compression(mut self) -> Self {
        self.handshake.deflate = None;
        self
    }

    /// Frame, message and inflate limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The most bytes queued for one connection, and the policy past it. A
    /// message is always accepted into an empty queue, so a connection holds
    /// at most this plus one message.
    pub fn max_send_buffer(mut self, bytes: u64, policy: SlowConsumer) -> Self {
        self.max_send_buffer = bytes;
        self.high_water = self.high_water.min(bytes);
        self.slow_consumer = policy;
        self
    }

    /// Keep-alive pings every `interval` (`None`: never); a connection
    /// silent for two intervals is closed.
    pub fn ping_interval(mut self, interval: Option<Duration>) -> Self {
        self.ping_interval = interval;
        self
    }
}

/// An owned message, for sending from other threads.
#[derive(Debug, Clone)]
pub enum OwnedMessage {
    /// Text.
    Text(String),
    /// Binary.
    Binary(Vec<u8>),
}

impl OwnedMessage {
    fn as_message(&self) -> Message<'_> {
        match self {
            OwnedMessage::Text(s) => Message::Text(s),
            OwnedMessage::Binary(b) => Message::Binary(b),
        }
    }
}

/// WebSocket traffic between threads.
#[derive(Debug)]
pub enum WsMsg {
    /// Send to one connection.
    Send(OwnedMessage),
    /// Close one connection.
    Close(u16, String),
    /// Deliver to every subscriber of `topic` on the receiving shard.
    Publish {
        /// The topic.
        topic: Arc<str>,
        /// Text (true) or binary.
        text: bool,
        /// The payload.
        payload: Arc<[u8]>,
    },
}

#[derive(Debug, Default)]
struct SenderShared {
    congested: AtomicBool,
    closed: AtomicBool,
}

/// Sends to one WebSocket connection from any thread. `Send + Clone`.
#[derive(Debug, Clone)]
pub struct WsSender {
    handle: ShardHandle<Msg>,
    token: Token,
    shared: Arc<SenderShared>,
    pubsub: Arc<PubSub>,
}

impl WsSender {
    /// Queues a message for the connection (encoded on its shard).
    /// Returns [`SendStatus::Congested`] while the connection is behind and
    /// [`SendStatus::Closed`] once it is gone.
    pub fn send(&self, msg: OwnedMessage) -> SendStatus {
        if self.shared.closed.load(Ordering::Acquire)
            || !self.handle.send(self.token, Msg::Ws(WsMsg::Send(msg)))
        {
            return SendStatus::Closed;
        }
        if self.shared.congested.load(Ordering::Acquire) {
            SendStatus::Congested
        } else {
            SendStatus::Queued
        }
    }

    /// Sends text.
    pub fn send_text(&self, text: impl Into<String>) -> SendStatus {
        self.send(OwnedMessage::Text(text.into()))
    }

    /// Starts the close handshake with `code`.
    pub fn close(&self, code: u16, reason: &str) {
        self.handle.send(self.token, Msg::Ws(WsMsg::Close(code, reason.to_string())));
    }

    /// True once the connection has closed.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// Publishes to a topic (every shard).
    pub fn publish(&self, topic: &str, msg: Message<'_>) {
        self.pubsub.publish(topic, msg);
    }

    /// The connection's token (unique within its shard for its lifetime).
    pub fn token(&self) -> Token {
        self.token
    }

    /// The shard the connection lives on; with [`WsSender::token`], a
    /// server-wide unique id.
    pub fn shard(&self) -> usize {
        self.handle.id()
    }
}

/// Publishes to topics from any thread; every shard delivers to its
/// subscribers. Get one from `Server::pubsub`.
#[derive(Debug, Default)]
pub struct PubSub {
    pub(crate) shards: OnceLock<Arc<[ShardHandle<Msg>]>>,
}

impl PubSub {
    /// Sends `msg` to every subscriber of `topic`, on every shard.
    pub fn publish(&self, topic: &str, msg: Message<'_>) {
        let Some(shards) = self.shards.get() else { return };
        let (text, bytes) = match msg {
            Message::Text(t) => (true, t.as_bytes()),
            Message::Binary(b) => (false, b),
        };
        let topic: Arc<str> = topic.into();
        let payload: Arc<[u8]> = bytes.into();
        for h in shards.iter() {
            h.send_to_shard(Msg::Ws(WsMsg::Publish { topic: topic.clone(), text, payload: payload.clone() }));
        }
    }
}

/// Per-shard WebSocket state: topic subscriptions and a shared compressor.
pub(crate) struct ShardWs {
    topics: HashMap<Arc<str>, Vec<Token>>,
    shared_deflater: Option<Deflater>,
    out: Vec<u8>,
}

impl ShardWs {
    pub(crate) fn new(_id: usize) -> ShardWs {
        ShardWs { topics: HashMap::new(), shared_deflater: None, out: Vec::new() }
    }
}

/// A connection after the upgrade.
pub(crate) struct WsConnState {
    conn: WsConn,
    route: Arc<WsRoute>,
    sender: WsSender,
    topics: Vec<Arc<str>>,
    close_code: Option<u16>,
}

/// The handler's view of its connection, on the shard.
pub struct WsCtx<'a, 'c> {
    tx: &'a mut weir_ws::Writer,
    cx: &'a mut Ctx<'c, Msg>,
    route: &'a WsRoute,
    sender: &'a WsSender,
    topics: &'a mut Vec<Arc<str>>,
    shard: &'a mut ShardWs,
}

impl std::fmt::Debug for WsCtx<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsCtx").field("token", &self.sender.token).finish_non_exhaustive()
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
        self.shard.topics.entry(key.clone()).or_default().push(self.sender.token);
        self.topics.push(key);
    }

    /// Unsubscribes this connection from `topic`.
    pub fn unsubscribe(&mut self, topic: &str) {
        self.topics.retain(|t| &**t != topic);
        unsubscribe(self.shard, topic, self.sender.token);
    }

    /// The topics this connection is subscribed to.
    pub fn topics(&self) -> impl Iterator<Item = &str> {
        self.topics.iter().map(|t| &**t)
    }

    /// Publishes to `topic` on every shard (this connection too, if subscribed).
    pub fn publish(&self, topic: &str, msg: Message<'_>) {
        self.sender.pubsub.publish(topic, msg);
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

fn unsubscribe(shard: &mut ShardWs, topic: &str, token: Token) {
    if let Some(list) = shard.topics.get_mut(topic) {
        list.retain(|t| *t != token);
        if list.is_empty() {
            shard.topics.remove(topic);
        }
    }
}

/// Applies the send-buffer policy; true if `len` more bytes may be queued.
fn admit(
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
                Err(SendStatus::Closed)
            }
        };
    }
    Ok(())
}

fn after_send(cx: &Ctx<'_, Msg>, route: &WsRoute, sender: &WsSender) -> SendStatus {
    if cx.queued_bytes() > route.high_water {
        sender.shared.congested.store(true, Ordering::Release);
        SendStatus::Congested
    } else {
        SendStatus::Queued
    }
}

fn send_on(
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
        let deflater = shard.shared_deflater.get_or_insert_with(|| Deflater::new(6, 15));
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

fn flush_pending(tx: &mut weir_ws::Writer, cx: &mut Ctx<'_, Msg>, out: &mut Vec<u8>) {
    if tx.has_pending() {
        out.clear();
        tx.take_pending(out);
        cx.write_copy(out);
    }
}

// ------------------------------------------------------- connection glue

/// Validates the upgrade; on success writes the 101 and returns the new state.
pub(crate) fn accept(
    shard: &mut HttpShard,
    cx: &mut Ctx<'_, Msg>,
    req: &Request<'_>,
    route: &Route,
    ws_route: &Arc<WsRoute>,
) -> Result<Box<WsConnState>, Response> {
    for (i, m) in route.chain.iter().enumerate() {
        if let Some(mut resp) = m.before(req) {
            crate::middleware::run_after(&route.chain[..=i], req, &mut resp);
            return Err(resp);
        }
    }
    let accepted = weir_ws::accept(
        req.head.method_bytes(req.buf),
        req.version().minor(),
        req.headers(),
        &ws_route.handshake,
    )
    .map_err(|e| Response::error(e.status()).with_header("Sec-WebSocket-Version", &b"13"[..]))?;
    let out = &mut shard.ws.out;
    out.clear();
    accepted.write_response(out);
    cx.write_copy(out);
    let sender = WsSender {
        handle: cx.handle(),
        token: cx.token(),
        shared: Arc::new(SenderShared::default()),
        pubsub: shard.shared.pubsub.clone(),
    };
    let mut state = Box::new(WsConnState {
        conn: WsConn::new(ws_route.limits, accepted.deflate()),
        route: ws_route.clone(),
        sender,
        topics: Vec::new(),
        close_code: None,
    });
    arm_keepalive(&state, cx);
    let WsConnState { conn, route, sender, topics, .. } = &mut *state;
    let mut ctx = WsCtx { tx: conn.writer(), cx, route, sender, topics, shard: &mut shard.ws };
    route.handler.on_open(&mut ctx, req);
    Ok(state)
}

fn arm_keepalive(state: &WsConnState, cx: &mut Ctx<'_, Msg>) {
    match state.route.ping_interval {
        Some(d) => cx.set_deadline(d),
        None => cx.clear_deadline(),
    }
}

pub(crate) fn on_data(
    shard: &mut HttpShard,
    conn: &mut Conn,
    cx: &mut Ctx<'_, Msg>,
    data: &mut [u8],
) -> usize {
    let state = conn.ws.as_deref_mut().expect("websocket state");
    let WsConnState { conn: ws, route, sender, topics, close_code } = state;
    let shard_ws = &mut shard.ws;
    let result = ws.feed(data, |event, tx| {
        // Control replies (a Pong for a Ping that arrived mid-message) go
        // out before anything the handler sends after them.
        flush_pending(tx, cx, &mut shard_ws.out);
        match event {
            Event::Message(msg) => {
                let mut ctx =
                    WsCtx { tx, cx: &mut *cx, route, sender, topics: &mut *topics, shard: &mut *shard_ws };
                route.handler.on_message(&mut ctx, msg);
            }
            Event::Close(frame) => *close_code = frame.code,
            Event::Ping(_) | Event::Pong(_) => {}
        }
    });
    flush_pending(ws.writer(), cx, &mut shard_ws.out);
    match result {
        Ok(n) => {
            if ws.is_closed() {
                cx.close();
            }
            n
        }
        Err(_) => {
            // The library queued the Close frame with the right code.
            cx.close();
            data.len()
        }
    }
}

pub(crate) fn on_eof(_shard: &mut HttpShard, _conn: &mut Conn, cx: &mut Ctx<'_, Msg>) {
    cx.close();
}

pub(crate) fn on_writable(shard: &mut HttpShard, conn: &mut Conn, cx: &mut Ctx<'_, Msg>) {
    let state = conn.ws.as_deref_mut().expect("websocket state");
    if cx.queued_bytes() == 0 && state.sender.shared.congested.swap(false, Ordering::AcqRel) {
        let WsConnState { conn: ws, route, sender, topics, .. } = state;
        let mut ctx = WsCtx { tx: ws.writer(), cx, route, sender, topics, shard: &mut shard.ws };
        route.handler.on_drain(&mut ctx);
    }
}

pub(crate) fn on_timer(shard: &mut HttpShard, conn: &mut Conn, cx: &mut Ctx<'_, Msg>) {
    let state = conn.ws.as_deref_mut().expect("websocket state");
    if state.conn.is_closing() || state.conn.is_closed() {
        cx.close(); // the peer never answered our Close
        return;
    }
    match state.conn.keepalive_tick() {
        Keepalive::TimedOut => {
            let _ = state.conn.close(1001, "idle timeout");
            flush_pending(state.conn.writer(), cx, &mut shard.ws.out);
            cx.close();
        }
        Keepalive::Active | Keepalive::PingQueued => {
            flush_pending(state.conn.writer(), cx, &mut shard.ws.out);
            arm_keepalive(state, cx);
        }
    }
}

pub(crate) fn on_message(shard: &mut HttpShard, conn: &mut Conn, cx: &mut Ctx<'_, Msg>, msg: WsMsg) {
    let Some(state) = conn.ws.as_deref_mut() else { return };
    match msg {
        WsMsg::Send(m) => {
            let WsConnState { conn: ws, route, sender, .. } = state;
            send_on(ws.writer(), cx, route, sender, &mut shard.ws, m.as_message());
        }
        WsMsg::Close(code, reason) => {
            let _ = state.conn.close(code, &reason);
            flush_pending(state.conn.writer(), cx, &mut shard.ws.out);
            // Give the peer a moment to echo the Close.
            cx.set_deadline(Duration::from_secs(5));
        }
        WsMsg::Publish { .. } => {}
    }
}

pub(crate) fn on_shard_message(shard: &mut HttpShard, sc: &mut ShardCtx<'_, HttpShard>, msg: WsMsg) {
    let WsMsg::Publish { topic, text, payload } = msg else { return };
    let Some(subs) = shard.ws.topics.get(&topic) else { return };
    let subs = subs.clone();
    let opcode = if text { OpCode::Text } else { OpCode::Binary };
    // Encoded once per shard, shared by every subscriber here.
    let plain: Arc<[u8]> = match encode_message_once(opcode, &payload, None) {
        Ok(f) => f.into(),
        Err(_) => return,
    };
    let mut compressed: Option<Arc<[u8]>> = None;
    for token in subs {
        sc.with_conn(token, |conn, cx| {
            let Some(state) = conn.ws.as_deref_mut() else { return };
            let WsConnState { conn: ws, route, sender, .. } = state;
            let tx = ws.writer();
            let wants_deflate = tx.deflate().is_some_and(|d| d.should_compress(payload.len()));
            let frame = if wants_deflate {
                let deflater = shard.ws.shared_deflater.get_or_insert_with(|| Deflater::new(6, 15));
                if tx.can_share_compressed(deflater) {
                    if compressed.is_none() {
                        compressed =
                            encode_message_once(opcode, &payload, Some(deflater)).ok().map(Into::into);
                    }
                    compressed.clone()
                } else {
                    None
                }
            } else {
                Some(plain.clone())
            };
            let frame = match frame {
                Some(f) => f,
                None => {
                    // This peer needs its own compression context.
                    let m = if text {
                        Message::Text(std::str::from_utf8(&payload).unwrap_or(""))
                    } else {
                        Message::Binary(&payload)
                    };
                    send_on(tx, cx, route, sender, &mut shard.ws, m);
                    return;
                }
            };
            if admit(cx, tx, route, frame.len() as u64, &mut shard.ws.out).is_ok() {
                cx.write(SharedBytes::new(frame));
                after_send(cx, route, sender);
            }
        });
    }
}

pub(crate) fn on_shutdown(shard: &mut ShardWs, conn: &mut Conn, cx: &mut Ctx<'_, Msg>) {
    let Some(state) = conn.ws.as_deref_mut() else { return };
    let _ = state.conn.close(1001, "server shutting down");
    flush_pending(state.conn.writer(), cx, &mut shard.out);
    cx.set_deadline(Duration::from_secs(2));
}

pub(crate) fn on_close(shard: &mut HttpShard, state: Box<WsConnState>) {
    state.sender.shared.closed.store(true, Ordering::Release);
    for topic in &state.topics {
        unsubscribe(&mut shard.ws, topic, state.sender.token);
    }
    state.route.handler.on_close(&state.sender, state.close_code);
}

/// The built-in echo endpoint (`/ws/echo`): every message is sent back.
#[derive(Debug, Default, Clone, Copy)]
pub struct Echo;

impl WsHandler for Echo {
    fn on_message(&self, ws: &mut WsCtx<'_, '_>, msg: Message<'_>) {
        ws.send(msg);
    }
}

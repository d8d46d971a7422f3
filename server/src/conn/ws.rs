//! The WebSocket protocol state of a connection (after `101 Switching
//! Protocols`): `weir-ws`'s sans-IO [`WsConn`] fed by the reactor's bytes,
//! the application's [`WsHandler`](crate::ws::WsHandler) and its
//! per-connection state, keep-alive pings, pub/sub delivery on this shard,
//! and the close handshake. RFC 6455 (framing, close), RFC 7692 (deflate).

use std::any::Any;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use weir_reactor::{Ctx, ShardCtx, SharedBytes};
use weir_ws::{encode_message_once, Event, Keepalive, Message, OpCode, WsConn};

use crate::app::Route;
use crate::conn::HttpShard;
use crate::msg::{ConnAddr, Msg, WsMsg};
use crate::request::Request;
use crate::response::Response;
use crate::ws::{
    admit, after_send, flush_pending, send_on, unsubscribe, SenderShared, ShardWs, WsCtx, WsRoute, WsSender,
    CLOSE_GRACE,
};

/// A connection after the upgrade.
pub(crate) struct WsConnState {
    conn: WsConn,
    route: Arc<WsRoute>,
    sender: WsSender,
    topics: Vec<Arc<str>>,
    close_code: Option<u16>,
    /// The handler's per-connection state (its `WsHandler::State`).
    app: Box<dyn Any>,
}

/// A [`WsCtx`] over the parts of `$state` (a macro, so the borrows of the
/// fields stay disjoint from `$state.app`).
macro_rules! ws_ctx {
    ($state:expr, $tx:expr, $cx:expr, $shard:expr) => {
        WsCtx {
            tx: $tx,
            cx: $cx,
            route: &$state.route,
            sender: &$state.sender,
            topics: &mut $state.topics,
            shard: $shard,
        }
    };
}

impl WsConnState {
    /// Validates the upgrade; on success writes the 101, runs the handler's
    /// `on_open` and returns the new state.
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
        .map_err(|e| {
            // RFC 9110 §15.5.22: a 426 names the protocol to upgrade to.
            let resp = Response::error(e.status()).with_header("Sec-WebSocket-Version", "13");
            if e.status() == 426 {
                resp.with_header("Upgrade", "websocket")
            } else {
                resp
            }
        })?;
        let out = &mut shard.ws.out;
        out.clear();
        accepted.write_response(out);
        cx.write_copy(out);
        let sender = WsSender {
            to: ConnAddr { shard: cx.handle(), token: cx.token() },
            shared: Arc::new(SenderShared::default()),
            pubsub: shard.shared.pubsub.clone(),
        };
        let mut state = Box::new(WsConnState {
            conn: WsConn::new(ws_route.limits, accepted.deflate()),
            route: ws_route.clone(),
            sender,
            topics: Vec::new(),
            close_code: None,
            app: Box::new(()),
        });
        arm_keepalive(&state, cx);
        let s = &mut *state;
        let mut ctx = ws_ctx!(s, s.conn.writer(), cx, &mut shard.ws);
        s.app = s.route.handler.open(&mut ctx, req);
        Ok(state)
    }
}

fn arm_keepalive(state: &WsConnState, cx: &mut Ctx<'_, Msg>) {
    match state.route.ping_interval {
        Some(d) => cx.set_deadline(d),
        None => cx.clear_deadline(),
    }
}

pub(crate) fn on_data(
    shard: &mut HttpShard,
    state: &mut WsConnState,
    cx: &mut Ctx<'_, Msg>,
    data: &mut [u8],
) -> usize {
    let WsConnState { conn: ws, route, sender, topics, close_code, app } = state;
    let shard_ws = &mut shard.ws;
    let result = ws.feed(data, |event, tx| {
        // Control replies (a Pong for a Ping that arrived mid-message) go
        // out before anything the handler sends after them.
        flush_pending(tx, cx, &mut shard_ws.out);
        match event {
            Event::Message(msg) => {
                let mut ctx =
                    WsCtx { tx, cx: &mut *cx, route, sender, topics: &mut *topics, shard: &mut *shard_ws };
                route.handler.message(&mut **app, &mut ctx, msg);
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

pub(crate) fn on_writable(shard: &mut HttpShard, state: &mut WsConnState, cx: &mut Ctx<'_, Msg>) {
    if cx.queued_bytes() == 0 && state.sender.shared.congested.swap(false, Ordering::AcqRel) {
        let s = state;
        let mut ctx = ws_ctx!(s, s.conn.writer(), cx, &mut shard.ws);
        s.route.handler.drain(&mut *s.app, &mut ctx);
    }
}

pub(crate) fn on_timer(shard: &mut HttpShard, state: &mut WsConnState, cx: &mut Ctx<'_, Msg>) {
    if state.conn.is_closing() || state.conn.is_closed() {
        // The peer never answered our Close. If it is not even reading
        // what we queued, a graceful close would wait forever: drop it.
        if cx.queued_bytes() > 0 {
            cx.abort();
        } else {
            cx.close();
        }
        return;
    }
    match state.conn.keepalive_tick() {
        Keepalive::TimedOut => {
            let _ = state.conn.close(1001, "idle timeout");
            flush_pending(state.conn.writer(), cx, &mut shard.ws.out);
            cx.close();
            cx.set_deadline(CLOSE_GRACE);
        }
        Keepalive::Active | Keepalive::PingQueued => {
            flush_pending(state.conn.writer(), cx, &mut shard.ws.out);
            arm_keepalive(state, cx);
        }
    }
}

pub(crate) fn on_message(shard: &mut HttpShard, state: &mut WsConnState, cx: &mut Ctx<'_, Msg>, msg: WsMsg) {
    match msg {
        WsMsg::Send(m) => {
            let WsConnState { conn: ws, route, sender, .. } = state;
            send_on(ws.writer(), cx, route, sender, &mut shard.ws, m.as_message());
        }
        WsMsg::Close(code, reason) => {
            let _ = state.conn.close(code, &reason);
            flush_pending(state.conn.writer(), cx, &mut shard.ws.out);
            // Give the peer a moment to echo the Close.
            cx.set_deadline(CLOSE_GRACE);
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
            let crate::conn::Conn::Ws(state) = conn else { return };
            let WsConnState { conn: ws, route, sender, .. } = &mut **state;
            let tx = ws.writer();
            let wants_deflate = tx.deflate().is_some_and(|d| d.should_compress(payload.len()));
            let frame = if wants_deflate {
                let deflater = shard.ws.deflater(tx.deflate().map_or(6, |d| d.level));
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

pub(crate) fn on_shutdown(shard: &mut ShardWs, state: &mut WsConnState, cx: &mut Ctx<'_, Msg>) {
    let _ = state.conn.close(1001, "server shutting down");
    flush_pending(state.conn.writer(), cx, &mut shard.out);
    cx.set_deadline(Duration::from_secs(2));
}

pub(crate) fn on_close(shard: &mut HttpShard, state: Box<WsConnState>) {
    state.sender.shared.closed.store(true, Ordering::Release);
    for topic in &state.topics {
        unsubscribe(&mut shard.ws, topic, state.sender.to.token);
    }
    let WsConnState { route, sender, close_code, app, .. } = *state;
    route.handler.close(app, &sender, close_code);
}

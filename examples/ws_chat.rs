//! A chat server: rooms over WebSocket pub/sub, with its page served by weir.
//!
//! ```text
//! cargo run --release --example ws_chat -- 127.0.0.1:8090
//! # open http://127.0.0.1:8090/ in two browser windows
//! ```
//!
//! Each room is a pub/sub topic. A message from any connection, on any
//! shard, is published to the room's topic; every shard encodes the frame
//! once and queues the same bytes to each of its subscribers. Nicknames
//! come from the upgrade request's query string; the server, not the
//! client, builds the JSON, so a client cannot impersonate another.
//!
//! Each connection's room and nickname are its `WsHandler::State`: kept by
//! the server beside the connection, on its shard, with no lock and no
//! global table.

use weir::ws::{WsCtx, WsHandler, WsMessage, WsRoute, WsSender};
use weir::{App, Request, Response, Server};

const PAGE: &str = include_str!("ws_chat/index.html");
/// Longest chat message accepted, in bytes.
const MAX_TEXT: usize = 2000;

struct Chat;

/// One member: where they are and what they are called.
struct Member {
    room: String,
    nick: String,
}

fn event(nick: &str, text: &str, system: bool) -> String {
    serde_json::json!({ "nick": nick, "text": text, "system": system }).to_string()
}

impl WsHandler for Chat {
    type State = Member;

    fn on_open(&self, ws: &mut WsCtx<'_, '_>, req: &Request<'_>) -> Member {
        let room = req.param("room").unwrap_or("lobby").to_string();
        let nick: String = req
            .query_param("nick")
            .map(|n| n.chars().filter(|c| !c.is_control()).take(24).collect())
            .filter(|n: &String| !n.is_empty())
            .unwrap_or_else(|| "anonymous".into());
        ws.subscribe(&room);
        ws.publish(&room, WsMessage::Text(&event(&nick, &format!("{nick} joined {room}"), true)));
        Member { room, nick }
    }

    fn on_message(&self, me: &mut Member, ws: &mut WsCtx<'_, '_>, msg: WsMessage<'_>) {
        let WsMessage::Text(text) = msg else { return };
        if text.len() > MAX_TEXT {
            ws.close(1009, "message too long");
            return;
        }
        ws.publish(&me.room, WsMessage::Text(&event(&me.nick, text, false)));
    }

    fn on_close(&self, me: Member, sender: &WsSender, _code: Option<u16>) {
        sender.publish(&me.room, WsMessage::Text(&event(&me.nick, &format!("{} left", me.nick), true)));
    }
}

fn main() -> std::io::Result<()> {
    weir::block_shutdown_signals()?;
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8090".into());
    let app = App::new().get("/", |_| Response::html(PAGE)).ws("/chat/:room", WsRoute::new(Chat));
    let server = Server::builder(app).listen(addr.parse().expect("listen address")).start()?;
    println!("chat on http://{}/", server.local_addrs()[0]);
    server.run_until_signal()
}

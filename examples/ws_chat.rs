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

use std::collections::HashMap;
use std::sync::Mutex;

use weir::ws::{WsCtx, WsHandler, WsMessage, WsRoute, WsSender};
use weir::{App, Request, Response, Server};

const PAGE: &str = include_str!("ws_chat/index.html");
/// Longest chat message accepted, in bytes.
const MAX_TEXT: usize = 2000;

/// Who is where: (shard, token) -> (room, nick). Touched on join and leave only.
#[derive(Default)]
struct Chat {
    members: Mutex<HashMap<(usize, u64), (String, String)>>,
}

fn event(nick: &str, text: &str, system: bool) -> String {
    serde_json::json!({ "nick": nick, "text": text, "system": system }).to_string()
}

impl WsHandler for Chat {
    fn on_open(&self, ws: &mut WsCtx<'_, '_>, req: &Request<'_>) {
        let room = req.param("room").unwrap_or("lobby").to_string();
        let nick: String = req
            .query_param("nick")
            .map(|n| n.chars().filter(|c| !c.is_control()).take(24).collect())
            .filter(|n: &String| !n.is_empty())
            .unwrap_or_else(|| "anonymous".into());
        ws.subscribe(&room);
        ws.publish(&room, WsMessage::Text(&event(&nick, &format!("{nick} joined {room}"), true)));
        let s = ws.sender();
        self.members.lock().unwrap().insert((s.shard(), s.token().as_u64()), (room, nick));
    }

    fn on_message(&self, ws: &mut WsCtx<'_, '_>, msg: WsMessage<'_>) {
        let WsMessage::Text(text) = msg else { return };
        if text.len() > MAX_TEXT {
            ws.close(1009, "message too long");
            return;
        }
        let s = ws.sender();
        let Some((room, nick)) = self.members.lock().unwrap().get(&(s.shard(), s.token().as_u64())).cloned()
        else {
            return;
        };
        ws.publish(&room, WsMessage::Text(&event(&nick, text, false)));
    }

    fn on_close(&self, sender: &WsSender, _code: Option<u16>) {
        if let Some((room, nick)) =
            self.members.lock().unwrap().remove(&(sender.shard(), sender.token().as_u64()))
        {
            sender.publish(&room, WsMessage::Text(&event(&nick, &format!("{nick} left"), true)));
        }
    }
}

fn main() -> std::io::Result<()> {
    weir::block_shutdown_signals()?;
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8090".into());
    let app = App::new().get("/", |_| Response::html(PAGE)).ws("/chat/:room", WsRoute::new(Chat::default()));
    let server = Server::builder(app).listen(addr.parse().expect("listen address")).start()?;
    println!("chat on http://{}/", server.local_addrs()[0]);
    server.run_until_signal()
}

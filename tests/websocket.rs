//! WebSocket end to end, with an independent client (tungstenite) and raw
//! frames where the client library would not send what we need.

// Test code: a failed unwrap is a failed test (the workspace denies unwrap in library code).
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};

use common::TestServer;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::Message as TMessage;
use weir::ws::{SendStatus, SlowConsumer, WsCtx, WsHandler, WsMessage, WsRoute};
use weir::{App, ServerConfig};

#[derive(Default)]
struct Observed {
    statuses: Vec<SendStatus>,
    max_queued: u64,
}

struct TestWs {
    observed: Arc<Mutex<Observed>>,
}

impl WsHandler for TestWs {
    type State = ();
    fn on_open(&self, _: &mut WsCtx<'_, '_>, _: &weir::Request<'_>) {}
    fn on_message(&self, (): &mut (), ws: &mut WsCtx<'_, '_>, msg: WsMessage<'_>) {
        match msg {
            WsMessage::Text("sub") => {
                ws.subscribe("room");
                ws.send_text("subscribed");
            }
            WsMessage::Text("flood") => {
                let chunk = vec![7u8; 64 * 1024];
                let mut o = self.observed.lock().unwrap();
                for _ in 0..200 {
                    let s = ws.send_binary(&chunk);
                    o.statuses.push(s);
                    o.max_queued = o.max_queued.max(ws.queued_bytes());
                }
            }
            WsMessage::Text(t) if t.starts_with("pub ") => {
                assert_eq!(ws.publish("room", WsMessage::Text(&t[4..])), 0, "every shard took the publish");
            }
            other => {
                ws.send(other);
            }
        }
    }
}

const SEND_BUFFER: u64 = 1024 * 1024;

fn start(shards: usize) -> (TestServer, Arc<Mutex<Observed>>) {
    let observed = Arc::new(Mutex::new(Observed::default()));
    let route =
        WsRoute::new(TestWs { observed: observed.clone() }).max_send_buffer(SEND_BUFFER, SlowConsumer::Drop);
    let app = App::new().ws("/ws", route).get("/", |_| weir::Response::text("http still works"));
    (TestServer::with_config(app, ServerConfig::default(), shards), observed)
}

type Ws = tungstenite::WebSocket<TcpStream>;

fn connect(srv: &TestServer) -> Ws {
    srv.ws_connect("/ws")
}

fn next_text(ws: &mut Ws) -> String {
    common::ws_next_text(ws)
}

/// Reads until the server's Close frame and checks its code.
fn expect_close(ws: &mut Ws, code: CloseCode) {
    loop {
        match ws.read() {
            Ok(TMessage::Close(Some(f))) => {
                assert_eq!(f.code, code);
                return;
            }
            Ok(_) => continue,
            Err(e) => panic!("expected a close with {code:?}, got {e}"),
        }
    }
}

#[test]
fn echo_text_and_binary() {
    let (srv, _) = start(1);
    let mut ws = connect(&srv);
    ws.send(TMessage::Text("héllo".into())).unwrap();
    assert_eq!(next_text(&mut ws), "héllo");
    let big: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
    ws.send(TMessage::Binary(big.clone())).unwrap();
    match ws.read().unwrap() {
        TMessage::Binary(b) => assert!(b[..] == big[..]),
        other => panic!("unexpected {other:?}"),
    }
    ws.close(None).unwrap();
}

/// A masked client frame, by hand.
fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x11u8, 0x22, 0x33, 0x44];
    let mut out = vec![u8::from(fin) << 7 | opcode];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n < 65536 => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

fn raw_upgrade(srv: &TestServer) -> TcpStream {
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.set_read_timeout(Some(common::READ_TIMEOUT)).unwrap();
    s.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).unwrap();
        head.push(b[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{head}");
    s
}

fn read_frame(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut h = [0u8; 2];
    s.read_exact(&mut h).unwrap();
    let len = match h[1] & 0x7f {
        126 => {
            let mut l = [0u8; 2];
            s.read_exact(&mut l).unwrap();
            u16::from_be_bytes(l) as usize
        }
        127 => {
            let mut l = [0u8; 8];
            s.read_exact(&mut l).unwrap();
            u64::from_be_bytes(l) as usize
        }
        n => n as usize,
    };
    let mut p = vec![0u8; len];
    s.read_exact(&mut p).unwrap();
    (h[0], p)
}

#[test]
fn fragmented_message_with_an_interleaved_ping() {
    let (srv, _) = start(1);
    let mut s = raw_upgrade(&srv);
    let mut bytes = frame(false, 0x1, b"frag");
    bytes.extend(frame(true, 0x9, b"ping!"));
    bytes.extend(frame(false, 0x0, b"men"));
    bytes.extend(frame(true, 0x0, b"ted"));
    // Split the bytes at an awkward place, and send in pieces.
    let (a, b) = bytes.split_at(7);
    s.write_all(a).unwrap();
    s.write_all(b).unwrap();
    assert_eq!(read_frame(&mut s), (0x8A, b"ping!".to_vec()), "pong first");
    assert_eq!(read_frame(&mut s), (0x81, b"fragmented".to_vec()));
}

#[test]
fn close_codes() {
    let (srv, _) = start(1);
    // A normal close is echoed with the same code.
    let mut s = raw_upgrade(&srv);
    s.write_all(&frame(true, 0x8, &[0x03, 0xE8, b'b', b'y', b'e'])).unwrap();
    let (op, payload) = read_frame(&mut s);
    assert_eq!((op, &payload[..2]), (0x88, &[0x03, 0xE8][..]));
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "then the TCP close");

    // Invalid UTF-8 in a text message: 1007.
    let mut s = raw_upgrade(&srv);
    s.write_all(&frame(true, 0x1, &[0xce, 0xba, 0xff])).unwrap();
    let (op, payload) = read_frame(&mut s);
    assert_eq!((op, u16::from_be_bytes([payload[0], payload[1]])), (0x88, 1007));

    // An unmasked client frame is a protocol error: 1002.
    let mut s = raw_upgrade(&srv);
    s.write_all(&[0x81, 0x02, b'h', b'i']).unwrap();
    let (op, payload) = read_frame(&mut s);
    assert_eq!((op, u16::from_be_bytes([payload[0], payload[1]])), (0x88, 1002));

    // Through the independent client: the server answers a close with the same code.
    let mut ws = connect(&srv);
    ws.close(Some(tungstenite::protocol::CloseFrame { code: CloseCode::Away, reason: "".into() })).unwrap();
    expect_close(&mut ws, CloseCode::Away);
}

#[test]
fn handshake_errors() {
    let (srv, _) = start(1);
    let mut c = srv.connect();
    c.send(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n");
    let r = c.read(false);
    assert_eq!(r.status, 426);
    assert_eq!(r.header("sec-websocket-version"), Some("13"));
    // RFC 9110 §15.5.22: a 426 says what to upgrade to.
    assert_eq!(r.header("upgrade"), Some("websocket"));
    let mut c = srv.connect();
    c.send(b"GET /ws HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.read(false).status, 426, "plain GET on a WebSocket route");
    let mut c = srv.connect();
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.read(false).text(), "http still works");
}

#[test]
fn a_client_that_does_not_read_cannot_grow_server_memory() {
    let (srv, observed) = start(1);
    let mut s = raw_upgrade(&srv);
    // Ask for 200 x 64 KiB (12.5 MiB) and never read.
    s.write_all(&frame(true, 0x1, b"flood")).unwrap();
    // Round trip on another connection to be sure the flood ran.
    let mut ws = connect(&srv);
    ws.send(TMessage::Text("sync".into())).unwrap();
    assert_eq!(next_text(&mut ws), "sync");
    let o = observed.lock().unwrap();
    assert_eq!(o.statuses.len(), 200);
    assert!(o.max_queued <= SEND_BUFFER, "queued {} > bound {SEND_BUFFER}", o.max_queued);
    let dropped = o.statuses.iter().filter(|s| **s == SendStatus::Dropped).count();
    assert!(dropped >= 180, "most messages dropped, got {dropped}");
    assert!(o.statuses.contains(&SendStatus::Congested));
}

#[test]
fn pubsub_reaches_every_subscriber_on_every_shard_once_in_order() {
    let (srv, _) = start(2);
    let mut subs = Vec::new();
    // Keep connecting until both shards hold subscribers (the kernel
    // spreads connections by hash); bounded.
    for _ in 0..64 {
        let mut ws = connect(&srv);
        ws.send(TMessage::Text("sub".into())).unwrap();
        assert_eq!(next_text(&mut ws), "subscribed");
        subs.push(ws);
        let stats = srv.server.as_ref().unwrap().stats().to_json();
        let per: Vec<u64> = stats["shards"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["websocket_upgrades"].as_u64().unwrap())
            .collect();
        if subs.len() >= 6 && per.iter().all(|&n| n >= 2) {
            break;
        }
    }
    let stats = srv.server.as_ref().unwrap().stats().to_json();
    assert!(stats["shards"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["websocket_upgrades"].as_u64().unwrap() >= 1));
    // One publisher from outside (the server's handle), one from a connection.
    let pubsub = srv.server.as_ref().unwrap().pubsub();
    let publisher = std::thread::spawn(move || {
        for i in 0..100 {
            pubsub.publish("room", WsMessage::Text(&format!("a{i}")));
        }
    });
    let mut talker = connect(&srv);
    for i in 0..50 {
        talker.send(TMessage::Text(format!("pub b{i}"))).unwrap();
    }
    publisher.join().unwrap();
    let subs_len = subs.len();
    for (k, ws) in subs.iter_mut().enumerate() {
        let (mut a, mut b) = (0, 0);
        while a < 100 || b < 50 {
            let t = match ws.read() {
                Ok(TMessage::Text(t)) => t.to_string(),
                Ok(_) => continue,
                Err(e) => panic!("subscriber {k} of {}: got a={a} b={b}: {e}", subs_len),
            };
            if let Some(n) = t.strip_prefix('a') {
                assert_eq!(n.parse::<usize>().unwrap(), a, "publisher a in order, once");
                a += 1;
            } else if let Some(n) = t.strip_prefix('b') {
                assert_eq!(n.parse::<usize>().unwrap(), b, "publisher b in order, once");
                b += 1;
            } else {
                panic!("unexpected {t}");
            }
        }
    }
}

#[test]
fn shutdown_closes_websockets_with_going_away() {
    let (mut srv, _) = start(1);
    let mut ws = connect(&srv);
    ws.send(TMessage::Text("x".into())).unwrap();
    assert_eq!(next_text(&mut ws), "x");
    let server = srv.server.take().unwrap();
    server.stop();
    expect_close(&mut ws, CloseCode::Away);
    server.join().unwrap();
}

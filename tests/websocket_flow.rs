//! WebSocket flow control end to end: keep-alive pings and their timeout,
//! `on_drain` after congestion, the slow-consumer close, and `WsSender`
//! from other threads.
//!
//! The client is tungstenite (an independent implementation) or, where it
//! would answer a Ping on its own, tungstenite's bare `FrameSocket`. Every
//! read is bounded by `support::PATIENCE`, and a timeout fails the test: a
//! connection counts as closed only on a Close frame followed by EOF or a
//! reset.

// Test code: a failed unwrap is a failed test (the workspace denies unwrap in library code).
#![allow(clippy::unwrap_used)]

mod common;
mod support;

use std::net::TcpStream;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::TestServer;
use support::{is_reset, patient};
use tungstenite::protocol::frame::coding::{CloseCode, Control, OpCode};
use tungstenite::protocol::frame::FrameSocket;
use tungstenite::Message as TMessage;
use weir::ws::{Echo, SendStatus, SlowConsumer, WsCtx, WsHandler, WsMessage, WsRoute, WsSender};
use weir::{App, Response, ServerConfig};

type Ws = tungstenite::WebSocket<TcpStream>;

/// A one-shard server with `route` at `/ws` and a plain `GET /` (one
/// shard, so a round trip on another connection proves the shard has
/// finished whatever it was doing for the WebSocket).
fn server(route: WsRoute) -> TestServer {
    let app = App::new().ws("/ws", route).get("/", |_| Response::text("plain"));
    TestServer::with_config(app, ServerConfig::default(), 1)
}

/// A tungstenite client on `/ws`.
fn connect(srv: &TestServer) -> Ws {
    let stream = TcpStream::connect(srv.addr).unwrap();
    patient(&stream);
    let (ws, resp) = tungstenite::client(format!("ws://{}/ws", srv.addr), stream).expect("handshake");
    assert_eq!(resp.status(), 101);
    ws
}

/// One HTTP round trip on a new connection: once it is answered, the
/// one-shard server has finished every event before it.
fn round_trip(srv: &TestServer) {
    let mut c = srv.connect();
    patient(&c.w);
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.read(false).text(), "plain");
}

/// Reads past Pings (tungstenite answers them) to the next data message.
fn next_message(ws: &mut Ws) -> TMessage {
    loop {
        match ws.read() {
            Ok(TMessage::Ping(_) | TMessage::Pong(_)) => continue,
            Ok(m) => return m,
            Err(e) => panic!("expected a message, got {e}"),
        }
    }
}

/// Expects the server's Close frame with `code`, then the end of the
/// connection (after tungstenite's reply). A timeout fails the test.
fn expect_close(ws: &mut Ws, code: CloseCode) {
    match next_message(ws) {
        TMessage::Close(Some(f)) => assert_eq!(f.code, code, "close reason {:?}", f.reason),
        other => panic!("expected a close with {code:?}, got {other:?}"),
    }
    match ws.read() {
        Err(tungstenite::Error::ConnectionClosed) => {}
        Err(tungstenite::Error::Io(e)) if is_reset(&e) => {}
        other => panic!("expected the connection closed after the close handshake, got {other:?}"),
    }
}

// ----------------------------------------------------------- ping timeout

const PING_INTERVAL: Duration = Duration::from_millis(150);

fn pinging_server() -> TestServer {
    server(WsRoute::new(Echo).without_compression().ping_interval(Some(PING_INTERVAL)))
}

#[test]
fn a_client_that_never_answers_pings_is_closed_with_1001() {
    let srv = pinging_server();
    // The upgrade by hand, then bare frames: nothing here answers a Ping.
    let mut c = srv.connect();
    patient(&c.w);
    c.send(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    assert_eq!(c.read(false).status, 101);
    let leftover = c.r.buffer().to_vec();
    let mut frames = FrameSocket::from_partially_read(c.r.into_inner(), leftover);

    let mut pings = 0;
    let close_code = loop {
        let frame = match frames.read(None) {
            Ok(Some(f)) => f,
            Ok(None) => panic!("closed without a Close frame after {pings} pings"),
            Err(e) => panic!("after {pings} pings, no close within {:?}: {e}", support::PATIENCE),
        };
        match frame.header().opcode {
            OpCode::Control(Control::Ping) => pings += 1,
            OpCode::Control(Control::Close) => {
                let p = frame.payload();
                break u16::from_be_bytes([p[0], p[1]]);
            }
            other => panic!("unexpected {other:?} frame"),
        }
    };
    assert!(pings >= 1, "the server pings before giving up");
    assert_eq!(close_code, 1001, "Going Away");
    match frames.read(None) {
        Ok(None) => {}
        Err(tungstenite::Error::Io(e)) if is_reset(&e) => {}
        other => panic!("expected the connection closed after the Close, got {other:?}"),
    }
}

#[test]
fn a_client_that_answers_pings_stays_open() {
    let srv = pinging_server();
    let mut ws = connect(&srv);
    // Each Ping is answered (tungstenite sends the Pong on the next read);
    // six Pings span several of the two-interval windows that end a silent
    // client. Only Pings may arrive meanwhile.
    let mut pings = 0;
    while pings < 6 {
        match ws.read() {
            Ok(TMessage::Ping(_)) => pings += 1,
            other => panic!("after {pings} pings: expected a Ping, got {other:?}"),
        }
    }
    ws.send(TMessage::Text("still here".into())).unwrap();
    assert_eq!(next_message(&mut ws), TMessage::Text("still here".into()));
}

// ----------------------------------------------------- congestion and drain

/// On "flood", sends `count` binary messages of `len` bytes, recording
/// each `SendStatus`, then tells the test it is done; on drain, sends the
/// text "drained".
struct Flood {
    count: usize,
    len: usize,
    statuses: Arc<Mutex<Vec<SendStatus>>>,
    done: Sender<()>,
}

impl WsHandler for Flood {
    type State = ();
    fn on_open(&self, _: &mut WsCtx<'_, '_>, _: &weir::Request<'_>) {}
    fn on_message(&self, (): &mut (), ws: &mut WsCtx<'_, '_>, msg: WsMessage<'_>) {
        if let WsMessage::Text("flood") = msg {
            let chunk = vec![0x5a; self.len];
            let statuses: Vec<SendStatus> = (0..self.count).map(|_| ws.send_binary(&chunk)).collect();
            self.statuses.lock().unwrap().extend(statuses);
            self.done.send(()).unwrap();
        }
    }

    fn on_drain(&self, (): &mut (), ws: &mut WsCtx<'_, '_>) {
        ws.send_text("drained");
    }
}

/// A one-shard server whose `/ws` floods `count` x `len` bytes on demand,
/// with `max_send_buffer(buffer, policy)`; its recorded statuses; and a
/// connected client that has asked for the flood and not read since. Returns
/// once the flood has been sent and the shard has moved on.
fn flooded(
    count: usize,
    len: usize,
    buffer: u64,
    policy: SlowConsumer,
) -> (TestServer, Ws, Arc<Mutex<Vec<SendStatus>>>) {
    let statuses = Arc::new(Mutex::new(Vec::new()));
    let (done, done_rx) = mpsc::channel();
    let flood = Flood { count, len, statuses: statuses.clone(), done };
    let srv = server(WsRoute::new(flood).without_compression().max_send_buffer(buffer, policy));
    let mut ws = connect(&srv);
    ws.send(TMessage::Text("flood".into())).unwrap();
    done_rx.recv_timeout(support::PATIENCE).expect("the flood ran");
    round_trip(&srv);
    (srv, ws, statuses)
}

/// Reads `count` binary messages of `len` bytes, then expects "drained".
fn expect_flood_then_drained(ws: &mut Ws, count: usize, len: usize) {
    for i in 0..count {
        match next_message(ws) {
            TMessage::Binary(b) => assert_eq!(b.len(), len, "message {i}"),
            other => panic!("message {i}: expected binary, got {other:?}"),
        }
    }
    assert_eq!(next_message(ws), TMessage::Text("drained".into()), "on_drain ran once the queue emptied");
}

#[test]
fn on_drain_fires_once_a_congested_queue_empties() {
    // 64 x 256 KiB = 16 MiB queued by one handler call while the client
    // does not read: far past the 256 KiB high-water mark and more than the
    // socket buffers take, so the kernel pushes back and the queue drains
    // only as the client reads. The buffer bound is higher, so none is dropped.
    const COUNT: usize = 64;
    const LEN: usize = 256 * 1024;
    let (_srv, mut ws, statuses) = flooded(COUNT, LEN, 32 * 1024 * 1024, SlowConsumer::Drop);
    {
        let s = statuses.lock().unwrap();
        assert!(s.contains(&SendStatus::Congested), "{s:?}");
        assert!(s.iter().all(|s| matches!(s, SendStatus::Queued | SendStatus::Congested)), "{s:?}");
    }
    expect_flood_then_drained(&mut ws, COUNT, LEN);
}

#[test]
fn on_drain_fires_when_the_congested_queue_empties_at_once() {
    // A 1 KiB buffer makes the high-water mark 1 KiB: one 4 KiB message
    // (always admitted into an empty queue) reports Congested, and the
    // kernel then takes all of it in the first write.
    const LEN: usize = 4 * 1024;
    let (_srv, mut ws, statuses) = flooded(1, LEN, 1024, SlowConsumer::Drop);
    assert_eq!(*statuses.lock().unwrap(), [SendStatus::Congested]);
    expect_flood_then_drained(&mut ws, 1, LEN);
}

#[test]
fn a_slow_consumer_is_closed_with_1008() {
    // A 64 KiB bound with the Close policy: 16 KiB messages fit three at a
    // time; the fourth overflows and closes the connection with 1008
    // (policy violation). Nothing after it is queued.
    const COUNT: usize = 100;
    const LEN: usize = 16 * 1024;
    let (_srv, mut ws, statuses) = flooded(COUNT, LEN, 64 * 1024, SlowConsumer::Close);
    let queued = {
        let s = statuses.lock().unwrap();
        let queued = s.iter().take_while(|s| matches!(s, SendStatus::Queued | SendStatus::Congested)).count();
        assert!(queued < COUNT, "the bound never tripped: {s:?}");
        assert!(s[queued..].iter().all(|s| *s == SendStatus::Closed), "after the overflow: {s:?}");
        queued
    };
    for i in 0..queued {
        match next_message(&mut ws) {
            TMessage::Binary(b) => assert_eq!(b.len(), LEN, "message {i}"),
            other => panic!("message {i} of {queued}: expected binary, got {other:?}"),
        }
    }
    expect_close(&mut ws, CloseCode::Policy);
}

#[test]
fn a_slow_consumer_that_reads_nothing_is_dropped_after_the_close_grace() {
    // One 8 MiB message (admitted into an empty queue) is more than the
    // socket buffers take; the next one trips the Close policy. The client
    // reads nothing, so the Close frame never leaves: the server must not
    // wait for it forever (5 s of grace, then the connection is dropped).
    const LEN: usize = 8 * 1024 * 1024;
    let (srv, _ws, statuses) = flooded(2, LEN, 64 * 1024, SlowConsumer::Close);
    assert_eq!(statuses.lock().unwrap()[1], SendStatus::Closed, "the second message tripped the bound");
    let stats = srv.server.as_ref().expect("running").stats();
    let open = || stats.to_json()["connections"]["open"].as_u64().expect("a count");
    // Bounded wait on a counter (no event to wait for: the client reads nothing).
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while open() > 0 {
        assert!(std::time::Instant::now() < deadline, "the stuck connection was never dropped");
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------- WsSender

/// Hands each connection's `WsSender` to the test and reports closes.
struct Handoff {
    opened: Sender<WsSender>,
    closed: Sender<Option<u16>>,
}

impl WsHandler for Handoff {
    type State = ();
    fn on_open(&self, ws: &mut WsCtx<'_, '_>, _req: &weir::Request<'_>) {
        self.opened.send(ws.sender()).unwrap();
    }

    fn on_message(&self, (): &mut (), _ws: &mut WsCtx<'_, '_>, _msg: WsMessage<'_>) {}

    fn on_close(&self, (): (), _sender: &WsSender, code: Option<u16>) {
        self.closed.send(code).unwrap();
    }
}

fn recv<T>(rx: &Receiver<T>, what: &str) -> T {
    rx.recv_timeout(support::PATIENCE).unwrap_or_else(|e| panic!("{what}: {e}"))
}

#[test]
fn a_ws_sender_on_another_thread_delivers_in_order_and_can_close() {
    let (opened, opened_rx) = mpsc::channel();
    let (closed, closed_rx) = mpsc::channel();
    let srv = server(WsRoute::new(Handoff { opened, closed }).without_compression());
    let mut ws = connect(&srv);
    let sender = recv(&opened_rx, "on_open");

    let s = sender.clone();
    let producer = std::thread::spawn(move || {
        for i in 0..100 {
            assert_eq!(s.send_text(format!("m{i}")), SendStatus::Queued, "message {i}");
        }
    });
    producer.join().unwrap();
    for i in 0..100 {
        assert_eq!(next_message(&mut ws), TMessage::Text(format!("m{i}")));
    }

    let s = sender.clone();
    std::thread::spawn(move || s.close(4000, "done")).join().unwrap();
    expect_close(&mut ws, CloseCode::Library(4000));
    // The server saw our echo of its Close, and the sender knows.
    assert_eq!(recv(&closed_rx, "on_close"), Some(4000));
    assert!(sender.is_closed());
    assert_eq!(sender.send_text("late"), SendStatus::Closed);
}

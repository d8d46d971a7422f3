//! The life of an HTTP connection at its edges, end to end: a handler that
//! never answers, a client that never reads, a handler that panics or drops
//! its `Responder`, HTTP/1.0 keep-alive, and the request targets an origin
//! server must not route (`OPTIONS *`, `CONNECT host:port`).
//!
//! Raw bytes on a real socket. Handlers tell the test when a request has
//! reached them (channels), so nothing waits on a guess; every outcome is
//! awaited with `support::PATIENCE`, and a timeout fails the test.

// Test code: a failed unwrap is a failed test (the workspace denies unwrap in library code).
#![allow(clippy::unwrap_used)]

mod common;
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Client, TestServer};
use support::{drain_until_closed, expect_closed, patient, wait_until};
use weir::{deferred, inline, workers, App, Body, Responder, Response, ServerConfig};

/// A connection whose reads give up after `support::PATIENCE`.
fn connect(srv: &TestServer) -> Client {
    let c = srv.connect();
    patient(&c.w);
    c
}

/// Connections the server holds open right now (all shards).
fn open_connections(srv: &TestServer) -> u64 {
    let stats = srv.server.as_ref().expect("server running").stats().to_json();
    stats["connections"]["open"].as_u64().expect("open count")
}

/// A handler body that tells the test it has started, then holds its
/// worker until the test sends on (or drops) the release side.
struct Hold {
    started: Sender<()>,
    release: Mutex<Receiver<()>>,
}

impl Hold {
    /// The hold, the test's "it started" receiver, and the release sender.
    fn new() -> (Hold, Receiver<()>, Sender<()>) {
        let (started, started_rx) = mpsc::channel();
        let (release_tx, release) = mpsc::channel();
        (Hold { started, release: Mutex::new(release) }, started_rx, release_tx)
    }

    fn wait(&self) {
        self.started.send(()).expect("the test is listening");
        let _ = self.release.lock().expect("release lock").recv();
    }
}

const GET_A: &[u8] = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n";

/// Reads up to `n` answers as (status, body), stopping early at a close or
/// a timeout, so that a failed comparison shows everything that did come.
fn read_answers(c: &mut Client, n: usize) -> Vec<(u16, String)> {
    (0..n).map_while(|_| c.try_read(false).ok().flatten()).map(|r| (r.status, r.text())).collect()
}

/// The answers expected, as [`read_answers`] gives them.
fn answers(expected: &[(u16, &str)]) -> Vec<(u16, String)> {
    expected.iter().map(|(status, body)| (*status, body.to_string())).collect()
}

/// The body of `Response::error(500)`.
const ERROR_500: &str = "Internal Server Error\n";

// ---------------------------------------------------------- handler timeout

fn short_handler_timeout() -> ServerConfig {
    ServerConfig { handler_timeout: Duration::from_millis(300), ..ServerConfig::default() }
}

/// Sends `GET /a`, `GET /stuck` and `after` in one write and expects: the
/// first answered, the stuck one 503 with `Connection: close` once its
/// handler started and the handler timeout passed, then the close —
/// nothing is answered after the 503, not even a request in `after` that
/// was already parsed.
fn expect_503_for_a_stuck_handler(srv: &TestServer, started: &Receiver<()>, after: &[u8]) {
    let mut c = connect(srv);
    let mut bytes = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /stuck HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
    bytes.extend_from_slice(after);
    c.send(&bytes);
    started.recv_timeout(support::PATIENCE).expect("the stuck handler started");
    assert_eq!(c.read(false).text(), "a");
    let r = c.read(false);
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.header("connection"), Some("close"));
    expect_closed(&mut c.r, "after the handler-timeout 503");
}

/// A server whose `/stuck` worker handler holds its worker until the
/// returned sender is dropped; handler timeout 300 ms.
fn stuck_worker_server() -> (TestServer, Receiver<()>, Sender<()>) {
    let (hold, started, release) = Hold::new();
    let app = App::new().get("/a", |_| Response::text("a")).route(
        "GET",
        "/stuck",
        workers(move |_| {
            hold.wait();
            Response::text("too late")
        }),
    );
    (TestServer::with_config(app, short_handler_timeout(), 1), started, release)
}

#[test]
fn a_worker_handler_past_the_handler_timeout_gets_503_and_close() {
    let (srv, started, release) = stuck_worker_server();
    expect_503_for_a_stuck_handler(&srv, &started, b"");
    drop(release); // let the worker go before the server stops
}

#[test]
fn nothing_is_answered_after_the_handler_timeout_503() {
    let (srv, started, release) = stuck_worker_server();
    expect_503_for_a_stuck_handler(&srv, &started, GET_A);
    drop(release);
}

#[test]
fn a_deferred_handler_past_the_handler_timeout_gets_503_and_close() {
    let (started, started_rx) = mpsc::channel();
    let kept: Arc<Mutex<Vec<Responder>>> = Arc::default();
    let keep = kept.clone();
    let app = App::new().get("/a", |_| Response::text("a")).route(
        "GET",
        "/stuck",
        deferred(move |_req, responder| {
            // Held, unanswered and undropped, until the test ends.
            keep.lock().unwrap().push(responder);
            started.send(()).unwrap();
        }),
    );
    let srv = TestServer::with_config(app, short_handler_timeout(), 1);
    expect_503_for_a_stuck_handler(&srv, &started_rx, b"");
    // The late answer goes nowhere: the connection is gone.
    for r in kept.lock().unwrap().drain(..) {
        r.respond(Response::text("too late"));
    }
    let mut c = connect(&srv);
    c.send(GET_A);
    assert_eq!(c.read(false).text(), "a", "the server still serves");
}

// -------------------------------------------------------------- write stall

#[test]
fn a_client_that_never_reads_is_aborted_after_the_write_timeout() {
    const BODY: usize = 256 * 1024;
    const REQUESTS: usize = 200; // 50 MiB of answers: far more than socket buffers hold
    let body: Arc<[u8]> = vec![b'x'; BODY].into();
    let app = App::new()
        .get("/a", |_| Response::text("a"))
        .get("/big", move |_| Response::new(200).with_body(Body::Shared(body.clone())));
    let config = ServerConfig { write_timeout: Duration::from_millis(300), ..ServerConfig::default() };
    let srv = TestServer::with_config(app, config, 1);

    let mut stalled = connect(&srv);
    let mut batch = Vec::new();
    for _ in 0..REQUESTS {
        batch.extend_from_slice(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    }
    stalled.send(&batch);

    // The shard is not held up by the stalled client.
    let mut other = connect(&srv);
    other.send(b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(other.read(false).text(), "a");
    expect_closed(&mut other.r, "after Connection: close");
    drop(other);

    // Only the stalled connection is left; the write timeout ends it.
    wait_until("the stalled connection is aborted", || open_connections(&srv) == 0);
    let received = drain_until_closed(&mut stalled.r, "the stalled connection");
    assert!(
        received < (REQUESTS * BODY) as u64,
        "the stalled client got everything ({received} bytes): nothing was aborted"
    );

    let mut after = connect(&srv);
    after.send(GET_A);
    assert_eq!(after.read(false).text(), "a", "the server still serves");
}

#[test]
fn a_slow_but_steady_reader_gets_a_long_answer_past_the_write_timeout() {
    // 24 MiB, read 256 KiB at a time with a pause between reads: the
    // transfer takes several write timeouts, but bytes keep leaving, so it
    // is not a stall (a stall is a whole timeout without progress).
    const BODY: usize = 24 * 1024 * 1024;
    let body: Arc<[u8]> = (0..BODY).map(|i| (i % 251) as u8).collect::<Vec<u8>>().into();
    let expected = body.clone();
    let app = App::new().get("/big", move |_| Response::new(200).with_body(Body::Shared(body.clone())));
    let config = ServerConfig { write_timeout: Duration::from_millis(200), ..ServerConfig::default() };
    let srv = TestServer::with_config(app, config, 1);
    let mut c = connect(&srv);
    c.send(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut got = Vec::with_capacity(BODY + 512);
    let mut piece = vec![0u8; 256 * 1024];
    while got.len() < BODY + 64 {
        let n = std::io::Read::read(&mut c.r, &mut piece).expect("the answer keeps coming");
        assert!(n > 0, "closed after {} bytes: the slow reader was taken for a stalled one", got.len());
        got.extend_from_slice(&piece[..n]);
        // The pace of a slow client (this is the behaviour under test, not
        // a wait for an event).
        std::thread::sleep(Duration::from_millis(15));
        let head_end = got.windows(4).position(|w| w == b"\r\n\r\n");
        if head_end.is_some_and(|h| got.len() >= h + 4 + BODY) {
            break;
        }
    }
    let h = got.windows(4).position(|w| w == b"\r\n\r\n").expect("a head") + 4;
    // (96 paced reads of 15 ms: the transfer spans several write timeouts.)
    assert!(got[h..h + BODY] == expected[..], "the body arrived intact");
}

// ------------------------------------------------------------ streams

#[test]
fn a_stream_producer_hears_when_its_client_is_gone() {
    // The producer streams until its sink says the connection is gone; the
    // client reads the head and one chunk, then disconnects.
    let (done_tx, done) = mpsc::channel::<&'static str>();
    let done_tx = Mutex::new(done_tx);
    let app = App::new().get("/events", move |_| {
        let done = done_tx.lock().unwrap().clone();
        Response::sse(move |mut sink| {
            std::thread::spawn(move || loop {
                match sink.send("data: tick\n\n") {
                    Ok(()) | Err(weir::SinkError::Full(_)) => std::thread::sleep(Duration::from_millis(5)),
                    Err(weir::SinkError::Closed) => {
                        done.send("closed").unwrap();
                        return;
                    }
                }
            });
        })
    });
    let srv = TestServer::with_config(app, ServerConfig::default(), 1);
    let mut c = connect(&srv);
    c.send(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut first = [0u8; 64];
    let n = std::io::Read::read(&mut c.r, &mut first).expect("the stream starts");
    assert!(n > 0);
    drop(c);
    assert_eq!(done.recv_timeout(support::PATIENCE).expect("the producer was told"), "closed");
}

// ------------------------------------------------------------ bounds

#[test]
fn the_pipeline_bound_pauses_reading_until_answers_leave() {
    // Deferred answers wait in the pipeline; at `max_pipeline` waiting, the
    // connection's later requests are not read (no handler runs for them)
    // until an answer leaves.
    const SENT: usize = 10;
    let (tx, held) = mpsc::channel::<Responder>();
    let tx = Mutex::new(tx);
    let app = App::new().get("/a", |_| Response::text("a")).route(
        "GET",
        "/held",
        deferred(move |_req, r| tx.lock().unwrap().send(r).unwrap()),
    );
    let config = ServerConfig { max_pipeline: 4, ..ServerConfig::default() };
    let srv = TestServer::with_config(app, config, 1);
    let mut c = connect(&srv);
    c.send(&b"GET /held HTTP/1.1\r\nHost: x\r\n\r\n".repeat(SENT));
    let mut responders: Vec<Responder> =
        (0..4).map(|_| held.recv_timeout(support::PATIENCE).expect("the first four dispatched")).collect();
    // A round trip on another connection of the same shard: everything the
    // shard would do with the first connection's bytes is done by now.
    let mut other = connect(&srv);
    other.send(GET_A);
    assert_eq!(other.read(false).text(), "a");
    assert!(held.try_recv().is_err(), "a fifth request was dispatched past max_pipeline");
    // Each answer frees a place: the next request is read and dispatched.
    for i in 0..SENT {
        let r = if responders.is_empty() {
            held.recv_timeout(support::PATIENCE).expect("the next request, once a place is free")
        } else {
            responders.remove(0)
        };
        r.respond(Response::text(i.to_string()));
    }
    for i in 0..SENT {
        assert_eq!(c.read(false).text(), i.to_string(), "answers in request order");
    }
}

#[test]
fn connections_past_the_shard_cap_are_turned_away_with_503() {
    let app = App::new().get("/a", |_| Response::text("a"));
    let config = ServerConfig { max_connections_per_shard: 2, ..ServerConfig::default() };
    let srv = TestServer::with_config(app, config, 1);
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = connect(&srv);
        c.send(GET_A);
        assert_eq!(c.read(false).text(), "a");
        held.push(c);
    }
    let mut third = connect(&srv);
    let r = third.read(false);
    assert_eq!(r.status, 503, "the third connection is over the cap");
    assert_eq!(r.header("retry-after"), Some("1"));
    expect_closed(&mut third.r, "a turned-away connection");
}

// ---------------------------------------------------------- worker panics

#[test]
fn a_panicking_worker_answers_500_in_order_and_the_server_keeps_serving() {
    let app = App::new()
        .get("/a", |_| Response::text("a"))
        .get("/b", |_| Response::text("b"))
        .route("GET", "/panic", workers(|_| panic!("deliberate panic in a worker handler")))
        .route("GET", "/work", workers(|_| Response::text("worked")));
    let srv = TestServer::with_config(app, ServerConfig::default(), 1);
    let mut c = connect(&srv);
    let round = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /panic HTTP/1.1\r\nHost: x\r\n\r\nGET /work HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
    // Twice on one connection: the panic ends neither the connection nor the worker.
    for _ in 0..2 {
        c.send(round);
        let expected = answers(&[(200, "a"), (500, ERROR_500), (200, "worked"), (200, "b")]);
        assert_eq!(read_answers(&mut c, 4), expected);
    }
    let mut other = connect(&srv);
    other.send(b"GET /work HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(other.read(false).text(), "worked", "a new connection is served by the pool");
}

#[test]
fn a_worker_panic_answers_its_own_request_not_an_earlier_slow_one() {
    // Pipelined: /slow (held in worker A), /panic then /next (worker B, one
    // after the other). /next running proves /panic's panic was already
    // reported to the shard; only then is /slow released. The 500 belongs
    // to /panic, the second request.
    let (hold, slow_started, release) = Hold::new();
    let (next_tx, next_rx) = mpsc::channel::<()>();
    let next_tx = Mutex::new(next_tx);
    let app = App::new()
        .get("/a", |_| Response::text("a"))
        .route(
            "GET",
            "/slow",
            workers(move |_| {
                hold.wait();
                Response::text("slow")
            }),
        )
        .route("GET", "/panic", workers(|_| panic!("deliberate panic in a worker handler")))
        .route(
            "GET",
            "/next",
            workers(move |_| {
                next_tx.lock().unwrap().send(()).unwrap();
                Response::text("next")
            }),
        );
    let config = ServerConfig { worker_threads: 2, ..ServerConfig::default() };
    let srv = TestServer::with_config(app, config, 1);
    let mut c = connect(&srv);
    c.send(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /panic HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    slow_started.recv_timeout(support::PATIENCE).expect("/slow started");
    next_rx.recv_timeout(support::PATIENCE).expect("/next ran after /panic panicked");
    release.send(()).unwrap();
    let expected = answers(&[(200, "slow"), (500, ERROR_500), (200, "next"), (200, "a")]);
    assert_eq!(read_answers(&mut c, 4), expected);
}

// --------------------------------------------------------- dropped responder

#[test]
fn a_dropped_responder_answers_500() {
    let app = App::new()
        .get("/a", |_| Response::text("a"))
        .route("GET", "/drop-here", deferred(|_req, responder| drop(responder)))
        .route(
            "GET",
            "/drop-elsewhere",
            deferred(|_req, responder| {
                std::thread::spawn(move || drop(responder));
            }),
        );
    let srv = TestServer::start(app);
    let mut c = connect(&srv);
    c.send(b"GET /drop-here HTTP/1.1\r\nHost: x\r\n\r\nGET /drop-elsewhere HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    // Dropped on the shard, dropped on another thread, then an inline answer.
    assert_eq!(read_answers(&mut c, 3), answers(&[(500, ERROR_500), (500, ERROR_500), (200, "a")]));
    c.send(GET_A);
    assert_eq!(c.read(false).text(), "a", "the connection stays usable");
}

// ------------------------------------------------------------------ HTTP/1.0

fn ab_app() -> App {
    App::new().get("/a", |_| Response::text("a")).get("/b", |_| Response::text("b"))
}

#[test]
fn http10_with_connection_keep_alive_keeps_the_connection_open() {
    let srv = TestServer::start(ab_app());
    let mut c = connect(&srv);
    for path in ["/a", "/b"] {
        c.send(format!("GET {path} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").as_bytes());
        let r = c.read(false);
        assert_eq!((r.status, r.text()), (200, path[1..].to_string()));
        assert_eq!(r.header("connection"), Some("keep-alive"), "{path}");
        // An HTTP/1.0 client can only find the end of a kept-alive body by its length.
        assert_eq!(r.header("content-length"), Some("1"), "{path}");
    }
    // The same connection, a request without keep-alive: the last one.
    c.send(b"GET /a HTTP/1.0\r\n\r\n");
    let r = c.read(false);
    assert_eq!(r.header("connection"), Some("close"));
    expect_closed(&mut c.r, "after an HTTP/1.0 request without keep-alive");
}

#[test]
fn http10_without_keep_alive_closes_after_one_answer() {
    let srv = TestServer::start(ab_app());
    let mut c = connect(&srv);
    // The second request must never be answered.
    c.send(b"GET /a HTTP/1.0\r\n\r\nGET /b HTTP/1.0\r\n\r\n");
    let r = c.read(false);
    assert_eq!((r.status, r.text().as_str(), r.header("connection")), (200, "a", Some("close")));
    expect_closed(&mut c.r, "after an HTTP/1.0 request without keep-alive");
}

// ------------------------------------------------- OPTIONS * and CONNECT

/// A server with `/a`, a deferred `/hold` whose `Responder` goes to the
/// returned receiver, and a catch-all route for every method that counts
/// the requests it is given (none of the tests below may reach it); and a
/// connection to it.
fn target_server() -> (TestServer, Client, Arc<AtomicUsize>, Receiver<Responder>) {
    let routed = Arc::new(AtomicUsize::new(0));
    let count = routed.clone();
    let (held_tx, held_rx) = mpsc::channel();
    let held_tx = Mutex::new(held_tx);
    let app = App::new()
        .get("/a", |_| Response::text("a"))
        .route(
            "GET",
            "/hold",
            deferred(move |_req, responder| held_tx.lock().unwrap().send(responder).unwrap()),
        )
        .any(
            "/*rest",
            inline(move |req| {
                count.fetch_add(1, Ordering::SeqCst);
                Response::text(format!("routed {} {}", req.method_str(), req.path()))
            }),
        );
    let srv = TestServer::start(app);
    let c = connect(&srv);
    (srv, c, routed, held_rx)
}

#[test]
fn options_asterisk_answers_204_with_allow_and_keeps_the_connection() {
    // RFC 9110 §9.3.7: `OPTIONS *` asks about the server as a whole; a
    // successful answer SHOULD carry the fields that describe its options,
    // such as Allow. 204 (no content) is a successful answer.
    let (_srv, mut c, routed, _held) = target_server();
    c.send(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c.read(false);
    assert_eq!(r.status, 204);
    let allow = r.header("allow").expect("an Allow field");
    assert!(allow.split(',').any(|m| m.trim() == "OPTIONS"), "Allow: {allow}");
    assert_eq!(r.header("connection"), None, "the connection is kept");
    assert_eq!(c.read(false).text(), "a", "the next request on the connection is answered");
    // `*` is the target of OPTIONS only (RFC 9112 §3.2.4).
    c.send(b"GET * HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.read(false).status, 400);
    assert_eq!(routed.load(Ordering::SeqCst), 0, "`*` never reaches a route");
}

#[test]
fn connect_is_refused_with_501_and_never_tunnelled() {
    // weir is an origin server, not a proxy. The bytes after the CONNECT
    // head would be the tunnel: they must be neither forwarded nor read as
    // another request.
    let (_srv, mut c, routed, _held) = target_server();
    c.send(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c.read(false);
    assert_eq!(r.status, 501);
    assert_eq!(r.header("connection"), Some("close"));
    expect_closed(&mut c.r, "after refusing CONNECT");
    assert_eq!(routed.load(Ordering::SeqCst), 0, "CONNECT never reaches a route");
}

/// Sends `GET /hold`, then `second`, then a request for the catch-all
/// route, in one write. Answers /hold once its handler has it, expects
/// "held", then `second`'s answer with `Connection: close` and `status`,
/// then the close: the request after `second` must be neither routed nor
/// answered.
fn expect_nothing_read_after(second: &[u8], status: u16) {
    let (_srv, mut c, routed, held) = target_server();
    let mut bytes = b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
    bytes.extend_from_slice(second);
    bytes.extend_from_slice(b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n");
    c.send(&bytes);
    let responder = held.recv_timeout(support::PATIENCE).expect("/hold reached its handler");
    responder.respond(Response::text("held"));
    assert_eq!(c.read(false).text(), "held");
    let r = c.read(false);
    assert_eq!((r.status, r.header("connection")), (status, Some("close")), "{}", r.text());
    expect_closed(&mut c.r, "after the closing answer");
    assert_eq!(routed.load(Ordering::SeqCst), 0, "the request after the closing one was routed");
}

#[test]
fn connect_behind_a_pending_answer_is_not_tunnelled_or_routed() {
    expect_nothing_read_after(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 501);
}

#[test]
fn connection_close_behind_a_pending_answer_ends_the_requests() {
    // RFC 9112 §9.6: after a request with `close`, the server MUST NOT
    // process any further requests on that connection.
    expect_nothing_read_after(b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200);
}

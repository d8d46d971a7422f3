//! Async handlers end to end: futures on the shard's executor (timers,
//! upstream requests over the shard's outbound connections, worker jobs,
//! pub/sub), their limits (task bound, handler timeout, panics,
//! cancellation), and the tokio bridge (feature `tokio`), checked with raw
//! bytes on loopback sockets.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;
mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::TestServer;
use support::{expect_closed, wait_until, PATIENCE};
use weir::task::{self, client};
use weir::{async_handler, App, Body, Response, ServerConfig};

/// Sends a message when dropped: shows from outside that a future was dropped.
struct DropGuard(Mutex<Sender<()>>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        let _ = self.0.lock().unwrap().send(());
    }
}

fn drop_guard() -> (Arc<Mutex<Sender<()>>>, Receiver<()>) {
    let (tx, rx) = channel();
    (Arc::new(Mutex::new(tx)), rx)
}

/// Reads one response: status, headers (lower-cased names), body by Content-Length or chunked.
fn read_response(r: &mut impl BufRead) -> (u16, Vec<(String, String)>, String) {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 "), "a status line, got {line:?}");
    let status: u16 = line[9..12].parse().unwrap();
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (n, v) = l.split_once(':').unwrap();
        headers.push((n.to_ascii_lowercase(), v.trim().to_string()));
    }
    let get = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let mut body = Vec::new();
    if let Some(n) = get("content-length") {
        body.resize(n.parse().unwrap(), 0);
        r.read_exact(&mut body).unwrap();
    } else if get("transfer-encoding").is_some() {
        loop {
            line.clear();
            r.read_line(&mut line).unwrap();
            let n = usize::from_str_radix(line.trim_end(), 16).unwrap();
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk).unwrap();
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    (status, headers, String::from_utf8(body).unwrap())
}

fn connect(addr: SocketAddr) -> (BufReader<TcpStream>, TcpStream) {
    let s = TcpStream::connect(addr).unwrap();
    support::patient(&s);
    (BufReader::new(s.try_clone().unwrap()), s)
}

fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let (mut r, mut w) = connect(addr);
    write!(w, "GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    let (status, _, body) = read_response(&mut r);
    (status, body)
}

/// An upstream written with raw bytes: answers each connection's request
/// by its path with a fixed response, then closes. Returns its address.
fn raw_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut request_line = String::new();
                r.read_line(&mut request_line).unwrap();
                let mut line = String::new();
                while r.read_line(&mut line).unwrap() > 2 {
                    line.clear();
                }
                let path = request_line.split(' ').nth(1).unwrap_or("").to_string();
                let answer: &[u8] = match path.as_str() {
                    "/length" => b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-Up: 1\r\n\r\nhello there",
                    "/chunked" => {
                        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nchunk\r\n3;ext=1\r\ned!\r\n0\r\n\r\n"
                    }
                    "/until-close" => b"HTTP/1.1 200 OK\r\n\r\nto the end",
                    "/dribble" => {
                        // A byte at a time: every split of head and chunks.
                        s.set_nodelay(true).unwrap();
                        let whole = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n10\r\n, two and three!\r\n0\r\n\r\n";
                        for b in whole {
                            s.write_all(&[*b]).unwrap();
                            std::thread::sleep(Duration::from_millis(1));
                        }
                        b""
                    }
                    "/smuggle" => b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                    "/silent" => {
                        std::thread::sleep(Duration::from_secs(3));
                        b""
                    }
                    _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
                };
                let _ = s.write_all(answer);
            });
        }
    });
    addr
}

/// An async handler that fetches `path` from `upstream` and says what came back.
fn fetch_route(upstream: SocketAddr) -> weir::Handler {
    async_handler(move |req| async move {
        let path = format!("/{}", req.param("what").unwrap_or(""));
        let fetch = client::get(upstream, &path).timeout(Duration::from_millis(500)).send();
        match fetch.await {
            Ok(resp) => {
                let up = resp.header("x-up").map(|v| String::from_utf8_lossy(v).into_owned());
                let body = String::from_utf8_lossy(resp.body()).into_owned();
                Response::text(format!("{} {body} {up:?}", resp.status()))
            }
            Err(e) => Response::text(format!("error: {e}")).with_status(502),
        }
    })
}

#[test]
fn a_timer_then_an_upstream_request_answer_in_order_on_a_pipelined_connection() {
    let upstream = TestServer::start(App::new().get("/data", |_| Response::text("upstream data")));
    let up = upstream.addr;
    let app = App::new()
        .route(
            "GET",
            "/slow",
            async_handler(move |_req| async move {
                let start = Instant::now();
                task::sleep(Duration::from_millis(150)).await;
                let slept = start.elapsed();
                let resp = client::get(up, "/data").send().await.unwrap();
                Response::text(format!(
                    "slept {} then {}",
                    slept >= Duration::from_millis(150),
                    String::from_utf8_lossy(resp.body())
                ))
            }),
        )
        .route("GET", "/fast", async_handler(|_req| async { Response::text("fast") }))
        .get("/inline", |_| Response::text("inline"));
    let srv = TestServer::start(app);
    let (mut r, mut w) = connect(srv.addr);
    let start = Instant::now();
    w.write_all(
        b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\nGET /fast HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /slow HTTP/1.1\r\nHost: t\r\n\r\nGET /inline HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    .unwrap();
    let bodies: Vec<(u16, String)> = (0..4).map(|_| read_response(&mut r)).map(|(s, _, b)| (s, b)).collect();
    assert_eq!(
        bodies,
        [
            (200, "slept true then upstream data".to_string()),
            (200, "fast".to_string()),
            (200, "slept true then upstream data".to_string()),
            (200, "inline".to_string()),
        ]
    );
    // The two sleeps ran at the same time, not one after the other.
    assert!(start.elapsed() < Duration::from_millis(290), "took {:?}", start.elapsed());
}

#[test]
fn the_client_reads_each_framing_and_refuses_what_smuggles() {
    let up = raw_upstream();
    let srv = TestServer::start(App::new().route("GET", "/via/:what", fetch_route(up)));
    assert_eq!(get(srv.addr, "/via/length"), (200, "200 hello there Some(\"1\")".into()));
    assert_eq!(get(srv.addr, "/via/chunked"), (200, "200 chunked! None".into()));
    assert_eq!(get(srv.addr, "/via/until-close"), (200, "200 to the end None".into()));
    assert_eq!(get(srv.addr, "/via/dribble"), (200, "200 one, two and three! None".into()));
    assert_eq!(get(srv.addr, "/via/missing"), (200, "404  None".into()));
    let (status, body) = get(srv.addr, "/via/smuggle");
    assert_eq!(
        (status, body.as_str()),
        (502, "error: invalid response: Content-Length with Transfer-Encoding")
    );
    let start = Instant::now();
    assert_eq!(get(srv.addr, "/via/silent"), (502, "error: upstream timed out".into()));
    assert!(start.elapsed() < Duration::from_millis(2000), "the 500 ms deadline held");
    // Nothing listens on port 1 of loopback: refused, as a value.
    let refused =
        TestServer::start(App::new().route("GET", "/via/:what", fetch_route("127.0.0.1:1".parse().unwrap())));
    assert_eq!(get(refused.addr, "/via/x"), (502, "error: connect failed: connection refused".into()));
}

/// Resident memory of this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn ten_thousand_sleeping_handlers_on_one_shard_stay_within_bounded_memory() {
    const CONNS: usize = 200;
    const PER_CONN: usize = 50;
    const TASKS: usize = CONNS * PER_CONN;
    let started = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let (s, f) = (started.clone(), finished.clone());
    let app = App::new().route(
        "GET",
        "/sleep",
        async_handler(move |_req| {
            let (s, f) = (s.clone(), f.clone());
            async move {
                s.fetch_add(1, Ordering::SeqCst);
                task::sleep(Duration::from_secs(4)).await;
                f.fetch_add(1, Ordering::SeqCst);
                Response::text("rested")
            }
        }),
    );
    let srv = TestServer::with_config(app, ServerConfig::default(), 1);
    let before = rss_kib();
    let mut conns: Vec<_> = (0..CONNS).map(|_| connect(srv.addr)).collect();
    let burst = b"GET /sleep HTTP/1.1\r\nHost: t\r\n\r\n".repeat(PER_CONN);
    for (_, w) in &mut conns {
        w.write_all(&burst).unwrap();
    }
    wait_until("all 10,000 handlers started", || started.load(Ordering::SeqCst) == TASKS);
    assert_eq!(finished.load(Ordering::SeqCst), 0, "all 10,000 sleep at the same time");
    let grown = rss_kib().saturating_sub(before);
    let per_task = grown * 1024 / TASKS as u64;
    eprintln!("{TASKS} sleeping handlers: +{grown} KiB resident, {per_task} B each (client side included)");
    assert!(per_task < 4096, "{per_task} B per sleeping request");
    for (r, _) in &mut conns {
        for _ in 0..PER_CONN {
            let (status, _, body) = read_response(r);
            assert_eq!((status, body.as_str()), (200, "rested"));
        }
    }
    assert_eq!(finished.load(Ordering::SeqCst), TASKS);
}

/// What a cancellation test's handler is given: a drop guard to move into
/// its future, and a way to say that the future started.
struct Watch {
    dropped: Mutex<Sender<()>>,
    started: Mutex<Sender<()>>,
}

impl Watch {
    fn guard(&self) -> DropGuard {
        DropGuard(Mutex::new(self.dropped.lock().unwrap().clone()))
    }

    fn started(&self) -> Sender<()> {
        self.started.lock().unwrap().clone()
    }
}

/// Serves `/wait` with the handler `make` builds; a client asks, waits
/// until the handler's future started, and leaves: the future must be
/// dropped (its guard observed) while it would still be waiting.
fn expect_dropped_when_the_client_leaves(make: impl FnOnce(Arc<Watch>) -> weir::Handler) {
    let (dropped_tx, dropped) = channel();
    let (started_tx, started) = channel();
    let watch = Arc::new(Watch { dropped: Mutex::new(dropped_tx), started: Mutex::new(started_tx) });
    let srv = TestServer::start(App::new().route("GET", "/wait", make(watch)));
    let (r, mut w) = connect(srv.addr);
    w.write_all(b"GET /wait HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    started.recv_timeout(PATIENCE).expect("the handler started");
    assert!(dropped.try_recv().is_err(), "not dropped while the client waits");
    drop((r, w));
    dropped.recv_timeout(PATIENCE).expect("the future was dropped when its client left");
    assert_eq!(get(srv.addr, "/missing").0, 404, "the shard goes on");
}

#[test]
fn a_client_that_disconnects_drops_its_handlers_future() {
    expect_dropped_when_the_client_leaves(|watch| {
        async_handler(move |_req| {
            let (guard, started) = (watch.guard(), watch.started());
            async move {
                let _guard = guard;
                started.send(()).unwrap();
                task::sleep(Duration::from_secs(60)).await;
                Response::text("nobody hears this")
            }
        })
    });
}

/// The tokio bridge cancels too: the client leaves, the shard task is
/// dropped, and it aborts the tokio task, whose future tokio drops.
#[test]
fn a_client_that_disconnects_drops_its_tokio_handlers_future() {
    expect_dropped_when_the_client_leaves(|watch| {
        weir::tokio_handler(move |_req| {
            let (guard, started) = (watch.guard(), watch.started());
            async move {
                let _guard = guard;
                started.send(()).unwrap();
                tokio::time::sleep(Duration::from_secs(60)).await;
                Response::text("nobody hears this")
            }
        })
    });
}

#[test]
fn the_handler_timeout_answers_503_and_drops_the_future() {
    let (tx, dropped) = drop_guard();
    let app = App::new().route(
        "GET",
        "/forever",
        async_handler(move |_req| {
            let guard = DropGuard(Mutex::new(tx.lock().unwrap().clone()));
            async move {
                let _guard = guard;
                task::sleep(Duration::from_secs(60)).await;
                Response::text("too late")
            }
        }),
    );
    let config = ServerConfig { handler_timeout: Duration::from_millis(300), ..ServerConfig::default() };
    let srv = TestServer::with_config(app, config, 1);
    let (mut r, mut w) = connect(srv.addr);
    w.write_all(b"GET /forever HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    let (status, headers, _) = read_response(&mut r);
    assert_eq!(status, 503);
    assert!(headers.contains(&("connection".into(), "close".into())));
    expect_closed(&mut r, "after the handler timeout");
    dropped.recv_timeout(PATIENCE).expect("the timed-out future was dropped");
}

#[test]
fn a_panicking_future_answers_500_in_order_and_the_shard_keeps_serving() {
    let app = App::new()
        .route(
            "GET",
            "/panic-now",
            async_handler(|_req| async {
                if true {
                    panic!("a handler bug, at the first poll");
                }
                Response::text("unreachable")
            }),
        )
        .route(
            "GET",
            "/panic-later",
            async_handler(|_req| async {
                task::sleep(Duration::from_millis(20)).await;
                if true {
                    panic!("a handler bug, after an await");
                }
                Response::text("unreachable")
            }),
        )
        .route(
            "GET",
            "/panic-in-handler",
            async_handler(|_req| -> std::future::Ready<Response> { panic!("a bug before any future") }),
        )
        .route("GET", "/ok", async_handler(|_req| async { Response::text("ok") }));
    let srv = TestServer::start(app);
    let (mut r, mut w) = connect(srv.addr);
    w.write_all(
        b"GET /panic-later HTTP/1.1\r\nHost: t\r\n\r\nGET /panic-now HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /panic-in-handler HTTP/1.1\r\nHost: t\r\n\r\nGET /ok HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    .unwrap();
    let statuses: Vec<u16> = (0..4).map(|_| read_response(&mut r).0).collect();
    assert_eq!(statuses, [500, 500, 500, 200]);
    // The same connection, and a new one, are still served.
    w.write_all(b"GET /ok HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut r).2, "ok");
    assert_eq!(get(srv.addr, "/ok"), (200, "ok".into()));
}

#[test]
fn past_the_task_bound_an_async_request_gets_503_at_once() {
    let started = Arc::new(AtomicUsize::new(0));
    let s = started.clone();
    let app = App::new()
        .route(
            "GET",
            "/hold",
            async_handler(move |_req| {
                s.fetch_add(1, Ordering::SeqCst);
                async {
                    task::sleep(Duration::from_secs(60)).await;
                    Response::text("held")
                }
            }),
        )
        .route("GET", "/quick", async_handler(|_req| async { Response::text("quick") }));
    let config = ServerConfig { max_tasks_per_shard: 2, ..ServerConfig::default() };
    let srv = TestServer::with_config(app, config, 1);
    assert_eq!(get(srv.addr, "/quick"), (200, "quick".into()), "a ready future takes no slot");
    let holders: Vec<_> = (0..2)
        .map(|_| {
            let (r, mut w) = connect(srv.addr);
            w.write_all(b"GET /hold HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
            (r, w)
        })
        .collect();
    wait_until("both holders parked", || started.load(Ordering::SeqCst) == 2);
    let (mut r, mut w) = connect(srv.addr);
    w.write_all(b"GET /hold HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    let (status, headers, _) = read_response(&mut r);
    assert_eq!(status, 503);
    assert!(headers.contains(&("retry-after".into(), "1".into())));
    assert_eq!(started.load(Ordering::SeqCst), 2, "the handler did not run past the bound");
    // The holders leave: their slots free up.
    drop(holders);
    wait_until("a slot is free again", || get(srv.addr, "/quick").0 == 200);
}

#[test]
fn spawn_blocking_runs_on_the_worker_pool_and_its_result_is_awaited() {
    let app = App::new().route(
        "POST",
        "/sum",
        async_handler(|req| async move {
            let body = req.into_body();
            let job = task::spawn_blocking(move || {
                let on_shard = std::thread::current().name().unwrap_or("").starts_with("weir-shard");
                (body.iter().map(|&b| u64::from(b)).sum::<u64>(), on_shard)
            });
            match job.await {
                Ok((sum, on_shard)) => Response::text(format!("{sum} {on_shard}")),
                Err(e) => Response::text(e.to_string()).with_status(503),
            }
        }),
    );
    let srv = TestServer::start(app);
    let (mut r, mut w) = connect(srv.addr);
    w.write_all(b"POST /sum HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc").unwrap();
    let (status, _, body) = read_response(&mut r);
    assert_eq!((status, body.as_str()), (200, "294 false"));
}

#[test]
fn publish_from_an_async_handler_reaches_every_subscriber() {
    use weir::ws::WsRoute;
    use weir::TopicRelay;
    let app = App::new().ws("/ws/pubsub/:topic", WsRoute::new(TopicRelay)).route(
        "POST",
        "/announce",
        async_handler(|req| async move {
            let text = String::from_utf8_lossy(req.body()).into_owned();
            let sent = task::publish("news", weir::ws::WsMessage::Text(&text), Duration::from_secs(1)).await;
            Response::text(format!("{sent:?}"))
        }),
    );
    let srv = TestServer::with_config(app, ServerConfig::default(), 2);
    let mut subs: Vec<_> = (0..4).map(|_| srv.ws_connect("/ws/pubsub/news")).collect();
    let (mut r, mut w) = connect(srv.addr);
    w.write_all(b"POST /announce HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nextra").unwrap();
    assert_eq!(read_response(&mut r).2, "Ok(())");
    for ws in &mut subs {
        assert_eq!(common::ws_next_text(ws), "extra");
    }
}

#[test]
fn middleware_wraps_async_handlers_like_the_others() {
    use weir::middleware::{after, before};
    let app = App::new()
        .middleware(after(|_req, resp| resp.add_header("X-After", "1")))
        .middleware(before(|req| (req.path() == "/async/blocked").then(|| Response::error(403))))
        .route(
            "GET",
            "/async/:x",
            async_handler(|_req| async {
                task::sleep(Duration::from_millis(5)).await;
                Response::new(200).with_body(Body::Bytes(b"late".to_vec()))
            }),
        );
    let srv = TestServer::start(app);
    let (mut r, mut w) = connect(srv.addr);
    w.write_all(b"GET /async/a HTTP/1.1\r\nHost: t\r\n\r\nGET /async/blocked HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let (status, headers, body) = read_response(&mut r);
    assert_eq!((status, body.as_str()), (200, "late"));
    assert!(headers.contains(&("x-after".into(), "1".into())));
    let (status, headers, _) = read_response(&mut r);
    assert_eq!(status, 403);
    assert!(headers.contains(&("x-after".into(), "1".into())));
}

/// The `tokio` feature: a handler that needs tokio (here hyper-util's HTTP
/// client, the one reqwest is built on) calls a second weir server.
#[test]
fn a_tokio_handler_runs_a_tokio_http_client_and_answers_in_order() {
    use http_body_util::{BodyExt, Empty};
    use hyper::body::Bytes;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    let upstream = TestServer::start(App::new().get("/hello", |_| Response::text("hello from weir")));
    let uri: hyper::Uri = upstream.url("/hello").parse().unwrap();
    let app = App::new()
        .route(
            "GET",
            "/via-tokio",
            weir::tokio_handler(move |_req| {
                let uri = uri.clone();
                async move {
                    let thread = std::thread::current().name().unwrap_or("").to_string();
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
                    let resp = client.get(uri).await.unwrap();
                    let status = resp.status().as_u16();
                    let body = resp.into_body().collect().await.unwrap().to_bytes();
                    Response::text(format!("{status} {} on {thread}", String::from_utf8_lossy(&body)))
                }
            }),
        )
        .route("GET", "/panic", weir::tokio_handler(|_req| async { panic!("a bug on tokio") }))
        .get("/inline", |_| Response::text("inline"));
    let srv = TestServer::start(app);
    let (mut r, mut w) = connect(srv.addr);
    w.write_all(
        b"GET /via-tokio HTTP/1.1\r\nHost: t\r\n\r\nGET /panic HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /inline HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    .unwrap();
    let (status, _, body) = read_response(&mut r);
    assert_eq!((status, body.as_str()), (200, "200 hello from weir on weir-tokio"));
    assert_eq!(read_response(&mut r).0, 500, "a panic on tokio is its request's 500");
    assert_eq!(read_response(&mut r).2, "inline");
}

/// A body read as it arrives: the handler sees the first chunk while the
/// client still holds the rest back (so it cannot have been dispatched at
/// the body's end), then every byte, chunked framing included; a body over
/// the limit ends the stream with 413; a small body that came whole with
/// its head arrives as one chunk.
#[test]
fn a_streamed_request_body_reaches_the_handler_as_it_arrives() {
    let (first_tx, first_rx) = channel::<usize>();
    let first_tx = Mutex::new(first_tx);
    let app = App::new().route(
        "POST",
        "/upload",
        weir::async_body_handler(move |_req, mut body| {
            let first = first_tx.lock().unwrap().clone();
            async move {
                let (mut chunks, mut bytes) = (0, 0);
                while let Some(chunk) = body.chunk().await {
                    match chunk {
                        Ok(c) => {
                            if chunks == 0 {
                                let _ = first.send(c.len());
                            }
                            chunks += 1;
                            bytes += c.len();
                        }
                        Err(e) => return Response::text(format!("refused {}", e.status)),
                    }
                }
                Response::text(format!("{bytes} bytes in {}", if chunks > 1 { "pieces" } else { "one" }))
            }
        }),
    );
    let config = ServerConfig {
        limits: weir::Limits { max_body: 100_000, ..weir::Limits::default() },
        ..ServerConfig::default()
    };
    let srv = TestServer::with_config(app, config, 1);

    // Content-Length: the first 1,000 bytes, then wait for the handler to
    // have seen them, then the rest.
    let mut c = srv.connect();
    c.send(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 50000\r\n\r\n");
    c.send(&[b'a'; 1000]);
    let seen = first_rx.recv_timeout(PATIENCE).expect("the handler saw the body before its end");
    assert!(seen > 0 && seen <= 1000, "{seen}");
    c.send(&[b'b'; 49_000]);
    assert_eq!(c.read(false).text(), "50000 bytes in pieces");

    // Chunked, on the same connection.
    c.send(b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    assert_eq!(first_rx.recv_timeout(PATIENCE).unwrap(), 5);
    c.send(b"6\r\n world\r\n0\r\n\r\n");
    assert_eq!(c.read(false).text(), "11 bytes in pieces");

    // Whole with its head: one chunk.
    c.send(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc");
    assert_eq!(first_rx.recv_timeout(PATIENCE).unwrap(), 3);
    assert_eq!(c.read(false).text(), "3 bytes in one");

    // Over the limit: the stream ends with 413 (the handler's answer), then
    // the server's own 413 closes the connection.
    let mut big = srv.connect();
    big.send(b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    big.send(format!("{:x}\r\n", 60_000).as_bytes());
    big.send(&[b'x'; 60_000]);
    big.send(b"\r\n");
    let _ = first_rx.recv_timeout(PATIENCE).unwrap();
    big.send(format!("{:x}\r\n", 60_000).as_bytes());
    big.send(&[b'y'; 60_000]);
    assert_eq!(big.read(false).text(), "refused 413");
    assert_eq!(big.read(false).status, 413);
}

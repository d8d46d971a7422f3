//! The HTTP/1.1 server end to end: a real server on an ephemeral loopback
//! port, raw bytes for the protocol edges, an independent client (ureq) for
//! the ordinary paths.

// Test code: a failed unwrap is a failed test (the workspace denies unwrap in library code).
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::TestServer;
use weir::{deferred, workers, App, Limits, Response, ServerConfig};

fn app() -> App {
    App::new()
        .get("/a", |_| Response::text("a"))
        .get("/b", |_| Response::text("b"))
        .get("/users/:id", |req| Response::text(format!("user {}", req.param("id").unwrap())))
        .get("/q", |req| {
            Response::text(req.query_param("x").map(std::borrow::Cow::into_owned).unwrap_or_default())
        })
        .post("/body", |req| Response::text(req.body().to_vec()))
        .route(
            "GET",
            "/slow",
            deferred(|_req, responder| {
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(50));
                    responder.respond(Response::text("slow"));
                });
            }),
        )
        .route(
            "GET",
            "/work/:n",
            workers(|req| Response::text(format!("worked {}", req.param("n").unwrap()))),
        )
        .scope("/api", |s| {
            s.get("/v1/*rest", |req| Response::text(format!("rest={}", req.param("rest").unwrap())))
        })
}

#[test]
fn ordinary_requests_with_an_independent_client() {
    let srv = TestServer::start(app());
    let body = ureq::get(&srv.url("/users/42")).call().unwrap().into_string().unwrap();
    assert_eq!(body, "user 42");
    assert_eq!(
        ureq::get(&srv.url("/q?x=hello%20world")).call().unwrap().into_string().unwrap(),
        "hello world"
    );
    assert_eq!(ureq::get(&srv.url("/api/v1/a/b/c")).call().unwrap().into_string().unwrap(), "rest=a/b/c");
    assert_eq!(
        ureq::post(&srv.url("/body")).send_string("payload").unwrap().into_string().unwrap(),
        "payload"
    );
    match ureq::get(&srv.url("/nope")).call() {
        Err(ureq::Error::Status(404, _)) => {}
        other => panic!("expected 404, got {other:?}"),
    }
    match ureq::delete(&srv.url("/a")).call() {
        Err(ureq::Error::Status(405, r)) => assert_eq!(r.header("allow"), Some("GET, HEAD")),
        other => panic!("expected 405, got {other:?}"),
    }
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let srv = TestServer::start(app());
    let mut c = srv.connect();
    // A deferred answer (slow) and a worker answer in the middle must not be
    // overtaken by the inline ones after them.
    c.send(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /work/7 HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
    let bodies: Vec<String> = (0..4).map(|_| c.read(false).text()).collect();
    assert_eq!(bodies, ["a", "slow", "worked 7", "b"]);
}

#[test]
fn many_pipelined_requests_in_one_write() {
    let srv = TestServer::start(app());
    let mut c = srv.connect();
    let mut batch = Vec::new();
    for i in 0..100 {
        write!(batch, "GET /users/{i} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    }
    c.send(&batch);
    for i in 0..100 {
        assert_eq!(c.read(false).text(), format!("user {i}"));
    }
}

#[test]
fn head_is_get_without_the_body() {
    let srv = TestServer::start(app());
    let mut c = srv.connect();
    c.send(b"GET /users/5 HTTP/1.1\r\nHost: x\r\n\r\nHEAD /users/5 HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    let get = c.read(false);
    let head = c.read(true);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), get.header("content-length"));
    assert!(head.body.is_empty());
    // The next response starts right after HEAD's head: no stray body bytes.
    assert_eq!(c.read(false).text(), "a");
}

#[test]
fn expect_100_continue_then_body() {
    let srv = TestServer::start(app());
    let mut c = srv.connect();
    c.send(b"POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    let interim = c.read(false);
    assert_eq!(interim.status, 100);
    c.send(b"hello");
    let r = c.read(false);
    assert_eq!((r.status, r.text().as_str()), (200, "hello"));
}

#[test]
fn expect_100_continue_refused_without_a_route() {
    let srv = TestServer::start(app());
    let mut c = srv.connect();
    c.send(b"POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    let r = c.read(false);
    assert_eq!(r.status, 404, "final status, no 100 Continue");
    assert_eq!(r.header("connection"), Some("close"));
}

#[test]
fn chunked_request_body() {
    let srv = TestServer::start(app());
    let mut c = srv.connect();
    c.send(b"POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nTrailer-Field: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.read(false).text(), "hello world");
    assert_eq!(c.read(false).text(), "a");
}

#[test]
fn a_request_split_into_single_bytes() {
    let srv = TestServer::start(app());
    let mut c = srv.connect();
    c.w.set_nodelay(true).unwrap();
    let req = b"POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world";
    for b in req.iter() {
        c.send(&[*b]);
    }
    assert_eq!(c.read(false).text(), "hello world");
}

fn expect_error(srv: &TestServer, request: &[u8], status: u16) {
    let mut c = srv.connect();
    c.send(request);
    let r = c.read(false);
    assert_eq!(r.status, status, "for {:?}", String::from_utf8_lossy(request));
    assert_eq!(r.header("connection"), Some("close"));
    c.assert_closed(&format!("after {status} for {:?}", String::from_utf8_lossy(request)));
}

#[test]
fn every_error_status() {
    let config = ServerConfig {
        limits: Limits::default().max_body(100).max_request_line(200).max_head(1024).max_headers(10),
        ..ServerConfig::default()
    };
    let srv = TestServer::with_config(app(), config, 1);
    expect_error(
        &srv,
        b"GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        400,
    );
    expect_error(&srv, b"GET /a HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400);
    expect_error(&srv, b"GET /a HTTP/1.1\r\n\r\n", 400);
    expect_error(&srv, b"GET /a HTTP/1.1\r\nHost : x\r\n\r\n", 400);
    expect_error(&srv, b"GET /a HTTP/1.1\nHost: x\n\n", 400);
    expect_error(&srv, b"POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n", 413);
    expect_error(&srv, format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(300)).as_bytes(), 414);
    let many: String = (0..20).map(|i| format!("X-{i}: v\r\n")).collect();
    expect_error(&srv, format!("GET /a HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes(), 431);
    expect_error(&srv, b"POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501);
    expect_error(&srv, b"GET /a HTTP/2.0\r\nHost: x\r\n\r\n", 505);
    // A chunked body over the limit is stopped as it arrives.
    expect_error(
        &srv,
        format!(
            "POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n80\r\n{}\r\n",
            "z".repeat(128)
        )
        .as_bytes(),
        413,
    );
}

#[test]
fn nothing_after_a_framing_error_is_answered() {
    let srv = TestServer::start(app());
    let mut c = srv.connect();
    // The smuggling shape: CL and TE together, with a second request hidden in the body.
    c.send(b"POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c.read(false);
    assert_eq!(r.status, 400);
    c.assert_closed("the hidden request must not be answered");
}

#[test]
fn a_request_after_connection_close_is_ignored() {
    let srv = TestServer::start(app());
    let mut c = srv.connect();
    c.send(b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c.read(false);
    assert_eq!((r.text().as_str(), r.header("connection")), ("a", Some("close")));
    c.assert_closed("the request after Connection: close must not be answered");
}

#[test]
fn http10_keep_alive_only_when_asked() {
    let srv = TestServer::start(app());
    let mut c = srv.connect();
    c.send(b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let r = c.read(false);
    assert_eq!(r.header("connection"), Some("keep-alive"));
    c.send(b"GET /b HTTP/1.0\r\n\r\n");
    let r = c.read(false);
    assert_eq!(r.text(), "b");
    c.assert_closed("HTTP/1.0 without keep-alive");
}

fn short_timeouts() -> ServerConfig {
    ServerConfig {
        head_timeout: Duration::from_millis(200),
        body_timeout: Duration::from_millis(200),
        keep_alive_timeout: Duration::from_millis(200),
        ..ServerConfig::default()
    }
}

#[test]
fn slow_head_gets_408_then_close() {
    let srv = TestServer::with_config(app(), short_timeouts(), 1);
    let mut c = srv.connect();
    c.send(b"GET /a HTTP/1.1\r\nHost:");
    let r = c.read(false);
    assert_eq!(r.status, 408);
    c.assert_closed("after the 408");
}

#[test]
fn slow_body_gets_408_then_close() {
    let srv = TestServer::with_config(app(), short_timeouts(), 1);
    let mut c = srv.connect();
    c.send(b"POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
    let r = c.read(false);
    assert_eq!(r.status, 408);
    c.assert_closed("after the 408");
}

#[test]
fn idle_keep_alive_closes_quietly() {
    let srv = TestServer::with_config(app(), short_timeouts(), 1);
    let mut c = srv.connect();
    c.send(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.read(false).text(), "a");
    c.assert_closed("no bytes, just the close");
}

#[test]
fn max_requests_per_connection() {
    let config = ServerConfig { max_requests_per_connection: 2, ..ServerConfig::default() };
    let srv = TestServer::with_config(app(), config, 1);
    let mut c = srv.connect();
    c.send(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.read(false).header("connection"), None);
    let second = c.read(false);
    assert_eq!((second.text().as_str(), second.header("connection")), ("b", Some("close")));
    c.assert_closed("after the last allowed request");
}

#[test]
fn dot_segments_are_resolved_before_routing() {
    let srv = TestServer::start(app());
    let mut c = srv.connect();
    c.send(b"GET /x/../users/%39 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.read(false).text(), "user 9");
}

#[test]
fn workers_and_deferred_answer_the_right_request_under_concurrency() {
    let app = App::new()
        .route("GET", "/w/:n", workers(|req| Response::text(format!("w{}", req.param("n").unwrap()))))
        .route(
            "GET",
            "/d/:n",
            deferred(|req, responder| {
                let n = req.param("n").unwrap().to_string();
                std::thread::spawn(move || {
                    responder.respond(Response::text(format!("d{n}")));
                });
            }),
        );
    let srv = TestServer::with_config(app, ServerConfig::default(), 2);
    let barrier = Arc::new(Barrier::new(200));
    let threads: Vec<_> = (0..200)
        .map(|i| {
            let addr = srv.addr;
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let kind = if i % 2 == 0 { "w" } else { "d" };
                let agent = ureq::AgentBuilder::new().build();
                barrier.wait();
                for j in 0..5 {
                    let n = i * 10 + j;
                    let body = agent
                        .get(&format!("http://{addr}/{kind}/{n}"))
                        .call()
                        .unwrap()
                        .into_string()
                        .unwrap();
                    assert_eq!(body, format!("{kind}{n}"));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn a_full_worker_pool_answers_503() {
    let gate = Arc::new(std::sync::Mutex::new(()));
    let held = gate.lock().unwrap();
    let g = gate.clone();
    let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
    let started_tx = std::sync::Mutex::new(started_tx);
    let app = App::new().route(
        "GET",
        "/block",
        workers(move |_| {
            let _ = started_tx.lock().unwrap().send(());
            drop(g.lock().unwrap());
            Response::text("done")
        }),
    );
    let config = ServerConfig { worker_threads: 1, worker_queue: 1, ..ServerConfig::default() };
    let srv = TestServer::with_config(app, config, 1);
    let mut c = srv.connect();
    // The first job occupies the only worker...
    c.send(b"GET /block HTTP/1.1\r\nHost: x\r\n\r\n");
    started_rx.recv().unwrap();
    // ...the second fills the queue, the third is refused at once.
    c.send(b"GET /block HTTP/1.1\r\nHost: x\r\n\r\nGET /block HTTP/1.1\r\nHost: x\r\n\r\n");
    // The refusal is ready first but waits its turn behind the two jobs.
    let mut other = srv.connect();
    other.send(b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(other.read(false).status, 404, "the shard is not blocked");
    drop(held);
    assert_eq!(c.read(false).text(), "done");
    assert_eq!(c.read(false).text(), "done");
    let refused = c.read(false);
    assert_eq!(refused.status, 503);
    assert_eq!(refused.header("retry-after"), Some("1"));
}

#[test]
fn graceful_shutdown_loses_no_in_flight_response() {
    let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
    let started_tx = std::sync::Mutex::new(started_tx);
    // The answer is sent only once the stop has begun (a signal, not a sleep).
    let (stopped_tx, stopped_rx) = std::sync::mpsc::channel::<()>();
    let stopped_rx = std::sync::Mutex::new(Some(stopped_rx));
    let app = App::new().route(
        "GET",
        "/inflight",
        deferred(move |_req, responder| {
            started_tx.lock().unwrap().send(()).unwrap();
            let stopped = stopped_rx.lock().unwrap().take().expect("one in-flight request");
            std::thread::spawn(move || {
                stopped.recv().unwrap();
                responder.respond(Response::text("finished"));
            });
        }),
    );
    let mut srv = TestServer::start(app);
    let mut idle = srv.connect();
    let mut busy = srv.connect();
    busy.send(b"GET /inflight HTTP/1.1\r\nHost: x\r\n\r\n");
    started_rx.recv().unwrap();
    let server = srv.server.take().unwrap();
    server.stop();
    stopped_tx.send(()).unwrap();
    let r = busy.read(false);
    assert_eq!((r.status, r.text().as_str()), (200, "finished"));
    assert_eq!(r.header("connection"), Some("close"));
    busy.assert_closed("the in-flight connection after its response");
    idle.assert_closed("idle keep-alive connections are closed");
    server.join().unwrap();
}

#[test]
fn streamed_body_is_chunked() {
    let app = App::new().get("/events", |_| {
        Response::sse(|mut sink| {
            std::thread::spawn(move || {
                for i in 0..3 {
                    sink.send(format!("data: {i}\n\n")).expect("the inbox has room for three chunks");
                }
            });
        })
    });
    let srv = TestServer::start(app);
    let mut c = srv.connect();
    c.send(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c.read(false);
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    assert_eq!(r.text(), "data: 0\n\ndata: 1\n\ndata: 2\n\n");
}

#[test]
fn middleware_wraps_handlers_and_404s() {
    use weir::middleware::{BearerAuth, Cors, SecurityHeaders};
    let app = App::new()
        .middleware(SecurityHeaders::new())
        .middleware(Cors::any())
        .get("/open", |_| Response::text("open"))
        .scope("/admin", |s| s.middleware(BearerAuth::new(["s3cret"])).get("/", |_| Response::text("admin")));
    let srv = TestServer::start(app);
    let mut c = srv.connect();
    c.send(b"GET /open HTTP/1.1\r\nHost: x\r\nOrigin: http://o.example\r\n\r\n");
    let r = c.read(false);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    c.send(b"GET /admin HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.read(false).status, 401);
    c.send(b"GET /admin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n\r\n");
    assert_eq!(c.read(false).text(), "admin");
    c.send(b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c.read(false);
    assert_eq!((r.status, r.header("x-frame-options")), (404, Some("DENY")));
    c.send(b"OPTIONS /open HTTP/1.1\r\nHost: x\r\nOrigin: http://o.example\r\nAccess-Control-Request-Method: PUT\r\n\r\n");
    let r = c.read(false);
    assert_eq!(r.status, 204);
    assert!(r.header("access-control-allow-methods").is_some());
}

#[test]
fn builtin_endpoints() {
    let stats = Arc::new(weir::StatsRegistry::new(1));
    let app = weir::Builtins::default().install(App::new(), stats.clone());
    let srv = weir::Server::builder(app)
        .shards(1)
        .stats(stats)
        .listen("127.0.0.1:0".parse().unwrap())
        .start()
        .unwrap();
    let base = format!("http://{}", srv.local_addrs()[0]);
    assert_eq!(ureq::get(&format!("{base}/healthz")).call().unwrap().into_string().unwrap(), "ok");
    assert_eq!(ureq::get(&format!("{base}/ping")).call().unwrap().into_string().unwrap(), "pong");
    let echo = ureq::post(&format!("{base}/echo"))
        .set("X-Probe", "42")
        .send_string("body!")
        .unwrap()
        .into_string()
        .unwrap();
    assert!(echo.starts_with("POST /echo\n"), "{echo}");
    assert!(echo.to_ascii_lowercase().contains("x-probe: 42"), "{echo}");
    assert!(echo.ends_with("\nbody!"), "{echo}");
    ureq::post(&format!("{base}/write")).send_string("remember me").unwrap();
    assert_eq!(ureq::get(&format!("{base}/read")).call().unwrap().into_string().unwrap(), "remember me");
    match ureq::post(&format!("{base}/write")).send_bytes(&[b'x'; 2000]) {
        Err(ureq::Error::Status(413, _)) => {}
        other => panic!("expected 413, got {other:?}"),
    }
    let s: serde_json::Value =
        serde_json::from_str(&ureq::get(&format!("{base}/stats")).call().unwrap().into_string().unwrap())
            .unwrap();
    assert!(s["requests"]["2xx"].as_u64().unwrap() >= 5, "{s}");
    assert!(s["connections"]["total"].as_u64().unwrap() >= 1, "{s}");
    assert_eq!(s["shards"].as_array().unwrap().len(), 1);
    srv.stop();
    srv.join().unwrap();
}

#[test]
fn a_client_that_pipelines_without_reading_is_paused_not_buffered() {
    // 1,000 pipelined requests for 32 KiB each = 32 MiB of answers. The
    // server stops reading once 1 MiB is queued and resumes as the client
    // reads: every answer arrives, in order, complete.
    let body: std::sync::Arc<[u8]> = (0..32 * 1024u32).map(|i| (i % 251) as u8).collect::<Vec<u8>>().into();
    let b = body.clone();
    let app = App::new().get("/big/:n", move |req| {
        Response::new(200)
            .with_header("X-N", req.param("n").unwrap().to_owned())
            .with_body(weir::Body::Shared(b.clone()))
    });
    let srv = TestServer::start(app);
    let mut c = srv.connect();
    let mut batch = Vec::new();
    for i in 0..1000 {
        write!(batch, "GET /big/{i} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    }
    let mut w = c.w.try_clone().unwrap();
    let writer = std::thread::spawn(move || w.write_all(&batch).unwrap());
    for i in 0..1000 {
        let r = c.read(false);
        assert_eq!(r.header("x-n"), Some(i.to_string().as_str()));
        assert!(r.body[..] == body[..]);
    }
    writer.join().unwrap();
}

/// How many lines of `head` carry the field `name` (case-insensitive).
fn count_fields(head: &str, name: &str) -> usize {
    head.lines().filter(|l| l.split(':').next().is_some_and(|n| n.eq_ignore_ascii_case(name))).count()
}

#[test]
fn handler_set_framing_headers_are_not_written() {
    // A second Content-Length, or Transfer-Encoding beside Content-Length,
    // is a response a proxy can desync on: the body alone decides framing.
    let app = App::new()
        .get("/cl", |_| Response::text("hello").with_header("Content-Length", "99"))
        .get("/te", |_| Response::text("hello").with_header("transfer-encoding", "chunked"))
        .get("/keep", |_| Response::text("kept").with_header("Connection", "keep-alive"))
        .get("/close", |_| Response::text("bye").with_header("CONNECTION", "keep-alive, Close"));
    let srv = TestServer::start(app);
    let mut c = srv.connect();
    for path in ["/cl", "/te"] {
        c.send(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
        let head = c.read_raw_head();
        assert_eq!(count_fields(&head, "content-length"), 1, "{head}");
        assert!(head.contains("\r\nContent-Length: 5\r\n"), "{head}");
        assert_eq!(count_fields(&head, "transfer-encoding"), 0, "{head}");
        let mut body = [0u8; 5];
        std::io::Read::read_exact(&mut c.r, &mut body).unwrap();
        assert_eq!(&body, b"hello");
    }
    // Another Connection value is dropped: the server decides keep-alive.
    c.send(b"GET /keep HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c.read(false);
    assert_eq!((r.text().as_str(), r.header("connection")), ("kept", None));
    // `close` in a handler's Connection header closes the connection.
    c.send(b"GET /close HTTP/1.1\r\nHost: x\r\n\r\n");
    let head = c.read_raw_head();
    assert_eq!(count_fields(&head, "connection"), 1, "{head}");
    assert!(head.contains("\r\nConnection: close\r\n"), "{head}");
    let mut body = [0u8; 3];
    std::io::Read::read_exact(&mut c.r, &mut body).unwrap();
    assert!(c.closed());
}

#[test]
fn no_framing_headers_on_304_204_whatever_the_body() {
    // A handler's 304 or 204 with a body (even a stream) gets neither
    // Content-Length nor Transfer-Encoding, and no body bytes: the next
    // response follows the blank line.
    let stream = |status| {
        move |_: &weir::Request<'_>| {
            Response::stream("text/plain", |mut sink| {
                let _ = sink.send("never");
            })
            .with_status(status)
        }
    };
    let app = App::new()
        .get("/304", |_| Response::text("not sent").with_status(304))
        .get("/304s", stream(304))
        .get("/204s", stream(204))
        .get("/a", |_| Response::text("a"));
    let srv = TestServer::start(app);
    for path in ["/304", "/304s", "/204s"] {
        let mut c = srv.connect();
        c.send(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
        );
        let head = c.read_raw_head();
        assert_eq!(count_fields(&head, "content-length"), 0, "{path}: {head}");
        assert_eq!(count_fields(&head, "transfer-encoding"), 0, "{path}: {head}");
        assert_eq!(c.read(false).text(), "a", "{path}");
    }
}

#[test]
fn expect_100_continue_routes_the_normalised_path_like_dispatch() {
    // `/%61pi/x` is `/api/x` once percent-decoded: with or without
    // `Expect: 100-continue`, the same handler answers.
    let app = App::new().post("/api/x", |req| Response::text(format!("x got {}", req.body_str().unwrap())));
    let srv = TestServer::start(app);
    let mut c = srv.connect();
    for target in ["/%61pi/x", "/api/./y/../x", "/api/x"] {
        c.send(
            format!("POST {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
                .as_bytes(),
        );
        assert_eq!(c.read(false).status, 100, "{target}");
        c.send(b"hello");
        let r = c.read(false);
        assert_eq!((r.status, r.text().as_str()), (200, "x got hello"), "{target}");
    }
    // No such route, even once normalised: an early 404, no 100, no body read.
    let mut c = srv.connect();
    c.send(b"POST /%61pi/nope HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    let r = c.read(false);
    assert_eq!((r.status, r.header("connection")), (404, Some("close")));
    // A path dispatch would refuse (an encoded slash) is refused early too.
    let mut c = srv.connect();
    c.send(b"POST /api%2fx HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    assert_eq!(c.read(false).status, 400);
}

#[test]
fn headers_take_text_and_bytes_static_or_owned() {
    let app = App::new().get("/h", |req| {
        Response::text("h")
            .with_header("X-Text", "b")
            .with_header("X-Bytes", b"raw")
            .with_header("X-Slice", &b"slice"[..])
            .with_header("X-Vec", vec![b'v'])
            .with_header(format!("X-{}", req.param("n").unwrap_or("Dyn")), format!("n={}", 7))
            .with_header(String::from("Bad Name"), "dropped: not a token")
            .with_header("X-Split", "a\r\nInjected: 1")
    });
    let srv = TestServer::start(app);
    let mut c = srv.connect();
    c.send(b"GET /h HTTP/1.1\r\nHost: x\r\n\r\n");
    let head = c.read_raw_head();
    for line in ["X-Text: b", "X-Bytes: raw", "X-Slice: slice", "X-Vec: v", "X-Dyn: n=7"] {
        assert!(head.contains(&format!("\r\n{line}\r\n")), "{line} in {head}");
    }
    assert!(!head.contains("Bad Name") && !head.contains("Injected") && !head.contains("X-Split"), "{head}");
}

#[test]
fn app_errors_name_the_route_and_the_reason() {
    let start = |app: App| {
        weir::Server::builder(app).shards(1).listen("127.0.0.1:0".parse().unwrap()).start().unwrap_err()
    };
    let e = start(App::new().get("/a", |_| Response::text("1")).get("/a", |_| Response::text("2")));
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    let app_error = e.get_ref().and_then(|e| e.downcast_ref::<weir::AppError>()).expect("a typed AppError");
    assert_eq!(app_error.method(), Some("GET"));
    assert_eq!(app_error.pattern(), "/a");
    assert_eq!(app_error.reason(), &weir::RouteError::Duplicate);
    assert_eq!(e.to_string(), "route GET /a: duplicate route");

    let e = start(App::new().any("/x/*rest/more", weir::inline(|_| Response::text("x"))));
    let app_error = e.get_ref().and_then(|e| e.downcast_ref::<weir::AppError>()).unwrap();
    assert_eq!((app_error.method(), app_error.pattern()), (None, "/x/*rest/more"));
    assert_eq!(app_error.reason(), &weir::RouteError::InvalidPattern);
    assert!(std::error::Error::source(app_error).is_some(), "the router's error is the source");
}

/// A writer the test reads back.
#[derive(Clone, Default)]
struct SharedSink(Arc<std::sync::Mutex<Vec<u8>>>);

impl Write for SharedSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SharedSink {
    fn lines(&self) -> Vec<serde_json::Value> {
        let bytes = self.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }
}

#[test]
fn the_access_log_is_written_off_the_shard_and_flushed_on_shutdown() {
    let sink = SharedSink::default();
    let app = App::new()
        .middleware(weir::middleware::AccessLog::to_writer(sink.clone()).unwrap())
        .get("/a", |_| Response::text("a"));
    let mut srv = TestServer::with_config(app, ServerConfig::default(), 2);
    let mut c = srv.connect();
    c.send(b"GET /a HTTP/1.1\r\nHost: x\r\nUser-Agent: t/1\r\n\r\n");
    let first = c.read(false);
    assert_eq!(first.text(), "a");
    let sent_id = first.header("x-request-id").expect("the response names its request id").to_owned();
    // A quiet shard's line is written by the logger's periodic sweep.
    let end = std::time::Instant::now() + Duration::from_secs(10);
    while sink.lines().is_empty() && std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
    let lines = sink.lines();
    assert_eq!(lines.len(), 1);
    let line = &lines[0];
    assert_eq!(
        (&line["method"], &line["path"], &line["status"], &line["bytes"], &line["host"], &line["user_agent"]),
        (&"GET".into(), &"/a".into(), &200.into(), &1.into(), &"x".into(), &"t/1".into())
    );
    // The id in the line is the one the client got: 16 hex digits.
    assert_eq!(line["request_id"], sent_id.as_str());
    assert!(sent_id.len() == 16 && sent_id.bytes().all(|b| b.is_ascii_hexdigit()), "{sent_id}");
    // RFC 3339, UTC, seconds: 2026-11-29T14:03:59Z.
    let time = line["time"].as_str().unwrap();
    assert!(time.len() == 20 && time.ends_with('Z') && &time[4..5] == "-" && &time[10..11] == "T", "{time}");
    // Many more, then a stop: every line is there once the server has joined.
    let mut batch = Vec::new();
    for _ in 0..200 {
        batch
            .extend_from_slice(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /missing HTTP/1.1\r\nHost: x\r\n\r\n");
    }
    c.send(&batch);
    for _ in 0..200 {
        assert_eq!(c.read(false).status, 200);
        assert_eq!(c.read(false).status, 404);
    }
    drop(c);
    srv.stop();
    let lines = sink.lines();
    assert_eq!(lines.len(), 401);
    assert_eq!(lines.iter().filter(|l| l["status"] == 404).count(), 200);
    // Every request got its own id.
    let ids: std::collections::HashSet<&str> =
        lines.iter().map(|l| l["request_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 401);
}

#[test]
fn a_trusted_request_id_is_kept_and_a_malformed_one_replaced() {
    let sink = SharedSink::default();
    let log = weir::middleware::AccessLog::to_writer(sink.clone()).unwrap().trust_request_id(true);
    let app = App::new().middleware(log).get("/a", |_| Response::text("a"));
    let srv = TestServer::with_config(app, ServerConfig::default(), 1);
    let mut c = srv.connect();
    c.send(b"GET /a HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc-123.Z_\r\n\r\n");
    assert_eq!(c.read(false).header("x-request-id"), Some("abc-123.Z_"));
    c.send(b"GET /a HTTP/1.1\r\nHost: x\r\nX-Request-Id: has space\r\n\r\n");
    let made = c.read(false).header("x-request-id").unwrap().to_owned();
    assert!(made.len() == 16 && made.bytes().all(|b| b.is_ascii_hexdigit()), "{made}");
}

#[test]
fn a_bind_failure_names_the_operation_and_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let e = weir::Server::builder(App::new()).shards(1).listen(addr).start().unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
    assert_eq!(e.to_string(), format!("cannot listen on {addr}: address already in use"));
}

/// Regression: a second server on a port a first one holds used to start
/// (both set SO_REUSEPORT) and take part of its connections. Its own shards
/// still share the port.
#[test]
fn a_second_server_on_a_held_port_is_refused_while_shards_share_it() {
    let first = weir::Server::builder(App::new().get("/", |_| Response::text("first")))
        .shards(3)
        .listen("127.0.0.1:0".parse().unwrap())
        .start()
        .unwrap();
    let addr = first.local_addrs()[0];
    let e = weir::Server::builder(App::new()).shards(2).listen(addr).start().unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
    assert_eq!(e.to_string(), format!("cannot listen on {addr}: address already in use"));
    // Every connection still reaches the first server's shards.
    let first = TestServer { server: Some(first), addr };
    for _ in 0..20 {
        let mut c = first.connect();
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(c.read(false).body, b"first");
    }
}

#[test]
fn the_types_in_public_signatures_can_be_named() {
    // `Response::text` takes `impl Into<TextBody>`; `Body::Stream` holds a `StreamStart`.
    fn text(body: impl Into<weir::TextBody>) -> Response {
        Response::text(body)
    }
    let start: weir::StreamStart = Box::new(weir::BodySink::finish);
    let (_, _, _) = (text("t"), weir::Body::Stream(start), weir::HeaderValue::from("v"));
}

#[test]
fn request_path_is_the_decoded_normalised_path_routing_saw() {
    let app = App::new().get("/p/*rest", |req| Response::text(req.path().to_string()));
    let srv = TestServer::start(app);
    let mut c = srv.connect();
    for (target, path) in [("/p/%7Euser/./x/../y%20z?q=1", "/p/~user/y z"), ("/p/plain", "/p/plain")] {
        c.send(format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
        assert_eq!(c.read(false).text(), path, "{target}");
    }
}

//! Every example, run as its own process and asked a real question.
//!
//! Each test starts the compiled example binary on `127.0.0.1:0`, waits for
//! the line it prints once it listens (the readiness signal: no sleep),
//! reads the bound address from that line, makes real requests, checks the
//! answers, and kills the process by its PID (also when the test fails).
//!
//! `cargo test` builds the examples of the package before it runs the
//! tests, into `target/<profile>/examples/`, next to the `deps/` folder this
//! test runs from. A missing binary, a process that exits early, or one that
//! prints no address within [`START_TIMEOUT`] fails the test: it never
//! passes by doing nothing. (`cargo test --test examples` alone does not
//! build the examples: run `cargo test --workspace`, or
//! `cargo build --examples` first; a binary older than its example's
//! source fails too, rather than test yesterday's code.)
//!
//! The last three tests check the harness itself: a missing binary, an
//! example that exits before listening and one that never says it listens
//! each fail.

// A failed unwrap in a test is a failed test (see clippy.toml).
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Client, Resp, READ_TIMEOUT};

/// How long an example may take to print its address. A debug build starts
/// in milliseconds; this allows for a loaded CI machine.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running example process, killed (by PID) and reaped when dropped.
struct Running {
    name: &'static str,
    child: Child,
    addr: SocketAddr,
}

impl Drop for Running {
    fn drop(&mut self) {
        // `Child::kill` sends SIGKILL to this child's PID, and nothing else.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    fn connect(&self) -> Client {
        let s = TcpStream::connect(self.addr)
            .unwrap_or_else(|e| panic!("{}: connect to {}: {e}", self.name, self.addr));
        s.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        Client { r: BufReader::new(s.try_clone().unwrap()), w: s }
    }

    /// One request on a new connection: `head_extra` holds whole header lines.
    fn request(&self, method: &str, path: &str, head_extra: &str, body: &str) -> Resp {
        let mut c = self.connect();
        let length =
            if body.is_empty() { String::new() } else { format!("Content-Length: {}\r\n", body.len()) };
        c.send(
            format!("{method} {path} HTTP/1.1\r\nHost: example\r\n{head_extra}{length}\r\n{body}").as_bytes(),
        );
        c.read(method == "HEAD")
    }

    fn get(&self, path: &str) -> Resp {
        self.request("GET", path, "", "")
    }
}

/// `target/<profile>/examples/NAME`, found from this test's own path
/// (`target/<profile>/deps/examples-HASH`).
fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>/deps/<test>");
    profile_dir.join("examples").join(name)
}

/// The first `IP:port` in a line such as `listening on http://127.0.0.1:3000/`
/// or `echo server listening on [127.0.0.1:7000]`.
fn address_in(line: &str) -> Option<SocketAddr> {
    line.split(|c: char| c.is_whitespace() || matches!(c, '/' | '[' | ']' | ',')).find_map(|w| w.parse().ok())
}

/// Starts example `name` with `args` and waits for the line with its address.
///
/// # Panics
///
/// When the binary is missing, the process exits or closes its output
/// before printing an address, or [`START_TIMEOUT`] passes.
fn start(name: &'static str, args: &[&str]) -> Running {
    start_within(name, args, START_TIMEOUT)
}

/// [`start`], with its own time limit.
fn start_within(name: &'static str, args: &[&str], timeout: Duration) -> Running {
    let path = example_binary(name);
    assert!(
        path.is_file(),
        "{name}: no example binary at {} (`cargo test --workspace` builds the examples; \
         `cargo test --test examples` alone does not: run `cargo build --examples` first)",
        path.display()
    );
    // `cargo test --test examples` does not rebuild the examples: refuse to
    // test an old binary against a newer source (the library it links is
    // not checked; `cargo test --workspace` rebuilds everything).
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples").join(format!("{name}.rs"));
    if let (Ok(src), Ok(bin)) = (source.metadata(), path.metadata()) {
        let (src, bin) = (src.modified().unwrap(), bin.modified().unwrap());
        assert!(
            src <= bin,
            "{name}: {} is older than its source: run `cargo build --examples`",
            path.display()
        );
    }
    let mut child = Command::new(&path)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("{name}: cannot start {}: {e}", path.display()));
    let stdout = child.stdout.take().expect("piped stdout");
    // From here on the process is killed whatever happens.
    let mut running = Running { name, child, addr: SocketAddr::from(([0, 0, 0, 0], 0)) };
    let (tx, rx) = mpsc::channel();
    // Reads every line, also after readiness, so the pipe never fills.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Ok(line)) => {
                if let Some(addr) = address_in(&line) {
                    running.addr = addr;
                    return running;
                }
            }
            Ok(Err(e)) => panic!("{name}: reading its output: {e}"),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("{name}: printed no listening address within {timeout:?}")
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = running.child.wait();
                panic!("{name}: exited before printing its address ({status:?})")
            }
        }
    }
}

fn json(resp: &Resp) -> serde_json::Value {
    serde_json::from_slice(&resp.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {:?} (status {})", resp.text(), resp.status))
}

// ------------------------------------------------------------ the ladder

#[test]
fn hello_says_hello() {
    let ex = start("hello", &["127.0.0.1:0"]);
    let resp = ex.get("/");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.text(), "Hello, World!\n");
    assert_eq!(ex.get("/nope").status, 404);
}

#[test]
fn json_api_creates_lists_shows_and_deletes_items_with_json_errors() {
    let ex = start("json_api", &["127.0.0.1:0"]);
    let json_head = "Content-Type: application/json\r\n";

    let created = ex.request("POST", "/items", json_head, r#"{"name":"desk lamp","price_cents":1999}"#);
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.header("content-type"), Some("application/json"));
    let item = json(&created);
    let id = item["id"].as_u64().expect("an id");
    assert_eq!(created.header("location"), Some(format!("/items/{id}").as_str()));
    assert_eq!(item["name"], "desk lamp");
    let other = ex.request("POST", "/items", json_head, r#"{"name":"chair","price_cents":4500}"#);
    assert_eq!(other.status, 201);

    // Query: a form-decoded, case-insensitive filter and a limit.
    let found = json(&ex.get("/items?q=DESK+la&limit=10"));
    assert_eq!(found.as_array().map(Vec::len), Some(1), "{found}");
    assert_eq!(found[0]["id"], id);
    assert_eq!(json(&ex.get("/items?limit=1")).as_array().map(Vec::len), Some(1));

    // Path parameter.
    let shown = ex.get(&format!("/items/{id}"));
    assert_eq!(shown.status, 200);
    assert_eq!(json(&shown)["price_cents"], 1999);

    // Errors: JSON, with the status in the line and in the body.
    for (resp, status) in [
        (ex.request("POST", "/items", json_head, r#"{"nme":"typo","price_cents":1}"#), 400),
        (ex.request("POST", "/items", json_head, r#"{"name":"  ","price_cents":1}"#), 422),
        (ex.get("/items/abc"), 400),
        (ex.get("/items?limit=0"), 400),
        (ex.get("/items/999999"), 404),
        (ex.get("/no/such/path"), 404),
        (ex.request("PUT", "/items", "", ""), 405),
    ] {
        assert_eq!(resp.status, status, "{}", resp.text());
        assert_eq!(resp.header("content-type"), Some("application/json"), "status {status}");
        assert_eq!(json(&resp)["status"], status);
        assert!(json(&resp)["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    let not_allowed = ex.request("PUT", "/items", "", "");
    assert!(not_allowed.header("allow").is_some_and(|a| a.contains("POST")), "405 keeps Allow");

    assert_eq!(ex.request("DELETE", &format!("/items/{id}"), "", "").status, 204);
    assert_eq!(ex.get(&format!("/items/{id}")).status, 404);
}

#[test]
fn static_site_serves_files_with_their_cache_rules() {
    let ex = start("static_site", &["127.0.0.1:0"]);

    let page = ex.get("/");
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").is_some_and(|t| t.starts_with("text/html")));
    assert_eq!(page.header("cache-control"), Some("no-cache"));
    assert!(page.text().contains("A static site served by weir"));
    let etag = page.header("etag").expect("an ETag").to_string();

    // `no-cache` costs a revalidation, answered 304 without a body.
    let again = ex.request("GET", "/", &format!("If-None-Match: {etag}\r\n"), "");
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());

    let css = ex.get("/css/site.css");
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").is_some_and(|t| t.starts_with("text/css")));
    assert_eq!(css.header("cache-control"), Some("public, max-age=3600"));

    let logo = ex.get("/assets/logo.3f9c2e.svg");
    assert_eq!(logo.status, 200);
    assert_eq!(logo.header("cache-control"), Some("public, max-age=31536000, immutable"));

    // A route beside the mount, and nothing outside the root.
    assert_eq!(ex.get("/healthz").text(), "ok\n");
    assert_eq!(ex.get("/%2e%2e/Cargo.toml").status, 404);
    assert_eq!(ex.get("/../static_site.rs").status, 404);
}

#[test]
fn worker_pool_counts_on_workers_and_the_inline_route_stalls_the_shard() {
    let ex = start("worker_pool", &["127.0.0.1:0"]);

    let on_workers = ex.get("/workers/primes?below=100000");
    assert_eq!(on_workers.status, 200);
    assert_eq!(json(&on_workers)["primes"], 9592);
    assert!(json(&on_workers)["thread"].as_str().is_some_and(|t| t.starts_with("weir-worker-")));
    let inline = ex.get("/inline/primes?below=100000");
    assert_eq!(json(&inline)["primes"], 9592);
    assert!(json(&inline)["thread"].as_str().is_some_and(|t| t.starts_with("weir-shard-")));
    assert_eq!(ex.get("/workers/primes?below=999999999999").status, 400);

    // The difference, by order of answers rather than by a clock: a slow
    // count on one connection, then a ping on another (the example runs one
    // shard, so both connections share it).
    // `pause` between the two requests: for the inline route, so the count
    // has surely started when the ping arrives (two writes on two sockets
    // may reach the server in either order if the client thread moves to
    // another CPU between them).
    let ping_overtakes = |route: &str, pause: Duration| -> bool {
        let (mut slow, mut quick) = (ex.connect(), ex.connect());
        // Both connections accepted and idle before the race starts.
        for c in [&mut slow, &mut quick] {
            c.send(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
            assert_eq!(c.read(false).text(), "pong\n");
        }
        slow.send(format!("GET {route}?below=1000000 HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
        std::thread::sleep(pause);
        quick.send(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(quick.read(false).text(), "pong\n");
        // Has the slow answer arrived by the time the ping's did?
        slow.w.set_nonblocking(true).unwrap();
        let slow_done = match slow.w.peek(&mut [0u8; 1]) {
            Ok(n) => n > 0,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
            Err(e) => panic!("peek: {e}"),
        };
        slow.w.set_nonblocking(false).unwrap();
        assert_eq!(json(&slow.read(false))["primes"], 78498);
        !slow_done
    };
    assert!(
        ping_overtakes("/workers/primes", Duration::ZERO),
        "the ping waited for a count on the worker pool"
    );
    let pause = Duration::from_millis(50);
    assert!(!ping_overtakes("/inline/primes", pause), "the ping overtook a count that ran on its shard");
}

#[test]
fn middleware_checks_the_key_adds_cors_and_timing() {
    let ex = start("middleware", &["127.0.0.1:0"]);
    let origin = "Origin: http://localhost:8000\r\n";

    let public = ex.get("/");
    assert_eq!(public.status, 200);
    assert!(public.header("server-timing").is_some_and(|t| t.starts_with("app;dur=")));

    let refused = ex.request("GET", "/api/hello", origin, "");
    assert_eq!(refused.status, 401);
    assert!(refused.header("www-authenticate").is_some());
    assert_eq!(refused.header("access-control-allow-origin"), Some("http://localhost:8000"));
    assert_eq!(ex.request("GET", "/api/hello", "X-Api-Key: let-me-inn\r\n", "").status, 401);

    let allowed = ex.request("GET", "/api/hello", &format!("{origin}X-Api-Key: let-me-in\r\n"), "");
    assert_eq!(allowed.status, 200, "{}", allowed.text());
    assert_eq!(json(&allowed)["hello"], "key holder");
    assert_eq!(allowed.header("access-control-allow-origin"), Some("http://localhost:8000"));
    assert!(allowed.header("server-timing").is_some());

    // A preflight carries no key and is answered by Cors, not refused.
    let preflight =
        ex.request("OPTIONS", "/api/hello", &format!("{origin}Access-Control-Request-Method: GET\r\n"), "");
    assert_eq!(preflight.status, 204);
    assert!(preflight.header("access-control-allow-methods").is_some_and(|m| m.contains("GET")));
    // An origin that is not allowed gets no CORS header.
    let stranger = ex.request("GET", "/", "Origin: https://evil.example\r\n", "");
    assert_eq!(stranger.header("access-control-allow-origin"), None);
}

#[test]
fn sse_streams_numbered_events_and_ends() {
    let ex = start("sse", &["127.0.0.1:0"]);
    let resp = ex.get("/events?count=3&interval_ms=20");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("text/event-stream"));
    assert_eq!(resp.header("cache-control"), Some("no-cache"));
    assert!(resp.header("transfer-encoding").is_some_and(|t| t.contains("chunked")));
    let text = resp.text();
    let events: Vec<&str> = text.split_terminator("\n\n").collect();
    assert_eq!(events.len(), 3, "{events:?}");
    for (i, event) in events.iter().enumerate() {
        let n = i + 1;
        assert_eq!(*event, format!("id: {n}\nevent: tick\ndata: {{\"n\":{n},\"of\":3}}"));
    }
    assert_eq!(ex.get("/events?count=0").status, 400);
    assert!(ex.get("/").text().contains("EventSource"));
}

// ------------------------------------------------------- the earlier ones

#[test]
fn echo_echoes_bytes() {
    let ex = start("echo", &["127.0.0.1:0"]);
    let mut s = TcpStream::connect(ex.addr).unwrap();
    s.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    let msg = b"weir echoes every byte\r\n\x00\xff";
    s.write_all(msg).unwrap();
    let mut back = vec![0; msg.len()];
    s.read_exact(&mut back).unwrap();
    assert_eq!(&back, msg);
}

#[test]
fn echo_load_measures_the_echo_server() {
    let ex = start("echo", &["127.0.0.1:0"]);
    let path = example_binary("echo_load");
    assert!(path.is_file(), "no example binary at {}", path.display());
    let addr = ex.addr.to_string();
    let mut load = Command::new(&path)
        .args([addr.as_str(), "4", "32", "1"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("echo_load starts");
    // Its run lasts one second; give it START_TIMEOUT more, then fail.
    let deadline = Instant::now() + Duration::from_secs(1) + START_TIMEOUT;
    while load.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = load.kill();
            let _ = load.wait();
            panic!("echo_load did not finish");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = load.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    let text = String::from_utf8_lossy(&out.stdout);
    let messages: u64 = text.split_whitespace().next().and_then(|n| n.parse().ok()).expect("a count");
    assert!(messages > 0 && text.contains("msg/s"), "{text}");
}

#[test]
fn techempower_answers_plaintext_and_json() {
    let ex = start("techempower", &["--listen", "127.0.0.1:0", "--threads", "1"]);
    let plain = ex.get("/plaintext");
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("content-type"), Some("text/plain"));
    assert_eq!(plain.text(), "Hello, World!");
    let j = ex.get("/json");
    assert_eq!(j.header("content-type"), Some("application/json"));
    assert_eq!(json(&j), serde_json::json!({ "message": "Hello, World!" }));
}

#[test]
fn async_api_sleeps_relays_to_itself_and_awaits_the_worker_pool() {
    let ex = start("async_api", &["127.0.0.1:0"]);
    for path in ["/inline", "/async", "/async-yield", "/tokio"] {
        let resp = ex.get(path);
        assert_eq!((resp.status, resp.text().as_str()), (200, "Hello, World!"), "{path}");
    }
    let start = Instant::now();
    assert_eq!(ex.get("/sleep?ms=120").text(), "slept 120 ms\n");
    assert!(start.elapsed() >= Duration::from_millis(120));
    assert_eq!(ex.get("/relay").text(), "upstream said 200 \"Hello, World!\"\n");
    let resp = ex.request("POST", "/checksum", "", "abc");
    assert_eq!((resp.status, resp.text().as_str()), (200, "00001b33\n"));
}

#[test]
fn ws_chat_serves_its_page_and_relays_a_room() {
    let ex = start("ws_chat", &["127.0.0.1:0"]);
    assert!(ex.get("/").text().contains("<html"));

    let join = |nick: &str| {
        let stream = TcpStream::connect(ex.addr).unwrap();
        stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        let url = format!("ws://{}/chat/kitchen?nick={nick}", ex.addr);
        let (ws, resp) = tungstenite::client(url, stream).expect("handshake");
        assert_eq!(resp.status(), 101);
        ws
    };
    let event = |ws: &mut tungstenite::WebSocket<TcpStream>| -> serde_json::Value {
        serde_json::from_str(&common::ws_next_text(ws)).expect("a JSON chat event")
    };
    // Joins are published to every shard; one may still be on its way to
    // a shard when the next member subscribes there, so a member may also
    // hear a join from just before its own: skip those, at most a few.
    let until = |ws: &mut tungstenite::WebSocket<TcpStream>, text: &str| {
        let seen: Vec<_> = (0..3).map(|_| event(ws)).take_while(|e| e["text"] != text).collect();
        assert!(seen.len() < 3 && seen.iter().all(|e| e["system"] == true), "waiting for {text:?}: {seen:?}");
    };
    let mut ann = join("ann");
    until(&mut ann, "ann joined kitchen");
    let mut bob = join("bob");
    until(&mut bob, "bob joined kitchen");
    until(&mut ann, "bob joined kitchen");
    ann.send(tungstenite::Message::text("soup is ready")).unwrap();
    for ws in [&mut ann, &mut bob] {
        let e = event(ws);
        assert_eq!((e["nick"].as_str(), e["text"].as_str()), (Some("ann"), Some("soup is ready")));
        assert_eq!(e["system"], false);
    }
}

// ----------------------------------------------- the harness fails loudly

#[test]
#[should_panic(expected = "no example binary")]
fn a_missing_example_binary_fails() {
    start("no_such_example", &[]);
}

#[test]
#[should_panic(expected = "exited before printing its address")]
fn an_example_that_exits_early_fails() {
    // echo_load against a port nobody listens on: it fails at connect.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    start("echo_load", &[closed.as_str(), "1", "1", "1"]);
}

#[test]
#[should_panic(expected = "printed no listening address within")]
fn an_example_that_never_says_it_listens_fails() {
    // echo_load prints one line, after its run: silent for 5 s, and the
    // harness gives up after one.
    let echo = start("echo", &["127.0.0.1:0"]);
    let addr = echo.addr.to_string();
    start_within("echo_load", &[addr.as_str(), "1", "1", "5"], Duration::from_secs(1));
}
